"""Prints EC2 Query requests as real clients build them, for tests/ec2_query.rs.

Usage: ec2_query_requests.py captures FILE.jsonl...   the recorded EC2 requests (their params)
       ec2_query_requests.py botocore                 requests serialized by botocore's own EC2
                                                      Query serializer from its service model

Each request is printed as `key<TAB>value` lines, `Action` first, and ends with a line `--`.
"""

import json
import sys


def emit(params):
    print(f"Action\t{params['Action']}")
    for key, value in params.items():
        if key != "Action":
            print(f"{key}\t{value}")
    print("--")


def captures(paths):
    for path in paths:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                params = record.get("params") or {}
                if "/services/Eucalyptus" in record["path"] and "Action" in params:
                    emit(params)


BOTOCORE_REQUESTS = [
    (
        "RunInstances",
        {
            "ImageId": "emi-12345678",
            "MinCount": 1,
            "MaxCount": 3,
            "KeyName": "k1",
            "SecurityGroups": ["default", "web"],
            "SecurityGroupIds": ["sg-11111111"],
            "UserData": "dXNlcmRhdGE=",
            "InstanceType": "m1.small",
            "Placement": {"AvailabilityZone": "zone1"},
            "KernelId": "eki-11111111",
            "RamdiskId": "eri-22222222",
            "BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}],
            "Monitoring": {"Enabled": False},
        },
    ),
    (
        "AuthorizeSecurityGroupIngress",
        {
            "GroupName": "g1",
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "192.168.0.0/16"}],
                },
                {
                    "IpProtocol": "-1",
                    "UserIdGroupPairs": [{"GroupId": "sg-22222222"}],
                },
            ],
        },
    ),
    (
        "DescribeInstances",
        {
            "InstanceIds": ["i-12345678"],
            "Filters": [{"Name": "instance-state-name", "Values": ["running", "pending"]}],
        },
    ),
    ("DescribeAccountAttributes", {"AttributeNames": ["supported-platforms"]}),
    ("DescribeSecurityGroups", {"GroupIds": ["sg-11111111"], "GroupNames": ["default"]}),
]


def botocore():
    import botocore.serialize
    import botocore.session

    model = botocore.session.get_session().get_service_model("ec2")
    serializer = botocore.serialize.create_serializer("ec2")
    for operation, params in BOTOCORE_REQUESTS:
        request = serializer.serialize_to_request(params, model.operation_model(operation))
        emit(request["body"])


if __name__ == "__main__":
    if sys.argv[1:2] == ["captures"]:
        captures(sys.argv[2:])
    elif sys.argv[1:] == ["botocore"]:
        botocore()
    else:
        sys.exit(__doc__)

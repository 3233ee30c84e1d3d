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
    # The other operations of the contract, with the arguments boto3 and the AWS CLI send.
    ("DescribeInstances", {}),
    ("TerminateInstances", {"InstanceIds": ["i-12345678", "i-87654321"]}),
    ("RebootInstances", {"InstanceIds": ["i-12345678"]}),
    ("GetConsoleOutput", {"InstanceId": "i-12345678"}),
    ("RegisterImage", {"ImageLocation": "bucket/image.manifest.xml", "Name": "image"}),
    ("DeregisterImage", {"ImageId": "emi-12345678"}),
    ("DescribeImages", {"ImageIds": ["emi-12345678"], "Owners": ["self"], "ExecutableUsers": ["all"]}),
    ("DescribeImageAttribute", {"ImageId": "emi-12345678", "Attribute": "kernel"}),
    (
        "ModifyImageAttribute",
        {"ImageId": "emi-12345678", "LaunchPermission": {"Remove": [{"UserId": "000100729354"}]}},
    ),
    ("ModifyImageAttribute", {"ImageId": "emi-12345678", "ProductCodes": ["774F4FF8"]}),
    ("ResetImageAttribute", {"ImageId": "emi-12345678", "Attribute": "launchPermission"}),
    ("ConfirmProductInstance", {"InstanceId": "i-12345678", "ProductCode": "774F4FF8"}),
    ("DescribeBundleTasks", {"BundleIds": ["bun-12345678"]}),
    ("AllocateAddress", {}),
    ("ReleaseAddress", {"PublicIp": "10.1.2.3"}),
    ("AssociateAddress", {"InstanceId": "i-12345678", "PublicIp": "10.1.2.3"}),
    ("DisassociateAddress", {"PublicIp": "10.1.2.3"}),
    ("DescribeAddresses", {"PublicIps": ["10.1.2.3"]}),
    ("CreateKeyPair", {"KeyName": "k1"}),
    ("DeleteKeyPair", {"KeyName": "k1"}),
    ("DescribeKeyPairs", {"KeyNames": ["k1"]}),
    ("CreateSecurityGroup", {"GroupName": "g1", "Description": "test group"}),
    ("DeleteSecurityGroup", {"GroupId": "sg-11111111"}),
    (
        "RevokeSecurityGroupIngress",
        {
            "GroupId": "sg-11111111",
            "IpPermissions": [
                {
                    "IpProtocol": "udp",
                    "FromPort": 53,
                    "ToPort": 53,
                    "UserIdGroupPairs": [{"GroupName": "g2", "UserId": "000100729354"}],
                }
            ],
        },
    ),
    ("DescribeAvailabilityZones", {"ZoneNames": ["verbose"]}),
    ("DescribeRegions", {"RegionNames": ["eucalyptus"]}),
    ("CreateVolume", {"AvailabilityZone": "zone1", "Size": 1}),
    ("CreateVolume", {"AvailabilityZone": "zone1", "SnapshotId": "snap-12345678"}),
    ("DeleteVolume", {"VolumeId": "vol-12345678"}),
    ("DescribeVolumes", {"VolumeIds": ["vol-12345678"]}),
    ("AttachVolume", {"VolumeId": "vol-12345678", "InstanceId": "i-12345678", "Device": "/dev/sdb"}),
    ("DetachVolume", {"VolumeId": "vol-12345678", "Force": True}),
    ("CreateSnapshot", {"VolumeId": "vol-12345678", "Description": "nightly"}),
    ("DeleteSnapshot", {"SnapshotId": "snap-12345678"}),
    ("DescribeSnapshots", {"SnapshotIds": ["snap-12345678"], "OwnerIds": ["self"]}),
    ("DescribeReservedInstances", {}),
    ("DescribeReservedInstancesOfferings", {}),
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

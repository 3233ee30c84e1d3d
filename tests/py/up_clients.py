"""Drives a cloud started by `euca up` through its front door with real clients configured
from the administrator's eucarc alone: boto3's EC2 client, and S3 (SigV4 and SigV2) through
the same host and port, which the CLC's listener passes on to Walrus.

Phases (run by tests/up_cloud.rs and tests/up_restart.rs):
  front ADMIN_DIR     zones, images, and a bucket round trip through the front door
  launch ADMIN_DIR    runs an instance of the default image to `running`, and keeps an
                      object in a bucket
  guest ADMIN_DIR     runs an instance of the default image (a real guest under QEMU) to
                      `running`, reads the guest's boot in its console, terminates it
  down FRONT_DOOR     Walrus and the SC behind a front door that cannot reach them: 503
                      as S3's error to an S3 request, as a SOAP fault to a SOAP message
  regions ADMIN_DIR   the EC2 API answers DescribeRegions
  answers ADMIN_DIR   prints the cloud's answers as one JSON line: instances, images,
                      buckets and their keys (compared before and after a restart)
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import hashlib
import json
import os
import sys
import time
import urllib.parse

import boto3
from botocore.config import Config

from cloud_clients import eucarc, ok


def clients(folder):
    env = eucarc(folder)
    session = boto3.session.Session(
        aws_access_key_id=env["EC2_ACCESS_KEY"],
        aws_secret_access_key=env["EC2_SECRET_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    ec2 = session.client("ec2", endpoint_url=env["EC2_URL"])
    s3 = lambda signature: session.client(  # noqa: E731
        "s3",
        endpoint_url=env["S3_URL"],
        config=Config(signature_version=signature, s3={"addressing_style": "path"}),
    )
    return env, ec2, s3


def front(folder):
    env, ec2, s3 = clients(folder)
    ec2_url, s3_url = urllib.parse.urlsplit(env["EC2_URL"]), urllib.parse.urlsplit(env["S3_URL"])
    assert ec2_url.netloc == s3_url.netloc, f"S3_URL {env['S3_URL']} is not on the front door {env['EC2_URL']}"
    assert s3_url.path == "/services/Walrus", env["S3_URL"]
    ok("eucarc's S3_URL names the front door")
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    assert "cluster1" in zones, zones
    ok(f"DescribeAvailabilityZones: {zones}")
    images = ec2.describe_images()["Images"]
    ok(f"DescribeImages: {len(images)} images")
    body = os.urandom(6 * 1024 * 1024 + 7)
    for signature in ["s3v4", "s3"]:
        client = s3(signature)
        bucket = f"front-door-{signature}"
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="big/object", Body=body)
        got = client.get_object(Bucket=bucket, Key="big/object")["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest(), "the object came back changed"
        keys = [o["Key"] for o in client.list_objects(Bucket=bucket).get("Contents", [])]
        assert keys == ["big/object"], keys
        ranged = client.get_object(Bucket=bucket, Key="big/object", Range="bytes=10-19")["Body"].read()
        assert ranged == body[10:20]
        client.delete_object(Bucket=bucket, Key="big/object")
        client.delete_bucket(Bucket=bucket)
        ok(f"S3 ({signature}) through the front door: bucket, 6 MiB put and get, list, range, delete")
    try:
        s3("s3v4").head_bucket(Bucket="no-such-bucket-here")
        raise AssertionError("a missing bucket was found")
    except s3("s3v4").exceptions.ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response
    ok("Walrus's own errors come back through the front door")


def run_default(ec2):
    """Runs one m1.small of the default image; returns its id once it is `running`."""
    # euca up registers the default image just after its `cloud ready` line, on a first run.
    deadline = time.monotonic() + 60
    while True:
        machines = [i for i in ec2.describe_images()["Images"] if i["ImageId"].startswith("emi-")]
        if machines:
            break
        assert time.monotonic() < deadline, "no machine image: euca up registers the default one on its first run"
        time.sleep(0.2)
    # `cloud ready` waits for the zone's room: RunInstances right after it must not be refused.
    reservation = ec2.run_instances(
        ImageId=machines[0]["ImageId"], MinCount=1, MaxCount=1, InstanceType="m1.small"
    )
    instance = reservation["Instances"][0]["InstanceId"]
    deadline = time.monotonic() + 90
    while True:
        found = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
        if found["State"]["Name"] == "running":
            break
        assert time.monotonic() < deadline, f"{instance} is still {found['State']['Name']}"
        time.sleep(0.2)
    ok(f"{instance} of {machines[0]['ImageId']} is running")
    return instance


def launch(folder):
    _, ec2, s3 = clients(folder)
    run_default(ec2)
    client = s3("s3v4")
    client.create_bucket(Bucket="kept")
    client.put_object(Bucket="kept", Key="note", Body=b"kept across restarts")
    ok("an object is kept in a bucket")


def guest(folder):
    _, ec2, _ = clients(folder)
    instance = run_default(ec2)
    # The guest of scripts/guest-image.sh prints these on its serial console as it boots.
    deadline = time.monotonic() + 120
    while True:
        console = ec2.get_console_output(InstanceId=instance).get("Output", "")
        if "EUCA-GUEST-READY" in console:
            break
        assert time.monotonic() < deadline, f"the guest did not finish booting; its console:\n{console}"
        time.sleep(1)
    booted = [line for line in console.splitlines() if "EUCA-GUEST-BOOTED" in line]
    assert booted, console
    ok(f"the console shows the guest's boot: {booted[0].strip()}")
    ec2.terminate_instances(InstanceIds=[instance])
    state = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated"), state
    ok(f"{instance} is {state}")


def answers(folder):
    env, ec2, s3 = clients(folder)
    instances = sorted(
        (i["InstanceId"], i["State"]["Name"], i["ImageId"])
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
    )
    images = sorted((i["ImageId"], i["ImageLocation"], i["State"]) for i in ec2.describe_images()["Images"])
    client = s3("s3v4")
    buckets = {
        b["Name"]: sorted(o["Key"] for o in client.list_objects(Bucket=b["Name"]).get("Contents", []))
        for b in client.list_buckets()["Buckets"]
    }
    print(json.dumps({"instances": instances, "images": images, "buckets": buckets}, sort_keys=True))


def down(front_door):
    import requests
    from lxml import etree

    got = requests.put(f"{front_door}/services/Walrus/bucket/key", data=b"x" * 1024)
    assert got.status_code == 503, (got.status_code, got.text)
    error = etree.fromstring(got.content)
    assert error.tag == "Error" and error.findtext("Code") == "ServiceUnavailable", got.text
    assert error.findtext("Resource") == "/services/Walrus/bucket/key", got.text
    ok("an S3 request to a Walrus that is down: 503 ServiceUnavailable in S3's error document")
    envelope = b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>'
    got = requests.post(
        f"{front_door}/services/Storage",
        data=envelope,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"EucalyptusSC#GetStorageVolume"'},
    )
    assert got.status_code == 503, (got.status_code, got.text)
    fault = etree.fromstring(got.content).find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    assert fault is not None and "Server" in fault.findtext("faultcode"), got.text
    ok("a SOAP message to an SC that is down: 503 with a SOAP Server fault")


def regions(folder):
    _, ec2, _ = clients(folder)
    names = [r["RegionName"] for r in ec2.describe_regions()["Regions"]]
    assert names, names
    ok(f"DescribeRegions: {names}")


def main():
    phase, folder = sys.argv[1:3]
    {"front": front, "launch": launch, "guest": guest, "answers": answers, "down": down, "regions": regions}[phase](folder)


if __name__ == "__main__":
    main()

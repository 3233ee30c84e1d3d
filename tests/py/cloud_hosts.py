"""The user's side of tests/cloud_hosts.rs: boto3 on a host of its own, configured from the
admin's eucarc alone, against a cloud whose components run on other hosts.

Phases:
  run ADMIN_DIR EMI EKI ERI  runs two instances of the image (one RunInstances each), waits
                             until both are running; prints `instances: ID ID`
  terminate ADMIN_DIR ID...  the instances are described running, terminated, described
                             terminated
  attach ADMIN_DIR INSTANCE  a volume made (through the SC) and attached to the instance;
                             prints `volume: ID`
  detach ADMIN_DIR VOLUME    the volume detached and deleted
  s3 ADMIN_DIR               a bucket and an object round trip through Walrus (S3_URL)
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import sys

import boto3
from botocore.config import Config

from cloud_clients import ec2, eucarc, ok
from cloud_instances import wait_for
from cloud_volumes import ZONE, volume, volume_ids, wait_until


def run(env, emi, eki, eri):
    c = ec2(env)
    (image,) = c.describe_images(ImageIds=[emi])["Images"]
    assert (image["State"], image["KernelId"], image["RamdiskId"]) == ("available", eki, eri), image
    instances = []
    for _ in range(2):
        run = c.run_instances(ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=1, MaxCount=1,
                              InstanceType="m1.small")
        (launched,) = run["Instances"]
        instances.append(launched["InstanceId"])
    for instance in instances:
        found = wait_for(c, instance, "running")
        assert found["State"]["Name"] == "running", found
        assert found["Placement"]["AvailabilityZone"] == "zone1", found
    ok(f"two instances running: {' '.join(instances)}")
    print("instances:", *instances, flush=True)


def terminate(env, instances):
    c = ec2(env)
    listed = {i["InstanceId"]: i["State"]["Name"]
              for r in c.describe_instances()["Reservations"] for i in r["Instances"]}
    assert listed == {i: "running" for i in instances}, listed
    c.terminate_instances(InstanceIds=instances)
    for instance in instances:
        found = wait_for(c, instance, "terminated")
        assert found["State"]["Name"] == "terminated", found
    ok("both instances described running, then terminated")


def attach(env, instance):
    c = ec2(env)
    vol = c.create_volume(Size=1, AvailabilityZone=ZONE)["VolumeId"]
    wait_until("the volume available", lambda: volume(c, vol)["State"] == "available")
    c.attach_volume(VolumeId=vol, InstanceId=instance, Device="/dev/sdf")
    wait_until("the volume attached", lambda: volume(c, vol)["State"] == "in-use")
    (attachment,) = volume(c, vol)["Attachments"]
    assert (attachment["InstanceId"], attachment["State"]) == (instance, "attached"), attachment
    ok(f"a volume made through the SC and attached to {instance}")
    print("volume:", vol, flush=True)


def detach(env, vol):
    c = ec2(env)
    c.detach_volume(VolumeId=vol)
    wait_until("the volume detached", lambda: volume(c, vol)["State"] == "available")
    c.delete_volume(VolumeId=vol)
    wait_until("the volume deleted", lambda: vol not in volume_ids(c))
    ok("the volume detached and deleted")


def s3(env):
    client = boto3.client("s3", endpoint_url=env["S3_URL"], aws_access_key_id=env["EC2_ACCESS_KEY"],
                          aws_secret_access_key=env["EC2_SECRET_KEY"], region_name=env["AWS_DEFAULT_REGION"],
                          config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    client.create_bucket(Bucket="hosts")
    body = b"across hosts\n" * 1000
    client.put_object(Bucket="hosts", Key="k", Body=body)
    assert client.get_object(Bucket="hosts", Key="k")["Body"].read() == body
    client.delete_object(Bucket="hosts", Key="k")
    client.delete_bucket(Bucket="hosts")
    ok("Walrus: a bucket and an object round trip as the admin")


def main():
    phase, env = sys.argv[1], eucarc(sys.argv[2])
    if phase == "run":
        run(env, *sys.argv[3:6])
    elif phase == "terminate":
        terminate(env, sys.argv[3:])
    elif phase == "attach":
        attach(env, sys.argv[3])
    elif phase == "detach":
        detach(env, sys.argv[3])
    elif phase == "s3":
        s3(env)
    else:
        sys.exit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()

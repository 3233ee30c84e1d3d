"""A scripted day on the cloud, for its usage report (tests/cloud_usage.rs checks the report).

  day CLOCK DAY ALICE_DIR BOB_DIR S3_URL WSDL ALICE_ZIP

Before each step the script writes the cloud's test clock (the file CLOCK, epoch seconds,
which the cloud and Walrus read for the times of their events only), so that every event of
the day happens at a known time; DAY is the day's start. Hours from DAY:

  0:00  alice registers the images
  1:00  alice runs an m1.small, until running          (billed from 1:00)
  2:00  alice runs a c1.medium, until running          (billed from 2:00)
  3:00  alice creates a 2 GB volume, until available;  a DescribeVolumes of a missing volume
  3:30  alice's DescribeVolumes over SOAP (zeep, signed with her certificate)
  4:00  alice creates bucket alice-day, puts a (2 MiB)
  6:00  alice terminates the m1.small                  (5 h of m1.small)
  8:00  alice puts b (4 MiB), overwrites a (1 MiB)
  9:00  alice deletes the volume                       (12 GB-hours)
 12:00  alice deletes b; a GET of b is NoSuchKey
 14:00  alice terminates the c1.medium                 (12 h of c1.medium)
 16:00  bob creates bucket bob-day, puts c (8 MiB)
 20:00  alice deletes a and her bucket
 26:00  the next day: the tick's late sightings of the instances ending happen here

Prints, as its last line, JSON: per user and component the number of requests sent with the
clock in the day [0:00, 24:00) and in the window [5:00, 14:00).
"""

import json
import sys

import boto3
import botocore
from botocore.config import Config

from cloud_clients import ec2, eucarc, expect_error, ok
from cloud_reconcile import wait
from cloud_soap import User

ZONE = "zone1"
MIB = 1 << 20
HOUR = 3600


class Clock:
    """The cloud's test clock, and the requests each user sent at each time."""

    def __init__(self, path, day):
        self.path, self.day, self.now = path, day, day
        self.sent = []  # (user, component, epoch seconds)
        self.at(0)

    def at(self, hours):
        self.now = self.day + int(hours * HOUR)
        with open(self.path, "w") as f:
            f.write(f"{self.now}\n")

    def counting(self, client, user, component):
        """`client`, each HTTP request it sends counted for `user` at the clock's time."""
        client.meta.events.register(
            "before-send", lambda **_: self.sent.append((user, component, self.now)))
        return client

    def counts(self, start, end):
        out = {}
        for user, component, t in self.sent:
            if self.day + start * HOUR <= t < self.day + end * HOUR:
                per = out.setdefault(user, {})
                per[component] = per.get(component, 0) + 1
        return out


def s3(env, url):
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=env["EC2_ACCESS_KEY"],
                        aws_secret_access_key=env["EC2_SECRET_KEY"], region_name=env["AWS_DEFAULT_REGION"],
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def run(c, images, vm_type):
    emi, eki, eri = images
    made = c.run_instances(ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=1, MaxCount=1,
                           InstanceType=vm_type, Placement={"AvailabilityZone": ZONE})
    instance = made["Instances"][0]["InstanceId"]

    def running():
        found = c.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
        return found["State"]["Name"] == "running"

    wait(f"{instance} running", running)
    ok(f"an {vm_type} runs: {instance}")
    return instance


def day(clock_file, start, alice_dir, bob_dir, s3_url, wsdl, alice_zip):
    clock = Clock(clock_file, int(start))
    alice_env, bob_env = eucarc(alice_dir), eucarc(bob_dir)
    alice = clock.counting(ec2(alice_env), "alice", "ec2")
    alice_s3 = clock.counting(s3(alice_env, s3_url), "alice", "s3")
    bob_s3 = clock.counting(s3(bob_env, s3_url), "bob", "s3")

    images = [alice.register_image(ImageLocation=f"images/{k}.manifest.xml", Name=k)["ImageId"]
              for k in ("machine", "kernel", "ramdisk")]
    clock.at(1)
    small = run(alice, images, "m1.small")
    clock.at(2)
    medium = run(alice, images, "c1.medium")

    clock.at(3)
    volume = alice.create_volume(Size=2, AvailabilityZone=ZONE)["VolumeId"]
    wait("the volume available",
         lambda: alice.describe_volumes(VolumeIds=[volume])["Volumes"][0]["State"] == "available")
    expect_error(lambda: alice.describe_volumes(VolumeIds=["vol-00000000"]), "InvalidVolume.NotFound", 400)
    clock.at(3.5)
    soap = User(wsdl, alice_zip).ec2
    clock.sent.append(("alice", "ec2", clock.now))
    listed = soap.DescribeVolumes(volumeSet={"item": []})
    assert [v["volumeId"] for v in listed["volumeSet"]["item"]] == [volume], listed
    ok("a 2 GB volume is available, over Query and SOAP")

    clock.at(4)
    alice_s3.create_bucket(Bucket="alice-day")
    alice_s3.put_object(Bucket="alice-day", Key="a", Body=b"a" * (2 * MIB))
    clock.at(6)
    alice.terminate_instances(InstanceIds=[small])
    clock.at(8)
    alice_s3.put_object(Bucket="alice-day", Key="b", Body=b"b" * (4 * MIB))
    alice_s3.put_object(Bucket="alice-day", Key="a", Body=b"A" * MIB)
    clock.at(9)
    alice.delete_volume(VolumeId=volume)
    clock.at(12)
    alice_s3.delete_object(Bucket="alice-day", Key="b")
    expect_error(lambda: alice_s3.get_object(Bucket="alice-day", Key="b"), "NoSuchKey", 404)
    clock.at(14)
    alice.terminate_instances(InstanceIds=[medium])
    clock.at(16)
    bob_s3.create_bucket(Bucket="bob-day")
    bob_s3.put_object(Bucket="bob-day", Key="c", Body=b"c" * (8 * MIB))
    clock.at(20)
    alice_s3.delete_object(Bucket="alice-day", Key="a")
    alice_s3.delete_bucket(Bucket="alice-day")
    ok("the day's objects are put, overwritten and deleted")

    clock.at(26)

    def gone(instance):
        found = alice.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
        return found["State"]["Name"] == "terminated"

    wait("both instances terminated", lambda: gone(small) and gone(medium))
    ok("both instances are terminated")
    print(json.dumps({"day": clock.counts(0, 24), "window": clock.counts(5, 14),
                      "instances": [small, medium], "volume": volume}))


def main():
    phase, args = sys.argv[1], sys.argv[2:]
    {"day": day}[phase](*args)


if __name__ == "__main__":
    main()

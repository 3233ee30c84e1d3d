"""Drives quotas (`euca admin quota set`, issue 15) with boto3 configured from eucarc files alone.

Phases (run by tests/cloud_quota.rs):
  instances USER_DIR
            the user's account may hold 2 instances: two run, the third RunInstances is
            InstanceLimitExceeded and leaves no instance or reservation; MaxCount past the
            room launches what fits; after a terminate one more runs; four at once for the
            last place: one runs. Prints the ids of the user's instances not terminated.
  end USER_DIR
            terminates the user's instances, and waits until they are gone
  users ROOT_DIR U_KEY:U_SECRET V_KEY:V_SECRET S3_URL
            users u and v of the account carol, u limited to 1 instance, 1 bucket and 1 MiB:
            u's second RunInstances and CreateBucket are refused naming u's quota, v's are
            not; a PUT into u's bucket (by v) is refused past u's bytes
  ebs USER_DIR OTHER_DIR
            volumes=1 volume-gb=3 snapshots=1 addresses=1: VolumeLimitExceeded for size and
            count (another account is not limited), SnapshotLimitExceeded,
            AddressLimitExceeded; after a release, four at once for the one place: one passes
  s3 USER_DIR S3_URL
            buckets=1 bucket-gb=0.001 (1 MiB): a second bucket is TooManyBuckets; a PUT that
            would pass the bytes is EntityTooLarge and the earlier object stays whole; a
            multipart part and a POST upload are refused alike; a delete admits again
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import concurrent.futures
import sys
import threading
import time

import boto3
import botocore
import requests
from botocore.config import Config

from cloud_clients import ec2, eucarc, expect_error, ok
from cloud_instances import wait_for

ZONE = "zone1"
# The test's own VM type (1 core, 64 MiB, 1 GB), small beside a test-driver node's room.
VM_TYPE = "q1.tiny"


def expect_refusal(call, code, message):
    """`call` fails with EC2's or S3's `code` (HTTP 400) and a message naming the quota."""
    try:
        call()
    except botocore.exceptions.ClientError as e:
        error = e.response["Error"]
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        assert (error["Code"], status) == (code, 400), (error, status)
        assert error["Message"] == message, error
        return
    raise AssertionError(f"expected {code}, the call succeeded")


def at_once(env, call, count=4):
    """`call(client)` from `count` threads, each with its own client, let go together: what each
    returned, or its error's code."""
    clients = [ec2(env) for _ in range(count)]
    start = threading.Barrier(count)

    def one(client):
        start.wait()
        try:
            return call(client)
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"]

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, clients))


def live(c):
    """The caller's instances not terminated, by reservation."""
    reservations = c.describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
    return {r["ReservationId"]: sorted(i["InstanceId"] for i in r["Instances"]) for r in reservations}


def register(c):
    return [c.register_image(ImageLocation=f"images/{k}.manifest.xml", Name=k)["ImageId"]
            for k in ("machine", "kernel", "ramdisk")]


def check_instances(env):
    c = ec2(env)
    emi, eki, eri = register(c)

    def run(minimum=1, maximum=1, client=c):
        return client.run_instances(ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=minimum, MaxCount=maximum,
                                    InstanceType=VM_TYPE, Placement={"AvailabilityZone": ZONE})

    first, second = (run()["Instances"][0]["InstanceId"] for _ in range(2))
    before = live(c)
    assert sorted(sum(before.values(), [])) == sorted([first, second]), before
    ok("two instances run within a quota of 2")

    message = "quota of 2 instances for account alice: 2 in use, 1 requested"
    expect_refusal(run, "InstanceLimitExceeded", message)
    expect_refusal(lambda: run(1, 3), "InstanceLimitExceeded", message)
    everything = c.describe_instances()["Reservations"]
    assert len(everything) == 2 and live(c) == before, everything
    ok("the third RunInstances (and MinCount 1 of MaxCount 3) is InstanceLimitExceeded naming the quota "
       "and its use; no instance or reservation is made")

    c.terminate_instances(InstanceIds=[first])
    grown = run(1, 3)["Instances"]
    assert len(grown) == 1, grown
    third = grown[0]["InstanceId"]
    expect_refusal(run, "InstanceLimitExceeded", message)
    ok("after a terminate the quota admits again: MaxCount 3 launches the one that fits")

    # Four at once for the one place left: one passes, whatever the order.
    c.terminate_instances(InstanceIds=[third])
    outcomes = at_once(env, lambda client: run(client=client)["Instances"][0]["InstanceId"])
    (third,) = [o for o in outcomes if o.startswith("i-")]
    assert outcomes.count("InstanceLimitExceeded") == 3, outcomes
    assert sorted(sum(live(c).values(), [])) == sorted([second, third]), live(c)
    ok("four concurrent RunInstances for the last place: one runs, three are InstanceLimitExceeded")

    wait_for(c, second, "running")
    print(second, third)


def end_instances(env):
    """Terminates the user's instances and waits until they are gone, so the node has room."""
    c = ec2(env)
    mine = sum(live(c).values(), [])
    c.terminate_instances(InstanceIds=mine)
    for instance in mine:
        assert wait_for(c, instance, "terminated")["State"]["Name"] == "terminated", instance
    ok(f"{len(mine)} instances terminated")


def check_users(env, u_keys, v_keys, s3_url):
    root = ec2(env)
    u, v = (ec2(env, key=key, secret=secret) for key, secret in (u_keys, v_keys))
    emi, eki, eri = register(root)

    def run(client):
        return client.run_instances(ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=1, MaxCount=1,
                                    InstanceType=VM_TYPE, Placement={"AvailabilityZone": ZONE})

    made = run(u)["Instances"][0]["InstanceId"]
    expect_refusal(lambda: run(u), "InstanceLimitExceeded",
                   "quota of 1 instances for user u of account carol: 1 in use, 1 requested")
    other = run(v)["Instances"][0]["InstanceId"]
    assert sorted(sum(live(root).values(), [])) == sorted([made, other]), live(root)
    ok("a user's quota of 1 instance stops that user's second RunInstances, not another user of the account")

    s3u, s3v = (s3(dict(env, EC2_ACCESS_KEY=key, EC2_SECRET_KEY=secret), s3_url) for key, secret in (u_keys, v_keys))
    s3u.create_bucket(Bucket="made-by-u")
    expect_refusal(lambda: s3u.create_bucket(Bucket="made-by-u-2"), "TooManyBuckets",
                   "quota of 1 buckets for user u of account carol: 1 in use, 1 requested")
    s3v.create_bucket(Bucket="made-by-v")
    s3v.create_bucket(Bucket="made-by-v-2")
    # u's bytes are those of the buckets u made, whoever writes them.
    s3v.put_object(Bucket="made-by-u", Key="a", Body=b"a" * (600 * 1024))
    expect_refusal(lambda: s3v.put_object(Bucket="made-by-u", Key="b", Body=b"b" * (500 * 1024)), "EntityTooLarge",
                   "quota of 0.000977 GiB of bucket storage for user u of account carol: 0.000572 in use, "
                   "0.000477 requested")
    s3u.put_object(Bucket="made-by-v", Key="b", Body=b"b" * (500 * 1024))
    ok("a user's buckets and bucket-gb quotas count the buckets that user made, not another user's")


def check_ebs(env, other_env):
    c, other = ec2(env), ec2(other_env)
    expect_refusal(lambda: c.create_volume(Size=4, AvailabilityZone=ZONE), "VolumeLimitExceeded",
                   "quota of 3 GiB of volumes for account alice: 0 in use, 4 requested")
    vol = c.create_volume(Size=2, AvailabilityZone=ZONE)["VolumeId"]
    expect_refusal(lambda: c.create_volume(Size=1, AvailabilityZone=ZONE), "VolumeLimitExceeded",
                   "quota of 1 volumes for account alice: 1 in use, 1 requested")
    assert [v["VolumeId"] for v in c.describe_volumes()["Volumes"]] == [vol]
    ok("CreateVolume past the volume-gb and the volumes quota is VolumeLimitExceeded; nothing is recorded")
    theirs = [other.create_volume(Size=1, AvailabilityZone=ZONE)["VolumeId"] for _ in range(2)]
    assert sorted(v["VolumeId"] for v in other.describe_volumes()["Volumes"]) == sorted(theirs)
    for volume_id in theirs:
        other.delete_volume(VolumeId=volume_id)
    ok("another account, without quotas, makes two volumes")

    deadline = time.time() + 60
    while c.describe_volumes(VolumeIds=[vol])["Volumes"][0]["State"] != "available":
        assert time.time() < deadline, "the volume never became available"
        time.sleep(0.3)
    snap = c.create_snapshot(VolumeId=vol)["SnapshotId"]
    expect_refusal(lambda: c.create_snapshot(VolumeId=vol), "SnapshotLimitExceeded",
                   "quota of 1 snapshots for account alice: 1 in use, 1 requested")
    assert [s["SnapshotId"] for s in c.describe_snapshots()["Snapshots"]] == [snap]
    ok("CreateSnapshot past the snapshots quota is SnapshotLimitExceeded")

    address = c.allocate_address()["PublicIp"]
    expect_refusal(c.allocate_address, "AddressLimitExceeded",
                   "quota of 1 addresses for account alice: 1 in use, 1 requested")
    assert [a["PublicIp"] for a in c.describe_addresses()["Addresses"]] == [address]
    c.release_address(PublicIp=address)
    # AllocateAddress has no ClientToken to serialize it: the account's turn alone does.
    outcomes = at_once(env, lambda client: client.allocate_address()["PublicIp"])
    allocated = [o for o in outcomes if o != "AddressLimitExceeded"]
    assert len(allocated) == 1 and allocated[0].startswith("192.168.7."), outcomes
    assert [a["PublicIp"] for a in c.describe_addresses()["Addresses"]] == allocated, outcomes
    ok("after a release, four concurrent AllocateAddress for the one place: one is allocated, three are "
       "AddressLimitExceeded")


def s3(env, url):
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=env["EC2_ACCESS_KEY"],
                        aws_secret_access_key=env["EC2_SECRET_KEY"], region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def check_s3(env, url):
    c = s3(env, url)
    c.create_bucket(Bucket="quota-one")
    expect_refusal(lambda: c.create_bucket(Bucket="quota-two"), "TooManyBuckets",
                   "quota of 1 buckets for account alice: 1 in use, 1 requested")
    assert [b["Name"] for b in c.list_buckets()["Buckets"]] == ["quota-one"]
    ok("CreateBucket past the buckets quota is TooManyBuckets, and makes no bucket")

    kept = bytes(range(256)) * 2400  # 600 KiB of the 1 MiB
    c.put_object(Bucket="quota-one", Key="kept", Body=kept)
    expect_refusal(lambda: c.put_object(Bucket="quota-one", Key="more", Body=b"x" * (500 * 1024)), "EntityTooLarge",
                   "quota of 0.000977 GiB of bucket storage for account alice: 0.000572 in use, 0.000477 requested")
    assert c.get_object(Bucket="quota-one", Key="kept")["Body"].read() == kept
    assert [o["Key"] for o in c.list_objects(Bucket="quota-one")["Contents"]] == ["kept"]
    ok("a PUT that would pass bucket-gb is EntityTooLarge (400) naming the quota; the earlier object is kept whole")

    upload = c.create_multipart_upload(Bucket="quota-one", Key="parts")["UploadId"]
    expect_refusal(lambda: c.upload_part(Bucket="quota-one", Key="parts", UploadId=upload, PartNumber=1,
                                         Body=b"y" * (500 * 1024)), "EntityTooLarge",
                   "quota of 0.000977 GiB of bucket storage for account alice: 0.000572 in use, 0.000477 requested")
    c.abort_multipart_upload(Bucket="quota-one", Key="parts", UploadId=upload)
    form = c.generate_presigned_post("quota-one", "posted")
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("f", b"z" * (500 * 1024))})
    assert posted.status_code == 400 and "<Code>EntityTooLarge</Code>" in posted.text, posted.text
    assert [o["Key"] for o in c.list_objects(Bucket="quota-one")["Contents"]] == ["kept"]
    ok("an upload part and a POST upload that would pass bucket-gb are refused alike")

    c.delete_object(Bucket="quota-one", Key="kept")
    c.put_object(Bucket="quota-one", Key="more", Body=b"x" * (500 * 1024))
    ok("after a delete the bytes fit again")


def main():
    phase, args = sys.argv[1], sys.argv[2:]
    if phase == "instances":
        check_instances(eucarc(args[0]))
    elif phase == "end":
        end_instances(eucarc(args[0]))
    elif phase == "users":
        check_users(eucarc(args[0]), args[1].split(":"), args[2].split(":"), args[3])
    elif phase == "ebs":
        check_ebs(eucarc(args[0]), eucarc(args[1]))
    elif phase == "s3":
        check_s3(eucarc(args[0]), args[1])
    else:
        raise SystemExit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()

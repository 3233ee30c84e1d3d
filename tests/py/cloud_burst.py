"""Drives cloud-bursting with boto3: our cloud configured from eucarc files alone, and
moto's server standing in for the remote EC2 cloud (boto3 against it directly, to see what
our cloud did there).

Phases (run by tests/cloud_burst.rs):
  images ADMIN_DIR [MOTO_URL]     register the local images; prints `EMI EKI [AMI]`, AMI one
                                  of moto's own images
  burst ADMIN_DIR USER_DIR MOTO_URL EMI EKI
                                  the user (an account the target does not admit) is refused
                                  past the local zone and nothing reaches moto; the admin's
                                  RunInstances of 4 runs 2 locally and 2 on moto, described
                                  by local ids in the burst zone; console, reboot; prints the
                                  4 local ids
  kept ADMIN_DIR MOTO_URL ID...   after a restart: the 4 are still described, 2 in the burst
                                  zone, running; terminated by their local ids, all reach
                                  terminated, and moto shows its 2 terminated
  failure ADMIN_DIR EMI EKI       with a target that does not answer: MinCount 3 over a zone of
                                  2 is refused, its local part terminated; MinCount 1 keeps the
                                  2 local instances
  first ADMIN_DIR MOTO_URL EMI EKI  the account's SLA says burst first: one instance runs on
                                  moto though the zone has room; terminated
  never ADMIN_DIR MOTO_URL EMI EKI  the account's SLA says never: past the zone it is refused
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import sys
import time

import botocore.exceptions

import boto3
from botocore.config import Config

from cloud_clients import ec2, eucarc, expect_error, ok

ZONE = "burst-moto"


def moto(url):
    return boto3.client("ec2", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDBURST",
                        aws_secret_access_key="moto-secret", config=Config(retries={"max_attempts": 1}))


def moto_instances(url):
    return [i for r in moto(url).describe_instances()["Reservations"] for i in r["Instances"]]


def described(c, ids):
    return [i for r in c.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]]


def wait_all(c, ids, state, seconds=60):
    """The instances `ids` once all are in `state` (or when `seconds` ran out)."""
    deadline = time.time() + seconds
    while True:
        found = described(c, ids)
        if all(i["State"]["Name"] == state for i in found) or time.time() > deadline:
            return found
        time.sleep(0.5)


def free_small(c):
    """How many m1.small the local zone has room for, as the administrator's verbose zones say."""
    lines = c.describe_availability_zones(ZoneNames=["verbose"])["AvailabilityZones"]
    (small,) = [z["State"] for z in lines if z["ZoneName"] == "|- m1.small"]
    return int(small.split("/")[0])


def check_images(admin_env, moto_url):
    c = ec2(admin_env)
    emi, eki = (c.register_image(ImageLocation=f"images/{k}.manifest.xml", Name=k)["ImageId"]
                for k in ("machine", "kernel"))
    ok("local images registered")
    if moto_url is None:
        print(emi, eki)
        return
    ami = moto(moto_url).describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    assert ami.startswith("ami-"), ami
    ok("moto offers its own AMIs")
    print(emi, eki, ami)


def check_burst(admin_env, user_env, moto_url, emi, eki):
    c, user = ec2(admin_env), ec2(user_env)
    # The user's account may run the image (public) but not burst: 3 do not fit the zone of 2.
    expect_error(lambda: user.run_instances(ImageId=emi, KernelId=eki, MinCount=3, MaxCount=3,
                                            InstanceType="m1.small"),
                 "InsufficientInstanceCapacity", 400)
    assert user.describe_instances()["Reservations"] == []
    assert moto_instances(moto_url) == []
    ok("an account the target does not admit is not burst: past the local zone it is refused, moto untouched")

    zones = [z["ZoneName"] for z in c.describe_availability_zones()["AvailabilityZones"]]
    assert zones == ["zone1", ZONE], zones
    ok("DescribeAvailabilityZones lists the burst target's zone")

    run = c.run_instances(ImageId=emi, KernelId=eki, MinCount=4, MaxCount=4, InstanceType="m1.small")
    launched = run["Instances"]
    ids = [i["InstanceId"] for i in launched]
    assert len(ids) == 4 and all(i.startswith("i-") and len(i) == 10 for i in ids), ids
    assert [i["AmiLaunchIndex"] for i in launched] == [0, 1, 2, 3], launched
    zones = sorted(i["Placement"]["AvailabilityZone"] for i in launched)
    assert zones == ["burst-moto", "burst-moto", "zone1", "zone1"], zones
    remote = moto_instances(moto_url)
    assert len(remote) == 2 and all(i["ImageId"] for i in remote), remote
    ok("RunInstances of 4 on a zone with room for 2: 2 local and 2 on moto, one reservation, local i- ids")

    found = wait_all(c, ids, "running")
    assert sorted(i["InstanceId"] for i in found) == sorted(ids), found
    assert [i["State"]["Name"] for i in found] == ["running"] * 4, found
    burst = [i["InstanceId"] for i in found if i["Placement"]["AvailabilityZone"] == ZONE]
    assert len(burst) == 2, found
    assert {r["ReservationId"] for r in c.describe_instances(InstanceIds=ids)["Reservations"]} == \
        {run["ReservationId"]}
    in_zone = c.describe_instances(Filters=[{"Name": "availability-zone", "Values": [ZONE]}])["Reservations"]
    assert sorted(i["InstanceId"] for r in in_zone for i in r["Instances"]) == sorted(burst), in_zone
    ok("DescribeInstances by local ids: all 4 running, the 2 remote ones in the burst zone")

    console = c.get_console_output(InstanceId=burst[0])
    assert console["InstanceId"] == burst[0], console
    c.reboot_instances(InstanceIds=burst)
    ok("GetConsoleOutput and RebootInstances of burst instances go to the target")

    expect_error(lambda: user.terminate_instances(InstanceIds=burst), "InvalidInstanceID.NotFound", 400)
    ok("another account neither sees nor touches the burst instances")
    print(" ".join(ids))


def check_kept(admin_env, moto_url, ids):
    c = ec2(admin_env)
    found = described(c, ids)
    assert sorted(i["InstanceId"] for i in found) == sorted(ids), found
    burst = [i["InstanceId"] for i in found if i["Placement"]["AvailabilityZone"] == ZONE]
    assert len(burst) == 2, found
    assert [i["State"]["Name"] for i in found] == ["running"] * 4, found
    ok("after a restart the 4 instances are still described, 2 of them in the burst zone")

    ended = c.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
    assert sorted(e["InstanceId"] for e in ended) == sorted(ids), ended
    found = wait_all(c, ids, "terminated")
    assert [i["State"]["Name"] for i in found] == ["terminated"] * 4, found
    ok("TerminateInstances by local ids: all 4 reach terminated")

    remote = moto_instances(moto_url)
    assert len(remote) == 2 and [i["State"]["Name"] for i in remote] == ["terminated"] * 2, remote
    ok("moto shows the 2 remote instances terminated")


def check_failure(admin_env, emi, eki):
    c = ec2(admin_env)
    expect_error(lambda: c.run_instances(ImageId=emi, KernelId=eki, MinCount=3, MaxCount=3, InstanceType="m1.small"),
                 "InsufficientInstanceCapacity", 400)
    # Undone: terminated on the cluster, and kept as asked to terminate while it tears them
    # down (never pending or running).
    left = [i["State"]["Name"] for r in c.describe_instances()["Reservations"] for i in r["Instances"]]
    assert all(state in ("shutting-down", "terminated") for state in left), left
    ok("MinCount 3 over a zone of 2 and a target that fails: the local part is undone")

    # The zone's room comes back as the tick sees the cluster's instances gone. Under load a
    # late poll (of a node by its cluster, or of the cluster by the cloud) reads as no room
    # for a tick, so a launch that meets one waits for the room to show again.
    deadline = time.time() + 60
    while True:
        while free_small(c) < 2:
            assert time.time() < deadline, "the zone's room did not come back"
            time.sleep(0.5)
        try:
            run = c.run_instances(ImageId=emi, KernelId=eki, MinCount=1, MaxCount=4, InstanceType="m1.small")
            break
        except botocore.exceptions.ClientError as e:
            if e.response["Error"]["Code"] != "InsufficientInstanceCapacity" or time.time() > deadline:
                raise
            time.sleep(0.5)
    zones = [i["Placement"]["AvailabilityZone"] for i in run["Instances"]]
    assert zones == ["zone1", "zone1"], run["Instances"]
    ids = [i["InstanceId"] for i in run["Instances"]]
    assert [i["State"]["Name"] for i in wait_all(c, ids, "running")] == ["running"] * 2
    ok("MinCount 1: the target's failure costs only the remote part; the 2 local instances run")


def check_first(admin_env, moto_url, emi, eki):
    c = ec2(admin_env)
    before = len(moto_instances(moto_url))
    run = c.run_instances(ImageId=emi, KernelId=eki, MinCount=1, MaxCount=1, InstanceType="m1.small")
    (instance,) = [i["InstanceId"] for i in run["Instances"]]
    assert run["Instances"][0]["Placement"]["AvailabilityZone"] == ZONE, run["Instances"]
    assert len(moto_instances(moto_url)) == before + 1
    ok("BurstPreference first: the instance runs on the target though the local zone has room")
    c.terminate_instances(InstanceIds=[instance])
    assert [i["State"]["Name"] for i in wait_all(c, [instance], "terminated")] == ["terminated"]
    ok("and is terminated there")


def check_never(admin_env, moto_url, emi, eki):
    c = ec2(admin_env)
    before = len(moto_instances(moto_url))
    expect_error(lambda: c.run_instances(ImageId=emi, KernelId=eki, MinCount=3, MaxCount=3, InstanceType="m1.small"),
                 "InsufficientInstanceCapacity", 400)
    assert len(moto_instances(moto_url)) == before
    ok("BurstPreference never: past the local zone the request is refused, the target untouched")


def main():
    phase, args = sys.argv[1], sys.argv[2:]
    if phase == "images":
        check_images(eucarc(args[0]), args[1] if len(args) > 1 else None)
    elif phase == "burst":
        check_burst(eucarc(args[0]), eucarc(args[1]), args[2], args[3], args[4])
    elif phase == "kept":
        check_kept(eucarc(args[0]), args[1], args[2:])
    elif phase in ("first", "never"):
        check = check_first if phase == "first" else check_never
        check(eucarc(args[0]), args[1], args[2], args[3])
    elif phase == "failure":
        check_failure(eucarc(args[0]), args[1], args[2])
    else:
        sys.exit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()

"""Drives SLA enforcement (`euca admin sla`, issue 18) with boto3 configured from eucarc files alone.

Phases (run by tests/cloud_sla.rs):
  available ADMIN_DIR COUNT
            waits until zone1's availableInstances of m1.small is COUNT (verbose
            DescribeAvailabilityZones, as the admin)
  reserved A_DIR B_DIR
            account a reserves 2 x m1.small in zone1, which has room for 3: b starts 1; b's
            second RunInstances (named zone or not) is InsufficientInstanceCapacity naming a's
            reservation and makes nothing; a starts its 2 (MinCount 2). Prints the 3 ids.
  priority A_DIR
            b (priority 10) reserves 2 as well, and a (priority 0) keeps its 2: in room for 3 the
            higher priority's reservation is whole, so a may start only 1, and its RunInstances
            for 2 is refused naming b's reservation
  run USER_DIR
            starts one m1.small in zone1 and waits until it runs; prints its id
  end USER_DIR
            terminates the account's instances and waits until they are gone
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import sys
import time

import botocore

from cloud_clients import ec2, eucarc, ok, wait_for

ZONE = "zone1"
VM_TYPE = "m1.small"


def images(c):
    """The fixture images, registered by the caller (public, as the original registered them)."""
    listed = {i["ImageLocation"]: i["ImageId"] for i in c.describe_images()["Images"]}
    return [listed.get(f"images/{k}.manifest.xml")
            or c.register_image(ImageLocation=f"images/{k}.manifest.xml", Name=k)["ImageId"]
            for k in ("machine", "kernel", "ramdisk")]


def run(c, count=1, zone=ZONE):
    emi, eki, eri = images(c)
    placement = {"AvailabilityZone": zone} if zone else {}
    return [i["InstanceId"] for i in c.run_instances(
        ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=count, MaxCount=count, InstanceType=VM_TYPE,
        Placement=placement)["Instances"]]


def live(c):
    found = c.describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
    return sorted(i["InstanceId"] for r in found for i in r["Instances"])


def available(env, count):
    c = ec2(env)
    deadline = time.time() + 60
    while True:
        zones = c.describe_availability_zones(ZoneNames=["verbose"])["AvailabilityZones"]
        states = {z["ZoneName"]: z["State"] for z in zones}
        now = int(states[f"|- {VM_TYPE}"].split()[0])
        if now == count:
            ok(f"{ZONE} has room for {count} {VM_TYPE}")
            return
        assert time.time() < deadline, f"{ZONE} has room for {now} {VM_TYPE}, not {count}"
        time.sleep(0.5)


def expect_capacity_refusal(call, message):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        error = e.response["Error"]
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        assert (error["Code"], status) == ("InsufficientInstanceCapacity", 400), (error, status)
        assert error["Message"] == message, error
        return
    raise AssertionError("expected InsufficientInstanceCapacity, the call succeeded")


def reserved(a_env, b_env):
    a, b = ec2(a_env), ec2(b_env)
    (b_first,) = run(b)
    ok("account b starts 1 m1.small of the 1 not reserved")
    message = ("Account b may start 0 m1.small in zone zone1, fewer than the 1 asked for: "
               "account a's reservation of 2 x m1.small in zone zone1 (priority 0) holds 2")
    expect_capacity_refusal(lambda: run(b), message)
    expect_capacity_refusal(lambda: run(b, zone=None), message)
    assert live(b) == [b_first], live(b)
    ok("b's second is InsufficientInstanceCapacity naming a's reservation, in the zone or placed by the cloud; "
       "nothing is made")
    a_ids = run(a, 2, zone=None)
    assert len(a_ids) == 2, a_ids
    for instance in a_ids + [b_first]:
        client = b if instance == b_first else a
        assert wait_for(client, instance, "running")["State"]["Name"] == "running", instance
    ok("account a starts its 2 reserved; all 3 run")
    print(" ".join([b_first] + a_ids))


def priority(a_env):
    a = ec2(a_env)
    message = ("Account a may start 1 m1.small in zone zone1, fewer than the 2 asked for: "
               "account b's reservation of 2 x m1.small in zone zone1 (priority 10) holds 2")
    expect_capacity_refusal(lambda: run(a, 2), message)
    run(a)
    ok("with b's reservation of higher priority kept whole, a starts 1 of its 2, not 2")


def end(env):
    c = ec2(env)
    mine = live(c)
    if mine:
        c.terminate_instances(InstanceIds=mine)
    for instance in mine:
        assert wait_for(c, instance, "terminated")["State"]["Name"] == "terminated", instance
    ok(f"{len(mine)} instances terminated")


def main():
    phase = sys.argv[1]
    if phase == "available":
        available(eucarc(sys.argv[2]), int(sys.argv[3]))
    elif phase == "reserved":
        reserved(eucarc(sys.argv[2]), eucarc(sys.argv[3]))
    elif phase == "priority":
        priority(eucarc(sys.argv[2]))
    elif phase == "run":
        c = ec2(eucarc(sys.argv[2]))
        (instance,) = run(c)
        assert wait_for(c, instance, "running")["State"]["Name"] == "running", instance
        ok("one m1.small runs")
        print(instance)
    elif phase == "end":
        end(eucarc(sys.argv[2]))
    else:
        sys.exit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()

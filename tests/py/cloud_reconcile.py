"""Drives the cloud controller's tick and durable RunInstances with boto3 configured from an
eucarc alone (the helpers are cloud_clients.py's).

Phases (run by tests/cloud_reconcile.rs):
  images ADMIN_DIR                 registers the fixture machine and kernel; prints "EMI EKI"
  burst ADMIN_DIR EMI EKI OUT CLIENTS EACH
                                   CLIENTS threads each run EACH single instances with a
                                   ClientToken; every answered one is appended to OUT as
                                   "TOKEN RESERVATION INSTANCE" (the cloud may die meanwhile:
                                   a client that gets no answer stops)
  kept ADMIN_DIR EMI EKI OUT       after a restart: every answered reservation is listed with
                                   its instance; a retry of an answered token returns the same
                                   reservation and starts nothing; states converge (no
                                   instance stays pending); prints "ids: ..." of those not
                                   terminated
  run ADMIN_DIR EMI EKI            runs one instance to running; prints "INSTANCE"
  state DIR ID STATE               waits until the user's instance ID is in STATE; prints
                                   "RESERVATION OWNER ZONE"
  listed ADMIN_DIR ID OWNER        the administrator's `verbose` lists OWNER's instance ID
  zone ADMIN_DIR ZONE STATE        waits until zone ZONE is in STATE
  placement ADMIN_DIR EMI EKI      two zones of 5 m1.small each: placement by room
  token ADMIN_DIR EMI EKI          8 clients send one RunInstances with one ClientToken at once
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import sys
import threading
import time

import boto3
import botocore
from botocore.config import Config

from cloud_clients import ec2, eucarc, expect_error, ok


def client(env):
    """boto3 that sends each request once: a request the dead cloud did not answer fails."""
    return boto3.client(
        "ec2",
        endpoint_url=env["EC2_URL"],
        aws_access_key_id=env["EC2_ACCESS_KEY"],
        aws_secret_access_key=env["EC2_SECRET_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=90),
    )


def everything(c):
    """Every instance of the cloud, by id (the administrator's `verbose`)."""
    reservations = c.describe_instances(InstanceIds=["verbose"])["Reservations"]
    return {i["InstanceId"]: (r["ReservationId"], i) for r in reservations for i in r["Instances"]}


def wait(what, check, seconds=60):
    deadline = time.time() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.time() < deadline, f"{what}: not so after {seconds} s"
        time.sleep(0.5)


def register(env):
    c = ec2(env)
    return [c.register_image(ImageLocation=f"images/{k}.manifest.xml", Name=k)["ImageId"] for k in ("machine", "kernel")]


def burst(env, emi, eki, out, clients, each):
    lock = threading.Lock()
    answered = []

    def launch(n):
        c = client(env)
        for k in range(each):
            token = f"burst-{n}-{k}"
            try:
                run = c.run_instances(ImageId=emi, KernelId=eki, MinCount=1, MaxCount=1,
                                      InstanceType="m1.small", ClientToken=token)
            except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                    botocore.exceptions.ReadTimeoutError, ConnectionError):
                return
            except botocore.exceptions.ClientError as e:
                # Refused (no room left): an answer, with nothing to keep.
                print("refused:", token, e.response["Error"]["Code"], flush=True)
                continue
            line = f"{token} {run['ReservationId']} {run['Instances'][0]['InstanceId']}\n"
            with lock:
                answered.append(line)
                with open(out, "a") as f:
                    f.write(line)

    threads = [threading.Thread(target=launch, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok(f"burst: {len(answered)} of {clients * each} RunInstances answered")


def kept(env, emi, eki, out):
    c = ec2(env)
    answered = [line.split() for line in open(out).read().splitlines()]
    assert answered, "the burst got no answer before the kill"
    known = everything(c)
    for token, reservation, instance in answered:
        assert instance in known and known[instance][0] == reservation, (token, reservation, instance)
    ok(f"after kill -9 and a restart every one of the {len(answered)} answered reservations is listed")

    token, reservation, instance = answered[0]
    again = c.run_instances(ImageId=emi, KernelId=eki, MinCount=1, MaxCount=1, InstanceType="m1.small",
                            ClientToken=token)
    assert again["ReservationId"] == reservation, again
    assert [i["InstanceId"] for i in again["Instances"]] == [instance], again
    assert set(everything(c)) == set(known), "a retried ClientToken started something"
    ok("a retry with an answered ClientToken returns the same reservation and starts nothing")

    last = {}

    def settled():
        last.update(everything(c))
        states = {i["State"]["Name"] for _, i in last.values()}
        return dict(last) if states <= {"running", "terminated"} else None

    try:
        final = wait("every instance running or terminated", settled)
    except AssertionError:
        sys.exit(f"not settled: {[(k, r, i['State']['Name']) for k, (r, i) in sorted(last.items())]}")
    for token, reservation, instance in answered:
        assert final[instance][1]["State"]["Name"] == "running", (instance, final[instance][1]["State"])
    ok("states converge: the answered instances run, the rest are running or terminated")
    print("ids:", " ".join(sorted(i for i, (_, d) in final.items() if d["State"]["Name"] != "terminated")))


def run_one(env, emi, eki):
    c = ec2(env)
    instance = c.run_instances(ImageId=emi, KernelId=eki, MinCount=1, MaxCount=1,
                               InstanceType="m1.small")["Instances"][0]["InstanceId"]
    wait_state(env, instance, "running")
    print(instance)


def wait_state(env, instance, state):
    c = ec2(env)

    def reached():
        try:
            found = c.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
        except botocore.exceptions.ClientError as e:
            # Not known yet: the tick adopts what the cluster reports.
            assert e.response["Error"]["Code"] == "InvalidInstanceID.NotFound", e.response
            return None
        return found if found["State"]["Name"] == state else None

    found = wait(f"{instance} {state}", reached)
    ok(f"{instance} is {state} in {found['Placement']['AvailabilityZone']}")
    (reservation,) = c.describe_instances(InstanceIds=[instance])["Reservations"]
    print(reservation["ReservationId"], reservation["OwnerId"], found["Placement"]["AvailabilityZone"])


def wait_zone(env, zone, state):
    c = ec2(env)

    def reached():
        zones = {z["ZoneName"]: z["State"] for z in c.describe_availability_zones()["AvailabilityZones"]}
        return zones.get(zone) == state

    wait(f"zone {zone} {state}", reached)
    ok(f"zone {zone} is {state}")


def placement(env, emi, eki):
    c = ec2(env)

    def run(count, zone=None):
        extra = {"Placement": {"AvailabilityZone": zone}} if zone else {}
        r = c.run_instances(ImageId=emi, KernelId=eki, MinCount=count, MaxCount=count,
                            InstanceType="m1.small", **extra)
        zones = {i["Placement"]["AvailabilityZone"] for i in r["Instances"]}
        assert len(zones) == 1 and len(r["Instances"]) == count, r["Instances"]
        return zones.pop()

    def fits(count):
        # A cluster counts a node's room conservatively: an instance a node accepted while
        # the cluster's poll of it was under way is counted twice until the next poll (2 s).
        # A launch that fits on paper may meet that for a moment; it fits once it is over.
        deadline = time.monotonic() + 8
        while True:
            try:
                return run(count)
            except botocore.exceptions.ClientError as e:
                code = e.response["Error"]["Code"]
                if code != "InsufficientInstanceCapacity" or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    assert run(1, "zone2") == "zone2"
    ok("Placement.AvailabilityZone is honoured")
    expect_error(lambda: run(1, "zone9"), "InvalidParameterValue", 400)
    # zone1 has room for 5, zone2 for 4: no zone for 6, though the cloud has 9.
    expect_error(lambda: run(6), "InsufficientInstanceCapacity", 400)
    assert fits(5) == "zone1"
    assert fits(2) == "zone2"
    assert fits(2) == "zone2"
    expect_error(lambda: run(1), "InsufficientInstanceCapacity", 400)
    ok("without a zone, the one with the most room; none with room is InsufficientInstanceCapacity")
    running = wait("all ten running", lambda: all(
        i["State"]["Name"] == "running" for _, i in everything(c).values()) and everything(c))
    by_zone = {}
    for _, i in running.values():
        by_zone[i["Placement"]["AvailabilityZone"]] = by_zone.get(i["Placement"]["AvailabilityZone"], 0) + 1
    assert by_zone == {"zone1": 5, "zone2": 5}, by_zone
    ok("each zone runs what it had room for")


def same_token(env, emi, eki):
    answers, lock = [], threading.Lock()

    def launch():
        r = client(env).run_instances(ImageId=emi, KernelId=eki, MinCount=2, MaxCount=2,
                                      InstanceType="m1.small", ClientToken="one-token")
        with lock:
            answers.append((r["ReservationId"], sorted(i["InstanceId"] for i in r["Instances"])))

    threads = [threading.Thread(target=launch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 8 and len(set(map(str, answers))) == 1, answers
    (reservation, ids), known = answers[0], everything(ec2(env))
    assert len(ids) == 2 and sorted(known) == ids and {r for r, _ in known.values()} == {reservation}, known
    ok("8 concurrent RunInstances with one ClientToken get one reservation of 2 instances; nothing else starts")
    expect_error(lambda: ec2(env).run_instances(ImageId=emi, KernelId=eki, MinCount=1, MaxCount=1,
                                                InstanceType="m1.small", ClientToken="x" * 65),
                 "InvalidParameterValue", 400)
    ok("a ClientToken over 64 characters is refused")


def main():
    phase, env = sys.argv[1], eucarc(sys.argv[2])
    if phase == "images":
        print(" ".join(register(env)))
    elif phase == "burst":
        burst(env, sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7]))
    elif phase == "kept":
        kept(env, sys.argv[3], sys.argv[4], sys.argv[5])
    elif phase == "run":
        run_one(env, sys.argv[3], sys.argv[4])
    elif phase == "state":
        wait_state(env, sys.argv[3], sys.argv[4])
    elif phase == "listed":
        reservation, instance = everything(ec2(env))[sys.argv[3]]
        assert reservation.startswith("r-") and instance["State"]["Name"] == "running", instance
        owners = {r["OwnerId"] for r in ec2(env).describe_instances(InstanceIds=["verbose"])["Reservations"]
                  if r["ReservationId"] == reservation}
        assert owners == {sys.argv[4]}, owners
        ok(f"the administrator's verbose lists {sys.argv[4]}'s {sys.argv[3]}")
    elif phase == "zone":
        wait_zone(env, sys.argv[3], sys.argv[4])
    elif phase == "token":
        same_token(env, sys.argv[3], sys.argv[4])
    elif phase == "placement":
        placement(env, sys.argv[3], sys.argv[4])
    else:
        sys.exit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()

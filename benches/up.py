"""Driver of benches/up.sh: runs `euca up` (the given binary) in fresh folders on free ports
and prints its figures. See up.sh for what is measured."""

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from up_clients import clients

RUNS = 5
# Instances DescribeInstances is measured beside, and how many one RunInstances asks for.
GOAL = 10_000
BATCH = 256  # the most one RunInstances may ask for


def free_base():
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        try:
            for offset in range(5):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise SystemExit("no 5 free ports in a row")


class Up:
    """`euca up` started, until its `cloud ready` line: the seconds that took."""

    def __init__(self, euca, home, base=None):
        self.home = home
        # A restart keeps its ports, as a user's does: the eucarc names them.
        self.base = base or free_base()
        env = dict(os.environ, RUST_LOG="info", NO_COLOR="1")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [euca, "up", "--home", home, "--port-base", str(self.base), "--hypervisor", "test"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )
        for line in self.process.stderr:
            if "cloud ready" in line:
                self.ready = time.monotonic() - started
                break
        else:
            raise SystemExit(f"euca up ended before it was ready: {self.process.wait()}")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.stderr.read()
        assert self.process.wait(60) == 0


def percentiles(values):
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.9))]


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def running(ec2, instance):
    reservations = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
    return reservations[0]["Instances"][0]["State"]["Name"] == "running"


def fill(ec2, emi):
    """Runs as many instances as the test NC has room for, in batches of up to BATCH (the
    goal is 10,000), until the zone has no room; waits until the cluster reports them all
    running. Returns how many run."""
    started = []
    # The room of the instances the launches above terminated is free again at the next tick.
    settled = time.monotonic() + 10
    while len(started) < GOAL:
        try:
            reservation = ec2.run_instances(ImageId=emi, MinCount=1, MaxCount=min(BATCH, GOAL - len(started)),
                                            InstanceType="m1.small")
        except ec2.exceptions.ClientError as e:
            if e.response["Error"]["Code"] != "InsufficientInstanceCapacity":
                raise
            if started or time.monotonic() > settled:
                break
            time.sleep(0.2)
            continue
        started += [i["InstanceId"] for i in reservation["Instances"]]
    deadline = time.monotonic() + 120
    while started:
        states = [i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=started)["Reservations"]
                  for i in r["Instances"]]
        if all(s == "running" for s in states):
            break
        assert time.monotonic() < deadline, "the instances did not all reach running"
        time.sleep(0.1)
    return len(started)


def main():
    euca, launches = sys.argv[1], int(sys.argv[2])
    with tempfile.TemporaryDirectory() as work:
        first, again = [], []
        for run in range(RUNS):
            home = os.path.join(work, f"cold{run}")
            up = Up(euca, home)
            first.append(up.ready)
            up.stop()
            up = Up(euca, home, up.base)
            again.append(up.ready)
            up.stop()
        print(f"cold start, first run (keys and credentials made), {RUNS} runs: "
              f"p50 {ms(statistics.median(first))}, min {ms(min(first))}, max {ms(max(first))}")
        print(f"cold start, a restart of the same cloud, {RUNS} runs: "
              f"p50 {ms(statistics.median(again))}, min {ms(min(again))}, max {ms(max(again))}")

        up = Up(euca, os.path.join(work, "cloud"))
        try:
            admin = os.path.join(up.home, "credentials", "admin")
            _, ec2, _ = clients(admin)
            deadline = time.monotonic() + 60
            while not [i for i in ec2.describe_images()["Images"] if i["ImageId"].startswith("emi-")]:
                assert time.monotonic() < deadline, "no default image"
                time.sleep(0.1)
            emi = [i for i in ec2.describe_images()["Images"] if i["ImageId"].startswith("emi-")][0]["ImageId"]
            to_running = []
            while len(to_running) < launches:
                started = time.monotonic()
                try:
                    reservation = ec2.run_instances(ImageId=emi, MinCount=1, MaxCount=1, InstanceType="m1.small")
                except ec2.exceptions.ClientError as e:
                    # A fresh zone's room is known about 3 s after the start.
                    if e.response["Error"]["Code"] != "InsufficientInstanceCapacity" or not time.monotonic() < deadline:
                        raise
                    time.sleep(0.1)
                    continue
                instance = reservation["Instances"][0]["InstanceId"]
                while not running(ec2, instance):
                    time.sleep(0.005)
                to_running.append(time.monotonic() - started)
                ec2.terminate_instances(InstanceIds=[instance])
            p50, p90 = percentiles(to_running)
            print(f"RunInstances -> running (DescribeInstances every 5 ms), {launches} launches: "
                  f"p50 {ms(p50)}, p90 {ms(p90)}")
            live = fill(ec2, emi)
            described = []
            for _ in range(200):
                started = time.monotonic()
                ec2.describe_instances()
                described.append(time.monotonic() - started)
            count = sum(len(r["Instances"]) for r in ec2.describe_instances()["Reservations"])
            p50, p90 = percentiles(described)
            print(f"DescribeInstances through the front door (boto3, {count} instances recorded, "
                  f"{live} of them running on the test NC), 200 calls: p50 {ms(p50)}, p90 {ms(p90)}")
        finally:
            up.stop()


if __name__ == "__main__":
    main()

"""Driver of benches/up.sh: runs `euca up` (the given binary) in fresh folders on free ports
and prints its figures. See up.sh for what is measured."""

import json
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
# The test NC's declared room: GOAL m1.small instances (1 core, 128 MiB, 2 GiB each), and a
# few more for the launches measured before.
ROOM = GOAL + 16
CAPACITY = f"--capacity=cores={ROOM},memory={ROOM * 128},disk={ROOM * 2}"
DESCRIBES = 12


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

    def __init__(self, euca, home, base=None, node_args=()):
        self.home = home
        # A restart keeps its ports, as a user's does: the eucarc names them.
        self.base = base or free_base()
        env = dict(os.environ, RUST_LOG="info", NO_COLOR="1")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [euca, "up", "--home", home, "--port-base", str(self.base), "--hypervisor", "test"]
            + [f"--node-arg={arg}" for arg in node_args],
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


def percentiles(values, share=0.9):
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, int(len(values) * share))]


def memory(home):
    """Each component's resident memory now and at its peak, in MiB, from /proc."""
    with open(os.path.join(home, "up.json")) as f:
        components = json.load(f)["components"]
    found = {}
    for component in components:
        with open(f"/proc/{component['pid']}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        found[component["name"]] = tuple(int(status[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
    return found


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def running(ec2, instance):
    reservations = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
    return reservations[0]["Instances"][0]["State"]["Name"] == "running"


def fill(ec2, emi):
    """Runs GOAL instances in batches of BATCH and waits until all are running. Returns the
    seconds the launches took and the seconds until the last was running."""
    began = time.monotonic()
    started = 0
    # The zone's room is the last tick's: a batch refused for room waits for the next.
    while started < GOAL:
        try:
            reservation = ec2.run_instances(ImageId=emi, MinCount=1, MaxCount=min(BATCH, GOAL - started),
                                            InstanceType="m1.small")
        except ec2.exceptions.ClientError as e:
            if e.response["Error"]["Code"] != "InsufficientInstanceCapacity" or time.monotonic() - began > 300:
                raise
            time.sleep(0.5)
            continue
        started += len(reservation["Instances"])
    launched = time.monotonic() - began
    while True:
        states = [i["State"]["Name"] for r in ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
                  for i in r["Instances"]]
        if len(states) >= GOAL:
            break
        assert time.monotonic() - began < 480, f"{len(states)} of {GOAL} instances running after 8 minutes"
        time.sleep(2)
    return launched, time.monotonic() - began


def describe_all(ec2):
    """DescribeInstances of every instance DESCRIBES times: the seconds until the reply's
    last byte came (boto3 signs, the CLC reads its store and answers) and until boto3 had
    parsed it, and the reply's size and instance count."""
    arrived = {}

    def on_reply(response_dict, **_):
        arrived["at"] = time.monotonic()
        arrived["bytes"] = len(response_dict["body"])

    ec2.meta.events.register("before-parse.ec2.DescribeInstances", on_reply)
    replies, parsed = [], []
    for _ in range(DESCRIBES):
        started = time.monotonic()
        answer = ec2.describe_instances()
        parsed.append(time.monotonic() - started)
        replies.append(arrived["at"] - started)
    ec2.meta.events.unregister("before-parse.ec2.DescribeInstances", on_reply)
    count = sum(len(r["Instances"]) for r in answer["Reservations"])
    return replies, parsed, arrived["bytes"], count


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

        up = Up(euca, os.path.join(work, "cloud"), node_args=[CAPACITY])
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
            launched, all_running = fill(ec2, emi)
            print(f"{GOAL} instances on one test NC ({CAPACITY}): RunInstances in batches of {BATCH} "
                  f"took {launched:.1f} s; all running after {all_running:.1f} s")
            replies, parsed, size, count = describe_all(ec2)
            for what, times in [("reply received", replies), ("parsed by boto3", parsed)]:
                p50, p95 = percentiles(times, 0.95)
                print(f"DescribeInstances of {count} instances through the front door (boto3 -> CLC -> its "
                      f"store, SQLite; the tick keeps it reconciled with the CC), {DESCRIBES} calls, "
                      f"{what}: p50 {ms(p50)}, p95 {ms(p95)}")
            print(f"  the reply: {size / 1e6:.1f} MB")
            for name, (rss, peak) in memory(up.home).items():
                print(f"  {name}: resident {rss:.0f} MiB, peak {peak:.0f} MiB")
        finally:
            up.stop()


if __name__ == "__main__":
    main()

"""Reads the monitoring samples the cloud took in from its clusters, with boto3's
stock `cloudwatch` client configured from an eucarc alone (cloud_cloudwatch.py's).

Phases (run by tests/sensors_pipeline.rs):
  samples ADMIN_DIR INSTANCE INTERVAL
                                   waits until the instance (the administrator's, on a
                                   test-driver node sampling every INTERVAL seconds) has
                                   several samples of each metric in the cloud; checks their
                                   values against the test driver's load and byte rates
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import datetime
import sys
import time

from cloud_clients import eucarc
from cloud_cloudwatch import METRICS, cloudwatch, dims, ok

# The test driver's byte rates, per second (services/node/src/sensors.rs).
RATES = {"DiskReadBytes": 65536, "DiskWriteBytes": 16384, "NetworkIn": 8192, "NetworkOut": 4096}


def statistics(c, instance, metric):
    """The instance's 5-minute points of `metric` over the last 10 minutes, merged."""
    now = datetime.datetime.now(datetime.timezone.utc)
    points = c.get_metric_statistics(
        Namespace="AWS/EC2", MetricName=metric, Dimensions=dims(instance),
        StartTime=now - datetime.timedelta(minutes=10), EndTime=now + datetime.timedelta(minutes=5),
        Period=300, Statistics=["SampleCount", "Sum", "Minimum", "Maximum"])["Datapoints"]
    count = sum(p["SampleCount"] for p in points)
    return {
        "SampleCount": count,
        "Average": sum(p["Sum"] for p in points) / count if count else None,
        "Minimum": min((p["Minimum"] for p in points), default=None),
        "Maximum": max((p["Maximum"] for p in points), default=None),
    }


def samples(admin_dir, instance, interval):
    c = cloudwatch(eucarc(admin_dir))
    deadline = time.time() + 60
    while True:
        seen = {m: statistics(c, instance, m) for m in METRICS}
        if all(s["SampleCount"] >= 4 for s in seen.values()):
            break
        assert time.time() < deadline, f"samples did not arrive: {seen}"
        time.sleep(0.5)
    listed = c.list_metrics(Dimensions=dims(instance))["Metrics"]
    assert sorted(m["MetricName"] for m in listed) == METRICS, listed
    ok(f"the cloud took in samples of every metric of {instance}: "
       + ", ".join(f"{m} {int(s['SampleCount'])}" for m, s in seen.items()))

    cpu = seen["CPUUtilization"]
    # The test driver's load swings between 15% and 85% of the vCPUs.
    assert 14 <= cpu["Minimum"] <= cpu["Maximum"] <= 86, cpu
    ok(f"CPUUtilization in percent of the vCPUs: {cpu['Minimum']:.1f} to {cpu['Maximum']:.1f}")
    interval = float(interval)
    for metric, rate in RATES.items():
        average = seen[metric]["Average"]
        # Each sample counts the bytes of one interval between two of the node's samples.
        assert 0.5 * rate * interval <= average <= 2 * rate * interval, (metric, seen[metric])
    ok("bytes per interval at the test driver's rates: "
       + ", ".join(f"{m} {seen[m]['Average']:.0f}" for m in RATES))


def main():
    phase, args = sys.argv[1], sys.argv[2:]
    {"samples": samples}[phase](*args)


if __name__ == "__main__":
    main()

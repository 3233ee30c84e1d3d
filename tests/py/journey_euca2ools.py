"""euca2ools against our cloud, through its recorded wire format: the requests euca2ools 1.0
(boto 1.8d: Query GET/POST, SigV2 HmacSHA256, 2009-04-04) and euca2ools 3.4.1
(requestbuilder 0.7.1: Query POST, SigV4 with the region `undefined-<pid>`, 2015-10-01) sent
for describe-availability-zones, describe-images, run-instances, describe-instances and
terminate-instances, recorded in ../shared/reference/captures, each re-signed as that version
signs with a user's keys, its ids replaced by this cloud's. The answers are printed the way
euca2ools prints them (tab-separated AVAILABILITYZONE, IMAGE, RESERVATION, INSTANCE lines).

Usage: journey_euca2ools.py USER_DIR CAPTURES_DIR EMI EKI ERI
Prints each command and its output; exits non-zero on the first wrong answer.
"""

import json
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cloud_clients import ec2, eucarc, recorded

# The five commands, by the action each sends, in the order a user runs them.
COMMANDS = {
    "DescribeAvailabilityZones": "euca-describe-availability-zones",
    "DescribeImages": "euca-describe-images",
    "RunInstances": "euca-run-instances",
    "DescribeInstances": "euca-describe-instances",
    "TerminateInstances": "euca-terminate-instances",
}
VERSIONS = [
    ("euca2ools 1.0", "euca2ools-1.0_boto-1.8d.jsonl"),
    ("euca2ools 3.4.1", "euca2ools-3.4.1_requestbuilder-0.7.1.jsonl"),
]


def text(element, name):
    found = next((e for e in element.iter() if e.tag.split("}")[-1] == name), None)
    return "" if found is None or found.text is None else found.text


def children(element, name):
    """The `item` children of the first element named `name` under `element`."""
    found = next((e for e in element.iter() if e.tag.split("}")[-1] == name), None)
    return [] if found is None else [e for e in found if e.tag.split("}")[-1] == "item"]


def instance_line(item):
    return "\t".join(["INSTANCE", text(item, "instanceId"), text(item, "imageId"), text(item, "dnsName"),
                      text(item, "privateDnsName"), text(item, "name"), text(item, "keyName"),
                      text(item, "amiLaunchIndex"), text(item, "instanceType"), text(item, "launchTime"),
                      text(item, "availabilityZone"), text(item, "kernelId"), text(item, "ramdiskId")])


def reservation_lines(reservation):
    groups = ", ".join(text(g, "groupId") for g in children(reservation, "groupSet"))
    yield "\t".join(["RESERVATION", text(reservation, "reservationId"), text(reservation, "ownerId"), groups])
    for item in children(reservation, "instancesSet"):
        yield instance_line(item)


def output(action, root):
    """The lines euca2ools prints for the answer `root` to `action`."""
    if action == "DescribeAvailabilityZones":
        for zone in children(root, "availabilityZoneInfo"):
            yield "\t".join(["AVAILABILITYZONE", text(zone, "zoneName"), text(zone, "zoneState")])
    elif action == "DescribeImages":
        for image in children(root, "imagesSet"):
            public = "public" if text(image, "isPublic") == "true" else "private"
            yield "\t".join(["IMAGE", text(image, "imageId"), text(image, "imageLocation"),
                             text(image, "imageOwnerId"), text(image, "imageState"), public,
                             text(image, "architecture"), text(image, "imageType"), text(image, "kernelId"),
                             text(image, "ramdiskId")])
    elif action == "RunInstances":
        yield from reservation_lines(root)
    elif action == "DescribeInstances":
        for reservation in children(root, "reservationSet"):
            yield from reservation_lines(reservation)
    elif action == "TerminateInstances":
        for item in children(root, "instancesSet"):
            # 2009-04-04 names the new state shutdownState; later versions currentState.
            yield "\t".join(["INSTANCE", text(item, "instanceId"), state(item, "previousState"),
                             state(item, "shutdownState") or state(item, "currentState")])


def state(item, name):
    """The name in the `name` state element of a terminated instance's item ('' without it)."""
    found = next((e for e in item.iter() if e.tag.split("}")[-1] == name), None)
    return "" if found is None else text(found, "name")


def sigv4_resend(env, capture, params):
    """`params` POSTed in the captured order, signed as requestbuilder signs: SigV4 scoped
    to the region the capture names (`undefined-<pid>`), service ec2."""
    scope = capture["headers"]["Authorization"].split("Credential=")[1].split(",")[0]
    region = scope.split("/")[2]
    body = urllib.parse.urlencode(list(params.items()))
    request = AWSRequest(method="POST", url=env["EC2_URL"], data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(env["EC2_ACCESS_KEY"], env["EC2_SECRET_KEY"]), "ec2", region).add_auth(request)
    return requests.post(env["EC2_URL"], data=body, headers=dict(request.headers.items()))


def captured(folder, file):
    """(action, params, resend) of the five commands' recorded requests, in the order a user
    runs the commands (the recordings describe instances before they run any)."""
    if "1.0" in file:
        requests_ = list(recorded(f"{folder}/{file}", COMMANDS))
    else:
        with open(f"{folder}/{file}") as f:
            captures = [json.loads(line) for line in f]
        requests_ = [(c["params"]["Action"], dict(c["params"]),
                      lambda env, params, capture=c: sigv4_resend(env, capture, params))
                     for c in captures if c["params"].get("Action") in COMMANDS]
    order = list(COMMANDS)
    return sorted(requests_, key=lambda r: order.index(r[0]))


def wait_running(c, ids, seconds=60):
    deadline = time.time() + seconds
    while True:
        states = {i["InstanceId"]: i["State"]["Name"]
                  for r in c.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]}
        if all(s == "running" for s in states.values()) or time.time() > deadline:
            assert all(s == "running" for s in states.values()), states
            return
        time.sleep(0.3)


def wait_room(c, vm_type, count, seconds=120):
    """Waits until the zone has room for `count` instances of `vm_type`, as its verbose
    listing says (`|- m1.small` `free / max ...`): the recorded run-instances asks for two at
    once, and a node frees its room some time after its instances end."""
    deadline = time.time() + seconds
    while True:
        zones = c.describe_availability_zones(ZoneNames=["verbose"])["AvailabilityZones"]
        free = [int(z["State"].split("/")[0]) for z in zones if z["ZoneName"] == f"|- {vm_type}"]
        if free and free[0] >= count:
            return
        assert time.time() < deadline, f"no room for {count} {vm_type} within {seconds}s: {zones}"
        time.sleep(0.5)


def replay(label, folder, file, env, emi, eki, eri, zone):
    c = ec2(env)
    launched = []
    for action, params, resend in captured(folder, file):
        replaced = {"ImageId": emi, "KernelId": eki, "RamdiskId": eri, "Placement.AvailabilityZone": zone}
        for name, value in replaced.items():
            if name in params:
                params[name] = value
        if action == "DescribeImages" and params.get("ImageId.1"):
            params["ImageId.1"] = emi
        ids = sorted(k for k in params if k.startswith("InstanceId."))
        for k in ids:
            del params[k]
        if ids:
            chosen = launched if action == "TerminateInstances" else launched[:len(ids)]
            params.update({f"InstanceId.{n}": instance for n, instance in enumerate(chosen, 1)})
        shown = " ".join(f"{k}={v}" for k, v in params.items()
                         if k not in ("Action", "Version", "UserData"))
        if action == "RunInstances":
            wait_room(c, params["InstanceType"], int(params["MinCount"]))
        print(f"$ {COMMANDS[action]}  # {label}: {action} {shown}")
        answer = resend(env, params)
        assert answer.status_code == 200, (label, action, answer.status_code, answer.text)
        root = ET.fromstring(answer.content)
        assert root.tag.endswith(f"{action}Response"), answer.text
        lines = list(output(action, root))
        for line in lines:
            print(line)
        if action == "RunInstances":
            launched = [line.split("\t")[1] for line in lines if line.startswith("INSTANCE")]
            assert len(launched) == int(params["MinCount"]), lines
            wait_running(c, launched)
        elif action == "DescribeAvailabilityZones":
            assert any(line.split("\t")[1] == zone for line in lines), lines
        elif action == "DescribeImages" and "Owner.1" not in params:
            assert any(line.split("\t")[1] == emi for line in lines), lines
        elif action == "TerminateInstances":
            assert sorted(line.split("\t")[1] for line in lines) == sorted(launched), lines
    assert launched, f"{label}: no RunInstances recorded"
    print(f"ok: {label}'s five commands, re-signed with the user's keys, answered; its instances ran and are shutting down")


def main():
    user_dir, folder, emi, eki, eri = sys.argv[1:6]
    env = eucarc(user_dir)
    c = ec2(env)
    (zone,) = [z["ZoneName"] for z in c.describe_availability_zones()["AvailabilityZones"]]
    # The recorded run-instances names the keypair k1.
    c.create_key_pair(KeyName="k1")
    for label, file in VERSIONS:
        replay(label, folder, file, env, emi, eki, eri, zone)


if __name__ == "__main__":
    main()

"""Drives the cloud controller's EBS operations with boto3 configured from an eucarc alone,
against a real SC and a real CC (tests/cloud_volumes.rs holds the other side: it reads each
attachment's remoteDev from the node and writes and reads bytes through the export).

Phases (each prints its results as the last line):
  attach USER_DIR              run an instance to running, create a volume, attach it
                               -> INSTANCE VOLUME
  restore USER_DIR INSTANCE VOLUME   detach, snapshot (progress to 100%), a second volume from
                               the snapshot, attached -> SNAPSHOT VOLUME2
  errors USER_DIR OTHER_DIR ADMIN_DIR INSTANCE VOLUME VOLUME2 SNAPSHOT   EC2's error codes, a
                               second user neither sees nor touches them, the admin's verbose
  kept USER_DIR INSTANCE VOLUME VOLUME2 SNAPSHOT   after a restart all is there; terminating the
                               instance frees its volume; deletes leave Describe results
  captures USER_DIR CAPTURES INSTANCE   the recorded EBS requests of euca2ools 1.0 and 3.4.1,
                               re-signed with the user's keys, on a volume of their own
  two USER_DIR                 two volumes -> VOLUME1 VOLUME2
  down USER_DIR VOLUME1 VOLUME2   with the SC down: a third asked for, the first deleted, the
                               second snapshotted: each Unavailable and recorded under way
  settled USER_DIR VOLUME1 VOLUME2   after the SC (and the cloud) came back, the tick finished
                               them: the third available, the first gone, the snapshot completed
  nostorage USER_DIR           a cloud without --storage refuses with Unsupported
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import os
import re
import sys
import time

import boto3
from botocore.config import Config

from cloud_clients import ec2, eucarc, expect_error, ok, recorded
from cloud_reconcile import wait as wait_until

ZONE = "zone1"


def volume(c, volume_id):
    (found,) = c.describe_volumes(VolumeIds=[volume_id])["Volumes"]
    return found


def volume_ids(c, **filters):
    args = {"Filters": [{"Name": k, "Values": [v]} for k, v in filters.items()]} if filters else {}
    return sorted(v["VolumeId"] for v in c.describe_volumes(**args)["Volumes"])


def attached(c, volume_id, instance, device):
    found = volume(c, volume_id)
    assert found["State"] == "in-use", found
    (attachment,) = found["Attachments"]
    assert (attachment["InstanceId"], attachment["Device"], attachment["State"]) == (
        instance, device, "attached"), attachment
    return found


def check_attach(env):
    c = ec2(env)
    emi, eki, eri = (c.register_image(ImageLocation=f"images/{k}.manifest.xml", Name=k)["ImageId"]
                     for k in ("machine", "kernel", "ramdisk"))
    run = c.run_instances(ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=1, MaxCount=1,
                          InstanceType="m1.small", Placement={"AvailabilityZone": ZONE})
    instance = run["Instances"][0]["InstanceId"]

    def running():
        found = c.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
        return found["State"]["Name"] == "running"

    wait_until("the instance running", running)
    ok("an instance runs to run volumes on")

    made = c.create_volume(Size=1, AvailabilityZone=ZONE)
    vol = made["VolumeId"]
    assert vol.startswith("vol-") and len(vol) == 12, made
    assert (made["Size"], made["AvailabilityZone"], made.get("SnapshotId", "")) == (1, ZONE, ""), made
    assert made["State"] in ("creating", "available"), made
    wait_until("the volume available", lambda: volume(c, vol)["State"] == "available")
    assert volume_ids(c) == [vol]
    assert volume_ids(c, status="available") == [vol]
    assert volume_ids(c, **{"volume-id": "vol-*", "availability-zone": ZONE, "size": "1"}) == [vol]
    assert volume_ids(c, status="in-use") == []
    expect_error(lambda: c.describe_volumes(Filters=[{"Name": "colour", "Values": ["x"]}]),
                 "InvalidParameterValue", 400)
    ok("CreateVolume: vol- id, its size and zone, available; DescribeVolumes with Filter.N")

    answer = c.attach_volume(VolumeId=vol, InstanceId=instance, Device="/dev/sdf")
    assert (answer["VolumeId"], answer["InstanceId"], answer["Device"]) == (vol, instance, "/dev/sdf"), answer
    attached(c, vol, instance, "/dev/sdf")
    assert volume_ids(c, **{"attachment.instance-id": instance, "attachment.status": "attached"}) == [vol]
    expect_error(lambda: c.attach_volume(VolumeId=vol, InstanceId=instance, Device="/dev/sdg"),
                 "VolumeInUse", 400)
    expect_error(lambda: c.delete_volume(VolumeId=vol), "VolumeInUse", 400)
    ok("AttachVolume: in-use, attached to the instance at its device; deleting it is VolumeInUse")

    retried = [c.create_volume(Size=1, AvailabilityZone=ZONE, ClientToken="retry-1")["VolumeId"] for _ in range(2)]
    assert retried[0] == retried[1] and volume_ids(c) == sorted([vol, retried[0]]), (retried, volume_ids(c))
    c.delete_volume(VolumeId=retried[0])
    assert volume_ids(c) == [vol]
    ok("CreateVolume again with its ClientToken answers the volume the first made")
    print(instance, vol)


def check_restore(env, instance, vol):
    c = ec2(env)
    c.detach_volume(VolumeId=vol)
    wait_until("the volume detached", lambda: volume(c, vol)["State"] == "available")
    assert volume(c, vol)["Attachments"] == []
    expect_error(lambda: c.detach_volume(VolumeId=vol), "IncorrectState", 400)
    ok("DetachVolume: available again, without attachment; detaching it again is IncorrectState")

    made = c.create_snapshot(VolumeId=vol)
    snap = made["SnapshotId"]
    assert snap.startswith("snap-") and len(snap) == 13, made
    assert (made["VolumeId"], made["State"]) == (vol, "pending") or made["State"] == "completed", made
    seen = set()

    def completed():
        (found,) = c.describe_snapshots(SnapshotIds=[snap])["Snapshots"]
        seen.add(found["Progress"])
        return found if found["State"] == "completed" else None

    done = wait_until("the snapshot completed", completed, 120)
    assert done["Progress"] == "100%" and done["VolumeId"] == vol, done
    assert all(p.endswith("%") and 0 <= int(p[:-1]) <= 100 for p in seen), seen
    by_volume = c.describe_snapshots(Filters=[{"Name": "volume-id", "Values": [vol]}])["Snapshots"]
    assert [s["SnapshotId"] for s in by_volume] == [snap], by_volume
    ok(f"CreateSnapshot: snap- id, pending to completed, its progress read from the SC ({sorted(seen)})")

    second = c.create_volume(SnapshotId=snap, AvailabilityZone=ZONE)
    vol2 = second["VolumeId"]
    assert (second["Size"], second["SnapshotId"]) == (1, snap), second
    wait_until("the second volume available", lambda: volume(c, vol2)["State"] == "available")
    assert volume_ids(c, **{"snapshot-id": snap}) == [vol2]
    c.attach_volume(VolumeId=vol2, InstanceId=instance, Device="/dev/sdg")
    attached(c, vol2, instance, "/dev/sdg")
    ok("CreateVolume from the snapshot: its size, the snapshot named; attached to the instance")
    print(snap, vol2)


def check_errors(env, other_env, admin_env, instance, vol, vol2, snap):
    c, other, admin = ec2(env), ec2(other_env), ec2(admin_env)
    expect_error(lambda: c.create_snapshot(VolumeId="vol-00000000"), "InvalidVolume.NotFound", 400)
    expect_error(lambda: c.describe_volumes(VolumeIds=["vol-00000000"]), "InvalidVolume.NotFound", 400)
    expect_error(lambda: c.delete_volume(VolumeId="vol-00000000"), "InvalidVolume.NotFound", 400)
    expect_error(lambda: c.describe_snapshots(SnapshotIds=["snap-00000000"]), "InvalidSnapshot.NotFound", 400)
    expect_error(lambda: c.delete_snapshot(SnapshotId="snap-00000000"), "InvalidSnapshot.NotFound", 400)
    expect_error(lambda: c.create_volume(SnapshotId="snap-00000000", AvailabilityZone=ZONE),
                 "InvalidSnapshot.NotFound", 400)
    ok("unknown volumes and snapshots: InvalidVolume.NotFound, InvalidSnapshot.NotFound")

    before = volume_ids(c)
    expect_error(lambda: c.create_volume(Size=11, AvailabilityZone=ZONE), "VolumeLimitExceeded", 400)
    expect_error(lambda: c.create_volume(Size=1, AvailabilityZone="nowhere"), "InvalidParameterValue", 400)
    expect_error(lambda: c.create_volume(Size=0, AvailabilityZone=ZONE), "InvalidParameterValue", 400)
    expect_error(lambda: c.attach_volume(VolumeId=vol, InstanceId=instance, Device="sdh"),
                 "InvalidParameterValue", 400)
    expect_error(lambda: c.attach_volume(VolumeId=vol, InstanceId=instance, Device="/dev/sdg"),
                 "InvalidParameterValue", 400)
    assert volume_ids(c) == before, volume_ids(c)
    ok("over the SC's limit: VolumeLimitExceeded; bad zone, size and device: InvalidParameterValue; "
       "nothing refused is recorded")

    assert other.describe_volumes()["Volumes"] == [] and other.describe_snapshots()["Snapshots"] == []
    expect_error(lambda: other.describe_volumes(VolumeIds=[vol]), "InvalidVolume.NotFound", 400)
    expect_error(lambda: other.delete_volume(VolumeId=vol), "InvalidVolume.NotFound", 400)
    expect_error(lambda: other.detach_volume(VolumeId=vol2), "InvalidVolume.NotFound", 400)
    expect_error(lambda: other.create_snapshot(VolumeId=vol), "InvalidVolume.NotFound", 400)
    expect_error(lambda: other.describe_snapshots(SnapshotIds=[snap]), "InvalidSnapshot.NotFound", 400)
    expect_error(lambda: other.delete_snapshot(SnapshotId=snap), "InvalidSnapshot.NotFound", 400)
    expect_error(lambda: other.create_volume(SnapshotId=snap, AvailabilityZone=ZONE),
                 "InvalidSnapshot.NotFound", 400)
    mine = other.create_volume(Size=1, AvailabilityZone=ZONE)["VolumeId"]
    expect_error(lambda: other.attach_volume(VolumeId=mine, InstanceId=instance, Device="/dev/sdh"),
                 "InvalidInstanceID.NotFound", 400)
    assert volume_ids(other) == [mine] and mine not in volume_ids(c)
    other.delete_volume(VolumeId=mine)
    wait_until("the other user's volume deleted", lambda: volume_ids(other) == [])
    ok("a second user neither sees nor touches the first's volumes and snapshots, nor attaches to their instance")

    assert admin.describe_volumes()["Volumes"] == []
    everyone = admin.describe_volumes(VolumeIds=["verbose"])["Volumes"]
    assert sorted(v["VolumeId"] for v in everyone) == sorted([vol, vol2]), everyone
    assert [s["SnapshotId"] for s in admin.describe_snapshots(SnapshotIds=["verbose"])["Snapshots"]] == [snap]
    ok("the admin's verbose lists every user's volumes and snapshots")


def check_kept(env, instance, vol, vol2, snap):
    c = ec2(env)
    assert volume(c, vol)["State"] == "available"
    attached(c, vol2, instance, "/dev/sdg")
    (found,) = c.describe_snapshots(SnapshotIds=[snap])["Snapshots"]
    assert (found["State"], found["Progress"]) == ("completed", "100%"), found
    ok("after a restart of the cloud: the volumes, the attachment and the snapshot are all there")

    c.terminate_instances(InstanceIds=[instance])
    wait_until("the volume freed by the terminated instance", lambda: volume(c, vol2)["State"] == "available")
    assert volume(c, vol2)["Attachments"] == []
    ok("TerminateInstances detaches the instance's volumes")

    for v in (vol, vol2):
        c.delete_volume(VolumeId=v)
    c.delete_snapshot(SnapshotId=snap)
    wait_until("the volumes deleted", lambda: volume_ids(c) == [])
    expect_error(lambda: c.describe_volumes(VolumeIds=[vol]), "InvalidVolume.NotFound", 400)
    assert c.describe_snapshots()["Snapshots"] == []
    expect_error(lambda: c.describe_snapshots(SnapshotIds=[snap]), "InvalidSnapshot.NotFound", 400)
    ok("DeleteVolume and DeleteSnapshot: gone from Describe (*.NotFound)")


EBS_ACTIONS = ["CreateVolume", "AttachVolume", "DescribeVolumes", "DetachVolume", "CreateSnapshot",
               "DescribeSnapshots", "DeleteSnapshot", "DeleteVolume"]
CAPTURE_FILES = ["euca2ools-1.0_boto-1.8d.jsonl", "euca2ools-3.4.1_requestbuilder-0.7.1.jsonl"]


def answered(document, element):
    """The text of the first `element` of an answer."""
    found = re.search(f"<(?:[a-z0-9]+:)?{element}>([^<]+)<", document)
    assert found, (element, document)
    return found.group(1)


def check_captures(env, folder, instance):
    """Each file's recorded requests in order, the ids they name replaced by this user's: a
    volume made for the file (or by its CreateVolume), the instance, the snapshot made by its
    CreateSnapshot (completed before the DeleteSnapshot that follows)."""
    c = ec2(env)
    sent = []
    for name in CAPTURE_FILES:
        volume_id = c.create_volume(Size=1, AvailabilityZone=ZONE)["VolumeId"]
        ids = {"VolumeId": volume_id, "InstanceId": instance}
        for action, params, resend in recorded(os.path.join(folder, name), EBS_ACTIONS):
            params = {k: ids.get(k, v) for k, v in params.items()}
            answer = resend(env, params)
            assert answer.status_code == 200 and f"{action}Response" in answer.text, (action, answer.text)
            if action == "CreateVolume":
                c.delete_volume(VolumeId=ids["VolumeId"])
                ids["VolumeId"] = answered(answer.text, "volumeId")
            elif action == "CreateSnapshot":
                snap = answered(answer.text, "snapshotId")
                ids["SnapshotId"] = snap
                wait_until("the snapshot completed", lambda: c.describe_snapshots(
                    SnapshotIds=[snap])["Snapshots"][0]["State"] == "completed", 120)
            elif action == "DescribeVolumes":
                assert ids["VolumeId"] in answer.text, answer.text
            elif action == "DescribeSnapshots":
                assert ids["SnapshotId"] in answer.text, (params, answer.text)
            elif action == "AttachVolume":
                attached(c, ids["VolumeId"], instance, params["Device"])
            sent.append(action)
        assert volume_id not in volume_ids(c) and ids["VolumeId"] not in volume_ids(c), volume_ids(c)
    assert set(sent) == set(EBS_ACTIONS), sent
    ok(f"{len(sent)} recorded euca2ools 1.0 and 3.4.1 EBS requests, re-signed with the user's keys, answered")


def once(env):
    """A client of `env` that sends each call once: a retried CreateVolume would be a second."""
    return boto3.client("ec2", endpoint_url=env["EC2_URL"], aws_access_key_id=env["EC2_ACCESS_KEY"],
                        aws_secret_access_key=env["EC2_SECRET_KEY"], region_name=env["AWS_DEFAULT_REGION"],
                        config=Config(retries={"total_max_attempts": 1}))


def states(c):
    return {v["VolumeId"]: v["State"] for v in c.describe_volumes()["Volumes"]}


def check_two(env):
    c = once(env)
    print(*(c.create_volume(Size=1, AvailabilityZone=ZONE)["VolumeId"] for _ in range(2)))


def check_down(env, first, second):
    c = once(env)
    expect_error(lambda: c.create_volume(Size=1, AvailabilityZone=ZONE), "Unavailable", 503)
    expect_error(lambda: c.delete_volume(VolumeId=first), "Unavailable", 503)
    expect_error(lambda: c.create_snapshot(VolumeId=second), "Unavailable", 503)
    now = states(c)
    (third,) = set(now) - {first, second}
    assert now == {first: "deleting", second: "available", third: "creating"}, now
    (snapshot,) = c.describe_snapshots()["Snapshots"]
    assert (snapshot["VolumeId"], snapshot["State"]) == (second, "pending"), snapshot
    ok("with the SC down: CreateVolume, DeleteVolume, CreateSnapshot answer Unavailable and are recorded under way")


def check_settled(env, first, second):
    c = once(env)
    wait_until("the volumes settled", lambda: sorted(states(c).values()) == ["available", "available"])
    assert first not in states(c) and second in states(c), states(c)
    wait_until("the snapshot completed", lambda: c.describe_snapshots()["Snapshots"][0]["State"] == "completed", 120)
    ok("the tick finished them once the SC was back: created, deleted, snapshot completed")


def check_nostorage(env):
    c = ec2(env)
    expect_error(lambda: c.create_volume(Size=1, AvailabilityZone=ZONE), "Unsupported", 400)
    expect_error(lambda: c.create_snapshot(VolumeId="vol-00000000"), "InvalidVolume.NotFound", 400)
    assert c.describe_volumes()["Volumes"] == [] and c.describe_snapshots()["Snapshots"] == []
    ok("without a storage controller CreateVolume is Unsupported; Describe lists nothing")


# Each phase's check, and how many of its first arguments are eucarc folders.
PHASES = {
    "attach": (check_attach, 1),
    "restore": (check_restore, 1),
    "errors": (check_errors, 3),
    "captures": (check_captures, 1),
    "kept": (check_kept, 1),
    "two": (check_two, 1),
    "down": (check_down, 1),
    "settled": (check_settled, 1),
    "nostorage": (check_nostorage, 1),
}


def main():
    phase, args = sys.argv[1], sys.argv[2:]
    check, folders = PHASES[phase]
    check(*(eucarc(folder) for folder in args[:folders]), *args[folders:])


if __name__ == "__main__":
    main()

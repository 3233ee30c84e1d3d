"""Drives the cloud controller's images (and, as they come, instances) with boto3 configured
from an eucarc alone (the helpers are cloud_clients.py's).

Phases (run by tests/cloud_instances.rs):
  images ADMIN_DIR USER_DIR   register, describe with owners/executable-by/filters, deregister;
                              a second user sees public images, deregisters only their own
  kept ADMIN_DIR IMAGE_ID     after a restart the image is still registered
  instances ADMIN_DIR USER_DIR  run to running, describe with filters, console, reboot,
                              MinCount over capacity, terminate to terminated; a second user
                              sees and touches none of it
  instances-kept ADMIN_DIR ID RESERVATION   after a restart the instance is still listed
  walrus ADMIN_DIR S3_URL     a real Walrus holding the manifests the user uploaded
  kinds ADMIN_DIR             with Walrus: the manifest's image type makes emi-/eki-/eri- ids;
                              a missing manifest or another file is refused
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import sys

import boto3
from botocore.config import Config

from cloud_clients import account_id, ec2, eucarc, expect_error, ok, wait_for


def ids(images):
    return sorted(i["ImageId"] for i in images)


def check_images(admin_env, user_env):
    admin, user = ec2(admin_env), ec2(user_env)
    assert admin.describe_images()["Images"] == []
    # boto3 requires Name (a later API's); this API version has no place for it.
    first = admin.register_image(ImageLocation="/images/ubuntu.img.manifest.xml", Name="ubuntu")["ImageId"]
    assert first.startswith("emi-") and len(first) == 12 and int(first[4:], 16) >= 0, first
    image = admin.describe_images(ImageIds=[first])["Images"]
    assert len(image) == 1, image
    image = image[0]
    assert image["ImageLocation"] == "images/ubuntu.img.manifest.xml", image
    assert (image["State"], image["ImageType"], image["Public"]) == ("available", "machine", True), image
    assert image["OwnerId"] == account_id(admin), image  # the account's id, as AWS shows owners
    ok("RegisterImage records the manifest's location under an emi- id; DescribeImages shows it")

    mine = user.register_image(ImageLocation="bob-bucket/mine.manifest.xml", Name="mine")["ImageId"]
    assert ids(user.describe_images()["Images"]) == sorted([first, mine])
    assert ids(user.describe_images(Owners=["self"])["Images"]) == [mine]
    assert ids(admin.describe_images(Owners=["self"])["Images"]) == [first]
    assert ids(user.describe_images(ExecutableUsers=["all"])["Images"]) == sorted([first, mine])
    by_id = user.describe_images(Filters=[{"Name": "image-id", "Values": [mine[:6] + "*"]}])["Images"]
    assert mine in ids(by_id), by_id
    assert ids(user.describe_images(Filters=[{"Name": "state", "Values": ["pending"]}])["Images"]) == []
    assert ids(user.describe_images(Filters=[{"Name": "state", "Values": ["available"]}])["Images"]) == sorted(
        [first, mine])
    expect_error(lambda: user.describe_images(Filters=[{"Name": "colour", "Values": ["x"]}]),
                 "InvalidParameterValue", 400)
    ok("DescribeImages: public images for everyone, Owners self, ExecutableUsers all, Filter image-id and state")

    expect_error(lambda: user.describe_images(ImageIds=["emi-00000000"]), "InvalidAMIID.NotFound", 400)
    expect_error(lambda: user.describe_images(ImageIds=["ami-1"]), "InvalidAMIID.Malformed", 400)
    expect_error(lambda: user.register_image(ImageLocation="no-bucket.manifest.xml", Name="bad"), "InvalidParameterValue", 400)
    expect_error(lambda: user.register_image(ImageLocation="b/disk.img", Name="bad"), "InvalidParameterValue", 400)
    expect_error(lambda: user.deregister_image(ImageId=first), "InvalidAMIID.NotFound", 400)
    assert first in ids(admin.describe_images()["Images"])
    ok("unknown and malformed ids, bad locations and another user's image are refused with EC2's codes")

    user.deregister_image(ImageId=mine)
    assert ids(user.describe_images()["Images"]) == [first]
    expect_error(lambda: user.deregister_image(ImageId=mine), "InvalidAMIID.NotFound", 400)
    ok("DeregisterImage removes the owner's image")
    print(first)


def check_kinds(env):
    c = ec2(env)
    for kind, prefix in [("machine", "emi-"), ("kernel", "eki-"), ("ramdisk", "eri-")]:
        image = c.register_image(ImageLocation=f"images/{kind}.manifest.xml", Name=kind)["ImageId"]
        assert image.startswith(prefix), (kind, image)
        listed = c.describe_images(Filters=[{"Name": "image-type", "Values": [kind]}])["Images"]
        assert [i["ImageId"] for i in listed] == [image], listed
    ok("RegisterImage reads the manifest from Walrus: machine, kernel, ramdisk make emi-, eki-, eri-")
    expect_error(lambda: c.register_image(ImageLocation="images/gone.manifest.xml", Name="gone"),
                 "InvalidManifest", 400)
    expect_error(lambda: c.register_image(ImageLocation="images/disk.manifest.xml", Name="disk"),
                 "InvalidManifest", 400)
    assert len(c.describe_images()["Images"]) == 3
    ok("a manifest Walrus does not have, or a file that is not one, is InvalidManifest")


def check_instances(admin_env, user_env):
    c, user = ec2(admin_env), ec2(user_env)
    emi, eki, eri = (c.register_image(ImageLocation=f"images/{k}.manifest.xml", Name=k)["ImageId"]
                     for k in ("machine", "kernel", "ramdisk"))
    c.create_key_pair(KeyName="k1")
    run = c.run_instances(ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=1, MaxCount=1, KeyName="k1",
                          InstanceType="m1.small", UserData="hello")
    assert run["ReservationId"].startswith("r-") and run["OwnerId"] == account_id(c), run
    # 2009-04-04 names a group in groupId, which boto3 reads as GroupId.
    assert [g["GroupId"] for g in run["Groups"]] == ["default"], run["Groups"]
    (launched,) = run["Instances"]
    instance = launched["InstanceId"]
    assert instance.startswith("i-") and len(instance) == 10, instance
    assert (launched["AmiLaunchIndex"], launched["State"]["Name"], launched["KeyName"]) == (0, "pending", "k1")
    assert (launched["KernelId"], launched["RamdiskId"], launched["ImageId"]) == (eki, eri, emi), launched
    ok("RunInstances: a reservation r-, an instance i- at launch index 0, pending, with its key, kernel and ramdisk")

    found = wait_for(c, instance, "running")
    assert found["State"] == {"Code": 16, "Name": "running"}, found["State"]
    assert found["Placement"]["AvailabilityZone"] == "zone1" and found["InstanceType"] == "m1.small", found
    running = c.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])
    assert [i["InstanceId"] for r in running["Reservations"] for i in r["Instances"]] == [instance], running
    by_id = c.describe_instances(Filters=[{"Name": "instance-id", "Values": [instance]}])["Reservations"]
    assert by_id[0]["ReservationId"] == run["ReservationId"], by_id
    assert c.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["pending"]}])["Reservations"] == []
    ok("DescribeInstances: running (16) from the cluster's Extant; Filter.N on instance-id and instance-state-name")

    console = c.get_console_output(InstanceId=instance)
    assert console["InstanceId"] == instance and isinstance(console.get("Output", ""), str), console
    c.reboot_instances(InstanceIds=[instance])
    ok("GetConsoleOutput and RebootInstances go through the cluster")

    assert user.describe_instances()["Reservations"] == []
    expect_error(lambda: user.describe_instances(InstanceIds=[instance]), "InvalidInstanceID.NotFound", 400)
    expect_error(lambda: user.terminate_instances(InstanceIds=[instance]), "InvalidInstanceID.NotFound", 400)
    expect_error(lambda: user.get_console_output(InstanceId=instance), "InvalidInstanceID.NotFound", 400)
    assert wait_for(c, instance, "running", 0)["State"]["Name"] == "running"
    ok("a second user neither sees nor touches the instance")

    expect_error(lambda: c.run_instances(ImageId=emi, KernelId=eki, MinCount=50, MaxCount=50, InstanceType="m1.small"),
                 "InsufficientInstanceCapacity", 400)
    all_ids = [i["InstanceId"] for r in c.describe_instances()["Reservations"] for i in r["Instances"]]
    assert all_ids == [instance], all_ids
    expect_error(lambda: c.run_instances(ImageId=emi, KernelId=eki, MinCount=1, MaxCount=1, InstanceType="m9.huge"),
                 "InvalidParameterValue", 400)
    expect_error(lambda: c.run_instances(ImageId="emi-00000000", KernelId=eki, MinCount=1, MaxCount=1,
                                         InstanceType="m1.small"),
                 "InvalidAMIID.NotFound", 400)
    expect_error(lambda: c.run_instances(ImageId=emi, KernelId=eki, MinCount=1, MaxCount=1, KeyName="nope",
                                         InstanceType="m1.small"),
                 "InvalidKeyPair.NotFound", 400)
    ok("MinCount over the zone's capacity is InsufficientInstanceCapacity and leaves no record; bad types, "
       "images and keys are refused")

    ended = c.terminate_instances(InstanceIds=[instance])["TerminatingInstances"]
    # 2009-04-04 answers the new state as shutdownState, which boto3 (reading currentState) skips.
    assert ended == [{"InstanceId": instance, "PreviousState": {"Code": 16, "Name": "running"}}], ended
    assert wait_for(c, instance, "shutting-down", 0)["State"]["Name"] in ("shutting-down", "terminated")
    found = wait_for(c, instance, "terminated")
    assert found["State"] == {"Code": 48, "Name": "terminated"}, found["State"]
    again = c.terminate_instances(InstanceIds=[instance])["TerminatingInstances"]
    assert again == [{"InstanceId": instance, "PreviousState": {"Code": 48, "Name": "terminated"}}], again
    ok("TerminateInstances: shutting-down, then terminated (48); again, it stays terminated")
    print(instance, run["ReservationId"])


def check_real_walrus(env, s3_url):
    s3 = boto3.client("s3", endpoint_url=s3_url, aws_access_key_id=env["EC2_ACCESS_KEY"],
                      aws_secret_access_key=env["EC2_SECRET_KEY"], region_name=env["AWS_DEFAULT_REGION"],
                      config=Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="bundles")
    fixtures = sys.path[0] + "/../fixtures/cloud"
    for kind in ("machine", "kernel"):
        with open(f"{fixtures}/{kind}.manifest.xml", "rb") as manifest:
            s3.put_object(Bucket="bundles", Key=f"{kind}.manifest.xml", Body=manifest.read())
    c = ec2(env)
    assert c.register_image(ImageLocation="bundles/kernel.manifest.xml", Name="kernel")["ImageId"].startswith("eki-")
    assert c.register_image(ImageLocation="bundles/machine.manifest.xml", Name="machine")["ImageId"].startswith("emi-")
    expect_error(lambda: c.register_image(ImageLocation="bundles/gone.manifest.xml", Name="gone"),
                 "InvalidManifest", 400)
    ok("a real Walrus gives the cloud the user's manifests (SigV2 as the user); one it lacks is refused")


def main():
    phase = sys.argv[1]
    if phase == "images":
        check_images(eucarc(sys.argv[2]), eucarc(sys.argv[3]))
    elif phase == "kept":
        c = ec2(eucarc(sys.argv[2]))
        assert ids(c.describe_images()["Images"]) == [sys.argv[3]]
        ok("after a restart the registered image is kept")
    elif phase == "instances":
        check_instances(eucarc(sys.argv[2]), eucarc(sys.argv[3]))
    elif phase == "instances-kept":
        c, instance, reservation = ec2(eucarc(sys.argv[2])), sys.argv[3], sys.argv[4]
        (kept,) = c.describe_instances(InstanceIds=[instance])["Reservations"]
        assert kept["ReservationId"] == reservation, kept
        assert kept["Instances"][0]["State"]["Name"] == "terminated", kept
        ok("after a restart the instance's record is kept")
    elif phase == "walrus":
        check_real_walrus(eucarc(sys.argv[2]), sys.argv[3])
    elif phase == "kinds":
        check_kinds(eucarc(sys.argv[2]))
    else:
        sys.exit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()

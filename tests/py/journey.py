"""The user journey of issue 14 with the clients a user knows, each configured from an eucarc
alone (the helpers are cloud_clients.py's, cloud_instances.py's and cloud_soap.py's).

Phases (run by tests/journey.rs):
  uploaded USER_DIR BUCKET DIR    what `euca upload-bundle` put in BUCKET is the bundle in DIR,
                                  byte for byte (boto3's S3 client), and the cloud registers its
                                  manifest
  journey ADMIN_DIR USER_DIR EMI EKI ERI ZONE POOL
                                  the default image `euca admin image add-default` registered is
                                  public; with boto3 (the admin) and the AWS CLI (the user):
                                  zones, register and describe the image, run an instance to
                                  running, read its console, create and attach a volume, allocate
                                  and associate an address, detach, disassociate and release,
                                  terminate to terminated, deregister; the cluster's zone is ZONE,
                                  its public addresses POOL (FIRST-LAST, or `none` in SYSTEM mode,
                                  where AllocateAddress must be Unsupported)
  soap USER_DIR WSDL EMI ZONE POOL
                                  the same journey over EC2 SOAP with zeep, signed with the
                                  user's certificate
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import os
import sys
import time

import boto3
from botocore.config import Config

from cloud_clients import aws_cli, ec2, eucarc, expect_error, ok
from cloud_instances import wait_for

DEFAULT_BUCKET = "euca-default-image"


def addresses(pool):
    """The addresses of `FIRST-LAST` (in one /24), none for `none`."""
    if pool == "none":
        return []
    first, last = pool.split("-")
    prefix, low = first.rsplit(".", 1)
    return [f"{prefix}.{i}" for i in range(int(low), int(last.rsplit(".", 1)[1]) + 1)]


def s3(env):
    return boto3.client("s3", endpoint_url=env["S3_URL"], aws_access_key_id=env["EC2_ACCESS_KEY"],
                        aws_secret_access_key=env["EC2_SECRET_KEY"], region_name=env["AWS_DEFAULT_REGION"],
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def until(what, check, seconds=30):
    """check()'s first true value within `seconds`."""
    deadline = time.time() + seconds
    while True:
        value = check()
        if value or time.time() > deadline:
            assert value, f"not within {seconds}s: {what}"
            return value
        time.sleep(0.3)


def check_uploaded(user_dir, bucket, folder):
    env = eucarc(user_dir)
    client = s3(env)
    keys = sorted(o["Key"] for o in client.list_objects(Bucket=bucket)["Contents"])
    files = sorted(f for f in os.listdir(folder) if f.startswith("disk.img.part.") or f.endswith(".manifest.xml"))
    assert keys == files, (keys, files)
    for key in keys:
        with open(os.path.join(folder, key), "rb") as f:
            assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == f.read(), key
    ok(f"boto3 reads the {len(keys)} objects euca upload-bundle put, byte for byte")
    image = ec2(env).register_image(ImageLocation=f"{bucket}/disk.img.manifest.xml", Name="disk")["ImageId"]
    assert image.startswith("emi-"), image
    ok(f"the cloud registers the uploaded manifest as {image}")


def shown(instance):
    """The public address an instance shows: the 2009 API gives it as its DNS name."""
    return instance.get("PublicIpAddress") or instance.get("PublicDnsName", "")


def public_address(c, instance):
    (reservation,) = c.describe_instances(InstanceIds=[instance])["Reservations"]
    return shown(reservation["Instances"][0])


def volume(c, vol):
    (found,) = c.describe_volumes(VolumeIds=[vol])["Volumes"]
    return found


def create_and_attach(c, instance, zone):
    """A 1 GB volume in `zone` attached to `instance` at /dev/sdf; its id."""
    vol = c.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    until(f"{vol} available", lambda: volume(c, vol)["State"] == "available", 90)
    c.attach_volume(VolumeId=vol, InstanceId=instance, Device="/dev/sdf")

    def attached():
        found = volume(c, vol)
        return found["State"] == "in-use" and [(a["InstanceId"], a["State"]) for a in found["Attachments"]] == [
            (instance, "attached")]

    until(f"{vol} attached to {instance}", attached, 90)
    ok(f"boto3: CreateVolume {vol} available, AttachVolume: in-use, attached to {instance}")
    return vol


def check_default_image(c, emi, eki, eri):
    images = {i["ImageId"]: i for i in c.describe_images(ImageIds=[emi, eki, eri])["Images"]}
    assert set(images) == {emi, eki, eri}, images
    kinds = {i: images[i]["ImageType"] for i in images}
    assert kinds == {emi: "machine", eki: "kernel", eri: "ramdisk"}, kinds
    assert all(i["Public"] and i["State"] == "available" for i in images.values()), images
    assert (images[emi]["KernelId"], images[emi]["RamdiskId"]) == (eki, eri), images[emi]
    assert images[emi]["ImageLocation"] == f"{DEFAULT_BUCKET}/euca-default-machine.manifest.xml", images[emi]
    ok("the default image is registered: emi, eki, eri public and available; the emi boots with the eki and eri")


def boto3_journey(env, default_emi, zone, pool):
    c = ec2(env)
    zones = c.describe_availability_zones()["AvailabilityZones"]
    assert [(z["ZoneName"], z["State"]) for z in zones] == [(zone, "available")], zones
    ok("boto3: DescribeAvailabilityZones lists the cluster's zone, available")

    mine = c.register_image(ImageLocation=f"{DEFAULT_BUCKET}/euca-default-machine.manifest.xml",
                            Name="journey")["ImageId"]
    (image,) = c.describe_images(ImageIds=[mine])["Images"]
    assert image["ImageType"] == "machine" and image["KernelId"].startswith("eki-"), image
    ok(f"boto3: RegisterImage of the uploaded bundle ({mine}), DescribeImages shows it with its kernel")

    c.create_key_pair(KeyName="journey")
    run = c.run_instances(ImageId=mine, MinCount=1, MaxCount=1, KeyName="journey", InstanceType="m1.small")
    (launched,) = run["Instances"]
    instance = launched["InstanceId"]
    found = wait_for(c, instance, "running")
    assert found["State"]["Name"] == "running", found["State"]
    assert found["Placement"]["AvailabilityZone"] == zone, found
    ok(f"boto3: RunInstances without a kernel named: {instance} running in {zone} (the image fetched from Walrus)")

    console = c.get_console_output(InstanceId=instance)
    assert console["InstanceId"] == instance, console
    ok("boto3: GetConsoleOutput answers for the instance")

    vol = create_and_attach(c, instance, zone)
    if pool:
        own = until("the cloud's own address at launch",
                    lambda: public_address(c, instance) in pool and public_address(c, instance))
        allocated = c.allocate_address()["PublicIp"]
        assert allocated in pool and allocated != own, (allocated, own)
        c.associate_address(InstanceId=instance, PublicIp=allocated)
        until(f"{instance} shows {allocated}", lambda: public_address(c, instance) == allocated)
        c.disassociate_address(PublicIp=allocated)
        until(f"{instance} leaves {allocated}", lambda: public_address(c, instance) != allocated)
        c.release_address(PublicIp=allocated)
        assert allocated not in [a["PublicIp"] for a in c.describe_addresses()["Addresses"]]
        ok(f"boto3: AllocateAddress {allocated}, associated, disassociated, released")
    else:
        expect_error(c.allocate_address, "Unsupported", 400)
        ok("boto3: AllocateAddress is Unsupported: the cluster has no public addresses (SYSTEM mode)")

    c.detach_volume(VolumeId=vol)
    until(f"{vol} detached", lambda: volume(c, vol)["State"] == "available" and not volume(c, vol)["Attachments"], 90)
    c.delete_volume(VolumeId=vol)
    ok(f"boto3: DetachVolume {vol}: available again, then deleted")

    ended = c.terminate_instances(InstanceIds=[instance])["TerminatingInstances"]
    assert [e["InstanceId"] for e in ended] == [instance], ended
    assert wait_for(c, instance, "terminated")["State"]["Name"] == "terminated"
    ok("boto3: TerminateInstances: terminated")

    c.deregister_image(ImageId=mine)
    expect_error(lambda: c.deregister_image(ImageId=mine), "InvalidAMIID.NotFound", 400)
    assert mine not in [i["ImageId"] for i in c.describe_images(Owners=["self"])["Images"]]
    assert default_emi in [i["ImageId"] for i in c.describe_images()["Images"]]
    ok("boto3: DeregisterImage removes the image registered in the journey; the default stays")


def cli_journey(env, emi, zone, pool):
    aws = aws_cli(env)
    zones = aws("describe-availability-zones")["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == [zone], zones
    (image,) = aws("describe-images", "--image-ids", emi)["Images"]
    assert image["Public"] and image["ImageType"] == "machine", image
    ok("AWS CLI (the user): describe-availability-zones, describe-images shows the public default image")

    run = aws("run-instances", "--image-id", emi, "--instance-type", "m1.small", "--count", "1")
    (launched,) = run["Instances"]
    instance = launched["InstanceId"]

    def state():
        (reservation,) = aws("describe-instances", "--instance-ids", instance)["Reservations"]
        return reservation["Instances"][0]

    running = until(f"{instance} running", lambda: state()["State"]["Name"] == "running" and state(), 90)
    assert running["ImageId"] == emi, running
    console = aws("get-console-output", "--instance-id", instance)
    assert console["InstanceId"] == instance, console
    ok(f"AWS CLI: run-instances of the default image, {instance} running, get-console-output")

    if pool:
        allocated = aws("allocate-address")["PublicIp"]
        assert allocated in pool, allocated
        aws("associate-address", "--instance-id", instance, "--public-ip", allocated)
        until(f"{instance} shows {allocated}", lambda: shown(state()) == allocated)
        aws("disassociate-address", "--public-ip", allocated)
        aws("release-address", "--public-ip", allocated)
        assert allocated not in [a["PublicIp"] for a in aws("describe-addresses")["Addresses"]]
        ok(f"AWS CLI: allocate-address {allocated}, associate, disassociate, release")

    vol = aws("create-volume", "--size", "1", "--availability-zone", zone)["VolumeId"]

    def vol_state():
        (found,) = aws("describe-volumes", "--volume-ids", vol)["Volumes"]
        return found["State"], [(a["InstanceId"], a["State"]) for a in found.get("Attachments", [])]

    until(f"{vol} available", lambda: vol_state()[0] == "available", 90)
    aws("attach-volume", "--volume-id", vol, "--instance-id", instance, "--device", "/dev/sdf")
    until(f"{vol} attached", lambda: vol_state() == ("in-use", [(instance, "attached")]), 90)
    aws("detach-volume", "--volume-id", vol)
    until(f"{vol} detached", lambda: vol_state() == ("available", []), 90)
    aws("delete-volume", "--volume-id", vol)
    ok(f"AWS CLI: create-volume {vol}, attach-volume, detach-volume, delete-volume")

    aws("terminate-instances", "--instance-ids", instance)
    until(f"{instance} terminated", lambda: state()["State"]["Name"] == "terminated", 90)
    ok("AWS CLI: terminate-instances: terminated")


def check_journey(admin_dir, user_dir, emi, eki, eri, zone, pool):
    admin_env, user_env = eucarc(admin_dir), eucarc(user_dir)
    check_default_image(ec2(user_env), emi, eki, eri)
    boto3_journey(admin_env, emi, zone, addresses(pool))
    cli_journey(user_env, emi, zone, addresses(pool))


def check_soap(user_dir, wsdl, emi, zone, pool):
    import zipfile

    from cloud_soap import User, instances_of, items
    from cloud_soap import wait_for as soap_wait_for

    zip_path = os.path.join(os.path.dirname(user_dir.rstrip("/")), os.path.basename(user_dir.rstrip("/")) + ".zip")
    assert zipfile.is_zipfile(zip_path), zip_path
    user = User(wsdl, zip_path)
    c = user.ec2
    zones = items(c.DescribeAvailabilityZones(availabilityZoneSet={"item": []}), "availabilityZoneInfo")
    assert [z["zoneName"] for z in zones] == [zone], zones
    (image,) = items(c.DescribeImages(executableBySet={"item": []}, imagesSet={"item": [{"imageId": emi}]},
                                      ownersSet={"item": []}), "imagesSet")
    assert image["imageId"] == emi and image["isPublic"] is True, image
    ok("zeep: DescribeAvailabilityZones and DescribeImages over SOAP")

    run = c.RunInstances(imageId=emi, minCount=1, maxCount=1, groupSet={"item": []}, instanceType="m1.small")
    (launched,) = items(run, "instancesSet")
    instance = launched["instanceId"]
    found = soap_wait_for(c, instance, "running")
    assert found["instanceState"]["name"] == "running", found["instanceState"]
    assert c.GetConsoleOutput(instanceId=instance)["instanceId"] == instance
    ok(f"zeep: RunInstances of the default image, {instance} running, GetConsoleOutput")

    pool = addresses(pool)
    if pool:
        allocated = c.AllocateAddress()["publicIp"]
        assert allocated in pool, allocated
        assert c.AssociateAddress(instanceId=instance, publicIp=allocated)["return"] is True
        until(f"{instance} shows {allocated}",
              lambda: instances_of(c, instance)[0][1]["dnsName"] == allocated)
        assert c.DisassociateAddress(publicIp=allocated)["return"] is True
        assert c.ReleaseAddress(publicIp=allocated)["return"] is True
        ok(f"zeep: AllocateAddress {allocated}, associated, disassociated, released")

    ended = items(c.TerminateInstances(instancesSet={"item": [{"instanceId": instance}]}), "instancesSet")
    assert [e["instanceId"] for e in ended] == [instance], ended
    assert soap_wait_for(c, instance, "terminated")["instanceState"]["name"] == "terminated"
    assert instance in [i["instanceId"] for _, i in instances_of(c)]
    ok("zeep: TerminateInstances: terminated")


def main():
    phase, args = sys.argv[1], sys.argv[2:]
    if phase == "uploaded":
        check_uploaded(*args)
    elif phase == "journey":
        check_journey(*args)
    elif phase == "soap":
        check_soap(*args)
    else:
        sys.exit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()

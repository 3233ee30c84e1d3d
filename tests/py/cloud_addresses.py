"""Drives the cloud controller's elastic addresses and image attributes with boto3 and the AWS
CLI, each configured from an eucarc alone (the helpers are cloud_clients.py's).

Phases (run by tests/cloud_addresses.rs, each with ADMIN_DIR BOB_DIR CY_DIR):
  managed [CAPTURES]
            a cluster in MANAGED-NOVLAN with the pool 192.168.7.10-17: instances get the
            cloud's own address at launch; allocate, describe (verbose too), associate, move,
            disassociate, release; the per-user limit and an exhausted pool; two users isolated;
            EC2's error codes; the AWS CLI; euca2ools 1.0's recorded address and image
            attribute requests (CAPTURES) re-signed with a user's keys; terminate frees the
            cloud's own addresses
  managed-kept   after a restart: the address the user kept is still theirs
  system    a cluster in SYSTEM mode: no addresses (Unsupported); image attributes (launch
            permission, product codes, kernel, ramdisk, block devices) with boto3 and the AWS
            CLI, honoured by DescribeImages and RunInstances; ConfirmProductInstance;
            DescribeBundleTasks
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import json
import sys
import time
import xml.etree.ElementTree as ET

from cloud_clients import account_id, aws_cli, ec2, error_of, eucarc, expect_error, ok, recorded
from cloud_instances import ids, wait_for

POOL = [f"192.168.7.{i}" for i in range(10, 18)]

# euca2ools 1.0's recorded requests replayed, in the order recorded, and the status each must
# get: its ModifyImageAttribute sent `OperationType=None` (a bug of its own), refused.
REPLAYED = {
    "AllocateAddress": 200,
    "AssociateAddress": 200,
    "DescribeAddresses": 200,
    "DisassociateAddress": 200,
    "ReleaseAddress": 200,
    "DescribeImageAttribute": 200,
    "ModifyImageAttribute": 400,
}


def until(what, check, seconds=20):
    """check()'s first true value within `seconds`."""
    deadline = time.time() + seconds
    while True:
        value = check()
        if value or time.time() > deadline:
            assert value, f"not within {seconds}s: {what}"
            return value
        time.sleep(0.3)


def public_dns(c, instance):
    (reservation,) = c.describe_instances(InstanceIds=[instance])["Reservations"]
    return reservation["Instances"][0].get("PublicDnsName", "")


def has_address(c, instance, address=None):
    """Waits until `instance` shows `address`, or (None) one of the pool's; returns it."""
    def shown():
        dns = public_dns(c, instance)
        return dns if (dns == address if address else dns in POOL) else None
    return until(f"{instance} shows {address or 'a pool address'}", shown)


def verbose(admin):
    """The administrator's view of the whole pool: address -> what holds it."""
    listed = admin.describe_addresses(PublicIps=["verbose"])["Addresses"]
    assert [a["PublicIp"] for a in listed] == POOL, listed
    return {a["PublicIp"]: a["InstanceId"] for a in listed}


def images(admin):
    return [admin.register_image(ImageLocation=f"images/{k}.manifest.xml", Name=k)["ImageId"]
            for k in ("machine", "kernel", "ramdisk")]


def replay_captures(c, env, captures, instance, image):
    """The recorded requests of REPLAYED, re-signed with the user's keys, with this cloud's
    instance, image and the address the recorded AllocateAddress gets in place of the
    recorded ones."""
    allocated, sent = None, []
    for action, params, resend in recorded(captures, REPLAYED):
        for name, value in (("InstanceId", instance), ("ImageId", image), ("PublicIp", allocated)):
            if name in params:
                params[name] = value
        answer = resend(env, params)
        assert answer.status_code == REPLAYED[action], (action, answer.status_code, answer.text)
        sent.append(action)
        if answer.status_code != 200:
            assert error_of(answer)[0] == "InvalidParameterValue", answer.text
            continue
        root = ET.fromstring(answer.content)
        assert root.tag.endswith(f"}}{action}Response"), answer.text
        if action == "AllocateAddress":
            allocated = next(e.text for e in root.iter() if e.tag.endswith("}publicIp"))
        elif action == "AssociateAddress":
            has_address(c, instance, allocated)
        elif action == "DescribeAddresses":
            assert allocated in answer.text and instance in answer.text, answer.text
        elif action == "DescribeImageAttribute":
            assert "<ec2:group>all</ec2:group>" in answer.text, answer.text
    assert sent == list(REPLAYED), sent
    assert allocated not in [a["PublicIp"] for a in c.describe_addresses()["Addresses"]]
    ok(f"{len(sent)} recorded euca2ools 1.0 address and image attribute requests, re-signed, answered")


def check_managed(admin_env, bob_env, cy_env, captures=None):
    admin, bob, cy = ec2(admin_env), ec2(bob_env), ec2(cy_env)
    emi, eki, eri = images(admin)
    run = bob.run_instances(ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=2, MaxCount=2,
                            InstanceType="m1.small")
    a, b = (i["InstanceId"] for i in run["Instances"])
    for instance in (a, b):
        assert wait_for(bob, instance, "running")["State"]["Name"] == "running"
    own_a, own_b = has_address(bob, a), has_address(bob, b)
    assert own_a != own_b, (own_a, own_b)
    assert bob.describe_addresses()["Addresses"] == []
    held = verbose(admin)
    assert (held[own_a], held[own_b]) == (f"{a} (eucalyptus)", f"{b} (eucalyptus)"), held
    assert sorted(v for v in held.values() if v == "nobody") == ["nobody"] * 6, held
    assert admin.describe_addresses()["Addresses"] == []
    ok("at launch each instance gets one of the cloud's own addresses, shown as its dnsName; "
       "the admin's verbose lists the whole pool with holders, 'nobody' for the free")

    ip = bob.allocate_address()["PublicIp"]
    assert ip in POOL and ip not in (own_a, own_b), ip
    assert bob.describe_addresses()["Addresses"] == [{"PublicIp": ip}]
    assert verbose(admin)[ip] == "available (bob)"
    bob.associate_address(InstanceId=a, PublicIp=ip)
    assert bob.describe_addresses()["Addresses"] == [{"PublicIp": ip, "InstanceId": a}]
    has_address(bob, a, ip)
    held = verbose(admin)
    assert (held[ip], held[own_a]) == (f"{a} (bob)", "nobody"), held
    ok("AllocateAddress from the pool; AssociateAddress maps it to the instance through the CC, "
       "DescribeInstances shows it, and the instance's own address goes back to the pool")

    bob.associate_address(InstanceId=b, PublicIp=ip)
    has_address(bob, b, ip)
    back = has_address(bob, a)
    assert back != ip
    held = verbose(admin)
    assert held[ip] == f"{b} (bob)" and held[back] == f"{a} (eucalyptus)", held
    assert list(held.values()).count(f"{b} (eucalyptus)") == 0, held
    ok("AssociateAddress moves an address between the user's instances; the one it left gets one back")

    assert cy.describe_addresses()["Addresses"] == []
    expect_error(lambda: cy.describe_addresses(PublicIps=[ip]), "InvalidAddress.NotFound", 400)
    expect_error(lambda: cy.release_address(PublicIp=ip), "InvalidAddress.NotFound", 400)
    expect_error(lambda: cy.disassociate_address(PublicIp=ip), "InvalidAddress.NotFound", 400)
    expect_error(lambda: cy.associate_address(InstanceId=a, PublicIp=ip), "InvalidAddress.NotFound", 400)
    cy_ip = cy.allocate_address()["PublicIp"]
    expect_error(lambda: cy.associate_address(InstanceId=a, PublicIp=cy_ip), "InvalidInstanceID.NotFound", 400)
    assert bob.describe_addresses()["Addresses"] == [{"PublicIp": ip, "InstanceId": b}]
    assert cy.describe_addresses()["Addresses"] == [{"PublicIp": cy_ip}]
    ok("a second user neither sees nor touches the first's addresses, nor maps theirs to the first's instances")

    expect_error(lambda: bob.release_address(PublicIp="192.168.7"), "InvalidParameterValue", 400)
    expect_error(lambda: bob.release_address(PublicIp="192.168.7.99"), "InvalidAddress.NotFound", 400)
    expect_error(lambda: bob.associate_address(InstanceId="i-00000000", PublicIp=ip), "InvalidInstanceID.NotFound", 400)
    expect_error(lambda: bob.associate_address(InstanceId="vm-1", PublicIp=ip), "InvalidInstanceID.Malformed", 400)
    expect_error(lambda: bob.describe_addresses(Filters=[{"Name": "colour", "Values": ["x"]}]),
                 "InvalidParameterValue", 400)
    by_instance = bob.describe_addresses(Filters=[{"Name": "instance-id", "Values": [b]}])["Addresses"]
    assert [x["PublicIp"] for x in by_instance] == [ip], by_instance
    assert bob.describe_addresses(Filters=[{"Name": "public-ip", "Values": ["10.*"]}])["Addresses"] == []
    ok("malformed and unknown addresses and instances get EC2's codes; Filter.N on public-ip and instance-id")

    # Used: a's own, bob's, cy's; bob may hold 5, then the pool's 8 are all out.
    extra = [bob.allocate_address()["PublicIp"] for _ in range(4)]
    expect_error(bob.allocate_address, "AddressLimitExceeded", 400)
    admin_ip = admin.allocate_address()["PublicIp"]
    expect_error(admin.allocate_address, "InsufficientAddressCapacity", 400)
    for spare in extra:
        bob.release_address(PublicIp=spare)
    cy.release_address(PublicIp=cy_ip)
    admin.release_address(PublicIp=admin_ip)
    assert list(verbose(admin).values()).count("nobody") == 6
    ok("a user holds at most 5 addresses (AddressLimitExceeded); an exhausted pool is InsufficientAddressCapacity")

    bob.disassociate_address(PublicIp=ip)
    assert bob.describe_addresses()["Addresses"] == [{"PublicIp": ip}]
    assert has_address(bob, b) != ip
    bob.disassociate_address(PublicIp=ip)
    ok("DisassociateAddress unmaps it (again: nothing to do); the instance gets one of the cloud's back")

    cli = aws_cli(bob_env)
    cli_ip = cli("allocate-address")["PublicIp"]
    cli("associate-address", "--instance-id", b, "--public-ip", cli_ip)
    listed = cli("describe-addresses", "--public-ips", cli_ip)["Addresses"]
    assert [(x["PublicIp"], x["InstanceId"]) for x in listed] == [(cli_ip, b)], listed
    has_address(bob, b, cli_ip)
    cli("disassociate-address", "--public-ip", cli_ip)
    cli("release-address", "--public-ip", cli_ip)
    assert [x["PublicIp"] for x in cli("describe-addresses")["Addresses"]] == [ip]
    ok("aws cli: allocate-address, associate-address, describe-addresses, disassociate-address, release-address")

    if captures:
        mine = bob.register_image(ImageLocation="images/machine.manifest.xml", Name="mine")["ImageId"]
        replay_captures(bob, bob_env, captures, b, mine)

    bob.associate_address(InstanceId=a, PublicIp=ip)
    has_address(bob, a, ip)
    bob.release_address(PublicIp=ip)
    assert bob.describe_addresses()["Addresses"] == []
    until("a holds one of the cloud's addresses again",
          lambda: f"{a} (eucalyptus)" in verbose(admin).values())
    ok("ReleaseAddress of an associated address unmaps it first; the instance gets one of the cloud's back")

    kept = bob.allocate_address()["PublicIp"]
    bob.associate_address(InstanceId=b, PublicIp=kept)
    bob.terminate_instances(InstanceIds=[a, b])
    for instance in (a, b):
        assert wait_for(bob, instance, "terminated")["State"]["Name"] == "terminated"
    assert bob.describe_addresses()["Addresses"] == [{"PublicIp": kept}]
    held = verbose(admin)
    assert held[kept] == "available (bob)" and list(held.values()).count("nobody") == 7, held
    ok("TerminateInstances returns the cloud's addresses to the pool; a user's stays theirs, dissociated")


def check_kept(admin_env, bob_env, cy_env):
    admin, bob, cy = ec2(admin_env), ec2(bob_env), ec2(cy_env)
    (kept,) = bob.describe_addresses()["Addresses"]
    assert verbose(admin)[kept["PublicIp"]] == "available (bob)"
    assert cy.describe_addresses()["Addresses"] == []
    bob.release_address(PublicIp=kept["PublicIp"])
    assert list(verbose(admin).values()) == ["nobody"] * len(POOL)
    ok("after a restart the user still holds their address, and releases it")


def check_system(admin_env, bob_env, cy_env):
    admin, bob, cy = ec2(admin_env), ec2(bob_env), ec2(cy_env)
    expect_error(bob.allocate_address, "Unsupported", 400)
    assert bob.describe_addresses()["Addresses"] == []
    expect_error(lambda: bob.release_address(PublicIp="192.168.7.10"), "InvalidAddress.NotFound", 400)
    ok("a cluster in SYSTEM mode has no public addresses: AllocateAddress is Unsupported, none are listed")

    _, eki, eri = images(admin)
    emi = bob.register_image(ImageLocation="images/coded.manifest.xml", Name="coded")["ImageId"]

    def attr(c, name, image=emi):
        return c.describe_image_attribute(ImageId=image, Attribute=name)

    assert attr(bob, "launchPermission")["LaunchPermissions"] == [{"Group": "all"}]
    assert attr(cy, "kernel")["KernelId"] == {"Value": "eki-0000000a"}
    assert attr(cy, "ramdisk")["RamdiskId"] == {"Value": "eri-0000000b"}
    codes = [p["ProductCodeId"] for p in attr(cy, "productCodes")["ProductCodes"]]
    assert codes == ["0A1B2C3D", "774F4FF8"], codes
    devices = [(d["VirtualName"], d["DeviceName"]) for d in attr(cy, "blockDeviceMapping")["BlockDeviceMappings"]]
    assert devices == [("emi", "sda1"), ("ephemeral0", "sda2"), ("swap", "sda3"), ("root", "/dev/sda1")], devices
    (described,) = cy.describe_images(ImageIds=[emi])["Images"]
    assert (described["KernelId"], described["RamdiskId"]) == ("eki-0000000a", "eri-0000000b"), described
    assert [p["ProductCodeId"] for p in described["ProductCodes"]] == codes, described
    ok("DescribeImageAttribute: launchPermission (group all, as registered), kernel, ramdisk and product "
       "codes from the manifest, block devices; DescribeImages shows them")

    expect_error(lambda: attr(cy, "launchPermission"), "AuthFailure", 400)
    expect_error(lambda: cy.modify_image_attribute(ImageId=emi, LaunchPermission={"Add": [{"UserId": "cy"}]}),
                 "AuthFailure", 400)
    expect_error(lambda: cy.reset_image_attribute(ImageId=emi, Attribute="launchPermission"), "AuthFailure", 400)
    bob.modify_image_attribute(ImageId=emi, LaunchPermission={"Remove": [{"Group": "all"}]})
    assert attr(bob, "launchPermission")["LaunchPermissions"] == []
    assert emi not in ids(cy.describe_images()["Images"])
    assert emi in ids(admin.describe_images()["Images"])
    assert emi not in ids(bob.describe_images(ExecutableUsers=["all"])["Images"])
    expect_error(lambda: cy.describe_images(ImageIds=[emi]), "InvalidAMIID.NotFound", 400)
    expect_error(lambda: attr(cy, "kernel"), "InvalidAMIID.NotFound", 400)
    expect_error(lambda: cy.run_instances(ImageId=emi, KernelId=eki, MinCount=1, MaxCount=1, InstanceType="m1.small"),
                 "AuthFailure", 400)
    ok("only the owner reads and changes the launch permission; without group all another user neither "
       "sees nor runs the image (AuthFailure)")

    # euca2ools' spelling: Attribute, OperationType, UserId.N.
    bob.modify_image_attribute(ImageId=emi, Attribute="launchPermission", OperationType="add", UserIds=["cy"])
    assert attr(bob, "launchPermission")["LaunchPermissions"] == [{"UserId": "cy"}]
    assert emi in ids(cy.describe_images(ExecutableUsers=["self"])["Images"])
    assert emi in ids(bob.describe_images(ExecutableUsers=["cy"])["Images"])
    # The manifest's kernel and ramdisk are not registered here: the request names others.
    expect_error(lambda: cy.run_instances(ImageId=emi, MinCount=1, MaxCount=1, InstanceType="m1.small"),
                 "InvalidAMIID.NotFound", 400)
    run = cy.run_instances(ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=1, MaxCount=1,
                           InstanceType="m1.small")
    instance = run["Instances"][0]["InstanceId"]
    ok("a user granted by name sees the image (ExecutableBy self) and runs it")

    confirmed = bob.confirm_product_instance(ProductCode="774F4FF8", InstanceId=instance)
    assert (confirmed["Return"], confirmed["OwnerId"]) == (True, account_id(cy)), confirmed
    assert bob.confirm_product_instance(ProductCode="FFFF0000", InstanceId=instance)["Return"] is False
    bob.modify_image_attribute(ImageId=emi, ProductCodes=["FFFF0000"])
    assert bob.confirm_product_instance(ProductCode="FFFF0000", InstanceId=instance)["Return"] is True
    assert [p["ProductCodeId"] for p in attr(bob, "productCodes")["ProductCodes"]] == codes + ["FFFF0000"]
    expect_error(lambda: bob.confirm_product_instance(ProductCode="774F4FF8", InstanceId="i-00000000"),
                 "InvalidInstanceID.NotFound", 400)
    ok("ConfirmProductInstance: the instance runs an image with the code (owner cy); ModifyImageAttribute adds codes")

    for bad in ({"Add": [{"Group": "staff"}]}, {"Add": [{"UserId": "nobody-here"}]}):
        expect_error(lambda: bob.modify_image_attribute(ImageId=emi, LaunchPermission=bad), "InvalidParameterValue", 400)
    expect_error(lambda: bob.modify_image_attribute(ImageId=emi, ProductCodes=["a b"]), "InvalidParameterValue", 400)
    expect_error(lambda: attr(bob, "colour"), "InvalidParameterValue", 400)
    expect_error(lambda: attr(bob, "kernel", "emi-00000000"), "InvalidAMIID.NotFound", 400)
    expect_error(lambda: attr(bob, "kernel", "ami-1"), "InvalidAMIID.Malformed", 400)
    ok("unknown groups, users, attributes and images, and malformed product codes get EC2's codes")

    bob.reset_image_attribute(ImageId=emi, Attribute="launchPermission")
    assert attr(bob, "launchPermission")["LaunchPermissions"] == [{"Group": "all"}]
    ok("ResetImageAttribute makes the launch permission as registered: group all, nobody named")

    cli = aws_cli(bob_env)
    cli("modify-image-attribute", "--image-id", emi, "--launch-permission", json.dumps({"Add": [{"UserId": "cy"}]}))
    got = cli("describe-image-attribute", "--image-id", emi, "--attribute", "launchPermission")
    assert got["LaunchPermissions"] == [{"Group": "all"}, {"UserId": "cy"}], got
    cli("modify-image-attribute", "--image-id", emi, "--launch-permission", json.dumps({"Remove": [{"Group": "all"}]}))
    cli("reset-image-attribute", "--image-id", emi, "--attribute", "launchPermission")
    got = cli("describe-image-attribute", "--image-id", emi, "--attribute", "launchPermission")
    assert got["LaunchPermissions"] == [{"Group": "all"}], got
    got = cli("describe-image-attribute", "--image-id", emi, "--attribute", "kernel")
    assert got["KernelId"] == {"Value": "eki-0000000a"}, got
    assert cli("describe-bundle-tasks")["BundleTasks"] == []
    ok("aws cli: modify-, describe-, reset-image-attribute; describe-bundle-tasks")

    assert bob.describe_bundle_tasks()["BundleTasks"] == []
    assert wait_for(cy, instance, "running")["State"]["Name"] == "running"
    assert cy.describe_addresses()["Addresses"] == []
    cy.terminate_instances(InstanceIds=[instance])
    ok("DescribeBundleTasks: none; an instance in SYSTEM mode holds no elastic address")


def main():
    phase, folders = sys.argv[1], [eucarc(f) for f in sys.argv[2:5]]
    if phase == "managed":
        check_managed(*folders, *sys.argv[5:6])
    elif phase == "managed-kept":
        check_kept(*folders)
    elif phase == "system":
        check_system(*folders)
    else:
        sys.exit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()

"""Accounts, their users and access keys against a real cloud controller and Walrus: boto3
configured from eucarc files (an account's root user) and from keys `euca admin key add`
printed (an IAM user).

Phases (run by tests/cloud_identity.rs):
  share ROOT_DIR DEV_KEY DEV_SECRET OTHER_DIR S3_URL ACCOUNT_ID
      the root user and the IAM user dev of one account see and touch the same instances,
      keypairs and buckets; a second account sees none of them
  refused DIR KEY SECRET S3_URL CODE  EC2 answers CODE (AuthFailure for a disabled key or
                                    account, InvalidClientTokenId for a deleted key), Walrus
                                    InvalidAccessKeyId
  accepted DIR KEY SECRET S3_URL    both answer again
  sqlite-fixture DB SQL             makes DB from the fixture SQL (the schema before accounts)
  legacy ADMIN_DIR BOB_DIR CAROL_DIR  a cloud migrated from that schema still serves the
                                    eucarc files its users hold; a disabled user stays refused
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import sqlite3
import sys

import boto3
from botocore.config import Config

from cloud_clients import ec2, eucarc, expect_error, ok, wait_for


def s3(env, url, key=None, secret=None):
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=key or env["EC2_ACCESS_KEY"],
        aws_secret_access_key=secret or env["EC2_SECRET_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def instance_ids(c):
    return [i["InstanceId"] for r in c.describe_instances()["Reservations"] for i in r["Instances"]]


def key_names(c):
    return sorted(k["KeyName"] for k in c.describe_key_pairs()["KeyPairs"])


def share(root_dir, dev_key, dev_secret, other_dir, s3_url, account_id):
    root_env, other_env = eucarc(root_dir), eucarc(other_dir)
    root, dev, other = ec2(root_env), ec2(root_env, key=dev_key, secret=dev_secret), ec2(other_env)

    emi, eki, eri = (root.register_image(ImageLocation=f"images/{k}.manifest.xml", Name=k)["ImageId"]
                     for k in ("machine", "kernel", "ramdisk"))
    root.create_key_pair(KeyName="k1")
    run = dev.run_instances(ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=1, MaxCount=1, KeyName="k1",
                            InstanceType="m1.small")
    (instance,) = [i["InstanceId"] for i in run["Instances"]]
    assert run["OwnerId"] == account_id, (run["OwnerId"], account_id)
    assert instance_ids(root) == [instance] and instance_ids(dev) == [instance]
    (reservation,) = root.describe_instances()["Reservations"]
    assert reservation["OwnerId"] == account_id, reservation
    ok("the IAM user runs an instance with the root user's keypair; both see it, owned by the account's id")

    dev.create_key_pair(KeyName="k2")
    assert key_names(root) == ["k1", "k2"] and key_names(dev) == ["k1", "k2"]
    dev.create_security_group(GroupName="web", Description="the account's")
    groups = root.describe_security_groups(GroupNames=["web"])["SecurityGroups"]
    assert [g["OwnerId"] for g in groups] == [account_id], groups
    owned = dev.describe_images(Owners=["self"])["Images"]
    assert sorted(i["ImageId"] for i in owned) == sorted([emi, eki, eri]), owned
    assert {i["OwnerId"] for i in owned} == {account_id}, owned
    ok("keypairs, security groups and images are the account's, whichever of its users made them")

    assert instance_ids(other) == [] and key_names(other) == []
    expect_error(lambda: other.terminate_instances(InstanceIds=[instance]), "InvalidInstanceID.NotFound", 400)
    expect_error(lambda: other.describe_key_pairs(KeyNames=["k1"]), "InvalidKeyPair.NotFound", 400)
    other.delete_key_pair(KeyName="k1")
    assert key_names(root) == ["k1", "k2"]
    other.create_key_pair(KeyName="k1")
    assert key_names(other) == ["k1"] and key_names(root) == ["k1", "k2"]
    ok("a second account sees and touches none of them, and names its own keypair k1")

    root_s3, dev_s3 = s3(root_env, s3_url), s3(root_env, s3_url, dev_key, dev_secret)
    other_s3 = s3(other_env, s3_url)
    root_s3.create_bucket(Bucket="acme-data")
    root_s3.put_object(Bucket="acme-data", Key="a.txt", Body=b"from root")
    assert dev_s3.get_object(Bucket="acme-data", Key="a.txt")["Body"].read() == b"from root"
    dev_s3.put_object(Bucket="acme-data", Key="b.txt", Body=b"from dev")
    listed = root_s3.list_objects(Bucket="acme-data")["Contents"]
    assert [o["Key"] for o in listed] == ["a.txt", "b.txt"], listed
    names = {o["Owner"]["DisplayName"] for o in listed}
    ids = {o["Owner"]["ID"] for o in listed}
    assert names == {"acme"} and ids == {root_env["EC2_USER_ID"]}, (names, ids)
    assert [b["Name"] for b in dev_s3.list_buckets()["Buckets"]] == ["acme-data"]
    ok("both users make and read the account's bucket and objects; S3 names the account as their owner")

    assert [b["Name"] for b in other_s3.list_buckets()["Buckets"]] == []
    expect_error(lambda: other_s3.get_object(Bucket="acme-data", Key="a.txt"), "AccessDenied", 403)
    expect_error(lambda: other_s3.put_object(Bucket="acme-data", Key="c.txt", Body=b"x"), "AccessDenied", 403)
    ok("a second account lists no bucket of the first and is denied its objects")

    dev.terminate_instances(InstanceIds=[instance])
    assert wait_for(root, instance, "terminated")["State"]["Name"] == "terminated"
    ok("the IAM user terminates the account's instance")


def refused(folder, key, secret, s3_url, code):
    env = eucarc(folder)
    expect_error(lambda: ec2(env, key=key, secret=secret).describe_instances(), code, 401)
    expect_error(lambda: s3(env, s3_url, key, secret).list_buckets(), "InvalidAccessKeyId", 403)
    ok(f"EC2 refuses the key with {code}, Walrus with InvalidAccessKeyId")


def accepted(folder, key, secret, s3_url):
    env = eucarc(folder)
    ec2(env, key=key, secret=secret).describe_instances()
    s3(env, s3_url, key, secret).list_buckets()
    ok("EC2 and Walrus accept the key")


def sqlite_fixture(db, sql):
    with open(sql) as f, sqlite3.connect(db) as conn:
        conn.executescript(f.read())
    ok(f"{db} made from {sql}")


def legacy(admin_dir, bob_dir, carol_dir):
    admin, bob = ec2(eucarc(admin_dir)), ec2(eucarc(bob_dir))
    assert eucarc(admin_dir)["EC2_ACCESS_KEY"] == "AKLEGACYADMIN0000000"
    bob.create_key_pair(KeyName="bob-key")
    assert key_names(bob) == ["bob-key"] and key_names(admin) == []
    described = admin.describe_key_pairs(KeyNames=["verbose"])["KeyPairs"]
    assert [k["KeyName"] for k in described] == ["bob-key"], described
    ok("after the migration the old eucarc files of the administrator and of bob still work")
    expect_error(lambda: ec2(eucarc(carol_dir)).describe_instances(), "AuthFailure", 401)
    ok("the disabled user's account is disabled")


def main():
    phase, args = sys.argv[1], sys.argv[2:]
    {
        "share": share,
        "refused": refused,
        "accepted": accepted,
        "sqlite-fixture": sqlite_fixture,
        "legacy": legacy,
    }[phase](*args)


if __name__ == "__main__":
    main()

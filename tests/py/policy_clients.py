"""Drives IAM policies with boto3: an account's IAM users (their keys given on the command
line, the cloud's URLs from the account root's eucarc) against the CLC's EC2 API and Walrus's
S3 API, which must allow what the users' policies allow and refuse the rest with EC2's
UnauthorizedOperation and S3's AccessDenied (HTTP 403 both).

Phases (run by tests/cloud_policy.rs):
  describe-only ROOT_DIR AK SK              ec2:Describe* alone: describes, cannot run nor make keys
  s3-no-delete ROOT_DIR S3_URL AK SK BUCKET s3:* but Deny s3:DeleteObject: puts, gets, cannot delete
                                            (REST with boto3, then SOAP with zeep)
  ec2 ROOT_DIR AK SK allowed|denied         DescribeInstances is allowed, or refused
  s3 ROOT_DIR S3_URL AK SK allowed|denied   ListBuckets is allowed, or refused
  launch ROOT_DIR S3_URL                    the root user runs an instance and stores an object;
                                            prints the instance id
  sees ROOT_DIR AK SK INSTANCE              a user of the same account sees the instance
  apart ROOT_DIR S3_URL AK SK INSTANCE      another account's root user and an IAM user allowed
                                            everything see and touch none of it
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import base64
import datetime
import hashlib
import hmac
import os
import sys

import boto3
import zeep
from botocore.config import Config
from zeep.exceptions import Fault

from cloud_clients import ec2, eucarc, expect_error, ok

#: What the launching account stores, and another account must not reach.
BUCKET, KEY = "alpha-private", "secret.txt"


def as_user(root_dir, access, secret):
    """The root's eucarc (URLs, region) with an IAM user's key."""
    env = dict(eucarc(root_dir))
    env["EC2_ACCESS_KEY"], env["EC2_SECRET_KEY"] = access, secret
    return env


def s3(env, url):
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=env["EC2_ACCESS_KEY"],
                        aws_secret_access_key=env["EC2_SECRET_KEY"], region_name=env["AWS_DEFAULT_REGION"],
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def instance_ids(c):
    return sorted(i["InstanceId"] for r in c.describe_instances()["Reservations"] for i in r["Instances"])


def check_describe_only(env):
    c = ec2(env)
    c.describe_instances()
    c.describe_images()
    c.describe_availability_zones()
    ok("ec2:Describe* lets the user describe instances, images and zones")
    # Refused before anything is looked at: the image need not exist.
    expect_error(lambda: c.run_instances(ImageId="emi-00000000", MinCount=1, MaxCount=1, InstanceType="m1.small"),
                 "UnauthorizedOperation", 403)
    expect_error(lambda: c.create_key_pair(KeyName="not-mine"), "UnauthorizedOperation", 403)
    assert c.describe_key_pairs()["KeyPairs"] == []
    ok("RunInstances and CreateKeyPair are UnauthorizedOperation (403), and no key pair was made")


def check_s3_no_delete(env, url, bucket):
    c = s3(env, url)
    c.create_bucket(Bucket=bucket)
    c.put_object(Bucket=bucket, Key="kept.txt", Body=b"kept")
    assert c.get_object(Bucket=bucket, Key="kept.txt")["Body"].read() == b"kept"
    ok("s3:* lets the user create a bucket, put and get an object")
    expect_error(lambda: c.delete_object(Bucket=bucket, Key="kept.txt"), "AccessDenied", 403)
    expect_error(lambda: c.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "kept.txt"}]}),
                 "AccessDenied", 403)
    assert c.get_object(Bucket=bucket, Key="kept.txt")["Body"].read() == b"kept"
    ok("the explicit Deny of s3:DeleteObject wins over s3:*: DeleteObject(s) is AccessDenied, the object stays")


def check_s3_soap_no_delete(env, url, bucket):
    """The same policy over S3's SOAP API (our wsdl/s3.wsdl, requests signed as S3's SOAP
    clients sign them)."""
    ns = "http://s3.amazonaws.com/doc/2006-03-01/"
    wsdl = os.path.join(sys.path[0], "..", "..", "wsdl", "s3.wsdl")
    service = zeep.Client(wsdl).create_service(f"{{{ns}}}AmazonS3SoapBinding", url)

    def call(operation, **args):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        mac = hmac.new(env["EC2_SECRET_KEY"].encode(), f"AmazonS3{operation}{stamp}".encode(), hashlib.sha1)
        signed = {"AWSAccessKeyId": env["EC2_ACCESS_KEY"], "Timestamp": stamp,
                  "Signature": base64.b64encode(mac.digest()).decode()}
        return getattr(service, operation)(**args, **signed)

    data = b"over SOAP"
    call("PutObjectInline", Bucket=bucket, Key="soap.txt", Metadata=[], Data=data, ContentLength=len(data))
    got = call("GetObject", Bucket=bucket, Key="soap.txt", GetMetadata=False, GetData=True, InlineData=True)
    assert got.Data == data, got
    try:
        call("DeleteObject", Bucket=bucket, Key="soap.txt")
        raise AssertionError("DeleteObject over SOAP succeeded")
    except Fault as fault:
        assert fault.code and fault.code.endswith("AccessDenied"), (fault.code, fault.message)
    assert call("GetObject", Bucket=bucket, Key="soap.txt", GetMetadata=False, GetData=True,
                InlineData=True).Data == data
    ok("over SOAP too: PutObjectInline and GetObject pass, DeleteObject is an AccessDenied fault")


def check_ec2(env, expected):
    c = ec2(env)
    if expected == "allowed":
        c.describe_instances()
    else:
        expect_error(c.describe_instances, "UnauthorizedOperation", 403)
    ok(f"DescribeInstances is {expected}")


def check_s3(env, url, expected):
    c = s3(env, url)
    if expected == "allowed":
        c.list_buckets()
    else:
        expect_error(c.list_buckets, "AccessDenied", 403)
    ok(f"ListBuckets is {expected}")


def launch(env, url):
    c = ec2(env)
    emi, eki, eri = (c.register_image(ImageLocation=f"images/{k}.manifest.xml", Name=k)["ImageId"]
                     for k in ("machine", "kernel", "ramdisk"))
    run = c.run_instances(ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=1, MaxCount=1,
                          InstanceType="m1.small")
    instance = run["Instances"][0]["InstanceId"]
    store = s3(env, url)
    store.create_bucket(Bucket=BUCKET)
    store.put_object(Bucket=BUCKET, Key=KEY, Body=b"alpha only")
    ok("the account's root user runs an instance and stores an object")
    print(instance)


def check_sees(env, instance):
    assert instance in instance_ids(ec2(env)), instance
    ok("a user of the same account sees the account's instance")


def check_apart(root_env, user_env, url, instance):
    for who, env in (("the root user", root_env), ("an IAM user allowed everything", user_env)):
        c, store = ec2(env), s3(env, url)
        assert instance not in instance_ids(c)
        expect_error(lambda: c.describe_instances(InstanceIds=[instance]), "InvalidInstanceID.NotFound", 400)
        expect_error(lambda: c.terminate_instances(InstanceIds=[instance]), "InvalidInstanceID.NotFound", 400)
        assert BUCKET not in [b["Name"] for b in store.list_buckets()["Buckets"]]
        expect_error(lambda: store.get_object(Bucket=BUCKET, Key=KEY), "AccessDenied", 403)
        expect_error(lambda: store.list_objects(Bucket=BUCKET), "AccessDenied", 403)
        expect_error(lambda: store.put_object(Bucket=BUCKET, Key="intruder", Body=b"x"), "AccessDenied", 403)
        expect_error(lambda: store.delete_object(Bucket=BUCKET, Key=KEY), "AccessDenied", 403)
        ok(f"another account's {who} neither sees nor touches the instance, the bucket or the object")


def main():
    phase, args = sys.argv[1], sys.argv[2:]
    if phase == "describe-only":
        check_describe_only(as_user(*args[:3]))
    elif phase == "s3-no-delete":
        root, url, access, secret, bucket = args
        check_s3_no_delete(as_user(root, access, secret), url, bucket)
        check_s3_soap_no_delete(as_user(root, access, secret), url, bucket)
    elif phase == "ec2":
        check_ec2(as_user(*args[:3]), args[3])
    elif phase == "s3":
        root, url, access, secret, expected = args
        check_s3(as_user(root, access, secret), url, expected)
    elif phase == "launch":
        launch(eucarc(args[0]), args[1])
    elif phase == "sees":
        check_sees(as_user(*args[:3]), args[3])
    elif phase == "apart":
        root, url, access, secret, instance = args
        check_apart(eucarc(root), as_user(root, access, secret), url, instance)
    else:
        raise SystemExit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()

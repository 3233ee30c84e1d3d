"""Walrus serving a cloud's users (`euca walrus --identity CLC_DATA`, or `--db URL`): boto3
and s3cmd, configured from a user's eucarc (the cloud controller's), against Walrus.

Usage (run by tests/walrus_identity.rs):
  walrus_identity.py WALRUS_URL USER_DIR accepted   boto3 (SigV4) and s3cmd (SigV2) make a
                                                    bucket, put, list and get an object
  walrus_identity.py WALRUS_URL USER_DIR refused    both are refused: InvalidAccessKeyId, 403
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import os
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit

import boto3
import botocore
from botocore.config import Config

from cloud_clients import eucarc, expect_error, ok


def s3(url, env):
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=env["EC2_ACCESS_KEY"],
        aws_secret_access_key=env["EC2_SECRET_KEY"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def s3cmd(url, env, workdir, *args):
    """Runs s3cmd (SigV2, path style at the root) as the eucarc's user."""
    authority = urlsplit(url).netloc
    config = os.path.join(workdir, "s3cmd.cfg")
    with open(config, "w") as f:
        f.write(
            "[default]\n"
            f"access_key = {env['EC2_ACCESS_KEY']}\n"
            f"secret_key = {env['EC2_SECRET_KEY']}\n"
            f"host_base = {authority}\n"
            f"host_bucket = {authority}\n"
            "use_https = False\nsignature_v2 = True\nprogress_meter = False\n"
        )
    binary = os.path.join(os.path.dirname(sys.executable), "s3cmd")
    return subprocess.run([binary, "-c", config, *args], capture_output=True, text=True)


def accepted(url, env, name, workdir):
    client = s3(url, env)
    bucket = f"{name}-boto"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello from " + name.encode())
    assert client.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"hello from " + name.encode()
    assert bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]
    ok(f"boto3 as {name}: create bucket, put, get, list")

    bucket = f"{name}-s3cmd"
    path = os.path.join(workdir, "object.txt")
    with open(path, "w") as f:
        f.write("from s3cmd")
    for args in (["mb", f"s3://{bucket}"], ["put", path, f"s3://{bucket}/object.txt"]):
        done = s3cmd(url, env, workdir, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    listing = s3cmd(url, env, workdir, "ls", f"s3://{bucket}")
    assert listing.returncode == 0 and "object.txt" in listing.stdout, (listing.stdout, listing.stderr)
    ok(f"s3cmd as {name}: mb, put, ls")


def refused(url, env, name, workdir):
    expect_error(lambda: s3(url, env).list_buckets(), "InvalidAccessKeyId", 403)
    ok(f"boto3 as {name}: refused with InvalidAccessKeyId")
    listing = s3cmd(url, env, workdir, "ls")
    assert listing.returncode != 0 and "InvalidAccessKeyId" in listing.stderr, (listing.stdout, listing.stderr)
    ok(f"s3cmd as {name}: refused")


def main():
    url, folder, expected = sys.argv[1:4]
    env = eucarc(folder)
    name = os.path.basename(os.path.normpath(folder))
    with tempfile.TemporaryDirectory() as workdir:
        {"accepted": accepted, "refused": refused}[expected](url, env, name, workdir)


if __name__ == "__main__":
    main()

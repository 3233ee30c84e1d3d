"""Checks that a Walrus running with the remote backend keeps object data in the remote store:
an object PUT through Walrus appears in the remote bucket <prefix><bucket> as one blob with
the same bytes (named by an id, not by the key), and goes away when the object is deleted.

Usage: walrus_remote_check.py --walrus URL --access-key KEY --secret-key SECRET
                              --remote URL --prefix PREFIX
(the remote store is a moto server: any credentials are accepted there).
"""

import argparse
import os
import sys
import time

import boto3
from botocore.config import Config


def client(endpoint, access, secret):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


def eventually(condition, what, limit=10.0):
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            sys.exit(f"FAILED: {what}")
        time.sleep(0.1)


def main():
    parser = argparse.ArgumentParser()
    for name in ("--walrus", "--access-key", "--secret-key", "--remote", "--prefix"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    walrus = client(args.walrus, args.access_key, args.secret_key)
    remote = client(args.remote, "testing", "testing")
    bucket = "remote-check-" + os.urandom(3).hex()
    data = os.urandom(1 << 20)

    walrus.create_bucket(Bucket=bucket)
    walrus.put_object(Bucket=bucket, Key="some/key.bin", Body=data)
    remote_bucket = args.prefix + bucket
    blobs = remote.list_objects_v2(Bucket=remote_bucket).get("Contents", [])
    if len(blobs) != 1:
        sys.exit(f"FAILED: expected one blob in {remote_bucket}, found {blobs}")
    blob = blobs[0]["Key"]
    if "key" in blob or len(blob) != 32:
        sys.exit(f"FAILED: the blob is named after the key: {blob}")
    if remote.get_object(Bucket=remote_bucket, Key=blob)["Body"].read() != data:
        sys.exit("FAILED: the remote blob differs from the object")
    print(f"object stored in the remote store as {remote_bucket}/{blob}")

    walrus.delete_object(Bucket=bucket, Key="some/key.bin")
    eventually(lambda: not remote.list_objects_v2(Bucket=remote_bucket).get("Contents"), "blob not deleted remotely")
    walrus.delete_bucket(Bucket=bucket)
    names = lambda: [b["Name"] for b in remote.list_buckets()["Buckets"]]
    eventually(lambda: remote_bucket not in names(), f"remote bucket kept: {names()}")
    print("deleting the object and the bucket deleted the blob and the remote bucket")
    return 0


if __name__ == "__main__":
    sys.exit(main())

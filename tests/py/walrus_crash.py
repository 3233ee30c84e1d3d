"""Concurrent slow uploads to a Walrus that is killed meanwhile, and the check afterwards.

  walrus_crash.py upload --endpoint URL --access-key K --secret-key S --bucket B
                         --manifest FILE [--workers N] [--max-mb M]
      Creates bucket B, then N workers PUT objects (a few keys each, so that objects are
      also replaced) of random sizes up to M MB, slowly, until the server goes away. Each
      version is written to FILE before it is sent ("start KEY MD5") and after the server
      acknowledged it ("done KEY MD5").
  walrus_crash.py verify --endpoint URL --access-key K --secret-key S --bucket B
                         --manifest FILE
      After a restart: every listed object reads back whole as one of the versions sent for
      its key, every acknowledged key is listed; prints {"objects": N, "bytes": TOTAL}.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate

import boto3
from botocore.config import Config

PIECE = 64 * 1024


def sign_v2(secret, method, path, content_type, date):
    text = f"{method}\n\n{content_type}\n{date}\n{path}"
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()


class Uploader:
    def __init__(self, args):
        self.args = args
        parts = urllib.parse.urlsplit(args.endpoint)
        self.host, self.port, self.prefix = parts.hostname, parts.port, parts.path
        self.lock = threading.Lock()
        self.manifest = open(args.manifest, "a", buffering=1)

    def record(self, line):
        with self.lock:
            self.manifest.write(line + "\n")
            self.manifest.flush()
            os.fsync(self.manifest.fileno())

    def put(self, key, data):
        path = f"{self.prefix}/{self.args.bucket}/{key}"
        date = formatdate(usegmt=True)
        signature = sign_v2(self.args.secret_key, "PUT", path, "application/octet-stream", date)
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        connection.putrequest("PUT", path)
        connection.putheader("Date", date)
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(len(data)))
        connection.putheader("Authorization", f"AWS {self.args.access_key}:{signature}")
        connection.endheaders()
        for i in range(0, len(data), PIECE):
            connection.send(data[i : i + PIECE])
            time.sleep(0.004)
        status = connection.getresponse().status
        connection.close()
        return status

    def worker(self, n):
        rng = random.Random(n)
        while True:
            key = f"worker{n}/object{rng.randrange(3)}"
            data = os.urandom(rng.randrange(1, self.args.max_mb * (1 << 20)))
            digest = hashlib.md5(data).hexdigest()
            self.record(f"start {key} {digest}")
            try:
                status = self.put(key, data)
            except OSError:
                return
            if status != 200:
                print(f"worker {n}: {key} answered {status}", flush=True)
                return
            self.record(f"done {key} {digest}")


def s3(args):
    return boto3.client(
        "s3",
        endpoint_url=args.endpoint,
        aws_access_key_id=args.access_key,
        aws_secret_access_key=args.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def upload(args):
    s3(args).create_bucket(Bucket=args.bucket)
    uploader = Uploader(args)
    workers = [threading.Thread(target=uploader.worker, args=(n,)) for n in range(args.workers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return 0


def verify(args):
    started, done = {}, set()
    with open(args.manifest) as f:
        for line in f:
            kind, key, digest = line.split()
            started.setdefault(key, set()).add(digest)
            if kind == "done":
                done.add(key)
    client = s3(args)
    listed, total = [], 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=args.bucket):
        listed += page.get("Contents", [])
    for entry in listed:
        key = entry["Key"]
        data = client.get_object(Bucket=args.bucket, Key=key)["Body"].read()
        if len(data) != entry["Size"]:
            sys.exit(f"FAILED: {key} listed with {entry['Size']} bytes, read {len(data)}")
        if hashlib.md5(data).hexdigest() not in started.get(key, set()):
            sys.exit(f"FAILED: {key} holds data no client sent whole")
        total += len(data)
    missing = done - {e["Key"] for e in listed}
    if missing:
        sys.exit(f"FAILED: acknowledged objects lost: {sorted(missing)}")
    print(json.dumps({"objects": len(listed), "bytes": total, "acknowledged": len(done)}))
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["upload", "verify"])
    for name in ("--endpoint", "--access-key", "--secret-key", "--bucket", "--manifest"):
        parser.add_argument(name, required=True)
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--max-mb", type=int, default=8)
    args = parser.parse_args()
    return upload(args) if args.mode == "upload" else verify(args)


if __name__ == "__main__":
    sys.exit(main())

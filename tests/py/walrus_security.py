"""Attacks on a running Walrus, each of which must be refused with the right S3 error: bad,
expired, skewed and tampered signatures, unknown and disabled keys, another user's private
objects, keys with `..`, NUL or invalid UTF-8, oversize metadata, and quota overruns.

Usage: walrus_security.py --endpoint URL --users FILE
  FILE: one user a line, "name access-key secret-key email": admin, alice, bob (ordinary
  users) and carol (disabled). Walrus runs with storage_max_bucket_size_mb=1,
  storage_max_total_size_mb=6 and storage_max_buckets_per_user=2.
Exits 0 when every attack was refused as expected.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import os
import select
import socket
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from walrus_users import endpoint_and_users

KB = 1024


class Failure(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failure(what)


def refused(call, code, status):
    try:
        call()
    except ClientError as e:
        got = (e.response["Error"].get("Code"), e.response["ResponseMetadata"]["HTTPStatusCode"])
        check(got == (code, status), f"expected {code} ({status}), got {got}")
        return
    raise Failure(f"expected {code}, the call succeeded")


def raw_refused(response, code, status):
    got_code = ET.fromstring(response.content).findtext("Code") if response.content else None
    check((got_code, response.status_code) == (code, status), f"expected {code} ({status}), got {got_code} ({response.status_code}): {response.text[:200]}")


class Target:
    def __init__(self, endpoint, users):
        self.endpoint = endpoint.rstrip("/")
        parts = urllib.parse.urlsplit(self.endpoint)
        self.host, self.port, self.prefix = parts.hostname, parts.port, parts.path
        self.users = users

    def client(self, name, signature="s3v4", secret=None, access=None):
        user = self.users[name]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access or user["access"],
            aws_secret_access_key=secret or user["secret"],
            region_name="us-east-1",
            config=Config(signature_version=signature, s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def url(self, bucket, key):
        return f"{self.endpoint}/{bucket}/{urllib.parse.quote(key)}"

    def signed_v2(self, name, method, path, date=None, headers=None):
        """`headers` with a Date and a SigV2 Authorization over exactly `path`."""
        user = self.users[name]
        headers = dict(headers or {})
        date = date or datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
        amz = "".join(f"{k.lower()}:{v}\n" for k, v in sorted(headers.items()) if k.lower().startswith("x-amz-"))
        text = f"{method}\n\n\n{date}\n{amz}{path}"
        signature = base64.b64encode(hmac.new(user["secret"].encode(), text.encode(), hashlib.sha1).digest()).decode()
        headers.update({"Date": date, "Authorization": f"AWS {user['access']}:{signature}"})
        return headers

    def raw_v2(self, name, method, path, date=None, body=b"", headers=None):
        """A request signed by hand with SigV2 over exactly `path` (already encoded)."""
        headers = self.signed_v2(name, method, path, date, headers)
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()

    def raw_v4(self, name, method, path, body, claimed_sha256, when):
        """A request signed by hand with SigV4 at time `when`, claiming a payload hash."""
        user = self.users[name]
        amz_date, date = when.strftime("%Y%m%dT%H%M%SZ"), when.strftime("%Y%m%d")
        scope = f"{date}/us-east-1/s3/aws4_request"
        headers = {"host": f"{self.host}:{self.port}", "x-amz-content-sha256": claimed_sha256, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical = f"{method}\n{path}\n\n" + "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)) + f"\n{signed}\n{claimed_sha256}"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = ("AWS4" + user["secret"]).encode()
        for part in (date, "us-east-1", "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={user['access']}/{scope},SignedHeaders={signed},Signature={signature}"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()


def code_of(content):
    return ET.fromstring(content).findtext("Code") if content else None


def signatures(t, bucket):
    print("signatures: wrong secrets, unknown and disabled keys, tampering, expiry, skew, payload hash", flush=True)
    for signature in ("s3", "s3v4"):
        refused(lambda: t.client("alice", signature, secret="wrong" * 8).list_objects(Bucket=bucket), "SignatureDoesNotMatch", 403)
        refused(lambda: t.client("alice", signature, access="AKIDNOBODY").list_buckets(), "InvalidAccessKeyId", 403)
        refused(lambda: t.client("carol", signature).list_buckets(), "InvalidAccessKeyId", 403)
    alice = t.client("alice")
    alice.put_object(Bucket=bucket, Key="signed", Body=b"x")
    for signature in ("s3", "s3v4"):
        url = t.client("alice", signature).generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "signed"}, ExpiresIn=300)
        check(requests.get(url).status_code == 200, f"{signature} presigned URL works")
        tampered = url.replace("/signed?", "/signeD?")
        raw_refused(requests.get(tampered), "SignatureDoesNotMatch", 403)
        short = t.client("alice", signature).generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "signed"}, ExpiresIn=1)
        time.sleep(2.1)
        expired = requests.get(short)
        raw_refused(expired, "AccessDenied", 403)
        check(b"expired" in expired.content, f"expired {signature} URL says so: {expired.text}")
    path = f"{t.prefix}/{bucket}/signed"
    status, content = t.raw_v2("alice", "GET", path)
    check(status == 200, f"hand-signed SigV2 works: {status} {content[:200]}")
    stale = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    status, content = t.raw_v2("alice", "GET", path, date=stale)
    check((status, code_of(content)) == (403, "RequestTimeTooSkewed"), f"skewed SigV2: {status} {content[:200]}")
    now = datetime.datetime.now(datetime.timezone.utc)
    empty = hashlib.sha256(b"").hexdigest()
    status, content = t.raw_v4("alice", "GET", path, b"", empty, now)
    check(status == 200, f"hand-signed SigV4 works: {status} {content[:200]}")
    status, content = t.raw_v4("alice", "GET", path, b"", empty, now - datetime.timedelta(minutes=20))
    check((status, code_of(content)) == (403, "RequestTimeTooSkewed"), f"skewed SigV4: {status} {content[:200]}")
    put_path = f"{t.prefix}/{bucket}/hashed"
    status, content = t.raw_v4("alice", "PUT", put_path, b"the real body", hashlib.sha256(b"another body").hexdigest(), now)
    check((status, code_of(content)) == (400, "XAmzContentSHA256Mismatch"), f"payload hash mismatch: {status} {content[:200]}")
    refused(lambda: alice.head_object(Bucket=bucket, Key="hashed"), "404", 404)


def another_users_objects(t, bucket):
    print("ACLs: bob and anonymous users cannot touch alice's private objects", flush=True)
    alice, bob = t.client("alice"), t.client("bob")
    alice.put_object(Bucket=bucket, Key="private/diary", Body=b"dear diary")
    refused(lambda: bob.get_object(Bucket=bucket, Key="private/diary"), "AccessDenied", 403)
    refused(lambda: bob.head_object(Bucket=bucket, Key="private/diary"), "403", 403)
    refused(lambda: bob.list_objects(Bucket=bucket), "AccessDenied", 403)
    refused(lambda: bob.put_object(Bucket=bucket, Key="private/intrusion", Body=b"x"), "AccessDenied", 403)
    refused(lambda: bob.delete_object(Bucket=bucket, Key="private/diary"), "AccessDenied", 403)
    refused(lambda: bob.get_object_acl(Bucket=bucket, Key="private/diary"), "AccessDenied", 403)
    refused(lambda: bob.put_object_acl(Bucket=bucket, Key="private/diary", ACL="public-read"), "AccessDenied", 403)
    refused(lambda: bob.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "private/diary"}), "AccessDenied", 403)
    refused(lambda: bob.delete_bucket(Bucket=bucket), "AccessDenied", 403)
    refused(lambda: bob.put_bucket_acl(Bucket=bucket, ACL="public-read-write"), "AccessDenied", 403)
    check(bucket not in [b["Name"] for b in bob.list_buckets()["Buckets"]], "bob's bucket list hides alice's")
    bob_url = bob.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "private/diary"}, ExpiresIn=300)
    raw_refused(requests.get(bob_url), "AccessDenied", 403)
    raw_refused(requests.get(t.url(bucket, "private/diary")), "AccessDenied", 403)
    refused(lambda: bob.get_object(Bucket=bucket, Key="private/missing"), "AccessDenied", 403)
    check(alice.get_object(Bucket=bucket, Key="private/diary")["Body"].read() == b"dear diary", "alice reads her own")
    alice.put_object_acl(Bucket=bucket, Key="private/diary", GrantRead=f'emailAddress="{t.users["bob"]["email"]}"')
    check(bob.get_object(Bucket=bucket, Key="private/diary")["Body"].read() == b"dear diary", "a grant by e-mail lets bob read")
    refused(lambda: bob.put_object(Bucket=bucket, Key="private/diary", Body=b"x"), "AccessDenied", 403)
    raw_refused(requests.get(t.url(bucket, "private/diary")), "AccessDenied", 403)
    alice.put_object_acl(Bucket=bucket, Key="private/diary", ACL="authenticated-read")
    check(bob.get_object(Bucket=bucket, Key="private/diary")["Body"].read() == b"dear diary", "authenticated-read")
    raw_refused(requests.get(t.url(bucket, "private/diary")), "AccessDenied", 403)
    admin = t.client("admin")
    check(admin.get_object(Bucket=bucket, Key="private/diary")["Body"].read() == b"dear diary", "the administrator reads everything")


def hostile_keys(t, bucket):
    print("keys: '..' segments, NUL and invalid UTF-8 are refused; metadata limit", flush=True)
    alice = t.client("alice")
    for key in ["../escape", "a/../../../etc/passwd", "..", "dir/..", "a\x00b"]:
        refused(lambda: alice.put_object(Bucket=bucket, Key=key, Body=b"x"), "InvalidObjectName", 400)
    for raw in ["%ff%fe", "a%00b", "x/%2e%2e/y"]:
        status, content = t.raw_v2("alice", "PUT", f"{t.prefix}/{bucket}/{raw}", body=b"x")
        check((status, code_of(content)) == (400, "InvalidObjectName"), f"raw key {raw}: {status} {content[:200]}")
    status, content = t.raw_v2("alice", "PUT", f"{t.prefix}/{bucket}/copied", headers={"x-amz-copy-source": f"/{bucket}/../../etc/passwd"})
    check((status, code_of(content)) == (400, "InvalidObjectName"), f"copy source with '..': {status} {content[:200]}")
    refused(lambda: alice.put_object(Bucket=bucket, Key="meta", Body=b"x", Metadata={"big": "v" * 2046}), "MetadataTooLarge", 400)
    refused(lambda: alice.put_object(Bucket=bucket, Key="meta", Body=b"x", Metadata={f"k{i}": "v" * 200 for i in range(11)}), "MetadataTooLarge", 400)
    alice.put_object(Bucket=bucket, Key="meta", Body=b"x", Metadata={"big": "v" * 2045})
    refused(lambda: alice.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x"), "KeyTooLongError", 400)


def hostile_bucket_names(t):
    print("bucket names: IP-address form refused (InvalidBucketName), as S3 does", flush=True)
    alice = t.client("alice")
    for name in ["192.168.1.1", "10.0.0.1", "127.0.0.1"]:
        refused(lambda: alice.create_bucket(Bucket=name), "InvalidBucketName", 400)
    names = [b["Name"] for b in alice.list_buckets()["Buckets"]]
    check(not any(n[0].isdigit() for n in names), f"an IP-form bucket was created: {names}")


def trickling_upload(t, bucket):
    print("uploads: a body trickling in (a byte a second) is cut off with 400 RequestTimeout", flush=True)
    path = f"{t.prefix}/{bucket}/trickle"
    headers = t.signed_v2("alice", "PUT", path, headers={"Content-Length": "100"})
    sock = socket.create_connection((t.host, t.port), timeout=30)
    head = f"PUT {path} HTTP/1.1\r\nHost: {t.host}:{t.port}\r\n"
    sock.sendall((head + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
    started, answer = time.monotonic(), b""
    while time.monotonic() - started < 30:
        if select.select([sock], [], [], 1.0)[0]:
            answer = sock.recv(65536)
            break
        sock.sendall(b"x")
    elapsed = time.monotonic() - started
    sock.close()
    check(answer.startswith(b"HTTP/1.1 400"), f"a trickle is answered 400: {answer[:200]!r} after {elapsed:.1f} s")
    check(b"<Code>RequestTimeout</Code>" in answer, f"with RequestTimeout: {answer[-300:]!r}")
    # The test's Walrus measures the rate over 2 s windows (upload_rate_window_secs=2).
    check(1.5 <= elapsed <= 10, f"cut off after a window, not at once nor late: {elapsed:.1f} s")
    refused(lambda: t.client("alice").head_object(Bucket=bucket, Key="trickle"), "404", 404)


def quotas(t, bucket):
    print("quotas: bucket size, buckets per user, total storage", flush=True)
    alice, bob, admin = t.client("alice"), t.client("bob"), t.client("admin")
    alice.put_object(Bucket=bucket, Key="quota/one", Body=os.urandom(700 * KB))
    refused(lambda: alice.put_object(Bucket=bucket, Key="quota/two", Body=os.urandom(700 * KB)), "EntityTooLarge", 400)
    upload = alice.create_multipart_upload(Bucket=bucket, Key="quota/parts")["UploadId"]
    refused(lambda: alice.upload_part(Bucket=bucket, Key="quota/parts", UploadId=upload, PartNumber=1, Body=os.urandom(700 * KB)), "EntityTooLarge", 400)
    alice.abort_multipart_upload(Bucket=bucket, Key="quota/parts", UploadId=upload)
    alice.put_object(Bucket=bucket, Key="quota/one", Body=os.urandom(300 * KB))
    alice.create_bucket(Bucket=bucket + "-second")
    refused(lambda: alice.create_bucket(Bucket=bucket + "-third"), "TooManyBuckets", 400)
    admin.create_bucket(Bucket=bucket + "-admin")
    admin.put_object(Bucket=bucket + "-admin", Key="large", Body=os.urandom(5 << 20))
    bob.create_bucket(Bucket=bucket + "-bob")
    refused(lambda: bob.put_object(Bucket=bucket + "-bob", Key="over", Body=os.urandom(900 * KB)), "QuotaExceeded", 403)
    admin.delete_object(Bucket=bucket + "-admin", Key="large")
    bob.put_object(Bucket=bucket + "-bob", Key="over", Body=os.urandom(900 * KB))


def main():
    endpoint, users = endpoint_and_users()
    t = Target(endpoint, users)
    bucket = "alice-" + os.urandom(3).hex()
    try:
        t.client("alice").create_bucket(Bucket=bucket)
        signatures(t, bucket)
        another_users_objects(t, bucket)
        hostile_keys(t, bucket)
        hostile_bucket_names(t)
        trickling_upload(t, bucket)
        quotas(t, bucket)
    except (Failure, ClientError) as e:
        print(f"FAILED: {type(e).__name__}: {e}", flush=True)
        return 1
    print("every attack was refused", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

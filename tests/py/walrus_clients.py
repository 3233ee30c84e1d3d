"""Drives boto3, the AWS CLI and s3cmd against a running Walrus, over every S3 operation
Walrus serves: buckets (create with location, list, head, location, logging, ACLs, delete),
objects (put with metadata, get with ranges and conditions, head, copy, ACLs, delete,
batch delete), listings (v1 and v2, prefixes, delimiters, paging, URL encoding), multipart
uploads (a large file, list parts and uploads, abort, bad completions), presigned URLs
(SigV2, SigV4), browser POST uploads (SigV2 and SigV4 policies), SigV4 chunked uploads
(signed and unsigned with a trailer), virtual-host requests and anonymous access.

Usage: walrus_clients.py --endpoint URL --access-key KEY --secret-key SECRET --workdir DIR
                         --bin DIR [--domain DOMAIN] [--big-mb N]
  URL: http://HOST:PORT/services/Walrus; DIR: scratch space; --bin: where aws and s3cmd are.
Exits 0 when every check passed; otherwise names the failed step and why.
"""

import argparse
import base64
import binascii
import datetime
import hashlib
import hmac
import http.client
import os
import secrets
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

import boto3
import botocore
import requests
from boto3.s3.transfer import TransferConfig
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
MB = 1 << 20


class Failure(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failure(what)


def step(client, name):
    print(f"[{client}] {name}", flush=True)


def error_of(call):
    """The (code, HTTP status) of the ClientError `call` raises; fails if it succeeds."""
    try:
        call()
    except ClientError as e:
        return e.response["Error"].get("Code"), e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise Failure("expected an error, the call succeeded")


def expect_error(call, code, status=None):
    got_code, got_status = error_of(call)
    check(got_code == code, f"expected error {code}, got {got_code} (HTTP {got_status})")
    if status is not None:
        check(got_status == status, f"expected HTTP {status} for {code}, got {got_status}")


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MB), b""):
            digest.update(block)
    return digest.hexdigest()


def make_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MB)
            f.write(os.urandom(n))
            left -= n


def error_code(response):
    """The <Code> of an S3 error document."""
    root = ET.fromstring(response.content)
    return root.findtext("Code")


class Walrus:
    def __init__(self, args):
        self.args = args
        self.endpoint = args.endpoint.rstrip("/")
        parts = urllib.parse.urlsplit(self.endpoint)
        self.host = parts.hostname
        self.port = parts.port
        self.path = parts.path
        self.suffix = secrets.token_hex(3)

    def client(self, signature="s3v4", **extra):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.args.access_key,
            aws_secret_access_key=self.args.secret_key,
            region_name="us-east-1",
            config=Config(signature_version=signature, s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **extra),
        )

    def bucket(self, name):
        return f"{name}-{self.suffix}"

    def url(self, bucket, key=""):
        return f"{self.endpoint}/{bucket}/{urllib.parse.quote(key, safe='/~')}"


# ---------------------------------------------------------------- boto3


def boto3_buckets(w, s3):
    step("boto3", "create buckets (one with a location), list, head, location")
    main, located = w.bucket("boto-main"), w.bucket("boto-located")
    s3.create_bucket(Bucket=main)
    s3.create_bucket(Bucket=located, CreateBucketConfiguration={"LocationConstraint": "EU"})
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(main in names and located in names, f"list_buckets: {names}")
    s3.head_bucket(Bucket=main)
    check(s3.get_bucket_location(Bucket=located)["LocationConstraint"] == "EU", "location EU")
    check(s3.get_bucket_location(Bucket=main)["LocationConstraint"] in (None, ""), "no location")
    # Re-created by its owner: 200 and nothing changes, as S3's us-east-1 answers.
    s3.create_bucket(Bucket=main)
    expect_error(lambda: s3.create_bucket(Bucket=main, ACL="public-read"), "BucketAlreadyExists", 409)
    expect_error(lambda: s3.head_bucket(Bucket=w.bucket("missing")), "404", 404)
    expect_error(lambda: s3.list_objects(Bucket=w.bucket("missing")), "NoSuchBucket", 404)
    check(s3.get_bucket_versioning(Bucket=main).get("Status") is None, "versioning never enabled")

    step("boto3", "bucket logging status: set, read, clear")
    s3.put_bucket_logging(
        Bucket=main,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": located, "TargetPrefix": "logs/"}},
    )
    enabled = s3.get_bucket_logging(Bucket=main)["LoggingEnabled"]
    check(enabled == {"TargetBucket": located, "TargetPrefix": "logs/"}, f"logging: {enabled}")
    s3.put_bucket_logging(Bucket=main, BucketLoggingStatus={})
    check("LoggingEnabled" not in s3.get_bucket_logging(Bucket=main), "logging cleared")
    return main, located


def boto3_objects(w, s3, bucket):
    step("boto3", "put objects with metadata and stored headers; get, head")
    body = b"hello walrus " * 100
    put = s3.put_object(
        Bucket=bucket,
        Key="docs/readme.txt",
        Body=body,
        ContentType="text/plain",
        ContentDisposition='attachment; filename="r.txt"',
        ContentEncoding="identity",
        CacheControl="max-age=60",
        Expires=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc),
        Metadata={"color": "blue", "owner-note": "x y"},
    )
    check(put["ETag"] == f'"{md5_hex(body)}"', f"ETag is the MD5: {put['ETag']}")
    got = s3.get_object(Bucket=bucket, Key="docs/readme.txt")
    check(got["Body"].read() == body, "body round trip")
    check(got["ContentType"] == "text/plain", f"content type {got['ContentType']}")
    check(got["ContentDisposition"] == 'attachment; filename="r.txt"', "disposition")
    check(got["CacheControl"] == "max-age=60", "cache control")
    check(got["ContentEncoding"] == "identity", "content encoding")
    check(got["Metadata"] == {"color": "blue", "owner-note": "x y"}, f"metadata {got['Metadata']}")
    check(got["ExpiresString"].startswith("Tue, 01 Jan 2030"), f"expires {got.get('ExpiresString')}")
    head = s3.head_object(Bucket=bucket, Key="docs/readme.txt")
    check(head["ContentLength"] == len(body), f"head length {head['ContentLength']}")
    check(head["ETag"] == put["ETag"], "head ETag")
    expect_error(lambda: s3.get_object(Bucket=bucket, Key="nope"), "NoSuchKey", 404)
    expect_error(lambda: s3.head_object(Bucket=bucket, Key="nope"), "404", 404)
    expect_error(
        lambda: s3.put_object(Bucket=bucket, Key="big-meta", Body=b"x", Metadata={"m": "v" * 2100}),
        "MetadataTooLarge",
        400,
    )
    expect_error(
        lambda: s3.put_object(Bucket=bucket, Key="bad-md5", Body=b"abc", ContentMD5=base64.b64encode(hashlib.md5(b"abd").digest()).decode()),
        "BadDigest",
        400,
    )

    step("boto3", "keys with spaces, '+', '=', ':', '%', unicode round trip")
    odd = ["a b/c d", "x+y", "k=v&w", "colon:slash/", "100%", "é/ü ß", "tilde~dash-dot.", "q?mark#hash"]
    for key in odd:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        check(s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode(), f"key {key!r}")
    listed = {o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]}
    check(set(odd) <= listed, f"listing shows the odd keys: {sorted(set(odd) - listed)}")

    step("boto3", "ranged GETs: first bytes, open end, suffix, unsatisfiable")
    data = bytes(range(256)) * 40
    s3.put_object(Bucket=bucket, Key="ranges.bin", Body=data)
    for spec, want in [("bytes=0-9", data[:10]), ("bytes=100-", data[100:]), ("bytes=-7", data[-7:]), ("bytes=5000-99999", data[5000:])]:
        part = s3.get_object(Bucket=bucket, Key="ranges.bin", Range=spec)
        check(part["ResponseMetadata"]["HTTPStatusCode"] == 206, f"{spec}: 206")
        check(part["Body"].read() == want, f"{spec}: bytes")
        check(part["ContentRange"].endswith(f"/{len(data)}"), f"{spec}: Content-Range {part['ContentRange']}")
    expect_error(lambda: s3.get_object(Bucket=bucket, Key="ranges.bin", Range="bytes=20000-"), "InvalidRange", 416)

    step("boto3", "conditional GETs: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since")
    etag = s3.head_object(Bucket=bucket, Key="ranges.bin")["ETag"]
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    s3.get_object(Bucket=bucket, Key="ranges.bin", IfMatch=etag)
    expect_error(lambda: s3.get_object(Bucket=bucket, Key="ranges.bin", IfMatch='"0000"'), "PreconditionFailed", 412)
    expect_error(lambda: s3.get_object(Bucket=bucket, Key="ranges.bin", IfNoneMatch=etag), "304", 304)
    s3.get_object(Bucket=bucket, Key="ranges.bin", IfNoneMatch='"0000"')
    expect_error(lambda: s3.get_object(Bucket=bucket, Key="ranges.bin", IfModifiedSince=future), "304", 304)
    s3.get_object(Bucket=bucket, Key="ranges.bin", IfModifiedSince=past)
    expect_error(lambda: s3.get_object(Bucket=bucket, Key="ranges.bin", IfUnmodifiedSince=past), "PreconditionFailed", 412)
    s3.get_object(Bucket=bucket, Key="ranges.bin", IfUnmodifiedSince=future)

    step("boto3", "copy: metadata kept (COPY), replaced (REPLACE), conditional, to itself")
    s3.copy_object(Bucket=bucket, Key="copy1.txt", CopySource={"Bucket": bucket, "Key": "docs/readme.txt"})
    copied = s3.get_object(Bucket=bucket, Key="copy1.txt")
    check(copied["Body"].read() == body and copied["Metadata"]["color"] == "blue", "COPY keeps data and metadata")
    s3.copy_object(
        Bucket=bucket,
        Key="copy2.txt",
        CopySource={"Bucket": bucket, "Key": "docs/readme.txt"},
        MetadataDirective="REPLACE",
        Metadata={"color": "red"},
        ContentType="application/x-test",
    )
    replaced = s3.head_object(Bucket=bucket, Key="copy2.txt")
    check(replaced["Metadata"] == {"color": "red"} and replaced["ContentType"] == "application/x-test", f"REPLACE: {replaced['Metadata']}")
    expect_error(
        lambda: s3.copy_object(Bucket=bucket, Key="copy3.txt", CopySource={"Bucket": bucket, "Key": "docs/readme.txt"}, CopySourceIfMatch='"0000"'),
        "PreconditionFailed",
        412,
    )
    expect_error(
        lambda: s3.copy_object(Bucket=bucket, Key="copy1.txt", CopySource={"Bucket": bucket, "Key": "copy1.txt"}),
        "InvalidRequest",
        400,
    )
    s3.copy_object(Bucket=bucket, Key="a b/copy of odd", CopySource={"Bucket": bucket, "Key": "k=v&w"})
    check(s3.get_object(Bucket=bucket, Key="a b/copy of odd")["Body"].read() == b"k=v&w", "copy of an odd key")
    return body


def boto3_listings(w, s3, bucket):
    step("boto3", "listings: prefix, delimiter, v1 marker paging, v2 continuation, start-after")
    keys = ["list/a", "list/b/1", "list/b/2", "list/c", "list/d/1", "list/e"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    top = s3.list_objects(Bucket=bucket, Prefix="list/", Delimiter="/")
    check([o["Key"] for o in top["Contents"]] == ["list/a", "list/c", "list/e"], f"contents {top.get('Contents')}")
    check([p["Prefix"] for p in top["CommonPrefixes"]] == ["list/b/", "list/d/"], f"prefixes {top.get('CommonPrefixes')}")
    seen, marker = [], ""
    while True:
        page = s3.list_objects(Bucket=bucket, Prefix="list/", MaxKeys=2, Marker=marker)
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        marker = page.get("NextMarker") or page["Contents"][-1]["Key"]
    check(seen == keys, f"v1 paging: {seen}")
    seen = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="list/", PaginationConfig={"PageSize": 2}):
        check(page["KeyCount"] == len(page.get("Contents", [])) + len(page.get("CommonPrefixes", [])), "KeyCount")
        seen += [o["Key"] for o in page.get("Contents", [])]
    check(seen == keys, f"v2 paging: {seen}")
    after = s3.list_objects_v2(Bucket=bucket, Prefix="list/", StartAfter="list/c")
    check([o["Key"] for o in after["Contents"]] == ["list/d/1", "list/e"], f"start-after: {after.get('Contents')}")
    grouped = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="list/", Delimiter="/", PaginationConfig={"PageSize": 1}):
        grouped += [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    check(grouped == ["list/a", "list/b/", "list/c", "list/d/", "list/e"], f"v2 grouped paging: {grouped}")
    owner = s3.list_objects_v2(Bucket=bucket, Prefix="list/a", FetchOwner=True)["Contents"][0]
    check("Owner" in owner, "fetch-owner shows the owner")
    empty = s3.list_objects(Bucket=bucket, MaxKeys=0)
    # S3 answers max-keys=0 with an empty page that is not truncated (issue 10).
    check(not empty["IsTruncated"] and "Contents" not in empty, "max-keys=0")


def boto3_acls(w, s3, bucket):
    step("boto3", "ACLs: canned, grants in XML and headers; anonymous access follows them")
    s3.put_object(Bucket=bucket, Key="acl/private", Body=b"secret")
    s3.put_object(Bucket=bucket, Key="acl/public", Body=b"open", ACL="public-read")
    check(requests.get(w.url(bucket, "acl/public")).content == b"open", "anonymous read of public-read")
    denied = requests.get(w.url(bucket, "acl/private"))
    check(denied.status_code == 403 and error_code(denied) == "AccessDenied", f"anonymous private: {denied.status_code}")
    grants = s3.get_object_acl(Bucket=bucket, Key="acl/public")["Grants"]
    check(any(g["Grantee"].get("URI") == ALL_USERS and g["Permission"] == "READ" for g in grants), f"public grants {grants}")
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]
    s3.put_object_acl(
        Bucket=bucket,
        Key="acl/private",
        AccessControlPolicy={
            "Owner": owner,
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
            ],
        },
    )
    check(requests.get(w.url(bucket, "acl/private")).content == b"secret", "grant by XML opens the object")
    s3.put_object_acl(Bucket=bucket, Key="acl/private", ACL="private")
    check(requests.get(w.url(bucket, "acl/private")).status_code == 403, "private again")
    s3.put_object(Bucket=bucket, Key="acl/granted", Body=b"g", GrantRead=f'uri="{ALL_USERS}"')
    check(requests.get(w.url(bucket, "acl/granted")).content == b"g", "x-amz-grant-read header")
    expect_error(
        lambda: s3.put_object_acl(Bucket=bucket, Key="acl/granted", GrantRead='emailAddress="nobody@example.invalid"'),
        "UnresolvableGrantByEmailAddress",
    )
    listing = requests.get(w.url(bucket) + "?max-keys=1")
    check(listing.status_code == 403, "anonymous listing of a private bucket")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    listing = requests.get(w.url(bucket) + "?max-keys=1")
    check(listing.status_code == 200 and ET.fromstring(listing.content).tag == f"{S3_NS}ListBucketResult", "public-read bucket lists")
    acl = s3.get_bucket_acl(Bucket=bucket)
    check(any(g["Grantee"].get("URI") == ALL_USERS for g in acl["Grants"]), f"bucket grants {acl['Grants']}")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    check(requests.get(w.url(bucket) + "?max-keys=1").status_code == 403, "bucket private again")


def boto3_multipart(w, s3, bucket, big, big_size):
    step("boto3", f"multipart upload of {big_size // MB} MB (8 MB parts), download, compare")
    config = TransferConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB, max_concurrency=4)
    s3.upload_file(big, bucket, "big/file.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big/file.bin")
    parts = -(-big_size // (8 * MB))
    check(head["ContentLength"] == big_size, f"size {head['ContentLength']}")
    check(head["ETag"].strip('"').endswith(f"-{parts}"), f"multipart ETag {head['ETag']}")
    back = os.path.join(w.args.workdir, "boto3-back.bin")
    s3.download_file(bucket, "big/file.bin", back, Config=config)
    check(file_sha256(back) == file_sha256(big), "downloaded file equals the uploaded one")
    os.remove(back)
    with open(big, "rb") as f:
        f.seek(big_size - 100 * 1000)
        tail = f.read()
        f.seek(8 * MB - 10)
        straddle = f.read(20)
    got = s3.get_object(Bucket=bucket, Key="big/file.bin", Range=f"bytes={8 * MB - 10}-{8 * MB + 9}")["Body"].read()
    check(got == straddle, "a range across two parts")
    check(s3.get_object(Bucket=bucket, Key="big/file.bin", Range="bytes=-100000")["Body"].read() == tail, "suffix range of a multipart object")

    step("boto3", "multipart by hand: list uploads and parts, bad completions, abort, copy part")
    key = "mp/manual"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-parts", Metadata={"k": "v"})["UploadId"]
    part1 = os.urandom(5 * MB)
    part2 = b"tail"
    e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=part1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=2, Body=part2)["ETag"]
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload)["Parts"]
    check([(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [(1, e1, len(part1)), (2, e2, len(part2))], f"parts {listed}")
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    check(any(u["UploadId"] == upload and u["Key"] == key for u in uploads), f"uploads {uploads}")
    expect_error(
        lambda: s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00"'}]}),
        "InvalidPart",
        400,
    )
    expect_error(
        lambda: s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]}),
        "InvalidPartOrder",
        400,
    )
    e3 = s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=upload, PartNumber=3, CopySource={"Bucket": bucket, "Key": "ranges.bin"}, CopySourceRange="bytes=0-99")["CopyPartResult"]["ETag"]
    expect_error(
        lambda: s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e3}]}),
        "EntityTooSmall",
        400,
    )
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 3, "ETag": e3}]}
    )
    expected_etag = hashlib.md5(hashlib.md5(part1).digest() + binascii.unhexlify(e3.strip('"'))).hexdigest() + "-2"
    check(done["ETag"].strip('"') == expected_etag, f"S3's multipart ETag: {done['ETag']} vs {expected_etag}")
    whole = s3.get_object(Bucket=bucket, Key=key)
    check(whole["Body"].read() == part1 + (bytes(range(256)) * 40)[:100], "completed object = parts 1 and 3")
    check(whole["ContentType"] == "application/x-parts" and whole["Metadata"] == {"k": "v"}, "initiate's headers kept")
    expect_error(lambda: s3.list_parts(Bucket=bucket, Key=key, UploadId=upload), "NoSuchUpload", 404)
    aborted = s3.create_multipart_upload(Bucket=bucket, Key="mp/aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mp/aborted", UploadId=aborted, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="mp/aborted", UploadId=aborted)
    expect_error(lambda: s3.abort_multipart_upload(Bucket=bucket, Key="mp/aborted", UploadId=aborted), "NoSuchUpload", 404)
    expect_error(lambda: s3.head_object(Bucket=bucket, Key="mp/aborted"), "404", 404)


def boto3_presigned_and_v2(w, s3, bucket):
    step("boto3", "presigned URLs, SigV4 and SigV2 (query string)")
    s3.put_object(Bucket=bucket, Key="presigned/obj", Body=b"presigned data")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "presigned/obj"}, ExpiresIn=300)
    check(requests.get(url).content == b"presigned data", f"SigV4 presigned GET {url}")
    v2 = w.client(signature="s3")
    url2 = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "presigned/obj"}, ExpiresIn=300)
    check("Signature=" in url2 and requests.get(url2).content == b"presigned data", "SigV2 presigned GET")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "presigned/put"}, ExpiresIn=300)
    check(requests.put(put_url, data=b"put via url").status_code == 200, "presigned PUT")
    check(s3.get_object(Bucket=bucket, Key="presigned/put")["Body"].read() == b"put via url", "presigned PUT stored")
    tampered = url.replace("presigned/obj", "presigned/put")
    bad = requests.get(tampered)
    check(bad.status_code == 403 and error_code(bad) == "SignatureDoesNotMatch", "tampered presigned URL refused")

    step("boto3", "a SigV2 client: put, get, list, copy, delete")
    v2.put_object(Bucket=bucket, Key="v2/obj", Body=b"v2 data", Metadata={"a": "1"})
    check(v2.get_object(Bucket=bucket, Key="v2/obj")["Body"].read() == b"v2 data", "SigV2 get")
    check([o["Key"] for o in v2.list_objects(Bucket=bucket, Prefix="v2/")["Contents"]] == ["v2/obj"], "SigV2 list")
    v2.copy_object(Bucket=bucket, Key="v2/copy", CopySource={"Bucket": bucket, "Key": "v2/obj"})
    v2.delete_object(Bucket=bucket, Key="v2/copy")
    check(v2.get_object_acl(Bucket=bucket, Key="v2/obj")["Owner"]["ID"], "SigV2 ACL read")


def post_form(url, fields, content, filename="upload.txt"):
    return requests.post(url, data=fields, files={"file": (filename, content)}, allow_redirects=False)


def boto3_post_uploads(w, s3, bucket):
    step("boto3", "browser POST uploads: SigV4 and SigV2 policies, status, redirect, limits")
    post = s3.generate_presigned_post(
        bucket,
        "posted/${filename}",
        Fields={"acl": "public-read", "success_action_status": "201", "Content-Type": "text/plain", "x-amz-meta-from": "form"},
        Conditions=[
            {"acl": "public-read"},
            {"success_action_status": "201"},
            ["starts-with", "$Content-Type", "text/"],
            {"x-amz-meta-from": "form"},
            ["content-length-range", 1, 1000],
        ],
        ExpiresIn=300,
    )
    reply = post_form(post["url"], post["fields"], b"posted content", "note.txt")
    check(reply.status_code == 201, f"POST v4: {reply.status_code} {reply.text}")
    doc = ET.fromstring(reply.content)
    check(doc.findtext(f"{S3_NS}Key") == "posted/note.txt" and doc.findtext(f"{S3_NS}Bucket") == bucket, f"PostResponse {reply.text}")
    check(doc.findtext(f"{S3_NS}Location").endswith(f"/{bucket}/posted/note.txt"), f"PostResponse location {reply.text}")
    got = s3.get_object(Bucket=bucket, Key="posted/note.txt")
    check(got["Body"].read() == b"posted content" and got["ContentType"] == "text/plain", "posted object")
    check(got["Metadata"] == {"from": "form"}, f"posted metadata {got['Metadata']}")
    check(requests.get(w.url(bucket, "posted/note.txt")).status_code == 200, "posted with public-read")
    too_big = post_form(post["url"], post["fields"], b"x" * 2000)
    check(too_big.status_code == 400 and error_code(too_big) == "EntityTooLarge", f"content-length-range: {too_big.status_code}")
    forged = dict(post["fields"])
    forged["x-amz-signature"] = "0" * 64
    refused = post_form(post["url"], forged, b"forged")
    check(refused.status_code == 403 and error_code(refused) == "SignatureDoesNotMatch", f"forged POST: {refused.status_code}")
    extra = dict(post["fields"])
    extra["x-amz-meta-sneaky"] = "1"
    refused = post_form(post["url"], extra, b"extra field")
    check(refused.status_code == 403 and error_code(refused) == "AccessDenied", f"field not in policy: {refused.status_code}")

    v2 = w.client(signature="s3")
    redirect_to = "http://example.invalid/done"
    post2 = v2.generate_presigned_post(
        bucket, "posted/v2.txt", Fields={"success_action_redirect": redirect_to}, Conditions=[{"success_action_redirect": redirect_to}], ExpiresIn=300
    )
    check("signature" in post2["fields"] and "AWSAccessKeyId" in post2["fields"], f"SigV2 form fields {post2['fields']}")
    reply = post_form(post2["url"], post2["fields"], b"v2 form")
    check(reply.status_code == 303 and reply.headers["Location"].startswith(redirect_to + "?bucket="), f"redirect {reply.status_code} {reply.headers.get('Location')}")
    check(s3.get_object(Bucket=bucket, Key="posted/v2.txt")["Body"].read() == b"v2 form", "SigV2 posted object")


def sigv4_key(secret, date, region="us-east-1", service="s3"):
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def chunked_put(w, bucket, key, data, chunk_size, mode, tamper=False, trailer_of=None, encoding="aws-chunked"):
    """PUTs `data` as an aws-chunked body, signed per chunk (mode "signed") or unsigned with
    a CRC32 trailer (mode "trailer", of `trailer_of` instead of `data` if given), as SDKs that
    stream uploads do; answers (status, body, headers). Independent of our server code:
    written from Amazon's description of the protocol."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{date}/us-east-1/s3/aws4_request"
    path = urllib.parse.quote(f"{w.path}/{bucket}/{key}", safe="/~")
    pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" if mode == "signed" else "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    headers = {
        "content-encoding": encoding,
        "host": f"{w.host}:{w.port}",
        "x-amz-content-sha256": payload,
        "x-amz-date": amz_date,
        "x-amz-decoded-content-length": str(len(data)),
    }
    if mode == "trailer":
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    signed = ";".join(sorted(headers))
    canonical = "PUT\n{}\n\n{}\n{}\n{}".format(path, "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, payload)
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key_bytes = sigv4_key(w.args.secret_key, date)
    previous = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={w.args.access_key}/{scope},SignedHeaders={signed},Signature={previous}"
    body = b""
    empty = hashlib.sha256(b"").hexdigest()
    for piece in pieces:
        if mode == "signed":
            text = f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{empty}\n{hashlib.sha256(piece).hexdigest()}"
            previous = hmac.new(key_bytes, text.encode(), hashlib.sha256).hexdigest()
            body += f"{len(piece):x};chunk-signature={previous}\r\n".encode()
        else:
            body += f"{len(piece):x}\r\n".encode()
        if tamper and piece:
            piece = piece[:-1] + bytes([piece[-1] ^ 1])
            tamper = False
        body += piece + (b"\r\n" if piece or mode == "signed" else b"")
    if mode == "trailer":
        crc = base64.b64encode(binascii.crc32(data if trailer_of is None else trailer_of).to_bytes(4, "big")).decode()
        body += f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode()
    headers["content-length"] = str(len(body))
    connection = http.client.HTTPConnection(w.host, w.port, timeout=60)
    connection.request("PUT", path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read(), response.headers


def boto3_streaming(w, s3, bucket):
    step("raw", "SigV4 chunked uploads: signed chunks, a tampered chunk, unsigned with a CRC32 trailer (checked, stored)")
    data = os.urandom(300 * 1024 + 17)
    status, text, _ = chunked_put(w, bucket, "chunked/signed", data, 64 * 1024, "signed")
    check(status == 200, f"signed chunked PUT: {status} {text[:300]}")
    stored = s3.get_object(Bucket=bucket, Key="chunked/signed")
    check(stored["Body"].read() == data and "ContentEncoding" not in stored, "decoded content stored, aws-chunked dropped")
    # aws-chunked is how the body travels, not what it is: the other encodings stay as sent.
    status, text, _ = chunked_put(w, bucket, "chunked/encoded", data, 64 * 1024, "signed", encoding="aws-chunked, deflate, gzip")
    check(status == 200, f"signed chunked PUT with more encodings: {status} {text[:300]}")
    encoded = s3.head_object(Bucket=bucket, Key="chunked/encoded").get("ContentEncoding")
    check(encoded == "deflate, gzip", f"stored Content-Encoding {encoded!r}")
    status, text, _ = chunked_put(w, bucket, "chunked/tampered", data, 64 * 1024, "signed", tamper=True)
    check(status == 403 and b"SignatureDoesNotMatch" in text, f"tampered chunk: {status} {text[:300]}")
    expect_error(lambda: s3.head_object(Bucket=bucket, Key="chunked/tampered"), "404", 404)
    status, text, headers = chunked_put(w, bucket, "chunked/trailer", data, 50_000, "trailer")
    check(status == 200, f"unsigned chunked PUT with trailer: {status} {text[:300]}")
    crc = base64.b64encode(binascii.crc32(data).to_bytes(4, "big")).decode()
    check(headers.get("x-amz-checksum-crc32") == crc, f"the trailer's CRC32 answered: {headers.get('x-amz-checksum-crc32')!r}")
    stored = s3.get_object(Bucket=bucket, Key="chunked/trailer", ChecksumMode="ENABLED")
    check(stored.get("ChecksumCRC32") == crc, f"the trailer's CRC32 stored: {stored.get('ChecksumCRC32')!r}")
    check(stored["Body"].read() == data, "trailer upload content")
    # A trailer that does not match the data: refused, nothing stored.
    status, text, _ = chunked_put(w, bucket, "chunked/bad-trailer", data, 50_000, "trailer", trailer_of=b"other")
    check(status == 400 and b"<Code>BadDigest</Code>" in text, f"a wrong trailer CRC32: {status} {text[:300]}")
    expect_error(lambda: s3.head_object(Bucket=bucket, Key="chunked/bad-trailer"), "404", 404)


def boto3_virtual_host(w, bucket):
    if not w.args.domain:
        return
    step("raw", f"virtual-host style: Host {bucket}.{w.args.domain}")
    credentials = Credentials(w.args.access_key, w.args.secret_key)
    host = f"{bucket}.{w.args.domain}:{w.port}"
    for method, key, body in [("PUT", "vhost/obj", b"virtual"), ("GET", "vhost/obj", None)]:
        request = AWSRequest(method=method, url=f"http://{host}/{key}", data=body)
        request.headers["x-amz-content-sha256"] = hashlib.sha256(body or b"").hexdigest()
        S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
        headers = dict(request.headers)
        headers["Host"] = host
        reply = requests.request(method, f"http://{w.host}:{w.port}/{key}", data=body, headers=headers)
        check(reply.status_code == 200, f"vhost {method}: {reply.status_code} {reply.text[:300]}")
    check(reply.content == b"virtual", "vhost GET content")


def boto3_cleanup(w, s3, buckets):
    step("boto3", "delete: a non-empty bucket is refused; batch delete; delete buckets")
    main = buckets[0]
    expect_error(lambda: s3.delete_bucket(Bucket=main), "BucketNotEmpty", 409)
    for bucket in buckets:
        while True:
            listed = s3.list_objects_v2(Bucket=bucket)
            keys = [{"Key": o["Key"]} for o in listed.get("Contents", [])]
            if not keys:
                break
            result = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            check(len(result.get("Deleted", [])) == len(keys) and not result.get("Errors"), f"batch delete {result.get('Errors')}")
        s3.delete_object(Bucket=bucket, Key="never-existed")
        s3.delete_bucket(Bucket=bucket)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(not set(buckets) & set(names), f"buckets gone: {names}")


def run_boto3(w, big, big_size):
    s3 = w.client()
    main, located = boto3_buckets(w, s3)
    boto3_objects(w, s3, main)
    boto3_listings(w, s3, main)
    boto3_acls(w, s3, main)
    boto3_multipart(w, s3, main, big, big_size)
    boto3_presigned_and_v2(w, s3, main)
    boto3_post_uploads(w, s3, main)
    boto3_streaming(w, s3, main)
    boto3_virtual_host(w, main)
    boto3_cleanup(w, s3, [main, located])


# ---------------------------------------------------------------- AWS CLI


def run(command, env=None):
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise Failure(f"{' '.join(command)} exited {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}")
    return result.stdout


def run_aws_cli(w, big, big_size):
    config = os.path.join(w.args.workdir, "aws-config")
    with open(config, "w") as f:
        f.write("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=w.args.access_key,
        AWS_SECRET_ACCESS_KEY=w.args.secret_key,
        AWS_CONFIG_FILE=config,
        AWS_SHARED_CREDENTIALS_FILE=os.path.join(w.args.workdir, "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    command = [os.path.join(w.args.bin, "aws"), "--endpoint-url", w.endpoint]

    def aws(arguments):
        return run(command + arguments, env)

    bucket = w.bucket("cli")
    small = os.path.join(w.args.workdir, "cli-small.txt")
    with open(small, "wb") as f:
        f.write(b"from the aws cli\n" * 50)

    step("aws", "s3api create-bucket, s3 ls, put-object, head-object, ranged get-object")
    aws(["s3api", "create-bucket", "--bucket", bucket])
    check(bucket in aws(["s3", "ls"]), "aws s3 ls shows the bucket")
    aws(["s3api", "put-object", "--bucket", bucket, "--key", "dir/small.txt", "--body", small, "--content-type", "text/plain", "--metadata", "k=v"])
    head = aws(["s3api", "head-object", "--bucket", bucket, "--key", "dir/small.txt"])
    check('"ContentLength": 850' in head and '"k": "v"' in head, f"head-object: {head}")
    ranged = os.path.join(w.args.workdir, "cli-range.out")
    aws(["s3api", "get-object", "--bucket", bucket, "--key", "dir/small.txt", "--range", "bytes=5-8", ranged])
    with open(ranged, "rb") as f:
        check(f.read() == b"the ", "aws get-object --range")

    step("aws", f"s3 cp of {big_size // MB} MB (multipart), cp back, compare; s3 ls; put-object-acl")
    aws(["s3", "cp", big, f"s3://{bucket}/big.bin"])
    listing = aws(["s3", "ls", f"s3://{bucket}/"])
    check("big.bin" in listing and str(big_size) in listing, f"aws s3 ls: {listing}")
    back = os.path.join(w.args.workdir, "cli-back.bin")
    aws(["s3", "cp", f"s3://{bucket}/big.bin", back])
    check(file_sha256(back) == file_sha256(big), "aws s3 cp round trip")
    os.remove(back)
    aws(["s3", "cp", f"s3://{bucket}/big.bin", f"s3://{bucket}/copy/big.bin"])
    check(str(big_size) in aws(["s3", "ls", f"s3://{bucket}/copy/"]), "server-side copy of a large object")
    aws(["s3api", "put-object-acl", "--bucket", bucket, "--key", "dir/small.txt", "--acl", "public-read"])
    check(requests.get(w.url(bucket, "dir/small.txt")).status_code == 200, "aws put-object-acl public-read")
    acl = aws(["s3api", "get-bucket-acl", "--bucket", bucket])
    check("FULL_CONTROL" in acl, f"get-bucket-acl: {acl}")

    step("aws", "s3 rm --recursive, s3 rb")
    aws(["s3", "rm", f"s3://{bucket}", "--recursive"])
    aws(["s3", "rb", f"s3://{bucket}"])
    check(bucket not in aws(["s3", "ls"]), "bucket removed")


# ---------------------------------------------------------------- s3cmd


def run_s3cmd(w, big, big_size, signature_v2):
    label = "s3cmd-v2" if signature_v2 else "s3cmd-v4"
    config = os.path.join(w.args.workdir, f"{label}.cfg")
    with open(config, "w") as f:
        f.write(
            "[default]\n"
            f"access_key = {w.args.access_key}\n"
            f"secret_key = {w.args.secret_key}\n"
            f"host_base = {w.host}:{w.port}\n"
            f"host_bucket = {w.host}:{w.port}\n"
            "use_https = False\n"
            f"signature_v2 = {signature_v2}\n"
            "bucket_location = us-east-1\n"
            "multipart_chunk_size_mb = 15\n"
            "progress_meter = False\n"
        )
    s3cmd = [os.path.join(w.args.bin, "s3cmd"), "-c", config]
    bucket = w.bucket(label)
    small = os.path.join(w.args.workdir, f"{label}-small.txt")
    with open(small, "wb") as f:
        f.write(b"from s3cmd " * 30)

    step(label, "mb, put, ls, info, get, setacl, del, rb (path style at the root)")
    run(s3cmd + ["mb", f"s3://{bucket}"])
    check(bucket in run(s3cmd + ["ls"]), "s3cmd ls shows the bucket")
    run(s3cmd + ["put", small, f"s3://{bucket}/dir/small file.txt", "--mime-type=text/plain", "--add-header=x-amz-meta-tool:s3cmd"])
    listing = run(s3cmd + ["ls", "--recursive", f"s3://{bucket}"])
    check("dir/small file.txt" in listing, f"s3cmd ls: {listing}")
    info = run(s3cmd + ["info", f"s3://{bucket}/dir/small file.txt"])
    check(md5_hex(open(small, "rb").read()) in info and "text/plain" in info, f"s3cmd info: {info}")
    back = os.path.join(w.args.workdir, f"{label}-back.txt")
    run(s3cmd + ["get", "--force", f"s3://{bucket}/dir/small file.txt", back])
    check(open(back, "rb").read() == open(small, "rb").read(), "s3cmd get")
    run(s3cmd + ["setacl", "--acl-public", f"s3://{bucket}/dir/small file.txt"])
    check(requests.get(w.url(bucket, "dir/small file.txt")).status_code == 200, "s3cmd setacl --acl-public")

    if signature_v2:
        # Guards the service path in host_base (S3_URL's path), which s3cmd sends lower-cased.
        step(label, "ls with host_base HOST:PORT/services/Walrus")
        prefixed = f"{w.host}:{w.port}/services/Walrus"
        listing = run(s3cmd + [f"--host={prefixed}", f"--host-bucket={prefixed}", "ls", "--recursive", f"s3://{bucket}"])
        check("dir/small file.txt" in listing, f"s3cmd ls under /services/Walrus: {listing}")

    step(label, f"put of {big_size // MB} MB (15 MB multipart), get, compare")
    run(s3cmd + ["put", big, f"s3://{bucket}/big.bin"])
    back_big = os.path.join(w.args.workdir, f"{label}-big.bin")
    run(s3cmd + ["get", "--force", f"s3://{bucket}/big.bin", back_big])
    check(file_sha256(back_big) == file_sha256(big), "s3cmd multipart round trip")
    os.remove(back_big)

    run(s3cmd + ["del", "--recursive", "--force", f"s3://{bucket}"])
    run(s3cmd + ["rb", f"s3://{bucket}"])
    check(bucket not in run(s3cmd + ["ls"]), "s3cmd rb")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--domain")
    parser.add_argument("--big-mb", type=int, default=100)
    args = parser.parse_args()
    w = Walrus(args)
    big_size = args.big_mb * MB
    big = os.path.join(args.workdir, "big.bin")
    make_file(big, big_size)
    started = time.monotonic()
    try:
        run_boto3(w, big, big_size)
        run_aws_cli(w, big, big_size)
        run_s3cmd(w, big, big_size, signature_v2=True)
        run_s3cmd(w, big, big_size, signature_v2=False)
    except (Failure, ClientError, botocore.exceptions.BotoCoreError, requests.RequestException) as e:
        print(f"FAILED: {type(e).__name__}: {e}", flush=True)
        return 1
    finally:
        os.remove(big)
    print(f"all client checks passed in {time.monotonic() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""S3 behaviours of issue 10 that current clients and conformance suites check, one group per
function, driven with boto3 against a running Walrus (status, S3 error Code and headers).

Usage: walrus_conformance.py --endpoint URL --users FILE   (lines: name access secret email)
Prints one line per group; exits non-zero on the first difference from S3.
"""

import base64
import concurrent.futures
import datetime
import hashlib
import hmac
import os
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from walrus_users import endpoint_and_users


class Failure(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failure(what)


def error_of(call):
    """(Code, HTTP status, headers) of a refused call."""
    try:
        call()
    except ClientError as e:
        meta = e.response["ResponseMetadata"]
        return e.response["Error"].get("Code"), meta["HTTPStatusCode"], meta["HTTPHeaders"]
    raise Failure("expected an error, the call succeeded")


def refused(call, code, status):
    got = error_of(call)
    check(got[:2] == (code, status), f"expected {code} ({status}), got {got[:2]}")
    return got[2]


def client(endpoint, user):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=user["access"],
        aws_secret_access_key=user["secret"],
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def grants(s3, bucket):
    return sorted((g["Grantee"].get("ID") or g["Grantee"].get("URI"), g["Permission"]) for g in s3.get_bucket_acl(Bucket=bucket)["Grants"])


def bucket_recreation(alice, bob, bucket):
    print("bucket re-creation: 200 for its owner with no ACL or the same, 409 BucketAlreadyExists otherwise", flush=True)
    alice.create_bucket(Bucket=bucket)
    alice.put_object(Bucket=bucket, Key="kept", Body=b"still here")
    private = grants(alice, bucket)
    alice.create_bucket(Bucket=bucket)
    alice.create_bucket(Bucket=bucket, ACL="private")
    check(alice.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"still here", "objects stay")
    check(grants(alice, bucket) == private, "the ACL stays")
    refused(lambda: alice.create_bucket(Bucket=bucket, ACL="public-read"), "BucketAlreadyExists", 409)
    check(grants(alice, bucket) == private, "a refused re-creation changes nothing")
    alice.put_bucket_acl(Bucket=bucket, ACL="public-read")
    public = grants(alice, bucket)
    alice.create_bucket(Bucket=bucket)
    check(grants(alice, bucket) == public, "re-creating without an ACL keeps the one set")
    alice.create_bucket(Bucket=bucket, ACL="public-read")
    refused(lambda: bob.create_bucket(Bucket=bucket), "BucketAlreadyExists", 409)
    refused(lambda: bob.create_bucket(Bucket=bucket, ACL="public-read"), "BucketAlreadyExists", 409)


def conditional_get(alice, bucket):
    print("conditional GET: 304 replies carry ETag and Last-Modified", flush=True)
    alice.put_object(Bucket=bucket, Key="cond", Body=b"conditional")
    head = alice.head_object(Bucket=bucket, Key="cond")
    etag, modified = head["ETag"], head["ResponseMetadata"]["HTTPHeaders"]["last-modified"]
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    for what, call in [
        ("GET If-None-Match", lambda: alice.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)),
        ("GET If-Modified-Since", lambda: alice.get_object(Bucket=bucket, Key="cond", IfModifiedSince=future)),
        ("HEAD If-None-Match", lambda: alice.head_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)),
    ]:
        headers = refused(call, "304", 304)
        check(headers.get("etag") == etag, f"{what}: ETag {headers.get('etag')!r}, expected {etag!r}")
        check(headers.get("last-modified") == modified, f"{what}: Last-Modified {headers.get('last-modified')!r}")
    headers = refused(lambda: alice.get_object(Bucket=bucket, Key="cond", IfMatch='"0"'), "PreconditionFailed", 412)
    check("etag" not in headers, "a 412 names no version")


def listing(alice, bucket):
    print("listing: max-keys=0 is an empty, whole page; url encoding round-trips a prefix of \\n", flush=True)
    page = alice.list_objects(Bucket=bucket, MaxKeys=0)
    check(page.get("Contents", []) == [] and page["IsTruncated"] is False, f"max-keys=0: {page}")
    page = alice.list_objects_v2(Bucket=bucket, MaxKeys=0)
    check(page["KeyCount"] == 0 and page["IsTruncated"] is False, f"v2 max-keys=0: {page}")
    for key in ["\nfirst", "\nsecond/deeper", "\tother"]:
        alice.put_object(Bucket=bucket, Key=key, Body=b"x")
    # boto3 asks for EncodingType=url and decodes only what the reply says is encoded.
    page = alice.list_objects(Bucket=bucket, Prefix="\n", Delimiter="/", Marker="\n")
    check(page.get("EncodingType") == "url", f"EncodingType echoed: {page.get('EncodingType')}")
    check([c["Key"] for c in page["Contents"]] == ["\nfirst"], f"keys: {page.get('Contents')}")
    check([p["Prefix"] for p in page["CommonPrefixes"]] == ["\nsecond/"], f"prefixes: {page.get('CommonPrefixes')}")
    # botocore decodes Prefix in v2 replies only, so a v1 reply's shows encoded, as S3 sends it.
    check((page["Prefix"], page["Delimiter"], page["Marker"]) == ("%0A", "/", "\n"), f"echoes: {page}")
    page = alice.list_objects(Bucket=bucket, Prefix="\n", MaxKeys=1)
    check(page["IsTruncated"] and page["NextMarker"] == "\nfirst", f"NextMarker decoded: {page.get('NextMarker')!r}")
    page = alice.list_objects_v2(Bucket=bucket, Prefix="\n", StartAfter="\nfirst")
    check((page["StartAfter"], page["Prefix"]) == ("\nfirst", "\n"), f"v2 echoes decoded: {page}")
    check([c["Key"] for c in page["Contents"]] == ["\nsecond/deeper"], f"v2 keys: {page.get('Contents')}")
    # boto3 decodes what it reads, so the wire itself shows that each field is encoded.
    replies = []
    alice.meta.events.register("before-parse.s3.*", lambda response_dict, **_: replies.append(response_dict["body"]))
    alice.list_objects(Bucket=bucket, Prefix="\n", Delimiter="\t", Marker="\n", MaxKeys=1)
    alice.list_objects(Bucket=bucket, Delimiter="\t")
    alice.list_objects_v2(Bucket=bucket, Prefix="\n", StartAfter="\n")
    alice.meta.events.unregister("before-parse.s3.*")
    v1, prefixes, v2 = (ET.fromstring(r) for r in replies)

    def field(doc, name):
        return [e.text or "" for e in doc.iter() if e.tag.split("}")[-1] == name]

    for doc, name, wanted in [(v1, "EncodingType", ["url"]), (v1, "Prefix", ["%0A"]), (v1, "Delimiter", ["%09"]),
                              (v1, "Marker", ["%0A"]), (v1, "NextMarker", ["%0Afirst"]), (v1, "Key", ["%0Afirst"]),
                              (prefixes, "Prefix", ["", "%09"]), (v2, "StartAfter", ["%0A"]), (v2, "Prefix", ["%0A"]),
                              (v2, "Key", ["%0Afirst", "%0Asecond/deeper"])]:
        check(field(doc, name) == wanted, f"{name} on the wire: {field(doc, name)}, expected {wanted}")


def aws_chunked(alice, endpoint, bucket):
    print("aws-chunked: removed from the stored Content-Encoding, the rest kept as sent", flush=True)
    alice.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    sent = requests.put(f"{endpoint}/{bucket}/encoded", data=b"x", headers={"Content-Encoding": "aws-chunked,deflate, gzip"}, timeout=30)
    check(sent.status_code == 200, f"anonymous PUT: {sent.status_code} {sent.text[:200]}")
    stored = alice.head_object(Bucket=bucket, Key="encoded").get("ContentEncoding")
    check(stored == "deflate, gzip", f"Content-Encoding {stored!r}")
    alice.put_bucket_acl(Bucket=bucket, ACL="private")


MB = 1 << 20


class SlowBody:
    """A request body that arrives in small pieces over about three seconds; `started` is set
    once the first piece is sent."""

    PIECE = 64 * 1024

    def __init__(self, data):
        self.data, self.at, self.len = data, 0, len(data)
        self.started = threading.Event()

    def read(self, size=-1):
        piece = self.data[self.at:self.at + min(self.PIECE, size if size > 0 else self.PIECE)]
        if self.at:
            time.sleep(3 * len(piece) / self.len)
        self.at += len(piece)
        self.started.set()
        return piece


def multipart(alice, bucket):
    print("multipart: a second completion, GET/HEAD by partNumber, a re-sent part, UploadPartCopy outside the source", flush=True)
    first, second, resent = b"a" * (5 * MB), b"b" * MB, b"c" * (5 * MB)
    upload = alice.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
    alice.upload_part(Bucket=bucket, Key="parts", UploadId=upload, PartNumber=1, Body=first)
    # Part 1 re-sent while part 2 is still arriving: the last copy written is the one completed.
    slow = SlowBody(second)
    url = alice.generate_presigned_url("upload_part", Params={"Bucket": bucket, "Key": "parts", "UploadId": upload, "PartNumber": 2})
    part_two = concurrent.futures.ThreadPoolExecutor(1).submit(lambda: requests.put(url, data=slow, timeout=60))
    check(slow.started.wait(30), "part 2 started")
    one = alice.upload_part(Bucket=bucket, Key="parts", UploadId=upload, PartNumber=1, Body=resent)["ETag"]
    check(not part_two.done(), "part 1 was re-sent while part 2 was arriving")
    sent_two = part_two.result()
    check(sent_two.status_code == 200, f"the slow part 2: {sent_two.status_code} {sent_two.text[:200]}")
    two = sent_two.headers["ETag"]
    parts = alice.list_parts(Bucket=bucket, Key="parts", UploadId=upload)["Parts"]
    check([(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, one, len(resent)), (2, two, len(second))], f"parts: {parts}")
    listed = {"Parts": [{"PartNumber": 1, "ETag": one}, {"PartNumber": 2, "ETag": two}]}
    done = alice.complete_multipart_upload(Bucket=bucket, Key="parts", UploadId=upload, MultipartUpload=listed)
    # Completed again with the same parts: the same answer, as S3 gives.
    again = alice.complete_multipart_upload(Bucket=bucket, Key="parts", UploadId=upload, MultipartUpload=listed)
    check((again["ETag"], again["Key"]) == (done["ETag"], "parts"), f"second completion: {again}")
    refused(lambda: alice.complete_multipart_upload(Bucket=bucket, Key="parts", UploadId=upload,
                                                    MultipartUpload={"Parts": listed["Parts"][:1]}), "NoSuchUpload", 404)
    for number, data, start in [(1, resent, 0), (2, second, 5 * MB)]:
        got = alice.get_object(Bucket=bucket, Key="parts", PartNumber=number)
        check(got["ResponseMetadata"]["HTTPStatusCode"] == 206, f"part {number}: 206")
        check(got["Body"].read() == data, f"part {number}: its bytes")
        check(got["PartsCount"] == 2, f"part {number}: x-amz-mp-parts-count {got.get('PartsCount')}")
        check(got["ContentRange"] == f"bytes {start}-{start + len(data) - 1}/{6 * MB}", f"part {number}: {got['ContentRange']}")
    head = alice.head_object(Bucket=bucket, Key="parts", PartNumber=2)
    check((head["ContentLength"], head["PartsCount"]) == (MB, 2), f"HEAD part 2: {head}")
    refused(lambda: alice.get_object(Bucket=bucket, Key="parts", PartNumber=3), "InvalidPartNumber", 400)
    refused(lambda: alice.head_object(Bucket=bucket, Key="parts", PartNumber=3), "400", 400)  # HEAD: no body, no Code
    alice.put_object(Bucket=bucket, Key="simple", Body=b"0123456789")
    whole = alice.get_object(Bucket=bucket, Key="simple", PartNumber=1)
    check(whole["Body"].read() == b"0123456789", "a simple object is its own part 1")
    refused(lambda: alice.get_object(Bucket=bucket, Key="simple", PartNumber=2), "InvalidPartNumber", 400)
    refused(lambda: alice.head_object(Bucket=bucket, Key="simple", PartNumber=2), "400", 400)
    upload = alice.create_multipart_upload(Bucket=bucket, Key="copied")["UploadId"]
    refused(lambda: alice.upload_part_copy(Bucket=bucket, Key="copied", UploadId=upload, PartNumber=1,
                                           CopySource={"Bucket": bucket, "Key": "simple"}, CopySourceRange="bytes=100-200"),
            "InvalidRange", 416)
    alice.abort_multipart_upload(Bucket=bucket, Key="copied", UploadId=upload)


ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def canned_acls(alice, bob, bucket):
    print("ACLs: canned ACLs expand to their grants; user grants carry ID and DisplayName as ListBuckets", flush=True)
    owners = {}
    for s3 in (alice, bob):
        owner = s3.list_buckets()["Owner"]
        owners[owner["ID"]] = owner["DisplayName"]
    alice_id = next(i for i, n in owners.items() if n == "alice")
    expected = {
        "private": [(alice_id, "FULL_CONTROL")],
        "public-read": [(alice_id, "FULL_CONTROL"), (ALL_USERS, "READ")],
        "public-read-write": [(alice_id, "FULL_CONTROL"), (ALL_USERS, "READ"), (ALL_USERS, "WRITE")],
        "authenticated-read": [(alice_id, "FULL_CONTROL"), (AUTHENTICATED, "READ")],
    }
    for canned, grants_wanted in expected.items():
        alice.put_bucket_acl(Bucket=bucket, ACL=canned)
        acl = alice.get_bucket_acl(Bucket=bucket)
        check(grants(alice, bucket) == sorted(grants_wanted), f"{canned}: {acl['Grants']}")
        for grant in acl["Grants"] + [{"Grantee": acl["Owner"]}]:
            grantee = grant["Grantee"]
            if "ID" in grantee:
                check(grantee.get("DisplayName") == owners[grantee["ID"]], f"{canned}: DisplayName of {grantee}")
    # The same canned ACLs on an object.
    for canned, grants_wanted in expected.items():
        alice.put_object(Bucket=bucket, Key=f"canned-{canned}", Body=b"x", ACL=canned)
        acl = alice.get_object_acl(Bucket=bucket, Key=f"canned-{canned}")
        named = sorted((g["Grantee"].get("ID") or g["Grantee"].get("URI"), g["Permission"]) for g in acl["Grants"])
        check(named == sorted(grants_wanted), f"object {canned}: {acl['Grants']}")
        check(all(g["Grantee"].get("DisplayName") == "alice" for g in acl["Grants"] if "ID" in g["Grantee"]), f"object {canned}: names")
    # bucket-owner-* name the bucket's owner, with the name ListBuckets gives bob.
    alice.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    for canned, permission in [("bucket-owner-read", "READ"), ("bucket-owner-full-control", "FULL_CONTROL")]:
        bob.put_object(Bucket=bucket, Key=f"from-bob-{canned}", Body=b"x", ACL=canned)
        acl = bob.get_object_acl(Bucket=bucket, Key=f"from-bob-{canned}")
        named = [(g["Grantee"].get("ID"), g["Grantee"].get("DisplayName"), g["Permission"]) for g in acl["Grants"]]
        check((alice_id, "alice", permission) in named, f"{canned}: {named}")
        check(acl["Owner"]["DisplayName"] == "bob", f"{canned}: owner {acl['Owner']}")
    alice.put_bucket_acl(Bucket=bucket, ACL="private")


def crc32_of(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def with_headers(endpoint, user, operation, change):
    """A client of `user` whose `operation` requests get their headers changed before signing
    (`change(headers, body)`)."""
    s3 = client(endpoint, user)
    s3.meta.events.register(f"before-sign.s3.{operation}", lambda request, **_: change(request.headers, request.body))
    return s3


def composite_multipart(alice, bucket):
    """An upload created with ChecksumAlgorithm=CRC32 completes into S3's composite CRC32."""
    pieces = [b"p" * (5 * MB), b"q" * 100]
    created = alice.create_multipart_upload(Bucket=bucket, Key="composite", ChecksumAlgorithm="CRC32")
    check((created.get("ChecksumAlgorithm"), created.get("ChecksumType")) == ("CRC32", "COMPOSITE"), f"create: {created}")
    upload = created["UploadId"]
    parts = []
    for number, piece in enumerate(pieces, 1):
        sent = alice.upload_part(Bucket=bucket, Key="composite", UploadId=upload, PartNumber=number, Body=piece, ChecksumAlgorithm="CRC32")
        check(sent.get("ChecksumCRC32") == crc32_of(piece), f"part {number}: {sent.get('ChecksumCRC32')!r}")
        parts.append({"PartNumber": number, "ETag": sent["ETag"], "ChecksumCRC32": sent["ChecksumCRC32"]})
    wrong = [parts[0], dict(parts[1], ChecksumCRC32=crc32_of(b"other"))]
    refused(lambda: alice.complete_multipart_upload(Bucket=bucket, Key="composite", UploadId=upload,
                                                    MultipartUpload={"Parts": wrong}), "InvalidPart", 400)
    composite = base64.b64encode(zlib.crc32(b"".join(zlib.crc32(p).to_bytes(4, "big") for p in pieces)).to_bytes(4, "big")).decode() + "-2"
    for attempt in ["first", "second"]:
        done = alice.complete_multipart_upload(Bucket=bucket, Key="composite", UploadId=upload, MultipartUpload={"Parts": parts})
        check((done.get("ChecksumCRC32"), done.get("ChecksumType")) == (composite, "COMPOSITE"), f"{attempt} completion: {done}")
    got = alice.get_object(Bucket=bucket, Key="composite", ChecksumMode="ENABLED")
    check((got.get("ChecksumCRC32"), got.get("ChecksumType")) == (composite, "COMPOSITE"), f"GET composite: {got.get('ChecksumCRC32')!r}")
    check(got["Body"].read() == b"".join(pieces), "the composite object's data")
    # Walrus keeps CRC32 only: another algorithm is refused rather than silently ignored.
    refused(lambda: alice.create_multipart_upload(Bucket=bucket, Key="sha", ChecksumAlgorithm="SHA256"), "NotImplemented", 501)


def checksums(alice, user, endpoint, bucket):
    print("checksums: x-amz-checksum-crc32 verified, stored, answered; DeleteObjects with CRC32 or MD5", flush=True)
    data = b"checked by CRC32\n" * 100
    crc32 = crc32_of(data)
    put = alice.put_object(Bucket=bucket, Key="checked", Body=data, ChecksumAlgorithm="CRC32")
    check(put.get("ChecksumCRC32") == crc32, f"PUT answers the CRC32: {put.get('ChecksumCRC32')!r}, expected {crc32!r}")
    check(put.get("ChecksumType") == "FULL_OBJECT", f"PUT answers the checksum type: {put.get('ChecksumType')!r}")
    refused(lambda: alice.put_object(Bucket=bucket, Key="bad-crc", Body=data, ChecksumCRC32="AAAAAA=="), "BadDigest", 400)
    refused(lambda: alice.head_object(Bucket=bucket, Key="bad-crc"), "404", 404)
    refused(lambda: alice.put_object(Bucket=bucket, Key="bad-crc", Body=data, ChecksumCRC32="not base64"), "InvalidRequest", 400)
    # The checksum is stored with the object and given back when asked for (boto3 asks on
    # every GET, and verifies the body against it).
    got = alice.get_object(Bucket=bucket, Key="checked", ChecksumMode="ENABLED")
    check((got.get("ChecksumCRC32"), got.get("ChecksumType")) == (crc32, "FULL_OBJECT"), f"GET checksum: {got.get('ChecksumCRC32')!r}")
    check(got["Body"].read() == data, "GET with the checksum: the data")
    head = alice.head_object(Bucket=bucket, Key="checked", ChecksumMode="ENABLED")
    check(head.get("ChecksumCRC32") == crc32, f"HEAD checksum: {head.get('ChecksumCRC32')!r}")
    check("ChecksumCRC32" not in alice.head_object(Bucket=bucket, Key="checked"), "no checksum unless asked for")
    ranged = alice.get_object(Bucket=bucket, Key="checked", Range="bytes=0-9", ChecksumMode="ENABLED")
    check("ChecksumCRC32" not in ranged and ranged["Body"].read() == data[:10], "a range goes without the whole object's checksum")
    copied = alice.copy_object(Bucket=bucket, Key="checked-copy", CopySource={"Bucket": bucket, "Key": "checked"})
    check(copied["CopyObjectResult"]["ETag"] == put["ETag"], f"copy: {copied}")
    got = alice.get_object(Bucket=bucket, Key="checked-copy", ChecksumMode="ENABLED")
    check(got.get("ChecksumCRC32") == crc32, f"a copy keeps the checksum: {got.get('ChecksumCRC32')!r}")
    check(got["Body"].read() == data, "the copy's data")
    alice.copy_object(Bucket=bucket, Key="checked-copy", CopySource={"Bucket": bucket, "Key": "checked"},
                      MetadataDirective="REPLACE", Metadata={"new": "metadata"})
    got = alice.head_object(Bucket=bucket, Key="checked-copy", ChecksumMode="ENABLED")
    check((got.get("ChecksumCRC32"), got["Metadata"]) == (crc32, {"new": "metadata"}), f"a copy with new metadata: {got}")
    upload = alice.create_multipart_upload(Bucket=bucket, Key="checked-parts")["UploadId"]
    part = alice.upload_part(Bucket=bucket, Key="checked-parts", UploadId=upload, PartNumber=1, Body=data, ChecksumAlgorithm="CRC32")
    check(part.get("ChecksumCRC32") == crc32, f"UploadPart answers the CRC32: {part.get('ChecksumCRC32')!r}")
    refused(lambda: alice.upload_part(Bucket=bucket, Key="checked-parts", UploadId=upload, PartNumber=2, Body=data,
                                      ChecksumCRC32="AAAAAA=="), "BadDigest", 400)
    listed = alice.list_parts(Bucket=bucket, Key="checked-parts", UploadId=upload)["Parts"]
    check([p["PartNumber"] for p in listed] == [1], f"a refused part is not kept: {listed}")
    alice.abort_multipart_upload(Bucket=bucket, Key="checked-parts", UploadId=upload)
    composite_multipart(alice, bucket)
    # boto3 sends DeleteObjects with a CRC32 and no Content-MD5; S3 wants one of them, right.
    sent = {}
    spy = with_headers(endpoint, user, "DeleteObjects", lambda headers, _: sent.update(headers))
    deleted = spy.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "checked"}]})
    check("x-amz-checksum-crc32" in sent and "Content-MD5" not in sent, f"boto3 sent {sorted(sent)}")
    check([d["Key"] for d in deleted.get("Deleted", [])] == ["checked"], f"DeleteObjects: {deleted}")
    alice.put_object(Bucket=bucket, Key="checked", Body=data)

    def without_digests(headers, _body):
        for name in ["Content-MD5", "x-amz-checksum-crc32"]:
            if name in headers:
                del headers[name]

    def wrong(name, value):
        return lambda headers, body: (without_digests(headers, body), headers.__setitem__(name, value))

    def content_md5_only(headers, body):
        without_digests(headers, body)
        headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()

    delete = {"Objects": [{"Key": "checked"}]}
    refused(lambda: with_headers(endpoint, user, "DeleteObjects", without_digests).delete_objects(Bucket=bucket, Delete=delete),
            "InvalidRequest", 400)
    refused(lambda: with_headers(endpoint, user, "DeleteObjects", wrong("x-amz-checksum-crc32", "AAAAAA==")).delete_objects(Bucket=bucket, Delete=delete),
            "BadDigest", 400)
    refused(lambda: with_headers(endpoint, user, "DeleteObjects", wrong("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")).delete_objects(Bucket=bucket, Delete=delete),
            "BadDigest", 400)
    check(alice.get_object(Bucket=bucket, Key="checked")["Body"].read() == data, "refused deletes delete nothing")
    deleted = with_headers(endpoint, user, "DeleteObjects", content_md5_only).delete_objects(Bucket=bucket, Delete=delete)
    check([d["Key"] for d in deleted.get("Deleted", [])] == ["checked"], f"DeleteObjects with Content-MD5: {deleted}")


def code_of(response):
    return ET.fromstring(response.content).findtext("Code") if response.content else None


def raw_refused(response, code, status, what):
    got = (code_of(response), response.status_code)
    check(got == (code, status), f"{what}: expected {code} ({status}), got {got}: {response.text[:200]}")


def presigned_and_expiry(alice, endpoint, bucket):
    print("presigned URLs: X-Amz-Expires of 0, negative or over a week refused; expired PUT AccessDenied; OPTIONS 400 or 403", flush=True)
    alice.put_object(Bucket=bucket, Key="shared", Body=b"shared")
    url = alice.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared"}, ExpiresIn=60)
    check(requests.get(url, timeout=30).content == b"shared", "a valid presigned GET works")
    for expires in [0, -1, 604801]:
        url = alice.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared"}, ExpiresIn=expires)
        raw_refused(requests.get(url, timeout=30), "AuthorizationQueryParametersError", 403, f"X-Amz-Expires={expires}")
    url = alice.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "late"}, ExpiresIn=1)
    time.sleep(2)
    late = requests.put(url, data=b"late", timeout=30)
    raw_refused(late, "AccessDenied", 403, "an expired presigned PUT")
    check(ET.fromstring(late.content).findtext("Message") == "Request has expired", f"message: {late.text[:200]}")
    raw_refused(requests.options(f"{endpoint}/{bucket}/shared", timeout=30), "BadRequest", 400, "OPTIONS without CORS headers")
    preflight = {"Origin": "http://example.com", "Access-Control-Request-Method": "GET"}
    raw_refused(requests.options(f"{endpoint}/{bucket}/shared", headers=preflight, timeout=30), "AccessForbidden", 403,
                "a preflight to a bucket without CORS rules")


def sigv2_dates(user, endpoint, bucket):
    print("SigV2 dates: before the epoch or unparseable AccessDenied, far off RequestTimeTooSkewed", flush=True)
    path = f"{urllib.parse.urlsplit(endpoint).path}/{bucket}/shared"
    origin = endpoint[: -len(urllib.parse.urlsplit(endpoint).path) or None]

    def get(date):
        text = f"GET\n\n\n{date}\n{path}"
        signature = base64.b64encode(hmac.new(user["secret"].encode(), text.encode(), hashlib.sha1).digest()).decode()
        headers = {"Date": date, "Authorization": f"AWS {user['access']}:{signature}"}
        return requests.get(origin + path, headers=headers, timeout=30)

    check(get(time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())).status_code == 200, "a current Date works")
    raw_refused(get("Wed, 31 Dec 1969 23:59:59 GMT"), "AccessDenied", 403, "a Date before the epoch")
    raw_refused(get("not a date"), "AccessDenied", 403, "an unparseable Date")
    for off in [-86400, 86400, -16 * 60]:
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + off))
        skewed = get(date)
        raw_refused(skewed, "RequestTimeTooSkewed", 403, f"a Date {off} s off")
        # As S3, the reply names both times and the limit (SDKs correct their clock by it).
        error = ET.fromstring(skewed.content)
        server = datetime.datetime.fromisoformat(error.findtext("ServerTime").replace("Z", "+00:00"))
        check(abs(server.timestamp() - time.time()) < 60, f"ServerTime {error.findtext('ServerTime')}")
        check((error.findtext("RequestTime"), error.findtext("MaxAllowedSkewMilliseconds")) == (date, "900000"), f"skew reply: {skewed.text}")
    within = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() - 10 * 60))
    check(get(within).status_code == 200, "a Date ten minutes off works (S3 allows 15)")


def main():
    endpoint, users = endpoint_and_users()
    alice, bob = client(endpoint, users["alice"]), client(endpoint, users["bob"])
    bucket = "conformance-" + os.urandom(3).hex()
    try:
        bucket_recreation(alice, bob, bucket)
        conditional_get(alice, bucket)
        canned_acls(alice, bob, bucket)
        multipart(alice, bucket)
        listing(alice, bucket)
        aws_chunked(alice, endpoint, bucket)
        presigned_and_expiry(alice, endpoint, bucket)
        checksums(alice, users["alice"], endpoint, bucket)
        sigv2_dates(users["alice"], endpoint, bucket)
    except (Failure, ClientError) as e:
        print(f"FAILED: {type(e).__name__}: {e}", flush=True)
        return 1
    print("walrus conformance: every group behaves as S3", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

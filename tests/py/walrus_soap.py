"""Drives Walrus' S3 SOAP API with zeep, loading our wsdl/s3.wsdl.

Usage: walrus_soap.py S3_WSDL ENDPOINT ACCESS_KEY SECRET_KEY

Each request carries AWSAccessKeyId, Timestamp and Signature (base64 HMAC-SHA1 of
"AmazonS3" + operation + Timestamp under the secret key), as S3's SOAP clients send them.
Every answer is checked; the script prints one line per operation and exits non-zero on the
first surprise.
"""

import base64
import datetime
import hashlib
import hmac
import sys

import zeep
from zeep.exceptions import Fault

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def main():
    wsdl, endpoint, access_key, secret = sys.argv[1:5]
    client = zeep.Client(wsdl)
    service = client.create_service(f"{{{NS}}}AmazonS3SoapBinding", endpoint)
    grantee_group = client.get_type(f"{{{NS}}}Group")

    def auth(operation, secret_key=secret):
        timestamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        digest = hmac.new(secret_key.encode(), f"AmazonS3{operation}{timestamp}".encode(), hashlib.sha1).digest()
        return {
            "AWSAccessKeyId": access_key,
            "Timestamp": timestamp,
            "Signature": base64.b64encode(digest).decode(),
        }

    def call(operation, **args):
        result = getattr(service, operation)(**args, **auth(operation))
        print(f"ok {operation}")
        return result

    def expect_fault(code, operation, secret_key=secret, **args):
        try:
            getattr(service, operation)(**args, **auth(operation, secret_key))
        except Fault as fault:
            if not fault.code or not fault.code.endswith(code):
                raise SystemExit(f"{operation}: fault {fault.code!r} ({fault.message}), expected {code}")
            print(f"ok {operation} refused with {fault.code}")
            return
        raise SystemExit(f"{operation}: expected a {code} fault, got an answer")

    bucket = "soap-bucket"
    # zeep unwraps a response of one element holding one field down to that field.
    created = call("CreateBucket", Bucket=bucket)
    assert created == bucket, created

    listing = call("ListAllMyBuckets")
    names = [b.Name for b in listing.Buckets.Bucket]
    assert bucket in names, names
    owner_id = listing.Owner.ID
    assert owner_id, listing

    data = b"hello over SOAP\n" * 100
    put = call(
        "PutObjectInline",
        Bucket=bucket,
        Key="dir/hello.txt",
        Metadata=[{"Name": "colour", "Value": "blue"}],
        Data=data,
        ContentLength=len(data),
    )
    assert put.ETag.strip('"') == hashlib.md5(data).hexdigest(), put

    got = call("GetObject", Bucket=bucket, Key="dir/hello.txt", GetMetadata=True, GetData=True, InlineData=True)
    assert got.Data == data, got.Data[:40]
    assert {m.Name: m.Value for m in got.Metadata}.get("colour") == "blue", got.Metadata
    assert got.ETag.strip('"') == hashlib.md5(data).hexdigest()

    ranged = call(
        "GetObjectExtended",
        Bucket=bucket,
        Key="dir/hello.txt",
        GetMetadata=False,
        GetData=True,
        InlineData=True,
        ByteRangeStart=6,
        ByteRangeEnd=9,
    )
    assert ranged.Data == data[6:10], ranged.Data

    listed = call("ListBucket", Bucket=bucket, Prefix="dir/", MaxKeys=10)
    assert [c.Key for c in listed.Contents] == ["dir/hello.txt"], listed
    assert listed.Contents[0].Size == len(data)

    copied = call(
        "CopyObject",
        SourceBucket=bucket,
        SourceKey="dir/hello.txt",
        DestinationBucket=bucket,
        DestinationKey="copy.txt",
    )
    assert copied.ETag.strip('"') == hashlib.md5(data).hexdigest(), copied
    again = call("GetObject", Bucket=bucket, Key="copy.txt", GetMetadata=False, GetData=True, InlineData=True)
    assert again.Data == data

    policy = call("GetObjectAccessControlPolicy", Bucket=bucket, Key="copy.txt")
    assert policy.Owner.ID == owner_id, policy
    grants = list(policy.AccessControlList.Grant)
    grants.append({"Grantee": grantee_group(URI=ALL_USERS), "Permission": "READ"})
    call("SetObjectAccessControlPolicy", Bucket=bucket, Key="copy.txt", AccessControlList={"Grant": grants})
    policy = call("GetObjectAccessControlPolicy", Bucket=bucket, Key="copy.txt")
    uris = [getattr(g.Grantee, "URI", None) for g in policy.AccessControlList.Grant]
    assert ALL_USERS in uris, policy

    bucket_policy = call("GetBucketAccessControlPolicy", Bucket=bucket)
    assert bucket_policy.Owner.ID == owner_id
    call("SetBucketAccessControlPolicy", Bucket=bucket, AccessControlList=bucket_policy.AccessControlList)

    # Unwrapped by zeep: the BucketLoggingStatus' one field, LoggingEnabled, or None.
    status = call("GetBucketLoggingStatus", Bucket=bucket)
    assert status is None or status.LoggingEnabled is None, status
    call(
        "SetBucketLoggingStatus",
        Bucket=bucket,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": bucket, "TargetPrefix": "log/"}},
    )
    status = call("GetBucketLoggingStatus", Bucket=bucket)
    enabled = getattr(status, "LoggingEnabled", status)
    assert enabled.TargetBucket == bucket and enabled.TargetPrefix == "log/", status

    expect_fault("NoSuchKey", "GetObject", Bucket=bucket, Key="missing", GetMetadata=True, GetData=True, InlineData=True)
    expect_fault("SignatureDoesNotMatch", "ListAllMyBuckets", secret_key=secret + "x")
    expect_fault("BucketNotEmpty", "DeleteBucket", Bucket=bucket)

    for key in ["dir/hello.txt", "copy.txt"]:
        call("DeleteObject", Bucket=bucket, Key=key)
    call("DeleteBucket", Bucket=bucket)
    expect_fault("NoSuchBucket", "ListBucket", Bucket=bucket)
    print("walrus soap: all operations answered")


if __name__ == "__main__":
    main()

"""One S3 scenario, run through Walrus' REST API (boto3) and its SOAP API (zeep with our
wsdl/s3.wsdl); the normalised outcomes of every step must be identical.

Usage: walrus_s3_matrix.py --endpoint URL --wsdl S3_WSDL --access-key KEY --secret-key SECRET

Each step is one S3 operation described once (a name and its arguments); a driver per
transport performs it with its own client and reduces the answer to an outcome: the error
code, or the fields both APIs carry (bodies, ETags, metadata, grants, listings). Times are
not compared; conditions use dates well before and after the objects' writes. Prints the
matrix and exits non-zero if any outcome differs.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import sys

import boto3
import zeep
from botocore.config import Config
from botocore.exceptions import ClientError
from zeep.exceptions import Fault

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
DATA = b"one S3 core, two front ends\n" * 40
OTHER = b"replaced\n"


def etag_of(data):
    return '"' + hashlib.md5(data).hexdigest() + '"'


def scenario(bucket, times):
    """The steps, as (label, operation, arguments). `times` gives the dates conditions use,
    `past` and `future`, before and after every object's Last-Modified."""
    past, future = times["past"], times["future"]
    good, bad = etag_of(DATA), '"00000000000000000000000000000000"'
    key, meta = "dir/a.txt", {"colour": "blue", "size": "large"}
    steps = [
        ("create bucket", "create_bucket", {}),
        ("create it again", "create_bucket", {}),
        ("create it again, public-read", "create_bucket", {"public": True}),
        ("put object", "put", {"key": key, "data": DATA, "meta": meta}),
        ("put second object", "put", {"key": "dir/sub/b.txt", "data": OTHER, "meta": {}}),
        ("put third object", "put", {"key": "top.txt", "data": OTHER, "meta": {"k": "v"}}),
        ("get object", "get", {"key": key}),
        ("head object", "head", {"key": key}),
        ("get missing key", "get", {"key": "missing"}),
        ("get from missing bucket", "get", {"key": key, "bucket": bucket + "-none"}),
    ]
    conditional = [
        ("If-Match matching", {"if_match": good}),
        ("If-Match other", {"if_match": bad}),
        ("If-None-Match matching", {"if_none_match": good}),
        ("If-None-Match other", {"if_none_match": bad}),
        ("If-Modified-Since future", {"if_modified_since": future}),
        ("If-Modified-Since past", {"if_modified_since": past}),
        ("If-Unmodified-Since past", {"if_unmodified_since": past}),
        ("If-Unmodified-Since future", {"if_unmodified_since": future}),
        # RFC 9110 §13.2.2: If-Match decides instead of If-Unmodified-Since...
        ("If-Match matching + If-Unmodified-Since past", {"if_match": good, "if_unmodified_since": past}),
        # ... If-None-Match instead of If-Modified-Since ...
        ("If-None-Match other + If-Modified-Since future", {"if_none_match": bad, "if_modified_since": future}),
        # ... and the 412 conditions are evaluated before the 304 ones.
        ("If-Match other + If-None-Match matching", {"if_match": bad, "if_none_match": good}),
        ("If-Unmodified-Since past + If-Modified-Since future", {"if_unmodified_since": past, "if_modified_since": future}),
        ("If-Match matching + If-None-Match matching", {"if_match": good, "if_none_match": good}),
        ("If-Match matching + If-Modified-Since past", {"if_match": good, "if_modified_since": past}),
    ]
    steps += [(f"conditional get: {label}", "get", {"key": key, **c}) for label, c in conditional]
    steps += [
        ("range 6-9", "get", {"key": key, "first": 6, "last": 9}),
        ("range from 1000", "get", {"key": key, "first": 1000}),
        ("range past the end", "get", {"key": key, "first": 5000, "last": 6000}),
        ("range end beyond the size", "get", {"key": key, "first": 1100, "last": 9999}),
        ("copy (metadata kept)", "copy", {"source": key, "key": "copy.txt"}),
        ("get the copy", "get", {"key": "copy.txt"}),
        ("copy replacing metadata", "copy", {"source": key, "key": "copy2.txt", "meta": {"colour": "red"}}),
        ("head the second copy", "head", {"key": "copy2.txt"}),
        ("copy onto itself", "copy", {"source": key, "key": key}),
        ("copy if source matches", "copy", {"source": key, "key": "copy3.txt", "if_match": good}),
        ("copy if source matches (other)", "copy", {"source": key, "key": "copy4.txt", "if_match": bad}),
        ("copy if source unchanged (past)", "copy", {"source": key, "key": "copy5.txt", "if_unmodified_since": past}),
        ("copy if source matches + unchanged (past)", "copy", {"source": key, "key": "copy6.txt", "if_match": good, "if_unmodified_since": past}),
        ("copy if source not matching (matching)", "copy", {"source": key, "key": "copy7.txt", "if_none_match": good}),
        ("copy from a missing key", "copy", {"source": "missing", "key": "copy8.txt"}),
        ("get object ACL", "get_object_acl", {"key": key}),
        ("make object public-read", "set_object_acl", {"key": key, "public": True}),
        ("get object ACL after", "get_object_acl", {"key": key}),
        ("get bucket ACL", "get_bucket_acl", {}),
        ("make bucket public-read", "set_bucket_acl", {"public": True}),
        ("get bucket ACL after", "get_bucket_acl", {}),
        ("list all", "list", {}),
        ("list with prefix and delimiter", "list", {"prefix": "dir/", "delimiter": "/"}),
        ("list two keys", "list", {"max_keys": 2}),
        ("list after a marker", "list", {"marker": "copy2.txt"}),
        ("list missing bucket", "list", {"bucket": bucket + "-none"}),
        ("delete non-empty bucket", "delete_bucket", {}),
    ]
    for k in ["dir/a.txt", "dir/sub/b.txt", "top.txt", "copy.txt", "copy2.txt", "copy3.txt", "copy5.txt", "copy6.txt"]:
        steps.append((f"delete {k}", "delete", {"key": k}))
    steps += [
        ("delete a missing key", "delete", {"key": "never-there"}),
        ("get deleted object", "get", {"key": key}),
        ("list emptied bucket", "list", {}),
        ("delete bucket", "delete_bucket", {}),
        ("delete it again", "delete_bucket", {}),
    ]
    return steps


# Step arguments by the names both APIs give them (boto3's keyword arguments and the
# WSDL's elements agree); SOAP takes ETag lists where REST takes one header value.
CONDITIONS = {"if_match": "IfMatch", "if_none_match": "IfNoneMatch",
              "if_modified_since": "IfModifiedSince", "if_unmodified_since": "IfUnmodifiedSince"}
COPY_CONDITIONS = {k: "CopySource" + v for k, v in CONDITIONS.items()}
LISTING = {"prefix": "Prefix", "delimiter": "Delimiter", "max_keys": "MaxKeys", "marker": "Marker"}
ETAG_LISTS = {"if_match", "if_none_match"}


def options(a, names, etag_lists=False):
    """The arguments of step `a` named in `names`, renamed."""
    return {names[k]: [v] if etag_lists and k in ETAG_LISTS else v for k, v in a.items() if k in names}


def listing(keys, prefixes, truncated, next_marker, max_keys):
    return {"keys": keys, "prefixes": prefixes, "truncated": truncated, "next_marker": next_marker, "max_keys": max_keys}


def normalise_grants(grants):
    out = []
    for grantee, permission in grants:
        out.append(f"{grantee}:{permission}")
    return sorted(out)


class Rest:
    """boto3, path-style, SigV4."""

    name = "REST (boto3)"

    def __init__(self, args):
        self.s3 = boto3.client(
            "s3",
            endpoint_url=args.endpoint,
            aws_access_key_id=args.access_key,
            aws_secret_access_key=args.secret_key,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def run(self, bucket, op, a):
        s3, b = self.s3, a.get("bucket", bucket)
        try:
            return self.perform(s3, b, op, a)
        except ClientError as e:
            code = e.response["Error"]["Code"]
            # A 304 has no body, so botocore names the error by its status.
            return {"error": "NotModified" if code == "304" else code}

    def perform(self, s3, b, op, a):
        if op == "create_bucket":
            s3.create_bucket(Bucket=b, **({"ACL": "public-read"} if a.get("public") else {}))
            return {"ok": True}
        if op == "delete_bucket":
            s3.delete_bucket(Bucket=b)
            return {"ok": True}
        if op == "put":
            r = s3.put_object(Bucket=b, Key=a["key"], Body=a["data"], ContentType="text/plain", Metadata=a["meta"])
            return {"etag": r["ETag"]}
        if op in ("get", "head"):
            kw = options(a, CONDITIONS)
            if "first" in a:
                kw["Range"] = f"bytes={a['first']}-{a.get('last', '')}"
            if op == "head":
                r = s3.head_object(Bucket=b, Key=a["key"], **kw)
                return {"etag": r["ETag"], "content_type": r["ContentType"], "meta": r["Metadata"]}
            r = s3.get_object(Bucket=b, Key=a["key"], **kw)
            return {
                "etag": r["ETag"],
                "content_type": r["ContentType"],
                "meta": r["Metadata"],
                "body": r["Body"].read().decode(),
            }
        if op == "delete":
            s3.delete_object(Bucket=b, Key=a["key"])
            return {"ok": True}
        if op == "copy":
            kw = {}
            if "meta" in a:
                kw = {"Metadata": a["meta"], "MetadataDirective": "REPLACE", "ContentType": "text/plain"}
            kw.update(options(a, COPY_CONDITIONS))
            r = s3.copy_object(Bucket=b, Key=a["key"], CopySource={"Bucket": b, "Key": a["source"]}, **kw)
            return {"etag": r["CopyObjectResult"]["ETag"]}
        if op in ("get_object_acl", "get_bucket_acl"):
            if op == "get_object_acl":
                r = s3.get_object_acl(Bucket=b, Key=a["key"])
            else:
                r = s3.get_bucket_acl(Bucket=b)
            grants = [(g["Grantee"].get("ID") or g["Grantee"].get("URI"), g["Permission"]) for g in r["Grants"]]
            return {"owner": r["Owner"]["ID"], "grants": normalise_grants(grants)}
        if op in ("set_object_acl", "set_bucket_acl"):
            current = s3.get_object_acl(Bucket=b, Key=a["key"]) if op == "set_object_acl" else s3.get_bucket_acl(Bucket=b)
            grants = current["Grants"] + [{"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}]
            policy = {"Owner": current["Owner"], "Grants": grants}
            if op == "set_object_acl":
                s3.put_object_acl(Bucket=b, Key=a["key"], AccessControlPolicy=policy)
            else:
                s3.put_bucket_acl(Bucket=b, AccessControlPolicy=policy)
            return {"ok": True}
        if op == "list":
            r = s3.list_objects(Bucket=b, **options(a, LISTING))
            return listing(
                [(c["Key"], c["ETag"], c["Size"]) for c in r.get("Contents", [])],
                [p["Prefix"] for p in r.get("CommonPrefixes", [])],
                r["IsTruncated"],
                r.get("NextMarker"),
                r["MaxKeys"],
            )
        raise SystemExit(f"unknown operation {op}")


class Soap:
    """zeep with wsdl/s3.wsdl, each call signed as S3's SOAP clients sign."""

    name = "SOAP (zeep)"

    def __init__(self, args):
        self.access_key, self.secret = args.access_key, args.secret_key
        client = zeep.Client(args.wsdl)
        self.service = client.create_service(f"{{{NS}}}AmazonS3SoapBinding", args.endpoint)
        self.group = client.get_type(f"{{{NS}}}Group")
        self.user = client.get_type(f"{{{NS}}}CanonicalUser")

    def call(self, operation, **args):
        timestamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        digest = hmac.new(self.secret.encode(), f"AmazonS3{operation}{timestamp}".encode(), hashlib.sha1).digest()
        auth = {"AWSAccessKeyId": self.access_key, "Timestamp": timestamp, "Signature": base64.b64encode(digest).decode()}
        return getattr(self.service, operation)(**args, **auth)

    def run(self, bucket, op, a):
        b = a.get("bucket", bucket)
        try:
            return self.perform(b, op, a)
        except Fault as fault:
            # soapenv:Client.<S3 code>
            return {"error": (fault.code or "").rsplit(".", 1)[-1]}

    @staticmethod
    def metadata(entries):
        meta = {m.Name: m.Value for m in entries or []}
        return meta.pop("Content-Type", None), meta

    def perform(self, b, op, a):
        call = self.call
        if op == "create_bucket":
            if a.get("public"):
                owner = call("ListAllMyBuckets").Owner.ID
                grants = [{"Grantee": self.user(ID=owner), "Permission": "FULL_CONTROL"},
                          {"Grantee": self.group(URI=ALL_USERS), "Permission": "READ"}]
                call("CreateBucket", Bucket=b, AccessControlList={"Grant": grants})
            else:
                call("CreateBucket", Bucket=b)
            return {"ok": True}
        if op == "delete_bucket":
            call("DeleteBucket", Bucket=b)
            return {"ok": True}
        if op == "put":
            meta = [{"Name": "Content-Type", "Value": "text/plain"}] + [{"Name": k, "Value": v} for k, v in a["meta"].items()]
            r = call("PutObjectInline", Bucket=b, Key=a["key"], Metadata=meta, Data=a["data"], ContentLength=len(a["data"]))
            return {"etag": r.ETag}
        if op in ("get", "head"):
            kw = options(a, CONDITIONS, etag_lists=True)
            if "first" in a:
                kw["ByteRangeStart"] = a["first"]
            if "last" in a:
                kw["ByteRangeEnd"] = a["last"]
            get_data = op == "get"
            r = call("GetObjectExtended", Bucket=b, Key=a["key"], GetMetadata=True, GetData=get_data, InlineData=get_data, **kw)
            content_type, meta = self.metadata(r.Metadata)
            out = {"etag": r.ETag, "content_type": content_type, "meta": meta}
            if get_data:
                out["body"] = r.Data.decode()
            return out
        if op == "delete":
            call("DeleteObject", Bucket=b, Key=a["key"])
            return {"ok": True}
        if op == "copy":
            kw = {}
            if "meta" in a:
                kw["Metadata"] = [{"Name": "Content-Type", "Value": "text/plain"}] + [{"Name": k, "Value": v} for k, v in a["meta"].items()]
                kw["MetadataDirective"] = "REPLACE"
            kw.update(options(a, COPY_CONDITIONS, etag_lists=True))
            r = call("CopyObject", SourceBucket=b, SourceKey=a["source"], DestinationBucket=b, DestinationKey=a["key"], **kw)
            return {"etag": r.ETag}
        if op in ("get_object_acl", "get_bucket_acl"):
            if op == "get_object_acl":
                r = call("GetObjectAccessControlPolicy", Bucket=b, Key=a["key"])
            else:
                r = call("GetBucketAccessControlPolicy", Bucket=b)
            grants = [(getattr(g.Grantee, "ID", None) or getattr(g.Grantee, "URI", None), g.Permission) for g in r.AccessControlList.Grant]
            return {"owner": r.Owner.ID, "grants": normalise_grants(grants)}
        if op in ("set_object_acl", "set_bucket_acl"):
            if op == "set_object_acl":
                current = call("GetObjectAccessControlPolicy", Bucket=b, Key=a["key"])
            else:
                current = call("GetBucketAccessControlPolicy", Bucket=b)
            grants = list(current.AccessControlList.Grant) + [{"Grantee": self.group(URI=ALL_USERS), "Permission": "READ"}]
            if op == "set_object_acl":
                call("SetObjectAccessControlPolicy", Bucket=b, Key=a["key"], AccessControlList={"Grant": grants})
            else:
                call("SetBucketAccessControlPolicy", Bucket=b, AccessControlList={"Grant": grants})
            return {"ok": True}
        if op == "list":
            r = call("ListBucket", Bucket=b, **options(a, LISTING))
            return listing(
                [(c.Key, c.ETag, c.Size) for c in r.Contents or []],
                [p.Prefix for p in r.CommonPrefixes or []],
                r.IsTruncated,
                r.NextMarker,
                r.MaxKeys,
            )
        raise SystemExit(f"unknown operation {op}")


def run(driver, bucket, times):
    return [(label, driver.run(bucket, op, a)) for label, op, a in scenario(bucket, times)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--wsdl", required=True)
    p.add_argument("--access-key", required=True)
    p.add_argument("--secret-key", required=True)
    args = p.parse_args()
    rest, soap = Rest(args), Soap(args)
    # The same bucket name for both runs: each run deletes it at its end.
    bucket = "matrix-bucket"
    # Every object is written between these two dates.
    times = {
        "past": datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc),
        "future": datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1),
    }
    results = {d.name: run(d, bucket, times) for d in (rest, soap)}
    a, b = results[rest.name], results[soap.name]
    assert len(a) == len(b)
    errors = 0
    for (label, x), (_, y) in zip(a, b):
        same = x == y
        errors += not same
        print(f"{'same' if same else 'DIFFERENT'}  {label}: {json.dumps(x, sort_keys=True)[:160]}")
        if not same:
            print(f"    REST: {json.dumps(x, sort_keys=True)}\n    SOAP: {json.dumps(y, sort_keys=True)}")
    # The matrix must exercise both success and refusal.
    codes = {o.get("error") for _, o in a}
    for expected in ["BucketAlreadyExists", "NoSuchKey", "NoSuchBucket", "PreconditionFailed", "NotModified",
                     "InvalidRange", "BucketNotEmpty", "InvalidRequest"]:
        if expected not in codes:
            print(f"the scenario never produced {expected}")
            errors += 1
    if errors:
        raise SystemExit(f"walrus s3 matrix: {errors} differences")
    print(f"walrus s3 matrix: {len(a)} steps, identical through REST and SOAP")


if __name__ == "__main__":
    main()

//! From a request's method, path, query and Host to an S3 operation on a bucket and key.
//!
//! Buckets are addressed path-style under the service path (`/services/Walrus/b/k`) or at
//! the root (`/b/k`, for clients that cannot add a prefix, such as s3cmd), or virtual-host
//! style (`Host: b.<domain>`). A bucket named `services` is therefore reachable at the root
//! only through its own host name.

use hyper::header::HOST;
use hyper::{HeaderMap, Method};

use crate::error::S3Error;
use crate::ops::{check_bucket_name, check_key};
use crate::uri::{percent_decode, strip_service_path, Query};

/// Every S3 operation Walrus answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    ListBuckets,
    CreateBucket,
    DeleteBucket,
    HeadBucket,
    ListObjects,
    ListObjectsV2,
    GetBucketLocation,
    GetBucketLogging,
    PutBucketLogging,
    GetBucketAcl,
    PutBucketAcl,
    GetBucketVersioning,
    ListMultipartUploads,
    DeleteObjects,
    PostObject,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    DeleteObject,
    GetObjectAcl,
    PutObjectAcl,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Self::ListBuckets => "ListBuckets",
            Self::CreateBucket => "CreateBucket",
            Self::DeleteBucket => "DeleteBucket",
            Self::HeadBucket => "HeadBucket",
            Self::ListObjects => "ListObjects",
            Self::ListObjectsV2 => "ListObjectsV2",
            Self::GetBucketLocation => "GetBucketLocation",
            Self::GetBucketLogging => "GetBucketLogging",
            Self::PutBucketLogging => "PutBucketLogging",
            Self::GetBucketAcl => "GetBucketAcl",
            Self::PutBucketAcl => "PutBucketAcl",
            Self::GetBucketVersioning => "GetBucketVersioning",
            Self::ListMultipartUploads => "ListMultipartUploads",
            Self::DeleteObjects => "DeleteObjects",
            Self::PostObject => "PostObject",
            Self::PutObject => "PutObject",
            Self::CopyObject => "CopyObject",
            Self::GetObject => "GetObject",
            Self::HeadObject => "HeadObject",
            Self::DeleteObject => "DeleteObject",
            Self::GetObjectAcl => "GetObjectAcl",
            Self::PutObjectAcl => "PutObjectAcl",
            Self::CreateMultipartUpload => "CreateMultipartUpload",
            Self::UploadPart => "UploadPart",
            Self::UploadPartCopy => "UploadPartCopy",
            Self::CompleteMultipartUpload => "CompleteMultipartUpload",
            Self::AbortMultipartUpload => "AbortMultipartUpload",
            Self::ListParts => "ListParts",
        }
    }
}

/// Sub-resources S3 has and Walrus does not implement: refused rather than mistaken for
/// plain object or bucket requests.
const UNSUPPORTED: &[&str] = &[
    "accelerate",
    "analytics",
    "attributes",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "tagging",
    "torrent",
    "versions",
    "website",
];

/// Where a request goes.
#[derive(Debug, Clone)]
pub struct Route {
    pub op: Op,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub query: Query,
}

impl Route {
    /// The bucket, for operations that have one.
    pub fn bucket(&self) -> &str {
        self.bucket.as_deref().unwrap_or_default()
    }

    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or_default()
    }

    /// `/bucket/key` as S3 error documents name the resource.
    pub fn resource(&self) -> String {
        match (&self.bucket, &self.key) {
            (Some(b), Some(k)) => format!("/{b}/{k}"),
            (Some(b), None) => format!("/{b}"),
            _ => "/".to_owned(),
        }
    }
}

/// The bucket a Host header names under `domain`, if any.
pub fn virtual_bucket<'h>(headers: &'h HeaderMap, domain: Option<&str>) -> Option<&'h str> {
    let domain = domain?;
    let host = headers.get(HOST)?.to_str().ok()?;
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let bucket = host.strip_suffix(domain)?.strip_suffix('.')?;
    (!bucket.is_empty()).then_some(bucket)
}

/// Routes a request. `path` and `query` are raw (still percent-encoded).
pub fn route(
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    virtual_bucket: Option<&str>,
    service_path: &str,
) -> Result<Route, S3Error> {
    let query = Query::parse(query).ok_or(S3Error::InvalidUri)?;
    let rest = strip_service_path(path, service_path).unwrap_or(path);
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let (bucket, key) = match virtual_bucket {
        Some(bucket) => (Some(bucket.to_owned()), (!rest.is_empty()).then_some(rest)),
        None => match rest.split_once('/') {
            Some((bucket, key)) => (Some(decode(bucket)?), (!key.is_empty()).then_some(key)),
            None if rest.is_empty() => (None, None),
            None => (Some(decode(rest)?), None),
        },
    };
    let key = key.map(decode).transpose()?;
    if let Some(bucket) = &bucket {
        check_bucket_name(bucket)?;
    }
    if let Some(key) = &key {
        check_key(key)?;
    }
    if let Some(unsupported) = UNSUPPORTED.iter().find(|name| query.has(name)) {
        return Err(S3Error::NotImplemented(format!("?{unsupported}")));
    }
    let op = operation(method, bucket.is_some(), key.is_some(), &query, headers)?;
    Ok(Route {
        op,
        bucket,
        key,
        query,
    })
}

fn decode(raw: &str) -> Result<String, S3Error> {
    String::from_utf8(percent_decode(raw, false))
        .map_err(|_| S3Error::InvalidObjectName("Object key is not valid UTF-8".into()))
}

fn operation(
    method: &Method,
    bucket: bool,
    key: bool,
    q: &Query,
    headers: &HeaderMap,
) -> Result<Op, S3Error> {
    let copy = headers.contains_key("x-amz-copy-source");
    Ok(match (method.as_str(), bucket, key) {
        ("GET", false, _) => Op::ListBuckets,
        // SOAP messages to the service path never get here: the front door hands them to
        // the SOAP endpoint mounted there.
        ("POST", false, _) => return Err(S3Error::MethodNotAllowed),
        ("GET", true, false) if q.has("acl") => Op::GetBucketAcl,
        ("GET", true, false) if q.has("location") => Op::GetBucketLocation,
        ("GET", true, false) if q.has("logging") => Op::GetBucketLogging,
        ("GET", true, false) if q.has("uploads") => Op::ListMultipartUploads,
        ("GET", true, false) if q.has("versioning") => Op::GetBucketVersioning,
        ("GET", true, false) if q.get("list-type") == Some("2") => Op::ListObjectsV2,
        ("GET", true, false) => Op::ListObjects,
        ("HEAD", true, false) => Op::HeadBucket,
        ("PUT", true, false) if q.has("acl") => Op::PutBucketAcl,
        ("PUT", true, false) if q.has("logging") => Op::PutBucketLogging,
        ("PUT", true, false) if q.has("versioning") => {
            return Err(S3Error::NotImplemented("bucket versioning".into()))
        }
        ("PUT", true, false) => Op::CreateBucket,
        ("DELETE", true, false) => Op::DeleteBucket,
        ("POST", true, false) if q.has("delete") => Op::DeleteObjects,
        ("POST", true, false) => Op::PostObject,
        ("GET", true, true) if q.has("acl") => Op::GetObjectAcl,
        ("GET", true, true) if q.has("uploadId") => Op::ListParts,
        ("GET", true, true) => Op::GetObject,
        ("HEAD", true, true) => Op::HeadObject,
        ("PUT", true, true) if q.has("acl") => Op::PutObjectAcl,
        ("PUT", true, true) if q.has("uploadId") && copy => Op::UploadPartCopy,
        ("PUT", true, true) if q.has("uploadId") => Op::UploadPart,
        ("PUT", true, true) if copy => Op::CopyObject,
        ("PUT", true, true) => Op::PutObject,
        ("DELETE", true, true) if q.has("uploadId") => Op::AbortMultipartUpload,
        ("DELETE", true, true) => Op::DeleteObject,
        ("POST", true, true) if q.has("uploads") => Op::CreateMultipartUpload,
        ("POST", true, true) if q.has("uploadId") => Op::CompleteMultipartUpload,
        // CORS preflight: Walrus has no CORS configurations, so none is allowed; without the
        // preflight headers S3 answers 400.
        ("OPTIONS", true, _) if headers.contains_key("origin") => {
            return Err(S3Error::CorsNotEnabled)
        }
        ("OPTIONS", true, _) => return Err(S3Error::CorsOriginMissing),
        _ => return Err(S3Error::MethodNotAllowed),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use hyper::header::HeaderValue;

    use super::*;

    const SERVICE: &str = "/services/Walrus";

    fn go(method: &str, path: &str, query: &str) -> Result<Route, S3Error> {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        route(&method, path, query, &HeaderMap::new(), None, SERVICE)
    }

    #[test]
    fn paths_with_and_without_the_service_prefix_route_alike() {
        for path in ["/services/Walrus/bucket/a/b%20c", "/bucket/a/b%20c"] {
            let r = go("GET", path, "").unwrap();
            assert_eq!(
                (r.op, r.bucket(), r.key()),
                (Op::GetObject, "bucket", "a/b c")
            );
        }
        assert_eq!(
            go("GET", "/services/Walrus", "").unwrap().op,
            Op::ListBuckets
        );
        assert_eq!(
            go("GET", "/services/Walrus/", "").unwrap().op,
            Op::ListBuckets
        );
        assert_eq!(go("GET", "/", "").unwrap().op, Op::ListBuckets);
        assert!(matches!(
            go("POST", "/", ""),
            Err(S3Error::MethodNotAllowed)
        ));
        let r = go("GET", "/services/Walrus/bucket/", "max-keys=0").unwrap();
        assert_eq!((r.op, r.key.as_deref()), (Op::ListObjects, None));
        // A path that merely starts like the prefix is bucket "services".
        let r = go("GET", "/services/WalrusX", "").unwrap();
        assert_eq!((r.bucket(), r.key()), ("services", "WalrusX"));
    }

    #[test]
    fn sub_resources_pick_operations() {
        let cases = [
            ("GET", "/bk1", "acl", Op::GetBucketAcl),
            ("GET", "/bk1", "location", Op::GetBucketLocation),
            ("PUT", "/bk1", "logging", Op::PutBucketLogging),
            ("GET", "/bk1", "list-type=2&prefix=x", Op::ListObjectsV2),
            ("GET", "/bk1", "uploads", Op::ListMultipartUploads),
            ("POST", "/bk1", "delete", Op::DeleteObjects),
            ("POST", "/bk1", "", Op::PostObject),
            ("PUT", "/bk1/k", "partNumber=1&uploadId=u", Op::UploadPart),
            ("POST", "/bk1/k", "uploads", Op::CreateMultipartUpload),
            ("POST", "/bk1/k", "uploadId=u", Op::CompleteMultipartUpload),
            ("DELETE", "/bk1/k", "uploadId=u", Op::AbortMultipartUpload),
            ("GET", "/bk1/k", "uploadId=u", Op::ListParts),
            ("PUT", "/bk1/k", "acl", Op::PutObjectAcl),
            ("HEAD", "/bk1/k", "", Op::HeadObject),
        ];
        for (method, path, query, op) in cases {
            assert_eq!(
                go(method, path, query).unwrap().op,
                op,
                "{method} {path}?{query}"
            );
        }
        assert!(matches!(
            go("GET", "/bk1", "policy"),
            Err(S3Error::NotImplemented(_))
        ));
        assert!(matches!(
            go("POST", "/bk1/k", ""),
            Err(S3Error::MethodNotAllowed)
        ));
        assert!(matches!(
            go("OPTIONS", "/bk1/k", ""),
            Err(S3Error::CorsOriginMissing)
        ));
    }

    #[test]
    fn copies_are_told_by_their_header() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-copy-source", HeaderValue::from_static("/a/b"));
        let r = route(&Method::PUT, "/bk1/k", "", &headers, None, SERVICE).unwrap();
        assert_eq!(r.op, Op::CopyObject);
        let r = route(
            &Method::PUT,
            "/bk1/k",
            "partNumber=2&uploadId=u",
            &headers,
            None,
            SERVICE,
        )
        .unwrap();
        assert_eq!(r.op, Op::UploadPartCopy);
    }

    #[test]
    fn virtual_hosts_name_the_bucket() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("photos.walrus.example:8773"));
        assert_eq!(
            virtual_bucket(&headers, Some("walrus.example")),
            Some("photos")
        );
        assert_eq!(virtual_bucket(&headers, Some("other.example")), None);
        assert_eq!(virtual_bucket(&headers, None), None);
        headers.insert(HOST, HeaderValue::from_static("walrus.example"));
        assert_eq!(virtual_bucket(&headers, Some("walrus.example")), None);
        let r = route(
            &Method::GET,
            "/a/b",
            "",
            &HeaderMap::new(),
            Some("photos"),
            SERVICE,
        )
        .unwrap();
        assert_eq!((r.bucket(), r.key()), ("photos", "a/b"));
    }

    #[test]
    fn hostile_keys_are_refused() {
        // Regression guard: keys never become paths, but `..` and NUL are refused anyway.
        for path in [
            "/bk1/..",
            "/bk1/a/../c",
            "/bk1/%2E%2E/x",
            "/bk1/a%00b",
            "/bk1/%ff%fe",
        ] {
            assert!(
                matches!(go("GET", path, ""), Err(S3Error::InvalidObjectName(_))),
                "{path}"
            );
        }
        assert!(go("GET", "/bk1/a..b/.../c.", "").is_ok());
        let long = format!("/bk1/{}", "k".repeat(1025));
        assert!(matches!(go("GET", &long, ""), Err(S3Error::KeyTooLong)));
    }
}

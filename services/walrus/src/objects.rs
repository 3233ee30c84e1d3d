//! Object operations: put (streamed into a blob), get and head (ranges, conditions),
//! delete, delete several, copy, ACLs.

use std::ops::Range;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use hyper::header::{
    HeaderName, HeaderValue, ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    LAST_MODIFIED,
};
use hyper::{HeaderMap, Response, StatusCode};

use crate::acl::{Acl, Identity, Permission};
use crate::body::Body;
use crate::buckets::{acl_from_request, bucket_for};
use crate::digest::{hex, ParallelMd5};
use crate::dispatch::{empty_reply, xml_reply, Req};
use crate::error::S3Error;
use crate::form::Form;
use crate::meta::{Bucket, Object, Segment, StoredHeaders};
use crate::payload::Payload;
use crate::router::{check_bucket_name, check_key};
use crate::state::{blob_ids, Walrus};
use crate::storage::{BlobId, Lease};
use crate::time::{http_date, iso8601_millis, parse_http_date};
use crate::uri::percent_decode;
use crate::xml::{self, S3Xml};

/// Headers stored with an object and given back with it.
const STORED: [&str; 6] = [
    "content-type",
    "content-disposition",
    "content-encoding",
    "content-language",
    "cache-control",
    "expires",
];
const META_PREFIX: &str = "x-amz-meta-";
/// Most bytes of user metadata (names without the prefix, and values), as S3.
const MAX_METADATA: usize = 2048;
/// Most keys one DeleteObjects request may name.
const MAX_DELETE: usize = 1000;
/// Content-Type of objects stored without one.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// The headers of a request that are stored with the object it writes.
pub fn stored_headers(headers: &HeaderMap) -> Result<StoredHeaders, S3Error> {
    let text = |name: &str, value: &HeaderValue| {
        std::str::from_utf8(value.as_bytes())
            .map(|v| v.trim().to_owned())
            .map_err(|_| S3Error::InvalidArgument(format!("header {name} is not UTF-8")))
    };
    let mut stored = Vec::new();
    for name in STORED {
        let Some(value) = headers.get(name) else {
            continue;
        };
        let mut value = text(name, value)?;
        if name == "content-encoding" {
            // aws-chunked describes the transfer, not the object.
            value = value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("aws-chunked"))
                .collect::<Vec<_>>()
                .join(",");
        }
        if !value.is_empty() {
            stored.push((name.to_owned(), value));
        }
    }
    let mut metadata_size = 0;
    let mut names: Vec<&str> = headers
        .keys()
        .map(HeaderName::as_str)
        .filter(|n| n.starts_with(META_PREFIX))
        .collect();
    names.dedup();
    for name in names {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| text(name, v))
            .collect::<Result<_, _>>()?;
        let value = values.join(",");
        metadata_size += name.len() - META_PREFIX.len() + value.len();
        stored.push((name.to_owned(), value));
    }
    if metadata_size > MAX_METADATA {
        return Err(S3Error::MetadataTooLarge);
    }
    Ok(StoredHeaders(stored))
}

/// A blob just written from a request body.
#[derive(Debug)]
pub struct Written {
    pub blob: BlobId,
    pub size: u64,
    pub md5: [u8; 16],
}

/// The MD5 a `Content-MD5` header promises.
pub fn content_md5(headers: &HeaderMap) -> Result<Option<[u8; 16]>, S3Error> {
    headers
        .get("content-md5")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|t| BASE64.decode(t.trim()).ok())
                .and_then(|d| <[u8; 16]>::try_from(d).ok())
                .ok_or(S3Error::InvalidDigest)
        })
        .transpose()
}

/// Where the data of a write comes from.
#[derive(Debug)]
pub enum Source<'a> {
    Body(&'a mut Payload),
    /// The file part of a POST form.
    Form(&'a mut Form),
}

impl Source<'_> {
    async fn next(&mut self) -> Result<Option<Bytes>, S3Error> {
        match self {
            Self::Body(payload) => payload.next().await,
            Self::Form(form) => form.data().await,
        }
    }
}

/// Streams `body` into a new, published blob of `bucket`, checking `expected_md5`.
/// Nothing is left behind if anything fails.
pub async fn write_blob(
    walrus: &Walrus,
    bucket: &str,
    mut body: Source<'_>,
    expected_md5: Option<[u8; 16]>,
) -> Result<Written, S3Error> {
    let mut writer = walrus.storage().backend().writer(bucket).await?;
    let md5 = ParallelMd5::start();
    let mut size = 0u64;
    while let Some(data) = body.next().await? {
        size += data.len() as u64;
        md5.update(data.clone()).await.map_err(S3Error::internal)?;
        writer.write(data).await?;
    }
    let md5 = md5.finish().await.map_err(S3Error::internal)?;
    if expected_md5.is_some_and(|e| e != md5) {
        return Err(S3Error::BadDigest);
    }
    let blob = writer.publish().await?;
    Ok(Written { blob, size, md5 })
}

/// Refuses early an upload that cannot fit the bucket's quota (checked again on commit).
pub fn precheck_quota(
    walrus: &Walrus,
    who: &Identity,
    bucket: &Bucket,
    incoming: Option<u64>,
) -> Result<(), S3Error> {
    let quota = walrus.quota_for(who);
    if let (Some(max), Some(n)) = (quota.max_bucket_bytes, incoming) {
        if bucket.size.saturating_add(n) > max && n > 0 {
            return Err(S3Error::EntityTooLarge);
        }
    }
    Ok(())
}

/// Who owns what a request writes: its signer; anonymous writes (public-read-write
/// buckets) belong to the bucket's owner.
pub fn writer_id(who: &Identity, bucket: &Bucket) -> String {
    who.canonical_id().unwrap_or(&bucket.owner).to_owned()
}

/// Commits `object` (replacing what was at its key) and discards the blobs it replaced;
/// on failure, discards the object's own blobs.
pub async fn commit(walrus: &Walrus, who: &Identity, object: Object) -> Result<(), S3Error> {
    let quota = walrus.quota_for(who);
    walrus
        .meta(
            move |meta, storage| match meta.put_object(&object, &quota) {
                Ok(old) => {
                    storage.discard_ids(&object.bucket, old);
                    Ok(())
                }
                Err(e) => {
                    let own = object.segments.iter().map(|s| s.blob.clone());
                    storage.discard_ids(&object.bucket, own);
                    Err(e)
                }
            },
        )
        .await
}

pub async fn put_object(walrus: &Walrus, mut req: Req) -> Result<Response<Body>, S3Error> {
    let bucket = bucket_for(walrus, req.route.bucket(), &req.who, Permission::Write).await?;
    let owner = writer_id(&req.who, &bucket);
    let headers = stored_headers(&req.head.headers)?;
    let acl = Acl::from_headers(
        &req.head.headers,
        &owner,
        &bucket.owner,
        &walrus.directory(),
    )?
    .unwrap_or_else(|| Acl::private(&owner));
    let expected_md5 = content_md5(&req.head.headers)?;
    precheck_quota(walrus, &req.who, &bucket, req.body.expected_len())?;
    let written = write_blob(
        walrus,
        &bucket.name,
        Source::Body(&mut req.body),
        expected_md5,
    )
    .await?;
    let etag = hex(&written.md5);
    let object = Object {
        bucket: bucket.name.clone(),
        key: req.route.key().to_owned(),
        size: written.size,
        etag: etag.clone(),
        modified: crate::time::now_millis(),
        owner,
        headers,
        acl,
        segments: vec![Segment {
            blob: written.blob.id,
            size: written.size,
        }],
    };
    commit(walrus, &req.who, object).await?;
    let mut response = empty_reply(StatusCode::OK);
    set(response.headers_mut(), ETAG, &format!("\"{etag}\""));
    Ok(response)
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// An object `who` may access with `permission`, its blobs leased. A missing key is
/// `NoSuchKey` only to those who may list the bucket.
pub async fn object_for(
    walrus: &Walrus,
    bucket: &str,
    key: &str,
    who: &Identity,
    permission: Permission,
) -> Result<(Object, Lease), S3Error> {
    let (bucket, key, asker) = (bucket.to_owned(), key.to_owned(), who.clone());
    let (object, lease) = walrus
        .meta(move |meta, storage| {
            let record = meta.bucket(&bucket)?.ok_or(S3Error::NoSuchBucket)?;
            let Some(object) = meta.object(&bucket, &key)? else {
                return Err(
                    if record.acl.permits(&record.owner, &asker, Permission::Read) {
                        S3Error::NoSuchKey
                    } else {
                        S3Error::AccessDenied
                    },
                );
            };
            let lease = storage.lease(&blob_ids(&object));
            Ok((object, lease))
        })
        .await?;
    if !object.acl.permits(&object.owner, who, permission) {
        return Err(S3Error::AccessDenied);
    }
    Ok((object, lease))
}

/// ETags in a conditional header: `*` or a comma-separated list, quotes and `W/` optional.
fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.trim_start_matches("W/").trim_matches('"') == etag
    })
}

/// Conditions on an object, from request headers named by `names` (If-* or
/// x-amz-copy-source-if-*). Failing ones give `PreconditionFailed`, or `NotModified`
/// when `not_modified` (GET and HEAD).
struct Conditions<'a> {
    if_match: &'a str,
    if_unmodified_since: &'a str,
    if_none_match: &'a str,
    if_modified_since: &'a str,
    not_modified: bool,
}

const GET_CONDITIONS: Conditions<'static> = Conditions {
    if_match: "if-match",
    if_unmodified_since: "if-unmodified-since",
    if_none_match: "if-none-match",
    if_modified_since: "if-modified-since",
    not_modified: true,
};

const COPY_CONDITIONS: Conditions<'static> = Conditions {
    if_match: "x-amz-copy-source-if-match",
    if_unmodified_since: "x-amz-copy-source-if-unmodified-since",
    if_none_match: "x-amz-copy-source-if-none-match",
    if_modified_since: "x-amz-copy-source-if-modified-since",
    not_modified: false,
};

impl Conditions<'_> {
    /// RFC 9110's order: If-Match, else If-Unmodified-Since; then If-None-Match, else
    /// If-Modified-Since. Unparseable dates are ignored, as HTTP says.
    fn check(&self, headers: &HeaderMap, object: &Object) -> Result<(), S3Error> {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let modified = object.modified.div_euclid(1000);
        if let Some(tags) = get(self.if_match) {
            if !etag_matches(tags, &object.etag) {
                return Err(S3Error::PreconditionFailed);
            }
        } else if let Some(date) = get(self.if_unmodified_since).and_then(parse_http_date) {
            if modified > date {
                return Err(S3Error::PreconditionFailed);
            }
        }
        let unchanged = if let Some(tags) = get(self.if_none_match) {
            etag_matches(tags, &object.etag)
        } else if let Some(date) = get(self.if_modified_since).and_then(parse_http_date) {
            modified <= date
        } else {
            false
        };
        if unchanged {
            return Err(if self.not_modified {
                S3Error::NotModified
            } else {
                S3Error::PreconditionFailed
            });
        }
        Ok(())
    }
}

/// The byte range a `Range` header asks of an object of `size` bytes: `None` for the whole
/// object (no header, or one S3 ignores: several ranges, bad syntax).
pub fn parse_range(header: Option<&str>, size: u64) -> Result<Option<Range<u64>>, S3Error> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let number = |t: &str| t.trim().parse::<u64>().ok();
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match number(last) {
            Some(0) => return Err(S3Error::InvalidRange { size }),
            Some(n) => size.saturating_sub(n)..size,
            None => return Ok(None),
        },
        (false, true) => match number(first) {
            Some(start) => start..size,
            None => return Ok(None),
        },
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(end)) if start <= end => start..end.saturating_add(1).min(size),
            _ => return Ok(None),
        },
        (true, true) => return Ok(None),
    };
    if range.start >= size {
        return Err(S3Error::InvalidRange { size });
    }
    Ok(Some(range))
}

pub async fn get_object(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let (object, lease) = object_for(
        walrus,
        req.route.bucket(),
        req.route.key(),
        &req.who,
        Permission::Read,
    )
    .await?;
    GET_CONDITIONS.check(&req.head.headers, &object)?;
    let range = parse_range(req.header("range"), object.size)?;
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    object_headers(headers, &object);
    // Overrides of response headers, which S3 honours for signed requests only.
    if !matches!(req.who, Identity::Anonymous) {
        for (param, name) in [
            ("response-content-type", CONTENT_TYPE),
            (
                "response-content-language",
                HeaderName::from_static("content-language"),
            ),
            ("response-expires", HeaderName::from_static("expires")),
            (
                "response-cache-control",
                HeaderName::from_static("cache-control"),
            ),
            (
                "response-content-disposition",
                HeaderName::from_static("content-disposition"),
            ),
            (
                "response-content-encoding",
                HeaderName::from_static("content-encoding"),
            ),
        ] {
            if let Some(value) = req.route.query.get(param) {
                set(headers, name, value);
            }
        }
    }
    let served = range.clone().unwrap_or(0..object.size);
    headers.insert(CONTENT_LENGTH, HeaderValue::from(served.end - served.start));
    if let Some(range) = &range {
        set(
            headers,
            CONTENT_RANGE,
            &format!("bytes {}-{}/{}", range.start, range.end - 1, object.size),
        );
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    if req.route.op == crate::router::Op::GetObject {
        *response.body_mut() = walrus.body(&object, served, lease);
    }
    Ok(response)
}

/// ETag, Last-Modified, Accept-Ranges and the stored headers of an object.
fn object_headers(headers: &mut HeaderMap, object: &Object) {
    set(headers, ETAG, &format!("\"{}\"", object.etag));
    set(
        headers,
        LAST_MODIFIED,
        &http_date(object.modified.div_euclid(1000)),
    );
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    set(
        headers,
        CONTENT_TYPE,
        object
            .headers
            .get("content-type")
            .unwrap_or(DEFAULT_CONTENT_TYPE),
    );
    for (name, value) in &object.headers.0 {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
}

pub async fn delete_object(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let bucket = bucket_for(walrus, req.route.bucket(), &req.who, Permission::Write).await?;
    let key = req.route.key().to_owned();
    walrus
        .meta(move |meta, storage| {
            let blobs = meta.delete_object(&bucket.name, &key)?;
            storage.discard_ids(&bucket.name, blobs);
            Ok::<_, crate::meta::MetaError>(())
        })
        .await?;
    Ok(empty_reply(StatusCode::NO_CONTENT))
}

/// What happened to one key of a DeleteObjects request.
enum Outcome {
    Deleted(String),
    Failed(String, S3Error),
}

pub async fn delete_objects(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let bucket = bucket_for(walrus, req.route.bucket(), &req.who, Permission::Write).await?;
    let body = req.body.read_all(xml::MAX_DOCUMENT).await?;
    let root = xml::parse(&body, "Delete")?;
    let quiet = xml::child_text(&root, "Quiet")?.is_some_and(|q| q.eq_ignore_ascii_case("true"));
    let mut keys = Vec::new();
    for object in xml::children(&root, "Object") {
        keys.push(
            xml::child_text(object, "Key")?
                .ok_or_else(|| S3Error::MalformedXml("an Object without Key".into()))?,
        );
    }
    if keys.is_empty() || keys.len() > MAX_DELETE {
        return Err(S3Error::MalformedXml(format!(
            "name 1 to {MAX_DELETE} objects"
        )));
    }
    let outcomes = walrus
        .meta(move |meta, storage| {
            let mut outcomes = Vec::new();
            for key in keys {
                if let Err(e) = check_key(&key) {
                    outcomes.push(Outcome::Failed(key, e));
                    continue;
                }
                let blobs = meta.delete_object(&bucket.name, &key)?;
                storage.discard_ids(&bucket.name, blobs);
                outcomes.push(Outcome::Deleted(key));
            }
            Ok::<_, crate::meta::MetaError>(outcomes)
        })
        .await?;
    let mut doc = S3Xml::new("DeleteResult");
    for outcome in outcomes {
        match outcome {
            Outcome::Deleted(key) if !quiet => {
                doc.start("Deleted");
                doc.field("Key", &key);
                doc.end();
            }
            Outcome::Deleted(_) => {}
            Outcome::Failed(key, error) => {
                doc.start("Error");
                doc.field("Key", &key);
                doc.field("Code", error.s3_code());
                doc.field("Message", &error.to_string());
                doc.end();
            }
        }
    }
    Ok(xml_reply(doc.finish()))
}

/// The bucket and key an `x-amz-copy-source` header names (`[/]bucket/key[?versionId=null]`,
/// URL-encoded).
pub fn copy_source(headers: &HeaderMap) -> Result<(String, String), S3Error> {
    let bad = || {
        S3Error::InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey".into(),
        )
    };
    let raw = headers
        .get("x-amz-copy-source")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(bad)?;
    let (path, version) = raw
        .split_once('?')
        .map_or((raw, None), |(p, v)| (p, Some(v)));
    if let Some(version) = version {
        if version != "versionId=null" {
            return Err(S3Error::NotImplemented("object versions".into()));
        }
    }
    let decoded = String::from_utf8(percent_decode(path, false))
        .map_err(|_| S3Error::InvalidObjectName("Object key is not valid UTF-8".into()))?;
    let (bucket, key) = decoded
        .trim_start_matches('/')
        .split_once('/')
        .ok_or_else(bad)?;
    check_bucket_name(bucket)?;
    check_key(key)?;
    Ok((bucket.to_owned(), key.to_owned()))
}

pub async fn copy_object(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let (source_bucket, source_key) = copy_source(&req.head.headers)?;
    let replace = match req.header("x-amz-metadata-directive").map(str::trim) {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(other) => {
            return Err(S3Error::InvalidArgument(format!(
                "Unknown metadata directive {other:?}"
            )))
        }
    };
    let bucket = bucket_for(walrus, req.route.bucket(), &req.who, Permission::Write).await?;
    let (source, _lease) = object_for(
        walrus,
        &source_bucket,
        &source_key,
        &req.who,
        Permission::Read,
    )
    .await?;
    COPY_CONDITIONS.check(&req.head.headers, &source)?;
    let key = req.route.key().to_owned();
    if source_bucket == bucket.name && source_key == key && !replace {
        return Err(S3Error::CopyToItself);
    }
    let owner = writer_id(&req.who, &bucket);
    let headers = if replace {
        stored_headers(&req.head.headers)?
    } else {
        source.headers.clone()
    };
    let acl = Acl::from_headers(
        &req.head.headers,
        &owner,
        &bucket.owner,
        &walrus.directory(),
    )?
    .unwrap_or_else(|| Acl::private(&owner));
    precheck_quota(walrus, &req.who, &bucket, Some(source.size))?;
    let segments = copy_segments(walrus, &source, &bucket.name).await?;
    let modified = crate::time::now_millis();
    let object = Object {
        bucket: bucket.name.clone(),
        key,
        size: source.size,
        etag: source.etag.clone(),
        modified,
        owner,
        headers,
        acl,
        segments,
    };
    commit(walrus, &req.who, object).await?;
    let mut doc = S3Xml::new("CopyObjectResult");
    doc.field("LastModified", &iso8601_millis(modified));
    doc.field("ETag", &format!("\"{}\"", source.etag));
    Ok(xml_reply(doc.finish()))
}

/// Copies an object's blobs into new blobs of bucket `to`; on failure, discards the copies
/// already made.
async fn copy_segments(
    walrus: &Walrus,
    source: &Object,
    to: &str,
) -> Result<Vec<Segment>, S3Error> {
    let mut copies: Vec<Segment> = Vec::new();
    for segment in &source.segments {
        let blob = BlobId {
            bucket: source.bucket.clone(),
            id: segment.blob.clone(),
        };
        match walrus.storage().backend().copy(&blob, to).await {
            Ok(copy) => copies.push(Segment {
                blob: copy.id,
                size: segment.size,
            }),
            Err(e) => {
                walrus
                    .storage()
                    .discard_ids(to, copies.into_iter().map(|s| s.blob));
                return Err(e.into());
            }
        }
    }
    Ok(copies)
}

pub async fn get_acl(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let (object, _) = object_for(
        walrus,
        req.route.bucket(),
        req.route.key(),
        &req.who,
        Permission::ReadAcp,
    )
    .await?;
    Ok(xml_reply(
        object.acl.to_xml(&object.owner, &walrus.directory()),
    ))
}

pub async fn put_acl(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let (object, _) = object_for(
        walrus,
        req.route.bucket(),
        req.route.key(),
        &req.who,
        Permission::WriteAcp,
    )
    .await?;
    let bucket_name = object.bucket.clone();
    let bucket_owner = walrus
        .meta(move |meta, _| meta.bucket(&bucket_name))
        .await?
        .map(|b| b.owner)
        .unwrap_or_default();
    let acl = acl_from_request(walrus, req, &object.owner, &bucket_owner).await?;
    walrus
        .meta(move |meta, _| meta.set_object_acl(&object.bucket, &object.key, &acl))
        .await?;
    Ok(empty_reply(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ranges_as_s3_reads_them() {
        assert_eq!(parse_range(None, 10).unwrap(), None);
        assert_eq!(parse_range(Some("bytes=0-3"), 10).unwrap(), Some(0..4));
        assert_eq!(parse_range(Some("bytes=5-"), 10).unwrap(), Some(5..10));
        assert_eq!(parse_range(Some("bytes=-3"), 10).unwrap(), Some(7..10));
        assert_eq!(parse_range(Some("bytes=-30"), 10).unwrap(), Some(0..10));
        assert_eq!(parse_range(Some("bytes=8-100"), 10).unwrap(), Some(8..10));
        // Ignored, as HTTP says: several ranges, bad syntax, reversed.
        for ignored in [
            "bytes=0-1,3-4",
            "bytes=a-b",
            "items=0-1",
            "bytes=5-2",
            "bytes=-",
        ] {
            assert_eq!(parse_range(Some(ignored), 10).unwrap(), None, "{ignored}");
        }
        for unsatisfiable in ["bytes=10-", "bytes=10-20", "bytes=-0"] {
            assert!(matches!(
                parse_range(Some(unsatisfiable), 10),
                Err(S3Error::InvalidRange { size: 10 })
            ));
        }
        assert!(parse_range(Some("bytes=0-"), 0).is_err());
    }

    fn object(etag: &str, modified_secs: i64) -> Object {
        Object {
            bucket: "b".into(),
            key: "k".into(),
            size: 1,
            etag: etag.into(),
            modified: modified_secs * 1000 + 999,
            owner: "o".into(),
            headers: StoredHeaders::default(),
            acl: Acl::default(),
            segments: Vec::new(),
        }
    }

    fn with(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (n, v) in pairs {
            headers.insert(*n, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn conditional_requests() {
        let o = object("abc", 1_000_000);
        let before = http_date(999_999);
        let at = http_date(1_000_000);
        let ok = |h: &[(&'static str, &str)]| GET_CONDITIONS.check(&with(h), &o);
        assert!(ok(&[("if-match", "\"abc\"")]).is_ok());
        assert!(ok(&[("if-match", "\"x\", \"abc\"")]).is_ok());
        assert!(matches!(
            ok(&[("if-match", "\"x\"")]),
            Err(S3Error::PreconditionFailed)
        ));
        assert!(matches!(
            ok(&[("if-none-match", "\"abc\"")]),
            Err(S3Error::NotModified)
        ));
        assert!(matches!(
            ok(&[("if-none-match", "*")]),
            Err(S3Error::NotModified)
        ));
        assert!(ok(&[("if-none-match", "\"x\"")]).is_ok());
        assert!(matches!(
            ok(&[("if-modified-since", &at)]),
            Err(S3Error::NotModified)
        ));
        assert!(ok(&[("if-modified-since", &before)]).is_ok());
        assert!(matches!(
            ok(&[("if-unmodified-since", &before)]),
            Err(S3Error::PreconditionFailed)
        ));
        assert!(ok(&[("if-unmodified-since", &at)]).is_ok());
        // If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since.
        assert!(ok(&[("if-match", "\"abc\""), ("if-unmodified-since", &before)]).is_ok());
        assert!(ok(&[("if-none-match", "\"x\""), ("if-modified-since", &at)]).is_ok());
        assert!(ok(&[("if-modified-since", "not a date")]).is_ok());
        assert!(matches!(
            COPY_CONDITIONS.check(&with(&[("x-amz-copy-source-if-none-match", "\"abc\"")]), &o),
            Err(S3Error::PreconditionFailed)
        ));
    }

    #[test]
    fn stored_headers_and_the_metadata_limit() {
        let headers = with(&[
            ("content-type", "text/plain"),
            ("content-encoding", "aws-chunked,gzip"),
            ("x-amz-meta-color", "blue"),
            ("x-amz-acl", "private"),
        ]);
        let stored = stored_headers(&headers).unwrap();
        assert_eq!(stored.get("content-type"), Some("text/plain"));
        assert_eq!(stored.get("content-encoding"), Some("gzip"));
        assert_eq!(stored.get("x-amz-meta-color"), Some("blue"));
        assert_eq!(stored.get("x-amz-acl"), None);
        let only_chunked = with(&[("content-encoding", "aws-chunked")]);
        assert_eq!(
            stored_headers(&only_chunked)
                .unwrap()
                .get("content-encoding"),
            None
        );
        let big = "v".repeat(2040);
        assert!(stored_headers(&with(&[("x-amz-meta-a", &big)])).is_ok());
        let too_big = "v".repeat(2045);
        assert!(matches!(
            stored_headers(&with(&[("x-amz-meta-abcd", &too_big)])),
            Err(S3Error::MetadataTooLarge)
        ));
    }

    #[test]
    fn copy_sources_are_decoded_and_checked() {
        let parse = |v: &str| copy_source(&with(&[("x-amz-copy-source", v)]));
        assert_eq!(parse("/bkt/a%20b").unwrap(), ("bkt".into(), "a b".into()));
        assert_eq!(
            parse("bkt/x/y?versionId=null").unwrap(),
            ("bkt".into(), "x/y".into())
        );
        assert!(parse("bkt").is_err());
        assert!(parse("bkt/../x").is_err());
        assert!(matches!(
            parse("bkt/x?versionId=3"),
            Err(S3Error::NotImplemented(_))
        ));
    }
}

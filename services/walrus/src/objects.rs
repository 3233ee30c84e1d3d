//! Object operations over REST: put (streamed into a blob), get and head (ranges,
//! conditions), delete, delete several, copy, ACLs. The operations themselves are
//! [`crate::ops`]; here they are only read from headers and written as replies.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hyper::header::{
    HeaderName, HeaderValue, ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    LAST_MODIFIED,
};
use hyper::{HeaderMap, Response, StatusCode};

use crate::acl::{Acl, Identity, Permission};
use crate::body::Body;
use crate::digest::{crc32_text, Digests, CHECKSUM_CRC32, CHECKSUM_TYPE};
use crate::error::S3Error;
use crate::meta::{Object, StoredHeaders};
use crate::ops::{
    self, bucket_for, check_bucket_name, check_key, ByteRange, Conditions, Promised, Source,
};
use crate::rest::{empty_reply, xml_reply, Req};
use crate::router::Op;
use crate::state::Walrus;
use crate::time::{http_date, iso8601_millis, parse_http_date};
use crate::uri::percent_decode;
use crate::xml::{self, S3Xml};

/// Names of the checksum headers among an object's stored ones (given back on request only).
const CHECKSUM_PREFIX: &str = "x-amz-checksum-";

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
            // aws-chunked describes the transfer, not the object; the rest stays as sent.
            value = value
                .split(',')
                .filter(|v| !v.trim().is_empty() && !v.trim().eq_ignore_ascii_case("aws-chunked"))
                .collect::<Vec<_>>()
                .join(",")
                .trim()
                .to_owned();
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

/// A base64 digest header of `N` bytes, or `invalid` when it is malformed.
fn digest_header<const N: usize>(
    headers: &HeaderMap,
    name: &str,
    invalid: impl FnOnce() -> S3Error,
) -> Result<Option<[u8; N]>, S3Error> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|t| BASE64.decode(t.trim()).ok())
                .and_then(|d| <[u8; N]>::try_from(d).ok())
                .ok_or_else(invalid)
        })
        .transpose()
}

/// What `Content-MD5` and `x-amz-checksum-crc32` promise of a request's data.
pub fn promised(headers: &HeaderMap) -> Result<Promised, S3Error> {
    Ok(Promised {
        md5: digest_header(headers, "content-md5", || S3Error::InvalidDigest)?,
        crc32: digest_header(headers, CHECKSUM_CRC32, || {
            S3Error::InvalidRequest(format!("Value for {CHECKSUM_CRC32} header is invalid."))
        })?
        .map(u32::from_be_bytes),
    })
}

/// Answers the checksum the request sent (and was found true), as S3 does.
pub fn echo_checksum(response: &mut Response<Body>, crc32: Option<u32>) {
    if let Some(crc32) = crc32 {
        set(
            response.headers_mut(),
            HeaderName::from_static(CHECKSUM_CRC32),
            &crc32_text(crc32),
        );
    }
}

pub async fn put_object(walrus: &Walrus, mut req: Req) -> Result<Response<Body>, S3Error> {
    let input = ops::PutObject {
        bucket: req.route.bucket().to_owned(),
        key: req.route.key().to_owned(),
        headers: stored_headers(&req.head.headers)?,
        acl: Acl::from_headers(&req.head.headers, &walrus.directory())?.unwrap_or_default(),
        promised: promised(&req.head.headers)?,
        length: req.body.expected_len(),
        body: Source::Body(&mut req.body),
    };
    let written = ops::put_object(walrus, &req.who, input).await?;
    let mut response = empty_reply(StatusCode::OK);
    set(
        response.headers_mut(),
        ETAG,
        &format!("\"{}\"", written.etag),
    );
    echo_checksum(&mut response, written.crc32);
    if written.crc32.is_some() {
        set(
            response.headers_mut(),
            HeaderName::from_static(CHECKSUM_TYPE),
            "FULL_OBJECT",
        );
    }
    Ok(response)
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// Names of the headers that carry conditions: If-* on reads, x-amz-copy-source-if-* on
/// copies.
struct ConditionHeaders {
    if_match: &'static str,
    if_unmodified_since: &'static str,
    if_none_match: &'static str,
    if_modified_since: &'static str,
}

const GET_CONDITIONS: ConditionHeaders = ConditionHeaders {
    if_match: "if-match",
    if_unmodified_since: "if-unmodified-since",
    if_none_match: "if-none-match",
    if_modified_since: "if-modified-since",
};

const COPY_CONDITIONS: ConditionHeaders = ConditionHeaders {
    if_match: "x-amz-copy-source-if-match",
    if_unmodified_since: "x-amz-copy-source-if-unmodified-since",
    if_none_match: "x-amz-copy-source-if-none-match",
    if_modified_since: "x-amz-copy-source-if-modified-since",
};

impl ConditionHeaders {
    /// The conditions in `headers`. Unparseable dates are ignored, as HTTP says.
    fn read(&self, headers: &HeaderMap) -> Conditions {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let tags = |name: &str| {
            get(name)
                .map(|list| list.split(',').map(str::to_owned).collect())
                .unwrap_or_default()
        };
        Conditions {
            if_match: tags(self.if_match),
            if_unmodified_since: get(self.if_unmodified_since).and_then(parse_http_date),
            if_none_match: tags(self.if_none_match),
            if_modified_since: get(self.if_modified_since).and_then(parse_http_date),
        }
    }
}

/// The byte range a `Range` header asks for: `None` for the whole object (no header, or
/// one S3 ignores: several ranges, bad syntax, reversed).
pub fn parse_range(header: Option<&str>) -> Option<ByteRange> {
    let spec = header?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let number = |t: &str| t.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        (true, false) => number(last).map(ByteRange::Suffix),
        (false, true) => number(first).map(|first| ByteRange::Span { first, last: None }),
        (false, false) => match (number(first), number(last)) {
            (Some(first), Some(last)) if first <= last => Some(ByteRange::Span {
                first,
                last: Some(last),
            }),
            _ => None,
        },
        (true, true) => None,
    }
}

/// GET and HEAD.
pub async fn get_object(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let input = ops::GetObject {
        bucket: req.route.bucket().to_owned(),
        key: req.route.key().to_owned(),
        conditions: GET_CONDITIONS.read(&req.head.headers),
        range: parse_range(req.header("range")),
        part_number: req.part_number()?,
    };
    let out = ops::get_object(walrus, &req.who, input).await?;
    let served = out.served();
    let ops::GetObjectOutput {
        object,
        range,
        parts_count,
        lease,
    } = out;
    // The stored checksum covers the whole object only, so a range or a part goes without.
    let checksum = req
        .header("x-amz-checksum-mode")
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("ENABLED"))
        && range.is_none();
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    object_headers(headers, &object, checksum);
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
    if let Some(count) = parts_count {
        headers.insert("x-amz-mp-parts-count", HeaderValue::from(count));
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(served.end - served.start));
    if let Some(range) = &range {
        set(
            headers,
            CONTENT_RANGE,
            &format!("bytes {}-{}/{}", range.start, range.end - 1, object.size),
        );
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    if req.route.op == Op::GetObject {
        *response.body_mut() = walrus.body(&object, served, lease);
    }
    Ok(response)
}

/// ETag, Last-Modified, Accept-Ranges and the stored headers of an object; its checksum
/// only when `checksum` (S3 gives it when asked for).
fn object_headers(headers: &mut HeaderMap, object: &Object, checksum: bool) {
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
        if name.starts_with(CHECKSUM_PREFIX) {
            if !checksum {
                continue;
            }
            let kind = if value.contains('-') {
                "COMPOSITE"
            } else {
                "FULL_OBJECT"
            };
            set(headers, HeaderName::from_static(CHECKSUM_TYPE), kind);
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
}

pub async fn delete_object(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    ops::delete_object(walrus, &req.who, req.route.bucket(), req.route.key()).await?;
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
    // S3 wants the body's integrity vouched for: by Content-MD5 or, from current SDKs, a CRC32.
    let promised = promised(&req.head.headers)?;
    if promised == Promised::default() {
        return Err(S3Error::InvalidRequest(
            "Missing required header for this request: Content-MD5".into(),
        ));
    }
    promised.check(&Digests::of(&body).map_err(S3Error::internal)?)?;
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
    let replace_headers = match req.header("x-amz-metadata-directive").map(str::trim) {
        None | Some("COPY") => None,
        Some("REPLACE") => Some(stored_headers(&req.head.headers)?),
        Some(other) => {
            return Err(S3Error::InvalidArgument(format!(
                "Unknown metadata directive {other:?}"
            )))
        }
    };
    let input = ops::CopyObject {
        source_bucket,
        source_key,
        bucket: req.route.bucket().to_owned(),
        key: req.route.key().to_owned(),
        conditions: COPY_CONDITIONS.read(&req.head.headers),
        replace_headers,
        acl: Acl::from_headers(&req.head.headers, &walrus.directory())?.unwrap_or_default(),
    };
    let written = ops::copy_object(walrus, &req.who, input).await?;
    let mut doc = S3Xml::new("CopyObjectResult");
    doc.field("LastModified", &iso8601_millis(written.modified));
    doc.field("ETag", &format!("\"{}\"", written.etag));
    Ok(xml_reply(doc.finish()))
}

pub async fn get_acl(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let out = ops::get_object_acl(walrus, &req.who, req.route.bucket(), req.route.key()).await?;
    Ok(xml_reply(out.acl.to_xml(&out.owner, &walrus.directory())))
}

pub async fn put_acl(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let (bucket, key) = (req.route.bucket().to_owned(), req.route.key().to_owned());
    let who = req.who.clone();
    let acl = req.acl_to_set(walrus).await?;
    ops::put_object_acl(walrus, &who, &bucket, &key, acl).await?;
    Ok(empty_reply(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ranges_as_s3_reads_them() {
        let span = |first, last| Some(ByteRange::Span { first, last });
        assert_eq!(parse_range(None), None);
        assert_eq!(parse_range(Some("bytes=0-3")), span(0, Some(3)));
        assert_eq!(parse_range(Some("bytes=5-")), span(5, None));
        assert_eq!(parse_range(Some("bytes=-3")), Some(ByteRange::Suffix(3)));
        assert_eq!(parse_range(Some(" bytes=-0")), Some(ByteRange::Suffix(0)));
        // Ignored, as HTTP says: several ranges, bad syntax, reversed.
        for ignored in [
            "bytes=0-1,3-4",
            "bytes=a-b",
            "items=0-1",
            "bytes=5-2",
            "bytes=-",
        ] {
            assert_eq!(parse_range(Some(ignored)), None, "{ignored}");
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
    fn conditions_are_read_from_their_headers() {
        let date = http_date(1_000_000);
        let read = GET_CONDITIONS.read(&with(&[
            ("if-match", "\"x\", \"abc\""),
            ("if-modified-since", &date),
            ("if-unmodified-since", "not a date"),
        ]));
        assert_eq!(
            read,
            Conditions {
                if_match: vec!["\"x\"".into(), " \"abc\"".into()],
                if_modified_since: Some(1_000_000),
                ..Default::default()
            }
        );
        let copy = COPY_CONDITIONS.read(&with(&[
            ("if-none-match", "\"abc\""),
            ("x-amz-copy-source-if-none-match", "*"),
        ]));
        assert_eq!(copy.if_none_match, vec!["*".to_owned()]);
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
        let as_sent = with(&[("content-encoding", "aws-chunked,deflate, gzip")]);
        assert_eq!(
            stored_headers(&as_sent).unwrap().get("content-encoding"),
            Some("deflate, gzip")
        );
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

//! Bucket operations over REST: list all, create, delete, head, list objects (v1 and v2),
//! location, logging status, ACL, versioning (never enabled). The operations themselves are
//! [`crate::ops`]; here they are only read from requests and written as replies.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use base64::Engine;
use hyper::header::{HeaderValue, LOCATION};
use hyper::{Response, StatusCode};

use crate::acl::{Acl, Directory, Permission};
use crate::body::Body;
use crate::error::S3Error;
use crate::meta::{Listing, Logging};
use crate::ops::{self, bucket_for};
use crate::rest::{empty_reply, xml_reply, Req};
use crate::state::Walrus;
use crate::time::iso8601_millis;
use crate::uri::aws_encode;
use crate::xml::{self, S3Xml};

pub async fn list_buckets(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let out = ops::list_buckets(walrus, &req.who).await?;
    let mut doc = S3Xml::new("ListAllMyBucketsResult");
    doc.start("Owner");
    doc.field("ID", &out.owner);
    doc.field("DisplayName", &walrus.directory().display_name(&out.owner));
    doc.end();
    doc.start("Buckets");
    for bucket in out.buckets {
        doc.start("Bucket");
        doc.field("Name", &bucket.name);
        doc.field("CreationDate", &iso8601_millis(bucket.created));
        doc.end();
    }
    doc.end();
    Ok(xml_reply(doc.finish()))
}

pub async fn create_bucket(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let acl = Acl::from_headers(&req.head.headers, &walrus.directory())?.unwrap_or_default();
    let name = req.route.bucket().to_owned();
    let body = req.body.read_all(xml::MAX_DOCUMENT).await?;
    let location = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let root = xml::parse(&body, "CreateBucketConfiguration")?;
        xml::child_text(&root, "LocationConstraint")?
    };
    let input = ops::CreateBucket {
        bucket: name.clone(),
        acl,
        location,
    };
    ops::create_bucket(walrus, &req.who, input).await?;
    let mut response = empty_reply(StatusCode::OK);
    if let Ok(value) = HeaderValue::from_str(&format!("/{name}")) {
        response.headers_mut().insert(LOCATION, value);
    }
    Ok(response)
}

pub async fn delete_bucket(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    ops::delete_bucket(walrus, &req.who, req.route.bucket()).await?;
    Ok(empty_reply(StatusCode::NO_CONTENT))
}

pub async fn head_bucket(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    bucket_for(walrus, req.route.bucket(), &req.who, Permission::Read).await?;
    Ok(empty_reply(StatusCode::OK))
}

/// Listing parameters common to both versions.
struct ListParams {
    prefix: String,
    delimiter: Option<String>,
    max_keys: Option<usize>,
    url_encoded: bool,
}

impl ListParams {
    fn of(req: &Req) -> Result<Self, S3Error> {
        let q = &req.route.query;
        let max_keys = q
            .get("max-keys")
            .map(|text| {
                text.parse::<usize>().map_err(|_| {
                    S3Error::InvalidArgument("max-keys must be a non-negative integer".into())
                })
            })
            .transpose()?;
        let url_encoded = match q.get("encoding-type") {
            None => false,
            Some("url") => true,
            Some(other) => {
                return Err(S3Error::InvalidArgument(format!(
                    "Invalid Encoding Method specified in Request: {other}"
                )))
            }
        };
        Ok(Self {
            prefix: q.get("prefix").unwrap_or_default().to_owned(),
            delimiter: q.get("delimiter").map(str::to_owned),
            max_keys,
            url_encoded,
        })
    }

    /// A key or prefix as the listing shows it (`encoding-type=url` encodes them).
    fn show(&self, text: &str) -> String {
        if self.url_encoded {
            aws_encode(text.as_bytes(), true)
        } else {
            text.to_owned()
        }
    }
}

/// Where a listing starts, as versions 1 and 2 say it.
struct Start {
    after: Option<String>,
    token: Option<String>,
    start_after: Option<String>,
}

fn start(req: &Req, v2: bool) -> Result<Start, S3Error> {
    let q = &req.route.query;
    if !v2 {
        return Ok(Start {
            after: q.get("marker").map(str::to_owned),
            token: None,
            start_after: None,
        });
    }
    let token = q.get("continuation-token").map(str::to_owned);
    let from_token = token
        .as_deref()
        .map(|t| {
            TOKEN
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    S3Error::InvalidArgument("The continuation token provided is incorrect".into())
                })
        })
        .transpose()?;
    let start_after = q.get("start-after").map(str::to_owned);
    Ok(Start {
        after: from_token.or_else(|| start_after.clone()),
        token,
        start_after,
    })
}

pub async fn list_objects(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let v2 = req.route.query.get("list-type") == Some("2");
    let params = ListParams::of(&req)?;
    let start = start(&req, v2)?;
    let input = ops::ListObjects {
        bucket: req.route.bucket().to_owned(),
        prefix: params.prefix.clone(),
        delimiter: params.delimiter.clone(),
        max_keys: params.max_keys,
        after: start.after.clone(),
    };
    let ops::ListObjectsOutput {
        bucket,
        delimiter,
        max_keys,
        listing,
    } = ops::list_objects(walrus, &req.who, input).await?;
    let mut doc = S3Xml::new("ListBucketResult");
    doc.field("Name", &bucket.name);
    doc.field("Prefix", &params.show(&params.prefix));
    if v2 {
        doc.optional(
            "StartAfter",
            start
                .start_after
                .as_deref()
                .map(|s| params.show(s))
                .as_deref(),
        );
        doc.optional("ContinuationToken", start.token.as_deref());
        if listing.truncated {
            let next = listing.last.as_deref().map(|l| TOKEN.encode(l));
            doc.optional("NextContinuationToken", next.as_deref());
        }
        let count = listing.objects.len() + listing.prefixes.len();
        doc.field("KeyCount", &count.to_string());
    } else {
        doc.field(
            "Marker",
            &params.show(start.after.as_deref().unwrap_or_default()),
        );
    }
    doc.field("MaxKeys", &max_keys.to_string());
    doc.optional(
        "Delimiter",
        delimiter.as_deref().map(|d| params.show(d)).as_deref(),
    );
    doc.field(
        "IsTruncated",
        if listing.truncated { "true" } else { "false" },
    );
    if !v2 && listing.truncated {
        doc.optional(
            "NextMarker",
            listing.last.as_deref().map(|l| params.show(l)).as_deref(),
        );
    }
    let with_owner = !v2 || req.route.query.get("fetch-owner") == Some("true");
    write_contents(&mut doc, &listing, with_owner, &walrus.directory(), &params);
    if params.url_encoded {
        doc.field("EncodingType", "url");
    }
    Ok(xml_reply(doc.finish()))
}

fn write_contents(
    doc: &mut S3Xml,
    listing: &Listing,
    with_owner: bool,
    directory: &dyn Directory,
    params: &ListParams,
) {
    let mut names: HashMap<&str, String> = HashMap::new();
    for object in &listing.objects {
        doc.start("Contents");
        doc.field("Key", &params.show(&object.key));
        doc.field("LastModified", &iso8601_millis(object.modified));
        doc.field("ETag", &format!("\"{}\"", object.etag));
        doc.field("Size", &object.size.to_string());
        if with_owner {
            let name = names
                .entry(object.owner.as_str())
                .or_insert_with(|| directory.display_name(&object.owner));
            doc.start("Owner");
            doc.field("ID", &object.owner);
            doc.field("DisplayName", name);
            doc.end();
        }
        doc.field("StorageClass", "STANDARD");
        doc.end();
    }
    for prefix in &listing.prefixes {
        doc.start("CommonPrefixes");
        doc.field("Prefix", &params.show(prefix));
        doc.end();
    }
}

pub async fn get_location(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let bucket = bucket_for(walrus, req.route.bucket(), &req.who, Permission::Read).await?;
    let mut doc = S3Xml::new("LocationConstraint");
    if let Some(location) = &bucket.location {
        doc.text(location);
    }
    Ok(xml_reply(doc.finish()))
}

pub async fn get_logging(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let logging = ops::get_bucket_logging(walrus, &req.who, req.route.bucket()).await?;
    let mut doc = S3Xml::new("BucketLoggingStatus");
    if let Some(logging) = &logging {
        doc.start("LoggingEnabled");
        doc.field("TargetBucket", &logging.target_bucket);
        doc.field("TargetPrefix", &logging.target_prefix);
        doc.end();
    }
    Ok(xml_reply(doc.finish()))
}

pub async fn put_logging(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let bucket = req.route.bucket().to_owned();
    let body = req.body.read_all(xml::MAX_DOCUMENT).await?;
    let root = xml::parse(&body, "BucketLoggingStatus")?;
    let logging = match xml::children(&root, "LoggingEnabled").next() {
        None => None,
        Some(enabled) => Some(Logging {
            target_bucket: xml::child_text(enabled, "TargetBucket")?.ok_or_else(|| {
                S3Error::MalformedXml("LoggingEnabled without TargetBucket".into())
            })?,
            target_prefix: xml::child_text(enabled, "TargetPrefix")?.unwrap_or_default(),
        }),
    };
    let input = ops::PutBucketLogging { bucket, logging };
    ops::put_bucket_logging(walrus, &req.who, input).await?;
    Ok(empty_reply(StatusCode::OK))
}

pub async fn get_acl(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let out = ops::get_bucket_acl(walrus, &req.who, req.route.bucket()).await?;
    Ok(xml_reply(out.acl.to_xml(&out.owner, &walrus.directory())))
}

pub async fn put_acl(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let bucket = req.route.bucket().to_owned();
    let who = req.who.clone();
    let acl = req.acl_to_set(walrus).await?;
    ops::put_bucket_acl(walrus, &who, &bucket, acl).await?;
    Ok(empty_reply(StatusCode::OK))
}

pub async fn get_versioning(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    bucket_for(walrus, req.route.bucket(), &req.who, Permission::Read).await?;
    Ok(xml_reply(S3Xml::new("VersioningConfiguration").finish()))
}

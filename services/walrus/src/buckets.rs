//! Bucket operations: list all, create, delete, head, list objects (v1 and v2), location,
//! logging status, ACL, versioning (never enabled).

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use base64::Engine;
use hyper::header::{HeaderValue, LOCATION};
use hyper::{Response, StatusCode};

use crate::acl::{Acl, Directory, Identity, Permission};
use crate::body::Body;
use crate::dispatch::{empty_reply, xml_reply, Req};
use crate::error::S3Error;
use crate::meta::{Bucket, Listing, Logging};
use crate::state::Walrus;
use crate::time::iso8601_millis;
use crate::uri::aws_encode;
use crate::xml::{self, S3Xml};

/// Most keys a listing returns (S3's limit and default).
const MAX_KEYS: usize = 1000;

async fn lookup(walrus: &Walrus, name: &str) -> Result<Bucket, S3Error> {
    let name = name.to_owned();
    walrus
        .meta(move |meta, _| meta.bucket(&name))
        .await?
        .ok_or(S3Error::NoSuchBucket)
}

/// The bucket of a request, if `who` has `permission` on it.
pub async fn bucket_for(
    walrus: &Walrus,
    name: &str,
    who: &Identity,
    permission: Permission,
) -> Result<Bucket, S3Error> {
    let bucket = lookup(walrus, name).await?;
    if !bucket.acl.permits(&bucket.owner, who, permission) {
        return Err(S3Error::AccessDenied);
    }
    Ok(bucket)
}

/// The bucket, if `who` owns it (or is an administrator).
async fn owned_bucket(walrus: &Walrus, name: &str, who: &Identity) -> Result<Bucket, S3Error> {
    let bucket = lookup(walrus, name).await?;
    if !who.is_admin() && who.canonical_id() != Some(bucket.owner.as_str()) {
        return Err(S3Error::AccessDenied);
    }
    Ok(bucket)
}

pub async fn list_buckets(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let user = req.who.user()?.clone();
    let owner = user.canonical_id.clone();
    let buckets = walrus.meta(move |meta, _| meta.buckets_of(&owner)).await?;
    let mut doc = S3Xml::new("ListAllMyBucketsResult");
    doc.start("Owner");
    doc.field("ID", &user.canonical_id);
    doc.field("DisplayName", &user.name);
    doc.end();
    doc.start("Buckets");
    for bucket in buckets {
        doc.start("Bucket");
        doc.field("Name", &bucket.name);
        doc.field("CreationDate", &iso8601_millis(bucket.created));
        doc.end();
    }
    doc.end();
    Ok(xml_reply(doc.finish()))
}

pub async fn create_bucket(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let user = req.who.user()?.clone();
    let acl = Acl::from_headers(
        &req.head.headers,
        &user.canonical_id,
        &user.canonical_id,
        &walrus.directory(),
    )?
    .unwrap_or_else(|| Acl::private(&user.canonical_id));
    let name = req.route.bucket().to_owned();
    let body = req.body.read_all(xml::MAX_DOCUMENT).await?;
    let location = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let root = xml::parse(&body, "CreateBucketConfiguration")?;
        xml::child_text(&root, "LocationConstraint")?.filter(|l| !l.is_empty())
    };
    walrus.storage().backend().create_bucket(&name).await?;
    let bucket = Bucket {
        name: name.clone(),
        owner: user.canonical_id.clone(),
        created: crate::time::now_millis(),
        location,
        acl,
        logging: None,
        size: 0,
    };
    let max_buckets = walrus.config().max_buckets_per_user.filter(|_| !user.admin);
    walrus
        .meta(move |meta, _| meta.create_bucket(&bucket, max_buckets))
        .await?;
    let mut response = empty_reply(StatusCode::OK);
    if let Ok(value) = HeaderValue::from_str(&format!("/{name}")) {
        response.headers_mut().insert(LOCATION, value);
    }
    Ok(response)
}

pub async fn delete_bucket(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let name = req.route.bucket().to_owned();
    owned_bucket(walrus, &name, &req.who).await?;
    let bucket = name.clone();
    walrus
        .meta(move |meta, storage| {
            let blobs = meta.delete_bucket(&bucket)?;
            storage.discard_ids(&bucket, blobs);
            Ok::<_, crate::meta::MetaError>(())
        })
        .await?;
    walrus.storage().backend().delete_bucket(&name).await?;
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
    max_keys: usize,
    url_encoded: bool,
}

impl ListParams {
    fn of(req: &Req) -> Result<Self, S3Error> {
        let q = &req.route.query;
        let max_keys = match q.get("max-keys") {
            None => MAX_KEYS,
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| {
                    S3Error::InvalidArgument("max-keys must be a non-negative integer".into())
                })?
                .min(MAX_KEYS),
        };
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
            delimiter: q
                .get("delimiter")
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
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
    let bucket = bucket_for(walrus, req.route.bucket(), &req.who, Permission::Read).await?;
    let listing = {
        let name = bucket.name.clone();
        let (prefix, delimiter) = (params.prefix.clone(), params.delimiter.clone());
        let (after, max) = (start.after.clone(), params.max_keys);
        walrus
            .meta(move |meta, _| {
                meta.list(&name, &prefix, delimiter.as_deref(), after.as_deref(), max)
            })
            .await?
    };
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
    doc.field("MaxKeys", &params.max_keys.to_string());
    doc.optional(
        "Delimiter",
        params
            .delimiter
            .as_deref()
            .map(|d| params.show(d))
            .as_deref(),
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
    let bucket = owned_bucket(walrus, req.route.bucket(), &req.who).await?;
    let mut doc = S3Xml::new("BucketLoggingStatus");
    if let Some(logging) = &bucket.logging {
        doc.start("LoggingEnabled");
        doc.field("TargetBucket", &logging.target_bucket);
        doc.field("TargetPrefix", &logging.target_prefix);
        doc.end();
    }
    Ok(xml_reply(doc.finish()))
}

pub async fn put_logging(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let bucket = owned_bucket(walrus, req.route.bucket(), &req.who).await?;
    let body = req.body.read_all(xml::MAX_DOCUMENT).await?;
    let root = xml::parse(&body, "BucketLoggingStatus")?;
    let logging = match xml::children(&root, "LoggingEnabled").next() {
        None => None,
        Some(enabled) => {
            let target_bucket = xml::child_text(enabled, "TargetBucket")?.ok_or_else(|| {
                S3Error::MalformedXml("LoggingEnabled without TargetBucket".into())
            })?;
            let target = owned_bucket(walrus, &target_bucket, &req.who)
                .await
                .map_err(|_| S3Error::InvalidTargetBucketForLogging(target_bucket.clone()))?;
            Some(Logging {
                target_bucket: target.name,
                target_prefix: xml::child_text(enabled, "TargetPrefix")?.unwrap_or_default(),
            })
        }
    };
    walrus
        .meta(move |meta, _| meta.set_bucket_logging(&bucket.name, logging.as_ref()))
        .await?;
    Ok(empty_reply(StatusCode::OK))
}

pub async fn get_acl(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let bucket = bucket_for(walrus, req.route.bucket(), &req.who, Permission::ReadAcp).await?;
    Ok(xml_reply(
        bucket.acl.to_xml(&bucket.owner, &walrus.directory()),
    ))
}

pub async fn put_acl(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let bucket = bucket_for(walrus, req.route.bucket(), &req.who, Permission::WriteAcp).await?;
    let acl = acl_from_request(walrus, req, &bucket.owner, &bucket.owner).await?;
    walrus
        .meta(move |meta, _| meta.set_bucket_acl(&bucket.name, &acl))
        .await?;
    Ok(empty_reply(StatusCode::OK))
}

/// The ACL a `?acl` PUT sets: from its headers, or else from its `AccessControlPolicy`.
pub async fn acl_from_request(
    walrus: &Walrus,
    req: Req,
    owner: &str,
    bucket_owner: &str,
) -> Result<Acl, S3Error> {
    let directory = walrus.directory();
    let from_headers = Acl::from_headers(&req.head.headers, owner, bucket_owner, &directory)?;
    let body = req.body.read_all(xml::MAX_DOCUMENT).await?;
    match (from_headers, body.iter().all(u8::is_ascii_whitespace)) {
        (Some(acl), true) => Ok(acl),
        (Some(_), false) => Err(S3Error::InvalidRequest(
            "an ACL is given both in headers and in the body".into(),
        )),
        (None, false) => Acl::from_xml(&body, &directory),
        (None, true) => Err(S3Error::MissingRequestBody),
    }
}

pub async fn get_versioning(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    bucket_for(walrus, req.route.bucket(), &req.who, Permission::Read).await?;
    Ok(xml_reply(S3Xml::new("VersioningConfiguration").finish()))
}

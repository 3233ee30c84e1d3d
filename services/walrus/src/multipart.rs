//! Multipart uploads: initiate, upload a part (or copy one from an object), complete,
//! abort, list parts, list uploads. Each part is a blob; the completed object is the list
//! of its parts' blobs, so completing copies nothing.

use hyper::header::{HeaderValue, ETAG};
use hyper::{Response, StatusCode};
use ring::rand::{SecureRandom, SystemRandom};

use crate::acl::{Acl, Directory, Permission};
use crate::body::Body;
use crate::digest::{crc32_text, hex, Md5, CHECKSUM_CRC32, CHECKSUM_TYPE};
use crate::error::S3Error;
use crate::meta::{Bucket, Object, Part, Quota, Segment, Upload};
use crate::objects::{copy_source, echo_checksum, parse_range, promised, stored_headers};
use crate::ops::{bucket_for, object_for, precheck_quota, write_blob, Promised, Source};
use crate::rest::{bad_part_number, empty_reply, xml_reply, Req, PART_NUMBERS};
use crate::state::Walrus;
use crate::time::iso8601_millis;
use crate::uri::aws_encode;
use crate::xml::{self, S3Xml};

/// Smallest part but the last, as S3.
const MIN_PART_BYTES: u64 = 5 << 20;
const MAX_LISTED: usize = 1000;

fn new_upload_id() -> Result<String, S3Error> {
    let mut bytes = [0u8; 24];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| S3Error::internal("the random number generator failed"))?;
    Ok(hex(&bytes))
}

/// The `uploadId` a request names.
fn upload_id(req: &Req) -> String {
    req.route
        .query
        .get("uploadId")
        .unwrap_or_default()
        .to_owned()
}

/// The upload a request names, checked against its bucket and key, with the bucket if
/// `who` may write to it.
async fn upload_for(walrus: &Walrus, req: &Req) -> Result<(Upload, Bucket), S3Error> {
    let bucket = bucket_for(walrus, req.route.bucket(), &req.who, Permission::Write).await?;
    let id = upload_id(req);
    let upload = walrus
        .meta(move |meta, _| meta.upload(&id))
        .await?
        .filter(|u| u.bucket == bucket.name && u.key == req.route.key())
        .ok_or(S3Error::NoSuchUpload)?;
    Ok((upload, bucket))
}

/// The part an upload request names (it must name one).
fn part_number(req: &Req) -> Result<u32, S3Error> {
    req.part_number()?.ok_or_else(bad_part_number)
}

/// The header that asks for a checksum of an upload's object; kept with the upload until
/// completion, when the checksum made of the parts' takes its place.
const CHECKSUM_ALGORITHM: &str = "x-amz-checksum-algorithm";
/// The [`CHECKSUM_TYPE`] of a checksum made of an upload's parts' checksums.
const COMPOSITE: &str = "COMPOSITE";

/// Whether an upload's object is to have a CRC32 made of its parts'.
fn wants_crc32(upload: &Upload) -> bool {
    upload.headers.get(CHECKSUM_ALGORITHM) == Some("CRC32")
}

pub async fn create(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let bucket = bucket_for(walrus, req.route.bucket(), &req.who, Permission::Write).await?;
    let owner = req.who.canonical_id().unwrap_or(&bucket.owner).to_owned();
    let mut headers = stored_headers(&req.head.headers)?;
    match req.header(CHECKSUM_ALGORITHM).map(str::trim) {
        None => {}
        Some(crc32) if crc32.eq_ignore_ascii_case("CRC32") => {
            headers
                .0
                .push((CHECKSUM_ALGORITHM.to_owned(), "CRC32".to_owned()));
        }
        Some(other) => {
            return Err(S3Error::NotImplemented(format!(
                "the checksum algorithm {other}"
            )))
        }
    }
    let upload = Upload {
        id: new_upload_id()?,
        bucket: bucket.name.clone(),
        key: req.route.key().to_owned(),
        initiated: crate::time::now_millis(),
        headers,
        acl: Acl::from_headers(&req.head.headers, &walrus.directory())?
            .unwrap_or_default()
            .resolve(&owner, &bucket.owner)?,
        owner,
    };
    let mut doc = S3Xml::new("InitiateMultipartUploadResult");
    doc.field("Bucket", &upload.bucket);
    doc.field("Key", &upload.key);
    doc.field("UploadId", &upload.id);
    let crc32 = wants_crc32(&upload);
    walrus
        .meta(move |meta, _| meta.create_upload(&upload))
        .await?;
    let mut response = xml_reply(doc.finish());
    if crc32 {
        let headers = response.headers_mut();
        headers.insert(CHECKSUM_ALGORITHM, HeaderValue::from_static("CRC32"));
        headers.insert(CHECKSUM_TYPE, HeaderValue::from_static(COMPOSITE));
    }
    Ok(response)
}

/// Records a written part, discarding the part it replaces (or itself, on failure).
async fn store_part(
    walrus: &Walrus,
    quota: Quota,
    upload: &Upload,
    part: Part,
) -> Result<(), S3Error> {
    let (id, bucket) = (upload.id.clone(), upload.bucket.clone());
    walrus
        .meta(
            move |meta, storage| match meta.put_part(&id, &part, &quota) {
                Ok(old) => {
                    storage.discard_ids(&bucket, old);
                    Ok(())
                }
                Err(e) => {
                    storage.discard_ids(&bucket, [part.blob]);
                    Err(e)
                }
            },
        )
        .await
}

pub async fn upload_part(walrus: &Walrus, mut req: Req) -> Result<Response<Body>, S3Error> {
    let number = part_number(&req)?;
    let (upload, bucket) = upload_for(walrus, &req).await?;
    let promised = promised(&req.head.headers)?;
    let quota = precheck_quota(walrus, &req.who, &bucket, req.body.expected_len()).await?;
    let written = write_blob(
        walrus,
        &upload.bucket,
        Source::Body(&mut req.body),
        promised,
    )
    .await?;
    let etag = hex(&written.md5);
    let part = Part {
        number,
        blob: written.blob.id,
        size: written.size,
        etag: etag.clone(),
        modified: crate::time::now_millis(),
        crc32: Some(written.crc32),
    };
    store_part(walrus, quota, &upload, part).await?;
    let mut response = empty_reply(StatusCode::OK);
    if let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        response.headers_mut().insert(ETAG, value);
    }
    echo_checksum(&mut response, written.promised.crc32);
    Ok(response)
}

pub async fn upload_part_copy(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let number = part_number(&req)?;
    let (source_bucket, source_key) = copy_source(&req.head.headers)?;
    let (upload, bucket) = upload_for(walrus, &req).await?;
    let (source, lease) = object_for(
        walrus,
        &source_bucket,
        &source_key,
        &req.who,
        Permission::Read,
    )
    .await?;
    let range = match parse_range(req.header("x-amz-copy-source-range")) {
        Some(range) => range.resolve(source.size)?,
        None => 0..source.size,
    };
    let quota = precheck_quota(walrus, &req.who, &bucket, Some(range.end - range.start)).await?;
    let mut reader = walrus.reader(&source, range, lease);
    let written = write_blob(
        walrus,
        &upload.bucket,
        Source::Object(&mut reader),
        Promised::default(),
    )
    .await?;
    let etag = hex(&written.md5);
    let modified = crate::time::now_millis();
    let part = Part {
        number,
        blob: written.blob.id,
        size: written.size,
        etag: etag.clone(),
        modified,
        crc32: Some(written.crc32),
    };
    let checksum = wants_crc32(&upload).then(|| crc32_text(written.crc32));
    store_part(walrus, quota, &upload, part).await?;
    let mut doc = S3Xml::new("CopyPartResult");
    doc.field("LastModified", &iso8601_millis(modified));
    doc.field("ETag", &format!("\"{etag}\""));
    if let Some(checksum) = checksum {
        doc.field("ChecksumCRC32", &checksum);
    }
    Ok(xml_reply(doc.finish()))
}

/// A part a CompleteMultipartUpload document lists.
#[derive(Debug)]
struct Requested {
    number: u32,
    /// Without quotes.
    etag: String,
    /// The CRC32 the client has for it, as text.
    crc32: Option<String>,
}

/// The parts a CompleteMultipartUpload document lists.
fn requested_parts(body: &[u8]) -> Result<Vec<Requested>, S3Error> {
    let root = xml::parse(body, "CompleteMultipartUpload")?;
    let mut parts = Vec::new();
    for part in xml::children(&root, "Part") {
        let number = xml::child_text(part, "PartNumber")?
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| S3Error::MalformedXml("a Part without a valid PartNumber".into()))?;
        let etag = xml::child_text(part, "ETag")?
            .ok_or_else(|| S3Error::MalformedXml("a Part without ETag".into()))?;
        parts.push(Requested {
            number,
            etag: etag.trim_matches('"').to_owned(),
            crc32: xml::child_text(part, "ChecksumCRC32")?,
        });
    }
    if parts.is_empty() {
        return Err(S3Error::MalformedXml(
            "the upload must name at least one part".into(),
        ));
    }
    if parts.windows(2).any(|w| w[0].number >= w[1].number) {
        return Err(S3Error::InvalidPartOrder);
    }
    Ok(parts)
}

/// S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, `-` their count.
fn multipart_etag(parts: &[&Part]) -> Result<String, S3Error> {
    let mut md5 = Md5::new().map_err(S3Error::internal)?;
    for part in parts {
        let digest = crate::digest::from_hex(&part.etag).ok_or(S3Error::InvalidPart)?;
        md5.update(&digest).map_err(S3Error::internal)?;
    }
    Ok(format!(
        "{}-{}",
        hex(&md5.finish().map_err(S3Error::internal)?),
        parts.len()
    ))
}

/// The parts a completion lists, as [`crate::meta::Completed`] keeps them.
fn parts_text(requested: &[Requested]) -> String {
    let listed: Vec<String> = requested
        .iter()
        .map(|p| format!("{}:{}", p.number, p.etag))
        .collect();
    listed.join(",")
}

/// S3's composite CRC32 of a multipart object: the CRC32 of the parts' big-endian CRC32s,
/// `-` their count; `None` if a part has none.
fn composite_crc32(parts: &[&Part]) -> Option<String> {
    let mut crc32 = crc32fast::Hasher::new();
    for part in parts {
        crc32.update(&part.crc32?.to_be_bytes());
    }
    Some(format!("{}-{}", crc32_text(crc32.finalize()), parts.len()))
}

pub async fn complete(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let location = format!(
        "http://{}{}",
        req.header("host").unwrap_or("localhost"),
        req.head.uri.path()
    );
    let found = match upload_for(walrus, &req).await {
        Ok(found) => Some(found),
        Err(S3Error::NoSuchUpload) => None,
        Err(e) => return Err(e),
    };
    let (bucket_name, key) = (req.route.bucket().to_owned(), req.route.key().to_owned());
    let id = upload_id(&req);
    let body = req.body.read_all(xml::MAX_DOCUMENT).await?;
    let requested = requested_parts(&body)?;
    let Some((upload, bucket)) = found else {
        // Completed already: the same completion answers as the first time did, as in S3.
        let done = walrus
            .meta(move |meta, _| meta.completed_upload(&id))
            .await?
            .filter(|c| c.bucket == bucket_name && c.key == key)
            .filter(|c| c.parts == parts_text(&requested))
            .ok_or(S3Error::NoSuchUpload)?;
        return Ok(completed_reply(
            &location,
            &done.bucket,
            &done.key,
            &done.etag,
            done.headers.get(CHECKSUM_CRC32).map(str::to_owned),
        ));
    };
    let id = upload.id.clone();
    let (stored, _) = walrus
        .meta(move |meta, _| meta.parts(&id, 0, *PART_NUMBERS.end() as usize))
        .await?;
    let mut chosen = Vec::with_capacity(requested.len());
    for wanted in &requested {
        let part = stored
            .iter()
            .find(|p| p.number == wanted.number && p.etag == wanted.etag)
            .filter(|p| match (&wanted.crc32, p.crc32) {
                (Some(text), Some(crc32)) => *text == crc32_text(crc32),
                (Some(_), None) => false,
                (None, _) => true,
            })
            .ok_or(S3Error::InvalidPart)?;
        chosen.push(part);
    }
    if chosen[..chosen.len() - 1]
        .iter()
        .any(|p| p.size < MIN_PART_BYTES)
    {
        return Err(S3Error::EntityTooSmall);
    }
    let etag = multipart_etag(&chosen)?;
    let mut headers = upload.headers.clone();
    let checksum = if wants_crc32(&upload) {
        let composite = composite_crc32(&chosen).ok_or(S3Error::InvalidPart)?;
        headers.0.retain(|(name, _)| name != CHECKSUM_ALGORITHM);
        headers
            .0
            .push((CHECKSUM_CRC32.to_owned(), composite.clone()));
        Some(composite)
    } else {
        None
    };
    let object = Object {
        bucket: bucket.name.clone(),
        key: upload.key.clone(),
        size: chosen.iter().map(|p| p.size).sum(),
        etag: etag.clone(),
        modified: crate::time::now_millis(),
        owner: upload.owner.clone(),
        headers,
        acl: upload.acl.clone(),
        segments: chosen
            .iter()
            .map(|p| Segment {
                blob: p.blob.clone(),
                size: p.size,
            })
            .collect(),
    };
    let (id, parts) = (upload.id.clone(), parts_text(&requested));
    walrus
        .meta(move |meta, storage| {
            let unused = meta.complete_upload(&id, &object, &parts)?;
            storage.discard_ids(&object.bucket, unused);
            Ok::<_, crate::meta::MetaError>(())
        })
        .await?;
    Ok(completed_reply(
        &location,
        &bucket.name,
        &upload.key,
        &etag,
        checksum,
    ))
}

/// The reply to a completion; `crc32` is the object's composite CRC32, when it has one.
fn completed_reply(
    location: &str,
    bucket: &str,
    key: &str,
    etag: &str,
    crc32: Option<String>,
) -> Response<Body> {
    let mut doc = S3Xml::new("CompleteMultipartUploadResult");
    doc.field("Location", location);
    doc.field("Bucket", bucket);
    doc.field("Key", key);
    doc.field("ETag", &format!("\"{etag}\""));
    if let Some(crc32) = crc32 {
        doc.field("ChecksumCRC32", &crc32);
        doc.field("ChecksumType", COMPOSITE);
    }
    xml_reply(doc.finish())
}

pub async fn abort(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let (upload, _) = upload_for(walrus, &req).await?;
    walrus
        .meta(move |meta, storage| {
            let blobs = meta.abort_upload(&upload.id)?;
            storage.discard_ids(&upload.bucket, blobs);
            Ok::<_, crate::meta::MetaError>(())
        })
        .await?;
    Ok(empty_reply(StatusCode::NO_CONTENT))
}

fn limit(req: &Req, name: &str) -> Result<usize, S3Error> {
    req.route
        .query
        .get(name)
        .map_or(Ok(MAX_LISTED), |v| {
            v.parse::<usize>().map_err(|_| {
                S3Error::InvalidArgument(format!("{name} must be a non-negative integer"))
            })
        })
        .map(|n| n.min(MAX_LISTED))
}

fn person(doc: &mut S3Xml, element: &str, id: &str, directory: &dyn Directory) {
    doc.start(element);
    doc.field("ID", id);
    doc.field("DisplayName", &directory.display_name(id));
    doc.end();
}

pub async fn list_parts(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let (upload, _) = upload_for(walrus, &req).await?;
    let max = limit(&req, "max-parts")?;
    let marker: u32 = req
        .route
        .query
        .get("part-number-marker")
        .map_or(Ok(0), str::parse)
        .map_err(|_| S3Error::InvalidArgument("part-number-marker must be an integer".into()))?;
    let id = upload.id.clone();
    let (parts, truncated) = walrus
        .meta(move |meta, _| meta.parts(&id, marker, max))
        .await?;
    let directory = walrus.directory();
    let mut doc = S3Xml::new("ListPartsResult");
    doc.field("Bucket", &upload.bucket);
    doc.field("Key", &upload.key);
    doc.field("UploadId", &upload.id);
    person(&mut doc, "Initiator", &upload.owner, &directory);
    person(&mut doc, "Owner", &upload.owner, &directory);
    doc.field("StorageClass", "STANDARD");
    doc.field("PartNumberMarker", &marker.to_string());
    if let Some(last) = parts.last() {
        doc.field("NextPartNumberMarker", &last.number.to_string());
    }
    doc.field("MaxParts", &max.to_string());
    doc.field("IsTruncated", if truncated { "true" } else { "false" });
    for part in &parts {
        doc.start("Part");
        doc.field("PartNumber", &part.number.to_string());
        doc.field("LastModified", &iso8601_millis(part.modified));
        doc.field("ETag", &format!("\"{}\"", part.etag));
        doc.field("Size", &part.size.to_string());
        doc.end();
    }
    Ok(xml_reply(doc.finish()))
}

pub async fn list_uploads(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    let bucket = bucket_for(walrus, req.route.bucket(), &req.who, Permission::Read).await?;
    let q = &req.route.query;
    let max = limit(&req, "max-uploads")?;
    let prefix = q.get("prefix").unwrap_or_default().to_owned();
    let key_marker = q.get("key-marker").unwrap_or_default().to_owned();
    let upload_marker = q.get("upload-id-marker").unwrap_or_default().to_owned();
    let url_encoded = q.get("encoding-type") == Some("url");
    let encode = |t: &str| {
        if url_encoded {
            aws_encode(t.as_bytes(), true)
        } else {
            t.to_owned()
        }
    };
    let (name, p, km, um) = (
        bucket.name.clone(),
        prefix.clone(),
        key_marker.clone(),
        upload_marker.clone(),
    );
    let (uploads, truncated) = walrus
        .meta(move |meta, _| meta.uploads(&name, &p, &km, &um, max))
        .await?;
    let directory = walrus.directory();
    let mut doc = S3Xml::new("ListMultipartUploadsResult");
    doc.field("Bucket", &bucket.name);
    doc.field("KeyMarker", &encode(&key_marker));
    doc.field("UploadIdMarker", &upload_marker);
    if let Some(last) = uploads.last().filter(|_| truncated) {
        doc.field("NextKeyMarker", &encode(&last.key));
        doc.field("NextUploadIdMarker", &last.id);
    }
    doc.field("Prefix", &encode(&prefix));
    doc.field("MaxUploads", &max.to_string());
    doc.field("IsTruncated", if truncated { "true" } else { "false" });
    for upload in &uploads {
        doc.start("Upload");
        doc.field("Key", &encode(&upload.key));
        doc.field("UploadId", &upload.id);
        person(&mut doc, "Initiator", &upload.owner, &directory);
        person(&mut doc, "Owner", &upload.owner, &directory);
        doc.field("StorageClass", "STANDARD");
        doc.field("Initiated", &iso8601_millis(upload.initiated));
        doc.end();
    }
    if url_encoded {
        doc.field("EncodingType", "url");
    }
    Ok(xml_reply(doc.finish()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::digest::Digests;

    #[test]
    fn complete_documents_must_list_parts_in_order() {
        let doc =
            |parts: &str| format!("<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>");
        let part = |n: u32, e: &str| {
            format!("<Part><PartNumber>{n}</PartNumber><ETag>\"{e}\"</ETag></Part>")
        };
        let with_crc32 = "<Part><PartNumber>3</PartNumber><ETag>b</ETag>\
                          <ChecksumCRC32>y/Q5Jg==</ChecksumCRC32></Part>";
        let parts =
            requested_parts(doc(&format!("{}{with_crc32}", part(1, "a"))).as_bytes()).unwrap();
        let listed: Vec<_> = parts
            .iter()
            .map(|p| (p.number, p.etag.as_str(), p.crc32.as_deref()))
            .collect();
        assert_eq!(listed, [(1, "a", None), (3, "b", Some("y/Q5Jg=="))]);
        assert!(matches!(
            requested_parts(doc(&format!("{}{}", part(2, "a"), part(1, "b"))).as_bytes()),
            Err(S3Error::InvalidPartOrder)
        ));
        assert!(matches!(
            requested_parts(doc(&format!("{}{}", part(1, "a"), part(1, "b"))).as_bytes()),
            Err(S3Error::InvalidPartOrder)
        ));
        assert!(matches!(
            requested_parts(doc("").as_bytes()),
            Err(S3Error::MalformedXml(_))
        ));
    }

    #[test]
    fn multipart_etags_and_checksums_are_s3s() {
        // Two parts whose data are "a" and "b": md5(md5("a") ++ md5("b")) = ... -2, and
        // likewise for CRC32.
        let part = |data: &[u8]| Part {
            number: 1,
            blob: String::new(),
            size: 1,
            etag: hex(&Digests::of(data).unwrap().md5),
            modified: 0,
            crc32: Some(Digests::of(data).unwrap().crc32),
        };
        let (a, mut b) = (part(b"a"), part(b"b"));
        let (da, db) = (Digests::of(b"a").unwrap(), Digests::of(b"b").unwrap());
        let both = [da.md5, db.md5].concat();
        let expected = format!("{}-2", hex(&Digests::of(&both).unwrap().md5));
        assert_eq!(multipart_etag(&[&a, &b]).unwrap(), expected);
        let both = [da.crc32.to_be_bytes(), db.crc32.to_be_bytes()].concat();
        let expected = format!("{}-2", crc32_text(crc32fast::hash(&both)));
        assert_eq!(composite_crc32(&[&a, &b]), Some(expected));
        b.crc32 = None;
        assert_eq!(composite_crc32(&[&a, &b]), None);
    }
}

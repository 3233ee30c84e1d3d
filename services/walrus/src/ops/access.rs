//! What the operations share: finding buckets and objects a caller may use, the ACL a
//! request asks for, writing blobs and committing objects within the quotas.

use bytes::Bytes;

use crate::acl::{Acl, Identity, Permission};
use crate::digest::{crc32_text, hex, Digests, ParallelDigests, CHECKSUM_CRC32};
use crate::error::S3Error;
use crate::form::Form;
use crate::meta::{Bucket, MetaError, Object, Quota, Segment, StoredHeaders};
use crate::payload::Payload;
use crate::state::{blob_ids, ObjectReader, Walrus};
use crate::storage::{BlobId, Lease};

async fn lookup(walrus: &Walrus, name: &str) -> Result<Bucket, S3Error> {
    let name = name.to_owned();
    walrus
        .meta(move |meta, _| meta.bucket(&name))
        .await?
        .ok_or(S3Error::NoSuchBucket)
}

/// The bucket `name`, if `who` has `permission` on it.
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

/// The bucket, if `who` owns it (or is an administrator): for acts on the bucket as a
/// whole (deletion, logging).
pub(super) async fn owned_bucket(
    walrus: &Walrus,
    name: &str,
    who: &Identity,
) -> Result<Bucket, S3Error> {
    let bucket = lookup(walrus, name).await?;
    if !who.is_admin() && who.canonical_id() != Some(bucket.owner.as_str()) {
        return Err(S3Error::AccessDenied);
    }
    Ok(bucket)
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

/// Who owns what a request writes: its signer; anonymous writes (public-read-write
/// buckets) belong to the bucket's owner.
pub fn writer_id(who: &Identity, bucket: &Bucket) -> String {
    who.canonical_id().unwrap_or(&bucket.owner).to_owned()
}

/// The quotas a write of `who` into `bucket` must respect, for [`commit`] (which checks
/// them as it records); an upload of `incoming` bytes that cannot fit is refused before any
/// byte is stored.
pub async fn precheck_quota(
    walrus: &Walrus,
    who: &Identity,
    bucket: &Bucket,
    incoming: Option<u64>,
) -> Result<Quota, S3Error> {
    let quota = walrus.quota_for(who, bucket)?;
    let Some(n) = incoming.filter(|n| *n > 0) else {
        return Ok(quota);
    };
    if quota
        .max_bucket_bytes
        .is_some_and(|max| bucket.size.saturating_add(n) > max)
    {
        return Err(S3Error::EntityTooLarge);
    }
    for limit in quota.held_bytes.clone() {
        let (owner, user) = (bucket.owner.clone(), limit.user.clone());
        let (_, bytes) = walrus
            .meta(move |meta, _| {
                meta.holdings(&owner, user.as_deref())
                    .map_err(MetaError::from)
            })
            .await?;
        limit
            .admits(bytes, n)
            .map_err(|why| S3Error::OverQuota(limit.resource, why))?;
    }
    Ok(quota)
}

/// Commits `object` (replacing what was at its key) within `quota` and discards the blobs
/// it replaced; on failure, discards the object's own blobs.
pub async fn commit(walrus: &Walrus, quota: Quota, object: Object) -> Result<(), S3Error> {
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

/// A blob just written from a request's data.
#[derive(Debug)]
pub struct Written {
    pub blob: BlobId,
    pub size: u64,
    pub md5: [u8; 16],
    pub crc32: u32,
    /// What the request promised of the data (headers and trailer), and was found true.
    pub promised: Promised,
}

impl Written {
    /// The object of `bucket` at `key` whose data is this blob, written now: its ETag is the
    /// data's MD5, and the CRC32 promised is kept among its headers.
    pub fn into_object(
        self,
        bucket: String,
        key: String,
        owner: String,
        mut headers: StoredHeaders,
        acl: Acl,
    ) -> Object {
        if self.promised.crc32.is_some() {
            headers
                .0
                .push((CHECKSUM_CRC32.to_owned(), crc32_text(self.crc32)));
        }
        Object {
            bucket,
            key,
            size: self.size,
            etag: hex(&self.md5),
            modified: crate::time::now_millis(),
            owner,
            headers,
            acl,
            segments: vec![Segment {
                blob: self.blob.id,
                size: self.size,
            }],
        }
    }
}

/// The digests a request promises for its data (`Content-MD5`, `x-amz-checksum-crc32`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Promised {
    pub md5: Option<[u8; 16]>,
    pub crc32: Option<u32>,
}

impl Promised {
    /// Refuses data whose digests are not those promised.
    pub fn check(&self, digests: &Digests) -> Result<(), S3Error> {
        if self.md5.is_some_and(|e| e != digests.md5) {
            return Err(S3Error::BadDigest);
        }
        if self.crc32.is_some_and(|e| e != digests.crc32) {
            return Err(S3Error::ChecksumMismatch("CRC32"));
        }
        Ok(())
    }
}

/// Where the data of a write comes from.
#[derive(Debug)]
pub enum Source<'a> {
    /// A REST request body, streamed.
    Body(&'a mut Payload),
    /// The file part of a POST form.
    Form(&'a mut Form),
    /// Data already in memory (SOAP's inline data).
    Inline(Option<Bytes>),
    /// Another object's data, as read (a part copied from it).
    Object(&'a mut ObjectReader),
}

impl Source<'_> {
    async fn next(&mut self) -> Result<Option<Bytes>, S3Error> {
        match self {
            Self::Body(payload) => payload.next().await,
            Self::Form(form) => form.data().await,
            Self::Inline(data) => Ok(data.take()),
            Self::Object(reader) => reader.next().await,
        }
    }

    /// The CRC32 the data's trailer promised, once all is read.
    fn trailing_crc32(&self) -> Option<u32> {
        match self {
            Self::Body(payload) => payload.trailing_crc32(),
            Self::Form(_) | Self::Inline(_) | Self::Object(_) => None,
        }
    }
}

/// Streams `body` into a new, published blob of `bucket`, checking what was `promised` (and
/// what its trailer promises).
/// Nothing is left behind if anything fails.
pub async fn write_blob(
    walrus: &Walrus,
    bucket: &str,
    mut body: Source<'_>,
    promised: Promised,
) -> Result<Written, S3Error> {
    let mut writer = walrus.storage().backend().writer(bucket).await?;
    let digests = ParallelDigests::start();
    let mut size = 0u64;
    while let Some(data) = body.next().await? {
        size += data.len() as u64;
        digests
            .update(data.clone())
            .await
            .map_err(S3Error::internal)?;
        writer.write(data).await?;
    }
    let digests = digests.finish().await.map_err(S3Error::internal)?;
    let promised = Promised {
        crc32: promised.crc32.or(body.trailing_crc32()),
        ..promised
    };
    promised.check(&digests)?;
    let blob = writer.publish().await?;
    Ok(Written {
        blob,
        size,
        md5: digests.md5,
        crc32: digests.crc32,
        promised,
    })
}

/// Copies an object's blobs into new blobs of bucket `to`; on failure, discards the copies
/// already made.
pub(super) async fn copy_segments(
    walrus: &Walrus,
    source: &Object,
    to: &str,
) -> Result<Vec<Segment>, S3Error> {
    let mut copies: Vec<Segment> = Vec::new();
    for (segment, blob) in source.segments.iter().zip(blob_ids(source)) {
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

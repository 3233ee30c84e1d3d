//! Object operations: put, get and head (conditions, ranges), delete, copy, ACLs.

use std::ops::Range;

use super::access::{
    bucket_for, commit, copy_segments, object_for, precheck_quota, write_blob, writer_id, Promised,
    Source,
};
use super::conditions::{ByteRange, Conditions, Unchanged};
use super::names::check_key;
use crate::acl::{Acl, AclRequest, Identity, Permission};
use crate::digest::CHECKSUM_CRC32;
use crate::error::S3Error;
use crate::meta::{Object, StoredHeaders};
use crate::state::Walrus;
use crate::storage::Lease;

/// A resource's ACL and its owner.
#[derive(Debug)]
pub struct AclOutput {
    pub owner: String,
    pub acl: Acl,
}

#[derive(Debug)]
pub struct PutObject<'a> {
    pub bucket: String,
    pub key: String,
    pub headers: StoredHeaders,
    pub acl: AclRequest,
    pub promised: Promised,
    /// The length announced, for an early quota check.
    pub length: Option<u64>,
    pub body: Source<'a>,
}

/// An object just written: its ETag (without quotes), time, and the CRC32 of its data when
/// the client sent one with them (not for copies).
#[derive(Debug)]
pub struct ObjectWritten {
    pub etag: String,
    pub modified: i64,
    pub crc32: Option<u32>,
}

pub async fn put_object(
    walrus: &Walrus,
    who: &Identity,
    input: PutObject<'_>,
) -> Result<ObjectWritten, S3Error> {
    check_key(&input.key)?;
    let bucket = bucket_for(walrus, &input.bucket, who, Permission::Write).await?;
    let owner = writer_id(who, &bucket);
    let acl = input.acl.resolve(&owner, &bucket.owner)?;
    let quota = precheck_quota(walrus, who, &bucket, input.length).await?;
    let written = write_blob(walrus, &bucket.name, input.body, input.promised).await?;
    let crc32 = written.promised.crc32;
    let object = written.into_object(bucket.name, input.key, owner, input.headers, acl);
    let (etag, modified) = (object.etag.clone(), object.modified);
    commit(walrus, quota, object).await?;
    Ok(ObjectWritten {
        etag,
        modified,
        crc32,
    })
}

#[derive(Debug, Default)]
pub struct GetObject {
    pub bucket: String,
    pub key: String,
    pub conditions: Conditions,
    pub range: Option<ByteRange>,
    /// One part of a multipart object (from 1), instead of a range.
    pub part_number: Option<u32>,
}

/// An object that may be read, with the range asked (if any) and the lease that keeps its
/// blobs until it is read.
#[derive(Debug)]
pub struct GetObjectOutput {
    pub object: Object,
    pub range: Option<Range<u64>>,
    /// How many parts a multipart object has, when one was asked for.
    pub parts_count: Option<usize>,
    pub lease: Lease,
}

impl GetObjectOutput {
    /// The bytes to send: the range, or the whole object.
    pub fn served(&self) -> Range<u64> {
        self.range.clone().unwrap_or(0..self.object.size)
    }
}

/// GET and HEAD.
pub async fn get_object(
    walrus: &Walrus,
    who: &Identity,
    input: GetObject,
) -> Result<GetObjectOutput, S3Error> {
    let (object, lease) =
        object_for(walrus, &input.bucket, &input.key, who, Permission::Read).await?;
    input.conditions.check(&object, Unchanged::NotModified)?;
    let (range, parts_count) = match (input.part_number, input.range) {
        (None, range) => (range.map(|r| r.resolve(object.size)).transpose()?, None),
        (Some(_), Some(_)) => {
            return Err(S3Error::InvalidRequest(
                "Cannot specify both Range header and partNumber query parameter".into(),
            ))
        }
        (Some(number), None) => part_range(&object, number)?,
    };
    Ok(GetObjectOutput {
        object,
        range,
        parts_count,
        lease,
    })
}

/// The bytes of part `number` of a multipart object (its segments are its parts) and how
/// many parts it has. A simple object is its own part 1.
fn part_range(
    object: &Object,
    number: u32,
) -> Result<(Option<Range<u64>>, Option<usize>), S3Error> {
    let multipart = object.etag.contains('-');
    if !multipart {
        return match number {
            1 => Ok((None, None)),
            _ => Err(S3Error::InvalidPartNumber),
        };
    }
    let index = usize::try_from(number)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .filter(|i| *i < object.segments.len())
        .ok_or(S3Error::InvalidPartNumber)?;
    let start: u64 = object.segments[..index].iter().map(|s| s.size).sum();
    let range = start..start + object.segments[index].size;
    Ok((Some(range), Some(object.segments.len())))
}

pub async fn delete_object(
    walrus: &Walrus,
    who: &Identity,
    bucket: &str,
    key: &str,
) -> Result<(), S3Error> {
    let bucket = bucket_for(walrus, bucket, who, Permission::Write).await?;
    let key = key.to_owned();
    walrus
        .meta(move |meta, storage| {
            let blobs = meta.delete_object(&bucket.name, &key)?;
            storage.discard_ids(&bucket.name, blobs);
            Ok::<_, crate::meta::MetaError>(())
        })
        .await
}

#[derive(Debug, Default)]
pub struct CopyObject {
    pub source_bucket: String,
    pub source_key: String,
    pub bucket: String,
    pub key: String,
    /// On the source; a failed one is 412.
    pub conditions: Conditions,
    /// `Some` replaces the source's headers and metadata (directive REPLACE).
    pub replace_headers: Option<StoredHeaders>,
    pub acl: AclRequest,
}

pub async fn copy_object(
    walrus: &Walrus,
    who: &Identity,
    input: CopyObject,
) -> Result<ObjectWritten, S3Error> {
    check_key(&input.key)?;
    let bucket = bucket_for(walrus, &input.bucket, who, Permission::Write).await?;
    let (source, _lease) = object_for(
        walrus,
        &input.source_bucket,
        &input.source_key,
        who,
        Permission::Read,
    )
    .await?;
    input
        .conditions
        .check(&source, Unchanged::PreconditionFailed)?;
    if source.bucket == bucket.name && source.key == input.key && input.replace_headers.is_none() {
        return Err(S3Error::CopyToItself);
    }
    let owner = writer_id(who, &bucket);
    let acl = input.acl.resolve(&owner, &bucket.owner)?;
    let headers = match input.replace_headers {
        // New metadata, the same data: its checksum stays.
        Some(mut replaced) => {
            let checksum = source.headers.0.iter().filter(|(n, _)| n == CHECKSUM_CRC32);
            replaced.0.extend(checksum.cloned());
            replaced
        }
        None => source.headers.clone(),
    };
    let quota = precheck_quota(walrus, who, &bucket, Some(source.size)).await?;
    let segments = copy_segments(walrus, &source, &bucket.name).await?;
    let modified = crate::time::now_millis();
    let object = Object {
        bucket: bucket.name,
        key: input.key,
        size: source.size,
        etag: source.etag.clone(),
        modified,
        owner,
        headers,
        acl,
        segments,
    };
    commit(walrus, quota, object).await?;
    Ok(ObjectWritten {
        etag: source.etag,
        modified,
        crc32: None,
    })
}

pub async fn get_object_acl(
    walrus: &Walrus,
    who: &Identity,
    bucket: &str,
    key: &str,
) -> Result<AclOutput, S3Error> {
    let (object, _) = object_for(walrus, bucket, key, who, Permission::ReadAcp).await?;
    Ok(AclOutput {
        owner: object.owner,
        acl: object.acl,
    })
}

pub async fn put_object_acl(
    walrus: &Walrus,
    who: &Identity,
    bucket: &str,
    key: &str,
    acl: AclRequest,
) -> Result<(), S3Error> {
    let (object, _) = object_for(walrus, bucket, key, who, Permission::WriteAcp).await?;
    let bucket_name = object.bucket.clone();
    let bucket_owner = walrus
        .meta(move |meta, _| meta.bucket(&bucket_name))
        .await?
        .map(|b| b.owner)
        .unwrap_or_default();
    let acl = acl.resolve(&object.owner, &bucket_owner)?;
    walrus
        .meta(move |meta, _| meta.set_object_acl(&object.bucket, &object.key, &acl))
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::meta::{Segment, StoredHeaders};

    fn object(etag: &str, sizes: &[u64]) -> Object {
        Object {
            bucket: "b".into(),
            key: "k".into(),
            size: sizes.iter().sum(),
            etag: etag.into(),
            modified: 0,
            owner: "o".into(),
            headers: StoredHeaders::default(),
            acl: Acl::default(),
            segments: sizes
                .iter()
                .map(|&size| Segment {
                    blob: "x".into(),
                    size,
                })
                .collect(),
        }
    }

    #[test]
    fn parts_are_the_segments_of_multipart_objects() {
        let multipart = object("abc-3", &[5, 5, 2]);
        assert_eq!(part_range(&multipart, 1).unwrap(), (Some(0..5), Some(3)));
        assert_eq!(part_range(&multipart, 3).unwrap(), (Some(10..12), Some(3)));
        for outside in [0, 4] {
            assert!(matches!(
                part_range(&multipart, outside),
                Err(S3Error::InvalidPartNumber)
            ));
        }
        let simple = object("abc", &[7]);
        assert_eq!(part_range(&simple, 1).unwrap(), (None, None));
        assert!(matches!(
            part_range(&simple, 2),
            Err(S3Error::InvalidPartNumber)
        ));
    }
}

//! Bucket operations: list all, create, delete, list objects, ACL, logging status.

use super::access::{bucket_for, owned_bucket};
use super::names::check_bucket_name;
use super::objects::AclOutput;
use crate::acl::{AclRequest, Identity, Permission};
use crate::error::S3Error;
use crate::meta::{Bucket, Listing, Logging};
use crate::state::Walrus;
use users::Resource;

/// Most keys a listing returns (S3's limit and default).
const MAX_KEYS: usize = 1000;

#[derive(Debug)]
pub struct ListBuckets {
    /// The caller's canonical id.
    pub owner: String,
    pub buckets: Vec<Bucket>,
}

pub async fn list_buckets(walrus: &Walrus, who: &Identity) -> Result<ListBuckets, S3Error> {
    let owner = who.user()?.canonical_id.clone();
    let id = owner.clone();
    let buckets = walrus.meta(move |meta, _| meta.buckets_of(&id)).await?;
    Ok(ListBuckets { owner, buckets })
}

#[derive(Debug, Default)]
pub struct CreateBucket {
    pub bucket: String,
    pub acl: AclRequest,
    pub location: Option<String>,
}

/// Creates a bucket. Its owner re-creating it with no ACL, or the one it has, gets 200 and
/// nothing changes (S3's us-east-1 behaviour, which clients rely on); with another ACL,
/// `BucketAlreadyExists`.
pub async fn create_bucket(
    walrus: &Walrus,
    who: &Identity,
    input: CreateBucket,
) -> Result<(), S3Error> {
    let user = who.user()?;
    check_bucket_name(&input.bucket)?;
    let owner = user.canonical_id.clone();
    let acl_given = !matches!(input.acl, AclRequest::Private);
    let bucket = Bucket {
        acl: input.acl.resolve(&owner, &owner)?,
        name: input.bucket,
        owner,
        created: crate::time::now_millis(),
        location: input.location.filter(|l| !l.is_empty()),
        logging: None,
        size: 0,
        creator: Some(user.name.clone()),
    };
    walrus
        .storage()
        .backend()
        .create_bucket(&bucket.name)
        .await?;
    let max_buckets = walrus.config().max_buckets_per_user.filter(|_| !user.admin);
    let quotas = walrus.quotas(&bucket.owner, bucket.creator.as_deref(), Resource::Buckets)?;
    let (name, acl) = (bucket.name.clone(), bucket.acl.clone());
    match walrus
        .meta(move |meta, _| meta.create_bucket(&bucket, max_buckets, &quotas))
        .await
    {
        // Refused by a limit, the name was free: its storage goes again.
        Err(refused @ (S3Error::TooManyBuckets | S3Error::OverQuota(..))) => {
            walrus.storage().backend().delete_bucket(&name).await?;
            Err(refused)
        }
        Err(S3Error::BucketAlreadyOwnedByYou) => {
            let existing = walrus.meta(move |meta, _| meta.bucket(&name)).await?;
            match existing {
                Some(existing) if !acl_given || existing.acl.same_grants(&acl) => Ok(()),
                _ => Err(S3Error::BucketAlreadyExists),
            }
        }
        other => other,
    }
}

pub async fn delete_bucket(walrus: &Walrus, who: &Identity, bucket: &str) -> Result<(), S3Error> {
    let name = owned_bucket(walrus, bucket, who).await?.name;
    let bucket = name.clone();
    walrus
        .meta(move |meta, storage| {
            // Parts of unfinished uploads go with the bucket.
            let blobs = meta.delete_bucket(&bucket)?;
            storage.discard_ids(&bucket, blobs);
            Ok::<_, crate::meta::MetaError>(())
        })
        .await?;
    walrus.storage().backend().delete_bucket(&name).await?;
    Ok(())
}

#[derive(Debug, Default)]
pub struct ListObjects {
    pub bucket: String,
    pub prefix: String,
    /// An empty delimiter is none.
    pub delimiter: Option<String>,
    /// At most [`MAX_KEYS`], which is also the default.
    pub max_keys: Option<usize>,
    /// List keys after this one.
    pub after: Option<String>,
}

#[derive(Debug)]
pub struct ListObjectsOutput {
    pub bucket: Bucket,
    pub delimiter: Option<String>,
    pub max_keys: usize,
    pub listing: Listing,
}

pub async fn list_objects(
    walrus: &Walrus,
    who: &Identity,
    input: ListObjects,
) -> Result<ListObjectsOutput, S3Error> {
    let bucket = bucket_for(walrus, &input.bucket, who, Permission::Read).await?;
    let max_keys = input.max_keys.unwrap_or(MAX_KEYS).min(MAX_KEYS);
    let delimiter = input.delimiter.filter(|d| !d.is_empty());
    // S3 answers max-keys=0 with an empty page that is not truncated.
    let listing = if max_keys == 0 {
        Listing::default()
    } else {
        let (name, delimiter) = (bucket.name.clone(), delimiter.clone());
        let (prefix, after) = (input.prefix, input.after);
        walrus
            .meta(move |meta, _| {
                meta.list(
                    &name,
                    &prefix,
                    delimiter.as_deref(),
                    after.as_deref(),
                    max_keys,
                )
            })
            .await?
    };
    Ok(ListObjectsOutput {
        bucket,
        delimiter,
        max_keys,
        listing,
    })
}

pub async fn get_bucket_acl(
    walrus: &Walrus,
    who: &Identity,
    bucket: &str,
) -> Result<AclOutput, S3Error> {
    let bucket = bucket_for(walrus, bucket, who, Permission::ReadAcp).await?;
    Ok(AclOutput {
        owner: bucket.owner,
        acl: bucket.acl,
    })
}

pub async fn put_bucket_acl(
    walrus: &Walrus,
    who: &Identity,
    bucket: &str,
    acl: AclRequest,
) -> Result<(), S3Error> {
    let bucket = bucket_for(walrus, bucket, who, Permission::WriteAcp).await?;
    let acl = acl.resolve(&bucket.owner, &bucket.owner)?;
    walrus
        .meta(move |meta, _| meta.set_bucket_acl(&bucket.name, &acl))
        .await
}

pub async fn get_bucket_logging(
    walrus: &Walrus,
    who: &Identity,
    bucket: &str,
) -> Result<Option<Logging>, S3Error> {
    Ok(owned_bucket(walrus, bucket, who).await?.logging)
}

#[derive(Debug, Default)]
pub struct PutBucketLogging {
    pub bucket: String,
    /// `None` turns logging off.
    pub logging: Option<Logging>,
}

/// Stores the setting (Walrus writes no logs); the target must be the caller's.
pub async fn put_bucket_logging(
    walrus: &Walrus,
    who: &Identity,
    input: PutBucketLogging,
) -> Result<(), S3Error> {
    let bucket = owned_bucket(walrus, &input.bucket, who).await?;
    if let Some(logging) = &input.logging {
        owned_bucket(walrus, &logging.target_bucket, who)
            .await
            .map_err(|_| S3Error::InvalidTargetBucketForLogging(logging.target_bucket.clone()))?;
    }
    let logging = input.logging;
    walrus
        .meta(move |meta, _| meta.set_bucket_logging(&bucket.name, logging.as_ref()))
        .await
}

//! What every request shares: settings, users, metadata and storage. Also the API other
//! parts of Walrus (image bundles, SOAP) use to read objects.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tracing::warn;
use users::UserLookup;

use crate::acl::{Directory, Identity};
use crate::body::{Body, BodySender};
use crate::config::Config;
use crate::error::S3Error;
use crate::meta::{Meta, MetaError, Object, Quota};
use crate::storage::{BlobId, BlobReader, Lease, Storage};

/// The running store.
#[derive(Debug)]
pub struct Walrus {
    config: Config,
    users: Arc<dyn UserLookup>,
    meta: Arc<Mutex<Meta>>,
    storage: Storage,
}

impl Walrus {
    pub fn new(config: Config, users: Arc<dyn UserLookup>, meta: Meta, storage: Storage) -> Self {
        Self {
            config,
            users,
            meta: Arc::new(Mutex::new(meta)),
            storage,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn users(&self) -> &Arc<dyn UserLookup> {
        &self.users
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Runs `f` on the metadata, off the async threads (SQLite blocks, commits fsync).
    /// `f` also gets the storage, to take leases while the metadata cannot change.
    pub async fn meta<R, E, F>(&self, f: F) -> Result<R, S3Error>
    where
        R: Send + 'static,
        E: Into<S3Error> + Send + 'static,
        F: FnOnce(&mut Meta, &Storage) -> Result<R, E> + Send + 'static,
    {
        let meta = self.meta.clone();
        let storage = self.storage.clone();
        tokio::task::spawn_blocking(move || {
            let mut meta = meta
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut meta, &storage).map_err(Into::into)
        })
        .await
        .map_err(S3Error::internal)?
    }

    /// The quotas a write by `who` must respect: administrators are exempt from the bucket
    /// size limit, as in the original; the total limit protects the disk from everyone.
    pub fn quota_for(&self, who: &Identity) -> Quota {
        Quota {
            max_bucket_bytes: self.config.max_bucket_bytes.filter(|_| !who.is_admin()),
            max_total_bytes: self.config.max_total_bytes,
        }
    }

    /// Looks an object up and leases its blobs, without any access check (internal
    /// readers such as image bundles decide themselves who may read).
    pub async fn open_object(&self, bucket: &str, key: &str) -> Result<(Object, Lease), S3Error> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.meta(move |meta, storage| {
            if meta.bucket(&bucket)?.is_none() {
                return Err(S3Error::NoSuchBucket);
            }
            let object = meta.object(&bucket, &key)?.ok_or(S3Error::NoSuchKey)?;
            let lease = storage.lease(&blob_ids(&object));
            Ok((object, lease))
        })
        .await
    }

    /// Reads `range` of an object opened with [`Walrus::open_object`] (or by a handler).
    pub fn reader(&self, object: &Object, range: Range<u64>, lease: Lease) -> ObjectReader {
        let mut pieces = VecDeque::new();
        let mut offset = 0;
        for (segment, blob) in object.segments.iter().zip(blob_ids(object)) {
            let (start, end) = (offset, offset + segment.size);
            offset = end;
            let (from, to) = (range.start.max(start), range.end.min(end));
            if from < to {
                pieces.push_back((blob, from - start..to - start));
            }
        }
        ObjectReader {
            storage: self.storage.clone(),
            pieces,
            current: None,
            _lease: lease,
        }
    }

    /// A response body streaming `range` of an object.
    pub fn body(&self, object: &Object, range: Range<u64>, lease: Lease) -> Body {
        let (sender, body) = Body::channel(Some(range.end - range.start));
        let reader = self.reader(object, range, lease);
        let name = format!("{}/{}", object.bucket, object.key);
        tokio::spawn(stream(reader, sender, name));
        body
    }

    /// Users as ACLs need them.
    pub fn directory(&self) -> UserDirectory<'_> {
        UserDirectory(&*self.users)
    }
}

/// The metadata's refusals as S3 answers them; database failures are internal errors.
impl From<MetaError> for S3Error {
    fn from(error: MetaError) -> Self {
        match error {
            MetaError::NoSuchBucket => Self::NoSuchBucket,
            MetaError::NoSuchKey => Self::NoSuchKey,
            MetaError::NoSuchUpload => Self::NoSuchUpload,
            MetaError::BucketAlreadyExists => Self::BucketAlreadyExists,
            MetaError::BucketAlreadyOwnedByYou => Self::BucketAlreadyOwnedByYou,
            MetaError::BucketNotEmpty => Self::BucketNotEmpty,
            MetaError::TooManyBuckets => Self::TooManyBuckets,
            MetaError::EntityTooLarge => Self::EntityTooLarge,
            MetaError::QuotaExceeded(why) => Self::QuotaExceeded(why),
            MetaError::InvalidPart => Self::InvalidPart,
            MetaError::Sqlite(e) => Self::internal(e),
        }
    }
}

/// The blobs of an object (leases and readers name blobs with their bucket).
pub fn blob_ids(object: &Object) -> Vec<BlobId> {
    object
        .segments
        .iter()
        .map(|s| BlobId {
            bucket: object.bucket.clone(),
            id: s.blob.clone(),
        })
        .collect()
}

async fn stream(mut reader: ObjectReader, sender: BodySender, name: String) {
    loop {
        match reader.next().await {
            Ok(Some(data)) => {
                if sender.send(data).await.is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                warn!(object = %name, error = %e, "reading an object failed mid-way");
                sender.fail(std::io::Error::other(e.to_string())).await;
                return;
            }
        }
    }
}

/// Reads a range of an object, blob after blob. Holds the lease that keeps the blobs.
pub struct ObjectReader {
    storage: Storage,
    pieces: VecDeque<(BlobId, Range<u64>)>,
    current: Option<Box<dyn BlobReader>>,
    _lease: Lease,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("pieces", &self.pieces)
            .finish_non_exhaustive()
    }
}

impl ObjectReader {
    /// The next piece of data; `None` at the end of the range.
    pub async fn next(&mut self) -> Result<Option<Bytes>, S3Error> {
        loop {
            if let Some(reader) = &mut self.current {
                if let Some(data) = reader.next().await? {
                    return Ok(Some(data));
                }
                self.current = None;
            }
            let Some((blob, range)) = self.pieces.pop_front() else {
                return Ok(None);
            };
            self.current = Some(self.storage.backend().reader(&blob, range).await?);
        }
    }
}

/// The user store seen as ACLs see it.
#[derive(Debug, Clone, Copy)]
pub struct UserDirectory<'a>(&'a dyn UserLookup);

impl Directory for UserDirectory<'_> {
    fn id_by_email(&self, email: &str) -> Result<Option<String>, S3Error> {
        Ok(self.0.by_email(email)?.map(|u| u.canonical_id))
    }

    fn user_exists(&self, canonical_id: &str) -> Result<bool, S3Error> {
        Ok(self.0.by_canonical_id(canonical_id)?.is_some())
    }

    fn display_name(&self, canonical_id: &str) -> String {
        match self.0.by_canonical_id(canonical_id) {
            Ok(Some(user)) => user.account,
            _ => canonical_id.to_owned(),
        }
    }
}

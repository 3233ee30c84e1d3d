//! Where object data lives: immutable *blobs* named by random ids, behind a [`Backend`]
//! ([`LocalDisk`] by default, or [`RemoteS3`] in front of another S3-compatible store).
//!
//! Blob ids are never derived from keys, so no key can reach outside the store. An object is
//! a list of blobs (one for a PUT, one per part for a multipart upload); the metadata in
//! SQLite says which. A blob is written to staging and *published* before the metadata that
//! names it is committed; a blob that no metadata names is garbage, removed at start-up. So
//! a crash leaves either the old object or the new one, and at most some garbage.

mod leases;
mod local;
mod remote;

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;

use bytes::Bytes;
use ring::rand::{SecureRandom, SystemRandom};

pub use leases::{Lease, Storage};
pub use local::LocalDisk;
pub use remote::{RemoteConfig, RemoteS3};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a backend failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("blob {0} does not exist")]
    Missing(String),
    #[error("remote store: {0}")]
    Remote(String),
    #[error("the system's random number generator failed")]
    Random,
    #[error("a background task failed: {0}")]
    Task(String),
}

/// A blob: its id (32 hex digits) and the bucket it was written for (the remote backend
/// keeps each bucket's blobs in a bucket of its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobId {
    pub bucket: String,
    pub id: String,
}

impl BlobId {
    /// A fresh id for a blob of `bucket`.
    pub fn generate(bucket: &str) -> Result<Self, StorageError> {
        let mut bytes = [0u8; 16];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| StorageError::Random)?;
        Ok(Self {
            bucket: bucket.to_owned(),
            id: crate::digest::hex(&bytes),
        })
    }

    /// Whether `id` has the form of our ids (anything else in a store is not ours).
    pub fn is_valid_id(id: &str) -> bool {
        id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.bucket, self.id)
    }
}

/// A store of blobs.
pub trait Backend: Send + Sync + fmt::Debug {
    /// Prepares storage for a new bucket.
    fn create_bucket<'a>(&'a self, bucket: &'a str) -> BoxFuture<'a, Result<(), StorageError>>;
    /// Releases a bucket's storage; its blobs are already gone (or garbage).
    fn delete_bucket<'a>(&'a self, bucket: &'a str) -> BoxFuture<'a, Result<(), StorageError>>;
    /// Starts a new blob for `bucket`.
    fn writer<'a>(
        &'a self,
        bucket: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn BlobWriter>, StorageError>>;
    /// Reads `range` of a blob.
    fn reader<'a>(
        &'a self,
        blob: &'a BlobId,
        range: Range<u64>,
    ) -> BoxFuture<'a, Result<Box<dyn BlobReader>, StorageError>>;
    /// Copies a blob into a new, published blob of bucket `to`.
    fn copy<'a>(
        &'a self,
        blob: &'a BlobId,
        to: &'a str,
    ) -> BoxFuture<'a, Result<BlobId, StorageError>>;
    fn delete<'a>(&'a self, blob: &'a BlobId) -> BoxFuture<'a, Result<(), StorageError>>;
    /// Every published blob (for recovery at start-up).
    fn list(&self) -> BoxFuture<'_, Result<Vec<BlobId>, StorageError>>;
    /// Removes what unfinished writes left in staging; returns how many were removed.
    fn clear_staging(&self) -> BoxFuture<'_, Result<usize, StorageError>>;
}

/// A blob being written. Dropping it unpublished discards what was written.
pub trait BlobWriter: Send {
    fn write(&mut self, data: Bytes) -> BoxFuture<'_, Result<(), StorageError>>;
    /// Makes the blob durable and readable under its id.
    fn publish(self: Box<Self>) -> BoxFuture<'static, Result<BlobId, StorageError>>;
}

/// The data of a blob range, in pieces.
pub trait BlobReader: Send {
    /// The next piece; `None` at the end of the range.
    fn next(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, StorageError>>;
}

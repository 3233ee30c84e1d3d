//! Walrus' objects as image bundles read them: through the metadata and storage of the
//! running store, under a lease that keeps the blobs while they are read.

use bytes::Bytes;

use super::bridge::{BundleObjects, ObjectChunks, ObjectError};
use crate::error::S3Error;
use crate::state::{ObjectReader, Walrus};
use crate::storage::BoxFuture;

impl From<S3Error> for ObjectError {
    fn from(error: S3Error) -> Self {
        match error {
            S3Error::NoSuchBucket => Self::NoSuchBucket,
            S3Error::NoSuchKey => Self::NoSuchKey,
            other => Self::Storage(Box::new(other)),
        }
    }
}

impl ObjectChunks for ObjectReader {
    fn next(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, ObjectError>> {
        Box::pin(async move { Ok(ObjectReader::next(self).await?) })
    }
}

impl BundleObjects for Walrus {
    fn read_small<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<(String, Vec<u8>), ObjectError>> {
        Box::pin(async move {
            let (object, lease) = self.open_object(bucket, key).await?;
            if object.size > limit as u64 {
                return Err(ObjectError::TooLarge(limit));
            }
            let mut reader = self.reader(&object, 0..object.size, lease);
            let mut data = Vec::with_capacity(usize::try_from(object.size).unwrap_or(limit));
            while let Some(chunk) = ObjectReader::next(&mut reader).await? {
                data.extend_from_slice(&chunk);
            }
            Ok((object.etag, data))
        })
    }

    fn open<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn ObjectChunks>, ObjectError>> {
        Box::pin(async move {
            let (object, lease) = self.open_object(bucket, key).await?;
            let reader = self.reader(&object, 0..object.size, lease);
            Ok(Box::new(reader) as Box<dyn ObjectChunks>)
        })
    }
}

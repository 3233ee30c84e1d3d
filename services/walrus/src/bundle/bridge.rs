//! Objects read on the async side and consumed by the blocking decryption: a task streams
//! the chunks of one object through a small bounded channel, so a slow decryption slows the
//! reading down and memory stays at a few chunks.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::storage::BoxFuture;

/// Chunks in flight between the reading task and the decryption.
const DEPTH: usize = 4;

/// Why an object could not be read for a bundle.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    #[error("The specified key does not exist.")]
    NoSuchKey,
    #[error("the object is larger than {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Storage(Box<dyn std::error::Error + Send + Sync>),
}

impl From<ObjectError> for io::Error {
    fn from(error: ObjectError) -> Self {
        let kind = match error {
            ObjectError::NoSuchBucket | ObjectError::NoSuchKey => io::ErrorKind::NotFound,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, error)
    }
}

/// The data of an object, in pieces.
pub trait ObjectChunks: Send {
    /// The next piece; `None` at the end.
    fn next(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, ObjectError>>;
}

/// What GetDecryptedImage needs of Walrus' objects, implemented over its metadata and
/// storage. Reads are the server's own: no ACL applies (the original served nodes as the
/// administrator).
pub trait BundleObjects: Send + Sync + 'static {
    /// An object's ETag and its bytes, read whole; `TooLarge` beyond `limit` bytes.
    fn read_small<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<(String, Vec<u8>), ObjectError>>;

    /// Opens an object for reading.
    fn open<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn ObjectChunks>, ObjectError>>;
}

/// Opens objects from a blocking thread.
pub(super) struct Bridge {
    pub(super) runtime: Handle,
    pub(super) objects: Arc<dyn BundleObjects>,
}

impl Bridge {
    /// Starts streaming `bucket/key`; the reader blocks until chunks arrive.
    pub(super) fn open(&self, bucket: &str, key: &str) -> ChannelReader {
        let (sender, receiver) = mpsc::channel(DEPTH);
        let objects = self.objects.clone();
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.runtime.spawn(async move {
            let mut chunks = match objects.open(&bucket, &key).await {
                Ok(chunks) => chunks,
                Err(e) => {
                    let _ = sender.send(Err(e.into())).await;
                    return;
                }
            };
            loop {
                let item = match chunks.next().await {
                    Ok(Some(chunk)) => Ok(chunk),
                    Ok(None) => return,
                    Err(e) => Err(e.into()),
                };
                let failed = item.is_err();
                // The reader gone (the decryption failed) or a failure sent: stop.
                if sender.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        ChannelReader {
            receiver,
            current: Bytes::new(),
        }
    }
}

/// The blocking end of [`Bridge::open`].
pub(super) struct ChannelReader {
    receiver: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

//! Deleting blobs safely while they may be read: a reader takes a [`Lease`] on an object's
//! blobs when it looks the object up (under the metadata lock, so before any writer can
//! replace it); a blob discarded while leased is deleted when its last lease ends.
//! Deletions happen in a background task; one interrupted by a crash leaves garbage that the
//! next start-up removes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{Backend, BlobId};

#[derive(Debug, Default)]
struct Entry {
    readers: usize,
    /// Set when the blob was discarded while read.
    doomed: Option<BlobId>,
}

#[derive(Debug, Default)]
struct Leases(Mutex<HashMap<String, Entry>>);

impl Leases {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The backend with lease bookkeeping and a deleting task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Storage {
    backend: Arc<dyn Backend>,
    leases: Arc<Leases>,
    reaper: mpsc::UnboundedSender<BlobId>,
}

impl Storage {
    /// Wraps `backend`; must be called inside a tokio runtime (it starts the deleting task).
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        let (reaper, mut doomed) = mpsc::unbounded_channel::<BlobId>();
        let deleting = backend.clone();
        tokio::spawn(async move {
            while let Some(blob) = doomed.recv().await {
                match deleting.delete(&blob).await {
                    Ok(()) => debug!(%blob, "blob deleted"),
                    Err(e) => {
                        warn!(%blob, error = %e, "cannot delete a discarded blob; the next start removes it")
                    }
                }
            }
        });
        Self {
            backend,
            leases: Arc::default(),
            reaper,
        }
    }

    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// Keeps `blobs` from being deleted until the lease is dropped.
    pub fn lease(&self, blobs: &[BlobId]) -> Lease {
        let mut leases = self.leases.lock();
        for blob in blobs {
            leases.entry(blob.id.clone()).or_default().readers += 1;
        }
        Lease {
            ids: blobs.iter().map(|b| b.id.clone()).collect(),
            leases: self.leases.clone(),
            reaper: self.reaper.clone(),
        }
    }

    /// [`Storage::discard`] for blobs of `bucket` given by id (as the metadata names them).
    pub fn discard_ids(&self, bucket: &str, ids: impl IntoIterator<Item = String>) {
        self.discard(ids.into_iter().map(|id| BlobId {
            bucket: bucket.to_owned(),
            id,
        }));
    }

    /// Deletes blobs no metadata names any more: now, or when their last reader is done.
    pub fn discard(&self, blobs: impl IntoIterator<Item = BlobId>) {
        let mut leases = self.leases.lock();
        for blob in blobs {
            match leases.get_mut(&blob.id) {
                Some(entry) => entry.doomed = Some(blob),
                None => {
                    let _ = self.reaper.send(blob);
                }
            }
        }
    }
}

/// Readers' hold on some blobs.
#[derive(Debug)]
pub struct Lease {
    ids: Vec<String>,
    leases: Arc<Leases>,
    reaper: mpsc::UnboundedSender<BlobId>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut leases = self.leases.lock();
        for id in &self.ids {
            let Some(entry) = leases.get_mut(id) else {
                continue;
            };
            entry.readers -= 1;
            if entry.readers == 0 {
                if let Some(Entry {
                    doomed: Some(blob), ..
                }) = leases.remove(id)
                {
                    let _ = self.reaper.send(blob);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::storage::LocalDisk;

    async fn blob(disk: &LocalDisk) -> BlobId {
        let mut writer = disk.writer("b").await.unwrap();
        writer.write(Bytes::from_static(b"x")).await.unwrap();
        writer.publish().await.unwrap()
    }

    async fn exists(disk: &LocalDisk, blob: &BlobId) -> bool {
        // Deletion runs in the background: give it a moment.
        tokio::time::sleep(Duration::from_millis(200)).await;
        disk.reader(blob, 0..1).await.is_ok()
    }

    #[tokio::test]
    async fn leased_blobs_outlive_their_discarding() {
        let dir = tempfile::tempdir().unwrap();
        let disk = LocalDisk::open(dir.path()).unwrap();
        let storage = Storage::new(Arc::new(disk.clone()));
        let (read, free) = (blob(&disk).await, blob(&disk).await);
        let lease = storage.lease(std::slice::from_ref(&read));
        let second = storage.lease(std::slice::from_ref(&read));
        storage.discard([read.clone(), free.clone()]);
        assert!(!exists(&disk, &free).await);
        assert!(exists(&disk, &read).await);
        drop(lease);
        assert!(exists(&disk, &read).await);
        drop(second);
        assert!(!exists(&disk, &read).await);
    }
}

//! The cache of decrypted images under Walrus' data directory.
//!
//! Each image is one file named after its bucket, manifest key and manifest ETag (so a
//! re-uploaded manifest is a different image). A file is written under a temporary name,
//! synced and renamed into place, so a reader — or Walrus after a crash — sees a whole image
//! or none; leftovers of interrupted fills are removed when the cache opens. Concurrent
//! requests for one image wait for a single fill. The total size is bounded: the least
//! recently used images are evicted to make room, their files' modification times keeping
//! that order across restarts. An image larger than the whole cache is still served, from a
//! file that is never published.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Seek};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tokio::sync::OwnedMutexGuard;
use tracing::{info, warn};

use crate::digest::{from_hex, hex};

const TEMPORARY_PREFIX: &str = ".fill-";

/// What identifies one decrypted image.
#[derive(Debug, Clone, Copy)]
pub struct CacheKey<'a> {
    pub bucket: &'a str,
    pub manifest: &'a str,
    /// The manifest object's ETag: a changed manifest is another image.
    pub etag: &'a str,
}

impl CacheKey<'_> {
    fn file_name(&self) -> String {
        let mut hasher = openssl::sha::Sha1::new();
        for field in [self.bucket, self.manifest, self.etag] {
            hasher.update(field.as_bytes());
            hasher.update(b"\0");
        }
        hex(&hasher.finish())
    }
}

/// An image ready to be read from its start.
#[derive(Debug)]
pub struct CachedImage {
    pub file: File,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError<E: std::error::Error + 'static> {
    /// The fill failed; nothing was cached.
    #[error(transparent)]
    Fill(E),
    #[error("image cache {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("image cache: the fill task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The cache; cheap to clone.
#[derive(Debug, Clone)]
pub struct ImageCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    capacity: u64,
    index: Mutex<Index>,
    fills: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug, Default)]
struct Index {
    entries: HashMap<String, Entry>,
    /// Bytes of the published images.
    used: u64,
    /// Bytes promised to fills under way.
    reserved: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    size: u64,
    last_used: SystemTime,
}

impl ImageCache {
    /// Opens the cache in `dir` (created if needed) holding at most `capacity` bytes,
    /// removing what interrupted fills left and evicting down to `capacity`.
    pub fn open(dir: &Path, capacity: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut index = Index::default();
        for item in fs::read_dir(dir)? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            let meta = item.metadata()?;
            if name.starts_with(TEMPORARY_PREFIX) {
                fs::remove_file(item.path())?;
            } else if meta.is_file() && from_hex(&name).is_some_and(|b| b.len() == 20) {
                index.used += meta.len();
                index.entries.insert(
                    name,
                    Entry {
                        size: meta.len(),
                        last_used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    },
                );
            }
        }
        let inner = Inner {
            dir: dir.to_owned(),
            capacity,
            index: Mutex::new(index),
            fills: Mutex::new(HashMap::new()),
        };
        for path in inner.make_room(0).0 {
            fs::remove_file(path)?;
        }
        {
            // One lock: the arguments of a log line are evaluated together.
            let index = inner.index();
            info!(dir = %dir.display(), images = index.entries.len(), bytes = index.used, capacity, "image cache open");
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Bytes of the published images.
    pub fn used(&self) -> u64 {
        self.inner.index().used
    }

    /// The image for `key`, made by `fill` when it is not cached. `fill` writes the image
    /// into the file it is given and returns its size; `size` is what it promises to write,
    /// for making room beforehand. However many callers ask at once, one fill runs; it runs
    /// on a blocking thread and completes even if every caller has gone.
    pub async fn get_or_fill<E, F>(
        &self,
        key: CacheKey<'_>,
        size: u64,
        fill: F,
    ) -> Result<CachedImage, CacheError<E>>
    where
        E: std::error::Error + Send + 'static,
        F: FnOnce(&mut File) -> Result<u64, E> + Send + 'static,
    {
        let name = key.file_name();
        let guard = self.inner.clone().lock(&name).await;
        let inner = self.inner.clone();
        // The lookup touches the disk, so it runs on the blocking thread too.
        tokio::task::spawn_blocking(move || {
            let _guard = guard;
            if let Some(hit) = inner.lookup(&name)? {
                return Ok(hit);
            }
            inner.fill(&name, size, fill)
        })
        .await?
    }
}

impl Inner {
    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn io_error<E: std::error::Error>(&self, source: io::Error) -> CacheError<E> {
        CacheError::Io {
            path: self.dir.clone(),
            source,
        }
    }

    /// Waits for the fill lock of one image.
    async fn lock(self: Arc<Self>, name: &str) -> FillGuard {
        let mutex = {
            let mut fills = self.fills.lock().unwrap_or_else(PoisonError::into_inner);
            fills.entry(name.to_owned()).or_default().clone()
        };
        let guard = mutex.clone().lock_owned().await;
        FillGuard {
            inner: self,
            name: name.to_owned(),
            mutex,
            guard: Some(guard),
        }
    }

    fn lookup<E: std::error::Error>(
        &self,
        name: &str,
    ) -> Result<Option<CachedImage>, CacheError<E>> {
        if !self.index().entries.contains_key(name) {
            return Ok(None);
        }
        match File::open(self.dir.join(name)) {
            Ok(file) => {
                let now = SystemTime::now();
                // The modification time records the use, for the order after a restart.
                if let Err(e) = file.set_modified(now) {
                    warn!(error = %e, "cannot record the use of a cached image");
                }
                let mut index = self.index();
                let Some(entry) = index.entries.get_mut(name) else {
                    return Ok(None);
                };
                entry.last_used = now;
                Ok(Some(CachedImage {
                    file,
                    size: entry.size,
                }))
            }
            // Removed behind our back: forget it and make it again.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut index = self.index();
                if let Some(entry) = index.entries.remove(name) {
                    index.used -= entry.size;
                }
                Ok(None)
            }
            Err(e) => Err(self.io_error(e)),
        }
    }

    fn fill<E, F>(&self, name: &str, size: u64, fill: F) -> Result<CachedImage, CacheError<E>>
    where
        E: std::error::Error,
        F: FnOnce(&mut File) -> Result<u64, E>,
    {
        let cacheable = size <= self.capacity;
        let (evicted, reserved) = if cacheable {
            self.make_room(size)
        } else {
            warn!(
                size,
                capacity = self.capacity,
                "image larger than the whole cache: serving it uncached"
            );
            (Vec::new(), 0)
        };
        for path in evicted {
            if let Err(e) = fs::remove_file(&path) {
                warn!(path = %path.display(), error = %e, "cannot evict a cached image");
            }
        }
        let result = self.fill_file(name, fill, cacheable);
        let mut index = self.index();
        index.reserved -= reserved;
        let image = result?;
        if cacheable {
            index.used += image.size;
            index.entries.insert(
                name.to_owned(),
                Entry {
                    size: image.size,
                    last_used: SystemTime::now(),
                },
            );
        }
        Ok(image)
    }

    /// Writes the image into a temporary file, then publishes it (or, when it is not to be
    /// cached, unlinks it while keeping it open).
    fn fill_file<E, F>(
        &self,
        name: &str,
        fill: F,
        publish: bool,
    ) -> Result<CachedImage, CacheError<E>>
    where
        E: std::error::Error,
        F: FnOnce(&mut File) -> Result<u64, E>,
    {
        let mut random = [0u8; 8];
        openssl::rand::rand_bytes(&mut random).map_err(|e| self.io_error(io::Error::other(e)))?;
        let temporary = self
            .dir
            .join(format!("{TEMPORARY_PREFIX}{name}-{}", hex(&random)));
        let mut file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(|e| self.io_error(e))?;
        let finished = fill(&mut file).map_err(CacheError::Fill).and_then(|size| {
            self.place(&mut file, &temporary, name, publish)
                .map(|()| size)
                .map_err(|e| self.io_error(e))
        });
        if finished.is_err() || !publish {
            let _ = fs::remove_file(&temporary);
        }
        Ok(CachedImage {
            file,
            size: finished?,
        })
    }

    /// Syncs and renames a filled file into place when it is to be published, and rewinds it.
    fn place(
        &self,
        file: &mut File,
        temporary: &Path,
        name: &str,
        publish: bool,
    ) -> io::Result<()> {
        if publish {
            file.sync_all()?;
            fs::rename(temporary, self.dir.join(name))?;
        }
        file.rewind()
    }

    /// Reserves `size` bytes, choosing the least recently used images to evict for them.
    /// Returns the files to remove and the bytes reserved.
    fn make_room(&self, size: u64) -> (Vec<PathBuf>, u64) {
        let mut index = self.index();
        let mut by_age: Vec<(SystemTime, String)> = index
            .entries
            .iter()
            .map(|(name, e)| (e.last_used, name.clone()))
            .collect();
        by_age.sort();
        let mut evicted = Vec::new();
        for (_, name) in by_age {
            if index.used + index.reserved + size <= self.capacity {
                break;
            }
            if let Some(entry) = index.entries.remove(&name) {
                index.used -= entry.size;
                evicted.push(self.dir.join(name));
            }
        }
        index.reserved += size;
        (evicted, size)
    }
}

/// Holds the fill lock of one image; forgets the lock when nobody else waits for it.
struct FillGuard {
    inner: Arc<Inner>,
    name: String,
    mutex: Arc<tokio::sync::Mutex<()>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for FillGuard {
    fn drop(&mut self) {
        self.guard = None;
        let mut fills = self
            .inner
            .fills
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Ours and the map's: nobody else holds or waits for it.
        if Arc::strong_count(&self.mutex) == 2 {
            fills.remove(&self.name);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("fill failed")]
    struct FillFailed;

    fn key(manifest: &str) -> CacheKey<'_> {
        CacheKey {
            bucket: "b",
            manifest,
            etag: "e",
        }
    }

    /// Fills `len` bytes of `byte`, counting calls.
    fn filler(
        calls: &Arc<AtomicUsize>,
        byte: u8,
        len: usize,
    ) -> impl FnOnce(&mut File) -> Result<u64, FillFailed> + Send + 'static {
        let calls = calls.clone();
        move |file| {
            calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
            file.write_all(&vec![byte; len]).unwrap();
            Ok(len as u64)
        }
    }

    fn contents(mut image: CachedImage) -> Vec<u8> {
        let mut out = Vec::new();
        image.file.read_to_end(&mut out).unwrap();
        assert_eq!(out.len() as u64, image.size);
        out
    }

    fn published(dir: &Path) -> usize {
        fs::read_dir(dir).unwrap().count()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_fill_once_and_later_ones_hit() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ImageCache::open(dir.path(), 1000).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let (cache, calls) = (cache.clone(), calls.clone());
                tokio::spawn(async move {
                    let image = cache.get_or_fill(key("m"), 10, filler(&calls, 7, 10)).await;
                    contents(image.unwrap())
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), vec![7; 10]);
        }
        let again = cache.get_or_fill(key("m"), 10, filler(&calls, 9, 10)).await;
        assert_eq!(contents(again.unwrap()), vec![7; 10]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.used(), 10);
        assert!(
            cache.inner.fills.lock().unwrap().is_empty(),
            "fill locks leak"
        );
    }

    #[tokio::test]
    async fn the_least_recently_used_image_makes_room() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ImageCache::open(dir.path(), 100).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        for name in ["a", "b"] {
            cache
                .get_or_fill(key(name), 40, filler(&calls, 1, 40))
                .await
                .unwrap();
        }
        // a is used again, so b is the one to go.
        cache
            .get_or_fill(key("a"), 40, filler(&calls, 1, 40))
            .await
            .unwrap();
        cache
            .get_or_fill(key("c"), 40, filler(&calls, 1, 40))
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(cache.used(), 80);
        assert_eq!(published(dir.path()), 2);
        cache
            .get_or_fill(key("a"), 40, filler(&calls, 1, 40))
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3, "a was evicted");
        cache
            .get_or_fill(key("b"), 40, filler(&calls, 1, 40))
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4, "b was kept");
    }

    #[tokio::test]
    async fn an_image_larger_than_the_cache_is_served_but_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ImageCache::open(dir.path(), 10).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let image = cache
                .get_or_fill(key("big"), 20, filler(&calls, 3, 20))
                .await;
            assert_eq!(contents(image.unwrap()), vec![3; 20]);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(published(dir.path()), 0);
        assert_eq!(cache.used(), 0);
    }

    #[tokio::test]
    async fn a_failed_fill_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ImageCache::open(dir.path(), 100).unwrap();
        let failed = cache
            .get_or_fill(key("m"), 10, |file: &mut File| {
                file.write_all(b"partial").unwrap();
                Err(FillFailed)
            })
            .await;
        assert!(matches!(failed, Err(CacheError::Fill(FillFailed))));
        assert_eq!(published(dir.path()), 0);
        assert_eq!(cache.inner.index().reserved, 0);
        let calls = Arc::new(AtomicUsize::new(0));
        let image = cache.get_or_fill(key("m"), 10, filler(&calls, 5, 10)).await;
        assert_eq!(contents(image.unwrap()), vec![5; 10]);
    }

    /// Guards against a client that hangs up mid-fill causing a second decryption.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fill_completes_when_its_caller_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ImageCache::open(dir.path(), 100).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let abandoned = tokio::time::timeout(
            Duration::from_millis(10),
            cache.get_or_fill(key("m"), 10, filler(&calls, 4, 10)),
        )
        .await;
        assert!(
            abandoned.is_err(),
            "the fill should still have been running"
        );
        let image = cache.get_or_fill(key("m"), 10, filler(&calls, 8, 10)).await;
        assert_eq!(contents(image.unwrap()), vec![4; 10]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn reopening_keeps_images_and_drops_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        {
            let cache = ImageCache::open(dir.path(), 100).unwrap();
            for name in ["a", "b"] {
                cache
                    .get_or_fill(key(name), 30, filler(&calls, 2, 30))
                    .await
                    .unwrap();
            }
        }
        fs::write(dir.path().join(format!("{TEMPORARY_PREFIX}x")), b"half").unwrap();
        let cache = ImageCache::open(dir.path(), 100).unwrap();
        assert_eq!(cache.used(), 60);
        assert_eq!(published(dir.path()), 2);
        cache
            .get_or_fill(key("a"), 30, filler(&calls, 2, 30))
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // A smaller capacity evicts on opening.
        drop(cache);
        let cache = ImageCache::open(dir.path(), 40).unwrap();
        assert_eq!(cache.used(), 30);
        assert_eq!(published(dir.path()), 1);
    }
}

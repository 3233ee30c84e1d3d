//! A bounded disk cache of files: least recently used out first, one fill per missing entry
//! however many ask for it, and crash-safe.
//!
//! Each entry is one file `<dir>/<name>`. A fill writes a temporary `<dir>/.tmp-…` file that
//! is synced and renamed into place only when complete, so neither a reader nor the cache
//! reopened after a crash ever sees half an entry; opening removes whatever else the folder
//! holds. Concurrent requests for one missing entry wait for a single fill and share what it
//! made; the fill runs as its own task, so it completes even when every caller has gone. The
//! bound applies to published entries: an entry in use (a [`Lease`] alive) is never evicted,
//! and a file that cannot fit is handed over uncached, removed when its lease goes. Entries'
//! modification times record their last use, so the order survives a restart.
//!
//! All file-system work runs on blocking threads: the async methods never block the executor.

use std::collections::HashMap;
use std::fs::{self, File};
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tokio::sync::{oneshot, Mutex as AsyncMutex, OwnedMutexGuard};
use tracing::{info, warn};

const TEMPORARY_PREFIX: &str = ".tmp-";
/// Entry names are file names; bounded so that the temporary name fits too.
const MAX_NAME: usize = 128;

/// Why the cache could not give an entry.
#[derive(Debug, thiserror::Error)]
pub enum CacheError<E> {
    /// The fill failed; nothing was cached.
    #[error(transparent)]
    Fill(E),
    #[error("disk cache {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0:?} is not a cache entry name (letters, digits, '-', '_', '.'; not leading '.')")]
    BadName(String),
    #[error("the fill of cache entry {0} stopped unexpectedly")]
    Interrupted(String),
}

/// The cache; cheap to clone.
#[derive(Debug, Clone)]
pub struct DiskCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    capacity: u64,
    index: Mutex<Index>,
    /// One lock per entry being looked up or filled, forgotten when nobody holds or awaits it.
    fills: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
    next_temporary: AtomicU64,
}

#[derive(Debug, Default)]
struct Index {
    entries: HashMap<String, Entry>,
    /// Bytes of the published entries.
    used: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    size: u64,
    last_used: SystemTime,
    /// Leases alive: an entry in use is not evicted.
    leases: usize,
}

/// One entry in use: its file stays where [`Lease::path`] says until the lease is dropped.
#[derive(Debug)]
pub struct Lease {
    inner: Arc<Inner>,
    name: String,
    path: PathBuf,
    size: u64,
    cached: bool,
}

impl Lease {
    /// The entry's file. An uncached file may be moved away (renamed) by its holder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the file is published in the cache (shared: read it, link it or copy it, but
    /// never write it) or handed over uncached (the holder's own, removed with the lease).
    pub fn is_cached(&self) -> bool {
        self.cached
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.cached {
            if let Some(entry) = self.inner.index().entries.get_mut(&self.name) {
                entry.leases = entry.leases.saturating_sub(1);
            }
        } else {
            let path = std::mem::take(&mut self.path);
            off_the_executor(move || remove_quietly(&path));
        }
    }
}

impl DiskCache {
    /// Opens the cache in `dir` (created if needed) holding at most `capacity` bytes: keeps
    /// the published entries, removes anything else (an interrupted fill, a stray file or
    /// folder) and evicts down to `capacity`. Blocking: call it from a blocking thread or
    /// before the runtime serves.
    pub fn open(dir: &Path, capacity: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut index = Index::default();
        for item in fs::read_dir(dir)? {
            let item = item?;
            let path = item.path();
            let meta = item.metadata()?;
            let name = item.file_name().to_str().map(str::to_owned);
            match name {
                Some(name) if meta.is_file() && valid_name(&name) => {
                    index.used += meta.len();
                    let last_used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    index.entries.insert(
                        name,
                        Entry {
                            size: meta.len(),
                            last_used,
                            leases: 0,
                        },
                    );
                }
                _ => {
                    warn!(path = %path.display(), "removing what is not a cache entry");
                    if meta.is_dir() {
                        fs::remove_dir_all(&path)?;
                    } else {
                        fs::remove_file(&path)?;
                    }
                }
            }
        }
        let inner = Inner {
            dir: dir.to_owned(),
            capacity,
            index: Mutex::new(index),
            fills: Mutex::new(HashMap::new()),
            next_temporary: AtomicU64::new(0),
        };
        let evicted = make_room(&mut inner.index(), capacity, 0).unwrap_or_default();
        for path in inner.set_aside(evicted) {
            fs::remove_file(path)?;
        }
        {
            // One lock: the arguments of a log line are evaluated together.
            let index = inner.index();
            info!(dir = %dir.display(), entries = index.entries.len(), used_bytes = index.used, capacity_bytes = capacity, "disk cache open");
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Bytes of the published entries.
    pub fn used(&self) -> u64 {
        self.inner.index().used
    }

    /// The entry `name`, made by `fill` when it is not cached. `fill` is given the path of a
    /// file to create and write; the cache measures, syncs and publishes it once `fill`
    /// succeeds (or hands it over uncached when it cannot fit). However many callers ask for
    /// a missing entry at once, one fill runs and the others share its entry; after a failed
    /// fill, or an uncached one, the next waiter fills again.
    pub async fn get_or_fill<E, F, Fut>(&self, name: &str, fill: F) -> Result<Lease, CacheError<E>>
    where
        E: Send + 'static,
        F: FnOnce(PathBuf) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        if !valid_name(name) {
            return Err(CacheError::BadName(name.to_owned()));
        }
        let guard = Arc::clone(&self.inner).lock(name).await;
        let inner = Arc::clone(&self.inner);
        let owned = name.to_owned();
        // The lookup records the use on disk, so it runs on a blocking thread too.
        let hit = tokio::task::spawn_blocking(move || inner.lookup(&owned))
            .await
            .map_err(|_| CacheError::Interrupted(name.to_owned()))?;
        if let Some(lease) = hit {
            return Ok(lease);
        }

        let (sender, receiver) = oneshot::channel();
        let inner = Arc::clone(&self.inner);
        let owned = name.to_owned();
        tokio::spawn(async move {
            let result = inner.fill(&owned, fill).await;
            // Holding the lock until the entry is published makes waiters find it.
            drop(guard);
            // Nobody waiting: the lease is dropped here, releasing or removing the file.
            let _ = sender.send(result);
        });
        receiver
            .await
            .map_err(|_| CacheError::Interrupted(name.to_owned()))?
    }
}

impl Inner {
    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fills(&self) -> MutexGuard<'_, HashMap<String, Arc<AsyncMutex<()>>>> {
        self.fills.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the fill lock of one entry.
    async fn lock(self: Arc<Self>, name: &str) -> FillGuard {
        let mutex = Arc::clone(self.fills().entry(name.to_owned()).or_default());
        let guard = Arc::clone(&mutex).lock_owned().await;
        FillGuard {
            inner: self,
            name: name.to_owned(),
            mutex,
            guard: Some(guard),
        }
    }

    fn lease(self: &Arc<Self>, name: &str, size: u64, cached: bool, path: PathBuf) -> Lease {
        Lease {
            inner: Arc::clone(self),
            name: name.to_owned(),
            path,
            size,
            cached,
        }
    }

    /// A published entry, leased and its use recorded; `None` when there is none.
    fn lookup(self: &Arc<Self>, name: &str) -> Option<Lease> {
        if !self.index().entries.contains_key(name) {
            return None;
        }
        let path = self.dir.join(name);
        let now = SystemTime::now();
        // The modification time records the use, for the order after a restart.
        let touched = File::options()
            .append(true)
            .open(&path)
            .and_then(|file| file.set_modified(now));
        let mut index = self.index();
        match touched {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Removed behind our back: forget it and make it again.
                if let Some(entry) = index.entries.remove(name) {
                    index.used -= entry.size;
                }
                return None;
            }
            Err(e) => {
                warn!(error = %e, path = %path.display(), "cannot record the use of a cached file")
            }
            Ok(()) => {}
        }
        let entry = index.entries.get_mut(name)?;
        entry.last_used = now;
        entry.leases += 1;
        let size = entry.size;
        drop(index);
        Some(self.lease(name, size, true, path))
    }

    /// Runs `fill` into a temporary file, then admits the file on a blocking thread.
    async fn fill<E, F, Fut>(self: &Arc<Self>, name: &str, fill: F) -> Result<Lease, CacheError<E>>
    where
        E: Send + 'static,
        F: FnOnce(PathBuf) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let temporary = self.temporary(name);
        let filled = fill(temporary.clone()).await;
        let inner = Arc::clone(self);
        let owned = name.to_owned();
        tokio::task::spawn_blocking(move || match filled {
            Ok(()) => inner.admit(&owned, temporary),
            Err(e) => {
                remove_quietly(&temporary);
                Err(CacheError::Fill(e))
            }
        })
        .await
        .map_err(|_| CacheError::Interrupted(name.to_owned()))?
    }

    /// Publishes a filled file, evicting the least recently used entries not in use to make
    /// room; hands it over uncached when it cannot fit.
    fn admit<E>(self: &Arc<Self>, name: &str, temporary: PathBuf) -> Result<Lease, CacheError<E>> {
        let measured = File::open(&temporary).and_then(|file| {
            file.sync_all()?;
            file.metadata()
        });
        let size = match measured {
            Ok(meta) => meta.len(),
            Err(source) => {
                remove_quietly(&temporary);
                return Err(CacheError::Io {
                    path: temporary,
                    source,
                });
            }
        };
        if size > self.capacity {
            warn!(
                entry = name,
                size,
                capacity = self.capacity,
                "larger than the whole cache: handing it over uncached"
            );
            return Ok(self.lease(name, size, false, temporary));
        }
        let mut index = self.index();
        let Some(evicted) = make_room(&mut index, self.capacity, size) else {
            drop(index);
            info!(
                entry = name,
                size, "no room beside the entries in use: handing it over uncached"
            );
            return Ok(self.lease(name, size, false, temporary));
        };
        // Set aside under the lock: a fill of an evicted name may publish it again at once.
        let evicted = self.set_aside(evicted);
        let path = self.dir.join(name);
        let renamed = fs::rename(&temporary, &path);
        if renamed.is_ok() {
            index.used += size;
            let stale = index.entries.insert(
                name.to_owned(),
                Entry {
                    size,
                    last_used: SystemTime::now(),
                    leases: 1,
                },
            );
            if let Some(stale) = stale {
                index.used -= stale.size;
            }
        }
        drop(index);
        for path in evicted {
            remove_quietly(&path);
        }
        if let Err(e) = renamed {
            remove_quietly(&temporary);
            return Err(CacheError::Io { path, source: e });
        }
        Ok(self.lease(name, size, true, path))
    }

    /// Renames evicted entries' files to temporary names (quick, unlike removing a large
    /// file), for removal once the index is unlocked.
    fn set_aside(&self, evicted: Vec<String>) -> Vec<PathBuf> {
        evicted
            .into_iter()
            .filter_map(|name| {
                info!(entry = %name, "evicted from the disk cache");
                let aside = self.temporary(&name);
                match fs::rename(self.dir.join(&name), &aside) {
                    Ok(()) => Some(aside),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                    Err(e) => {
                        warn!(error = %e, entry = %name, "cannot evict a cached file");
                        None
                    }
                }
            })
            .collect()
    }

    /// A fresh temporary path for `name`; whatever such paths hold goes when the cache opens.
    fn temporary(&self, name: &str) -> PathBuf {
        let n = self.next_temporary.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{TEMPORARY_PREFIX}{name}.{n}"))
    }
}

/// Takes the least recently used entries not in use out of `index` so that `size` more bytes
/// fit within `capacity`: the names of the files to remove, or `None` (and nothing taken out)
/// when they cannot fit.
fn make_room(index: &mut Index, capacity: u64, size: u64) -> Option<Vec<String>> {
    let mut by_age: Vec<(SystemTime, &String, u64)> = index
        .entries
        .iter()
        .filter(|(_, e)| e.leases == 0)
        .map(|(name, e)| (e.last_used, name, e.size))
        .collect();
    by_age.sort();
    let mut used = index.used;
    let mut evicted = Vec::new();
    for (_, name, entry_size) in by_age {
        if used.saturating_add(size) <= capacity {
            break;
        }
        used -= entry_size;
        evicted.push(name.clone());
    }
    if used.saturating_add(size) > capacity {
        return None;
    }
    for name in &evicted {
        index.entries.remove(name);
    }
    index.used = used;
    Some(evicted)
}

/// Holds the fill lock of one entry; forgets the lock when nobody else holds or awaits it.
struct FillGuard {
    inner: Arc<Inner>,
    name: String,
    mutex: Arc<AsyncMutex<()>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for FillGuard {
    fn drop(&mut self) {
        self.guard = None;
        let mut fills = self.inner.fills();
        // Ours and the map's: nobody else holds or waits for it.
        if Arc::strong_count(&self.mutex) == 2 {
            fills.remove(&self.name);
        }
    }
}

/// Entry names are plain file names that cannot be taken for a temporary file.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Runs `work` on a blocking thread when inside a runtime, else right here.
fn off_the_executor(work: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(work)),
        Err(_) => work(),
    }
}

/// Removes a file, logging any failure but its absence.
fn remove_quietly(path: &Path) {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            warn!(error = %e, path = %path.display(), "cannot remove a cache file");
        }
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    #[derive(Debug, PartialEq)]
    struct FillFailed;

    /// A fill writing `len` bytes of `byte` after a pause, counting its calls.
    fn filler(
        calls: &Arc<AtomicUsize>,
        byte: u8,
        len: usize,
    ) -> impl FnOnce(PathBuf) -> std::pin::Pin<Box<dyn Future<Output = Result<(), FillFailed>> + Send>>
           + Send
           + 'static {
        let calls = Arc::clone(calls);
        move |path| {
            Box::pin(async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                tokio::fs::write(path, vec![byte; len]).await.unwrap();
                Ok(())
            })
        }
    }

    fn contents(lease: &Lease) -> Vec<u8> {
        let data = fs::read(lease.path()).unwrap();
        assert_eq!(data.len() as u64, lease.size());
        data
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_fill_once_and_share_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 1000).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let (cache, calls) = (cache.clone(), Arc::clone(&calls));
                tokio::spawn(async move {
                    let lease = cache.get_or_fill("m", filler(&calls, 7, 10)).await.unwrap();
                    assert!(lease.is_cached());
                    contents(&lease)
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), vec![7; 10]);
        }
        let again = cache.get_or_fill("m", filler(&calls, 9, 10)).await.unwrap();
        assert_eq!(contents(&again), vec![7; 10]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.used(), 10);
        assert!(cache.inner.fills().is_empty(), "fill locks leak");
    }

    #[tokio::test]
    async fn the_least_recently_used_entry_not_in_use_makes_room() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 100).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        for name in ["a", "b"] {
            cache
                .get_or_fill(name, filler(&calls, 1, 40))
                .await
                .unwrap();
        }
        // a is used again, so b is the one to go.
        cache.get_or_fill("a", filler(&calls, 1, 40)).await.unwrap();
        cache.get_or_fill("c", filler(&calls, 1, 40)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(cache.used(), 80);
        assert_eq!(files(dir.path()), ["a", "c"]);

        // a is the oldest once c is used again, but a lease holds it: c goes instead.
        let in_use = cache.get_or_fill("a", filler(&calls, 1, 40)).await.unwrap();
        cache.get_or_fill("c", filler(&calls, 1, 40)).await.unwrap();
        cache.get_or_fill("d", filler(&calls, 1, 40)).await.unwrap();
        assert_eq!(files(dir.path()), ["a", "d"]);
        assert_eq!(contents(&in_use), vec![1; 40]);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn what_cannot_fit_is_handed_over_uncached_and_removed_with_its_lease() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 10).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let lease = cache
                .get_or_fill("big", filler(&calls, 3, 20))
                .await
                .unwrap();
            assert!(!lease.is_cached());
            assert_eq!(contents(&lease), vec![3; 20]);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(cache.used(), 0);
        tokio::task::yield_now().await;
        // The lease's removal runs on a blocking thread.
        for _ in 0..100 {
            if files(dir.path()).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));

        // An entry in use cannot be evicted: a newcomer that would need its room stays out.
        let cache = DiskCache::open(dir.path(), 50).unwrap();
        let kept = cache
            .get_or_fill("kept", filler(&calls, 1, 40))
            .await
            .unwrap();
        let other = cache
            .get_or_fill("other", filler(&calls, 2, 40))
            .await
            .unwrap();
        assert!(kept.is_cached() && !other.is_cached());
        assert_eq!(contents(&kept), vec![1; 40]);
    }

    #[tokio::test]
    async fn a_failed_fill_leaves_nothing_and_the_next_request_fills_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 100).unwrap();
        let failed = cache
            .get_or_fill("m", |path: PathBuf| async move {
                tokio::fs::write(path, b"partial").await.unwrap();
                Err(FillFailed)
            })
            .await;
        assert!(matches!(failed, Err(CacheError::Fill(FillFailed))));
        assert!(files(dir.path()).is_empty());
        assert_eq!(cache.used(), 0);
        let calls = Arc::new(AtomicUsize::new(0));
        let lease = cache.get_or_fill("m", filler(&calls, 5, 10)).await.unwrap();
        assert_eq!(contents(&lease), vec![5; 10]);
    }

    /// Guards against a caller that gives up mid-fill causing a second fill.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fill_completes_when_its_caller_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 100).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let abandoned = tokio::time::timeout(
            Duration::from_millis(10),
            cache.get_or_fill("m", filler(&calls, 4, 10)),
        )
        .await;
        assert!(
            abandoned.is_err(),
            "the fill should still have been running"
        );
        let lease = cache.get_or_fill("m", filler(&calls, 8, 10)).await.unwrap();
        assert_eq!(contents(&lease), vec![4; 10]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// Guards against a crash mid-fill leaving an entry that counts as present.
    #[tokio::test]
    async fn reopening_keeps_entries_and_drops_half_filled_ones() {
        let dir = tempfile::tempdir().unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        {
            let cache = DiskCache::open(dir.path(), 100).unwrap();
            for name in ["a", "b"] {
                cache
                    .get_or_fill(name, filler(&calls, 2, 30))
                    .await
                    .unwrap();
            }
        }
        fs::write(dir.path().join(format!("{TEMPORARY_PREFIX}c.0")), b"half").unwrap();
        fs::create_dir(dir.path().join("stray")).unwrap();
        let cache = DiskCache::open(dir.path(), 100).unwrap();
        assert_eq!(cache.used(), 60);
        assert_eq!(files(dir.path()), ["a", "b"]);
        cache.get_or_fill("a", filler(&calls, 2, 30)).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // A smaller capacity evicts on opening, the least recently used first.
        drop(cache);
        let cache = DiskCache::open(dir.path(), 40).unwrap();
        assert_eq!(cache.used(), 30);
        assert_eq!(files(dir.path()), ["a"]);
    }

    /// Guards against a name reaching outside the cache or posing as a temporary file.
    #[tokio::test]
    async fn names_must_be_plain() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 100).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        for name in ["../etc", "", ".tmp-x", "a/b"] {
            let err = cache
                .get_or_fill(name, filler(&calls, 1, 1))
                .await
                .unwrap_err();
            assert!(matches!(err, CacheError::BadName(_)), "{name}");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}

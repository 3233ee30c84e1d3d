//! The image cache: kernels, ramdisks and root images fetched once and shared by the
//! instances that boot from them, within `NC_CACHE_SIZE`, least recently used first out
//! (as the original's cache in `INSTANCE_PATH/eucalyptus/cache`).
//!
//! Layout: `<cache>/<image id>/blob` (the image) and `<cache>/<image id>/url` (where it came
//! from); downloads land in `<cache>/.staging` first. Requests for one image are served one at
//! a time, so concurrent launches download it once. A download runs as its own task: an
//! instance terminated while waiting does not abort it, and the task cleans up after itself.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::{oneshot, Mutex as AsyncMutex, OwnedMutexGuard};
use tracing::{info, warn};

use crate::instances::{plain_name, ImageRef};
use crate::walrus::{parse_url, Download, FetchError, ImageClient};

const BLOB: &str = "blob";
const URL: &str = "url";
const STAGING: &str = ".staging";

/// Why an image could not be put in place.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("image id {0:?} is not a plain name (letters, digits, '-', '_', '.')")]
    BadId(String),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the download of {0} stopped unexpectedly")]
    Interrupted(String),
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ImageError {
    let path = path.to_owned();
    move |source| ImageError::Io {
        action,
        path,
        source,
    }
}

/// How an image reaches an instance's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A hard link to the cached file (falling back to a copy): for files the guest only
    /// reads, such as kernels and the backing file of a copy-on-write disk.
    Shared,
    /// A private copy the guest may write to.
    Private,
}

/// One cached image.
#[derive(Debug, Clone)]
struct Entry {
    url: String,
    size: u64,
    last_used: SystemTime,
}

/// A download's result: in the cache, or (too big for it, or caching off) a loose file.
enum Fetched {
    Cached(PathBuf),
    Loose(PathBuf),
}

/// The node's image cache.
#[derive(Debug)]
pub struct ImageCache {
    dir: PathBuf,
    limit: u64,
    client: ImageClient,
    entries: Mutex<HashMap<String, Entry>>,
    /// One lock per image id ever requested: a few bytes each, kept for the process's life.
    locks: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
    next_staging: AtomicU64,
}

impl ImageCache {
    /// Opens the cache in `dir`, keeping complete entries and removing anything else (an
    /// interrupted download, a half-written entry), then trimming it to `limit_mb`.
    pub fn open(dir: &Path, limit_mb: u64, client: ImageClient) -> Result<Arc<Self>, ImageError> {
        let staging = dir.join(STAGING);
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_error("cannot clear", &staging))?;
        }
        fs::create_dir_all(&staging).map_err(io_error("cannot create", &staging))?;
        let mut entries = HashMap::new();
        for item in fs::read_dir(dir)
            .map_err(io_error("cannot read", dir))?
            .flatten()
        {
            let path = item.path();
            let Some(id) = item.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if id == STAGING {
                continue;
            }
            match read_entry(&path) {
                Some(entry) => {
                    entries.insert(id, entry);
                }
                None => {
                    warn!(path = %path.display(), "removing an incomplete cache entry");
                    remove_path(&path);
                }
            }
        }
        let cache = Self {
            dir: dir.to_owned(),
            limit: limit_mb.saturating_mul(1 << 20),
            client,
            entries: Mutex::new(entries),
            locks: Mutex::new(HashMap::new()),
            next_staging: AtomicU64::new(0),
        };
        {
            let mut entries = cache.lock_entries();
            cache.make_room(&mut entries, 0, "");
            let used: u64 = entries.values().map(|e| e.size).sum();
            info!(dir = %dir.display(), images = entries.len(), used_bytes = used, limit_bytes = cache.limit, "image cache ready");
        }
        Ok(Arc::new(cache))
    }

    /// Puts `image` at `dest`, from the cache or downloaded; at most `limit` bytes. Returns
    /// its size.
    pub async fn fetch(
        self: &Arc<Self>,
        image: &ImageRef,
        dest: &Path,
        placement: Placement,
        limit: u64,
    ) -> Result<u64, ImageError> {
        check_id(&image.id)?;
        let url = parse_url(&image.url)?;
        let guard = self.lock_for(&image.id).lock_owned().await;

        let hit = self.lock_entries().get_mut(&image.id).and_then(|entry| {
            (entry.url == image.url).then(|| {
                entry.last_used = SystemTime::now();
                entry.size
            })
        });
        if let Some(size) = hit {
            if size > limit {
                return Err(FetchError::TooLarge {
                    url: image.url.clone(),
                    limit,
                }
                .into());
            }
            let blob = self.dir.join(&image.id).join(BLOB);
            touch(&blob);
            place(&blob, dest, placement)?;
            drop(guard);
            return Ok(size);
        }

        let (sender, receiver) = oneshot::channel();
        let this = Arc::clone(self);
        let id = image.id.clone();
        let url_text = image.url.clone();
        tokio::spawn(async move {
            let result = this.download(&id, &url_text, url, limit, guard).await;
            if let Err(Ok((Fetched::Loose(path), _))) = sender.send(result) {
                // Nobody waits for this file any more.
                remove_path(&path);
            }
        });
        let (fetched, size) = receiver
            .await
            .map_err(|_| ImageError::Interrupted(image.url.clone()))??;
        match fetched {
            Fetched::Cached(blob) => place(&blob, dest, placement)?,
            Fetched::Loose(path) => {
                fs::rename(&path, dest).map_err(io_error("cannot move an image to", dest))?
            }
        }
        Ok(size)
    }

    /// Downloads into the staging area and admits the file to the cache if it fits. Holds
    /// the image's lock (`_guard`) until the cache knows the outcome.
    async fn download(
        &self,
        id: &str,
        url_text: &str,
        url: hyper::Uri,
        limit: u64,
        _guard: OwnedMutexGuard<()>,
    ) -> Result<(Fetched, u64), ImageError> {
        let n = self.next_staging.fetch_add(1, Ordering::Relaxed);
        let staging = self.dir.join(STAGING).join(format!("{id}.{n}"));
        info!(image = id, url = url_text, "downloading");
        let size = self
            .client
            .fetch(&Download {
                url: &url,
                to: &staging,
                limit,
            })
            .await?;
        let fetched = self.admit(id, url_text, staging, size)?;
        Ok((fetched, size))
    }

    /// Moves a downloaded file into the cache, evicting the least recently used images it
    /// needs room from (never one being used right now).
    fn admit(
        &self,
        id: &str,
        url: &str,
        staging: PathBuf,
        size: u64,
    ) -> Result<Fetched, ImageError> {
        if size > self.limit {
            return Ok(Fetched::Loose(staging));
        }
        let mut entries = self.lock_entries();
        if entries.remove(id).is_some() {
            // The same id now comes from another URL: the old copy is stale.
            remove_path(&self.dir.join(id));
        }
        if !self.make_room(&mut entries, size, id) {
            return Ok(Fetched::Loose(staging));
        }
        let entry_dir = self.dir.join(id);
        let blob = entry_dir.join(BLOB);
        let stored = fs::create_dir_all(&entry_dir)
            .and_then(|()| fs::write(entry_dir.join(URL), url))
            .and_then(|()| fs::rename(&staging, &blob));
        if let Err(e) = stored {
            warn!(error = %e, image = id, "cannot add the image to the cache; using it uncached");
            remove_path(&entry_dir);
            return Ok(Fetched::Loose(staging));
        }
        entries.insert(
            id.to_owned(),
            Entry {
                url: url.to_owned(),
                size,
                last_used: SystemTime::now(),
            },
        );
        Ok(Fetched::Cached(blob))
    }

    /// Evicts least recently used entries (other than `keep` and those in use) until `size`
    /// more bytes fit. Whether they do.
    fn make_room(&self, entries: &mut HashMap<String, Entry>, size: u64, keep: &str) -> bool {
        loop {
            let used: u64 = entries.values().map(|e| e.size).sum();
            if used.saturating_add(size) <= self.limit {
                return true;
            }
            let victim = entries
                .iter()
                .filter(|(id, _)| id.as_str() != keep && !self.in_use(id))
                .min_by_key(|(_, e)| (e.last_used, e.size))
                .map(|(id, _)| id.clone());
            let Some(victim) = victim else { return false };
            info!(image = %victim, "evicting from the image cache");
            entries.remove(&victim);
            remove_path(&self.dir.join(&victim));
        }
    }

    fn in_use(&self, id: &str) -> bool {
        self.lock_locks()
            .get(id)
            .is_some_and(|lock| lock.try_lock().is_err())
    }

    fn lock_for(&self, id: &str) -> Arc<AsyncMutex<()>> {
        Arc::clone(self.lock_locks().entry(id.to_owned()).or_default())
    }

    fn lock_entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_locks(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<AsyncMutex<()>>>> {
        self.locks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Image ids name cache directories: they must be plain names.
fn check_id(id: &str) -> Result<(), ImageError> {
    if plain_name(id) {
        Ok(())
    } else {
        Err(ImageError::BadId(id.to_owned()))
    }
}

fn read_entry(dir: &Path) -> Option<Entry> {
    let blob = fs::metadata(dir.join(BLOB)).ok()?;
    let url = fs::read_to_string(dir.join(URL)).ok()?;
    Some(Entry {
        url,
        size: blob.len(),
        last_used: blob.modified().ok()?,
    })
}

fn place(from: &Path, to: &Path, placement: Placement) -> Result<(), ImageError> {
    if placement == Placement::Shared && fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    fs::copy(from, to)
        .map(drop)
        .map_err(io_error("cannot copy an image to", to))
}

/// Records a use in the file's mtime, so that LRU order survives a restart.
fn touch(path: &Path) {
    if let Err(e) = fs::File::options()
        .append(true)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::now()))
    {
        warn!(error = %e, path = %path.display(), "cannot record the use of a cached image");
    }
}

fn remove_path(path: &Path) {
    let result = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    if let Err(e) = result.or_else(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            Ok(())
        } else {
            Err(e)
        }
    }) {
        warn!(error = %e, path = %path.display(), "cannot remove");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use soap::keys::KeyPair;
    use std::time::Duration;

    const MIB: usize = 1 << 20;

    fn cache(dir: &Path, limit_mb: u64) -> Arc<ImageCache> {
        let keys = KeyPair::generate("node").unwrap();
        ImageCache::open(dir, limit_mb, ImageClient::new(&keys).unwrap()).unwrap()
    }

    /// A downloaded file of `size` bytes waiting in the staging area.
    fn staged(cache: &ImageCache, name: &str, size: usize) -> PathBuf {
        let path = cache.dir.join(STAGING).join(name);
        fs::write(&path, vec![7u8; size]).unwrap();
        path
    }

    fn cached(cache: &ImageCache) -> Vec<String> {
        let mut ids: Vec<_> = cache.lock_entries().keys().cloned().collect();
        ids.sort();
        ids
    }

    fn age(cache: &ImageCache, id: &str, secs: u64) {
        cache.lock_entries().get_mut(id).unwrap().last_used =
            SystemTime::now() - Duration::from_secs(secs);
    }

    #[test]
    fn the_least_recently_used_image_not_in_use_makes_room() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path(), 2);
        for id in ["emi-a", "emi-b"] {
            let staging = staged(&cache, id, MIB);
            assert!(matches!(
                cache.admit(id, "http://w/x", staging, MIB as u64).unwrap(),
                Fetched::Cached(_)
            ));
        }
        age(&cache, "emi-a", 100);
        age(&cache, "emi-b", 50);
        let staging = staged(&cache, "emi-c", MIB);
        cache
            .admit("emi-c", "http://w/x", staging, MIB as u64)
            .unwrap();
        assert_eq!(cached(&cache), ["emi-b", "emi-c"]);
        assert!(!dir.path().join("emi-a").exists());

        // emi-b is the oldest, but an instance is fetching it: emi-c goes instead.
        age(&cache, "emi-c", 10);
        let lock = cache.lock_for("emi-b");
        let _in_use = lock.try_lock().unwrap();
        let staging = staged(&cache, "emi-d", MIB);
        cache
            .admit("emi-d", "http://w/x", staging, MIB as u64)
            .unwrap();
        assert_eq!(cached(&cache), ["emi-b", "emi-d"]);
        assert_eq!(
            fs::read_to_string(dir.path().join("emi-d").join(URL)).unwrap(),
            "http://w/x"
        );
    }

    #[test]
    fn what_does_not_fit_stays_out_of_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path(), 1);
        let staging = staged(&cache, "emi-big", 2 * MIB);
        match cache
            .admit("emi-big", "http://w/x", staging.clone(), 2 * MIB as u64)
            .unwrap()
        {
            Fetched::Loose(path) => assert_eq!(path, staging),
            Fetched::Cached(_) => panic!("cached beyond the limit"),
        }
        assert!(cached(&cache).is_empty());

        // NC_CACHE_SIZE=0 turns the cache off.
        let off = tempfile::tempdir().unwrap();
        let off = self::cache(off.path(), 0);
        let staging = staged(&off, "eki-1", 10);
        assert!(matches!(
            off.admit("eki-1", "http://w/k", staging, 10).unwrap(),
            Fetched::Loose(_)
        ));
    }

    #[test]
    fn reopening_keeps_complete_entries_only() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cache = cache(dir.path(), 10);
            let staging = staged(&cache, "emi-ok", 100);
            cache.admit("emi-ok", "http://w/ok", staging, 100).unwrap();
            staged(&cache, "emi-interrupted.0", 100);
        }
        fs::create_dir(dir.path().join("emi-half")).unwrap();
        fs::write(dir.path().join("emi-half").join(BLOB), b"no url file").unwrap();

        let cache = cache(dir.path(), 10);
        assert_eq!(cached(&cache), ["emi-ok"]);
        assert_eq!(cache.lock_entries()["emi-ok"].url, "http://w/ok");
        assert!(!dir.path().join("emi-half").exists());
        assert_eq!(fs::read_dir(dir.path().join(STAGING)).unwrap().count(), 0);
    }

    /// Guards against an image id naming a path outside the cache.
    #[tokio::test]
    async fn image_ids_must_be_plain_names() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path(), 10);
        let image = ImageRef {
            id: "../../etc".into(),
            url: "http://w/x".into(),
        };
        let dest = dir.path().join("out");
        let err = cache
            .fetch(&image, &dest, Placement::Shared, 1 << 30)
            .await
            .unwrap_err();
        assert!(matches!(err, ImageError::BadId(_)), "{err}");
    }
}

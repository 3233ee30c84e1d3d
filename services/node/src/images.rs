//! The image cache: kernels, ramdisks and root images fetched once and shared by the
//! instances that boot from them, within `NC_CACHE_SIZE`, least recently used first out
//! (as the original's cache in `INSTANCE_PATH/eucalyptus/cache`).
//!
//! A [`kit::cache::DiskCache`] in `<data>/cache`: one file per image, named after its id and
//! its URL (the same id from another URL is another image). Concurrent launches of one image
//! download it once; the download runs as its own task, so an instance terminated while
//! waiting does not abort it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kit::cache::{CacheError, DiskCache, Lease};

use crate::instances::{plain_name, ImageRef};
use crate::walrus::{parse_url, Download, FetchError, ImageClient};

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

impl From<CacheError<FetchError>> for ImageError {
    fn from(error: CacheError<FetchError>) -> Self {
        match error {
            CacheError::Fill(e) => Self::Fetch(e),
            CacheError::BadName(name) => Self::BadId(name),
            CacheError::Io { path, source } => Self::Io {
                action: "image cache",
                path,
                source,
            },
            CacheError::Interrupted(name) => Self::Interrupted(name),
        }
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

/// The node's image cache.
#[derive(Debug)]
pub struct ImageCache {
    cache: DiskCache,
    client: ImageClient,
}

impl ImageCache {
    /// Opens the cache in `dir`, keeping complete entries and removing anything else (an
    /// interrupted download, a half-written entry), then trimming it to `limit_mb`. Blocking.
    pub fn open(dir: &Path, limit_mb: u64, client: ImageClient) -> Result<Arc<Self>, ImageError> {
        let cache = DiskCache::open(dir, limit_mb.saturating_mul(1 << 20)).map_err(|source| {
            ImageError::Io {
                action: "cannot open the image cache in",
                path: dir.to_owned(),
                source,
            }
        })?;
        Ok(Arc::new(Self { cache, client }))
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
        if !plain_name(&image.id) {
            return Err(ImageError::BadId(image.id.clone()));
        }
        let url = parse_url(&image.url)?;
        let (client, id) = (self.client.clone(), image.id.clone());
        let download = move |to: PathBuf| async move {
            tracing::info!(image = %id, url = %url, "downloading");
            client
                .fetch(&Download {
                    url: &url,
                    to: &to,
                    limit,
                })
                .await
                .map(drop)
        };
        let lease = self.cache.get_or_fill(&entry_name(image), download).await?;
        // A waiter may have a smaller limit than the download it shared.
        if lease.size() > limit {
            return Err(FetchError::TooLarge {
                url: image.url.clone(),
                limit,
            }
            .into());
        }
        let size = lease.size();
        let dest = dest.to_owned();
        tokio::task::spawn_blocking(move || place(&lease, &dest, placement))
            .await
            .map_err(|_| ImageError::Interrupted(image.url.clone()))??;
        Ok(size)
    }
}

/// The cache entry of an image: its id, and a digest of its URL.
fn entry_name(image: &ImageRef) -> String {
    let digest = openssl::sha::sha256(image.url.as_bytes());
    let url: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{url}", image.id)
}

/// Puts a leased image at `to`: an uncached one is moved there; a cached one is linked when
/// the guest only reads it, else copied.
fn place(lease: &Lease, to: &Path, placement: Placement) -> Result<(), ImageError> {
    let from = lease.path();
    let placed = if !lease.is_cached() {
        std::fs::rename(from, to)
    } else if placement == Placement::Shared && std::fs::hard_link(from, to).is_ok() {
        Ok(())
    } else {
        std::fs::copy(from, to).map(drop)
    };
    placed.map_err(|source| ImageError::Io {
        action: "cannot put an image at",
        path: to.to_owned(),
        source,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use soap::keys::KeyPair;

    fn cache(dir: &Path) -> Arc<ImageCache> {
        let keys = KeyPair::generate("node").unwrap();
        ImageCache::open(dir, 10, ImageClient::new(&keys).unwrap()).unwrap()
    }

    /// Guards against an image id naming a path outside the cache.
    #[tokio::test]
    async fn image_ids_must_be_plain_names() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
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

    #[test]
    fn one_id_from_two_urls_is_two_entries() {
        let image = |url: &str| ImageRef {
            id: "emi-1".into(),
            url: url.into(),
        };
        let a = entry_name(&image("http://w/a"));
        assert!(a.starts_with("emi-1-"), "{a}");
        assert_ne!(a, entry_name(&image("http://w/b")));
        assert_eq!(a, entry_name(&image("http://w/a")));
    }
}

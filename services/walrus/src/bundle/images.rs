//! GetDecryptedImage: a node asks for the image of a bundle by its manifest; Walrus checks
//! the manifest, decrypts the bundle with the cloud's key into its cache and serves it from
//! there.
//!
//! The cache ([`kit::cache::DiskCache`] in DATA/image-cache) holds one file per image, named
//! after its bucket, manifest key and manifest ETag, so a re-uploaded manifest is another
//! image.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kit::cache::{CacheError, DiskCache};
use openssl::pkey::{PKey, Private};
use tracing::info;

use super::bridge::{Bridge, BundleObjects, ObjectError};
use super::keys::{ImageKey, KeyError};
use super::manifest::{Manifest, ManifestError, Part};
use super::node_signature::{NodeAuthError, NodeTrust, SignedRequest};
use super::signers::{SignatureCheck, SignatureError, Signers};
use super::stream::CHUNK;
use super::unbundle::{unbundle, UnbundleError};

/// Largest manifest read (a real one is about 150 bytes a part).
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// How Walrus serves images to nodes.
#[derive(Debug, Clone)]
pub struct ImageSettings {
    /// Most bytes of decrypted images kept in DATA/image-cache (least recently used ones go).
    pub cache_bytes: u64,
    /// Whether a manifest must be signed by a user whose certificate is in KEYS/users.
    pub manifest_signatures: SignatureCheck,
    /// Most seconds a node's request date may differ from Walrus' clock.
    pub node_clock_skew_secs: i64,
    /// Accept the original C node controller's dates, local times without a zone, from any
    /// time zone (a window of about a day instead of the skew alone).
    pub node_dates_any_zone: bool,
}

impl Default for ImageSettings {
    /// The original's 30 GiB cache; strict checks.
    fn default() -> Self {
        Self {
            cache_bytes: 30 << 30,
            manifest_signatures: SignatureCheck::Required,
            node_clock_skew_secs: 15 * 60,
            node_dates_any_zone: false,
        }
    }
}

/// Why an image was not served.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("node request refused: {0}")]
    Node(#[from] NodeAuthError),
    #[error("manifest {key}: {source}")]
    Object { key: String, source: ObjectError },
    #[error("invalid manifest: {0}")]
    Manifest(#[from] ManifestError),
    #[error("manifest signature refused: {0}")]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the bundle does not yield its image: {0}")]
    Bundle(#[from] UnbundleError),
    #[error("the image cache failed: {0}")]
    Cache(String),
}

/// Why Walrus could not start serving images.
#[derive(Debug, thiserror::Error)]
pub enum ImagesStartError {
    #[error("the cloud key: {0}")]
    CloudKey(soap::keys::KeyError),
    #[error("the node certificate: {0}")]
    NodeCertificate(soap::keys::KeyError),
    #[error("the image cache in {path}: {source}")]
    Cache {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// A decrypted image, open at its start. Its file stays readable when the cache evicts it.
#[derive(Debug)]
pub struct CachedImage {
    pub file: File,
    pub size: u64,
}

/// The cache entry of the image of `bucket/manifest` at `etag`.
fn cache_name(bucket: &str, manifest: &str, etag: &str) -> String {
    let mut hasher = openssl::sha::Sha1::new();
    for field in [bucket, manifest, etag] {
        hasher.update(field.as_bytes());
        hasher.update(b"\0");
    }
    crate::digest::hex(&hasher.finish())
}

/// Everything GetDecryptedImage needs; cheap to share.
#[derive(Debug)]
pub struct Images {
    cache: DiskCache,
    cloud_key: Arc<PKey<Private>>,
    nodes: NodeTrust,
    signers: Signers,
}

impl Images {
    /// The cloud's key pair from `keys` (`cloud-pk.pem`), the trusted node certificate, the
    /// users' certificates in `keys/users`, and the cache in `data/image-cache`.
    pub fn open(
        settings: &ImageSettings,
        data: &Path,
        keys: &Path,
    ) -> Result<Self, ImagesStartError> {
        let cloud = soap::keys::KeyPair::load(keys, "cloud").map_err(ImagesStartError::CloudKey)?;
        let nodes = NodeTrust::load(
            keys,
            settings.node_clock_skew_secs,
            settings.node_dates_any_zone,
        )
        .map_err(ImagesStartError::NodeCertificate)?;
        let path = data.join("image-cache");
        let cache = DiskCache::open(&path, settings.cache_bytes)
            .map_err(|source| ImagesStartError::Cache { path, source })?;
        Ok(Self {
            cache,
            cloud_key: Arc::new(cloud.private_key),
            nodes,
            signers: Signers::in_keys(keys, settings.manifest_signatures),
        })
    }

    /// Checks a node's `EucaSignature` at time `now`.
    pub fn authorize(&self, request: &SignedRequest<'_>, now: i64) -> Result<(), ImageError> {
        Ok(self.nodes.verify(request, now)?)
    }

    /// The decrypted image of the bundle whose manifest is `bucket/manifest_key`.
    pub async fn get(
        &self,
        objects: Arc<dyn BundleObjects>,
        bucket: &str,
        manifest_key: &str,
    ) -> Result<CachedImage, ImageError> {
        let object_error = |key: &str| {
            let key = key.to_owned();
            move |source| ImageError::Object { key, source }
        };
        let (etag, text) = objects
            .read_small(bucket, manifest_key, MAX_MANIFEST_BYTES)
            .await
            .map_err(object_error(manifest_key))?;
        let manifest = Manifest::parse(&text)?;
        self.signers.check(&manifest).await?;

        let name = cache_name(bucket, manifest_key, &etag);
        let decryption = Decryption {
            manifest,
            cloud_key: self.cloud_key.clone(),
            bridge: Bridge {
                runtime: tokio::runtime::Handle::current(),
                objects,
            },
            bucket: bucket.to_owned(),
            directory: parts_directory(manifest_key).to_owned(),
        };
        // Decryption reads the parts through the bridge: it runs on a blocking thread.
        let fill = |path: PathBuf| async move {
            tokio::task::spawn_blocking(move || decryption.run(&path))
                .await
                .map_err(|e| ImageError::Cache(e.to_string()))?
        };
        let lease = self
            .cache
            .get_or_fill(&name, fill)
            .await
            .map_err(|e| match e {
                CacheError::Fill(e) => e,
                other => ImageError::Cache(other.to_string()),
            })?;
        // Once open, the file outlives its lease (and an eviction).
        tokio::task::spawn_blocking(move || {
            let file = File::open(lease.path())?;
            Ok(CachedImage {
                file,
                size: lease.size(),
            })
        })
        .await
        .map_err(|e| ImageError::Cache(e.to_string()))?
        .map_err(|e: std::io::Error| ImageError::Cache(e.to_string()))
    }
}

/// What decrypting one bundle takes.
struct Decryption {
    manifest: Manifest,
    cloud_key: Arc<PKey<Private>>,
    bridge: Bridge,
    bucket: String,
    /// Where the parts are: the manifest's directory.
    directory: String,
}

impl Decryption {
    /// Decrypts the image into a new file at `path`. Blocking.
    fn run(self, path: &Path) -> Result<(), ImageError> {
        let image = &self.manifest.image;
        let key = ImageKey::open(image, &self.cloud_key)?;
        let started = std::time::Instant::now();
        let file = File::create_new(path).map_err(UnbundleError::Output)?;
        let mut out = BufWriter::with_capacity(CHUNK, file);
        let part = |part: &Part| {
            let key = format!("{}{}", self.directory, part.filename);
            Ok(self.bridge.open(&self.bucket, &key))
        };
        let size = unbundle(image, &key, part, &mut out)?;
        out.flush().map_err(UnbundleError::Output)?;
        info!(bucket = %self.bucket, image = %image.name, size, elapsed = ?started.elapsed(), "image decrypted");
        Ok(())
    }
}

/// Parts are named relative to the manifest: `dir/x.manifest.xml` has its parts in `dir/`.
fn parts_directory(manifest_key: &str) -> &str {
    manifest_key.rfind('/').map_or("", |i| &manifest_key[..=i])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;
    use std::io::Read;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;
    use soap::keys::KeyPair;

    use super::super::bridge::ObjectChunks;
    use super::super::create::{create, BundleSpec};
    use super::*;
    use crate::storage::BoxFuture;

    /// Objects in memory, counting the parts opened.
    struct Memory {
        objects: HashMap<String, Vec<u8>>,
        opened: AtomicUsize,
    }

    struct Chunks(Vec<Bytes>);

    impl ObjectChunks for Chunks {
        fn next(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, ObjectError>> {
            Box::pin(async move { Ok((!self.0.is_empty()).then(|| self.0.remove(0))) })
        }
    }

    impl BundleObjects for Memory {
        fn read_small<'a>(
            &'a self,
            bucket: &'a str,
            key: &'a str,
            limit: usize,
        ) -> BoxFuture<'a, Result<(String, Vec<u8>), ObjectError>> {
            Box::pin(async move {
                let data = self
                    .objects
                    .get(&format!("{bucket}/{key}"))
                    .ok_or(ObjectError::NoSuchKey)?;
                if data.len() > limit {
                    return Err(ObjectError::TooLarge(limit));
                }
                Ok((format!("etag-{}", data.len()), data.clone()))
            })
        }

        fn open<'a>(
            &'a self,
            bucket: &'a str,
            key: &'a str,
        ) -> BoxFuture<'a, Result<Box<dyn ObjectChunks>, ObjectError>> {
            Box::pin(async move {
                self.opened.fetch_add(1, Ordering::SeqCst);
                let data = self
                    .objects
                    .get(&format!("{bucket}/{key}"))
                    .ok_or(ObjectError::NoSuchKey)?;
                // Small chunks, so that reads cross chunk boundaries.
                let chunks = data.chunks(1000).map(Bytes::copy_from_slice).collect();
                Ok(Box::new(Chunks(chunks)) as Box<dyn ObjectChunks>)
            })
        }
    }

    struct Setup {
        _dirs: (tempfile::TempDir, tempfile::TempDir),
        images: Images,
        objects: Arc<Memory>,
        original: Vec<u8>,
    }

    /// A cloud with keys, one user certificate in KEYS/users when `registered`, and a bundle
    /// uploaded as `bucket/dir/disk.img.manifest.xml` with its parts beside it.
    fn setup(registered: bool, check: SignatureCheck) -> Setup {
        let keys = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        soap::keys::init(keys.path()).unwrap();
        let cloud = KeyPair::load(keys.path(), "cloud").unwrap();
        let user = KeyPair::generate("user").unwrap();
        if registered {
            std::fs::create_dir(keys.path().join("users")).unwrap();
            std::fs::write(
                keys.path().join("users/alice.pem"),
                user.certificate.to_pem().unwrap(),
            )
            .unwrap();
        }
        let mut original = vec![0; 50_000];
        openssl::rand::rand_bytes(&mut original).unwrap();
        let image = data.path().join("disk.img");
        std::fs::write(&image, &original).unwrap();
        let out = data.path().join("bundle");
        let bundle = create(&BundleSpec {
            image: &image,
            destination: &out,
            prefix: None,
            part_size: 4096,
            user: "alice",
            architecture: "x86_64",
            kernel_id: None,
            ramdisk_id: None,
            user_certificate: &user.certificate,
            user_key: &user.private_key,
            cloud_certificate: &cloud.certificate,
        })
        .unwrap();
        let mut objects = HashMap::new();
        for path in bundle.parts.iter().chain([&bundle.manifest]) {
            let name = path.file_name().unwrap().to_str().unwrap();
            objects.insert(format!("bucket/dir/{name}"), std::fs::read(path).unwrap());
        }
        let settings = ImageSettings {
            cache_bytes: 1 << 20,
            manifest_signatures: check,
            ..ImageSettings::default()
        };
        Setup {
            images: Images::open(&settings, data.path(), keys.path()).unwrap(),
            objects: Arc::new(Memory {
                objects,
                opened: AtomicUsize::new(0),
            }),
            original,
            _dirs: (keys, data),
        }
    }

    impl Setup {
        async fn get(&self) -> Result<Vec<u8>, ImageError> {
            let objects: Arc<dyn BundleObjects> = self.objects.clone();
            let mut image = self
                .images
                .get(objects, "bucket", "dir/disk.img.manifest.xml")
                .await?;
            let mut bytes = Vec::new();
            image.file.read_to_end(&mut bytes).unwrap();
            Ok(bytes)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_image_is_decrypted_once_and_then_served_from_the_cache() {
        let setup = setup(true, SignatureCheck::Required);
        assert_eq!(setup.get().await.unwrap(), setup.original);
        let parts = setup.objects.opened.load(Ordering::SeqCst);
        assert!(
            parts > 1,
            "the parts are read from the manifest's directory"
        );
        assert_eq!(setup.get().await.unwrap(), setup.original);
        assert_eq!(
            setup.objects.opened.load(Ordering::SeqCst),
            parts,
            "served from the cache"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_manifest_of_an_unknown_signer_is_refused_unless_checks_are_off() {
        let setup = setup(false, SignatureCheck::Required);
        assert!(matches!(
            setup.get().await,
            Err(ImageError::Signature(SignatureError::Unverified))
        ));
        assert_eq!(
            setup.objects.opened.load(Ordering::SeqCst),
            0,
            "nothing decrypted"
        );
        let setup = self::setup(false, SignatureCheck::Skip);
        assert_eq!(setup.get().await.unwrap(), setup.original);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_manifest_or_part_is_reported() {
        let mut setup = setup(true, SignatureCheck::Required);
        let objects = Arc::get_mut(&mut setup.objects).unwrap();
        objects
            .objects
            .remove("bucket/dir/disk.img.part.03")
            .unwrap();
        match setup.get().await {
            Err(ImageError::Bundle(UnbundleError::PartRead { filename, .. })) => {
                assert_eq!(filename, "disk.img.part.03")
            }
            other => panic!("{other:?}"),
        }
        let objects: Arc<dyn BundleObjects> = setup.objects.clone();
        let missing = setup
            .images
            .get(objects, "bucket", "nothing.manifest.xml")
            .await;
        assert!(matches!(
            missing,
            Err(ImageError::Object {
                source: ObjectError::NoSuchKey,
                ..
            })
        ));
    }
}

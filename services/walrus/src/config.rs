//! Settings of Walrus: an optional file of `key=value` lines (keys named as the original's
//! `walrus_info` columns where it had them), overridden by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::Uri;
use settings::{Settings, SettingsError};

use crate::storage::RemoteConfig;

/// The path Walrus is served at (besides the root).
pub const SERVICE_PATH: &str = "/services/Walrus";
/// Port when neither `--listen` nor the file says otherwise (the original's).
pub const DEFAULT_PORT: u16 = 8773;
const MB: u64 = 1 << 20;

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("no {what} given: pass {flag}")]
    Missing {
        what: &'static str,
        flag: &'static str,
    },
}

/// Where blobs are kept.
#[derive(Debug, Clone)]
pub enum BackendConfig {
    /// Files under `DATA/blobs`.
    Local,
    /// Another S3-compatible store.
    Remote(RemoteConfig),
}

/// Everything Walrus is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Users, metadata, blobs (local backend) and staging.
    pub data: PathBuf,
    /// The cloud's keys (for image bundles): `cloud-pk.pem`, node certificates.
    pub keys: PathBuf,
    /// Host names `<bucket>.<domain>` address buckets (virtual-host style); none: off.
    pub domain: Option<String>,
    /// `storage_max_buckets_per_user` (the original's; default 5, 0 = unlimited).
    pub max_buckets_per_user: Option<u64>,
    /// `storage_max_bucket_size_mb` (the original's; default 5120, 0 = unlimited), in bytes.
    pub max_bucket_bytes: Option<u64>,
    /// `storage_max_total_size_mb` (ours; default 0 = unlimited), in bytes.
    pub max_total_bytes: Option<u64>,
    /// `storage_cache_size_mb` (the original's: room for decrypted images; default 30720),
    /// in bytes.
    pub image_cache_bytes: u64,
    /// `storage_snapshot_size_gb` (the original's; default 50, 0 = unlimited): room for the
    /// storage controller's snapshots, in bytes.
    pub max_snapshot_bytes: Option<u64>,
    /// Largest object a single PUT (or one part) may carry: 5 GiB, as S3.
    pub max_object_bytes: u64,
    /// Slowest a request body may arrive (`upload_min_rate_bytes`, default 1024 bytes a
    /// second, 0 = no floor; `upload_rate_window_secs`, default 20); slower is cut off with
    /// `RequestTimeout`, as S3 does, so a trickle cannot hold a connection forever.
    pub upload_min_rate: Option<MinRate>,
    pub backend: BackendConfig,
}

/// A minimum transfer rate: at least `bytes_per_sec` on average over every `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinRate {
    pub bytes_per_sec: u64,
    pub window: Duration,
}

/// What the command line sets; `None` leaves the file's value or the default.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data: Option<PathBuf>,
    pub keys: Option<PathBuf>,
    pub domain: Option<String>,
    pub backend: Option<String>,
    pub remote_endpoint: Option<String>,
    pub remote_access_key: Option<String>,
    pub remote_secret_key: Option<String>,
    pub remote_region: Option<String>,
    pub remote_bucket_prefix: Option<String>,
}

impl Config {
    /// Reads `file` (if any) and applies `overrides`.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let settings = Settings::load(file)?;
        let get = |key: &str| settings.text(key);
        let listen = settings.listen(overrides.listen, "walrus_port", DEFAULT_PORT)?;
        let data = overrides
            .data
            .clone()
            .or_else(|| get("storage_dir").map(PathBuf::from))
            .ok_or(ConfigError::Missing {
                what: "data directory",
                flag: "--data DIR (or storage_dir in the file)",
            })?;
        let keys = overrides
            .keys
            .clone()
            .or_else(|| get("keys_dir").map(PathBuf::from))
            .unwrap_or_else(|| {
                let root = std::env::var_os("EUCALYPTUS")
                    .map_or_else(|| PathBuf::from("/"), PathBuf::from);
                root.join("var/lib/eucalyptus/keys")
            });
        let domain = overrides
            .domain
            .clone()
            .or_else(|| get("domain"))
            .map(|d| d.trim_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty());
        let limit = |key: &'static str, default: u64| -> Result<Option<u64>, ConfigError> {
            let value = number(get(key), key)?.unwrap_or(default);
            Ok((value > 0).then_some(value))
        };
        let megabytes = |key: &'static str, default: u64| -> Result<Option<u64>, ConfigError> {
            limit(key, default)?
                .map(|mb| mb.checked_mul(MB).ok_or_else(|| invalid(key, "too large")))
                .transpose()
        };
        let backend = match overrides
            .backend
            .clone()
            .or_else(|| get("backend"))
            .as_deref()
        {
            None | Some("local") => BackendConfig::Local,
            Some("s3") => BackendConfig::Remote(remote(&overrides, &get)?),
            Some(other) => return Err(invalid("backend", &format!("{other:?}: use local or s3"))),
        };
        Ok(Self {
            listen,
            data,
            keys,
            domain,
            max_buckets_per_user: limit("storage_max_buckets_per_user", 5)?,
            max_bucket_bytes: megabytes("storage_max_bucket_size_mb", 5120)?,
            max_total_bytes: megabytes("storage_max_total_size_mb", 0)?,
            image_cache_bytes: megabytes("storage_cache_size_mb", 30720)?.unwrap_or(0),
            max_snapshot_bytes: limit("storage_snapshot_size_gb", 50)?
                .map(|gb| {
                    gb.checked_mul(1 << 30)
                        .ok_or_else(|| invalid("storage_snapshot_size_gb", "too large"))
                })
                .transpose()?,
            max_object_bytes: 5 << 30,
            upload_min_rate: limit("upload_min_rate_bytes", 1024)?
                .zip(limit("upload_rate_window_secs", 20)?)
                .map(|(bytes_per_sec, secs)| MinRate {
                    bytes_per_sec,
                    window: Duration::from_secs(secs),
                }),
            backend,
        })
    }
}

fn remote(
    overrides: &Overrides,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<RemoteConfig, ConfigError> {
    let pick = |flag: &Option<String>, key: &str| flag.clone().or_else(|| get(key));
    let required = |value: Option<String>, what: &'static str, flag: &'static str| {
        value.ok_or(ConfigError::Missing { what, flag })
    };
    let endpoint = required(
        pick(&overrides.remote_endpoint, "remote_endpoint"),
        "remote store endpoint",
        "--remote-endpoint URL",
    )?;
    let endpoint: Uri = endpoint
        .parse()
        .map_err(|e| invalid("remote_endpoint", &format!("{endpoint:?}: {e}")))?;
    Ok(RemoteConfig {
        endpoint,
        access_key: required(
            pick(&overrides.remote_access_key, "remote_access_key"),
            "remote store access key",
            "--remote-access-key KEY",
        )?,
        secret_key: required(
            pick(&overrides.remote_secret_key, "remote_secret_key"),
            "remote store secret key",
            "--remote-secret-key KEY",
        )?,
        region: pick(&overrides.remote_region, "remote_region")
            .unwrap_or_else(|| "us-east-1".to_owned()),
        bucket_prefix: pick(&overrides.remote_bucket_prefix, "remote_bucket_prefix")
            .unwrap_or_default(),
    })
}

fn invalid(key: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.to_owned(),
    }
}

fn number(value: Option<String>, key: &'static str) -> Result<Option<u64>, ConfigError> {
    value
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| invalid(key, &format!("{v:?} is not a number")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn with_data() -> Overrides {
        Overrides {
            data: Some("/d".into()),
            ..Overrides::default()
        }
    }

    #[test]
    fn defaults_are_the_originals() {
        let config = Config::load(None, with_data()).unwrap();
        assert_eq!(config.listen.port(), DEFAULT_PORT);
        assert_eq!(config.max_buckets_per_user, Some(5));
        assert_eq!(config.max_bucket_bytes, Some(5120 * MB));
        assert_eq!(config.max_snapshot_bytes, Some(50 << 30));
        assert_eq!(config.max_total_bytes, None);
        assert!(matches!(config.backend, BackendConfig::Local));
        assert!(config.domain.is_none());
        assert_eq!(
            config.upload_min_rate,
            Some(MinRate {
                bytes_per_sec: 1024,
                window: Duration::from_secs(20),
            })
        );
    }

    #[test]
    fn the_file_is_read_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("walrus.conf");
        std::fs::write(
            &file,
            "# quotas\nstorage_max_bucket_size_mb = 1\nSTORAGE_MAX_TOTAL_SIZE_MB=\"3\"\n\
             storage_max_buckets_per_user=0\nstorage_dir=/from-file\ndomain=Walrus.Example.\n\
             backend=s3\nremote_endpoint=http://127.0.0.1:9000\nremote_access_key=a\nremote_secret_key=s\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            Overrides {
                data: Some("/from-flag".into()),
                remote_bucket_prefix: Some("w-".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(config.data, PathBuf::from("/from-flag"));
        assert_eq!(config.max_bucket_bytes, Some(MB));
        assert_eq!(config.max_total_bytes, Some(3 * MB));
        assert_eq!(config.max_buckets_per_user, None);
        assert_eq!(config.domain.as_deref(), Some("walrus.example"));
        let BackendConfig::Remote(remote) = config.backend else {
            panic!("expected the remote backend");
        };
        assert_eq!(
            (remote.bucket_prefix.as_str(), remote.region.as_str()),
            ("w-", "us-east-1")
        );
    }

    #[test]
    fn bad_settings_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.conf");
        std::fs::write(&file, "storage_max_bucket_size_mb=lots\n").unwrap();
        assert!(matches!(
            Config::load(Some(&file), with_data()),
            Err(ConfigError::Invalid { .. })
        ));
        std::fs::write(&file, "no equals sign\n").unwrap();
        assert!(matches!(
            Config::load(Some(&file), with_data()),
            Err(ConfigError::Settings(SettingsError::Syntax { .. }))
        ));
        assert!(matches!(
            Config::load(None, Overrides::default()),
            Err(ConfigError::Missing { .. })
        ));
        let remote = Overrides {
            backend: Some("s3".into()),
            ..with_data()
        };
        assert!(matches!(
            Config::load(None, remote),
            Err(ConfigError::Missing { .. })
        ));
    }
}

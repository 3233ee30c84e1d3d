//! Settings of a node controller: read from an eucalyptus.conf-style file (`KEY="value"`
//! lines, keys named as the original's where it had one), then overridden by command-line
//! flags.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use kit::security::{Compat, CompatArgs};
use settings::{Settings, SettingsError};

use crate::resources::{Capacity, Limits};

/// The NC's port when neither `--listen` nor `NC_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 8775;
/// The path the service is mounted at (`NC_SERVICE` in the original).
pub const SERVICE_PATH: &str = "/axis2/services/EucalyptusNC";
/// Image cache size in MB when `NC_CACHE_SIZE` is not set (the original's default).
const DEFAULT_CACHE_MB: u64 = 99_999;
/// Swap per instance in MB when `SWAP_SIZE` is not set (the original's default).
const DEFAULT_SWAP_MB: u64 = 512;
/// How long a terminated instance stays reported in Teardown (the original's
/// `teardown_state_duration`).
const DEFAULT_TEARDOWN_SECS: u64 = 60;
/// Seconds between two samples of the instances' counters when neither `--sample-interval`
/// nor `SAMPLE_INTERVAL` says otherwise.
const DEFAULT_SAMPLE_SECS: f64 = 20.0;
/// The longest sample interval accepted: an hour.
const MAX_SAMPLE_SECS: f64 = 3600.0;

/// The sample interval of `seconds` (the default when `None`), refused outside (0, 1 h].
fn sample_interval(seconds: Option<f64>) -> Result<Duration, ConfigError> {
    let seconds = seconds.unwrap_or(DEFAULT_SAMPLE_SECS);
    if seconds > 0.0 && seconds <= MAX_SAMPLE_SECS {
        Ok(Duration::from_secs_f64(seconds))
    } else {
        Err(ConfigError::Invalid {
            key: "SAMPLE_INTERVAL",
            reason: format!(
                "{seconds} is not a number of seconds above 0 and at most {MAX_SAMPLE_SECS}"
            ),
        })
    }
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("no {what} given: set {key} in the configuration file or pass {flag}")]
    Missing {
        what: &'static str,
        key: &'static str,
        flag: &'static str,
    },
}

/// Which virtualization the node drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HypervisorKind {
    /// libvirt's built-in `test:///default` driver: no daemon, no real guests; for
    /// development and CI.
    Test,
    /// QEMU/KVM through libvirt (`qemu:///system`), with KVM or software emulation.
    Kvm,
    /// Xen through libvirt (`xen:///`).
    Xen,
}

impl HypervisorKind {
    /// The libvirt URI used when `LIBVIRT_URI` does not name another.
    pub fn default_uri(self) -> &'static str {
        match self {
            Self::Test => "test:///default",
            Self::Kvm => "qemu:///system",
            Self::Xen => "xen:///",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Test => "test",
            Self::Kvm => "kvm",
            Self::Xen => "xen",
        }
    }
}

impl fmt::Display for HypervisorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HypervisorKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "test" => Ok(Self::Test),
            "kvm" => Ok(Self::Kvm),
            "xen" => Ok(Self::Xen),
            other => Err(format!(
                "unknown hypervisor {other:?}: use test, kvm or xen"
            )),
        }
    }
}

/// How instances are networked (`VNET_MODE`); the NC needs it only to pick the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VnetMode {
    System,
    Static,
    /// One bridge per VLAN, `eucabr<vlan>`, as the original's MANAGED mode sets them up.
    Managed,
    ManagedNoVlan,
}

impl FromStr for VnetMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "SYSTEM" => Ok(Self::System),
            "STATIC" => Ok(Self::Static),
            "MANAGED" => Ok(Self::Managed),
            "MANAGED-NOVLAN" => Ok(Self::ManagedNoVlan),
            other => Err(format!(
                "unknown mode {other:?}: use SYSTEM, STATIC, MANAGED or MANAGED-NOVLAN"
            )),
        }
    }
}

/// Everything a node controller is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub hypervisor: HypervisorKind,
    /// `LIBVIRT_URI`: the connection to open, such as `qemu:///embed?root=DIR`.
    pub libvirt_uri: String,
    /// `LIBVIRT_DOMAIN_TYPE` for kvm: `kvm`, or `qemu` for software emulation. By default
    /// `kvm` when `/dev/kvm` exists.
    pub domain_type: String,
    /// Holds `node-cert.pem`, `node-pk.pem` and the trusted `cluster-cert.pem`.
    pub keys: PathBuf,
    /// `WSSEC_COMPAT`: which request shapes are accepted besides our own.
    pub compat: Compat,
    /// `INSTANCE_PATH`: instance records, work directories and the image cache.
    pub data: PathBuf,
    /// `MAX_MEM`, `MAX_CORES` and `MAX_DISK`: bound what the host offers instances.
    pub limits: Limits,
    /// `--capacity`: what the test driver offers instead of the host's resources, its
    /// instances then being records and a few small files (for benchmarks).
    pub capacity: Option<Capacity>,
    /// `NC_CACHE_SIZE`, in MB; 0 disables the image cache.
    pub cache_size_mb: u64,
    /// `SWAP_SIZE`, in MB, carved out of each instance's disk when it fits.
    pub swap_size_mb: u64,
    pub vnet_mode: VnetMode,
    /// `VNET_BRIDGE`: the bridge instances are plugged into outside MANAGED mode. Unset or
    /// empty gives instances QEMU user-mode networking instead (a host with no bridge).
    pub bridge: Option<String>,
    /// `MANUAL_INSTANCES_CLEANUP=1` keeps the files of terminated and failed instances.
    pub keep_instance_files: bool,
    /// `TEARDOWN_STATE_DURATION`, in seconds.
    pub teardown_retention: Duration,
    /// `--sample-interval` or `SAMPLE_INTERVAL`: time between two samples of each running
    /// instance's counters.
    pub sample_interval: Duration,
}

/// Values given on the command line; each replaces the file's setting.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub hypervisor: Option<HypervisorKind>,
    pub keys: Option<PathBuf>,
    pub data: Option<PathBuf>,
    pub libvirt_uri: Option<String>,
    pub domain_type: Option<String>,
    pub capacity: Option<Capacity>,
    /// In seconds.
    pub sample_interval: Option<f64>,
    pub compat: CompatArgs,
}

impl Config {
    /// Reads `file` (when given) and applies `overrides`.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        Self::from_settings(&Settings::load(file)?, overrides)
    }

    fn from_settings(settings: &Settings, overrides: Overrides) -> Result<Self, ConfigError> {
        let listen = settings.listen(overrides.listen, "NC_PORT", DEFAULT_PORT)?;
        let hypervisor = match overrides.hypervisor {
            Some(kind) => kind,
            None => settings.parsed("HYPERVISOR")?.ok_or(ConfigError::Missing {
                what: "hypervisor",
                key: "HYPERVISOR",
                flag: "--hypervisor",
            })?,
        };
        let libvirt_uri = overrides
            .libvirt_uri
            .or_else(|| settings.text("LIBVIRT_URI"))
            .unwrap_or_else(|| hypervisor.default_uri().to_owned());
        let domain_type = match overrides
            .domain_type
            .or_else(|| settings.text("LIBVIRT_DOMAIN_TYPE"))
        {
            Some(t) if t == "kvm" || t == "qemu" => t,
            Some(t) => {
                return Err(ConfigError::Invalid {
                    key: "LIBVIRT_DOMAIN_TYPE",
                    reason: format!("{t:?} is neither kvm nor qemu"),
                })
            }
            None if Path::new("/dev/kvm").exists() => "kvm".to_owned(),
            None => "qemu".to_owned(),
        };
        if overrides.capacity.is_some() && hypervisor != HypervisorKind::Test {
            return Err(ConfigError::Invalid {
                key: "--capacity",
                reason: format!(
                    "only the test driver's instances can run on declared capacity; \
                     {hypervisor} guests need the host's"
                ),
            });
        }
        let home = settings.text("EUCALYPTUS").map(PathBuf::from);
        let keys = overrides
            .keys
            .or_else(|| home.as_ref().map(|h| h.join("var/lib/eucalyptus/keys")))
            .ok_or(ConfigError::Missing {
                what: "key directory",
                key: "EUCALYPTUS",
                flag: "--keys",
            })?;
        let data = overrides
            .data
            .or_else(|| settings.text("INSTANCE_PATH").map(PathBuf::from))
            .ok_or(ConfigError::Missing {
                what: "data directory",
                key: "INSTANCE_PATH",
                flag: "--data",
            })?;
        // qemu-img, mkfs and libvirt work in other directories than ours: a relative path
        // would name another place for them.
        let data = std::path::absolute(&data).map_err(|e| ConfigError::Invalid {
            key: "INSTANCE_PATH",
            reason: format!("cannot resolve {}: {e}", data.display()),
        })?;
        Ok(Self {
            listen,
            hypervisor,
            libvirt_uri,
            domain_type,
            keys,
            compat: overrides.compat.resolve(settings)?,
            data,
            limits: Limits {
                max_mem_mb: settings.parsed("MAX_MEM")?,
                max_cores: settings.parsed("MAX_CORES")?,
                max_disk_gb: settings.parsed("MAX_DISK")?,
            },
            capacity: overrides.capacity,
            cache_size_mb: settings
                .parsed("NC_CACHE_SIZE")?
                .unwrap_or(DEFAULT_CACHE_MB),
            swap_size_mb: settings.parsed("SWAP_SIZE")?.unwrap_or(DEFAULT_SWAP_MB),
            vnet_mode: settings.parsed("VNET_MODE")?.unwrap_or(VnetMode::System),
            bridge: settings.text("VNET_BRIDGE").filter(|b| !b.is_empty()),
            keep_instance_files: settings
                .parsed::<u8>("MANUAL_INSTANCES_CLEANUP")?
                .is_some_and(|v| v != 0),
            teardown_retention: Duration::from_secs(
                settings
                    .parsed("TEARDOWN_STATE_DURATION")?
                    .unwrap_or(DEFAULT_TEARDOWN_SECS),
            ),
            sample_interval: sample_interval(
                overrides
                    .sample_interval
                    .map_or_else(|| settings.parsed("SAMPLE_INTERVAL"), |s| Ok(Some(s)))?,
            )?,
        })
    }

    /// The bridge an instance on `vlan` is plugged into, `None` for user-mode networking.
    pub fn bridge_for(&self, vlan: i32) -> Option<String> {
        match self.vnet_mode {
            VnetMode::Managed => Some(format!("eucabr{vlan}")),
            _ => self.bridge.clone(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        Settings::parse(text, Path::new("eucalyptus.conf")).unwrap()
    }

    #[test]
    fn reads_the_original_file_shape() {
        let s = settings(
            "# comment\n\nNC_PORT=\"8776\"\nHYPERVISOR='kvm'\nINSTANCE_PATH=/var/lib/instances\n\
             MAX_MEM=2048\nVNET_MODE=\"MANAGED\"\nEUCALYPTUS=\"/opt/euca\"\n",
        );
        let config = Config::from_settings(&s, Overrides::default()).unwrap();
        assert_eq!(config.listen, "0.0.0.0:8776".parse().unwrap());
        assert_eq!(config.hypervisor, HypervisorKind::Kvm);
        assert_eq!(config.libvirt_uri, "qemu:///system");
        assert_eq!(config.data, Path::new("/var/lib/instances"));
        assert_eq!(config.keys, Path::new("/opt/euca/var/lib/eucalyptus/keys"));
        assert_eq!(config.limits.max_mem_mb, Some(2048));
        assert_eq!(config.cache_size_mb, DEFAULT_CACHE_MB);
        assert_eq!(config.bridge_for(10).as_deref(), Some("eucabr10"));
        assert_eq!(config.compat, Compat::Strict);
        let original =
            settings("HYPERVISOR=test\nINSTANCE_PATH=/d\nEUCALYPTUS=/e\nWSSEC_COMPAT=original\n");
        let config = Config::from_settings(&original, Overrides::default()).unwrap();
        assert_eq!(config.compat, Compat::Original);
    }

    #[test]
    fn flags_override_the_file() {
        let s = settings(
            "HYPERVISOR=kvm\nINSTANCE_PATH=/a\nEUCALYPTUS=/e\nNC_PORT=1\nWSSEC_COMPAT=original\n",
        );
        let overrides = Overrides {
            listen: Some("127.0.0.1:9".parse().unwrap()),
            hypervisor: Some(HypervisorKind::Test),
            keys: Some("/k".into()),
            data: Some("/d".into()),
            libvirt_uri: None,
            domain_type: Some("qemu".into()),
            capacity: None,
            sample_interval: Some(0.5),
            compat: CompatArgs {
                compat: Some(Compat::Strict),
            },
        };
        let config = Config::from_settings(&s, overrides).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9".parse().unwrap());
        assert_eq!(config.hypervisor, HypervisorKind::Test);
        assert_eq!(config.libvirt_uri, "test:///default");
        assert_eq!(config.domain_type, "qemu");
        assert_eq!(config.keys, Path::new("/k"));
        assert_eq!(config.data, Path::new("/d"));
        assert_eq!(config.compat, Compat::Strict);
        assert_eq!(config.sample_interval, Duration::from_millis(500));
    }

    /// Guards against a relative --data reaching qemu-img, which resolves it from the
    /// instance's directory and so cannot find the backing image.
    #[test]
    fn a_relative_data_directory_is_made_absolute() {
        let overrides = Overrides {
            hypervisor: Some(HypervisorKind::Test),
            keys: Some("k".into()),
            data: Some("data".into()),
            ..Overrides::default()
        };
        let config = Config::from_settings(&Settings::default(), overrides).unwrap();
        assert_eq!(config.data, std::env::current_dir().unwrap().join("data"));
    }

    #[test]
    fn bad_values_name_their_key() {
        let s = settings("HYPERVISOR=vmware\n");
        let err = Config::from_settings(&s, Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("HYPERVISOR"), "{err}");
        let s = settings("HYPERVISOR=test\nINSTANCE_PATH=/d\nEUCALYPTUS=/e\nMAX_MEM=lots\n");
        let err = Config::from_settings(&s, Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("MAX_MEM"), "{err}");
        let s = settings("HYPERVISOR=test\nINSTANCE_PATH=/d\nEUCALYPTUS=/e\nSAMPLE_INTERVAL=0\n");
        let err = Config::from_settings(&s, Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("SAMPLE_INTERVAL"), "{err}");
    }

    #[test]
    fn only_the_test_driver_runs_on_declared_capacity() {
        let declared = |hypervisor| Overrides {
            hypervisor: Some(hypervisor),
            keys: Some("/k".into()),
            data: Some("/d".into()),
            capacity: Some("cores=8,memory=1024,disk=16".parse().unwrap()),
            ..Overrides::default()
        };
        let config =
            Config::from_settings(&Settings::default(), declared(HypervisorKind::Test)).unwrap();
        assert_eq!(config.capacity.map(|c| c.cores), Some(8));
        let err =
            Config::from_settings(&Settings::default(), declared(HypervisorKind::Kvm)).unwrap_err();
        assert!(err.to_string().contains("--capacity"), "{err}");
    }

    #[test]
    fn missing_settings_say_how_to_give_them() {
        let err = Config::from_settings(&Settings::default(), Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("--hypervisor"), "{err}");
    }

    #[test]
    fn malformed_lines_are_refused() {
        let err = Settings::parse("HYPERVISOR kvm\n", Path::new("f")).unwrap_err();
        assert!(
            matches!(err, SettingsError::Syntax { line: 1, .. }),
            "{err}"
        );
    }
}

//! Settings of a cluster controller: read from an eucalyptus.conf-style file (`KEY="value"`
//! lines, keys named as the original's), then overridden by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kit::security::{Compat, CompatArgs};
use settings::{Settings, SettingsError};

use crate::scheduler::Policy;
use vnet::{VnetConfig, VnetError};

/// The CC's port when neither `--listen` nor `CC_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 8774;
/// The path the service is mounted at.
pub const SERVICE_PATH: &str = "/axis2/services/EucalyptusCC";
/// The nodes' port when a node is named without one and `NC_PORT` is not set.
const DEFAULT_NC_PORT: u16 = 8775;
/// `NC_SERVICE` when not set.
const DEFAULT_NC_SERVICE: &str = "axis2/services/EucalyptusNC";
/// `POWER_IDLETHRESH` and `POWER_WAKETHRESH` when not set, in seconds (the original's).
const DEFAULT_POWER_SECS: u64 = 300;

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error(transparent)]
    Network(#[from] VnetError),
    #[error("no {what} given: set {key} in the configuration file or pass {flag}")]
    Missing {
        what: &'static str,
        key: &'static str,
        flag: &'static str,
    },
}

/// Everything a cluster controller is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Holds `cluster-cert.pem`, `cluster-pk.pem` and the trusted `cloud-cert.pem` and
    /// `node-cert.pem`.
    pub keys: PathBuf,
    /// The instance cache and the replay journal.
    pub data: PathBuf,
    /// The nodes' service URLs, in configured order (the order GREEDY tries them in).
    pub nodes: Vec<String>,
    /// How a node named `HOST` or `HOST:PORT` is reached (`NC_PORT`, `NC_SERVICE`).
    pub node_service: NodeService,
    pub policy: Policy,
    /// `POWER_IDLETHRESH`: how long a node runs no instance before POWERSAVE powers it down.
    pub idle_threshold: Duration,
    /// `POWER_WAKETHRESH`: how long a node that was woken may stay silent before it is down.
    pub wake_threshold: Duration,
    /// `WSSEC_COMPAT`: which request shapes are accepted besides our own.
    pub compat: Compat,
    /// `VNET_*`: the VM network.
    pub network: VnetConfig,
}

/// Values given on the command line; each replaces the file's setting.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub keys: Option<PathBuf>,
    pub data: Option<PathBuf>,
    /// `HOST:PORT HOST:PORT ...`, as `NODES`.
    pub nodes: Option<String>,
    pub policy: Option<Policy>,
    pub compat: CompatArgs,
}

impl Config {
    /// Reads `file` (when given) and applies `overrides`.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        Self::from_settings(&Settings::load(file)?, overrides)
    }

    fn from_settings(settings: &Settings, overrides: Overrides) -> Result<Self, ConfigError> {
        let listen = settings.listen(overrides.listen, "CC_PORT", DEFAULT_PORT)?;
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
            .or_else(|| home.as_ref().map(|h| h.join("var/lib/eucalyptus/CC")))
            .ok_or(ConfigError::Missing {
                what: "data directory",
                key: "EUCALYPTUS",
                flag: "--data",
            })?;
        let node_service = NodeService {
            port: settings.parsed("NC_PORT")?.unwrap_or(DEFAULT_NC_PORT),
            path: settings
                .text("NC_SERVICE")
                .unwrap_or_else(|| DEFAULT_NC_SERVICE.to_owned())
                .trim_start_matches('/')
                .to_owned(),
        };
        let hosts = overrides
            .nodes
            .or_else(|| settings.text("NODES"))
            .unwrap_or_default();
        let nodes = node_service.urls(&hosts)?;
        let policy = match overrides.policy {
            Some(policy) => policy,
            None => settings.parsed("SCHEDPOLICY")?.unwrap_or_default(),
        };
        Ok(Self {
            listen,
            keys,
            data,
            nodes,
            node_service,
            policy,
            idle_threshold: seconds(settings, "POWER_IDLETHRESH")?,
            wake_threshold: seconds(settings, "POWER_WAKETHRESH")?,
            compat: overrides.compat.resolve(settings)?,
            network: VnetConfig::from_settings(settings)?,
        })
    }
}

impl Config {
    /// `HOST:PORT` of each node, from its service URL (as [`NodeService::url`] wrote it).
    pub fn node_addresses(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter_map(|url| url.strip_prefix("http://")?.split('/').next())
            .collect()
    }
}

/// Where the nodes serve: `NC_PORT` (for a node named without a port) and `NC_SERVICE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeService {
    pub port: u16,
    /// The service's path, without its leading `/`.
    pub path: String,
}

impl NodeService {
    /// The service URL of the node `host` (`HOST` or `HOST:PORT`), as the original built
    /// them: `http://HOST:PORT/NC_SERVICE`.
    pub fn url(&self, host: &str) -> Result<String, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            key: "NODES",
            reason,
        };
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| invalid(format!("{host:?}: the port is not a number")))?;
                (name, port)
            }
            None => (host, self.port),
        };
        if name.is_empty()
            || name.contains(['/', '@', '?', '#'])
            || name.contains(char::is_whitespace)
        {
            return Err(invalid(format!("{host:?} is not HOST or HOST:PORT")));
        }
        Ok(format!("http://{name}:{port}/{}", self.path))
    }

    /// The service URL of each node in `hosts` (`HOST` or `HOST:PORT`, separated by blanks).
    fn urls(&self, hosts: &str) -> Result<Vec<String>, ConfigError> {
        let mut urls: Vec<String> = Vec::new();
        for host in hosts.split_whitespace() {
            let url = self.url(host)?;
            if urls.contains(&url) {
                return Err(ConfigError::Invalid {
                    key: "NODES",
                    reason: format!("{host:?} is listed twice"),
                });
            }
            urls.push(url);
        }
        Ok(urls)
    }
}

fn seconds(settings: &Settings, key: &'static str) -> Result<Duration, ConfigError> {
    match settings.parsed::<u64>(key)? {
        Some(0) => Err(ConfigError::Invalid {
            key,
            reason: "must be at least one second".to_owned(),
        }),
        value => Ok(Duration::from_secs(value.unwrap_or(DEFAULT_POWER_SECS))),
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
            "CC_PORT=\"8780\"\nEUCALYPTUS=\"/opt/euca\"\nNODES=\"n1 n2:9000\"\nNC_PORT=8776\n\
             SCHEDPOLICY=GREEDY\nPOWER_IDLETHRESH=600\nVNET_MODE=SYSTEM\n",
        );
        let config = Config::from_settings(&s, Overrides::default()).unwrap();
        assert_eq!(config.node_addresses(), ["n1:8776", "n2:9000"]);
        assert_eq!(config.listen, "0.0.0.0:8780".parse().unwrap());
        assert_eq!(config.keys, Path::new("/opt/euca/var/lib/eucalyptus/keys"));
        assert_eq!(
            config.nodes,
            [
                "http://n1:8776/axis2/services/EucalyptusNC",
                "http://n2:9000/axis2/services/EucalyptusNC"
            ]
        );
        assert_eq!(config.policy, Policy::Greedy);
        assert_eq!(config.idle_threshold, Duration::from_secs(600));
        assert_eq!(config.wake_threshold, Duration::from_secs(300));
        assert_eq!(config.compat, Compat::Strict);
    }

    #[test]
    fn flags_override_the_file() {
        let s = settings("NODES=a\nSCHEDPOLICY=GREEDY\nNC_SERVICE=/x/NC\n");
        let overrides = Overrides {
            listen: Some("127.0.0.1:9".parse().unwrap()),
            keys: Some("/k".into()),
            data: Some("/d".into()),
            nodes: Some("127.0.0.1:1 127.0.0.1:2".into()),
            policy: Some(Policy::PowerSave),
            compat: CompatArgs::default(),
        };
        let config = Config::from_settings(&s, overrides).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9".parse().unwrap());
        assert_eq!(
            config.nodes,
            ["http://127.0.0.1:1/x/NC", "http://127.0.0.1:2/x/NC"]
        );
        assert_eq!(config.policy, Policy::PowerSave);
        assert_eq!(config.data, Path::new("/d"));
    }

    #[test]
    fn bad_values_name_their_key() {
        let base = "EUCALYPTUS=/e\n";
        for (line, key) in [
            ("NODES=\"a:b\"", "NODES"),
            ("NODES=\"a a\"", "NODES"),
            ("NODES=\"http://a\"", "NODES"),
            ("SCHEDPOLICY=FAIR", "SCHEDPOLICY"),
            ("POWER_WAKETHRESH=0", "POWER_WAKETHRESH"),
            ("VNET_MODE=BRIDGED", "VNET_MODE"),
        ] {
            let s = settings(&format!("{base}{line}\n"));
            let err = Config::from_settings(&s, Overrides::default()).unwrap_err();
            assert!(err.to_string().contains(key), "{line}: {err}");
        }
    }

    #[test]
    fn missing_settings_say_how_to_give_them() {
        let err = Config::from_settings(&Settings::default(), Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("--keys"), "{err}");
    }
}

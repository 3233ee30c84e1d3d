//! The `remoteDev` of a volume: where a node controller reaches a volume the storage
//! controller exports, as the SC hands it out (AttachStorageVolume's `RemoteDeviceString`,
//! GetStorageVolume's `ActualDeviceName`) and the NC reads it (ncAttachVolume's `remoteDev`).
//!
//! Two forms, one per block protocol the SC exports over:
//! - `nbd://HOST:PORT/EXPORT`: an NBD server (qemu-nbd) serving the export name EXPORT;
//! - `iscsi://HOST:PORT/IQN/LUN`: an iSCSI target IQN (tgt), logical unit LUN.
//!
//! HOST is a name or an IPv4 address, or an IPv6 address in brackets. The original 1.6.1
//! handed out AoE device paths (`/dev/etherd/eX.Y`), which need a kernel driver on the node;
//! a URL names a network disk libvirt attaches without one.

use std::fmt;
use std::str::FromStr;

/// Where a node reaches an exported volume.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RemoteDev {
    /// An NBD export: libvirt's `<source protocol='nbd' name='EXPORT'>`.
    Nbd {
        host: String,
        port: u16,
        export: String,
    },
    /// An iSCSI logical unit: libvirt's `<source protocol='iscsi' name='IQN/LUN'>`.
    Iscsi {
        host: String,
        port: u16,
        iqn: String,
        lun: u32,
    },
}

/// Why a string is not a [`RemoteDev`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("remote device {text:?}: {reason}")]
pub struct RemoteDevError {
    pub text: String,
    pub reason: &'static str,
}

impl RemoteDev {
    /// The host the node connects to (without IPv6 brackets).
    pub fn host(&self) -> &str {
        match self {
            Self::Nbd { host, .. } | Self::Iscsi { host, .. } => host,
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            Self::Nbd { port, .. } | Self::Iscsi { port, .. } => *port,
        }
    }

    /// libvirt's network disk protocol: `nbd` or `iscsi`.
    pub fn protocol(&self) -> &'static str {
        match self {
            Self::Nbd { .. } => "nbd",
            Self::Iscsi { .. } => "iscsi",
        }
    }

    /// libvirt's `name` of the disk source: the export name, or `IQN/LUN`.
    pub fn source_name(&self) -> String {
        match self {
            Self::Nbd { export, .. } => export.clone(),
            Self::Iscsi { iqn, lun, .. } => format!("{iqn}/{lun}"),
        }
    }
}

/// Export names and IQNs are one path segment of safe characters: nothing that needs
/// escaping in a URL or in libvirt's XML.
fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

fn is_host(text: &str) -> bool {
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
}

impl FromStr for RemoteDev {
    type Err = RemoteDevError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason| RemoteDevError {
            text: text.to_owned(),
            reason,
        };
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| fail("not a URL (nbd://... or iscsi://...)"))?;
        let (authority, path) = rest
            .split_once('/')
            .ok_or_else(|| fail("no path after HOST:PORT"))?;
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| fail("no port after the host"))?;
        if !is_host(host) {
            return Err(fail("bad host"));
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| fail("bad port"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        match scheme {
            "nbd" if is_name(path) => Ok(Self::Nbd {
                host,
                port,
                export: path.to_owned(),
            }),
            "nbd" => Err(fail("bad export name")),
            "iscsi" => {
                let (iqn, lun) = path
                    .split_once('/')
                    .ok_or_else(|| fail("no LUN after the IQN"))?;
                if !is_name(iqn) {
                    return Err(fail("bad IQN"));
                }
                let lun = lun.parse().map_err(|_| fail("bad LUN"))?;
                Ok(Self::Iscsi {
                    host,
                    port,
                    iqn: iqn.to_owned(),
                    lun,
                })
            }
            _ => Err(fail("unknown protocol (nbd or iscsi)")),
        }
    }
}

impl fmt::Display for RemoteDev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.host();
        let host: &dyn fmt::Display = if host.contains(':') {
            &format_args!("[{host}]")
        } else {
            &host
        };
        match self {
            Self::Nbd { port, export, .. } => write!(f, "nbd://{host}:{port}/{export}"),
            Self::Iscsi { port, iqn, lun, .. } => write!(f, "iscsi://{host}:{port}/{iqn}/{lun}"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_read_and_write_back_the_same() {
        for text in [
            "nbd://127.0.0.1:10809/vol-1A2B3C4D",
            "nbd://[::1]:10809/vol-1",
            "iscsi://sc.example:3260/iqn.2009-06.edu.ucsb.eucalyptus:vol-1A2B3C4D/1",
        ] {
            let dev: RemoteDev = text.parse().unwrap();
            assert_eq!(dev.to_string(), text);
        }
        let dev: RemoteDev = "iscsi://10.0.0.1:3260/iqn.x:vol-1/1".parse().unwrap();
        assert_eq!(dev.protocol(), "iscsi");
        assert_eq!((dev.host(), dev.port()), ("10.0.0.1", 3260));
        assert_eq!(dev.source_name(), "iqn.x:vol-1/1");
        let dev: RemoteDev = "nbd://[::1]:9/vol-1".parse().unwrap();
        assert_eq!((dev.host(), dev.source_name().as_str()), ("::1", "vol-1"));
    }

    #[test]
    fn malformed_devices_are_refused_with_the_reason() {
        for (text, reason) in [
            ("/dev/etherd/e0.1", "not a URL (nbd://... or iscsi://...)"),
            ("aoe://h:1/x", "unknown protocol (nbd or iscsi)"),
            ("nbd://h/x", "no port after the host"),
            ("nbd://h:0/x", "bad port"),
            ("nbd://h:70000/x", "bad port"),
            ("nbd://h:1/", "bad export name"),
            ("nbd://h:1/a/b", "bad export name"),
            ("nbd://h'x:1/a", "bad host"),
            ("nbd://[zz]:1/a", "bad host"),
            ("iscsi://h:1/iqn.x", "no LUN after the IQN"),
            ("iscsi://h:1/iqn<x/1", "bad IQN"),
            ("iscsi://h:1/iqn.x/one", "bad LUN"),
            ("nbd://h:1", "no path after HOST:PORT"),
        ] {
            let err = text.parse::<RemoteDev>().unwrap_err();
            assert_eq!(err.reason, reason, "{text}");
        }
    }
}

//! EBS volumes as guest disks: the libvirt disk device for a volume's `remoteDev` (where the
//! node reaches it) at its `localDev` (the name the cluster asked for in the guest).
//!
//! `remoteDev` forms: a local path (a block device such as the original's AoE
//! `/dev/etherd/e0.1`, or a file), or an export of the storage controller as
//! [`wire::volume::RemoteDev`] reads it (`nbd://HOST:PORT/EXPORT`, `iscsi://HOST:PORT/IQN/LUN`),
//! which becomes a libvirt network disk: QEMU itself connects, the node needs no driver.

use std::path::{Path, PathBuf};

use wire::volume::RemoteDev;

use crate::config::HypervisorKind;
use crate::libvirt_xml::Xml;

/// How many of the first virtio names the instance's own disks may take.
const OWN_DISKS: usize = 4;

/// Why a volume cannot be plugged as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    #[error("remoteDev {0:?} is neither a local path nor nbd://HOST:PORT/EXPORT or iscsi://HOST:PORT/IQN/LUN")]
    RemoteForm(String),
    #[error("remoteDev {0:?} does not exist on this node")]
    Missing(String),
    #[error("localDev {0:?} is not a device name such as /dev/sdb")]
    LocalForm(String),
    #[error("localDev {0:?} is not usable on this hypervisor: use /dev/sdX, or /dev/vdX after vd{last}", last = own_last())]
    LocalBus(String),
}

fn own_last() -> char {
    char::from(b'a' + u8::try_from(OWN_DISKS - 1).unwrap_or(0))
}

/// Where the node reaches a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Block(PathBuf),
    File(PathBuf),
    Network(RemoteDev),
}

/// A volume as a libvirt disk device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeDevice {
    source: Source,
    target: String,
    bus: Option<&'static str>,
}

impl VolumeDevice {
    /// The device for `remote_dev` at `local_dev`; a local path must exist.
    pub async fn new(
        hypervisor: HypervisorKind,
        remote_dev: &str,
        local_dev: &str,
    ) -> Result<Self, VolumeError> {
        let source = parse_remote(remote_dev).await?;
        let (target, bus) = guest_name(hypervisor, local_dev)?;
        Ok(Self {
            source,
            target,
            bus,
        })
    }

    /// The guest device name, without `/dev/`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The `<disk>` element, for hot-plugging.
    pub fn to_xml(&self) -> String {
        let mut x = Xml::new();
        self.write(&mut x);
        x.finish()
    }

    /// Writes the `<disk>` element into a domain description.
    pub fn write(&self, x: &mut Xml) {
        match &self.source {
            Source::Block(path) => {
                x.open("disk", &[("type", "block"), ("device", "disk")]);
                x.empty("driver", &[("name", "qemu"), ("type", "raw")]);
                x.empty("source", &[("dev", &path.to_string_lossy())]);
            }
            Source::File(path) => {
                x.open("disk", &[("type", "file"), ("device", "disk")]);
                x.empty("driver", &[("name", "qemu"), ("type", "raw")]);
                x.empty("source", &[("file", &path.to_string_lossy())]);
            }
            Source::Network(remote) => {
                x.open("disk", &[("type", "network"), ("device", "disk")]);
                x.empty("driver", &[("name", "qemu"), ("type", "raw")]);
                x.open(
                    "source",
                    &[
                        ("protocol", remote.protocol()),
                        ("name", &remote.source_name()),
                    ],
                );
                x.empty(
                    "host",
                    &[
                        ("name", remote.host()),
                        ("port", &remote.port().to_string()),
                    ],
                );
                x.close();
            }
        }
        let mut target = vec![("dev", self.target.as_str())];
        if let Some(bus) = self.bus {
            target.push(("bus", bus));
        }
        x.empty("target", &target);
        x.close();
    }
}

async fn parse_remote(remote_dev: &str) -> Result<Source, VolumeError> {
    let form = || VolumeError::RemoteForm(remote_dev.to_owned());
    if remote_dev.starts_with('/') {
        let path = Path::new(remote_dev);
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|_| VolumeError::Missing(remote_dev.into()))?;
        return Ok(if is_block_device(&meta) {
            Source::Block(path.to_owned())
        } else {
            Source::File(path.to_owned())
        });
    }
    remote_dev
        .parse::<RemoteDev>()
        .map(Source::Network)
        .map_err(|_| form())
}

fn is_block_device(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_block_device()
}

/// The guest device name and bus for `local_dev` (`/dev/sdb` or `sdb`).
fn guest_name(
    hypervisor: HypervisorKind,
    local_dev: &str,
) -> Result<(String, Option<&'static str>), VolumeError> {
    let name = local_dev.strip_prefix("/dev/").unwrap_or(local_dev);
    let well_formed = (3..=8).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if !well_formed {
        return Err(VolumeError::LocalForm(local_dev.to_owned()));
    }
    let bus_error = || VolumeError::LocalBus(local_dev.to_owned());
    if hypervisor == HypervisorKind::Xen {
        return if name.starts_with("sd") || name.starts_with("xvd") {
            Ok((name.to_owned(), None))
        } else {
            Err(bus_error())
        };
    }
    if name.starts_with("sd") {
        return Ok((name.to_owned(), Some("scsi")));
    }
    if let Some(suffix) = name.strip_prefix("vd") {
        let taken = suffix.len() == 1
            && suffix
                .bytes()
                .next()
                .is_some_and(|b| usize::from(b.saturating_sub(b'a')) < OWN_DISKS);
        if !taken && suffix.bytes().all(|b| b.is_ascii_lowercase()) {
            return Ok((name.to_owned(), Some("virtio")));
        }
    }
    Err(bus_error())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_file_becomes_a_file_disk_on_the_scsi_bus() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vol");
        std::fs::write(&file, b"x").unwrap();
        let device = VolumeDevice::new(HypervisorKind::Kvm, file.to_str().unwrap(), "/dev/sdb")
            .await
            .unwrap();
        let xml = device.to_xml();
        assert!(
            xml.starts_with(r#"<disk type="file" device="disk">"#),
            "{xml}"
        );
        assert!(
            xml.contains(&format!(r#"<source file="{}"/>"#, file.display())),
            "{xml}"
        );
        assert!(xml.contains(r#"<target dev="sdb" bus="scsi"/>"#), "{xml}");
    }

    #[tokio::test]
    async fn network_forms_become_network_disks() {
        let d = VolumeDevice::new(
            HypervisorKind::Kvm,
            "iscsi://127.0.0.1:3260/iqn.2009-01.com.eucalyptus:vol-1/1",
            "sdc",
        )
        .await
        .unwrap();
        let xml = d.to_xml();
        assert!(
            xml.contains(r#"protocol="iscsi" name="iqn.2009-01.com.eucalyptus:vol-1/1""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<host name="127.0.0.1" port="3260"/>"#),
            "{xml}"
        );
        let d = VolumeDevice::new(HypervisorKind::Kvm, "nbd://localhost:10900/exp", "vde")
            .await
            .unwrap();
        let xml = d.to_xml();
        assert!(xml.contains(r#"protocol="nbd" name="exp""#), "{xml}");
        assert!(xml.contains(r#"port="10900""#), "{xml}");
        assert!(xml.contains(r#"bus="virtio""#), "{xml}");
    }

    #[tokio::test]
    async fn malformed_devices_are_refused_with_their_reason() {
        let kvm = HypervisorKind::Kvm;
        for remote in [
            "",
            "vol-1",
            "http://x/y",
            "iscsi://h:3260/iqn-without-lun",
            "nbd://h:port/x",
            "nbd://h:10809/",
            "iscsi://:3260/iqn/1",
        ] {
            assert!(
                matches!(
                    VolumeDevice::new(kvm, remote, "sdb").await,
                    Err(VolumeError::RemoteForm(_))
                ),
                "{remote}"
            );
        }
        assert_eq!(
            VolumeDevice::new(kvm, "/no/such/device", "sdb").await,
            Err(VolumeError::Missing("/no/such/device".into()))
        );
        for local in ["", "/dev/", "sd", "/dev/sd b", "../../etc", "SDB"] {
            assert!(
                matches!(
                    VolumeDevice::new(kvm, "nbd://h:10809/x", local).await,
                    Err(VolumeError::LocalForm(_))
                ),
                "{local}"
            );
        }
        // The instance's own disks take the first virtio names.
        for local in ["vda", "/dev/vdd", "hdb", "xvdb"] {
            assert!(
                matches!(
                    VolumeDevice::new(kvm, "nbd://h:10809/x", local).await,
                    Err(VolumeError::LocalBus(_))
                ),
                "{local}"
            );
        }
        assert!(
            VolumeDevice::new(HypervisorKind::Xen, "nbd://h:10809/x", "xvdb")
                .await
                .is_ok()
        );
    }

    /// Guards against a crafted remoteDev escaping its attribute into the domain XML.
    #[tokio::test]
    async fn markup_in_a_remote_dev_is_refused() {
        assert!(matches!(
            VolumeDevice::new(HypervisorKind::Kvm, "nbd://h:1/x'\"><evil/>", "sdb").await,
            Err(VolumeError::RemoteForm(_))
        ));
    }
}

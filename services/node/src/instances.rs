//! What the node knows of one instance, and the states it goes through.

use std::fmt;
use std::str::FromStr;

use wire::nc::{InstanceType, NetConfigType, VirtualMachineType, VolumeType};
use xmlbind::DateTime;

/// The NC's own view of an instance, close to libvirt's domain states. Only three names
/// reach the cluster: see [`State::reported`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Staging images and starting the domain.
    Booting,
    /// Terminated while booting; the boot task is winding it down.
    Canceled,
    Running,
    Blocked,
    Paused,
    Shutdown,
    Shutoff,
    Crashed,
    /// Terminated: no domain, no files, no resources. Kept for a while, then forgotten.
    Teardown,
}

/// The state names the NC reports, and their codes as the original put them in
/// ncTerminateInstance's `shutdownState`/`previousState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    Pending,
    Extant,
    Teardown,
}

impl Reported {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Extant => "Extant",
            Self::Teardown => "Teardown",
        }
    }

    pub fn code(self) -> i32 {
        match self {
            Self::Pending => 13,
            Self::Extant => 14,
            Self::Teardown => 15,
        }
    }
}

impl State {
    pub fn reported(self) -> Reported {
        match self {
            Self::Booting | Self::Canceled => Reported::Pending,
            Self::Teardown => Reported::Teardown,
            Self::Running
            | Self::Blocked
            | Self::Paused
            | Self::Shutdown
            | Self::Shutoff
            | Self::Crashed => Reported::Extant,
        }
    }

    /// Whether the instance still holds memory, cores and disk on this node.
    pub fn holds_resources(self) -> bool {
        self != Self::Teardown
    }

    /// Whether a domain is (or should be) running for the instance.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Running | Self::Blocked | Self::Paused)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Booting => "Booting",
            Self::Canceled => "Canceled",
            Self::Running => "Running",
            Self::Blocked => "Blocked",
            Self::Paused => "Paused",
            Self::Shutdown => "Shutdown",
            Self::Shutoff => "Shutoff",
            Self::Crashed => "Crashed",
            Self::Teardown => "Teardown",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for State {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Booting,
            Self::Canceled,
            Self::Running,
            Self::Blocked,
            Self::Paused,
            Self::Shutdown,
            Self::Shutoff,
            Self::Crashed,
            Self::Teardown,
        ]
        .into_iter()
        .find(|state| state.name() == s)
        .ok_or_else(|| format!("unknown instance state {s:?}"))
    }
}

/// An image the instance boots from: its id and where to fetch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub id: String,
    pub url: String,
}

/// The size of the instance's VM type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmSize {
    pub memory_mb: u64,
    pub cores: u64,
    pub disk_gb: u64,
}

/// The instance's network settings, as the cluster assigned them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetParams {
    pub private_mac: String,
    pub public_mac: String,
    pub vlan: i32,
    pub private_ip: String,
    pub public_ip: String,
}

/// A volume attached to the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub volume_id: String,
    pub remote_dev: String,
    /// The device name the cluster asked for, such as `/dev/sdb`.
    pub local_dev: String,
}

/// The state name reported for an attached volume.
pub const VOLUME_ATTACHED: &str = "attached";

/// Everything recorded about an instance; persisted by the store on every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    pub instance_id: String,
    pub reservation_id: String,
    pub user_id: String,
    pub image: ImageRef,
    pub kernel: ImageRef,
    pub ramdisk: Option<ImageRef>,
    /// What the cluster sends as keyName: the keypair's public key (or empty).
    pub key_name: String,
    pub size: VmSize,
    pub net: NetParams,
    pub user_data: Option<String>,
    pub launch_index: Option<String>,
    pub group_names: Vec<String>,
    pub volumes: Vec<Volume>,
    pub state: State,
    /// Seconds since the Unix epoch.
    pub launch_time: i64,
    /// When the instance reached Teardown, in seconds since the Unix epoch.
    pub termination_time: Option<i64>,
    /// Why the instance ended in Teardown without being asked to, if it did.
    pub failure: Option<String>,
}

impl InstanceRecord {
    /// The instance as ncDescribeInstances and ncRunInstance report it.
    pub fn to_wire(&self) -> InstanceType {
        InstanceType {
            reservation_id: self.reservation_id.clone(),
            instance_id: self.instance_id.clone(),
            image_id: self.image.id.clone(),
            kernel_id: self.kernel.id.clone(),
            ramdisk_id: self.ramdisk.as_ref().map(|r| r.id.clone()),
            user_id: self.user_id.clone(),
            key_name: self.key_name.clone(),
            instance_type: VirtualMachineType {
                memory: Some(clamp_i32(self.size.memory_mb)),
                cores: Some(clamp_i32(self.size.cores)),
                disk: Some(clamp_i32(self.size.disk_gb)),
            },
            net_params: Some(NetConfigType {
                private_mac_address: self.net.private_mac.clone(),
                public_mac_address: self.net.public_mac.clone(),
                vlan: self.net.vlan,
                private_ip: self.net.private_ip.clone(),
                public_ip: self.net.public_ip.clone(),
            }),
            state_name: self.state.reported().name().to_owned(),
            launch_time: Some(DateTime::from_unix(self.launch_time)),
            user_data: self.user_data.clone(),
            launch_index: self.launch_index.clone(),
            group_names: self.group_names.clone(),
            volumes: self
                .volumes
                .iter()
                .map(|v| VolumeType {
                    volume_id: Some(v.volume_id.clone()),
                    remote_dev: Some(v.remote_dev.clone()),
                    local_dev: Some(v.local_dev.clone()),
                    state: Some(VOLUME_ATTACHED.to_owned()),
                })
                .collect(),
            service_tag: None,
        }
    }
}

/// Whether `name` can name a file and a domain as it stands: instance and image ids.
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Sizes are checked against the node's capacity on arrival, so they fit; saturate anyway.
pub fn clamp_i32(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Sample records for the tests of other modules.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A running instance with every optional field filled.
    pub fn record(id: &str) -> InstanceRecord {
        InstanceRecord {
            instance_id: id.into(),
            reservation_id: "r-1".into(),
            user_id: "admin".into(),
            image: ImageRef {
                id: "emi-1".into(),
                url: "http://w/emi".into(),
            },
            kernel: ImageRef {
                id: "eki-1".into(),
                url: "http://w/eki".into(),
            },
            ramdisk: Some(ImageRef {
                id: "eri-1".into(),
                url: "http://w/eri".into(),
            }),
            key_name: "ssh-rsa AAAA user@host".into(),
            size: VmSize {
                memory_mb: 128,
                cores: 1,
                disk_gb: 2,
            },
            net: NetParams {
                private_mac: "d0:0d:00:00:00:01".into(),
                public_mac: "d0:0d:00:00:00:02".into(),
                vlan: 10,
                private_ip: "0.0.0.0".into(),
                public_ip: "0.0.0.0".into(),
            },
            user_data: Some("dXNlcg==".into()),
            launch_index: Some("0".into()),
            group_names: vec!["default".into(), "web".into()],
            volumes: vec![Volume {
                volume_id: "vol-1".into(),
                remote_dev: "/dev/etherd/e0.1".into(),
                local_dev: "/dev/sdb".into(),
            }],
            state: State::Running,
            launch_time: 1_700_000_000,
            termination_time: None,
            failure: None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn internal_states_map_to_the_three_reported_ones() {
        assert_eq!(State::Booting.reported(), Reported::Pending);
        assert_eq!(State::Canceled.reported(), Reported::Pending);
        for s in [
            State::Running,
            State::Blocked,
            State::Paused,
            State::Shutdown,
            State::Shutoff,
            State::Crashed,
        ] {
            assert_eq!(s.reported(), Reported::Extant, "{s}");
        }
        assert_eq!(State::Teardown.reported().name(), "Teardown");
        assert_eq!(Reported::Teardown.code(), 15);
    }

    #[test]
    fn state_names_round_trip() {
        for s in ["Booting", "Running", "Teardown", "Canceled", "Crashed"] {
            assert_eq!(s.parse::<State>().unwrap().to_string(), s);
        }
        assert!("Exploded".parse::<State>().is_err());
    }
}

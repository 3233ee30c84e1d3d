//! The VM network of the cluster controller, after the original's `net/vnetwork.c`.
//!
//! [`VirtualNetwork`] gives instances their MAC and addresses at RunInstances ([`lease`]),
//! answers the CC's network operations (StartNetwork, StopNetwork, ConfigureNetwork,
//! Assign/UnassignAddress, DescribePublicAddresses, DescribeNetworks), and computes the
//! [`Plan`] of firewall, NAT, DHCP and interface settings the host must have. It applies the
//! plan only with `VNET_APPLY=Y`, and then inside a network namespace of its own. Its state is
//! kept in SQLite under the state folder and survives restarts.
//!
//! [`lease`]: VirtualNetwork::lease

mod addr;
mod apply;
mod config;
mod layout;
mod ops;
mod plan;
mod state;
mod store;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tracing::{info, warn};

pub use addr::Cidr;
pub use apply::{normalize_iptables_save, ApplyReport};
pub use config::{Addressing, Mode, StaticHost, VnetConfig};
pub use plan::{AddressSpec, DeviceKind, DeviceSpec, Plan};

use layout::Layout;
use state::{Change, Group, State, StoredLease};
use store::Store;

/// Why the VM network could not do what was asked. The CC's operations turn these into
/// `return=false` with the message as `statusMessage`.
#[derive(Debug, thiserror::Error)]
pub enum VnetError {
    #[error("setting {key}: {reason}")]
    Setting { key: &'static str, reason: String },
    #[error("cannot use the network state folder {path}: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("network state {path}: {source}")]
    Store {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("network state {path} is unreadable: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "network state {path} was made for {stored}, but the settings now say {configured}; \
         restore the settings or remove the file to start afresh"
    )]
    LayoutChanged {
        path: PathBuf,
        stored: String,
        configured: String,
    },
    #[error("cannot save the network state: {0}")]
    Persist(#[from] rusqlite::Error),
    #[error("{0}")]
    BadRequest(String),
    #[error("no network {user}/{name} is active")]
    UnknownNetwork { user: String, name: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Exhausted(String),
    /// The original's exact statusMessage: the cloud controller compares it to learn that a
    /// cluster has no public addresses. The mode rides along for Debug output.
    #[error("NOTSUPPORTED")]
    NotSupported(Mode),
    #[error("the network plan is applied only with VNET_APPLY=Y")]
    ApplyDisabled,
    #[error("{command}: {reason}")]
    Command { command: String, reason: String },
}

/// The addresses of one instance, as RunInstances reports them in its `netParams`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub mac: String,
    pub private_ip: String,
    pub public_ip: String,
    pub vlan: i32,
}

/// The cluster's VM network. Cheap to share (`Send + Sync`): one lock guards its state, and
/// every method is synchronous (call it from a blocking task in async code; `apply` runs
/// `ip` and `iptables-restore`).
#[derive(Debug)]
pub struct VirtualNetwork {
    config: VnetConfig,
    state_dir: PathBuf,
    netns: String,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: State,
    store: Store,
}

const UNSPECIFIED: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

impl VirtualNetwork {
    /// Opens the network state under `state_dir` (created if missing) for `config`.
    pub fn open(config: VnetConfig, state_dir: &Path) -> Result<Self, VnetError> {
        std::fs::create_dir_all(state_dir).map_err(|source| VnetError::StateDir {
            path: state_dir.to_owned(),
            source,
        })?;
        let (store, state) = Store::open(&state_dir.join("vnet.sqlite"), &layout_name(&config))?;
        let netns = config
            .netns
            .clone()
            .unwrap_or_else(|| default_netns(state_dir));
        info!(mode = %config.mode(), networks = state.networks.len(), leases = state.leases.len(),
              apply = config.apply, netns = %netns, "VM network ready");
        let network = Self {
            config,
            state_dir: state_dir.to_owned(),
            netns,
            inner: Mutex::new(Inner { state, store }),
        };
        if network.config.apply {
            network.apply_logged(&network.lock());
        }
        Ok(network)
    }

    pub fn mode(&self) -> Mode {
        self.config.mode()
    }

    pub fn config(&self) -> &VnetConfig {
        &self.config
    }

    /// The network namespace [`Self::apply`] works in.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The addresses of `instance_id`, allocated on first call and the same on every later
    /// one. `net.vlan` is RunInstances' VLAN and `network_name` its group (`netNames[0]`).
    /// MANAGED modes take the address slot `network_index` of the group's network when the
    /// cloud chose one (RunInstances' networkIndexList, as the original CLC allocates them),
    /// else the next free one, starting the network if the cloud has not; STATIC the next free
    /// pair of VNET_MACMAP; SYSTEM leaves the addresses to the site's DHCP (0.0.0.0).
    pub fn lease(
        &self,
        instance_id: &str,
        user_id: &str,
        net: &wire::cc::NetConfigType,
        network_name: &str,
        network_index: Option<i32>,
    ) -> Result<Lease, VnetError> {
        let mac = instance_mac(instance_id)?;
        let mut inner = self.lock();
        if let Some(lease) = inner.state.leases.get(instance_id) {
            return Ok(self.lease_view(&inner.state, lease));
        }
        let group = Group {
            user: user_id.to_owned(),
            name: network_name.to_owned(),
        };
        let mut changes = Vec::new();
        let lease = match &self.config.addressing {
            Addressing::System => StoredLease {
                instance_id: instance_id.to_owned(),
                group,
                vlan: net.vlan,
                mac,
                private_ip: UNSPECIFIED,
            },
            Addressing::Static { hosts, .. } => {
                let used: BTreeSet<Ipv4Addr> =
                    inner.state.leases.values().map(|l| l.private_ip).collect();
                // The instance takes the map's MAC too: the DHCP server knows hosts by MAC.
                let host = hosts
                    .iter()
                    .find(|h| !used.contains(&h.ip))
                    .ok_or_else(|| {
                        VnetError::Exhausted(format!(
                            "all {} addresses of VNET_MACMAP are in use",
                            hosts.len()
                        ))
                    })?;
                StoredLease {
                    instance_id: instance_id.to_owned(),
                    group,
                    vlan: net.vlan,
                    mac: host.mac.clone(),
                    private_ip: host.ip,
                }
            }
            Addressing::Managed { .. } => {
                check_group(&group)?;
                let requested = (net.vlan > 0).then_some(net.vlan);
                let (vlan, start) = self.resolve_vlan(&inner.state, &group, requested)?;
                changes.extend(start);
                // A negative index, like a VLAN <= 0, means the cloud left the choice to us.
                let wanted = network_index.filter(|i| *i >= 0);
                let private_ip = self.free_address(&inner.state, vlan, wanted)?;
                StoredLease {
                    instance_id: instance_id.to_owned(),
                    group,
                    vlan,
                    mac,
                    private_ip,
                }
            }
        };
        changes.push(Change::Lease(lease.clone()));
        self.commit(&mut inner, changes)?;
        info!(instance = instance_id, mac = %lease.mac, ip = %lease.private_ip, vlan = lease.vlan, "leased");
        Ok(self.lease_view(&inner.state, &lease))
    }

    /// The addresses of `instance_id` if it has a lease, allocating nothing: for the CC's
    /// instance view, whose public address changes with Assign/UnassignAddress.
    pub fn lookup(&self, instance_id: &str) -> Option<Lease> {
        let inner = self.lock();
        let lease = inner.state.leases.get(instance_id)?;
        Some(self.lease_view(&inner.state, lease))
    }

    /// Frees the addresses of `instance_id` (at terminate), and its public address mapping.
    /// Unknown instances are ignored.
    pub fn release(&self, instance_id: &str) {
        let mut inner = self.lock();
        let Some(lease) = inner.state.leases.get(instance_id) else {
            return;
        };
        let mut changes = vec![Change::Release {
            instance_id: instance_id.to_owned(),
        }];
        if let Some(public) = inner.state.public_of(lease.private_ip) {
            changes.push(Change::Unmap { public });
        }
        match self.commit(&mut inner, changes) {
            Ok(()) => info!(instance = instance_id, "released"),
            Err(e) => warn!(instance = instance_id, error = %e, "cannot release addresses"),
        }
    }

    /// What the host must look like now.
    pub fn plan(&self) -> Plan {
        plan::compute(&self.config, &self.lock().state)
    }

    /// Makes the CC's network namespace match [`Self::plan`]; refused unless `VNET_APPLY=Y`.
    /// Applying an unchanged plan again changes nothing.
    pub fn apply(&self) -> Result<ApplyReport, VnetError> {
        if !self.config.apply {
            return Err(VnetError::ApplyDisabled);
        }
        let inner = self.lock();
        self.apply_locked(&inner)
    }

    fn apply_locked(&self, inner: &Inner) -> Result<ApplyReport, VnetError> {
        let plan = plan::compute(&self.config, &inner.state);
        apply::apply(&self.config, &plan, &self.netns, &self.state_dir)
    }

    /// After a change: the original changed the host at once; a failure is logged and the
    /// next change or restart applies the whole plan again.
    fn apply_logged(&self, inner: &Inner) {
        match self.apply_locked(inner) {
            Ok(report) => {
                for failure in &report.failures {
                    warn!(netns = %self.netns, %failure, "part of the network plan was not applied");
                }
            }
            Err(e) => warn!(netns = %self.netns, error = %e, "cannot apply the network plan"),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the state half-changed: changes reach
        // memory only after the store has them.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes `changes` and then makes them visible (and applies them, when allowed).
    fn commit(&self, inner: &mut Inner, changes: Vec<Change>) -> Result<(), VnetError> {
        if changes.is_empty() {
            return Ok(());
        }
        inner.store.write(&changes)?;
        for change in &changes {
            inner.state.apply(change);
        }
        if self.config.apply {
            self.apply_logged(inner);
        }
        Ok(())
    }

    fn layout(&self) -> Option<Layout> {
        match self.config.addressing {
            Addressing::Managed {
                subnet,
                addrs_per_net,
                ..
            } => Some(Layout {
                subnet,
                addrs_per_net,
            }),
            _ => None,
        }
    }

    /// The VLAN of `group`: the one it has, else the requested one, else the one its
    /// instances are on, else the lowest free one; with the change that starts the network
    /// when it is new.
    fn resolve_vlan(
        &self,
        state: &State,
        group: &Group,
        requested: Option<i32>,
    ) -> Result<(i32, Option<Change>), VnetError> {
        let layout = self.layout().ok_or(VnetError::NotSupported(self.mode()))?;
        if let Some(vlan) = state.vlan_of(group) {
            return match requested {
                Some(r) if r != vlan => Err(VnetError::Conflict(format!(
                    "network {}/{} is on VLAN {vlan}, not {r}",
                    group.user, group.name
                ))),
                _ => Ok((vlan, None)),
            };
        }
        let vlans = layout.vlans();
        let vlan = match requested {
            Some(vlan) if !vlans.contains(&vlan) => {
                return Err(VnetError::BadRequest(format!(
                    "VLAN {vlan} is outside {}..={} (VNET_SUBNET has room for no more)",
                    vlans.start(),
                    vlans.end()
                )))
            }
            Some(vlan) => {
                if let Some(other) = state.holder(vlan).filter(|g| *g != group) {
                    return Err(VnetError::Conflict(format!(
                        "VLAN {vlan} carries network {}/{}",
                        other.user, other.name
                    )));
                }
                vlan
            }
            // Where the group's instances still are, else the lowest VLAN nobody holds.
            None => match state.leases.values().find(|l| l.group == *group) {
                Some(lease) => lease.vlan,
                None => vlans
                    .clone()
                    .find(|v| state.holder(*v).is_none())
                    .ok_or_else(|| {
                        VnetError::Exhausted(format!("all {} VLANs are in use", vlans.count()))
                    })?,
            },
        };
        let start = Change::StartNetwork {
            vlan,
            group: group.clone(),
        };
        Ok((vlan, Some(start)))
    }

    /// The lowest free instance address of the network on `vlan`.
    /// Slot `wanted` of VLAN `vlan`'s network if given, else its first free slot.
    fn free_address(
        &self,
        state: &State,
        vlan: i32,
        wanted: Option<i32>,
    ) -> Result<Ipv4Addr, VnetError> {
        let layout = self.layout().ok_or(VnetError::NotSupported(self.mode()))?;
        let block = layout
            .block(vlan)
            .ok_or_else(|| VnetError::BadRequest(format!("VLAN {vlan} has no network")))?;
        let used: BTreeSet<u64> = state
            .leases
            .values()
            .filter(|l| l.vlan == vlan)
            .filter_map(|l| block.index_of(l.private_ip))
            .collect();
        if let Some(wanted) = wanted {
            let slot = u64::try_from(wanted)
                .ok()
                .filter(|i| layout.host_indices().contains(i))
                .ok_or_else(|| {
                    VnetError::BadRequest(format!(
                        "network index {wanted} is outside {:?}, the instance slots of {block}",
                        layout.host_indices()
                    ))
                })?;
            if used.contains(&slot) {
                return Err(VnetError::Conflict(format!(
                    "network index {wanted} of {block} (VLAN {vlan}) is taken"
                )));
            }
            return block.nth(slot).ok_or_else(|| {
                VnetError::BadRequest(format!("network index {wanted} is outside {block}"))
            });
        }
        layout
            .host_indices()
            .find(|i| !used.contains(i))
            .and_then(|i| block.nth(i))
            .ok_or_else(|| {
                VnetError::Exhausted(format!(
                    "network {block} (VLAN {vlan}) has no free address left"
                ))
            })
    }

    fn lease_view(&self, state: &State, lease: &StoredLease) -> Lease {
        let public = match self.config.addressing {
            Addressing::Static { .. } => lease.private_ip,
            _ => state.public_of(lease.private_ip).unwrap_or(UNSPECIFIED),
        };
        Lease {
            mac: lease.mac.clone(),
            private_ip: lease.private_ip.to_string(),
            public_ip: public.to_string(),
            vlan: lease.vlan,
        }
    }
}

/// The original's MAC for an instance: `d0:0d:` and the four bytes of its id's hex.
pub fn instance_mac(instance_id: &str) -> Result<String, VnetError> {
    let hex = instance_id
        .strip_prefix("i-")
        .filter(|h| h.len() == 8 && h.chars().all(|c| c.is_ascii_hexdigit()))
        .ok_or_else(|| {
            VnetError::BadRequest(format!(
                "{instance_id:?} is not an instance id (i- and 8 hex digits)"
            ))
        })?;
    let pairs: Vec<&str> = (0..4).map(|i| &hex[2 * i..2 * i + 2]).collect();
    Ok(format!("d0:0d:{}", pairs.join(":")))
}

/// iptables chain names end at 28 bytes; ours are `<user>-<group>`.
const MAX_CHAIN: usize = 28;

/// A group whose chain name iptables accepts and that cannot break a rule line.
fn check_group(group: &Group) -> Result<(), VnetError> {
    let safe = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
    };
    if !safe(&group.user) || !safe(&group.name) {
        return Err(VnetError::BadRequest(format!(
            "user {:?} and network {:?} must be non-empty and hold only letters, digits and - _ . @",
            group.user, group.name
        )));
    }
    if group.chain().len() > MAX_CHAIN {
        return Err(VnetError::BadRequest(format!(
            "chain name {:?} is longer than iptables' {MAX_CHAIN} bytes",
            group.chain()
        )));
    }
    Ok(())
}

/// What the stored state was laid out for: a change here invalidates stored addresses.
fn layout_name(config: &VnetConfig) -> String {
    match &config.addressing {
        Addressing::System => "SYSTEM".into(),
        Addressing::Static { subnet, .. } => format!("STATIC {subnet}"),
        Addressing::Managed {
            subnet,
            addrs_per_net,
            ..
        } => format!("{} {subnet} by {addrs_per_net}", config.mode()),
    }
}

/// `euca-vnet-` and a hash of the state folder: stable across restarts, distinct per CC.
fn default_netns(state_dir: &Path) -> String {
    let path = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_owned());
    // FNV-1a: a fixed hash, unlike std's, which may change between Rust releases.
    let hash = path
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
        });
    format!("euca-vnet-{hash:08x}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_network_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<VirtualNetwork>();
    }

    #[test]
    fn instance_ids_become_the_originals_macs() {
        assert_eq!(instance_mac("i-4DBE0848").unwrap(), "d0:0d:4D:BE:08:48");
        for bad in ["i-4DBE084", "x-4DBE0848", "i-4DBE084Z", "i-4DBE08480", ""] {
            assert!(instance_mac(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn chains_must_be_short_and_plain() {
        let group = |user: &str, name: &str| Group {
            user: user.into(),
            name: name.into(),
        };
        assert!(check_group(&group("admin", "default")).is_ok());
        assert!(check_group(&group("admin", "")).is_err());
        assert!(check_group(&group("admin", "a b")).is_err());
        assert!(check_group(&group("admin", "x;-j DROP")).is_err());
        assert!(check_group(&group("a-very-long-user", "a-long-group-name")).is_err());
    }

    fn small_network(dir: &Path) -> VirtualNetwork {
        // A /26 in networks of 16: VLANs 2 to 5, each with 13 instance addresses.
        let text = "VNET_MODE=MANAGED-NOVLAN\nVNET_SUBNET=10.9.0.0\nVNET_NETMASK=255.255.255.192\n\
                    VNET_DNS=10.9.9.9\nVNET_ADDRSPERNET=16\n";
        let settings = settings::Settings::parse(text, Path::new("t.conf")).unwrap();
        VirtualNetwork::open(VnetConfig::from_settings(&settings).unwrap(), dir).unwrap()
    }

    fn no_vlan() -> wire::cc::NetConfigType {
        wire::cc::NetConfigType::default()
    }

    #[test]
    fn vlans_run_out_with_the_subnet() {
        let dir = tempfile::tempdir().unwrap();
        let net = small_network(dir.path());
        let vlans: Vec<i32> = (1..=4)
            .map(|i| {
                net.lease(
                    &format!("i-0000000{i}"),
                    "u",
                    &no_vlan(),
                    &format!("g{i}"),
                    None,
                )
                .unwrap()
                .vlan
            })
            .collect();
        assert_eq!(vlans, [2, 3, 4, 5]);
        let err = net
            .lease("i-00000005", "u", &no_vlan(), "g5", None)
            .unwrap_err();
        assert!(matches!(err, VnetError::Exhausted(_)), "{err}");
    }

    #[test]
    fn addresses_run_out_with_the_network() {
        let dir = tempfile::tempdir().unwrap();
        let net = small_network(dir.path());
        let last = (0..13)
            .map(|i| {
                net.lease(&format!("i-{i:08X}"), "u", &no_vlan(), "g", None)
                    .unwrap()
            })
            .last()
            .unwrap();
        // .0 network, .1 router, .2 to .14 instances, .15 broadcast.
        assert_eq!(last.private_ip, "10.9.0.14");
        let err = net
            .lease("i-000000FF", "u", &no_vlan(), "g", None)
            .unwrap_err();
        assert!(err.to_string().contains("no free address"), "{err}");
        net.release("i-00000000");
        assert_eq!(
            net.lease("i-000000FF", "u", &no_vlan(), "g", None)
                .unwrap()
                .private_ip,
            "10.9.0.2"
        );
    }

    /// The cloud allocates address slots (networkIndexList): the lease takes the slot asked
    /// for, and refuses a taken or impossible one rather than hand out another address.
    #[test]
    fn a_lease_takes_the_slot_the_cloud_chose() {
        let dir = tempfile::tempdir().unwrap();
        let net = small_network(dir.path());
        let chosen = net
            .lease("i-00000001", "u", &no_vlan(), "g", Some(7))
            .unwrap();
        assert_eq!(chosen.private_ip, "10.9.0.7");
        let taken = net
            .lease("i-00000002", "u", &no_vlan(), "g", Some(7))
            .unwrap_err();
        assert!(matches!(taken, VnetError::Conflict(_)), "{taken}");
        for outside in [0, 1, 15, 16, i32::MAX] {
            let err = net
                .lease("i-00000002", "u", &no_vlan(), "g", Some(outside))
                .unwrap_err();
            assert!(matches!(err, VnetError::BadRequest(_)), "{outside}: {err}");
        }
        // Without a choice (none, or negative as with VLANs), the first free slot.
        let next = net.lease("i-00000002", "u", &no_vlan(), "g", None).unwrap();
        assert_eq!(next.private_ip, "10.9.0.2");
        let next = net
            .lease("i-00000003", "u", &no_vlan(), "g", Some(-1))
            .unwrap();
        assert_eq!(next.private_ip, "10.9.0.3");
    }

    #[test]
    fn the_default_namespace_is_stable_and_per_folder() {
        let a = default_netns(Path::new("/nonexistent/a"));
        assert_eq!(a, default_netns(Path::new("/nonexistent/a")));
        assert_ne!(a, default_netns(Path::new("/nonexistent/b")));
        assert!(a.starts_with("euca-vnet-") && a.len() == 18, "{a}");
    }
}

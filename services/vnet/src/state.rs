//! What the VM network remembers: group networks, instance leases, public address mappings
//! and ingress rules. Every mutation is a [`Change`], applied to memory only after the store
//! has written it, so memory and disk never disagree.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// A security group as the CC knows it: its owner and its name. Its firewall chain is
/// `<user>-<name>`, as in the original.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Group {
    pub user: String,
    pub name: String,
}

impl Group {
    pub fn chain(&self) -> String {
        format!("{}-{}", self.user, self.name)
    }
}

/// The addresses of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredLease {
    pub instance_id: String,
    pub group: Group,
    pub vlan: i32,
    pub mac: String,
    pub private_ip: Ipv4Addr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Nameserver(Ipv4Addr),
    StartNetwork {
        vlan: i32,
        group: Group,
    },
    /// Also drops the group's rules.
    StopNetwork {
        vlan: i32,
    },
    Lease(StoredLease),
    Release {
        instance_id: String,
    },
    Map {
        public: Ipv4Addr,
        private: Ipv4Addr,
    },
    Unmap {
        public: Ipv4Addr,
    },
    Rules {
        group: Group,
        rules: Vec<String>,
    },
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct State {
    /// The cloud's name server, handed to instances after VNET_DNS.
    pub nameserver: Option<Ipv4Addr>,
    pub networks: BTreeMap<i32, Group>,
    pub leases: BTreeMap<String, StoredLease>,
    /// Public address → the private address it is mapped to.
    pub public: BTreeMap<Ipv4Addr, Ipv4Addr>,
    /// A group's ingress rules, as iptables rule specifications after `-A <chain>`.
    pub rules: BTreeMap<Group, Vec<String>>,
}

impl State {
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Nameserver(ip) => self.nameserver = Some(*ip),
            Change::StartNetwork { vlan, group } => {
                self.networks.insert(*vlan, group.clone());
            }
            Change::StopNetwork { vlan } => {
                if let Some(group) = self.networks.remove(vlan) {
                    self.rules.remove(&group);
                }
            }
            Change::Lease(lease) => {
                self.leases.insert(lease.instance_id.clone(), lease.clone());
            }
            Change::Release { instance_id } => {
                self.leases.remove(instance_id);
            }
            Change::Map { public, private } => {
                self.public.insert(*public, *private);
            }
            Change::Unmap { public } => {
                self.public.remove(public);
            }
            Change::Rules { group, rules } => {
                self.rules.insert(group.clone(), rules.clone());
            }
        }
    }

    pub fn vlan_of(&self, group: &Group) -> Option<i32> {
        self.networks
            .iter()
            .find_map(|(vlan, g)| (g == group).then_some(*vlan))
    }

    /// The group on `vlan`: its active network's, else that of instances still on it after
    /// their network stopped (a VLAN is not given to another group while they run).
    pub fn holder(&self, vlan: i32) -> Option<&Group> {
        self.networks.get(&vlan).or_else(|| {
            self.leases
                .values()
                .find_map(|l| (l.vlan == vlan).then_some(&l.group))
        })
    }

    /// The leases of each VLAN, in one pass over them.
    pub fn leases_by_vlan(&self) -> BTreeMap<i32, Vec<&StoredLease>> {
        let mut by_vlan: BTreeMap<i32, Vec<&StoredLease>> = BTreeMap::new();
        for lease in self.leases.values() {
            by_vlan.entry(lease.vlan).or_default().push(lease);
        }
        by_vlan
    }

    /// The public address mapped to `private`, if any.
    pub fn public_of(&self, private: Ipv4Addr) -> Option<Ipv4Addr> {
        self.public
            .iter()
            .find_map(|(public, p)| (*p == private).then_some(*public))
    }
}

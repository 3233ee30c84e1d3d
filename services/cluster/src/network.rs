//! The cluster's VM network: the `vnet` crate's [`VirtualNetwork`] (modes, leases, group
//! networks, public addresses, the firewall/NAT/DHCP plan), driven from the async handlers.
//! Its calls write its state and, with `VNET_APPLY=Y`, run `ip` and `iptables`: they run on
//! blocking threads.

use std::path::Path;
use std::sync::Arc;

use vnet::{Lease, VirtualNetwork, VnetConfig, VnetError};
use wire::cc::NetConfigType;

pub use vnet::instance_mac;

/// An address the cluster does not assign (the original's placeholder).
pub const NO_ADDRESS: &str = "0.0.0.0";

/// The group an instance joins when the cloud names none, as the original CLC's default.
const DEFAULT_GROUP: &str = "default";

/// The cluster's VM network; clones share it.
#[derive(Debug, Clone)]
pub struct Network(Arc<VirtualNetwork>);

impl Network {
    /// Opens the network's state under `state_dir` (blocking).
    pub fn open(config: VnetConfig, state_dir: &Path) -> Result<Self, VnetError> {
        VirtualNetwork::open(config, state_dir).map(|network| Self(Arc::new(network)))
    }

    /// The network parameters of a new instance of `user_id` in the first of the security
    /// groups `groups`; `requested` holds what the cloud asked for (its VLAN and MAC),
    /// `network_index` the address slot it chose.
    pub async fn lease(
        &self,
        instance_id: &str,
        user_id: &str,
        requested: &NetConfigType,
        groups: &[String],
        network_index: Option<i32>,
    ) -> Result<Lease, VnetError> {
        let (id, user, requested) = (
            instance_id.to_owned(),
            user_id.to_owned(),
            requested.clone(),
        );
        let group = groups
            .first()
            .map_or(DEFAULT_GROUP, String::as_str)
            .to_owned();
        self.call(move |network| network.lease(&id, &user, &requested, &group, network_index))
            .await
    }

    /// Gives back what [`Network::lease`] gave `instance_id`, its public mapping included.
    pub async fn release(&self, instance_id: &str) {
        let id = instance_id.to_owned();
        self.call(move |network| network.release(&id)).await;
    }

    /// Runs `operation` (one of the network operations, wire request in, wire response out) on
    /// a blocking thread.
    pub async fn call<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&VirtualNetwork) -> T + Send + 'static,
    ) -> T {
        let network = Arc::clone(&self.0);
        kit::blocking(move || operation(&network)).await
    }
}

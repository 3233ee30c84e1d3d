//! The VM network, the one seam between the cluster's handlers and networking: addresses for
//! new instances ([`Network::lease`] / [`Network::release`]) and the seven network operations,
//! each taking the wire request and answering the wire response.
//!
//! This implementation is SYSTEM mode, as the original answered in it: instances are bridged
//! to the site's network and get their addresses from the site's DHCP, so the cluster hands
//! out only a MAC made from the instance id, and addresses `0.0.0.0`; StartNetwork,
//! StopNetwork, ConfigureNetwork, AssignAddress and UnassignAddress succeed with no effect;
//! DescribePublicAddresses answers `NOTSUPPORTED`; DescribeNetworks reports mode 0 and no
//! active network.

use settings::{Settings, SettingsError};
use tracing::debug;
use wire::cc::{
    AssignAddressResponseType, AssignAddressType, ConfigureNetworkResponseType,
    ConfigureNetworkType, DescribeNetworksResponseType, DescribeNetworksType,
    DescribePublicAddressesResponseType, DescribePublicAddressesType, NetConfigType,
    StartNetworkResponseType, StartNetworkType, StopNetworkResponseType, StopNetworkType,
    UnassignAddressResponseType, UnassignAddressType,
};

use crate::reply::answer;

/// An address the cluster does not assign (the original's placeholder).
pub const NO_ADDRESS: &str = "0.0.0.0";
/// DescribePublicAddresses' status outside the MANAGED modes, as the original said it.
const NOT_SUPPORTED: &str = "NOTSUPPORTED";

/// `VNET_MODE` and what it needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkConfig {}

impl NetworkConfig {
    /// Reads the `VNET_*` settings. Only SYSTEM (the default) is implemented.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        match settings.text("VNET_MODE").as_deref() {
            None | Some("SYSTEM") => Ok(Self {}),
            Some(mode @ ("STATIC" | "MANAGED" | "MANAGED-NOVLAN")) => Err(SettingsError::Invalid {
                key: "VNET_MODE",
                reason: format!("{mode} is not available in this build; use SYSTEM"),
            }),
            Some(other) => Err(SettingsError::Invalid {
                key: "VNET_MODE",
                reason: format!(
                    "unknown mode {other:?}: use SYSTEM, STATIC, MANAGED or MANAGED-NOVLAN"
                ),
            }),
        }
    }
}

/// Why an instance could not be given network parameters.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("instance id {0:?} is not i- and 8 hex digits: no MAC address can be made from it")]
    InstanceId(String),
}

/// What an instance is given on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub mac: String,
    pub private_ip: String,
    pub public_ip: String,
    pub vlan: i32,
}

/// The cluster's VM network.
#[derive(Debug)]
pub struct Network {}

impl Network {
    pub fn new(config: &NetworkConfig) -> Self {
        // SYSTEM mode is configured by nothing.
        let NetworkConfig {} = config;
        Self {}
    }

    /// Network parameters for a new instance of `user_id` in the security groups `groups`;
    /// `requested` holds what the cloud asked for (its vlan and MAC), `network_index` the
    /// address slot it chose in the group's network, if any (RunInstances' networkIndexList).
    pub fn lease(
        &self,
        instance_id: &str,
        user_id: &str,
        requested: &NetConfigType,
        groups: &[String],
        network_index: Option<i32>,
    ) -> Result<Lease, NetworkError> {
        let mac = instance_mac(instance_id)
            .ok_or_else(|| NetworkError::InstanceId(instance_id.to_owned()))?;
        debug!(instance = instance_id, user = user_id, ?groups, ?network_index, %mac, "network lease (SYSTEM)");
        Ok(Lease {
            mac,
            private_ip: NO_ADDRESS.to_owned(),
            public_ip: NO_ADDRESS.to_owned(),
            vlan: requested.vlan,
        })
    }

    /// Returns what [`Network::lease`] gave `instance_id`; SYSTEM mode holds nothing.
    pub fn release(&self, instance_id: &str) {
        debug!(instance = instance_id, "network release (SYSTEM)");
    }

    pub fn start_network(&self, request: &StartNetworkType) -> StartNetworkResponseType {
        answer!(StartNetworkResponseType, request, Ok::<(), String>(()))
    }

    pub fn stop_network(&self, request: &StopNetworkType) -> StopNetworkResponseType {
        answer!(StopNetworkResponseType, request, Ok::<(), String>(()))
    }

    pub fn configure_network(
        &self,
        request: &ConfigureNetworkType,
    ) -> ConfigureNetworkResponseType {
        answer!(ConfigureNetworkResponseType, request, Ok::<(), String>(()))
    }

    /// Maps public `source` to private `dest`; both must be addresses, as the original checked.
    pub fn assign_address(&self, request: &AssignAddressType) -> AssignAddressResponseType {
        let outcome = address_pair(&request.source, &request.dest);
        answer!(AssignAddressResponseType, request, outcome)
    }

    pub fn unassign_address(&self, request: &UnassignAddressType) -> UnassignAddressResponseType {
        let outcome = address_pair(&request.source, &request.dest);
        answer!(UnassignAddressResponseType, request, outcome)
    }

    pub fn describe_public_addresses(
        &self,
        request: &DescribePublicAddressesType,
    ) -> DescribePublicAddressesResponseType {
        answer!(
            DescribePublicAddressesResponseType,
            request,
            Err::<(), _>(NOT_SUPPORTED)
        )
    }

    pub fn describe_networks(
        &self,
        request: &DescribeNetworksType,
    ) -> DescribeNetworksResponseType {
        answer!(
            DescribeNetworksResponseType,
            request,
            Ok::<(), String>(()),
            mode: Some(0),
            addrs_per_net: Some(0)
        )
    }
}

/// `d0:0d:` and the 8 hex digits of `i-XXXXXXXX`, paired: the original's MAC for an instance.
pub fn instance_mac(instance_id: &str) -> Option<String> {
    let hex = instance_id.strip_prefix("i-")?;
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let pairs: Vec<&str> = (0..8).step_by(2).map(|i| &hex[i..i + 2]).collect();
    Some(format!("d0:0d:{}", pairs.join(":")))
}

fn address_pair(source: &str, dest: &str) -> Result<(), String> {
    let usable = |a: &str| {
        a.parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| !a.is_unspecified())
    };
    if usable(source) && usable(dest) {
        Ok(())
    } else {
        Err(format!(
            "source {source:?} and dest {dest:?} must both be IPv4 addresses other than {NO_ADDRESS}"
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_is_made_from_the_instance_id() {
        assert_eq!(instance_mac("i-4B1F00aa").unwrap(), "d0:0d:4B:1F:00:aa");
        for bad in ["i-123", "x-12345678", "i-1234567g", "i-123456789"] {
            assert_eq!(instance_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn system_mode_leases_no_address_and_keeps_the_vlan() {
        let network = Network::new(&NetworkConfig::default());
        let requested = NetConfigType {
            vlan: 11,
            ..NetConfigType::default()
        };
        let lease = network
            .lease(
                "i-0000000a",
                "alice",
                &requested,
                &["default".into()],
                Some(3),
            )
            .unwrap();
        assert_eq!(
            lease,
            Lease {
                mac: "d0:0d:00:00:00:0a".into(),
                private_ip: NO_ADDRESS.into(),
                public_ip: NO_ADDRESS.into(),
                vlan: 11
            }
        );
        assert!(network
            .lease("i-0", "alice", &requested, &[], None)
            .is_err());
    }

    #[test]
    fn system_mode_answers_as_the_original() {
        let network = Network::new(&NetworkConfig::default());
        let addresses = network.describe_public_addresses(&DescribePublicAddressesType {
            correlation_id: Some("c".into()),
            ..DescribePublicAddressesType::default()
        });
        assert_eq!(addresses.r#return, Some(false));
        assert_eq!(addresses.status_message.as_deref(), Some(NOT_SUPPORTED));
        assert_eq!(addresses.correlation_id.as_deref(), Some("c"));
        let networks = network.describe_networks(&DescribeNetworksType::default());
        assert_eq!((networks.r#return, networks.mode), (Some(true), Some(0)));
        assert!(networks.active_networks.is_empty());
        let assign = |source: &str, dest: &str| {
            network
                .assign_address(&AssignAddressType {
                    source: source.into(),
                    dest: dest.into(),
                    ..AssignAddressType::default()
                })
                .r#return
        };
        assert_eq!(assign("192.0.2.1", "10.0.0.2"), Some(true));
        assert_eq!(assign("0.0.0.0", "10.0.0.2"), Some(false));
        assert_eq!(assign("192.0.2.1", ""), Some(false));
    }
}

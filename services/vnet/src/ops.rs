//! The CC's network operations: a wire request in, a wire response out. Each operation is a
//! `Result`-returning worker; [`operations!`] is the one place where an error becomes
//! `return=false` with its message, as the original answered (never a fault, never a panic).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::MutexGuard;

use tracing::{info, warn};
use wire::cc;

use crate::addr::{self, Cidr};
use crate::state::{Change, Group};
use crate::{check_group, Addressing, Inner, VirtualNetwork, VnetError};

/// The public operations, one per row: each calls its `Result`-returning worker, copies the
/// message fields every response carries from the request, and turns an error into
/// `return=false` with `statusMessage`.
macro_rules! operations {
    ($($(#[$doc:meta])* $name:ident($request:ident) -> $response:ident = $op:literal by $worker:ident;)*) => {
        impl VirtualNetwork {
            $(
                $(#[$doc])*
                pub fn $name(&self, r: &cc::$request) -> cc::$response {
                    let mut response = match self.$worker(r) {
                        Ok(mut body) => {
                            body.r#return = Some(true);
                            body
                        }
                        Err(e) => {
                            warn!(op = $op, user = ?r.user_id, error = %e, "refused");
                            cc::$response {
                                status_message: Some(e.to_string()),
                                r#return: Some(false),
                                ..Default::default()
                            }
                        }
                    };
                    response.correlation_id = r.correlation_id.clone();
                    response.user_id = r.user_id.clone();
                    response
                }
            )*
        }
    };
}

operations! {
    /// Creates the network of the caller's group on a VLAN.
    start_network(StartNetworkType) -> StartNetworkResponseType = "StartNetwork" by do_start_network;
    /// Removes a group's network and firewall chain.
    stop_network(StopNetworkType) -> StopNetworkResponseType = "StopNetwork" by do_stop_network;
    /// Replaces the ingress rules of the groups named.
    configure_network(ConfigureNetworkType) -> ConfigureNetworkResponseType = "ConfigureNetwork" by do_configure_network;
    /// Maps a public address to an instance's private one.
    assign_address(AssignAddressType) -> AssignAddressResponseType = "AssignAddress" by do_assign_address;
    /// Removes a public address mapping.
    unassign_address(UnassignAddressType) -> UnassignAddressResponseType = "UnassignAddress" by do_unassign_address;
    /// The public address pool and its mappings (MANAGED modes only).
    describe_public_addresses(DescribePublicAddressesType) -> DescribePublicAddressesResponseType
        = "DescribePublicAddresses" by do_describe_public_addresses;
    /// The mode, the addresses per network and the active networks.
    describe_networks(DescribeNetworksType) -> DescribeNetworksResponseType = "DescribeNetworks" by do_describe_networks;
}

impl VirtualNetwork {
    /// The state, in the MANAGED modes only: SYSTEM and STATIC have no group networks, so
    /// the group operations have nothing to do there.
    fn lock_managed(&self) -> Option<MutexGuard<'_, Inner>> {
        matches!(self.config.addressing, Addressing::Managed { .. }).then(|| self.lock())
    }

    /// Creates the network of the caller's group `netName` on `vlan` (the lowest free VLAN
    /// when none is given). SYSTEM and STATIC have no group networks: nothing to do.
    fn do_start_network(
        &self,
        r: &cc::StartNetworkType,
    ) -> Result<cc::StartNetworkResponseType, VnetError> {
        let Some(mut inner) = self.lock_managed() else {
            return Ok(Default::default());
        };
        let group = caller_group(r.user_id.as_deref(), r.net_name.as_deref())?;
        let nameserver = optional_ip(r.nameserver.as_deref())?;
        if !r.cluster_controllers.is_empty() {
            info!(
                peers = r.cluster_controllers.len(),
                "tunnels to other clusters are not made; groups span this cluster only"
            );
        }
        let (vlan, start) = self.resolve_vlan(&inner.state, &group, r.vlan.filter(|v| *v > 0))?;
        let mut changes: Vec<Change> = start.into_iter().collect();
        if let Some(ip) = nameserver.filter(|ip| inner.state.nameserver != Some(*ip)) {
            changes.push(Change::Nameserver(ip));
        }
        self.commit(&mut inner, changes)?;
        info!(vlan, user = %group.user, network = %group.name, "network started");
        Ok(Default::default())
    }

    /// Removes the network on `vlan` (or of the caller's `netName`), with its firewall chain.
    /// Stopping a network that is not there succeeds, as in the original.
    fn do_stop_network(
        &self,
        r: &cc::StopNetworkType,
    ) -> Result<cc::StopNetworkResponseType, VnetError> {
        let Some(mut inner) = self.lock_managed() else {
            return Ok(Default::default());
        };
        let named = r
            .net_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(|name| Group {
                user: r.user_id.clone().unwrap_or_default(),
                name: name.to_owned(),
            });
        let vlan = match (r.vlan.filter(|v| *v > 0), &named) {
            (Some(vlan), _) => vlan,
            (None, Some(group)) => match inner.state.vlan_of(group) {
                Some(vlan) => vlan,
                None => return Ok(Default::default()),
            },
            (None, None) => {
                return Err(VnetError::BadRequest(
                    "StopNetwork needs a vlan or a netName".into(),
                ))
            }
        };
        let Some(current) = inner.state.networks.get(&vlan) else {
            return Ok(Default::default());
        };
        if let Some(group) = named.filter(|g| g != current) {
            return Err(VnetError::Conflict(format!(
                "VLAN {vlan} carries network {}/{}, not {}/{}",
                current.user, current.name, group.user, group.name
            )));
        }
        self.commit(&mut inner, vec![Change::StopNetwork { vlan }])?;
        info!(vlan, "network stopped");
        Ok(Default::default())
    }

    /// Replaces the ingress rules of every group the request names (the original flushed a
    /// group's chain before adding its rules). The request is checked whole first: a bad
    /// rule changes nothing.
    fn do_configure_network(
        &self,
        r: &cc::ConfigureNetworkType,
    ) -> Result<cc::ConfigureNetworkResponseType, VnetError> {
        let Some(mut inner) = self.lock_managed() else {
            return Ok(Default::default());
        };
        let state = &inner.state;
        let mut order: Vec<Group> = Vec::new();
        let mut rules: Vec<(Group, String)> = Vec::new();
        for rule in &r.rules {
            let dest = Group {
                user: rule
                    .dest_user_name
                    .clone()
                    .filter(|u| !u.is_empty())
                    .or_else(|| r.user_id.clone())
                    .unwrap_or_default(),
                name: rule.dest_name.clone(),
            };
            let vlan = state
                .vlan_of(&dest)
                .ok_or_else(|| VnetError::UnknownNetwork {
                    user: dest.user.clone(),
                    name: dest.name.clone(),
                })?;
            let dest_block = self.block_of(vlan)?;
            if !order.contains(&dest) {
                order.push(dest.clone());
            }
            let opens = match rule.r#type.as_str() {
                "firewall-open" => true,
                // Closing means flushing the chain, which replacing its rules already does.
                "firewall-close" => false,
                other => {
                    return Err(VnetError::BadRequest(format!(
                        "rule type {other:?} is not firewall-open or firewall-close"
                    )))
                }
            };
            let filter = protocol_filter(&rule.protocol, rule.port_range_min, rule.port_range_max)?;
            if rule.source_names.len() != rule.user_names.len() {
                return Err(VnetError::BadRequest(
                    "a rule's sourceNames and userNames must pair up".into(),
                ));
            }
            let mut sources: Vec<Cidr> = Vec::new();
            for (name, user) in rule.source_names.iter().zip(&rule.user_names) {
                let source = Group {
                    user: user.clone(),
                    name: name.clone(),
                };
                match state.vlan_of(&source) {
                    Some(vlan) => sources.push(self.block_of(vlan)?),
                    // As the original: a group with no network yet has no addresses to allow.
                    None => {
                        warn!(user = %user, network = %name, "rule source has no network; skipped")
                    }
                }
            }
            for net in &rule.source_nets {
                sources.push(Cidr::parse(net).map_err(VnetError::BadRequest)?);
            }
            if opens {
                for source in sources {
                    rules.push((dest.clone(), rule_spec(source, dest_block, &filter)));
                }
            }
        }
        let changes = order
            .into_iter()
            .map(|group| {
                let mut specs: Vec<String> = Vec::new();
                for (_, spec) in rules.iter().filter(|(g, _)| *g == group) {
                    if !specs.contains(spec) {
                        specs.push(spec.clone());
                    }
                }
                Change::Rules {
                    group,
                    rules: specs,
                }
            })
            .collect();
        self.commit(&mut inner, changes)?;
        Ok(Default::default())
    }

    /// Maps public address `source` to private address `dest` (DNAT in, SNAT out).
    fn do_assign_address(
        &self,
        r: &cc::AssignAddressType,
    ) -> Result<cc::AssignAddressResponseType, VnetError> {
        let (public, private) = address_pair(&r.source, &r.dest)?;
        let Addressing::Managed {
            subnet, public_ips, ..
        } = &self.config.addressing
        else {
            return Ok(Default::default());
        };
        if !public_ips.contains(&public) {
            return Err(VnetError::BadRequest(format!(
                "{public} is not in VNET_PUBLICIPS"
            )));
        }
        if !subnet.contains(private) {
            return Err(VnetError::BadRequest(format!(
                "{private} is outside VNET_SUBNET {subnet}"
            )));
        }
        let mut inner = self.lock();
        match inner.state.public.get(&public) {
            Some(current) if *current == private => return Ok(Default::default()),
            Some(current) => {
                return Err(VnetError::Conflict(format!(
                    "{public} is already assigned to {current}"
                )))
            }
            None => {}
        }
        if let Some(other) = inner.state.public_of(private) {
            return Err(VnetError::Conflict(format!(
                "{private} already has public address {other}"
            )));
        }
        self.commit(&mut inner, vec![Change::Map { public, private }])?;
        info!(%public, %private, "address assigned");
        Ok(Default::default())
    }

    /// Removes the mapping of public address `source`; an unmapped address succeeds.
    fn do_unassign_address(
        &self,
        r: &cc::UnassignAddressType,
    ) -> Result<cc::UnassignAddressResponseType, VnetError> {
        let (public, private) = address_pair(&r.source, &r.dest)?;
        let Addressing::Managed { public_ips, .. } = &self.config.addressing else {
            return Ok(Default::default());
        };
        if !public_ips.contains(&public) {
            return Err(VnetError::BadRequest(format!(
                "{public} is not in VNET_PUBLICIPS"
            )));
        }
        let mut inner = self.lock();
        let Some(current) = inner.state.public.get(&public).copied() else {
            return Ok(Default::default());
        };
        if current != private {
            // As the original: the address is freed whatever the cloud thinks it maps to.
            warn!(%public, %current, named = %private, "unassigning an address from another instance than named");
        }
        self.commit(&mut inner, vec![Change::Unmap { public }])?;
        info!(%public, private = %current, "address unassigned");
        Ok(Default::default())
    }

    /// The public pool in VNET_PUBLICIPS order, each with its private address or "".
    fn do_describe_public_addresses(
        &self,
        _: &cc::DescribePublicAddressesType,
    ) -> Result<cc::DescribePublicAddressesResponseType, VnetError> {
        let Addressing::Managed { public_ips, .. } = &self.config.addressing else {
            return Err(VnetError::NotSupported(self.mode()));
        };
        let inner = self.lock();
        let dest = |ip: &Ipv4Addr| {
            inner
                .state
                .public
                .get(ip)
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        Ok(cc::DescribePublicAddressesResponseType {
            source_addresses: public_ips.iter().map(ToString::to_string).collect(),
            dest_addresses: public_ips.iter().map(dest).collect(),
            ..Default::default()
        })
    }

    /// The mode (1 for the MANAGED modes, else 0), the addresses per network and the active
    /// networks with the address slots in use (network, router, broadcast and instances).
    fn do_describe_networks(
        &self,
        r: &cc::DescribeNetworksType,
    ) -> Result<cc::DescribeNetworksResponseType, VnetError> {
        let nameserver = optional_ip(r.nameserver.as_deref())?;
        let mut inner = self.lock();
        if let Some(ip) = nameserver.filter(|ip| inner.state.nameserver != Some(*ip)) {
            self.commit(&mut inner, vec![Change::Nameserver(ip)])?;
        }
        let state = &inner.state;
        let (mode, addrs_per_net) = match &self.config.addressing {
            Addressing::System => (0, 0),
            Addressing::Static { subnet, .. } => {
                (0, i32::try_from(subnet.size() - 1).unwrap_or(i32::MAX))
            }
            Addressing::Managed { addrs_per_net, .. } => (1, *addrs_per_net as i32),
        };
        let mut active_networks = Vec::new();
        if let Some(layout) = self.layout() {
            let by_vlan = state.leases_by_vlan();
            for (vlan, group) in &state.networks {
                let Some(block) = layout.block(*vlan) else {
                    continue;
                };
                let last = u64::from(layout.addrs_per_net) - 1;
                let mut slots: BTreeSet<u64> = [0, 1, last].into();
                slots.extend(
                    by_vlan
                        .get(vlan)
                        .into_iter()
                        .flatten()
                        .filter_map(|l| block.index_of(l.private_ip)),
                );
                active_networks.push(cc::NetworkType {
                    vlan: *vlan,
                    net_name: group.name.clone(),
                    user_name: group.user.clone(),
                    active_addrs: slots.into_iter().map(|s| s as i32).collect(),
                });
            }
        }
        Ok(cc::DescribeNetworksResponseType {
            mode: Some(mode),
            addrs_per_net: Some(addrs_per_net),
            active_networks,
            ..Default::default()
        })
    }

    fn block_of(&self, vlan: i32) -> Result<Cidr, VnetError> {
        self.layout()
            .and_then(|l| l.block(vlan))
            .ok_or_else(|| VnetError::BadRequest(format!("VLAN {vlan} has no network")))
    }
}

/// The caller's group named `net_name`, checked for use as a chain name.
fn caller_group(user: Option<&str>, net_name: Option<&str>) -> Result<Group, VnetError> {
    let group = Group {
        user: user.unwrap_or_default().to_owned(),
        name: net_name.unwrap_or_default().to_owned(),
    };
    check_group(&group)?;
    Ok(group)
}

/// An optional address field; empty counts as absent.
fn optional_ip(text: Option<&str>) -> Result<Option<Ipv4Addr>, VnetError> {
    text.filter(|t| !t.trim().is_empty())
        .map(|t| addr::parse_ip(t).map_err(VnetError::BadRequest))
        .transpose()
}

/// `source` (public) and `dest` (private) of Assign/UnassignAddress; 0.0.0.0 is refused as
/// the original did.
fn address_pair(source: &str, dest: &str) -> Result<(Ipv4Addr, Ipv4Addr), VnetError> {
    let parse = |text: &str| {
        addr::parse_ip(text)
            .ok()
            .filter(|ip| !ip.is_unspecified())
            .ok_or_else(|| VnetError::BadRequest(format!("{text:?} is not a usable address")))
    };
    Ok((parse(source)?, parse(dest)?))
}

/// The protocol part of a rule, in the form `iptables-save` prints: `-p tcp -m tcp --dport
/// 22` (ports only for tcp and udp, and only when both ends are given, as the original).
fn protocol_filter(protocol: &str, min: i32, max: i32) -> Result<String, VnetError> {
    let protocol = protocol.trim().to_ascii_lowercase();
    match protocol.as_str() {
        "tcp" | "udp" if min != 0 && max != 0 => {
            let valid = |p: i32| (1..=65535).contains(&p);
            if !valid(min) || !valid(max) || min > max {
                return Err(VnetError::BadRequest(format!(
                    "port range {min}-{max} must run upwards within 1..65535"
                )));
            }
            let ports = if min == max {
                min.to_string()
            } else {
                format!("{min}:{max}")
            };
            Ok(format!("-p {protocol} -m {protocol} --dport {ports}"))
        }
        "tcp" | "udp" | "icmp" => Ok(format!("-p {protocol}")),
        other => Err(VnetError::BadRequest(format!(
            "protocol {other:?} is not tcp, udp or icmp"
        ))),
    }
}

/// One accept rule from `source` to `dest`; `iptables-save` leaves out a source of 0.0.0.0/0.
fn rule_spec(source: Cidr, dest: Cidr, filter: &str) -> String {
    let source = if source.prefix() == 0 {
        String::new()
    } else {
        format!("-s {source} ")
    };
    format!("{source}-d {dest} {filter} -j ACCEPT")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rules_read_as_iptables_save_prints_them() {
        let dest = Cidr::parse("10.0.0.0/27").unwrap();
        let any = Cidr::parse("0.0.0.0/0").unwrap();
        let host = Cidr::parse("1.2.3.4").unwrap();
        assert_eq!(
            rule_spec(host, dest, &protocol_filter("TCP", 22, 22).unwrap()),
            "-s 1.2.3.4/32 -d 10.0.0.0/27 -p tcp -m tcp --dport 22 -j ACCEPT"
        );
        assert_eq!(
            rule_spec(any, dest, &protocol_filter("udp", 1000, 2000).unwrap()),
            "-d 10.0.0.0/27 -p udp -m udp --dport 1000:2000 -j ACCEPT"
        );
        assert_eq!(protocol_filter("icmp", -1, -1).unwrap(), "-p icmp");
        assert_eq!(protocol_filter("tcp", 0, 0).unwrap(), "-p tcp");
        assert!(protocol_filter("tcp", 80, 22).is_err());
        assert!(protocol_filter("tcp", 1, 70000).is_err());
        assert!(protocol_filter("gre", 0, 0).is_err());
    }

    #[test]
    fn address_pairs_refuse_the_unspecified_address() {
        assert!(address_pair("1.2.3.4", "10.0.0.2").is_ok());
        assert!(address_pair("0.0.0.0", "10.0.0.2").is_err());
        assert!(address_pair("1.2.3.4", "").is_err());
        assert!(address_pair("1.2.3", "10.0.0.2").is_err());
    }
}

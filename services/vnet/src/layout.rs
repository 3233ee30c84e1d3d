//! How MANAGED mode cuts VNET_SUBNET into group networks, as the original did: VLAN 2 gets
//! the first VNET_ADDRSPERNET addresses, VLAN 3 the next, and so on. In each network the
//! first address names the network, the second is the router (the CC's address on it), the
//! last is the broadcast address, and instances get the ones from the third to the last but
//! one.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use crate::addr::Cidr;

/// The lowest VLAN of a group network (the original kept 0 and 1 out).
pub const FIRST_VLAN: i32 = 2;
/// The highest 802.1q VLAN id that may be used (4095 is reserved).
pub const LAST_VLAN: i32 = 4094;
/// The first host index in a network: 0 is the network, 1 the router.
pub const FIRST_HOST: u64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub subnet: Cidr,
    pub addrs_per_net: u32,
}

impl Layout {
    /// The VLANs the subnet has room for.
    pub fn vlans(&self) -> RangeInclusive<i32> {
        let blocks = self.subnet.size() / u64::from(self.addrs_per_net);
        let last = (i64::from(FIRST_VLAN) + blocks as i64 - 1).min(i64::from(LAST_VLAN));
        FIRST_VLAN..=last as i32
    }

    /// The network of `vlan`, if the subnet has room for it.
    pub fn block(&self, vlan: i32) -> Option<Cidr> {
        if !self.vlans().contains(&vlan) {
            return None;
        }
        let offset = (vlan - FIRST_VLAN) as u64 * u64::from(self.addrs_per_net);
        let prefix = 32 - self.addrs_per_net.trailing_zeros() as u8;
        Cidr::new(self.subnet.nth(offset)?, prefix).ok()
    }

    /// Host indices instances may take in a network.
    pub fn host_indices(&self) -> RangeInclusive<u64> {
        FIRST_HOST..=u64::from(self.addrs_per_net) - 2
    }

    pub fn router(&self, block: Cidr) -> Option<Ipv4Addr> {
        block.nth(1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn layout(subnet: &str, per_net: u32) -> Layout {
        Layout {
            subnet: Cidr::parse(subnet).unwrap(),
            addrs_per_net: per_net,
        }
    }

    #[test]
    fn vlans_get_consecutive_blocks_from_vlan_two() {
        let l = layout("10.0.0.0/16", 32);
        assert_eq!(l.vlans(), 2..=2049);
        assert_eq!(l.block(2).unwrap().to_string(), "10.0.0.0/27");
        assert_eq!(l.block(3).unwrap().to_string(), "10.0.0.32/27");
        assert_eq!(l.block(10).unwrap().to_string(), "10.0.1.0/27");
        assert_eq!(l.block(2049).unwrap().to_string(), "10.0.255.224/27");
        assert_eq!(l.block(2050), None);
        assert_eq!(l.block(1), None);
        assert_eq!(
            l.router(l.block(3).unwrap()),
            Some(Ipv4Addr::new(10, 0, 0, 33))
        );
        assert_eq!(l.host_indices(), 2..=30);
    }

    #[test]
    fn the_vlan_range_stops_at_4094_and_at_the_subnet_end() {
        assert_eq!(layout("10.0.0.0/8", 16).vlans(), 2..=4094);
        assert_eq!(layout("192.168.0.0/24", 64).vlans(), 2..=5);
        assert_eq!(layout("192.168.0.0/24", 256).vlans(), 2..=2);
        // The smallest network holds one instance.
        assert_eq!(layout("192.168.0.0/24", 4).host_indices(), 2..=2);
    }
}

//! IPv4 arithmetic: addresses, netmasks, CIDR blocks and the public address list syntax of
//! `VNET_PUBLICIPS`. Everything here is pure and returns a reason text on bad input, which the
//! callers wrap into their own errors.

use std::fmt;
use std::net::Ipv4Addr;

/// The most public addresses a cluster manages (the original kept a table of 256 slots).
pub const MAX_PUBLIC_IPS: usize = 256;

/// A dotted-quad IPv4 address, nothing else (no host names, no shorthand forms).
pub fn parse_ip(text: &str) -> Result<Ipv4Addr, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not an IPv4 address"))
}

/// The prefix length of a netmask such as 255.255.255.0, refusing masks with holes.
pub fn netmask_prefix(mask: Ipv4Addr) -> Result<u8, String> {
    let bits = u32::from(mask);
    let prefix = bits.leading_ones();
    if bits.checked_shl(prefix).unwrap_or(0) != 0 {
        return Err(format!(
            "{mask} is not a netmask (its one bits are not contiguous)"
        ));
    }
    Ok(prefix as u8)
}

fn mask_bits(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// A block of addresses `network/prefix`, its network address always aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    network: Ipv4Addr,
    prefix: u8,
}

impl Cidr {
    /// The block of `prefix` bits holding `addr` (host bits are cleared).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, String> {
        if prefix > 32 {
            return Err(format!("/{prefix} is not a prefix length (0 to 32)"));
        }
        let network = Ipv4Addr::from(u32::from(addr) & mask_bits(prefix));
        Ok(Self { network, prefix })
    }

    /// `a.b.c.d/n`, or a bare address meaning `/32`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        match text.split_once('/') {
            Some((addr, prefix)) => {
                let prefix = prefix
                    .parse()
                    .map_err(|_| format!("{text:?} has no valid prefix length"))?;
                Self::new(parse_ip(addr)?, prefix)
            }
            None => Self::new(parse_ip(text)?, 32),
        }
    }

    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask_bits(self.prefix))
    }

    /// How many addresses the block spans, network and broadcast included.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !mask_bits(self.prefix))
    }

    /// The address `index` places after the network address, if the block holds it.
    pub fn nth(&self, index: u64) -> Option<Ipv4Addr> {
        (index < self.size()).then(|| Ipv4Addr::from(u32::from(self.network) + index as u32))
    }

    /// Where `addr` stands in the block, if it is inside.
    pub fn index_of(&self, addr: Ipv4Addr) -> Option<u64> {
        self.contains(addr)
            .then(|| u64::from(u32::from(addr) - u32::from(self.network)))
    }

    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask_bits(self.prefix) == u32::from(self.network)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The public address pool of `VNET_PUBLICIPS`, as the original read it: space-separated
/// entries, each a single address, an inclusive range `a.b.c.d-e.f.g.h` (at most 256
/// addresses, none on loopback), a block `a.b.c.d/n` (its addresses between network and
/// broadcast), or `!a.b.c.d` to take an address listed earlier out again. Order is kept and
/// repeats are dropped.
pub fn parse_public_ips(text: &str) -> Result<Vec<Ipv4Addr>, String> {
    let mut pool: Vec<Ipv4Addr> = Vec::new();
    for entry in text.split_whitespace() {
        if let Some(removed) = entry.strip_prefix('!') {
            let removed = parse_ip(removed)?;
            pool.retain(|ip| *ip != removed);
            continue;
        }
        for ip in public_entry(entry)? {
            if !pool.contains(&ip) {
                pool.push(ip);
            }
        }
        if pool.len() > MAX_PUBLIC_IPS {
            return Err(format!(
                "more than {MAX_PUBLIC_IPS} public addresses (at {entry:?})"
            ));
        }
    }
    Ok(pool)
}

fn public_entry(entry: &str) -> Result<Vec<Ipv4Addr>, String> {
    let (first, last) = if let Some((first, last)) = entry.split_once('-') {
        let (first, last) = (u32::from(parse_ip(first)?), u32::from(parse_ip(last)?));
        if first > last || last - first >= MAX_PUBLIC_IPS as u32 {
            return Err(format!(
                "range {entry:?} must run upwards over at most {MAX_PUBLIC_IPS} addresses"
            ));
        }
        (first, last)
    } else if entry.contains('/') {
        let block = Cidr::parse(entry)?;
        if block.size() < 4 || block.size() > MAX_PUBLIC_IPS as u64 + 2 {
            return Err(format!(
                "block {entry:?} must hold between 2 and {MAX_PUBLIC_IPS} usable addresses"
            ));
        }
        let network = u32::from(block.network());
        (network + 1, u32::from(block.broadcast()) - 1)
    } else {
        let ip = u32::from(parse_ip(entry)?);
        (ip, ip)
    };
    let ips: Vec<Ipv4Addr> = (first..=last).map(Ipv4Addr::from).collect();
    if let Some(ip) = ips
        .iter()
        .find(|ip| ip.is_loopback() || ip.is_unspecified())
    {
        return Err(format!("{entry:?} includes {ip}, which cannot be public"));
    }
    Ok(ips)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    #[test]
    fn netmasks_become_prefixes_and_holes_are_refused() {
        assert_eq!(netmask_prefix(ip("255.255.0.0")), Ok(16));
        assert_eq!(netmask_prefix(ip("255.255.255.255")), Ok(32));
        assert_eq!(netmask_prefix(ip("0.0.0.0")), Ok(0));
        assert!(netmask_prefix(ip("255.0.255.0")).is_err());
    }

    #[test]
    fn blocks_are_aligned_and_know_their_edges() {
        let block = Cidr::parse("10.1.2.77/27").unwrap();
        assert_eq!(block.to_string(), "10.1.2.64/27");
        assert_eq!(block.netmask(), ip("255.255.255.224"));
        assert_eq!(block.broadcast(), ip("10.1.2.95"));
        assert_eq!(block.size(), 32);
        assert_eq!(block.nth(2), Some(ip("10.1.2.66")));
        assert_eq!(block.nth(32), None);
        assert_eq!(block.index_of(ip("10.1.2.95")), Some(31));
        assert_eq!(block.index_of(ip("10.1.2.96")), None);
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().size(), 1 << 32);
        assert_eq!(Cidr::parse("1.2.3.4").unwrap().to_string(), "1.2.3.4/32");
        assert!(Cidr::parse("1.2.3.4/33").is_err());
        assert!(Cidr::parse("1.2.3/8").is_err());
        assert!(Cidr::parse("1.2.3.4/x").is_err());
    }

    #[test]
    fn public_lists_take_singles_ranges_blocks_and_removals() {
        let pool = parse_public_ips("192.168.7.10 192.168.7.20-192.168.7.22 10.9.0.0/30").unwrap();
        let want: Vec<Ipv4Addr> = [
            "192.168.7.10",
            "192.168.7.20",
            "192.168.7.21",
            "192.168.7.22",
            "10.9.0.1",
            "10.9.0.2",
        ]
        .iter()
        .map(|t| ip(t))
        .collect();
        assert_eq!(pool, want);
        let pool = parse_public_ips("1.1.1.1-1.1.1.3 1.1.1.2 !1.1.1.1").unwrap();
        assert_eq!(pool, vec![ip("1.1.1.2"), ip("1.1.1.3")]);
        assert!(parse_public_ips("").unwrap().is_empty());
    }

    #[test]
    fn public_lists_refuse_what_the_original_refused() {
        assert!(parse_public_ips("1.1.1.5-1.1.1.1").is_err(), "downwards");
        assert!(
            parse_public_ips("1.1.0.0-1.1.1.0").is_err(),
            "257 addresses"
        );
        assert!(parse_public_ips("127.0.0.1-127.0.0.3").is_err(), "loopback");
        assert!(parse_public_ips("1.1.1.1/31").is_err(), "no usable host");
        assert!(parse_public_ips("one.two").is_err());
        assert!(
            parse_public_ips("1.1.0.0/24 1.1.1.0/24").is_err(),
            "over 256"
        );
    }
}

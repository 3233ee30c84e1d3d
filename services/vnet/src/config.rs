//! The `VNET_*` settings of eucalyptus.conf, read and checked once into a [`VnetConfig`].

use std::fmt;
use std::net::{Ipv4Addr, ToSocketAddrs};

use crate::addr::{self, Cidr};
use crate::VnetError;

/// How the cluster gives instances their network (`VNET_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Instances are bridged to the site network and get addresses from the site's DHCP.
    System,
    /// Fixed MAC/IP pairs from `VNET_MACMAP`, served by the cluster's DHCP server.
    Static,
    /// A VLAN and subnet per security group, public addresses by NAT, firewall per group.
    Managed,
    /// As MANAGED, but all groups share one layer-2 network (no VLAN tagging).
    ManagedNoVlan,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Self::System => "SYSTEM",
            Self::Static => "STATIC",
            Self::Managed => "MANAGED",
            Self::ManagedNoVlan => "MANAGED-NOVLAN",
        }
    }

    fn parse(text: &str) -> Result<Self, VnetError> {
        [
            Self::System,
            Self::Static,
            Self::Managed,
            Self::ManagedNoVlan,
        ]
        .into_iter()
        .find(|mode| mode.name().eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| {
            invalid(
                "VNET_MODE",
                format!("{text:?} is not SYSTEM, STATIC, MANAGED or MANAGED-NOVLAN"),
            )
        })
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `mac=ip` pair of `VNET_MACMAP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticHost {
    pub mac: String,
    pub ip: Ipv4Addr,
}

/// What each mode needs beyond the shared settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addressing {
    System,
    Static {
        subnet: Cidr,
        broadcast: Ipv4Addr,
        router: Ipv4Addr,
        dns: Ipv4Addr,
        hosts: Vec<StaticHost>,
    },
    Managed {
        /// False in MANAGED-NOVLAN.
        vlans: bool,
        subnet: Cidr,
        dns: Ipv4Addr,
        /// Addresses per group network, a power of two of at least 4.
        addrs_per_net: u32,
        public_ips: Vec<Ipv4Addr>,
        /// Where 169.254.169.254:80 (instance metadata) is forwarded, on port 8773.
        cloud_ip: Option<Ipv4Addr>,
    },
}

/// The cluster's network settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VnetConfig {
    pub addressing: Addressing,
    pub priv_interface: String,
    pub pub_interface: String,
    /// The bridge instances join in MANAGED-NOVLAN (the gateway addresses go on it);
    /// `VNET_PRIVINTERFACE` when unset.
    pub bridge: Option<String>,
    pub dhcp_daemon: Option<String>,
    /// `VNET_APPLY=Y`: make the host match the plan (inside [`Self::netns`]).
    pub apply: bool,
    /// The network namespace plans are applied in; named after the state folder when unset.
    pub netns: Option<String>,
}

impl VnetConfig {
    /// SYSTEM mode with the original's defaults: nothing to allocate, nothing applied.
    pub fn system() -> Self {
        Self {
            addressing: Addressing::System,
            priv_interface: "eth0".into(),
            pub_interface: "eth0".into(),
            bridge: None,
            dhcp_daemon: None,
            apply: false,
            netns: None,
        }
    }

    pub fn mode(&self) -> Mode {
        match &self.addressing {
            Addressing::System => Mode::System,
            Addressing::Static { .. } => Mode::Static,
            Addressing::Managed { vlans: true, .. } => Mode::Managed,
            Addressing::Managed { vlans: false, .. } => Mode::ManagedNoVlan,
        }
    }

    /// Reads the `VNET_*` keys, with the original's defaults (SYSTEM mode, `eth0`), and
    /// refuses incomplete or inconsistent values with the key that is wrong.
    pub fn from_settings(s: &settings::Settings) -> Result<Self, VnetError> {
        let mode = match s.text("VNET_MODE") {
            Some(text) => Mode::parse(&text)?,
            None => Mode::System,
        };
        // VNET_INTERFACE is the original's older name for both interfaces.
        let legacy = s.text("VNET_INTERFACE");
        let priv_interface = s
            .text("VNET_PRIVINTERFACE")
            .or_else(|| legacy.clone())
            .unwrap_or_else(|| "eth0".into());
        let pub_interface = s
            .text("VNET_PUBINTERFACE")
            .or(legacy)
            .unwrap_or_else(|| "eth0".into());
        check_device("VNET_PRIVINTERFACE", &priv_interface)?;
        check_device("VNET_PUBINTERFACE", &pub_interface)?;
        let bridge = s.text("VNET_BRIDGE");
        if let Some(bridge) = &bridge {
            check_device("VNET_BRIDGE", bridge)?;
        }
        let addressing = match mode {
            Mode::System => Addressing::System,
            Mode::Static => static_addressing(s)?,
            Mode::Managed | Mode::ManagedNoVlan => managed_addressing(s, mode == Mode::Managed)?,
        };
        if mode == Mode::Managed && priv_interface.len() > 10 {
            // Its VLAN devices are named PRIV.<vlan>, and device names end at 15 bytes.
            return Err(invalid(
                "VNET_PRIVINTERFACE",
                format!("{priv_interface:?} is too long for VLAN devices (at most 10 bytes in MANAGED mode)"),
            ));
        }
        let apply = match s.text("VNET_APPLY") {
            None => false,
            Some(text) if text.eq_ignore_ascii_case("Y") => true,
            Some(text) if text.eq_ignore_ascii_case("N") => false,
            Some(text) => return Err(invalid("VNET_APPLY", format!("{text:?} is not Y or N"))),
        };
        let netns = s.text("VNET_NETNS");
        if let Some(name) = &netns {
            check_netns(name)?;
        }
        Ok(Self {
            addressing,
            priv_interface,
            pub_interface,
            bridge,
            dhcp_daemon: s.text("VNET_DHCPDAEMON").filter(|d| !d.trim().is_empty()),
            apply,
            netns,
        })
    }
}

fn invalid(key: &'static str, reason: String) -> VnetError {
    VnetError::Setting { key, reason }
}

fn required(s: &settings::Settings, key: &'static str, mode: &str) -> Result<String, VnetError> {
    s.text(key)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| invalid(key, format!("must be set in {mode} mode")))
}

fn ip_setting(
    s: &settings::Settings,
    key: &'static str,
    mode: &str,
) -> Result<Ipv4Addr, VnetError> {
    addr::parse_ip(&required(s, key, mode)?).map_err(|reason| invalid(key, reason))
}

/// VNET_SUBNET and VNET_NETMASK as one block; the subnet must be the block's own address.
fn subnet_setting(s: &settings::Settings, mode: &str) -> Result<Cidr, VnetError> {
    let network = ip_setting(s, "VNET_SUBNET", mode)?;
    let mask = ip_setting(s, "VNET_NETMASK", mode)?;
    let prefix = addr::netmask_prefix(mask).map_err(|reason| invalid("VNET_NETMASK", reason))?;
    let block = Cidr::new(network, prefix).map_err(|reason| invalid("VNET_NETMASK", reason))?;
    if block.network() != network {
        return Err(invalid(
            "VNET_SUBNET",
            format!(
                "{network} is not the network address of netmask {mask} (that is {})",
                block.network()
            ),
        ));
    }
    Ok(block)
}

fn static_addressing(s: &settings::Settings) -> Result<Addressing, VnetError> {
    let mode = "STATIC";
    let subnet = subnet_setting(s, mode)?;
    let broadcast = ip_setting(s, "VNET_BROADCAST", mode)?;
    let router = ip_setting(s, "VNET_ROUTER", mode)?;
    let dns = ip_setting(s, "VNET_DNS", mode)?;
    let mut hosts: Vec<StaticHost> = Vec::new();
    for pair in required(s, "VNET_MACMAP", mode)?.split_whitespace() {
        let bad = |reason: String| invalid("VNET_MACMAP", format!("{pair:?}: {reason}"));
        let (mac, ip) = pair
            .split_once('=')
            .ok_or_else(|| bad("expected MAC=IP".into()))?;
        let mac = normalize_mac(mac).ok_or_else(|| bad(format!("{mac:?} is not a MAC address")))?;
        let ip = addr::parse_ip(ip).map_err(bad)?;
        if !subnet.contains(ip) {
            return Err(bad(format!("{ip} is outside VNET_SUBNET {subnet}")));
        }
        if hosts.iter().any(|h| h.mac == mac || h.ip == ip) {
            return Err(bad("the MAC or the address is listed twice".into()));
        }
        hosts.push(StaticHost { mac, ip });
    }
    Ok(Addressing::Static {
        subnet,
        broadcast,
        router,
        dns,
        hosts,
    })
}

fn managed_addressing(s: &settings::Settings, vlans: bool) -> Result<Addressing, VnetError> {
    let mode = if vlans { "MANAGED" } else { "MANAGED-NOVLAN" };
    let subnet = subnet_setting(s, mode)?;
    let dns = ip_setting(s, "VNET_DNS", mode)?;
    let per_net = required(s, "VNET_ADDRSPERNET", mode)?;
    let addrs_per_net: u32 = per_net
        .trim()
        .parse()
        .ok()
        .filter(|n: &u32| n.is_power_of_two() && *n >= 4 && u64::from(*n) <= subnet.size())
        .ok_or_else(|| {
            invalid(
                "VNET_ADDRSPERNET",
                format!("{per_net:?} must be a power of two, at least 4 and at most the subnet's {} addresses", subnet.size()),
            )
        })?;
    let public_ips = match s.text("VNET_PUBLICIPS") {
        Some(text) => {
            addr::parse_public_ips(&text).map_err(|reason| invalid("VNET_PUBLICIPS", reason))?
        }
        None => Vec::new(),
    };
    let cloud_ip = s
        .text("VNET_CLOUDIP")
        .map(|host| resolve("VNET_CLOUDIP", &host))
        .transpose()?;
    Ok(Addressing::Managed {
        vlans,
        subnet,
        dns,
        addrs_per_net,
        public_ips,
        cloud_ip,
    })
}

/// An address, or a host name resolved to its first IPv4 address (as the original did).
fn resolve(key: &'static str, host: &str) -> Result<Ipv4Addr, VnetError> {
    if let Ok(ip) = addr::parse_ip(host) {
        return Ok(ip);
    }
    (host.trim(), 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| {
            addrs.find_map(|a| match a.ip() {
                std::net::IpAddr::V4(ip) => Some(ip),
                std::net::IpAddr::V6(_) => None,
            })
        })
        .ok_or_else(|| {
            invalid(
                key,
                format!("{host:?} is neither an IPv4 address nor a host name with one"),
            )
        })
}

/// `aa:bb:cc:dd:ee:ff` in lower case, from any case.
pub(crate) fn normalize_mac(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    let valid = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    valid.then(|| parts.join(":").to_ascii_lowercase())
}

/// Letters, digits and `-_.`, not starting with a dot, at most `max` bytes: safe as an
/// interface or namespace name and as a command argument.
fn plain_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A Linux interface name (at most 15 bytes).
fn check_device(key: &'static str, name: &str) -> Result<(), VnetError> {
    if plain_name(name, 15) {
        Ok(())
    } else {
        Err(invalid(key, format!("{name:?} is not an interface name")))
    }
}

fn check_netns(name: &str) -> Result<(), VnetError> {
    if plain_name(name, 64) {
        Ok(())
    } else {
        Err(invalid(
            "VNET_NETNS",
            format!("{name:?} is not a namespace name"),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Result<VnetConfig, VnetError> {
        VnetConfig::from_settings(
            &settings::Settings::parse(text, Path::new("eucalyptus.conf")).unwrap(),
        )
    }

    const MANAGED: &str = "VNET_MODE=MANAGED\nVNET_SUBNET=10.0.0.0\nVNET_NETMASK=255.255.0.0\n\
        VNET_DNS=10.1.1.1\nVNET_ADDRSPERNET=32\nVNET_PUBLICIPS=\"192.168.7.10-192.168.7.12\"\n";

    #[test]
    fn the_default_is_system_mode_on_eth0_without_applying() {
        let c = config("").unwrap();
        assert_eq!(c, VnetConfig::system());
        assert_eq!(c.mode(), Mode::System);
    }

    #[test]
    fn managed_settings_are_read_whole() {
        let c = config(&format!(
            "{MANAGED}VNET_PRIVINTERFACE=eth1\nVNET_APPLY=y\nVNET_CLOUDIP=10.1.1.2\n"
        ))
        .unwrap();
        assert_eq!(c.mode(), Mode::Managed);
        assert_eq!(c.priv_interface, "eth1");
        assert_eq!(c.pub_interface, "eth0");
        assert!(c.apply);
        let Addressing::Managed {
            subnet,
            addrs_per_net,
            public_ips,
            cloud_ip,
            ..
        } = c.addressing
        else {
            panic!("not managed")
        };
        assert_eq!(subnet.to_string(), "10.0.0.0/16");
        assert_eq!(addrs_per_net, 32);
        assert_eq!(public_ips.len(), 3);
        assert_eq!(cloud_ip, Some(Ipv4Addr::new(10, 1, 1, 2)));
    }

    #[test]
    fn bad_settings_name_their_key() {
        let cases = [
            ("VNET_MODE=BRIDGED\n", "VNET_MODE"),
            ("VNET_MODE=MANAGED\n", "VNET_SUBNET"),
            (&MANAGED.replace("=32", "=24"), "VNET_ADDRSPERNET"),
            (&MANAGED.replace("=32", "=2"), "VNET_ADDRSPERNET"),
            (
                &MANAGED.replace("255.255.0.0", "255.0.255.0"),
                "VNET_NETMASK",
            ),
            (
                &MANAGED.replace("SUBNET=10.0.0.0", "SUBNET=10.0.3.0"),
                "VNET_SUBNET",
            ),
            (&MANAGED.replace("10.1.1.1", "dns.example"), "VNET_DNS"),
            (
                &MANAGED.replace("192.168.7.12", "192.168.6.1"),
                "VNET_PUBLICIPS",
            ),
            (&format!("{MANAGED}VNET_APPLY=maybe\n"), "VNET_APPLY"),
            (
                &format!("{MANAGED}VNET_PRIVINTERFACE=averylongname\n"),
                "VNET_PRIVINTERFACE",
            ),
            (
                &format!("{MANAGED}VNET_PUBINTERFACE=eth 0\n"),
                "VNET_PUBINTERFACE",
            ),
            (&format!("{MANAGED}VNET_NETNS=../x\n"), "VNET_NETNS"),
            ("VNET_MODE=STATIC\nVNET_SUBNET=10.0.0.0\n", "VNET_NETMASK"),
        ];
        for (text, key) in cases {
            let err = config(text).unwrap_err();
            assert!(
                matches!(&err, VnetError::Setting { key: k, .. } if *k == key),
                "{text:?}: {err}"
            );
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn static_mode_reads_its_mac_map() {
        let base = "VNET_MODE=STATIC\nVNET_SUBNET=192.168.1.0\nVNET_NETMASK=255.255.255.0\n\
            VNET_BROADCAST=192.168.1.255\nVNET_ROUTER=192.168.1.1\nVNET_DNS=192.168.1.2\n";
        let c = config(&format!(
            "{base}VNET_MACMAP=\"AA:DD:11:CE:FF:ED=192.168.1.3 aa:dd:11:ce:ff:ee=192.168.1.4\"\n"
        ))
        .unwrap();
        let Addressing::Static { hosts, .. } = c.addressing else {
            panic!("not static")
        };
        assert_eq!(hosts[0].mac, "aa:dd:11:ce:ff:ed");
        assert_eq!(hosts[1].ip, Ipv4Addr::new(192, 168, 1, 4));
        for map in [
            "aa:dd=192.168.1.3",
            "aa:dd:11:ce:ff:ed=10.0.0.3",
            "aa:dd:11:ce:ff:ed",
            "aa:dd:11:ce:ff:ed=192.168.1.3 aa:dd:11:ce:ff:ed=192.168.1.4",
        ] {
            let err = config(&format!("{base}VNET_MACMAP=\"{map}\"\n")).unwrap_err();
            assert!(err.to_string().contains("VNET_MACMAP"), "{map}: {err}");
        }
    }
}

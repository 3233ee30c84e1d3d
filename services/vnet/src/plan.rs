//! What the host must look like for the current state: the firewall and NAT tables as
//! `iptables-restore` input, the DHCP server's configuration, and the interfaces and
//! addresses. Computed from scratch each time, in a fixed order, so equal states give equal
//! text and tests can compare plans whole.

use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;

use crate::addr::Cidr;
use crate::layout::Layout;
use crate::state::{State, StoredLease};
use crate::{Addressing, VnetConfig};

/// The address instances reach their metadata at (forwarded to the cloud on port 8773).
pub const METADATA_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `iptables-restore` input for the filter and nat tables, in the form `iptables-save`
    /// prints it (so what was applied can be read back and compared).
    pub iptables: String,
    /// The DHCP server's configuration; none in SYSTEM mode (the site's DHCP serves).
    pub dhcpd_conf: Option<String>,
    /// Interfaces to create, masters before their ports.
    pub devices: Vec<DeviceSpec>,
    pub addresses: Vec<AddressSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKind {
    /// An 802.1q device on `parent`.
    Vlan {
        parent: String,
        id: u16,
    },
    Bridge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    pub name: String,
    pub kind: DeviceKind,
    /// The bridge this device is a port of.
    pub master: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AddressSpec {
    pub device: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub broadcast: Option<Ipv4Addr>,
    pub scope_link: bool,
}

impl DeviceSpec {
    /// The `ip` arguments that create the device.
    pub fn create_command(&self) -> Vec<String> {
        match &self.kind {
            DeviceKind::Vlan { parent, id } => words(&[
                "link",
                "add",
                "link",
                parent,
                "name",
                &self.name,
                "type",
                "vlan",
                "id",
                &id.to_string(),
            ]),
            DeviceKind::Bridge => words(&["link", "add", &self.name, "type", "bridge"]),
        }
    }

    /// The `ip` arguments that make it a port of its bridge, if it has one.
    pub fn master_command(&self) -> Option<Vec<String>> {
        let master = self.master.as_deref()?;
        Some(words(&["link", "set", &self.name, "master", master]))
    }

    pub fn up_command(&self) -> Vec<String> {
        words(&["link", "set", &self.name, "up"])
    }

    /// Create, attach, bring up: what a bare host needs.
    pub fn commands(&self) -> Vec<Vec<String>> {
        let mut commands = vec![self.create_command()];
        commands.extend(self.master_command());
        commands.push(self.up_command());
        commands
    }
}

impl AddressSpec {
    /// `ip/prefix`, as `ip -o addr` prints it.
    pub fn cidr_text(&self) -> String {
        format!("{}/{}", self.ip, self.prefix)
    }

    pub fn command(&self, verb: &str) -> Vec<String> {
        let mut command = words(&["addr", verb, &self.cidr_text()]);
        if let Some(broadcast) = self.broadcast {
            command.extend(words(&["broadcast", &broadcast.to_string()]));
        }
        if self.scope_link {
            command.extend(words(&["scope", "link"]));
        }
        command.extend(words(&["dev", &self.device]));
        command
    }
}

pub(crate) fn words(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_owned()).collect()
}

impl Plan {
    /// Every `ip` command of the plan, one per line, in the order they run on a bare host.
    pub fn ip_commands(&self) -> String {
        let mut text = String::new();
        let devices = self.devices.iter().flat_map(DeviceSpec::commands);
        let addresses = self.addresses.iter().map(|a| a.command("add"));
        for command in devices.chain(addresses) {
            let _ = writeln!(text, "ip {}", command.join(" "));
        }
        text
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "## iptables-restore")?;
        f.write_str(&self.iptables)?;
        writeln!(f, "## dhcpd.conf")?;
        f.write_str(self.dhcpd_conf.as_deref().unwrap_or("(no DHCP server)\n"))?;
        writeln!(f, "## ip")?;
        f.write_str(&self.ip_commands())
    }
}

pub(crate) fn compute(config: &VnetConfig, state: &State) -> Plan {
    match &config.addressing {
        Addressing::System => Plan {
            iptables: tables(Policy::Accept, &[], &[], &[]),
            dhcpd_conf: None,
            devices: Vec::new(),
            addresses: Vec::new(),
        },
        Addressing::Static {
            subnet,
            broadcast,
            router,
            dns,
            ..
        } => {
            let leases: Vec<&StoredLease> = state.leases.values().collect();
            let net = DhcpNet {
                block: *subnet,
                broadcast: *broadcast,
                router: *router,
                leases,
            };
            Plan {
                iptables: tables(Policy::Accept, &[], &[], &[]),
                dhcpd_conf: Some(dhcpd_conf(&[net], *dns, state.nameserver)),
                devices: Vec::new(),
                addresses: Vec::new(),
            }
        }
        Addressing::Managed {
            vlans,
            subnet,
            dns,
            addrs_per_net,
            cloud_ip,
            ..
        } => managed(
            config,
            state,
            Layout {
                subnet: *subnet,
                addrs_per_net: *addrs_per_net,
            },
            *vlans,
            *dns,
            *cloud_ip,
        ),
    }
}

fn managed(
    config: &VnetConfig,
    state: &State,
    layout: Layout,
    vlans: bool,
    dns: Ipv4Addr,
    cloud_ip: Option<Ipv4Addr>,
) -> Plan {
    let subnet = layout.subnet;
    let mut chains: Vec<String> = Vec::new();
    let mut forward = vec![
        "-m conntrack --ctstate ESTABLISHED -j ACCEPT".to_owned(),
        format!("! -d {subnet} -j ACCEPT"),
    ];
    let mut devices = Vec::new();
    let mut addresses = vec![AddressSpec {
        device: config.priv_interface.clone(),
        ip: METADATA_IP,
        prefix: 32,
        broadcast: None,
        scope_link: true,
    }];
    let bridge = config
        .bridge
        .clone()
        .unwrap_or_else(|| config.priv_interface.clone());
    for (vlan, group) in &state.networks {
        let Some(block) = layout.block(*vlan) else {
            continue;
        };
        forward.push(format!("-j {}", group.chain()));
        forward.push(format!("-s {block} -d {block} -j ACCEPT"));
        chains.push(group.chain());
        let gateway_device = if vlans {
            let bridge_name = format!("eucabr{vlan}");
            devices.push(DeviceSpec {
                name: bridge_name.clone(),
                kind: DeviceKind::Bridge,
                master: None,
            });
            devices.push(DeviceSpec {
                name: format!("{}.{vlan}", config.priv_interface),
                kind: DeviceKind::Vlan {
                    parent: config.priv_interface.clone(),
                    id: *vlan as u16,
                },
                master: Some(bridge_name.clone()),
            });
            bridge_name
        } else {
            bridge.clone()
        };
        if let Some(router) = layout.router(block) {
            addresses.push(AddressSpec {
                device: gateway_device,
                ip: router,
                prefix: block.prefix(),
                broadcast: Some(block.broadcast()),
                scope_link: false,
            });
        }
    }
    let mut chain_rules: Vec<(String, String)> = state
        .rules
        .iter()
        .filter(|(group, _)| state.vlan_of(group).is_some())
        .flat_map(|(group, rules)| rules.iter().map(move |r| (group.chain(), r.clone())))
        .collect();
    chains.sort();
    // Chains in name order, each with its rules in their own order.
    chain_rules.sort_by(|a, b| a.0.cmp(&b.0));

    let metadata = match cloud_ip {
        Some(ip) => format!("{ip}:8773"),
        None => format!("{METADATA_IP}:8773"),
    };
    let mut prerouting = vec![format!(
        "-s {subnet} -d {METADATA_IP}/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination {metadata}"
    )];
    let mut output = Vec::new();
    let mut postrouting = Vec::new();
    for (public, private) in &state.public {
        prerouting.push(format!("-d {public}/32 -j DNAT --to-destination {private}"));
        output.push(format!("-d {public}/32 -j DNAT --to-destination {private}"));
        // SNAT ahead of MASQUERADE, as the original inserted it.
        postrouting.push(format!(
            "-s {private}/32 ! -d {subnet} -j SNAT --to-source {public}"
        ));
        addresses.push(AddressSpec {
            device: config.pub_interface.clone(),
            ip: *public,
            prefix: 32,
            broadcast: None,
            scope_link: false,
        });
    }
    postrouting.push(format!("! -d {subnet} -j MASQUERADE"));
    let mut filter_rules: Vec<(String, String)> = forward
        .into_iter()
        .map(|r| ("FORWARD".to_owned(), r))
        .collect();
    filter_rules.extend(chain_rules);
    let nat_rules: Vec<(String, String)> = [
        ("PREROUTING", prerouting),
        ("OUTPUT", output),
        ("POSTROUTING", postrouting),
    ]
    .into_iter()
    .flat_map(|(chain, rules)| rules.into_iter().map(move |r| (chain.to_owned(), r)))
    .collect();

    // DHCP for every network that is active or still holds instances.
    let mut by_vlan = state.leases_by_vlan();
    for vlan in state.networks.keys() {
        by_vlan.entry(*vlan).or_default();
    }
    let nets: Vec<DhcpNet> = by_vlan
        .into_iter()
        .filter_map(|(vlan, leases)| {
            let block = layout.block(vlan)?;
            Some(DhcpNet {
                block,
                broadcast: block.broadcast(),
                router: layout.router(block)?,
                leases,
            })
        })
        .collect();
    addresses.sort();
    Plan {
        iptables: tables(Policy::Drop, &chains, &filter_rules, &nat_rules),
        dhcpd_conf: Some(dhcpd_conf(&nets, dns, state.nameserver)),
        devices,
        addresses,
    }
}

#[derive(Debug, Clone, Copy)]
enum Policy {
    Accept,
    Drop,
}

/// Both tables; `filter_rules` and `nat_rules` are (chain, specification) pairs.
fn tables(
    forward: Policy,
    chains: &[String],
    filter_rules: &[(String, String)],
    nat_rules: &[(String, String)],
) -> String {
    let forward = match forward {
        Policy::Accept => "ACCEPT",
        Policy::Drop => "DROP",
    };
    let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    let _ = writeln!(text, ":FORWARD {forward} [0:0]");
    text.push_str(":OUTPUT ACCEPT [0:0]\n");
    for chain in chains {
        let _ = writeln!(text, ":{chain} - [0:0]");
    }
    for (chain, rule) in filter_rules {
        let _ = writeln!(text, "-A {chain} {rule}");
    }
    text.push_str("COMMIT\n*nat\n");
    for chain in ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"] {
        let _ = writeln!(text, ":{chain} ACCEPT [0:0]");
    }
    for (chain, rule) in nat_rules {
        let _ = writeln!(text, "-A {chain} {rule}");
    }
    text.push_str("COMMIT\n");
    text
}

struct DhcpNet<'a> {
    block: Cidr,
    broadcast: Ipv4Addr,
    router: Ipv4Addr,
    leases: Vec<&'a StoredLease>,
}

/// One subnet per network and one fixed host per instance, in address order; the lease
/// times are the original's.
fn dhcpd_conf(nets: &[DhcpNet<'_>], dns: Ipv4Addr, nameserver: Option<Ipv4Addr>) -> String {
    let mut text = String::from(
        "# DHCP for the VM networks, written by the cluster controller\n\
         default-lease-time 1200;\nmax-lease-time 1200;\nddns-update-style none;\n\n\
         shared-network euca {\n",
    );
    let servers = match nameserver {
        Some(ns) if ns != dns => format!("{dns}, {ns}"),
        _ => dns.to_string(),
    };
    for net in nets {
        let _ = write!(
            text,
            "subnet {} netmask {} {{\n  option subnet-mask {};\n  option broadcast-address {};\n  \
             option domain-name-servers {servers};\n  option routers {};\n}}\n",
            net.block.network(),
            net.block.netmask(),
            net.block.netmask(),
            net.broadcast,
            net.router,
        );
        let mut leases = net.leases.clone();
        leases.sort_by_key(|l| l.private_ip);
        for lease in leases {
            let _ = write!(
                text,
                "host node-{ip} {{\n  hardware ethernet {};\n  fixed-address {ip};\n}}\n",
                lease.mac,
                ip = lease.private_ip,
            );
        }
    }
    text.push_str("}\n");
    text
}

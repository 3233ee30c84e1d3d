//! The cluster's VM network in MANAGED mode (issue 11, acceptance 3): group networks on
//! distinct VLANs and subnets, public addresses changing exactly the NAT rules, ingress
//! rules, state kept across a restart, refusals instead of panics, and the plan applied in
//! a network namespace of its own and read back with `iptables-save`.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use vnet::{Mode, VirtualNetwork, VnetConfig, VnetError};
use wire::cc;

fn fixture(name: &str) -> PathBuf {
    common::workspace_root()
        .join("tests/fixtures/vnet")
        .join(name)
}

/// The network of `tests/fixtures/vnet/managed.conf` plus `extra` settings lines.
fn open(state: &Path, extra: &str) -> VirtualNetwork {
    let text = std::fs::read_to_string(fixture("managed.conf")).unwrap() + extra;
    let settings = settings::Settings::parse(&text, Path::new("managed.conf")).unwrap();
    VirtualNetwork::open(VnetConfig::from_settings(&settings).unwrap(), state).unwrap()
}

fn start(
    net: &VirtualNetwork,
    user: &str,
    group: &str,
    vlan: Option<i32>,
) -> cc::StartNetworkResponseType {
    net.start_network(&cc::StartNetworkType {
        correlation_id: Some("c-1".into()),
        user_id: Some(user.into()),
        vlan,
        net_name: Some(group.into()),
        nameserver: Some("10.1.1.3".into()),
        ..Default::default()
    })
}

fn vlan(vlan: i32) -> cc::NetConfigType {
    cc::NetConfigType {
        vlan,
        ..Default::default()
    }
}

fn assign(net: &VirtualNetwork, public: &str, private: &str) -> cc::AssignAddressResponseType {
    net.assign_address(&cc::AssignAddressType {
        user_id: Some("admin".into()),
        source: public.into(),
        dest: private.into(),
        ..Default::default()
    })
}

fn unassign(net: &VirtualNetwork, public: &str, private: &str) -> cc::UnassignAddressResponseType {
    net.unassign_address(&cc::UnassignAddressType {
        user_id: Some("admin".into()),
        source: public.into(),
        dest: private.into(),
        ..Default::default()
    })
}

fn tcp_rule(
    dest: &str,
    from_group: Option<(&str, &str)>,
    nets: &[&str],
    port: i32,
) -> cc::NetworkRule {
    cc::NetworkRule {
        r#type: "firewall-open".into(),
        source_names: from_group.iter().map(|g| g.1.to_owned()).collect(),
        user_names: from_group.iter().map(|g| g.0.to_owned()).collect(),
        source_nets: nets.iter().map(|n| (*n).to_owned()).collect(),
        dest_user_name: None,
        dest_name: dest.into(),
        protocol: "tcp".into(),
        port_range_min: port,
        port_range_max: port,
    }
}

fn configure(
    net: &VirtualNetwork,
    rules: Vec<cc::NetworkRule>,
) -> cc::ConfigureNetworkResponseType {
    net.configure_network(&cc::ConfigureNetworkType {
        user_id: Some("admin".into()),
        rules,
        ..Default::default()
    })
}

/// Two groups of user admin, `default` on VLAN 10 and `web` on VLAN 11, one instance each.
fn two_groups(net: &VirtualNetwork) {
    assert_eq!(
        start(net, "admin", "default", Some(10)).r#return,
        Some(true)
    );
    assert_eq!(start(net, "admin", "web", Some(11)).r#return, Some(true));
    net.lease("i-00000001", "admin", &vlan(10), "default", None)
        .unwrap();
    net.lease("i-00000002", "admin", &vlan(11), "web", None)
        .unwrap();
}

/// The plan's text against a fixture file; `VNET_BLESS=1` rewrites the file.
fn assert_plan(net: &VirtualNetwork, name: &str) {
    let text = net.plan().to_string();
    let path = fixture(name);
    if std::env::var_os("VNET_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, want, "plan differs from {}", path.display());
}

fn lines(text: &str) -> BTreeSet<String> {
    text.lines().map(str::to_owned).collect()
}

#[test]
fn two_groups_get_distinct_vlans_and_subnets() {
    let dir = tempfile::tempdir().unwrap();
    let net = open(dir.path(), "");
    assert_eq!(net.mode(), Mode::Managed);
    two_groups(&net);

    let a = net
        .lease("i-00000001", "admin", &vlan(10), "default", None)
        .unwrap();
    let b = net
        .lease("i-00000002", "admin", &vlan(11), "web", None)
        .unwrap();
    assert_eq!((a.vlan, b.vlan), (10, 11));
    // VLAN v holds the 32 addresses from (v-2)*32; .0 network, .1 router, .31 broadcast.
    assert_eq!(a.private_ip, "10.0.1.2");
    assert_eq!(b.private_ip, "10.0.1.34");
    assert_eq!(a.mac, "d0:0d:00:00:00:01");
    assert_eq!(a.public_ip, "0.0.0.0");
    let c = net
        .lease("i-0000000A", "admin", &vlan(10), "default", None)
        .unwrap();
    assert_eq!((c.vlan, c.private_ip.as_str()), (10, "10.0.1.3"));

    let described = net.describe_networks(&cc::DescribeNetworksType::default());
    assert_eq!(described.r#return, Some(true));
    assert_eq!(
        (described.mode, described.addrs_per_net),
        (Some(1), Some(32))
    );
    let summary: Vec<(i32, &str, Vec<i32>)> = described
        .active_networks
        .iter()
        .map(|n| (n.vlan, n.net_name.as_str(), n.active_addrs.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (10, "default", vec![0, 1, 2, 3, 31]),
            (11, "web", vec![0, 1, 2, 31])
        ]
    );

    // A third group with no VLAN given takes the lowest free one, VLAN 2 at 10.0.0.0/27.
    assert_eq!(start(&net, "alice", "default", None).r#return, Some(true));
    let d = net
        .lease("i-0000000B", "alice", &vlan(0), "default", None)
        .unwrap();
    assert_eq!((d.vlan, d.private_ip.as_str()), (2, "10.0.0.2"));

    assert_plan(&net, "two_groups.plan");
}

#[test]
fn a_vlan_carries_one_group_and_a_group_one_vlan() {
    let dir = tempfile::tempdir().unwrap();
    let net = open(dir.path(), "");
    two_groups(&net);
    let taken = start(&net, "bob", "default", Some(10));
    assert_eq!(taken.r#return, Some(false));
    assert_eq!(taken.correlation_id.as_deref(), Some("c-1"));
    assert!(taken
        .status_message
        .unwrap()
        .contains("VLAN 10 carries network admin/default"));
    let moved = start(&net, "admin", "web", Some(12));
    assert!(moved.status_message.unwrap().contains("is on VLAN 11"));
    let err = net
        .lease("i-00000003", "admin", &vlan(12), "web", None)
        .unwrap_err();
    assert!(matches!(err, VnetError::Conflict(_)), "{err}");
    // Starting a running network again is a no-op, as the CLC does it before every run.
    assert_eq!(start(&net, "admin", "web", Some(11)).r#return, Some(true));
    // A stopped network's VLAN stays with its group while its instances run.
    let stop = cc::StopNetworkType {
        user_id: Some("admin".into()),
        vlan: Some(11),
        net_name: Some("web".into()),
        ..Default::default()
    };
    assert_eq!(net.stop_network(&stop).r#return, Some(true));
    assert_eq!(
        net.stop_network(&stop).r#return,
        Some(true),
        "stopping twice is a no-op"
    );
    let held = start(&net, "bob", "web", Some(11));
    assert!(held
        .status_message
        .unwrap()
        .contains("VLAN 11 carries network admin/web"));
    assert_eq!(start(&net, "admin", "web", None).r#return, Some(true));
    let back = net
        .lease("i-00000004", "admin", &vlan(0), "web", None)
        .unwrap();
    assert_eq!((back.vlan, back.private_ip.as_str()), (11, "10.0.1.35"));
    let out_of_range = start(&net, "bob", "default", Some(4000));
    assert!(out_of_range
        .status_message
        .unwrap()
        .contains("outside 2..=2049"));
}

#[test]
fn assigning_and_unassigning_an_address_changes_exactly_the_nat_rules() {
    let dir = tempfile::tempdir().unwrap();
    let net = open(dir.path(), "");
    two_groups(&net);
    let before = net.plan();

    assert_eq!(
        assign(&net, "192.168.7.11", "10.0.1.2").r#return,
        Some(true)
    );
    let assigned = net.plan();
    assert_eq!(assigned.dhcpd_conf, before.dhcpd_conf);
    let added: Vec<String> = lines(&assigned.to_string())
        .difference(&lines(&before.to_string()))
        .cloned()
        .collect();
    let removed: Vec<String> = lines(&before.to_string())
        .difference(&lines(&assigned.to_string()))
        .cloned()
        .collect();
    assert_eq!(
        added,
        vec![
            "-A OUTPUT -d 192.168.7.11/32 -j DNAT --to-destination 10.0.1.2",
            "-A POSTROUTING -s 10.0.1.2/32 ! -d 10.0.0.0/16 -j SNAT --to-source 192.168.7.11",
            "-A PREROUTING -d 192.168.7.11/32 -j DNAT --to-destination 10.0.1.2",
            "ip addr add 192.168.7.11/32 dev eth0",
        ]
    );
    assert!(removed.is_empty(), "{removed:?}");
    assert_plan(&net, "assigned.plan");
    assert_eq!(net.lookup("i-00000001").unwrap().public_ip, "192.168.7.11");
    assert_eq!(net.lookup("i-0000FFFF"), None, "lookup allocates nothing");

    let described = net.describe_public_addresses(&cc::DescribePublicAddressesType::default());
    assert_eq!(
        described.source_addresses,
        ["192.168.7.10", "192.168.7.11", "192.168.7.12"]
    );
    assert_eq!(described.dest_addresses, ["", "10.0.1.2", ""]);

    // Assigning again is a no-op; another instance cannot take the address.
    assert_eq!(
        assign(&net, "192.168.7.11", "10.0.1.2").r#return,
        Some(true)
    );
    let taken = assign(&net, "192.168.7.11", "10.0.1.34");
    assert_eq!(taken.r#return, Some(false));
    assert!(taken
        .status_message
        .unwrap()
        .contains("already assigned to 10.0.1.2"));
    assert_eq!(net.plan(), assigned);

    assert_eq!(
        unassign(&net, "192.168.7.11", "10.0.1.2").r#return,
        Some(true)
    );
    assert_eq!(net.plan(), before, "unassigning restores the plan exactly");
    assert_eq!(
        unassign(&net, "192.168.7.11", "10.0.1.2").r#return,
        Some(true)
    );

    // Terminating an instance frees its public address too.
    assert_eq!(
        assign(&net, "192.168.7.12", "10.0.1.34").r#return,
        Some(true)
    );
    net.release("i-00000002");
    let described = net.describe_public_addresses(&cc::DescribePublicAddressesType::default());
    assert_eq!(described.dest_addresses, ["", "", ""]);
}

#[test]
fn ingress_rules_replace_a_groups_chain() {
    let dir = tempfile::tempdir().unwrap();
    let net = open(dir.path(), "");
    two_groups(&net);
    let reply = configure(
        &net,
        vec![
            tcp_rule("default", Some(("admin", "web")), &[], 22),
            tcp_rule("default", None, &["0.0.0.0/0", "172.16.9.77/16"], 80),
        ],
    );
    assert_eq!(reply.r#return, Some(true), "{:?}", reply.status_message);
    let plan = net.plan();
    let chain: Vec<&str> = plan
        .iptables
        .lines()
        .filter(|l| l.starts_with("-A admin-default "))
        .collect();
    assert_eq!(
        chain,
        [
            "-A admin-default -s 10.0.1.32/27 -d 10.0.1.0/27 -p tcp -m tcp --dport 22 -j ACCEPT",
            "-A admin-default -d 10.0.1.0/27 -p tcp -m tcp --dport 80 -j ACCEPT",
            "-A admin-default -s 172.16.0.0/16 -d 10.0.1.0/27 -p tcp -m tcp --dport 80 -j ACCEPT",
        ]
    );

    // A later ConfigureNetwork for the group replaces its rules; other groups keep theirs.
    assert_eq!(
        configure(&net, vec![tcp_rule("web", None, &["1.2.3.4"], 443)]).r#return,
        Some(true)
    );
    assert_eq!(
        configure(&net, vec![tcp_rule("default", None, &["1.2.3.4"], 25)]).r#return,
        Some(true)
    );
    let plan = net.plan();
    let rules: Vec<&str> = plan
        .iptables
        .lines()
        .filter(|l| l.starts_with("-A admin-"))
        .collect();
    assert_eq!(
        rules,
        [
            "-A admin-default -s 1.2.3.4/32 -d 10.0.1.0/27 -p tcp -m tcp --dport 25 -j ACCEPT",
            "-A admin-web -s 1.2.3.4/32 -d 10.0.1.32/27 -p tcp -m tcp --dport 443 -j ACCEPT",
        ]
    );

    // A request with one bad rule changes nothing.
    let bad = configure(
        &net,
        vec![
            tcp_rule("default", None, &["9.9.9.9"], 22),
            tcp_rule("nosuchgroup", None, &["9.9.9.9"], 22),
        ],
    );
    assert_eq!(bad.r#return, Some(false));
    assert!(bad
        .status_message
        .unwrap()
        .contains("no network admin/nosuchgroup"));
    assert_eq!(net.plan(), plan);

    // Stopping a network removes its chain, its rules and its forwarding.
    let stopped = net.stop_network(&cc::StopNetworkType {
        user_id: Some("admin".into()),
        vlan: Some(11),
        net_name: Some("web".into()),
        ..Default::default()
    });
    assert_eq!(stopped.r#return, Some(true));
    let plan = net.plan();
    assert!(!plan.iptables.contains("admin-web"), "{}", plan.iptables);
    assert!(!plan.ip_commands().contains("eucabr11"));
}

#[test]
fn a_restart_keeps_networks_leases_addresses_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let net = open(dir.path(), "");
        two_groups(&net);
        assert_eq!(
            assign(&net, "192.168.7.10", "10.0.1.34").r#return,
            Some(true)
        );
        assert_eq!(
            configure(&net, vec![tcp_rule("web", None, &["1.2.3.0/24"], 22)]).r#return,
            Some(true)
        );
        net.plan()
    };
    let net = open(dir.path(), "");
    assert_eq!(net.plan(), before);
    let lease = net
        .lease("i-00000002", "admin", &vlan(11), "web", None)
        .unwrap();
    assert_eq!(
        (
            lease.private_ip.as_str(),
            lease.public_ip.as_str(),
            lease.vlan
        ),
        ("10.0.1.34", "192.168.7.10", 11)
    );
    let next = net
        .lease("i-00000003", "admin", &vlan(11), "web", None)
        .unwrap();
    assert_eq!(
        next.private_ip, "10.0.1.35",
        "allocation continues after the restart"
    );

    // A state folder made for another layout is refused, not misread.
    drop(net);
    let text = std::fs::read_to_string(fixture("managed.conf"))
        .unwrap()
        .replace("\"32\"", "\"64\"");
    let settings = settings::Settings::parse(&text, Path::new("managed.conf")).unwrap();
    let err = VirtualNetwork::open(VnetConfig::from_settings(&settings).unwrap(), dir.path())
        .unwrap_err();
    assert!(matches!(err, VnetError::LayoutChanged { .. }), "{err}");
}

#[test]
fn a_full_network_refuses_the_next_instance() {
    let dir = tempfile::tempdir().unwrap();
    // 8 addresses per network leave 5 for instances (.2 to .6).
    let net = open(dir.path(), "VNET_ADDRSPERNET=8\n");
    assert_eq!(
        start(&net, "admin", "default", Some(2)).r#return,
        Some(true)
    );
    let ips: Vec<String> = (1..=5)
        .map(|i| {
            net.lease(&format!("i-0000000{i}"), "admin", &vlan(2), "default", None)
                .unwrap()
                .private_ip
        })
        .collect();
    assert_eq!(
        ips,
        ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    );
    let err = net
        .lease("i-00000006", "admin", &vlan(2), "default", None)
        .unwrap_err();
    assert!(matches!(err, VnetError::Exhausted(_)), "{err}");
    net.release("i-00000003");
    let again = net
        .lease("i-00000006", "admin", &vlan(2), "default", None)
        .unwrap();
    assert_eq!(
        again.private_ip, "10.0.0.4",
        "a released address is used again"
    );
}

/// Hostile or malformed requests are answered `return=false` with a reason, never a panic.
#[test]
fn bad_requests_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let net = open(dir.path(), "");
    two_groups(&net);
    let plan = net.plan();
    let refusals = [
        start(&net, "admin", "bad name", Some(20)).status_message,
        start(&net, "admin;x", "default", Some(20)).status_message,
        start(&net, "", "default", Some(20)).status_message,
        start(&net, "a-very-long-user-name", "and-group", Some(20)).status_message,
        net.start_network(&cc::StartNetworkType {
            user_id: Some("admin".into()),
            net_name: Some("other".into()),
            vlan: Some(20),
            nameserver: Some("not-an-ip".into()),
            ..Default::default()
        })
        .status_message,
        assign(&net, "192.168.7.99", "10.0.1.2").status_message,
        assign(&net, "0.0.0.0", "10.0.1.2").status_message,
        assign(&net, "192.168.7.10", "8.8.8.8").status_message,
        assign(&net, "192.168.7.10", "10.0.1.2.5").status_message,
        unassign(&net, "nonsense", "10.0.1.2").status_message,
        configure(&net, vec![tcp_rule("default", None, &["1.2.3.4/40"], 22)]).status_message,
        configure(&net, vec![tcp_rule("default", None, &["1.2.3.4"], 70000)]).status_message,
        configure(
            &net,
            vec![cc::NetworkRule {
                protocol: "gre".into(),
                ..tcp_rule("default", None, &["1.2.3.4"], 0)
            }],
        )
        .status_message,
        configure(
            &net,
            vec![cc::NetworkRule {
                r#type: "firewall-maybe".into(),
                ..tcp_rule("default", None, &["1.2.3.4"], 22)
            }],
        )
        .status_message,
        configure(
            &net,
            vec![cc::NetworkRule {
                user_names: vec![],
                ..tcp_rule("default", Some(("admin", "web")), &[], 22)
            }],
        )
        .status_message,
    ];
    for (i, message) in refusals.iter().enumerate() {
        assert!(
            message.as_deref().is_some_and(|m| !m.is_empty()),
            "request {i} was not refused"
        );
    }
    assert!(net
        .lease("instance-1", "admin", &vlan(10), "default", None)
        .is_err());
    assert_eq!(net.plan(), plan, "refused requests changed nothing");
}

#[test]
fn system_mode_leaves_addresses_to_the_site() {
    let dir = tempfile::tempdir().unwrap();
    let net = VirtualNetwork::open(VnetConfig::system(), dir.path()).unwrap();
    let lease = net
        .lease("i-4DBE0848", "admin", &vlan(7), "default", None)
        .unwrap();
    assert_eq!(
        (
            lease.mac.as_str(),
            lease.private_ip.as_str(),
            lease.public_ip.as_str(),
            lease.vlan
        ),
        ("d0:0d:4D:BE:08:48", "0.0.0.0", "0.0.0.0", 7)
    );
    assert_eq!(
        start(&net, "admin", "default", Some(10)).r#return,
        Some(true)
    );
    let public = net.describe_public_addresses(&cc::DescribePublicAddressesType::default());
    assert_eq!(public.r#return, Some(false));
    assert_eq!(public.status_message.as_deref(), Some("NOTSUPPORTED"));
    let described = net.describe_networks(&cc::DescribeNetworksType::default());
    assert_eq!(
        (described.mode, described.active_networks.len()),
        (Some(0), 0)
    );
    assert_eq!(net.plan().dhcpd_conf, None);
    assert!(matches!(net.apply(), Err(VnetError::ApplyDisabled)));
}

#[test]
fn static_mode_hands_out_the_mac_map() {
    let dir = tempfile::tempdir().unwrap();
    let text = "VNET_MODE=STATIC\nVNET_SUBNET=192.168.1.0\nVNET_NETMASK=255.255.255.0\n\
        VNET_BROADCAST=192.168.1.255\nVNET_ROUTER=192.168.1.1\nVNET_DNS=192.168.1.2\n\
        VNET_MACMAP=\"aa:dd:11:ce:ff:ed=192.168.1.3 aa:dd:11:ce:ff:ee=192.168.1.4\"\n";
    let settings = settings::Settings::parse(text, Path::new("static.conf")).unwrap();
    let net =
        VirtualNetwork::open(VnetConfig::from_settings(&settings).unwrap(), dir.path()).unwrap();
    let a = net
        .lease("i-00000001", "admin", &vlan(0), "default", None)
        .unwrap();
    assert_eq!(
        (a.mac.as_str(), a.private_ip.as_str(), a.public_ip.as_str()),
        ("aa:dd:11:ce:ff:ed", "192.168.1.3", "192.168.1.3")
    );
    net.lease("i-00000002", "admin", &vlan(0), "default", None)
        .unwrap();
    assert!(matches!(
        net.lease("i-00000003", "admin", &vlan(0), "default", None),
        Err(VnetError::Exhausted(_))
    ));
    let conf = net.plan().dhcpd_conf.unwrap();
    assert!(
        conf.contains("subnet 192.168.1.0 netmask 255.255.255.0 {"),
        "{conf}"
    );
    assert!(conf.contains("host node-192.168.1.4 {\n  hardware ethernet aa:dd:11:ce:ff:ee;\n  fixed-address 192.168.1.4;\n}"), "{conf}");
}

/// ISC dhcpd, the DHCP server the original ran, where it is installed.
fn dhcpd() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/sbin/dhcpd");
    if path.exists() {
        Some(path)
    } else {
        println!("skipped: /usr/sbin/dhcpd (isc-dhcp-server) is not installed");
        None
    }
}

/// ISC dhcpd's own syntax check accepts the plan's dhcpd.conf.
#[test]
fn dhcpd_accepts_the_planned_configuration() {
    let Some(dhcpd) = dhcpd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let net = open(dir.path(), "");
    two_groups(&net);
    let conf = dir.path().join("check.conf");
    std::fs::write(&conf, net.plan().dhcpd_conf.unwrap()).unwrap();
    let out = Command::new(dhcpd)
        .arg("-t")
        .arg("-cf")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace for one test, deleted at the end.
struct Netns(String);

impl Netns {
    /// A fresh namespace, or None (with the reason printed) where the machine forbids them.
    fn probe(name: &str) -> Option<Self> {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        match Command::new("ip").args(["netns", "add", name]).output() {
            Ok(out) if out.status.success() => Some(Self(name.to_owned())),
            Ok(out) => {
                println!(
                    "skipped: ip netns add fails here: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                println!("skipped: cannot run ip: {e}");
                None
            }
        }
    }

    fn exec(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The processes in the namespace: the DHCP daemons the network under test started.
    fn pids(&self) -> Vec<String> {
        let out = Command::new("ip")
            .args(["netns", "pids", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    /// Stops what runs in the namespace, then removes it.
    fn delete(&self) {
        for pid in self.pids() {
            let _ = Command::new("kill").arg(&pid).status();
            let proc = Path::new("/proc").join(&pid);
            for _ in 0..60 {
                if !proc.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.delete();
    }
}

#[test]
fn the_plan_applied_in_a_namespace_reads_back_with_iptables_save() {
    let name = format!("euca-vnet-test-{}", std::process::id());
    let Some(ns) = Netns::probe(&name) else {
        return;
    };
    ns.delete(); // the network creates its namespace itself
    let dir = tempfile::tempdir().unwrap();
    let dhcpd = dhcpd();
    let daemon = match &dhcpd {
        Some(path) => format!("VNET_DHCPDAEMON={}\n", path.display()),
        None => String::new(),
    };
    let net = open(
        dir.path(),
        &format!("VNET_APPLY=Y\nVNET_NETNS={name}\n{daemon}"),
    );
    assert_eq!(net.netns(), name);
    two_groups(&net);
    assert_eq!(
        assign(&net, "192.168.7.10", "10.0.1.2").r#return,
        Some(true)
    );
    assert_eq!(
        configure(
            &net,
            vec![tcp_rule("default", Some(("admin", "web")), &[], 22)]
        )
        .r#return,
        Some(true)
    );

    // Every change was applied as it happened: a further apply finds nothing to do.
    let report = net.apply().unwrap();
    assert!(!report.changed(), "{report:?}");
    let plan = net.plan();
    assert_eq!(
        vnet::normalize_iptables_save(&ns.exec(&["iptables-save"])),
        plan.iptables
    );

    // From a bare namespace the plan is applied whole, and a second apply changes nothing.
    ns.delete();
    let first = net.apply().unwrap();
    assert!(first.changed());
    let second = net.apply().unwrap();
    assert!(
        !second.changed(),
        "second apply changed {:?}",
        second.changes
    );
    assert_eq!(
        second.failures, first.failures,
        "the same parts fail each time"
    );
    for failure in &first.failures {
        // This kernel may lack 802.1q; everything else must apply.
        assert!(
            failure.contains("type vlan"),
            "unexpected failure: {failure}"
        );
        println!("note: {failure}");
    }
    // Drift is repaired, and only the drift: a bridge taken down, the bridge of a network
    // that is gone, a public address nobody assigned.
    ns.exec(&["ip", "link", "set", "eucabr10", "down"]);
    ns.exec(&["ip", "link", "add", "eucabr99", "type", "bridge"]);
    ns.exec(&["ip", "addr", "add", "192.168.7.12/32", "dev", "eth0"]);
    let repaired = net.apply().unwrap();
    assert_eq!(
        repaired.changes,
        [
            "ip link set eucabr10 up",
            "ip link del eucabr99",
            "ip addr del 192.168.7.12/32 dev eth0"
        ]
    );

    let saved = ns.exec(&["iptables-save"]);
    assert_eq!(vnet::normalize_iptables_save(&saved), plan.iptables);
    assert!(saved.contains("-A PREROUTING -d 192.168.7.10/32 -j DNAT --to-destination 10.0.1.2"));
    let addresses = ns.exec(&["ip", "-o", "-4", "addr", "show"]);
    for (device, cidr) in [
        ("eucabr10", "10.0.1.1/27"),
        ("eucabr11", "10.0.1.33/27"),
        ("eth0", "192.168.7.10/32"),
        ("eth1", "169.254.169.254/32"),
    ] {
        assert!(
            addresses
                .lines()
                .any(|l| l.contains(device) && l.contains(cidr)),
            "{device} {cidr} missing from:\n{addresses}"
        );
    }
    let conf = std::fs::read_to_string(dir.path().join("euca-dhcp.conf")).unwrap();
    assert_eq!(Some(conf), plan.dhcpd_conf);
    if dhcpd.is_some() {
        // The DHCP server runs inside the namespace, on the written configuration.
        let pid = std::fs::read_to_string(dir.path().join("euca-dhcp.pid")).unwrap();
        assert_eq!(ns.pids(), [pid.trim()], "one dhcpd, in the namespace");
    }

    // Unassigning takes the NAT rules and the address away again.
    assert_eq!(
        unassign(&net, "192.168.7.10", "10.0.1.2").r#return,
        Some(true)
    );
    let saved = ns.exec(&["iptables-save"]);
    assert!(!saved.contains("192.168.7.10"), "{saved}");
    assert!(!ns
        .exec(&["ip", "-o", "-4", "addr", "show"])
        .contains("192.168.7.10"));
    assert_eq!(vnet::normalize_iptables_save(&saved), net.plan().iptables);
}

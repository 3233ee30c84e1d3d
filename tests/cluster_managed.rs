//! The cluster controller in MANAGED mode, end to end (issue 11, acceptance 3 through the CC):
//! zeep with the original 1.6.1 CC WSDL, signing as the cloud, starts two groups' networks,
//! runs an instance in each over a real node controller, maps and unmaps a public address,
//! and finds all of it again after the CC restarts on the same DATA. The plan those
//! operations compute is checked line by line in `vnet_managed.rs`.

#![allow(clippy::unwrap_used)]

mod cluster_support;
mod common;
mod node_support;

use std::time::Duration;

use cluster_support::*;

/// The fixture `tests/fixtures/vnet/managed.conf`, as settings: a /16 cut into networks of
/// 32 addresses, VLAN v holding the block from (v-2)*32, three public addresses.
const MANAGED: &[(&str, &str)] = &[
    ("VNET_MODE", "MANAGED"),
    ("VNET_SUBNET", "10.0.0.0"),
    ("VNET_NETMASK", "255.255.0.0"),
    ("VNET_DNS", "10.1.1.1"),
    ("VNET_ADDRSPERNET", "32"),
    ("VNET_PUBLICIPS", "192.168.7.10-192.168.7.12"),
    ("VNET_PRIVINTERFACE", "eth1"),
    ("VNET_PUBINTERFACE", "eth0"),
    ("VNET_CLOUDIP", "10.1.1.2"),
];

const ADMIN: &str = r#"{"userId": "eucalyptus"}"#;
const PATIENCE: Duration = Duration::from_secs(15);

fn start_network(zeep: &mut Zeep, group: &str, vlan: i32) -> Reply {
    let args = format!(
        r#"{{"userId": "alice", "vlan": {vlan}, "netName": "{group}", "clusterControllers": []}}"#
    );
    zeep.call("StartNetwork", &args)
}

fn address_call(zeep: &mut Zeep, op: &str, public: &str, private: &str) -> Reply {
    let args = format!(r#"{{"userId": "eucalyptus", "source": "{public}", "dest": "{private}"}}"#);
    zeep.call(op, &args)
}

/// The netParams.publicIp the cluster describes for `id`.
fn public_ip_of(zeep: &mut Zeep, id: &str) -> String {
    let args = format!(r#"{{"userId": "alice", "instanceIds": ["{id}"]}}"#);
    let reply = zeep.call("DescribeInstances", &args);
    assert_eq!(reply.get("instances.0.instanceId"), Some(id), "{reply:?}");
    reply
        .get("instances.0.netParams.publicIp")
        .unwrap()
        .to_owned()
}

/// (vlan, netName) of each active network.
fn active_networks(zeep: &mut Zeep) -> Vec<(String, String)> {
    let reply = zeep.call(
        "DescribeNetworks",
        r#"{"userId": "eucalyptus", "clusterControllers": []}"#,
    );
    assert!(reply.ok() && reply.get("mode") == Some("1"), "{reply:?}");
    assert_eq!(reply.get("addrsPerNet"), Some("32"));
    let vlans = reply.column("activeNetworks", Some("vlan"));
    let names = reply.column("activeNetworks", Some("netName"));
    vlans.into_iter().zip(names).collect()
}

#[test]
fn groups_get_their_own_vlan_and_subnet_and_public_addresses_map_to_instances() {
    let nodes = Nodes::start(1);
    let data = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, data.path(), "GREEDY", MANAGED);
    let Some(mut zeep) = Zeep::start(cc.url(), &nodes.keys) else {
        return;
    };
    zeep.until("DescribeResources", &resource_args(), PATIENCE, |r| {
        r.ok() && cluster_capacity(r, 0).1 >= 3
    });

    // Two groups, as the cloud starts them: their networks, then an instance in each.
    for (group, vlan) in [("web", 10), ("db", 11)] {
        let started = start_network(&mut zeep, group, vlan);
        assert!(started.ok(), "{started:?}\n{}", cc.log());
    }
    let web = zeep.call(
        "RunInstances",
        &run_args_in(&nodes, "alice", &["i-00000c01"], "web", 10),
    );
    let db = zeep.call(
        "RunInstances",
        &run_args_in(&nodes, "alice", &["i-00000c02"], "db", 11),
    );
    assert!(web.ok() && db.ok(), "{web:?}\n{db:?}\n{}", cc.log());
    let params = |r: &Reply| {
        (
            r.get("instances.0.netParams.vlan").unwrap().to_owned(),
            r.get("instances.0.netParams.privateIp").unwrap().to_owned(),
            r.get("instances.0.netParams.publicIp").unwrap().to_owned(),
        )
    };
    // VLAN 10 is 10.0.1.0/27 and VLAN 11 10.0.1.32/27; .0 network, .1 router, instances from .2.
    assert_eq!(
        params(&web),
        ("10".into(), "10.0.1.2".into(), "0.0.0.0".into())
    );
    assert_eq!(
        params(&db),
        ("11".into(), "10.0.1.34".into(), "0.0.0.0".into())
    );
    let networks = [
        ("10".to_owned(), "web".to_owned()),
        ("11".to_owned(), "db".to_owned()),
    ];
    assert_eq!(active_networks(&mut zeep), networks);

    // A public address: mapped to the web instance, described as its address, then unmapped.
    let assigned = address_call(&mut zeep, "AssignAddress", "192.168.7.10", "10.0.1.2");
    assert!(assigned.ok(), "{assigned:?}");
    assert_eq!(public_ip_of(&mut zeep, "i-00000c01"), "192.168.7.10");
    let pool = zeep.call("DescribePublicAddresses", ADMIN);
    assert!(pool.ok(), "{pool:?}");
    assert_eq!(
        pool.column("sourceAddresses", None),
        ["192.168.7.10", "192.168.7.11", "192.168.7.12"]
    );
    assert_eq!(pool.get("destAddresses.0"), Some("10.0.1.2"));
    let taken = address_call(&mut zeep, "AssignAddress", "192.168.7.10", "10.0.1.34");
    assert!(!taken.ok(), "one public address, two instances: {taken:?}");
    let outside = address_call(&mut zeep, "AssignAddress", "192.0.2.1", "10.0.1.34");
    assert!(!outside.ok(), "not in VNET_PUBLICIPS: {outside:?}");
    let unassigned = address_call(&mut zeep, "UnassignAddress", "192.168.7.10", "10.0.1.2");
    assert!(unassigned.ok(), "{unassigned:?}");
    assert_eq!(public_ip_of(&mut zeep, "i-00000c01"), "0.0.0.0");
    assert!(address_call(&mut zeep, "AssignAddress", "192.168.7.11", "10.0.1.34").ok());

    // Restarted on the same DATA, the cluster has lost nothing.
    drop(zeep);
    drop(cc);
    let cc = Cc::start(&nodes, data.path(), "GREEDY", MANAGED);
    let mut zeep = Zeep::start(cc.url(), &nodes.keys).unwrap();
    assert_eq!(active_networks(&mut zeep), networks);
    assert_eq!(public_ip_of(&mut zeep, "i-00000c02"), "192.168.7.11");
    let pool = zeep.call("DescribePublicAddresses", ADMIN);
    assert_eq!(pool.get("destAddresses.1"), Some("10.0.1.34"), "{pool:?}");

    // Terminating the web instance gives its address slot back to the group.
    let terminated = zeep.call(
        "TerminateInstances",
        r#"{"userId": "alice", "instanceIds": ["i-00000c01"]}"#,
    );
    assert!(terminated.ok(), "{terminated:?}\n{}", cc.log());
    let next = zeep.call(
        "RunInstances",
        &run_args_in(&nodes, "alice", &["i-00000c03"], "web", 10),
    );
    assert!(next.ok(), "{next:?}\n{}", cc.log());
    assert_eq!(
        next.get("instances.0.netParams.privateIp"),
        Some("10.0.1.2")
    );
}

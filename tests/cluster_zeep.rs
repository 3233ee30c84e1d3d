//! The cluster controller over three real node controllers (libvirt's test driver) on
//! loopback, driven by zeep with the ORIGINAL Eucalyptus 1.6.1 CC WSDL and signing as the
//! cloud (issue 11, acceptance 1 and 2). What the cluster says is checked against what the
//! nodes themselves report.

#![allow(clippy::unwrap_used)]

mod cluster_support;
mod common;
mod node_support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use cluster_support::*;
use node_support::describe;
use wire::nc::NcDescribeInstancesType;
use xmlbind::{Base64Binary, XmlText};

const ADMIN: &str = r#"{"userId": "eucalyptus"}"#;
/// How long an answer may take with a node dead (the issue's bound).
const ANSWER_BOUND: Duration = Duration::from_secs(15);

/// Waits until the cluster counts exactly what the nodes `live` report for the small type.
fn wait_for_capacity(zeep: &mut Zeep, nodes: &Nodes, live: &[usize]) -> Reply {
    zeep.until("DescribeResources", &resource_args(), ANSWER_BOUND, |r| {
        r.ok() && cluster_capacity(r, 0) == expected_capacity(nodes, live, SMALL)
    })
}

/// The ids of the instances node `index` reports.
fn on_node(nodes: &Nodes, index: usize) -> Vec<String> {
    let request = NcDescribeInstancesType {
        user_id: Some("eucalyptus".into()),
        ..NcDescribeInstancesType::default()
    };
    let reply = block_on(nodes.client(index).nc_describe_instances(&request)).unwrap();
    reply.instances.into_iter().map(|i| i.instance_id).collect()
}

/// TerminateInstances of `ids` as the cloud; returns the isTerminated flags.
fn terminate(zeep: &mut Zeep, ids: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
    let args = format!(
        r#"{{"userId": "eucalyptus", "instanceIds": [{}]}}"#,
        quoted.join(", ")
    );
    let reply = zeep.call("TerminateInstances", &args);
    assert!(reply.ok(), "{reply:?}");
    reply.column("isTerminated", None)
}

#[test]
fn each_policy_places_as_it_says_and_operations_reach_the_instance_s_node() {
    let nodes = Nodes::start(3);
    let urls: Vec<String> = (0..3).map(|i| nodes.url(i)).collect();
    let all = [0, 1, 2];

    // ROUNDROBIN, and every operation of an instance.
    let data = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, data.path(), "ROUNDROBIN", &[]);
    let Some(mut zeep) = Zeep::start(cc.url(), &nodes.keys) else {
        return;
    };
    let full_small = expected_capacity(&nodes, &all, SMALL);
    let full_large = expected_capacity(&nodes, &all, LARGE);
    let reply = wait_for_capacity(&mut zeep, &nodes, &all);
    assert_eq!(cluster_capacity(&reply, 0), full_small);
    assert_eq!(cluster_capacity(&reply, 1), full_large);
    assert_eq!(reply.get("resources.1.instanceType.name"), Some("m1.large"));
    assert_eq!(reply.column("serviceTags", None), urls);

    let ids = ["i-00000a01", "i-00000a02", "i-00000a03"];
    let run = zeep.call("RunInstances", &run_args(&nodes, "alice", &ids));
    assert!(run.ok(), "{run:?}\n{}", cc.log());
    assert_eq!(run.column("instances", Some("instanceId")), ids);
    assert_eq!(run.column("instances", Some("stateName")), ["Pending"; 3]);
    assert_eq!(
        run.column("instances", Some("serviceTag")),
        urls,
        "one per node, in turn"
    );
    assert_eq!(
        run.get("instances.0.netParams.privateMacAddress"),
        Some("d0:0d:00:00:0a:01")
    );
    assert_eq!(run.get("instances.2.netParams.publicIp"), Some("0.0.0.0"));
    for (index, id) in ids.iter().enumerate() {
        assert_eq!(on_node(&nodes, index), [*id], "node {index}");
    }
    let again = zeep.call("RunInstances", &run_args(&nodes, "alice", &ids[..1]));
    assert!(!again.ok(), "{again:?}");
    assert!(again
        .get("statusMessage")
        .unwrap()
        .contains("i-00000a01 already exists"));
    // The placements are subtracted at once: the cluster counts what the nodes now report.
    let after = zeep.call("DescribeResources", &resource_args());
    assert_eq!(
        cluster_capacity(&after, 0),
        expected_capacity(&nodes, &all, SMALL)
    );
    assert!(cluster_capacity(&after, 0).1 < full_small.1);

    // DescribeInstances: the owner and the administrators see them, nobody else does.
    let running = zeep.until("DescribeInstances", ADMIN, ANSWER_BOUND, |r| {
        r.column("instances", Some("stateName")) == ["Extant"; 3]
    });
    assert_eq!(running.column("instances", Some("ownerId")), ["alice"; 3]);
    assert_eq!(running.column("instances", Some("serviceTag")), urls);
    let mine = zeep.call("DescribeInstances", r#"{"userId": "alice"}"#);
    assert_eq!(mine.column("instances", Some("instanceId")), ids);
    let theirs = zeep.call("DescribeInstances", r#"{"userId": "bob"}"#);
    assert!(
        theirs.ok() && theirs.get("instances.0.instanceId").is_none(),
        "{theirs:?}"
    );
    let one = zeep.call(
        "DescribeInstances",
        r#"{"userId": "admin", "instanceIds": ["i-00000a02"]}"#,
    );
    assert_eq!(one.column("instances", Some("instanceId")), ["i-00000a02"]);

    // Reboot reaches node 0 only.
    let reboot = zeep.call(
        "RebootInstances",
        r#"{"userId": "alice", "instanceIds": ["i-00000a01"]}"#,
    );
    assert!(reboot.ok(), "{reboot:?}");
    let rebooted = |i: usize| {
        nodes
            .nc(i)
            .log()
            .lines()
            .any(|l| l.contains("rebooting") && l.contains("instance=i-00000a01"))
    };
    assert!(rebooted(0) && !rebooted(1) && !rebooted(2));

    // The console comes from the instance's own node.
    for (index, id) in ids.iter().enumerate() {
        let console = nodes.nc(index).work_dir(id).join("console.log");
        std::fs::write(console, format!("console of {id} on node {index}\n")).unwrap();
    }
    let console = zeep.call(
        "GetConsoleOutput",
        r#"{"userId": "alice", "instanceId": "i-00000a02"}"#,
    );
    assert!(console.ok(), "{console:?}");
    let text = Base64Binary::from_text(console.get("consoleOutput").unwrap()).unwrap();
    assert_eq!(text.0, b"console of i-00000a02 on node 1\n");

    // A volume attaches on node 2, where i-00000a03 runs, and detaches.
    let volume = tempfile::NamedTempFile::new().unwrap();
    let volume_args = format!(
        r#"{{"userId": "alice", "volumeId": "vol-00000001", "instanceId": "i-00000a03",
            "remoteDev": "{}", "localDev": "/dev/sdb"}}"#,
        volume.path().display()
    );
    let attach = zeep.call("AttachVolume", &volume_args);
    assert!(attach.ok(), "{attach:?}\n{}", cc.log());
    let volumes = |id: &str| {
        block_on(describe(&nodes.client(2), id))
            .unwrap()
            .volumes
            .into_iter()
            .filter_map(|v| v.volume_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(volumes("i-00000a03"), ["vol-00000001"]);
    let detach = zeep.call("DetachVolume", &volume_args);
    assert!(detach.ok(), "{detach:?}");
    assert!(volumes("i-00000a03").is_empty());
    let unknown = zeep.call(
        "GetConsoleOutput",
        r#"{"userId": "alice", "instanceId": "i-0badf00d"}"#,
    );
    assert!(!unknown.ok(), "{unknown:?}");
    assert!(unknown.get("statusMessage").unwrap().contains("i-0badf00d"));

    // Terminate reaches each node; an unknown id is not terminated; capacity comes back.
    let flags = terminate(
        &mut zeep,
        &["i-00000a01", "i-00000a02", "i-00000a03", "i-0badf00d"],
    );
    assert_eq!(flags, ["True", "True", "True", "False"]);
    for (index, id) in ids.iter().enumerate() {
        let state = block_on(describe(&nodes.client(index), id)).map(|i| i.state_name);
        assert!(
            matches!(state.as_deref(), None | Some("Teardown")),
            "{state:?}"
        );
    }
    zeep.until("DescribeResources", &resource_args(), ANSWER_BOUND, |r| {
        cluster_capacity(r, 0) == full_small
    });

    // Only the cloud's signature is accepted.
    let unsigned = zeep.call_as("none", "DescribeResources", &resource_args());
    assert!(unsigned.fault().is_some(), "{unsigned:?}");
    let wrong = zeep.call_as("node", "DescribeResources", &resource_args());
    assert!(wrong.fault().is_some(), "{wrong:?}");

    // The network operations answer as the original's did in SYSTEM mode.
    let networks = zeep.call(
        "DescribeNetworks",
        r#"{"userId": "eucalyptus", "clusterControllers": []}"#,
    );
    assert!(
        networks.ok() && networks.get("mode") == Some("0"),
        "{networks:?}"
    );
    assert!(networks.get("activeNetworks.0.vlan").is_none());
    let addresses = zeep.call("DescribePublicAddresses", ADMIN);
    assert!(!addresses.ok() && addresses.get("statusMessage") == Some("NOTSUPPORTED"));
    let start = zeep.call(
        "StartNetwork",
        r#"{"userId": "alice", "vlan": 10, "netName": "default", "clusterControllers": []}"#,
    );
    assert!(start.ok(), "{start:?}");
    let assign = |zeep: &mut Zeep, source: &str| {
        let args =
            format!(r#"{{"userId": "eucalyptus", "source": "{source}", "dest": "10.1.0.2"}}"#);
        zeep.call("AssignAddress", &args).ok()
    };
    assert!(assign(&mut zeep, "192.0.2.10"));
    assert!(!assign(&mut zeep, "0.0.0.0"));
    drop(zeep);
    drop(cc);

    // GREEDY: the first node with room takes them all.
    let data = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, data.path(), "GREEDY", &[]);
    let mut zeep = Zeep::start(cc.url(), &nodes.keys).unwrap();
    wait_for_capacity(&mut zeep, &nodes, &all);
    let ids = ["i-00000b01", "i-00000b02", "i-00000b03"];
    let run = zeep.call("RunInstances", &run_args(&nodes, "alice", &ids));
    assert_eq!(
        run.column("instances", Some("serviceTag")),
        [urls[0].as_str(); 3]
    );
    assert_eq!(terminate(&mut zeep, &ids), ["True"; 3]);
    drop(zeep);
    drop(cc);

    // POWERSAVE: idle nodes are powered down; an instance wakes the first one only.
    let data = tempfile::tempdir().unwrap();
    let cc = Cc::start(
        &nodes,
        data.path(),
        "POWERSAVE",
        &[("POWER_IDLETHRESH", "1")],
    );
    let mut zeep = Zeep::start(cc.url(), &nodes.keys).unwrap();
    let start = Instant::now();
    while !(0..3).all(|i| nodes.nc(i).log().contains("power-down requested")) {
        assert!(
            start.elapsed() < ANSWER_BOUND,
            "nodes not powered down:\n{}",
            cc.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Asleep, the nodes still offer what they have: it is there on wake.
    let asleep = zeep.call("DescribeResources", &resource_args());
    assert_eq!(
        cluster_capacity(&asleep, 0),
        expected_capacity(&nodes, &all, SMALL)
    );
    let ids = ["i-00000c01", "i-00000c02"];
    let run = zeep.call("RunInstances", &run_args(&nodes, "alice", &ids));
    assert_eq!(
        run.column("instances", Some("serviceTag")),
        [urls[0].as_str(); 2]
    );
    let wakes: Vec<String> = cc
        .log()
        .lines()
        .filter(|l| l.contains("waking a sleeping node"))
        .map(str::to_owned)
        .collect();
    assert_eq!(wakes.len(), 1, "{wakes:?}");
    assert!(wakes[0].contains(&urls[0]), "{wakes:?}");
    assert_eq!(terminate(&mut zeep, &ids), ["True"; 2]);
}

#[test]
fn a_dead_node_is_passed_over_and_used_again_and_a_restart_keeps_the_instances() {
    let mut nodes = Nodes::start(3);
    let urls: Vec<String> = (0..3).map(|i| nodes.url(i)).collect();
    let data = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, data.path(), "ROUNDROBIN", &[]);
    let Some(mut zeep) = Zeep::start(cc.url(), &nodes.keys) else {
        return;
    };
    wait_for_capacity(&mut zeep, &nodes, &[0, 1, 2]);

    nodes.kill(1);
    let asked = Instant::now();
    let reply = zeep.call("DescribeResources", &resource_args());
    assert!(reply.ok() && asked.elapsed() < ANSWER_BOUND);
    // Within seconds the dead node adds nothing, and is still listed.
    let reply = wait_for_capacity(&mut zeep, &nodes, &[0, 2]);
    assert_eq!(reply.column("serviceTags", None), urls);

    let ids = ["i-00000d01", "i-00000d02", "i-00000d03", "i-00000d04"];
    let asked = Instant::now();
    let run = zeep.call("RunInstances", &run_args(&nodes, "alice", &ids));
    assert!(asked.elapsed() < ANSWER_BOUND, "{:?}", asked.elapsed());
    assert!(run.ok(), "{run:?}\n{}", cc.log());
    let tags = run.column("instances", Some("serviceTag"));
    assert_eq!(tags.len(), 4);
    assert!(
        tags.iter().all(|t| *t == urls[0] || *t == urls[2]),
        "{tags:?}"
    );

    // Back on its port, the node is counted and used again.
    nodes.restart(1);
    wait_for_capacity(&mut zeep, &nodes, &[0, 1, 2]);
    let more = ["i-00000e01", "i-00000e02", "i-00000e03"];
    let run = zeep.call("RunInstances", &run_args(&nodes, "alice", &more));
    assert!(run.ok(), "{run:?}");
    assert!(
        run.column("instances", Some("serviceTag"))
            .contains(&urls[1]),
        "{run:?}"
    );

    // The cache is its owner's only, as the node's records are.
    let mode = std::fs::metadata(data.path().join("instances.sqlite"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Restarted on the same data while node 2 is down, the cluster still describes the
    // instances it placed there: they come from its database, not from the node.
    let on_two: Vec<String> = on_node(&nodes, 2);
    assert!(!on_two.is_empty());
    drop(zeep);
    let mut cc = cc;
    assert!(cc.process.terminate().success(), "{}", cc.log());
    nodes.kill(2);
    let cc = Cc::start(&nodes, data.path(), "ROUNDROBIN", &[]);
    let mut zeep = Zeep::start(cc.url(), &nodes.keys).unwrap();
    let described = zeep.call("DescribeInstances", ADMIN);
    let ids = described.column("instances", Some("instanceId"));
    let tags = described.column("instances", Some("serviceTag"));
    for id in &on_two {
        let at = ids
            .iter()
            .position(|i| i == id)
            .unwrap_or_else(|| panic!("{id} not described after the restart: {described:?}"));
        assert_eq!(tags[at], urls[2]);
    }
}

#[test]
fn a_hung_node_is_marked_down_within_seconds_and_never_stalls_an_answer() {
    let nodes = Nodes::start(3);
    let data = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, data.path(), "ROUNDROBIN", &[]);
    let Some(mut zeep) = Zeep::start(cc.url(), &nodes.keys) else {
        return;
    };
    wait_for_capacity(&mut zeep, &nodes, &[0, 1, 2]);
    let live = expected_capacity(&nodes, &[0, 2], SMALL);

    // Node 1 stops answering but keeps its connections open.
    let signal = |sig: &str| {
        let pid = nodes.nc(1).pid().to_string();
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    };
    signal("-STOP");
    let stopped = Instant::now();
    let ids = ["i-00000f01", "i-00000f02", "i-00000f03"];
    let run = zeep.call("RunInstances", &run_args(&nodes, "alice", &ids));
    assert!(stopped.elapsed() < ANSWER_BOUND, "{:?}", stopped.elapsed());
    assert!(run.ok(), "{run:?}\n{}", cc.log());
    let tags = run.column("instances", Some("serviceTag"));
    assert!(!tags.contains(&nodes.url(1)), "{tags:?}");
    let asked = Instant::now();
    let resources = zeep.call("DescribeResources", &resource_args());
    assert!(resources.ok() && asked.elapsed() < Duration::from_secs(2));
    zeep.until("DescribeResources", &resource_args(), ANSWER_BOUND, |r| {
        cluster_capacity(r, 0) == (live.0, expected_capacity(&nodes, &[0, 2], SMALL).1)
    });
    assert!(cc.log().contains("node marked down"), "{}", cc.log());
    signal("-CONT");
}

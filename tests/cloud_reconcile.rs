//! The cloud controller's tick and durable RunInstances against a real `euca cloud` over real
//! `euca cluster`s and test-driver NCs, driven by boto3 from the eucarc alone
//! (`tests/py/cloud_reconcile.py` holds the clients' side): `kill -9` of the cloud in a burst
//! of launches loses no record (acceptance 6), vanished instances end, unknown ones are
//! adopted, a dead cluster keeps its instances, placement follows the zones' room, and one
//! ClientToken starts one reservation however many send it at once.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cloud_support::{admin, python, restart_cloud, serve_manifests, start_cloud};
use cluster_support::{block_on, launch_one, Cc, Nodes};
use common::launcher::Component;
use node_support::Served;
use soap::HttpTransport;
use wire::cc::{
    CcInstanceType, DescribeInstancesType, DescribeResourcesType, EucalyptusCcClient,
    RunInstancesType, TerminateInstancesType,
};

/// Seconds between the cloud's polls of its clusters in these tests.
const TICK: &str = "1";

/// A cloud over `clusters` (zone name, cluster), with the fixture images registered.
struct Cloud {
    process: Component,
    data: PathBuf,
    args: Vec<String>,
    admin_dir: String,
    emi: String,
    eki: String,
}

impl Cloud {
    fn start(nodes: &Nodes, dir: &Path, clusters: &[(&str, &Cc)]) -> Self {
        Self::start_ticking(nodes, dir, clusters, TICK)
    }

    /// A cloud whose tick comes every `tick` seconds.
    fn start_ticking(nodes: &Nodes, dir: &Path, clusters: &[(&str, &Cc)], tick: &str) -> Self {
        serve_manifests(|path, manifest| nodes.images.add(path, Served::File(manifest)));
        let data = dir.join("clc");
        let mut args: Vec<String> = vec![
            "--tick".into(),
            tick.into(),
            "--walrus".into(),
            nodes.images.url("/services/Walrus"),
        ];
        for (zone, cc) in clusters {
            args.extend(["--cluster".into(), format!("{zone}={}", cc.url())]);
        }
        let process = start_cloud(nodes.keys.path(), &data, &strs(&args));
        let admin_dir = data.join("credentials/admin").display().to_string();
        let out = python("cloud_reconcile.py", &["images", &admin_dir]);
        let (emi, eki) = out.lines().last().unwrap().split_once(' ').unwrap();
        let (emi, eki) = (emi.to_owned(), eki.to_owned());
        Self {
            process,
            data,
            args,
            admin_dir,
            emi,
            eki,
        }
    }

    /// Runs `tests/py/cloud_reconcile.py PHASE ADMIN_DIR ARGS...`; returns its last line.
    fn py(&self, phase: &str, args: &[&str]) -> String {
        let mut all = vec![phase, self.admin_dir.as_str()];
        all.extend(args);
        let out = python("cloud_reconcile.py", &all);
        out.lines().last().unwrap_or_default().to_owned()
    }

    /// Runs one instance to running; its id.
    fn run_one(&self) -> String {
        self.py("run", &[&self.emi, &self.eki])
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A client of the cluster at `url` signing as the cloud, as the cloud's own calls are.
fn cluster_client(nodes: &Nodes, url: &str) -> EucalyptusCcClient<HttpTransport> {
    EucalyptusCcClient::new(
        HttpTransport::builder(url, nodes.cloud_security())
            .build()
            .unwrap(),
    )
}

/// Every instance the cluster reports (to the identity the cloud polls with).
fn cluster_instances(client: &EucalyptusCcClient<HttpTransport>) -> Vec<CcInstanceType> {
    let ask = DescribeInstancesType {
        user_id: Some("eucalyptus".into()),
        ..DescribeInstancesType::default()
    };
    block_on(client.describe_instances(&ask)).unwrap().instances
}

#[test]
fn kill_9_during_a_burst_of_run_instances_loses_no_record_and_leaves_nothing_unaccounted() {
    let nodes = Nodes::start(2);
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let mut cloud = Cloud::start(&nodes, dir.path(), &[("zone1", &cc)]);
    // Room for 8 per node (their 8 cores), so the whole burst fits.
    admin(&cloud.data, &["vmtype", "set", "m1.small", "1", "64", "1"]);
    let answered = dir.path().join("answered");
    let (clients, each) = (4, 4);
    let burst = Command::new(common::python())
        .arg(common::workspace_root().join("tests/py/cloud_reconcile.py"))
        .args(["burst", &cloud.admin_dir, &cloud.emi, &cloud.eki])
        .arg(&answered)
        .args([clients.to_string(), each.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed once some launches are answered, with others on their way.
    let start = Instant::now();
    while std::fs::read_to_string(&answered).map_or(0, |t| t.lines().count()) < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{}",
            cloud.process.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    cloud.process.kill();
    let out = burst.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    println!("{said}");
    assert!(out.status.success(), "the burst failed: {said}");
    let launched = std::fs::read_to_string(&answered).unwrap().lines().count();
    assert!(
        launched < clients * each,
        "the kill came after the burst ended: {said}"
    );

    let _cloud = restart_cloud(nodes.keys.path(), &cloud.data, &strs(&cloud.args));
    let answered = answered.display().to_string();
    let ids = cloud.py("kept", &[&cloud.emi, &cloud.eki, &answered]);
    let described: BTreeSet<&str> = ids
        .strip_prefix("ids:")
        .unwrap()
        .split_whitespace()
        .collect();
    let client = cluster_client(&nodes, cc.url());
    let reported: Vec<String> = cluster_instances(&client)
        .into_iter()
        .filter(|i| i.state_name.as_deref() != Some("Teardown"))
        .filter_map(|i| i.instance_id)
        .collect();
    let reported: BTreeSet<&str> = reported.iter().map(String::as_str).collect();
    assert!(reported.len() >= launched, "{reported:?}");
    assert_eq!(
        reported, described,
        "the cluster's instances and the cloud's live ones differ"
    );
}

/// Guards the launch's follow: with a tick far longer than the test, whose only round ran at
/// the cloud's start, before the launch, a new instance is seen running all the same.
#[test]
fn a_launch_is_seen_running_without_waiting_for_the_tick() {
    const LONG_TICK: u64 = 600;
    let nodes = Nodes::start(1);
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    // The cloud's first tick learns the zone's room, which must be there by then.
    let client = cluster_client(&nodes, cc.url());
    let small = DescribeResourcesType {
        user_id: Some("eucalyptus".into()),
        instance_types: launch_one(
            &nodes,
            "admin",
            "r-00000001",
            "i-00000001",
            "d0:0d:00:00:00:01",
        )
        .instance_type
        .into_iter()
        .collect(),
        ..DescribeResourcesType::default()
    };
    let waited = Instant::now();
    while block_on(client.describe_resources(&small))
        .unwrap()
        .resources[0]
        .available_instances
        < Some(1)
    {
        assert!(waited.elapsed() < Duration::from_secs(30), "{}", cc.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let started = Instant::now();
    let cloud = Cloud::start_ticking(
        &nodes,
        dir.path(),
        &[("zone1", &cc)],
        &LONG_TICK.to_string(),
    );
    cloud.run_one();
    assert!(
        started.elapsed() < Duration::from_secs(LONG_TICK),
        "the second tick could have run"
    );
}

#[test]
fn an_instance_its_cluster_stops_reporting_ends_and_one_it_never_heard_of_is_adopted() {
    let nodes = Nodes::start(1);
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let cloud = Cloud::start(&nodes, dir.path(), &[("zone1", &cc)]);
    admin(&cloud.data, &["user", "add", "bob"]);
    let client = cluster_client(&nodes, cc.url());

    // Terminated behind the cloud's back: the cluster forgets it.
    let instance = cloud.run_one();
    let ended = TerminateInstancesType {
        user_id: Some("eucalyptus".into()),
        instance_ids: vec![instance.clone()],
        ..TerminateInstancesType::default()
    };
    assert_eq!(
        block_on(client.terminate_instances(&ended))
            .unwrap()
            .r#return,
        Some(true)
    );
    cloud.py("state", &[&instance, "terminated"]);

    // Started by a cloud that died before it recorded anything.
    let orphan = RunInstancesType {
        image_id: Some("emi-0000abcd".into()),
        kernel_id: Some("eki-0000abcd".into()),
        ..launch_one(
            &nodes,
            "bob",
            "r-0000abcd",
            "i-0000abcd",
            "d0:0d:00:00:ab:cd",
        )
    };
    let started = block_on(client.run_instances(&orphan)).unwrap();
    assert_eq!(started.instances.len(), 1, "{started:?}");
    let bob_dir = cloud.data.join("credentials/bob").display().to_string();
    let seen = python(
        "cloud_reconcile.py",
        &["state", &bob_dir, "i-0000abcd", "running"],
    );
    let bob = cloud_support::account_id(&cloud.data, "bob");
    assert_eq!(
        seen.lines().last().unwrap(),
        format!("r-0000abcd {bob} zone1"),
        "the adopted instance's reservation, owner and zone"
    );
    // The administrator accounts for it too.
    cloud.py("listed", &["i-0000abcd", &bob]);
}

#[test]
fn a_cluster_that_does_not_answer_makes_its_zone_unavailable_and_keeps_its_instances() {
    let nodes = Nodes::start(1);
    let dir = tempfile::tempdir().unwrap();
    let mut cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let cloud = Cloud::start(&nodes, dir.path(), &[("zone1", &cc)]);
    let instance = cloud.run_one();
    cloud.py("zone", &["zone1", "available"]);
    cc.process.kill();
    cloud.py("zone", &["zone1", "unavailable"]);
    // Longer than the grace of a pending instance: still running as last seen.
    std::thread::sleep(Duration::from_secs(4));
    cloud.py("state", &[&instance, "running"]);
}

#[test]
fn placement_honours_the_zone_asked_for_and_otherwise_takes_the_one_with_the_most_room() {
    let nodes = Nodes::start(2);
    let dir = tempfile::tempdir().unwrap();
    let one = Cc::start_over(
        &nodes.host(0),
        &nodes.keys,
        &dir.path().join("cc1"),
        "GREEDY",
        &[],
    );
    let two = Cc::start_over(
        &nodes.host(1),
        &nodes.keys,
        &dir.path().join("cc2"),
        "GREEDY",
        &[],
    );
    let cloud = Cloud::start(&nodes, dir.path(), &[("zone1", &one), ("zone2", &two)]);
    cloud.py("placement", &[&cloud.emi, &cloud.eki]);
}

#[test]
fn concurrent_retries_with_one_client_token_start_one_reservation() {
    let nodes = Nodes::start(1);
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let cloud = Cloud::start(&nodes, dir.path(), &[("zone1", &cc)]);
    cloud.py("token", &[&cloud.emi, &cloud.eki]);
}

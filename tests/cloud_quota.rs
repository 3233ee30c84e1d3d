//! Quotas end to end (issue 15's acceptance 2): limits set with `euca admin quota set`,
//! enforced at the API of a real `euca cloud` over a real `euca cluster` (MANAGED-NOVLAN,
//! for addresses), test-driver `euca node`, `euca storage` and `euca walrus` (on the cloud's
//! users), driven by boto3 from the users' eucarc files (`tests/py/cloud_quota.py`), and
//! shown with `euca admin quota show`.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;
mod walrus_support;

use cloud_support::{admin, iam_user_allowed_all, python, restart_cloud, start_cloud};
use cluster_support::{block_on, Cc, Nodes, MANAGED_NOVLAN};
use common::launcher::{euca, Component};
use node_support::Served;
use walrus_support::Walrus;
use wire::nc::NcDescribeInstancesType;

/// The instances the node runs (not terminated), by id.
fn on_node(nodes: &Nodes) -> Vec<String> {
    let request = NcDescribeInstancesType {
        user_id: Some("eucalyptus".into()),
        ..NcDescribeInstancesType::default()
    };
    let reply = block_on(nodes.client(0).nc_describe_instances(&request)).unwrap();
    let mut ids: Vec<String> = reply
        .instances
        .into_iter()
        .filter(|i| !matches!(i.state_name.as_str(), "Teardown" | "Terminated"))
        .map(|i| i.instance_id)
        .collect();
    ids.sort();
    ids
}

/// `euca admin quota show ARGS` as rows of words.
fn shown(data: &std::path::Path, args: &[&str]) -> Vec<Vec<String>> {
    let mut all = vec!["quota", "show"];
    all.extend_from_slice(args);
    admin(data, &all)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// The row of `resource` in a `quota show --account` table: its limit and its use.
fn row(table: &[Vec<String>], resource: &str) -> (String, String) {
    let found = table.iter().find(|r| r[0] == resource).unwrap();
    (found[1].clone(), found[2].clone())
}

#[test]
fn quotas_refuse_what_would_pass_them_leave_nothing_half_made_and_admit_again() {
    let nodes = Nodes::start(1);
    cloud_support::serve_manifests(|path, manifest| nodes.images.add(path, Served::File(manifest)));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("clc");
    let keys = nodes.keys.path().display().to_string();
    // The first start makes the cloud's users, whom Walrus then authenticates.
    let mut first = start_cloud(nodes.keys.path(), &data, &[]);
    assert!(first.terminate().success(), "{}", first.log());
    let walrus_data = dir.path().join("walrus");
    let clc_data = data.display().to_string();
    let walrus = Walrus::start(&walrus_data, &["--identity", &clc_data, "--keys", &keys]);
    let mut storage = euca();
    storage
        .args([
            "storage",
            "--listen",
            "127.0.0.1:0",
            "--keys",
            &keys,
            "--data",
        ])
        .arg(dir.path().join("sc"))
        .args(["--export", "nbd", "--walrus", walrus.url()]);
    let mut sc = Component::start(storage, "storage controller").unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", MANAGED_NOVLAN);
    let cluster = format!("zone1={}", cc.url());
    let images = nodes.images.url("/services/Walrus");
    let args = [
        "--cluster",
        &cluster,
        "--walrus",
        &images,
        "--storage",
        &sc.url,
        "--tick",
        "1",
    ];
    let cloud = restart_cloud(nodes.keys.path(), &data, &args);
    // Small instances: the node's room is what its disk has free.
    admin(&data, &["vmtype", "set", "q1.tiny", "1", "64", "1"]);
    admin(&data, &["user", "add", "alice"]);
    admin(&data, &["user", "add", "bob"]);
    let creds = data.join("credentials");
    let [alice, bob] = ["alice", "bob"].map(|a| creds.join(a).display().to_string());
    admin(
        &data,
        &[
            "quota",
            "set",
            "--account",
            "alice",
            "instances=2",
            "cores=8",
            "volumes=1",
            "volume-gb=3",
            "snapshots=1",
            "addresses=1",
            "buckets=1",
            "bucket-gb=0.001",
        ],
    );
    // Set and cleared: shown as no limit.
    admin(&data, &["quota", "set", "--account", "alice", "cores=none"]);

    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        python("cloud_quota.py", &["instances", &alice])
    }))
    .unwrap_or_else(|_| panic!("cloud log:\n{}", cloud.log()));
    let mut alive: Vec<String> = out
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    alive.sort();
    // The refused RunInstances reached no node: it runs alice's two.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while on_node(&nodes) != alive {
        assert!(
            std::time::Instant::now() < deadline,
            "the node runs {:?}, not {alive:?}",
            on_node(&nodes)
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    let walrus_arg = walrus_data.display().to_string();
    let table = shown(&data, &["--account", "alice"]);
    assert_eq!(
        row(&table, "instances"),
        ("2".into(), "2".into()),
        "{table:?}"
    );
    assert_eq!(
        row(&table, "memory"),
        ("-".into(), "128".into()),
        "{table:?}"
    );
    // A terminate gives the room back at once; the node gets it when they are gone.
    python("cloud_quota.py", &["end", &alice]);

    // Users of one account: u's own limit stops u only.
    admin(&data, &["user", "add", "carol"]);
    let key = |user: &str| {
        let (access, secret) = iam_user_allowed_all(&data, "carol", user);
        format!("{access}:{secret}")
    };
    let (u, v) = (key("u"), key("v"));
    admin(
        &data,
        &[
            "quota",
            "set",
            "--account",
            "carol",
            "--user",
            "u",
            "instances=1",
            "buckets=1",
            "bucket-gb=0.001",
        ],
    );
    let carol = creds.join("carol").display().to_string();
    python("cloud_quota.py", &["users", &carol, &u, &v, walrus.url()]);
    let table = shown(
        &data,
        &["--account", "carol", "--user", "u", "--walrus", &walrus_arg],
    );
    for (resource, expected) in [
        ("instances", ("1", "1")),
        ("buckets", ("1", "1")),
        ("bucket-gb", ("0.000977", "0.000572")),
        ("volumes", ("-", "0")),
    ] {
        let expected = (expected.0.to_owned(), expected.1.to_owned());
        assert_eq!(row(&table, resource), expected, "{resource}: {table:?}");
    }
    // The account's use is all its users': 1100 KiB in u's bucket and v's.
    let table = shown(&data, &["--account", "carol", "--walrus", &walrus_arg]);
    for (resource, expected) in [
        ("instances", ("-", "2")),
        ("buckets", ("-", "3")),
        ("bucket-gb", ("-", "0.001049")),
    ] {
        let expected = (expected.0.to_owned(), expected.1.to_owned());
        assert_eq!(row(&table, resource), expected, "{resource}: {table:?}");
    }

    python("cloud_quota.py", &["ebs", &alice, &bob]);
    python("cloud_quota.py", &["s3", &alice, walrus.url()]);

    let table = shown(&data, &["--account", "alice", "--walrus", &walrus_arg]);
    assert_eq!(table[0], ["RESOURCE", "LIMIT", "IN", "USE"], "{table:?}");
    let expected = [
        ("instances", ("2", "0")),
        ("cores", ("-", "0")),
        ("memory", ("-", "0")),
        ("volumes", ("1", "1")),
        ("volume-gb", ("3", "2")),
        ("snapshots", ("1", "1")),
        ("addresses", ("1", "1")),
        ("buckets", ("1", "1")),
        ("bucket-gb", ("0.000977", "0.000477")),
    ];
    for (resource, (limit, used)) in expected {
        assert_eq!(
            row(&table, resource),
            (limit.to_owned(), used.to_owned()),
            "{resource}: {table:?}"
        );
    }
    let every = shown(&data, &["--walrus", &walrus_arg]);
    assert_eq!(
        every.len(),
        1 + 7 + 3,
        "a header, alice's seven limits, u's three: {every:?}"
    );
    assert!(
        every[1..8].iter().all(|r| r[0] == "alice" && r[1] == "-"),
        "{every:?}"
    );
    assert_eq!(
        every[10],
        ["carol", "u", "instances", "1", "1"],
        "{every:?}"
    );
    assert!(sc.terminate().success(), "{}", sc.log());
}

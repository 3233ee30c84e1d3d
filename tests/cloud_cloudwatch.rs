//! The CloudWatch Query API (issue 16's acceptance 2) against a real `euca cloud` over a
//! real `euca cluster` and a test-driver `euca node`, driven by boto3's `cloudwatch` client
//! from eucarc files alone (`tests/py/cloud_cloudwatch.py`): a user's running instance's
//! metrics listed and summed for its account only, CloudWatch's error codes, and an alarm
//! that fires once to a webhook the test serves and recovers once, recorded in the event
//! log. The samples are the cloud administrator's PutMetricData (the namespace AWS/EC2 is
//! the cloud's own), recorded by the same `Cloud::record_samples` the sensors feed.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;

use cloud_support::{admin, python, start_cloud};
use cluster_support::{Cc, Nodes};
use node_support::Served;

#[test]
fn a_users_instance_metrics_are_listed_and_summed_for_its_account_alone_and_alarms_call_webhooks() {
    let nodes = Nodes::start(1);
    cloud_support::serve_manifests(|path, manifest| nodes.images.add(path, Served::File(manifest)));
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let data = dir.path().join("clc");
    let cluster = format!("zone1={}", cc.url());
    let walrus = nodes.images.url("/services/Walrus");
    let cloud = start_cloud(
        nodes.keys.path(),
        &data,
        &["--cluster", &cluster, "--walrus", &walrus, "--tick", "1"],
    );
    admin(&data, &["user", "add", "bob"]);
    admin(&data, &["user", "add", "carol"]);
    let creds = data.join("credentials");
    let [admin_dir, bob, carol] =
        ["admin", "bob", "carol"].map(|a| creds.join(a).display().to_string());

    let run = |phase: &str, args: &[&str]| {
        let all = [&[phase][..], args].concat();
        std::panic::catch_unwind(|| python("cloud_cloudwatch.py", &all))
            .unwrap_or_else(|_| panic!("cloud log:\n{}", cloud.log()))
    };
    let out = run("run", &[&bob]);
    let instance = out.lines().last().unwrap().trim().to_owned();
    assert!(instance.starts_with("i-"), "{out}");
    run("metrics", &[&admin_dir, &bob, &carol, &instance]);
    run("alarm", &[&admin_dir, &bob, &carol, &instance]);

    // Each change of the alarm's state is in the event log, as the cloud's, in bob's account.
    let events = admin(
        &data,
        &[
            "events",
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
            "--account",
            "bob",
        ],
    );
    let changes: Vec<&str> = events
        .lines()
        .filter(|l| l.contains(",cloudwatch,alarm.state,busy,"))
        .collect();
    assert_eq!(changes.len(), 3, "{events}");
    assert!(changes[1].contains(",alarm.state,busy,ALARM,"), "{events}");
    assert!(
        events.contains(",bob,admin,127.0.0.1,cloudwatch,GetMetricStatistics,,ok,"),
        "the API's requests are recorded too: {events}"
    );
    assert!(
        cloud.log().contains("alarm changed state"),
        "{}",
        cloud.log()
    );
}

//! Usage and the audit trail (issue 15's acceptance 3): a scripted day on a real `euca cloud`,
//! `euca cluster`, `euca node` (test driver), `euca storage` and `euca walrus`, driven by
//! boto3 (`tests/py/cloud_usage.py`) with the events' test clock set before each step, then
//! `euca admin usage` (CSV and JSON) compared with the hours and GB-hours worked out by hand
//! below, and `euca admin events` showing who did what, when and from where.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;
mod walrus_support;

use std::path::Path;

use cloud_support::{admin, python, start_cloud};
use cluster_support::{Cc, Nodes};
use common::launcher::{euca, Component, Keys};
use node_support::Served;
use walrus_support::Walrus;

/// 2026-01-01T00:00:00Z, the day's start.
const DAY: i64 = 1_767_225_600;

/// `euca storage` on its own files.
fn start_storage(keys: &Keys, data: &Path) -> Component {
    let mut command = euca();
    command
        .args(["storage", "--listen", "127.0.0.1:0", "--keys"])
        .arg(keys.path())
        .arg("--data")
        .arg(data);
    Component::start(command, "storage controller")
        .unwrap_or_else(|log| panic!("euca storage did not become ready:\n{log}"))
}

/// `euca admin VERB --from FROM --to TO EXTRA...`'s output.
fn between(data: &Path, verb: &str, from: &str, to: &str, extra: &[&str]) -> String {
    let args = [&[verb, "--from", from, "--to", to][..], extra].concat();
    admin(data, &args)
}

/// The rows of a CSV report after its header.
fn rows(csv: &str) -> Vec<String> {
    csv.lines().skip(1).map(str::to_owned).collect()
}

/// The requests the day's script counted for `user`'s `component` in `span` (`day` or
/// `window`).
fn sent(counts: &serde_json::Value, span: &str, user: &str, component: &str) -> u64 {
    counts[span][user][component].as_u64().unwrap_or(0)
}

#[test]
fn a_scripted_days_usage_is_reported_exactly_and_its_requests_are_audited() {
    let clock = tempfile::NamedTempFile::new().unwrap();
    // Read by every component this test starts, for the times of events only. This test is
    // alone in its binary, so no other test sees it.
    std::env::set_var("EUCA_TEST_CLOCK", clock.path());
    std::fs::write(clock.path(), format!("{DAY}\n")).unwrap();

    let nodes = Nodes::start(1);
    cloud_support::serve_manifests(|path, manifest| nodes.images.add(path, Served::File(manifest)));
    let dir = tempfile::tempdir().unwrap();
    let sc = start_storage(&nodes.keys, &dir.path().join("sc"));
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let data = dir.path().join("clc");
    let cluster = format!("zone1={}", cc.url());
    let images = nodes.images.url("/services/Walrus");
    let cloud = start_cloud(
        nodes.keys.path(),
        &data,
        &[
            "--cluster",
            &cluster,
            "--walrus",
            &images,
            "--storage",
            &sc.url,
            "--tick",
            "1",
        ],
    );
    assert!(
        cloud.log().contains("EUCA_TEST_CLOCK is set"),
        "the cloud warns of the test clock: {}",
        cloud.log()
    );
    admin(&data, &["user", "add", "alice"]);
    admin(&data, &["user", "add", "bob"]);
    let clc_data = data.display().to_string();
    let walrus = Walrus::start(&dir.path().join("walrus"), &["--identity", &clc_data]);
    let creds = data.join("credentials");
    let [alice, bob] = ["alice", "bob"].map(|u| creds.join(u).display().to_string());
    let out = python(
        "cloud_usage.py",
        &[
            "day",
            &clock.path().display().to_string(),
            &DAY.to_string(),
            &alice,
            &bob,
            walrus.url(),
            &common::workspace_root()
                .join("wsdl/ec2_2009-04-04.wsdl")
                .display()
                .to_string(),
            &creds.join("alice.zip").display().to_string(),
        ],
    );
    let counts: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();

    // The day, worked out by hand from the script's times (hours):
    // - m1.small running 1:00 to its terminate at 6:00: 5 h; c1.medium 2:00 to 14:00: 12 h;
    // - the 2 GB volume, 3:00 to 9:00: 12 GB-hours;
    // - alice-day: 2 MiB from 4:00, 2 + 4 - 1 = 5 MiB from 8:00, 1 MiB from 12:00, deleted at
    //   20:00: 2*4 + 5*4 + 1*8 = 36 MiB-hours = 36/1024 GB-hours;
    // - bob-day: 8 MiB from 16:00 to the day's end: 64 MiB-hours = 0.0625 GB-hours.
    let day = between(&data, "usage", "2026-01-01", "2026-01-02", &[]);
    // Each account's requests are its root user's, `admin` (`euca admin user add`).
    let requests = |span: &str, account: &str, component: &str| {
        format!(
            "{account},admin,requests,{component},{}",
            sent(&counts, span, account, component)
        )
    };
    let expected_day = [
        "alice,admin,instance-hours,c1.medium,12".to_owned(),
        "alice,admin,instance-hours,m1.small,5".to_owned(),
        "alice,admin,volume-gb-hours,,12".to_owned(),
        "alice,admin,bucket-gb-hours,alice-day,0.03515625".to_owned(),
        requests("day", "alice", "ec2"),
        requests("day", "alice", "s3"),
        "bob,admin,bucket-gb-hours,bob-day,0.0625".to_owned(),
        requests("day", "bob", "s3"),
    ];
    assert_eq!(
        day.lines().next(),
        Some("account,user,metric,item,quantity")
    );
    assert_eq!(rows(&day), expected_day, "{day}");

    // Clipped to 5:00..14:00: m1.small 5..6, c1.medium 5..14, the volume 5..9 (2 GB), and
    // alice-day 2 MiB for 3 h, 5 MiB for 4 h, 1 MiB for 2 h = 28 MiB-hours.
    let (five, fourteen) = ("2026-01-01T05:00:00Z", "2026-01-01T14:00:00Z");
    let window = between(&data, "usage", five, fourteen, &["--account", "alice"]);
    let expected_window = [
        "alice,admin,instance-hours,c1.medium,9".to_owned(),
        "alice,admin,instance-hours,m1.small,1".to_owned(),
        "alice,admin,volume-gb-hours,,8".to_owned(),
        "alice,admin,bucket-gb-hours,alice-day,0.02734375".to_owned(),
        requests("window", "alice", "ec2"),
        requests("window", "alice", "s3"),
    ];
    assert_eq!(rows(&window), expected_window, "{window}");
    let bobs = ["--account", "bob", "--user", "admin"];
    let bob_only = between(&data, "usage", "2026-01-01", "2026-01-02", &bobs);
    assert_eq!(rows(&bob_only), expected_day[6..], "{bob_only}");
    let nobody = ["--account", "bob", "--user", "carol"];
    let none = between(&data, "usage", "2026-01-01", "2026-01-02", &nobody);
    assert_eq!(rows(&none), Vec::<String>::new(), "{none}");

    // The same day as JSON.
    let (midnight, next) = ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z");
    let json = between(&data, "usage", midnight, next, &["--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["from"], "2026-01-01T00:00:00.000Z");
    let lines: Vec<String> = report["usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let field = |name: &str| l[name].as_str().unwrap().to_owned();
            let quantity = l["quantity"].as_f64().unwrap();
            format!(
                "{},{},{},{},{quantity}",
                field("account"),
                field("user"),
                field("metric"),
                field("item")
            )
        })
        .collect();
    assert_eq!(lines, expected_day, "{json}");

    // The audit trail: who, what, when, from where, with what outcome.
    let alice_only = ["--account", "alice"];
    let trail = between(&data, "events", "2026-01-01", "2026-01-02", &alice_only);
    let has = |time: &str, rest: &str| {
        trail.lines().any(|l| {
            l.split_once(',')
                .is_some_and(|(_, l)| l.starts_with(time) && l.contains(rest))
        })
    };
    for (time, rest) in [
        (
            "2026-01-01T01:00:00.000Z",
            ",alice,admin,127.0.0.1,ec2,RunInstances,,ok,",
        ),
        (
            "2026-01-01T03:00:00.000Z",
            ",alice,admin,127.0.0.1,ec2,DescribeVolumes,,InvalidVolume.NotFound,",
        ),
        (
            "2026-01-01T03:30:00.000Z",
            ",alice,admin,127.0.0.1,ec2,DescribeVolumes,,ok,",
        ),
        (
            "2026-01-01T04:00:00.000Z",
            ",alice,admin,127.0.0.1,s3,PutObject,,ok,",
        ),
        (
            "2026-01-01T04:00:00.000Z",
            ",alice,admin,127.0.0.1,s3,bucket.bytes,alice-day,ok,2097152 bytes",
        ),
        (
            "2026-01-01T12:00:00.000Z",
            ",alice,admin,127.0.0.1,s3,GetObject,,NoSuchKey,",
        ),
        (
            "2026-01-01T02:00:00.000Z",
            ",alice,,,ec2,instance.running,i-",
        ),
        (
            "2026-01-01T09:00:00.000Z",
            ",alice,admin,127.0.0.1,ec2,volume.deleted,vol-",
        ),
    ] {
        assert!(has(time, rest), "no {time} {rest} in:\n{trail}");
    }
    assert!(!trail.contains(",bob,"), "--account alice: {trail}");
    let as_json = [&alice_only[..], &["--format", "json"]].concat();
    let events_json = between(&data, "events", "2026-01-01", "2026-01-02", &as_json);
    let events: serde_json::Value = serde_json::from_str(&events_json).unwrap();
    assert_eq!(events.as_array().unwrap().len(), rows(&trail).len());
    drop(walrus);
    drop(cloud);
    drop(sc);
}

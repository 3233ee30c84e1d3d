//! The console's monitoring pages in a real browser (Selenium driving Debian's Chromium,
//! `tests/py/console_monitoring.py`) over a real `euca cluster` and a test-driver node: a
//! user's running instance, its samples of the last 2.5 hours put through the CloudWatch
//! API, charted in `/monitoring/{id}` for the administrator and the instance's account, and
//! hidden from another account. Screenshots go to `target/screenshots/monitoring-*.png`.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;

use cloud_support::{admin, console_password, console_url, python, start_cloud};
use cluster_support::{Cc, Nodes};
use node_support::Served;

#[test]
fn an_instances_charts_are_drawn_for_the_administrator_and_its_account_alone() {
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
        &["--cluster", &cluster, "--walrus", &walrus],
    );
    admin(&data, &["user", "add", "bob"]);
    admin(&data, &["user", "add", "carol"]);
    let creds = data.join("credentials");
    let [admin_dir, bob, carol] =
        ["admin", "bob", "carol"].map(|a| creds.join(a).display().to_string());
    let out = python("cloud_cloudwatch.py", &["run", &bob]);
    let instance = out.lines().last().unwrap().trim().to_owned();
    let out = std::panic::catch_unwind(|| {
        python(
            "console_monitoring.py",
            &[
                &console_url(&cloud),
                &console_password(&data),
                &admin_dir,
                &bob,
                &carol,
                &instance,
            ],
        )
    })
    .unwrap_or_else(|_| panic!("cloud log:\n{}", cloud.log()));
    assert_eq!(out.matches("ok: ").count(), 5, "{out}");
}

//! The console's operations pages (provisioning, instances, images, volumes, snapshots,
//! buckets, capacity, health) in headless Chromium against the real `euca cloud` over a real
//! CC and two nodes (test driver; the second registered with the CC from the console), SC (volumes on files) and Walrus, checked against boto3 (`tests/py/console_ops.py` holds the
//! browser's side; it saves a screenshot of each page).

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;
mod walrus_support;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use cloud_support::{admin, console_password, console_url, python, start_cloud};
use cluster_support::{Cc, Nodes};
use common::launcher::{euca, Component};
use node_support::Served;
use walrus_support::Walrus;

/// Gives the root user of `account` the console password `password`, as an administrator
/// does with `euca admin user password` (which reads it from its standard input).
fn set_password(data: &Path, account: &str, password: &str) {
    let mut child = euca()
        .args(["admin", "--data"])
        .arg(data)
        .args(["user", "password", "--account", account, "admin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "euca admin user password: {out:?}");
}

#[test]
fn an_admin_provisions_and_runs_the_cloud_from_the_console_and_users_see_only_their_own() {
    // Nodes that sample every half second, so that the instance's CPU chart fills while the
    // test watches it (the default is 20 s).
    let nodes = Nodes::start_with(2, &[("SAMPLE_INTERVAL", "0.5")]);
    cloud_support::serve_manifests(|path, manifest| nodes.images.add(path, Served::File(manifest)));
    let dir = tempfile::tempdir().unwrap();
    // The CC starts with the first node alone; the console registers the second.
    let cc = Cc::start_over(
        &nodes.host(0),
        &nodes.keys,
        &dir.path().join("cc"),
        "ROUNDROBIN",
        &[],
    );
    let mut storage = euca();
    storage
        .args([
            "storage",
            "--listen",
            "127.0.0.1:0",
            "--backend",
            "file",
            "--keys",
        ])
        .arg(nodes.keys.path())
        .arg("--data")
        .arg(dir.path().join("sc"));
    let sc = Component::start(storage, "storage controller").unwrap();
    let data = dir.path().join("clc");
    let cloud = start_cloud(
        nodes.keys.path(),
        &data,
        &[
            "--cluster",
            &format!("zone1={}", cc.url()),
            "--walrus",
            &nodes.images.url("/services/Walrus"),
            "--storage",
            &sc.url,
            "--tick",
            "1",
        ],
    );
    let base = console_url(&cloud);
    // Where `euca up` keeps Walrus: in the CLC's DATA, which the console reads it from.
    let clc_data = data.display().to_string();
    let walrus = Walrus::start(&data.join("walrus"), &["--identity", &clc_data]);
    for account in ["bob", "carol"] {
        admin(&data, &["user", "add", account]);
        set_password(&data, account, &format!("{account}-console-pw"));
    }
    let creds = data.join("credentials");
    let (admin_dir, bob_dir) = (
        creds.join("admin").display().to_string(),
        creds.join("bob").display().to_string(),
    );
    let out = python(
        "console_ops.py",
        &[
            "admin",
            &base,
            &console_password(&data),
            &admin_dir,
            &bob_dir,
            walrus.url(),
            &nodes.host(1),
        ],
    );
    let instance = out.lines().last().unwrap().trim().to_owned();
    assert!(instance.starts_with("i-"), "{out}");
    for (account, owns) in [("bob", "own"), ("carol", "other")] {
        python(
            "console_ops.py",
            &[
                "user",
                &base,
                account,
                &format!("{account}-console-pw"),
                &instance,
                owns,
            ],
        );
    }
}

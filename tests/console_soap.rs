//! The console's SOAP page in a real browser (Selenium driving Debian's Chromium, through
//! `tests/py/console_soap.py`) over a real `euca cloud`, `euca cluster` and a test-driver
//! `euca node`: ncDescribeResource on the node and DescribeImages on the CLC, sent signed
//! from forms the WSDL catalog lays out, their replies shown with the signature checked; a
//! user of another account refused the page; and ListAllMyBuckets on a real `euca walrus`
//! and GetStorageConfiguration on a real `euca storage`.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;
mod walrus_support;

use std::io::Write as _;
use std::process::Stdio;

use cloud_support::{admin, console_password, console_url, python, restart_cloud, start_cloud};
use cluster_support::{Cc, Nodes};
use common::launcher::{Component, Keys};
use walrus_support::Walrus;

/// What the test node offers (`NcSetup::test_driver`): its cores and memory in MB.
const NODE_CORES: &str = "8";
const NODE_MEMORY_MB: &str = "2048";

/// Sets the console password of `account`'s root user, as `euca admin user password` reads
/// it from its standard input.
fn set_password(data: &std::path::Path, account: &str, password: &str) {
    let mut child = common::launcher::euca()
        .args(["admin", "--data"])
        .arg(data)
        .args(["user", "password", "--account", account, "admin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "euca admin user password: {out:?}");
}

#[test]
fn the_admin_calls_the_node_and_the_clc_from_the_soap_console() {
    let nodes = Nodes::start(1);
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let data = dir.path().join("clc");
    let cloud = start_cloud(
        nodes.keys.path(),
        &data,
        &["--cluster", &format!("zone1={}", cc.url())],
    );
    admin(&data, &["user", "add", "bob"]);
    set_password(&data, "bob", "bob's console password");
    let admin_dir = data.join("credentials/admin").display().to_string();
    let (url, password) = (console_url(&cloud), console_password(&data));
    let browsed = std::panic::catch_unwind(|| {
        python(
            "console_soap.py",
            &[
                "components",
                &url,
                &admin_dir,
                &password,
                &nodes.url(0),
                NODE_CORES,
                NODE_MEMORY_MB,
                "bob's console password",
            ],
        )
    });
    if let Err(failure) = browsed {
        eprintln!("the cloud's log:\n{}", cloud.log());
        std::panic::resume_unwind(failure);
    }
    // Each call is logged with where it went.
    let log = cloud.log();
    assert!(log.contains("SOAP console request"), "{log}");
}

#[test]
fn the_admin_calls_walrus_and_the_storage_controller_from_the_soap_console() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("clc");
    // The first start makes the cloud's users; Walrus then authenticates them (`--identity`).
    let mut first = start_cloud(keys.path(), &data, &[]);
    assert!(first.terminate().success(), "{}", first.log());
    let clc_data = data.display().to_string();
    let walrus = Walrus::start(&dir.path().join("walrus"), &["--identity", &clc_data]);
    let mut storage = common::launcher::euca();
    storage
        .args(["storage", "--listen", "127.0.0.1:0", "--keys"])
        .arg(keys.path())
        .arg("--data")
        .arg(dir.path().join("sc"));
    let sc = Component::start(storage, "storage controller")
        .unwrap_or_else(|log| panic!("euca storage did not become ready:\n{log}"));
    let cloud = restart_cloud(
        keys.path(),
        &data,
        &["--walrus", walrus.url(), "--storage", &sc.url],
    );
    let admin_dir = data.join("credentials/admin").display().to_string();
    python(
        "console_soap.py",
        &[
            "services",
            &console_url(&cloud),
            &admin_dir,
            &console_password(&data),
            walrus.url(),
            &sc.url,
        ],
    );
}

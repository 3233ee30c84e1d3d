//! The console's SLA page in a real browser (`tests/py/console_sla.py`, Selenium and
//! Chromium) against a real `euca cloud`: what the page sets is what `euca admin sla show`
//! reads from the store.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod common;

use cloud_support::{admin, console_password, console_url, python, start_cloud};
use common::launcher::Keys;

#[test]
fn the_sla_page_sets_lists_refuses_and_clears() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("clc");
    // A zone whose CC is not running: SLAs name zones the cloud has registered.
    let zone = "zone1=http://127.0.0.1:1/axis2/services/EucalyptusCC";
    let cloud = start_cloud(keys.path(), &data, &["--cluster", zone]);
    admin(&data, &["user", "add", "a"]);
    admin(&data, &["user", "add", "b"]);
    python(
        "console_sla.py",
        &[&console_url(&cloud), &console_password(&data)],
    );
    assert_eq!(
        admin(&data, &["sla", "show"]),
        "b\tpriority 1\nb\tplacement default\nb\tburst overflow\nb\twebhook none\n"
    );
}

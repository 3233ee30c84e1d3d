//! The console's monitoring pages in a real browser (Selenium driving Debian's Chromium,
//! `tests/py/console_monitoring.py`) over a real `euca cluster` and a test-driver node: a
//! user's running instance, its samples of the last 2.5 hours put through the CloudWatch
//! API, charted in `/monitoring/{id}` for the administrator and the instance's account, and
//! hidden from another account. Screenshots go to `target/screenshots/monitoring-*.png`.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod monitoring_support;
mod node_support;

use cloud_support::{console_password, console_url};

#[test]
fn an_instances_charts_are_drawn_for_the_administrator_and_its_account_alone() {
    let w = monitoring_support::start();
    let out = w.python(
        "console_monitoring.py",
        &[
            &console_url(&w.cloud),
            &console_password(&w.data),
            &w.admin_dir,
            &w.bob,
            &w.carol,
            &w.instance,
        ],
    );
    assert_eq!(out.matches("ok: ").count(), 5, "{out}");
}

//! The console's identity pages in a real browser (Selenium driving Debian's Chromium,
//! `tests/py/console_identity.py`): the administrator signs in, creates an account, a user
//! with a password, a group, a policy and a quota, then that user signs in and sees only
//! their own account. Screenshots of each page go to `target/screenshots/identity-*.png`.
//! What the browser did is then read back through `euca admin`, the same store.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod common;

use cloud_support::{admin, console_password, console_url, python, start_cloud};
use common::launcher::Keys;

#[test]
fn the_administrator_manages_identities_and_a_user_sees_their_own_account() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cloud = start_cloud(keys.path(), &data, &[]);
    let out = python(
        "console_identity.py",
        &[&console_url(&cloud), &console_password(&data)],
    );
    assert_eq!(out.matches("ok: ").count(), 9, "{out}");

    let users = admin(&data, &["user", "list", "--account", "acme"]);
    assert!(
        users.lines().any(|l| l.starts_with("acme\tdev\t")),
        "{users}"
    );
    let quotas = admin(&data, &["quota", "show", "--account", "acme"]);
    assert!(
        quotas.contains("instances") && quotas.contains('2'),
        "{quotas}"
    );
}

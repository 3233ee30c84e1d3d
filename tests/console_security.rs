//! Acceptance 3 of the admin console against the real `euca cloud`, with Python's
//! `requests` verifying TLS against the cloud's certificate (`tests/py/console_security.py`):
//! plain HTTP refused, cookie and header flags, an ordinary user kept off the
//! administrator's pages and other accounts, CSRF tokens required, sign-in throttling.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod common;

use cloud_support::{cloud_cert, console_password, console_url, python, start_cloud};
use common::launcher::Keys;

#[test]
fn users_stay_in_their_account_forms_need_their_token_and_guessing_is_throttled() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cloud = start_cloud(keys.path(), &data, &[]);
    let out = python(
        "console_security.py",
        &[
            &console_url(&cloud),
            &cloud_cert(keys.path()),
            &console_password(&data),
        ],
    );
    assert_eq!(out.matches("ok: ").count(), 7, "{out}");
    // The throttled attempts are logged, as sign-in failures are.
    let log = cloud.log();
    assert_eq!(log.matches("console: sign-in refused").count(), 5, "{log}");
    assert!(log.contains("console: sign-in throttled"), "{log}");
}

#[test]
fn the_administrators_password_file_is_private_and_kept_across_restarts() {
    use std::os::unix::fs::PermissionsExt;
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cloud = start_cloud(keys.path(), &data, &[]);
    let file = data.join("credentials/admin/console-password");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let first = console_password(&data);
    assert!(first.len() >= 20, "{first}");
    cloud.terminate();
    // A second start keeps the password; `euca admin user password` changes it.
    let _cloud = cloud_support::restart_cloud(keys.path(), &data, &[]);
    assert_eq!(console_password(&data), first);
}

//! Walrus serving a cloud's users, as the original's shared database did: `euca walrus
//! --identity CLC_DATA` (the cloud's SQLite users, or the PostgreSQL database its DATA
//! records) and `--db URL`. boto3 and s3cmd, configured from the eucarc files the cloud
//! writes, are accepted as both users, as a user added after Walrus started, and refused as
//! a disabled user (`tests/py/walrus_identity.py`).

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod common;
mod walrus_support;

use std::path::Path;

use cloud_support::{admin, python, start_cloud, start_cloud_on_postgres};
use common::launcher::Keys;
use walrus_support::Walrus;

/// Which flag gives Walrus the cloud's users.
enum Flag<'a> {
    Identity,
    Db(&'a str),
}

/// Runs the checks against a cloud started on `data` and a Walrus given its users by `flag`.
fn walrus_serves_the_clouds_users(dir: &Path, data: &Path, flag: Flag<'_>) {
    admin(data, &["user", "add", "bob"]);
    let clc_data = data.display().to_string();
    let args = match flag {
        Flag::Identity => ["--identity", clc_data.as_str()],
        Flag::Db(url) => ["--db", url],
    };
    let walrus = Walrus::start(&dir.join("walrus"), &args);
    let as_user = |name: &str, expected: &str| {
        let folder = data.join("credentials").join(name).display().to_string();
        python("walrus_identity.py", &[walrus.url(), &folder, expected]);
    };
    as_user("admin", "accepted");
    as_user("bob", "accepted");
    admin(data, &["user", "add", "carol"]);
    as_user("carol", "accepted");
    admin(data, &["user", "disable", "bob"]);
    as_user("bob", "refused");
    // Walrus's own administrator is for a Walrus run alone.
    assert!(!dir.join("walrus/admin-eucarc").exists());
    assert!(!dir.join("walrus/users.sqlite").exists());
}

#[test]
fn walrus_with_identity_accepts_the_clouds_users() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("clc");
    let _cloud = start_cloud(keys.path(), &data, &[]);
    walrus_serves_the_clouds_users(dir.path(), &data, Flag::Identity);
}

/// The checks against a cloud on a new PostgreSQL database, Walrus given its users by
/// `--db` or by `--identity`.
fn on_postgres(by_db: bool) {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("clc");
    let Some((_cloud, url)) = start_cloud_on_postgres(keys.path(), &data, &[]) else {
        return;
    };
    let flag = if by_db {
        Flag::Db(&url)
    } else {
        Flag::Identity
    };
    walrus_serves_the_clouds_users(dir.path(), &data, flag);
}

#[test]
fn walrus_with_identity_of_a_cloud_on_postgres_accepts_its_users() {
    on_postgres(false);
}

#[test]
fn walrus_with_db_accepts_the_clouds_users() {
    on_postgres(true);
}

#[test]
fn walrus_refuses_to_start_on_a_folder_that_holds_no_cloud() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::launcher::euca()
        .args(["walrus", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("walrus"))
        .arg("--identity")
        .arg(dir.path().join("nothing"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("users.sqlite"), "{stderr}");
}

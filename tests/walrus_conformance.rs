//! Issue 10: the S3 behaviours current clients and conformance suites check, driven with
//! boto3 against the real `euca walrus` (tests/py/walrus_conformance.py, one group each).

#![allow(clippy::unwrap_used)]

mod common;
mod walrus_support;

use walrus_support::{add_users, Walrus};

#[test]
fn s3_behaviours_clients_rely_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let walrus = Walrus::start(&data, &[]);
    let users_file = dir.path().join("users");
    std::fs::write(&users_file, add_users(&data, &["alice", "bob"])).unwrap();
    let args = [
        "--endpoint".to_owned(),
        walrus.url().to_owned(),
        "--users".to_owned(),
        users_file.display().to_string(),
    ];
    walrus.run_script("walrus_conformance.py", &args);
}

//! Acceptance 1 and 5 of Walrus: s3cmd (SigV2 and SigV4), the AWS CLI and boto3 pass one
//! script over every operation Walrus serves, including a 100 MB multipart upload and ranged
//! GETs, against the real `euca walrus`; the same script passes unchanged when Walrus keeps
//! its data in a remote S3 store (a moto server).

#![allow(clippy::unwrap_used)]

mod common;
mod walrus_support;

use walrus_support::{admin_credentials, assert_success, run_python, Moto, Walrus};

const DOMAIN: &str = "walrus.test";

/// Runs tests/py/walrus_clients.py against `walrus` with the administrator's keys.
fn run_clients(walrus: &Walrus, work: &std::path::Path) {
    let (access, secret) = admin_credentials(&walrus.data);
    let bin = common::python().parent().unwrap().to_owned();
    let args = [
        "--endpoint".to_owned(),
        walrus.url().to_owned(),
        "--access-key".to_owned(),
        access,
        "--secret-key".to_owned(),
        secret,
        "--workdir".to_owned(),
        work.display().to_string(),
        "--bin".to_owned(),
        bin.display().to_string(),
        "--domain".to_owned(),
        DOMAIN.to_owned(),
        "--big-mb".to_owned(),
        "100".to_owned(),
    ];
    walrus.run_script("walrus_clients.py", &args);
}

#[test]
fn clients_pass_against_local_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (data, work) = (dir.path().join("data"), dir.path().join("work"));
    std::fs::create_dir_all(&work).unwrap();
    let walrus = Walrus::start(&data, &["--domain", DOMAIN]);
    run_clients(&walrus, &work);
    // Everything the script made it deleted: no blob may be left behind.
    let status = walrus.terminate();
    assert!(
        status.success(),
        "walrus exits cleanly on SIGTERM: {status}"
    );
    assert!(
        walrus_support::files_under(&data.join("blobs")).is_empty(),
        "blobs left behind"
    );
    assert!(
        walrus_support::files_under(&data.join("staging")).is_empty(),
        "staging left behind"
    );
}

#[test]
fn clients_pass_against_a_remote_store() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let (data, work) = (dir.path().join("data"), dir.path().join("work"));
    std::fs::create_dir_all(&work).unwrap();
    let walrus = Walrus::start(
        &data,
        &[
            "--domain",
            DOMAIN,
            "--backend",
            "s3",
            "--remote-endpoint",
            &moto.url,
            "--remote-access-key",
            "testing",
            "--remote-secret-key",
            "testing",
            "--remote-bucket-prefix",
            "walrus-",
        ],
    );
    run_clients(&walrus, &work);
    // The data went to moto, not to the local disk.
    assert!(
        walrus_support::files_under(&data.join("blobs")).is_empty(),
        "local blobs written"
    );
    let (access, secret) = admin_credentials(&data);
    let args = [
        "--walrus".to_owned(),
        walrus.url().to_owned(),
        "--access-key".to_owned(),
        access,
        "--secret-key".to_owned(),
        secret,
        "--remote".to_owned(),
        moto.url.clone(),
        "--prefix".to_owned(),
        "walrus-".to_owned(),
    ];
    assert_success(
        &run_python("walrus_remote_check.py", &args),
        "walrus_remote_check.py",
    );
}

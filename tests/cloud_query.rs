//! The cloud controller's Query API against the real `euca cloud`: boto3, the AWS CLI and
//! SigV2 signers (botocore's and hand-made variants), configured from the eucarc files the
//! cloud and `euca admin` write, drive keypairs, security groups, regions, account facts and
//! EC2's errors; a second user is isolated from the first and a disabled one refused; zones
//! come from a real cluster over a node on libvirt's test driver
//! (`tests/py/cloud_clients.py` holds the clients' side).

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;

use std::path::Path;
use std::process::Command;

use cloud_support::{admin, python, start_cloud};
use cluster_support::{Cc, Nodes};
use common::launcher::{euca, Keys};

fn clients(args: &[&str]) {
    python("cloud_clients.py", args);
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn clients_configured_from_eucarc_drive_the_query_api() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cloud = start_cloud(keys.path(), &data, &[]);
    let creds = data.join("credentials");
    let admin_dir = creds.join("admin");
    for name in [
        "eucarc",
        "euca2-admin-cert.pem",
        "euca2-admin-pk.pem",
        "cloud-cert.pem",
    ] {
        assert_eq!(mode(&admin_dir.join(name)), 0o600, "{name}");
    }
    assert_eq!(mode(&admin_dir), 0o700);
    assert_eq!(mode(&creds.join("admin.zip")), 0o600);
    // The user's certificate is issued by the cloud's key.
    let verify = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(keys.file("cloud-cert.pem"))
        .arg(admin_dir.join("euca2-admin-cert.pem"))
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");

    let eucarc = admin(&data, &["user", "add", "bob"]);
    assert_eq!(
        eucarc.trim(),
        creds.join("bob/eucarc").display().to_string()
    );
    assert!(creds.join("bob.zip").is_file());
    let users = admin(&data, &["user", "list"]);
    assert!(
        users.contains("admin\t") && users.contains("bob\t"),
        "{users}"
    );

    let (bob_dir, admin_dir) = (creds.join("bob"), admin_dir.display().to_string());
    clients(&["main", &bob_dir.display().to_string(), &admin_dir]);
    match common::reference_dir() {
        Some(reference) => {
            let captures = reference.join("captures/euca2ools-1.0_boto-1.8d.jsonl");
            clients(&[
                "captures",
                &bob_dir.display().to_string(),
                &captures.display().to_string(),
            ]);
        }
        None => {
            println!("skipped: ../shared/reference is absent (the recorded euca2ools requests)")
        }
    }
    admin(&data, &["user", "disable", "bob"]);
    clients(&["disabled", &bob_dir.display().to_string()]);

    // A restart keeps users and their keypairs, and does not reissue the admin's credentials.
    let eucarc_before = std::fs::read(creds.join("admin/eucarc")).unwrap();
    assert!(cloud.terminate().success(), "{}", cloud.log());
    let _cloud = start_cloud(keys.path(), &data, &[]);
    assert_eq!(
        std::fs::read(creds.join("admin/eucarc")).unwrap(),
        eucarc_before
    );
    admin(&data, &["user", "delete", "bob"]);
    assert!(!creds.join("bob").exists() && !creds.join("bob.zip").exists());
    assert!(!admin(&data, &["user", "list"]).contains("bob"));
}

#[test]
fn admin_manages_clusters_and_vm_types() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let refused = euca()
        .args(["admin", "--data"])
        .arg(&data)
        .args(["vmtype", "list"])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "euca admin works only on a cloud's DATA"
    );
    let mut cloud = start_cloud(
        keys.path(),
        &data,
        &[
            "--cluster",
            "one=http://127.0.0.1:1/axis2/services/EucalyptusCC",
        ],
    );
    assert!(cloud.terminate().success());
    let types = admin(&data, &["vmtype", "list"]);
    assert_eq!(
        types,
        "m1.small\t1\t128\t2\nc1.medium\t1\t256\t5\nm1.large\t2\t512\t10\nm1.xlarge\t2\t1024\t20\nc1.xlarge\t4\t2048\t20\n"
    );
    admin(&data, &["vmtype", "set", "m1.small", "1", "256", "3"]);
    assert!(admin(&data, &["vmtype", "list"]).starts_with("m1.small\t1\t256\t3\n"));
    admin(
        &data,
        &[
            "cluster",
            "add",
            "two",
            "http://127.0.0.1:2/axis2/services/EucalyptusCC",
        ],
    );
    let clusters = admin(&data, &["cluster", "list"]);
    assert_eq!(
        clusters,
        "one\thttp://127.0.0.1:1/axis2/services/EucalyptusCC\ntwo\thttp://127.0.0.1:2/axis2/services/EucalyptusCC\n"
    );
    admin(
        &data,
        &[
            "cluster",
            "remove",
            "one",
            "http://127.0.0.1:1/axis2/services/EucalyptusCC",
        ],
    );
    assert!(admin(&data, &["cluster", "list"]).starts_with("two\t"));
    let duplicate = euca()
        .args(["admin", "--data"])
        .arg(&data)
        .args(["cluster", "add", "two", "http://x"])
        .output()
        .unwrap();
    assert!(!duplicate.status.success());
    // `..` would name DATA itself as a user's credentials folder.
    for args in [["user", "add", ".."], ["user", "delete", ".."]] {
        let refused = euca()
            .args(["admin", "--data"])
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        assert!(!refused.status.success(), "{args:?}");
    }
    // DATA is still there, whichever engine keeps the state.
    assert!(data.join("credentials/admin/eucarc").is_file());
}

#[test]
fn zones_are_the_registered_clusters_with_their_capacity() {
    let nodes = Nodes::start(1);
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let data = dir.path().join("clc");
    let _cloud = start_cloud(
        nodes.keys.path(),
        &data,
        &[
            "--cluster",
            &format!("zone1={}", cc.url()),
            // Nothing listens on port 1: a cluster that is down.
            "--cluster",
            "dead=http://127.0.0.1:1/axis2/services/EucalyptusCC",
        ],
    );
    let admin_dir = data.join("credentials/admin").display().to_string();
    clients(&["zones", &admin_dir, "zone1", "dead"]);
}

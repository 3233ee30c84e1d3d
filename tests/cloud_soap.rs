//! The cloud controller's EC2 API over SOAP against the real `euca cloud`: zeep loading our
//! `wsdl/ec2_2009-04-04.wsdl`, signing with xmlsec as each user, with the certificate and key
//! of the credentials zip `euca admin` wrote (`tests/py/cloud_soap.py` holds the clients'
//! side).

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;

use std::path::Path;

use cloud_support::{admin, ec2_wsdl, python, serve_manifests, start_cloud};
use cluster_support::{Cc, Nodes};
use common::launcher::Keys;
use node_support::Served;

/// `DATA/credentials/NAME.zip`.
fn zip(data: &Path, name: &str) -> String {
    data.join(format!("credentials/{name}.zip"))
        .display()
        .to_string()
}

#[test]
fn users_drive_the_api_over_soap_as_the_certificate_they_sign_with() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _cloud = start_cloud(keys.path(), &data, &[]);
    admin(&data, &["user", "add", "bob"]);
    let (wsdl, admin_zip, bob_zip) = (ec2_wsdl(), zip(&data, "admin"), zip(&data, "bob"));
    python("cloud_soap.py", &["api", &wsdl, &admin_zip, &bob_zip]);
    // `euca admin` changes the store under the running cloud: the next request sees it.
    admin(&data, &["user", "disable", "bob"]);
    python("cloud_soap.py", &["refused", &wsdl, &bob_zip, "disabled"]);
    // Deleting a user takes their credentials away too; they kept a copy.
    let kept = dir.path().join("bob.zip");
    std::fs::copy(&bob_zip, &kept).unwrap();
    admin(&data, &["user", "delete", "bob"]);
    let kept = kept.display().to_string();
    python("cloud_soap.py", &["refused", &wsdl, &kept, "not one of"]);
}

#[test]
fn strangers_broken_signatures_stale_timestamps_and_replays_are_refused_with_ec2_codes() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cloud = start_cloud(keys.path(), &data, &[]);
    python(
        "cloud_soap.py",
        &["security", &ec2_wsdl(), &zip(&data, "admin")],
    );
    python(
        "cloud_soap.py",
        &[
            "untimestamped",
            &ec2_wsdl(),
            &zip(&data, "admin"),
            "refused",
        ],
    );
    // Each refusal is logged with its cause.
    let log = cloud.log();
    assert!(log.contains("not trusted"), "{log}");
}

#[test]
fn the_original_policy_also_accepts_requests_signed_without_a_timestamp() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _cloud = start_cloud(keys.path(), &data, &["--compat", "original"]);
    python(
        "cloud_soap.py",
        &[
            "untimestamped",
            &ec2_wsdl(),
            &zip(&data, "admin"),
            "accepted",
        ],
    );
}

#[test]
fn instances_run_to_running_and_terminate_over_soap() {
    let nodes = Nodes::start(1);
    serve_manifests(|path, manifest| nodes.images.add(path, Served::File(manifest)));
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let data = dir.path().join("clc");
    let _cloud = start_cloud(
        nodes.keys.path(),
        &data,
        &[
            "--cluster",
            &format!("zone1={}", cc.url()),
            "--walrus",
            &nodes.images.url("/services/Walrus"),
        ],
    );
    admin(&data, &["user", "add", "bob"]);
    python(
        "cloud_soap.py",
        &[
            "instances",
            &ec2_wsdl(),
            &zip(&data, "admin"),
            &zip(&data, "bob"),
        ],
    );
}

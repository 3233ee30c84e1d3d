//! Elastic addresses and image attributes against the real `euca cloud`, driven by boto3 and
//! the AWS CLI configured from eucarc files alone (`tests/py/cloud_addresses.py` holds the
//! clients' side), over a real `euca cluster` on test-driver nodes: in MANAGED-NOVLAN with a
//! VNET_PUBLICIPS pool (not applied to the host), and in SYSTEM mode, which has no public
//! addresses. `node_support::ImageServer` stands in for Walrus's GET of a manifest.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;

use cloud_support::{admin, manifests, python, restart_cloud, start_cloud};
use cluster_support::{Cc, Nodes, MANAGED_NOVLAN};
use common::launcher::Component;
use node_support::Served;

/// Starts one test-driver node serving the fixture manifests, a cluster over it with
/// `settings`, and a cloud over the cluster with users `bob` and `cy`; runs the Python
/// `phase` with the admin's, bob's and cy's credential folders and `extra` arguments, then,
/// when given, restarts the cloud and runs `after_restart` with the same folders.
fn run_phase(settings: &[(&str, &str)], phase: &str, extra: &[&str], after_restart: Option<&str>) {
    let nodes = Nodes::start(1);
    for (path, bytes) in manifests(&["machine", "kernel", "ramdisk", "coded"]) {
        nodes.images.add(&path, Served::File(bytes));
    }
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", settings);
    let data = dir.path().join("clc");
    let walrus = nodes.images.url("/services/Walrus");
    let cluster = format!("zone1={}", cc.url());
    let cloud_args = ["--cluster", &cluster, "--walrus", &walrus];
    let mut cloud = start_cloud(nodes.keys.path(), &data, &cloud_args);
    admin(&data, &["user", "add", "bob"]);
    admin(&data, &["user", "add", "cy"]);
    let creds = data.join("credentials");
    let folder = |user: &str| creds.join(user).display().to_string();
    let (admin_dir, bob_dir, cy_dir) = (folder("admin"), folder("bob"), folder("cy"));
    let run = |cloud: &Component, phase: &str, extra: &[&str]| {
        let mut args = vec![phase, &admin_dir, &bob_dir, &cy_dir];
        args.extend_from_slice(extra);
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            python("cloud_addresses.py", &args)
        }));
        if out.is_err() {
            panic!("cloud log:\n{}\ncluster log:\n{}", cloud.log(), cc.log());
        }
    };
    run(&cloud, phase, extra);
    if let Some(after_restart) = after_restart {
        assert!(cloud.terminate().success(), "{}", cloud.log());
        cloud = restart_cloud(nodes.keys.path(), &data, &cloud_args);
        run(&cloud, after_restart, &[]);
    }
}

#[test]
fn addresses_are_allocated_from_the_clusters_pool_associated_with_instances_and_released() {
    let captures = common::reference_dir()
        .map(|r| r.join("captures/euca2ools-1.0_boto-1.8d.jsonl"))
        .map(|path| path.display().to_string());
    if captures.is_none() {
        println!("skipped: ../shared/reference is absent (the recorded euca2ools requests)");
    }
    let extra: Vec<&str> = captures.iter().map(String::as_str).collect();
    run_phase(MANAGED_NOVLAN, "managed", &extra, Some("managed-kept"));
}

#[test]
fn a_system_mode_cloud_has_no_addresses_and_image_attributes_govern_who_runs_an_image() {
    run_phase(&[], "system", &[], None);
}

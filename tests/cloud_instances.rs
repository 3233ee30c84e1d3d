//! The cloud controller's images (and instances) against the real `euca cloud`, driven by
//! boto3 configured from eucarc files alone (`tests/py/cloud_instances.py` holds the
//! clients' side). `node_support::ImageServer` stands in for Walrus's GET of a manifest.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;
mod walrus_support;

use cloud_support::{admin, python, restart_cloud, start_cloud};
use cluster_support::{Cc, Nodes};
use common::launcher::Keys;
use node_support::{ImageServer, Served};
use walrus_support::Walrus;

#[test]
fn images_are_registered_described_and_deregistered_per_user_and_kept_over_a_restart() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cloud = start_cloud(keys.path(), &data, &[]);
    admin(&data, &["user", "add", "bob"]);
    let creds = data.join("credentials");
    let (admin_dir, bob_dir) = (
        creds.join("admin").display().to_string(),
        creds.join("bob").display().to_string(),
    );
    let out = python("cloud_instances.py", &["images", &admin_dir, &bob_dir]);
    let image = out.lines().last().unwrap().trim().to_owned();
    assert!(image.starts_with("emi-"), "{out}");
    assert!(cloud.terminate().success(), "{}", cloud.log());
    let _cloud = restart_cloud(keys.path(), &data, &[]);
    python("cloud_instances.py", &["kept", &admin_dir, &image]);
}

/// Serves the fixture manifests at `/services/Walrus/images/{machine,kernel,ramdisk}.manifest.xml`
/// (the nodes fetch the same URLs as the images' files).
fn serve_manifests(walrus: &ImageServer) {
    for (path, manifest) in cloud_support::manifests() {
        walrus.add(&path, Served::File(manifest));
    }
}

#[test]
fn instances_run_through_a_cluster_to_running_and_terminate_per_user_and_are_kept_over_a_restart() {
    let nodes = Nodes::start(1);
    serve_manifests(&nodes.images);
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let data = dir.path().join("clc");
    let walrus = nodes.images.url("/services/Walrus");
    let mut cloud = start_cloud(
        nodes.keys.path(),
        &data,
        &[
            "--cluster",
            &format!("zone1={}", cc.url()),
            "--walrus",
            &walrus,
        ],
    );
    admin(&data, &["user", "add", "bob"]);
    let creds = data.join("credentials");
    let (admin_dir, bob_dir) = (
        creds.join("admin").display().to_string(),
        creds.join("bob").display().to_string(),
    );
    let out = python("cloud_instances.py", &["instances", &admin_dir, &bob_dir]);
    let last = out.lines().last().unwrap().to_owned();
    let (instance, reservation) = last.split_once(' ').unwrap();
    assert!(cloud.terminate().success(), "{}", cloud.log());
    let cluster = format!("zone1={}", cc.url());
    let _cloud = restart_cloud(
        nodes.keys.path(),
        &data,
        &["--cluster", &cluster, "--walrus", &walrus],
    );
    python(
        "cloud_instances.py",
        &["instances-kept", &admin_dir, instance, reservation],
    );
}

#[test]
fn with_walrus_the_manifest_is_read_as_the_user_and_its_image_type_makes_the_id() {
    let walrus = ImageServer::start();
    serve_manifests(&walrus);
    walrus.add(
        "/services/Walrus/images/disk.manifest.xml",
        Served::File(b"not a manifest".to_vec()),
    );
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = walrus.url("/services/Walrus");
    let _cloud = start_cloud(keys.path(), &data, &["--walrus", &url]);
    let admin_dir = data.join("credentials/admin").display().to_string();
    python("cloud_instances.py", &["kinds", &admin_dir]);
    // Each read carried S3's SigV2 by the registering user's access key.
    let eucarc = std::fs::read_to_string(data.join("credentials/admin/eucarc")).unwrap();
    let access = eucarc
        .lines()
        .find_map(|l| l.strip_prefix("export EC2_ACCESS_KEY='"))
        .unwrap()
        .trim_end_matches('\'');
    let reads = walrus.requests();
    assert_eq!(reads.len(), 5, "{reads:?}");
    for read in reads {
        let authorization = read
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| value.as_str());
        assert!(
            authorization.is_some_and(|a| a.starts_with(&format!("AWS {access}:"))),
            "{read:?}"
        );
    }
}

#[test]
fn a_real_walrus_on_the_clouds_users_gives_the_cloud_a_users_manifest() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The first start makes the cloud's users; Walrus then opens them from the same DATA.
    let mut first = start_cloud(keys.path(), &data, &[]);
    assert!(first.terminate().success(), "{}", first.log());
    let walrus = Walrus::start(&data, &[]);
    let _cloud = restart_cloud(keys.path(), &data, &["--walrus", walrus.url()]);
    let admin_dir = data.join("credentials/admin").display().to_string();
    python("cloud_instances.py", &["walrus", &admin_dir, walrus.url()]);
}

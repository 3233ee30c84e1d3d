//! The cloud controller's images (and instances) against the real `euca cloud`, driven by
//! boto3 configured from eucarc files alone (`tests/py/cloud_instances.py` holds the
//! clients' side).

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod common;

use cloud_support::{admin, python, restart_cloud, start_cloud};
use common::launcher::Keys;

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

//! The IAM Query API at `/services/Euare` against the real `euca cloud`: the cloud
//! administrator makes an account and a key for its root user (signed raw requests: boto3
//! knows no CreateAccount; DelegateAccount); as that root, boto3's `iam` client drives users,
//! groups, memberships, access keys, login profiles and policies with IAM's error codes; a
//! key the API made signs EC2 calls; a user needs a policy's Allow; SigV2 and the AWS CLI
//! work too (`tests/py/euare_clients.py` holds the clients' side). Runs on SQLite and
//! PostgreSQL.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod common;

use cloud_support::{python, start_cloud};
use common::launcher::Keys;

#[test]
fn boto3_iam_manages_an_accounts_users_groups_keys_and_policies() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _cloud = start_cloud(keys.path(), &data, &[]);
    let admin = data.join("credentials/admin");
    let out = python("euare_clients.py", &[&admin.display().to_string()]);
    assert_eq!(out.matches("ok: ").count(), 13, "{out}");
}

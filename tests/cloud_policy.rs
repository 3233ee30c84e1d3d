//! IAM policies, enforced: IAM users of accounts, given policies and groups with `euca admin
//! policy|group`, drive the real `euca cloud` (EC2) and a real `euca walrus` on the cloud's
//! identities (S3) with boto3 (`tests/py/policy_clients.py`). The policies are the files of
//! `tests/fixtures/policy`.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;
mod walrus_support;

use std::path::Path;
use std::process::Output;

use cloud_support::{admin, admin_run, iam_user, policy_fixture, put_policy, python, start_cloud};
use cluster_support::{Cc, Nodes};
use common::launcher::Keys;
use node_support::Served;
use walrus_support::Walrus;

/// `euca admin ...` that must fail.
fn admin_fails(data: &Path, args: &[&str]) -> Output {
    let out = admin_run(data, args);
    assert!(
        !out.status.success(),
        "euca admin {args:?} succeeded: {out:?}"
    );
    out
}

#[test]
fn user_and_group_policies_decide_ec2_and_s3_requests() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("clc");
    let cloud = start_cloud(keys.path(), &data, &[]);
    let walrus = Walrus::start(
        &dir.path().join("walrus"),
        &["--identity", &data.display().to_string()],
    );
    admin(&data, &["user", "add", "alpha"]);
    let root = data.join("credentials/alpha").display().to_string();
    let s3 = walrus.url();

    // ec2:Describe* only.
    let (ak, sk) = iam_user(&data, "alpha", "reader");
    python("policy_clients.py", &["ec2", &root, &ak, &sk, "denied"]);
    put_policy(
        &data,
        "alpha",
        "--user",
        "reader",
        "describe",
        "describe-only.json",
    );
    python("policy_clients.py", &["describe-only", &root, &ak, &sk]);
    python("policy_clients.py", &["s3", &root, s3, &ak, &sk, "denied"]);

    // s3:* with an explicit Deny of s3:DeleteObject.
    let (ak, sk) = iam_user(&data, "alpha", "writer");
    put_policy(
        &data,
        "alpha",
        "--user",
        "writer",
        "store",
        "s3-but-no-delete.json",
    );
    python(
        "policy_clients.py",
        &["s3-no-delete", &root, s3, &ak, &sk, "writers-bucket"],
    );
    let listed = admin(
        &data,
        &["policy", "list", "--account", "alpha", "--user", "writer"],
    );
    assert_eq!(listed.trim(), "store");
    let shown = admin(
        &data,
        &[
            "policy",
            "show",
            "--account",
            "alpha",
            "--user",
            "writer",
            "store",
        ],
    );
    assert!(shown.contains("\"NoDeletes\""), "{shown}");

    // A group's policies apply to its members, and stop applying when they leave.
    let (ak, sk) = iam_user(&data, "alpha", "member");
    admin(&data, &["group", "add", "--account", "alpha", "operators"]);
    put_policy(
        &data,
        "alpha",
        "--group",
        "operators",
        "all",
        "everything.json",
    );
    python("policy_clients.py", &["ec2", &root, &ak, &sk, "denied"]);
    admin(
        &data,
        &[
            "group",
            "add-user",
            "--account",
            "alpha",
            "operators",
            "member",
        ],
    );
    let groups = admin(&data, &["group", "list", "--account", "alpha"]);
    assert!(
        groups.starts_with("operators\tAGPA") && groups.trim_end().ends_with("\t/\tmember"),
        "{groups}"
    );
    python("policy_clients.py", &["ec2", &root, &ak, &sk, "allowed"]);
    python("policy_clients.py", &["s3", &root, s3, &ak, &sk, "allowed"]);
    let conflict = admin_fails(
        &data,
        &["group", "delete", "--account", "alpha", "operators"],
    );
    assert!(
        String::from_utf8_lossy(&conflict.stderr).contains("member"),
        "{conflict:?}"
    );
    admin(
        &data,
        &[
            "group",
            "remove-user",
            "--account",
            "alpha",
            "operators",
            "member",
        ],
    );
    python("policy_clients.py", &["ec2", &root, &ak, &sk, "denied"]);
    python("policy_clients.py", &["s3", &root, s3, &ak, &sk, "denied"]);
    admin(
        &data,
        &[
            "policy",
            "delete",
            "--account",
            "alpha",
            "--group",
            "operators",
            "all",
        ],
    );
    admin(
        &data,
        &["group", "delete", "--account", "alpha", "operators"],
    );
    assert_eq!(admin(&data, &["group", "list", "--account", "alpha"]), "");

    // An Allow only from 192.0.2.0/24 does not hold for requests from 127.0.0.1.
    let (ak, sk) = iam_user(&data, "alpha", "elsewhere");
    put_policy(
        &data,
        "alpha",
        "--user",
        "elsewhere",
        "net",
        "only-from-documentation-net.json",
    );
    python("policy_clients.py", &["ec2", &root, &ak, &sk, "denied"]);
    python("policy_clients.py", &["s3", &root, s3, &ak, &sk, "denied"]);

    // A malformed document is refused with its fault, and nothing is stored.
    let refused = admin_fails(
        &data,
        &[
            "policy",
            "put",
            "--account",
            "alpha",
            "--user",
            "elsewhere",
            "bad",
            "--file",
            &policy_fixture("malformed.json"),
        ],
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("Permit"),
        "{refused:?}"
    );
    let listed = admin(
        &data,
        &[
            "policy",
            "list",
            "--account",
            "alpha",
            "--user",
            "elsewhere",
        ],
    );
    assert_eq!(listed.trim(), "net");

    // Denials are logged with the user and the action.
    let log = cloud.log();
    assert!(
        log.contains("request denied by policy")
            && log.contains("ec2:RunInstances")
            && log.contains("reader"),
        "{log}"
    );
    let log = walrus.log();
    assert!(
        log.contains("request denied by policy")
            && log.contains("s3:DeleteObject")
            && log.contains("writer"),
        "{log}"
    );
}

#[test]
fn one_accounts_users_never_reach_another_accounts_instances_buckets_or_objects() {
    let nodes = Nodes::start(1);
    cloud_support::serve_manifests(|path, manifest| nodes.images.add(path, Served::File(manifest)));
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let data = dir.path().join("clc");
    let cloud = start_cloud(
        nodes.keys.path(),
        &data,
        &[
            "--cluster",
            &format!("zone1={}", cc.url()),
            "--walrus",
            &nodes.images.url("/services/Walrus"),
        ],
    );
    let walrus = Walrus::start(
        &dir.path().join("walrus"),
        &["--identity", &data.display().to_string()],
    );
    admin(&data, &["user", "add", "alpha"]);
    admin(&data, &["user", "add", "beta"]);
    let alpha = data.join("credentials/alpha").display().to_string();
    let beta = data.join("credentials/beta").display().to_string();
    let out = python("policy_clients.py", &["launch", &alpha, walrus.url()]);
    let instance = out.lines().last().unwrap().trim().to_owned();
    assert!(instance.starts_with("i-"), "{out}");

    let (ak, sk) = iam_user(&data, "alpha", "auditor");
    put_policy(
        &data,
        "alpha",
        "--user",
        "auditor",
        "describe",
        "describe-only.json",
    );
    python("policy_clients.py", &["sees", &alpha, &ak, &sk, &instance]);

    let (bk, bs) = iam_user(&data, "beta", "intruder");
    put_policy(
        &data,
        "beta",
        "--user",
        "intruder",
        "all",
        "everything.json",
    );
    python(
        "policy_clients.py",
        &["apart", &beta, walrus.url(), &bk, &bs, &instance],
    );
    let log = cloud.log();
    assert!(!log.contains("request denied by policy"), "{log}");
}

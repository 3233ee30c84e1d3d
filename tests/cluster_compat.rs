//! `euca cluster` is strict by default and accepts the original CLC's requests on request
//! (issue 11): a DescribeResources signed by the cloud over the WS-Addressing headers only, with
//! no Timestamp — as the original CLC sent it — is refused by default and answered with
//! `--compat original`. The requests are signed by python-xmlsec (tests/py/clc_shaped_call.py).

#![allow(clippy::unwrap_used)]

mod common;
mod node_support;

use std::process::Command;

use common::launcher::{euca, Component};
use common::policy::*;
use node_support::Keys;

/// Starts a cluster (its one node is not running: the answer needs none) with `flags`, and
/// sends it the script's requests.
fn clc_shaped_requests(keys: &Keys, flags: &[&str]) -> Answers {
    let data = tempfile::tempdir().unwrap();
    let mut command = euca();
    command
        .args(["cluster", "--listen", "127.0.0.1:0", "--keys"])
        .arg(keys.path())
        .arg("--data")
        .arg(data.path())
        .args(["--nodes", "127.0.0.1:9"])
        .args(flags);
    let cc = Component::start(command, "cluster controller").unwrap();
    let out = Command::new(common::python())
        .arg(common::workspace_root().join("tests/py/clc_shaped_call.py"))
        .arg(&cc.url)
        .arg(keys.file("cloud-pk.pem"))
        .arg(keys.file("cloud-cert.pem"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "script failed: {}\n{stdout}\ncluster log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        cc.log()
    );
    parse_answers(&stdout)
}

#[test]
fn the_original_clcs_request_shape_is_accepted_only_with_compat_original() {
    let keys = Keys::new();
    let strict = clc_shaped_requests(&keys, &[]);
    assert_refused(&strict, "headers_only", "Body");
    assert_refused(&strict, "body_too", "carries no wsu:Timestamp");

    let original = clc_shaped_requests(&keys, &["--compat", "original"]);
    assert_accepted(&original, "headers_only");
    assert_accepted(&original, "body_too");
}

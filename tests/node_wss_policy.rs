//! Acceptance (issue 8): `euca node` is strict by default and compatible on request. With
//! default settings it refuses a correctly signed request without a Timestamp, or whose
//! Timestamp the signature leaves out; with `--compat original` it accepts such a request
//! once and refuses it, or another carrying its signed MessageID, the second time, also after
//! a restart. The requests are signed by python-xmlsec (tests/py/nc_timestamp_policy.py).

#![allow(clippy::unwrap_used)]

mod common;
mod node_support;

use std::path::Path;
use std::process::Command;

use common::policy::*;
use node_support::*;

/// Runs the script with `args` after its path.
fn run_script(nc: &Nc, args: &[&std::ffi::OsStr]) -> Answers {
    let out = Command::new(common::python())
        .arg(common::workspace_root().join("tests/py/nc_timestamp_policy.py"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "script failed: {}\n{stdout}\nnode log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        nc.log()
    );
    parse_answers(&stdout)
}

/// Sends the script's requests; with `save`, keeps the accepted ones' bytes there.
fn send_policy_requests(nc: &Nc, keys: &Keys, save: Option<&Path>) -> Answers {
    let (key, cert) = (keys.file("cluster-pk.pem"), keys.file("cluster-cert.pem"));
    let mut args = vec![nc.url().as_ref(), key.as_os_str(), cert.as_os_str()];
    args.extend(save.map(Path::as_os_str));
    run_script(nc, &args)
}

#[test]
fn by_default_a_request_needs_a_signed_timestamp() {
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let nc = NcSetup::test_driver(&keys, data.path()).start();
    let answers = send_policy_requests(&nc, &keys, None);
    assert_accepted(&answers, "timestamp_signed");
    assert_refused(&answers, "no_timestamp", "carries no wsu:Timestamp");
    assert_refused(
        &answers,
        "timestamp_unsigned",
        "does not cover the wsu:Timestamp",
    );
}

#[test]
fn compat_original_accepts_no_timestamp_once_per_message_id() {
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let mut setup = NcSetup::test_driver(&keys, data.path());
    setup.flags = vec!["--compat".into(), "original".into()];
    let nc = setup.start();
    let answers = send_policy_requests(&nc, &keys, None);
    assert_accepted(&answers, "timestamp_signed");
    assert_accepted(&answers, "no_timestamp");
    assert_refused(&answers, "no_timestamp_again", "replay");
    assert_refused(&answers, "same_message_id", "replay");
    assert_accepted(&answers, "timestamp_unsigned");
}

/// Guards against a restart forgetting accepted messages (issue 17): both a Timestamped one
/// still inside its window and, in compatibility mode, one without a Timestamp are refused
/// when replayed to the restarted node.
#[test]
fn replays_are_refused_across_a_restart() {
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let saved = tempfile::tempdir().unwrap();
    let mut setup = NcSetup::test_driver(&keys, data.path());
    setup.flags = vec!["--compat".into(), "original".into()];
    let mut nc = setup.start();
    let answers = send_policy_requests(&nc, &keys, Some(saved.path()));
    assert_accepted(&answers, "timestamp_signed");
    assert_accepted(&answers, "no_timestamp");
    assert!(nc.terminate().success(), "{}", nc.log());

    let nc = setup.start();
    let files = ["timestamp_signed.xml", "no_timestamp.xml"].map(|f| saved.path().join(f));
    let mut args = vec![std::ffi::OsStr::new("--resend"), nc.url().as_ref()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    let answers = run_script(&nc, &args);
    assert_refused(&answers, "timestamp_signed", "replay");
    assert_refused(&answers, "no_timestamp", "replay");
}

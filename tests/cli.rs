//! The `euca` binary's command line, run as a user would run it.

mod common;

use std::process::Output;

fn euca(args: &[&str]) -> Output {
    common::launcher::euca()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run euca {args:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_describes_the_binary() {
    let out = euca(&["--help"]);
    assert!(out.status.success(), "euca --help failed: {out:?}");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Usage: euca"), "no usage line:\n{stdout}");
    assert!(
        stdout.contains("Eucalyptus 1.6"),
        "no description:\n{stdout}"
    );
    assert!(
        stdout.contains("--version"),
        "no --version option:\n{stdout}"
    );
}

/// Guards against the WS-Security compatibility setting going undocumented.
#[test]
fn node_help_documents_the_compatibility_setting() {
    let out = euca(&["node", "--help"]);
    assert!(out.status.success(), "euca node --help failed: {out:?}");
    let stdout = text(&out.stdout);
    for expected in [
        "--compat <original|strict>",
        "WSSEC_COMPAT",
        "signed Timestamp",
    ] {
        assert!(stdout.contains(expected), "{expected} missing:\n{stdout}");
    }
}

#[test]
fn version_is_the_crate_version() {
    let out = euca(&["--version"]);
    assert!(out.status.success(), "euca --version failed: {out:?}");
    assert_eq!(
        text(&out.stdout).trim(),
        format!("euca {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Guards against a bare `euca` silently doing nothing and exiting 0.
#[test]
fn no_arguments_prints_usage_and_fails() {
    let out = euca(&[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("Usage: euca"), "{out:?}");
}

#[test]
fn unknown_subcommand_is_refused() {
    let out = euca(&["no-such-component"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("no-such-component"), "{out:?}");
}

/// A component that cannot start says why on stderr, prefixed with its command, and fails:
/// a settings error before the runtime starts, and a start error after it.
#[test]
fn a_component_that_cannot_start_says_why_and_fails() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let dir = dir.path().to_str().expect("a UTF-8 temporary path");
    let listed_twice = euca(&[
        "cluster",
        "--keys",
        dir,
        "--data",
        dir,
        "--nodes",
        "n1:8775 n1:8775",
    ]);
    assert_eq!(listed_twice.status.code(), Some(1), "{listed_twice:?}");
    let stderr = text(&listed_twice.stderr);
    assert!(
        stderr.contains("euca cluster: setting NODES: \"n1:8775\" is listed twice"),
        "{stderr}"
    );
    // No keys in the folder: the start fails once the runtime runs.
    let no_keys = euca(&["node", "--hypervisor", "test", "--keys", dir, "--data", dir]);
    assert_eq!(no_keys.status.code(), Some(1), "{no_keys:?}");
    let stderr = text(&no_keys.stderr);
    assert!(stderr.contains("euca node: "), "{stderr}");
    assert!(stderr.contains("node-cert.pem"), "{stderr}");
}

/// `--db` takes a PostgreSQL URL only: anything else is a settings error, not a guess.
#[test]
fn the_cloud_refuses_a_db_url_it_cannot_serve() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let dir = dir.path().to_str().expect("a UTF-8 temporary path");
    let args = [
        "cloud",
        "--listen",
        "127.0.0.1:0",
        "--keys",
        dir,
        "--data",
        dir,
    ];
    let refused = euca(&[&args[..], &["--db", "mysql://db/cloud"]].concat());
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("euca cloud: --db \"mysql://db/cloud\": expected a postgresql://"),
        "{stderr}"
    );
}

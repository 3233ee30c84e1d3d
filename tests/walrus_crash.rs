//! Acceptance 3 of Walrus: killed (SIGKILL) while clients upload, and started again on the
//! same data, Walrus shows only complete objects, keeps every acknowledged one, and the files
//! on disk are exactly the listed objects: no half upload, no orphan.

#![allow(clippy::unwrap_used)]

mod common;
mod walrus_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use walrus_support::{admin_credentials, assert_success, files_under, run_python, script, Walrus};

const BUCKET: &str = "crash-test";

fn args(mode: &str, walrus: &Walrus, manifest: &std::path::Path) -> Vec<String> {
    let (access, secret) = admin_credentials(&walrus.data);
    [
        mode,
        "--endpoint",
        walrus.url(),
        "--access-key",
        &access,
        "--secret-key",
        &secret,
        "--bucket",
        BUCKET,
        "--manifest",
        &manifest.display().to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn acknowledged(manifest: &std::path::Path) -> usize {
    std::fs::read_to_string(manifest)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("done "))
        .count()
}

#[test]
fn a_killed_walrus_keeps_only_complete_objects() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let manifest = dir.path().join("manifest");
    let walrus = Walrus::start(&data, &[]);

    let mut uploader = Command::new(common::python())
        .arg(script("walrus_crash.py"))
        .args(args("upload", &walrus, &manifest))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill once some uploads are acknowledged while others are half sent.
    let started = Instant::now();
    loop {
        let in_flight = files_under(&data.join("staging")).len();
        if acknowledged(&manifest) >= 6 && in_flight >= 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "uploads did not get going:\n{}",
            walrus.log()
        );
        assert!(
            uploader.try_wait().unwrap().is_none(),
            "the uploader stopped early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    walrus.kill();
    let half_written = files_under(&data.join("staging")).len();
    let uploaded = uploader.wait_with_output().unwrap();
    println!("uploader: {}", String::from_utf8_lossy(&uploaded.stdout));
    assert!(
        half_written > 0,
        "the kill must interrupt uploads for this test to mean anything"
    );

    let walrus = Walrus::start(&data, &[]);
    let log = walrus.log();
    assert!(
        log.contains("recovered from an unclean stop"),
        "recovery ran:\n{log}"
    );
    assert!(
        files_under(&data.join("staging")).is_empty(),
        "half uploads removed"
    );
    let verified = run_python("walrus_crash.py", &args("verify", &walrus, &manifest));
    assert_success(&verified, "walrus_crash.py verify");
    let report = String::from_utf8_lossy(&verified.stdout);
    let number = |name: &str| -> u64 {
        let at = report.find(&format!("\"{name}\": ")).unwrap() + name.len() + 4;
        report[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let blobs = files_under(&data.join("blobs"));
    let on_disk: u64 = blobs
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    // Every object here is one PUT: one blob each, of its size.
    assert_eq!(
        blobs.len() as u64,
        number("objects"),
        "blob files = listed objects"
    );
    assert_eq!(on_disk, number("bytes"), "bytes on disk = bytes listed");
    assert!(
        number("acknowledged") > 0 && number("objects") > 0,
        "acknowledged objects survived"
    );
    let status = walrus.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status}");
}

//! Walrus' S3 SOAP API driven by zeep, which loads our `wsdl/s3.wsdl`, against a running
//! `euca walrus`: buckets, inline objects, ranges, listings, copies, ACLs, logging status,
//! and S3's faults for a missing key, a bad signature and a non-empty bucket.

#![allow(clippy::unwrap_used)]

mod common;
mod walrus_bundle_support;

use std::process::Command;

use walrus_bundle_support::{Keys, Walrus};

#[test]
fn zeep_drives_the_s3_soap_api() {
    let python = common::python();
    let keys = Keys::new();
    let walrus = Walrus::start(&keys, &[]);
    let (access, secret) = walrus.admin();
    let output = Command::new(python)
        .arg(common::workspace_root().join("tests/py/walrus_soap.py"))
        .arg(common::workspace_root().join("wsdl/s3.wsdl"))
        .arg(format!("http://{}/services/Walrus", walrus.addr))
        .args([&access, &secret])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "zeep failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("walrus soap: all operations answered"),
        "{stdout}"
    );
}

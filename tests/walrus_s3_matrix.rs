//! Acceptance 2 of issue 8: Walrus' REST and SOAP front ends share one S3 core. One
//! scenario (create/delete bucket, put/get/head/delete/copy object, conditional gets with
//! all four headers in RFC 9110's order, ranges, ACL get/set, listings) runs through REST
//! with boto3 and through SOAP with zeep against the real `euca walrus`, and every step's
//! outcome (error code, body, ETag, metadata, grants, listing) must be identical.

#![allow(clippy::unwrap_used)]

mod common;
mod walrus_support;

use walrus_support::{admin_credentials, Walrus};

#[test]
fn rest_and_soap_answer_every_step_alike() {
    let dir = tempfile::tempdir().unwrap();
    let walrus = Walrus::start(&dir.path().join("data"), &[]);
    let (access, secret) = admin_credentials(&walrus.data);
    let wsdl = common::workspace_root().join("wsdl/s3.wsdl");
    let args = [
        "--endpoint".to_owned(),
        walrus.url().to_owned(),
        "--wsdl".to_owned(),
        wsdl.display().to_string(),
        "--access-key".to_owned(),
        access,
        "--secret-key".to_owned(),
        secret,
    ];
    let output = walrus.run_script("walrus_s3_matrix.py", &args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("identical through REST and SOAP"),
        "{stdout}"
    );
}

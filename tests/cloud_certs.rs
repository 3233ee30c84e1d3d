//! An IAM user's X.509 certificate (`euca admin user cert`, and the IAM API's signing
//! certificate operations through boto3) against the real `euca cloud`: its EC2 SOAP
//! requests, signed by zeep + xmlsec, are answered as that user; a replaced or deleted
//! certificate is refused (`tests/py/cloud_certs.py` holds the clients' side).

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cloud_support::{admin, ec2_wsdl, iam_user_allowed_all, put_policy, python, start_cloud};
use common::launcher::Keys;

fn text(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn an_iam_users_certificate_signs_soap_requests_as_that_user() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _cloud = start_cloud(keys.path(), &data, &[]);
    admin(&data, &["account", "add", "ann"]);
    let (access, _) = iam_user_allowed_all(&data, "ann", "dev");
    let out = admin(&data, &["user", "cert", "--account", "ann", "dev"]);
    let folder = data.join("credentials/ann/dev");
    assert_eq!(out.trim(), text(&folder));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&folder.join("euca2-dev-pk.pem")), 0o600);
    assert!(folder.join("euca2-dev-cert.pem").is_file() && folder.join("cloud-cert.pem").is_file());
    let eucarc = std::fs::read_to_string(folder.join("eucarc")).unwrap();
    assert!(
        eucarc.contains(&format!("EC2_ACCESS_KEY='{access}'")),
        "{eucarc}"
    );

    let (wsdl, root_zip) = (ec2_wsdl(), text(&data.join("credentials/ann.zip")));
    let user_zip = text(&data.join("credentials/ann/dev.zip"));
    python("cloud_certs.py", &["acts", &wsdl, &root_zip, &user_zip]);
    python("cloud_certs.py", &["iam", &wsdl, &root_zip, &user_zip]);
    put_policy(&data, "ann", "--user", "dev", "all", "describe-only.json");
    python("cloud_certs.py", &["limited", &wsdl, &root_zip, &user_zip]);

    // A new certificate replaces the one before: a copy of the old is refused.
    let kept = text(&dir.path().join("dev-old.zip"));
    std::fs::copy(&user_zip, &kept).unwrap();
    admin(&data, &["user", "cert", "--account", "ann", "dev"]);
    python("cloud_soap.py", &["refused", &wsdl, &kept, "not one of"]);
    python("cloud_certs.py", &["limited", &wsdl, &root_zip, &user_zip]);

    // Deleting the user deletes its certificate and its credentials files.
    std::fs::copy(&user_zip, &kept).unwrap();
    admin(&data, &["user", "delete", "--account", "ann", "dev"]);
    assert!(!folder.exists() && !Path::new(&user_zip).exists());
    python("cloud_soap.py", &["refused", &wsdl, &kept, "not one of"]);
}

#[test]
fn a_certificate_for_a_user_that_does_not_exist_is_refused() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _cloud = start_cloud(keys.path(), &data, &[]);
    admin(&data, &["account", "add", "ann"]);
    let out = cloud_support::admin_run(&data, &["user", "cert", "--account", "ann", "nobody"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("no user"),
        "{stderr}"
    );
    assert!(!data.join("credentials/ann/nobody").exists());
}

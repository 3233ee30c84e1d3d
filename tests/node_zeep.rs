//! Interop: zeep, reading the original Eucalyptus 1.6.1 NC WSDL, drives our node controller
//! through run, describe and terminate, with WS-Security signatures both ways.

#![allow(clippy::unwrap_used)]

mod common;
mod node_support;

use std::process::Command;

use node_support::*;

#[tokio::test(flavor = "multi_thread")]
async fn zeep_with_the_original_wsdl_runs_and_terminates_an_instance() {
    let Some(reference) = common::reference_dir() else {
        println!("skipped: no reference (../shared/reference is absent)");
        return;
    };
    let wsdl = reference.join("eucalyptus-1.6.1/wsdl/eucalyptus_nc.wsdl");
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let images = ImageServer::start();
    serve_images(&images);
    let nc = NcSetup::test_driver(&keys, data.path()).start();

    let script = common::workspace_root().join("tests/py/nc_zeep_interop.py");
    let python = common::python();
    let nc_url = nc.url().to_owned();
    let base = images.url("");
    let cluster_key = keys.file("cluster-pk.pem");
    let cluster_cert = keys.file("cluster-cert.pem");
    let node_cert = keys.file("node-cert.pem");
    // zeep blocks while it polls; keep it off the runtime's threads.
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(wsdl)
            .arg(nc_url)
            .arg(cluster_key)
            .arg(cluster_cert)
            .arg(node_cert)
            .arg(base)
            .arg("i-0000007a")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "zeep failed: {}\n{stdout}\nnode log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        nc.log()
    );
    let expect = |fragment: &str| assert!(stdout.contains(fragment), "{fragment} not in {stdout}");
    expect(
        r#""run": {"return": true, "correlationId": "zeep-run", "stateName": "Pending", "instanceId": "i-0000007a"}"#,
    );
    expect(
        r#""stateName": "Extant", "memory": 128, "vlan": 12, "groupNames": ["default", "web"], "keyName": "ssh-rsa AAAAzeep zeep@interop""#,
    );
    expect(
        r#""terminate": {"instanceId": "i-0000007a", "shutdownState": "15", "previousState": "14"}"#,
    );
    expect(r#""after": "Teardown""#);
    // What zeep sent was the original WSDL's shape, accepted as such.
    assert_eq!(images.hits("/image"), 1);
}

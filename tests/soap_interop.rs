//! Our SOAP stack against independent ones, over loopback sockets: zeep (python-xmlsec
//! signatures) calling the generated NC dispatcher, `xmlsec1` verifying what our client sends,
//! the generated client calling the `hello_nc` example, and `euca keys init`.

#![allow(clippy::unwrap_used)]

mod common;

// The `hello_nc` example's node: the test serves exactly what a newcomer runs.
#[allow(dead_code)]
#[path = "../examples/hello_nc.rs"]
mod hello_nc;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use kit::security::Compat;
use soap::keys::{self, KeyPair};
use soap::wss::{SignOptions, Verifier, VerifyOptions};
use soap::{ClientError, HttpTransport, Security};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use wire::nc::*;

/// Runs the `hello_nc` node on a free loopback port with the keys in `keys_dir`.
async fn start_node(keys_dir: &Path) -> (SocketAddr, oneshot::Sender<()>) {
    let server = hello_nc::bind_node("127.0.0.1:0", hello_nc::node_security(keys_dir).unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// The cluster's side of the CC → NC hop: signs with the cluster key, trusts the node.
fn cluster_security(keys_dir: &Path) -> Security {
    kit::security::load(keys_dir, "cluster", &["node"], Compat::Strict, None)
        .unwrap()
        .security
}

/// Acceptance: zeep reads `?wsdl`, sends a request signed by python-xmlsec that our server
/// verifies, and verifies our signed reply with the node's certificate.
#[tokio::test]
async fn zeep_calls_the_node_with_signed_messages_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    keys::init(dir.path()).unwrap();
    let (addr, _stop) = start_node(dir.path()).await;
    let script = common::workspace_root().join("tests/py/zeep_signed_call.py");
    let key_file = |name: &str| dir.path().join(name);
    let out = tokio::process::Command::new(common::python())
        .arg(script)
        .arg(format!("http://{addr}{}?wsdl", hello_nc::NC_PATH))
        .args([
            key_file("cluster-pk.pem"),
            key_file("cluster-cert.pem"),
            key_file("node-cert.pem"),
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "zeep failed:\n{stdout}\n{stderr}");
    // zeep read every field of the reply it verified.
    for field in [
        r#""nodeStatus": "enabled""#,
        r#""correlationId": "corr-zeep-1""#,
        r#""memorySizeMax": 4096"#,
        r#""numberOfCoresAvailable": 4"#,
    ] {
        assert!(
            stdout.contains(field),
            "{field} missing from zeep's reply: {stdout}"
        );
    }
    // zeep really checked our signature: the wrong certificate is refused; and our server
    // really checked zeep's: an unsigned call is refused.
    assert!(stdout.contains(r#""wrong_cert_refused": true"#), "{stdout}");
    assert!(stdout.contains(r#""unsigned_refused": true"#), "{stdout}");
}

/// Accepts one connection, records the request's head and body, answers 500.
async fn capture_one_request(listener: TcpListener) -> (String, Vec<u8>) {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head, length) = loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed before sending a request");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(buf.drain(..end + 4).collect()).unwrap();
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>())
                })
                .unwrap()
                .unwrap();
            break (head, length);
        }
    };
    while buf.len() < length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed inside the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    stream
        .write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    (head, buf)
}

fn xmlsec1_verify(cert: &Path, envelope: &Path) -> std::process::Output {
    const WSA: &str = "http://www.w3.org/2005/08/addressing";
    const WSU: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    let mut command = Command::new("xmlsec1");
    command.arg("--verify").arg("--pubkey-cert-pem").arg(cert);
    // xmlsec1 resolves `#id` only in attributes it is told are IDs, element by element.
    let holders = [
        "http://schemas.xmlsoap.org/soap/envelope/:Body".to_owned(),
        format!("{WSU}:Timestamp"),
        format!("{WSA}:To"),
        format!("{WSA}:MessageID"),
        format!("{WSA}:Action"),
    ];
    for holder in holders {
        command.arg("--id-attr:Id").arg(holder);
    }
    command
        .arg(envelope)
        .output()
        .expect("xmlsec1 not installed: run scripts/setup.sh")
}

/// Acceptance: what our client sends verifies with the `xmlsec1` command line.
#[tokio::test]
async fn xmlsec1_verifies_our_signed_request() {
    let dir = tempfile::tempdir().unwrap();
    keys::init(dir.path()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}{}",
        listener.local_addr().unwrap(),
        hello_nc::NC_PATH
    );
    let capture = tokio::spawn(capture_one_request(listener));

    let nc = EucalyptusNcClient::new(
        HttpTransport::builder(url, cluster_security(dir.path()))
            .build()
            .unwrap(),
    );
    let request = NcDescribeResourceType {
        correlation_id: Some("corr-xmlsec1".into()),
        user_id: Some("eucalyptus".into()),
        ..NcDescribeResourceType::default()
    };
    let err = nc.nc_describe_resource(&request).await.unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err:?}");
    let (head, body) = capture.await.unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("soapaction: \"eucalyptusnc#ncdescriberesource\""),
        "{head}"
    );

    let cert = dir.path().join("cluster-cert.pem");
    let signed = dir.path().join("request.xml");
    std::fs::write(&signed, &body).unwrap();
    let out = xmlsec1_verify(&cert, &signed);
    assert!(
        out.status.success(),
        "xmlsec1 refused our request:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&body)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("OK"));

    // The same bytes with the Body changed must fail: xmlsec1 checked the Body's digest.
    let tampered = dir.path().join("tampered.xml");
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("corr-xmlsec1"));
    std::fs::write(&tampered, text.replace("corr-xmlsec1", "corr-xmlsec2")).unwrap();
    assert!(
        !xmlsec1_verify(&cert, &tampered).status.success(),
        "xmlsec1 accepted a tampered Body"
    );
}

#[tokio::test]
async fn generated_client_drives_the_example_node() {
    let dir = tempfile::tempdir().unwrap();
    keys::init(dir.path()).unwrap();
    let (addr, _stop) = start_node(dir.path()).await;
    let url = format!("http://{addr}{}", hello_nc::NC_PATH);
    let nc = EucalyptusNcClient::new(
        HttpTransport::builder(url, cluster_security(dir.path()))
            .build()
            .unwrap(),
    );

    let run = NcRunInstanceType {
        instance_id: "i-00000001".into(),
        instance_type: VirtualMachineType {
            memory: Some(1024),
            cores: Some(1),
            disk: Some(10),
        },
        ..NcRunInstanceType::default()
    };
    let started = nc.nc_run_instance(&run).await.unwrap();
    assert_eq!(started.instance.unwrap().state_name, "Extant");
    let resource = nc
        .nc_describe_resource(&NcDescribeResourceType::default())
        .await
        .unwrap();
    assert_eq!(
        (
            resource.memory_size_available,
            resource.number_of_cores_available
        ),
        (3072, 3)
    );
    let described = nc
        .nc_describe_instances(&NcDescribeInstancesType::default())
        .await
        .unwrap();
    assert_eq!(described.instances.len(), 1);

    // A handler's fault arrives as a fault, signed like any reply.
    let err = nc.nc_run_instance(&run).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Fault(f) if f.string.contains("already exists")),
        "{err:?}"
    );

    // A client that does not trust the node's key refuses its replies.
    let cloud_trusting = Security::signed(
        Arc::new(
            KeyPair::load(dir.path(), "cluster")
                .unwrap()
                .signer(SignOptions::default())
                .unwrap(),
        ),
        Arc::new(
            Verifier::new(
                &keys::load_certificates(dir.path(), &["cloud"]).unwrap(),
                VerifyOptions::default(),
            )
            .unwrap(),
        ),
    );
    let url = format!("http://{addr}{}", hello_nc::NC_PATH);
    let wary =
        EucalyptusNcClient::new(HttpTransport::builder(url, cloud_trusting).build().unwrap());
    let err = wary
        .nc_describe_resource(&NcDescribeResourceType::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Security(_)), "{err:?}");
}

fn euca(args: &[&std::ffi::OsStr]) -> std::process::Output {
    common::launcher::euca().args(args).output().unwrap()
}

#[test]
fn euca_keys_init_creates_pairs_once_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("var/lib/eucalyptus/keys");
    let init = |dir: &Path| euca(&["keys".as_ref(), "init".as_ref(), dir.as_os_str()]);

    let out = init(&keys_dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    for role in keys::ROLES {
        assert!(
            stdout.contains(&format!("created {role} key pair")),
            "{stdout}"
        );
        let pk = keys_dir.join(format!("{role}-pk.pem"));
        assert_eq!(
            std::fs::metadata(&pk).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            pk.display()
        );
        KeyPair::load(&keys_dir, role).unwrap();
    }
    let before = std::fs::read(keys_dir.join("node-pk.pem")).unwrap();

    // Again: every pair is kept as it was.
    let out = init(&keys_dir);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("kept existing")
            .count(),
        3
    );
    assert_eq!(std::fs::read(keys_dir.join("node-pk.pem")).unwrap(), before);

    // A certificate without its key: refused, nothing touched.
    std::fs::remove_file(keys_dir.join("cluster-pk.pem")).unwrap();
    let out = init(&keys_dir);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing"),
        "{out:?}"
    );
    assert!(!keys_dir.join("cluster-pk.pem").exists());
}

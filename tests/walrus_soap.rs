//! Walrus' S3 SOAP API driven by zeep, which loads our `wsdl/s3.wsdl`, against a running
//! `euca walrus`: buckets, inline objects, ranges, listings, copies, ACLs, logging status,
//! and S3's faults for a missing key, a bad signature and a non-empty bucket; and the
//! front door's split of the service path between the SOAP and REST APIs.

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

/// Sends one HTTP/1.1 request and reads the whole response (the connection closes after it).
fn exchange(addr: &str, head: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Guards the front door's split at Walrus' service path: SOAP messages and `?wsdl` go to
/// the SOAP endpoint (S3 codes in its faults, SOAP 1.2 sender faults with 400 as
/// everywhere), every other request to the REST API with its S3 headers.
#[test]
fn the_service_path_serves_soap_and_rest_side_by_side() {
    let keys = Keys::new();
    let walrus = Walrus::start(&keys, &[]);
    let addr = walrus.addr.as_str();

    let wsdl = exchange(addr, "GET /services/Walrus?wsdl HTTP/1.1", "");
    assert!(wsdl.starts_with("HTTP/1.1 200"), "{wsdl}");
    assert!(
        wsdl.contains(&format!(r#"location="http://{addr}/services/Walrus""#)),
        "{wsdl}"
    );

    let list = |envelope_ns: &str| {
        format!(
            r#"<e:Envelope xmlns:e="{envelope_ns}"><e:Body><ListBucket xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>no-such-bucket</Bucket></ListBucket></e:Body></e:Envelope>"#
        )
    };
    let soap11 = exchange(
        addr,
        "POST /services/Walrus HTTP/1.1\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: \"\"",
        &list("http://schemas.xmlsoap.org/soap/envelope/"),
    );
    assert!(soap11.starts_with("HTTP/1.1 500"), "{soap11}");
    assert!(
        soap11.contains("<faultcode>soapenv:Client.NoSuchBucket</faultcode>"),
        "{soap11}"
    );
    let soap12 = exchange(
        addr,
        "POST /services/Walrus HTTP/1.1\r\nContent-Type: application/soap+xml; charset=utf-8",
        &list("http://www.w3.org/2003/05/soap-envelope"),
    );
    assert!(soap12.starts_with("HTTP/1.1 400"), "{soap12}");
    assert!(
        soap12.contains("<soapenv:Value>NoSuchBucket</soapenv:Value>"),
        "{soap12}"
    );

    // Anything else at the service path is REST: ListAllMyBuckets, refused to anonymous.
    let rest = exchange(addr, "GET /services/Walrus HTTP/1.1", "");
    let head = rest.to_ascii_lowercase();
    assert!(rest.starts_with("HTTP/1.1 403"), "{rest}");
    assert!(
        head.contains("x-amz-request-id:") && head.contains("server: walrus"),
        "{rest}"
    );
    assert!(rest.contains("<Code>AccessDenied</Code>"), "{rest}");
}

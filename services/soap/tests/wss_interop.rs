//! Interoperability with independent WS-Security implementations: xmlsec1 verifies what we
//! sign, and we verify what python-xmlsec and zeep sign.

#![allow(clippy::unwrap_used)]

mod wss_support;

use std::fs;
use std::process::Command;

use soap::envelope::SoapVersion;
use soap::wss::{
    DigestAlgorithm, SignOptions, SignatureAlgorithm, Verifier, VerifyOptions, WssError,
};
use soap::{SOAP11_NS, SOAP12_NS};
use wss_support::*;

const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const WSA_NS: &str = "http://www.w3.org/2005/08/addressing";

/// Runs `xmlsec1 --verify` on `xml` with alice's certificate, naming every element type we
/// put a `wsu:Id` on (xmlsec1 does not know WS-Security Ids by itself).
fn xmlsec1_verify(xml: &str, soap_ns: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let (message, cert) = (dir.path().join("message.xml"), dir.path().join("cert.pem"));
    fs::write(&message, xml).unwrap();
    fs::write(&cert, &alice().cert_pem).unwrap();
    let mut command = Command::new("xmlsec1");
    command.arg("--verify").arg("--pubkey-cert-pem").arg(&cert);
    let ids = [
        (soap_ns, "Body"),
        (WSU_NS, "Timestamp"),
        (WSA_NS, "To"),
        (WSA_NS, "MessageID"),
        (WSA_NS, "Action"),
    ];
    for (ns, local) in ids {
        command.arg("--id-attr:Id").arg(format!("{ns}:{local}"));
    }
    let (ok, _, stderr) = run(command.arg(&message));
    (ok, stderr)
}

#[test]
fn xmlsec1_verifies_our_signed_requests() {
    for (signature, digest) in [
        (SignatureAlgorithm::RsaSha1, DigestAlgorithm::Sha1),
        (SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha256),
    ] {
        let xml = signed_with(SignOptions {
            signature,
            digest,
            ..Default::default()
        });
        let (ok, stderr) = xmlsec1_verify(&xml, SOAP11_NS);
        assert!(
            ok && stderr.contains("OK"),
            "xmlsec1 refused our {signature:?} message: {stderr}\n{xml}"
        );
    }
    // Control: the same tool refuses a tampered copy, so the check above can fail.
    let tampered = signed_request().replace(">hello<", ">HELLO<");
    let (ok, stderr) = xmlsec1_verify(&tampered, SOAP11_NS);
    assert!(!ok, "xmlsec1 accepted a tampered body: {stderr}");
}

#[test]
fn xmlsec1_verifies_our_soap12_messages_with_qname_content() {
    let xml = signed_echo(SoapVersion::V12, &Echo::typed("typed"), alice());
    let (ok, stderr) = xmlsec1_verify(&xml, SOAP12_NS);
    assert!(ok, "xmlsec1 refused: {stderr}\n{xml}");
}

/// Signs `unsigned` with tests/py/xmlsec_sign.py and alice's key.
fn python_sign(unsigned: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert, input) = (
        dir.path().join("key.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("in.xml"),
    );
    fs::write(&key, &alice().key_pem).unwrap();
    fs::write(&cert, &alice().cert_pem).unwrap();
    fs::write(&input, unsigned).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/xmlsec_sign.py");
    let (ok, stdout, stderr) = run(Command::new(python())
        .arg(script)
        .arg(&key)
        .arg(&cert)
        .arg(&input)
        .args(args));
    assert!(ok, "xmlsec_sign.py failed: {stderr}");
    stdout
}

fn unsigned_request(version: SoapVersion) -> String {
    write_with(
        version,
        &Echo::plain("from python"),
        Default::default(),
        None,
    )
}

#[test]
fn we_verify_messages_signed_by_python_xmlsec() {
    let cases: [(&[&str], SoapVersion); 4] = [
        (&[], SoapVersion::V11),
        (
            &["--signature", "rsa-sha256", "--digest", "sha256"],
            SoapVersion::V11,
        ),
        (&["--inclusive-prefixes", "soapenv"], SoapVersion::V11),
        (&[], SoapVersion::V12),
    ];
    for (args, version) in cases {
        let xml = python_sign(&unsigned_request(version), args);
        let accepted = check(&xml, Some(&verifier(VerifyOptions::default())))
            .unwrap_or_else(|e| panic!("refused python-xmlsec {args:?}: {e}\n{xml}"));
        assert_eq!(
            accepted.payload.as_deref(),
            Some("{urn:example:echo}echo:from python")
        );
        assert_eq!(
            accepted.signer_certificate.as_deref(),
            Some(alice().cert_der.as_slice())
        );
        // And a tampered copy is refused, so the acceptance above means something.
        let tampered = xml.replace("from python", "from mallory");
        assert!(matches!(
            refused(&tampered, &verifier(VerifyOptions::default())),
            WssError::DigestMismatch { .. }
        ));
    }
}

#[test]
fn python_xmlsec_messages_without_timestamp_need_a_lenient_verifier() {
    let xml = python_sign(&unsigned_request(SoapVersion::V11), &["--no-timestamp"]);
    assert!(matches!(
        refused(&xml, &verifier(VerifyOptions::default())),
        WssError::MissingTimestamp
    ));
    let lenient = verifier(VerifyOptions {
        require_timestamp: false,
        ..Default::default()
    });
    check(&xml, Some(&lenient)).unwrap();
}

#[test]
fn we_verify_the_recorded_zeep_request() {
    let Some(reference) = reference_dir() else {
        println!("skipped: no reference");
        return;
    };
    let sample = reference.join("samples/zeep-wsse-nc");
    let xml = fs::read_to_string(sample.join("ncDescribeResource.request.xml")).unwrap();
    let cert = fs::read(sample.join("client-cert.TEST-ONLY.pem")).unwrap();
    // zeep signed only the Body (Id in an invented `ns1` prefix) and sent no Timestamp.
    let options = VerifyOptions {
        require_timestamp: false,
        ..Default::default()
    };
    let accepted = check(
        &xml,
        Some(&Verifier::from_pem([&cert], options.clone()).unwrap()),
    )
    .unwrap();
    assert!(accepted.body_signed);
    assert_eq!(
        accepted.payload.as_deref(),
        Some("{http://eucalyptus.ucsb.edu/}ncDescribeResource:")
    );
    let der = openssl::x509::X509::from_pem(&cert)
        .unwrap()
        .to_der()
        .unwrap();
    assert_eq!(accepted.signer_certificate, Some(der));

    // The same recording, tampered, or checked against another certificate, is refused.
    let tampered = xml.replace("corr-1", "corr-2");
    let fresh = Verifier::from_pem([&cert], options.clone()).unwrap();
    assert!(matches!(
        refused(&tampered, &fresh),
        WssError::DigestMismatch { .. }
    ));
    let strangers = Verifier::from_pem([&alice().cert_pem], options).unwrap();
    assert!(matches!(
        refused(&xml, &strangers),
        WssError::UntrustedCertificate
    ));
}

//! Shared by the `wss_*` tests: throwaway keys made at test time, a small payload, signed
//! messages, verification, and string surgery on our own (predictably prefixed) output.

#![allow(dead_code, clippy::unwrap_used)]

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use soap::envelope::{self, Addressing, BodyContent, Incoming, Outgoing, SoapVersion};
use soap::keys::KeyPair;
use soap::wss::{SignOptions, Signer, Verifier, VerifyOptions, WssError};
use soap::{Fault, SoapError};
use xmlbind::{ElementRef, Limits, ToXml, XmlWriter};

pub const EXAMPLE_NS: &str = "urn:example:echo";

/// A key pair generated once per test process; never written anywhere but temp dirs.
pub struct TestKey {
    pub pair: KeyPair,
    pub key_pem: Vec<u8>,
    pub cert_pem: Vec<u8>,
    pub cert_der: Vec<u8>,
}

fn make(role: &str) -> TestKey {
    let pair = KeyPair::generate(role).unwrap();
    TestKey {
        key_pem: pair.private_key.private_key_to_pem_pkcs8().unwrap(),
        cert_pem: pair.certificate.to_pem().unwrap(),
        cert_der: pair.certificate.to_der().unwrap(),
        pair,
    }
}

/// The trusted peer.
pub fn alice() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| make("test-alice"))
}

/// Someone nobody trusts.
pub fn mallory() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| make("test-mallory"))
}

/// `<echo:text>` payload content, optionally with an `xsi:type` naming a type by QName.
pub struct Echo {
    pub text: String,
    pub xsi_type: bool,
}

impl Echo {
    pub fn plain(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            xsi_type: false,
        }
    }

    /// With an `xsi:type`, whose QName value uses a prefix only there.
    pub fn typed(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            xsi_type: true,
        }
    }
}

impl ToXml for Echo {
    fn write_content(&self, w: &mut XmlWriter) {
        if self.xsi_type {
            w.qname_attribute(
                Some(xmlbind::XSI_NS),
                "type",
                "urn:example:types",
                "EchoType",
            );
        }
        w.start_element(Some(EXAMPLE_NS), "text");
        w.text(&self.text);
        w.end_element();
    }
}

/// A fresh MessageID per call.
pub fn message_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "urn:uuid:test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn addressing() -> Addressing {
    Addressing {
        to: Some("http://127.0.0.1:8775/axis2/services/EucalyptusNC".into()),
        action: Some("EucalyptusNC#ncDescribeResource".into()),
        message_id: Some(message_id()),
        relates_to: None,
    }
}

pub fn signer(key: &TestKey, options: SignOptions) -> Signer {
    Signer::from_pem(&key.key_pem, &key.cert_pem, options).unwrap()
}

/// An envelope carrying `echo`, signed by `key` with `options` (unsigned when `None`).
pub fn write_with(
    version: SoapVersion,
    echo: &Echo,
    addressing: Addressing,
    signer: Option<&Signer>,
) -> String {
    let outgoing = Outgoing {
        version,
        addressing,
        body: BodyContent::Payload {
            namespace: EXAMPLE_NS,
            local: "echo",
            value: echo,
        },
    };
    String::from_utf8(envelope::write(&outgoing, signer).unwrap()).unwrap()
}

/// An envelope carrying `echo` and fresh addressing headers, signed by `key` with the default
/// options.
pub fn signed_echo(version: SoapVersion, echo: &Echo, key: &TestKey) -> String {
    write_with(
        version,
        echo,
        addressing(),
        Some(&signer(key, SignOptions::default())),
    )
}

/// Our default: SOAP 1.1, signed by alice with the default options.
pub fn signed_request() -> String {
    signed_with(SignOptions::default())
}

pub fn signed_with(options: SignOptions) -> String {
    let echo = Echo::plain("hello");
    write_with(
        SoapVersion::V11,
        &echo,
        addressing(),
        Some(&signer(alice(), options)),
    )
}

pub fn signed_fault() -> String {
    let fault = Fault::client("you asked for it").with_detail("details");
    let outgoing = Outgoing {
        version: SoapVersion::V11,
        addressing: addressing(),
        body: BodyContent::Fault(&fault),
    };
    String::from_utf8(
        envelope::write(&outgoing, Some(&signer(alice(), SignOptions::default()))).unwrap(),
    )
    .unwrap()
}

/// A verifier trusting alice.
pub fn verifier(options: VerifyOptions) -> Verifier {
    Verifier::from_pem([&alice().cert_pem], options).unwrap()
}

/// What a handler would see of an accepted message.
#[derive(Debug)]
pub struct Accepted {
    pub payload: Option<String>,
    pub fault: Option<Fault>,
    pub addressing: Addressing,
    pub signer_certificate: Option<Vec<u8>>,
    pub body_signed: bool,
}

/// Parses and verifies `xml` as a server would.
pub fn check(xml: &str, verifier: Option<&Verifier>) -> Result<Accepted, SoapError> {
    let incoming = Incoming::parse(xml.as_bytes(), &Limits::default())?;
    let verified = incoming.verify(verifier)?;
    Ok(Accepted {
        payload: verified.payload.map(payload_text),
        fault: verified.fault,
        addressing: verified.addressing,
        signer_certificate: verified.signer_certificate,
        body_signed: verified.body_signed,
    })
}

/// `{ns}local:text` of a payload element, for assertions.
pub fn payload_text(payload: ElementRef<'_>) -> String {
    let text = payload
        .child(Some(EXAMPLE_NS), "text")
        .map(|t| t.text().unwrap())
        .unwrap_or_default();
    format!("{}:{text}", payload.name().expanded())
}

/// The security error of a refused message; panics if it was accepted or refused otherwise.
pub fn refused(xml: &str, verifier: &Verifier) -> WssError {
    match check(xml, Some(verifier)) {
        Err(SoapError::Security(e)) => e,
        other => panic!("expected a security refusal, got {other:?}\n{xml}"),
    }
}

/// The range of the first element that starts with `open` and ends with `close` (elements
/// of that name must not nest, which holds for ours).
pub fn span(xml: &str, open: &str, close: &str) -> Range<usize> {
    let start = xml
        .find(open)
        .unwrap_or_else(|| panic!("{open} not in {xml}"));
    let end = start
        + xml[start..]
            .find(close)
            .unwrap_or_else(|| panic!("{close} not in {xml}"))
        + close.len();
    start..end
}

pub fn body_span(xml: &str) -> Range<usize> {
    span(xml, "<soapenv:Body", "</soapenv:Body>")
}

/// Removes `range` from `xml`, returning the rest and the removed text.
pub fn cut(xml: &str, range: Range<usize>) -> (String, String) {
    let piece = xml[range.clone()].to_owned();
    let mut rest = xml.to_owned();
    rest.replace_range(range, "");
    (rest, piece)
}

/// Inserts `text` just before the first occurrence of `marker`.
pub fn insert_before(xml: &str, marker: &str, text: &str) -> String {
    let at = xml
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {xml}"));
    let mut out = xml.to_owned();
    out.insert_str(at, text);
    out
}

/// The value of the first `attribute="..."` in `xml` after `from`.
pub fn attribute_after(xml: &str, from: &str, attribute: &str) -> String {
    let start = xml.find(from).unwrap() + from.len();
    let pattern = format!("{attribute}=\"");
    let value_start = start + xml[start..].find(&pattern).unwrap() + pattern.len();
    let value_end = value_start + xml[value_start..].find('"').unwrap();
    xml[value_start..value_end].to_owned()
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The read-only reference data, when this checkout has it.
pub fn reference_dir() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/reference");
    dir.is_dir().then_some(dir)
}

/// The Python with zeep, lxml and xmlsec: `$EUCA_PYTHON` or the workspace's `.venv`.
pub fn python() -> PathBuf {
    let python = std::env::var_os("EUCA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "no Python at {}: run scripts/setup.sh",
        python.display()
    );
    python
}

/// Runs a command, returning (success, stdout, stderr).
pub fn run(command: &mut Command) -> (bool, String, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

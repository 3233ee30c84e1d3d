//! SOAP envelopes: reading what arrived, writing what goes out.
//!
//! An incoming envelope is parsed once from the received bytes; its structure is checked
//! (an optional Header, then exactly one Body, nothing else) and everything a handler sees —
//! payload, fault, addressing, signer — is taken from that tree after the security checks
//! ([`Incoming::verify`]). Outgoing envelopes are written with [`XmlWriter`] and signed on the
//! way out ([`write`]).

use std::sync::LazyLock;

use xmlbind::{
    CanonicalPart, Document, ElementRef, Limits, NodeRef, ToXml, Vocabulary, XmlWriter, XML_NS,
    XSI_NS,
};

use crate::addressing::Headers;
pub use crate::addressing::{Addressing, WSA_NS};
use crate::error::SoapError;
use crate::fault::{Fault, FaultCode};
use crate::wss::{self, Signer, Verifier, WSSE_NS};
use crate::{SOAP11_NS, SOAP12_NS};

/// The prefix we write the envelope namespace with (either version).
const ENV_PREFIX: &str = "soapenv";

/// The names nearly every envelope carries (SOAP, WS-Addressing, WS-Security and XML
/// Signature), made once rather than for each message parsed.
static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(|| {
    Vocabulary::new([
        SOAP11_NS,
        SOAP12_NS,
        WSA_NS,
        WSSE_NS,
        wss::WSU_NS,
        wss::DS_NS,
        wss::EXC_C14N,
        XSI_NS,
        "http://www.w3.org/2001/XMLSchema",
        ENV_PREFIX,
        "soap",
        "SOAP-ENV",
        "wsa",
        "wsse",
        "wsu",
        "ds",
        "ec",
        "xsi",
        "xsd",
        "Envelope",
        "Header",
        "Body",
        "Fault",
        "mustUnderstand",
        "To",
        "Action",
        "MessageID",
        "RelatesTo",
        "ReplyTo",
        "From",
        "FaultTo",
        "Address",
        "Security",
        "BinarySecurityToken",
        "EncodingType",
        "ValueType",
        "Id",
        "Timestamp",
        "Created",
        "Expires",
        "Signature",
        "SignedInfo",
        "CanonicalizationMethod",
        "SignatureMethod",
        "Algorithm",
        "Reference",
        "URI",
        "Transforms",
        "Transform",
        "InclusiveNamespaces",
        "PrefixList",
        "DigestMethod",
        "DigestValue",
        "SignatureValue",
        "KeyInfo",
        "SecurityTokenReference",
    ])
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    V11,
    V12,
}

impl SoapVersion {
    /// The envelope namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::V11 => SOAP11_NS,
            Self::V12 => SOAP12_NS,
        }
    }

    fn of(namespace: &str) -> Option<Self> {
        [Self::V11, Self::V12]
            .into_iter()
            .find(|v| v.namespace() == namespace)
    }

    /// The value of `mustUnderstand` meaning true.
    fn must_understand_true(self) -> &'static str {
        match self {
            Self::V11 => "1",
            Self::V12 => "true",
        }
    }

    /// Actor (1.1) or role (1.2) values that address the ultimate receiver, besides absence.
    fn addresses_us(self, element: ElementRef<'_>) -> bool {
        match self {
            Self::V11 => element
                .attribute(Some(SOAP11_NS), "actor")
                .is_none_or(|a| a == "http://schemas.xmlsoap.org/soap/actor/next"),
            Self::V12 => element.attribute(Some(SOAP12_NS), "role").is_none_or(|r| {
                r == "http://www.w3.org/2003/05/soap-envelope/role/next"
                    || r == "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
            }),
        }
    }
}

/// What goes into the Body of an outgoing message.
#[derive(Clone, Copy)]
pub enum BodyContent<'a> {
    Payload {
        namespace: &'a str,
        local: &'a str,
        value: &'a (dyn ToXml + Sync),
    },
    Fault(&'a Fault),
}

impl std::fmt::Debug for BodyContent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Payload {
                namespace, local, ..
            } => write!(f, "Payload({{{namespace}}}{local})"),
            Self::Fault(fault) => write!(f, "Fault({fault})"),
        }
    }
}

/// An outgoing message.
#[derive(Debug)]
pub struct Outgoing<'a> {
    pub version: SoapVersion,
    pub addressing: Addressing,
    pub body: BodyContent<'a>,
}

/// Serializes `outgoing`, signed by `signer` when given.
pub fn write(outgoing: &Outgoing<'_>, signer: Option<&Signer>) -> Result<Vec<u8>, SoapError> {
    match signer {
        None => Ok(write_envelope(outgoing, None).0.into_bytes()),
        Some(signer) => {
            let stamp = signer.stamp(&outgoing.addressing)?;
            let (envelope, parts) = write_envelope(outgoing, Some(&stamp));
            Ok(stamp.sign(envelope, parts)?)
        }
    }
}

/// The envelope, and with a stamp the parts it signs in canonical form.
fn write_envelope(
    outgoing: &Outgoing<'_>,
    stamp: Option<&wss::Stamp<'_>>,
) -> (String, Vec<CanonicalPart>) {
    let version = outgoing.version;
    let ns = version.namespace();
    // A signed envelope's headers take about 3 KB before the Body.
    let mut w = XmlWriter::with_capacity(4096);
    w.prefer_prefix(ns, ENV_PREFIX);
    w.prefer_prefix(wss::WSU_NS, "wsu");
    w.prefer_prefix(WSA_NS, "wsa");
    w.prefer_prefix(XSI_NS, "xsi");
    if let Some(stamp) = stamp {
        stamp.canonicalize_parts(&mut w);
    }
    w.start_element(Some(ns), "Envelope");
    // Declared once here rather than on each header and the Body that use them.
    if stamp.is_some() {
        w.declare(wss::WSU_NS);
    }
    if !outgoing.addressing.is_empty() {
        w.declare(WSA_NS);
    }
    if stamp.is_some() || !outgoing.addressing.is_empty() {
        w.start_element(Some(ns), "Header");
        if let Some(stamp) = stamp {
            stamp.write_security(&mut w, (ns, version.must_understand_true()));
        }
        outgoing
            .addressing
            .write(&mut w, |field| stamp.and_then(|s| s.addressing_id(field)));
        w.end_element();
    }
    w.start_element(Some(ns), "Body");
    if let Some(id) = stamp.and_then(wss::Stamp::body_id) {
        w.attribute(Some(wss::WSU_NS), "Id", id);
    }
    match outgoing.body {
        BodyContent::Payload {
            namespace,
            local,
            value,
        } => {
            value.to_xml(&mut w, (!namespace.is_empty()).then_some(namespace), local);
        }
        BodyContent::Fault(fault) => write_fault(&mut w, version, fault),
    }
    w.finish_with_canonical()
}

fn write_fault(w: &mut XmlWriter, version: SoapVersion, fault: &Fault) {
    let ns = Some(version.namespace());
    let simple = |w: &mut XmlWriter, namespace: Option<&str>, local: &str, text: &str| {
        w.start_element(namespace, local);
        w.text(text);
        w.end_element();
    };
    w.start_element(ns, "Fault");
    match version {
        SoapVersion::V11 => {
            let code = match &fault.subcode {
                Some(subcode) => format!("{ENV_PREFIX}:{}.{subcode}", fault.code.soap11()),
                None => format!("{ENV_PREFIX}:{}", fault.code.soap11()),
            };
            simple(w, None, "faultcode", &code);
            simple(w, None, "faultstring", &fault.string);
            if let Some(detail) = &fault.detail {
                simple(w, None, "detail", detail);
            }
        }
        SoapVersion::V12 => {
            w.start_element(ns, "Code");
            simple(
                w,
                ns,
                "Value",
                &format!("{ENV_PREFIX}:{}", fault.code.soap12()),
            );
            // An unprefixed QName: no default namespace is in scope, so it has none.
            if let Some(subcode) = &fault.subcode {
                w.start_element(ns, "Subcode");
                simple(w, ns, "Value", subcode);
                w.end_element();
            }
            w.end_element();
            w.start_element(ns, "Reason");
            w.start_element(ns, "Text");
            w.attribute(Some(XML_NS), "lang", "en");
            w.text(&fault.string);
            w.end_element();
            w.end_element();
            if let Some(detail) = &fault.detail {
                simple(w, ns, "Detail", detail);
            }
        }
    }
    w.end_element();
}

/// A received envelope, parsed from the bytes that arrived (never re-serialized).
#[derive(Debug)]
pub struct Incoming {
    document: Document,
    version: SoapVersion,
}

/// The parts of an incoming message a handler may trust.
#[derive(Debug)]
pub struct Verified<'a> {
    /// The Body's only child element: the signed one when a signature was verified.
    pub payload: Option<ElementRef<'a>>,
    /// A fault carried in the Body, when there is one.
    pub fault: Option<Fault>,
    /// The WS-Addressing headers read. Each is signed when the verifier demands signed
    /// addressing or the Body is unsigned; otherwise an unsigned one is informational.
    pub addressing: Addressing,
    /// The WS-Addressing headers a handler may rely on: with a verifier, only those the
    /// signature covers; without one (an unsecured endpoint), all of `addressing`.
    pub signed_addressing: Addressing,
    /// DER of the certificate whose signature was verified.
    pub signer_certificate: Option<Vec<u8>>,
    /// Whether the signature covered the Body. False only for unsigned messages and for the
    /// original components' addressing-only signatures ([`wss::Compatibility`]).
    pub body_signed: bool,
}

/// An envelope [`Incoming::verify`] accepted, owning its tree, so that a server can check it
/// on a blocking thread (parsing, signature work and the replay journal's write) and hand it
/// back to the executor.
#[derive(Debug)]
pub(crate) struct Checked {
    incoming: Incoming,
    pub(crate) fault: Option<Fault>,
    pub(crate) addressing: Addressing,
    pub(crate) signed_addressing: Addressing,
    pub(crate) signer_certificate: Option<Vec<u8>>,
}

impl Checked {
    /// The Body's only child element, as [`Verified::payload`].
    pub(crate) fn payload(&self) -> Option<ElementRef<'_>> {
        // The structure was checked when the envelope was parsed.
        let (_, body) = self.incoming.parts().ok()?;
        body.elements().next()
    }
}

impl Incoming {
    /// [`Incoming::verify`], keeping what it established with the tree.
    pub(crate) fn check(self, verifier: Option<&Verifier>) -> Result<Checked, SoapError> {
        let Verified {
            fault,
            addressing,
            signed_addressing,
            signer_certificate,
            ..
        } = self.verify(verifier)?;
        Ok(Checked {
            incoming: self,
            fault,
            addressing,
            signed_addressing,
            signer_certificate,
        })
    }

    /// Parses an envelope within `limits`, checking its structure.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, SoapError> {
        let document = Document::parse_with(bytes, limits, &VOCABULARY)?;
        let root = document.root();
        let namespace = root.name().namespace.as_deref().unwrap_or_default();
        let version = match SoapVersion::of(namespace) {
            Some(v) if root.name().local == "Envelope" => v,
            None if root.name().local == "Envelope" => {
                return Err(SoapError::VersionMismatch(namespace.to_owned()))
            }
            _ => {
                return Err(SoapError::NotEnvelope(format!(
                    "the document element is {}",
                    root.name().expanded()
                )))
            }
        };
        let incoming = Self { document, version };
        incoming.parts()?;
        Ok(incoming)
    }

    pub fn version(&self) -> SoapVersion {
        self.version
    }

    pub fn root(&self) -> ElementRef<'_> {
        self.document.root()
    }

    /// Checks the security header with `verifier` (or none: only for unsecured endpoints)
    /// and returns what the handler may see.
    pub fn verify(&self, verifier: Option<&Verifier>) -> Result<Verified<'_>, SoapError> {
        let (header, body) = self.parts()?;
        let headers = Headers::read(header)?;
        self.check_must_understand(header)?;
        let outcome = verifier
            .map(|verifier| {
                verifier.verify(&wss::Message {
                    root: self.root(),
                    header,
                    body,
                    addressing: &headers,
                })
            })
            .transpose()?;
        let payload = body.elements().next();
        let fault = payload
            .filter(|p| p.name().is(Some(self.version.namespace()), "Fault"))
            .map(read_fault)
            .transpose()?;
        let addressing = headers.values()?;
        let (signed_addressing, outcome) = match outcome {
            Some(outcome) => (addressing.only(&outcome.signed_addressing), outcome),
            None => (addressing.clone(), wss::Outcome::default()),
        };
        Ok(Verified {
            payload,
            fault,
            addressing,
            signed_addressing,
            signer_certificate: outcome.certificate,
            body_signed: outcome.body_signed,
        })
    }

    /// The Header (optional, first) and the Body (exactly one, holding at most one element).
    fn parts(&self) -> Result<(Option<ElementRef<'_>>, ElementRef<'_>), SoapError> {
        let ns = Some(self.version.namespace());
        let (mut header, mut body) = (None, None);
        for node in self.root().children() {
            match node {
                NodeRef::Element(e)
                    if e.name().is(ns, "Header") && header.is_none() && body.is_none() =>
                {
                    header = Some(e)
                }
                NodeRef::Element(e) if e.name().is(ns, "Body") && body.is_none() => body = Some(e),
                NodeRef::Element(e) if e.name().is(ns, "Body") => {
                    return Err(SoapError::NotEnvelope("more than one Body".into()))
                }
                NodeRef::Element(e) => {
                    return Err(SoapError::NotEnvelope(format!(
                        "unexpected {} in the Envelope",
                        e.name().expanded()
                    )))
                }
                NodeRef::Text(t) if !t.trim().is_empty() => {
                    return Err(SoapError::NotEnvelope("text in the Envelope".into()))
                }
                _ => {}
            }
        }
        let body = body.ok_or_else(|| SoapError::NotEnvelope("no Body".into()))?;
        if body.elements().nth(1).is_some() {
            return Err(SoapError::NotEnvelope(
                "the Body holds more than one element".into(),
            ));
        }
        if body
            .children()
            .any(|n| matches!(n, NodeRef::Text(t) if !t.trim().is_empty()))
        {
            return Err(SoapError::NotEnvelope("text in the Body".into()));
        }
        Ok((header, body))
    }

    /// Refuses header blocks addressed to us with `mustUnderstand` that we do not process.
    /// We understand WS-Security (checked, or deliberately ignored on an unsecured endpoint)
    /// and the WS-Addressing headers we read.
    fn check_must_understand(&self, header: Option<ElementRef<'_>>) -> Result<(), SoapError> {
        let ns = self.version.namespace();
        for block in header.into_iter().flat_map(ElementRef::elements) {
            let must = block
                .attribute(Some(ns), "mustUnderstand")
                .is_some_and(|v| matches!(v.trim(), "1" | "true"));
            let understood = block.name().is(Some(WSSE_NS), "Security")
                || crate::addressing::Field::ALL
                    .iter()
                    .any(|f| block.name().is(Some(WSA_NS), f.local()));
            if must && !understood && self.version.addresses_us(block) {
                return Err(SoapError::MustUnderstand(block.name().expanded()));
            }
        }
        Ok(())
    }
}

/// Reads a SOAP 1.1 (`faultcode`, `faultstring`, `detail`) or 1.2 (`Code/Value`,
/// `Reason/Text`, `Detail`) fault.
fn read_fault(fault: ElementRef<'_>) -> Result<Fault, SoapError> {
    let ns = fault.name().namespace.as_deref();
    let text = |e: Option<ElementRef<'_>>| e.map(descendant_text).unwrap_or_default();
    let local = |qname: &str| {
        qname
            .trim()
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let (code, subcode, string, detail) = match fault.child(None, "faultcode") {
        Some(code) => {
            let code = local(&code.text()?);
            let (code, subcode) = match code.split_once('.') {
                Some((code, subcode)) => (code.to_owned(), Some(subcode.to_owned())),
                None => (code, None),
            };
            let string = text(fault.child(None, "faultstring"));
            (code, subcode, string, fault.child(None, "detail"))
        }
        None => {
            let code = fault
                .child(ns, "Code")
                .ok_or_else(|| SoapError::NotEnvelope("a Fault without a code".into()))?;
            let value = code
                .child(ns, "Value")
                .ok_or_else(|| SoapError::NotEnvelope("a Fault without a code".into()))?;
            let subcode = code
                .child(ns, "Subcode")
                .and_then(|s| s.child(ns, "Value"))
                .map(|v| v.text().map(|t| local(&t)))
                .transpose()?;
            let reason = fault.child(ns, "Reason").and_then(|r| r.child(ns, "Text"));
            (
                local(&value.text()?),
                subcode,
                text(reason),
                fault.child(ns, "Detail"),
            )
        }
    };
    let code = match code.as_str() {
        "VersionMismatch" => FaultCode::VersionMismatch,
        "MustUnderstand" => FaultCode::MustUnderstand,
        "Client" | "Sender" => FaultCode::Client,
        _ => FaultCode::Server,
    };
    let detail = detail.map(descendant_text).filter(|d| !d.is_empty());
    Ok(Fault {
        code,
        subcode,
        string,
        detail,
    })
}

/// The text of an element and its descendants, trimmed.
fn descendant_text(element: ElementRef<'_>) -> String {
    let mut out = String::new();
    let mut stack = vec![element.children()];
    while let Some(children) = stack.last_mut() {
        match children.next() {
            Some(NodeRef::Text(t)) => out.push_str(t),
            Some(NodeRef::Element(e)) => stack.push(e.children()),
            Some(NodeRef::Comment(_) | NodeRef::ProcessingInstruction { .. }) => {}
            None => {
                stack.pop();
            }
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::c14n;
    use crate::keys::KeyPair;
    use crate::wss::{SignOptions, WSU_NS};

    /// Every element of `root` carrying `wsu:Id` = `id`.
    fn marked<'a>(root: ElementRef<'a>, id: &str) -> Vec<ElementRef<'a>> {
        root.subtree()
            .filter(|e| e.attribute(Some(WSU_NS), "Id") == Some(id))
            .collect()
    }

    #[test]
    fn signed_parts_are_digested_in_the_canonical_form_a_verifier_computes() {
        // Guards signing, which digests the writer's canonical form of each part: it must be
        // our C14N of the part parsed back, for a reply (a fault: a QName in content) and a
        // request (every addressing header signed), in both SOAP versions.
        let signer = KeyPair::generate("test")
            .unwrap()
            .signer(SignOptions::default())
            .unwrap();
        let fault = Fault::client("bad <input> & \"quotes\"\r\n").with_detail("why");
        let addressing = Addressing {
            to: Some("http://127.0.0.1:8773/services/Eucalyptus".into()),
            action: Some("urn:action".into()),
            message_id: Some("urn:uuid:1".into()),
            relates_to: Some("urn:uuid:0".into()),
        };
        for version in [SoapVersion::V11, SoapVersion::V12] {
            let outgoing = Outgoing {
                version,
                addressing: addressing.clone(),
                body: BodyContent::Fault(&fault),
            };
            let stamp = signer.stamp(&outgoing.addressing).unwrap();
            let (envelope, parts) = write_envelope(&outgoing, Some(&stamp));
            let parsed = Document::parse(envelope.as_bytes(), &Limits::default()).unwrap();
            assert_eq!(parts.len(), 6, "Timestamp, four addressing headers, Body");
            for part in &parts {
                let [element] = marked(parsed.root(), &part.id)[..] else {
                    panic!("{} not written once", part.id);
                };
                let prefixes: Vec<&str> = part.prefixes.split(' ').collect();
                let canonical = c14n::exclusive_of(element, &prefixes);
                assert_eq!(part.canonical, String::from_utf8(canonical).unwrap());
                for (prefix, _) in element.scope().iter() {
                    assert!(
                        prefixes.contains(&prefix.unwrap_or("#default")),
                        "{prefix:?}"
                    );
                }
            }
        }
    }
}

//! Messages a verifier must refuse, each built from a valid signed message by one attack, and
//! each refused with its own error. The signature-wrapping families are those of McIntosh &
//! Austel, "XML Signature Element Wrapping Attacks and Countermeasures" (2005), and Somorovsky
//! et al., "All Your Clouds are Belong to us" (2011, against EC2 and Eucalyptus) and "On
//! Breaking SAML" (2012, XSW1-8): the verifier checks one element while the application reads
//! another.

#![allow(clippy::unwrap_used)]

mod wss_support;

use std::time::{SystemTime, UNIX_EPOCH};

use soap::envelope::SoapVersion;
use soap::wss::{Clock, SignOptions, VerifyOptions, WssError};
use soap::SoapError;
use wss_support::*;

const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";

/// What an attacker wants executed instead.
const EVIL_BODY: &str = r#"<soapenv:Body><ns1:echo xmlns:ns1="urn:example:echo"><ns1:text>rm -rf</ns1:text></ns1:echo></soapenv:Body>"#;

fn strict() -> soap::wss::Verifier {
    verifier(VerifyOptions::default())
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A new header of the attacker's, binding the `wsse` prefix for what it may carry.
fn wrapper(content: &str) -> String {
    format!(r#"<x:Wrapper xmlns:x="urn:attacker" xmlns:wsse="{WSSE_NS}">{content}</x:Wrapper>"#)
}

/// Takes the signed Body out, puts `place(signed body)` before `marker`, and the evil Body
/// where the signed one was.
fn move_body(xml: &str, marker: &str, place: impl Fn(&str) -> String) -> String {
    let (rest, body) = cut(xml, body_span(xml));
    let moved = insert_before(&rest, marker, &place(&body));
    insert_before(&moved, "</soapenv:Envelope>", EVIL_BODY)
}

/// Takes the first `open`..`close` element out and puts it, wrapped, into a new header.
fn move_into_header_wrapper(xml: &str, open: &str, close: &str) -> String {
    let (rest, element) = cut(xml, span(xml, open, close));
    insert_before(&rest, "</soapenv:Header>", &wrapper(&element))
}

fn body_id(xml: &str) -> String {
    attribute_after(xml, "<soapenv:Body", "wsu:Id")
}

fn assert_wrapped(error: WssError) {
    assert!(
        matches!(error, WssError::WrappedElement { .. }),
        "{error:?}"
    );
}

fn assert_not_envelope(xml: &str, expected: &str) {
    match check(xml, Some(&strict())) {
        Err(SoapError::NotEnvelope(m)) => assert!(m.contains(expected), "{m}"),
        other => panic!("expected a structural refusal, got {other:?}"),
    }
}

// --- The signature itself ---------------------------------------------------------------

/// Guards against: an endpoint that requires signatures accepting an unsigned request.
#[test]
fn unsigned_request_is_refused() {
    let xml = write_with(SoapVersion::V11, &Echo::plain("x"), addressing(), None);
    assert!(matches!(refused(&xml, &strict()), WssError::Unsigned));
}

/// Guards against: a changed Body passing with the original signature.
#[test]
fn tampered_body_is_refused() {
    let xml = signed_request();
    let id = body_id(&xml);
    let tampered = xml.replace(">hello<", ">rm -rf<");
    assert!(
        matches!(refused(&tampered, &strict()), WssError::DigestMismatch { reference } if reference == format!("#{id}"))
    );
}

/// Guards against: a changed signed header (wsa:Action) passing with the original signature.
#[test]
fn tampered_signed_header_is_refused() {
    let xml = signed_request();
    let id = attribute_after(&xml, "<wsa:Action", "wsu:Id");
    let tampered = xml.replace("#ncDescribeResource<", "#ncTerminateInstances<");
    assert!(
        matches!(refused(&tampered, &strict()), WssError::DigestMismatch { reference } if reference == format!("#{id}"))
    );
}

/// Guards against: a signature value that does not verify over SignedInfo being accepted.
#[test]
fn tampered_signature_value_is_refused() {
    let xml = signed_request();
    let element = span(&xml, "<ds:SignatureValue>", "</ds:SignatureValue>");
    let value =
        element.start + "<ds:SignatureValue>".len()..element.end - "</ds:SignatureValue>".len();
    let flipped = xml[value.clone()].replacen(|c: char| c.is_ascii_alphabetic(), "0", 3);
    let mut tampered = xml.clone();
    tampered.replace_range(value, &flipped);
    assert!(matches!(
        refused(&tampered, &strict()),
        WssError::BadSignature
    ));
}

/// Guards against: a SignedInfo edited after signing (a DigestValue swapped for the digest of
/// a tampered Body) being accepted: the signature covers SignedInfo itself.
#[test]
fn signed_info_changed_after_signing_is_refused() {
    let xml = signed_request();
    let element = span(&xml, "<ds:DigestValue>", "</ds:DigestValue>");
    let mut tampered = xml.clone();
    tampered.replace_range(
        element,
        "<ds:DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</ds:DigestValue>",
    );
    assert!(matches!(
        refused(&tampered, &strict()),
        WssError::BadSignature
    ));
}

/// Guards against: trusting whoever signed, rather than the configured peers.
#[test]
fn signature_by_untrusted_certificate_is_refused() {
    let xml = signed_echo(SoapVersion::V11, &Echo::plain("x"), mallory());
    assert!(matches!(
        refused(&xml, &strict()),
        WssError::UntrustedCertificate
    ));
}

/// Guards against: a stranger's message costing placement, digest or RSA work (issue 17,
/// finding 4): wrapped, tampered and with a broken signature value, it is refused as untrusted.
#[test]
fn untrusted_certificate_is_refused_before_the_signature_is_examined() {
    let xml = signed_echo(SoapVersion::V11, &Echo::plain("hello"), mallory());
    let xml = move_body(&xml, "</soapenv:Header>", wrapper).replace(">hello<", ">rm -rf<");
    let broken = xml.replacen("<ds:SignatureValue>", "<ds:SignatureValue>AAAA", 1);
    assert!(matches!(
        refused(&broken, &strict()),
        WssError::UntrustedCertificate
    ));
}

/// Guards against: an unsigned message being examined before it is refused: however large
/// its Body (within limits), the refusal says it is unsigned.
#[test]
fn unsigned_request_with_a_large_body_is_refused_as_unsigned() {
    let text = "x".repeat(900 * 1024);
    let xml = write_with(SoapVersion::V11, &Echo::plain(&text), addressing(), None);
    assert!(matches!(refused(&xml, &strict()), WssError::Unsigned));
}

/// Guards against: using a key the message carries itself (a bare ds:KeyValue).
#[test]
fn key_carried_only_in_the_message_is_refused() {
    let xml = signed_echo(SoapVersion::V11, &Echo::plain("x"), mallory());
    let rsa = mallory().pair.private_key.rsa().unwrap();
    let b64 = |n: &openssl::bn::BigNumRef| openssl::base64::encode_block(&n.to_vec());
    let key_value = format!(
        "<ds:KeyInfo><ds:KeyValue><ds:RSAKeyValue><ds:Modulus>{}</ds:Modulus><ds:Exponent>{}</ds:Exponent></ds:RSAKeyValue></ds:KeyValue></ds:KeyInfo>",
        b64(rsa.n()),
        b64(rsa.e())
    );
    let mut forged = xml.clone();
    forged.replace_range(span(&xml, "<ds:KeyInfo>", "</ds:KeyInfo>"), &key_value);
    assert!(matches!(
        refused(&forged, &strict()),
        WssError::UntrustedKey(_)
    ));
}

/// Guards against: a trusted certificate pasted into a message another key signed.
#[test]
fn trusted_certificate_over_a_foreign_signature_is_refused() {
    let xml = signed_echo(SoapVersion::V11, &Echo::plain("x"), mallory());
    let token = span(
        &xml,
        "<wsse:BinarySecurityToken",
        "</wsse:BinarySecurityToken>",
    );
    let start = token.start + xml[token.clone()].find('>').unwrap() + 1;
    let end = token.end - "</wsse:BinarySecurityToken>".len();
    let mut forged = xml.clone();
    forged.replace_range(
        start..end,
        &openssl::base64::encode_block(&alice().cert_der),
    );
    assert!(matches!(
        refused(&forged, &strict()),
        WssError::BadSignature
    ));
}

/// Guards against: a token planted outside the Security header standing in for the signer's.
#[test]
fn token_outside_the_security_header_is_refused() {
    let xml = move_into_header_wrapper(
        &signed_request(),
        "<wsse:BinarySecurityToken",
        "</wsse:BinarySecurityToken>",
    );
    assert_wrapped(refused(&xml, &strict()));
}

// --- Freshness ---------------------------------------------------------------------------

/// Guards against: stale messages being accepted (clock an hour ahead of the signer).
#[test]
fn expired_timestamp_is_refused() {
    let late = verifier(VerifyOptions {
        clock: Clock::Fixed(now() + 3600),
        ..Default::default()
    });
    assert!(matches!(
        refused(&signed_request(), &late),
        WssError::Expired
    ));
}

/// Guards against: messages pre-signed for later use (clock an hour behind the signer).
#[test]
fn future_timestamp_is_refused() {
    let early = verifier(VerifyOptions {
        clock: Clock::Fixed(now() - 3600),
        ..Default::default()
    });
    assert!(matches!(
        refused(&signed_request(), &early),
        WssError::NotYetValid
    ));
}

/// Guards against: timeless messages, which could be replayed forever.
#[test]
fn missing_timestamp_is_refused() {
    let xml = signed_with(SignOptions {
        timestamp_ttl: None,
        ..Default::default()
    });
    assert!(matches!(
        refused(&xml, &strict()),
        WssError::MissingTimestamp
    ));
}

/// Guards against: the same signed message being executed twice.
#[test]
fn replayed_message_is_refused() {
    let verifier = strict();
    let xml = signed_request();
    check(&xml, Some(&verifier)).unwrap();
    assert!(matches!(refused(&xml, &verifier), WssError::Replay));
}

/// Guards against: a replay re-signed by a peer's stack (new signature, same MessageID).
#[test]
fn replayed_message_id_is_refused() {
    let verifier = strict();
    let signer = signer(alice(), SignOptions::default());
    let echo = Echo::plain("x");
    let wsa = addressing();
    check(
        &write_with(SoapVersion::V11, &echo, wsa.clone(), Some(&signer)),
        Some(&verifier),
    )
    .unwrap();
    let again = write_with(SoapVersion::V11, &echo, wsa, Some(&signer));
    assert!(matches!(refused(&again, &verifier), WssError::Replay));
}

/// Guards against: a message without a Timestamp, accepted for the original components,
/// being executed again, whether replayed as is or re-signed with the same MessageID.
#[test]
fn compatibility_mode_still_refuses_a_seen_message_id() {
    let verifier = verifier(VerifyOptions::original_components());
    let signer = signer(
        alice(),
        SignOptions {
            timestamp_ttl: None,
            ..Default::default()
        },
    );
    let wsa = addressing();
    let first = write_with(
        SoapVersion::V11,
        &Echo::plain("x"),
        wsa.clone(),
        Some(&signer),
    );
    check(&first, Some(&verifier)).unwrap();
    assert!(matches!(refused(&first, &verifier), WssError::Replay));
    let other_body = write_with(SoapVersion::V11, &Echo::plain("y"), wsa, Some(&signer));
    assert!(matches!(refused(&other_body, &verifier), WssError::Replay));
}

/// Guards against: a certificate used after its notAfter (pinning alone ignored the dates).
#[test]
fn expired_certificate_is_refused() {
    let eleven_years_on = verifier(VerifyOptions {
        clock: Clock::Fixed(now() + 11 * 365 * 86_400),
        ..Default::default()
    });
    let error = refused(&signed_request(), &eleven_years_on);
    assert!(matches!(error, WssError::CertificateExpired(_)), "{error}");
    assert!(error.to_string().contains("expired at 20"), "{error}");
}

/// Guards against: a certificate used before its notBefore.
#[test]
fn not_yet_valid_certificate_is_refused() {
    let a_day_before = verifier(VerifyOptions {
        clock: Clock::Fixed(now() - 86_400),
        ..Default::default()
    });
    assert!(matches!(
        refused(&signed_request(), &a_day_before),
        WssError::CertificateNotYetValid(_)
    ));
}

// --- Signature wrapping: the Body -------------------------------------------------------

/// XSW (McIntosh & Austel 2005; Somorovsky 2011 against EC2): the signed Body moved into a
/// new header, a new Body in its place.
#[test]
fn signed_body_moved_into_a_new_header_is_refused() {
    let xml = move_body(&signed_request(), "</soapenv:Header>", wrapper);
    assert_wrapped(refused(&xml, &strict()));
}

/// XSW: the signed Body moved into wsse:Security, a new Body in its place.
#[test]
fn signed_body_moved_into_security_is_refused() {
    let xml = move_body(&signed_request(), "</wsse:Security>", str::to_owned);
    assert_wrapped(refused(&xml, &strict()));
}

/// XSW (Somorovsky 2012, XSW3/4-like): the signed Body moved into a ds:Object of the
/// Signature, a new Body in its place.
#[test]
fn signed_body_moved_into_ds_object_is_refused() {
    let xml = move_body(&signed_request(), "</ds:Signature>", |b| {
        format!("<ds:Object>{b}</ds:Object>")
    });
    assert_wrapped(refused(&xml, &strict()));
}

/// XSW: the signed Body moved after a new Body, in a wrapper element of the Envelope.
#[test]
fn signed_body_moved_after_a_new_body_is_refused() {
    let xml = signed_request();
    let body = body_span(&xml);
    let mut attacked = xml.clone();
    attacked.replace_range(body.clone(), &format!("{EVIL_BODY}{}", wrapper(&xml[body])));
    assert_not_envelope(&attacked, "unexpected {urn:attacker}Wrapper");
}

/// XSW: a new Body placed before the signed one (two Bodies; which one a reader picks varies).
#[test]
fn two_bodies_are_refused() {
    let xml = insert_before(&signed_request(), "<soapenv:Body", EVIL_BODY);
    assert_not_envelope(&xml, "more than one Body");
}

/// XSW: the signed Body nested inside the new Body.
#[test]
fn signed_body_nested_in_a_new_body_is_refused() {
    let xml = signed_request();
    let body = body_span(&xml);
    let nested = EVIL_BODY.replace(
        "</soapenv:Body>",
        &format!("{}</soapenv:Body>", wrapper(&xml[body.clone()])),
    );
    let mut attacked = xml.clone();
    attacked.replace_range(body, &nested);
    assert_not_envelope(&attacked, "more than one element");
}

/// Guards against: a signature that covers Timestamp and headers but not the Body.
#[test]
fn signed_info_not_covering_the_body_is_refused() {
    let xml = signed_with(SignOptions {
        body: false,
        ..Default::default()
    });
    assert!(matches!(refused(&xml, &strict()), WssError::BodyNotSigned));
}

// --- Signature wrapping: Ids --------------------------------------------------------------

/// The evil Body carries the signed Body's Id in `attribute` form; the signed Body is hidden
/// in a header. Whichever copy an Id lookup finds, the Id must be refused as ambiguous.
fn duplicate_id_attack(attribute: impl Fn(&str) -> String) -> WssError {
    let xml = signed_request();
    let id = body_id(&xml);
    let evil = EVIL_BODY.replacen(
        "<soapenv:Body",
        &format!("<soapenv:Body {}", attribute(&id)),
        1,
    );
    let (rest, body) = cut(&xml, body_span(&xml));
    let attacked = insert_before(&rest, "</soapenv:Header>", &wrapper(&body));
    refused(
        &insert_before(&attacked, "</soapenv:Envelope>", &evil),
        &strict(),
    )
}

/// XSW with a duplicate `wsu:Id`.
#[test]
fn duplicate_wsu_id_is_refused() {
    assert!(matches!(
        duplicate_id_attack(|id| format!(r#"wsu:Id="{id}""#)),
        WssError::DuplicateId(_)
    ));
}

/// XSW with confusable Id attributes: unqualified `Id`, `ID`, `xml:id`, a foreign namespace's
/// `Id`, and a value padded with spaces — each resolved as the same Id by some stack.
#[test]
fn confusable_ids_are_refused() {
    let forms: [fn(&str) -> String; 5] = [
        |id| format!(r#"Id="{id}""#),
        |id| format!(r#"ID="{id}""#),
        |id| format!(r#"xml:id="{id}""#),
        |id| format!(r#"xmlns:f="urn:foreign" f:Id="{id}""#),
        |id| format!(r#"Id=" {id} ""#),
    ];
    for form in forms {
        let error = duplicate_id_attack(form);
        assert!(
            matches!(error, WssError::DuplicateId(_)),
            "{}: {error:?}",
            form("ID")
        );
    }
}

// --- Namespace injection -----------------------------------------------------------------

/// Namespace injection: a prefix used only inside content (the fault code `soapenv:Client`)
/// redeclared inside the signed Body. Exclusive C14N alone would not notice; the PrefixList
/// we sign with does.
#[test]
fn soap_prefix_redeclared_inside_the_body_is_refused() {
    let xml = signed_fault();
    let attacked = xml.replacen(
        "<faultcode>",
        r#"<faultcode xmlns:soapenv="urn:attacker">"#,
        1,
    );
    assert_ne!(xml, attacked);
    assert!(matches!(
        refused(&attacked, &strict()),
        WssError::DigestMismatch { .. }
    ));
}

/// Namespace injection: the prefix of an `xsi:type` value rebound to another namespace.
#[test]
fn type_prefix_rebound_inside_the_body_is_refused() {
    let xml = signed_echo(SoapVersion::V11, &Echo::typed("typed"), alice());
    let attacked = xml.replacen(r#"="urn:example:types""#, r#"="urn:attacker""#, 1);
    assert_ne!(xml, attacked);
    assert!(matches!(
        refused(&attacked, &strict()),
        WssError::DigestMismatch { .. }
    ));
}

/// Namespace injection: the signed Body, its prefix rebound so it no longer is a SOAP Body,
/// kept as a header block while a new Body takes its place.
#[test]
fn signed_body_with_rebound_prefix_is_refused() {
    let xml = move_body(&signed_request(), "</soapenv:Header>", |b| {
        b.replacen(
            "<soapenv:Body ",
            r#"<soapenv:Body xmlns:soapenv="urn:attacker" "#,
            1,
        )
    });
    assert!(matches!(
        refused(&xml, &strict()),
        WssError::DigestMismatch { .. }
    ));
}

// --- Signature wrapping: Timestamp and addressing ----------------------------------------

/// XSW on freshness: the signed (stale) Timestamp moved into a header, a fresh unsigned one
/// in its place.
#[test]
fn signed_timestamp_moved_away_is_refused() {
    let xml = move_into_header_wrapper(&signed_request(), "<wsu:Timestamp", "</wsu:Timestamp>");
    let fresh = format!(
        "<wsu:Timestamp><wsu:Created>{}</wsu:Created></wsu:Timestamp>",
        xmlbind::DateTime::now().as_str()
    );
    let xml = insert_before(&xml, "<wsse:BinarySecurityToken", &fresh);
    assert_wrapped(refused(&xml, &strict()));
}

/// Guards against: an unsigned Timestamp beside the signed one (which one counts?).
#[test]
fn second_unsigned_timestamp_is_refused() {
    let fresh = format!(
        "<wsu:Timestamp><wsu:Created>{}</wsu:Created></wsu:Timestamp>",
        xmlbind::DateTime::now().as_str()
    );
    let xml = insert_before(&signed_request(), "<wsu:Timestamp", &fresh);
    assert!(matches!(refused(&xml, &strict()), WssError::Malformed(m) if m.contains("Timestamp")));
}

/// XSW on addressing: the signed wsa:Action moved into a wrapper header, an unsigned one
/// naming another operation in its place.
#[test]
fn signed_action_moved_away_is_refused() {
    let xml = move_into_header_wrapper(&signed_request(), "<wsa:Action", "</wsa:Action>");
    let xml = insert_before(
        &xml,
        "</soapenv:Header>",
        "<wsa:Action>EucalyptusNC#ncTerminateInstances</wsa:Action>",
    );
    assert_wrapped(refused(&xml, &strict()));
}

/// Guards against: an unsigned wsa:Action beside the signed one.
#[test]
fn second_unsigned_action_is_refused() {
    let xml = insert_before(
        &signed_request(),
        "<wsa:Action",
        "<wsa:Action>EucalyptusNC#ncTerminateInstances</wsa:Action>",
    );
    assert!(
        matches!(check(&xml, Some(&strict())), Err(SoapError::DuplicateHeader(h)) if h.ends_with("Action"))
    );
}

/// Guards against: an unsigned addressing header slipped in where signed addressing is
/// demanded.
#[test]
fn unsigned_addressing_header_is_refused_when_required() {
    let xml = insert_before(
        &signed_request(),
        "</soapenv:Header>",
        "<wsa:RelatesTo>urn:uuid:forged</wsa:RelatesTo>",
    );
    let demanding = verifier(VerifyOptions {
        require_signed_addressing: true,
        ..Default::default()
    });
    assert!(matches!(
        refused(&xml, &demanding),
        WssError::AddressingNotSigned("RelatesTo")
    ));
}

/// Guards against: two Security headers, one to verify and one to be read.
#[test]
fn second_security_header_is_refused() {
    let xml = signed_request();
    let security = span(&xml, "<wsse:Security", "</wsse:Security>");
    let xml = insert_before(&xml, "</soapenv:Header>", &xml[security]);
    assert!(matches!(
        refused(&xml, &strict()),
        WssError::DuplicateSecurityHeader
    ));
}

// --- References --------------------------------------------------------------------------

/// Guards against: references to other documents, to the whole document, or XPointer
/// expressions, which escape the Id-and-place checks.
#[test]
fn references_outside_the_envelope_are_refused() {
    let xml = signed_request();
    let id = body_id(&xml);
    for uri in [
        "http://attacker.example/body.xml".to_owned(),
        String::new(),
        "#xpointer(/)".into(),
        format!("#xpointer(id('{id}'))"),
    ] {
        let attacked = xml.replacen(&format!("URI=\"#{id}\""), &format!("URI=\"{uri}\""), 1);
        assert!(
            matches!(refused(&attacked, &strict()), WssError::ForeignReference(u) if u == uri),
            "{uri}"
        );
    }
}

/// Guards against: HMAC signatures, whose key the verifier would have to take on trust.
#[test]
fn hmac_signature_method_is_refused() {
    let xml = signed_request().replacen(
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
        1,
    );
    assert!(
        matches!(refused(&xml, &strict()), WssError::UnsupportedAlgorithm(a) if a.ends_with("hmac-sha1"))
    );
}

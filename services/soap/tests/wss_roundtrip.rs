//! Envelopes we write, signed with each profile, read back and verified by our own code.

#![allow(clippy::unwrap_used)]

mod wss_support;

use soap::envelope::{self, Addressing, BodyContent, Outgoing, SoapVersion};
use soap::wss::{
    Compatibility, DigestAlgorithm, SignOptions, SignatureAlgorithm, VerifyOptions, WssError,
};
use soap::{Fault, FaultCode, SoapError, SOAP12_NS};
use wss_support::*;

#[test]
fn default_profile_signs_body_timestamp_and_addressing() {
    let xml = signed_request();
    let accepted = check(
        &xml,
        Some(&verifier(VerifyOptions {
            require_signed_addressing: true,
            ..Default::default()
        })),
    )
    .unwrap();
    assert_eq!(
        accepted.payload.as_deref(),
        Some("{urn:example:echo}echo:hello")
    );
    assert_eq!(
        accepted.signer_certificate.as_deref(),
        Some(alice().cert_der.as_slice())
    );
    assert!(accepted.body_signed);
    assert_eq!(
        accepted.addressing.action.as_deref(),
        Some("EucalyptusNC#ncDescribeResource")
    );
    // Body, Timestamp and the three addressing headers, each by wsu:Id, exclusive C14N.
    assert_eq!(xml.matches("<ds:Reference ").count(), 5, "{xml}");
    assert_eq!(
        xml.matches(r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">"#)
            .count(),
        5
    );
    assert!(xml.contains("<wsse:BinarySecurityToken "));
    assert!(xml.contains(r#"soapenv:mustUnderstand="1""#));
}

#[test]
fn sha256_profile_round_trips() {
    let options = SignOptions {
        signature: SignatureAlgorithm::RsaSha256,
        digest: DigestAlgorithm::Sha256,
        ..Default::default()
    };
    let xml = signed_with(options);
    assert!(xml.contains("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"));
    assert!(xml.contains("http://www.w3.org/2001/04/xmlenc#sha256"));
    check(&xml, Some(&verifier(VerifyOptions::default()))).unwrap();
}

#[test]
fn soap12_envelopes_round_trip_signed() {
    let xml = signed_echo(SoapVersion::V12, &Echo::plain("v12"), alice());
    assert!(xml.contains(SOAP12_NS) && xml.contains(r#"soapenv:mustUnderstand="true""#));
    let accepted = check(&xml, Some(&verifier(VerifyOptions::default()))).unwrap();
    assert_eq!(
        accepted.payload.as_deref(),
        Some("{urn:example:echo}echo:v12")
    );
}

#[test]
fn faults_round_trip_in_both_versions() {
    for version in [SoapVersion::V11, SoapVersion::V12] {
        let fault = Fault::server("disk full").with_detail("volume vol-12345678");
        let outgoing = Outgoing {
            version,
            addressing: Addressing::default(),
            body: BodyContent::Fault(&fault),
        };
        let xml = String::from_utf8(envelope::write(&outgoing, None).unwrap()).unwrap();
        let accepted = check(&xml, None).unwrap();
        assert_eq!(accepted.fault.as_ref(), Some(&fault), "{xml}");
    }
    let fault = check(&signed_fault(), Some(&verifier(VerifyOptions::default())))
        .unwrap()
        .fault
        .unwrap();
    assert_eq!(fault.code, FaultCode::Client);
}

#[test]
fn soap12_faults_carry_code_reason_and_language() {
    let fault = Fault::client("bad input");
    let outgoing = Outgoing {
        version: SoapVersion::V12,
        addressing: Addressing::default(),
        body: BodyContent::Fault(&fault),
    };
    let xml = String::from_utf8(envelope::write(&outgoing, None).unwrap()).unwrap();
    assert!(
        xml.contains("<soapenv:Value>soapenv:Sender</soapenv:Value>"),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<soapenv:Text xml:lang="en">bad input</soapenv:Text>"#),
        "{xml}"
    );
}

#[test]
fn foreign_faults_are_read_by_namespace_and_subcode() {
    // An Axis2-style fault with its own prefix and a dotted subcode.
    let xml = r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><e:Fault>
        <faultcode>e:Server.generalException</faultcode><faultstring>boom</faultstring>
        <detail><x:why xmlns:x="urn:x">because</x:why></detail></e:Fault></e:Body></e:Envelope>"#;
    let fault = check(xml, None).unwrap().fault.unwrap();
    assert_eq!(
        fault,
        Fault::server("boom")
            .with_subcode("generalException")
            .with_detail("because")
    );
}

/// Guards S3's fault codes (`Client.NoSuchBucket`) through both SOAP versions.
#[test]
fn subcodes_round_trip_in_both_versions() {
    let fault = Fault::client("no such bucket").with_subcode("NoSuchBucket");
    for (version, written) in [
        (
            SoapVersion::V11,
            "<faultcode>soapenv:Client.NoSuchBucket</faultcode>",
        ),
        (
            SoapVersion::V12,
            "<soapenv:Subcode><soapenv:Value>NoSuchBucket</soapenv:Value></soapenv:Subcode>",
        ),
    ] {
        let outgoing = Outgoing {
            version,
            addressing: Addressing::default(),
            body: BodyContent::Fault(&fault),
        };
        let xml = String::from_utf8(envelope::write(&outgoing, None).unwrap()).unwrap();
        assert!(xml.contains(written), "{xml}");
        assert_eq!(check(&xml, None).unwrap().fault.unwrap(), fault);
    }
}

#[test]
fn addressing_round_trips_unsigned() {
    let mut wsa = addressing();
    wsa.relates_to = Some("urn:uuid:earlier".into());
    let xml = write_with(SoapVersion::V11, &Echo::plain("x"), wsa.clone(), None);
    let accepted = check(&xml, None).unwrap();
    assert_eq!(accepted.addressing, wsa);
    assert_eq!(accepted.signer_certificate, None);
}

#[test]
fn addressing_only_profile_is_accepted_only_in_compatibility_mode() {
    // The original CLC -> CC shape: wsa:To, MessageID, Action signed; Body and Timestamp not.
    let xml = signed_with(SignOptions::addressing_only());
    assert!(!xml.contains("wsu:Timestamp"));
    assert!(matches!(
        refused(&xml, &verifier(VerifyOptions::default())),
        WssError::BodyNotSigned
    ));
    let lenient = verifier(VerifyOptions::original_components());
    assert_eq!(
        lenient.options().compatibility,
        Compatibility::OriginalComponents
    );
    let accepted = check(&xml, Some(&lenient)).unwrap();
    assert!(!accepted.body_signed);
    assert_eq!(
        accepted.signer_certificate.as_deref(),
        Some(alice().cert_der.as_slice())
    );
}

#[test]
fn qname_content_prefixes_are_signed_inclusively() {
    // xsi:type="ns2:EchoType": the prefix is used only in a value, so it must be in the
    // PrefixList of the Body reference to be covered at all.
    let xml = signed_echo(SoapVersion::V11, &Echo::typed("typed"), alice());
    let list = attribute_after(&xml, "<ds:Reference URI=\"#Body-", "PrefixList");
    let type_prefix = attribute_after(&xml, "<ns1:echo", "xsi:type")
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        list.split(' ').any(|p| p == type_prefix),
        "{list} lacks {type_prefix}"
    );
    check(&xml, Some(&verifier(VerifyOptions::default()))).unwrap();
}

#[test]
fn unsigned_messages_pass_where_signatures_are_optional() {
    let xml = write_with(SoapVersion::V11, &Echo::plain("x"), addressing(), None);
    let optional = verifier(VerifyOptions {
        require_signature: false,
        ..Default::default()
    });
    let accepted = check(&xml, Some(&optional)).unwrap();
    assert_eq!(accepted.signer_certificate, None);
    assert!(!accepted.body_signed);
}

#[test]
fn must_understand_headers_we_do_not_know_are_faulted() {
    let xml = signed_request();
    let xml = insert_before(
        &xml,
        "</soapenv:Header>",
        r#"<x:Transaction xmlns:x="urn:tx" soapenv:mustUnderstand="1">5</x:Transaction>"#,
    );
    let err = check(&xml, Some(&verifier(VerifyOptions::default()))).unwrap_err();
    assert!(
        matches!(&err, SoapError::MustUnderstand(h) if h == "{urn:tx}Transaction"),
        "{err:?}"
    );
    assert_eq!(err.to_fault().code, FaultCode::MustUnderstand);
}

#[test]
fn security_errors_become_precise_client_faults() {
    let err = check(
        &write_with(SoapVersion::V11, &Echo::plain("x"), addressing(), None),
        Some(&verifier(VerifyOptions::default())),
    )
    .unwrap_err();
    let fault = err.to_fault();
    assert_eq!(fault.code, FaultCode::Client);
    assert_eq!(
        fault.string,
        "security check failed: the message is not signed"
    );
}

#[test]
fn unknown_envelope_namespaces_are_a_version_mismatch() {
    let err = check(
        r#"<e:Envelope xmlns:e="urn:soap-0.9"><e:Body/></e:Envelope>"#,
        None,
    )
    .unwrap_err();
    assert!(matches!(&err, SoapError::VersionMismatch(ns) if ns == "urn:soap-0.9"));
    assert_eq!(err.to_fault().code, FaultCode::VersionMismatch);
}

/// Guards against: envelopes in which a Header or Body could be found in more than one place,
/// or content that some reader would take for the payload.
#[test]
fn envelope_structure_is_enforced() {
    let env = |inner: &str| {
        format!(
            r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/">{inner}</e:Envelope>"#
        )
    };
    let cases = [
        (env(""), "no Body"),
        (env("<e:Body/><e:Header/>"), "unexpected"),
        (env("<e:Header/><e:Header/><e:Body/>"), "unexpected"),
        (env("text<e:Body/>"), "text in the Envelope"),
        (env("<e:Body><a/><b/></e:Body>"), "more than one element"),
        (env("<e:Body>text</e:Body>"), "text in the Body"),
        (
            r#"<e:Body xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"/>"#.to_owned(),
            "document element",
        ),
    ];
    for (xml, expected) in cases {
        match check(&xml, None) {
            Err(SoapError::NotEnvelope(m)) => assert!(m.contains(expected), "{xml}: {m}"),
            other => panic!("{xml}: expected a structural refusal, got {other:?}"),
        }
    }
    assert!(check(&env("<e:Header/><e:Body/>"), None)
        .unwrap()
        .payload
        .is_none());
}

//! Trust by issuer (`Verifier::with_issuers`): the certificates a known key issued are
//! trusted without being pinned, and nothing else is.

#![allow(clippy::unwrap_used)]

mod wss_support;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use soap::envelope::SoapVersion;
use soap::keys::KeyPair;
use soap::wss::{Verifier, VerifyOptions, WssError};
use wss_support::*;

/// A certificate for a new key, named `name`, issued as `issuer` (its subject) with the key
/// `signing`, valid from `from` to `until` days from now.
fn issue(name: &str, issuer: &X509, signing: &PKey<Private>, from: i64, until: u32) -> TestKey {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut subject = X509NameBuilder::new().unwrap();
    subject.append_entry_by_text("CN", name).unwrap();
    let subject = subject.build();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    builder
        .set_serial_number(serial.to_asn1_integer().unwrap().as_ref())
        .unwrap();
    builder.set_subject_name(&subject).unwrap();
    builder.set_issuer_name(issuer.subject_name()).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::from_unix(now + from * 86_400).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(until).unwrap())
        .unwrap();
    builder.sign(signing, MessageDigest::sha256()).unwrap();
    let certificate = builder.build();
    TestKey {
        key_pem: key.private_key_to_pem_pkcs8().unwrap(),
        cert_pem: certificate.to_pem().unwrap(),
        cert_der: certificate.to_der().unwrap(),
        pair: KeyPair {
            certificate,
            private_key: key,
        },
    }
}

fn issuer_verifier(cloud: &KeyPair) -> Verifier {
    Verifier::new(&[], VerifyOptions::default())
        .unwrap()
        .with_issuers(std::slice::from_ref(&cloud.certificate))
        .unwrap()
}

#[test]
fn certificates_the_issuer_signed_are_trusted_and_named() {
    let cloud = KeyPair::generate("cloud").unwrap();
    let user = issue("user", &cloud.certificate, &cloud.private_key, -1, 30);
    let xml = signed_echo(SoapVersion::V11, &Echo::plain("hi"), &user);
    let accepted = check(&xml, Some(&issuer_verifier(&cloud))).unwrap();
    assert_eq!(accepted.signer_certificate, Some(user.cert_der.clone()));
    // The same message to a verifier that pins others but knows no issuer.
    let pinned = Verifier::from_pem([&alice().cert_pem], VerifyOptions::default()).unwrap();
    let again = signed_echo(SoapVersion::V11, &Echo::plain("hi"), &user);
    assert!(matches!(
        refused(&again, &pinned),
        WssError::UntrustedCertificate
    ));
}

#[test]
fn strangers_and_forgeries_in_the_issuers_name_are_refused() {
    let cloud = KeyPair::generate("cloud").unwrap();
    let verifier = issuer_verifier(&cloud);
    // Self-signed, named otherwise.
    let stranger = signed_echo(SoapVersion::V11, &Echo::plain("x"), mallory());
    assert!(matches!(
        refused(&stranger, &verifier),
        WssError::UntrustedCertificate
    ));
    // Naming the cloud as its issuer, but signed with another key.
    let forged = issue(
        "user",
        &cloud.certificate,
        &mallory().pair.private_key,
        -1,
        30,
    );
    let xml = signed_echo(SoapVersion::V11, &Echo::plain("x"), &forged);
    assert!(matches!(
        refused(&xml, &verifier),
        WssError::UntrustedCertificate
    ));
}

#[test]
fn an_issued_certificate_is_trusted_only_within_its_dates() {
    let cloud = KeyPair::generate("cloud").unwrap();
    let verifier = issuer_verifier(&cloud);
    let future = issue("later", &cloud.certificate, &cloud.private_key, 2, 30);
    let xml = signed_echo(SoapVersion::V11, &Echo::plain("x"), &future);
    assert!(matches!(
        refused(&xml, &verifier),
        WssError::CertificateNotYetValid(_)
    ));
}

//! X.509 tokens: the `wsse:BinarySecurityToken` carrying the signer's certificate, and the
//! set of certificates a verifier trusts.
//!
//! Trust is by pinning: the certificate in the message must be byte-identical to one the
//! administrator configured for the peer (CONTRACT.md: each service holds the certificates of
//! the peers it trusts). A service whose peers are many and come and go (the CLC's users)
//! may instead trust the certificates an issuer it knows signed, and tell their holders
//! apart itself. A key that comes only from the message — a `ds:KeyValue`, or a certificate
//! nobody configured or issued — is never used.

use std::borrow::Cow;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::x509::X509;
use xmlbind::{Base64Binary, DateTime, ElementRef, XmlText, XmlWriter};

use super::algorithm::SignatureAlgorithm;
use super::ids::{fragment, IdIndex};
use super::signature::element_children;
use super::{WssError, BASE64_BINARY, DS_NS, WSSE_NS, WSU_NS, X509V3};

/// Writes `<wsse:BinarySecurityToken>` holding a certificate (its DER in base64).
pub(crate) fn write(w: &mut XmlWriter, id: &str, certificate_base64: &str) {
    w.start_element(Some(WSSE_NS), "BinarySecurityToken");
    w.attribute(None, "EncodingType", BASE64_BINARY);
    w.attribute(None, "ValueType", X509V3);
    w.attribute(Some(WSU_NS), "Id", id);
    w.text(certificate_base64);
    w.end_element();
}

/// One trusted certificate with its public key, parsed once for every message it signs, and
/// its validity period.
#[derive(Debug, Clone)]
pub(crate) struct Trusted {
    pub(crate) der: Vec<u8>,
    /// `der` in base64 as peers send it on one line: a token spelled so is found without
    /// decoding it.
    base64: String,
    key: Rsa<Public>,
    /// notBefore and notAfter, in seconds since the Unix epoch.
    not_before: i64,
    not_after: i64,
}

impl Trusted {
    /// Whether `value` is this key's PKCS #1 v1.5 signature of `data` with `method`.
    ///
    /// The value is decrypted with the public key and compared, whole, with the encoding of
    /// the digest (what `RSA_verify` does), which spares OpenSSL's per-call set-up of an
    /// algorithm context. A malformed value (wrong length, say) does not verify.
    pub(crate) fn verifies(
        &self,
        method: SignatureAlgorithm,
        data: &[u8],
        value: &[u8],
    ) -> Result<bool, WssError> {
        let expected = method.encoded_digest(data)?;
        let mut decrypted = vec![0; self.key.size() as usize];
        Ok(
            match self
                .key
                .public_decrypt(value, &mut decrypted, Padding::PKCS1)
            {
                Ok(len) => {
                    len == expected.len() && openssl::memcmp::eq(&decrypted[..len], &expected)
                }
                Err(_) => false,
            },
        )
    }

    /// Refuses a certificate outside its validity period at `now`. Pinning says whose key it
    /// is; the dates say until when its holder meant it to be used.
    pub(crate) fn check_validity(&self, now: i64) -> Result<(), WssError> {
        let date = |t: i64| DateTime::from_unix(t).as_str().to_owned();
        if now < self.not_before {
            Err(WssError::CertificateNotYetValid(date(self.not_before)))
        } else if now > self.not_after {
            Err(WssError::CertificateExpired(date(self.not_after)))
        } else {
            Ok(())
        }
    }
}

impl Trusted {
    fn new(certificate: &X509) -> Result<Self, WssError> {
        let key = certificate.public_key()?;
        if key.id() != Id::RSA {
            return Err(WssError::Key(
                "a trusted certificate does not hold an RSA key".into(),
            ));
        }
        let der = certificate.to_der()?;
        Ok(Self {
            base64: Base64Binary(der.clone()).to_text().into_owned(),
            der,
            key: key.rsa()?,
            not_before: unix_seconds(certificate.not_before())?,
            not_after: unix_seconds(certificate.not_after())?,
        })
    }
}

/// A certificate authority whose certificates are trusted: its name and key.
#[derive(Debug)]
struct Issuer {
    certificate: X509,
    key: PKey<Public>,
}

impl Issuer {
    /// Whether it issued `certificate`: named as its issuer, and signed with its key.
    fn issued(&self, certificate: &X509) -> bool {
        let named = certificate
            .issuer_name()
            .try_cmp(self.certificate.subject_name())
            .is_ok_and(|order| order.is_eq());
        // The name is compared first: a stranger's certificate costs no RSA work.
        named && certificate.verify(&self.key).unwrap_or(false)
    }
}

/// Seconds since the Unix epoch of an ASN.1 time.
fn unix_seconds(time: &Asn1TimeRef) -> Result<i64, WssError> {
    let diff = Asn1Time::from_unix(0)?.diff(time)?;
    Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

/// The certificates a verifier accepts signatures from: pinned ones, and those its issuers
/// signed.
#[derive(Debug)]
pub(crate) struct TrustStore {
    certificates: Vec<Trusted>,
    issuers: Vec<Issuer>,
}

impl TrustStore {
    pub(crate) fn new(certificates: &[X509]) -> Result<Self, WssError> {
        let certificates = certificates
            .iter()
            .map(Trusted::new)
            .collect::<Result<Vec<_>, WssError>>()?;
        Ok(Self {
            certificates,
            issuers: Vec::new(),
        })
    }

    /// Also trusts the certificates `issuers` signed.
    pub(crate) fn add_issuers(&mut self, issuers: &[X509]) -> Result<(), WssError> {
        for certificate in issuers {
            self.issuers.push(Issuer {
                certificate: certificate.clone(),
                key: certificate.public_key()?,
            });
        }
        Ok(())
    }

    fn find(&self, der: &[u8]) -> Option<&Trusted> {
        self.certificates.iter().find(|t| t.der == der)
    }

    /// The trusted certificate whose key made the signature with this KeyInfo: it must point
    /// by direct reference at a BinarySecurityToken of `security` holding a pinned
    /// certificate, or one an issuer signed.
    pub(crate) fn signer<'s>(
        &'s self,
        key_info: Option<ElementRef<'_>>,
        security: ElementRef<'_>,
        index: &IdIndex<'_>,
    ) -> Result<Cow<'s, Trusted>, WssError> {
        let key_info = key_info
            .ok_or_else(|| WssError::UntrustedKey("the signature has no KeyInfo".into()))?;
        let mut children = element_children(key_info)?;
        let reference = match (children.next(), children.next()) {
            (Some(token_ref), None)
                if token_ref.name().is(Some(WSSE_NS), "SecurityTokenReference") =>
            {
                let mut references = element_children(token_ref)?;
                match (references.next(), references.next()) {
                    (Some(r), None) if r.name().is(Some(WSSE_NS), "Reference") => r,
                    _ => {
                        return Err(WssError::UntrustedKey(
                            "a SecurityTokenReference other than a direct reference".into(),
                        ))
                    }
                }
            }
            (Some(other), None) if other.name().is(Some(DS_NS), "KeyValue") => {
                return Err(WssError::UntrustedKey("a bare ds:KeyValue".into()))
            }
            (Some(other), None) => return Err(WssError::UntrustedKey(other.name().expanded())),
            _ => {
                return Err(WssError::Malformed(
                    "KeyInfo must hold one SecurityTokenReference".into(),
                ))
            }
        };
        if reference
            .attribute(None, "ValueType")
            .is_some_and(|v| v != X509V3)
        {
            return Err(WssError::UntrustedKey(
                "a token reference of another ValueType".into(),
            ));
        }
        let uri = reference.attribute(None, "URI").unwrap_or_default();
        let token = index.resolve(fragment(uri)?)?;
        // The token must be the Security header's own, not one planted elsewhere.
        if !token.name().is(Some(WSSE_NS), "BinarySecurityToken")
            || !security.elements().any(|e| e == token)
        {
            return Err(WssError::WrappedElement {
                reference: uri.to_owned(),
                element: token.name().expanded(),
            });
        }
        if token.attribute(None, "ValueType") != Some(X509V3)
            || token
                .attribute(None, "EncodingType")
                .is_some_and(|e| e != BASE64_BINARY)
        {
            return Err(WssError::UntrustedKey(
                "a BinarySecurityToken that is not a base64 X.509 v3 certificate".into(),
            ));
        }
        let text = token
            .text()
            .map_err(|e| WssError::Malformed(e.to_string()))?;
        if let Some(trusted) = self.certificates.iter().find(|t| t.base64 == text.trim()) {
            return Ok(Cow::Borrowed(trusted));
        }
        let der = Base64Binary::from_text(&text)
            .map_err(|e| WssError::Malformed(e.to_string()))?
            .0;
        if let Some(trusted) = self.find(&der) {
            return Ok(Cow::Borrowed(trusted));
        }
        if self.issuers.is_empty() {
            return Err(WssError::UntrustedCertificate);
        }
        let certificate = X509::from_der(&der).map_err(|_| WssError::UntrustedCertificate)?;
        if !self
            .issuers
            .iter()
            .any(|issuer| issuer.issued(&certificate))
        {
            return Err(WssError::UntrustedCertificate);
        }
        // An issued certificate with a key we cannot use is the sender's, not ours.
        Trusted::new(&certificate)
            .map(Cow::Owned)
            .map_err(|_| WssError::UntrustedCertificate)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;

    #[test]
    fn raw_rsa_verification_agrees_with_openssl_signatures() {
        // Guards the hand-built DigestInfo encodings against OpenSSL's own.
        let private = Rsa::generate(2048).unwrap();
        let trusted = Trusted {
            der: Vec::new(),
            base64: String::new(),
            key: Rsa::from_public_components(
                private.n().to_owned().unwrap(),
                private.e().to_owned().unwrap(),
            )
            .unwrap(),
            not_before: 0,
            not_after: i64::MAX,
        };
        let key = PKey::from_rsa(private).unwrap();
        let methods = [
            (SignatureAlgorithm::RsaSha1, MessageDigest::sha1()),
            (SignatureAlgorithm::RsaSha256, MessageDigest::sha256()),
        ];
        for (method, digest) in methods {
            let mut signer = openssl::sign::Signer::new(digest, &key).unwrap();
            let value = signer.sign_oneshot_to_vec(b"signed info").unwrap();
            assert!(trusted.verifies(method, b"signed info", &value).unwrap());
            assert!(!trusted.verifies(method, b"signed inf0", &value).unwrap());
            let mut flipped = value.clone();
            flipped[10] ^= 1;
            assert!(!trusted.verifies(method, b"signed info", &flipped).unwrap());
            assert!(!trusted
                .verifies(method, b"signed info", &value[1..])
                .unwrap());
            assert!(!trusted.verifies(method, b"signed info", &[]).unwrap());
        }
        // The same value under the other digest's encoding does not verify.
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha1(), &key).unwrap();
        let value = signer.sign_oneshot_to_vec(b"x").unwrap();
        assert!(!trusted
            .verifies(SignatureAlgorithm::RsaSha256, b"x", &value)
            .unwrap());
    }
}

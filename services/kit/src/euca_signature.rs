//! `EucaSignature`: how the original NC signs its HTTP requests to Walrus (GetDecryptedImage).
//! The signature is base64 of RSA-SHA1, by the node's key, over `"<VERB>\n<Date>\n<request
//! URI>\n"`; `EucaCert` carries the node's certificate as base64 PEM. The node writes it and
//! Walrus checks it through this one module, so the two cannot drift apart.

use base64::Engine as _;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKeyRef, Private};
use openssl::sign::{Signer, Verifier};
use openssl::x509::{X509Ref, X509};

/// Header of the signature.
pub const SIGNATURE_HEADER: &str = "EucaSignature";
/// Header of the signer's certificate.
pub const CERTIFICATE_HEADER: &str = "EucaCert";

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What a signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The `Date` header, exactly as sent.
    pub date: &'a str,
    /// The request target: path and query.
    pub uri: &'a str,
}

impl Request<'_> {
    /// `"<VERB>\n<Date>\n<request URI>\n"`.
    pub fn string_to_sign(&self) -> String {
        format!("{}\n{}\n{}\n", self.method, self.date, self.uri)
    }

    /// The `EucaSignature` value with `key`.
    pub fn sign(&self, key: &PKeyRef<Private>) -> Result<String, ErrorStack> {
        let mut signer = Signer::new(MessageDigest::sha1(), key)?;
        signer.update(self.string_to_sign().as_bytes())?;
        Ok(BASE64.encode(signer.sign_to_vec()?))
    }

    /// Whether `signature` (decoded) is `certificate`'s key's signature of this request.
    pub fn verifies(&self, certificate: &X509Ref, signature: &[u8]) -> bool {
        let check = || -> Result<bool, ErrorStack> {
            let key = certificate.public_key()?;
            let mut verifier = Verifier::new(MessageDigest::sha1(), &key)?;
            verifier.update(self.string_to_sign().as_bytes())?;
            verifier.verify(signature)
        };
        check().unwrap_or(false)
    }
}

/// Decodes an `EucaSignature` value; `None` when it is not base64.
pub fn decode_signature(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text.trim()).ok()
}

/// The `EucaCert` value of `certificate`.
pub fn encode_certificate(certificate: &X509Ref) -> Result<String, ErrorStack> {
    Ok(BASE64.encode(certificate.to_pem()?))
}

/// Decodes an `EucaCert` value; `None` when it is not a base64 PEM certificate.
pub fn decode_certificate(text: &str) -> Option<X509> {
    let pem = BASE64.decode(text.trim()).ok()?;
    X509::from_pem(&pem).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use soap::keys::KeyPair;

    const REQUEST: Request<'static> = Request {
        method: "GET",
        date: "Wed, 18 Nov 2026 11:06:40 GMT",
        uri: "/services/Walrus/bucket/image.manifest.xml",
    };

    #[test]
    fn the_string_to_sign_is_the_originals() {
        assert_eq!(
            REQUEST.string_to_sign(),
            "GET\nWed, 18 Nov 2026 11:06:40 GMT\n/services/Walrus/bucket/image.manifest.xml\n"
        );
    }

    #[test]
    fn a_signature_verifies_with_the_signers_certificate_only() {
        let (node, other) = (
            KeyPair::generate("node").unwrap(),
            KeyPair::generate("node").unwrap(),
        );
        let signature = decode_signature(&REQUEST.sign(&node.private_key).unwrap()).unwrap();
        let sent = decode_certificate(&encode_certificate(&node.certificate).unwrap()).unwrap();
        assert!(REQUEST.verifies(&sent, &signature));
        assert!(!REQUEST.verifies(&other.certificate, &signature));
        let later = Request {
            date: "Wed, 18 Nov 2026 11:06:41 GMT",
            ..REQUEST
        };
        assert!(!later.verifies(&sent, &signature));
        assert!(decode_certificate("AAAA").is_none());
        assert!(decode_signature("not base64!").is_none());
    }
}

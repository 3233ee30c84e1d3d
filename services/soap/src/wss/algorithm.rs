//! The signature and digest algorithms we accept, by their XML Signature URIs. Anything not
//! listed (HMAC above all, whose key would be the verifier's to guess) is refused.

use super::WssError;

/// `ds:SignatureMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureAlgorithm {
    /// `http://www.w3.org/2000/09/xmldsig#rsa-sha1`, what the original components use.
    #[default]
    RsaSha1,
    /// `http://www.w3.org/2001/04/xmldsig-more#rsa-sha256`.
    RsaSha256,
}

impl SignatureAlgorithm {
    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha1 => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            Self::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        }
    }

    pub fn from_uri(uri: &str) -> Result<Self, WssError> {
        [Self::RsaSha1, Self::RsaSha256]
            .into_iter()
            .find(|a| a.uri() == uri)
            .ok_or_else(|| WssError::UnsupportedAlgorithm(uri.to_owned()))
    }

    /// The PKCS #1 v1.5 encoding of the digest of `data` (RFC 8017 §9.2: the DER
    /// DigestInfo), which an RSA signature value decrypts to.
    pub(crate) fn encoded_digest(self, data: &[u8]) -> Result<Vec<u8>, WssError> {
        // DER of DigestInfo up to the digest octets: algorithm identifier with NULL
        // parameters, then the OCTET STRING header.
        let prefix: &[u8] = match self {
            Self::RsaSha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
            Self::RsaSha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
        };
        let digest = match self {
            Self::RsaSha1 => DigestAlgorithm::Sha1,
            Self::RsaSha256 => DigestAlgorithm::Sha256,
        };
        let mut encoded = prefix.to_vec();
        encoded.extend_from_slice(&digest.digest(data)?);
        Ok(encoded)
    }
}

/// `ds:DigestMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DigestAlgorithm {
    /// `http://www.w3.org/2000/09/xmldsig#sha1`, what the original components use.
    #[default]
    Sha1,
    /// `http://www.w3.org/2001/04/xmlenc#sha256`.
    Sha256,
}

impl DigestAlgorithm {
    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            Self::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
        }
    }

    pub fn from_uri(uri: &str) -> Result<Self, WssError> {
        [Self::Sha1, Self::Sha256]
            .into_iter()
            .find(|a| a.uri() == uri)
            .ok_or_else(|| WssError::UnsupportedAlgorithm(uri.to_owned()))
    }

    /// The digest of `data`, by OpenSSL's SHA contexts, not an `EVP_MD` one nor its one-shot
    /// functions: OpenSSL 3 fetches the algorithm by name for each of those, which cost as
    /// much as hashing a signed part.
    pub(crate) fn digest(self, data: &[u8]) -> Result<Vec<u8>, WssError> {
        Ok(match self {
            Self::Sha1 => {
                let mut hasher = openssl::sha::Sha1::new();
                hasher.update(data);
                hasher.finish().to_vec()
            }
            Self::Sha256 => {
                let mut hasher = openssl::sha::Sha256::new();
                hasher.update(data);
                hasher.finish().to_vec()
            }
        })
    }
}

//! Requests signed by node controllers: the original NC asks for an image with a GET carrying
//! `EucaSignature` and optionally `EucaCert` ([`kit::euca_signature`]). Only the trusted node
//! certificates in KEYS (`node-cert.pem`) are accepted, whether or not the request names one,
//! and the date must be near the server's clock: the original Walrus checked neither, so any
//! certificate and any replayed request were good enough.

use std::path::Path;

use hyper::HeaderMap;
use kit::euca_signature::{self, Request};
use openssl::x509::X509;

use crate::time::parse_http_date;

pub use kit::euca_signature::{CERTIFICATE_HEADER, SIGNATURE_HEADER};

/// Offsets from UTC that a local time may carry: UTC−12 to UTC+14.
const ZONES: std::ops::RangeInclusive<i64> = -12 * 3600..=14 * 3600;

/// Why a node's request was refused.
#[derive(Debug, thiserror::Error)]
pub enum NodeAuthError {
    #[error("no node certificate is trusted, so no node request is accepted")]
    NoTrustedNode,
    #[error("the request has no Date header")]
    NoDate,
    #[error("the Date header {0:?} is not a date")]
    BadDate(String),
    #[error("the request's date is too far from the server's clock")]
    Skewed,
    #[error("{SIGNATURE_HEADER} is not base64")]
    BadSignature,
    #[error("{CERTIFICATE_HEADER} is not a base64 PEM certificate")]
    BadCertificate,
    #[error("{CERTIFICATE_HEADER} is not a trusted node certificate")]
    UntrustedCertificate,
    #[error("the signature does not verify with a trusted node certificate")]
    Invalid,
}

/// What a node's request says about itself.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The request target as received: path and query.
    pub uri: &'a str,
    pub date: Option<&'a str>,
    pub signature: &'a str,
    pub certificate: Option<&'a str>,
}

impl<'a> SignedRequest<'a> {
    /// The request's signature headers; `None` when it carries no `EucaSignature`.
    pub fn from_headers(method: &'a str, uri: &'a str, headers: &'a HeaderMap) -> Option<Self> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        Some(Self {
            method,
            uri,
            date: text("date"),
            signature: text(SIGNATURE_HEADER)?,
            certificate: text(CERTIFICATE_HEADER),
        })
    }
}

/// The node certificates Walrus trusts, and how strict it is about dates.
#[derive(Debug, Clone)]
pub struct NodeTrust {
    certificates: Vec<X509>,
    max_skew: i64,
    any_zone: bool,
}

impl NodeTrust {
    /// Trusts `certificates`; dates may be `max_skew` seconds off. With `any_zone`, an
    /// asctime date (which names no zone: the original NC writes its local time) may be in
    /// any zone, which widens the window to about a day: a compatibility setting for
    /// original NCs not running on UTC.
    pub fn new(certificates: Vec<X509>, max_skew: i64, any_zone: bool) -> Self {
        Self {
            certificates,
            max_skew,
            any_zone,
        }
    }

    /// Trusts `KEYS/node-cert.pem`, or nothing when the file is absent.
    pub fn load(keys: &Path, max_skew: i64, any_zone: bool) -> Result<Self, soap::keys::KeyError> {
        let path = soap::keys::certificate_path(keys, "node");
        let certificates = if path.exists() {
            vec![soap::keys::load_certificate(&path)?]
        } else {
            tracing::warn!(path = %path.display(), "no node certificate: GetDecryptedImage will refuse every request");
            Vec::new()
        };
        Ok(Self::new(certificates, max_skew, any_zone))
    }

    /// Checks a request at time `now` (seconds since the epoch).
    pub fn verify(&self, request: &SignedRequest<'_>, now: i64) -> Result<(), NodeAuthError> {
        if self.certificates.is_empty() {
            return Err(NodeAuthError::NoTrustedNode);
        }
        let date = request.date.ok_or(NodeAuthError::NoDate)?;
        self.check_date(date, now)?;
        let signature = euca_signature::decode_signature(request.signature)
            .ok_or(NodeAuthError::BadSignature)?;
        let named = request
            .certificate
            .map(|encoded| {
                let certificate = euca_signature::decode_certificate(encoded)
                    .ok_or(NodeAuthError::BadCertificate)?;
                self.trusted(&certificate)
                    .ok_or(NodeAuthError::UntrustedCertificate)
            })
            .transpose()?;
        let signed = Request {
            method: request.method,
            date,
            uri: request.uri,
        };
        let candidates: Vec<&X509> = match named {
            Some(one) => vec![one],
            None => self.certificates.iter().collect(),
        };
        if candidates
            .into_iter()
            .any(|c| signed.verifies(c, &signature))
        {
            Ok(())
        } else {
            Err(NodeAuthError::Invalid)
        }
    }

    fn trusted(&self, certificate: &X509) -> Option<&X509> {
        let der = certificate.to_der().ok()?;
        self.certificates
            .iter()
            .find(|c| c.to_der().is_ok_and(|d| d == der))
    }

    fn check_date(&self, date: &str, now: i64) -> Result<(), NodeAuthError> {
        let time = parse_http_date(date).ok_or_else(|| NodeAuthError::BadDate(date.to_owned()))?;
        let offset = time - now;
        // asctime is the only form without a comma; it names no zone.
        let zoneless = !date.contains(',');
        let near = if zoneless && self.any_zone {
            (ZONES.start() - self.max_skew..=ZONES.end() + self.max_skew).contains(&offset)
        } else {
            offset.abs() <= self.max_skew
        };
        near.then_some(()).ok_or(NodeAuthError::Skewed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use soap::keys::KeyPair;

    use super::*;
    use crate::time::http_date;

    const NOW: i64 = 1_795_563_271; // Tue, 24 Nov 2026 23:34:31 GMT
    const URI: &str = "/services/Walrus/bucket/image.manifest.xml";

    fn pairs() -> &'static (KeyPair, KeyPair) {
        static PAIRS: std::sync::OnceLock<(KeyPair, KeyPair)> = std::sync::OnceLock::new();
        PAIRS.get_or_init(|| {
            (
                KeyPair::generate("node").unwrap(),
                KeyPair::generate("node").unwrap(),
            )
        })
    }

    /// Signs as the original NC does: RSA-SHA1 over "VERB\nDATE\nURI\n", base64.
    fn sign(pair: &KeyPair, method: &str, date: &str, uri: &str) -> String {
        Request { method, date, uri }
            .sign(&pair.private_key)
            .unwrap()
    }

    fn trust(any_zone: bool) -> NodeTrust {
        NodeTrust::new(vec![pairs().0.certificate.clone()], 900, any_zone)
    }

    fn check(
        trust: &NodeTrust,
        pair: &KeyPair,
        date: &str,
        cert: bool,
        uri: &str,
    ) -> Result<(), NodeAuthError> {
        let signature = sign(pair, "GET", date, URI);
        let certificate = euca_signature::encode_certificate(&pair.certificate).unwrap();
        trust.verify(
            &SignedRequest {
                method: "GET",
                uri,
                date: Some(date),
                signature: &signature,
                certificate: cert.then_some(certificate.as_str()),
            },
            NOW,
        )
    }

    #[test]
    fn the_trusted_node_is_accepted_with_or_without_its_certificate() {
        let (node, _) = pairs();
        let date = http_date(NOW);
        check(&trust(false), node, &date, true, URI).unwrap();
        check(&trust(false), node, &date, false, URI).unwrap();
        // The original NC's asctime, here in UTC.
        check(&trust(false), node, "Tue Nov 24 23:34:31 2026", true, URI).unwrap();
    }

    /// Guards against the original's acceptance of any certificate sent in EucaCert.
    #[test]
    fn another_key_is_refused_even_with_its_own_certificate() {
        let (_, stranger) = pairs();
        let date = http_date(NOW);
        assert!(matches!(
            check(&trust(false), stranger, &date, true, URI),
            Err(NodeAuthError::UntrustedCertificate)
        ));
        assert!(matches!(
            check(&trust(false), stranger, &date, false, URI),
            Err(NodeAuthError::Invalid)
        ));
    }

    #[test]
    fn the_signature_covers_the_uri_and_date() {
        let (node, _) = pairs();
        let date = http_date(NOW);
        assert!(matches!(
            check(
                &trust(false),
                node,
                &date,
                true,
                "/services/Walrus/other/image.manifest.xml"
            ),
            Err(NodeAuthError::Invalid)
        ));
        let signature = sign(node, "GET", &date, URI);
        let later = http_date(NOW + 1);
        let request = SignedRequest {
            method: "GET",
            uri: URI,
            date: Some(&later),
            signature: &signature,
            certificate: None,
        };
        assert!(matches!(
            trust(false).verify(&request, NOW),
            Err(NodeAuthError::Invalid)
        ));
    }

    /// Guards against replaying a captured request long after it was made.
    #[test]
    fn old_dates_are_refused() {
        let (node, _) = pairs();
        assert!(matches!(
            check(&trust(false), node, &http_date(NOW - 3600), true, URI),
            Err(NodeAuthError::Skewed)
        ));
        // Local time five hours ahead: only with the compatibility setting.
        let ahead = "Wed Nov 25 04:34:31 2026";
        assert!(matches!(
            check(&trust(false), node, ahead, true, URI),
            Err(NodeAuthError::Skewed)
        ));
        check(&trust(true), node, ahead, true, URI).unwrap();
        // A zone-carrying date stays strict under that setting.
        assert!(matches!(
            check(&trust(true), node, &http_date(NOW + 5 * 3600), true, URI),
            Err(NodeAuthError::Skewed)
        ));
        assert!(matches!(
            check(&trust(true), node, "Thu Nov 26 23:34:31 2026", true, URI),
            Err(NodeAuthError::Skewed)
        ));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let (node, _) = pairs();
        let date = http_date(NOW);
        let request = |date: Option<&'static str>,
                       signature: &'static str,
                       certificate: Option<&'static str>| {
            trust(false).verify(
                &SignedRequest {
                    method: "GET",
                    uri: URI,
                    date,
                    signature,
                    certificate,
                },
                NOW,
            )
        };
        assert!(matches!(
            request(None, "AAAA", None),
            Err(NodeAuthError::NoDate)
        ));
        assert!(matches!(
            request(Some("soon"), "AAAA", None),
            Err(NodeAuthError::BadDate(_))
        ));
        let date: &'static str = Box::leak(date.into_boxed_str());
        assert!(matches!(
            request(Some(date), "not base64!", None),
            Err(NodeAuthError::BadSignature)
        ));
        assert!(matches!(
            request(Some(date), "AAAA", Some("AAAA")),
            Err(NodeAuthError::BadCertificate)
        ));
        let empty = NodeTrust::new(Vec::new(), 900, false);
        let signature = sign(node, "GET", date, URI);
        let request = SignedRequest {
            method: "GET",
            uri: URI,
            date: Some(date),
            signature: &signature,
            certificate: None,
        };
        assert!(matches!(
            empty.verify(&request, NOW),
            Err(NodeAuthError::NoTrustedNode)
        ));
    }
}

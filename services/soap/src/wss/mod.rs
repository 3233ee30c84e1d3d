//! WS-Security 1.0, X.509 token profile: signing outgoing and verifying incoming envelopes.
//!
//! A signed message carries, in its `wsse:Security` header, a `wsu:Timestamp`, the signer's
//! certificate as a `wsse:BinarySecurityToken` and a `ds:Signature` whose KeyInfo points at that
//! token by direct reference. Every signed part is referenced by `#id` and canonicalized with
//! exclusive C14N ([`crate::c14n`]). CONTRACT.md gives the profile of each hop.
//!
//! Verification trusts only what it can tie to the signature *by position*: the Body it returns
//! is the Envelope's only Body and the one a reference resolved to, the Timestamp is the
//! Security header's only Timestamp, and so on. This closes the XML Signature Wrapping attacks
//! (McIntosh & Austel 2005; Somorovsky et al. 2011, 2012), which all rely on a verifier checking
//! one element while the application reads another.

mod algorithm;
mod ids;
mod journal;
mod replay;
mod sign;
mod signature;
mod timestamp;
mod token;
mod verify;

pub use algorithm::{DigestAlgorithm, SignatureAlgorithm};
pub use sign::{SignOptions, Signer};
pub use verify::{Clock, Compatibility, Verifier, VerifyOptions};

pub(crate) use sign::{lower_hex, Stamp};
pub(crate) use verify::{Message, Outcome};

/// WS-Security 1.0 extension namespace (`wsse`).
pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Security 1.0 utility namespace (`wsu`): `Id`, `Timestamp`.
pub const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// XML Signature namespace (`ds`).
pub const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Exclusive C14N without comments, as a canonicalization method and as a transform.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// `wsse:BinarySecurityToken` ValueType of an X.509 v3 certificate.
pub const X509V3: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
/// `wsse:BinarySecurityToken` EncodingType of base64 content.
pub const BASE64_BINARY: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// Why a message failed WS-Security checks, or could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum WssError {
    #[error("the message is not signed")]
    Unsigned,
    #[error("more than one wsse:Security header")]
    DuplicateSecurityHeader,
    #[error("the signature does not cover the SOAP Body")]
    BodyNotSigned,
    #[error("the signature does not cover the wsu:Timestamp")]
    TimestampNotSigned,
    #[error("the signature does not cover the WS-Addressing header {0}")]
    AddressingNotSigned(&'static str),
    #[error("digest mismatch for reference {reference}")]
    DigestMismatch { reference: String },
    #[error("the signature value does not verify")]
    BadSignature,
    #[error("the signing certificate is not trusted")]
    UntrustedCertificate,
    #[error("the signing certificate expired at {0}")]
    CertificateExpired(String),
    #[error("the signing certificate is not valid before {0}")]
    CertificateNotYetValid(String),
    #[error("the signing key does not come from a trusted certificate ({0})")]
    UntrustedKey(String),
    #[error("the message has expired")]
    Expired,
    #[error("the message timestamp lies in the future")]
    NotYetValid,
    #[error("the message carries no wsu:Timestamp")]
    MissingTimestamp,
    #[error("invalid wsu:Timestamp: {0}")]
    InvalidTimestamp(String),
    #[error("the message was already received (replay)")]
    Replay,
    #[error("Id {0:?} is carried by more than one element")]
    DuplicateId(String),
    #[error("no element carries Id {0:?}")]
    UnknownId(String),
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error(
        "reference {reference} resolves to {element}, which is not a signable part at its place"
    )]
    WrappedElement { reference: String, element: String },
    #[error("reference {0:?} is not a same-document #id reference")]
    ForeignReference(String),
    #[error("malformed security header: {0}")]
    Malformed(String),
    #[error("key or certificate: {0}")]
    Key(String),
    #[error("could not sign the message: {0}")]
    Signing(String),
    #[error("cryptographic failure: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    #[error("replay journal {}: {source}", path.display())]
    ReplayJournal {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl WssError {
    /// True when the sender is to blame (the message failed a check); false for failures of
    /// our own keys or crypto library.
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            Self::Key(_) | Self::Signing(_) | Self::Crypto(_) | Self::ReplayJournal { .. }
        )
    }
}

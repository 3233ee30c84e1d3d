//! WS-Security 1.0 X.509 token profile: signing outgoing and verifying incoming envelopes.
//! SKELETON by the lead: the types are the agreed API; fields and bodies are to be written.

/// Why a message failed WS-Security checks.
#[derive(Debug, thiserror::Error)]
pub enum WssError {
    #[error("{0}")]
    Invalid(String),
}

/// Signs outgoing envelopes with one key and certificate.
#[derive(Debug)]
pub struct Signer {}

/// Verifies incoming envelopes against trusted certificates.
#[derive(Debug)]
pub struct Verifier {}

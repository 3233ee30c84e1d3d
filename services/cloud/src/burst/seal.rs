//! The burst targets' secret keys at rest: sealed with AES-256-GCM under a key derived by
//! HKDF-SHA256 from the cloud's private key, so the store (and a copy of it) holds no secret
//! in clear, and only a holder of the cloud's key (the CLC, `euca admin` on its host) opens
//! them. Sealed text is base64 of a random 96-bit nonce followed by the ciphertext and tag.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use openssl::pkey::{PKey, Private};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

/// HKDF's salt and info: what the derived key is for, so that no other use of the cloud's
/// key derives the same one.
const SALT: &[u8] = b"eucalyptus-rs cloud key";
const INFO: &[u8] = b"burst target secret v1";

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the cloud's private key cannot be read: {0}")]
    Key(#[from] openssl::error::ErrorStack),
    #[error("no key could be derived from the cloud's")]
    Derive,
    #[error("no random nonce could be drawn")]
    Random,
    /// Not sealed by this cloud's key, or changed since.
    #[error("a sealed secret does not open with the cloud's key")]
    Open,
}

/// Seals and opens secrets with the key derived from the cloud's.
pub struct Sealer {
    key: LessSafeKey,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

impl Sealer {
    /// The sealer of the cloud whose private key is `cloud_key`.
    pub fn new(cloud_key: &PKey<Private>) -> Result<Self, SealError> {
        let der = cloud_key.private_key_to_der()?;
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(&der);
        let okm = prk
            .expand(&[INFO], &AES_256_GCM)
            .map_err(|_| SealError::Derive)?;
        Ok(Self {
            key: LessSafeKey::new(UnboundKey::from(okm)),
            random: SystemRandom::new(),
        })
    }

    /// `secret` sealed under a fresh nonce.
    pub fn seal(&self, secret: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut sealed = secret.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .map_err(|_| SealError::Random)?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(BASE64.encode(out))
    }

    /// The secret `sealed` holds.
    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let bytes = BASE64.decode(sealed).map_err(|_| SealError::Open)?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Open);
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut rest = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut rest)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use openssl::rsa::Rsa;

    fn key() -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_with_the_same_key_only_and_is_not_in_clear() {
        let cloud = key();
        let sealer = Sealer::new(&cloud).unwrap();
        let sealed = sealer.seal("wJalrXUtnFEMI/K7MDENG").unwrap();
        assert!(!sealed.contains("wJalrXUtnFEMI"));
        let decoded = BASE64.decode(&sealed).unwrap();
        assert!(!decoded.windows(8).any(|w| w == b"wJalrXUt".as_slice()));
        // The same key loaded again (the admin tool, a restarted CLC) opens it.
        assert_eq!(
            Sealer::new(&cloud).unwrap().open(&sealed).unwrap(),
            "wJalrXUtnFEMI/K7MDENG"
        );
        // Fresh nonces: sealing twice gives two texts.
        assert_ne!(sealer.seal("s").unwrap(), sealer.seal("s").unwrap());
        assert!(matches!(
            Sealer::new(&key()).unwrap().open(&sealed),
            Err(SealError::Open)
        ));
        let mut tampered = BASE64.decode(&sealed).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(
            sealer.open(&BASE64.encode(tampered)),
            Err(SealError::Open)
        ));
        assert!(matches!(sealer.open("short"), Err(SealError::Open)));
    }
}

//! The AES key and IV of a bundle, and how they travel in the manifest: as ASCII hex (32
//! digits each, what euca2ools passes to its cipher after unhexlifying), RSA-encrypted with
//! PKCS#1 v1.5 padding to the cloud's and to the user's certificate.

use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};
use openssl::x509::X509;

use super::manifest::Image;
use crate::digest::{from_hex, hex};

/// Bytes of the AES-128 key and of the CBC IV.
const LEN: usize = 16;

/// Why the manifest's key could not be recovered. Deliberately one undifferentiated case:
/// telling a bad padding from a bad payload would make the server a padding oracle.
#[derive(Debug, thiserror::Error)]
#[error("the bundle's key cannot be decrypted with the cloud's private key")]
pub struct KeyError;

/// An AES-128-CBC key and IV. Its `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageKey {
    key: [u8; LEN],
    iv: [u8; LEN],
}

impl std::fmt::Debug for ImageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ImageKey(..)")
    }
}

/// `ImageKey` sealed to one certificate: the `*_encrypted_key` and `*_encrypted_iv` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedKey {
    pub key: Vec<u8>,
    pub iv: Vec<u8>,
}

impl ImageKey {
    /// A fresh random key and IV.
    pub fn generate() -> Result<Self, openssl::error::ErrorStack> {
        let mut key = [0; LEN];
        let mut iv = [0; LEN];
        openssl::rand::rand_bytes(&mut key)?;
        openssl::rand::rand_bytes(&mut iv)?;
        Ok(Self { key, iv })
    }

    /// Recovers the key from a manifest's `ec2_encrypted_key` and `ec2_encrypted_iv`.
    pub fn open(image: &Image, cloud_key: &PKey<Private>) -> Result<Self, KeyError> {
        Ok(Self {
            key: open_one(&image.ec2_encrypted_key, cloud_key)?,
            iv: open_one(&image.ec2_encrypted_iv, cloud_key)?,
        })
    }

    /// Encrypts the key and the IV, each as ASCII hex, to `recipient`'s public key.
    pub fn seal(&self, recipient: &X509) -> Result<SealedKey, openssl::error::ErrorStack> {
        let public = recipient.public_key()?;
        Ok(SealedKey {
            key: seal_one(&self.key, &public)?,
            iv: seal_one(&self.iv, &public)?,
        })
    }

    /// A cipher context for AES-128-CBC with PKCS#7 padding.
    pub(super) fn crypter(&self, mode: Mode) -> Result<Crypter, openssl::error::ErrorStack> {
        Crypter::new(Cipher::aes_128_cbc(), mode, &self.key, Some(&self.iv))
    }
}

fn open_one(sealed: &[u8], key: &PKey<Private>) -> Result<[u8; LEN], KeyError> {
    let mut decrypter = openssl::encrypt::Decrypter::new(key).map_err(|_| KeyError)?;
    decrypter
        .set_rsa_padding(Padding::PKCS1)
        .map_err(|_| KeyError)?;
    let mut plain = vec![0; decrypter.decrypt_len(sealed).map_err(|_| KeyError)?];
    let n = decrypter
        .decrypt(sealed, &mut plain)
        .map_err(|_| KeyError)?;
    let text = std::str::from_utf8(&plain[..n]).map_err(|_| KeyError)?;
    from_hex(text.trim())
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(KeyError)
}

fn seal_one(
    value: &[u8; LEN],
    recipient: &PKey<Public>,
) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let mut encrypter = openssl::encrypt::Encrypter::new(recipient)?;
    encrypter.set_rsa_padding(Padding::PKCS1)?;
    let text = hex(value);
    let mut sealed = vec![0; encrypter.encrypt_len(text.as_bytes())?];
    let n = encrypter.encrypt(text.as_bytes(), &mut sealed)?;
    sealed.truncate(n);
    Ok(sealed)
}

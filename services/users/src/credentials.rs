//! Fresh random identifiers for new users: access key ids, secret keys and canonical ids.

use ring::rand::{SecureRandom, SystemRandom};

use crate::UserError;

const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The random parts of a new user's identity.
#[derive(Debug)]
pub(crate) struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub canonical_id: String,
}

impl Credentials {
    /// Access key ids look like Amazon's (20 upper-case letters and digits); secrets are 40
    /// letters and digits, so that they need no quoting in an eucarc file or a shell.
    pub fn generate() -> Result<Self, UserError> {
        let rng = SystemRandom::new();
        Ok(Self {
            access_key: random_string(&rng, UPPER_DIGITS, 20)?,
            secret_key: random_string(&rng, ALPHANUMERIC, 40)?,
            canonical_id: random_hex(&rng, 32)?,
        })
    }
}

/// `len` characters drawn uniformly from `alphabet` (rejection sampling: no modulo bias).
fn random_string(rng: &SystemRandom, alphabet: &[u8], len: usize) -> Result<String, UserError> {
    let n = alphabet.len();
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        rng.fill(&mut buf).map_err(|_| UserError::Random)?;
        for &b in &buf {
            if usize::from(b) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(b) % n]));
            }
        }
    }
    Ok(out)
}

fn random_hex(rng: &SystemRandom, bytes: usize) -> Result<String, UserError> {
    let mut buf = vec![0u8; bytes];
    rng.fill(&mut buf).map_err(|_| UserError::Random)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_credentials_have_their_shapes_and_differ() {
        let a = Credentials::generate().unwrap();
        let b = Credentials::generate().unwrap();
        assert_eq!(a.access_key.len(), 20);
        assert!(a.access_key.bytes().all(|c| UPPER_DIGITS.contains(&c)));
        assert_eq!(a.secret_key.len(), 40);
        assert!(a.secret_key.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(a.canonical_id.len(), 64);
        assert!(a.canonical_id.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.access_key, b.access_key);
        assert_ne!(a.secret_key, b.secret_key);
    }
}

//! Fresh random identifiers: access key ids and secret keys, canonical ids, account ids and
//! IAM user ids.

use ring::rand::{SecureRandom, SystemRandom};

use crate::UserError;

const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const DIGITS: &[u8] = b"0123456789";

/// A new access key: an id like Amazon's (20 upper-case letters and digits) and a secret of
/// 40 letters and digits, so that neither needs quoting in an eucarc file or a shell.
pub(crate) fn key_pair() -> Result<(String, String), UserError> {
    let rng = SystemRandom::new();
    Ok((
        random_string(&rng, UPPER_DIGITS, 20)?,
        random_string(&rng, ALPHANUMERIC, 40)?,
    ))
}

/// A new S3 canonical user id: 64 hex digits.
pub(crate) fn canonical_id() -> Result<String, UserError> {
    random_hex(&SystemRandom::new(), 32)
}

/// A new AWS account id: 12 decimal digits.
pub(crate) fn account_id() -> Result<String, UserError> {
    random_string(&SystemRandom::new(), DIGITS, 12)
}

/// A new IAM user id: `AIDA` and 17 upper-case letters and digits.
pub(crate) fn user_id() -> Result<String, UserError> {
    iam_id("AIDA")
}

/// A new IAM group id: `AGPA` and 17 upper-case letters and digits.
pub(crate) fn group_id() -> Result<String, UserError> {
    iam_id("AGPA")
}

/// An IAM id of the kind `prefix` names and 17 upper-case letters and digits.
fn iam_id(prefix: &str) -> Result<String, UserError> {
    Ok(format!(
        "{prefix}{}",
        random_string(&SystemRandom::new(), UPPER_DIGITS, 17)?
    ))
}

/// A new password of 24 letters and digits (about 143 bits), as the cloud gives its
/// administrator on first start.
pub(crate) fn password() -> Result<String, UserError> {
    random_string(&SystemRandom::new(), ALPHANUMERIC, 24)
}

/// `N` fresh random bytes.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], UserError> {
    let mut buf = [0u8; N];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| UserError::Random)?;
    Ok(buf)
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
    fn generated_identifiers_have_their_shapes_and_differ() {
        let (access, secret) = key_pair().unwrap();
        let (other_access, other_secret) = key_pair().unwrap();
        assert_eq!(access.len(), 20);
        assert!(access.bytes().all(|c| UPPER_DIGITS.contains(&c)));
        assert_eq!(secret.len(), 40);
        assert!(secret.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!((access, secret), (other_access, other_secret));
        let canonical = canonical_id().unwrap();
        assert_eq!(canonical.len(), 64);
        assert!(canonical.bytes().all(|c| c.is_ascii_hexdigit()));
        let account = account_id().unwrap();
        assert!(account.len() == 12 && account.bytes().all(|c| c.is_ascii_digit()));
        let user = user_id().unwrap();
        let tail = user.strip_prefix("AIDA").unwrap();
        assert!(tail.len() == 17 && tail.bytes().all(|c| UPPER_DIGITS.contains(&c)));
    }
}

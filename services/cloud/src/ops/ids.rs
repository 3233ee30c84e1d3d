//! The cloud's resource ids: a prefix and 8 random hex digits, as EC2's were.

use ring::rand::{SecureRandom, SystemRandom};

/// `{prefix}-` and 8 random hex digits.
pub(super) fn random_id(prefix: &str) -> String {
    let mut b = [0u8; 4];
    // A failed draw leaves zeros: the store refuses a duplicate id rather than reuse one.
    let _ = SystemRandom::new().fill(&mut b);
    format!("{prefix}-{:08x}", u32::from_be_bytes(b))
}

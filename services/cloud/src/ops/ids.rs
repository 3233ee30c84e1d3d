//! The cloud's resource ids (a prefix and 8 random hex digits, as EC2's were) and request ids.

use ring::rand::{SecureRandom, SystemRandom};

/// `{prefix}-` and 8 random hex digits.
pub(super) fn random_id(prefix: &str) -> String {
    let mut b = [0u8; 4];
    // A failed draw leaves zeros: the store refuses a duplicate id rather than reuse one.
    let _ = SystemRandom::new().fill(&mut b);
    format!("{prefix}-{:08x}", u32::from_be_bytes(b))
}

/// A fresh request id in UUID form, as EC2's.
pub fn request_id() -> String {
    let mut b = [0u8; 16];
    // Ids only tell requests apart in logs: a failed draw leaves zeros, never a failure.
    let _ = SystemRandom::new().fill(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

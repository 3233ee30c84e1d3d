//! Random bytes for message ids and signature nonces.
//!
//! Each call into OpenSSL's generator costs about as much for 16 bytes as for 512 (a DRBG
//! generate and reseed check, a lock, a fork check), and every signed reply draws twice. So
//! each thread draws a block at a time and hands it out in pieces, each byte once, wiping
//! what it hands out. No code of ours forks without exec, which would copy a block.

use std::cell::RefCell;

use openssl::error::ErrorStack;

const BLOCK: usize = 512;

struct Pool {
    bytes: [u8; BLOCK],
    /// Bytes already handed out, from the front.
    used: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool { bytes: [0; BLOCK], used: BLOCK })
    };
}

/// Fills `dest` with bytes from OpenSSL's cryptographically secure generator.
pub(crate) fn fill(dest: &mut [u8]) -> Result<(), ErrorStack> {
    if dest.len() > BLOCK {
        return openssl::rand::rand_bytes(dest);
    }
    POOL.with_borrow_mut(|pool| {
        if BLOCK - pool.used < dest.len() {
            openssl::rand::rand_bytes(&mut pool.bytes)?;
            pool.used = 0;
        }
        let piece = &mut pool.bytes[pool.used..pool.used + dest.len()];
        dest.copy_from_slice(piece);
        piece.fill(0);
        pool.used += dest.len();
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn no_piece_is_handed_out_twice() {
        // Enough draws to cross several blocks, and one larger than a block.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..4 * BLOCK / 16 {
            let mut piece = [0u8; 16];
            fill(&mut piece).unwrap();
            assert_ne!(piece, [0; 16]);
            assert!(seen.insert(piece), "a repeated draw");
        }
        let mut large = vec![0u8; BLOCK + 1];
        fill(&mut large).unwrap();
        assert!(large.iter().any(|&b| b != 0));
        // A draw that does not fit what is left of a block starts a new one.
        let mut odd = [0u8; 500];
        fill(&mut odd).unwrap();
        fill(&mut odd).unwrap();
        assert!(odd.iter().any(|&b| b != 0));
    }
}

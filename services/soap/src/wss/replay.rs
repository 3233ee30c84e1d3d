//! A bounded memory of recently accepted messages, to refuse replays.
//!
//! Keys are SHA-256 digests of the signature value (unique per signed message) and of the
//! signed `wsa:MessageID`. An entry lives as long as the verifier says: for a message with a
//! signed Timestamp, as long as that Timestamp could still make it acceptable; for one
//! without (accepted only in compatibility mode), much longer. When the cache is full the
//! oldest entry goes first. Only messages that passed every other check are recorded, so only
//! trusted signers can fill the cache. With a [`Journal`] the cache outlives the process.

use std::collections::VecDeque;
use std::path::Path;

use openssl::sha::Sha256;

use super::journal::{Entry, Journal};
use super::WssError;

#[derive(Debug)]
pub(crate) struct ReplayCache {
    capacity: usize,
    /// Keyed by digests: a fast seeded hash is enough, and only trusted signers add keys.
    expiry: foldhash::HashMap<[u8; 32], i64>,
    order: VecDeque<Entry>,
    journal: Option<Journal>,
}

/// What makes a message recognizable.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key<'a> {
    SignatureValue(&'a [u8]),
    MessageId(&'a str),
}

impl Key<'_> {
    fn digest(self) -> [u8; 32] {
        // Domain-separated so that a MessageID can never collide with a signature value.
        let (domain, bytes) = match self {
            Key::SignatureValue(v) => (b"sig\0", v),
            Key::MessageId(id) => (b"mid\0", id.as_bytes()),
        };
        // A context, not OpenSSL 3's one-shot function, which fetches the algorithm by name.
        let mut hasher = Sha256::new();
        hasher.update(domain);
        hasher.update(bytes);
        hasher.finish()
    }
}

impl ReplayCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            expiry: foldhash::HashMap::default(),
            order: VecDeque::new(),
            journal: None,
        }
    }

    /// A cache kept in the journal at `path` too, holding what it recorded there before that
    /// is still live at `now`.
    pub(crate) fn open(capacity: usize, path: &Path, now: i64) -> Result<Self, WssError> {
        let mut cache = Self::new(capacity);
        if capacity == 0 {
            return Ok(cache);
        }
        let journal_error = |source| WssError::ReplayJournal {
            path: path.to_owned(),
            source,
        };
        for (digest, expires) in Journal::read(path, now).map_err(journal_error)? {
            cache.remember(digest, expires);
        }
        cache.journal = Some(Journal::create(path, cache.order.iter()).map_err(journal_error)?);
        Ok(cache)
    }

    pub(crate) fn journaled(&self) -> bool {
        self.journal.is_some()
    }

    /// Records the keys of a message accepted at `now`, to be remembered for `lifetime`
    /// seconds, refusing it if any was seen.
    pub(crate) fn admit(
        &mut self,
        keys: &[Key<'_>],
        now: i64,
        lifetime: i64,
    ) -> Result<(), WssError> {
        if self.capacity == 0 {
            return Ok(());
        }
        // Entries of different lifetimes share one queue, so an expired entry may wait
        // behind a live one; it no longer refuses anything and goes at the latest when the
        // cache is full.
        while self
            .order
            .front()
            .is_some_and(|(_, expires)| *expires <= now)
        {
            self.pop_oldest();
        }
        let digests: Vec<[u8; 32]> = keys.iter().map(|k| k.digest()).collect();
        if digests
            .iter()
            .any(|d| self.expiry.get(d).is_some_and(|e| *e > now))
        {
            return Err(WssError::Replay);
        }
        let expires = now.saturating_add(lifetime);
        for &digest in &digests {
            self.remember(digest, expires);
        }
        // On disk before the message is handed on, so a restart cannot forget it.
        if let Some(journal) = &mut self.journal {
            let entries: Vec<Entry> = digests.into_iter().map(|d| (d, expires)).collect();
            journal
                .append(&entries, self.order.iter())
                .map_err(|source| WssError::ReplayJournal {
                    path: journal.path().to_owned(),
                    source,
                })?;
        }
        Ok(())
    }

    fn remember(&mut self, digest: [u8; 32], expires: i64) {
        while self.order.len() >= self.capacity {
            self.pop_oldest();
        }
        self.expiry.insert(digest, expires);
        self.order.push_back((digest, expires));
    }

    fn pop_oldest(&mut self) {
        if let Some((key, expires)) = self.order.pop_front() {
            // A key admitted again after it expired (under a clock that went back) has a
            // newer entry further on; leave that one.
            if self.expiry.get(&key) == Some(&expires) {
                self.expiry.remove(&key);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_while_it_lives() {
        let mut cache = ReplayCache::new(10);
        assert!(cache
            .admit(&[Key::SignatureValue(b"a"), Key::MessageId("m1")], 0, 100)
            .is_ok());
        assert!(matches!(
            cache.admit(&[Key::SignatureValue(b"b"), Key::MessageId("m1")], 50, 100),
            Err(WssError::Replay)
        ));
        assert!(matches!(
            cache.admit(&[Key::SignatureValue(b"a")], 99, 100),
            Err(WssError::Replay)
        ));
        assert!(cache.admit(&[Key::SignatureValue(b"a")], 100, 100).is_ok());
    }

    /// Guards against a long-lived entry (a message without a Timestamp) forgotten because
    /// shorter-lived ones around it expired.
    #[test]
    fn each_entry_keeps_its_own_lifetime() {
        let mut cache = ReplayCache::new(10);
        assert!(cache.admit(&[Key::MessageId("short")], 0, 10).is_ok());
        assert!(cache.admit(&[Key::MessageId("long")], 1, 1_000).is_ok());
        assert!(cache.admit(&[Key::MessageId("short")], 20, 10).is_ok());
        assert!(matches!(
            cache.admit(&[Key::MessageId("long")], 900, 10),
            Err(WssError::Replay)
        ));
        assert!(cache.admit(&[Key::MessageId("long")], 1_001, 10).is_ok());
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let mut cache = ReplayCache::new(3);
        for i in 0..10u8 {
            assert!(cache
                .admit(&[Key::SignatureValue(&[i])], i64::from(i), 1_000)
                .is_ok());
        }
        assert!(cache.order.len() <= 3 && cache.expiry.len() <= 3);
        assert!(matches!(
            cache.admit(&[Key::SignatureValue(&[9])], 10, 1_000),
            Err(WssError::Replay)
        ));
        assert!(cache.admit(&[Key::SignatureValue(&[0])], 10, 1_000).is_ok());
    }

    /// Guards against a restart forgetting accepted messages, which could then be replayed.
    #[test]
    fn a_journaled_cache_remembers_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replay.journal");
        let mut cache = ReplayCache::open(10, &path, 0).unwrap();
        assert!(cache.admit(&[Key::MessageId("short")], 0, 100).is_ok());
        assert!(cache.admit(&[Key::MessageId("long")], 0, 10_000).is_ok());
        drop(cache);
        let mut reopened = ReplayCache::open(10, &path, 50).unwrap();
        for id in ["short", "long"] {
            assert!(matches!(
                reopened.admit(&[Key::MessageId(id)], 50, 100),
                Err(WssError::Replay)
            ));
        }
        drop(reopened);
        let mut later = ReplayCache::open(10, &path, 200).unwrap();
        assert!(later.admit(&[Key::MessageId("short")], 200, 100).is_ok());
        assert!(matches!(
            later.admit(&[Key::MessageId("long")], 200, 100),
            Err(WssError::Replay)
        ));
    }

    #[test]
    fn a_disabled_cache_admits_everything() {
        let mut cache = ReplayCache::new(0);
        assert!(cache.admit(&[Key::MessageId("m")], 0, 1_000).is_ok());
        assert!(cache.admit(&[Key::MessageId("m")], 0, 1_000).is_ok());
    }
}

//! The replay cache on disk: an append-only file of fixed-size records (a 32-byte key digest
//! and its expiry, big-endian seconds), so that a restarted verifier still refuses what it
//! accepted before. Each record is written before the message it admits is handed on, so a
//! crash or kill of the process loses none; a record torn mid-write is ignored on reading.
//! Nothing is fsynced: a write here is a copy into the page cache, cheap enough for the
//! request path, and what a power loss could take (the last seconds' entries) is a risk the
//! Timestamp window bounds for Timestamped messages. The file is rewritten (to a new file,
//! then renamed over the old) with only the live entries when it opens and whenever it has
//! grown to twice the live entries, so it stays within a small multiple of the cache's size.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const RECORD: usize = 40;
/// Fewest records before a rewrite is worth it.
const MIN_REWRITE: usize = 4096;

pub(crate) type Entry = ([u8; 32], i64);

#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    records: usize,
}

impl Journal {
    /// Reads the entries of `path` (none if it does not exist) that expire after `now`.
    pub(crate) fn read(path: &Path, now: i64) -> io::Result<Vec<Entry>> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(bytes
            .chunks_exact(RECORD)
            .filter_map(|record| {
                let (digest, expires) = record.split_at(32);
                let digest: [u8; 32] = digest.try_into().ok()?;
                let expires = i64::from_be_bytes(expires.try_into().ok()?);
                (expires > now).then_some((digest, expires))
            })
            .collect())
    }

    /// Replaces `path` with `entries` and opens it for appending.
    pub(crate) fn create<'a>(
        path: &Path,
        entries: impl Iterator<Item = &'a Entry>,
    ) -> io::Result<Self> {
        let mut records = 0;
        let mut bytes = Vec::new();
        for entry in entries {
            bytes.extend_from_slice(&encode(entry));
            records += 1;
        }
        let fresh = path.with_extension("new");
        // Owner only, also over a leftover of a crash: the entries say which messages were
        // accepted, and when.
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&fresh)?;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(&bytes)?;
        fs::rename(&fresh, path)?;
        Ok(Self {
            path: path.to_owned(),
            file: OpenOptions::new().append(true).open(path)?,
            records,
        })
    }

    /// Appends `entries`; rewrites the file from `live` when it has grown past twice that.
    pub(crate) fn append<'a>(
        &mut self,
        entries: &[Entry],
        live: impl ExactSizeIterator<Item = &'a Entry>,
    ) -> io::Result<()> {
        let bytes: Vec<u8> = entries.iter().flat_map(encode).collect();
        self.file.write_all(&bytes)?;
        self.records += entries.len();
        if self.records > MIN_REWRITE.max(live.len().saturating_mul(2)) {
            *self = Self::create(&self.path, live)?;
        }
        Ok(())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn encode((digest, expires): &Entry) -> [u8; RECORD] {
    let mut record = [0; RECORD];
    record[..32].copy_from_slice(digest);
    record[32..].copy_from_slice(&expires.to_be_bytes());
    record
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn live_entries_survive_and_torn_or_expired_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replay.journal");
        assert!(Journal::read(&path, 0).unwrap().is_empty());
        let mut journal = Journal::create(&path, [([1; 32], 100)].iter()).unwrap();
        journal
            .append(&[([2; 32], 50), ([3; 32], 200)], [].iter())
            .unwrap();
        // A crash in the middle of a record.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&[9; 17])
            .unwrap();
        assert_eq!(
            Journal::read(&path, 60).unwrap(),
            [([1; 32], 100), ([3; 32], 200)]
        );
    }

    /// Guards against the journal being readable by other local users (issue 17, finding 3).
    #[test]
    fn the_journal_is_its_owners_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replay.journal");
        for leftover in [&path, &path.with_extension("new")] {
            fs::write(leftover, []).unwrap();
            fs::set_permissions(leftover, fs::Permissions::from_mode(0o644)).unwrap();
        }
        Journal::create(&path, [([1; 32], 100)].iter()).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn the_file_is_rewritten_when_it_outgrows_the_live_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replay.journal");
        let live = [([7; 32], 1_000)];
        let mut journal = Journal::create(&path, [].iter()).unwrap();
        for _ in 0..=MIN_REWRITE {
            journal.append(&[([0; 32], 1)], live.iter()).unwrap();
        }
        assert_eq!(fs::metadata(&path).unwrap().len(), RECORD as u64);
        assert_eq!(Journal::read(&path, 0).unwrap(), live);
    }
}

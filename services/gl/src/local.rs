//! What this host answers itself: its certificates and the recent lines of its component's
//! log, base64-encoded as the original sent them. Blocking file reads: call through
//! `kit::blocking`.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kit::LogFile;

use crate::error::GlError;

/// The original's GetLogs returned the last 1,000 KiB of each log (its buffer's size).
pub(crate) const LOG_TAIL: u64 = 1000 * 1024;

/// The certificates a GetKeys answers with, as found in the host's keys folder: the cluster's
/// and the node's, base64 of each PEM file. A missing file is left out, as the original did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Certificates {
    pub(crate) cluster: Option<String>,
    pub(crate) node: Option<String>,
}

pub(crate) fn certificates(keys: &Path) -> Result<Certificates, GlError> {
    Ok(Certificates {
        cluster: encoded_file(&keys.join("cluster-cert.pem"))?,
        node: encoded_file(&keys.join("node-cert.pem"))?,
    })
}

/// The last [`LOG_TAIL`] bytes of the log, base64-encoded.
pub(crate) fn log_tail(log: &LogFile) -> Result<String, GlError> {
    let text = log.tail(LOG_TAIL).map_err(|source| GlError::Read {
        path: log.path().to_owned(),
        source,
    })?;
    Ok(STANDARD.encode(text))
}

fn encoded_file(path: &Path) -> Result<Option<String>, GlError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(STANDARD.encode(bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(GlError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn decoded(text: Option<String>) -> Vec<u8> {
        STANDARD.decode(text.unwrap()).unwrap()
    }

    #[test]
    fn certificates_are_the_pem_files_and_a_missing_one_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("node-cert.pem"), b"-----BEGIN node-----\n").unwrap();
        let found = certificates(dir.path()).unwrap();
        assert_eq!(found.cluster, None);
        assert_eq!(decoded(found.node), b"-----BEGIN node-----\n");
    }

    #[test]
    fn a_certificate_that_cannot_be_read_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be.
        std::fs::create_dir(dir.path().join("cluster-cert.pem")).unwrap();
        let err = certificates(dir.path()).unwrap_err();
        assert!(matches!(err, GlError::Read { .. }), "{err}");
    }

    #[test]
    fn the_log_tail_is_bounded_like_the_originals() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogFile::open(&dir.path().join("nc.log"), 4 << 20).unwrap();
        let line = [b'x'; 99];
        for _ in 0..20_000 {
            log.append(&line).unwrap();
            log.append(b"\n").unwrap();
        }
        let tail = decoded(Some(log_tail(&log).unwrap()));
        // Whole 100-byte lines, as many as fit in the original's buffer.
        assert_eq!(tail.len() as u64, LOG_TAIL / 100 * 100);
        assert!(tail.starts_with(&line) && tail.ends_with(b"x\n"));
    }
}

//! Whose signature a manifest must bear. The original Walrus, serving a node (an
//! administrator's request), accepted a manifest signed by any certificate it knew; so do we:
//! the certificates of the users allowed to bundle images are the PEM files in `KEYS/users/`
//! (the CLC or the administrator puts them there), read anew for every image so that a user
//! added later is known without a restart.

use std::io;
use std::path::{Path, PathBuf};

use openssl::x509::X509;
use tracing::warn;

use super::manifest::Manifest;

/// Whether manifests must be signed by a known user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureCheck {
    /// Refuse a manifest no known user's certificate verifies.
    #[default]
    Required,
    /// Accept unsigned or unknown manifests (testing, or a cloud without user certificates).
    Skip,
}

/// Why a manifest's signature was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("no known user's certificate verifies the manifest's signature")]
    Unverified,
    #[error("the user certificates in {path} cannot be read: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// The certificates that may sign manifests.
#[derive(Debug, Clone)]
pub struct Signers {
    dir: PathBuf,
    check: SignatureCheck,
}

impl Signers {
    /// Users' certificates are the `*.pem` files of `dir`.
    pub fn new(dir: &Path, check: SignatureCheck) -> Self {
        Self {
            dir: dir.to_owned(),
            check,
        }
    }

    /// `KEYS/users/`.
    pub fn in_keys(keys: &Path, check: SignatureCheck) -> Self {
        Self::new(&keys.join("users"), check)
    }

    /// Accepts `manifest` if the policy asks nothing or a known certificate verifies it.
    pub async fn check(&self, manifest: &Manifest) -> Result<(), SignatureError> {
        if self.check == SignatureCheck::Skip {
            return Ok(());
        }
        // The certificates are files: they are read on a blocking thread.
        let signers = self.clone();
        let certificates = kit::blocking(move || signers.certificates()).await?;
        if certificates.iter().any(|c| manifest.is_signed_by(c)) {
            Ok(())
        } else {
            Err(SignatureError::Unverified)
        }
    }

    fn certificates(&self) -> Result<Vec<X509>, SignatureError> {
        let io_error = |source| SignatureError::Io {
            path: self.dir.clone(),
            source,
        };
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(e)),
        };
        let mut certificates = Vec::new();
        for entry in entries {
            let path = entry.map_err(io_error)?.path();
            if path.extension().is_none_or(|e| e != "pem") {
                continue;
            }
            let pem = std::fs::read(&path).map_err(io_error)?;
            // A file may hold a chain; a bad file is skipped, not fatal for the others.
            match X509::stack_from_pem(&pem) {
                Ok(stack) => certificates.extend(stack),
                Err(e) => warn!(path = %path.display(), error = %e, "not a PEM certificate"),
            }
        }
        Ok(certificates)
    }
}

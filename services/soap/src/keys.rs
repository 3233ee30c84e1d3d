//! The key pairs of a cloud: RSA-2048 keys with self-signed X.509 certificates, one pair per
//! role (`cloud`, `cluster`, `node`), stored as `<role>-cert.pem` and `<role>-pk.pem` as the
//! original Eucalyptus keeps them. Keys are created once and never overwritten.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use tracing::warn;

use crate::wss::{SignOptions, Signer, WssError};

/// The roles that hold a key pair, in the order `euca keys init` creates them.
pub const ROLES: [&str; 3] = ["cloud", "cluster", "node"];

const RSA_BITS: u32 = 2048;
const VALIDITY_DAYS: u32 = 3650;

/// Why keys could not be created or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: not a PEM {what}: {source}", path.display())]
    Pem {
        path: PathBuf,
        what: &'static str,
        source: ErrorStack,
    },
    #[error("{} does not certify the key in {}", certificate.display(), private_key.display())]
    Mismatch {
        certificate: PathBuf,
        private_key: PathBuf,
    },
    #[error("{} exists but {} does not; refusing to create a new pair that would not match it", present.display(), missing.display())]
    HalfPair { present: PathBuf, missing: PathBuf },
    #[error("key generation failed: {0}")]
    Crypto(#[from] ErrorStack),
}

/// A private key and the certificate of its public key.
#[derive(Clone)]
pub struct KeyPair {
    pub certificate: X509,
    pub private_key: PKey<Private>,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("KeyPair")
            .field("subject", &self.certificate.subject_name())
            .finish_non_exhaustive()
    }
}

/// Where a role's certificate lives in `dir`.
pub fn certificate_path(dir: &Path, role: &str) -> PathBuf {
    dir.join(format!("{role}-cert.pem"))
}

/// Where a role's private key lives in `dir`.
pub fn private_key_path(dir: &Path, role: &str) -> PathBuf {
    dir.join(format!("{role}-pk.pem"))
}

impl KeyPair {
    /// A fresh RSA-2048 key with a self-signed certificate naming `role`. The cloud's
    /// certificate may sign others (it issues user certificates); the rest only sign messages.
    pub fn generate(role: &str) -> Result<Self, KeyError> {
        let private_key = PKey::from_rsa(Rsa::generate(RSA_BITS)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("O", "Eucalyptus")?;
        name.append_entry_by_text("OU", role)?;
        name.append_entry_by_text("CN", &format!("eucalyptus-{role}"))?;
        let name = name.build();

        let mut serial = BigNum::new()?;
        serial.rand(120, MsbOption::MAYBE_ZERO, false)?;
        // Backdated an hour so that hosts whose clocks lag a little accept it at once.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let not_before = Asn1Time::from_unix(now.saturating_sub(3600).try_into().unwrap_or(0))?;

        let mut builder = X509Builder::new()?;
        builder.set_version(2)?;
        builder.set_serial_number(serial.to_asn1_integer()?.as_ref())?;
        builder.set_subject_name(&name)?;
        builder.set_issuer_name(&name)?;
        builder.set_pubkey(&private_key)?;
        builder.set_not_before(&not_before)?;
        builder.set_not_after(Asn1Time::days_from_now(VALIDITY_DAYS)?.as_ref())?;
        let mut usage = KeyUsage::new();
        usage.critical().digital_signature().key_encipherment();
        let mut constraints = BasicConstraints::new();
        constraints.critical();
        if role == "cloud" {
            constraints.ca();
            usage.key_cert_sign().crl_sign();
        }
        builder.append_extension(constraints.build()?)?;
        builder.append_extension(usage.build()?)?;
        let key_id = SubjectKeyIdentifier::new().build(&builder.x509v3_context(None, None))?;
        builder.append_extension(key_id)?;
        builder.sign(&private_key, MessageDigest::sha256())?;
        Ok(Self {
            certificate: builder.build(),
            private_key,
        })
    }

    /// Loads `<role>-cert.pem` and `<role>-pk.pem` from `dir` and checks that they belong
    /// together.
    pub fn load(dir: &Path, role: &str) -> Result<Self, KeyError> {
        let (cert_path, key_path) = (certificate_path(dir, role), private_key_path(dir, role));
        let certificate = load_certificate(&cert_path)?;
        let pem = read(&key_path)?;
        let private_key = PKey::private_key_from_pem(&pem).map_err(|source| KeyError::Pem {
            path: key_path.clone(),
            what: "private key",
            source,
        })?;
        let public = certificate.public_key().map_err(|source| KeyError::Pem {
            path: cert_path.clone(),
            what: "certificate",
            source,
        })?;
        if !public.public_eq(&private_key) {
            return Err(KeyError::Mismatch {
                certificate: cert_path,
                private_key: key_path,
            });
        }
        if let Ok(meta) = fs::metadata(&key_path) {
            if meta.mode() & 0o077 != 0 {
                warn!(path = %key_path.display(), mode = format!("{:o}", meta.mode() & 0o777), "private key is readable by others");
            }
        }
        Ok(Self {
            certificate,
            private_key,
        })
    }

    /// A signer of outgoing messages with this pair.
    pub fn signer(&self, options: SignOptions) -> Result<Signer, WssError> {
        Signer::new(self.private_key.clone(), &self.certificate, options)
    }

    /// Writes the pair as `<role>-cert.pem` and `<role>-pk.pem` (mode 0600) in `dir`, failing
    /// if either file exists. A half-written pair is removed.
    pub fn write_new(&self, dir: &Path, role: &str) -> Result<(), KeyError> {
        let (cert_path, key_path) = (certificate_path(dir, role), private_key_path(dir, role));
        let key_pem = self.private_key.rsa()?.private_key_to_pem()?;
        let cert_pem = self.certificate.to_pem()?;
        create_new(&key_path, &key_pem, 0o600)?;
        if let Err(e) = create_new(&cert_path, &cert_pem, 0o644) {
            // The key file is ours, created a moment ago; without its certificate it is useless.
            let _ = fs::remove_file(&key_path);
            return Err(e);
        }
        Ok(())
    }
}

/// Loads one PEM certificate, such as a trusted peer's.
pub fn load_certificate(path: &Path) -> Result<X509, KeyError> {
    let pem = read(path)?;
    X509::from_pem(&pem).map_err(|source| KeyError::Pem {
        path: path.to_owned(),
        what: "certificate",
        source,
    })
}

/// Loads the certificates of `roles` from `dir`: the peers a service trusts.
pub fn load_certificates(dir: &Path, roles: &[&str]) -> Result<Vec<X509>, KeyError> {
    roles
        .iter()
        .map(|role| load_certificate(&certificate_path(dir, role)))
        .collect()
}

/// What [`init`] did for one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOutcome {
    pub role: &'static str,
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    /// `false` when a valid pair was already there and was kept.
    pub created: bool,
}

/// Creates the cloud, cluster and node key pairs in `dir` (created mode 0700 if missing).
/// Pairs already present are checked and kept; a half-present pair stops everything before
/// any file is written.
pub fn init(dir: &Path) -> Result<Vec<InitOutcome>, KeyError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| KeyError::Io {
            path: dir.to_owned(),
            source,
        })?;
    let mut outcomes = Vec::new();
    for role in ROLES {
        let (certificate, private_key) = (certificate_path(dir, role), private_key_path(dir, role));
        let present = match (exists(&certificate)?, exists(&private_key)?) {
            (true, true) => {
                KeyPair::load(dir, role)?;
                true
            }
            (false, false) => false,
            (true, false) => {
                return Err(KeyError::HalfPair {
                    present: certificate,
                    missing: private_key,
                })
            }
            (false, true) => {
                return Err(KeyError::HalfPair {
                    present: private_key,
                    missing: certificate,
                })
            }
        };
        outcomes.push(InitOutcome {
            role,
            certificate,
            private_key,
            created: !present,
        });
    }
    // Each RSA prime search takes a CPU for a while: the pairs are made side by side, which
    // is most of a new cloud's first start (`euca up`).
    std::thread::scope(|scope| {
        let made: Vec<_> = outcomes
            .iter()
            .filter(|o| o.created)
            .map(|o| scope.spawn(move || KeyPair::generate(o.role)?.write_new(dir, o.role)))
            .collect();
        made.into_iter()
            .try_for_each(|m| m.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })?;
    Ok(outcomes)
}

/// Whether anything, even a dangling symlink, stands at `path`.
fn exists(path: &Path) -> Result<bool, KeyError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(KeyError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, KeyError> {
    fs::read(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Creates `path` with `mode`, never replacing an existing file.
fn create_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    let io_error = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_error)?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io_error)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_three_pairs_with_private_keys_0600() {
        let dir = tempfile::tempdir().unwrap();
        let outcomes = init(dir.path()).unwrap();
        assert_eq!(
            outcomes
                .iter()
                .map(|o| (o.role, o.created))
                .collect::<Vec<_>>(),
            [("cloud", true), ("cluster", true), ("node", true)]
        );
        for role in ROLES {
            let pair = KeyPair::load(dir.path(), role).unwrap();
            assert_eq!(pair.private_key.bits(), 2048);
            let mode = fs::metadata(private_key_path(dir.path(), role))
                .unwrap()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{role}-pk.pem");
            // Self-signed: the certificate verifies under its own key.
            assert!(pair.certificate.verify(&pair.private_key).unwrap());
            assert_eq!(pair.certificate.version(), 2);
        }
        let cloud = KeyPair::load(dir.path(), "cloud").unwrap();
        let node = KeyPair::load(dir.path(), "node").unwrap();
        assert!(!cloud.private_key.public_eq(&node.private_key));
    }

    #[test]
    fn init_never_overwrites_existing_keys() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path()).unwrap();
        let before: Vec<Vec<u8>> = ROLES
            .iter()
            .map(|r| fs::read(private_key_path(dir.path(), r)).unwrap())
            .collect();
        let outcomes = init(dir.path()).unwrap();
        assert!(outcomes.iter().all(|o| !o.created));
        let after: Vec<Vec<u8>> = ROLES
            .iter()
            .map(|r| fs::read(private_key_path(dir.path(), r)).unwrap())
            .collect();
        assert_eq!(before, after);
    }

    #[test]
    fn init_refuses_half_pairs_before_writing_anything() {
        let dir = tempfile::tempdir().unwrap();
        // Only the node's private key: a new certificate could not match it.
        fs::write(private_key_path(dir.path(), "node"), b"precious").unwrap();
        let err = init(dir.path()).unwrap_err();
        assert!(matches!(err, KeyError::HalfPair { .. }), "{err}");
        assert_eq!(
            fs::read(private_key_path(dir.path(), "node")).unwrap(),
            b"precious"
        );
        assert!(
            !certificate_path(dir.path(), "cloud").exists(),
            "nothing is created when one pair is broken"
        );
    }

    #[test]
    fn mismatched_pairs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        KeyPair::generate("node")
            .unwrap()
            .write_new(dir.path(), "node")
            .unwrap();
        let other = KeyPair::generate("node").unwrap();
        fs::write(
            certificate_path(dir.path(), "node"),
            other.certificate.to_pem().unwrap(),
        )
        .unwrap();
        assert!(matches!(
            KeyPair::load(dir.path(), "node"),
            Err(KeyError::Mismatch { .. })
        ));
    }
}

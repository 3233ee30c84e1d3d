//! The console's TLS: a server certificate issued by the cloud's own certificate
//! (`KEYS/cloud-cert.pem`, a CA), so that a client trusting the cloud's certificate (every
//! user's credentials carry it) trusts the console. It names the host the console listens
//! on, `localhost` and `127.0.0.1`, and is kept in `DATA/console/` (private), issued again
//! when missing, when it no longer matches the cloud's key, or when it does not name the
//! listening host.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use openssl::pkey::PKey;
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::extension::{ExtendedKeyUsage, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};
use soap::keys::KeyPair;

use crate::credentials::{self, CredentialsError};

/// The certificate's and key's files in `DATA/console/`.
const CERT_FILE: &str = "console-cert.pem";
const KEY_FILE: &str = "console-pk.pem";

/// Why the console's TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Issue(#[from] CredentialsError),
    #[error("the console's TLS: {0}")]
    Ssl(#[from] openssl::error::ErrorStack),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The names the certificate carries for a console listening on `listen`.
fn names(listen: SocketAddr) -> Vec<IpAddr> {
    let mut ips = vec![IpAddr::from([127, 0, 0, 1])];
    if !listen.ip().is_unspecified() && !ips.contains(&listen.ip()) {
        ips.push(listen.ip());
    }
    ips
}

/// The console's certificate and key for `listen`, from `DATA/console/` or issued now by
/// `cloud` (and written there). Blocking.
pub fn certificate(data: &Path, cloud: &KeyPair, listen: SocketAddr) -> Result<KeyPair, TlsError> {
    let folder = data.join("console");
    let (cert_path, key_path) = (folder.join(CERT_FILE), folder.join(KEY_FILE));
    if let Some(kept) = kept(&cert_path, &key_path, cloud, listen) {
        return Ok(kept);
    }
    std::fs::create_dir_all(&folder).map_err(io_error(&folder))?;
    kit::private::own_only(&[&folder]).map_err(|e| TlsError::Io {
        path: e.path,
        source: e.source,
    })?;
    let issued = issue(cloud, listen)?;
    kit::private::write_file(&key_path, &issued.private_key.private_key_to_pem_pkcs8()?)
        .map_err(io_error(&key_path))?;
    kit::private::write_file(&cert_path, &issued.certificate.to_pem()?)
        .map_err(io_error(&cert_path))?;
    tracing::info!(certificate = %cert_path.display(), "console certificate issued");
    Ok(KeyPair {
        certificate: issued.certificate,
        private_key: issued.private_key,
    })
}

/// The certificate kept in DATA, if it is still good for `listen`: signed by the cloud's
/// key, matching its own key, naming the host.
fn kept(cert_path: &Path, key_path: &Path, cloud: &KeyPair, listen: SocketAddr) -> Option<KeyPair> {
    let certificate = X509::from_pem(&std::fs::read(cert_path).ok()?).ok()?;
    let private_key = PKey::private_key_from_pem(&std::fs::read(key_path).ok()?).ok()?;
    let cloud_public = cloud.certificate.public_key().ok()?;
    let signed = certificate.verify(&cloud_public).unwrap_or(false);
    let matches = certificate
        .public_key()
        .is_ok_and(|public| public.public_eq(&private_key));
    let named = certificate.subject_alt_names().is_some_and(|sans| {
        names(listen).iter().all(|ip| {
            sans.iter()
                .any(|san| san.ipaddress() == Some(&ip_bytes(*ip)))
        })
    });
    let current = certificate.not_after() > openssl::asn1::Asn1Time::days_from_now(1).ok()?;
    (signed && matches && named && current).then_some(KeyPair {
        certificate,
        private_key,
    })
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// A server certificate for `listen`, signed by the cloud's key.
fn issue(cloud: &KeyPair, listen: SocketAddr) -> Result<credentials::Issued, TlsError> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("O", "Eucalyptus")?;
    name.append_entry_by_text("OU", "console")?;
    name.append_entry_by_text("CN", "localhost")?;
    Ok(credentials::issue_for(cloud, &name.build(), |builder| {
        let mut sans = SubjectAlternativeName::new();
        sans.dns("localhost");
        for ip in names(listen) {
            sans.ip(&ip.to_string());
        }
        let sans = sans.build(&builder.x509v3_context(Some(&cloud.certificate), None))?;
        builder.append_extension(sans)?;
        builder.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()?,
        )?;
        builder.append_extension(ExtendedKeyUsage::new().server_auth().build()?)
    })?)
}

/// The acceptor serving `pair`, with the cloud's certificate as its chain; Mozilla's
/// "intermediate" settings (TLS 1.2 and 1.3, forward-secret AEAD ciphers).
pub fn acceptor(pair: &KeyPair, cloud: &KeyPair) -> Result<SslAcceptor, TlsError> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    builder.set_private_key(&pair.private_key)?;
    builder.set_certificate(&pair.certificate)?;
    builder.add_extra_chain_cert(cloud.certificate.clone())?;
    builder.check_private_key()?;
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_certificate_is_kept_and_issued_again_for_another_host() {
        let dir = tempfile::tempdir().unwrap();
        let cloud = KeyPair::generate("cloud").unwrap();
        let local: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        let first = certificate(dir.path(), &cloud, local).unwrap();
        assert!(first
            .certificate
            .verify(&cloud.certificate.public_key().unwrap())
            .unwrap());
        let again = certificate(dir.path(), &cloud, local).unwrap();
        assert_eq!(
            first.certificate.to_der().unwrap(),
            again.certificate.to_der().unwrap()
        );
        // Guards a console moved to another address from serving a certificate without its name.
        let moved = certificate(dir.path(), &cloud, "10.1.2.3:8443".parse().unwrap()).unwrap();
        assert_ne!(
            first.certificate.to_der().unwrap(),
            moved.certificate.to_der().unwrap()
        );
        // A new cloud key (new KEYS) gets a certificate it signed.
        let other = KeyPair::generate("cloud").unwrap();
        let reissued = certificate(dir.path(), &other, local).unwrap();
        assert!(reissued
            .certificate
            .verify(&other.certificate.public_key().unwrap())
            .unwrap());
    }
}

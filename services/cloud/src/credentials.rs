//! A user's credentials as the admin tool of Eucalyptus handed them out: an X.509
//! certificate issued by the cloud's key, its private key, the cloud's certificate and an
//! `eucarc` naming them, in `DATA/credentials/ACCOUNT/` and as `DATA/credentials/ACCOUNT.zip`
//! for an account's root user, in `DATA/credentials/ACCOUNT/NAME/` and as
//! `DATA/credentials/ACCOUNT/NAME.zip` for its IAM user NAME.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509Builder, X509NameBuilder, X509NameRef, X509};
use soap::keys::KeyPair;

use crate::store::{CloudFacts, Store, StoreError, User};

/// How long a user's certificate is valid, as the cloud's own (ten years).
const VALIDITY_DAYS: u32 = 3650;
/// The cloud's certificate's name beside the user's files.
const CLOUD_CERT: &str = "cloud-cert.pem";

/// Why credentials could not be issued or written.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot issue a certificate: {0}")]
    Crypto(#[from] ErrorStack),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("name {0:?} cannot name a credentials folder")]
    Name(String),
    #[error("{path}: {source}")]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
}

/// A user's new certificate and key, issued by the cloud.
#[derive(Debug)]
pub struct Issued {
    pub certificate: X509,
    pub private_key: PKey<Private>,
}

/// Issues `user` a fresh RSA-2048 key and a certificate for it signed by the cloud's key:
/// the certificate that identifies the user's SOAP requests.
pub fn issue(cloud: &KeyPair, user: &User) -> Result<Issued, CredentialsError> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("O", "Eucalyptus")?;
    name.append_entry_by_text("OU", &user.account)?;
    name.append_entry_by_text("CN", &user.name)?;
    issue_for(cloud, &name.build(), |_| Ok(()))
}

/// Issues a fresh RSA-2048 key and a certificate for `subject`, signed by the cloud's key,
/// valid [`VALIDITY_DAYS`], not a CA, for signatures and key exchange, with the extensions
/// `extend` adds.
pub(crate) fn issue_for(
    cloud: &KeyPair,
    subject: &X509NameRef,
    extend: impl FnOnce(&mut X509Builder) -> Result<(), ErrorStack>,
) -> Result<Issued, CredentialsError> {
    let private_key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut serial = BigNum::new()?;
    serial.rand(120, MsbOption::MAYBE_ZERO, false)?;
    // Backdated an hour, as the cloud's own, for hosts whose clocks lag a little.
    let not_before = Asn1Time::from_unix(kit::time::now() - 3600)?;
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    builder.set_serial_number(serial.to_asn1_integer()?.as_ref())?;
    builder.set_subject_name(subject)?;
    builder.set_issuer_name(cloud.certificate.subject_name())?;
    builder.set_pubkey(&private_key)?;
    builder.set_not_before(&not_before)?;
    builder.set_not_after(Asn1Time::days_from_now(VALIDITY_DAYS)?.as_ref())?;
    builder.append_extension(BasicConstraints::new().critical().build()?)?;
    builder.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_encipherment()
            .build()?,
    )?;
    extend(&mut builder)?;
    builder.sign(&cloud.private_key, MessageDigest::sha256())?;
    Ok(Issued {
        certificate: builder.build(),
        private_key,
    })
}

/// Issues `user` a certificate, records it in `store` and writes the user's credentials
/// under `data` (see [`write`]). Returns the eucarc's path.
pub async fn hand_out(
    store: &dyn Store,
    data: &Path,
    facts: &CloudFacts,
    cloud: &KeyPair,
    user: &User,
) -> Result<PathBuf, CredentialsError> {
    let (data, facts, cloud, owner) = (data.to_owned(), facts.clone(), cloud.clone(), user.clone());
    let (pem, eucarc) = kit::blocking(move || {
        let issued = issue(&cloud, &owner)?;
        let eucarc = write(&data, &facts, &cloud, &owner, &issued)?;
        Ok::<_, CredentialsError>((issued.certificate.to_pem()?, eucarc))
    })
    .await?;
    store
        .put_certificate(user, &String::from_utf8_lossy(&pem))
        .await?;
    Ok(eucarc)
}

/// The files of a user's credentials, by name.
fn files(
    facts: &CloudFacts,
    cloud: &KeyPair,
    user: &User,
    issued: &Issued,
) -> Result<Vec<(String, Vec<u8>)>, CredentialsError> {
    let (cert, key) = key_file_names(user);
    Ok(vec![
        (
            "eucarc".to_owned(),
            eucarc(facts, user, &cert, &key).into_bytes(),
        ),
        (cert, issued.certificate.to_pem()?),
        (key, issued.private_key.private_key_to_pem_pkcs8()?),
        (CLOUD_CERT.to_owned(), cloud.certificate.to_pem()?),
    ])
}

/// The eucarc: the variables EC2 and S3 clients read. The file names are relative to the
/// eucarc's own folder, so that an unpacked zip works wherever it is.
fn eucarc(facts: &CloudFacts, user: &User, cert: &str, key: &str) -> String {
    format!(
        "EUCA_KEY_DIR=$(cd \"$(dirname \"${{BASH_SOURCE:-$0}}\")\" && pwd -P)\n\
         export EC2_URL={ec2}\n\
         export S3_URL={s3}\n\
         export EC2_ACCESS_KEY='{access}'\n\
         export EC2_SECRET_KEY='{secret}'\n\
         export EC2_CERT=${{EUCA_KEY_DIR}}/{cert}\n\
         export EC2_PRIVATE_KEY=${{EUCA_KEY_DIR}}/{key}\n\
         export EUCALYPTUS_CERT=${{EUCA_KEY_DIR}}/{CLOUD_CERT}\n\
         export EC2_USER_ID='{id}'\n\
         export AWS_DEFAULT_REGION={region}\n",
        ec2 = facts.ec2_url,
        s3 = facts.s3_url,
        access = user.access_key,
        secret = user.secret_key,
        id = user.canonical_id,
        region = facts.region,
    )
}

/// The names of `user`'s certificate and private key files in their credentials folder.
pub fn key_file_names(user: &User) -> (String, String) {
    // The root user's files carry the account's name, as before accounts; an IAM user's its own.
    let who = if user.is_root() {
        &user.account
    } else {
        &user.name
    };
    (
        format!("euca2-{who}-cert.pem"),
        format!("euca2-{who}-pk.pem"),
    )
}

/// Where the credentials of `account`'s user `user` are written: the folder and the zip (the
/// root user's are the account's, inside which each IAM user's are). Names cannot hold `/`
/// (the `users` crate refuses them); `.` and `..` would name folders above, so they have no
/// place.
pub fn places(
    data: &Path,
    account: &str,
    user: &str,
) -> Result<(PathBuf, PathBuf), CredentialsError> {
    for name in [account, user] {
        if name == "." || name == ".." {
            return Err(CredentialsError::Name(name.to_owned()));
        }
    }
    let (parent, name) = if user == users::ROOT_NAME {
        (data.join("credentials"), account)
    } else {
        (data.join("credentials").join(account), user)
    };
    Ok((parent.join(name), parent.join(format!("{name}.zip"))))
}

/// Where the eucarc of `account`'s root user is written.
pub fn eucarc_path(data: &Path, account: &str) -> Result<PathBuf, CredentialsError> {
    Ok(places(data, account, users::ROOT_NAME)?.0.join("eucarc"))
}

/// Writes `DATA/credentials/NAME/` (folders 0700, files 0600) and `DATA/credentials/NAME.zip`
/// holding the same files. Blocking.
pub fn write(
    data: &Path,
    facts: &CloudFacts,
    cloud: &KeyPair,
    user: &User,
    issued: &Issued,
) -> Result<PathBuf, CredentialsError> {
    let (folder, zip_path) = places(data, &user.account, &user.name)?;
    let files = files(facts, cloud, user, issued)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| CredentialsError::Io { path, source }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&folder)
        .map_err(io(&folder))?;
    for (name, content) in &files {
        let path = folder.join(name);
        kit::private::write_file(&path, content).map_err(io(&path))?;
    }
    let zip_error = |source| CredentialsError::Zip {
        path: zip_path.clone(),
        source,
    };
    let mut packed = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o600);
    for (name, content) in &files {
        packed
            .start_file(name.as_str(), options)
            .map_err(zip_error)?;
        packed.write_all(content).map_err(io(&zip_path))?;
    }
    let packed = packed.finish().map_err(zip_error)?.into_inner();
    kit::private::write_file(&zip_path, &packed).map_err(io(&zip_path))?;
    Ok(folder.join("eucarc"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn user() -> User {
        User {
            name: users::ROOT_NAME.into(),
            account: "ann".into(),
            access_key: "AKIAANN".into(),
            secret_key: "secret".into(),
            canonical_id: "abc123".into(),
            enabled: true,
            ..User::default()
        }
    }

    fn facts() -> CloudFacts {
        CloudFacts {
            keys: PathBuf::from("/keys"),
            ec2_url: "http://127.0.0.1:8773/services/Eucalyptus".into(),
            s3_url: "http://127.0.0.1:8773/services/Walrus".into(),
            region: "eucalyptus".into(),
        }
    }

    #[test]
    fn dot_names_have_no_credentials_folder() {
        // Guards against `euca admin user delete ..` removing DATA itself.
        let data = Path::new("/data");
        let root = users::ROOT_NAME;
        assert!(places(data, "..", root).is_err() && places(data, ".", root).is_err());
        assert!(places(data, "ann", "..").is_err() && places(data, "ann", ".").is_err());
        let (folder, zip) = places(data, "..x", root).unwrap();
        assert_eq!(
            (folder.as_path(), zip.as_path()),
            (
                Path::new("/data/credentials/..x"),
                Path::new("/data/credentials/..x.zip")
            )
        );
        let (folder, zip) = places(data, "ann", "dev").unwrap();
        assert_eq!(
            (folder.as_path(), zip.as_path()),
            (
                Path::new("/data/credentials/ann/dev"),
                Path::new("/data/credentials/ann/dev.zip")
            )
        );
    }

    #[test]
    fn the_certificate_is_issued_by_the_cloud() {
        let cloud = KeyPair::generate("cloud").unwrap();
        let issued = issue(&cloud, &user()).unwrap();
        let cloud_key = cloud.certificate.public_key().unwrap();
        assert!(issued.certificate.verify(&cloud_key).unwrap());
        let own = issued.certificate.public_key().unwrap();
        assert!(own.public_eq(&issued.private_key));
    }

    #[test]
    fn an_iam_users_files_are_named_after_it_inside_its_accounts_folder() {
        let dir = tempfile::tempdir().unwrap();
        let cloud = KeyPair::generate("cloud").unwrap();
        let dev = User {
            name: "dev".into(),
            ..user()
        };
        let issued = issue(&cloud, &dev).unwrap();
        let eucarc = write(dir.path(), &facts(), &cloud, &dev, &issued).unwrap();
        let folder = dir.path().join("credentials/ann/dev");
        assert_eq!(eucarc, folder.join("eucarc"));
        for name in ["euca2-dev-cert.pem", "euca2-dev-pk.pem", CLOUD_CERT] {
            assert!(folder.join(name).is_file(), "{name}");
        }
        assert!(dir.path().join("credentials/ann/dev.zip").is_file());
        let text = std::fs::read_to_string(&eucarc).unwrap();
        assert!(
            text.contains("EC2_CERT=${EUCA_KEY_DIR}/euca2-dev-cert.pem"),
            "{text}"
        );
    }

    #[test]
    fn the_files_and_the_zip_hold_the_same_private_credentials() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cloud = KeyPair::generate("cloud").unwrap();
        let issued = issue(&cloud, &user()).unwrap();
        let eucarc = write(dir.path(), &facts(), &cloud, &user(), &issued).unwrap();
        let text = std::fs::read_to_string(&eucarc).unwrap();
        let exported: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split('=').next())
            .collect();
        assert_eq!(
            exported,
            [
                "EC2_URL",
                "S3_URL",
                "EC2_ACCESS_KEY",
                "EC2_SECRET_KEY",
                "EC2_CERT",
                "EC2_PRIVATE_KEY",
                "EUCALYPTUS_CERT",
                "EC2_USER_ID",
                "AWS_DEFAULT_REGION"
            ]
        );
        let folder = eucarc.parent().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(folder), 0o700);
        let zip_path = dir.path().join("credentials/ann.zip");
        assert_eq!(mode(&zip_path), 0o600);
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
        assert_eq!(zip.len(), 4);
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).unwrap();
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
            let on_disk = folder.join(entry.name());
            assert_eq!(
                std::fs::read(&on_disk).unwrap(),
                content,
                "{}",
                entry.name()
            );
            assert_eq!(mode(&on_disk), 0o600);
        }
    }
}

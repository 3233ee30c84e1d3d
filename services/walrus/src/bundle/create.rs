//! Making a bundle the way `euca-bundle-image` (euca2ools 1.3) does: tar → gzip → AES-128-CBC
//! under a fresh key → parts of a fixed size, and a manifest holding the key and IV sealed to
//! the cloud and to the user, the digest of every part and of the tar stream, signed by the
//! user.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sha::Sha1;
use openssl::sign::Signer;
use openssl::x509::X509;

use super::keys::ImageKey;
use super::manifest::Sha1Digest;
use super::stream::{EncryptWriter, Sha1Writer};
use crate::digest::hex;

/// euca2ools' part size: 10 MiB.
pub const DEFAULT_PART_SIZE: u64 = 10 << 20;
/// The manifest format version euca2ools 1.3 writes.
const MANIFEST_VERSION: &str = "2007-10-10";

/// What to bundle, with whose keys, and where to.
#[derive(Debug)]
pub struct BundleSpec<'a> {
    pub image: &'a Path,
    pub destination: &'a Path,
    /// File names start with this; the image's file name by default.
    pub prefix: Option<&'a str>,
    pub part_size: u64,
    /// The bundling user's account id.
    pub user: &'a str,
    pub architecture: &'a str,
    /// A kernel or ramdisk id to boot the image with, or `true` to mark the image itself as a
    /// kernel or ramdisk (as with euca-bundle-image).
    pub kernel_id: Option<&'a str>,
    pub ramdisk_id: Option<&'a str>,
    pub user_certificate: &'a X509,
    pub user_key: &'a PKey<Private>,
    pub cloud_certificate: &'a X509,
}

/// The files of a finished bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub manifest: PathBuf,
    pub parts: Vec<PathBuf>,
    pub image_size: u64,
    pub bundled_size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("the part size must be at least one byte")]
    PartSize,
    #[error("{0} is not a file name to bundle")]
    ImageName(PathBuf),
    #[error("cannot read the image {path}: {source}")]
    Image { path: PathBuf, source: io::Error },
    #[error("cannot write the bundle into {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cryptography failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

/// Bundles `spec.image` into `spec.destination`: the parts first, the manifest last, so a
/// manifest is never there before its parts are.
pub fn create(spec: &BundleSpec<'_>) -> Result<Bundle, CreateError> {
    if spec.part_size == 0 {
        return Err(CreateError::PartSize);
    }
    let name = spec
        .image
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| CreateError::ImageName(spec.image.to_owned()))?;
    let prefix = spec.prefix.unwrap_or(name);
    let write_error = |source| CreateError::Write {
        path: spec.destination.to_owned(),
        source,
    };
    let read_error = |source| CreateError::Image {
        path: spec.image.to_owned(),
        source,
    };
    std::fs::create_dir_all(spec.destination).map_err(write_error)?;
    let image = File::open(spec.image).map_err(read_error)?;
    let metadata = image.metadata().map_err(read_error)?;

    let key = ImageKey::generate()?;
    let parts = PartsWriter::new(spec.destination, prefix, spec.part_size);
    let encrypt = EncryptWriter::new(parts, &key).map_err(write_error)?;
    let gzip = GzEncoder::new(encrypt, flate2::Compression::default());
    let mut tar = tar::Builder::new(Sha1Writer::new(gzip));
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(metadata.len());
    header.set_mode(0o644);
    header.set_mtime(
        metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs()),
    );
    // tar reads the image and writes the bundle: an error may come from either side.
    tar.append_data(&mut header, name, image)
        .map_err(|source| CreateError::Image {
            path: spec.image.to_owned(),
            source,
        })?;
    let (gzip, image_digest) = tar.into_inner().map_err(write_error)?.into_parts();
    let parts = gzip
        .finish()
        .and_then(EncryptWriter::finish)
        .and_then(PartsWriter::finish)
        .map_err(write_error)?;

    let user_sealed = key.seal(spec.user_certificate)?;
    let cloud_sealed = key.seal(spec.cloud_certificate)?;
    let manifest = ManifestText {
        spec,
        name,
        image_digest,
        image_size: metadata.len(),
        bundled_size: parts.total,
        cloud_sealed: &cloud_sealed,
        user_sealed: &user_sealed,
        parts: &parts.written,
    }
    .render()?;
    let manifest_path = spec.destination.join(format!("{prefix}.manifest.xml"));
    std::fs::write(&manifest_path, manifest).map_err(write_error)?;
    Ok(Bundle {
        manifest: manifest_path,
        parts: parts
            .written
            .iter()
            .map(|(name, _)| spec.destination.join(name))
            .collect(),
        image_size: metadata.len(),
        bundled_size: parts.total,
    })
}

/// What the manifest says, rendered as minidom's `toxml()` renders euca2ools' manifest: no
/// whitespace between elements, so that the signed text is easy to cut out again.
struct ManifestText<'a> {
    spec: &'a BundleSpec<'a>,
    name: &'a str,
    image_digest: Sha1Digest,
    image_size: u64,
    bundled_size: u64,
    cloud_sealed: &'a super::SealedKey,
    user_sealed: &'a super::SealedKey,
    parts: &'a [(String, Sha1Digest)],
}

impl ManifestText<'_> {
    fn render(&self) -> Result<String, openssl::error::ErrorStack> {
        let spec = self.spec;
        let mut machine = String::from("<machine_configuration>");
        element(&mut machine, "architecture", "", spec.architecture);
        if let Some(kernel) = spec.kernel_id {
            element(&mut machine, "kernel_id", "", kernel);
        }
        if let Some(ramdisk) = spec.ramdisk_id {
            element(&mut machine, "ramdisk_id", "", ramdisk);
        }
        machine.push_str("</machine_configuration>");

        let aes = r#" algorithm="AES-128-CBC""#;
        let sha1 = r#" algorithm="SHA1""#;
        let mut image = String::from("<image>");
        element(&mut image, "name", "", self.name);
        element(&mut image, "user", "", spec.user);
        element(&mut image, "type", "", "machine");
        element(&mut image, "digest", sha1, &hex(&self.image_digest));
        element(&mut image, "size", "", &self.image_size.to_string());
        element(
            &mut image,
            "bundled_size",
            "",
            &self.bundled_size.to_string(),
        );
        element(
            &mut image,
            "ec2_encrypted_key",
            aes,
            &hex(&self.cloud_sealed.key),
        );
        element(
            &mut image,
            "user_encrypted_key",
            aes,
            &hex(&self.user_sealed.key),
        );
        element(
            &mut image,
            "ec2_encrypted_iv",
            "",
            &hex(&self.cloud_sealed.iv),
        );
        element(
            &mut image,
            "user_encrypted_iv",
            "",
            &hex(&self.user_sealed.iv),
        );
        image.push_str(&format!(r#"<parts count="{}">"#, self.parts.len()));
        for (index, (file, digest)) in self.parts.iter().enumerate() {
            image.push_str(&format!(r#"<part index="{index}">"#));
            element(&mut image, "filename", "", file);
            element(&mut image, "digest", sha1, &hex(digest));
            image.push_str("</part>");
        }
        image.push_str("</parts></image>");

        let mut signer = Signer::new(MessageDigest::sha1(), spec.user_key)?;
        signer.update(machine.as_bytes())?;
        signer.update(image.as_bytes())?;
        let signature = hex(&signer.sign_to_vec()?);

        let version = env!("CARGO_PKG_VERSION");
        Ok(format!(
            "<?xml version=\"1.0\" ?><manifest><version>{MANIFEST_VERSION}</version>\
             <bundler><name>eucalyptus-rs</name><version>{version}</version>\
             <release>{version}</release></bundler>{machine}{image}\
             <signature>{signature}</signature></manifest>"
        ))
    }
}

/// Appends `<name attributes>text</name>`, the text escaped.
fn element(out: &mut String, name: &str, attributes: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push_str(attributes);
    out.push('>');
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Splits what is written into `<prefix>.part.NN` files of `part_size` bytes (the last one
/// shorter), hashing each.
struct PartsWriter {
    directory: PathBuf,
    prefix: String,
    part_size: u64,
    current: Option<(BufWriter<File>, Sha1, u64)>,
    written: Vec<(String, Sha1Digest)>,
    total: u64,
}

/// What [`PartsWriter::finish`] leaves: the parts' names and digests, and their total size.
struct WrittenParts {
    written: Vec<(String, Sha1Digest)>,
    total: u64,
}

impl PartsWriter {
    fn new(directory: &Path, prefix: &str, part_size: u64) -> Self {
        Self {
            directory: directory.to_owned(),
            prefix: prefix.to_owned(),
            part_size,
            current: None,
            written: Vec::new(),
            total: 0,
        }
    }

    fn part_name(&self, index: usize) -> String {
        format!("{}.part.{index:02}", self.prefix)
    }

    fn close_current(&mut self) -> io::Result<()> {
        if let Some((mut file, hasher, _)) = self.current.take() {
            file.flush()?;
            let name = self.part_name(self.written.len());
            self.written.push((name, hasher.finish()));
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<WrittenParts> {
        self.close_current()?;
        Ok(WrittenParts {
            written: self.written,
            total: self.total,
        })
    }
}

impl Write for PartsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self
            .current
            .as_ref()
            .is_some_and(|(_, _, size)| *size == self.part_size)
        {
            self.close_current()?;
        }
        let (file, hasher, size) = match &mut self.current {
            Some(current) => current,
            None => {
                let path = self.directory.join(self.part_name(self.written.len()));
                let file = BufWriter::new(File::create(path)?);
                self.current.insert((file, Sha1::new(), 0))
            }
        };
        let room = usize::try_from(self.part_size - *size).unwrap_or(usize::MAX);
        let n = file.write(&buf[..buf.len().min(room)])?;
        hasher.update(&buf[..n]);
        *size += n as u64;
        self.total += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.current {
            Some((file, _, _)) => file.flush(),
            None => Ok(()),
        }
    }
}

//! The manifest of an image bundle, as `euca-bundle-image` writes it.
//!
//! ```text
//! <manifest><version/><bundler/>
//!   <machine_configuration><architecture/>[<kernel_id/>][<ramdisk_id/>]</machine_configuration>
//!   <image><name/><user/><type/><digest algorithm="SHA1"/><size/><bundled_size/>
//!     <ec2_encrypted_key algorithm="AES-128-CBC"/><user_encrypted_key/>
//!     <ec2_encrypted_iv/><user_encrypted_iv/>
//!     <parts count="N"><part index="0"><filename/><digest algorithm="SHA1"/></part>...</parts>
//!   </image>
//!   <signature/>
//! </manifest>
//! ```
//!
//! The user signs (RSA, SHA1) the text of the `<machine_configuration>` element followed by the
//! text of the `<image>` element, each cut from the manifest where its start tag first occurs
//! (euca2ools' `get_verification_string`). A signature over text invites wrapping attacks (a
//! signed copy in a comment, the real element elsewhere), so the cut text is parsed as well and
//! must say exactly what the elements of the document say.

use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;
use xmlbind::{Element, Limits, XmlError};

use crate::digest::from_hex;

/// A SHA1 digest.
pub type Sha1Digest = [u8; 20];

/// Most parts a bundle may have: 10 000 parts of euca2ools' 10 MiB are 100 GB.
pub const MAX_PARTS: usize = 10_000;

/// Manifests are small (about 150 bytes a part); these bounds leave room for any real one.
const LIMITS: Limits = Limits {
    max_bytes: 4 << 20,
    max_depth: 16,
    max_attributes: 16,
    max_nodes: 20 * MAX_PARTS + 1_000,
    max_text: 64 << 10,
};

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the manifest is not UTF-8 text")]
    NotUtf8,
    #[error("the manifest is not acceptable XML: {0}")]
    Xml(#[from] XmlError),
    #[error("the document element is {0}, not manifest")]
    NotManifest(String),
    #[error("the manifest lacks <{0}>")]
    Missing(&'static str),
    #[error("<{0}> occurs more than once")]
    Duplicate(&'static str),
    #[error("invalid <{element}>: {reason}")]
    Invalid {
        element: &'static str,
        reason: String,
    },
    #[error("the signed text of <{0}> cannot be found")]
    SignedTextMissing(&'static str),
    #[error("the signed text of the manifest does not match its elements")]
    SignedTextMismatch,
}

fn invalid(element: &'static str, reason: impl Into<String>) -> ManifestError {
    ManifestError::Invalid {
        element,
        reason: reason.into(),
    }
}

/// A parsed, structurally checked manifest. Its signature is checked separately
/// ([`Manifest::is_signed_by`]), against certificates only the caller knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub machine: MachineConfiguration,
    pub image: Image,
    pub signature: Vec<u8>,
    signed_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MachineConfiguration {
    pub architecture: Option<String>,
    pub kernel_id: Option<String>,
    pub ramdisk_id: Option<String>,
}

/// The `<image>` element: what the bundle holds and how to open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// File name of the image inside the bundle's tar stream.
    pub name: String,
    /// Account of the user who bundled it.
    pub user: String,
    /// `machine`, `kernel` or `ramdisk`.
    pub kind: String,
    /// SHA1 of the uncompressed tar stream.
    pub digest: Sha1Digest,
    /// Size of the image file.
    pub size: u64,
    /// Size of the encrypted stream: all parts together.
    pub bundled_size: u64,
    /// The AES key and IV, as ASCII hex, each RSA-encrypted to the cloud's certificate.
    pub ec2_encrypted_key: Vec<u8>,
    pub ec2_encrypted_iv: Vec<u8>,
    /// The same, encrypted to the user's certificate (unused by the cloud).
    pub user_encrypted_key: Option<Vec<u8>>,
    pub user_encrypted_iv: Option<Vec<u8>>,
    pub parts: Vec<Part>,
}

/// One file of the encrypted stream, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Name of the part's file (object key relative to the manifest's).
    pub filename: String,
    /// SHA1 of the encrypted bytes of this part.
    pub digest: Sha1Digest,
}

impl Manifest {
    /// Parses and checks a manifest from its bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ManifestError::NotUtf8)?;
        let root = xmlbind::parse(bytes, &LIMITS)?;
        if !root.name.is(None, "manifest") {
            return Err(ManifestError::NotManifest(root.name.expanded()));
        }
        let fields = Fields::of(&root);
        let machine = MachineConfiguration::read(fields.required("machine_configuration")?)?;
        let image = Image::read(fields.required("image")?)?;
        let signature = hex_field(fields.required("signature")?, "signature")?;

        let signed_machine = signed_region(text, "machine_configuration")?;
        let signed_image = signed_region(text, "image")?;
        let fragment = |text: &str| xmlbind::parse(text.as_bytes(), &LIMITS);
        if MachineConfiguration::read(&fragment(signed_machine)?)? != machine
            || Image::read(&fragment(signed_image)?)? != image
        {
            return Err(ManifestError::SignedTextMismatch);
        }
        Ok(Self {
            machine,
            image,
            signature,
            signed_text: format!("{signed_machine}{signed_image}"),
        })
    }

    /// The text the user signed: `<machine_configuration>…</machine_configuration><image>…</image>`.
    pub fn signed_text(&self) -> &str {
        &self.signed_text
    }

    /// Whether `certificate`'s key made the manifest's signature (RSA PKCS#1 v1.5, SHA1).
    pub fn is_signed_by(&self, certificate: &X509) -> bool {
        let verified = || -> Result<bool, openssl::error::ErrorStack> {
            let key = certificate.public_key()?;
            let mut verifier = Verifier::new(MessageDigest::sha1(), &key)?;
            verifier.update(self.signed_text.as_bytes())?;
            verifier.verify(&self.signature)
        };
        verified().unwrap_or(false)
    }
}

impl MachineConfiguration {
    fn read(element: &Element) -> Result<Self, ManifestError> {
        let fields = Fields::of(element);
        Ok(Self {
            architecture: fields.optional_text("architecture")?,
            kernel_id: fields.optional_text("kernel_id")?,
            ramdisk_id: fields.optional_text("ramdisk_id")?,
        })
    }
}

impl Image {
    fn read(element: &Element) -> Result<Self, ManifestError> {
        let fields = Fields::of(element);
        let name = fields.required_text("name")?;
        if name.is_empty() {
            return Err(invalid("name", "empty"));
        }
        let digest_element = fields.required("digest")?;
        check_algorithm(digest_element, "digest", "SHA1")?;
        let key_element = fields.required("ec2_encrypted_key")?;
        check_algorithm(key_element, "ec2_encrypted_key", "AES-128-CBC")?;
        Ok(Self {
            name,
            user: fields.required_text("user")?,
            kind: fields
                .optional_text("type")?
                .unwrap_or_else(|| "machine".to_owned()),
            digest: sha1_field(digest_element, "digest")?,
            size: number_field(fields.required("size")?, "size")?,
            bundled_size: number_field(fields.required("bundled_size")?, "bundled_size")?,
            ec2_encrypted_key: hex_field(key_element, "ec2_encrypted_key")?,
            ec2_encrypted_iv: hex_field(fields.required("ec2_encrypted_iv")?, "ec2_encrypted_iv")?,
            user_encrypted_key: fields
                .optional("user_encrypted_key")?
                .map(|e| hex_field(e, "user_encrypted_key"))
                .transpose()?,
            user_encrypted_iv: fields
                .optional("user_encrypted_iv")?
                .map(|e| hex_field(e, "user_encrypted_iv"))
                .transpose()?,
            parts: read_parts(fields.required("parts")?)?,
        })
    }
}

fn read_parts(parts: &Element) -> Result<Vec<Part>, ManifestError> {
    let mut out = Vec::new();
    for (position, part) in parts
        .elements()
        .filter(|e| e.name.is(None, "part"))
        .enumerate()
    {
        if out.len() == MAX_PARTS {
            return Err(invalid("parts", format!("more than {MAX_PARTS} parts")));
        }
        // Parts are concatenated in document order; an index, when given, must agree.
        if let Some(index) = part.attribute(None, "index") {
            if index.trim().parse::<usize>().ok() != Some(position) {
                return Err(invalid(
                    "part",
                    format!("index {index:?} at position {position}"),
                ));
            }
        }
        let fields = Fields::of(part);
        let filename = fields.required_text("filename")?;
        check_filename(&filename)?;
        let digest = fields.required("digest")?;
        check_algorithm(digest, "digest", "SHA1")?;
        out.push(Part {
            filename,
            digest: sha1_field(digest, "digest")?,
        });
    }
    if out.is_empty() {
        return Err(invalid("parts", "no part"));
    }
    if let Some(count) = parts.attribute(None, "count") {
        if count.trim().parse::<usize>().ok() != Some(out.len()) {
            return Err(invalid(
                "parts",
                format!("count {count:?} but {} parts", out.len()),
            ));
        }
    }
    Ok(out)
}

/// Part names are plain file names: they become object keys next to the manifest's, so
/// nothing that could climb out of that place or confuse a path is accepted.
fn check_filename(name: &str) -> Result<(), ManifestError> {
    let bad = name.is_empty()
        || name.len() > 1024
        || name == "."
        || name == ".."
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control);
    if bad {
        return Err(invalid(
            "filename",
            format!("{name:?} is not a plain file name"),
        ));
    }
    Ok(())
}

/// The text from `<name>` to the first `</name>` after it.
fn signed_region<'t>(text: &'t str, name: &'static str) -> Result<&'t str, ManifestError> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text
        .find(&open)
        .ok_or(ManifestError::SignedTextMissing(name))?;
    let end = text[start..]
        .find(&close)
        .ok_or(ManifestError::SignedTextMissing(name))?;
    Ok(&text[start..start + end + close.len()])
}

fn check_algorithm(
    element: &Element,
    name: &'static str,
    expected: &str,
) -> Result<(), ManifestError> {
    match element.attribute(None, "algorithm") {
        Some(a) if !a.trim().eq_ignore_ascii_case(expected) => Err(invalid(
            name,
            format!("algorithm {a:?} is not supported, only {expected}"),
        )),
        _ => Ok(()),
    }
}

fn text_of(element: &Element, name: &'static str) -> Result<String, ManifestError> {
    element
        .text()
        .map(|t| t.trim().to_owned())
        .map_err(|_| invalid(name, "holds elements, not text"))
}

fn hex_field(element: &Element, name: &'static str) -> Result<Vec<u8>, ManifestError> {
    match from_hex(&text_of(element, name)?) {
        Some(bytes) if !bytes.is_empty() => Ok(bytes),
        _ => Err(invalid(name, "not hexadecimal")),
    }
}

fn sha1_field(element: &Element, name: &'static str) -> Result<Sha1Digest, ManifestError> {
    hex_field(element, name)?
        .try_into()
        .map_err(|_| invalid(name, "not a SHA1 digest"))
}

fn number_field(element: &Element, name: &'static str) -> Result<u64, ManifestError> {
    let text = text_of(element, name)?;
    text.parse()
        .map_err(|_| invalid(name, format!("{text:?} is not a size")))
}

/// The children of an element without a namespace, by name: each may occur once; others
/// (euca2ools writes `ancestry`, `block_device_mapping`, `product_codes`...) are ignored.
struct Fields<'a> {
    children: Vec<&'a Element>,
}

impl<'a> Fields<'a> {
    fn of(element: &'a Element) -> Self {
        Self {
            children: element
                .elements()
                .filter(|e| e.name.namespace.is_none())
                .collect(),
        }
    }

    fn optional(&self, name: &'static str) -> Result<Option<&'a Element>, ManifestError> {
        let mut found = self.children.iter().filter(|e| e.name.local == name);
        match (found.next(), found.next()) {
            (_, Some(_)) => Err(ManifestError::Duplicate(name)),
            (first, None) => Ok(first.copied()),
        }
    }

    fn required(&self, name: &'static str) -> Result<&'a Element, ManifestError> {
        self.optional(name)?.ok_or(ManifestError::Missing(name))
    }

    fn optional_text(&self, name: &'static str) -> Result<Option<String>, ManifestError> {
        self.optional(name)?.map(|e| text_of(e, name)).transpose()
    }

    fn required_text(&self, name: &'static str) -> Result<String, ManifestError> {
        text_of(self.required(name)?, name)
    }
}

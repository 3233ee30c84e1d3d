//! Bundles made here and opened again, and every way a damaged one must be refused.

use std::collections::HashMap;
use std::io::{self, Cursor, Write};

use soap::keys::KeyPair;

use super::create::{create, Bundle, BundleSpec};
use super::stream::EncryptWriter;
use super::*;

/// A user and a cloud key pair, made once: RSA key generation is slow.
fn keys() -> &'static (KeyPair, KeyPair) {
    static KEYS: std::sync::OnceLock<(KeyPair, KeyPair)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        (
            KeyPair::generate("user").unwrap(),
            KeyPair::generate("cloud").unwrap(),
        )
    })
}

/// Bytes that hardly compress (a linear congruential sequence) with runs of zeros, as disk
/// images have.
fn image_bytes(len: usize) -> Vec<u8> {
    let mut state: u32 = 12345;
    (0..len)
        .map(|i| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            if i % 8192 < 1024 {
                0
            } else {
                (state >> 16) as u8
            }
        })
        .collect()
}

struct Made {
    _dir: tempfile::TempDir,
    bundle: Bundle,
    manifest_text: String,
    original: Vec<u8>,
}

fn make(len: usize, part_size: u64) -> Made {
    let (user, cloud) = keys();
    let dir = tempfile::tempdir().unwrap();
    let image_path = dir.path().join("disk.img");
    let original = image_bytes(len);
    std::fs::write(&image_path, &original).unwrap();
    let bundle = create(&BundleSpec {
        image: &image_path,
        destination: &dir.path().join("out"),
        prefix: None,
        part_size,
        user: "000100729354",
        architecture: "x86_64",
        kernel_id: Some("eki-12345678"),
        ramdisk_id: None,
        user_certificate: &user.certificate,
        user_key: &user.private_key,
        cloud_certificate: &cloud.certificate,
    })
    .unwrap();
    let manifest_text = std::fs::read_to_string(&bundle.manifest).unwrap();
    Made {
        _dir: dir,
        bundle,
        manifest_text,
        original,
    }
}

impl Made {
    fn manifest(&self) -> Manifest {
        Manifest::parse(self.manifest_text.as_bytes()).unwrap()
    }

    fn open_parts(&self) -> impl FnMut(&Part) -> io::Result<std::fs::File> + '_ {
        let dir = self.bundle.manifest.parent().unwrap().to_owned();
        move |part| std::fs::File::open(dir.join(&part.filename))
    }

    fn unbundle(&self, image: &Image) -> Result<Vec<u8>, UnbundleError> {
        let key = ImageKey::open(image, &keys().1.private_key).unwrap();
        let mut out = Vec::new();
        let size = unbundle(image, &key, self.open_parts(), &mut out)?;
        assert_eq!(size, out.len() as u64);
        Ok(out)
    }
}

#[test]
fn a_bundle_made_here_opens_to_the_original_bytes() {
    let made = make(300_000, 64 << 10);
    let manifest = made.manifest();
    assert!(manifest.image.parts.len() > 1, "several parts expected");
    assert_eq!(made.bundle.parts.len(), manifest.image.parts.len());
    assert_eq!(manifest.image.name, "disk.img");
    assert_eq!(manifest.image.size, 300_000);
    assert_eq!(manifest.machine.kernel_id.as_deref(), Some("eki-12345678"));
    assert_eq!(manifest.image.parts[1].filename, "disk.img.part.01");
    assert_eq!(made.unbundle(&manifest.image).unwrap(), made.original);
}

#[test]
fn an_empty_image_round_trips() {
    let made = make(0, super::create::DEFAULT_PART_SIZE);
    assert_eq!(
        made.unbundle(&made.manifest().image).unwrap(),
        Vec::<u8>::new()
    );
}

#[test]
fn the_signature_is_the_users_over_the_signed_text() {
    let made = make(1000, 512);
    let manifest = made.manifest();
    let (user, cloud) = keys();
    assert!(manifest.is_signed_by(&user.certificate));
    assert!(!manifest.is_signed_by(&cloud.certificate));
    assert!(manifest
        .signed_text()
        .starts_with("<machine_configuration>"));
    assert!(manifest.signed_text().ends_with("</image>"));

    // Any change to a signed element breaks the signature.
    let changed = made.manifest_text.replace("x86_64", "i386");
    assert!(!Manifest::parse(changed.as_bytes())
        .unwrap()
        .is_signed_by(&user.certificate));
}

/// Guards against signature wrapping: a signed copy of <image> in a comment, a different one
/// in the document.
#[test]
fn a_signed_copy_beside_different_elements_is_refused() {
    let made = make(1000, 512);
    let text = &made.manifest_text;
    let start = text.find("<image>").unwrap();
    let end = text.find("</image>").unwrap() + "</image>".len();
    let signed = &text[start..end];
    let forged = signed.replace("<size>1000</size>", "<size>999</size>");
    let wrapped = format!("{}<!--{signed}-->{forged}{}", &text[..start], &text[end..]);
    assert!(matches!(
        Manifest::parse(wrapped.as_bytes()),
        Err(ManifestError::SignedTextMismatch)
    ));
}

#[test]
fn malformed_manifests_are_refused() {
    let made = make(1000, 512);
    let text = &made.manifest_text;
    let name = &made.manifest().image.parts[0].filename;
    let cases: Vec<(&str, String)> = vec![
        (
            "doctype",
            format!(
                "<!DOCTYPE manifest>{}",
                text.replace("<?xml version=\"1.0\" ?>", "")
            ),
        ),
        ("part path", text.replace(&format!(">{name}<"), ">../x<")),
        (
            "part count",
            text.replacen("<parts count=\"", "<parts count=\"9", 1),
        ),
        ("duplicate", text.replace("<user>", "<user>x</user><user>")),
        (
            "missing",
            text.replace("<bundled_size>", "<bundled>")
                .replace("</bundled_size>", "</bundled>"),
        ),
        (
            "digest algorithm",
            text.replacen("algorithm=\"SHA1\"", "algorithm=\"MD5\"", 1),
        ),
        (
            "not hex",
            text.replacen("<ec2_encrypted_iv>", "<ec2_encrypted_iv>zz", 1),
        ),
        (
            "root",
            text.replace("<manifest>", "<manifesto>")
                .replace("</manifest>", "</manifesto>"),
        ),
    ];
    for (what, bad) in cases {
        assert!(Manifest::parse(bad.as_bytes()).is_err(), "{what} accepted");
    }
}

#[test]
fn a_damaged_part_is_named() {
    let made = make(300_000, 64 << 10);
    let image = made.manifest().image;
    let victim = &made.bundle.parts[1];
    let mut bytes = std::fs::read(victim).unwrap();
    bytes[100] ^= 1;
    std::fs::write(victim, bytes).unwrap();
    match made.unbundle(&image) {
        Err(UnbundleError::PartDigest { filename }) => {
            assert_eq!(filename, image.parts[1].filename)
        }
        other => panic!("expected a part digest error, got {other:?}"),
    }
}

#[test]
fn a_missing_part_is_named() {
    let made = make(300_000, 64 << 10);
    let image = made.manifest().image;
    std::fs::remove_file(&made.bundle.parts[2]).unwrap();
    match made.unbundle(&image) {
        Err(UnbundleError::PartRead { filename, .. }) => {
            assert_eq!(filename, image.parts[2].filename)
        }
        other => panic!("expected a part read error, got {other:?}"),
    }
}

#[test]
fn sizes_and_digests_of_the_manifest_are_enforced() {
    let made = make(5000, 1024);
    let image = made.manifest().image;
    let changed = |f: &dyn Fn(&mut Image)| {
        let mut image = image.clone();
        f(&mut image);
        made.unbundle(&image)
    };
    assert!(matches!(
        changed(&|i| i.bundled_size -= 1),
        Err(UnbundleError::BundledSize { .. })
    ));
    assert!(matches!(
        changed(&|i| i.bundled_size += 1),
        Err(UnbundleError::BundledSize { .. })
    ));
    assert!(matches!(
        changed(&|i| i.digest = [0; 20]),
        Err(UnbundleError::ImageDigest)
    ));
    assert!(matches!(
        changed(&|i| i.size -= 1),
        Err(UnbundleError::ImageSize { .. })
    ));
    assert!(matches!(
        changed(&|i| i.size += 1),
        Err(UnbundleError::ImageSize { .. })
    ));
}

#[test]
fn only_the_cloud_key_opens_the_ec2_key() {
    let made = make(1000, 512);
    let image = made.manifest().image;
    assert!(ImageKey::open(&image, &keys().0.private_key).is_err());
    // A key that opens but is not the bundle's: the stream does not decrypt.
    let wrong = ImageKey::generate().unwrap();
    let mut out = Vec::new();
    assert!(matches!(
        unbundle(&image, &wrong, made.open_parts(), &mut out),
        Err(UnbundleError::Corrupt(_))
    ));
}

/// A bundle held in memory whose tar stream is `tar`, gzipped, followed by `trailing`.
fn sealed_stream(
    tar: &[u8],
    trailing: &[u8],
    size: u64,
) -> (Image, ImageKey, HashMap<String, Vec<u8>>) {
    let key = ImageKey::generate().unwrap();
    let mut encrypt = EncryptWriter::new(Vec::new(), &key).unwrap();
    encrypt.write_all(&gzip(tar)).unwrap();
    encrypt.write_all(trailing).unwrap();
    let encrypted = encrypt.finish().unwrap();
    let image = Image {
        name: "x".into(),
        user: "u".into(),
        kind: "machine".into(),
        digest: openssl::sha::sha1(tar),
        size,
        bundled_size: encrypted.len() as u64,
        ec2_encrypted_key: vec![1],
        ec2_encrypted_iv: vec![1],
        user_encrypted_key: None,
        user_encrypted_iv: None,
        parts: vec![Part {
            filename: "p.00".into(),
            digest: openssl::sha::sha1(&encrypted),
        }],
    };
    (image, key, HashMap::from([("p.00".to_owned(), encrypted)]))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn tar_of(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        if *kind == tar::EntryType::Symlink {
            header.set_link_name("/etc/passwd").unwrap();
        }
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn open_memory(
    parts: HashMap<String, Vec<u8>>,
) -> impl FnMut(&Part) -> io::Result<Cursor<Vec<u8>>> {
    move |part| Ok(Cursor::new(parts[&part.filename].clone()))
}

#[test]
fn the_tar_stream_must_hold_exactly_one_file() {
    let file = tar::EntryType::Regular;
    let cases: [(&str, Vec<u8>); 3] = [
        ("two files", tar_of(&[("a", file, b"1"), ("b", file, b"2")])),
        ("a symlink", tar_of(&[("a", tar::EntryType::Symlink, b"")])),
        ("nothing", tar_of(&[])),
    ];
    for (what, tar) in cases {
        let (image, key, parts) = sealed_stream(&tar, b"", 1);
        let result = unbundle(&image, &key, open_memory(parts), &mut Vec::new());
        assert!(
            matches!(result, Err(UnbundleError::Contents(_))),
            "{what}: {result:?}"
        );
    }
    // A directory beside the file is harmless.
    let tar = tar_of(&[("d", tar::EntryType::Directory, b""), ("a", file, b"xyz")]);
    let (image, key, parts) = sealed_stream(&tar, b"", 3);
    let mut out = Vec::new();
    unbundle(&image, &key, open_memory(parts), &mut out).unwrap();
    assert_eq!(out, b"xyz");
}

#[test]
fn nothing_may_follow_the_gzip_stream() {
    let tar = tar_of(&[("a", tar::EntryType::Regular, b"xyz")]);
    let (image, key, parts) = sealed_stream(&tar, b"trailing", 3);
    let result = unbundle(&image, &key, open_memory(parts), &mut Vec::new());
    assert!(
        matches!(result, Err(UnbundleError::Corrupt(_))),
        "{result:?}"
    );
}

#[test]
fn a_decompression_bomb_stops_at_the_manifest_size() {
    let big = vec![0u8; 1 << 20];
    let tar = tar_of(&[("a", tar::EntryType::Regular, &big)]);
    let (image, key, parts) = sealed_stream(&tar, b"", 1000);
    let mut out = Vec::new();
    let result = unbundle(&image, &key, open_memory(parts), &mut out);
    assert!(
        matches!(result, Err(UnbundleError::ImageSize { expected: 1000, .. })),
        "{result:?}"
    );
    assert!(out.len() <= 1000);
}

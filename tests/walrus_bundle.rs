//! Acceptance 6 of Walrus: a bundle made by our `euca bundle-image` and a real euca2ools 1.3.2
//! bundle are each decrypted to the exact original bytes, by the library and by a running
//! `euca walrus` answering GetDecryptedImage the way the original node controller asks.

#![allow(clippy::unwrap_used)]

mod common;
mod walrus_bundle_support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use openssl::pkey::{PKey, Private};
use walrus::bundle::{unbundle, ImageKey, Manifest};
use walrus_bundle_support::{asctime, http_date, now, Keys, Walrus};

/// The euca2ools sample with its TEST-ONLY keys, when the reference folder is there.
fn sample_dir() -> Option<PathBuf> {
    common::reference_dir().map(|r| r.join("samples/euca2ools-1.3.2-bundle"))
}

fn private_key(path: &Path) -> PKey<Private> {
    PKey::private_key_from_pem(&std::fs::read(path).unwrap()).unwrap()
}

/// Decrypts the bundle whose manifest is `manifest` with the library, parts read beside it.
fn decrypt_with_library(manifest: &Path, cloud_key: &Path) -> Vec<u8> {
    let manifest_bytes = std::fs::read(manifest).unwrap();
    let parsed = Manifest::parse(&manifest_bytes).unwrap();
    let key = ImageKey::open(&parsed.image, &private_key(cloud_key)).unwrap();
    let dir = manifest.parent().unwrap();
    let mut out = Vec::new();
    unbundle(
        &parsed.image,
        &key,
        |part| std::fs::File::open(dir.join(&part.filename)),
        &mut out,
    )
    .unwrap();
    out
}

/// Pseudo-random bytes (hardly compressible) with zero runs, `len` long.
fn image_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    openssl::rand::rand_bytes(&mut bytes).unwrap();
    for chunk in bytes.chunks_mut(64 << 10).step_by(3) {
        chunk.fill(0);
    }
    bytes
}

/// Bundles `image` with `euca bundle-image` into `out`; returns the manifest's path.
fn bundle_with_our_tool(
    keys: &Keys,
    user: &Path,
    image: &Path,
    out: &Path,
    part_size: u64,
) -> PathBuf {
    let output = common::launcher::euca()
        .args(["bundle-image", "-i"])
        .arg(image)
        .arg("-c")
        .arg(user.join("cert.pem"))
        .arg("-k")
        .arg(user.join("pk.pem"))
        .arg("--ec2cert")
        .arg(keys.file("cloud-cert.pem"))
        .arg("-d")
        .arg(out)
        .args([
            "-p",
            "ours",
            "-u",
            "0001-0072-9354",
            "--part-size",
            &part_size.to_string(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "euca bundle-image: {output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("ours.part.00"), "{stdout}");
    out.join("ours.manifest.xml")
}

/// A user's key pair as PEM files `cert.pem` and `pk.pem` in a directory of their own.
fn user_keys() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pair = soap::keys::KeyPair::generate("user").unwrap();
    std::fs::write(
        dir.path().join("cert.pem"),
        pair.certificate.to_pem().unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pk.pem"),
        pair.private_key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    dir
}

#[test]
fn the_real_euca2ools_bundle_decrypts_to_the_original() {
    let Some(sample) = sample_dir() else {
        println!("skipped: no reference");
        return;
    };
    let manifest =
        Manifest::parse(&std::fs::read(sample.join("small.img.manifest.xml")).unwrap()).unwrap();
    let user = soap::keys::load_certificate(&sample.join("cert.TEST-ONLY.pem")).unwrap();
    let cloud = soap::keys::load_certificate(&sample.join("cloud-cert.TEST-ONLY.pem")).unwrap();
    assert!(
        manifest.is_signed_by(&user),
        "the user's signature over the manifest"
    );
    assert!(!manifest.is_signed_by(&cloud));
    let image = decrypt_with_library(
        &sample.join("small.img.manifest.xml"),
        &sample.join("cloud-pk.TEST-ONLY.pem"),
    );
    assert_eq!(
        image,
        std::fs::read(sample.join("small.img.original")).unwrap()
    );
}

#[test]
fn a_bundle_made_by_our_tool_decrypts_to_the_original() {
    let keys = Keys::new();
    let user = user_keys();
    let work = tempfile::tempdir().unwrap();
    let original = image_bytes(700_000);
    let image = work.path().join("disk.img");
    std::fs::write(&image, &original).unwrap();
    let manifest_path = bundle_with_our_tool(
        &keys,
        user.path(),
        &image,
        &work.path().join("out"),
        100_000,
    );

    let text = std::fs::read_to_string(&manifest_path).unwrap();
    let manifest = Manifest::parse(text.as_bytes()).unwrap();
    assert!(manifest.image.parts.len() > 3, "several parts");
    assert_eq!(
        manifest.image.user, "000100729354",
        "dashes removed as euca-bundle-image does"
    );
    let certificate = soap::keys::load_certificate(&user.path().join("cert.pem")).unwrap();
    assert!(manifest.is_signed_by(&certificate));
    assert_eq!(
        decrypt_with_library(&manifest_path, &keys.file("cloud-pk.pem")),
        original
    );
}

/// The format is euca2ools': the tools' own way of reading a bundle — RSA-decrypting the
/// hex key with `openssl pkeyutl`, `openssl enc -d -aes-128-cbc`, `tar xzO` — opens ours.
#[test]
fn our_bundles_open_with_the_command_line_tools_euca2ools_uses() {
    let keys = Keys::new();
    let user = user_keys();
    let work = tempfile::tempdir().unwrap();
    let original = image_bytes(300_000);
    let image = work.path().join("disk.img");
    std::fs::write(&image, &original).unwrap();
    let out = work.path().join("out");
    let manifest_path = bundle_with_our_tool(&keys, user.path(), &image, &out, 50_000);
    let manifest = Manifest::parse(&std::fs::read(&manifest_path).unwrap()).unwrap();

    let rsa_open = |sealed: &[u8]| -> String {
        let sealed_path = work.path().join("sealed");
        std::fs::write(&sealed_path, sealed).unwrap();
        let out = Command::new("openssl")
            .args([
                "pkeyutl",
                "-decrypt",
                "-pkeyopt",
                "rsa_padding_mode:pkcs1",
                "-inkey",
            ])
            .arg(keys.file("cloud-pk.pem"))
            .arg("-in")
            .arg(&sealed_path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let key = rsa_open(&manifest.image.ec2_encrypted_key);
    let iv = rsa_open(&manifest.image.ec2_encrypted_iv);
    assert_eq!((key.len(), iv.len()), (32, 32), "32 hex digits each");

    let mut encrypted = Vec::new();
    for part in &manifest.image.parts {
        encrypted.extend(std::fs::read(out.join(&part.filename)).unwrap());
    }
    let plain = filter(
        &format!("openssl enc -d -aes-128-cbc -K {key} -iv {iv} | tar xzO"),
        &encrypted,
    );
    assert!(
        plain == original,
        "the tools' reading differs from the original"
    );
}

/// The output of the shell pipeline `command` fed `input`; it must succeed.
fn filter(command: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("sh")
        .args(["-c", command])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(output.status.success(), "{command} failed");
    output.stdout
}

/// Acceptance 6 through the server: both bundles, uploaded with S3 requests, come back
/// decrypted from GetDecryptedImage, byte for byte, the second time from the cache.
#[test]
fn get_decrypted_image_serves_both_bundles_byte_for_byte() {
    let keys = Keys::new();
    let user = user_keys();
    // The users whose manifests are trusted: ours and, when present, the sample's.
    std::fs::create_dir(keys.file("users")).unwrap();
    std::fs::copy(user.path().join("cert.pem"), keys.file("users/ours.pem")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let original = image_bytes(400_000);
    std::fs::write(work.path().join("disk.img"), &original).unwrap();
    let ours = bundle_with_our_tool(
        &keys,
        user.path(),
        &work.path().join("disk.img"),
        &work.path().join("ours"),
        64 << 10,
    );

    let walrus = Walrus::start(&keys, &[]);
    walrus.upload_dir("images", ours.parent().unwrap());
    let node_key = private_key(&keys.file("node-pk.pem"));
    let node_cert = keys.file("node-cert.pem");
    let path = "/services/Walrus/images/ours.manifest.xml";
    for _ in 0..2 {
        let (status, body) =
            walrus.get_decrypted_image(path, &node_key, &node_cert, asctime(now()));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert!(
            body == original,
            "the decrypted image differs from the original"
        );
    }
    // What the original NC asks for when it has zlib: the image gzipped.
    let (status, gzipped) = walrus.get_decrypted_image(
        &format!("{path}?IsCompressed=true"),
        &node_key,
        &node_cert,
        asctime(now()),
    );
    assert_eq!(status, 200);
    assert!(
        filter("gzip -dc", &gzipped) == original,
        "the gzipped image differs"
    );
    let cached = std::fs::read_dir(walrus.data.path().join("image-cache"))
        .unwrap()
        .count();
    assert_eq!(cached, 1, "one decrypted image in the cache");

    let Some(sample) = sample_dir() else {
        println!("skipped: no reference (the euca2ools sample bundle)");
        return;
    };
    // The sample was bundled for its own TEST-ONLY cloud key: a Walrus holding that key.
    let sample_keys = Keys::new();
    for (from, to) in [
        ("cloud-cert.TEST-ONLY.pem", "cloud-cert.pem"),
        ("cloud-pk.TEST-ONLY.pem", "cloud-pk.pem"),
    ] {
        std::fs::copy(sample.join(from), sample_keys.file(to)).unwrap();
    }
    std::fs::create_dir(sample_keys.file("users")).unwrap();
    std::fs::copy(
        sample.join("cert.TEST-ONLY.pem"),
        sample_keys.file("users/sample.pem"),
    )
    .unwrap();
    let walrus = Walrus::start(&sample_keys, &[]);
    walrus.upload_dir("sample", &sample);
    let (status, body) = walrus.get_decrypted_image(
        "/services/Walrus/sample/small.img.manifest.xml",
        &private_key(&sample_keys.file("node-pk.pem")),
        &sample_keys.file("node-cert.pem"),
        http_date(now()),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        body == std::fs::read(sample.join("small.img.original")).unwrap(),
        "the sample's image differs"
    );
}

/// Guards against serving images to anyone who is not a trusted node: another key (even
/// with its own certificate), an old date, a plain user, no signature.
#[test]
fn get_decrypted_image_refuses_untrusted_requests() {
    let keys = Keys::new();
    let user = user_keys();
    std::fs::create_dir(keys.file("users")).unwrap();
    std::fs::copy(user.path().join("cert.pem"), keys.file("users/ours.pem")).unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("disk.img"), image_bytes(10_000)).unwrap();
    let ours = bundle_with_our_tool(
        &keys,
        user.path(),
        &work.path().join("disk.img"),
        &work.path().join("ours"),
        1 << 20,
    );
    let walrus = Walrus::start(&keys, &[]);
    walrus.upload_dir("images", ours.parent().unwrap());
    let path = "/services/Walrus/images/ours.manifest.xml";

    let stranger = soap::keys::KeyPair::generate("node").unwrap();
    let stranger_cert = work.path().join("stranger.pem");
    std::fs::write(&stranger_cert, stranger.certificate.to_pem().unwrap()).unwrap();
    let node_key = private_key(&keys.file("node-pk.pem"));
    let cases = [
        (
            "another key and its certificate",
            walrus.get_decrypted_image(
                path,
                &stranger.private_key,
                &stranger_cert,
                http_date(now()),
            ),
        ),
        (
            "an hour-old date",
            walrus.get_decrypted_image(
                path,
                &node_key,
                &keys.file("node-cert.pem"),
                http_date(now() - 3600),
            ),
        ),
    ];
    for (what, (status, body)) in cases {
        assert_eq!(status, 403, "{what}");
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("<Code>AccessDenied</Code>"), "{what}: {text}");
    }
    // The operation header without a node signature, even from the administrator.
    let (status, _) = walrus.request(
        "GET",
        path,
        &[("EucaOperation", "GetDecryptedImage".into())],
        b"",
    );
    assert_eq!(status, 403);
}

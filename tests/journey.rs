//! The user journey of issue 14 against the components started one by one: a test-driver
//! node, a cluster in MANAGED-NOVLAN with a public address pool (`PUBLIC_IPS`), a real
//! Walrus on the cloud's users, a storage controller (files exported over NBD), and the
//! cloud. `euca admin image add-default` bundles, uploads and registers the default image;
//! the instances run from it fetch it from that Walrus (GetDecryptedImage). Then the same
//! journey against `euca up` on free ports, whose first start adds the default image itself.
//! `tests/py/journey.py` holds the clients' side: boto3, the AWS CLI and zeep over EC2 SOAP,
//! each configured from an eucarc alone.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;
mod up_support;

use std::path::PathBuf;
use std::process::Output;

use cloud_support::{admin, python, start_cloud};
use cluster_support::{free_port, Cc, Nodes, MANAGED_NOVLAN, PUBLIC_IPS};
use common::launcher::{euca, Component};

/// A whole cloud on loopback ports, its parts started one by one.
struct Cloud {
    // Dropped in reverse: the cloud first, the nodes last.
    clc: Component,
    walrus: Component,
    sc: Component,
    cc: Cc,
    nodes: Nodes,
    dir: tempfile::TempDir,
}

impl Cloud {
    /// Starts it, with the users `bob` besides the admin.
    fn start() -> Self {
        let nodes = Nodes::start(1);
        let dir = tempfile::tempdir().unwrap();
        let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", MANAGED_NOVLAN);
        // The eucarc files name Walrus' URL, so it is chosen before the cloud's first start
        // and Walrus, which reads the cloud's users (`--identity`), starts after it.
        let walrus_url = format!("http://127.0.0.1:{}/services/Walrus", free_port());
        let data = dir.path().join("clc");
        let cluster = format!("zone1={}", cc.url());
        let keys = nodes.keys.path();
        let mut command = euca();
        command
            .args(["storage", "--listen", "127.0.0.1:0", "--keys"])
            .arg(keys)
            .arg("--data")
            .arg(dir.path().join("sc"))
            .args([
                "--backend",
                "file",
                "--export",
                "nbd",
                "--walrus",
                &walrus_url,
            ]);
        let sc = Component::start(command, "storage controller")
            .unwrap_or_else(|log| panic!("euca storage did not become ready:\n{log}"));
        let clc = start_cloud(
            keys,
            &data,
            &[
                "--cluster",
                &cluster,
                "--walrus",
                &walrus_url,
                "--storage",
                &sc.url,
                "--tick",
                "1",
            ],
        );
        let listen = walrus_url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let mut command = euca();
        command
            .args(["walrus", "--listen", &listen, "--data"])
            .arg(dir.path().join("walrus"))
            .arg("--keys")
            .arg(keys)
            .arg("--identity")
            .arg(&data);
        let walrus = Component::start(command, "walrus")
            .unwrap_or_else(|log| panic!("euca walrus did not become ready:\n{log}"));
        admin(&data, &["user", "add", "bob"]);
        Self {
            clc,
            walrus,
            sc,
            cc,
            nodes,
            dir,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("clc")
    }

    /// A user's credentials folder.
    fn credentials(&self, user: &str) -> String {
        self.data()
            .join("credentials")
            .join(user)
            .display()
            .to_string()
    }

    /// Runs the Python `phase` with `args`; on failure, the components' logs.
    fn python(&self, phase: &str, args: &[&str]) -> String {
        let mut all = vec![phase];
        all.extend_from_slice(args);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| python("journey.py", &all)))
            .unwrap_or_else(|_| {
                panic!(
                    "cloud log:\n{}\nwalrus log:\n{}\nstorage log:\n{}\ncluster log:\n{}\nnode log:\n{}",
                    self.clc.log(),
                    self.walrus.log(),
                    self.sc.log(),
                    self.cc.log(),
                    self.nodes.nc(0).log()
                )
            })
    }
}

/// `euca ARGS...` with the variables of `user`'s eucarc set, as a shell that sourced it.
fn euca_as(cloud: &Cloud, user: &str, args: &[&str]) -> Output {
    let folder = PathBuf::from(cloud.credentials(user));
    let eucarc = std::fs::read_to_string(folder.join("eucarc")).unwrap();
    let mut command = euca();
    for (name, value) in eucarc
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
    {
        let value = value
            .trim_matches('\'')
            .replace("${EUCA_KEY_DIR}", &folder.display().to_string());
        command.env(name, value);
    }
    command.args(args).output().unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The ids `euca admin image add-default` printed: (emi, eki, eri).
fn default_image(out: &str) -> (String, String, String) {
    let field = |tag: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(tag)?.split('\t').nth(1))
            .unwrap_or_else(|| panic!("no {tag} line in:\n{out}"))
            .to_owned()
    };
    (field("IMAGE"), field("KERNEL"), field("RAMDISK"))
}

#[test]
fn upload_bundle_puts_the_parts_then_the_manifest_into_walrus_and_says_why_it_fails() {
    let cloud = Cloud::start();
    let work = cloud.dir.path().join("bundle");
    std::fs::create_dir_all(&work).unwrap();
    let image = work.join("disk.img");
    // Bytes gzip cannot shrink (xorshift), so the bundle is three parts of 100 KiB and a
    // last, shorter one.
    let mut state = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..350_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect();
    std::fs::write(&image, noise).unwrap();
    let work_arg = work.display().to_string();
    let image_arg = image.display().to_string();
    let bundled = euca_as(
        &cloud,
        "bob",
        &[
            "bundle-image",
            "-i",
            &image_arg,
            "-d",
            &work_arg,
            "--part-size",
            "102400",
        ],
    );
    assert!(bundled.status.success(), "{:?}", text(&bundled));
    let manifest = work.join("disk.img.manifest.xml").display().to_string();
    let upload = ["upload-bundle", "-b", "bob-images", "-m", &manifest];
    let uploaded = euca_as(&cloud, "bob", &upload);
    let (out, err) = text(&uploaded);
    assert!(uploaded.status.success(), "{out}\n{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "Bucket bob-images is ready",
            "Uploaded disk.img.part.00",
            "Uploaded disk.img.part.01",
            "Uploaded disk.img.part.02",
            "Uploaded disk.img.part.03",
            "Uploaded disk.img.manifest.xml",
            "Uploaded image as bob-images/disk.img.manifest.xml",
        ]
    );
    // Again into the same bucket: the user's own bucket is used as it is.
    let again = euca_as(&cloud, "bob", &upload);
    assert!(again.status.success(), "{:?}", text(&again));
    // The objects are the files, as boto3 reads them; the CLC registers the manifest.
    let bob = cloud.credentials("bob");
    cloud.python("uploaded", &[&bob, "bob-images", &work_arg]);

    // Each failure is one clear line, and nothing is left half-done silently.
    let failure = |user: &str, args: &[&str], expected: &str| {
        let out = euca_as(&cloud, user, args);
        let (stdout, stderr) = text(&out);
        assert!(!out.status.success(), "{stdout}");
        assert!(
            stderr.starts_with("euca upload-bundle: ") && stderr.contains(expected),
            "expected {expected:?} in {stderr:?}"
        );
    };
    // Another user's bucket.
    failure("admin", &upload, "BucketAlreadyExists");
    let wrong_secret = [
        "upload-bundle",
        "-b",
        "bob-2",
        "-m",
        &manifest,
        "-s",
        "wrong",
    ];
    failure("bob", &wrong_secret, "SignatureDoesNotMatch");
    let nowhere = [
        "upload-bundle",
        "-b",
        "bob-2",
        "-m",
        &manifest,
        "--url",
        "http://127.0.0.1:1/services/Walrus",
    ];
    failure(
        "bob",
        &nowhere,
        "cannot reach Walrus at http://127.0.0.1:1/services/Walrus",
    );
    let not_manifest = ["upload-bundle", "-b", "bob-2", "-m", &image_arg];
    failure("bob", &not_manifest, "is not a bundle manifest");
    std::fs::remove_file(work.join("disk.img.part.02")).unwrap();
    failure("bob", &upload, "disk.img.part.02");
}

#[test]
fn add_default_registers_a_public_image_once_and_the_journey_runs_it_with_boto3_the_cli_and_zeep() {
    let cloud = Cloud::start();
    let data = cloud.data();
    let first = admin(&data, &["image", "add-default"]);
    let (emi, eki, eri) = default_image(&first);
    assert!(
        first.contains(&format!("IMAGE\t{emi}\tregistered")),
        "{first}"
    );
    let second = admin(&data, &["image", "add-default"]);
    assert_eq!(
        default_image(&second),
        (emi.clone(), eki.clone(), eri.clone())
    );
    assert!(second.contains("already registered"), "{second}");
    // Half a source pair is refused before anything is done.
    let half = euca()
        .args(["admin", "--data"])
        .arg(&data)
        .args(["image", "add-default", "--kernel", "/nonexistent"])
        .output()
        .unwrap();
    assert!(!half.status.success());

    let (admin_dir, bob_dir) = (cloud.credentials("admin"), cloud.credentials("bob"));
    cloud.python(
        "journey",
        &[&admin_dir, &bob_dir, &emi, &eki, &eri, "zone1", PUBLIC_IPS],
    );
    let wsdl = soap_wsdl();
    cloud.python("soap", &[&bob_dir, &wsdl, &emi, "zone1", PUBLIC_IPS]);
    // The node had each part of the image from Walrus, decrypted (GetDecryptedImage).
    let log = cloud.walrus.log();
    for part in ["kernel", "ramdisk", "machine"] {
        let manifest = format!("manifest=euca-default-{part}.manifest.xml");
        assert!(
            log.lines()
                .any(|l| l.contains("serving a decrypted image") && l.contains(&manifest)),
            "Walrus served no {part}:\n{log}"
        );
    }
}

/// Our EC2 WSDL (the original's operations), which zeep loads for the journey over SOAP.
fn soap_wsdl() -> String {
    common::workspace_root()
        .join("wsdl/ec2_2009-04-04.wsdl")
        .display()
        .to_string()
}

#[test]
fn the_journey_runs_against_euca_up_with_the_image_it_added_on_its_first_start() {
    let home = tempfile::tempdir().unwrap();
    let cloud = up_support::Up::start(home.path());
    // `euca up` adds the default image after `cloud ready`, writing what add-default printed.
    let log = home.path().join("logs/add-default.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let added = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("RAMDISK\t") {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no default image within 60 s:\n{text}\n{}",
            cloud.up.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let (emi, eki, eri) = default_image(&added);
    admin(home.path(), &["user", "add", "bob"]);
    let admin_dir = cloud.admin_dir();
    let bob_dir = home.path().join("credentials/bob").display().to_string();
    let run = |script_args: &[&str]| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            python("journey.py", script_args)
        }))
        .unwrap_or_else(|_| panic!("euca up log:\n{}", cloud.up.log()));
    };
    // Its cluster is in SYSTEM mode: no public addresses.
    let zone = up::plan::CLUSTER_NAME;
    run(&[
        "journey", &admin_dir, &bob_dir, &emi, &eki, &eri, zone, "none",
    ]);
    run(&["soap", &bob_dir, &soap_wsdl(), &emi, zone, "none"]);
}

//! A real guest: the node controller boots the Debian cloud kernel with a busybox initramfs
//! (built by scripts/guest-image.sh from Debian packages) under QEMU through libvirt's
//! embedded QEMU driver, and the guest's boot messages come back through ncGetConsoleOutput.
//! Where QEMU or libvirt's QEMU driver is missing, the test says `skipped:` and why.

#![allow(clippy::unwrap_used)]

mod common;
mod node_support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use node_support::*;
use wire::nc::{NcGetConsoleOutputType, NcTerminateInstanceType};
use xmlbind::{Base64Binary, XmlText};

/// Builds (or finds, from an earlier run) the guest's kernel and initramfs.
fn guest_image() -> Result<(PathBuf, PathBuf), String> {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("guest-image");
    let script = common::workspace_root().join("scripts/guest-image.sh");
    let out = Command::new("sh")
        .arg(script)
        .arg(&cache)
        .output()
        .map_err(|e| format!("cannot run scripts/guest-image.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "scripts/guest-image.sh failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok((cache.join("vmlinuz"), cache.join("initramfs.gz")))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

async fn console(client: &NcClient, id: &str) -> String {
    let reply = client
        .nc_get_console_output(&NcGetConsoleOutputType {
            instance_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    String::from_utf8_lossy(&Base64Binary::from_text(&reply.console_output).unwrap().0).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_guest_boots_and_its_console_comes_back() {
    if !on_path("qemu-system-x86_64") {
        println!("skipped: qemu-system-x86_64 is not installed (scripts/setup.sh installs it)");
        return;
    }
    let (kernel, initramfs) = match guest_image() {
        Ok(files) => files,
        Err(reason) => {
            println!("skipped: no guest image: {reason}");
            return;
        }
    };

    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    // libvirt's QEMU driver inside the node's own process, rooted here: no daemon needed.
    let libvirt_root = data.path().join("libvirt");
    std::fs::create_dir_all(libvirt_root.join("etc")).unwrap();
    // QEMU writes its logs and the serial console itself (no virtlogd daemon), and, as
    // root, runs as root rather than as a "qemu" user that may not exist (which would also
    // make libvirt probe QEMU again on every start).
    let mut qemu_conf = String::from("stdio_handler = \"file\"\n");
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        qemu_conf.push_str("user = \"root\"\ngroup = \"root\"\n");
    }
    std::fs::write(libvirt_root.join("etc/qemu.conf"), qemu_conf).unwrap();
    let images = ImageServer::start();
    images.add("/kernel", Served::File(std::fs::read(kernel).unwrap()));
    images.add("/ramdisk", Served::File(std::fs::read(initramfs).unwrap()));
    // The initramfs never mounts a root file system; the disk is there as every instance's is.
    images.add("/image", Served::File(vec![0u8; 1 << 20]));

    let mut setup = NcSetup::test_driver(&keys, data.path())
        .set("HYPERVISOR", "kvm")
        .set("LIBVIRT_DOMAIN_TYPE", "qemu")
        .set("TEARDOWN_STATE_DURATION", "600");
    setup.flags = vec![format!(
        "--libvirt-uri=qemu:///embed?root={}",
        libvirt_root.display()
    )];
    let mut nc = match setup.try_start() {
        Ok(nc) => nc,
        Err(log) if log.contains("cannot connect to the hypervisor") => {
            let reason = log
                .lines()
                .find(|l| l.contains("cannot connect"))
                .unwrap_or_default();
            println!("skipped: libvirt's QEMU driver is not usable here: {reason}");
            return;
        }
        Err(log) => panic!("euca node did not start:\n{log}"),
    };
    let client = nc.client(&keys);

    let id = "i-9e570001";
    let started = Instant::now();
    client
        .nc_run_instance(&launch(&images, id, 256, 1, 1))
        .await
        .unwrap();

    let mut text = String::new();
    while !text.contains("EUCA-GUEST-READY") {
        let state = describe(&client, id).await.map(|i| i.state_name);
        assert_ne!(
            state.as_deref(),
            Some("Teardown"),
            "the launch failed:\n{}",
            nc.log()
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no boot marker after {:?}; console:\n{text}\nnode log:\n{}",
            started.elapsed(),
            nc.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        text = console(&client, id).await;
    }
    println!("guest ready after {:?}", started.elapsed());
    assert!(text.contains("EUCA-GUEST-BOOTED 6."), "{text}");
    // The guest read the keypair's key from its config disk.
    assert!(
        text.contains("EUCA-KEY: ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0test admin@cloud"),
        "{text}"
    );

    let reply = client
        .nc_terminate_instance(&NcTerminateInstanceType {
            instance_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(reply.shutdown_state.as_deref(), Some("15"));
    assert!(nc.log().contains("domain destroyed"), "{}", nc.log());
    assert!(nc.terminate().success(), "{}", nc.log());
}

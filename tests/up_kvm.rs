//! `euca up --hypervisor kvm` end to end: with the guest of scripts/guest-image.sh in
//! HOME/guest-image, `euca up` registers it as the default image on its first run, boto3
//! runs an instance of it to `running` through the front door, the console shows the guest's
//! boot, and TerminateInstances ends its QEMU process. Where QEMU or libvirt's QEMU driver
//! is missing (euca up's preflight refuses kvm), or the guest image cannot be built, the
//! test says `skipped:` and why. The guest runs under software emulation (TCG), as it must
//! on this machine kind.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod common;
mod up_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cloud_support::python;
use up_support::Up;

/// How long a terminated guest's QEMU may take to end.
const GUEST_END: Duration = Duration::from_secs(30);

/// The pids of QEMU processes whose command line names `root`.
fn guests_under(root: &Path) -> Vec<u32> {
    let root = root.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).into_owned();
            (cmdline.starts_with("qemu-system") || cmdline.contains("/qemu-system"))
                .then_some(())
                .filter(|()| cmdline.contains(&root))
                .map(|()| pid)
        })
        .collect()
}

/// Kills, when dropped, the QEMU processes left under a driver root: a failed test stops
/// `euca up` with SIGKILL, which leaves its guests running.
struct Leftovers(PathBuf);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for pid in guests_under(&self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

#[test]
fn euca_up_boots_the_default_image_under_qemu() {
    let Some((kernel, initramfs)) = common::guest::image_or_skip() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let guest = home.path().join("guest-image");
    std::fs::create_dir(&guest).unwrap();
    std::fs::copy(kernel, guest.join("vmlinuz")).unwrap();
    std::fs::copy(initramfs, guest.join("initramfs.gz")).unwrap();

    let root = home.path().join("node/libvirt");
    let _leftovers = Leftovers(root.clone());
    let mut cloud = match Up::try_start_with(home.path(), "kvm") {
        Ok(cloud) => cloud,
        // euca up's preflight refuses kvm without QEMU's libvirt driver.
        Err(log) if log.contains("--hypervisor kvm needs") => {
            let reason = log
                .lines()
                .find(|l| l.contains("needs"))
                .unwrap_or_default();
            println!("skipped: {reason}");
            return;
        }
        Err(log) => panic!("euca up did not become ready:\n{log}"),
    };
    let started = Instant::now();
    python("up_clients.py", &["guest", &cloud.admin_dir()]);
    println!(
        "the guest ran and booted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let registered = std::fs::read_to_string(home.path().join("logs/add-default.log")).unwrap();
    assert!(
        !registered.contains("stand-ins"),
        "the default image is not the guest of HOME/guest-image:\n{registered}"
    );

    let deadline = Instant::now() + GUEST_END;
    while !guests_under(&root).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the terminated guest's QEMU still runs: {:?}",
            guests_under(&root)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = cloud.up.terminate();
    assert!(status.success(), "{status:?}\n{}", cloud.up.log());
}

//! The small bootable guest of `scripts/guest-image.sh` (the Debian cloud kernel and a
//! busybox initramfs printing boot markers), built once into the target's temporary folder
//! and shared by the tests that boot it under QEMU.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds (or finds, from an earlier run) the guest: its kernel and initramfs.
pub fn image() -> Result<(PathBuf, PathBuf), String> {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("guest-image");
    let script = super::workspace_root().join("scripts/guest-image.sh");
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

/// The guest's kernel and initramfs when QEMU is installed and the guest can be built; else
/// `None`, having printed `skipped:` and why.
pub fn image_or_skip() -> Option<(PathBuf, PathBuf)> {
    if !on_path("qemu-system-x86_64") {
        println!("skipped: qemu-system-x86_64 is not installed (scripts/setup.sh installs it)");
        return None;
    }
    image()
        .map_err(|reason| println!("skipped: no guest image: {reason}"))
        .ok()
}

/// Whether `program` is a file in one of PATH's folders.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

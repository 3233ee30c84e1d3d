//! The NC's guests when the whole cloud stops. QEMU under libvirt's embedded driver runs
//! detached from the node controller (as it would under libvirtd), so a node that stops
//! leaves its guests running, on purpose: a restarted node finds them again. When `euca up`
//! stops the whole cloud, nothing is left to find them, so it ends the QEMU processes of its
//! own driver root (their command lines name files under it), and no other.

use std::io;
use std::path::Path;
use std::time::Duration;

use tracing::{info, warn};

/// How long guests may take to end after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(10);

/// Writes the embedded driver's `etc/qemu.conf` under `root`, unless the user already has
/// one: QEMU writes its log and the serial console itself, since no virtlogd daemon runs;
/// and, as root, runs guests as root, since a "qemu" user may not exist (and libvirt would
/// probe QEMU again on every start).
pub fn configure_driver(root: &Path) -> io::Result<()> {
    let conf = root.join("etc").join("qemu.conf");
    if conf.exists() {
        return Ok(());
    }
    let mut text = String::from("stdio_handler = \"file\"\n");
    if rustix::process::geteuid().is_root() {
        text.push_str("user = \"root\"\ngroup = \"root\"\n");
    }
    std::fs::write(conf, text)
}

/// Ends every process whose command line names a path under `root` (the embedded driver's).
pub async fn stop_all(root: &Path) {
    let root = root.to_owned();
    let pids = kit::blocking(move || guests_under(Path::new("/proc"), &root)).await;
    if pids.is_empty() {
        return;
    }
    info!(guests = pids.len(), "stopping the node's guests");
    signal_all(&pids, rustix::process::Signal::TERM);
    let deadline = tokio::time::Instant::now() + GRACE;
    while pids.iter().any(|&pid| running(pid)) {
        if tokio::time::Instant::now() > deadline {
            warn!("guests still running after SIGTERM: killed");
            signal_all(&pids, rustix::process::Signal::KILL);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signal_all(pids: &[i32], signal: rustix::process::Signal) {
    for pid in pids
        .iter()
        .filter_map(|&pid| rustix::process::Pid::from_raw(pid))
    {
        // Gone meanwhile is fine.
        let _ = rustix::process::kill_process(pid, signal);
    }
}

fn running(pid: i32) -> bool {
    rustix::process::Pid::from_raw(pid)
        .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok())
}

/// The pids under `proc` (a procfs) whose command line has an argument naming `root` or a
/// path under it.
fn guests_under(proc: &Path, root: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir(proc) else {
        return Vec::new();
    };
    let root = root.to_string_lossy().into_owned();
    let under = format!("{}/", root.trim_end_matches('/'));
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            cmdline
                .split(|&b| b == 0)
                .map(String::from_utf8_lossy)
                .any(|arg| arg.contains(&under) || arg.ends_with(&root))
                .then_some(pid)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_logs_without_a_daemon_and_a_users_conf_is_kept() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        configure_driver(root.path()).unwrap();
        let conf = root.path().join("etc/qemu.conf");
        let text = std::fs::read_to_string(&conf).unwrap();
        assert!(text.starts_with("stdio_handler = \"file\"\n"), "{text}");
        std::fs::write(&conf, "# mine\n").unwrap();
        configure_driver(root.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "# mine\n");
    }

    #[test]
    fn only_processes_naming_the_root_are_guests() {
        let proc = tempfile::tempdir().unwrap();
        let process = |pid: &str, args: &[&str]| {
            let dir = proc.path().join(pid);
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("cmdline"), args.join("\0")).unwrap();
        };
        process(
            "101",
            &[
                "qemu-system-x86_64",
                "-pidfile",
                "/srv/cloud/node/libvirt/run/qemu/d.pid",
            ],
        );
        process("102", &["qemu-system-x86_64", "-name", "guest=other"]);
        process("103", &["bash", "/srv/cloud/node/libvirt-other/x"]);
        process("self", &["not a pid"]);
        let found = guests_under(proc.path(), Path::new("/srv/cloud/node/libvirt"));
        assert_eq!(found, [101]);
    }
}

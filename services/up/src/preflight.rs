//! What must hold before anything starts, each problem with its fix: so that a cloud that
//! cannot come up leaves nothing half-started.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::plan::{Hypervisor, Plan, PORTS};
use crate::state::Record;

/// One reason the cloud cannot start here, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub fix: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n  fix: {}", self.what, self.fix)
    }
}

/// Every problem found, in the order they were checked.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct Refused(pub Vec<Problem>);

/// The hypervisor to use: the one asked for, or QEMU where it is installed, else the test
/// driver. Asking for kvm where QEMU is missing is a problem.
pub fn hypervisor(asked: Option<Hypervisor>) -> Result<Hypervisor, Problem> {
    let missing = qemu_missing();
    match (asked, missing) {
        (Some(Hypervisor::Kvm), Some(missing)) => Err(Problem {
            what: format!("--hypervisor kvm needs {missing}"),
            fix: "install it (sudo apt-get install qemu-system-x86 libvirt-daemon-driver-qemu, \
                  or scripts/setup.sh), or run the test driver with --hypervisor test"
                .into(),
        }),
        (Some(asked), _) => Ok(asked),
        (None, None) => Ok(Hypervisor::Kvm),
        (None, Some(_)) => Ok(Hypervisor::Test),
    }
}

/// What QEMU through libvirt's embedded driver lacks here, if anything.
fn qemu_missing() -> Option<&'static str> {
    let driver = ["/usr/lib", "/usr/lib64"].iter().any(|lib| {
        std::fs::read_dir(lib).is_ok_and(|entries| {
            entries.flatten().any(|entry| {
                entry
                    .path()
                    .join("libvirt/connection-driver/libvirt_driver_qemu.so")
                    .exists()
            }) || Path::new(lib)
                .join("libvirt/connection-driver/libvirt_driver_qemu.so")
                .exists()
        })
    });
    let qemu = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("qemu-system-x86_64").is_file())
    });
    match (driver, qemu) {
        (true, true) => None,
        (false, _) => Some("libvirt's QEMU driver (libvirt_driver_qemu.so)"),
        (true, false) => Some("qemu-system-x86_64"),
    }
}

/// Checks HOME, an earlier cloud still running from it, and the ports.
pub fn check(plan: &Plan) -> Result<(), Refused> {
    let mut problems = Vec::new();
    if let Err(problem) = writable(&plan.home) {
        problems.push(problem);
    } else if let Some(pid) = Record::read(&plan.home).ok().and_then(|r| r.running_pid()) {
        problems.push(Problem {
            what: format!(
                "a cloud from {} is already running (euca up, pid {pid})",
                plan.home.display()
            ),
            fix: format!("stop it first (kill -TERM {pid}), or use another --home"),
        });
    }
    for (addr, what) in plan.listeners() {
        if let Err(e) = TcpListener::bind(addr) {
            let fix = if e.kind() == std::io::ErrorKind::AddrNotAvailable {
                format!(
                    "--host {} is not an address of this machine: give one it has",
                    plan.host
                )
            } else {
                format!(
                    "stop what holds it (`ss -ltnp 'sport = :{}'` shows it), or choose other \
                     ports with --port-base P (the cloud takes P to P+{})",
                    addr.port(),
                    PORTS - 1
                )
            };
            problems.push(Problem {
                what: format!("cannot listen on {addr} for {what}: {e}"),
                fix,
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Refused(problems))
    }
}

/// HOME exists (created if need be) and this user can write in it.
fn writable(home: &Path) -> Result<(), Problem> {
    let problem = |e: std::io::Error| Problem {
        what: format!("cannot write in {}: {e}", home.display()),
        fix: "choose a folder this user may write with --home DIR, or give it this user \
              (sudo chown -R \"$USER\" DIR)"
            .into(),
    };
    std::fs::create_dir_all(home).map_err(problem)?;
    let probe: PathBuf = home.join(".euca-up-write-check");
    std::fs::write(&probe, b"").map_err(problem)?;
    std::fs::remove_file(&probe).map_err(problem)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_port_in_use_is_refused_with_the_fix() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = held.local_addr().unwrap().port();
        let home = tempfile::tempdir().unwrap();
        let plan = Plan::new(
            home.path().to_owned(),
            "127.0.0.1".parse().unwrap(),
            base,
            Hypervisor::Test,
        );
        let Refused(problems) = check(&plan).unwrap_err();
        assert!(
            problems[0].what.contains(&format!("127.0.0.1:{base}")),
            "{problems:?}"
        );
        assert!(problems[0].fix.contains("--port-base"), "{problems:?}");
    }

    #[test]
    fn a_home_under_a_file_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let home = file.path().join("cloud");
        let Problem { what, fix } = writable(&home).unwrap_err();
        assert!(what.contains("cannot write"), "{what}");
        assert!(fix.contains("--home"), "{fix}");
    }
}

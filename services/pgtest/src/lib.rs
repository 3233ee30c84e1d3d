//! A throwaway PostgreSQL server for tests, and a fresh database on it for each test.
//!
//! The first [`database`] call of a test process starts one server from Debian's
//! `postgresql` binaries (`/usr/lib/postgresql/*/bin`): a new cluster in a temp folder,
//! trust authentication, listening on a Unix socket in that folder only (no TCP port). Each
//! call then creates a database of its own on it. PostgreSQL refuses to run as root, so
//! under root the server runs as the `postgres` OS user the package creates (else `nobody`),
//! owning the folder.
//!
//! The server outlives no test process: a watchdog shell holds the read end of a pipe whose
//! write end only this process has; when the process ends, however it ends, the read sees
//! end-of-file and the watchdog stops the server and removes the folder.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Why the tests that need PostgreSQL cannot run here: its binaries are missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The superuser the cluster is made with; trust authentication on the private socket.
const SUPERUSER: &str = "postgres";

/// The running server of this process.
#[derive(Debug)]
struct Server {
    bin: PathBuf,
    /// The socket's folder, also the cluster's parent.
    dir: PathBuf,
    next: AtomicU32,
    /// The server and its watchdog, whose stdin closes only when this process ends, which
    /// stops the server (see the crate's doc).
    _processes: Mutex<[Child; 2]>,
}

/// A new, empty database on this process's server, as a `postgresql://` URL naming its
/// socket folder; `Err` only when PostgreSQL is not installed. Any other failure panics:
/// a test that needs the server must not pass without it.
pub fn database() -> Result<String, Skip> {
    static SERVER: OnceLock<Result<Server, Skip>> = OnceLock::new();
    let server = SERVER.get_or_init(start).as_ref().map_err(Clone::clone)?;
    let name = format!("test{}", server.next.fetch_add(1, Ordering::Relaxed));
    let out = Command::new(server.bin.join("createdb"))
        .arg("--host")
        .arg(&server.dir)
        .args(["--username", SUPERUSER, &name])
        .output()
        .expect("createdb runs");
    assert!(
        out.status.success(),
        "createdb {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(url(&server.dir, &name))
}

/// The URL of database `name` on the socket in `dir`.
fn url(dir: &Path, name: &str) -> String {
    format!("postgresql://{SUPERUSER}@/{name}?host={}", dir.display())
}

/// The newest installed server's binaries.
fn binaries() -> Result<PathBuf, Skip> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        Skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): run scripts/setup.sh".into())
    })
}

/// The OS user and group the server runs as: ourselves, or under root one that is not.
fn server_account() -> Option<(u32, u32)> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let id = |user: &str, flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, user]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    let account = ["postgres", "nobody"]
        .into_iter()
        .find_map(|user| Some((id(user, "-u")?, id(user, "-g")?)));
    assert!(
        account.is_some(),
        "running as root, and neither a postgres nor a nobody OS user exists to run PostgreSQL as"
    );
    account
}

fn start() -> Result<Server, Skip> {
    let bin = binaries()?;
    let dir = tempfile::Builder::new()
        .prefix("euca-pg-")
        .tempdir()
        .expect("a temp folder for PostgreSQL")
        .keep();
    let account = server_account();
    if let Some((uid, gid)) = account {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
            .expect("the server's folder is chowned");
    }
    let as_server = |program: &str| {
        let mut command = Command::new(bin.join(program));
        if let Some((uid, gid)) = account {
            command.uid(uid).gid(gid);
        }
        command
    };
    let data = dir.join("data");
    let out = as_server("initdb")
        .arg("--pgdata")
        .arg(&data)
        .args([
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-sync",
        ])
        .output()
        .expect("initdb runs");
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::File::create(dir.join("server.log")).expect("the server's log");
    if let Some((uid, gid)) = account {
        std::os::unix::fs::chown(dir.join("server.log"), Some(uid), Some(gid))
            .expect("the log is chowned");
    }
    // No TCP (`-h ''`), the socket in our folder; durability is not what these tests check.
    let server = as_server("postgres")
        .arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(&dir)
        .args(["-h", "", "-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off", "-c", "max_connections=400"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("the log again"))
        .stderr(log)
        .spawn()
        .expect("postgres starts");
    let watchdog = watch(server.id(), &dir);
    wait_ready(&bin, &dir);
    Ok(Server {
        bin,
        dir,
        next: AtomicU32::new(1),
        _processes: Mutex::new([server, watchdog]),
    })
}

/// Starts the watchdog of the server `pid` and its folder `dir`, set off by the end of its
/// stdin, a pipe the returned child holds.
fn watch(pid: u32, dir: &Path) -> Child {
    // Fast shutdown removes postmaster.pid; wait at most 10 s for it, then remove the folder.
    let script = r#"trap '' INT TERM HUP
while read -r _; do :; done
kill -INT "$1" 2>/dev/null
n=0
while [ -e "$2/data/postmaster.pid" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
rm -rf "$2""#;
    Command::new("sh")
        .args(["-c", script, "pgtest-watchdog"])
        .arg(pid.to_string())
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the watchdog starts")
}

fn wait_ready(bin: &Path, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .arg("--host")
            .arg(dir)
            .args(["--username", SUPERUSER, "--quiet"])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "PostgreSQL did not accept connections within 60 s; its log:\n{}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_database_is_new_and_reachable() {
        let (one, two) = match (database(), database()) {
            (Ok(one), Ok(two)) => (one, two),
            (Err(skip), _) | (_, Err(skip)) => return println!("skipped: {skip}"),
        };
        assert_ne!(one, two);
        let bin = binaries().expect("installed");
        let out = Command::new(bin.join("psql"))
            .arg(&two)
            .args([
                "--tuples-only",
                "--no-align",
                "--command",
                "SELECT current_database()",
            ])
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "{out:?}");
        assert!(
            two.contains(String::from_utf8_lossy(&out.stdout).trim()),
            "{out:?}"
        );
    }
}

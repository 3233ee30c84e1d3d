//! Helpers of the Walrus tests: the real `euca walrus` binary on an ephemeral port with a
//! temporary DATA, a moto S3 server as a remote store, and the Python scripts that drive
//! real S3 clients.

// Each test crate uses only some of these.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::launcher::{euca, euca_with_umask, Component};

/// A running `euca walrus`.
#[derive(Debug)]
pub struct Walrus {
    process: Component,
    pub data: PathBuf,
}

impl Walrus {
    /// Starts `euca walrus --listen 127.0.0.1:0 --data DATA` with `args` (and no keys unless
    /// they name `--keys`); waits until ready.
    pub fn start(data: &Path, args: &[&str]) -> Self {
        Self::launch(euca(), data, args)
    }

    /// As [`Walrus::start`], with the process's umask set to `umask` (octal) first.
    pub fn start_with_umask(data: &Path, args: &[&str], umask: &str) -> Self {
        Self::launch(euca_with_umask(umask), data, args)
    }

    fn launch(mut command: Command, data: &Path, args: &[&str]) -> Self {
        command
            .arg("walrus")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data")
            .arg(data);
        if !args.contains(&"--keys") {
            command.arg("--keys").arg(data.join("no-keys"));
        }
        command.args(args);
        let process = Component::start(command, "walrus")
            .unwrap_or_else(|log| panic!("euca walrus did not become ready:\n{log}"));
        Self {
            process,
            data: data.to_owned(),
        }
    }

    /// `http://127.0.0.1:PORT/services/Walrus`.
    pub fn url(&self) -> &str {
        &self.process.url
    }

    /// `host:port`.
    pub fn authority(&self) -> &str {
        self.process.authority()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Runs `tests/py/<script>` with `args` against it; fails the test with the script's
    /// output, and what Walrus logged, unless the script succeeded. The script's output.
    pub fn run_script(&self, script: &str, args: &[String]) -> Output {
        let output = run_python(script, args);
        if !output.status.success() {
            println!("walrus log:\n{}", self.log());
        }
        assert_success(&output, script);
        output
    }

    /// Sends SIGTERM and waits for the process to end.
    pub fn terminate(mut self) -> ExitStatus {
        self.process.terminate()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        self.process.kill();
    }
}

/// The administrator's access and secret keys from `DATA/admin-eucarc`.
pub fn admin_credentials(data: &Path) -> (String, String) {
    let text = std::fs::read_to_string(data.join("admin-eucarc")).expect("admin-eucarc written");
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{name} missing from admin-eucarc:\n{text}"))
    };
    (value("EC2_ACCESS_KEY"), value("EC2_SECRET_KEY"))
}

/// Adds accounts `names` (their root users' e-mail `NAME@example.com`) to the store Walrus
/// reads, as the CLC would; returns a line `NAME ACCESS SECRET EMAIL` for each, as the scripts read them.
pub fn add_users(data: &Path, names: &[&str]) -> String {
    let store = users::UserStore::open(&data.join("users.sqlite")).expect("the user store opens");
    let mut lines = String::new();
    for name in names {
        let (_, user) = store
            .create_account(name, Some(&format!("{name}@example.com")))
            .expect("a new account");
        lines.push_str(&format!(
            "{name} {} {} {name}@example.com\n",
            user.access_key, user.secret_key
        ));
    }
    lines
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("an ephemeral port")
}

/// A moto S3 server (from the test venv) on a loopback port.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start() -> Self {
        let port = free_port();
        let server = common::python().with_file_name("moto_server");
        assert!(
            server.exists(),
            "moto_server not found at {}: run scripts/setup.sh",
            server.display()
        );
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server runs");
        let moto = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto did not start"
            );
            thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tests/py/<script>`.
pub fn script(name: &str) -> PathBuf {
    common::workspace_root().join("tests/py").join(name)
}

/// Runs a Python script of `tests/py` with the test venv; its output as it printed it.
pub fn run_python(name: &str, args: &[String]) -> Output {
    Command::new(common::python())
        .arg(script(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("python runs")
}

/// Fails the test with the script's output unless it succeeded.
pub fn assert_success(output: &Output, what: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{what} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

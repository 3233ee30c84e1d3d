//! The one way integration tests run the `euca` binary: a component started with its
//! arguments and environment, its log captured, ready once it logs `<component> ready
//! url=<URL>`, ended with SIGTERM (and waited for), killed if dropped still running.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// How long a component may take to become ready, or to exit after SIGTERM.
const PATIENCE: Duration = Duration::from_secs(60);

/// `euca` itself, for one-shot commands (`euca keys init`, `euca --help`). Its console
/// (`euca cloud --console`) is on a free loopback port unless told: tests run clouds side
/// by side, and the default port would be taken by the first.
pub fn euca() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_euca"));
    command.env("EUCA_CONSOLE", "127.0.0.1:0");
    command
}

/// `euca` run by `sh` under `umask`, for tests of the modes of what a component writes.
pub fn euca_with_umask(umask: &str) -> Command {
    let mut shell = Command::new("sh");
    shell
        .args(["-c", &format!("umask {umask} && exec \"$@\""), "sh"])
        .arg(euca().get_program());
    shell
}

/// A running component.
#[derive(Debug)]
pub struct Component {
    child: Child,
    /// From its ready line.
    pub url: String,
    log: Arc<Mutex<String>>,
}

impl Component {
    /// Runs `command` (made with [`euca`]; `RUST_LOG=info` unless it sets one) and waits
    /// until the process logs `<ready> ready url=<URL>` — `ready` is the component's name as
    /// its log says it, e.g. `node controller` or `walrus`. On failure (the process exits,
    /// or stays silent too long) returns what it logged.
    pub fn start(mut command: Command, ready: &str) -> Result<Self, String> {
        if !command.get_envs().any(|(key, _)| key == "RUST_LOG") {
            command.env("RUST_LOG", "info");
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, url) = mpsc::channel();
        let sink = Arc::clone(&log);
        let marker = format!("{ready} ready url=");
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // Read as scripts would: logs on a pipe must be plain `key=value` text.
                if let Some((_, rest)) = line.split_once(&marker) {
                    let url = rest.split_whitespace().next().unwrap_or_default();
                    let _ = found.send(url.to_owned());
                }
                let mut log = sink.lock().unwrap_or_else(PoisonError::into_inner);
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut component = Self {
            child,
            url: String::new(),
            log,
        };
        let started = Instant::now();
        loop {
            match url.recv_timeout(Duration::from_millis(100)) {
                Ok(url) => {
                    component.url = url;
                    return Ok(component);
                }
                Err(_) if started.elapsed() > PATIENCE || component.exited().is_some() => {
                    component.kill();
                    // Let the reader take in the last lines.
                    thread::sleep(Duration::from_millis(100));
                    return Err(component.log());
                }
                Err(_) => {}
            }
        }
    }

    /// `host:port` of the ready URL.
    pub fn authority(&self) -> &str {
        let rest = self.url.split_once("://").map_or(&*self.url, |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .expect("the process can be waited for")
    }

    /// Sends SIGTERM and waits for the process to end.
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {} failed", self.child.id());
        let started = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the process did not exit after SIGTERM:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, as a crash would: no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Component {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill();
        }
    }
}

/// A cloud's keys, made by the real `euca keys init` in a directory of their own.
#[derive(Debug)]
pub struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let out = euca()
            .args(["keys", "init"])
            .arg(dir.path())
            .output()
            .expect("euca runs");
        assert!(out.status.success(), "euca keys init failed: {out:?}");
        Self { dir }
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

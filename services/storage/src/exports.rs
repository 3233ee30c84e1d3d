//! Volumes exported to nodes, on the SC's address: over NBD one `qemu-nbd` per attached volume
//! on a free port; over iSCSI one target per attached volume (logical unit 1) in a `tgtd` of
//! the SC's own, whose portal and control ports are kept in `DATA/exports/iscsi-portal` so
//! that they stay the same across restarts. Both are children of the SC, ended when an export ends or the SC
//! stops.
//!
//! Each child's pid is kept in `DATA/exports/*.pid`: an SC that was killed leaves them
//! running, holding their ports; the next start ends them before exporting again.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tracing::{info, warn};
use wire::volume::RemoteDev;

/// How long an exporter may take to listen, or an orphan to exit.
const START_DEADLINE: Duration = Duration::from_secs(10);
/// The IQN of a volume's target is this, `:`, the volume id.
const IQN_PREFIX: &str = "iqn.2009-06.edu.ucsb.eucalyptus";
const PORTAL_FILE: &str = "iscsi-portal";
const TGTD_PID_FILE: &str = "tgtd.pid";

/// The block protocol volumes are exported over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Nbd,
    Iscsi,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: &'static str,
        source: std::io::Error,
    },
    #[error("{program} for {volume} failed: {reason}")]
    Failed {
        program: &'static str,
        volume: String,
        reason: String,
    },
    #[error("no local address reaches node {node}: {source}")]
    NoRoute {
        node: IpAddr,
        source: std::io::Error,
    },
    #[error("no free port on {host}: {source}")]
    NoPort {
        host: IpAddr,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One running export.
#[derive(Debug)]
enum Running {
    Nbd(Child),
    Iscsi { tid: u32 },
}

/// The SC's tgtd: its portal port and its control port (`tgtadm -C`).
#[derive(Debug)]
struct Tgt {
    port: u16,
    control: u16,
    daemon: Mutex<Option<Child>>,
}

/// tgtd's control ports (the management socket `/var/run/tgtd/socket.N`) it accepts.
const CONTROL_PORTS: std::ops::Range<u16> = 10_000..30_000;

/// A control port no tgtd on this host has used, from a start that depends on `seed`.
fn free_control_port(seed: u16) -> u16 {
    let span = CONTROL_PORTS.end - CONTROL_PORTS.start;
    (0..span)
        .map(|i| CONTROL_PORTS.start + (seed.wrapping_add(i) % span))
        .find(|n| !Path::new(&format!("/var/run/tgtd/socket.{n}")).exists())
        .unwrap_or(CONTROL_PORTS.start)
}

/// The running exports, by volume id.
#[derive(Debug)]
pub struct Exports {
    /// The address exports are bound to: the SC's listening address (a wildcard one too).
    bind: IpAddr,
    /// The pid files and the portal file.
    dir: PathBuf,
    tgt: Option<Tgt>,
    running: Mutex<HashMap<String, Running>>,
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError {
    let path = path.to_owned();
    move |source| ExportError::File { path, source }
}

impl Exports {
    /// Exports over `protocol` bound to `bind`, with their files in `dir` (created); ends what
    /// a killed SC left running. Blocking: at start only. [`Exports::start`] follows.
    pub fn open(bind: IpAddr, dir: PathBuf, protocol: Protocol) -> Result<Self, ExportError> {
        std::fs::create_dir_all(&dir).map_err(file_error(&dir))?;
        let mut exports = Self {
            bind,
            dir,
            tgt: None,
            running: Mutex::new(HashMap::new()),
        };
        let portal = exports.dir.join(PORTAL_FILE);
        // "PORTAL CONTROL".
        let ports = match std::fs::read_to_string(&portal) {
            Ok(text) => {
                let mut numbers = text.split_whitespace().map(str::parse::<u16>);
                match (numbers.next(), numbers.next()) {
                    (Some(Ok(port)), Some(Ok(control))) => Some((port, control)),
                    _ => None,
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(file_error(&portal)(e)),
        };
        exports.end_orphans(ports.map(|(_, control)| control))?;
        if protocol == Protocol::Iscsi {
            let (port, control) = match ports {
                Some(ports) => ports,
                None => {
                    let port = exports.free_port()?;
                    let control = free_control_port(port);
                    std::fs::write(&portal, format!("{port} {control}"))
                        .map_err(file_error(&portal))?;
                    (port, control)
                }
            };
            exports.tgt = Some(Tgt {
                port,
                control,
                daemon: Mutex::new(None),
            });
        }
        Ok(exports)
    }

    /// Starts the exporter every export shares (tgtd for iSCSI); nothing for NBD.
    pub async fn start(&self) -> Result<(), ExportError> {
        let Some(tgt) = &self.tgt else {
            return Ok(());
        };
        let portal = SocketAddr::new(self.bind, tgt.port);
        let mut command = Command::new("tgtd");
        command
            .arg("--foreground")
            .args(["--control-port", &tgt.control.to_string()])
            .args(["--iscsi", &format!("portal={portal}")]);
        let daemon = self
            .spawn(
                "tgtd",
                "tgtd",
                TGTD_PID_FILE,
                command,
                self.reachable(tgt.port),
            )
            .await?;
        *tgt.daemon.lock().await = Some(daemon);
        info!(%portal, "iSCSI target daemon started");
        Ok(())
    }

    /// Where this host reaches a port the exports listen on.
    fn reachable(&self, port: u16) -> SocketAddr {
        let host = if self.bind.is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            self.bind
        };
        SocketAddr::new(host, port)
    }

    fn pid_file(volume: &str) -> String {
        format!("nbd-{volume}.pid")
    }

    /// Ends the qemu-nbd and tgtd processes a previous SC left (it was killed), and forgets
    /// their pid files.
    fn end_orphans(&self, tgt_control: Option<u16>) -> Result<(), ExportError> {
        let entries = std::fs::read_dir(&self.dir).map_err(file_error(&self.dir))?;
        for entry in entries {
            let path = entry.map_err(file_error(&self.dir))?.path();
            let name = path
                .file_name()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let Some(stem) = name.strip_suffix(".pid") else {
                continue;
            };
            let owner = match (stem.strip_prefix("nbd-"), tgt_control) {
                (Some(volume), _) => Some(("qemu-nbd", "--export-name", volume.to_owned())),
                (None, Some(control)) if name == TGTD_PID_FILE => {
                    Some(("tgtd", "--control-port", control.to_string()))
                }
                _ => None,
            };
            let pid = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok());
            if let (Some(pid), Some((program, flag, value))) = (pid, owner) {
                if is_ours(pid, program, flag, &value) {
                    end_orphan(pid, program, &value);
                }
            }
            std::fs::remove_file(&path).map_err(file_error(&path))?;
        }
        Ok(())
    }

    /// The host a node at `node` is told to connect to: the bound address, or for a wildcard
    /// one the local address the system routes to the node from.
    fn advertised(&self, node: IpAddr) -> Result<IpAddr, ExportError> {
        if !self.bind.is_unspecified() {
            return Ok(self.bind);
        }
        let probe = || -> std::io::Result<IpAddr> {
            let any: SocketAddr = if node.is_ipv4() {
                (Ipv4Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let socket = UdpSocket::bind(any)?;
            // No packet is sent: connecting a UDP socket only picks the route.
            socket.connect((node, 9))?;
            Ok(socket.local_addr()?.ip())
        };
        probe().map_err(|source| ExportError::NoRoute { node, source })
    }

    fn free_port(&self) -> Result<u16, ExportError> {
        TcpListener::bind((self.bind, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|source| ExportError::NoPort {
                host: self.bind,
                source,
            })
    }

    /// Starts `command` (`program`, for `what`), records its pid in `pid_file` and waits until
    /// it listens at `reach`.
    async fn spawn(
        &self,
        program: &'static str,
        what: &str,
        pid_file: &str,
        mut command: Command,
        reach: SocketAddr,
    ) -> Result<Child, ExportError> {
        let failed = |reason: String| ExportError::Failed {
            program,
            volume: what.to_owned(),
            reason,
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| ExportError::Spawn { program, source })?;
        if let Some(pid) = child.id() {
            let path = self.dir.join(pid_file);
            if let Err(e) = tokio::fs::write(&path, pid.to_string()).await {
                stop(what, &mut child).await;
                return Err(file_error(&path)(e));
            }
        }
        let started = tokio::time::Instant::now();
        loop {
            let exited = child
                .try_wait()
                .map_err(|source| ExportError::Spawn { program, source })?;
            if let Some(status) = exited {
                let mut reason = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_string(&mut reason).await;
                }
                self.forget(pid_file).await;
                return Err(failed(format!("{status}: {}", reason.trim())));
            }
            if tokio::net::TcpStream::connect(reach).await.is_ok() {
                // Read on, into the log: a full pipe would stall the exporter.
                if let Some(stderr) = child.stderr.take() {
                    tokio::spawn(log_lines(program, what.to_owned(), stderr));
                }
                return Ok(child);
            }
            if started.elapsed() > START_DEADLINE {
                stop(what, &mut child).await;
                self.forget(pid_file).await;
                return Err(failed(format!(
                    "not listening on {reach} after {START_DEADLINE:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Exports `file` as `volume` to `node` (an NBD export on `port` when given, as after a
    /// restart) and answers where the node reaches it. An export running is made again.
    pub async fn export(
        &self,
        volume: &str,
        file: &Path,
        node: IpAddr,
        port: Option<u16>,
    ) -> Result<RemoteDev, ExportError> {
        let host = self.advertised(node)?.to_string();
        let mut running = self.running.lock().await;
        if let Some(old) = running.remove(volume) {
            self.end(volume, old).await;
        }
        let (export, device) = match &self.tgt {
            None => {
                let port = match port {
                    Some(port) => port,
                    None => self.free_port()?,
                };
                let mut command = Command::new("qemu-nbd");
                command
                    .arg("--persistent")
                    .arg("--shared=8")
                    .args(["--format", "raw"])
                    .args(["--bind", &self.bind.to_string()])
                    .args(["--port", &port.to_string()])
                    .args(["--export-name", volume])
                    .arg(file);
                let reach = self.reachable(port);
                let pid_file = Self::pid_file(volume);
                let child = self
                    .spawn("qemu-nbd", volume, &pid_file, command, reach)
                    .await?;
                let device = RemoteDev::Nbd {
                    host,
                    port,
                    export: volume.to_owned(),
                };
                (Running::Nbd(child), device)
            }
            Some(tgt) => {
                // The smallest target id no export holds.
                let tid = (1..)
                    .find(|t| {
                        !running
                            .values()
                            .any(|r| matches!(r, Running::Iscsi { tid } if tid == t))
                    })
                    .unwrap_or(1);
                let iqn = format!("{IQN_PREFIX}:{volume}");
                let made = tgt.target(volume, tid, &iqn, file).await;
                if let Err(e) = made {
                    tgt.delete(volume, tid).await;
                    return Err(e);
                }
                let device = RemoteDev::Iscsi {
                    host,
                    port: tgt.port,
                    iqn,
                    lun: 1,
                };
                (Running::Iscsi { tid }, device)
            }
        };
        running.insert(volume.to_owned(), export);
        info!(volume, %node, remote_dev = %device, "volume exported");
        Ok(device)
    }

    /// Ends the export of `volume`, if any.
    pub async fn unexport(&self, volume: &str) {
        let export = self.running.lock().await.remove(volume);
        if let Some(export) = export {
            self.end(volume, export).await;
            info!(volume, "export ended");
        }
    }

    async fn end(&self, volume: &str, export: Running) {
        match (export, &self.tgt) {
            (Running::Nbd(mut child), _) => {
                stop(volume, &mut child).await;
                self.forget(&Self::pid_file(volume)).await;
            }
            (Running::Iscsi { tid }, Some(tgt)) => tgt.delete(volume, tid).await,
            (Running::Iscsi { .. }, None) => {}
        }
    }

    /// Ends every export and the target daemon (the SC is stopping; attached volumes are
    /// exported again at start).
    pub async fn stop_all(&self) {
        let running: Vec<_> = self.running.lock().await.drain().collect();
        for (volume, export) in running {
            self.end(&volume, export).await;
        }
        if let Some(tgt) = &self.tgt {
            if let Some(mut daemon) = tgt.daemon.lock().await.take() {
                stop("tgtd", &mut daemon).await;
                self.forget(TGTD_PID_FILE).await;
            }
        }
    }

    async fn forget(&self, pid_file: &str) {
        let path = self.dir.join(pid_file);
        if let Err(e) = tokio::fs::remove_file(&path).await {
            warn!(path = %path.display(), error = %e, "cannot remove a pid file");
        }
    }
}

impl Tgt {
    /// `tgtadm` on this daemon; fails with what it said.
    async fn admin(&self, volume: &str, args: &[&str]) -> Result<(), ExportError> {
        let out = Command::new("tgtadm")
            .args(["-C", &self.control.to_string(), "--lld", "iscsi"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|source| ExportError::Spawn {
                program: "tgtadm",
                source,
            })?;
        if out.status.success() {
            return Ok(());
        }
        Err(ExportError::Failed {
            program: "tgtadm",
            volume: volume.to_owned(),
            reason: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }

    /// Target `tid` named `iqn`, with `file` as logical unit 1, open to every initiator.
    async fn target(
        &self,
        volume: &str,
        tid: u32,
        iqn: &str,
        file: &Path,
    ) -> Result<(), ExportError> {
        let tid = tid.to_string();
        let file = file.to_string_lossy();
        let target = ["--mode", "target", "--tid", &tid];
        self.admin(
            volume,
            &[&["--op", "new"][..], &target, &["-T", iqn]].concat(),
        )
        .await?;
        let lun = ["--mode", "logicalunit", "--tid", &tid, "--lun", "1"];
        self.admin(
            volume,
            &[&["--op", "new"][..], &lun, &["-b", &file]].concat(),
        )
        .await?;
        self.admin(
            volume,
            &[&["--op", "bind"][..], &target, &["-I", "ALL"]].concat(),
        )
        .await
    }

    async fn delete(&self, volume: &str, tid: u32) {
        let tid = tid.to_string();
        let args = [
            "--op", "delete", "--mode", "target", "--tid", &tid, "--force",
        ];
        if let Err(e) = self.admin(volume, &args).await {
            warn!(volume, error = %e, "cannot delete the iSCSI target");
        }
    }
}

/// Whether process `pid` is `program` run with `flag value` (not a process that took its pid
/// since).
fn is_ours(pid: i32, program: &str, flag: &str, value: &str) -> bool {
    let Ok(command) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let mut args = command.split(|b| *b == 0);
    let name = args.next().unwrap_or_default();
    name.ends_with(program.as_bytes())
        && args
            .skip_while(|a| *a != flag.as_bytes())
            .nth(1)
            .is_some_and(|v| v == value.as_bytes())
}

/// Ends an orphaned exporter and waits (a while) for it to go, so that its port is free.
/// SIGKILL, as the SC stops its own: tgtd ignores SIGTERM, and what an exporter holds (the
/// targets) is made again from the store.
fn end_orphan(pid: i32, program: &str, value: &str) {
    let Some(process) = rustix::process::Pid::from_raw(pid) else {
        return;
    };
    if let Err(e) = rustix::process::kill_process(process, rustix::process::Signal::KILL) {
        warn!(program, pid, error = %e, "cannot end an orphaned exporter");
        return;
    }
    let started = std::time::Instant::now();
    while running(pid) && started.elapsed() < START_DEADLINE {
        std::thread::sleep(Duration::from_millis(20));
    }
    info!(program, pid, value, "orphaned exporter ended");
}

/// Whether process `pid` still runs: it exists, and is no zombie or is one whose other
/// threads still exit. An exiting process loses its command line before it closes its
/// sockets, and its first thread may be a zombie while the others still hold them: only when
/// the whole thread group is done are its ports free.
fn running(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "PID (COMMAND) STATE ...": the command may hold anything but the last ')'.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(Iterator::count)
        .unwrap_or(0);
    !matches!(state, None | Some('Z' | 'X')) || threads > 1
}

async fn log_lines(program: &'static str, what: String, stderr: tokio::process::ChildStderr) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        info!(program, what, line, "exporter said");
    }
}

async fn stop(what: &str, child: &mut Child) {
    if let Err(e) = child.kill().await {
        warn!(what, error = %e, "cannot stop an exporter");
    }
}

//! Volumes exported to nodes over NBD: one `qemu-nbd` per attached volume, a child of the SC
//! (killed when the export ends or the SC stops), on the SC's address and a free port.
//!
//! Each child's pid is kept in `DATA/exports/VOLUME.pid`: an SC that was killed leaves its
//! qemu-nbd running, holding the port; the next start ends it before exporting again.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tracing::{info, warn};
use wire::volume::RemoteDev;

/// How long qemu-nbd may take to listen, or an orphan to exit.
const START_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot start qemu-nbd: {0}")]
    Spawn(std::io::Error),
    #[error("qemu-nbd for {volume} failed: {reason}")]
    Failed { volume: String, reason: String },
    #[error("no local address reaches node {node}: {source}")]
    NoRoute {
        node: IpAddr,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    PidFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no free port on {host}: {source}")]
    NoPort {
        host: IpAddr,
        source: std::io::Error,
    },
}

/// The running exports, by volume id.
#[derive(Debug)]
pub struct Exports {
    /// The address qemu-nbd binds: the SC's listening address (a wildcard one too).
    bind: IpAddr,
    /// The pid files.
    dir: PathBuf,
    running: Mutex<HashMap<String, Child>>,
}

impl Exports {
    /// Exports bound to `bind`, with pid files in `dir` (created). Blocking.
    pub fn open(bind: IpAddr, dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            bind,
            dir,
            running: Mutex::new(HashMap::new()),
        })
    }

    fn pid_file(&self, volume: &str) -> PathBuf {
        self.dir.join(format!("{volume}.pid"))
    }

    /// Ends the qemu-nbd processes a previous SC left (it was killed), and forgets their
    /// pid files. Blocking: at start only.
    pub fn end_orphans(&self) -> std::io::Result<()> {
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let volume = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let pid = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok());
            if let Some(pid) = pid.filter(|pid| is_export_of(*pid, volume)) {
                end_orphan(pid, volume);
            }
            std::fs::remove_file(&path)?;
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
                ([0, 0, 0, 0], 0).into()
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

    /// Exports `file` as `volume` to `node` (on `port` when given, as after a restart) and
    /// answers where the node reaches it. An export already running is answered as is.
    pub async fn export(
        &self,
        volume: &str,
        file: &Path,
        node: IpAddr,
        port: Option<u16>,
    ) -> Result<RemoteDev, ExportError> {
        let host = self.advertised(node)?;
        let mut running = self.running.lock().await;
        let port = match port {
            Some(port) => port,
            None => self.free_port()?,
        };
        if let Some(mut old) = running.remove(volume) {
            stop(volume, &mut old).await;
        }
        let mut child = Command::new("qemu-nbd")
            .arg("--persistent")
            .arg("--shared=8")
            .args(["--format", "raw"])
            .args(["--bind", &self.bind.to_string()])
            .args(["--port", &port.to_string()])
            .args(["--export-name", volume])
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(ExportError::Spawn)?;
        let reach = SocketAddr::new(host, port);
        let started = tokio::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait().map_err(ExportError::Spawn)? {
                let mut reason = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_string(&mut reason).await;
                }
                return Err(ExportError::Failed {
                    volume: volume.to_owned(),
                    reason: format!("{status}: {}", reason.trim()),
                });
            }
            if tokio::net::TcpStream::connect(reach).await.is_ok() {
                break;
            }
            if started.elapsed() > START_DEADLINE {
                stop(volume, &mut child).await;
                return Err(ExportError::Failed {
                    volume: volume.to_owned(),
                    reason: format!("not listening on {reach} after {START_DEADLINE:?}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Some(pid) = child.id() {
            let path = self.pid_file(volume);
            if let Err(source) = std::fs::write(&path, pid.to_string()) {
                stop(volume, &mut child).await;
                return Err(ExportError::PidFile { path, source });
            }
        }
        running.insert(volume.to_owned(), child);
        let device = RemoteDev::Nbd {
            host: host.to_string(),
            port,
            export: volume.to_owned(),
        };
        info!(volume, %node, remote_dev = %device, "volume exported");
        Ok(device)
    }

    /// Ends the export of `volume`, if any.
    pub async fn unexport(&self, volume: &str) {
        if let Some(mut child) = self.running.lock().await.remove(volume) {
            stop(volume, &mut child).await;
            self.forget(volume);
            info!(volume, "export ended");
        }
    }

    /// Ends every export (the SC is stopping; attached volumes are exported again at start).
    pub async fn stop_all(&self) {
        let mut running = self.running.lock().await;
        for (volume, mut child) in running.drain() {
            stop(&volume, &mut child).await;
            self.forget(&volume);
        }
    }

    fn forget(&self, volume: &str) {
        let path = self.pid_file(volume);
        if let Err(e) = std::fs::remove_file(&path) {
            warn!(volume, path = %path.display(), error = %e, "cannot remove the export's pid file");
        }
    }
}

/// Whether process `pid` is the qemu-nbd exporting `volume` (not a process that took its
/// pid since).
fn is_export_of(pid: i32, volume: &str) -> bool {
    let Ok(command) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let mut args = command.split(|b| *b == 0);
    let program = args.next().unwrap_or_default();
    program.ends_with(b"qemu-nbd")
        && args
            .skip_while(|a| *a != b"--export-name")
            .nth(1)
            .is_some_and(|name| name == volume.as_bytes())
}

/// Ends an orphaned qemu-nbd and waits (a while) for it to go, so that its port is free.
fn end_orphan(pid: i32, volume: &str) {
    let Some(process) = rustix::process::Pid::from_raw(pid) else {
        return;
    };
    if let Err(e) = rustix::process::kill_process(process, rustix::process::Signal::TERM) {
        warn!(volume, pid, error = %e, "cannot end the orphaned qemu-nbd");
        return;
    }
    let started = std::time::Instant::now();
    while is_export_of(pid, volume) && started.elapsed() < START_DEADLINE {
        std::thread::sleep(Duration::from_millis(20));
    }
    info!(volume, pid, "orphaned qemu-nbd ended");
}

async fn stop(volume: &str, child: &mut Child) {
    if let Err(e) = child.kill().await {
        warn!(volume, error = %e, "cannot stop qemu-nbd");
    }
}

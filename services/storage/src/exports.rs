//! Volumes exported to nodes over NBD: one `qemu-nbd` per attached volume, a child of the SC
//! (killed when the export ends or the SC stops), on the SC's address and a free port.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tracing::{info, warn};
use wire::volume::RemoteDev;

/// How long qemu-nbd may take to listen.
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
    running: Mutex<HashMap<String, Child>>,
}

impl Exports {
    pub fn new(bind: IpAddr) -> Self {
        Self {
            bind,
            running: Mutex::new(HashMap::new()),
        }
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
            info!(volume, "export ended");
        }
    }

    /// Ends every export (the SC is stopping; attached volumes are exported again at start).
    pub async fn stop_all(&self) {
        let mut running = self.running.lock().await;
        for (volume, mut child) in running.drain() {
            stop(&volume, &mut child).await;
        }
    }
}

async fn stop(volume: &str, child: &mut Child) {
    if let Err(e) = child.kill().await {
        warn!(volume, error = %e, "cannot stop qemu-nbd");
    }
}

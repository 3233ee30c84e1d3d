//! The accept loop every HTTP endpoint of the cloud shares (SOAP services and Walrus' REST API):
//! HTTP/1.1 keep-alive connections, a header timeout, a bound on the connections of each peer
//! address, and a graceful shutdown that lets requests in flight finish before connections
//! close.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

/// Timeouts of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long a shutdown waits for requests in flight before closing their connections.
    pub shutdown_grace: Duration,
    /// Connections one peer IP address may hold open at once; more are closed as accepted.
    pub max_connections_per_peer: usize,
}

/// Accepts connections on `listener` until `shutdown` completes, serving each with the service
/// `make_service` builds for it (from the connection's stream and peer address). Returns once
/// every connection has closed, or the grace period is over.
pub async fn serve<S, B>(
    listener: TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
    mut make_service: impl FnMut(&TcpStream, SocketAddr) -> S,
) where
    S: HttpService<Incoming, ResBody = B> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let peers = PeerCounts::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(held) = peers.admit(peer.ip(), options.max_connections_per_peer) else {
                        debug!(%peer, "too many connections from this address: closed");
                        continue;
                    };
                    let service = make_service(&stream, peer);
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(options.header_timeout)
                        .serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection);
                    connections.spawn(async move {
                        if let Err(e) = connection.await {
                            debug!(%peer, error = %e, "connection closed with an error");
                        }
                        drop(held);
                    });
                }
                // Running out of descriptors or a connection reset before accept is no
                // reason to stop serving; pause briefly so a persistent error cannot spin.
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    info!(
        connections = graceful.count(),
        "shutting down: finishing requests in flight"
    );
    if tokio::time::timeout(options.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        warn!(
            remaining = connections.len(),
            "grace period over: closing connections with requests still in flight"
        );
    }
    connections.shutdown().await;
}

/// Open connections per peer address.
#[derive(Debug, Default, Clone)]
struct PeerCounts(Arc<Mutex<HashMap<IpAddr, usize>>>);

impl PeerCounts {
    /// Counts a new connection from `ip`, unless it already holds `max`.
    fn admit(&self, ip: IpAddr, max: usize) -> Option<PeerConnection> {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(PeerConnection {
            counts: self.clone(),
            ip,
        })
    }
}

/// One counted connection; uncounted when dropped.
#[derive(Debug)]
struct PeerConnection {
    counts: PeerCounts,
    ip: IpAddr,
}

impl Drop for PeerConnection {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::PeerCounts;

    #[test]
    fn each_address_holds_at_most_its_share_until_one_closes() {
        let peers = PeerCounts::default();
        let a = "10.0.0.1".parse().unwrap();
        let b = "10.0.0.2".parse().unwrap();
        let first = peers.admit(a, 2);
        let second = peers.admit(a, 2);
        assert!(first.is_some() && second.is_some());
        assert!(peers.admit(a, 2).is_none());
        assert!(
            peers.admit(b, 2).is_some(),
            "another address has its own share"
        );
        drop(first);
        assert!(peers.admit(a, 2).is_some());
    }
}

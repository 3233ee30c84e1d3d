//! The start and end of a component's life as a server: the ready line once it listens, and
//! the signal that stops it; and the hand-off of blocking work off the executor.

use std::fmt::Display;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use tracing::{error, info, warn};

/// The whole `main` of a component's subcommand: `load` (its settings, and whatever must
/// happen before any thread starts), then `serve` on a new multi-threaded runtime until it
/// returns. A failure of either is logged as `<component> stopped`, printed as
/// `<command>: <error>`, and fails the exit code.
pub fn main<C, E: Display, F: Future<Output = Result<(), E>>>(
    command: &str,
    component: &str,
    load: impl FnOnce() -> Result<C, E>,
    serve: impl FnOnce(C) -> F,
) -> ExitCode {
    let result = load().map_err(|e| e.to_string()).and_then(|config| {
        match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(serve(config)).map_err(|e| e.to_string()),
            Err(e) => Err(format!("cannot start the async runtime: {e}")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "{component} stopped");
            eprintln!("{command}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The URL of `path` on a server listening on `local_addr`. A wildcard address becomes the
/// loopback one, which clients on this host can reach.
pub fn service_url(local_addr: SocketAddr, path: &str) -> String {
    let reachable = if local_addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local_addr.port())
    } else {
        local_addr
    };
    format!("http://{reachable}{path}")
}

/// The URL of the service at `path` on the host and port of the service URL `url`: where a
/// component serves its other services (GL, and the services of ours beside the 1.6.1 ones).
pub fn service_beside(url: &str, path: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    format!("{}{path}", &url[..authority_end])
}

/// Logs `<component> ready url=<URL>`: the line scripts and test launchers wait for, once
/// the listener is bound. A macro, so that the line carries the component's own log target
/// and shows under a filter such as `RUST_LOG=warn,walrus=info`.
#[macro_export]
macro_rules! announce_ready {
    ($component:literal, $url:expr) => {
        $crate::tracing::info!(url = %$url, concat!($component, " ready"))
    };
}

/// Runs `work` (file-system or other blocking work) on a blocking thread, off the executor,
/// passing on its panic.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Runs `work` to its end on a task of its own, whatever becomes of the caller, passing on
/// its panic. A request handler is dropped at its next await when its client goes away;
/// work that changes state in several places (a record, then a node) must not stop between
/// them.
pub async fn detached<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> T {
    tokio::spawn(work)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// The shutdown trigger of every component's server: completes on SIGTERM or SIGINT.
///
/// The signals are watched from this call on, not from the future's first poll: call it before
/// the ready line, so that a signal sent as soon as the line appears stops the server cleanly
/// instead of killing the process.
pub fn termination() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let watch = |kind: SignalKind, name: &'static str| match signal(kind) {
        Ok(stream) => Some((stream, name)),
        Err(e) => {
            warn!(error = %e, signal = name, "cannot watch the signal; it will not stop the server cleanly");
            None
        }
    };
    let signals = [
        watch(SignalKind::terminate(), "SIGTERM"),
        watch(SignalKind::interrupt(), "SIGINT"),
    ];
    async move {
        let [mut terminate, mut interrupt] = signals;
        let name = tokio::select! {
            Some(name) = received(&mut terminate) => name,
            Some(name) = received(&mut interrupt) => name,
            // Neither can be watched: only SIGKILL ends the process.
            else => std::future::pending().await,
        };
        info!("{name}: stopping");
    }
}

/// The signal's name once it arrives; `None` at once for a signal not watched.
async fn received(
    watched: &mut Option<(tokio::signal::unix::Signal, &'static str)>,
) -> Option<&'static str> {
    let (stream, name) = watched.as_mut()?;
    stream.recv().await;
    Some(name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{service_beside, service_url};

    #[test]
    fn a_wildcard_address_becomes_loopback() {
        let url = service_url("0.0.0.0:8773".parse().unwrap(), "/services/Walrus");
        assert_eq!(url, "http://127.0.0.1:8773/services/Walrus");
        let url = service_url("[::1]:8775".parse().unwrap(), "/x");
        assert_eq!(url, "http://[::1]:8775/x");
    }

    #[test]
    fn a_service_beside_another_is_on_its_host_and_port() {
        let cc = "http://10.0.0.2:8774/axis2/services/EucalyptusCC";
        let sensors = "/axis2/services/EucalyptusCCSensors";
        assert_eq!(
            service_beside(cc, sensors),
            "http://10.0.0.2:8774/axis2/services/EucalyptusCCSensors"
        );
        assert_eq!(service_beside("http://cc:8774", "/x"), "http://cc:8774/x");
        assert_eq!(service_beside("cc:8774/a/b", "/x"), "cc:8774/x");
    }
}

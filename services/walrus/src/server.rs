//! The HTTP server: accept loop, one tracing span per request, common response headers,
//! graceful shutdown. What a request means is [`crate::dispatch`]'s business.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::{Body as _, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONNECTION, DATE, SERVER};
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use ring::rand::{SecureRandom, SystemRandom};
use soap::listener::{self, ServeOptions};
use tokio::net::TcpListener;
use tracing::{info, info_span, Instrument};

use crate::body::Body;
use crate::dispatch::dispatch;
use crate::hooks::Hooks;
use crate::state::Walrus;

/// Longest wait for a request's head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A bound server; [`Server::run`] serves until shutdown.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    walrus: Arc<Walrus>,
    hooks: Arc<Hooks>,
}

impl Server {
    /// Listens on `addr` (port 0 picks a free port).
    pub async fn bind(
        walrus: Arc<Walrus>,
        hooks: Hooks,
        addr: SocketAddr,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            walrus,
            hooks: Arc::new(hooks),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then stops accepting, lets requests in flight
    /// finish (up to a grace period) and closes every connection.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self {
            listener,
            walrus,
            hooks,
            ..
        } = self;
        let options = ServeOptions {
            header_timeout: HEADER_TIMEOUT,
            shutdown_grace: SHUTDOWN_GRACE,
        };
        listener::serve(listener, options, shutdown, |_, peer| {
            let (walrus, hooks) = (walrus.clone(), hooks.clone());
            service_fn(move |request| handle(walrus.clone(), hooks.clone(), request, peer))
        })
        .await;
    }
}

async fn handle(
    walrus: Arc<Walrus>,
    hooks: Arc<Hooks>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let id = request_id();
    let span = info_span!(
        "s3",
        request = %id,
        %peer,
        method = %request.method(),
        path = request.uri().path(),
        op = tracing::field::Empty,
        user = tracing::field::Empty,
    );
    async move {
        let head = request.method() == Method::HEAD;
        let has_body = !request.body().is_end_stream();
        let mut response = match dispatch(&walrus, &hooks, request).await {
            Ok(response) => response,
            Err((error, resource)) => {
                let mut response = error.into_response(&resource, &id, head);
                // The body may be unread: a client that sent `Expect: 100-continue` and got
                // no 100 does not send it, so reading on would take the next request's bytes
                // for it. Closing keeps the two in step.
                if has_body {
                    response
                        .headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                }
                response
            }
        };
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&id) {
            headers.insert(HeaderName::from_static("x-amz-request-id"), value.clone());
            headers.insert(HeaderName::from_static("x-amz-id-2"), value);
        }
        if let Ok(date) = HeaderValue::from_str(&crate::time::http_date(crate::time::now())) {
            headers.insert(DATE, date);
        }
        headers.insert(SERVER, HeaderValue::from_static("Walrus"));
        info!(status = response.status().as_u16(), elapsed = ?started.elapsed(), "answered");
        Ok(response)
    }
    .instrument(span)
    .await
}

/// 16 upper-case hex digits, as S3's request ids look.
fn request_id() -> String {
    let mut bytes = [0u8; 8];
    // A failing generator only makes ids less unique; they identify log lines, nothing more.
    let _ = SystemRandom::new().fill(&mut bytes);
    crate::digest::hex(&bytes).to_ascii_uppercase()
}

//! The front door: one listener, SOAP [`Endpoint`]s mounted at paths beside plain HTTP
//! [`Handler`]s (REST, Query) mounted at path prefixes, and an optional fallback for
//! everything else; one tracing span per request; graceful shutdown. The accept loop is
//! [`crate::listener::serve`].
//!
//! A request goes to the SOAP endpoint at its exact path when the endpoint claims it (a SOAP
//! `POST`: a SOAPAction or a SOAP content type; `GET ?wsdl`); else to the handler with the longest matching prefix (whole path
//! segments); else to the fallback; else the endpoint at that path refuses it (400, 405);
//! else 404.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use tokio::net::{TcpListener, ToSocketAddrs};
use tracing::{info, info_span, Instrument};
use xmlbind::Limits;

use crate::error::ServerError;
use crate::exchange::{plain, Endpoint, Peer, DEFAULT_MAX_IN_FLIGHT, DEFAULT_REQUEST_TIMEOUT};
use crate::http::{BodyPace, Security};
use crate::listener::{self, ServeOptions};
use crate::service::{BoxFuture, Service};

/// The body of every response the front door sends.
pub type HttpBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// The connection a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The client's address.
    pub peer: SocketAddr,
    /// The address the client reached (for URLs when the request has no Host).
    pub local: SocketAddr,
}

/// A plain HTTP handler (a REST or Query API) mounted beside SOAP endpoints. Closures
/// `Fn(Request<Incoming>, Connection) -> impl Future<Output = Response<HttpBody>>` are
/// handlers.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        request: Request<Incoming>,
        connection: Connection,
    ) -> BoxFuture<'static, Response<HttpBody>>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request<Incoming>, Connection) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<HttpBody>> + Send + 'static,
{
    fn handle(
        &self,
        request: Request<Incoming>,
        connection: Connection,
    ) -> BoxFuture<'static, Response<HttpBody>> {
        Box::pin(self(request, connection))
    }
}

/// Boxes any response body into an [`HttpBody`].
pub fn boxed<B>(response: Response<B>) -> Response<HttpBody>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    response.map(|body| body.map_err(Into::into).boxed_unsync())
}

/// Builds a [`Server`]: mount endpoints and handlers, then [`ServerBuilder::bind`].
pub struct ServerBuilder {
    soap: Vec<(String, Mount)>,
    prefixes: Vec<(String, Arc<dyn Handler>)>,
    fallback: Option<Arc<dyn Handler>>,
    limits: Limits,
    max_in_flight: usize,
    pace: BodyPace,
    request_timeout: Duration,
    shutdown_grace: Duration,
    max_connections_per_peer: usize,
}

/// A SOAP mount, its endpoint made at bind time with the builder's limits unless given.
enum Mount {
    Service(Box<dyn FnOnce() -> Result<Endpoint, ServerError> + Send>),
    Endpoint(Arc<Endpoint>),
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field(
                "soap",
                &self.soap.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field(
                "prefixes",
                &self.prefixes.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field("fallback", &self.fallback.is_some())
            .field("limits", &self.limits)
            .field("max_in_flight", &self.max_in_flight)
            .field("pace", &self.pace)
            .field("request_timeout", &self.request_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("max_connections_per_peer", &self.max_connections_per_peer)
            .finish()
    }
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            soap: Vec::new(),
            prefixes: Vec::new(),
            fallback: None,
            limits: Limits::default(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            pace: BodyPace::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            shutdown_grace: Duration::from_secs(10),
            max_connections_per_peer: 256,
        }
    }
}

impl ServerBuilder {
    /// Serves `service` at `path` (such as `/axis2/services/EucalyptusNC`), with this
    /// builder's limits, in-flight bound and request timeout.
    #[must_use]
    pub fn mount(
        mut self,
        path: impl Into<String>,
        service: impl Service,
        security: Security,
    ) -> Self {
        self.soap.push((
            path.into(),
            Mount::Service(Box::new(move || Endpoint::new(service, security))),
        ));
        self
    }

    /// Serves an endpoint configured on its own at `path`; one endpoint may serve several
    /// paths.
    #[must_use]
    pub fn mount_endpoint(mut self, path: impl Into<String>, endpoint: Arc<Endpoint>) -> Self {
        self.soap.push((path.into(), Mount::Endpoint(endpoint)));
        self
    }

    /// Hands requests whose path is `prefix` or lies under it (`/a` covers `/a` and `/a/b`,
    /// not `/ab`) to `handler`.
    #[must_use]
    pub fn route(mut self, prefix: impl Into<String>, handler: impl Handler) -> Self {
        self.prefixes.push((prefix.into(), Arc::new(handler)));
        self
    }

    /// Hands every request no mount or prefix takes to `handler` (instead of a 404).
    #[must_use]
    pub fn fallback(mut self, handler: impl Handler) -> Self {
        self.fallback = Some(Arc::new(handler));
        self
    }

    /// Limits on request messages of the services mounted with [`ServerBuilder::mount`];
    /// `max_bytes` also bounds the HTTP body. Default: [`Limits::default`].
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How many messages each service mounted with [`ServerBuilder::mount`] reads, parses
    /// and handles at once. Default: 16.
    #[must_use]
    pub fn max_in_flight(mut self, messages: usize) -> Self {
        self.max_in_flight = messages.max(1);
        self
    }

    /// How fast SOAP request bodies must arrive (services mounted with
    /// [`ServerBuilder::mount`]). Default: [`BodyPace::default`].
    #[must_use]
    pub fn body_pace(mut self, pace: BodyPace) -> Self {
        self.pace = pace;
        self
    }

    /// Connections one peer address may hold open at once; more are closed as they are
    /// accepted. Default: 256.
    #[must_use]
    pub fn max_connections_per_peer(mut self, connections: usize) -> Self {
        self.max_connections_per_peer = connections.max(1);
        self
    }

    /// Time from a complete SOAP request body to the reply (services mounted with
    /// [`ServerBuilder::mount`]); also bounds the wait for any request's headers.
    /// Default: 60 s.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long a shutdown waits for requests in flight before closing their connections.
    /// Default: 10 s.
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Checks the mounts and starts listening (port 0 picks a free port).
    pub async fn bind(
        self,
        addr: impl ToSocketAddrs + std::fmt::Display,
    ) -> Result<Server, ServerError> {
        let mut soap = HashMap::new();
        for (path, mount) in self.soap {
            check_path(&path)?;
            let endpoint = match mount {
                Mount::Endpoint(endpoint) => endpoint,
                Mount::Service(make) => Arc::new(
                    make()?
                        .with_limits(self.limits)
                        .with_max_in_flight(self.max_in_flight)
                        .with_body_pace(self.pace)
                        .with_request_timeout(self.request_timeout),
                ),
            };
            if soap.insert(path.clone(), endpoint).is_some() {
                return Err(ServerError::DuplicatePath(path));
            }
        }
        let mut prefixes = self.prefixes;
        for (prefix, _) in &prefixes {
            check_path(prefix)?;
        }
        // Longest first, so the first match is the most specific.
        prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        if let Some(pair) = prefixes.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(ServerError::DuplicatePath(pair[0].0.clone()));
        }
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let routes = Routes {
            soap,
            prefixes,
            fallback: self.fallback,
        };
        Ok(Server {
            listener,
            local_addr,
            routes: Arc::new(routes),
            options: ServeOptions {
                header_timeout: self.request_timeout,
                shutdown_grace: self.shutdown_grace,
                max_connections_per_peer: self.max_connections_per_peer,
            },
        })
    }
}

fn check_path(path: &str) -> Result<(), ServerError> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(ServerError::BadPath(path.to_owned()))
    }
}

/// A bound server; [`Server::run`] serves until shutdown.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    routes: Arc<Routes>,
    options: ServeOptions,
}

impl Server {
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves connections until `shutdown` completes, then stops accepting, lets requests in
    /// flight finish (up to the grace period) and closes every connection.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self {
            listener,
            local_addr,
            routes,
            options,
        } = self;
        info!(%local_addr, soap = ?routes.soap.keys().collect::<Vec<_>>(), "listening");
        listener::serve(listener, options, shutdown, |stream, peer| {
            let connection = Connection {
                peer,
                // The address this client reached, for WSDL locations without a Host.
                local: stream.local_addr().unwrap_or(local_addr),
            };
            let routes = routes.clone();
            service_fn(move |request| routes.clone().handle(request, connection))
        })
        .await;
        info!("server stopped");
    }
}

/// What every connection task shares.
struct Routes {
    soap: HashMap<String, Arc<Endpoint>>,
    /// Longest prefix first.
    prefixes: Vec<(String, Arc<dyn Handler>)>,
    fallback: Option<Arc<dyn Handler>>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("soap", &self.soap)
            .field(
                "prefixes",
                &self.prefixes.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl Routes {
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        connection: Connection,
    ) -> Result<Response<HttpBody>, Infallible> {
        let path = request.uri().path();
        let endpoint = self.soap.get(path);
        if let Some(endpoint) = endpoint.filter(|_| Endpoint::claims(&request)) {
            return Ok(boxed(soap(endpoint, request, connection).await));
        }
        let handler = self
            .prefixes
            .iter()
            .find(|(prefix, _)| under(path, prefix))
            .map(|(_, handler)| handler)
            .or(self.fallback.as_ref());
        Ok(match (handler, endpoint) {
            (Some(handler), _) => handler.handle(request, connection).await,
            (None, Some(endpoint)) => boxed(soap(endpoint, request, connection).await),
            (None, None) => boxed(plain(StatusCode::NOT_FOUND, "no service at this path")),
        })
    }
}

/// One SOAP request in its span.
async fn soap(
    endpoint: &Endpoint,
    request: Request<Incoming>,
    connection: Connection,
) -> Response<http_body_util::Full<Bytes>> {
    let started = Instant::now();
    let span = info_span!(
        "soap",
        peer = %connection.peer,
        service = endpoint.name(),
        method = %request.method(),
        path = request.uri().path(),
        operation = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    async move {
        let mut request = request;
        // For the context the service gets: who is asking.
        request.extensions_mut().insert(Peer(connection.peer));
        let response = endpoint.handle(request, connection.local).await;
        info!(status = response.status().as_u16(), elapsed = ?started.elapsed(), "answered");
        response
    }
    .instrument(span)
    .await
}

/// Whether `path` is `prefix` or lies under it, by whole segments.
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::under;

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(under("/services/Walrus", "/services/Walrus"));
        assert!(under("/services/Walrus/bucket/key", "/services/Walrus"));
        assert!(under("/services/Walrus/x", "/services/Walrus/"));
        assert!(!under("/services/WalrusX", "/services/Walrus"));
        assert!(under("/anything", "/"));
        assert!(!under("/other", "/services"));
    }
}

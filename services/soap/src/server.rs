//! The HTTP server every component runs: services mounted at paths, each with its security;
//! body limits, timeouts, one tracing span per request, faults made in one place, graceful
//! shutdown. Components supply only their generated dispatcher (a [`Service`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming as RequestBody;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE, HOST};
use hyper::http::uri::Authority;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::{TcpListener, ToSocketAddrs};
use tracing::{error, info, info_span, warn, Instrument, Span};
use xmlbind::{Element, Limits, XmlError};

use crate::envelope::{self, Addressing, BodyContent, Incoming, Outgoing, SoapVersion};
use crate::error::SoapError;
use crate::fault::{Fault, FaultCode};
use crate::http::{content_type, new_message_id, read_body, request_action, BodyError, Security};
use crate::http_wsdl::WsdlTemplate;
use crate::listener::{self, ServeOptions};
use crate::service::{Operation, RequestContext, Service};

/// The WS-Addressing action of fault replies (WS-Addressing 1.0 SOAP Binding, 6.1).
const FAULT_ACTION: &str = "http://www.w3.org/2005/08/addressing/soap/fault";

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("mount path {0:?} must start with '/'")]
    BadPath(String),
    #[error("two services are mounted at {0:?}")]
    DuplicatePath(String),
    #[error("the WSDL of {service} is not readable: {source}")]
    Wsdl {
        service: &'static str,
        source: XmlError,
    },
}

/// Builds a [`Server`]: mount services, adjust limits, then [`ServerBuilder::bind`].
#[derive(Debug)]
pub struct ServerBuilder {
    mounts: Vec<(String, Arc<dyn Service>, Security)>,
    limits: Limits,
    max_in_flight: usize,
    request_timeout: Duration,
    shutdown_grace: Duration,
}

// For the derived Debug of the builder and mounts.
impl std::fmt::Debug for dyn Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Service({})", self.name())
    }
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            mounts: Vec::new(),
            limits: Limits::default(),
            max_in_flight: 16,
            request_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl ServerBuilder {
    /// Serves `service` at `path` (such as `/axis2/services/EucalyptusNC`).
    #[must_use]
    pub fn mount(
        mut self,
        path: impl Into<String>,
        service: impl Service,
        security: Security,
    ) -> Self {
        self.mounts.push((path.into(), Arc::new(service), security));
        self
    }

    /// Limits on request messages; `max_bytes` also bounds the HTTP body, checked while it is
    /// read. Default: [`Limits::default`].
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How many messages may be read, parsed and handled at once; more wait their turn. With
    /// `limits` this bounds the memory hostile messages can take. Default: 16.
    #[must_use]
    pub fn max_in_flight(mut self, messages: usize) -> Self {
        self.max_in_flight = messages.max(1);
        self
    }

    /// Time from the end of the request headers to the reply, including reading the body and
    /// running the operation; also bounds the wait for the headers. Default: 60 s.
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
        let mut mounts = HashMap::new();
        for (path, service, security) in self.mounts {
            if !path.starts_with('/') {
                return Err(ServerError::BadPath(path));
            }
            let wsdl = WsdlTemplate::new(service.wsdl()).map_err(|source| ServerError::Wsdl {
                service: service.name(),
                source,
            })?;
            let mount = Mount {
                service,
                security,
                wsdl,
            };
            if mounts.insert(path.clone(), mount).is_some() {
                return Err(ServerError::DuplicatePath(path));
            }
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
        let app = App {
            mounts,
            limits: self.limits,
            in_flight: tokio::sync::Semaphore::new(self.max_in_flight),
            request_timeout: self.request_timeout,
            shutdown_grace: self.shutdown_grace,
        };
        Ok(Server {
            listener,
            local_addr,
            app: Arc::new(app),
        })
    }
}

/// A bound server; [`Server::run`] serves until shutdown.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    app: Arc<App>,
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
            app,
        } = self;
        info!(%local_addr, paths = ?app.mounts.keys().collect::<Vec<_>>(), "SOAP server listening");
        let options = ServeOptions {
            header_timeout: app.request_timeout,
            shutdown_grace: app.shutdown_grace,
        };
        listener::serve(listener, options, shutdown, |stream, peer| {
            // The address this client reached, for WSDL locations without a Host.
            let reached = stream.local_addr().unwrap_or(local_addr);
            let app = app.clone();
            service_fn(move |request| app.clone().handle(request, peer, reached))
        })
        .await;
        info!("SOAP server stopped");
    }
}

/// What every connection task shares.
#[derive(Debug)]
struct App {
    mounts: HashMap<String, Mount>,
    limits: Limits,
    in_flight: tokio::sync::Semaphore,
    request_timeout: Duration,
    shutdown_grace: Duration,
}

impl App {
    async fn handle(
        self: Arc<Self>,
        request: Request<RequestBody>,
        peer: SocketAddr,
        reached: SocketAddr,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let started = Instant::now();
        let span = info_span!(
            "soap",
            %peer,
            method = %request.method(),
            path = request.uri().path(),
            operation = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        async move {
            let response = self.route(request, reached).await;
            info!(status = response.status().as_u16(), elapsed = ?started.elapsed(), "answered");
            Ok(response)
        }
        .instrument(span)
        .await
    }

    async fn route(
        &self,
        request: Request<RequestBody>,
        reached: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let Some(mount) = self.mounts.get(request.uri().path()) else {
            return plain(StatusCode::NOT_FOUND, "no service at this path");
        };
        match *request.method() {
            Method::POST => mount.exchange(request, self).await,
            Method::GET
                if request
                    .uri()
                    .query()
                    .is_some_and(|q| q.eq_ignore_ascii_case("wsdl")) =>
            {
                mount.wsdl_response(&request, reached)
            }
            Method::GET => plain(
                StatusCode::BAD_REQUEST,
                "GET serves only the WSDL: add ?wsdl",
            ),
            _ => {
                let mut response =
                    plain(StatusCode::METHOD_NOT_ALLOWED, "use POST for SOAP requests");
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, POST"));
                response
            }
        }
    }
}

/// One service at one path.
#[derive(Debug)]
struct Mount {
    service: Arc<dyn Service>,
    security: Security,
    wsdl: WsdlTemplate,
}

/// What is known of a request so far, for the reply or the fault that answers it.
#[derive(Debug)]
struct Exchange {
    /// SOAP 1.1 until the envelope says otherwise.
    version: SoapVersion,
    /// The request's WS-Addressing headers, when it used WS-Addressing.
    addressing: Option<Addressing>,
}

impl Exchange {
    /// WS-Addressing headers for the reply: present only if the request used WS-Addressing.
    fn reply_addressing(&self, action: String) -> Addressing {
        let Some(request) = &self.addressing else {
            return Addressing::default();
        };
        Addressing {
            to: None,
            action: Some(action),
            message_id: new_message_id().ok(),
            relates_to: request.message_id.clone(),
        }
    }
}

impl Mount {
    /// Answers a POST: the reply, or a fault made from whatever went wrong.
    async fn exchange(&self, request: Request<RequestBody>, app: &App) -> Response<Full<Bytes>> {
        let mut exchange = Exchange {
            version: SoapVersion::V11,
            addressing: None,
        };
        let answered = tokio::time::timeout(
            app.request_timeout,
            self.answer(request, app, &mut exchange),
        )
        .await;
        match answered.unwrap_or(Err(ExchangeError::Timeout(app.request_timeout))) {
            Ok(reply) => {
                Span::current().record("outcome", "ok");
                soap_response(StatusCode::OK, exchange.version, reply)
            }
            Err(error) => self.fault_response(&error, &exchange),
        }
    }

    async fn answer(
        &self,
        request: Request<RequestBody>,
        app: &App,
        exchange: &mut Exchange,
    ) -> Result<Vec<u8>, ExchangeError> {
        // Waiting for a turn counts against the request timeout, like the work itself. The
        // semaphore is never closed, so acquiring fails only in theory.
        let _turn = app
            .in_flight
            .acquire()
            .await
            .map_err(|_| ExchangeError::Timeout(app.request_timeout))?;
        let (parts, body) = request.into_parts();
        let bytes = read_body(body, app.limits.max_bytes).await?;
        let incoming = Incoming::parse(&bytes, &app.limits)?;
        exchange.version = incoming.version();
        let verified = incoming.verify(self.security.verifier())?;
        if verified.addressing != Addressing::default() {
            exchange.addressing = Some(verified.addressing.clone());
        }
        if verified.fault.is_some() {
            return Err(ExchangeError::FaultAsRequest);
        }
        let payload = verified.payload.ok_or(ExchangeError::EmptyBody)?;
        let operation = self.operation_for(payload)?;
        Span::current().record("operation", operation.name);
        let soap_action = request_action(exchange.version, &parts.headers);
        if let Some(sent) = soap_action
            .as_deref()
            .filter(|sent| *sent != operation.soap_action)
        {
            return Err(ExchangeError::ActionMismatch {
                sent: sent.to_owned(),
                operation,
            });
        }
        let context = RequestContext {
            soap_action,
            signer_certificate: verified.signer_certificate.clone(),
            message_id: verified.signed_addressing.message_id.clone(),
        };
        let reply = self
            .service
            .call(payload, context)
            .await
            .map_err(ExchangeError::Handler)?;
        let outgoing = Outgoing {
            version: exchange.version,
            addressing: exchange.reply_addressing(format!("{}Response", operation.soap_action)),
            body: BodyContent::Payload {
                namespace: reply.namespace,
                local: reply.local,
                value: reply.body.as_ref(),
            },
        };
        envelope::write(&outgoing, self.security.signer()).map_err(ExchangeError::Reply)
    }

    /// The operation whose request element is `payload`.
    fn operation_for(&self, payload: &Element) -> Result<&'static Operation, ExchangeError> {
        self.service
            .operations()
            .iter()
            .find(|op| payload.name.is(Some(op.request.0), op.request.1))
            .ok_or_else(|| ExchangeError::UnknownOperation(payload.name.expanded()))
    }

    /// The one place where errors become faults on the wire (signed like any reply).
    fn fault_response(&self, error: &ExchangeError, exchange: &Exchange) -> Response<Full<Bytes>> {
        let fault = error.to_fault();
        Span::current().record(
            "outcome",
            tracing::field::display(format_args!("fault {}", fault.code.soap11())),
        );
        match (error, fault.code) {
            (ExchangeError::Reply(_), _) => error!(error = %error, "internal error"),
            (_, FaultCode::Server) => warn!(error = %error, "request failed"),
            _ => info!(error = %error, "request refused"),
        }
        let outgoing = Outgoing {
            version: exchange.version,
            addressing: exchange.reply_addressing(FAULT_ACTION.to_owned()),
            body: BodyContent::Fault(&fault),
        };
        match envelope::write(&outgoing, self.security.signer()) {
            Ok(bytes) => soap_response(
                error.status(exchange.version, fault.code),
                exchange.version,
                bytes,
            ),
            Err(e) => {
                error!(error = %e, "fault could not be written");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }

    /// The WSDL, its `soap:address` set to the address the client used.
    fn wsdl_response(
        &self,
        request: &Request<RequestBody>,
        reached: SocketAddr,
    ) -> Response<Full<Bytes>> {
        // The Host header is the client's word; only a well-formed host[:port] is echoed.
        let host = request
            .headers()
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse::<Authority>().ok())
            .filter(|a| !a.as_str().contains('@'))
            .map_or_else(|| reached.to_string(), |a| a.as_str().to_owned());
        let location = format!("http://{host}{}", request.uri().path());
        let mut response = Response::new(Full::new(Bytes::from(self.wsdl.render(&location))));
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        );
        response
    }
}

/// Everything that can keep a request from its reply.
#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error(transparent)]
    Soap(#[from] SoapError),
    #[error("the request Body holds a fault")]
    FaultAsRequest,
    #[error("the request Body is empty")]
    EmptyBody,
    #[error("no operation takes {0} as its request")]
    UnknownOperation(String),
    #[error("SOAPAction {sent:?} does not name operation {} ({:?})", operation.name, operation.soap_action)]
    ActionMismatch {
        sent: String,
        operation: &'static Operation,
    },
    #[error("operation failed: {0}")]
    Handler(Fault),
    #[error("reply could not be written: {0}")]
    Reply(SoapError),
    #[error("request not answered within {0:?}")]
    Timeout(Duration),
}

impl ExchangeError {
    /// SOAP 1.1 answers every fault with 500; SOAP 1.2 (Part 2, 7.5.1.2) a Sender fault with
    /// 400.
    fn status(&self, version: SoapVersion, code: FaultCode) -> StatusCode {
        match (self, version, code) {
            (Self::Body(BodyError::TooLarge { .. }), ..) => StatusCode::PAYLOAD_TOO_LARGE,
            (_, SoapVersion::V12, FaultCode::Client) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told: the cause of a server-side failure stays in the log.
    fn to_fault(&self) -> Fault {
        match self {
            Self::Soap(e) => e.to_fault(),
            Self::Handler(fault) => fault.clone(),
            Self::Reply(_) => Fault::server("internal error"),
            Self::Timeout(_) => Fault::server(self.to_string()),
            Self::Body(_)
            | Self::FaultAsRequest
            | Self::EmptyBody
            | Self::UnknownOperation(_)
            | Self::ActionMismatch { .. } => Fault::client(self.to_string()),
        }
    }
}

fn soap_response(status: StatusCode, version: SoapVersion, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, content_type(version, None));
    response
}

fn plain(status: StatusCode, message: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(message.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Completes on SIGINT or SIGTERM: the usual shutdown trigger for [`Server::run`].
pub async fn termination_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(e) => {
            warn!(error = %e, "cannot watch SIGTERM; only SIGINT stops the server");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    info!("termination signal received");
}

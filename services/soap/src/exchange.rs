//! The SOAP exchange of one service, as an embeddable endpoint: body limits, the in-flight
//! bound, SOAP 1.1/1.2, the WS-Security check, routing by the Body's element and the
//! SOAPAction check, the one place where errors become faults, and the WSDL at `?wsdl`.
//! [`crate::Server`] mounts endpoints beside other handlers on one listener; anything that
//! speaks hyper can call [`Endpoint::handle`] itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Body;
use hyper::header::{HeaderMap, HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, HOST};
use hyper::http::uri::Authority;
use hyper::{Method, Request, Response, StatusCode};
use tracing::{error, info, warn, Span};
use xmlbind::{ElementRef, Limits};

use crate::envelope::{self, Addressing, BodyContent, Checked, Incoming, Outgoing, SoapVersion};
use crate::error::ServerError;
use crate::error::SoapError;
use crate::fault::{Fault, FaultCode};
use crate::http::{
    content_type, is_soap_message, new_message_id, read_paced_body, request_action, BodyError,
    BodyPace, Security,
};
use crate::http_wsdl::WsdlTemplate;
use crate::service::{Operation, RequestContext, Service};
use crate::wss::Verifier;

/// The client's address, which the server puts in a request's extensions for the
/// service's [`RequestContext`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub SocketAddr);

/// The WS-Addressing action of fault replies (WS-Addressing 1.0 SOAP Binding, 6.1).
const FAULT_ACTION: &str = "http://www.w3.org/2005/08/addressing/soap/fault";

/// Messages an endpoint reads, parses and handles at once unless told otherwise.
pub(crate) const DEFAULT_MAX_IN_FLIGHT: usize = 16;
/// Time from a complete request body to the reply unless told otherwise.
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// One SOAP service with its security and limits, answering requests at whatever path it
/// is mounted.
pub struct Endpoint {
    service: Arc<dyn Service>,
    security: Security,
    wsdl: WsdlTemplate,
    limits: Limits,
    in_flight: tokio::sync::Semaphore,
    pace: BodyPace,
    request_timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("service", &self.service.name())
            .field("security", &self.security)
            .field("limits", &self.limits)
            .field("pace", &self.pace)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Default limits: [`Limits::default`], 16 messages in flight, [`BodyPace::default`],
    /// 60 s per request.
    pub fn new(service: impl Service, security: Security) -> Result<Self, ServerError> {
        let wsdl = WsdlTemplate::new(service.wsdl()).map_err(|source| ServerError::Wsdl {
            service: service.name(),
            source,
        })?;
        Ok(Self {
            service: Arc::new(service),
            security,
            wsdl,
            limits: Limits::default(),
            in_flight: tokio::sync::Semaphore::new(DEFAULT_MAX_IN_FLIGHT),
            pace: BodyPace::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        })
    }

    /// Limits on request messages; `max_bytes` also bounds the HTTP body, checked while it is
    /// read.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How many messages may be read, parsed and handled at once; more wait their turn. With
    /// the limits this bounds the memory hostile messages can take.
    #[must_use]
    pub fn with_max_in_flight(mut self, messages: usize) -> Self {
        self.in_flight = tokio::sync::Semaphore::new(messages.max(1));
        self
    }

    /// How fast request bodies must arrive; one that falls behind is answered 408 and its
    /// connection closed.
    #[must_use]
    pub fn with_body_pace(mut self, pace: BodyPace) -> Self {
        self.pace = pace;
        self
    }

    /// Time from a complete request body to the reply, including the wait for a turn and
    /// running the operation.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The service's name, as in its WSDL.
    pub fn name(&self) -> &'static str {
        self.service.name()
    }

    /// Whether `request` is for this endpoint rather than for another handler at the same
    /// path: a SOAP message (a `POST` naming a SOAPAction or of a SOAP content type) or a
    /// `GET` with `?wsdl`. Any other `POST`, such as the EC2 Query API's form, is the other
    /// handler's; where there is none, the endpoint answers it all the same.
    pub fn claims<B>(request: &Request<B>) -> bool {
        match *request.method() {
            Method::POST => is_soap_message(request.headers()),
            Method::GET => is_wsdl_query(request),
            _ => false,
        }
    }

    /// Answers one HTTP request: a reply or fault to a `POST`, the WSDL to `GET ?wsdl` (its
    /// address the one the client used; `reached` when it sent no usable Host), and 400 or
    /// 405 to anything else.
    pub async fn handle<B>(&self, request: Request<B>, reached: SocketAddr) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        match *request.method() {
            Method::POST => self.exchange(request).await,
            Method::GET if is_wsdl_query(&request) => self.wsdl_response(&request, reached),
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

    /// Answers a POST: the reply, or a fault made from whatever went wrong.
    async fn exchange<B>(&self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let mut exchange = Exchange {
            version: SoapVersion::V11,
            addressing: None,
        };
        let (parts, body) = request.into_parts();
        let peer = parts.extensions.get::<Peer>().map(|p| p.0);
        // The body is read at its own pace before a slot is taken, so that clients stalling
        // their bodies hold no slot that a complete message is waiting for.
        let answered = match read_paced_body(body, self.limits.max_bytes, Some(self.pace)).await {
            Ok(bytes) => tokio::time::timeout(
                self.request_timeout,
                self.answer(&parts.headers, peer, bytes, &mut exchange),
            )
            .await
            .unwrap_or(Err(ExchangeError::Timeout(self.request_timeout))),
            Err(e) => Err(ExchangeError::Body(e)),
        };
        match answered {
            Ok(reply) => {
                Span::current().record("outcome", "ok");
                soap_response(StatusCode::OK, exchange.version, reply)
            }
            Err(error) => self.fault_response(&error, &exchange),
        }
    }

    async fn answer(
        &self,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        bytes: Bytes,
        exchange: &mut Exchange,
    ) -> Result<Vec<u8>, ExchangeError> {
        // Waiting for a turn counts against the request timeout, like the work itself. The
        // semaphore is never closed, so acquiring fails only in theory.
        let _turn = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| ExchangeError::Timeout(self.request_timeout))?;
        let (version, checked) = self.check(bytes).await?;
        exchange.version = version;
        let mut verified = checked?;
        if verified.addressing != Addressing::default() {
            exchange.addressing = Some(std::mem::take(&mut verified.addressing));
        }
        if verified.fault.is_some() {
            return Err(ExchangeError::FaultAsRequest);
        }
        // What the service is told is moved out of the verdict, not copied.
        let signer_certificate = verified.signer_certificate.take();
        let message_id = verified.signed_addressing.message_id.take();
        let payload = verified.payload().ok_or(ExchangeError::EmptyBody)?;
        let soap_action = request_action(exchange.version, headers);
        let operation = self.route(payload, soap_action.as_deref())?;
        Span::current().record("operation", operation.name);
        let context = RequestContext {
            soap_action,
            signer_certificate,
            message_id,
            peer,
        };
        let reply = self
            .service
            .call(operation, payload, context)
            .await
            .map_err(ExchangeError::Handler)?;
        let outgoing = Outgoing {
            version: exchange.version,
            addressing: exchange.reply_addressing([operation.soap_action, "Response"].concat()),
            body: BodyContent::Payload {
                namespace: reply.namespace,
                local: reply.local,
                value: reply.body.as_ref(),
            },
        };
        envelope::write(&outgoing, self.security.signer()).map_err(ExchangeError::Reply)
    }

    /// Parses and verifies a request; returns the envelope's version beside the verdict, for
    /// the fault. When verifying writes the replay journal (file-system work, done before
    /// the message is handed on), all of it runs on a blocking thread. Otherwise it stays
    /// here: the hop costs about as much CPU as parsing and verifying a request.
    async fn check(
        &self,
        bytes: Bytes,
    ) -> Result<(SoapVersion, Result<Checked, SoapError>), SoapError> {
        let (security, limits) = (self.security.clone(), self.limits);
        let check = move || {
            let incoming = Incoming::parse(&bytes, &limits)?;
            Ok((incoming.version(), incoming.check(security.verifier())))
        };
        if self.security.verifier().is_some_and(Verifier::journaled) {
            tokio::task::spawn_blocking(check)
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        } else {
            check()
        }
    }

    /// The one place requests are routed: the operation whose request element is `payload`,
    /// if the SOAPAction `sent` does not name another ([`Operation::accepts_action`]).
    fn route(
        &self,
        payload: ElementRef<'_>,
        sent: Option<&str>,
    ) -> Result<&'static Operation, ExchangeError> {
        let operation = self
            .service
            .operations()
            .iter()
            .find(|op| payload.name().is(Some(op.request.0), op.request.1))
            .ok_or_else(|| ExchangeError::UnknownOperation {
                element: payload.name().expanded(),
                service: self.service.name(),
            })?;
        match sent {
            Some(sent) if !operation.accepts_action(Some(sent)) => {
                Err(ExchangeError::ActionMismatch {
                    sent: sent.to_owned(),
                    operation,
                })
            }
            _ => Ok(operation),
        }
    }

    /// The one place where errors become faults on the wire (signed like any reply).
    fn fault_response(&self, error: &ExchangeError, exchange: &Exchange) -> Response<Full<Bytes>> {
        let fault = error.to_fault(self.service.as_ref());
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
            Ok(bytes) => {
                let mut response = soap_response(
                    error.status(exchange.version, fault.code),
                    exchange.version,
                    bytes,
                );
                // What is left of a stalled body will not come: the connection is done.
                if matches!(error, ExchangeError::Body(BodyError::TooSlow { .. })) {
                    response
                        .headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                }
                response
            }
            Err(e) => {
                error!(error = %e, "fault could not be written");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }

    /// The WSDL, its `soap:address` set to the address the client used.
    fn wsdl_response<B>(&self, request: &Request<B>, reached: SocketAddr) -> Response<Full<Bytes>> {
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

fn is_wsdl_query<B>(request: &Request<B>) -> bool {
    request
        .uri()
        .query()
        .is_some_and(|q| q.eq_ignore_ascii_case("wsdl"))
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
    #[error("unknown operation {element} for {service}")]
    UnknownOperation {
        element: String,
        service: &'static str,
    },
    #[error("SOAPAction {sent:?} does not match operation {}, whose SOAPAction is {:?}", operation.name, operation.soap_action)]
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
    /// 400. Bodies too large or too slow get the HTTP statuses that say so.
    fn status(&self, version: SoapVersion, code: FaultCode) -> StatusCode {
        match (self, version, code) {
            (Self::Body(BodyError::TooLarge { .. }), ..) => StatusCode::PAYLOAD_TOO_LARGE,
            (Self::Body(BodyError::TooSlow { .. }), ..) => StatusCode::REQUEST_TIMEOUT,
            (_, SoapVersion::V12, FaultCode::Client) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told: the cause of a server-side failure stays in the log, and
    /// a security refusal is put in the service's terms.
    fn to_fault(&self, service: &dyn Service) -> Fault {
        match self {
            Self::Soap(SoapError::Security(e)) if e.is_client_error() => service.security_fault(e),
            Self::Soap(e) => e.to_fault(),
            Self::Handler(fault) => fault.clone(),
            Self::Reply(_) => Fault::server("internal error"),
            Self::Timeout(_) => Fault::server(self.to_string()),
            Self::Body(_)
            | Self::FaultAsRequest
            | Self::EmptyBody
            | Self::UnknownOperation { .. }
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

pub(crate) fn plain(status: StatusCode, message: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(message.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

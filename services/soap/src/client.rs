//! The HTTP client under every generated client stub: pooled keep-alive connections,
//! timeouts, signed requests with WS-Addressing headers, verified replies; and, for tools
//! that show a call rather than act on it, the exchange as it went ([`HttpTransport::call_raw`]).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use xmlbind::{Document, Limits, ToXml};

use crate::envelope::{self, Addressing, BodyContent, Incoming, Outgoing, SoapVersion};
use crate::error::SoapError;
use crate::fault::Fault;
use crate::http::{content_type, new_message_id, read_body, soap_action_header, Security};
use crate::service::{BoxFuture, ClientError, Operation, Transport, TransportError};
use crate::wss::WssError;

/// Calls the operations of one SOAP endpoint over HTTP/1.1.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    endpoint: Uri,
    client: Client<HttpConnector, Full<Bytes>>,
    security: Security,
    version: SoapVersion,
    request_timeout: Duration,
    limits: Limits,
}

/// Configures an [`HttpTransport`].
#[derive(Debug)]
pub struct HttpTransportBuilder {
    endpoint: String,
    security: Security,
    version: SoapVersion,
    connect_timeout: Duration,
    request_timeout: Duration,
    limits: Limits,
}

impl HttpTransport {
    /// A transport to `endpoint` (`http://host:port/path`), signing and verifying as
    /// `security` says.
    pub fn builder(endpoint: impl Into<String>, security: Security) -> HttpTransportBuilder {
        HttpTransportBuilder {
            endpoint: endpoint.into(),
            security,
            version: SoapVersion::V11,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            limits: Limits::default(),
        }
    }

    pub fn endpoint(&self) -> &Uri {
        &self.endpoint
    }

    /// Sends `request` as `operation` and reads the reply: the message ID and bytes sent, the
    /// reply's status and bytes.
    async fn send(
        &self,
        operation: &'static Operation,
        request: &(dyn ToXml + Sync),
    ) -> Result<Sent, ClientError> {
        let message_id = new_message_id().map_err(TransportError::MessageId)?;
        let outgoing = Outgoing {
            version: self.version,
            addressing: Addressing {
                to: Some(self.endpoint.to_string()),
                action: Some(operation.soap_action.to_owned()),
                message_id: Some(message_id.clone()),
                relates_to: None,
            },
            body: BodyContent::Payload {
                namespace: operation.request.0,
                local: operation.request.1,
                value: request,
            },
        };
        let bytes = envelope::write(&outgoing, self.security.signer()).map_err(request_error)?;

        let mut http_request = Request::new(Full::new(Bytes::from(bytes.clone())));
        *http_request.method_mut() = Method::POST;
        *http_request.uri_mut() = self.endpoint.clone();
        let headers = http_request.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            content_type(self.version, Some(operation.soap_action)),
        );
        if self.version == SoapVersion::V11 {
            if let Some(action) = soap_action_header(operation.soap_action) {
                headers.insert("soapaction", action);
            }
        }

        let response = self.client.request(http_request).await.map_err(|error| {
            TransportError::Unreachable {
                endpoint: self.endpoint.to_string(),
                error,
            }
        })?;
        let status = response.status();
        let reply = read_body(response.into_body(), self.limits.max_bytes)
            .await
            .map_err(|source| TransportError::Reply {
                endpoint: self.endpoint.to_string(),
                source,
            })?;
        Ok(Sent {
            message_id,
            request: bytes,
            status,
            reply,
        })
    }

    async fn exchange(
        &self,
        operation: &'static Operation,
        request: &(dyn ToXml + Sync),
    ) -> Result<Document, ClientError> {
        let Sent {
            message_id,
            status,
            reply: body,
            ..
        } = self.send(operation, request).await?;
        let incoming = match Incoming::parse(&body, &self.limits) {
            Ok(incoming) => incoming,
            // An error page from something that is not a SOAP service.
            Err(_) if !status.is_success() => {
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                return Err(TransportError::Status {
                    endpoint: self.endpoint.to_string(),
                    status,
                    text,
                }
                .into());
            }
            Err(e) => return Err(reply_error(e)),
        };
        let verified = incoming
            .verify(self.security.verifier())
            .map_err(reply_error)?;
        if let Some(fault) = verified.fault {
            return Err(ClientError::Fault(fault));
        }
        if let Some(relates_to) = verified
            .addressing
            .relates_to
            .as_deref()
            .filter(|r| *r != message_id)
        {
            return Err(ClientError::UnrelatedReply {
                relates_to: relates_to.to_owned(),
                message_id,
            });
        }
        let (namespace, local) = operation.response;
        match verified.payload {
            Some(payload) if payload.name().is(Some(namespace), local) && status.is_success() => {
                Ok(payload.to_document())
            }
            Some(payload) => Err(ClientError::UnexpectedResponse {
                expected: format!("{{{namespace}}}{local} with HTTP 200"),
                found: format!("{} with HTTP {status}", payload.name().expanded()),
            }),
            None => Err(ClientError::UnexpectedResponse {
                expected: format!("{{{namespace}}}{local}"),
                found: format!("an empty Body with HTTP {status}"),
            }),
        }
    }
}

impl Transport for HttpTransport {
    fn call<'a>(
        &'a self,
        operation: &'static Operation,
        request: &'a (dyn ToXml + Sync),
    ) -> BoxFuture<'a, Result<Document, ClientError>> {
        Box::pin(async move {
            tokio::time::timeout(self.request_timeout, self.exchange(operation, request))
                .await
                .unwrap_or_else(|_| {
                    Err(TransportError::Timeout {
                        endpoint: self.endpoint.to_string(),
                        operation: operation.name,
                        timeout: self.request_timeout,
                    }
                    .into())
                })
        })
    }
}

/// A call as it went over the wire, for tools that show it: what was sent and received,
/// byte for byte, and what checking the reply found.
#[derive(Debug)]
pub struct Exchange {
    /// The request envelope, signed as the transport signs.
    pub request: Vec<u8>,
    pub status: StatusCode,
    pub reply: Vec<u8>,
    /// The fault the reply carries, if it is a SOAP envelope holding one.
    pub fault: Option<Fault>,
    pub signature: ReplySignature,
}

/// What the transport's verifier made of a reply.
#[derive(Debug)]
pub enum ReplySignature {
    /// Signed by a trusted certificate (DER), covering what the verifier demands.
    Valid {
        certificate: Vec<u8>,
    },
    /// Signed, but the signature fails a check.
    Invalid(WssError),
    Unsigned,
    /// Not a SOAP envelope, so nothing to check.
    NotEnvelope(SoapError),
    /// The transport has no verifier.
    Unchecked,
}

impl HttpTransport {
    /// Sends `request` as `operation` and returns the exchange whatever the reply is (a
    /// fault, unsigned, badly signed, not SOAP at all): for consoles and debugging tools,
    /// which show it rather than act on it. Errors only when nothing came back.
    pub async fn call_raw(
        &self,
        operation: &'static Operation,
        request: &(dyn ToXml + Sync),
    ) -> Result<Exchange, ClientError> {
        let sent = tokio::time::timeout(self.request_timeout, self.send(operation, request))
            .await
            .map_err(|_| TransportError::Timeout {
                endpoint: self.endpoint.to_string(),
                operation: operation.name,
                timeout: self.request_timeout,
            })??;
        let (fault, signature) = match Incoming::parse(&sent.reply, &self.limits) {
            Ok(incoming) => {
                let fault = incoming.verify(None).ok().and_then(|v| v.fault);
                let signature = match self.security.verifier() {
                    None => ReplySignature::Unchecked,
                    Some(verifier) => match incoming.verify(Some(verifier)) {
                        Ok(verified) => match verified.signer_certificate {
                            Some(certificate) => ReplySignature::Valid { certificate },
                            None => ReplySignature::Unsigned,
                        },
                        Err(SoapError::Security(WssError::Unsigned)) => ReplySignature::Unsigned,
                        Err(SoapError::Security(e)) => ReplySignature::Invalid(e),
                        Err(e) => ReplySignature::NotEnvelope(e),
                    },
                };
                (fault, signature)
            }
            Err(e) => (None, ReplySignature::NotEnvelope(e)),
        };
        Ok(Exchange {
            request: sent.request,
            status: sent.status,
            reply: sent.reply.to_vec(),
            fault,
            signature,
        })
    }
}

/// A request sent and its reply, as [`HttpTransport::send`] returns them.
struct Sent {
    message_id: String,
    request: Vec<u8>,
    status: StatusCode,
    reply: Bytes,
}

impl HttpTransportBuilder {
    /// The SOAP version of requests. Default: 1.1, as every Eucalyptus hop uses.
    #[must_use]
    pub fn soap_version(mut self, version: SoapVersion) -> Self {
        self.version = version;
        self
    }

    /// Default: 10 s.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time for a whole call, from sending the request to reading the reply. Default: 60 s.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Limits on replies; `max_bytes` also bounds the HTTP body. Default: [`Limits::default`].
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn build(self) -> Result<HttpTransport, ClientError> {
        let endpoint: Uri =
            self.endpoint
                .parse()
                .map_err(|source| TransportError::InvalidEndpoint {
                    endpoint: self.endpoint.to_string(),
                    source,
                })?;
        if endpoint.scheme_str() != Some("http") || endpoint.authority().is_none() {
            return Err(TransportError::NotHttp(self.endpoint).into());
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(self.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(HttpTransport {
            endpoint,
            client,
            security: self.security,
            version: self.version,
            request_timeout: self.request_timeout,
            limits: self.limits,
        })
    }
}

/// A request that could not be written, most likely because signing failed.
fn request_error(e: SoapError) -> ClientError {
    match e {
        SoapError::Security(e) => ClientError::Signing(e),
        other => TransportError::Write(other).into(),
    }
}

fn reply_error(e: SoapError) -> ClientError {
    match e {
        SoapError::Xml(e) => ClientError::Xml(e),
        SoapError::Security(e) => ClientError::Security(e),
        other => ClientError::InvalidReply(other),
    }
}

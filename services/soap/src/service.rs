//! The seam between generated code and the runtime.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use hyper::StatusCode;
use xmlbind::{Document, ElementRef, ToXml, XmlError};

use crate::error::SoapError;
use crate::fault::Fault;
use crate::http::BodyError;
use crate::wss::WssError;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the runtime knows of a request besides its Body.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The SOAPAction (SOAP 1.1 header or SOAP 1.2 `action` parameter), unquoted; `None` or
    /// empty when the client sent none.
    pub soap_action: Option<String>,
    /// DER of the X.509 certificate whose signature over the Body was verified, if any.
    pub signer_certificate: Option<Vec<u8>>,
    /// `wsa:MessageID` of the request, when present and, on an endpoint that verifies
    /// signatures, covered by the verified signature.
    pub message_id: Option<String>,
    /// The client's address, when the request came over a connection.
    pub peer: Option<std::net::SocketAddr>,
}

/// One operation of a portType, as the WSDL binding declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub name: &'static str,
    pub soap_action: &'static str,
    /// Namespace and local name of the request element (the Body's first child).
    pub request: (&'static str, &'static str),
    pub response: (&'static str, &'static str),
}

impl Operation {
    /// Whether a request for this operation may carry the SOAPAction `sent` (unquoted; `None`
    /// when absent or empty). The Body's element has already named the operation, so an
    /// action only counts against it: one that names another operation is refused, no action
    /// is accepted, and an operation whose WSDL declares an empty soapAction (all of S3's)
    /// accepts any.
    pub fn accepts_action(&self, sent: Option<&str>) -> bool {
        match sent {
            None | Some("") => true,
            Some(sent) => self.soap_action.is_empty() || sent == self.soap_action,
        }
    }
}

/// A typed response ready to be written into a reply Body.
pub struct Reply {
    pub namespace: &'static str,
    pub local: &'static str,
    pub body: Box<dyn ToXml + Send + Sync>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reply({{{}}}{})", self.namespace, self.local)
    }
}

/// A SOAP service: implemented by the generated dispatcher of each portType. Routing is the
/// runtime's ([`crate::Endpoint`]); a service only reads the request and runs the operation.
pub trait Service: Send + Sync + 'static {
    /// Service name, as in the WSDL (`EucalyptusNC`).
    fn name(&self) -> &'static str;

    /// The WSDL document the service was generated from.
    fn wsdl(&self) -> &'static str;

    /// The operations, in WSDL order.
    fn operations(&self) -> &'static [Operation];

    /// Runs `operation` (one of [`Service::operations`], chosen by the runtime from the
    /// Body's element and checked against the SOAPAction) on `body`, that element.
    fn call<'a>(
        &'a self,
        operation: &'static Operation,
        body: ElementRef<'a>,
        context: RequestContext,
    ) -> BoxFuture<'a, Result<Reply, Fault>>;

    /// The fault for a request the endpoint's WS-Security checks refused (the sender's
    /// failure, never one of our own keys). A service whose API has codes of its own for
    /// such refusals names them here, as the CLC answers with EC2's `AuthFailure`; by
    /// default, a Client fault naming the check that failed.
    fn security_fault(&self, error: &WssError) -> Fault {
        SoapError::security_refusal(error)
    }
}

/// Why a client call did not produce a typed response.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the service answered with a fault: {0}")]
    Fault(Fault),
    #[error("transport failed: {0}")]
    Transport(#[from] TransportError),
    #[error("request could not be signed: {0}")]
    Signing(#[source] WssError),
    #[error("reply failed security checks: {0}")]
    Security(#[source] WssError),
    #[error("reply relates to {relates_to}, not to this request ({message_id})")]
    UnrelatedReply {
        relates_to: String,
        message_id: String,
    },
    #[error("reply could not be read: {0}")]
    Xml(#[from] XmlError),
    #[error("reply is not a usable SOAP envelope: {0}")]
    InvalidReply(#[source] SoapError),
    #[error("expected {expected} in the reply, found {found}")]
    UnexpectedResponse { expected: String, found: String },
}

/// Why a request did not reach the service, or its reply did not come back.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid endpoint {endpoint:?}: {source}")]
    InvalidEndpoint {
        endpoint: String,
        source: hyper::http::uri::InvalidUri,
    },
    #[error("endpoint {0:?} must be an http:// URL with a host")]
    NotHttp(String),
    #[error("no random MessageID: {0}")]
    MessageId(#[source] openssl::error::ErrorStack),
    #[error("request could not be written: {0}")]
    Write(#[source] SoapError),
    /// hyper's errors say little at the top ("client error (Connect)"), so the message
    /// carries their causes.
    #[error("{endpoint}: {}", error_chain(.error))]
    Unreachable {
        endpoint: String,
        error: hyper_util::client::legacy::Error,
    },
    #[error("reply from {endpoint}: {source}")]
    Reply { endpoint: String, source: BodyError },
    /// A reply that is not SOAP at all, such as a proxy's error page.
    #[error("HTTP {status} from {endpoint}: {text}")]
    Status {
        endpoint: String,
        status: StatusCode,
        text: String,
    },
    #[error("{endpoint} did not answer {operation} within {timeout:?}")]
    Timeout {
        endpoint: String,
        operation: &'static str,
        timeout: Duration,
    },
}

/// An error's message followed by those of its causes: hyper's errors say little at the top
/// ("client error (Connect)"), their causes say what happened.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Sends one request Body and returns the reply Body's first child element; implemented by the
/// HTTP client (and by in-process transports in tests).
pub trait Transport: Send + Sync {
    fn call<'a>(
        &'a self,
        operation: &'static Operation,
        request: &'a (dyn ToXml + Sync),
    ) -> BoxFuture<'a, Result<Document, ClientError>>;
}

#[cfg(test)]
mod tests {
    use super::Operation;

    const fn operation(soap_action: &'static str) -> Operation {
        Operation {
            name: "Op",
            soap_action,
            request: ("urn:x", "Op"),
            response: ("urn:x", "OpResponse"),
        }
    }

    /// Guards the one SOAPAction rule: only an action naming another operation is refused.
    #[test]
    fn an_action_counts_only_against_the_operation_it_contradicts() {
        let declared = operation("urn:x#Op");
        assert!(declared.accepts_action(None));
        assert!(declared.accepts_action(Some("")));
        assert!(declared.accepts_action(Some("urn:x#Op")));
        assert!(!declared.accepts_action(Some("urn:x#Other")));
        // S3 declares empty soapActions: clients send "", the operation name, or anything.
        let empty = operation("");
        for sent in [
            None,
            Some(""),
            Some("ListAllMyBuckets"),
            Some("urn:whatever"),
        ] {
            assert!(empty.accepts_action(sent), "{sent:?}");
        }
    }
}

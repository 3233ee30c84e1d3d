use crate::fault::{Fault, FaultCode};

/// Everything that can go wrong in the SOAP layer. Turned into a fault in one place,
/// [`SoapError::to_fault`], so the wire never shows more than the caller should see.
#[derive(Debug, thiserror::Error)]
pub enum SoapError {
    #[error("malformed message: {0}")]
    Xml(#[from] xmlbind::XmlError),
    #[error("not a SOAP envelope: {0}")]
    NotEnvelope(String),
    /// The root is an `Envelope` in a namespace other than SOAP 1.1's or 1.2's.
    #[error("unsupported SOAP envelope namespace {0:?}")]
    VersionMismatch(String),
    /// A header block marked `mustUnderstand` that this runtime does not process.
    #[error("header {0} is marked mustUnderstand but is not understood")]
    MustUnderstand(String),
    #[error("header {0} occurs more than once")]
    DuplicateHeader(String),
    #[error("security check failed: {0}")]
    Security(#[from] crate::wss::WssError),
}

impl SoapError {
    /// The fault to answer with. Security failures are `Client` faults whose string names the
    /// precise check that failed (WS-Security's own fault QNames such as
    /// `wsse:FailedCheck` would need a code our [`FaultCode`] cannot express, and SOAP 1.2
    /// would demand them as subcodes; a precise string serves callers and logs equally well).
    /// Failures of our own keys are `Server` faults that say no more than that.
    pub fn to_fault(&self) -> Fault {
        match self {
            Self::Xml(e) => Fault::client(format!("malformed message: {e}")),
            Self::NotEnvelope(m) => Fault::client(format!("not a SOAP envelope: {m}")),
            Self::VersionMismatch(_) => Fault {
                code: FaultCode::VersionMismatch,
                ..Fault::client(self.to_string())
            },
            Self::MustUnderstand(_) => Fault {
                code: FaultCode::MustUnderstand,
                ..Fault::client(self.to_string())
            },
            Self::DuplicateHeader(_) => Fault::client(self.to_string()),
            Self::Security(e) if e.is_client_error() => Self::security_refusal(e),
            Self::Security(_) => Fault::server("the message could not be secured"),
        }
    }
}

impl SoapError {
    /// The fault of a message that failed a security check.
    pub(crate) fn security_refusal(error: &crate::wss::WssError) -> Fault {
        Fault::client(format!("security check failed: {error}"))
    }
}

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
        source: xmlbind::XmlError,
    },
}

use std::fmt;

/// Who is to blame for a fault, as SOAP 1.1 names it (SOAP 1.2's Sender and Receiver map to
/// Client and Server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    VersionMismatch,
    MustUnderstand,
    Client,
    Server,
}

impl FaultCode {
    /// The local name of the code in SOAP 1.1.
    pub fn soap11(self) -> &'static str {
        match self {
            Self::VersionMismatch => "VersionMismatch",
            Self::MustUnderstand => "MustUnderstand",
            Self::Client => "Client",
            Self::Server => "Server",
        }
    }

    /// The local name of the code in SOAP 1.2.
    pub fn soap12(self) -> &'static str {
        match self {
            Self::VersionMismatch => "VersionMismatch",
            Self::MustUnderstand => "MustUnderstand",
            Self::Client => "Sender",
            Self::Server => "Receiver",
        }
    }
}

/// A SOAP fault: what a handler returns instead of a response, and what a client receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: FaultCode,
    /// A more precise code under `code`, such as S3's `NoSuchBucket`: written
    /// `Client.NoSuchBucket` in SOAP 1.1 (its dotted notation) and as the `Subcode` in 1.2.
    pub subcode: Option<String>,
    pub string: String,
    /// Text for the `detail` element.
    pub detail: Option<String>,
}

impl Fault {
    /// The request was wrong: bad input, unknown operation, failed security checks.
    pub fn client(message: impl Into<String>) -> Self {
        Self {
            code: FaultCode::Client,
            subcode: None,
            string: message.into(),
            detail: None,
        }
    }

    /// The service failed to carry out a valid request.
    pub fn server(message: impl Into<String>) -> Self {
        Self {
            code: FaultCode::Server,
            subcode: None,
            string: message.into(),
            detail: None,
        }
    }

    #[must_use]
    pub fn with_subcode(mut self, subcode: impl Into<String>) -> Self {
        self.subcode = Some(subcode.into());
        self
    }

    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "soap:{}", self.code.soap11())?;
        if let Some(subcode) = &self.subcode {
            write!(f, ".{subcode}")?;
        }
        write!(f, ": {}", self.string)?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Fault {}

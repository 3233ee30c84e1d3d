use crate::fault::Fault;

/// Everything that can go wrong in the SOAP layer. Turned into a fault in one place,
/// [`SoapError::to_fault`], so the wire never shows more than the caller should see.
#[derive(Debug, thiserror::Error)]
pub enum SoapError {
    #[error("malformed message: {0}")]
    Xml(#[from] xmlbind::XmlError),
    #[error("not a SOAP envelope: {0}")]
    NotEnvelope(String),
    #[error("security check failed: {0}")]
    Security(#[from] crate::wss::WssError),
}

impl SoapError {
    pub fn to_fault(&self) -> Fault {
        match self {
            Self::Xml(e) => Fault::client(format!("malformed message: {e}")),
            Self::NotEnvelope(m) => Fault::client(format!("not a SOAP envelope: {m}")),
            Self::Security(e) => Fault::client(format!("security check failed: {e}")),
        }
    }
}

//! What an EC2 request can fail with, and the one place such a failure becomes what its
//! front door answers: EC2's error document (`Response/Errors/Error/{Code,Message}`,
//! `RequestID`) with its HTTP status for Query, a SOAP fault carrying EC2's code for SOAP.

use hyper::StatusCode;
use soap::wss::WssError;
use soap::Fault;
use xmlbind::XmlWriter;

use wire::query::QueryError;

use crate::store::StoreError;

/// An EC2 API error: its variant names EC2's code, its text is the message.
#[derive(Debug, thiserror::Error)]
pub enum Ec2Error {
    #[error("{0}")]
    AuthFailure(String),
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")]
    SignatureDoesNotMatch,
    /// A SOAP request's signature (the user's certificate) does not verify.
    #[error("The request signature does not verify: {0}")]
    InvalidSignature(String),
    #[error("The AWS Access Key Id you provided does not exist in our records.")]
    InvalidClientTokenId,
    #[error("Request has expired: {0}")]
    RequestExpired(String),
    #[error("The request must contain the parameter {0}")]
    MissingParameter(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("The key pair '{0}' already exists.")]
    KeyPairDuplicate(String),
    #[error("The key pair '{0}' does not exist")]
    KeyPairNotFound(String),
    #[error("The security group '{0}' already exists")]
    GroupDuplicate(String),
    #[error("The security group '{0}' does not exist")]
    GroupNotFound(String),
    #[error("The security group '{0}' is in use: {1}")]
    GroupInUse(String, String),
    #[error("The security group '{0}' is reserved and cannot be deleted")]
    GroupReserved(String),
    #[error("The specified rule already exists in the security group '{0}'")]
    PermissionDuplicate(String),
    #[error("The specified rule does not exist in the security group '{0}'")]
    PermissionNotFound(String),
    #[error("The instance ID '{0}' does not exist")]
    InstanceNotFound(String),
    #[error("Invalid id: '{0}'")]
    InstanceMalformed(String),
    #[error("{0}")]
    InsufficientInstanceCapacity(String),
    /// A cluster did not do what it was asked.
    #[error("The cluster {0} could not serve the request")]
    Cluster(String),
    #[error("The manifest {0}")]
    InvalidManifest(String),
    #[error("The image id '{0}' does not exist")]
    ImageNotFound(String),
    #[error("Invalid id: '{0}'")]
    ImageMalformed(String),
    #[error("Address '{0}' not found.")]
    AddressNotFound(String),
    #[error("Too many addresses allocated: a user may hold {0}")]
    AddressLimitExceeded(usize),
    #[error("There are no public addresses left to allocate")]
    InsufficientAddressCapacity,
    /// Every cluster runs a network mode without public addresses (SYSTEM or STATIC).
    #[error("The clusters of this cloud have no public addresses: their network mode (SYSTEM or STATIC) gives none")]
    AddressesUnsupported,
    #[error("{0}")]
    IncorrectInstanceState(String),
    /// The image exists, and the caller may not run or change it.
    #[error("Not authorized for image: {0}")]
    ImageNotAuthorized(String),
    /// The parameters do not make the action's request (the generated Query binding's
    /// verdict, with EC2's code).
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("The volume '{0}' does not exist.")]
    VolumeNotFound(String),
    #[error("The snapshot '{0}' does not exist.")]
    SnapshotNotFound(String),
    #[error("The volume '{0}' is attached to an instance")]
    VolumeInUse(String),
    #[error("{0}")]
    IncorrectState(String),
    #[error("{0}")]
    VolumeLimitExceeded(String),
    #[error("{0}")]
    SnapshotLimitExceeded(String),
    /// The cloud runs without a storage controller (`euca cloud --storage URL`).
    #[error("This cloud has no storage controller: volumes and snapshots are unavailable")]
    NoStorage,
    /// The storage controller did not do what it was asked.
    #[error("The storage controller could not serve the request")]
    Storage,
    #[error("The action {0} is not supported yet")]
    Unsupported(String),
    #[error("The request body is larger than {0} bytes")]
    RequestTooLarge(usize),
    /// Our own failure: logged with its cause, answered without it.
    #[error("An internal error has occurred")]
    Internal(String),
}

impl Ec2Error {
    /// EC2's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AuthFailure(_) => "AuthFailure",
            Self::SignatureDoesNotMatch | Self::InvalidSignature(_) => "SignatureDoesNotMatch",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::RequestExpired(_) => "RequestExpired",
            Self::MissingParameter(_) => "MissingParameter",
            Self::InvalidParameterValue(_) => "InvalidParameterValue",
            Self::KeyPairDuplicate(_) => "InvalidKeyPair.Duplicate",
            Self::KeyPairNotFound(_) => "InvalidKeyPair.NotFound",
            Self::GroupDuplicate(_) => "InvalidGroup.Duplicate",
            Self::GroupNotFound(_) => "InvalidGroup.NotFound",
            Self::GroupInUse(..) => "InvalidGroup.InUse",
            Self::GroupReserved(_) => "InvalidGroup.Reserved",
            Self::PermissionDuplicate(_) => "InvalidPermission.Duplicate",
            Self::PermissionNotFound(_) => "InvalidPermission.NotFound",
            Self::InstanceNotFound(_) => "InvalidInstanceID.NotFound",
            Self::InstanceMalformed(_) => "InvalidInstanceID.Malformed",
            Self::InsufficientInstanceCapacity(_) => "InsufficientInstanceCapacity",
            Self::Cluster(_) => "Unavailable",
            Self::InvalidManifest(_) => "InvalidManifest",
            Self::ImageNotFound(_) => "InvalidAMIID.NotFound",
            Self::ImageMalformed(_) => "InvalidAMIID.Malformed",
            Self::AddressNotFound(_) => "InvalidAddress.NotFound",
            Self::AddressLimitExceeded(_) => "AddressLimitExceeded",
            Self::InsufficientAddressCapacity => "InsufficientAddressCapacity",
            Self::AddressesUnsupported => "Unsupported",
            Self::IncorrectInstanceState(_) => "IncorrectInstanceState",
            Self::ImageNotAuthorized(_) => "AuthFailure",
            Self::Query(e) => e.code(),
            Self::VolumeNotFound(_) => "InvalidVolume.NotFound",
            Self::SnapshotNotFound(_) => "InvalidSnapshot.NotFound",
            Self::VolumeInUse(_) => "VolumeInUse",
            Self::IncorrectState(_) => "IncorrectState",
            Self::VolumeLimitExceeded(_) => "VolumeLimitExceeded",
            Self::SnapshotLimitExceeded(_) => "SnapshotLimitExceeded",
            Self::NoStorage | Self::Unsupported(_) => "Unsupported",
            Self::Storage => "Unavailable",
            Self::RequestTooLarge(_) => "RequestEntityTooLarge",
            Self::Internal(_) => "InternalError",
        }
    }

    /// The HTTP status EC2 answers the code with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::AuthFailure(_) | Self::InvalidClientTokenId => StatusCode::UNAUTHORIZED,
            Self::SignatureDoesNotMatch | Self::InvalidSignature(_) => StatusCode::FORBIDDEN,
            Self::RequestTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Cluster(_) | Self::Storage => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The error document.
    pub fn document(&self, request_id: &str) -> String {
        let mut w = XmlWriter::new();
        w.start_element(None, "Response");
        w.start_element(None, "Errors");
        w.start_element(None, "Error");
        for (name, text) in [("Code", self.code()), ("Message", &self.to_string())] {
            w.start_element(None, name);
            w.text(text);
            w.end_element();
        }
        w.end_element();
        w.end_element();
        w.start_element(None, "RequestID");
        w.text(request_id);
        w.end_element();
        w.end_element();
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", w.finish())
    }
}

impl Ec2Error {
    /// The SOAP fault: `Server` for our own failures, else `Client`, with EC2's code as its
    /// subcode (`Client.InvalidKeyPair.NotFound` in SOAP 1.1, EC2's own spelling) and the
    /// message as its string.
    pub fn fault(&self) -> Fault {
        let fault = if self.status().is_server_error() {
            Fault::server(self.to_string())
        } else {
            Fault::client(self.to_string())
        };
        fault.with_subcode(self.code())
    }
}

impl From<&WssError> for Ec2Error {
    /// A SOAP request the WS-Security checks refused, in EC2's terms: a signature that does
    /// not verify, a Timestamp out of its window, or (any other check) no authenticated user.
    fn from(error: &WssError) -> Self {
        match error {
            WssError::BadSignature | WssError::DigestMismatch { .. } => {
                Self::InvalidSignature(error.to_string())
            }
            WssError::Expired | WssError::NotYetValid => Self::RequestExpired(error.to_string()),
            other => Self::AuthFailure(other.to_string()),
        }
    }
}

impl From<StoreError> for Ec2Error {
    /// Conflicts and absences the operations expect are mapped where they call the store;
    /// whatever reaches this is the store's own failure.
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<users::UserError> for Ec2Error {
    /// As for [`StoreError`]: the directory's expected answers are mapped where it is
    /// called.
    fn from(e: users::UserError) -> Self {
        Self::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_carries_code_message_and_request_id_escaped() {
        let e = Ec2Error::InvalidParameterValue("a <b> & c".into());
        let doc = e.document("req-1");
        assert!(doc.contains("<Code>InvalidParameterValue</Code>"), "{doc}");
        assert!(
            doc.contains("<Message>a &lt;b&gt; &amp; c</Message>"),
            "{doc}"
        );
        assert!(doc.contains("<RequestID>req-1</RequestID>"), "{doc}");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            Ec2Error::SignatureDoesNotMatch.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            Ec2Error::InvalidClientTokenId.status(),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn soap_faults_carry_ec2_codes_and_blame() {
        let fault = Ec2Error::KeyPairNotFound("k".into()).fault();
        assert_eq!(fault.code, soap::FaultCode::Client);
        assert_eq!(fault.subcode.as_deref(), Some("InvalidKeyPair.NotFound"));
        assert_eq!(fault.string, "The key pair 'k' does not exist");
        let fault = Ec2Error::Internal("disk on fire".into()).fault();
        assert_eq!(fault.code, soap::FaultCode::Server);
        assert!(!fault.string.contains("disk"), "{fault}");
        let codes = [
            (WssError::BadSignature, "SignatureDoesNotMatch"),
            (WssError::Expired, "RequestExpired"),
            (WssError::UntrustedCertificate, "AuthFailure"),
            (WssError::Replay, "AuthFailure"),
            (WssError::MissingTimestamp, "AuthFailure"),
        ];
        for (error, code) in codes {
            assert_eq!(Ec2Error::from(&error).code(), code, "{error}");
        }
    }
}

//! What an IAM request can fail with, and the one place such a failure becomes IAM's error
//! document (`ErrorResponse/Error/{Type,Code,Message}`, `RequestId`) with IAM's HTTP status:
//! the failures of the Query front door (signatures, parameters) and of the directory
//! (`users::UserError`) are mapped here, and only here.

use hyper::StatusCode;
use users::UserError;
use wire::iam::{ErrorKindType, ErrorResponseType, ErrorType};
use wire::query::QueryError;

use crate::error::Ec2Error;
use crate::query;
use crate::store::StoreError;

/// An IAM API error: its variant names IAM's code, its text is the message.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    Validation(String),
    /// A signing certificate that is not one X.509 certificate in PEM.
    #[error("{0}")]
    MalformedCertificate(String),
    /// A signing certificate another user holds already.
    #[error("{0}")]
    DuplicateCertificate(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")]
    SignatureDoesNotMatch,
    #[error("Request has expired: {0}")]
    RequestExpired(String),
    #[error("The request must contain the parameter {0}")]
    MissingParameter(String),
    #[error("The action {0} is not valid for this web service.")]
    InvalidAction(String),
    #[error("The request body is larger than {0} bytes")]
    RequestTooLarge(usize),
    /// Our own failure: logged with its cause, answered without it.
    #[error("An internal error has occurred")]
    ServiceFailure(String),
}

impl IamError {
    /// IAM's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSuchEntity(_) => "NoSuchEntity",
            Self::EntityAlreadyExists(_) => "EntityAlreadyExists",
            Self::LimitExceeded(_) => "LimitExceeded",
            Self::DeleteConflict(_) => "DeleteConflict",
            Self::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            Self::Validation(_) => "ValidationError",
            Self::MalformedCertificate(_) => "MalformedCertificate",
            Self::DuplicateCertificate(_) => "DuplicateCertificate",
            Self::AccessDenied(_) => "AccessDenied",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::RequestExpired(_) => "RequestExpired",
            Self::MissingParameter(_) => "MissingParameter",
            Self::InvalidAction(_) => "InvalidAction",
            Self::RequestTooLarge(_) => "RequestEntityTooLarge",
            Self::ServiceFailure(_) => "ServiceFailure",
        }
    }

    /// The HTTP status IAM answers the code with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoSuchEntity(_) => StatusCode::NOT_FOUND,
            Self::EntityAlreadyExists(_)
            | Self::LimitExceeded(_)
            | Self::DeleteConflict(_)
            | Self::DuplicateCertificate(_) => StatusCode::CONFLICT,
            Self::AccessDenied(_) | Self::InvalidClientTokenId | Self::SignatureDoesNotMatch => {
                StatusCode::FORBIDDEN
            }
            Self::RequestTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ServiceFailure(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::MalformedPolicyDocument(_)
            | Self::MalformedCertificate(_)
            | Self::Validation(_)
            | Self::RequestExpired(_)
            | Self::MissingParameter(_)
            | Self::InvalidAction(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The error document, in IAM's namespace.
    pub fn document(&self, request_id: &str) -> String {
        let response = ErrorResponseType {
            error: ErrorType {
                r#type: if self.status().is_server_error() {
                    ErrorKindType::Receiver
                } else {
                    ErrorKindType::Sender
                },
                code: self.code().to_owned(),
                message: self.to_string(),
            },
            request_id: request_id.to_owned(),
        };
        super::document(&response, "ErrorResponse")
    }
}

impl query::Failure for IamError {
    fn status(&self) -> StatusCode {
        IamError::status(self)
    }

    fn document(&self, request_id: &str) -> String {
        IamError::document(self, request_id)
    }

    fn internal(&self) -> Option<&str> {
        match self {
            Self::ServiceFailure(cause) => Some(cause),
            _ => None,
        }
    }

    fn code(&self) -> &str {
        IamError::code(self)
    }
}

impl From<Ec2Error> for IamError {
    /// The Query front door's failures (reading, signatures, the signer's account), in IAM's
    /// codes.
    fn from(error: Ec2Error) -> Self {
        match error {
            Ec2Error::SignatureDoesNotMatch | Ec2Error::InvalidSignature(_) => {
                Self::SignatureDoesNotMatch
            }
            Ec2Error::InvalidClientTokenId => Self::InvalidClientTokenId,
            Ec2Error::RequestExpired(message) => Self::RequestExpired(message),
            Ec2Error::AuthFailure(message) => Self::AccessDenied(message),
            Ec2Error::MissingParameter(name) => Self::MissingParameter(name),
            Ec2Error::InvalidParameterValue(message) => Self::Validation(message),
            Ec2Error::Query(error) => error.into(),
            Ec2Error::RequestTooLarge(limit) => Self::RequestTooLarge(limit),
            Ec2Error::Internal(cause) => Self::ServiceFailure(cause),
            other => Self::ServiceFailure(other.to_string()),
        }
    }
}

impl From<QueryError> for IamError {
    /// The parameters do not make the action's request.
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::InvalidAction(action) => Self::InvalidAction(action),
            QueryError::MissingParameter(name) => Self::MissingParameter(name),
            other => Self::Validation(other.to_string()),
        }
    }
}

impl From<UserError> for IamError {
    /// The directory's refusals, in IAM's codes; its own failures are ours.
    fn from(error: UserError) -> Self {
        match error {
            UserError::Exists { .. } => Self::EntityAlreadyExists(error.to_string()),
            UserError::NotFound { .. } => Self::NoSuchEntity(error.to_string()),
            UserError::LimitExceeded(_) => Self::LimitExceeded(error.to_string()),
            UserError::DeleteConflict(_) => Self::DeleteConflict(error.to_string()),
            UserError::Invalid(message) => Self::Validation(message),
            UserError::MalformedPolicy(message) => Self::MalformedPolicyDocument(message),
            other => Self::ServiceFailure(other.to_string()),
        }
    }
}

impl From<StoreError> for IamError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Users(error) => error.into(),
            StoreError::NotFound { .. } => Self::NoSuchEntity(error.to_string()),
            other => Self::ServiceFailure(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use wire::iam::NAMESPACE;
    use xmlbind::FromXml as _;

    use super::*;

    #[test]
    fn the_document_is_iams_error_response_with_type_code_message_and_request_id() {
        let doc = IamError::NoSuchEntity("no user <x>".into()).document("req-1");
        let document =
            xmlbind::Document::parse(doc.as_bytes(), &xmlbind::Limits::default()).unwrap();
        let root = document.root();
        assert_eq!(root.name().local, "ErrorResponse");
        assert_eq!(root.name().namespace.as_deref(), Some(NAMESPACE));
        let parsed = ErrorResponseType::from_xml(root).unwrap();
        assert_eq!(parsed.error.r#type, ErrorKindType::Sender);
        assert_eq!(parsed.error.code, "NoSuchEntity");
        assert_eq!(parsed.error.message, "no user <x>");
        assert_eq!(parsed.request_id, "req-1");
        let failure = IamError::ServiceFailure("disk on fire".into());
        assert!(!failure.document("r").contains("disk"));
        assert!(failure.document("r").contains("Receiver"));
    }

    #[test]
    fn codes_have_iams_statuses() {
        let cases = [
            (IamError::NoSuchEntity(String::new()), 404),
            (IamError::EntityAlreadyExists(String::new()), 409),
            (IamError::LimitExceeded(String::new()), 409),
            (IamError::DeleteConflict(String::new()), 409),
            (IamError::MalformedPolicyDocument(String::new()), 400),
            (IamError::Validation(String::new()), 400),
            (IamError::AccessDenied(String::new()), 403),
            (IamError::InvalidClientTokenId, 403),
            (IamError::SignatureDoesNotMatch, 403),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "{}", error.code());
        }
    }

    #[test]
    fn front_door_and_directory_failures_map_to_iam_codes() {
        let front = [
            (Ec2Error::SignatureDoesNotMatch, "SignatureDoesNotMatch"),
            (Ec2Error::InvalidClientTokenId, "InvalidClientTokenId"),
            (Ec2Error::AuthFailure("disabled".into()), "AccessDenied"),
            (Ec2Error::RequestExpired("late".into()), "RequestExpired"),
            (
                Ec2Error::Query(QueryError::InvalidAction("X".into())),
                "InvalidAction",
            ),
            (
                Ec2Error::Query(QueryError::UnknownParameter("X".into())),
                "ValidationError",
            ),
            (Ec2Error::Internal("db".into()), "ServiceFailure"),
        ];
        for (error, code) in front {
            assert_eq!(IamError::from(error).code(), code);
        }
        let directory = [
            (
                UserError::Exists {
                    kind: "user",
                    name: "a".into(),
                },
                "EntityAlreadyExists",
            ),
            (
                UserError::NotFound {
                    kind: "group",
                    name: "g".into(),
                },
                "NoSuchEntity",
            ),
            (UserError::LimitExceeded("keys".into()), "LimitExceeded"),
            (UserError::DeleteConflict("keys".into()), "DeleteConflict"),
            (UserError::Invalid("name".into()), "ValidationError"),
            (
                UserError::MalformedPolicy("json".into()),
                "MalformedPolicyDocument",
            ),
            (UserError::Random, "ServiceFailure"),
        ];
        for (error, code) in directory {
            assert_eq!(IamError::from(error).code(), code);
        }
    }
}

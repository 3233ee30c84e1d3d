//! What a CloudWatch request can fail with, and the one place such a failure becomes
//! CloudWatch's error document (`ErrorResponse/Error/{Type,Code,Message}`, `RequestId`)
//! with its HTTP status: the Query front door's failures (signatures, parameters) and the
//! store's are mapped here, and only here.

use hyper::StatusCode;
use wire::cloudwatch::{ErrorKindType, ErrorResponseType, ErrorType};
use wire::query::QueryError;

use super::statistics::StatisticsError;
use crate::error::Ec2Error;
use crate::query;
use crate::store::StoreError;

/// A CloudWatch API error: its variant names CloudWatch's code, its text is the message.
#[derive(Debug, thiserror::Error)]
pub enum CloudWatchError {
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    InvalidParameterCombination(String),
    #[error("The parameter {0} is required.")]
    MissingParameter(String),
    #[error("The action {0} is not valid for this web service.")]
    InvalidAction(String),
    #[error("The service cannot find the resource: {0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("The next token {0:?} is not one this service gave.")]
    InvalidNextToken(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")]
    SignatureDoesNotMatch,
    #[error("Request has expired: {0}")]
    RequestExpired(String),
    #[error("The request body is larger than {0} bytes")]
    RequestTooLarge(usize),
    /// Our own failure: logged with its cause, answered without it.
    #[error("An internal error has occurred")]
    Internal(String),
}

impl CloudWatchError {
    /// CloudWatch's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidParameterValue(_) => "InvalidParameterValue",
            Self::InvalidParameterCombination(_) => "InvalidParameterCombination",
            Self::MissingParameter(_) => "MissingParameter",
            Self::InvalidAction(_) => "InvalidAction",
            Self::ResourceNotFound(_) => "ResourceNotFound",
            Self::LimitExceeded(_) => "LimitExceeded",
            Self::InvalidNextToken(_) => "InvalidNextToken",
            Self::AccessDenied(_) => "AccessDenied",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::RequestExpired(_) => "RequestExpired",
            Self::RequestTooLarge(_) => "RequestEntityTooLarge",
            Self::Internal(_) => "InternalServiceError",
        }
    }

    /// The HTTP status CloudWatch answers the code with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::ResourceNotFound(_) => StatusCode::NOT_FOUND,
            Self::AccessDenied(_) | Self::InvalidClientTokenId | Self::SignatureDoesNotMatch => {
                StatusCode::FORBIDDEN
            }
            Self::RequestTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InvalidParameterValue(_)
            | Self::InvalidParameterCombination(_)
            | Self::MissingParameter(_)
            | Self::InvalidAction(_)
            | Self::LimitExceeded(_)
            | Self::InvalidNextToken(_)
            | Self::RequestExpired(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The error document, in CloudWatch's namespace.
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

impl query::Failure for CloudWatchError {
    fn status(&self) -> StatusCode {
        CloudWatchError::status(self)
    }

    fn document(&self, request_id: &str) -> String {
        CloudWatchError::document(self, request_id)
    }

    fn internal(&self) -> Option<&str> {
        match self {
            Self::Internal(cause) => Some(cause),
            _ => None,
        }
    }

    fn code(&self) -> &str {
        CloudWatchError::code(self)
    }
}

impl From<Ec2Error> for CloudWatchError {
    /// The Query front door's failures (reading, signatures, the signer's account), in
    /// CloudWatch's codes.
    fn from(error: Ec2Error) -> Self {
        match error {
            Ec2Error::SignatureDoesNotMatch | Ec2Error::InvalidSignature(_) => {
                Self::SignatureDoesNotMatch
            }
            Ec2Error::InvalidClientTokenId => Self::InvalidClientTokenId,
            Ec2Error::RequestExpired(message) => Self::RequestExpired(message),
            Ec2Error::AuthFailure(message) => Self::AccessDenied(message),
            Ec2Error::UnauthorizedOperation(action) => {
                Self::AccessDenied(format!("You are not authorized to perform {action}."))
            }
            Ec2Error::MissingParameter(name) => Self::MissingParameter(name),
            Ec2Error::InvalidParameterValue(message) => Self::InvalidParameterValue(message),
            Ec2Error::Query(error) => error.into(),
            Ec2Error::RequestTooLarge(limit) => Self::RequestTooLarge(limit),
            Ec2Error::Internal(cause) => Self::Internal(cause),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<QueryError> for CloudWatchError {
    /// The parameters do not make the action's request.
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::InvalidAction(action) => Self::InvalidAction(action),
            QueryError::MissingParameter(name) => Self::MissingParameter(name),
            other => Self::InvalidParameterValue(other.to_string()),
        }
    }
}

impl From<StatisticsError> for CloudWatchError {
    fn from(error: StatisticsError) -> Self {
        match error {
            StatisticsError::TooManyDatapoints(_) => {
                Self::InvalidParameterCombination(error.to_string())
            }
            StatisticsError::Period | StatisticsError::Range => {
                Self::InvalidParameterValue(error.to_string())
            }
        }
    }
}

impl From<StoreError> for CloudWatchError {
    /// The store's failures are ours.
    fn from(error: StoreError) -> Self {
        Self::Internal(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use wire::cloudwatch::NAMESPACE;
    use xmlbind::FromXml as _;

    use super::*;

    #[test]
    fn the_document_is_cloudwatchs_error_response() {
        let doc =
            CloudWatchError::InvalidParameterCombination("too <many>".into()).document("req-1");
        let document =
            xmlbind::Document::parse(doc.as_bytes(), &xmlbind::Limits::default()).unwrap();
        let root = document.root();
        assert_eq!(root.name().local, "ErrorResponse");
        assert_eq!(root.name().namespace.as_deref(), Some(NAMESPACE));
        let parsed = ErrorResponseType::from_xml(root).unwrap();
        assert_eq!(parsed.error.r#type, ErrorKindType::Sender);
        assert_eq!(parsed.error.code, "InvalidParameterCombination");
        assert_eq!(parsed.error.message, "too <many>");
        assert_eq!(parsed.request_id, "req-1");
        let failure = CloudWatchError::Internal("disk on fire".into());
        assert!(!failure.document("r").contains("disk"));
        assert_eq!(failure.status().as_u16(), 500);
    }

    #[test]
    fn front_door_and_statistics_failures_map_to_cloudwatch_codes() {
        let cases = [
            (
                CloudWatchError::from(Ec2Error::SignatureDoesNotMatch),
                "SignatureDoesNotMatch",
                403,
            ),
            (
                CloudWatchError::from(Ec2Error::InvalidClientTokenId),
                "InvalidClientTokenId",
                403,
            ),
            (
                CloudWatchError::from(Ec2Error::UnauthorizedOperation(
                    "cloudwatch:ListMetrics".into(),
                )),
                "AccessDenied",
                403,
            ),
            (
                CloudWatchError::from(QueryError::InvalidAction("RunInstances".into())),
                "InvalidAction",
                400,
            ),
            (
                CloudWatchError::from(QueryError::UnknownParameter("Colour".into())),
                "InvalidParameterValue",
                400,
            ),
            (
                CloudWatchError::from(StatisticsError::TooManyDatapoints(2000)),
                "InvalidParameterCombination",
                400,
            ),
            (
                CloudWatchError::from(StatisticsError::Period),
                "InvalidParameterValue",
                400,
            ),
            (
                CloudWatchError::ResourceNotFound("x".into()),
                "ResourceNotFound",
                404,
            ),
        ];
        for (error, code, status) in cases {
            assert_eq!((error.code(), error.status().as_u16()), (code, status));
        }
    }
}

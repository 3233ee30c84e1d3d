//! Errors of the S3 API and the one function that turns them into S3 error documents.
//!
//! Handlers return [`S3Error`]; only conditions a client can act on get a specific S3 code.
//! Everything else (SQLite, the disk, the remote store) is [`S3Error::Internal`]: logged with
//! its cause, answered as `InternalError` without details.

use hyper::header::{HeaderValue, CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED};
use hyper::{Response, StatusCode};
use tracing::{error, warn};

use crate::body::Body;
use crate::time::{http_date, iso8601_millis};
use crate::xml::S3Xml;

/// Most a signed request's clock may differ from ours (S3's limit).
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// An S3 error: its code, status and message.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("Access Denied")]
    AccessDenied,
    #[error("Request has expired")]
    RequestExpired,
    #[error("The AWS Access Key Id you provided does not exist in our records.")]
    InvalidAccessKeyId,
    #[error("The request signature we calculated does not match the signature you provided. Check your key and signing method.")]
    SignatureDoesNotMatch,
    /// Times in seconds since the epoch, reported as S3 reports them (SDKs that correct
    /// their clock read `ServerTime`).
    #[error("The difference between the request time and the current time is too large.")]
    RequestTimeTooSkewed { request_time: i64, server_time: i64 },
    #[error("The authorization header is malformed: {0}")]
    AuthorizationHeaderMalformed(String),
    #[error("{0}")]
    AuthorizationQueryParametersError(String),
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    #[error("The specified key does not exist.")]
    NoSuchKey,
    #[error("The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")]
    NoSuchUpload,
    #[error("The requested bucket name is not available.")]
    BucketAlreadyExists,
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou,
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    #[error("Snapshot {0} is stored already.")]
    SnapshotAlreadyExists(String),
    #[error("Snapshot {0} does not exist.")]
    NoSuchSnapshot(String),
    #[error("The specified bucket is not valid: {0}")]
    InvalidBucketName(String),
    #[error("{0}")]
    InvalidObjectName(String),
    #[error("Your key is too long")]
    KeyTooLong,
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("The target bucket for logging does not exist or is not owned by you: {0}")]
    InvalidTargetBucketForLogging(String),
    #[error("Couldn't parse the specified URI.")]
    InvalidUri,
    #[error("The XML you provided was not well-formed or did not validate against our published schema: {0}")]
    MalformedXml(String),
    #[error("The XML you provided was not well-formed or did not validate against our published schema: {0}")]
    MalformedAcl(String),
    #[error("{0}")]
    MalformedPostRequest(String),
    #[error("Invalid according to Policy: {0}")]
    PolicyDenied(String),
    #[error("Invalid Policy: {0}")]
    InvalidPolicyDocument(String),
    #[error("The Content-MD5 you specified was invalid.")]
    InvalidDigest,
    #[error("The Content-MD5 you specified did not match what we received.")]
    BadDigest,
    /// A checksum header (`x-amz-checksum-<algorithm>`) that does not match the data.
    #[error("The {0} you specified did not match the calculated checksum.")]
    ChecksumMismatch(&'static str),
    #[error(
        "You did not provide the number of bytes specified by the Content-Length HTTP header."
    )]
    IncompleteBody,
    #[error("Your proposed upload exceeds the maximum allowed size")]
    EntityTooLarge,
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    #[error("Your metadata headers exceed the maximum allowed metadata size.")]
    MetadataTooLarge,
    #[error("You have attempted to create more buckets than allowed.")]
    TooManyBuckets,
    #[error("The upload would exceed the storage quota: {0}")]
    QuotaExceeded(String),
    /// An account's quota: on `buckets` (TooManyBuckets) or on `bucket-gb` (EntityTooLarge,
    /// as Walrus 1.6 answered a bucket passing its size limit), with a message naming it.
    #[error("{1}")]
    OverQuota(users::Resource, String),
    #[error("The requested range is not satisfiable")]
    InvalidRange { size: u64 },
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    /// What a 304 still tells: the object's ETag (unquoted) and its time (milliseconds).
    #[error("Not Modified")]
    NotModified { etag: String, modified: i64 },
    #[error("One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")]
    InvalidPart,
    #[error("The requested partnumber is not satisfiable")]
    InvalidPartNumber,
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    #[error("The specified method is not allowed against this resource.")]
    MethodNotAllowed,
    /// A CORS preflight without its `Origin`.
    #[error("Insufficient information. Origin request header needed.")]
    CorsOriginMissing,
    /// A CORS preflight to a bucket without CORS rules (Walrus keeps none).
    #[error("CORSResponse: CORS is not enabled for this bucket.")]
    CorsNotEnabled,
    #[error("A header or query you provided implies functionality that is not implemented: {0}")]
    NotImplemented(String),
    #[error("You must provide the Content-Length HTTP header.")]
    MissingContentLength,
    #[error("Request body is empty.")]
    MissingRequestBody,
    #[error("The e-mail address you provided does not match any account on record.")]
    UnresolvableGrantByEmailAddress,
    #[error("Your socket connection to the server was not read from or written to within the timeout period.")]
    RequestTimeout,
    #[error("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")]
    CopyToItself,
    #[error("We encountered an internal error. Please try again.")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl S3Error {
    /// Wraps an unexpected failure (database, disk, remote store): logged, never shown.
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(error.into())
    }

    /// The `<Code>` of the error document.
    pub fn s3_code(&self) -> &'static str {
        match self {
            Self::AccessDenied | Self::RequestExpired | Self::PolicyDenied(_) => "AccessDenied",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::RequestTimeTooSkewed { .. } => "RequestTimeTooSkewed",
            Self::AuthorizationHeaderMalformed(_) => "AuthorizationHeaderMalformed",
            Self::AuthorizationQueryParametersError(_) => "AuthorizationQueryParametersError",
            Self::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            Self::NoSuchBucket => "NoSuchBucket",
            Self::NoSuchKey => "NoSuchKey",
            Self::NoSuchUpload => "NoSuchUpload",
            Self::BucketAlreadyExists => "BucketAlreadyExists",
            Self::BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            Self::BucketNotEmpty => "BucketNotEmpty",
            // The original's names (EntityAlreadyExistsException, NoSuchSnapshotException).
            Self::SnapshotAlreadyExists(_) => "EntityAlreadyExists",
            Self::NoSuchSnapshot(_) => "NoSuchSnapshot",
            Self::InvalidBucketName(_) => "InvalidBucketName",
            Self::InvalidObjectName(_) => "InvalidObjectName",
            Self::KeyTooLong => "KeyTooLongError",
            Self::InvalidArgument(_) => "InvalidArgument",
            Self::InvalidRequest(_) | Self::CopyToItself => "InvalidRequest",
            Self::InvalidTargetBucketForLogging(_) => "InvalidTargetBucketForLogging",
            Self::InvalidUri => "InvalidURI",
            Self::MalformedXml(_) => "MalformedXML",
            Self::MalformedAcl(_) => "MalformedACLError",
            Self::MalformedPostRequest(_) => "MalformedPOSTRequest",
            Self::InvalidPolicyDocument(_) => "InvalidPolicyDocument",
            Self::InvalidDigest => "InvalidDigest",
            Self::BadDigest | Self::ChecksumMismatch(_) => "BadDigest",
            Self::IncompleteBody => "IncompleteBody",
            Self::EntityTooLarge => "EntityTooLarge",
            Self::EntityTooSmall => "EntityTooSmall",
            Self::MetadataTooLarge => "MetadataTooLarge",
            Self::TooManyBuckets => "TooManyBuckets",
            Self::QuotaExceeded(_) => "QuotaExceeded",
            Self::OverQuota(users::Resource::Buckets, _) => "TooManyBuckets",
            Self::OverQuota(..) => "EntityTooLarge",
            Self::InvalidRange { .. } => "InvalidRange",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::NotModified { .. } => "NotModified",
            Self::InvalidPart => "InvalidPart",
            Self::InvalidPartNumber => "InvalidPartNumber",
            Self::InvalidPartOrder => "InvalidPartOrder",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::CorsOriginMissing => "BadRequest",
            Self::CorsNotEnabled => "AccessForbidden",
            Self::NotImplemented(_) => "NotImplemented",
            Self::MissingContentLength => "MissingContentLength",
            Self::MissingRequestBody => "MissingRequestBodyError",
            Self::UnresolvableGrantByEmailAddress => "UnresolvableGrantByEmailAddress",
            Self::RequestTimeout => "RequestTimeout",
            Self::Internal(_) => "InternalError",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::AccessDenied
            | Self::AuthorizationQueryParametersError(_)
            | Self::RequestExpired
            | Self::InvalidAccessKeyId
            | Self::SignatureDoesNotMatch
            | Self::RequestTimeTooSkewed { .. }
            | Self::PolicyDenied(_)
            | Self::CorsNotEnabled
            | Self::QuotaExceeded(_) => StatusCode::FORBIDDEN,
            Self::NoSuchBucket | Self::NoSuchKey | Self::NoSuchUpload | Self::NoSuchSnapshot(_) => {
                StatusCode::NOT_FOUND
            }
            Self::BucketAlreadyExists
            | Self::BucketAlreadyOwnedByYou
            | Self::BucketNotEmpty
            | Self::SnapshotAlreadyExists(_) => StatusCode::CONFLICT,
            Self::InvalidRange { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::NotModified { .. } => StatusCode::NOT_MODIFIED,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::MissingContentLength => StatusCode::LENGTH_REQUIRED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The error as S3 answers it: an `<Error>` document naming `resource` and the request
    /// id, without a body for HEAD requests and for 304. The one place errors become replies.
    pub fn into_response(self, resource: &str, request_id: &str, head: bool) -> Response<Body> {
        let status = self.status();
        match &self {
            Self::Internal(cause) => error!(%cause, code = "InternalError", "request failed"),
            // 501 says what Walrus does not do; not a fault of the server.
            Self::NotImplemented(_) => {}
            _ if status.is_server_error() => warn!(code = self.s3_code(), "request failed"),
            _ => {}
        }
        let body = if head || matches!(self, Self::NotModified { .. }) {
            Body::empty()
        } else {
            let mut doc = S3Xml::unqualified("Error");
            doc.field("Code", self.s3_code());
            doc.field("Message", &self.to_string());
            if let Self::RequestTimeTooSkewed {
                request_time,
                server_time,
            } = self
            {
                doc.field("RequestTime", &http_date(request_time));
                doc.field("ServerTime", &iso8601_millis(server_time * 1000));
                doc.field(
                    "MaxAllowedSkewMilliseconds",
                    &(MAX_SKEW_SECS * 1000).to_string(),
                );
            }
            doc.field("Resource", resource);
            doc.field("RequestId", request_id);
            Body::full(doc.finish())
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        let mut set = |name, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        };
        match &self {
            Self::InvalidRange { size } => set(CONTENT_RANGE, format!("bytes */{size}")),
            // As S3: a 304 names the version the client already has.
            Self::NotModified { etag, modified } => {
                set(ETAG, format!("\"{etag}\""));
                set(LAST_MODIFIED, http_date(modified.div_euclid(1000)));
            }
            _ => {}
        }
        response
    }
}

impl From<crate::storage::StorageError> for S3Error {
    fn from(error: crate::storage::StorageError) -> Self {
        Self::internal(error)
    }
}

impl From<crate::xml::MalformedXml> for S3Error {
    fn from(error: crate::xml::MalformedXml) -> Self {
        Self::MalformedXml(error.0)
    }
}

impl From<users::UserError> for S3Error {
    fn from(error: users::UserError) -> Self {
        Self::internal(error)
    }
}

impl From<std::io::Error> for S3Error {
    fn from(error: std::io::Error) -> Self {
        Self::internal(error)
    }
}

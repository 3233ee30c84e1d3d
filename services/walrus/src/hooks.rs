//! Seams for the Walrus operations that are not S3 REST, implemented elsewhere in this crate
//! (image bundles) and registered in [`Hooks`] when the server is built. (The SOAP API is
//! not a hook: it is mounted beside the REST API on the front door.)
//!
//! - Internal operations: requests carrying an `EucaOperation` header: the storage
//!   controller's snapshots (`crate::snapshots`), and others such as the node
//!   controller's `GET /services/Walrus/<bucket>/<manifest>[?IsCompressed=true]` with
//!   `EucaOperation: GetDecryptedImage`, `Authorization: Euca`, `Date`, `EucaSignature`
//!   (RSA-SHA1 over `"GET\n<Date>\n<path>\n"`) and `EucaCert`. They reach the hook before
//!   any S3 authentication: the hook checks the caller itself.
//!
//! Hooks read objects with [`Walrus::open_object`] and [`Walrus::reader`] or
//! [`Walrus::body`], and users with [`Walrus::users`].

use std::fmt;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::Response;

use crate::body::Body;
use crate::error::S3Error;
use crate::state::Walrus;
use crate::storage::BoxFuture;

/// An internal request, routed.
#[derive(Debug)]
pub struct InternalRequest {
    /// The `EucaOperation` header's value, such as `GetDecryptedImage`.
    pub operation: String,
    pub bucket: String,
    /// Empty for requests on a bucket.
    pub key: String,
    /// Method, URI as received (raw path and query: what `EucaSignature` covers), headers.
    pub head: Parts,
    /// Unread: an operation that takes data streams it.
    pub body: Incoming,
}

/// Answers requests that carry an `EucaOperation` header.
pub trait InternalOperations: Send + Sync + fmt::Debug {
    fn handle<'a>(
        &'a self,
        walrus: &'a Arc<Walrus>,
        request: InternalRequest,
    ) -> BoxFuture<'a, Result<Response<Body>, S3Error>>;
}

/// The registered hooks; an absent hook answers `NotImplemented`.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// StoreSnapshot, GetWalrusSnapshot, DeleteWalrusSnapshot.
    pub snapshots: Option<Arc<dyn InternalOperations>>,
    /// Every other `EucaOperation`.
    pub internal: Option<Arc<dyn InternalOperations>>,
}

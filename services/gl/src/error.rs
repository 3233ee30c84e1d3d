//! Why a GL request could not be answered. The original answered every such request with
//! `return=false` and a statusMessage rather than a fault; [`crate::GlService`] does the same,
//! with the reason in the statusMessage.

use std::path::PathBuf;

use soap::ClientError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum GlError {
    #[error("no serviceTag: name \"self\" or the GL URL of one of this cluster's nodes")]
    NoTag,
    #[error(
        "unknown serviceTag {0:?}: neither \"self\" nor the GL URL of one of this host's nodes"
    )]
    UnknownTag(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("node {node} did not answer: {source}")]
    Unreachable {
        node: String,
        source: Box<ClientError>,
    },
    #[error("node {node} failed: {message}")]
    NodeFailed { node: String, message: String },
}

/// A node address `for_cluster` cannot call.
#[derive(Debug, thiserror::Error)]
#[error("cannot call the GL service of node {address}: {source}")]
pub struct NodeAddressError {
    pub address: String,
    pub source: Box<ClientError>,
}

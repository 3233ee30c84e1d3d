//! Why an operation of the cluster failed. The cluster answers failures, as the original did,
//! with `return=false` and this error's text as the `statusMessage` (see `reply::answer!`),
//! never with a fault.

use crate::instances::StoreError;
use crate::nodes::CallError;
use vnet::VnetError;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("instance {0} is not known to this cluster")]
    UnknownInstance(String),
    #[error("no node has room for an instance of {memory_mb} MB, {cores} cores, {disk_gb} GB")]
    NoRoom {
        memory_mb: i64,
        cores: i64,
        disk_gb: i64,
    },
    #[error(transparent)]
    Node(#[from] CallError),
    #[error(transparent)]
    Network(#[from] VnetError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<ClusterError>),
}

impl ClusterError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

//! Errors of the node's operations, and the one place they become SOAP faults.

use soap::Fault;
use tracing::error;

use crate::hypervisor::HypervisorError;
use crate::store::StoreError;
use crate::volumes::VolumeError;

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("instance {0} is not known on this node")]
    UnknownInstance(String),
    #[error("instance {0} already exists on this node")]
    DuplicateInstance(String),
    #[error("not enough {resource} on this node: {requested} requested, {available} free")]
    Insufficient {
        resource: &'static str,
        requested: u64,
        available: u64,
    },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("instance {id} is {state}; {action} needs a running instance")]
    NotRunning {
        id: String,
        state: &'static str,
        action: &'static str,
    },
    #[error("volume {volume}: {source}")]
    Volume { volume: String, source: VolumeError },
    #[error("volume {volume} is already attached to instance {instance}")]
    VolumeAttached { volume: String, instance: String },
    #[error("device {device} of instance {instance} is already taken by volume {volume}")]
    DeviceTaken {
        device: String,
        instance: String,
        volume: String,
    },
    #[error("volume {volume} is not attached to instance {instance}")]
    VolumeNotAttached { volume: String, instance: String },
    #[error("instance {0} has been terminated; its console is gone")]
    ConsoleGone(String),
    #[error(transparent)]
    Hypervisor(#[from] HypervisorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl NodeError {
    /// The fault that answers the request: `soap:Client` when the request cannot be
    /// honoured as it stands, `soap:Server` (logged here) when the node failed.
    pub fn to_fault(&self) -> Fault {
        match self {
            Self::Hypervisor(_) | Self::Store(_) | Self::Io { .. } => {
                error!(error = %self, "operation failed");
                Fault::server(self.to_string())
            }
            _ => Fault::client(self.to_string()),
        }
    }
}

//! Why an SC operation failed, and the one place it becomes a SOAP fault: the subcode is the
//! EC2 error code the cloud controller hands its user (`Client.VolumeInUse` on the wire).

use std::path::PathBuf;

use soap::Fault;
use walrus::snapshots::client::SnapshotClientError;

use crate::exports::ExportError;
use crate::lvm::LvmError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("volume {0} does not exist")]
    VolumeNotFound(String),
    #[error("snapshot {0} does not exist")]
    SnapshotNotFound(String),
    #[error("volume {0} already exists")]
    VolumeExists(String),
    #[error("snapshot {0} already exists")]
    SnapshotExists(String),
    #[error("volume {0} is attached")]
    VolumeInUse(String),
    #[error("{0}")]
    IncorrectState(String),
    #[error("a volume of {size} GB is larger than the {max} GB a volume may have")]
    VolumeTooLarge { size: u32, max: u32 },
    #[error("{size} GB more would take the volumes past {max} GB in all ({used} GB used)")]
    TotalExceeded { size: u32, used: u32, max: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("lvm: {0}")]
    Lvm(#[from] LvmError),
    #[error("walrus: {0}")]
    Walrus(#[from] SnapshotClientError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl StorageError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// EC2's code for the error, for the caller's faults; `None` for the SC's own failures.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::Invalid { .. } => "InvalidParameterValue",
            Self::VolumeNotFound(_) => "InvalidVolume.NotFound",
            Self::SnapshotNotFound(_) => "InvalidSnapshot.NotFound",
            Self::VolumeExists(_) => "InvalidVolume.Duplicate",
            Self::SnapshotExists(_) => "InvalidSnapshot.Duplicate",
            Self::VolumeInUse(_) => "VolumeInUse",
            Self::IncorrectState(_) => "IncorrectState",
            Self::VolumeTooLarge { .. } | Self::TotalExceeded { .. } => "VolumeLimitExceeded",
            Self::Store(_) | Self::Export(_) | Self::Lvm(_) | Self::Walrus(_) | Self::Io { .. } => {
                return None
            }
        })
    }
}

impl From<StorageError> for Fault {
    fn from(error: StorageError) -> Self {
        match error.code() {
            Some(code) => Fault::client(error.to_string()).with_subcode(code),
            None => Fault::server(error.to_string()),
        }
    }
}

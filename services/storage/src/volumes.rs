//! Where volumes live, as `--backend` chose: sparse files (`file`) or LVM2 logical volumes
//! over loop files (`lvm`). The service sees a volume as a block of bytes at a path: the file
//! itself, or the logical volume's device.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::StorageError;
use crate::files::Folder;
use crate::lvm::{Lvm, LvmError};

#[derive(Debug)]
pub enum Volumes {
    File(Folder),
    Lvm(Lvm),
}

impl Volumes {
    /// Where `volume`'s bytes are read and written (and exported from).
    pub fn device(&self, volume: &str) -> PathBuf {
        match self {
            Self::File(folder) => folder.path(volume),
            Self::Lvm(lvm) => lvm.device(volume),
        }
    }

    /// A new empty volume of `size_gb` GB; its device.
    pub fn create(&self, volume: &str, size_gb: u32) -> Result<PathBuf, StorageError> {
        let exists = || StorageError::VolumeExists(volume.to_owned());
        match self {
            Self::File(folder) => folder.create(volume, size_gb).map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => exists(),
                _ => StorageError::io(folder.path(volume))(e),
            }),
            Self::Lvm(lvm) => lvm.create(volume, size_gb).map_err(|e| match e {
                LvmError::Io { source, .. } if source.kind() == ErrorKind::AlreadyExists => {
                    exists()
                }
                e => e.into(),
            }),
        }
    }

    pub fn remove(&self, volume: &str) -> Result<(), StorageError> {
        match self {
            Self::File(folder) => folder
                .remove(volume)
                .map_err(StorageError::io(folder.path(volume))),
            Self::Lvm(lvm) => Ok(lvm.remove(volume)?),
        }
    }

    /// Runs `copy` on the bytes of `volume` as they are now: the file itself, or an LVM
    /// snapshot that lives as long as the copy.
    pub fn with_snapshot<T>(
        &self,
        volume: &str,
        snapshot: &str,
        size_gb: u32,
        copy: impl FnOnce(&Path) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        match self {
            Self::File(folder) => copy(&folder.path(volume)),
            Self::Lvm(lvm) => lvm.with_snapshot(volume, snapshot, size_gb, copy),
        }
    }

    /// Brings the volumes back after a restart (loop devices are gone after a reboot).
    pub fn restore(&self) -> Result<(), StorageError> {
        match self {
            Self::File(_) => Ok(()),
            Self::Lvm(lvm) => Ok(lvm.restore()?),
        }
    }
}

//! The StorageController operations: wire messages in, answers or faults out.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use soap::{Fault, RequestContext};
use tracing::{info, warn};
use walrus::snapshots::client::{SnapshotClient, SnapshotClientError};
use wire::storage::*;
use wire::volume::RemoteDev;

use crate::error::StorageError;
use crate::exports::Exports;
use crate::files::{copy_sparse, Folder};
use crate::store::{Added, Limits, Snapshot, Store, Volume};
use crate::volumes::Volumes;

/// The state of a volume ready for use, as the original SC reported it.
const AVAILABLE: &str = "available";
const PENDING: &str = "pending";
const COMPLETED: &str = "completed";
const FAILED: &str = "failed";
/// The Walrus bucket of the SC's snapshots.
pub const SNAPSHOT_BUCKET: &str = "snapset";

#[derive(Debug, Clone)]
pub struct StorageService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    volumes: Volumes,
    /// Snapshots as copied from their volume; with Walrus, also a cache of what it holds.
    snapshots: Folder,
    /// Where snapshots are stored (StoreSnapshot), when the SC has one.
    walrus: Option<SnapshotClient>,
    exports: Exports,
}

/// Ids name files: one path segment of letters, digits and dashes (`vol-1A2B3C4D`).
fn id(field: &'static str, value: Option<String>) -> Result<String, StorageError> {
    let value = value.unwrap_or_default();
    let fine = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if fine {
        Ok(value)
    } else {
        Err(StorageError::invalid(
            field,
            format!("{value:?} is not an id"),
        ))
    }
}

fn now() -> String {
    kit::time::iso8601_millis(kit::time::now_millis())
}

impl StorageService {
    pub fn new(
        store: Store,
        volumes: Volumes,
        snapshots: Folder,
        walrus: Option<SnapshotClient>,
        exports: Exports,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                volumes,
                snapshots,
                walrus,
                exports,
            }),
        }
    }

    /// Makes the file of snapshot `id` present here: fetched from Walrus (GetWalrusSnapshot)
    /// when this SC has no copy of it.
    async fn snapshot_file(&self, id: &str) -> Result<(), StorageError> {
        let Some(walrus) = &self.inner.walrus else {
            return Ok(());
        };
        let path = self.inner.snapshots.path(id);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let partial = self.inner.snapshots.path(&format!("{id}.partial"));
        let bytes = walrus.fetch(SNAPSHOT_BUCKET, id, &partial).await?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(StorageError::io(&path))?;
        info!(snapshot = id, bytes, "snapshot fetched from Walrus");
        Ok(())
    }

    /// Runs `work` on the state off the executor.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let inner = Arc::clone(&self.inner);
        kit::blocking(move || work(&inner)).await
    }

    /// Starts the exporter and exports again the volumes attached when the SC stopped, on
    /// the ports the nodes know.
    pub async fn start_exports(&self) -> Result<(), StorageError> {
        self.inner.exports.start().await?;
        let attached = self
            .blocking(|inner| Ok(inner.store.attached_volumes()?))
            .await?;
        for volume in attached {
            let known = volume.remote_dev.as_deref().map(str::parse::<RemoteDev>);
            let node = volume.node_ip.as_deref().map(str::parse::<IpAddr>);
            let (Some(Ok(device)), Some(Ok(node))) = (known, node) else {
                warn!(
                    volume = volume.id,
                    "attached volume without a usable export record"
                );
                continue;
            };
            let file = self.inner.volumes.device(&volume.id);
            match self
                .inner
                .exports
                .export(&volume.id, &file, node, Some(device.port()))
                .await
            {
                Ok(_) => info!(volume = volume.id, "export restored"),
                Err(e) => warn!(volume = volume.id, error = %e, "cannot restore the export"),
            }
        }
        Ok(())
    }

    pub async fn stop(&self) {
        self.inner.exports.stop_all().await;
    }

    async fn create_volume(
        &self,
        request: CreateStorageVolumeType,
    ) -> Result<Volume, StorageError> {
        let volume_id = id("VolumeId", request.volume_id)?;
        let snapshot_id = match request.snapshot_id.filter(|s| !s.is_empty()) {
            Some(s) => Some(id("SnapshotId", Some(s))?),
            None => None,
        };
        let size = request.size.filter(|s| !s.trim().is_empty());
        let size = match size {
            Some(text) => Some(
                text.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|gb| *gb > 0)
                    .ok_or_else(|| {
                        StorageError::invalid("Size", format!("{text:?} is not a number of GB"))
                    })?,
            ),
            None => None,
        };
        if let Some(sid) = &snapshot_id {
            let known = sid.clone();
            if self
                .blocking(move |inner| Ok(inner.store.snapshot(&known)?))
                .await?
                .is_some()
            {
                self.snapshot_file(sid).await?;
            }
        }
        self.blocking(move |inner| {
            let source = match &snapshot_id {
                Some(sid) => {
                    let snapshot = inner
                        .store
                        .snapshot(sid)?
                        .ok_or_else(|| StorageError::SnapshotNotFound(sid.clone()))?;
                    if snapshot.status != COMPLETED {
                        return Err(StorageError::IncorrectState(format!(
                            "snapshot {sid} is {}",
                            snapshot.status
                        )));
                    }
                    Some(snapshot)
                }
                None => None,
            };
            let size_gb = match (size, &source) {
                (Some(gb), Some(s)) if gb < s.size_gb => {
                    return Err(StorageError::invalid(
                        "Size",
                        format!("{gb} GB is smaller than the snapshot's {} GB", s.size_gb),
                    ))
                }
                (Some(gb), _) => gb,
                (None, Some(s)) => s.size_gb,
                (None, None) => return Err(StorageError::invalid("Size", "missing")),
            };
            let limits = inner.store.limits()?;
            if size_gb > limits.max_volume_gb {
                return Err(StorageError::VolumeTooLarge {
                    size: size_gb,
                    max: limits.max_volume_gb,
                });
            }
            let volume = Volume {
                id: volume_id.clone(),
                size_gb,
                snapshot_id: snapshot_id.clone(),
                status: AVAILABLE.to_owned(),
                create_time: now(),
                node_ip: None,
                remote_dev: None,
            };
            // The volume's bytes first: a volume in the store always has them.
            let path = inner.volumes.create(&volume_id, size_gb)?;
            let filled = match &source {
                Some(s) => copy_sparse(&inner.snapshots.path(&s.id), &path, |_| {})
                    .map(drop)
                    .map_err(StorageError::io(inner.snapshots.path(&s.id))),
                None => Ok(()),
            };
            let added = filled.and_then(|()| {
                match inner
                    .store
                    .add_volume(&volume, limits.max_total_volume_gb)?
                {
                    Added::Yes => Ok(()),
                    Added::Duplicate => Err(StorageError::VolumeExists(volume_id.clone())),
                    Added::OverLimit { used } => Err(StorageError::TotalExceeded {
                        size: size_gb,
                        used,
                        max: limits.max_total_volume_gb,
                    }),
                }
            });
            if let Err(e) = added {
                if let Err(cleanup) = inner.volumes.remove(&volume_id) {
                    warn!(volume = volume_id, error = %cleanup, "cannot remove the volume");
                }
                return Err(e);
            }
            info!(volume = volume_id, size_gb, snapshot = ?snapshot_id, "volume created");
            Ok(volume)
        })
        .await
    }

    async fn volume(&self, volume_id: String) -> Result<Volume, StorageError> {
        self.blocking(move |inner| {
            inner
                .store
                .volume(&volume_id)?
                .ok_or(StorageError::VolumeNotFound(volume_id))
        })
        .await
    }

    async fn delete_volume(&self, volume_id: String) -> Result<(), StorageError> {
        self.blocking(move |inner| {
            if inner.store.remove_unexported_volume(&volume_id)? {
                inner.volumes.remove(&volume_id)?;
                info!(volume = volume_id, "volume deleted");
                return Ok(());
            }
            match inner.store.volume(&volume_id)? {
                Some(_) => Err(StorageError::VolumeInUse(volume_id)),
                None => Err(StorageError::VolumeNotFound(volume_id)),
            }
        })
        .await
    }

    async fn create_snapshot(
        &self,
        request: CreateStorageSnapshotType,
    ) -> Result<Snapshot, StorageError> {
        let volume_id = id("VolumeId", request.volume_id)?;
        let snapshot_id = id("SnapshotId", request.snapshot_id)?;
        let snapshot = self
            .blocking(move |inner| {
                let volume = inner
                    .store
                    .volume(&volume_id)?
                    .ok_or_else(|| StorageError::VolumeNotFound(volume_id.clone()))?;
                let snapshot = Snapshot {
                    id: snapshot_id.clone(),
                    volume_id,
                    size_gb: volume.size_gb,
                    status: PENDING.to_owned(),
                    start_time: now(),
                    progress: 0,
                };
                if !inner.store.add_snapshot(&snapshot)? {
                    return Err(StorageError::SnapshotExists(snapshot_id));
                }
                Ok(snapshot)
            })
            .await?;
        let copying = snapshot.clone();
        // The copy goes on after the answer; DescribeStorageSnapshots shows its progress.
        tokio::spawn(self.clone().take_snapshot(copying));
        Ok(snapshot)
    }

    /// Copies the volume's file into the snapshot's, then stores it in Walrus if the SC has
    /// one, recording the progress (the copy is all of it without Walrus, half with); the
    /// snapshot ends `completed` or `failed`.
    async fn take_snapshot(self, snapshot: Snapshot) {
        let share = if self.inner.walrus.is_some() { 50 } else { 100 };
        let id = snapshot.id.clone();
        let copied = self
            .blocking(move |inner| {
                let to = inner.snapshots.path(&snapshot.id);
                let (volume, size_gb) = (&snapshot.volume_id, snapshot.size_gb);
                inner
                    .volumes
                    .with_snapshot(volume, &snapshot.id, size_gb, |from| {
                        copy_sparse(from, &to, |percent| {
                            let progress = (u16::from(percent) * share / 100).min(99) as u8;
                            inner.record(&snapshot.id, PENDING, progress);
                        })
                        .map_err(StorageError::io(from))
                    })
            })
            .await;
        let stored = match (copied, &self.inner.walrus) {
            (Ok(_), Some(walrus)) => walrus
                .store(SNAPSHOT_BUCKET, &id, &self.inner.snapshots.path(&id))
                .await
                .map_err(StorageError::from),
            (copied, _) => copied.map(drop),
        };
        let inner = Arc::clone(&self.inner);
        kit::blocking(move || match stored {
            Ok(()) => {
                inner.record(&id, COMPLETED, 100);
                info!(snapshot = id, "snapshot completed");
            }
            Err(e) => {
                inner.record(&id, FAILED, 0);
                warn!(snapshot = id, error = %e, "snapshot failed");
            }
        })
        .await;
    }

    async fn delete_snapshot(&self, snapshot_id: String) -> Result<(), StorageError> {
        let id = snapshot_id.clone();
        let snapshot = self
            .blocking(move |inner| {
                inner
                    .store
                    .snapshot(&id)?
                    .ok_or(StorageError::SnapshotNotFound(id))
            })
            .await?;
        if snapshot.status == PENDING {
            return Err(StorageError::IncorrectState(format!(
                "snapshot {snapshot_id} is still being copied"
            )));
        }
        if let Some(walrus) = &self.inner.walrus {
            match walrus.delete(SNAPSHOT_BUCKET, &snapshot_id).await {
                // Never stored (it failed) or already gone: nothing to remove there.
                Err(SnapshotClientError::Refused { status, .. }) if status.as_u16() == 404 => {}
                result => result?,
            }
        }
        self.blocking(move |inner| {
            inner.store.remove_snapshot(&snapshot_id)?;
            inner
                .snapshots
                .remove(&snapshot_id)
                .map_err(StorageError::io(inner.snapshots.path(&snapshot_id)))?;
            info!(snapshot = snapshot_id, "snapshot deleted");
            Ok(())
        })
        .await
    }

    async fn attach(&self, request: AttachStorageVolumeType) -> Result<RemoteDev, StorageError> {
        let volume_id = id("VolumeId", request.volume_id)?;
        let node_text = request.node_ip.unwrap_or_default();
        let node: IpAddr = node_text.trim().parse().map_err(|_| {
            StorageError::invalid("NodeIp", format!("{node_text:?} is not an IP address"))
        })?;
        let volume = self.volume(volume_id.clone()).await?;
        if let (Some(attached), Some(device)) = (&volume.node_ip, &volume.remote_dev) {
            if attached == &node.to_string() {
                if let Ok(device) = device.parse() {
                    return Ok(device);
                }
            }
            return Err(StorageError::VolumeInUse(volume_id));
        }
        let file: PathBuf = self.inner.volumes.device(&volume_id);
        let device = self
            .inner
            .exports
            .export(&volume_id, &file, node, None)
            .await?;
        let record = (node.to_string(), device.to_string());
        let recorded = self
            .blocking(move |inner| {
                Ok(inner
                    .store
                    .set_export(&volume_id, Some((&record.0, &record.1)))?)
            })
            .await;
        if let Err(e) = recorded {
            self.inner.exports.unexport(&volume.id).await;
            return Err(e);
        }
        Ok(device)
    }

    async fn detach(&self, request: DetachStorageVolumeType) -> Result<String, StorageError> {
        let volume_id = id("VolumeId", request.volume_id)?;
        let volume = self.volume(volume_id.clone()).await?;
        if volume.remote_dev.is_none() {
            return Err(StorageError::IncorrectState(format!(
                "volume {volume_id} is not attached"
            )));
        }
        self.inner.exports.unexport(&volume_id).await;
        let id = volume_id.clone();
        self.blocking(move |inner| Ok(inner.store.set_export(&id, None)?))
            .await?;
        Ok(volume_id)
    }
}

impl Inner {
    fn record(&self, snapshot: &str, status: &str, progress: u8) {
        if let Err(e) = self.store.set_snapshot_progress(snapshot, status, progress) {
            warn!(snapshot, error = %e, "cannot record the snapshot's progress");
        }
    }
}

fn percent(progress: u8) -> String {
    format!("{progress}%")
}

impl StorageController for StorageService {
    async fn create_storage_volume(
        &self,
        request: CreateStorageVolumeType,
        _context: RequestContext,
    ) -> Result<CreateStorageVolumeResponseType, Fault> {
        let volume = self.create_volume(request).await?;
        Ok(CreateStorageVolumeResponseType {
            volume_id: Some(volume.id),
            size: Some(volume.size_gb.to_string()),
            snapshot_id: volume.snapshot_id,
            status: Some(volume.status),
            create_time: Some(volume.create_time),
        })
    }

    async fn get_storage_volume(
        &self,
        request: GetStorageVolumeType,
        _context: RequestContext,
    ) -> Result<GetStorageVolumeResponseType, Fault> {
        let volume = self.volume(id("VolumeId", request.volume_id)?).await?;
        Ok(GetStorageVolumeResponseType {
            volume_id: Some(volume.id),
            size: Some(volume.size_gb.to_string()),
            snapshot_id: volume.snapshot_id,
            status: Some(volume.status),
            create_time: Some(volume.create_time),
            actual_device_name: volume.remote_dev,
        })
    }

    async fn delete_storage_volume(
        &self,
        request: DeleteStorageVolumeType,
        _context: RequestContext,
    ) -> Result<DeleteStorageVolumeResponseType, Fault> {
        self.delete_volume(id("VolumeId", request.volume_id)?)
            .await?;
        Ok(DeleteStorageVolumeResponseType {})
    }

    async fn create_storage_snapshot(
        &self,
        request: CreateStorageSnapshotType,
        _context: RequestContext,
    ) -> Result<CreateStorageSnapshotResponseType, Fault> {
        let snapshot = self.create_snapshot(request).await?;
        Ok(CreateStorageSnapshotResponseType {
            volume_id: Some(snapshot.volume_id),
            snapshot_id: Some(snapshot.id),
            status: Some(snapshot.status),
            start_time: Some(snapshot.start_time),
            progress: Some(percent(snapshot.progress)),
        })
    }

    async fn delete_storage_snapshot(
        &self,
        request: DeleteStorageSnapshotType,
        _context: RequestContext,
    ) -> Result<DeleteStorageSnapshotResponseType, Fault> {
        self.delete_snapshot(id("SnapshotId", request.snapshot_id)?)
            .await?;
        Ok(DeleteStorageSnapshotResponseType {})
    }

    async fn update_storage_configuration(
        &self,
        request: UpdateStorageConfigurationType,
        _context: RequestContext,
    ) -> Result<UpdateStorageConfigurationResponseType, Fault> {
        let gb = |field: &'static str, value: Option<i32>| match value {
            Some(v) => u32::try_from(v)
                .ok()
                .filter(|gb| *gb > 0)
                .map(Some)
                .ok_or_else(|| StorageError::invalid(field, format!("{v} is not a number of GB"))),
            None => Ok(None),
        };
        let total = gb("MaxTotalVolumeSize", request.max_total_volume_size)?;
        let volume = gb("MaxVolumeSize", request.max_volume_size)?;
        self.blocking(move |inner| {
            let old = inner.store.limits()?;
            let new = Limits {
                max_total_volume_gb: total.unwrap_or(old.max_total_volume_gb),
                max_volume_gb: volume.unwrap_or(old.max_volume_gb),
            };
            inner.store.set_limits(new)?;
            info!(?new, "limits updated");
            Ok(())
        })
        .await?;
        Ok(UpdateStorageConfigurationResponseType {})
    }

    async fn get_storage_configuration(
        &self,
        request: GetStorageConfigurationType,
        _context: RequestContext,
    ) -> Result<GetStorageConfigurationResponseType, Fault> {
        let limits = self.blocking(|inner| Ok(inner.store.limits()?)).await?;
        let gb = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        Ok(GetStorageConfigurationResponseType {
            name: request.name,
            storage_root_directory: None,
            max_total_volume_size: Some(gb(limits.max_total_volume_gb)),
            max_volume_size: Some(gb(limits.max_volume_gb)),
            storage_interface: None,
            zero_fill_volumes: Some(false),
        })
    }

    async fn describe_storage_snapshots(
        &self,
        request: DescribeStorageSnapshotsType,
        _context: RequestContext,
    ) -> Result<DescribeStorageSnapshotsResponseType, Fault> {
        let ids = request.snapshot_set;
        let snapshots = self
            .blocking(move |inner| Ok(inner.store.snapshots(&ids)?))
            .await?;
        Ok(DescribeStorageSnapshotsResponseType {
            snapshot_set: snapshots
                .into_iter()
                .map(|s| StorageSnapshotType {
                    snapshot_id: Some(s.id),
                    volume_id: Some(s.volume_id),
                    status: Some(s.status),
                    start_time: Some(s.start_time),
                    progress: Some(percent(s.progress)),
                })
                .collect(),
        })
    }

    async fn attach_storage_volume(
        &self,
        request: AttachStorageVolumeType,
        _context: RequestContext,
    ) -> Result<AttachStorageVolumeResponseType, Fault> {
        let volume_id = request.volume_id.clone();
        let device = self.attach(request).await?;
        Ok(AttachStorageVolumeResponseType {
            volume_id,
            remote_device_string: Some(device.to_string()),
        })
    }

    async fn detach_storage_volume(
        &self,
        request: DetachStorageVolumeType,
        _context: RequestContext,
    ) -> Result<DetachStorageVolumeResponseType, Fault> {
        let volume_id = self.detach(request).await?;
        Ok(DetachStorageVolumeResponseType {
            volume_id: Some(volume_id),
        })
    }
}

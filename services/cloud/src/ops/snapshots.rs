//! CreateSnapshot, DeleteSnapshot, DescribeSnapshots: point-in-time copies of volumes, taken
//! and kept (in Walrus) by the storage controller. A snapshot is recorded `pending` before
//! the SC is asked; its progress is the SC's, read by DescribeSnapshots and the tick
//! ([`settle`]) until it is `completed` (or `error`).

use wire::ec2::{
    CreateSnapshotResponseType, CreateSnapshotType, DeleteSnapshotResponseType, DeleteSnapshotType,
    DescribeSnapshotsResponseType, DescribeSnapshotsSetItemResponseType,
    DescribeSnapshotsSetResponseType, DescribeSnapshotsType,
};
use wire::query::Filter;
use wire::storage::{
    CreateStorageSnapshotType, DeleteStorageSnapshotType, DescribeStorageSnapshotsType,
    StorageSnapshotType,
};
use xmlbind::DateTime;

use super::filters::Filters;
use super::ids::random_id;
use super::storage::{ask_storage, STORAGE_DEADLINE};
use super::{named, Call, Cloud, InFlight};
use crate::error::Ec2Error;
use crate::store::{Snapshot, SnapshotState, StoreError, VolumeState};

pub(super) async fn create(
    call: &Call<'_>,
    request: CreateSnapshotType,
) -> Result<CreateSnapshotResponseType, Ec2Error> {
    let volume = call.volume(&request.volume_id).await?;
    if matches!(volume.state, VolumeState::Creating | VolumeState::Deleting) {
        return Err(Ec2Error::IncorrectState(format!(
            "The volume '{}' is {}",
            volume.id,
            volume.state.ec2()
        )));
    }
    if call.cloud.storage.is_none() {
        return Err(Ec2Error::NoStorage);
    }
    let pending = Snapshot {
        id: random_id("snap"),
        owner: volume.owner,
        volume: volume.id,
        volume_size_gb: volume.size_gb,
        started: kit::time::now(),
        state: SnapshotState::Pending,
        progress: 0,
    };
    let store = &call.cloud.store;
    let _busy = call.claim(&pending.id)?;
    store.add_snapshot(&pending).await?;
    let snapshot = match create_on_storage(call.cloud, &pending).await {
        Ok(snapshot) => snapshot,
        Err(e) => {
            // The SC refused it: it never was. Otherwise it may be; the tick asks.
            if !matches!(e, Ec2Error::Storage) {
                store.remove_snapshot(&pending.id).await?;
            }
            return Err(e);
        }
    };
    Ok(CreateSnapshotResponseType {
        request_id: call.request_id.to_owned(),
        snapshot_id: snapshot.id,
        volume_id: snapshot.volume,
        status: snapshot.state.name().to_owned(),
        start_time: DateTime::from_unix(snapshot.started),
        progress: percent(snapshot.progress),
    })
}

/// Asks the SC to take the snapshot `pending` records, and records what it answers.
async fn create_on_storage(cloud: &Cloud, pending: &Snapshot) -> Result<Snapshot, Ec2Error> {
    let ask = CreateStorageSnapshotType {
        volume_id: Some(pending.volume.clone()),
        snapshot_id: Some(pending.id.clone()),
    };
    let answer = ask_storage(cloud, STORAGE_DEADLINE, |sc| async move {
        sc.create_storage_snapshot(&ask).await
    })
    .await?;
    let snapshot = reported(
        pending,
        answer.status.as_deref(),
        answer.progress.as_deref(),
    );
    cloud.store.change_snapshot(&snapshot).await?;
    Ok(snapshot)
}

/// `snapshot` as the SC reports it: its status (`pending`, `completed`, `failed`) and
/// progress (`42%`).
fn reported(snapshot: &Snapshot, status: Option<&str>, progress: Option<&str>) -> Snapshot {
    let state = match status {
        Some("completed") => SnapshotState::Completed,
        Some("failed") => SnapshotState::Error,
        _ => SnapshotState::Pending,
    };
    let progress = progress
        .and_then(|p| p.trim().trim_end_matches('%').parse::<u8>().ok())
        .map_or(snapshot.progress, |p| p.min(100));
    Snapshot {
        state,
        progress: if state == SnapshotState::Completed {
            100
        } else {
            progress
        },
        ..snapshot.clone()
    }
}

fn percent(progress: u8) -> String {
    format!("{progress}%")
}

pub(super) async fn delete(
    call: &Call<'_>,
    request: DeleteSnapshotType,
) -> Result<DeleteSnapshotResponseType, Ec2Error> {
    let snapshot = call.snapshot(&request.snapshot_id).await?;
    if snapshot.state == SnapshotState::Pending {
        return Err(Ec2Error::IncorrectState(format!(
            "The snapshot '{}' is still pending",
            snapshot.id
        )));
    }
    let ask = DeleteStorageSnapshotType {
        snapshot_id: Some(snapshot.id.clone()),
    };
    match ask_storage(call.cloud, STORAGE_DEADLINE, |sc| async move {
        sc.delete_storage_snapshot(&ask).await
    })
    .await
    {
        Ok(_) | Err(Ec2Error::SnapshotNotFound(_)) => {}
        Err(e) => return Err(e),
    }
    call.cloud.store.remove_snapshot(&snapshot.id).await?;
    Ok(DeleteSnapshotResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

pub(super) async fn describe(
    call: &Call<'_>,
    request: DescribeSnapshotsType,
    filters: &[Filter],
) -> Result<DescribeSnapshotsResponseType, Ec2Error> {
    let filters = Filters::new(
        filters,
        &[
            "snapshot-id",
            "volume-id",
            "status",
            "progress",
            "owner-id",
            "restorable-by",
        ],
    )?;
    let names: Vec<&str> = request
        .snapshot_set
        .item
        .iter()
        .map(|i| i.snapshot_id.as_str())
        .collect();
    let owner = call.owner_filter(&names);
    let asked: Vec<&str> = names.into_iter().filter(|n| *n != "verbose").collect();
    let snapshots = call.cloud.store.snapshots(owner).await?;
    let chosen = named(snapshots, &asked, |s| &s.id, Ec2Error::SnapshotNotFound)?;
    let item = refresh(call.cloud, chosen)
        .await?
        .into_iter()
        .filter(|s| {
            let progress = percent(s.progress);
            // Only its owner may restore a snapshot; `self` (DescribeSnapshots' `Owner.N`
            // and `RestorableBy.N`) names the caller.
            let mut owners = vec![s.owner.as_str()];
            if s.owner == call.user.account {
                owners.push("self");
            }
            filters.pass(|name| match name {
                "snapshot-id" => vec![s.id.as_str()],
                "volume-id" => vec![s.volume.as_str()],
                "status" => vec![s.state.name()],
                "progress" => vec![progress.as_str()],
                _ => owners.clone(),
            })
        })
        .map(|s| DescribeSnapshotsSetItemResponseType {
            progress: percent(s.progress),
            snapshot_id: s.id,
            volume_id: s.volume,
            status: s.state.name().to_owned(),
            start_time: DateTime::from_unix(s.started),
        })
        .collect();
    Ok(DescribeSnapshotsResponseType {
        request_id: call.request_id.to_owned(),
        snapshot_set: DescribeSnapshotsSetResponseType { item },
    })
}

/// `snapshots` with the pending ones as the SC reports them now (and recorded so); as
/// recorded when the SC does not answer.
async fn refresh(cloud: &Cloud, snapshots: Vec<Snapshot>) -> Result<Vec<Snapshot>, StoreError> {
    let pending: Vec<String> = snapshots
        .iter()
        .filter(|s| s.state == SnapshotState::Pending)
        .map(|s| s.id.clone())
        .collect();
    if pending.is_empty() || cloud.storage.is_none() {
        return Ok(snapshots);
    }
    let reports = match storage_snapshots(cloud, pending).await {
        Ok(reports) => reports,
        Err(e) => {
            tracing::warn!(error = %e, "the storage controller did not report its snapshots");
            return Ok(snapshots);
        }
    };
    let mut refreshed = Vec::with_capacity(snapshots.len());
    for snapshot in snapshots {
        let now = apply(cloud, &snapshot, &reports).await?;
        refreshed.push(now.unwrap_or(snapshot));
    }
    Ok(refreshed)
}

/// `snapshot` as `reports` (the SC's) has it, recorded when it changed; `None` when the SC
/// does not report a pending snapshot.
async fn apply(
    cloud: &Cloud,
    snapshot: &Snapshot,
    reports: &[StorageSnapshotType],
) -> Result<Option<Snapshot>, StoreError> {
    if snapshot.state != SnapshotState::Pending {
        return Ok(Some(snapshot.clone()));
    }
    let Some(report) = reports
        .iter()
        .find(|r| r.snapshot_id.as_deref() == Some(snapshot.id.as_str()))
    else {
        return Ok(None);
    };
    let now = reported(
        snapshot,
        report.status.as_deref(),
        report.progress.as_deref(),
    );
    if &now != snapshot {
        cloud.store.change_snapshot(&now).await?;
    }
    Ok(Some(now))
}

/// What the SC reports of the snapshots `ids`.
async fn storage_snapshots(
    cloud: &Cloud,
    ids: Vec<String>,
) -> Result<Vec<StorageSnapshotType>, Ec2Error> {
    let ask = DescribeStorageSnapshotsType { snapshot_set: ids };
    Ok(ask_storage(cloud, STORAGE_DEADLINE, |sc| async move {
        sc.describe_storage_snapshots(&ask).await
    })
    .await?
    .snapshot_set)
}

/// The tick's part: the pending snapshots no request is taking now get the SC's progress;
/// one the SC does not know (a restart came between its record and the SC) is asked for
/// again, and is an `error` if the SC refuses it.
pub(super) async fn settle(cloud: &Cloud) -> Result<(), StoreError> {
    if cloud.storage.is_none() {
        return Ok(());
    }
    let snapshots = cloud.store.snapshots(None).await?;
    // Each claimed for the round: a request does not take it meanwhile.
    let pending: Vec<(Snapshot, InFlight<'_>)> = snapshots
        .into_iter()
        .filter(|s| s.state == SnapshotState::Pending)
        .filter_map(|s| {
            let claim = InFlight::claim(&cloud.ebs, &s.id)?;
            Some((s, claim))
        })
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    let ids = pending.iter().map(|(s, _)| s.id.clone()).collect();
    let Ok(reports) = storage_snapshots(cloud, ids).await else {
        return Ok(());
    };
    for (snapshot, _claim) in pending {
        if apply(cloud, &snapshot, &reports).await?.is_some() {
            continue;
        }
        match create_on_storage(cloud, &snapshot).await {
            Ok(_) | Err(Ec2Error::Storage) => {}
            Err(refused) => {
                tracing::warn!(snapshot = %snapshot.id, error = %refused, "tick: the storage controller refused the snapshot");
                let failed = Snapshot {
                    state: SnapshotState::Error,
                    ..snapshot
                };
                cloud.store.change_snapshot(&failed).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scs_status_and_progress_become_ec2s() {
        let pending = Snapshot {
            id: "snap-1".into(),
            owner: "u".into(),
            volume: "vol-1".into(),
            volume_size_gb: 1,
            started: 0,
            state: SnapshotState::Pending,
            progress: 10,
        };
        let now = |status, progress| {
            let s = reported(&pending, status, progress);
            (s.state, s.progress)
        };
        assert_eq!(
            now(Some("pending"), Some("42%")),
            (SnapshotState::Pending, 42)
        );
        assert_eq!(
            now(Some("pending"), Some("x")),
            (SnapshotState::Pending, 10)
        );
        assert_eq!(
            now(Some("completed"), Some("99%")),
            (SnapshotState::Completed, 100)
        );
        assert_eq!(now(Some("failed"), None), (SnapshotState::Error, 10));
    }
}

//! `/volumes` and `/snapshots`: the EBS volumes and snapshots the viewer may see (every
//! account's for the cloud admin), each with its delete button, which asks DeleteVolume or
//! DeleteSnapshot through `ops::ask` as the viewer.

use maud::{html, Markup};
use wire::ec2::{
    AmazonEc2PortTypeRequest as R, DeleteSnapshotResponseType, DeleteSnapshotType,
    DeleteVolumeResponseType, DeleteVolumeType,
};

use super::controls::{ec2, scope};
use super::{button, date};
use crate::console::{ConsoleError, Ctx, Reply, Request};
use crate::ops;
use crate::store::{Snapshot, Volume};

const VOLUMES: &str = "/volumes";
const SNAPSHOTS: &str = "/snapshots";

/// `GET /volumes`.
pub async fn volumes(ctx: Ctx, _req: Request) -> Result<Reply, ConsoleError> {
    let volumes = ctx.cloud.store.volumes(scope(&ctx.viewer)).await?;
    Ok(Reply::page("Volumes", volumes_page(&ctx, &volumes)))
}

pub fn volumes_page(ctx: &Ctx, volumes: &[Volume]) -> Markup {
    html! {
        @if volumes.is_empty() { p.empty { "No volumes." } } @else {
            table #volumes {
                thead { tr { th { "Volume" } th { "Account" } th { "Size (GB)" } th { "Zone" }
                    th { "State" } th { "Attached to" } th { "From snapshot" } th { "Created" } th {} } }
                tbody {
                    @for v in volumes {
                        tr data-volume=(v.id) {
                            td { (v.id) } td { (v.owner) } td { (v.size_gb) } td { (v.zone) }
                            td.state { (v.state.ec2()) }
                            td { @if let Some(a) = &v.attachment { (a.instance) " as " (a.device) } }
                            td { (v.snapshot.as_deref().unwrap_or("")) }
                            td { (date(v.created)) }
                            td { (button(ctx, VOLUMES, "delete", &[("id", &v.id)], "Delete")) }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /volumes`: deletes the volume `id`.
pub async fn delete_volume(ctx: Ctx, req: Request) -> Result<Reply, ConsoleError> {
    let volume_id = req.field("id")?.to_owned();
    let request = ec2(R::DeleteVolume(DeleteVolumeType { volume_id }));
    let _: DeleteVolumeResponseType = ops::ask(&ctx.cloud, &ctx.viewer, request).await?;
    Ok(Reply::back(VOLUMES))
}

/// `GET /snapshots`.
pub async fn snapshots(ctx: Ctx, _req: Request) -> Result<Reply, ConsoleError> {
    let snapshots = ctx.cloud.store.snapshots(scope(&ctx.viewer)).await?;
    Ok(Reply::page("Snapshots", snapshots_page(&ctx, &snapshots)))
}

pub fn snapshots_page(ctx: &Ctx, snapshots: &[Snapshot]) -> Markup {
    html! {
        @if snapshots.is_empty() { p.empty { "No snapshots." } } @else {
            table #snapshots {
                thead { tr { th { "Snapshot" } th { "Account" } th { "Volume" } th { "Size (GB)" }
                    th { "State" } th { "Progress" } th { "Started" } th {} } }
                tbody {
                    @for s in snapshots {
                        tr data-snapshot=(s.id) {
                            td { (s.id) } td { (s.owner) } td { (s.volume) } td { (s.volume_size_gb) }
                            td.state { (s.state.name()) } td { (s.progress) "%" }
                            td { (date(s.started)) }
                            td { (button(ctx, SNAPSHOTS, "delete", &[("id", &s.id)], "Delete")) }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /snapshots`: deletes the snapshot `id`.
pub async fn delete_snapshot(ctx: Ctx, req: Request) -> Result<Reply, ConsoleError> {
    let snapshot_id = req.field("id")?.to_owned();
    let request = ec2(R::DeleteSnapshot(DeleteSnapshotType { snapshot_id }));
    let _: DeleteSnapshotResponseType = ops::ask(&ctx.cloud, &ctx.viewer, request).await?;
    Ok(Reply::back(SNAPSHOTS))
}

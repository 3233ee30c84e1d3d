//! CreateVolume, DeleteVolume, DescribeVolumes, AttachVolume, DetachVolume: EBS volumes kept
//! by the storage controller, attached through the clusters, as the original's
//! VolumeManager: the SC exports the volume to the instance's node (AttachStorageVolume →
//! its remoteDev), then the instance's CC has its NC attach that remoteDev.
//!
//! Durable as RunInstances: each change is recorded (`creating`, `attaching`, `detaching`,
//! `deleting`) before the SC or CC is asked, by a compare-and-set on the volume's state, so
//! two requests never move one volume at once and a restart finds what was under way;
//! [`settle`] (the tick) finishes it.

use wire::cc;
use wire::ec2::{
    AttachVolumeResponseType, AttachVolumeType, AttachmentSetItemResponseType,
    AttachmentSetResponseType, CreateVolumeResponseType, CreateVolumeType,
    DeleteVolumeResponseType, DeleteVolumeType, DescribeVolumesResponseType,
    DescribeVolumesSetItemResponseType, DescribeVolumesSetResponseType, DescribeVolumesType,
    DetachVolumeResponseType, DetachVolumeType,
};
use wire::query::Filter;
use wire::storage::{
    AttachStorageVolumeType, CreateStorageVolumeType, DeleteStorageVolumeType, GetStorageVolumeType,
};
use xmlbind::DateTime;

use super::clusters::{self, CLOUD_USER, CLUSTER_DEADLINE};
use super::filters::Filters;
use super::ids::random_id;
use super::instances;
use super::storage::{ask_storage, unexport, COPY_DEADLINE, STORAGE_DEADLINE};
use super::{named, Call, Cloud, InFlight};
use crate::error::Ec2Error;
use crate::store::{Attachment, Instance, StoreError, Volume, VolumeState};

/// `client_token`: the request's `ClientToken` (later API versions; boto3 sends one): a
/// retry with it answers the volume the first made.
pub(super) async fn create(
    call: &Call<'_>,
    request: CreateVolumeType,
    client_token: Option<&str>,
) -> Result<CreateVolumeResponseType, Ec2Error> {
    // No storage controller: refused before anything is looked at or recorded.
    if call.cloud.storage.is_none() {
        return Err(Ec2Error::NoStorage);
    }
    let store = &call.cloud.store;
    let zone = request.availability_zone;
    if !store.clusters().await?.iter().any(|c| c.name == zone) {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The availability zone '{zone}' does not exist"
        )));
    }
    let snapshot = match request.snapshot_id.filter(|s| !s.is_empty()) {
        Some(id) => Some(call.snapshot(&id).await?),
        None => None,
    };
    let size_gb = match request.size.filter(|s| !s.trim().is_empty()) {
        Some(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|gb| *gb > 0)
            .ok_or_else(|| {
                Ec2Error::InvalidParameterValue(format!("Size {text:?} is not a number of GB"))
            })?,
        None => snapshot
            .as_ref()
            .map(|s| s.volume_size_gb)
            .ok_or_else(|| Ec2Error::MissingParameter("Size".into()))?,
    };
    // Held to the record (not over the SC's call).
    let token_turn = match client_token {
        Some(token) => {
            instances::check_client_token(token)?;
            let turn = call.cloud.client_tokens.lock().await;
            let volumes = store.volumes(Some(&call.user.account)).await?;
            if let Some(earlier) = volumes
                .into_iter()
                .find(|v| v.client_token.as_deref() == Some(token))
            {
                return Ok(created(call, earlier));
            }
            Some(turn)
        }
        None => None,
    };
    let creating = Volume {
        id: random_id("vol"),
        owner: call.user.account.clone(),
        size_gb,
        snapshot: snapshot.map(|s| s.id),
        zone,
        created: kit::time::now(),
        state: VolumeState::Creating,
        attachment: None,
        client_token: client_token.map(str::to_owned),
    };
    let _busy = call.claim(&creating.id)?;
    store.add_volume(&creating).await?;
    drop(token_turn);
    let volume = match create_on_storage(call.cloud, &creating).await {
        Ok(volume) => volume,
        Err(e) => {
            // The SC refused it: it never was. Otherwise it may be; the tick asks.
            if !matches!(e, Ec2Error::Storage) {
                store.remove_volume(&creating.id).await?;
            }
            return Err(e);
        }
    };
    Ok(created(call, volume))
}

fn created(call: &Call<'_>, volume: Volume) -> CreateVolumeResponseType {
    CreateVolumeResponseType {
        request_id: call.request_id.to_owned(),
        volume_id: volume.id,
        size: volume.size_gb.to_string(),
        snapshot_id: volume.snapshot.unwrap_or_default(),
        availability_zone: volume.zone,
        status: volume.state.ec2().to_owned(),
        create_time: DateTime::from_unix(volume.created),
    }
}

/// Asks the SC to create the volume `creating` records, and records it available.
async fn create_on_storage(cloud: &Cloud, creating: &Volume) -> Result<Volume, Ec2Error> {
    let ask = CreateStorageVolumeType {
        volume_id: Some(creating.id.clone()),
        size: Some(creating.size_gb.to_string()),
        snapshot_id: creating.snapshot.clone(),
    };
    ask_storage(cloud, COPY_DEADLINE, |sc| async move {
        sc.create_storage_volume(&ask).await
    })
    .await?;
    let available = Volume {
        state: VolumeState::Available,
        ..creating.clone()
    };
    cloud
        .store
        .change_volume(&available, VolumeState::Creating)
        .await?;
    Ok(available)
}

pub(super) async fn delete(
    call: &Call<'_>,
    request: DeleteVolumeType,
) -> Result<DeleteVolumeResponseType, Ec2Error> {
    let volume = call.volume(&request.volume_id).await?;
    let _busy = call.claim(&volume.id)?;
    let deleting = Volume {
        state: VolumeState::Deleting,
        ..volume.clone()
    };
    if volume.state != VolumeState::Available
        || !call
            .cloud
            .store
            .change_volume(&deleting, VolumeState::Available)
            .await?
    {
        return Err(unavailable(&volume));
    }
    if let Err(e) = delete_on_storage(call.cloud, &volume.id).await {
        // Refused: the volume stays as it was. Unanswered: the tick asks again.
        if !matches!(e, Ec2Error::Storage) {
            call.cloud
                .store
                .change_volume(&volume, VolumeState::Deleting)
                .await?;
        }
        return Err(e);
    }
    Ok(DeleteVolumeResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

/// Asks the SC to delete volume `id` (already gone there is deleted too), then forgets it.
async fn delete_on_storage(cloud: &Cloud, id: &str) -> Result<(), Ec2Error> {
    let ask = DeleteStorageVolumeType {
        volume_id: Some(id.to_owned()),
    };
    match ask_storage(cloud, STORAGE_DEADLINE, |sc| async move {
        sc.delete_storage_volume(&ask).await
    })
    .await
    {
        Ok(_) | Err(Ec2Error::VolumeNotFound(_)) => {}
        Err(e) => return Err(e),
    }
    cloud.store.remove_volume(id).await?;
    tracing::info!(volume = %id, "volume deleted");
    Ok(())
}

/// The error for moving `volume`, which is not available.
fn unavailable(volume: &Volume) -> Ec2Error {
    match volume.state {
        VolumeState::Attaching | VolumeState::Attached | VolumeState::Detaching => {
            Ec2Error::VolumeInUse(volume.id.clone())
        }
        state => Ec2Error::IncorrectState(format!("The volume '{}' is {}", volume.id, state.ec2())),
    }
}

pub(super) async fn describe(
    call: &Call<'_>,
    request: DescribeVolumesType,
    filters: &[Filter],
) -> Result<DescribeVolumesResponseType, Ec2Error> {
    let filters = Filters::new(
        filters,
        &[
            "volume-id",
            "size",
            "snapshot-id",
            "availability-zone",
            "status",
            "attachment.instance-id",
            "attachment.device",
            "attachment.status",
        ],
    )?;
    let names: Vec<&str> = request
        .volume_set
        .item
        .iter()
        .map(|i| i.volume_id.as_str())
        .collect();
    let owner = call.owner_filter(&names);
    let asked: Vec<&str> = names.into_iter().filter(|n| *n != "verbose").collect();
    let volumes = call.cloud.store.volumes(owner).await?;
    let item = named(volumes, &asked, |v| &v.id, Ec2Error::VolumeNotFound)?
        .into_iter()
        .filter(|v| {
            let size = v.size_gb.to_string();
            filters.pass(|name| match name {
                "volume-id" => vec![v.id.as_str()],
                "size" => vec![size.as_str()],
                "snapshot-id" => v.snapshot.as_deref().into_iter().collect(),
                "availability-zone" => vec![v.zone.as_str()],
                "status" => vec![v.state.ec2()],
                "attachment.instance-id" => {
                    v.attachment.iter().map(|a| a.instance.as_str()).collect()
                }
                "attachment.device" => v.attachment.iter().map(|a| a.device.as_str()).collect(),
                _ => attachment_status(v.state).into_iter().collect(),
            })
        })
        .map(item)
        .collect();
    Ok(DescribeVolumesResponseType {
        request_id: call.request_id.to_owned(),
        volume_set: DescribeVolumesSetResponseType { item },
    })
}

/// EC2's `attachmentSet/item/status` of a volume in `state`; `None` when unattached.
fn attachment_status(state: VolumeState) -> Option<&'static str> {
    match state {
        VolumeState::Attaching | VolumeState::Attached | VolumeState::Detaching => {
            Some(state.name())
        }
        _ => None,
    }
}

fn item(volume: Volume) -> DescribeVolumesSetItemResponseType {
    let attachment = volume
        .attachment
        .as_ref()
        .map(|a| AttachmentSetItemResponseType {
            volume_id: volume.id.clone(),
            instance_id: a.instance.clone(),
            device: a.device.clone(),
            status: attachment_status(volume.state)
                .unwrap_or_default()
                .to_owned(),
            attach_time: DateTime::from_unix(a.attached),
        });
    DescribeVolumesSetItemResponseType {
        size: volume.size_gb.to_string(),
        snapshot_id: volume.snapshot.clone().unwrap_or_default(),
        status: volume.state.ec2().to_owned(),
        create_time: DateTime::from_unix(volume.created),
        attachment_set: AttachmentSetResponseType {
            item: attachment.into_iter().collect(),
        },
        availability_zone: volume.zone,
        volume_id: volume.id,
    }
}

pub(super) async fn attach(
    call: &Call<'_>,
    request: AttachVolumeType,
) -> Result<AttachVolumeResponseType, Ec2Error> {
    let volume = call.volume(&request.volume_id).await?;
    let _busy = call.claim(&volume.id)?;
    let instance = instances::owned(call, &[request.instance_id.as_str()])
        .await?
        .pop()
        .ok_or_else(|| Ec2Error::InstanceNotFound(request.instance_id.clone()))?;
    let device = request.device;
    if !device_name(&device) {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The device '{device}' is not a device name such as /dev/sdf"
        )));
    }
    let node = node_address(&instance).filter(|_| instances::running(&instance));
    let Some(node) = node else {
        return Err(Ec2Error::IncorrectInstanceState(format!(
            "The instance '{}' is not running",
            instance.id
        )));
    };
    // The administrator may name anyone's, but not join two users' things.
    if volume.owner != instance.owner {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The volume '{}' and the instance '{}' belong to different users",
            volume.id, instance.id
        )));
    }
    if volume.zone != instance.cluster {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The volume '{}' is in zone {} and the instance '{}' in {}",
            volume.id, volume.zone, instance.id, instance.cluster
        )));
    }
    let taken = call.cloud.store.volumes(None).await?.into_iter().any(|v| {
        v.attachment
            .is_some_and(|a| a.instance == instance.id && a.device == device)
    });
    if taken {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The device '{device}' of the instance '{}' is in use",
            instance.id
        )));
    }
    let attachment = Attachment {
        instance: instance.id.clone(),
        device,
        remote_dev: String::new(),
        attached: kit::time::now(),
    };
    let attaching = Volume {
        state: VolumeState::Attaching,
        attachment: Some(attachment.clone()),
        ..volume.clone()
    };
    let store = &call.cloud.store;
    if volume.state != VolumeState::Available
        || !store
            .change_volume(&attaching, VolumeState::Available)
            .await?
    {
        return Err(unavailable(&volume));
    }
    if let Err(e) = attach_through(call.cloud, &attaching, &attachment, &instance, &node).await {
        store.change_volume(&volume, VolumeState::Attaching).await?;
        return Err(e);
    }
    Ok(AttachVolumeResponseType {
        request_id: call.request_id.to_owned(),
        volume_id: volume.id,
        instance_id: attachment.instance,
        device: attachment.device,
        status: VolumeState::Attached.name().to_owned(),
        attach_time: DateTime::from_unix(attachment.attached),
    })
}

/// Whether `device` names a guest disk as the nodes take it: `/dev/` and 3 to 8 lowercase
/// letters and digits, a letter first (`/dev/sdf`).
fn device_name(device: &str) -> bool {
    device.strip_prefix("/dev/").is_some_and(|name| {
        (3..=8).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// The address of the node running `instance`: the host of its cluster's `serviceTag`
/// (the node's URL).
fn node_address(instance: &Instance) -> Option<String> {
    let tag = &instance.observed.node;
    let rest = tag.split_once("://").map_or(tag.as_str(), |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_owned())
}

/// Exports the volume `attaching` records (with `attachment`) to `node` (the SC), records
/// its remoteDev, has the instance's cluster attach it and records it attached. A cluster's
/// refusal takes the export back.
async fn attach_through(
    cloud: &Cloud,
    attaching: &Volume,
    attachment: &Attachment,
    instance: &Instance,
    node: &str,
) -> Result<(), Ec2Error> {
    let ask = AttachStorageVolumeType {
        volume_id: Some(attaching.id.clone()),
        node_ip: Some(node.to_owned()),
    };
    let remote_dev = ask_storage(cloud, STORAGE_DEADLINE, |sc| async move {
        sc.attach_storage_volume(&ask).await
    })
    .await?
    .remote_device_string
    .filter(|r| !r.is_empty())
    .ok_or(Ec2Error::Storage)?;
    let exported = Volume {
        attachment: Some(Attachment {
            remote_dev: remote_dev.clone(),
            ..attachment.clone()
        }),
        ..attaching.clone()
    };
    let store = &cloud.store;
    store
        .change_volume(&exported, VolumeState::Attaching)
        .await?;
    let ask = cc::AttachVolumeType {
        user_id: Some(CLOUD_USER.into()),
        volume_id: Some(attaching.id.clone()),
        instance_id: Some(instance.id.clone()),
        remote_dev: Some(remote_dev),
        local_dev: Some(attachment.device.clone()),
        ..cc::AttachVolumeType::default()
    };
    if let Err(e) = on_cluster(cloud, &instance.cluster, |cc| async move {
        cc.attach_volume(&ask).await.map(|a| a.r#return)
    })
    .await
    {
        unexport(cloud, &exported).await;
        return Err(e);
    }
    let attached = Volume {
        state: VolumeState::Attached,
        ..exported
    };
    store
        .change_volume(&attached, VolumeState::Attaching)
        .await?;
    tracing::info!(volume = %attached.id, instance = %instance.id, node, "volume attached");
    Ok(())
}

/// What the CC of `cluster` answers to `ask` (given its client): its `return`, which must
/// not be false.
async fn on_cluster<F, Fut>(cloud: &Cloud, cluster: &str, ask: F) -> Result<(), Ec2Error>
where
    F: FnOnce(cc::EucalyptusCcClient<soap::HttpTransport>) -> Fut,
    Fut: std::future::Future<Output = Result<Option<bool>, soap::ClientError>>,
{
    let clusters = cloud.store.clusters().await?;
    let cluster = clusters
        .iter()
        .find(|c| c.name == cluster)
        .ok_or_else(|| Ec2Error::Cluster(cluster.to_owned()))?;
    let failed = |why: &str| clusters::cluster_failed(cluster, why);
    let client = clusters::client(&cluster.url, &cloud.clusters, CLUSTER_DEADLINE)
        .map_err(|e| failed(&e.to_string()))?;
    match ask(client).await {
        Ok(Some(false)) => Err(failed("refused")),
        Ok(_) => Ok(()),
        Err(e) => Err(failed(&e.to_string())),
    }
}

pub(super) async fn detach(
    call: &Call<'_>,
    request: DetachVolumeType,
) -> Result<DetachVolumeResponseType, Ec2Error> {
    let volume = call.volume(&request.volume_id).await?;
    let _busy = call.claim(&volume.id)?;
    let force = request.force == Some(true);
    let Some(attachment) = volume.attachment.clone() else {
        return Err(Ec2Error::IncorrectState(format!(
            "The volume '{}' is not attached",
            volume.id
        )));
    };
    if let Some(other) = request
        .instance_id
        .filter(|i| !i.is_empty() && *i != attachment.instance)
    {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The volume '{}' is not attached to '{other}'",
            volume.id
        )));
    }
    let detaching = Volume {
        state: VolumeState::Detaching,
        ..volume.clone()
    };
    // Force also takes back a volume whose attaching or detaching stopped half way.
    let movable = volume.state == VolumeState::Attached || force;
    if !movable
        || !call
            .cloud
            .store
            .change_volume(&detaching, volume.state)
            .await?
    {
        return Err(Ec2Error::IncorrectState(format!(
            "The volume '{}' is {}",
            volume.id,
            attachment_status(volume.state).unwrap_or_else(|| volume.state.ec2())
        )));
    }
    if let Err(e) = detach_through(call.cloud, &detaching, force).await {
        call.cloud
            .store
            .change_volume(&volume, VolumeState::Detaching)
            .await?;
        return Err(e);
    }
    Ok(DetachVolumeResponseType {
        request_id: call.request_id.to_owned(),
        volume_id: volume.id,
        instance_id: attachment.instance,
        device: attachment.device,
        status: "detached".to_owned(),
        attach_time: DateTime::from_unix(attachment.attached),
    })
}

/// Has the instance's cluster detach the volume `detaching` records (unless the instance is
/// gone), takes back the SC's export and records the volume available. With `force`, a
/// cluster that refuses or does not answer is passed over.
async fn detach_through(cloud: &Cloud, detaching: &Volume, force: bool) -> Result<(), Ec2Error> {
    let Some(a) = &detaching.attachment else {
        return Ok(());
    };
    let instance = cloud
        .store
        .instances(Some(&detaching.owner))
        .await?
        .into_iter()
        .find(|i| i.id == a.instance && !i.observed.vanished);
    if let Some(instance) = instance {
        let ask = cc::DetachVolumeType {
            user_id: Some(CLOUD_USER.into()),
            instance_id: Some(instance.id.clone()),
            volume_id: Some(detaching.id.clone()),
            remote_dev: Some(a.remote_dev.clone()),
            local_dev: Some(a.device.clone()),
            force: Some(force),
            ..cc::DetachVolumeType::default()
        };
        let detached = on_cluster(cloud, &instance.cluster, |cc| async move {
            cc.detach_volume(&ask).await.map(|a| a.r#return)
        })
        .await;
        match detached {
            Ok(()) => {}
            Err(e) if force => {
                tracing::warn!(volume = %detaching.id, error = %e, "forced detach: the cluster did not detach the volume");
            }
            Err(e) => return Err(e),
        }
    }
    if !a.remote_dev.is_empty() {
        unexport(cloud, detaching).await;
    }
    let available = Volume {
        state: VolumeState::Available,
        attachment: None,
        ..detaching.clone()
    };
    cloud
        .store
        .change_volume(&available, VolumeState::Detaching)
        .await?;
    tracing::info!(volume = %detaching.id, instance = %a.instance, "volume detached");
    Ok(())
}

/// The tick's part: finishes the changes to volumes that no request is making now (a
/// restart interrupted them): a volume `creating` is looked up on the SC (and created if
/// it is not there), one `deleting` deleted, one `attaching` or `detaching` detached.
pub(super) async fn settle(cloud: &Cloud) -> Result<(), StoreError> {
    if cloud.storage.is_none() {
        return Ok(());
    }
    for volume in cloud.store.volumes(None).await? {
        let Some(_busy) = InFlight::claim(&cloud.ebs, &volume.id) else {
            continue;
        };
        let settled = match volume.state {
            VolumeState::Available | VolumeState::Attached => continue,
            VolumeState::Creating => settle_creating(cloud, &volume).await,
            VolumeState::Deleting => delete_on_storage(cloud, &volume.id).await,
            VolumeState::Attaching | VolumeState::Detaching => {
                let detaching = Volume {
                    state: VolumeState::Detaching,
                    ..volume.clone()
                };
                match cloud.store.change_volume(&detaching, volume.state).await? {
                    true => detach_through(cloud, &detaching, true).await,
                    false => Ok(()),
                }
            }
        };
        if let Err(e) = settled {
            tracing::warn!(volume = %volume.id, state = volume.state.name(), error = %e, "tick: cannot settle the volume yet");
        }
    }
    Ok(())
}

/// A volume recorded `creating` that no request is creating: available if the SC has it,
/// else asked for again; one the SC refuses never was.
async fn settle_creating(cloud: &Cloud, volume: &Volume) -> Result<(), Ec2Error> {
    let ask = GetStorageVolumeType {
        volume_id: Some(volume.id.clone()),
    };
    let found = ask_storage(cloud, STORAGE_DEADLINE, |sc| async move {
        sc.get_storage_volume(&ask).await
    })
    .await;
    let created = match found {
        Ok(_) => {
            let available = Volume {
                state: VolumeState::Available,
                ..volume.clone()
            };
            cloud
                .store
                .change_volume(&available, VolumeState::Creating)
                .await?;
            return Ok(());
        }
        Err(Ec2Error::VolumeNotFound(_)) => create_on_storage(cloud, volume).await,
        Err(e) => return Err(e),
    };
    match created {
        Err(Ec2Error::Storage) => Err(Ec2Error::Storage),
        Err(refused) => {
            tracing::warn!(volume = %volume.id, error = %refused, "tick: the storage controller refused the volume: forgotten");
            cloud.store.remove_volume(&volume.id).await?;
            Ok(())
        }
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Observed;

    #[test]
    fn devices_are_guest_disk_names() {
        assert!(device_name("/dev/sdf") && device_name("/dev/vdb") && device_name("/dev/xvdf1"));
        assert!(!device_name("sdf") && !device_name("/dev/") && !device_name("/dev/SDF"));
        assert!(!device_name("/dev/1sd") && !device_name("/dev/sd/../x"));
    }

    #[test]
    fn the_node_address_is_the_host_of_its_service_tag() {
        let on = |tag: &str| Instance {
            id: "i-1".into(),
            reservation: "r-1".into(),
            owner: "u".into(),
            image: "emi-1".into(),
            kernel: None,
            ramdisk: None,
            vm_type: "m1.small".into(),
            key_name: None,
            groups: Vec::new(),
            launch_index: 0,
            cluster: "zone1".into(),
            launched: 0,
            terminated: false,
            client_token: None,
            observed: Observed {
                node: tag.into(),
                ..Observed::default()
            },
        };
        let address = |tag| node_address(&on(tag));
        assert_eq!(
            address("http://127.0.0.2:8775/axis2/services/EucalyptusNC").as_deref(),
            Some("127.0.0.2")
        );
        assert_eq!(address("http://[::1]:8775/x").as_deref(), Some("::1"));
        assert_eq!(address("node7").as_deref(), Some("node7"));
        assert_eq!(address(""), None);
    }
}

//! RunInstances, DescribeInstances, TerminateInstances, RebootInstances, GetConsoleOutput,
//! through the cluster controllers. The cloud checks what it can (image, kernel, VM type,
//! keypair, groups, counts), places the reservation in a zone (the one asked for, else the
//! one with the most room at the last tick), chooses the ids, records the instances, then
//! asks that zone's cluster; what it does not start may run on a burst target
//! (`crate::burst`, which the zone's part then need not make up), and a reservation that
//! falls short of `MinCount` has what started terminated (InsufficientInstanceCapacity).
//! A `ClientToken` makes RunInstances idempotent: a retry returns the reservation the token
//! made. An instance's EC2 state is what its cluster last reported, as the tick recorded it:
//! Pending, Extant and Teardown are pending, running and shutting-down; one its cluster no
//! longer reports is terminated.

use base64::engine::general_purpose::STANDARD as BASE64;
use std::collections::{HashMap, HashSet};

use base64::Engine;
use users::events::{action, Quantity};
use wire::cc;
use wire::ec2::{
    DescribeInstancesResponseType, DescribeInstancesType, GetConsoleOutputResponseType,
    GetConsoleOutputType, GroupItemType, GroupSetType, InstanceStateType, PlacementResponseType,
    RebootInstancesResponseType, RebootInstancesType, ReservationInfoType, ReservationSetType,
    RunInstancesResponseType, RunInstancesType, RunningInstancesItemType, RunningInstancesSetType,
    TerminateInstancesResponseInfoType, TerminateInstancesResponseItemType,
    TerminateInstancesResponseType, TerminateInstancesType,
};
use wire::query::Filter;
use xmlbind::DateTime;

use super::clusters::{self, ask_cluster, cluster_failed, zones_of, CLOUD_USER, LAUNCH_DEADLINE};
use super::events;
use super::filters::Filters;
use super::groups::{ensure_default, DEFAULT_GROUP};
use super::ids::random_id;
use super::images::may_run;
use super::owners::Owners;
use super::pools;
use super::quota::Limits;
use super::storage;
use super::{Call, InFlight};
use crate::burst;
use crate::error::Ec2Error;
use crate::sla;
use crate::store::{Cluster, Image, ImageKind, Instance, Observed, StoreError, VmType};
use users::Resource;

/// The VM type of a RunInstances that names none, as EC2's.
const DEFAULT_VM_TYPE: &str = "m1.small";
/// The most instances one RunInstances may ask for.
const MAX_COUNT: i32 = 256;
/// The longest `ClientToken` EC2 accepts.
const MAX_CLIENT_TOKEN: usize = 64;

/// An EC2 instance state: its code and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
}

impl State {
    fn ec2(self) -> InstanceStateType {
        let (code, name) = match self {
            Self::Pending => (0, "pending"),
            Self::Running => (16, "running"),
            Self::ShuttingDown => (32, "shutting-down"),
            Self::Terminated => (48, "terminated"),
        };
        InstanceStateType {
            code,
            name: name.to_owned(),
        }
    }

    /// The state of `instance`, from what its cluster last reported and whether it was
    /// asked to terminate.
    fn of(instance: &Instance) -> Self {
        let observed = &instance.observed;
        if observed.vanished {
            return Self::Terminated;
        }
        match (observed.state.as_deref(), instance.terminated) {
            (Some("Teardown"), _) | (_, true) => Self::ShuttingDown,
            (Some("Extant"), false) => Self::Running,
            _ => Self::Pending,
        }
    }
}

/// `client_token`: the request's `ClientToken`, which later API versions than 2009-04-04 send.
pub(super) async fn run(
    call: &Call<'_>,
    request: RunInstancesType,
    client_token: Option<&str>,
) -> Result<RunInstancesResponseType, Ec2Error> {
    let store = &call.cloud.store;
    let owner = call.user.account.clone();
    // Held to the record below (not over the cluster's call).
    let token_turn = match client_token {
        Some(_) => Some(call.cloud.client_tokens.lock().await),
        None => None,
    };
    if let Some(token) = client_token {
        check_client_token(token)?;
        let earlier = store.by_client_token(&owner, token).await?;
        if !earlier.is_empty() {
            return Ok(reservation_answer(call, &earlier));
        }
    }
    if !(1..=MAX_COUNT).contains(&request.min_count)
        || !(request.min_count..=MAX_COUNT).contains(&request.max_count)
    {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "MinCount {} and MaxCount {} must satisfy 1 <= MinCount <= MaxCount <= {MAX_COUNT}",
            request.min_count, request.max_count
        )));
    }
    let images = store.images().await?;
    let runnable = |id: &str, kind: ImageKind| -> Result<Image, Ec2Error> {
        let image = images
            .iter()
            .find(|i| i.id == id && i.kind == kind)
            .ok_or_else(|| Ec2Error::ImageNotFound(id.to_owned()))?;
        if !may_run(image, call.user) {
            return Err(Ec2Error::ImageNotAuthorized(id.to_owned()));
        }
        Ok(image.clone())
    };
    let image = runnable(&request.image_id, ImageKind::Machine)?;
    // The image's own kernel and ramdisk (its manifest's) unless the request names others.
    let kernel_id = request
        .kernel_id
        .as_deref()
        .or(image.kernel.as_deref())
        .ok_or_else(|| {
            Ec2Error::MissingParameter("KernelId (the cloud has no default kernel)".into())
        })?;
    let kernel = runnable(kernel_id, ImageKind::Kernel)?;
    let ramdisk = match request.ramdisk_id.as_deref().or(image.ramdisk.as_deref()) {
        Some(id) => Some(runnable(id, ImageKind::Ramdisk)?),
        None => None,
    };
    let type_name = if request.instance_type.is_empty() {
        DEFAULT_VM_TYPE
    } else {
        request.instance_type.as_str()
    };
    let vm_type = store
        .vm_types()
        .await?
        .into_iter()
        .find(|t| t.name == type_name)
        .ok_or_else(|| {
            Ec2Error::InvalidParameterValue(format!("The VM type '{type_name}' does not exist"))
        })?;
    let public_key = match &request.key_name {
        Some(name) => Some(
            store
                .keypairs(Some(&owner))
                .await?
                .into_iter()
                .find(|k| &k.name == name)
                .ok_or_else(|| Ec2Error::KeyPairNotFound(name.clone()))?
                .public_key,
        ),
        None => None,
    };
    let mut groups: Vec<String> = request
        .group_set
        .item
        .iter()
        .map(|g| g.group_id.clone())
        .collect();
    if groups.is_empty() {
        groups.push(DEFAULT_GROUP.to_owned());
    }
    ensure_default(call).await?;
    let owned = store.groups(Some(&owner)).await?;
    if let Some(missing) = groups.iter().find(|g| !owned.iter().any(|o| &o.name == *g)) {
        return Err(Ec2Error::GroupNotFound(missing.clone()));
    }
    // As many as the quotas leave room for, at least MinCount; the account's turn is held
    // until they are recorded.
    let limits = Limits::of(call).await?;
    let asked = |count: i32| {
        let count = u64::try_from(count).unwrap_or(0);
        [
            (Resource::Instances, count),
            (Resource::Cores, count * u64::from(vm_type.cores)),
            (Resource::Memory, count * u64::from(vm_type.memory_mb)),
        ]
    };
    let mut max_count = request.max_count;
    while let Err(refused) = limits.admit(&asked(max_count)) {
        if max_count == request.min_count {
            return Err(refused);
        }
        max_count -= 1;
    }
    let zone = request
        .placement
        .as_ref()
        .and_then(|p| p.availability_zone.as_deref())
        .filter(|z| !z.is_empty());
    let min = usize::try_from(request.min_count).unwrap_or(usize::MAX);
    // What a burst target may run of what the local zones do not start; the local zones'
    // share is then what the SLAs admit.
    let burst = burst::Offer::of(call.cloud, &owner, &image.id, zone).await?;
    let local_min = i32::try_from(burst.local_min(min)).unwrap_or(i32::MAX);
    let local_max = burst.local_max(usize::try_from(max_count).unwrap_or(0));
    let local_max = i32::try_from(local_max).unwrap_or(i32::MAX);
    let admitted = match sla::admit(
        call.cloud,
        &owner,
        zone,
        &vm_type.name,
        local_min.max(1),
        local_max,
    )
    .await
    {
        Ok(admitted) => Some(admitted),
        Err(Ec2Error::InsufficientInstanceCapacity(_)) if local_min == 0 => None,
        Err(e) => return Err(e),
    };
    let local_max = admitted.as_ref().map_or(0, |a| a.max);
    let local_zone = admitted.as_ref().and_then(|a| a.zone.as_deref());
    let cluster = match local_max {
        0 => None,
        _ => match place(call, local_zone, &vm_type, local_min.max(1), local_max).await {
            Ok(cluster) => Some(cluster),
            Err(Ec2Error::InsufficientInstanceCapacity(_)) if local_min == 0 => None,
            Err(e) => return Err(e),
        },
    };

    let s3_url = store
        .facts()
        .await?
        .ok_or_else(|| Ec2Error::Internal("the cloud's facts are not recorded".into()))?
        .s3_url;
    let url_of = |image: &Image| format!("{}/{}", s3_url.trim_end_matches('/'), image.location);
    let reservation = random_id("r");
    let launched = kit::time::now();
    let count = u32::try_from(max_count).unwrap_or(0);
    let instances: Vec<Instance> = (0..count)
        .map(|index| Instance {
            id: random_id("i"),
            reservation: reservation.clone(),
            owner: owner.clone(),
            image: image.id.clone(),
            kernel: Some(kernel.id.clone()),
            ramdisk: ramdisk.as_ref().map(|r| r.id.clone()),
            vm_type: vm_type.name.clone(),
            key_name: request.key_name.clone(),
            groups: groups.clone(),
            launch_index: index,
            cluster: cluster.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
            launched,
            terminated: false,
            client_token: client_token.map(str::to_owned),
            observed: Observed::default(),
        })
        .collect();
    // Recorded before the cluster is asked: a cloud that stops meanwhile still knows them,
    // and its tick finds them on the cluster, or finds them gone.
    // A fresh reservation: always marked.
    let _launching = InFlight::claim(&call.cloud.launching, &reservation);
    // The local zone's part: the first of them.
    let local = match cluster {
        Some(_) => usize::try_from(local_max).unwrap_or(0).min(instances.len()),
        None => 0,
    };
    if local > 0 {
        match store
            .add_instances(&instances[..local], Some(&call.user.name))
            .await
        {
            Ok(()) => {}
            // The same token's retry, which raced this one past the lookup above.
            Err(StoreError::Exists {
                what: "client token",
                name,
            }) => {
                let earlier = store.by_client_token(&owner, &name).await?;
                return Ok(reservation_answer(call, &earlier));
            }
            Err(e) => return Err(e.into()),
        }
    }
    drop(limits);
    drop(admitted);
    drop(token_turn);
    let ids: Vec<String> = instances[..local].iter().map(|i| i.id.clone()).collect();
    let mut answer = None;
    let mut started: Vec<String> = Vec::new();
    if let Some(cluster) = &cluster {
        let ask = cc::RunInstancesType {
            user_id: Some(owner.clone()),
            image_id: Some(image.id.clone()),
            kernel_id: Some(kernel.id.clone()),
            ramdisk_id: ramdisk.as_ref().map(|r| r.id.clone()),
            image_url: Some(url_of(&image)),
            kernel_url: Some(url_of(&kernel)),
            ramdisk_url: ramdisk.as_ref().map(url_of),
            instance_type: Some(cc::VirtualMachineType {
                name: Some(vm_type.name.clone()),
                memory: i32::try_from(vm_type.memory_mb).ok(),
                cores: i32::try_from(vm_type.cores).ok(),
                disk: i32::try_from(vm_type.disk_gb).ok(),
            }),
            key_name: public_key,
            max_count: local_max,
            min_count: local_min.max(1),
            reservation_id: reservation.clone(),
            net_names: vec![groups[0].clone()],
            mac_addresses: ids.iter().map(|id| mac_address(id)).collect(),
            instance_ids: ids.clone(),
            user_data: request.user_data.map(|u| u.data).unwrap_or_default(),
            launch_index: "0".into(),
            ..cc::RunInstancesType::default()
        };
        let asked = match clusters::client(&cluster.url, &call.cloud.clusters, LAUNCH_DEADLINE) {
            Ok(client) => client.run_instances(&ask).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match &asked {
            Ok(asked) if asked.r#return != Some(false) => {
                started = asked
                    .instances
                    .iter()
                    .filter_map(|i| i.instance_id.clone())
                    .filter(|id| ids.contains(id))
                    .collect();
            }
            Ok(asked) => {
                tracing::warn!(cluster = %cluster.name, reason = ?asked.status_message, "cluster refused RunInstances");
            }
            Err(e) => {
                tracing::warn!(cluster = %cluster.name, error = %e, "cluster did not answer RunInstances");
            }
        }
        answer = asked.ok();
        let unstarted: Vec<String> = ids
            .iter()
            .filter(|id| !started.contains(id))
            .cloned()
            .collect();
        store.remove_instances(&unstarted).await?;
    }
    let (mut launched, unplaced): (Vec<Instance>, Vec<Instance>) =
        instances.into_iter().partition(|i| started.contains(&i.id));
    let needed = min.saturating_sub(launched.len());
    let remote = burst
        .launch(call.cloud, &call.user.name, unplaced, needed)
        .await?;
    if launched.len() + remote.len() < min {
        if let Some(cluster) = &cluster {
            if !started.is_empty() {
                terminate_on(call, cluster, &started).await?;
            }
        }
        // Kept, as asked to terminate: forgotten now, the cluster's reports of them while
        // it tears them down would have the tick adopt them as running (and bill them).
        store.set_terminated(&started).await?;
        let zone = cluster.as_ref().map_or("(none)", |c| c.name.as_str());
        return Err(Ec2Error::InsufficientInstanceCapacity(format!(
            "The zone {zone} started {} of the at least {min} instances asked for",
            launched.len()
        )));
    }
    if let (Some(cluster), Some(answer)) = (&cluster, &answer) {
        pools::launched(call, cluster, &answer.instances).await;
    }
    for instance in launched.iter().chain(&remote) {
        let vm_type = Quantity::VmType(instance.vm_type.clone());
        let launch = action::INSTANCE_LAUNCHED;
        events::changed(&call.cloud.events, &call.who, launch, &instance.id, vm_type).await?;
    }
    if let Some(cluster) = &cluster {
        tracing::info!(%reservation, owner = %owner, cluster = %cluster.name, count = launched.len(), "instances launched");
        call.cloud.follow(cluster, launched.clone());
    }
    launched.extend(remote);
    launched.sort_by_key(|i| i.launch_index);
    Ok(reservation_answer(call, &launched))
}

/// RunInstances' answer: the reservation of `instances` (one reservation's, by index).
fn reservation_answer(call: &Call<'_>, instances: &[Instance]) -> RunInstancesResponseType {
    let first = instances.first();
    RunInstancesResponseType {
        request_id: call.request_id.to_owned(),
        reservation_id: first.map(|i| i.reservation.clone()).unwrap_or_default(),
        owner_id: call.user.account_id.clone(),
        group_set: group_set(first.map(|i| i.groups.as_slice()).unwrap_or_default()),
        instances_set: RunningInstancesSetType {
            item: instances
                .iter()
                .map(|i| item(i.clone(), &Addresses::default()))
                .collect(),
        },
        requester_id: None,
    }
}

/// The cluster of the zone a reservation of `min`..`max` instances of `vm_type` runs in:
/// `zone` when the user names one; else, of the zones with room for `min` at the last
/// tick, the one with the most, whose room is taken until the next tick says what is left.
async fn place(
    call: &Call<'_>,
    zone: Option<&str>,
    vm_type: &VmType,
    min: i32,
    max: i32,
) -> Result<Cluster, Ec2Error> {
    let clusters = call.cloud.store.clusters().await?;
    if let Some(zone) = zone {
        let cluster = clusters
            .into_iter()
            .find(|c| c.name == zone)
            .ok_or_else(|| {
                Ec2Error::InvalidParameterValue(format!("There is no availability zone '{zone}'"))
            })?;
        // Counted against the zone's room when it is known to have it; its cluster decides.
        call.cloud.zones.place(&[zone], &vm_type.name, min, max);
        return Ok(cluster);
    }
    let types = call.cloud.store.vm_types().await?;
    zones_of(call.cloud, &clusters, &types).await?;
    let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    let chosen = call.cloud.zones.place(&names, &vm_type.name, min, max);
    chosen
        .and_then(|name| clusters.into_iter().find(|c| c.name == name))
        .ok_or_else(|| {
            Ec2Error::InsufficientInstanceCapacity(format!(
                "No availability zone has room for {min} instances of type {}",
                vm_type.name
            ))
        })
}

pub(super) async fn describe(
    call: &Call<'_>,
    request: DescribeInstancesType,
    filters: &[Filter],
) -> Result<DescribeInstancesResponseType, Ec2Error> {
    let filters = Filters::new(
        filters,
        &[
            "instance-id",
            "instance-state-name",
            "instance-state-code",
            "reservation-id",
            "image-id",
            "instance-type",
            "key-name",
            "availability-zone",
        ],
    )?;
    let asked: Vec<&str> = request
        .instances_set
        .item
        .iter()
        .map(|i| i.instance_id.as_str())
        .collect();
    let owner = call.owner_filter(&asked);
    let asked: Vec<&str> = if owner.is_none() { Vec::new() } else { asked };
    let instances = chosen(call, owner, &asked).await?;
    let addresses = Addresses::held(call).await?;
    let owners = Owners::listing(call, owner).await?;
    // The store lists a reservation's instances together: each starts a reservation or
    // joins the last one.
    let mut reservations: Vec<ReservationInfoType> = Vec::new();
    for instance in instances {
        let state = State::of(&instance).ec2();
        let code = state.code.to_string();
        let listed = filters.pass(|name| match name {
            "instance-id" => vec![instance.id.as_str()],
            "instance-state-name" => vec![state.name.as_str()],
            "instance-state-code" => vec![code.as_str()],
            "reservation-id" => vec![instance.reservation.as_str()],
            "image-id" => vec![instance.image.as_str()],
            "instance-type" => vec![instance.vm_type.as_str()],
            "key-name" => instance.key_name.as_deref().into_iter().collect(),
            _ => vec![instance.cluster.as_str()],
        });
        if !listed {
            continue;
        }
        match reservations.last_mut() {
            Some(last) if last.reservation_id == instance.reservation => {
                last.instances_set.item.push(item(instance, &addresses));
            }
            _ => reservations.push(ReservationInfoType {
                reservation_id: instance.reservation.clone(),
                owner_id: owners.id(&instance.owner).to_owned(),
                group_set: group_set(&instance.groups),
                instances_set: RunningInstancesSetType {
                    item: vec![item(instance, &addresses)],
                },
                ..ReservationInfoType::default()
            }),
        }
    }
    Ok(DescribeInstancesResponseType {
        request_id: call.request_id.to_owned(),
        reservation_set: ReservationSetType { item: reservations },
    })
}

pub(super) async fn terminate(
    call: &Call<'_>,
    request: TerminateInstancesType,
) -> Result<TerminateInstancesResponseType, Ec2Error> {
    let asked: Vec<&str> = request
        .instances_set
        .item
        .iter()
        .map(|i| i.instance_id.as_str())
        .collect();
    let instances = owned(call, &asked).await?;
    // One already gone is not asked for again: its cluster no longer knows it.
    let live: Vec<Instance> = instances
        .iter()
        .filter(|i| State::of(i) != State::Terminated)
        .cloned()
        .collect();
    for (cluster, ids) in by_cluster(call, &live).await? {
        terminate_on(call, &cluster, &ids).await?;
    }
    burst::terminate(call.cloud, &live).await?;
    // Billing ends as they start shutting down.
    for instance in &live {
        events::instance_stopped(&call.cloud.events, &call.who, instance).await?;
    }
    let ids: Vec<String> = instances.iter().map(|i| i.id.clone()).collect();
    call.cloud.store.set_terminated(&ids).await?;
    call.cloud.store.detach_addresses(&ids).await?;
    storage::release(call.cloud, &ids).await?;
    let item = instances
        .iter()
        .map(|i| {
            let previous = State::of(i);
            let shutdown = if previous == State::Terminated {
                State::Terminated
            } else {
                State::ShuttingDown
            };
            TerminateInstancesResponseItemType {
                instance_id: i.id.clone(),
                shutdown_state: shutdown.ec2(),
                previous_state: previous.ec2(),
            }
        })
        .collect();
    Ok(TerminateInstancesResponseType {
        request_id: call.request_id.to_owned(),
        instances_set: TerminateInstancesResponseInfoType { item },
    })
}

pub(super) async fn reboot(
    call: &Call<'_>,
    request: RebootInstancesType,
) -> Result<RebootInstancesResponseType, Ec2Error> {
    let asked: Vec<&str> = request
        .instances_set
        .item
        .iter()
        .map(|i| i.instance_id.as_str())
        .collect();
    let instances = owned(call, &asked).await?;
    for (cluster, ids) in by_cluster(call, &instances).await? {
        let ask = cc::RebootInstancesType {
            user_id: Some(call.user.account.clone()),
            instance_ids: ids,
            ..cc::RebootInstancesType::default()
        };
        let answer = ask_cluster(call, &cluster, |cc| async move {
            cc.reboot_instances(&ask).await
        })
        .await?;
        if answer.r#return == Some(false) {
            return Err(cluster_failed(&cluster, "RebootInstances refused"));
        }
    }
    burst::reboot(call.cloud, &instances).await?;
    Ok(RebootInstancesResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

pub(super) async fn console(
    call: &Call<'_>,
    request: GetConsoleOutputType,
) -> Result<GetConsoleOutputResponseType, Ec2Error> {
    let instances = owned(call, &[request.instance_id.as_str()]).await?;
    let mut by_cluster = by_cluster(call, &instances).await?;
    let output = match by_cluster.pop() {
        Some((cluster, ids)) => {
            let ask = cc::GetConsoleOutputType {
                user_id: Some(call.user.account.clone()),
                instance_id: ids.into_iter().next(),
                ..cc::GetConsoleOutputType::default()
            };
            let answer = ask_cluster(call, &cluster, |cc| async move {
                cc.get_console_output(&ask).await
            })
            .await?;
            // The node's output is base64 already, as EC2's answer carries it.
            let output = answer.console_output.unwrap_or_default();
            if BASE64.decode(output.trim()).is_err() {
                return Err(cluster_failed(
                    &cluster,
                    "console output that is not base64",
                ));
            }
            output
        }
        None => {
            let instance = instances
                .first()
                .ok_or_else(|| Ec2Error::InstanceNotFound(request.instance_id.clone()))?;
            burst::console(call.cloud, instance)
                .await?
                .ok_or_else(|| Ec2Error::InstanceNotFound(request.instance_id.clone()))?
        }
    };
    Ok(GetConsoleOutputResponseType {
        request_id: call.request_id.to_owned(),
        instance_id: request.instance_id,
        timestamp: DateTime::now(),
        output,
    })
}

/// Refuses an idempotency token EC2 would not take.
pub(super) fn check_client_token(token: &str) -> Result<(), Ec2Error> {
    if token.is_empty() || token.len() > MAX_CLIENT_TOKEN || !token.is_ascii() {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "ClientToken must be 1 to {MAX_CLIENT_TOKEN} ASCII characters"
        )));
    }
    Ok(())
}

/// Whether `instance` is running (its cluster reports it `Extant`, and it was not asked to
/// terminate).
pub(super) fn running(instance: &Instance) -> bool {
    State::of(instance) == State::Running
}

/// The instances of the caller named in `asked` (all of them when empty).
pub(super) async fn chosen(
    call: &Call<'_>,
    owner: Option<&str>,
    asked: &[&str],
) -> Result<Vec<Instance>, Ec2Error> {
    for id in asked {
        instance_id(id)?;
    }
    let instances = call.cloud.store.instances(owner).await?;
    if let Some(missing) = asked
        .iter()
        .find(|id| !instances.iter().any(|i| &i.id == *id))
    {
        return Err(Ec2Error::InstanceNotFound((*missing).to_owned()));
    }
    Ok(instances
        .into_iter()
        .filter(|i| asked.is_empty() || asked.contains(&i.id.as_str()))
        .collect())
}

/// The instances `asked` names, each the caller's (any user's for the administrator).
pub(super) async fn owned(call: &Call<'_>, asked: &[&str]) -> Result<Vec<Instance>, Ec2Error> {
    if asked.is_empty() {
        return Err(Ec2Error::MissingParameter("InstanceId".into()));
    }
    let owner = call.toucher();
    chosen(call, owner, asked).await
}

/// `instances`' ids grouped by the cluster running them.
async fn by_cluster(
    call: &Call<'_>,
    instances: &[Instance],
) -> Result<Vec<(Cluster, Vec<String>)>, Ec2Error> {
    let clusters = call.cloud.store.clusters().await?;
    Ok(clusters
        .into_iter()
        .map(|c| {
            let ids = instances
                .iter()
                .filter(|i| i.cluster == c.name)
                .map(|i| i.id.clone())
                .collect::<Vec<_>>();
            (c, ids)
        })
        .filter(|(_, ids)| !ids.is_empty())
        .collect())
}

/// Asks `cluster` to terminate `ids`.
async fn terminate_on(call: &Call<'_>, cluster: &Cluster, ids: &[String]) -> Result<(), Ec2Error> {
    let ask = cc::TerminateInstancesType {
        user_id: Some(CLOUD_USER.into()),
        instance_ids: ids.to_vec(),
        ..cc::TerminateInstancesType::default()
    };
    let answer = ask_cluster(call, cluster, |cc| async move {
        cc.terminate_instances(&ask).await
    })
    .await?;
    if answer.r#return == Some(false) {
        return Err(cluster_failed(cluster, "TerminateInstances refused"));
    }
    Ok(())
}

fn group_set(groups: &[String]) -> GroupSetType {
    GroupSetType {
        item: groups
            .iter()
            .map(|g| GroupItemType {
                group_id: g.clone(),
            })
            .collect(),
    }
}

/// The cloud's addresses and the instances they are associated with: an association
/// counts from the moment the store records it, before the tick sees it on the cluster.
#[derive(Debug, Default)]
struct Addresses {
    by_instance: HashMap<String, String>,
    held: HashSet<String>,
}

impl Addresses {
    async fn held(call: &Call<'_>) -> Result<Self, Ec2Error> {
        let mut out = Self::default();
        for address in call.cloud.store.addresses(None).await? {
            if let Some(on) = address.association {
                out.by_instance
                    .insert(on.instance, address.public_ip.clone());
            }
            out.held.insert(address.public_ip);
        }
        Ok(out)
    }

    /// `instance`'s public address: the one the store associates with it, else the one its
    /// cluster reported unless the store holds that one elsewhere (it has just moved).
    fn of(&self, instance: &Instance) -> String {
        match self.by_instance.get(&instance.id) {
            Some(ip) => ip.clone(),
            None if self.held.contains(&instance.observed.public_ip) => String::new(),
            None => instance.observed.public_ip.clone(),
        }
    }
}

/// One instance as EC2 lists it, with its public address as `addresses` have it.
fn item(instance: Instance, addresses: &Addresses) -> RunningInstancesItemType {
    let dns_name = addresses.of(&instance);
    RunningInstancesItemType {
        instance_state: State::of(&instance).ec2(),
        ami_launch_index: Some(instance.launch_index.to_string()),
        launch_time: DateTime::from_unix(instance.launched),
        instance_id: instance.id,
        image_id: instance.image,
        private_dns_name: instance.observed.private_ip,
        dns_name,
        key_name: instance.key_name,
        instance_type: instance.vm_type,
        placement: Some(PlacementResponseType {
            availability_zone: instance.cluster,
        }),
        kernel_id: instance.kernel,
        ramdisk_id: instance.ramdisk,
        ..RunningInstancesItemType::default()
    }
}

/// The MAC address the cloud gives an instance: `d0:0d:` and its id's 8 hex digits, as the
/// original made them.
fn mac_address(id: &str) -> String {
    let hex = id.strip_prefix("i-").unwrap_or(id);
    let pairs: Vec<&str> = (0..hex.len() / 2)
        .filter_map(|i| hex.get(2 * i..2 * i + 2))
        .collect();
    format!("d0:0d:{}", pairs.join(":"))
}

/// `id` when it is an instance id (`i-` and 8 hex digits).
pub(super) fn instance_id(id: &str) -> Result<&str, Ec2Error> {
    let digits = id.strip_prefix("i-").unwrap_or_default();
    if digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        Err(Ec2Error::InstanceMalformed(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::suite::sample;

    fn instance(terminated: bool, state: Option<&str>, vanished: bool) -> Instance {
        Instance {
            terminated,
            observed: Observed {
                state: state.map(str::to_owned),
                vanished,
                ..Observed::default()
            },
            ..sample("i-0123abcd", "ann", "r-00000001", "zone1", 0)
        }
    }

    #[test]
    fn states_come_from_the_cluster_and_the_terminate_asked_for() {
        let state =
            |terminated, reported, vanished| State::of(&instance(terminated, reported, vanished));
        assert_eq!(state(false, Some("Pending"), false), State::Pending);
        assert_eq!(state(false, Some("Extant"), false), State::Running);
        assert_eq!(state(false, Some("Teardown"), false), State::ShuttingDown);
        assert_eq!(state(false, None, false), State::Pending);
        assert_eq!(state(true, Some("Extant"), false), State::ShuttingDown);
        assert_eq!(state(true, None, false), State::ShuttingDown);
        assert_eq!(state(true, Some("Extant"), true), State::Terminated);
        assert_eq!(state(false, Some("Extant"), true), State::Terminated);
        let codes: Vec<i32> = [
            State::Pending,
            State::Running,
            State::ShuttingDown,
            State::Terminated,
        ]
        .iter()
        .map(|s| s.ec2().code)
        .collect();
        assert_eq!(codes, [0, 16, 32, 48]);
    }

    #[test]
    fn macs_are_d00d_and_the_ids_hex() {
        assert_eq!(mac_address("i-0123abcd"), "d0:0d:01:23:ab:cd");
        assert!(instance_id("i-0123abcd").is_ok());
        for bad in ["i-0123abc", "i-0123abcg", "r-0123abcd", "i-"] {
            assert!(instance_id(bad).is_err(), "{bad}");
        }
    }
}

//! RunInstances, DescribeInstances, TerminateInstances, RebootInstances, GetConsoleOutput,
//! through the cluster controllers. The cloud checks what it can (image, kernel, VM type,
//! keypair, groups, counts), chooses the ids, records the instances, then asks one cluster;
//! a cluster that starts fewer than `MinCount` has those it started terminated
//! (InsufficientInstanceCapacity). An instance's EC2 state is its cluster's: Pending,
//! Extant and Teardown are pending, running and shutting-down; one asked to terminate that
//! its cluster no longer reports is terminated.

use std::collections::{BTreeMap, HashMap};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
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

use super::clusters::{
    self, ask_cluster, cluster_failed, CLOUD_USER, CLUSTER_DEADLINE, LAUNCH_DEADLINE,
};
use super::filters::Filters;
use super::groups::{ensure_default, DEFAULT_GROUP};
use super::ids::random_id;
use super::images::may_run;
use super::pools;
use super::Call;
use crate::error::Ec2Error;
use crate::store::{Cluster, Image, ImageKind, Instance, Observed};

/// The VM type of a RunInstances that names none, as EC2's.
const DEFAULT_VM_TYPE: &str = "m1.small";
/// The most instances one RunInstances may ask for.
const MAX_COUNT: i32 = 256;

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

    /// The state of `instance`, given what its cluster reports (`None`: not reported).
    fn of(instance: &Instance, reported: Option<&str>) -> Self {
        match (reported, instance.terminated) {
            (None, true) => Self::Terminated,
            (Some("Teardown"), _) | (Some(_), true) => Self::ShuttingDown,
            (Some("Extant"), false) => Self::Running,
            _ => Self::Pending,
        }
    }
}

/// What a cluster reports of one instance.
#[derive(Debug, Default, Clone)]
pub(super) struct Reported {
    state: String,
    pub(super) private_ip: String,
    public_ip: String,
}

pub(super) async fn run(
    call: &Call<'_>,
    request: RunInstancesType,
) -> Result<RunInstancesResponseType, Ec2Error> {
    let store = &call.cloud.store;
    let owner = call.user.name.clone();
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
    let zone = request
        .placement
        .as_ref()
        .and_then(|p| p.availability_zone.as_deref())
        .filter(|z| !z.is_empty());
    let cluster = store
        .clusters()
        .await?
        .into_iter()
        .find(|c| zone.is_none_or(|z| z == c.name))
        .ok_or_else(|| {
            Ec2Error::InsufficientInstanceCapacity(match zone {
                Some(z) => format!("There is no availability zone '{z}'"),
                None => "The cloud has no cluster to run instances".into(),
            })
        })?;

    let s3_url = store
        .facts()
        .await?
        .ok_or_else(|| Ec2Error::Internal("the cloud's facts are not recorded".into()))?
        .s3_url;
    let url_of = |image: &Image| format!("{}/{}", s3_url.trim_end_matches('/'), image.location);
    let reservation = random_id("r");
    let launched = kit::time::now();
    let count = u32::try_from(request.max_count).unwrap_or(0);
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
            cluster: cluster.name.clone(),
            launched,
            terminated: false,
            client_token: None,
            observed: Observed::default(),
        })
        .collect();
    // Recorded before the cluster is asked: a cloud that stops meanwhile still knows them.
    store.add_instances(&instances).await?;
    let ids: Vec<String> = instances.iter().map(|i| i.id.clone()).collect();
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
        max_count: request.max_count,
        min_count: request.min_count,
        reservation_id: reservation.clone(),
        net_names: vec![groups[0].clone()],
        mac_addresses: ids.iter().map(|id| mac_address(id)).collect(),
        instance_ids: ids.clone(),
        user_data: request.user_data.map(|u| u.data).unwrap_or_default(),
        launch_index: "0".into(),
        ..cc::RunInstancesType::default()
    };
    let answer = match clusters::client(&cluster.url, &call.cloud.clusters, LAUNCH_DEADLINE) {
        Ok(client) => client.run_instances(&ask).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let started: Vec<String> = match &answer {
        Ok(answer) if answer.r#return != Some(false) => answer
            .instances
            .iter()
            .filter_map(|i| i.instance_id.clone())
            .filter(|id| ids.contains(id))
            .collect(),
        Ok(answer) => {
            tracing::warn!(cluster = %cluster.name, reason = ?answer.status_message, "cluster refused RunInstances");
            Vec::new()
        }
        Err(e) => {
            tracing::warn!(cluster = %cluster.name, error = %e, "cluster did not answer RunInstances");
            Vec::new()
        }
    };
    let min = usize::try_from(request.min_count).unwrap_or(usize::MAX);
    if started.len() < min {
        if !started.is_empty() {
            terminate_on(call, &cluster, &started).await?;
        }
        store.remove_instances(&ids).await?;
        return Err(Ec2Error::InsufficientInstanceCapacity(format!(
            "The zone {} started {} of the at least {min} instances asked for",
            cluster.name,
            started.len()
        )));
    }
    let unstarted: Vec<String> = ids
        .iter()
        .filter(|id| !started.contains(id))
        .cloned()
        .collect();
    store.remove_instances(&unstarted).await?;
    if let Ok(answer) = &answer {
        pools::launched(call, &cluster, &answer.instances).await;
    }
    let launched: Vec<Instance> = instances
        .into_iter()
        .filter(|i| started.contains(&i.id))
        .collect();
    tracing::info!(%reservation, owner = %owner, cluster = %cluster.name, count = launched.len(), "instances launched");
    let reported = HashMap::new();
    Ok(RunInstancesResponseType {
        request_id: call.request_id.to_owned(),
        reservation_id: reservation,
        owner_id: owner,
        group_set: group_set(&groups),
        instances_set: RunningInstancesSetType {
            item: launched.iter().map(|i| item(i, &reported)).collect(),
        },
        requester_id: None,
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
    let reported = reports(call, &instances).await;
    let mut reservations: BTreeMap<(i64, String), ReservationInfoType> = BTreeMap::new();
    for instance in &instances {
        let item = item(instance, &reported);
        let code = item.instance_state.code.to_string();
        let listed = filters.pass(|name| match name {
            "instance-id" => vec![instance.id.as_str()],
            "instance-state-name" => vec![item.instance_state.name.as_str()],
            "instance-state-code" => vec![code.as_str()],
            "reservation-id" => vec![instance.reservation.as_str()],
            "image-id" => vec![instance.image.as_str()],
            "instance-type" => vec![instance.vm_type.as_str()],
            "key-name" => instance.key_name.as_deref().into_iter().collect(),
            _ => vec![instance.cluster.as_str()],
        });
        if listed {
            reservations
                .entry((instance.launched, instance.reservation.clone()))
                .or_insert_with(|| ReservationInfoType {
                    reservation_id: instance.reservation.clone(),
                    owner_id: instance.owner.clone(),
                    group_set: group_set(&instance.groups),
                    ..ReservationInfoType::default()
                })
                .instances_set
                .item
                .push(item);
        }
    }
    Ok(DescribeInstancesResponseType {
        request_id: call.request_id.to_owned(),
        reservation_set: ReservationSetType {
            item: reservations.into_values().collect(),
        },
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
    let before = reports(call, &instances).await;
    let previous = |i: &Instance| State::of(i, before.get(&i.id).map(|r| r.state.as_str()));
    // One already gone is not asked for again: its cluster no longer knows it.
    let live: Vec<Instance> = instances
        .iter()
        .filter(|i| previous(i) != State::Terminated)
        .cloned()
        .collect();
    for (cluster, ids) in by_cluster(call, &live).await? {
        terminate_on(call, &cluster, &ids).await?;
    }
    let ids: Vec<String> = instances.iter().map(|i| i.id.clone()).collect();
    call.cloud.store.set_terminated(&ids).await?;
    call.cloud.store.detach_addresses(&ids).await?;
    let item = instances
        .iter()
        .map(|i| {
            let previous = previous(i);
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
            user_id: Some(call.user.name.clone()),
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
    let (cluster, ids) = by_cluster
        .pop()
        .ok_or_else(|| Ec2Error::InstanceNotFound(request.instance_id.clone()))?;
    let ask = cc::GetConsoleOutputType {
        user_id: Some(call.user.name.clone()),
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
    Ok(GetConsoleOutputResponseType {
        request_id: call.request_id.to_owned(),
        instance_id: request.instance_id,
        timestamp: DateTime::now(),
        output,
    })
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
    let owner = (!call.user.admin).then_some(call.user.name.as_str());
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

/// What the clusters running `instances` report of them, by id; a cluster that does not
/// answer reports nothing (its instances keep the state their records give).
pub(super) async fn reports(call: &Call<'_>, instances: &[Instance]) -> HashMap<String, Reported> {
    let mut out = HashMap::new();
    let Ok(asked) = by_cluster(call, instances).await else {
        return out;
    };
    for (cluster, ids) in asked {
        let ask = cc::DescribeInstancesType {
            user_id: Some(CLOUD_USER.into()),
            instance_ids: ids,
            ..cc::DescribeInstancesType::default()
        };
        let answer = match clusters::client(&cluster.url, &call.cloud.clusters, CLUSTER_DEADLINE) {
            Ok(client) => client.describe_instances(&ask).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(answer) => {
                for i in answer.instances {
                    let Some(id) = i.instance_id else { continue };
                    let net = i.net_params.unwrap_or_default();
                    out.insert(
                        id,
                        Reported {
                            state: i.state_name.unwrap_or_default(),
                            private_ip: net.private_ip,
                            public_ip: net.public_ip,
                        },
                    );
                }
            }
            Err(e) => {
                tracing::warn!(cluster = %cluster.name, error = %e, "cluster did not answer DescribeInstances");
            }
        }
    }
    out
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

/// One instance as EC2 lists it.
fn item(instance: &Instance, reported: &HashMap<String, Reported>) -> RunningInstancesItemType {
    let report = reported.get(&instance.id);
    let state = State::of(instance, report.map(|r| r.state.as_str()));
    let address = |ip: Option<&String>| {
        ip.filter(|ip| !ip.is_empty() && *ip != "0.0.0.0")
            .cloned()
            .unwrap_or_default()
    };
    RunningInstancesItemType {
        instance_id: instance.id.clone(),
        image_id: instance.image.clone(),
        instance_state: state.ec2(),
        private_dns_name: address(report.map(|r| &r.private_ip)),
        dns_name: address(report.map(|r| &r.public_ip)),
        key_name: instance.key_name.clone(),
        ami_launch_index: Some(instance.launch_index.to_string()),
        instance_type: instance.vm_type.clone(),
        launch_time: DateTime::from_unix(instance.launched),
        placement: Some(PlacementResponseType {
            availability_zone: instance.cluster.clone(),
        }),
        kernel_id: instance.kernel.clone(),
        ramdisk_id: instance.ramdisk.clone(),
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

    fn instance(terminated: bool) -> Instance {
        Instance {
            id: "i-0123abcd".into(),
            reservation: "r-00000001".into(),
            owner: "ann".into(),
            image: "emi-00000001".into(),
            kernel: None,
            ramdisk: None,
            vm_type: "m1.small".into(),
            key_name: None,
            groups: vec![],
            launch_index: 0,
            cluster: "zone1".into(),
            launched: 0,
            terminated,
            client_token: None,
            observed: Observed::default(),
        }
    }

    #[test]
    fn states_come_from_the_cluster_and_the_terminate_asked_for() {
        let live = instance(false);
        assert_eq!(State::of(&live, Some("Pending")), State::Pending);
        assert_eq!(State::of(&live, Some("Extant")), State::Running);
        assert_eq!(State::of(&live, Some("Teardown")), State::ShuttingDown);
        assert_eq!(State::of(&live, None), State::Pending);
        let ended = instance(true);
        assert_eq!(State::of(&ended, Some("Extant")), State::ShuttingDown);
        assert_eq!(State::of(&ended, None), State::Terminated);
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

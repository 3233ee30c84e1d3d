//! Asking a cluster controller: its client, signed with the cloud's key, with a deadline, and
//! the one way a failure to answer becomes an EC2 error; each VM type's capacity from its
//! DescribeResources; and [`Zones`], what the tick last learned of every cluster, which
//! placement and DescribeAvailabilityZones read.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use soap::HttpTransport;
use wire::cc::{DescribeResourcesType, EucalyptusCcClient, VirtualMachineType};
use wire::cc_nodes::{EucalyptusCcNodesClient, NodesType};

use super::{Call, Cloud};
use crate::error::Ec2Error;
use crate::store::{Cluster, VmType};

/// The identity the cloud asks its clusters as (the original CC's superuser).
pub(crate) const CLOUD_USER: &str = "eucalyptus";
/// How long a cluster has to answer.
pub(crate) const CLUSTER_DEADLINE: Duration = Duration::from_secs(5);
/// How long a cluster has to start instances (it places them and asks its nodes).
pub(super) const LAUNCH_DEADLINE: Duration = Duration::from_secs(60);

/// The client of the CC at `url`, whose answers take at most `deadline`.
pub(super) fn client(
    url: &str,
    security: &soap::Security,
    deadline: Duration,
) -> Result<EucalyptusCcClient<HttpTransport>, soap::ClientError> {
    let transport = HttpTransport::builder(url.to_owned(), security.clone())
        .connect_timeout(CLUSTER_DEADLINE)
        .request_timeout(deadline)
        // Its DescribeInstances lists every instance of the cluster.
        .limits(kit::INSTANCE_LIST_LIMITS)
        .build()?;
    Ok(EucalyptusCcClient::new(transport))
}

/// What `cluster` answers to `ask` (given its client); a failure to answer is logged and
/// becomes [`Ec2Error::Cluster`].
pub(super) async fn ask_cluster<T, F, Fut>(
    call: &Call<'_>,
    cluster: &Cluster,
    ask: F,
) -> Result<T, Ec2Error>
where
    F: FnOnce(EucalyptusCcClient<HttpTransport>) -> Fut,
    Fut: Future<Output = Result<T, soap::ClientError>>,
{
    let client = client(&cluster.url, &call.cloud.clusters, CLUSTER_DEADLINE)
        .map_err(|e| cluster_failed(cluster, &e.to_string()))?;
    ask(client)
        .await
        .map_err(|e| cluster_failed(cluster, &e.to_string()))
}

pub(super) fn cluster_failed(cluster: &Cluster, why: &str) -> Ec2Error {
    tracing::warn!(cluster = %cluster.name, reason = %why, "cluster request failed");
    Ec2Error::Cluster(cluster.name.clone())
}

/// How many instances of one VM type a cluster has room for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    pub vm_type: String,
    pub available: i32,
    pub max: i32,
}

/// What a cluster answered to its last DescribeResources: each VM type's capacity, or
/// `None` when it did not answer (its zone is unavailable).
pub type Zone = Option<Vec<Capacity>>;

/// What the tick last learned of each cluster, by name. A cluster not polled yet is absent.
#[derive(Debug, Default)]
pub struct Zones {
    by_name: RwLock<HashMap<String, Zone>>,
    /// When each cluster was last polled.
    polled: RwLock<HashMap<String, SystemTime>>,
}

impl Zones {
    /// What the last poll of `cluster` found; `None` before its first.
    pub fn get(&self, cluster: &str) -> Option<Zone> {
        let zones = self.by_name.read().unwrap_or_else(PoisonError::into_inner);
        zones.get(cluster).cloned()
    }

    /// When `cluster` was last polled; `None` before its first poll.
    pub fn polled(&self, cluster: &str) -> Option<SystemTime> {
        let polled = self.polled.read().unwrap_or_else(PoisonError::into_inner);
        polled.get(cluster).copied()
    }

    pub(super) fn set(&self, cluster: &str, zone: Zone) {
        let mut zones = self.by_name.write().unwrap_or_else(PoisonError::into_inner);
        zones.insert(cluster.to_owned(), zone);
        let mut polled = self.polled.write().unwrap_or_else(PoisonError::into_inner);
        polled.insert(cluster.to_owned(), SystemTime::now());
    }

    /// Of `clusters`, the one with the most room for `vm_type` (the first on a tie) if it has
    /// room for `min`, whose room for up to `max` is then taken until the next poll says what
    /// is left: a burst of launches spreads instead of piling on the zone that had the most
    /// room.
    pub(super) fn place(
        &self,
        clusters: &[&str],
        vm_type: &str,
        min: i32,
        max: i32,
    ) -> Option<String> {
        let mut zones = self.by_name.write().unwrap_or_else(PoisonError::into_inner);
        fn room<'a>(
            zones: &'a mut HashMap<String, Zone>,
            name: &str,
            vm_type: &str,
        ) -> Option<&'a mut Capacity> {
            let types = zones.get_mut(name)?.as_mut()?;
            types.iter_mut().find(|c| c.vm_type == vm_type)
        }
        // Reversed, so that of zones with equal room the first wins.
        let name = *clusters
            .iter()
            .rev()
            .filter_map(|name| Some((name, room(&mut zones, name, vm_type)?.available)))
            .filter(|&(_, available)| available >= min)
            .max_by_key(|&(_, available)| available)?
            .0;
        let taken = room(&mut zones, name, vm_type)?;
        taken.available -= max.min(taken.available);
        Some(name.to_owned())
    }
}

/// The cloud's DescribeResources asking for the room of each of `types` (the CC's WSDL
/// wants at least one).
fn resources_request(types: &[VmType]) -> DescribeResourcesType {
    DescribeResourcesType {
        user_id: Some(CLOUD_USER.into()),
        instance_types: types
            .iter()
            .map(|t| VirtualMachineType {
                name: Some(t.name.clone()),
                memory: i32::try_from(t.memory_mb).ok(),
                cores: i32::try_from(t.cores).ok(),
                disk: i32::try_from(t.disk_gb).ok(),
            })
            .collect(),
        ..DescribeResourcesType::default()
    }
}

/// Each VM type's capacity on `cluster`, from its CC's DescribeResources at `url` signed
/// with the cloud's key; `None` when it does not answer.
pub(super) async fn capacity(
    cluster: &str,
    url: &str,
    security: &soap::Security,
    types: &[VmType],
) -> Zone {
    let client = client(url, security, CLUSTER_DEADLINE).ok()?;
    let request = resources_request(types);
    let answer = match client.describe_resources(&request).await {
        Ok(answer) if answer.r#return != Some(false) => answer,
        Ok(answer) => {
            tracing::warn!(%cluster, reason = ?answer.status_message, "cluster refused DescribeResources");
            return None;
        }
        Err(e) => {
            tracing::warn!(%cluster, error = %e, "cluster did not answer DescribeResources");
            return None;
        }
    };
    Some(
        answer
            .resources
            .into_iter()
            .filter_map(|r| {
                Some(Capacity {
                    vm_type: r.instance_type?.name?,
                    available: r.available_instances.unwrap_or(0),
                    max: r.max_instances.unwrap_or(0),
                })
            })
            .collect(),
    )
}

/// The nodes the CC of `cluster` reports: its DescribeResources' `serviceTags`, each
/// node's service URL, as the original CC lists the nodes of its `NODES`.
pub async fn reported_nodes(cloud: &Cloud, cluster: &Cluster) -> Result<Vec<String>, Ec2Error> {
    let failed = |e: &dyn std::fmt::Display| cluster_failed(cluster, &e.to_string());
    let client = client(&cluster.url, &cloud.clusters, CLUSTER_DEADLINE).map_err(|e| failed(&e))?;
    let request = resources_request(&cloud.store.vm_types().await?);
    let answer = client
        .describe_resources(&request)
        .await
        .map_err(|e| failed(&e))?;
    if answer.r#return == Some(false) {
        return Err(failed(&"DescribeResources refused"));
    }
    Ok(answer.service_tags)
}

/// Registers (`register`) or deregisters the node `host` (`HOST[:PORT]`) with the CC of
/// `cluster`, which adds it to its pool or takes it out at once (its `EucalyptusCCNodes`).
/// A CC that does not answer is [`Ec2Error::Cluster`]; one that refuses says why.
pub async fn change_node(
    cloud: &Cloud,
    cluster: &Cluster,
    host: &str,
    register: bool,
) -> Result<(), NodeChangeError> {
    let unreachable = |e: &dyn std::fmt::Display| {
        NodeChangeError::Unreachable(cluster_failed(cluster, &e.to_string()))
    };
    let url = kit::service_beside(&cluster.url, wire::cc_nodes::SERVICE_PATH);
    let transport = HttpTransport::builder(url, cloud.clusters.clone())
        .connect_timeout(CLUSTER_DEADLINE)
        .request_timeout(CLUSTER_DEADLINE)
        .build()
        .map_err(|e| unreachable(&e))?;
    let client = EucalyptusCcNodesClient::new(transport);
    let request = NodesType {
        user_id: Some(CLOUD_USER.to_owned()),
        nodes: vec![host.to_owned()],
        ..NodesType::default()
    };
    let answer = if register {
        client.register_nodes(&request).await
    } else {
        client.deregister_nodes(&request).await
    }
    .map_err(|e| unreachable(&e))?;
    match answer.r#return {
        Some(false) => Err(NodeChangeError::Refused {
            cluster: cluster.name.clone(),
            reason: answer
                .status_message
                .unwrap_or_else(|| "no reason given".to_owned()),
        }),
        _ => Ok(()),
    }
}

/// Why a cluster's nodes did not change.
#[derive(Debug, thiserror::Error)]
pub enum NodeChangeError {
    #[error(transparent)]
    Unreachable(Ec2Error),
    #[error("the cluster {cluster} refused: {reason}")]
    Refused { cluster: String, reason: String },
}

/// Each of `clusters`' zone as the tick last saw it; one the tick has not polled yet is
/// asked now (and remembered), all at once, so that one that does not answer costs its
/// deadline once, not once per zone.
pub async fn zones_of(
    cloud: &Cloud,
    clusters: &[Cluster],
    types: &[VmType],
) -> Result<Vec<Zone>, Ec2Error> {
    let mut zones: Vec<Option<Zone>> = clusters.iter().map(|c| cloud.zones.get(&c.name)).collect();
    let mut asking = tokio::task::JoinSet::new();
    for (index, cluster) in clusters.iter().enumerate() {
        if zones[index].is_some() {
            continue;
        }
        let (cluster, security, types) = (cluster.clone(), cloud.clusters.clone(), types.to_vec());
        asking.spawn(async move {
            let zone = capacity(&cluster.name, &cluster.url, &security, &types).await;
            (index, zone)
        });
    }
    while let Some(answer) = asking.join_next().await {
        let (index, zone) = answer.map_err(|e| Ec2Error::Internal(e.to_string()))?;
        cloud.zones.set(&clusters[index].name, zone.clone());
        zones[index] = Some(zone);
    }
    Ok(zones.into_iter().map(Option::flatten).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_takes_the_zone_with_the_most_room_and_holds_it() {
        let zones = Zones::default();
        let small = |available| {
            Some(vec![Capacity {
                vm_type: "m1.small".into(),
                available,
                max: 8,
            }])
        };
        zones.set("east", small(3));
        zones.set("west", small(4));
        zones.set("north", small(4));
        zones.set("down", None);
        assert_eq!(
            zones.place(&["west", "north"], "m1.small", 4, 4).as_deref(),
            Some("west")
        );
        assert_eq!(
            zones.place(&["north"], "m1.small", 3, 3).as_deref(),
            Some("north")
        );
        let all = ["east", "west", "down", "unpolled"];
        zones.set("west", small(4));
        assert_eq!(zones.place(&all, "m1.small", 1, 2).as_deref(), Some("west"));
        assert_eq!(zones.place(&all, "m1.small", 1, 1).as_deref(), Some("east"));
        // east 2, west 2: a reservation needing 3 fits nowhere; one of 2 still does, in the
        // first, and takes all its room.
        assert_eq!(zones.place(&all, "m1.small", 3, 3), None);
        assert_eq!(zones.place(&all, "m1.small", 2, 5).as_deref(), Some("east"));
        assert_eq!(zones.place(&["east"], "m1.small", 1, 1), None);
        assert_eq!(zones.place(&all, "c1.xlarge", 1, 1), None);
        assert_eq!(zones.place(&all, "m1.small", 1, 1).as_deref(), Some("west"));
        assert_eq!(zones.get("down"), Some(None));
    }
}

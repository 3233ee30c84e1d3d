//! The clusters' public address pools, and the mappings of their addresses to instances:
//! DescribePublicAddresses, AssignAddress and UnassignAddress of the CC. In the MANAGED modes
//! every instance gets one of the cloud's own addresses when its cluster starts it, as the
//! original gave them; it goes back to the pool when the instance is given an elastic address
//! or ends.

use wire::cc;

use super::clusters::{ask_cluster, cluster_failed, CLOUD_USER};
use super::Call;
use crate::error::Ec2Error;
use crate::store::{Address, Allocation, Association, Cluster, PoolAddress};

/// The CC's `statusMessage` when its network mode has no public addresses.
const NOT_SUPPORTED: &str = "NOTSUPPORTED";

/// One cluster's public addresses, each with the private address the CC maps it to (empty
/// when none).
#[derive(Debug)]
pub(super) struct Pool {
    pub(super) cluster: Cluster,
    pub(super) addresses: Vec<(String, String)>,
}

impl Pool {
    /// The addresses the CC maps to no instance, as allocation candidates.
    pub(super) fn unmapped(&self) -> impl Iterator<Item = PoolAddress> + '_ {
        self.addresses
            .iter()
            .filter(|(_, private)| private.is_empty())
            .map(|(public, _)| PoolAddress {
                cluster: self.cluster.name.clone(),
                public_ip: public.clone(),
            })
    }
}

/// Gives the instances just started on `cluster` (id and private address) an address each
/// from its pool, as the MANAGED modes did; a cluster without addresses gives none, and an
/// exhausted pool leaves the rest without (logged, as the original did).
pub(super) async fn launched(call: &Call<'_>, cluster: &Cluster, started: &[cc::CcInstanceType]) {
    let instances: Vec<Association> = started
        .iter()
        .filter_map(|i| {
            Some(Association {
                instance: i.instance_id.clone()?,
                private_ip: i.net_params.as_ref()?.private_ip.clone(),
            })
        })
        .filter(|a| !a.private_ip.is_empty() && a.private_ip != "0.0.0.0")
        .collect();
    if instances.is_empty() {
        return;
    }
    let pool = match pool_of(call, cluster).await {
        Ok(Some(pool)) => pool,
        Ok(None) | Err(_) => return,
    };
    let candidates: Vec<PoolAddress> = pool.unmapped().collect();
    for instance in instances {
        if let Err(e) = give(call, cluster, &candidates, instance).await {
            tracing::warn!(cluster = %cluster.name, error = %e, "an instance got no public address");
        }
    }
}

/// Gives `instance` one of the cloud's own addresses of `candidates`, on `cluster`.
async fn give(
    call: &Call<'_>,
    cluster: &Cluster,
    candidates: &[PoolAddress],
    instance: Association,
) -> Result<(), Ec2Error> {
    let store = &call.cloud.store;
    let address = match store.allocate_address(None, None, candidates, None).await? {
        Allocation::Allocated(address) => address,
        _ => return Err(Ec2Error::InsufficientAddressCapacity),
    };
    if let Err(e) = assign(call, &cluster.name, &address.public_ip, &instance).await {
        store.release_address(&address.public_ip).await?;
        return Err(e);
    }
    store
        .associate_address(&address.public_ip, Some(&instance))
        .await?;
    tracing::info!(address = %address.public_ip, instance = %instance.instance, "instance given a public address");
    Ok(())
}

/// Gives `instance`, which has just lost its elastic address, one of the cloud's own again.
pub(super) async fn give_back(call: &Call<'_>, cluster: &str, instance: Association) {
    let given = async {
        let cluster = cluster_named(call, cluster).await?;
        let Some(pool) = pool_of(call, &cluster).await? else {
            return Ok(());
        };
        let candidates: Vec<PoolAddress> = pool.unmapped().collect();
        give(call, &cluster, &candidates, instance).await
    };
    if let Err(e) = given.await {
        tracing::warn!(%cluster, error = %e, "an instance got no public address back");
    }
}

/// `cluster`'s public addresses; `None` when its network mode has none.
pub(super) async fn pool_of(call: &Call<'_>, cluster: &Cluster) -> Result<Option<Pool>, Ec2Error> {
    let ask = cc::DescribePublicAddressesType {
        user_id: Some(CLOUD_USER.into()),
        ..cc::DescribePublicAddressesType::default()
    };
    let answer = ask_cluster(call, cluster, |cc| async move {
        cc.describe_public_addresses(&ask).await
    })
    .await?;
    match (answer.r#return, answer.status_message.as_deref()) {
        (Some(false), Some(NOT_SUPPORTED)) => Ok(None),
        (Some(false), why) => Err(cluster_failed(
            cluster,
            &format!("DescribePublicAddresses refused: {why:?}"),
        )),
        _ => Ok(Some(Pool {
            cluster: cluster.clone(),
            addresses: answer
                .source_addresses
                .into_iter()
                .zip(
                    answer
                        .dest_addresses
                        .into_iter()
                        .chain(std::iter::repeat(String::new())),
                )
                .map(|(public, private)| {
                    let unmapped = private.is_empty() || private == "0.0.0.0";
                    (public, if unmapped { String::new() } else { private })
                })
                .collect(),
        })),
    }
}

async fn cluster_named(call: &Call<'_>, name: &str) -> Result<Cluster, Ec2Error> {
    call.cloud
        .store
        .clusters()
        .await?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| Ec2Error::Cluster(name.to_owned()))
}

/// Asks the CC of `cluster` to map `public` to the instance's private address.
pub(super) async fn assign(
    call: &Call<'_>,
    cluster: &str,
    public: &str,
    to: &Association,
) -> Result<(), Ec2Error> {
    let cluster = cluster_named(call, cluster).await?;
    let ask = cc::AssignAddressType {
        user_id: Some(CLOUD_USER.into()),
        source: public.to_owned(),
        dest: to.private_ip.clone(),
        ..cc::AssignAddressType::default()
    };
    let answer = ask_cluster(
        call,
        &cluster,
        |cc| async move { cc.assign_address(&ask).await },
    )
    .await?;
    match answer.r#return {
        Some(false) => Err(cluster_failed(
            &cluster,
            &format!("AssignAddress refused: {:?}", answer.status_message),
        )),
        _ => Ok(()),
    }
}

/// Asks the CC of `address`'s cluster to remove its mapping to the instance.
pub(super) async fn unassign(
    call: &Call<'_>,
    address: &Address,
    from: &Association,
) -> Result<(), Ec2Error> {
    let cluster = cluster_named(call, &address.cluster).await?;
    let ask = cc::UnassignAddressType {
        user_id: Some(CLOUD_USER.into()),
        source: address.public_ip.clone(),
        dest: from.private_ip.clone(),
        ..cc::UnassignAddressType::default()
    };
    let answer = ask_cluster(call, &cluster, |cc| async move {
        cc.unassign_address(&ask).await
    })
    .await?;
    match answer.r#return {
        Some(false) => Err(cluster_failed(
            &cluster,
            &format!("UnassignAddress refused: {:?}", answer.status_message),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_the_cluster_maps_to_nobody_are_candidates() {
        let pool = Pool {
            cluster: Cluster {
                name: "zone1".into(),
                url: "http://cc".into(),
            },
            addresses: vec![
                ("192.0.2.1".into(), "10.0.0.2".into()),
                ("192.0.2.2".into(), String::new()),
            ],
        };
        let candidates: Vec<PoolAddress> = pool.unmapped().collect();
        assert_eq!(
            candidates,
            [PoolAddress {
                cluster: "zone1".into(),
                public_ip: "192.0.2.2".into()
            }]
        );
    }
}

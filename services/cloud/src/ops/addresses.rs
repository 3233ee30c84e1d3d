//! AllocateAddress, ReleaseAddress, AssociateAddress, DisassociateAddress, DescribeAddresses:
//! elastic addresses from the clusters' public address pools (VNET_PUBLICIPS in the MANAGED
//! modes, learnt with the CC's DescribePublicAddresses; SYSTEM and STATIC have none), mapped
//! to an instance's private address with the CC's AssignAddress and UnassignAddress.
//!
//! As in the original: a user may hold [`MAX_USER_ADDRESSES`] (the administrator any number);
//! in the MANAGED modes every instance has one of the cloud's own addresses (see
//! [`super::pools`]) unless it has an elastic one, and gets one again when its elastic
//! address is taken away. An administrator's `verbose` lists the whole pool, each address
//! with what holds it: `i-… (owner)`, `available (owner)`, or `nobody`.

use std::net::Ipv4Addr;

use wire::ec2::{
    AllocateAddressResponseType, AllocateAddressType, AssociateAddressResponseType,
    AssociateAddressType, DescribeAddressesResponseInfoType, DescribeAddressesResponseItemType,
    DescribeAddressesResponseType, DescribeAddressesType, DisassociateAddressResponseType,
    DisassociateAddressType, ReleaseAddressResponseType, ReleaseAddressType,
};
use wire::query::Filter;

use super::clusters::CLOUD_USER;
use super::filters::Filters;
use super::instances::owned;
use super::pools::{assign, give_back, pool_of, unassign, Pool};
use super::Call;
use crate::error::Ec2Error;
use crate::store::{Address, Allocation, Association, PoolAddress};

/// How many addresses a user may hold (the original's default `maxUserPublicAddresses`).
const MAX_USER_ADDRESSES: usize = 5;
/// What `verbose` shows for an address held but not associated, and for one nobody holds.
const UNASSIGNED: &str = "available";
const UNALLOCATED: &str = "nobody";

pub(super) async fn allocate(
    call: &Call<'_>,
    _request: AllocateAddressType,
) -> Result<AllocateAddressResponseType, Ec2Error> {
    let clusters = call.cloud.store.clusters().await?;
    let mut pools = Vec::new();
    let mut unanswered = None;
    for cluster in clusters {
        match pool_of(call, &cluster).await {
            Ok(Some(pool)) => pools.push(pool),
            Ok(None) => {}
            Err(e) => unanswered = Some(e),
        }
    }
    if pools.is_empty() {
        return Err(unanswered.unwrap_or(Ec2Error::AddressesUnsupported));
    }
    let candidates: Vec<PoolAddress> = pools.iter().flat_map(Pool::unmapped).collect();
    let user = &call.user.account;
    let limit = (!call.user.admin).then_some(MAX_USER_ADDRESSES);
    match call
        .cloud
        .store
        .allocate_address(Some(user), &candidates, limit)
        .await?
    {
        Allocation::Allocated(address) => {
            tracing::info!(address = %address.public_ip, cluster = %address.cluster, owner = %user, "address allocated");
            Ok(AllocateAddressResponseType {
                request_id: call.request_id.to_owned(),
                public_ip: address.public_ip,
            })
        }
        Allocation::PoolExhausted => Err(Ec2Error::InsufficientAddressCapacity),
        Allocation::LimitReached => Err(Ec2Error::AddressLimitExceeded(MAX_USER_ADDRESSES)),
    }
}

pub(super) async fn release(
    call: &Call<'_>,
    request: ReleaseAddressType,
) -> Result<ReleaseAddressResponseType, Ec2Error> {
    let address = held(call, &request.public_ip).await?;
    if let Some(association) = &address.association {
        unassign(call, &address, association).await?;
    }
    call.cloud.store.release_address(&address.public_ip).await?;
    tracing::info!(address = %address.public_ip, owner = ?address.owner, "address released");
    if let Some(association) = address.association {
        give_back(call, &address.cluster, association).await;
    }
    Ok(ReleaseAddressResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

pub(super) async fn associate(
    call: &Call<'_>,
    request: AssociateAddressType,
) -> Result<AssociateAddressResponseType, Ec2Error> {
    let store = &call.cloud.store;
    let address = held(call, &request.public_ip).await?;
    let instance = owned(call, &[request.instance_id.as_str()])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Ec2Error::InstanceNotFound(request.instance_id.clone()))?;
    let id = instance.id.as_str();
    if instance.terminated {
        return Err(Ec2Error::IncorrectInstanceState(format!(
            "The instance '{id}' is terminated"
        )));
    }
    if instance.cluster != address.cluster {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The address {} is of availability zone {}, the instance '{id}' runs in {}",
            address.public_ip, address.cluster, instance.cluster
        )));
    }
    let done = || {
        Ok(AssociateAddressResponseType {
            request_id: call.request_id.to_owned(),
            r#return: true,
        })
    };
    if address
        .association
        .as_ref()
        .is_some_and(|a| a.instance == id)
    {
        return done();
    }
    // Its private address as the tick last recorded it.
    let private_ip = Some(instance.observed.private_ip.clone())
        .filter(|ip| !ip.is_empty() && ip != "0.0.0.0")
        .ok_or_else(|| {
            Ec2Error::IncorrectInstanceState(format!(
                "The instance '{id}' has no private address yet"
            ))
        })?;
    // The address leaves the instance it is on; the instance's present address leaves it
    // (the cloud's goes back to the pool, a user's stays theirs).
    let moved_from = address.association.clone();
    if let Some(old) = &moved_from {
        unassign(call, &address, old).await?;
        store.associate_address(&address.public_ip, None).await?;
    }
    for present in store.addresses(None).await? {
        let Some(association) = present.association.as_ref().filter(|a| a.instance == id) else {
            continue;
        };
        unassign(call, &present, association).await?;
        if present.owner.is_none() {
            store.release_address(&present.public_ip).await?;
        } else {
            store.associate_address(&present.public_ip, None).await?;
        }
    }
    let association = Association {
        instance: id.to_owned(),
        private_ip,
    };
    assign(call, &address.cluster, &address.public_ip, &association).await?;
    store
        .associate_address(&address.public_ip, Some(&association))
        .await?;
    tracing::info!(address = %address.public_ip, instance = %id, "address associated");
    if let Some(old) = moved_from {
        give_back(call, &address.cluster, old).await;
    }
    done()
}

pub(super) async fn disassociate(
    call: &Call<'_>,
    request: DisassociateAddressType,
) -> Result<DisassociateAddressResponseType, Ec2Error> {
    let address = held(call, &request.public_ip).await?;
    // An address on no instance is left as it is, as EC2 does.
    if let Some(association) = address.association.clone() {
        unassign(call, &address, &association).await?;
        call.cloud
            .store
            .associate_address(&address.public_ip, None)
            .await?;
        tracing::info!(address = %address.public_ip, instance = %association.instance, "address disassociated");
        give_back(call, &address.cluster, association).await;
    }
    Ok(DisassociateAddressResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

pub(super) async fn describe(
    call: &Call<'_>,
    request: DescribeAddressesType,
    filters: &[Filter],
) -> Result<DescribeAddressesResponseType, Ec2Error> {
    let filters = Filters::new(filters, &["public-ip", "instance-id"])?;
    let asked: Vec<&str> = request
        .public_ips_set
        .item
        .iter()
        .map(|i| i.public_ip.as_str())
        .collect();
    let item = match call.owner_filter(&asked) {
        None => everyones(call).await?,
        Some(owner) => {
            for ip in &asked {
                public_ip(ip)?;
            }
            let mine = call.cloud.store.addresses(Some(owner)).await?;
            if let Some(missing) = asked
                .iter()
                .find(|ip| !mine.iter().any(|a| a.public_ip == **ip))
            {
                return Err(Ec2Error::AddressNotFound((*missing).to_owned()));
            }
            mine.into_iter()
                .filter(|a| asked.is_empty() || asked.contains(&a.public_ip.as_str()))
                .map(|a| DescribeAddressesResponseItemType {
                    public_ip: a.public_ip,
                    instance_id: a.association.map(|a| a.instance),
                })
                .collect()
        }
    };
    let item = item
        .into_iter()
        .filter(|i| {
            filters.pass(|name| match name {
                "public-ip" => vec![i.public_ip.as_str()],
                _ => i.instance_id.as_deref().into_iter().collect(),
            })
        })
        .collect();
    Ok(DescribeAddressesResponseType {
        request_id: call.request_id.to_owned(),
        addresses_set: DescribeAddressesResponseInfoType { item },
    })
}

/// Everyone's addresses and the pools' free ones, for an administrator's `verbose`: each
/// with what holds it. A cluster that does not answer shows what the cloud gave out of it.
async fn everyones(call: &Call<'_>) -> Result<Vec<DescribeAddressesResponseItemType>, Ec2Error> {
    let store = &call.cloud.store;
    let given = store.addresses(None).await?;
    let mut items: Vec<(Option<Ipv4Addr>, DescribeAddressesResponseItemType)> = given
        .iter()
        .map(|a| {
            let instance = a
                .association
                .as_ref()
                .map_or(UNASSIGNED, |a| a.instance.as_str());
            let owner = a.owner.as_deref().unwrap_or(CLOUD_USER);
            (
                a.public_ip.parse().ok(),
                DescribeAddressesResponseItemType {
                    public_ip: a.public_ip.clone(),
                    instance_id: Some(format!("{instance} ({owner})")),
                },
            )
        })
        .collect();
    for cluster in store.clusters().await? {
        let Ok(Some(pool)) = pool_of(call, &cluster).await else {
            continue;
        };
        for (public, _) in pool.addresses {
            if !given.iter().any(|a| a.public_ip == public) {
                items.push((
                    public.parse().ok(),
                    DescribeAddressesResponseItemType {
                        public_ip: public,
                        instance_id: Some(UNALLOCATED.to_owned()),
                    },
                ));
            }
        }
    }
    items.sort_by(|(a, x), (b, y)| (a, &x.public_ip).cmp(&(b, &y.public_ip)));
    Ok(items.into_iter().map(|(_, item)| item).collect())
}

/// The address `given` names, when the caller holds it (the administrator: when anyone does).
async fn held(call: &Call<'_>, given: &str) -> Result<Address, Ec2Error> {
    let ip = public_ip(given)?;
    let owner = call.toucher();
    call.cloud
        .store
        .addresses(owner)
        .await?
        .into_iter()
        .find(|a| a.public_ip == ip)
        .ok_or_else(|| Ec2Error::AddressNotFound(ip.to_owned()))
}

/// `given` when it is an IPv4 address in dotted form.
fn public_ip(given: &str) -> Result<&str, Ec2Error> {
    match given.parse::<Ipv4Addr>() {
        Ok(ip) if ip.to_string() == given => Ok(given),
        _ if given.is_empty() => Err(Ec2Error::MissingParameter("PublicIp".into())),
        _ => Err(Ec2Error::InvalidParameterValue(format!(
            "Invalid value '{given}' for PublicIp: it must be an IPv4 address"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_ips_are_dotted_ipv4() {
        assert_eq!(public_ip("192.0.2.1").ok(), Some("192.0.2.1"));
        assert!(matches!(public_ip(""), Err(Ec2Error::MissingParameter(_))));
        for bad in [
            "192.0.2",
            "192.0.2.256",
            "::1",
            "192.0.2.01",
            " 192.0.2.1",
            "host",
        ] {
            assert!(
                matches!(public_ip(bad), Err(Ec2Error::InvalidParameterValue(_))),
                "{bad}"
            );
        }
    }
}

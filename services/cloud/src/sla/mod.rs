//! Service level agreements per account (opt-in: a cloud without any behaves as before),
//! kept in the store (`crate::store::sla`) and set with `euca admin sla` or the console:
//! - **reservations**: capacity of a zone and VM type held for an account; RunInstances of
//!   other accounts cannot take what it has not used ([`admit`], before any node work);
//! - **priority**: when reservations together exceed a zone's room, the higher-priority
//!   account's are kept whole ([`capacity`]); when requests contend, the higher-priority
//!   account's is checked and placed first ([`turn`]);
//! - **placement**: the CC's policies (GREEDY, ROUNDROBIN) applied to the choice of zone for
//!   the account. The 1.6.1 CC message has no field for a policy, so the nodes within a
//!   zone are still chosen by that CC's own `SCHEDPOLICY`;
//! - **availability floors** with alerts ([`floors`]), and the **burst preference**
//!   `crate::burst` reads ([`burst_preference`]);
//! - the reserved-versus-used report ([`report`]).

mod capacity;
pub mod edit;
pub mod floors;
pub mod report;
pub mod turn;

use std::collections::HashMap;

pub use crate::store::sla::{BurstPreference, Floor, Placement, Reservation, Sla};

use crate::error::Ec2Error;
use crate::ops::{zones_of, Cloud};
use crate::store::{Instance, StoreError};
use capacity::{share, Claim, Share};

/// `account`'s burst preference: its SLA's, or the default (overflow) without one.
pub async fn burst_preference(cloud: &Cloud, account: &str) -> Result<BurstPreference, StoreError> {
    Ok(cloud
        .store
        .slas()
        .await?
        .into_iter()
        .find(|s| s.account == account)
        .map(|s| s.burst)
        .unwrap_or_default())
}

/// What the SLAs let a RunInstances have; holds the cloud's turn (see [`turn`]) until
/// dropped, which the caller does once its instances are recorded.
#[derive(Debug)]
pub struct Admitted<'a> {
    /// The zone to run in: the one asked for, or the one the SLAs chose; `None` when no SLA
    /// applies (the cloud places it).
    pub zone: Option<String>,
    /// At most how many to start.
    pub max: i32,
    _turn: Option<turn::Turn<'a>>,
}

/// Checks a RunInstances of `account` for `min` to `max` instances of `vm_type` (in `zone`,
/// if it names one) against every account's reservations, and chooses its zone by the
/// account's placement preference. Refused with `InsufficientInstanceCapacity`, naming
/// the reservations that hold the room, when the account's share of every zone is less
/// than `min`; a zone full without any reservation is left to the placement's own answer.
pub async fn admit<'a>(
    cloud: &'a Cloud,
    account: &str,
    zone: Option<&str>,
    vm_type: &str,
    min: i32,
    max: i32,
) -> Result<Admitted<'a>, Ec2Error> {
    let unchanged = |turn| Admitted {
        zone: zone.map(str::to_owned),
        max,
        _turn: turn,
    };
    let slas = cloud.store.slas().await?;
    if slas.is_empty() {
        return Ok(unchanged(None));
    }
    let own = slas.iter().find(|s| s.account == account);
    let turn = cloud.sla_turns.take(own.map_or(0, |s| s.priority)).await;
    let clusters: Vec<_> = cloud
        .store
        .clusters()
        .await?
        .into_iter()
        .filter(|c| zone.is_none_or(|z| z == c.name))
        .collect();
    let types = cloud.store.vm_types().await?;
    let zones = zones_of(cloud, &clusters, &types).await?;
    let instances = cloud.store.instances(None).await?;
    let running = running_counts(&instances, vm_type);
    // Each zone with room known, with the account's share of it.
    let shares: Vec<(&str, Share)> = clusters
        .iter()
        .zip(zones)
        .filter_map(|(cluster, capacity)| {
            let available = capacity?
                .into_iter()
                .find(|c| c.vm_type == vm_type)?
                .available;
            let claims = claims(&slas, &running, &cluster.name, vm_type);
            let available = u32::try_from(available).unwrap_or(0);
            Some((cluster.name.as_str(), share(account, available, &claims)))
        })
        .collect();
    let min_free = u32::try_from(min).unwrap_or(u32::MAX);
    let fitting: Vec<&(&str, Share)> = shares.iter().filter(|(_, s)| s.free >= min_free).collect();
    let placement = own.and_then(|s| s.placement);
    let Some((chosen, share)) = choose(&fitting, placement, last_zone(&instances, account)) else {
        // The best share, when reservations are why it is short.
        return match shares.iter().max_by_key(|(_, s)| s.free) {
            Some((name, share)) if !share.held.is_empty() => {
                Err(refusal(account, name, vm_type, min, share))
            }
            _ => Ok(unchanged(Some(turn))),
        };
    };
    Ok(Admitted {
        zone: Some((*chosen).to_owned()),
        max: max.min(i32::try_from(share.free).unwrap_or(i32::MAX)),
        _turn: Some(turn),
    })
}

/// Instances of `vm_type` not asked to terminate nor gone, by owner and zone.
fn running_counts<'i>(
    instances: &'i [Instance],
    vm_type: &str,
) -> HashMap<(&'i str, &'i str), u32> {
    let mut counts = HashMap::new();
    for i in instances
        .iter()
        .filter(|i| i.vm_type == vm_type && !i.terminated && !i.observed.vanished)
    {
        *counts
            .entry((i.owner.as_str(), i.cluster.as_str()))
            .or_default() += 1;
    }
    counts
}

/// Every account's reservation of `vm_type` in `zone`, with what it runs there.
fn claims(
    slas: &[Sla],
    running: &HashMap<(&str, &str), u32>,
    zone: &str,
    vm_type: &str,
) -> Vec<Claim> {
    slas.iter()
        .flat_map(|sla| {
            sla.reservations
                .iter()
                .filter(|r| r.zone == zone && r.vm_type == vm_type)
                .map(|r| Claim {
                    account: sla.account.clone(),
                    priority: sla.priority,
                    reserved: r.count,
                    running: running
                        .get(&(sla.account.as_str(), zone))
                        .copied()
                        .unwrap_or(0),
                })
        })
        .collect()
}

/// The zone the account's latest instance went to.
fn last_zone<'i>(instances: &'i [Instance], account: &str) -> Option<&'i str> {
    instances
        .iter()
        .filter(|i| i.owner == account)
        .max_by_key(|i| i.launched)
        .map(|i| i.cluster.as_str())
}

/// Of the zones with room (in the store's order, by name), the one `placement` takes:
/// the cloud's own (the most room, the first on a tie), the first (GREEDY), or the one
/// after `last` (ROUNDROBIN).
fn choose<'s>(
    fitting: &[&'s (&'s str, Share)],
    placement: Option<Placement>,
    last: Option<&str>,
) -> Option<&'s (&'s str, Share)> {
    match placement {
        None => fitting.iter().rev().max_by_key(|(_, s)| s.free).copied(),
        Some(Placement::Greedy) => fitting.first().copied(),
        Some(Placement::RoundRobin) => fitting
            .iter()
            .find(|(name, _)| last.is_some_and(|last| *name > last))
            .or_else(|| fitting.first())
            .copied(),
    }
}

/// EC2's capacity error, naming the reservations that hold the zone's room.
fn refusal(account: &str, zone: &str, vm_type: &str, min: i32, share: &Share) -> Ec2Error {
    let held: Vec<String> = share
        .held
        .iter()
        .map(|(claim, holds)| {
            format!(
                "account {}'s reservation of {} x {vm_type} in zone {zone} (priority {}) holds {holds}",
                claim.account, claim.reserved, claim.priority
            )
        })
        .collect();
    Ec2Error::InsufficientInstanceCapacity(format!(
        "Account {account} may start {} {vm_type} in zone {zone}, fewer than the {min} asked for: {}",
        share.free,
        held.join("; ")
    ))
}

//! Cloud-bursting: RunInstances runs on another EC2 cloud what the local zones cannot place.
//!
//! A burst target (`euca admin burst add`, [`BurstTarget`] in the store) is an EC2 Query
//! endpoint with its keys (the secret sealed with the cloud's key, [`seal`]), a map from
//! local machine images to the target's, an optional limit on the instances it runs for
//! this cloud and an optional list of the accounts that may use it. Its instances are the
//! cloud's own instances in the zone `burst-NAME`, with local `i-` ids; the store keeps each
//! one's remote id ([`RemoteInstance`]), so a restart loses none.
//!
//! - RunInstances ([`Offer`]): the local zones are asked first, for what they can place;
//!   the instances of the reservation they did not start go to the first target that admits
//!   the account, maps the image and has room. The account's SLA may say otherwise
//!   (`sla::burst_preference`): `first` leaves the target's room to the target, `never` does
//!   not burst; a request naming its zone is not burst. The local part is recorded first
//!   and never lost to a remote failure, which is logged and written to the event log; only
//!   when the two together fall short of MinCount is everything undone
//!   (InsufficientInstanceCapacity).
//! - DescribeInstances answers from the store; TerminateInstances, RebootInstances and
//!   GetConsoleOutput are forwarded to the target by remote id.
//! - The tick ([`reconcile`]) asks every target with live instances for them: the remote
//!   state becomes the local one, an instance the target no longer reports (or reports
//!   terminated) is gone, and one asked to terminate that still runs is terminated again.
//!
//! The client ([`client`]) speaks EC2's Query API over plain HTTP, signed with SigV4.

pub mod client;
pub mod seal;

use std::collections::BTreeMap;

use users::events::{Component, Event, Who};

use crate::error::Ec2Error;
use crate::ops::Cloud;
use crate::sla::{self, BurstPreference};
use crate::store::{burst_zone, BurstTarget, Instance, Observed, RemoteInstance, StoreError};
use client::{ClientError, Ec2Client, RemoteState};
use seal::SealError;

/// The event log's action of a failed remote launch: its resource is the reservation, its
/// outcome the target's error code (`Unavailable` when it did not answer).
const BURST_FAILED: &str = "burst.RunInstances";

/// Why a burst target could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum BurstError {
    #[error("burst target {target}: {source}")]
    Client { target: String, source: ClientError },
    #[error("burst target {target}: {source}")]
    Seal { target: String, source: SealError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BurstError {
    /// Makes a failure of `target`'s client an error naming it.
    fn client(target: &BurstTarget) -> impl FnOnce(ClientError) -> Self + '_ {
        move |source| Self::Client {
            target: target.name.clone(),
            source,
        }
    }
}

impl From<BurstError> for Ec2Error {
    fn from(e: BurstError) -> Self {
        match e {
            BurstError::Store(e) => e.into(),
            BurstError::Client { ref target, .. } | BurstError::Seal { ref target, .. } => {
                tracing::warn!(error = %e, "burst target request failed");
                Self::Cluster(burst_zone(target))
            }
        }
    }
}

/// The client of `target`, its secret opened with the cloud's key.
fn client_of(cloud: &Cloud, target: &BurstTarget) -> Result<Ec2Client, BurstError> {
    let secret = cloud
        .secrets
        .open(&target.sealed_secret)
        .map_err(|source| BurstError::Seal {
            target: target.name.clone(),
            source,
        })?;
    Ec2Client::new(&target.endpoint, &target.region, &target.access_key, secret)
        .map_err(BurstError::client(target))
}

/// What the burst targets offer one RunInstances: the target that takes what the local
/// zones do not, and how many it has room for.
#[derive(Debug)]
pub struct Offer {
    target: Option<(BurstTarget, usize)>,
    /// The account bursts first (its SLA's `BurstPreference::First`).
    first: bool,
}

impl Offer {
    /// The offer to `account` for instances of local image `image`: the first target (by
    /// name) that admits the account (its `--accounts`, or every account), maps the image
    /// and has room under its `--max-instances`; none when the request names its `zone`
    /// (the instances must run there) or the account's SLA says never to burst.
    pub async fn of(
        cloud: &Cloud,
        account: &str,
        image: &str,
        zone: Option<&str>,
    ) -> Result<Self, Ec2Error> {
        let none = Self {
            target: None,
            first: false,
        };
        let first = match sla::burst_preference(cloud, account).await? {
            BurstPreference::Never => return Ok(none),
            BurstPreference::Overflow => false,
            BurstPreference::First => true,
        };
        if zone.is_some() {
            return Ok(none);
        }
        for target in cloud.store.burst_targets().await? {
            let admitted = target
                .accounts
                .as_ref()
                .is_none_or(|a| a.iter().any(|a| a == account));
            if !admitted || remote_image(&target, image).is_none() {
                continue;
            }
            let room = match target.max_instances {
                Some(max) => {
                    let running = cloud.store.live_instances(&target.zone()).await?.len();
                    usize::try_from(max)
                        .unwrap_or(usize::MAX)
                        .saturating_sub(running)
                }
                None => usize::MAX,
            };
            if room > 0 {
                return Ok(Self {
                    target: Some((target, room)),
                    first,
                });
            }
        }
        Ok(none)
    }

    /// The least the local zones must start of a reservation of at least `min`: what the
    /// target cannot make up.
    pub fn local_min(&self, min: usize) -> usize {
        min.saturating_sub(self.room())
    }

    /// The most the local zones are asked for of a reservation of at most `max`: all of it,
    /// unless the account's SLA says to burst first (`BurstPreference::First`), when the
    /// target's room is left to the target.
    pub fn local_max(&self, max: usize) -> usize {
        if self.first {
            max.saturating_sub(self.room())
        } else {
            max
        }
    }

    fn room(&self) -> usize {
        self.target.as_ref().map_or(0, |(_, room)| *room)
    }

    /// Runs `unplaced`, the instances of a reservation (already built, not recorded) that
    /// the local zones did not start, on the target, as many as it has room for, and records
    /// them with their remote ids, made by `creator`. At least `needed` of them must start
    /// (what MinCount asks beyond the local part): when fewer do, those that did are
    /// terminated and none is returned, for the caller to answer
    /// InsufficientInstanceCapacity. A remote failure costs only the remote part: it is
    /// logged and written to the event log.
    pub async fn launch(
        &self,
        cloud: &Cloud,
        creator: &str,
        mut unplaced: Vec<Instance>,
        needed: usize,
    ) -> Result<Vec<Instance>, Ec2Error> {
        let Some((target, room)) = &self.target else {
            return Ok(Vec::new());
        };
        unplaced.truncate(*room);
        let Some(first) = unplaced.first() else {
            return Ok(Vec::new());
        };
        if unplaced.len() < needed {
            return Ok(Vec::new());
        }
        let (owner, reservation) = (first.owner.clone(), first.reservation.clone());
        let remote_image = remote_image(target, &first.image).unwrap_or_default();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let started = match client_of(cloud, target) {
            Ok(client) => client
                .run_instances(
                    remote_image,
                    &first.vm_type,
                    count(needed.max(1)),
                    count(unplaced.len()),
                    &reservation,
                )
                .await
                .map_err(BurstError::client(target)),
            Err(e) => Err(e),
        };
        let started = match started {
            Ok(started) => started,
            Err(e) => {
                tracing::warn!(%reservation, %owner, error = %e, "burst: the target did not run the remainder");
                let outcome = match &e {
                    BurstError::Client {
                        source: ClientError::Remote { code, .. },
                        ..
                    } => code.clone(),
                    _ => "Unavailable".to_owned(),
                };
                let who = Who::system(&owner);
                let event = Event {
                    resource: reservation.clone(),
                    ..Event::request(&who, Component::System, BURST_FAILED, &outcome)
                };
                cloud.events.record(event).await;
                return Ok(Vec::new());
            }
        };
        // Beyond what was asked for (the target's mistake) or short of `needed`: not kept.
        let kept = if started.len() < needed {
            0
        } else {
            started.len().min(unplaced.len())
        };
        let dropped: Vec<String> = started[kept..]
            .iter()
            .map(|r| r.remote_id.clone())
            .collect();
        if !dropped.is_empty() {
            tracing::warn!(%reservation, target = %target.name, started = started.len(), needed, "burst: terminating what the target started beyond or short of the reservation");
            terminate_remote(cloud, target, &dropped).await;
        }
        let now = kit::time::now();
        let zone = target.zone();
        let mut instances = Vec::new();
        let mut remotes = Vec::new();
        for (mut instance, remote) in unplaced.into_iter().zip(&started[..kept]) {
            instance.cluster = zone.clone();
            instance.observed = observed(remote, now);
            remotes.push(RemoteInstance {
                id: instance.id.clone(),
                target: target.name.clone(),
                remote_id: remote.remote_id.clone(),
            });
            instances.push(instance);
        }
        if instances.is_empty() {
            return Ok(instances);
        }
        if let Err(e) = cloud
            .store
            .add_remote_instances(&instances, &remotes, Some(creator))
            .await
        {
            // Not recorded, so not kept: nothing would ever reconcile or bill them.
            terminate_remote(cloud, target, &remote_ids(&remotes)).await;
            return Err(e.into());
        }
        tracing::info!(%reservation, %owner, target = %target.name, count = instances.len(), "burst: instances run on the target");
        Ok(instances)
    }
}

/// The target's image for local image `image`.
fn remote_image<'a>(target: &'a BurstTarget, image: &str) -> Option<&'a str> {
    target
        .image_map
        .iter()
        .find(|(local, _)| local == image)
        .map(|(_, remote)| remote.as_str())
}

/// Asks `target` to terminate `remote_ids`, logging a failure (the tick tries again for
/// those recorded).
async fn terminate_remote(cloud: &Cloud, target: &BurstTarget, remote_ids: &[String]) {
    let answer = match client_of(cloud, target) {
        Ok(client) => client
            .terminate_instances(remote_ids)
            .await
            .map_err(BurstError::client(target)),
        Err(e) => Err(e),
    };
    if let Err(e) = answer {
        tracing::warn!(instances = ?remote_ids, error = %e, "burst: cannot terminate remote instances");
    }
}

/// What a target's report of an instance is locally, at `now`: its state in the cluster's
/// names (pending: `Pending`, running: `Extant`, on its way down: `Teardown`), gone once
/// terminated.
fn observed(remote: &RemoteState, now: i64) -> Observed {
    let state = match remote.state.as_str() {
        "pending" => "Pending",
        "running" => "Extant",
        _ => "Teardown",
    };
    Observed {
        state: Some(state.to_owned()),
        private_ip: remote.private_ip.clone(),
        public_ip: remote.public_ip.clone(),
        node: remote.remote_id.clone(),
        seen: Some(now),
        vanished: remote.state == "terminated",
    }
}

/// `instances`' burst instances, by target: the target and the remote ids.
async fn by_target(
    cloud: &Cloud,
    instances: &[Instance],
) -> Result<Vec<(BurstTarget, Vec<RemoteInstance>)>, Ec2Error> {
    let ids: Vec<String> = instances.iter().map(|i| i.id.clone()).collect();
    let remotes = cloud.store.remote_instances(&ids).await?;
    if remotes.is_empty() {
        return Ok(Vec::new());
    }
    let mut grouped: BTreeMap<String, Vec<RemoteInstance>> = BTreeMap::new();
    for remote in remotes {
        grouped
            .entry(remote.target.clone())
            .or_default()
            .push(remote);
    }
    let targets = cloud.store.burst_targets().await?;
    Ok(grouped
        .into_iter()
        .filter_map(|(name, remotes)| {
            let target = targets.iter().find(|t| t.name == name)?.clone();
            Some((target, remotes))
        })
        .collect())
}

fn remote_ids(remotes: &[RemoteInstance]) -> Vec<String> {
    remotes.iter().map(|r| r.remote_id.clone()).collect()
}

/// TerminateInstances of `instances`' burst instances (the others are left to their
/// clusters). A target that does not answer is logged: the instances are recorded as asked
/// to terminate, and the tick asks again while the target still runs them.
pub async fn terminate(cloud: &Cloud, instances: &[Instance]) -> Result<(), Ec2Error> {
    for (target, remotes) in by_target(cloud, instances).await? {
        terminate_remote(cloud, &target, &remote_ids(&remotes)).await;
    }
    Ok(())
}

/// RebootInstances of `instances`' burst instances.
pub async fn reboot(cloud: &Cloud, instances: &[Instance]) -> Result<(), Ec2Error> {
    for (target, remotes) in by_target(cloud, instances).await? {
        client_of(cloud, &target)?
            .reboot_instances(&remote_ids(&remotes))
            .await
            .map_err(BurstError::client(&target))?;
    }
    Ok(())
}

/// The console output of `instance` (base64) when a burst target runs it; `None` for a
/// local instance.
pub async fn console(cloud: &Cloud, instance: &Instance) -> Result<Option<String>, Ec2Error> {
    let Some((target, remotes)) = by_target(cloud, std::slice::from_ref(instance))
        .await?
        .pop()
    else {
        return Ok(None);
    };
    let Some(remote) = remotes.first() else {
        return Ok(None);
    };
    let output = client_of(cloud, &target)?
        .console_output(&remote.remote_id)
        .await
        .map_err(BurstError::client(&target))?;
    Ok(Some(output))
}

/// The zones of the burst targets, for DescribeAvailabilityZones.
pub async fn zones(cloud: &Cloud) -> Result<Vec<String>, Ec2Error> {
    Ok(cloud
        .store
        .burst_targets()
        .await?
        .iter()
        .map(BurstTarget::zone)
        .collect())
}

/// What one target reported of the live instances of its zone.
#[derive(Debug)]
pub struct Report {
    pub zone: String,
    /// The zone's live instances before the report.
    pub known: Vec<Instance>,
    /// The changes of their observations, by id.
    pub observed: Vec<(String, Observed)>,
}

/// Asks every burst target for its live instances, at once: what each reports (a target
/// that does not answer reports nothing, and its instances stay as last seen). Instances
/// asked to terminate that a target still runs are terminated again.
pub async fn reconcile(cloud: &std::sync::Arc<Cloud>) -> Vec<Report> {
    let targets = match cloud.store.burst_targets().await {
        Ok(targets) => targets,
        Err(e) => {
            tracing::warn!(error = %e, "tick: cannot read the burst targets");
            return Vec::new();
        }
    };
    let mut asking = tokio::task::JoinSet::new();
    for target in targets {
        let cloud = std::sync::Arc::clone(cloud);
        asking.spawn(async move {
            match poll(&cloud, &target).await {
                Ok(report) => report,
                Err(e) => {
                    tracing::warn!(target = %target.name, error = %e, "tick: cannot reconcile the burst target");
                    None
                }
            }
        });
    }
    let mut reports = Vec::new();
    while let Some(done) = asking.join_next().await {
        reports.extend(done.ok().flatten());
    }
    reports
}

/// One target's [`Report`]; `None` when it has no live instances.
async fn poll(cloud: &Cloud, target: &BurstTarget) -> Result<Option<Report>, BurstError> {
    let zone = target.zone();
    let known = cloud.store.live_instances(&zone).await?;
    if known.is_empty() {
        return Ok(None);
    }
    let ids: Vec<String> = known.iter().map(|i| i.id.clone()).collect();
    let remotes = cloud.store.remote_instances(&ids).await?;
    let client = client_of(cloud, target)?;
    let reported = client
        .describe_instances(&remote_ids(&remotes))
        .await
        .map_err(BurstError::client(target))?;
    let now = kit::time::now();
    let mut changes = Vec::new();
    let mut still_running = Vec::new();
    for instance in &known {
        let remote = remotes.iter().find(|r| r.id == instance.id);
        let report = remote.and_then(|r| reported.iter().find(|s| s.remote_id == r.remote_id));
        let seen = match report {
            Some(report) => {
                let seen = observed(report, now);
                if instance.terminated
                    && !seen.vanished
                    && seen.state.as_deref() != Some("Teardown")
                {
                    still_running.push(report.remote_id.clone());
                }
                seen
            }
            // Forgotten by the target (or never mapped): gone.
            None => Observed {
                vanished: true,
                seen: Some(now),
                ..instance.observed.clone()
            },
        };
        let same = Observed {
            seen: instance.observed.seen,
            ..seen.clone()
        };
        if same != instance.observed {
            changes.push((instance.id.clone(), seen));
        }
    }
    if !still_running.is_empty() {
        tracing::info!(target = %target.name, instances = ?still_running, "tick: terminating again burst instances the target still runs");
        terminate_remote(cloud, target, &still_running).await;
    }
    Ok(Some(Report {
        zone,
        known,
        observed: changes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(state: &str) -> RemoteState {
        RemoteState {
            remote_id: "i-0a1b2c3d4e5f60718".into(),
            state: state.into(),
            private_ip: "10.31.0.5".into(),
            public_ip: String::new(),
        }
    }

    #[test]
    fn the_local_share_is_what_the_target_cannot_make_up_and_under_first_what_it_leaves() {
        let target = BurstTarget {
            name: "moto".into(),
            endpoint: "http://127.0.0.1:5000/".into(),
            region: "us-east-1".into(),
            access_key: "AKID".into(),
            sealed_secret: String::new(),
            image_map: Vec::new(),
            max_instances: Some(2),
            accounts: None,
        };
        let offer = |first| Offer {
            target: Some((target.clone(), 2)),
            first,
        };
        let none = Offer {
            target: None,
            first: false,
        };
        // MinCount 4, MaxCount 5 with room for 2 on the target.
        assert_eq!(
            (offer(false).local_min(4), offer(false).local_max(5)),
            (2, 5)
        );
        assert_eq!((offer(true).local_min(4), offer(true).local_max(5)), (2, 3));
        assert_eq!((offer(true).local_min(1), offer(true).local_max(2)), (0, 0));
        assert_eq!((none.local_min(4), none.local_max(5)), (4, 5));
    }

    #[test]
    fn remote_states_become_the_clusters_names_and_terminated_is_gone() {
        let state = |s| {
            let o = observed(&remote(s), 7);
            (o.state, o.vanished)
        };
        assert_eq!(state("pending"), (Some("Pending".into()), false));
        assert_eq!(state("running"), (Some("Extant".into()), false));
        assert_eq!(state("shutting-down"), (Some("Teardown".into()), false));
        assert_eq!(state("terminated"), (Some("Teardown".into()), true));
        let o = observed(&remote("running"), 7);
        assert_eq!(
            (o.node.as_str(), o.private_ip.as_str(), o.seen),
            ("i-0a1b2c3d4e5f60718", "10.31.0.5", Some(7))
        );
    }
}

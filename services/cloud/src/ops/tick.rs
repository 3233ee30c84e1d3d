//! The cloud's tick, as the original CLC's timer per cluster: every few seconds each
//! registered cluster is asked for its capacity (DescribeResources, kept in
//! [`Zones`](super::Zones) for
//! placement and `verbose` zones) and its instances (DescribeInstances), and the store is
//! reconciled with the answer:
//! - what the cluster reports of an instance (state, addresses, node) is recorded, so
//!   DescribeInstances answers from the store alone;
//! - an instance the cloud knows that the cluster no longer reports is gone (terminated):
//!   at once when it was asked to terminate or had been reported before, and after
//!   [`GRACE_TICKS`] ticks for one never reported yet, unless its RunInstances is still
//!   waiting for the cluster;
//! - an instance the cluster reports that the cloud never knew (one started by a cloud that
//!   stopped before recording the answer, or by another cloud on the same cluster) is
//!   adopted, with the owner, reservation and images the cluster gives, so nothing runs
//!   unaccounted;
//! - an instance asked to terminate that the cluster still runs (its TerminateInstances
//!   was lost, or it started after) is asked to terminate again.
//!
//! A cluster that does not answer changes nothing but its zone, which becomes unavailable:
//! its instances are kept as last seen. The volumes of instances gone are detached.
//!
//! The burst targets' instances are reconciled beside them (`crate::burst::reconcile`).
//!
//! Then the EBS changes a restart interrupted are finished (volumes being created, deleted,
//! attached or detached; snapshots under way), and pending snapshots get the SC's progress.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use wire::cc::{self, CcInstanceType};

use super::clusters::{self, capacity, CLOUD_USER, CLUSTER_DEADLINE};
use super::{events, snapshots, storage, volumes, Cloud};
use crate::burst;
use crate::error::Ec2Error;
use crate::store::{Cluster, Instance, Observed, StoreError, VmType};
use users::events::{EventLog, Who};

/// How many ticks an instance the cluster has never reported stays pending before it counts
/// as gone: its cluster reports it as soon as it accepts it.
pub const GRACE_TICKS: u32 = 3;

/// The pauses before each look a launch's follow takes at its cluster: every 10 ms for the
/// first 100 ms, when a test-driver launch settles, then doubling, about 2.6 s in all, after
/// which the tick takes over.
const FOLLOW_PAUSES_MS: [u64; 17] = [
    10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 20, 40, 80, 160, 320, 640, 1280,
];

/// Runs a round every `every`, for as long as the returned task is not aborted; when rounds
/// take longer (thousands of instances to read, verify and reconcile), each is followed by a
/// rest as long as it took, so that the tick never takes more than half the cloud's time
/// from answering requests.
pub fn spawn(cloud: Arc<Cloud>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let grace = i64::try_from((every * GRACE_TICKS).as_secs()).unwrap_or(i64::MAX);
        loop {
            let started = tokio::time::Instant::now();
            round(&cloud, grace).await;
            let took = started.elapsed();
            tokio::time::sleep(every.saturating_sub(took).max(took)).await;
        }
    })
}

/// Polls every registered cluster at once and reconciles the store with each answer.
pub async fn round(cloud: &Arc<Cloud>, grace: i64) {
    let (clusters, types) = match tokio::try_join!(cloud.store.clusters(), cloud.store.vm_types()) {
        Ok(read) => read,
        Err(e) => {
            tracing::warn!(error = %e, "tick: cannot read the registered clusters and VM types");
            return;
        }
    };
    // Read once a round: every cluster's capacity is counted in the same types.
    let types = Arc::new(types);
    let mut polls = tokio::task::JoinSet::new();
    for cluster in clusters {
        let cloud = Arc::clone(cloud);
        let types = Arc::clone(&types);
        polls.spawn(async move {
            if let Err(e) = poll(&cloud, &cluster, &types, grace).await {
                tracing::warn!(cluster = %cluster.name, error = %e, "tick: cannot record what the cluster reported");
            }
        });
    }
    let burst = Arc::clone(cloud);
    polls.spawn(async move { poll_burst_targets(&burst).await });
    // Beside the clusters, so that a slow storage controller never delays their polls.
    let ebs = Arc::clone(cloud);
    polls.spawn(async move {
        if let Err(e) = volumes::settle(&ebs).await {
            tracing::warn!(error = %e, "tick: cannot settle the volumes");
        }
        if let Err(e) = snapshots::settle(&ebs).await {
            tracing::warn!(error = %e, "tick: cannot settle the snapshots");
        }
    });
    while polls.join_next().await.is_some() {}
    crate::sla::floors::check(cloud).await;
}

/// Polls one cluster and records what it reports.
async fn poll(
    cloud: &Cloud,
    cluster: &Cluster,
    types: &[VmType],
    grace: i64,
) -> Result<(), StoreError> {
    let security = &cloud.clusters;
    // The report is as of when the cluster was asked: what was launched or seen since is newer.
    let asked = kit::time::now();
    let (zone, reported) = tokio::join!(
        capacity(&cluster.name, &cluster.url, security, types),
        instances(cluster, security, Vec::new()),
    );
    cloud.zones.set(&cluster.name, zone);
    let Some(reported) = reported else {
        return Ok(());
    };
    // Read after the cluster answered: what RunInstances records meanwhile is in flight.
    let known = cloud.store.live_instances(&cluster.name).await?;
    let launching = cloud.launching();
    let changes = reconcile(&cluster.name, &known, reported, &launching, asked, grace);
    let mut observed = changes.observed;
    for instance in changes.adopted {
        // Billed before it is recorded: a crash between the two bills it once, at the
        // next tick.
        if let Err(e) = bill(&cloud.events, &instance, &instance.observed).await {
            tracing::warn!(instance = %instance.id, error = %e, "tick: cannot record an instance's change: left for the next tick");
            return Ok(());
        }
        match cloud
            .store
            .add_instances(std::slice::from_ref(&instance), None)
            .await
        {
            Ok(()) => {
                tracing::info!(cluster = %cluster.name, instance = %instance.id, owner = %instance.owner, "tick: adopted an instance the cloud did not know");
            }
            // Known but found gone before (or recorded since): it is back.
            Err(StoreError::Exists { .. }) => observed.push((instance.id, instance.observed)),
            Err(e) => return Err(e),
        }
    }
    record(cloud, &cluster.name, &known, &observed).await?;
    if !changes.still_running.is_empty() {
        terminate_again(cluster, &cloud.clusters, changes.still_running).await;
    }
    Ok(())
}

/// Records what a look at `zone` saw change of its `known` instances: each change billed
/// first, then stored; the addresses and volumes of those gone released.
async fn record(
    cloud: &Cloud,
    zone: &str,
    known: &[Instance],
    observed: &[(String, Observed)],
) -> Result<(), StoreError> {
    for (id, seen) in observed {
        let Some(instance) = known.iter().find(|i| &i.id == id) else {
            continue;
        };
        if let Err(e) = bill(&cloud.events, instance, seen).await {
            tracing::warn!(instance = %id, error = %e, "tick: cannot record an instance's change: left for the next tick");
            return Ok(());
        }
    }
    let mut gone = Vec::new();
    for (id, o) in observed {
        if o.vanished {
            tracing::info!(%zone, instance = %id, "tick: the zone no longer reports the instance: terminated");
            gone.push(id.clone());
        }
    }
    cloud.store.observe(observed).await?;
    // As at TerminateInstances: the cloud's own addresses of the instances gone go back to
    // the pool, and a user's stay theirs, unassociated.
    if !gone.is_empty() {
        cloud.store.detach_addresses(&gone).await?;
        storage::release(cloud, &gone).await?;
    }
    Ok(())
}

/// Reconciles the instances the burst targets run, as a cluster's poll does its own.
async fn poll_burst_targets(cloud: &Arc<Cloud>) {
    for report in burst::reconcile(cloud).await {
        if let Err(e) = record(cloud, &report.zone, &report.known, &report.observed).await {
            tracing::warn!(zone = %report.zone, error = %e, "tick: cannot record what the burst target reported");
        }
    }
}

/// Commits what `seen` changes of `instance` that is billed: it runs (unless it was asked
/// to terminate: that request ended its billing), or it is gone. Written before the store
/// records what was seen, so a crash between the two loses nothing (the next look writes
/// it again, once).
async fn bill(events: &EventLog, instance: &Instance, seen: &Observed) -> Result<(), Ec2Error> {
    if seen.vanished {
        let cloud = Who::system(&instance.owner);
        events::instance_stopped(events, &cloud, instance).await
    } else if seen.state.as_deref() == Some("Extant") && !instance.terminated {
        events::instance_running(events, instance).await
    } else {
        Ok(())
    }
}

/// Asks `cluster` to terminate `ids` again; a failure waits for the next tick.
async fn terminate_again(cluster: &Cluster, security: &soap::Security, ids: Vec<String>) {
    tracing::info!(cluster = %cluster.name, instances = ?ids, "tick: terminating again instances the cluster still runs");
    let ask = cc::TerminateInstancesType {
        user_id: Some(CLOUD_USER.into()),
        instance_ids: ids,
        ..cc::TerminateInstancesType::default()
    };
    let answer = match clusters::client(&cluster.url, security, CLUSTER_DEADLINE) {
        Ok(client) => client.terminate_instances(&ask).await,
        Err(e) => Err(e),
    };
    if let Err(e) = answer {
        tracing::warn!(cluster = %cluster.name, error = %e, "cluster did not answer TerminateInstances");
    }
}

/// The instances `ids` names that `cluster` reports (every one for none); `None` when it
/// does not answer.
async fn instances(
    cluster: &Cluster,
    security: &soap::Security,
    ids: Vec<String>,
) -> Option<Vec<CcInstanceType>> {
    let ask = cc::DescribeInstancesType {
        user_id: Some(CLOUD_USER.into()),
        instance_ids: ids,
        ..cc::DescribeInstancesType::default()
    };
    let answer = match clusters::client(&cluster.url, security, CLUSTER_DEADLINE) {
        Ok(client) => client.describe_instances(&ask).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(answer) if answer.r#return != Some(false) => Some(answer.instances),
        Ok(answer) => {
            tracing::warn!(cluster = %cluster.name, reason = ?answer.status_message, "cluster refused DescribeInstances");
            None
        }
        Err(e) => {
            tracing::warn!(cluster = %cluster.name, error = %e, "cluster did not answer DescribeInstances");
            None
        }
    }
}

/// What a tick does: write changed observations by id, adopt instances, and terminate
/// again those asked to terminate that still run.
#[derive(Debug, Default)]
struct Changes {
    observed: Vec<(String, Observed)>,
    adopted: Vec<Instance>,
    still_running: Vec<String>,
}

/// Compares the instances the store holds on `cluster` with those it reported when asked at
/// `now`. `launching` holds the reservations whose RunInstances still waits for a cluster.
/// An instance launched or seen (by a launch's follow) since then is newer than the report,
/// which says nothing of it: it is left for the next look.
fn reconcile(
    cluster: &str,
    known: &[Instance],
    reported: Vec<CcInstanceType>,
    launching: &HashSet<String>,
    now: i64,
    grace: i64,
) -> Changes {
    let mut reported: HashMap<String, CcInstanceType> = reported
        .into_iter()
        .filter_map(|i| Some((i.instance_id.clone().filter(|id| !id.is_empty())?, i)))
        .collect();
    let mut changes = Changes::default();
    for instance in known {
        let report = reported.remove(&instance.id);
        if instance.launched >= now || instance.observed.seen.is_some_and(|seen| seen >= now) {
            continue;
        }
        let seen = match report {
            Some(report) => {
                let seen = observed(&report, now);
                if instance.terminated
                    && seen.state.as_deref() != Some("Teardown")
                    && !launching.contains(&instance.reservation)
                {
                    changes.still_running.push(instance.id.clone());
                }
                seen
            }
            None => {
                let before = &instance.observed;
                let waited = now.saturating_sub(instance.launched) > grace;
                let gone = !launching.contains(&instance.reservation)
                    && (instance.terminated || before.state.is_some() || waited);
                if !gone {
                    continue;
                }
                Observed {
                    vanished: true,
                    seen: Some(now),
                    ..before.clone()
                }
            }
        };
        // Only changes are written: `seen` alone moving is not one.
        let same = Observed {
            seen: instance.observed.seen,
            ..seen.clone()
        };
        if same != instance.observed {
            changes.observed.push((instance.id.clone(), seen));
        }
    }
    changes.adopted = reported
        .into_values()
        .map(|report| adopted(cluster, report, now))
        .collect();
    changes.adopted.sort_by(|a, b| a.id.cmp(&b.id));
    changes
}

/// What `report` says of its instance at `now`.
fn observed(report: &CcInstanceType, now: i64) -> Observed {
    let net = report.net_params.clone().unwrap_or_default();
    // The cluster writes 0.0.0.0 for an address not assigned yet.
    let address = |ip: String| if ip == "0.0.0.0" { String::new() } else { ip };
    Observed {
        state: Some(report.state_name.clone().unwrap_or_default()),
        private_ip: address(net.private_ip),
        public_ip: address(net.public_ip),
        node: report.service_tag.clone().unwrap_or_default(),
        seen: Some(now),
        vanished: false,
    }
}

/// The record of an instance `cluster` runs that the cloud never knew, from what the
/// cluster knows of it. Its owner is the cluster's `ownerId` (the administrator's when it
/// gives none), so that its owner, or the administrator with `verbose`, sees it.
fn adopted(cluster: &str, report: CcInstanceType, now: i64) -> Instance {
    let observed = observed(&report, now);
    Instance {
        id: report.instance_id.unwrap_or_default(),
        reservation: report.reservation_id.unwrap_or_default(),
        owner: report
            .owner_id
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| users::ADMIN_NAME.to_owned()),
        image: report.image_id.unwrap_or_default(),
        kernel: report.kernel_id,
        ramdisk: report.ramdisk_id,
        vm_type: report
            .instance_type
            .and_then(|t| t.name)
            .unwrap_or_default(),
        // The cluster holds the public key itself, not the keypair's name.
        key_name: None,
        groups: report.group_names,
        launch_index: report
            .launch_index
            .and_then(|i| i.parse().ok())
            .unwrap_or(0),
        cluster: cluster.to_owned(),
        launched: report.launch_time.map_or(now, |t| t.unix_seconds()),
        terminated: false,
        client_token: None,
        observed,
    }
}

impl Cloud {
    /// Follows instances `ids` just launched on `cluster`, in the background, until none is
    /// Pending or the pauses run out, recording what the cluster reports of them: a launch's
    /// outcome reaches DescribeInstances at once rather than at the next tick, which alone
    /// finds instances gone.
    pub(super) fn follow(&self, cluster: &Cluster, launched: Vec<Instance>) {
        let (store, security, events, cluster) = (
            Arc::clone(&self.store),
            self.clusters.clone(),
            self.events.clone(),
            cluster.clone(),
        );
        let ids: Vec<String> = launched.iter().map(|i| i.id.clone()).collect();
        tokio::spawn(async move {
            let mut recorded: HashMap<String, Option<String>> = HashMap::new();
            for pause in FOLLOW_PAUSES_MS {
                tokio::time::sleep(Duration::from_millis(pause)).await;
                let Some(reported) = instances(&cluster, &security, ids.clone()).await else {
                    return;
                };
                let now = kit::time::now();
                let changed: Vec<(String, Observed)> = reported
                    .iter()
                    .filter_map(|report| {
                        let id = report.instance_id.clone().filter(|id| ids.contains(id))?;
                        let seen = observed(report, now);
                        (recorded.get(&id) != Some(&seen.state)).then_some((id, seen))
                    })
                    .collect();
                for (id, seen) in &changed {
                    let Some(instance) = launched.iter().find(|i| &i.id == id) else {
                        continue;
                    };
                    if let Err(e) = bill(&events, instance, seen).await {
                        tracing::warn!(instance = %id, error = %e, "cannot record a launch followed");
                        return;
                    }
                }
                if let Err(e) = store.observe(&changed).await {
                    tracing::warn!(cluster = %cluster.name, error = %e, "cannot record a launch followed");
                    return;
                }
                recorded.extend(changed.into_iter().map(|(id, seen)| (id, seen.state)));
                let settled = recorded.len() == ids.len()
                    && recorded.values().all(|s| s.as_deref() != Some("Pending"));
                if settled {
                    return;
                }
            }
        });
    }

    /// The reservations whose RunInstances waits for a cluster now.
    fn launching(&self) -> HashSet<String> {
        self.launching
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::suite::sample;
    use wire::cc::{NetConfigType, VirtualMachineType};

    fn known(id: &str, reservation: &str) -> Instance {
        Instance {
            launched: 100,
            ..sample(id, "ann", reservation, "east", 0)
        }
    }

    fn report(id: &str, state: &str) -> CcInstanceType {
        CcInstanceType {
            instance_id: Some(id.into()),
            state_name: Some(state.into()),
            owner_id: Some("bob".into()),
            reservation_id: Some("r-000000b0".into()),
            image_id: Some("emi-000000b0".into()),
            instance_type: Some(VirtualMachineType {
                name: Some("c1.medium".into()),
                ..VirtualMachineType::default()
            }),
            launch_index: Some("2".into()),
            group_names: vec!["web".into()],
            service_tag: Some("http://n1/axis2/services/EucalyptusNC".into()),
            net_params: Some(NetConfigType {
                private_ip: "10.0.0.9".into(),
                public_ip: "0.0.0.0".into(),
                ..NetConfigType::default()
            }),
            ..CcInstanceType::default()
        }
    }

    #[test]
    fn reported_states_and_addresses_are_recorded_and_unchanged_ones_not_rewritten() {
        let mut running = known("i-00000001", "r-00000001");
        let changes = reconcile(
            "east",
            std::slice::from_ref(&running),
            vec![report("i-00000001", "Extant")],
            &HashSet::new(),
            200,
            15,
        );
        assert!(changes.adopted.is_empty());
        let (id, o) = &changes.observed[0];
        assert_eq!(id, "i-00000001");
        assert_eq!(
            (
                o.state.as_deref(),
                o.private_ip.as_str(),
                o.public_ip.as_str()
            ),
            (Some("Extant"), "10.0.0.9", "")
        );
        assert_eq!((o.seen, o.vanished), (Some(200), false));
        running.observed = o.clone();
        let again = reconcile(
            "east",
            &[running],
            vec![report("i-00000001", "Extant")],
            &HashSet::new(),
            205,
            15,
        );
        assert!(again.observed.is_empty(), "{again:?}");
    }

    #[test]
    fn an_instance_the_cluster_stopped_reporting_is_gone_a_pending_one_after_the_grace() {
        let mut was_running = known("i-00000001", "r-00000001");
        was_running.observed.state = Some("Extant".into());
        let mut asked_to_end = known("i-00000002", "r-00000002");
        asked_to_end.terminated = true;
        let young = known("i-00000003", "r-00000003");
        let mut old = known("i-00000004", "r-00000004");
        old.launched = 10;
        let mut in_flight = known("i-00000005", "r-00000005");
        in_flight.launched = 10;
        let launching = HashSet::from(["r-00000005".to_owned()]);
        // Its launch's follow saw it after the cluster was asked: the report predates it.
        let mut followed = known("i-00000006", "r-00000006");
        followed.observed.state = Some("Pending".into());
        followed.observed.seen = Some(110);
        let changes = reconcile(
            "east",
            &[was_running, asked_to_end, young, old, in_flight, followed],
            Vec::new(),
            &launching,
            110,
            15,
        );
        let gone: Vec<&str> = changes
            .observed
            .iter()
            .filter(|(_, o)| o.vanished)
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(gone, ["i-00000001", "i-00000002", "i-00000004"]);
        assert_eq!(changes.observed.len(), 3);
        // What was last seen of it stays.
        assert_eq!(changes.observed[0].1.state.as_deref(), Some("Extant"));
    }

    #[test]
    fn an_instance_asked_to_terminate_that_still_runs_is_terminated_again() {
        let mut ended = known("i-00000001", "r-00000001");
        ended.terminated = true;
        let mut tearing_down = known("i-00000002", "r-00000002");
        tearing_down.terminated = true;
        let mut launching = known("i-00000003", "r-00000003");
        launching.terminated = true;
        let running = known("i-00000004", "r-00000004");
        let changes = reconcile(
            "east",
            &[ended, tearing_down, launching, running],
            vec![
                report("i-00000001", "Extant"),
                report("i-00000002", "Teardown"),
                report("i-00000003", "Pending"),
                report("i-00000004", "Extant"),
            ],
            &HashSet::from(["r-00000003".to_owned()]),
            200,
            15,
        );
        assert_eq!(changes.still_running, ["i-00000001"]);
    }

    #[test]
    fn an_instance_the_cloud_never_knew_is_adopted_as_the_cluster_describes_it() {
        let changes = reconcile(
            "east",
            &[],
            vec![report("i-000000b1", "Pending"), report("", "Extant")],
            &HashSet::new(),
            300,
            15,
        );
        let [adopted] = changes.adopted.as_slice() else {
            panic!("{changes:?}");
        };
        assert_eq!(
            (
                adopted.id.as_str(),
                adopted.owner.as_str(),
                adopted.reservation.as_str(),
                adopted.image.as_str(),
                adopted.vm_type.as_str(),
                adopted.launch_index,
                adopted.cluster.as_str(),
                adopted.launched,
            ),
            (
                "i-000000b1",
                "bob",
                "r-000000b0",
                "emi-000000b0",
                "c1.medium",
                2,
                "east",
                300
            )
        );
        assert_eq!(adopted.groups, ["web"]);
        assert_eq!(adopted.observed.state.as_deref(), Some("Pending"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[allow(clippy::unwrap_used)]
    async fn what_a_look_sees_is_billed_once_and_a_terminated_instance_is_not_restarted() {
        // Guards the tick's part of billing: an instance that ended on its own stops billing.
        use users::events::{action, read, Selection};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.sqlite");
        // Opening the users makes the event log's table.
        users::UserStore::open(&path).unwrap();
        let location = users::Location::Sqlite(path);
        let events = EventLog::start(&location).await.unwrap();
        let seen = |state: &str, vanished| Observed {
            state: Some(state.into()),
            vanished,
            ..Observed::default()
        };
        let running = sample("i-00000001", "ann", "r-00000001", "zone1", 0);
        let ended_on_its_own = sample("i-00000002", "ann", "r-00000002", "zone1", 0);
        let asked_to_end = Instance {
            terminated: true,
            ..sample("i-00000003", "ann", "r-00000003", "zone1", 0)
        };
        for _ in 0..2 {
            bill(&events, &running, &seen("Extant", false))
                .await
                .unwrap();
        }
        bill(&events, &running, &seen("Pending", false))
            .await
            .unwrap();
        bill(&events, &ended_on_its_own, &seen("Extant", true))
            .await
            .unwrap();
        bill(&events, &asked_to_end, &seen("Extant", false))
            .await
            .unwrap();
        events.flush().await.unwrap();
        let all = Selection {
            from: 0,
            to: i64::MAX,
            account: None,
            history: true,
        };
        let recorded: Vec<(String, String, String)> = read(&location, &all)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.resource, e.account))
            .collect();
        let ann = |act: &str, id: &str| (act.to_owned(), id.to_owned(), "ann".to_owned());
        assert_eq!(
            recorded,
            [
                ann(action::INSTANCE_RUNNING, "i-00000001"),
                ann(action::INSTANCE_STOPPED, "i-00000002"),
            ]
        );
    }
}

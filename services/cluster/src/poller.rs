//! Keeps the node pool and the instance cache fresh: every node is asked for its resources
//! and instances, all nodes at once, each within its own deadline, so that a dead or slow
//! node is marked down within seconds and never holds up the others. Requests read what the
//! polls found; they never wait for a poll.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};
use wire::nc::{NcDescribeInstancesType, NcDescribeResourceType, NcPowerDownType};

use crate::instances::Instances;
use crate::nodes::{NcClient, NodePool, POLL_DEADLINE};
use crate::sensors::Sensors;

/// Time between two polls of every node.
pub const POLL_PERIOD: Duration = Duration::from_secs(2);
/// The pauses before each look a launch's follow takes at its node: the first at once, then
/// every 10 ms for the first 100 ms, when a test-driver launch settles, then doubling, about
/// 2.6 s in all, after which the polls take over.
const FOLLOW_PAUSES_MS: [u64; 18] = [
    0, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 20, 40, 80, 160, 320, 640, 1280,
];
/// The identity the cluster asks its nodes as: the original CC's superuser, whom a node shows
/// every instance.
const CLUSTER_USER: &str = "eucalyptus";

/// Polls the nodes of a pool into a cache, and gathers their sensors.
#[derive(Debug, Clone)]
pub struct Poller {
    nodes: Arc<NodePool>,
    instances: Arc<Instances>,
    sensors: Arc<Sensors>,
}

impl Poller {
    pub fn new(nodes: Arc<NodePool>, instances: Arc<Instances>, sensors: Arc<Sensors>) -> Self {
        Self {
            nodes,
            instances,
            sensors,
        }
    }

    /// Polls every node, forever: a round every [`POLL_PERIOD`], or, when rounds take longer
    /// (thousands of instances to read and verify), a rest as long as the last round, so that
    /// polling never takes more than half the cluster's time from answering.
    pub async fn run(self) {
        loop {
            let started = Instant::now();
            self.poll_all().await;
            let took = started.elapsed();
            tokio::time::sleep(POLL_PERIOD.saturating_sub(took).max(took)).await;
        }
    }

    /// Polls every node at once; returns when each has answered or missed its deadline.
    pub async fn poll_all(&self) {
        let polls = (0..self.nodes.len()).map(|index| {
            let poller = self.clone();
            tokio::spawn(async move { poller.poll(index).await })
        });
        for poll in polls.collect::<Vec<_>>() {
            if let Err(e) = poll.await {
                warn!(error = %e, "a node poll ended abnormally");
            }
        }
    }

    /// Polls node `index` (a sleeping node is left alone).
    pub async fn poll(&self, index: usize) {
        let Some(ticket) = self.nodes.begin_poll(index) else {
            return;
        };
        let describe = |client: NcClient| async move {
            let resources = NcDescribeResourceType {
                user_id: Some(CLUSTER_USER.to_owned()),
                ..NcDescribeResourceType::default()
            };
            let instances = NcDescribeInstancesType {
                user_id: Some(CLUSTER_USER.to_owned()),
                ..NcDescribeInstancesType::default()
            };
            let (resources, instances) = tokio::join!(
                client.nc_describe_resource(&resources),
                client.nc_describe_instances(&instances)
            );
            Ok((resources?, instances?))
        };
        let (resources, instances) = match self.nodes.call(index, POLL_DEADLINE, describe).await {
            Ok(answers) => answers,
            Err(e) => {
                self.nodes.poll_failed(ticket, &e.to_string());
                return;
            }
        };
        let running = instances
            .instances
            .iter()
            .filter(|i| i.state_name != "Teardown")
            .count();
        let idle = self.nodes.finish_poll(ticket, &resources, running);
        let url = self.nodes.url(index);
        if let Err(e) = self
            .instances
            .apply_report(&url, &instances.instances, ticket.started)
            .await
        {
            warn!(node = %url, error = %e, "cannot record the node's instances");
        }
        if idle {
            self.power_down(index).await;
        } else {
            self.sensors.gather(index, &url).await;
        }
    }

    /// Follows instances `ids` just placed on node `index` until none is Pending (or the
    /// pauses run out), taking in what the node reports of them alone: a launch's outcome
    /// reaches the cache at once rather than at the next poll, and no other node is asked.
    /// Capacity is left to the polls, which alone drop the placements' holds.
    pub async fn follow(&self, index: usize, ids: Vec<String>) {
        let url = self.nodes.url(index);
        let ask = NcDescribeInstancesType {
            user_id: Some(CLUSTER_USER.to_owned()),
            instance_ids: ids,
            ..NcDescribeInstancesType::default()
        };
        for pause in FOLLOW_PAUSES_MS {
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let answer = self
                .nodes
                .call(index, POLL_DEADLINE, |client| {
                    let ask = &ask;
                    async move { client.nc_describe_instances(ask).await }
                })
                .await;
            let reported = match answer {
                Ok(answer) => answer.instances,
                Err(e) => {
                    warn!(node = %url, error = %e, "cannot follow a launch on the node");
                    return;
                }
            };
            if let Err(e) = self.instances.apply_partial_report(&url, &reported).await {
                warn!(node = %url, error = %e, "cannot record the node's instances");
                return;
            }
            let settled = reported.len() == ask.instance_ids.len()
                && reported.iter().all(|i| i.state_name != "Pending");
            if settled {
                return;
            }
        }
    }

    /// POWERSAVE: asks an idle node to power down; it sleeps once it accepts.
    async fn power_down(&self, index: usize) {
        let url = self.nodes.url(index);
        info!(
            node = %url,
            "node idle past POWER_IDLETHRESH: powering it down"
        );
        let request = NcPowerDownType {
            user_id: Some(CLUSTER_USER.to_owned()),
            ..NcPowerDownType::default()
        };
        let answer = self
            .nodes
            .call(index, POLL_DEADLINE, |client| async move {
                client.nc_power_down(&request).await
            })
            .await;
        match answer {
            Ok(_) => self.nodes.asleep(index),
            Err(e) => warn!(node = %url, error = %e, "power-down failed"),
        }
    }
}

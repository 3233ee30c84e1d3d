//! The cluster's nodes: a signed client per node, and what the cluster last learned of each
//! (health, capacity, the placements its last report may not include yet). Placement decisions
//! are taken here, under one lock, so that a burst of requests cannot overbook a node.
//! Nodes are added while the cluster runs and taken out again ([`NodePool::add`],
//! [`NodePool::remove`]); one taken out keeps its index (placements and polls in flight name
//! nodes by index) but is neither polled, nor counted, nor chosen.

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use soap::{ClientError, HttpTransport, Security};
use tracing::{info, warn};
use wire::nc::{
    EucalyptusNcClient, NcAttachVolumeResponseType, NcDescribeInstancesResponseType,
    NcDescribeResourceResponseType, NcDetachVolumeResponseType, NcGetConsoleOutputResponseType,
    NcPowerDownResponseType, NcRebootInstanceResponseType, NcRunInstanceResponseType,
    NcTerminateInstanceResponseType,
};

use crate::scheduler::{Candidate, Health, Policy, Resources, Scheduler};

pub type NcClient = EucalyptusNcClient<HttpTransport>;

/// How long one node may take to answer a poll before it counts as down.
pub const POLL_DEADLINE: Duration = Duration::from_secs(3);
/// How long one node may take to answer an operation (run, terminate, console...).
pub const CALL_DEADLINE: Duration = Duration::from_secs(10);

/// Why a node could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The node answered with a fault: it is up, and refused.
    #[error("node {url} refused: {source}")]
    Refused {
        url: String,
        source: Box<ClientError>,
    },
    /// The node answered `return` false.
    #[error("node {url} answered that the operation failed")]
    Failed { url: String },
    /// No valid answer in time: the node is taken as down.
    #[error("node {url} did not answer: {reason}")]
    Unreachable { url: String, reason: String },
}

/// A node's answer, which may say it failed (`return` false) instead of faulting.
pub trait NodeAnswer {
    fn failed(&self) -> bool;
}

macro_rules! node_answers {
    ($($answer:ty),*) => {
        $(impl NodeAnswer for $answer {
            fn failed(&self) -> bool {
                self.r#return == Some(false)
            }
        })*
    };
}

node_answers!(
    NcRunInstanceResponseType,
    NcTerminateInstanceResponseType,
    NcRebootInstanceResponseType,
    NcGetConsoleOutputResponseType,
    NcAttachVolumeResponseType,
    NcDetachVolumeResponseType,
    NcDescribeResourceResponseType,
    NcDescribeInstancesResponseType,
    NcPowerDownResponseType
);

impl<A: NodeAnswer, B: NodeAnswer> NodeAnswer for (A, B) {
    fn failed(&self) -> bool {
        self.0.failed() || self.1.failed()
    }
}

/// What the cluster knows of one node.
#[derive(Debug)]
struct NodeState {
    url: String,
    client: NcClient,
    /// Taken out of the pool.
    removed: bool,
    health: Health,
    /// When `health` last changed.
    since: Instant,
    max: Resources,
    /// Free, as the node's last report said.
    reported: Resources,
    /// Placements the last report may not count.
    holds: Vec<Hold>,
    /// Since when the node has run no instance (POWERSAVE).
    idle_since: Option<Instant>,
}

/// Resources taken by a placement, until a report taken after the node accepted it.
#[derive(Debug)]
struct Hold {
    id: u64,
    size: Resources,
    /// The pool's clock when the node accepted the instance; `None` while in flight.
    accepted: Option<u64>,
}

impl NodeState {
    fn available(&self) -> Resources {
        if self.health == Health::Down || self.removed {
            return Resources::default();
        }
        self.holds
            .iter()
            .fold(self.reported, |free, hold| free.minus(&hold.size))
    }

    fn max(&self) -> Resources {
        match self.health {
            _ if self.removed => Resources::default(),
            Health::Down => Resources::default(),
            _ => self.max,
        }
    }

    fn set_health(&mut self, health: Health) {
        if self.health != health {
            info!(
                node = self.url,
                from = self.health.name(),
                to = health.name(),
                "node health changed"
            );
            self.health = health;
            self.since = Instant::now();
            self.idle_since = None;
        }
    }
}

#[derive(Debug)]
struct PoolState {
    nodes: Vec<NodeState>,
    scheduler: Scheduler,
    /// Orders placements and polls: a poll that began after a placement was accepted counts it.
    clock: u64,
}

/// A node chosen for one instance, its resources held until the node's reports count them.
#[derive(Debug)]
pub struct Placement {
    pub index: usize,
    pub url: String,
    hold: u64,
}

/// A poll of one node that has begun.
#[derive(Debug, Clone, Copy)]
pub struct PollTicket {
    index: usize,
    clock: u64,
    pub started: Instant,
}

/// The nodes of the cluster.
#[derive(Debug)]
pub struct NodePool {
    /// Signs as the cluster, trusts the nodes' certificate: every node's client's.
    security: Security,
    state: Mutex<PoolState>,
    idle_threshold: Duration,
    wake_threshold: Duration,
}

impl NodePool {
    /// A pool over `urls`, calling each with `security` (signing as the cluster, trusting the
    /// nodes' certificate). Every node starts down until its first poll answers.
    pub fn new(
        urls: &[String],
        security: &Security,
        policy: Policy,
        idle_threshold: Duration,
        wake_threshold: Duration,
    ) -> Result<Self, ClientError> {
        let pool = Self {
            security: security.clone(),
            state: Mutex::new(PoolState {
                nodes: Vec::new(),
                scheduler: Scheduler::new(policy),
                clock: 0,
            }),
            idle_threshold,
            wake_threshold,
        };
        for url in urls {
            pool.add(url)?;
        }
        Ok(pool)
    }

    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the node at `url`, down until its first poll answers (the next round's); one
    /// taken out earlier comes back, one in the pool stays as it is.
    pub fn add(&self, url: &str) -> Result<(), ClientError> {
        let transport = HttpTransport::builder(url.to_owned(), self.security.clone())
            .connect_timeout(POLL_DEADLINE)
            .request_timeout(CALL_DEADLINE)
            .limits(kit::INSTANCE_LIST_LIMITS)
            .build()?;
        let mut state = self.state();
        if let Some(node) = state.nodes.iter_mut().find(|n| n.url == url) {
            node.removed = false;
            return Ok(());
        }
        state.nodes.push(NodeState {
            url: url.to_owned(),
            client: EucalyptusNcClient::new(transport),
            removed: false,
            health: Health::Down,
            since: Instant::now(),
            max: Resources::default(),
            reported: Resources::default(),
            holds: Vec::new(),
            idle_since: None,
        });
        info!(node = url, "node added to the pool");
        Ok(())
    }

    /// Takes the node at `url` out of the pool: from now on it is neither polled, nor counted,
    /// nor chosen; requests about its instances still reach it.
    pub fn remove(&self, url: &str) {
        let mut state = self.state();
        if let Some(node) = state.nodes.iter_mut().find(|n| n.url == url && !n.removed) {
            node.removed = true;
            node.set_health(Health::Down);
            info!(node = url, "node taken out of the pool");
        }
    }

    /// How many nodes have been in the pool: indices run below it.
    pub fn len(&self) -> usize {
        self.state().nodes.len()
    }

    pub fn url(&self, index: usize) -> String {
        self.state().nodes[index].url.clone()
    }

    /// The URL of every node in the pool, in the order they joined it.
    pub fn urls(&self) -> Vec<String> {
        self.state()
            .nodes
            .iter()
            .filter(|n| !n.removed)
            .map(|n| n.url.clone())
            .collect()
    }

    /// The node at `url`, even one taken out (its instances may still run there).
    pub fn index_of(&self, url: &str) -> Option<usize> {
        self.state().nodes.iter().position(|n| n.url == url)
    }

    pub fn health(&self, index: usize) -> Health {
        self.state().nodes[index].health
    }

    /// Calls node `index` with `call` (given the node's client), within `deadline`; a node
    /// that does not answer is marked down, one that answers `return` false is not.
    pub async fn call<T, F, Fut>(
        &self,
        index: usize,
        deadline: Duration,
        call: F,
    ) -> Result<T, CallError>
    where
        T: NodeAnswer,
        F: FnOnce(NcClient) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let (url, client) = {
            let state = self.state();
            let node = &state.nodes[index];
            (node.url.clone(), node.client.clone())
        };
        let outcome = tokio::time::timeout(deadline, call(client)).await;
        let reason = match outcome {
            Ok(Ok(answer)) if answer.failed() => return Err(CallError::Failed { url }),
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(source @ ClientError::Fault(_))) => {
                return Err(CallError::Refused {
                    url,
                    source: Box::new(source),
                })
            }
            Ok(Err(other)) => other.to_string(),
            Err(_) => format!("no answer within {deadline:?}"),
        };
        self.failed(index, &reason);
        Err(CallError::Unreachable { url, reason })
    }

    /// Marks node `index` down after a failed call, unless it is waking and still within
    /// POWER_WAKETHRESH.
    fn failed(&self, index: usize, reason: &str) {
        let mut state = self.state();
        let node = &mut state.nodes[index];
        let waking = node.health == Health::Waking && node.since.elapsed() < self.wake_threshold;
        if !waking && node.health != Health::Down {
            warn!(node = %node.url, reason, "node marked down");
            node.set_health(Health::Down);
        }
    }

    /// Chooses a node for `vm` among those not `excluded` and holds its resources; a sleeping
    /// node chosen is woken. `None` when no node has room.
    pub fn place(&self, vm: &Resources, excluded: &[usize]) -> Option<Placement> {
        let mut guard = self.state();
        let state = &mut *guard;
        let candidates: Vec<Candidate> = state
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Candidate {
                health: n.health,
                available: n.available(),
                excluded: n.removed || excluded.contains(&i),
            })
            .collect();
        let index = state.scheduler.choose(&candidates, vm)?;
        state.clock += 1;
        let hold = state.clock;
        let node = &mut state.nodes[index];
        if node.health == Health::Asleep {
            // The original sent a wake-on-LAN packet here (powerwake). Our nodes do not power
            // off on ncPowerDown, so waking is this record: the node is used at once and given
            // POWER_WAKETHRESH to answer.
            info!(node = %node.url, "waking a sleeping node to place an instance");
            node.set_health(Health::Waking);
        }
        node.holds.push(Hold {
            id: hold,
            size: *vm,
            accepted: None,
        });
        node.idle_since = None;
        Some(Placement {
            index,
            url: node.url.clone(),
            hold,
        })
    }

    /// The node accepted the placement: its resources stay held until a report taken after
    /// now.
    pub fn accepted(&self, placement: &Placement) {
        let mut guard = self.state();
        let state = &mut *guard;
        state.clock += 1;
        let clock = state.clock;
        if let Some(hold) = state.nodes[placement.index]
            .holds
            .iter_mut()
            .find(|h| h.id == placement.hold)
        {
            hold.accepted = Some(clock);
        }
    }

    /// The placement failed: its resources are free again.
    pub fn cancel(&self, placement: &Placement) {
        self.state().nodes[placement.index]
            .holds
            .retain(|h| h.id != placement.hold);
    }

    /// Per VM size: (the most instances the nodes could hold, how many more fit now), summed
    /// over nodes, each node counted as ⌊min(memory, disk, cores ratios)⌋.
    pub fn capacity(&self, vm: &Resources) -> (i64, i64) {
        self.state().nodes.iter().fold((0, 0), |(max, free), n| {
            (max + n.max().fits(vm), free + n.available().fits(vm))
        })
    }

    /// Begins a poll of node `index`; `None` for a sleeping node or one taken out, which are
    /// not polled.
    pub fn begin_poll(&self, index: usize) -> Option<PollTicket> {
        let state = self.state();
        let node = &state.nodes[index];
        (node.health != Health::Asleep && !node.removed).then(|| PollTicket {
            index,
            clock: state.clock,
            started: Instant::now(),
        })
    }

    /// Records what the node reported in the poll `ticket` began; returns whether the node has
    /// been idle past POWER_IDLETHRESH under POWERSAVE, and should be powered down.
    pub fn finish_poll(
        &self,
        ticket: PollTicket,
        resources: &NcDescribeResourceResponseType,
        running: usize,
    ) -> bool {
        let mut guard = self.state();
        let state = &mut *guard;
        let policy = state.scheduler.policy();
        let node = &mut state.nodes[ticket.index];
        if node.removed {
            // Taken out while the poll ran.
            return false;
        }
        node.set_health(Health::Up);
        node.max = Resources {
            memory_mb: resources.memory_size_max.into(),
            disk_gb: resources.disk_size_max.into(),
            cores: resources.number_of_cores_max.into(),
        };
        node.reported = Resources {
            memory_mb: resources.memory_size_available.into(),
            disk_gb: resources.disk_size_available.into(),
            cores: resources.number_of_cores_available.into(),
        };
        // Placements accepted before this poll began are in its report.
        node.holds
            .retain(|h| h.accepted.is_none_or(|at| at > ticket.clock));
        if running > 0 || !node.holds.is_empty() || policy != Policy::PowerSave {
            node.idle_since = None;
            return false;
        }
        let since = *node.idle_since.get_or_insert(ticket.started);
        since.elapsed() >= self.idle_threshold
    }

    /// Records a failed poll.
    pub fn poll_failed(&self, ticket: PollTicket, reason: &str) {
        self.failed(ticket.index, reason);
    }

    /// Node `index` accepted ncPowerDown: it sleeps until an instance needs it.
    pub fn asleep(&self, index: usize) {
        self.state().nodes[index].set_health(Health::Asleep);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    const SMALL: Resources = Resources {
        memory_mb: 512,
        disk_gb: 2,
        cores: 1,
    };

    fn pool(count: usize, policy: Policy) -> NodePool {
        let urls: Vec<String> = (0..count)
            .map(|i| format!("http://127.0.0.1:{}/axis2/services/EucalyptusNC", 1 + i))
            .collect();
        NodePool::new(
            &urls,
            &Security::unsecured(),
            policy,
            Duration::from_secs(300),
            Duration::from_secs(300),
        )
        .unwrap()
    }

    /// A node's report: 2048 MB, 11 GB and 8 cores in all, of which these are free.
    pub(crate) fn report(memory: i32, disk: i32, cores: i32) -> NcDescribeResourceResponseType {
        NcDescribeResourceResponseType {
            memory_size_max: 2048,
            memory_size_available: memory,
            disk_size_max: 11,
            disk_size_available: disk,
            number_of_cores_max: 8,
            number_of_cores_available: cores,
            ..NcDescribeResourceResponseType::default()
        }
    }

    fn up(pool: &NodePool, index: usize, free: &NcDescribeResourceResponseType) {
        let ticket = pool.begin_poll(index).unwrap();
        pool.finish_poll(ticket, free, 0);
    }

    #[test]
    fn placements_hold_resources_until_a_later_report_counts_them() {
        let pool = pool(1, Policy::Greedy);
        assert_eq!(pool.capacity(&SMALL), (0, 0), "down until polled");
        up(&pool, 0, &report(2048, 11, 8));
        assert_eq!(pool.capacity(&SMALL), (4, 4));
        // A poll begins, then two placements: the burst cannot overbook.
        let early = pool.begin_poll(0).unwrap();
        let placed: Vec<_> = (0..4).map(|_| pool.place(&SMALL, &[]).unwrap()).collect();
        assert!(pool.place(&SMALL, &[]).is_none());
        pool.cancel(&placed[3]);
        for p in &placed[..3] {
            pool.accepted(p);
        }
        assert_eq!(pool.capacity(&SMALL), (4, 1));
        // The early poll's report predates the placements: they stay held.
        pool.finish_poll(early, &report(2048, 11, 8), 0);
        assert_eq!(pool.capacity(&SMALL), (4, 1));
        // A report taken after they were accepted counts them itself.
        up(&pool, 0, &report(512, 5, 5));
        assert_eq!(pool.capacity(&SMALL), (4, 1));
    }

    #[test]
    fn a_down_node_offers_nothing_and_sleeping_nodes_are_not_polled() {
        let pool = pool(2, Policy::PowerSave);
        up(&pool, 0, &report(2048, 11, 8));
        up(&pool, 1, &report(2048, 11, 8));
        pool.poll_failed(pool.begin_poll(1).unwrap(), "refused");
        assert_eq!(pool.health(1), Health::Down);
        assert_eq!(pool.capacity(&SMALL), (4, 4));
        pool.asleep(0);
        assert!(pool.begin_poll(0).is_none());
        // Available on wake: counted, and chosen (woken) when needed.
        assert_eq!(pool.capacity(&SMALL), (4, 4));
        let placed = pool.place(&SMALL, &[]).unwrap();
        assert_eq!((placed.index, pool.health(0)), (0, Health::Waking));
    }

    #[test]
    fn powersave_reports_a_node_idle_past_the_threshold() {
        let urls = ["http://127.0.0.1:1/nc".to_owned()];
        let policy_pool = |policy| {
            NodePool::new(
                &urls,
                &Security::unsecured(),
                policy,
                Duration::ZERO,
                Duration::from_secs(1),
            )
            .unwrap()
        };
        let pool = policy_pool(Policy::PowerSave);
        let free = report(2048, 11, 8);
        assert!(pool.finish_poll(pool.begin_poll(0).unwrap(), &free, 0));
        assert!(!pool.finish_poll(pool.begin_poll(0).unwrap(), &free, 1));
        let pool = policy_pool(Policy::Greedy);
        assert!(!pool.finish_poll(pool.begin_poll(0).unwrap(), &free, 0));
    }
}

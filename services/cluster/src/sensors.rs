//! The instances' sensors, gathered from the nodes: after a node's poll the cluster asks it
//! (ncDescribeSensors, EucalyptusNCSensors) for the samples taken since it last asked, once
//! per sample interval the node reports, and keeps the last [`KEPT_VALUES`] of each instance's
//! series. `DescribeSensors` (EucalyptusCCSensors) answers from that cache; the samples of an
//! instance its node no longer reports go.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use soap::{ClientError, Fault, HttpTransport, RequestContext, Security};
use tracing::debug;
use wire::cc_sensors::{
    DescribeSensorsResponseType, DescribeSensorsType, EucalyptusCcSensors, MetricCounterType,
    MetricDimensionsType, MetricDimensionsValuesType, MetricsResourceType, SensorsResourceType,
};
use wire::nc_sensors::{self, EucalyptusNcSensorsClient, NcDescribeSensorsType};

use crate::nodes::POLL_DEADLINE;

/// Values kept per series (the node keeps as many).
pub const KEPT_VALUES: usize = 30;
/// The identity the cluster asks its nodes as.
const CLUSTER_USER: &str = "eucalyptus";

type SensorsClient = EucalyptusNcSensorsClient<HttpTransport>;

/// One node's sensors client and when it last answered.
#[derive(Debug)]
struct Node {
    url: String,
    client: SensorsClient,
    /// When it last answered, and the sample interval it reported then.
    last: Mutex<Option<(Instant, Duration)>>,
}

/// The samples gathered from the cluster's nodes.
#[derive(Debug)]
pub struct Sensors {
    /// What the nodes are asked with.
    security: Security,
    /// Each node's client by its index in the pool, made when it is first asked (a node
    /// registered while the cluster runs joins the pool later).
    nodes: Mutex<HashMap<usize, Arc<Node>>>,
    /// Each instance's series, with the index of the node that reported them.
    cache: Mutex<HashMap<String, (usize, SensorsResourceType)>>,
}

impl Sensors {
    /// Sensors of the pool's nodes, asked with `security`.
    pub fn new(security: &Security) -> Self {
        Self {
            security: security.clone(),
            nodes: Mutex::default(),
            cache: Mutex::default(),
        }
    }

    /// Node `index`'s sensors client, whose service is beside `node_url`'s (its
    /// EucalyptusNC URL).
    fn node(&self, index: usize, node_url: &str) -> Result<Arc<Node>, ClientError> {
        let mut nodes = self.nodes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(node) = nodes.get(&index) {
            return Ok(Arc::clone(node));
        }
        let url = kit::service_beside(node_url, nc_sensors::SERVICE_PATH);
        let transport = HttpTransport::builder(url.clone(), self.security.clone())
            .connect_timeout(POLL_DEADLINE)
            .request_timeout(POLL_DEADLINE)
            .limits(kit::INSTANCE_LIST_LIMITS)
            .build()?;
        let node = Arc::new(Node {
            url,
            client: EucalyptusNcSensorsClient::new(transport),
            last: Mutex::new(None),
        });
        nodes.insert(index, Arc::clone(&node));
        Ok(node)
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<String, (usize, SensorsResourceType)>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks node `index` for what it sampled since it last answered, if a sample interval
    /// has passed since, and merges it into the cache. A node that does not answer keeps its
    /// instances' series until it does.
    pub async fn gather(&self, index: usize, node_url: &str) {
        let node = match self.node(index, node_url) {
            Ok(node) => node,
            Err(e) => {
                debug!(node = %node_url, error = %e, "cannot ask the node's sensors");
                return;
            }
        };
        let last = *node.last.lock().unwrap_or_else(PoisonError::into_inner);
        let history = match last {
            Some((at, interval)) if at.elapsed() < interval => return,
            // One more than were taken meanwhile, so that the series meet.
            Some((at, interval)) => (samples_in(at.elapsed(), interval) + 1).min(KEPT_VALUES),
            // The newest two: enough for an interval, little to read from a busy node.
            None => 2,
        };
        let ask = NcDescribeSensorsType {
            user_id: Some(CLUSTER_USER.to_owned()),
            history_size: Some(i32::try_from(history).unwrap_or(i32::MAX)),
            ..NcDescribeSensorsType::default()
        };
        let asked = Instant::now();
        let answer = match node.client.nc_describe_sensors(&ask).await {
            Ok(answer) => answer,
            Err(e) => {
                debug!(node = %node.url, error = %e, "cannot gather the node's sensors");
                return;
            }
        };
        let resources: Vec<SensorsResourceType> = answer
            .sensors_resources
            .into_iter()
            .map(from_node)
            .collect();
        let interval = wire::sensors::sample_interval(&resources);
        *node.last.lock().unwrap_or_else(PoisonError::into_inner) = Some((asked, interval));
        self.take_in(index, resources);
    }

    /// Merges what node `index` reported into the cache; the instances it reported before
    /// and no longer does go.
    fn take_in(&self, index: usize, resources: Vec<SensorsResourceType>) {
        let mut cache = self.cache();
        let (mut before, others): (HashMap<_, _>, HashMap<_, _>) = std::mem::take(&mut *cache)
            .into_iter()
            .partition(|(_, (from, _))| *from == index);
        *cache = others;
        for incoming in resources {
            let id = incoming.resource_name.clone();
            let merged = match before.remove(&id) {
                Some((_, mut kept)) => {
                    merge(&mut kept, incoming);
                    kept
                }
                None => incoming,
            };
            cache.insert(id, (index, merged));
        }
    }

    /// The cached series of the instances `ids` names (all when empty), the last `history`
    /// values of each (all kept when 0), in the order of their ids.
    pub fn describe(&self, ids: &[String], history: usize) -> Vec<SensorsResourceType> {
        let cache = self.cache();
        let mut chosen: Vec<&SensorsResourceType> = cache
            .iter()
            .filter(|(id, _)| ids.is_empty() || ids.contains(id))
            .map(|(_, (_, resource))| resource)
            .collect();
        chosen.sort_by(|a, b| a.resource_name.cmp(&b.resource_name));
        chosen
            .into_iter()
            .map(|resource| {
                let mut resource = resource.clone();
                for dimension in dimensions_mut(&mut resource) {
                    keep_last(dimension, history);
                }
                resource
            })
            .collect()
    }
}

/// How many samples taken every `interval` fit in `elapsed`, at most [`KEPT_VALUES`].
fn samples_in(elapsed: Duration, interval: Duration) -> usize {
    if interval.is_zero() {
        return KEPT_VALUES;
    }
    let count = elapsed.as_millis().div_ceil(interval.as_millis());
    usize::try_from(count).map_or(KEPT_VALUES, |n| n.min(KEPT_VALUES))
}

/// Keeps the last `n` values of `dimension` (all when 0), its sequence number following.
fn keep_last(dimension: &mut MetricDimensionsType, n: usize) {
    let drop = match n {
        0 => 0,
        n => dimension.values.len().saturating_sub(n),
    };
    dimension.values.drain(..drop);
    dimension.sequence_num += i64::try_from(drop).unwrap_or(0);
}

fn dimensions_mut(
    resource: &mut SensorsResourceType,
) -> impl Iterator<Item = &mut MetricDimensionsType> {
    resource
        .metrics
        .iter_mut()
        .flat_map(|m| &mut m.counters)
        .flat_map(|c| &mut c.dimensions)
}

/// Merges what a node just reported of an instance into what was kept of it: each of its
/// series continues the kept one when their sequence numbers meet or overlap, and replaces
/// it otherwise (the node restarted, or samples were missed). Series the node no longer
/// reports (a device gone) go.
fn merge(kept: &mut SensorsResourceType, mut incoming: SensorsResourceType) {
    for metric in &mut incoming.metrics {
        for counter in &mut metric.counters {
            for dimension in &mut counter.dimensions {
                let old = kept
                    .metrics
                    .iter()
                    .filter(|m| m.metric_name == metric.metric_name)
                    .flat_map(|m| &m.counters)
                    .filter(|c| c.r#type == counter.r#type)
                    .flat_map(|c| &c.dimensions)
                    .find(|d| d.dimension_name == dimension.dimension_name);
                if let Some(old) = old {
                    *dimension = continued(old, std::mem::take(dimension));
                }
                keep_last(dimension, KEPT_VALUES);
            }
        }
    }
    *kept = incoming;
}

/// `old` followed by the values of `new` past its end, when `new` starts within `old` or
/// right after it; else `new` alone.
fn continued(old: &MetricDimensionsType, new: MetricDimensionsType) -> MetricDimensionsType {
    let old_end = old.sequence_num + i64::try_from(old.values.len()).unwrap_or(0);
    let new_end = new.sequence_num + i64::try_from(new.values.len()).unwrap_or(0);
    if new.sequence_num < old.sequence_num || new.sequence_num > old_end || new_end < old_end {
        return new;
    }
    let skip = usize::try_from(old_end - new.sequence_num).unwrap_or(0);
    let mut values = old.values.clone();
    values.extend(new.values.into_iter().skip(skip));
    MetricDimensionsType {
        dimension_name: new.dimension_name,
        sequence_num: old.sequence_num,
        values,
    }
}

/// A node's report, in the cluster's own service's types (the same schema).
fn from_node(resource: nc_sensors::SensorsResourceType) -> SensorsResourceType {
    SensorsResourceType {
        resource_name: resource.resource_name,
        resource_type: resource.resource_type,
        resource_uuid: resource.resource_uuid,
        metrics: resource
            .metrics
            .into_iter()
            .map(|m| MetricsResourceType {
                metric_name: m.metric_name,
                counters: m
                    .counters
                    .into_iter()
                    .map(|c| MetricCounterType {
                        r#type: c.r#type,
                        collection_interval_ms: c.collection_interval_ms,
                        dimensions: c
                            .dimensions
                            .into_iter()
                            .map(|d| MetricDimensionsType {
                                dimension_name: d.dimension_name,
                                sequence_num: d.sequence_num,
                                values: d
                                    .values
                                    .into_iter()
                                    .map(|v| MetricDimensionsValuesType {
                                        timestamp: v.timestamp,
                                        value: v.value,
                                    })
                                    .collect(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The EucalyptusCCSensors service of one cluster.
#[derive(Debug, Clone)]
pub struct SensorsService {
    sensors: Arc<Sensors>,
}

impl SensorsService {
    pub fn new(sensors: Arc<Sensors>) -> Self {
        Self { sensors }
    }
}

impl EucalyptusCcSensors for SensorsService {
    async fn describe_sensors(
        &self,
        request: DescribeSensorsType,
        _context: RequestContext,
    ) -> Result<DescribeSensorsResponseType, Fault> {
        let history = usize::try_from(request.history_size.unwrap_or(0)).unwrap_or(0);
        Ok(DescribeSensorsResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            status_message: None,
            r#return: Some(true),
            sensors_resources: self.sensors.describe(&request.instance_ids, history),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use xmlbind::DateTime;

    fn series(first: i64, values: &[f64]) -> MetricDimensionsType {
        MetricDimensionsType {
            dimension_name: "default".to_owned(),
            sequence_num: first,
            values: values
                .iter()
                .zip(first..)
                .map(|(v, at)| MetricDimensionsValuesType {
                    timestamp: DateTime::from_unix(at),
                    value: Some(*v),
                })
                .collect(),
        }
    }

    fn resource(dimension: MetricDimensionsType) -> SensorsResourceType {
        SensorsResourceType {
            resource_name: "i-1".to_owned(),
            resource_type: "instance".to_owned(),
            resource_uuid: None,
            metrics: vec![MetricsResourceType {
                metric_name: "CPUUtilization".to_owned(),
                counters: vec![MetricCounterType {
                    r#type: "summation".to_owned(),
                    collection_interval_ms: 1000,
                    dimensions: vec![dimension],
                }],
            }],
        }
    }

    fn merged(old: MetricDimensionsType, new: MetricDimensionsType) -> MetricDimensionsType {
        let mut kept = resource(old);
        merge(&mut kept, resource(new));
        kept.metrics[0].counters[0].dimensions[0].clone()
    }

    #[test]
    fn overlapping_reports_continue_the_series() {
        assert_eq!(
            merged(
                series(5, &[1.0, 2.0, 3.0]),
                series(6, &[2.0, 3.0, 4.0, 5.0])
            ),
            series(5, &[1.0, 2.0, 3.0, 4.0, 5.0])
        );
        // Right after the end, and nothing new.
        assert_eq!(
            merged(series(5, &[1.0]), series(6, &[2.0])),
            series(5, &[1.0, 2.0])
        );
        assert_eq!(
            merged(series(5, &[1.0, 2.0]), series(6, &[2.0])),
            series(5, &[1.0, 2.0])
        );
    }

    #[test]
    fn a_restarted_node_or_a_gap_starts_the_series_again() {
        assert_eq!(
            merged(series(40, &[1.0, 2.0]), series(0, &[7.0])),
            series(0, &[7.0])
        );
        assert_eq!(
            merged(series(5, &[1.0, 2.0]), series(9, &[7.0])),
            series(9, &[7.0])
        );
    }

    #[test]
    fn series_keep_their_last_values() {
        let long: Vec<f64> = (0..40).map(f64::from).collect();
        let kept = merged(series(0, &long[..20]), series(10, &long[10..]));
        assert_eq!(kept.values.len(), KEPT_VALUES);
        assert_eq!(kept.sequence_num, 10);
        let mut last = kept.clone();
        keep_last(&mut last, 2);
        assert_eq!(last, series(38, &[38.0, 39.0]));
    }

    /// Guards against each report replacing what the cluster kept of its node's instances.
    #[test]
    fn a_node_s_reports_add_up_and_its_ended_instances_go() {
        let sensors = Sensors::new(&Security::unsecured());
        let named = |name: &str, dimension| SensorsResourceType {
            resource_name: name.to_owned(),
            ..resource(dimension)
        };
        sensors.take_in(
            0,
            vec![
                named("i-1", series(0, &[1.0, 2.0])),
                named("i-2", series(0, &[5.0])),
            ],
        );
        sensors.take_in(1, vec![named("i-3", series(0, &[9.0]))]);
        sensors.take_in(0, vec![named("i-1", series(1, &[2.0, 3.0]))]);
        let kept = sensors.describe(&[], 0);
        let names: Vec<&str> = kept.iter().map(|r| r.resource_name.as_str()).collect();
        assert_eq!(names, ["i-1", "i-3"]);
        assert_eq!(
            kept[0].metrics[0].counters[0].dimensions[0],
            series(0, &[1.0, 2.0, 3.0])
        );
        let last = sensors.describe(&["i-1".to_owned()], 1);
        assert_eq!(
            last[0].metrics[0].counters[0].dimensions[0],
            series(2, &[3.0])
        );
    }

    #[test]
    fn the_history_asked_covers_the_time_since_the_last_answer() {
        let second = Duration::from_secs(1);
        assert_eq!(samples_in(Duration::from_millis(2500), second), 3);
        assert_eq!(samples_in(Duration::from_secs(3600), second), KEPT_VALUES);
        assert_eq!(samples_in(second, Duration::ZERO), KEPT_VALUES);
    }
}

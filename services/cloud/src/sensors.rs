//! The instances' monitoring samples, gathered by a task of their own beside the tick
//! ([`spawn`]): every tick period, each registered cluster is asked (DescribeSensors,
//! EucalyptusCCSensors) for the samples its nodes took since the cloud last asked, once per
//! sample interval the nodes report; between two samples of an instance, its cumulative
//! counters become the values of that interval ([`intervals`]): CPU as a percentage of the
//! instance's vCPUs (its VM type's cores), bytes as the count over the interval, summed over
//! its disks or interfaces. A counter that went down was reset (the domain restarted) and
//! counts from zero; so does a device that appeared. They are recorded with
//! [`Cloud::record_samples`]. What the cloud last took in of each instance is kept by the
//! task ([`Readings`]): after a restart, an instance's first sample only starts its
//! intervals again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use soap::HttpTransport;
use wire::cc_sensors::{self, DescribeSensorsType, EucalyptusCcSensorsClient, SensorsResourceType};

use crate::monitoring::{Metric, Sample};
use crate::ops::{Cloud, CLOUD_USER, CLUSTER_DEADLINE};
use crate::store::{Cluster, VmType};

/// The counter type of cumulative values (CPUUtilization's are CPU nanoseconds, the other
/// metrics' bytes).
const SUMMATION: &str = "summation";
/// Samples asked of a cluster at most (its nodes keep 30).
const MOST_SAMPLES: usize = 30;

/// An instance's counters at one moment: each metric's value per device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    pub counters: BTreeMap<(Metric, String), f64>,
}

/// The readings of `resource`, oldest first, one per timestamp its values carry.
pub fn readings(resource: &SensorsResourceType) -> Vec<Reading> {
    let mut by_time: BTreeMap<i64, Reading> = BTreeMap::new();
    for metric in &resource.metrics {
        let Some(which) = Metric::ALL
            .into_iter()
            .find(|m| m.name() == metric.metric_name)
        else {
            continue;
        };
        let counters = metric.counters.iter().filter(|c| c.r#type == SUMMATION);
        for dimension in counters.flat_map(|c| &c.dimensions) {
            for value in &dimension.values {
                let Some(v) = value.value.filter(|v| v.is_finite() && *v >= 0.0) else {
                    continue;
                };
                let at_ms = value.timestamp.unix_millis();
                by_time
                    .entry(at_ms)
                    .or_insert_with(|| Reading {
                        at_ms,
                        counters: BTreeMap::new(),
                    })
                    .counters
                    .insert((which, dimension.dimension_name.clone()), v);
            }
        }
    }
    by_time.into_values().collect()
}

/// The samples of `instance` for the intervals between `previous` (what was taken in last,
/// if anything) and each of `readings` newer than it, oldest first; and the newest reading,
/// to start from next time. CPU time is spread over `vcpus`.
pub fn intervals(
    instance: &str,
    vcpus: u32,
    previous: Option<Reading>,
    readings: Vec<Reading>,
) -> (Vec<Sample>, Option<Reading>) {
    let mut samples = Vec::new();
    let mut last = previous;
    for reading in readings {
        let Some(before) = last.as_ref() else {
            last = Some(reading);
            continue;
        };
        if reading.at_ms <= before.at_ms {
            continue;
        }
        let elapsed_ms = (reading.at_ms - before.at_ms) as f64;
        let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(reading.at_ms).unwrap_or(0));
        for metric in Metric::ALL {
            let mut devices = reading
                .counters
                .iter()
                .filter(|((m, _), _)| *m == metric)
                .peekable();
            if devices.peek().is_none() {
                continue;
            }
            let delta: f64 = devices
                .map(|(device, now)| match before.counters.get(device) {
                    Some(then) if now >= then => now - then,
                    _ => *now,
                })
                .sum();
            let value = match metric {
                Metric::CpuUtilization => {
                    let available_ns = elapsed_ms * 1e6 * f64::from(vcpus.max(1));
                    (delta / available_ns * 100.0).clamp(0.0, 100.0)
                }
                _ => delta,
            };
            samples.push(Sample {
                instance: instance.to_owned(),
                metric,
                at,
                value,
            });
        }
        last = Some(reading);
    }
    (samples, last)
}

/// What the cloud last took in: each instance's newest reading (with its cluster), and when
/// each cluster last answered, with the sample interval its nodes reported then.
#[derive(Debug, Default)]
pub struct Readings {
    instances: HashMap<String, (String, Reading)>,
    clusters: HashMap<String, (Instant, Duration)>,
}

/// Gathers the clusters' samples every `every`, for as long as the returned task is not
/// aborted; a round that takes longer is followed by a rest as long as it took, as the
/// tick's are.
pub fn spawn(cloud: Arc<Cloud>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen = Readings::default();
        loop {
            let started = tokio::time::Instant::now();
            round(&cloud, &mut seen).await;
            let took = started.elapsed();
            tokio::time::sleep(every.saturating_sub(took).max(took)).await;
        }
    })
}

/// Asks each registered cluster, one after the other, for its samples.
async fn round(cloud: &Cloud, seen: &mut Readings) {
    let (clusters, types) = match tokio::try_join!(cloud.store.clusters(), cloud.store.vm_types()) {
        Ok(read) => read,
        Err(e) => {
            tracing::warn!(error = %e, "sensors: cannot read the registered clusters and VM types");
            return;
        }
    };
    for cluster in &clusters {
        gather(cloud, seen, cluster, &types).await;
    }
}

/// How many samples to ask for when the cluster last answered at `at` with samples taken
/// every `interval`: twice those taken since, as the cluster gathers them at its own polls
/// and so may have just taken in a batch of older ones, and one more, so that the intervals
/// meet. A sample missed all the same only makes the next interval longer: sums stay exact.
fn history(last: Option<(Instant, Duration)>) -> usize {
    match last {
        Some((at, interval)) if !interval.is_zero() => {
            let taken = at.elapsed().as_millis().div_ceil(interval.as_millis());
            usize::try_from(taken).map_or(MOST_SAMPLES, |n| (2 * n + 1).min(MOST_SAMPLES))
        }
        // The newest two: enough for an interval, little to read from a busy cluster.
        _ => 2,
    }
}

/// Asks `cluster` for its instances' samples, if a sample interval has passed since it
/// last answered, and records their intervals. A cluster that does not answer is asked
/// again at the next round, for more.
async fn gather(cloud: &Cloud, seen: &mut Readings, cluster: &Cluster, types: &[VmType]) {
    let last = seen.clusters.get(&cluster.name).copied();
    if last.is_some_and(|(at, interval)| at.elapsed() < interval) {
        return;
    }
    let ask = DescribeSensorsType {
        user_id: Some(CLOUD_USER.into()),
        history_size: Some(i32::try_from(history(last)).unwrap_or(i32::MAX)),
        ..DescribeSensorsType::default()
    };
    let asked = Instant::now();
    let answer = match client(&cluster.url, &cloud.clusters) {
        Ok(client) => client.describe_sensors(&ask).await,
        Err(e) => Err(e),
    };
    let resources = match answer {
        Ok(answer) => answer.sensors_resources,
        Err(e) => {
            tracing::debug!(cluster = %cluster.name, error = %e, "cluster did not answer DescribeSensors");
            return;
        }
    };
    let interval = wire::sensors::sample_interval(&resources);
    seen.clusters
        .insert(cluster.name.clone(), (asked, interval));
    let known = match cloud.store.live_instances(&cluster.name).await {
        Ok(known) => known,
        Err(e) => {
            tracing::warn!(cluster = %cluster.name, error = %e, "sensors: cannot read the cluster's instances");
            return;
        }
    };
    // Instances the cloud does not know have no owner to show their samples to.
    let vcpus: HashMap<&str, u32> = known
        .iter()
        .map(|i| {
            let cores = types
                .iter()
                .find(|t| t.name == i.vm_type)
                .map_or(1, |t| t.cores);
            (i.id.as_str(), cores)
        })
        .collect();
    let mut samples = Vec::new();
    {
        let kept = &mut seen.instances;
        for resource in &resources {
            let id = resource.resource_name.as_str();
            let Some(&cores) = vcpus.get(id) else {
                continue;
            };
            let previous = kept.remove(id).map(|(_, reading)| reading);
            let (new, newest) = intervals(id, cores, previous, readings(resource));
            samples.extend(new);
            if let Some(newest) = newest {
                kept.insert(id.to_owned(), (cluster.name.clone(), newest));
            }
        }
        // The instances of this cluster that ended go.
        kept.retain(|id, (on, _)| *on != cluster.name || vcpus.contains_key(id.as_str()));
    }
    if let Err(e) = cloud.record_samples(samples).await {
        tracing::warn!(cluster = %cluster.name, error = %e, "sensors: cannot record the instances' samples");
    }
}

fn client(
    cluster_url: &str,
    security: &soap::Security,
) -> Result<EucalyptusCcSensorsClient<HttpTransport>, soap::ClientError> {
    let transport = HttpTransport::builder(
        kit::service_beside(cluster_url, cc_sensors::SERVICE_PATH),
        security.clone(),
    )
    .connect_timeout(CLUSTER_DEADLINE)
    .request_timeout(CLUSTER_DEADLINE)
    // Every instance of the cluster, a few samples of each.
    .limits(kit::INSTANCE_LIST_LIMITS)
    .build()?;
    Ok(EucalyptusCcSensorsClient::new(transport))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use wire::cc_sensors::{
        MetricCounterType, MetricDimensionsType, MetricDimensionsValuesType, MetricsResourceType,
    };
    use xmlbind::{DateTime, XmlText};

    /// A device's values: `(at_ms, value)`.
    type Device<'a> = (&'a str, &'a [(i64, f64)]);

    /// A resource with these metrics, each with one dimension per device.
    fn resource(metrics: &[(&str, &[Device])]) -> SensorsResourceType {
        SensorsResourceType {
            resource_name: "i-1".to_owned(),
            resource_type: "instance".to_owned(),
            resource_uuid: None,
            metrics: metrics
                .iter()
                .map(|(name, devices)| MetricsResourceType {
                    metric_name: (*name).to_owned(),
                    counters: vec![MetricCounterType {
                        r#type: "summation".to_owned(),
                        collection_interval_ms: 10_000,
                        dimensions: devices
                            .iter()
                            .map(|(device, values)| MetricDimensionsType {
                                dimension_name: (*device).to_owned(),
                                sequence_num: 0,
                                values: values
                                    .iter()
                                    .map(|(at_ms, value)| MetricDimensionsValuesType {
                                        timestamp: DateTime::from_text(&kit::time::iso8601_millis(
                                            *at_ms,
                                        ))
                                        .unwrap(),
                                        value: Some(*value),
                                    })
                                    .collect(),
                            })
                            .collect(),
                    }],
                })
                .collect(),
        }
    }

    /// The samples of `metric`, as (milliseconds since the epoch, value).
    fn values_of(samples: &[Sample], metric: Metric) -> Vec<(i64, f64)> {
        samples
            .iter()
            .filter(|s| s.metric == metric && s.instance == "i-1")
            .map(|s| {
                let at = s.at.duration_since(UNIX_EPOCH).unwrap().as_millis();
                (i64::try_from(at).unwrap(), s.value)
            })
            .collect()
    }

    #[test]
    fn cpu_time_becomes_a_percentage_of_the_vcpus() {
        // Two vCPUs, 10 s apart: 5 s of CPU is 25%, then 20 s is 100%.
        let r = resource(&[(
            "CPUUtilization",
            &[("default", &[(1_000, 1e9), (11_000, 6e9), (21_000, 26e9)])],
        )]);
        let (values, newest) = intervals("i-1", 2, None, readings(&r));
        assert_eq!(
            values_of(&values, Metric::CpuUtilization),
            [(11_000, 25.0), (21_000, 100.0)]
        );
        assert_eq!(newest.unwrap().at_ms, 21_000);
    }

    #[test]
    fn bytes_are_summed_over_devices_per_interval() {
        let r = resource(&[(
            "DiskReadBytes",
            &[
                ("vda", &[(0, 100.0), (500, 300.0)]),
                ("vdb", &[(0, 10.0), (500, 15.0)]),
            ],
        )]);
        let (values, _) = intervals("i-1", 1, None, readings(&r));
        assert_eq!(values_of(&values, Metric::DiskReadBytes), [(500, 205.0)]);
        assert!(values_of(&values, Metric::NetworkIn).is_empty());
    }

    #[test]
    fn what_was_taken_in_before_is_not_counted_again() {
        let r = resource(&[(
            "NetworkIn",
            &[("eth0", &[(0, 100.0), (1_000, 150.0), (2_000, 170.0)])],
        )]);
        let (first, newest) = intervals("i-1", 1, None, readings(&r));
        assert_eq!(
            values_of(&first, Metric::NetworkIn),
            [(1_000, 50.0), (2_000, 20.0)]
        );
        // The next answer repeats the newest sample and adds one.
        let r = resource(&[("NetworkIn", &[("eth0", &[(2_000, 170.0), (3_000, 171.0)])])]);
        let (next, newest) = intervals("i-1", 1, newest, readings(&r));
        assert_eq!(values_of(&next, Metric::NetworkIn), [(3_000, 1.0)]);
        assert_eq!(newest.unwrap().at_ms, 3_000);
    }

    #[test]
    fn resets_and_new_devices_count_from_zero() {
        let r = resource(&[
            (
                "CPUUtilization",
                &[("default", &[(0, 50e9), (10_000, 2e9)])],
            ),
            (
                "DiskWriteBytes",
                &[
                    ("vda", &[(0, 1_000.0), (10_000, 1_500.0)]),
                    ("sdb", &[(10_000, 64.0)]),
                ],
            ),
        ]);
        let (values, _) = intervals("i-1", 1, None, readings(&r));
        assert_eq!(values_of(&values, Metric::CpuUtilization), [(10_000, 20.0)]);
        assert_eq!(
            values_of(&values, Metric::DiskWriteBytes),
            [(10_000, 564.0)]
        );
    }

    #[test]
    fn the_history_asked_covers_the_time_since_the_last_answer() {
        assert_eq!(history(None), 2);
        let long_ago = Instant::now() - Duration::from_secs(3600);
        assert_eq!(
            history(Some((long_ago, Duration::from_secs(20)))),
            MOST_SAMPLES
        );
        let just_now = Instant::now() - Duration::from_millis(2500);
        assert_eq!(history(Some((just_now, Duration::from_secs(1)))), 7);
    }

    #[test]
    fn one_reading_alone_is_no_interval_and_odd_values_are_left_out() {
        let r = resource(&[
            ("CPUUtilization", &[("default", &[(0, 1e9)])]),
            ("MemoryUsed", &[("default", &[(0, 5.0), (10, 6.0)])]),
            ("NetworkOut", &[("eth0", &[(0, f64::NAN), (10, -1.0)])]),
        ]);
        let (values, newest) = intervals("i-1", 1, None, readings(&r));
        assert!(values.is_empty(), "{values:?}");
        assert_eq!(newest.unwrap().counters.len(), 1);
    }
}

//! The instances' sensors: every sample interval the node reads each running instance's
//! cumulative counters from the hypervisor (CPU time; bytes read and written per disk,
//! received and sent per interface) and keeps the last [`KEPT_SAMPLES`] of each instance,
//! which `ncDescribeSensors` (EucalyptusNCSensors, `wsdl/eucalyptus_nc_sensors.wsdl`,
//! answered in `handlers`) reports. An instance's samples go when it stops running.

use std::collections::{HashMap, VecDeque};
use std::f64::consts::TAU;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use wire::nc_sensors::{
    MetricCounterType, MetricDimensionsType, MetricDimensionsValuesType, MetricsResourceType,
    SensorsResourceType,
};
use xmlbind::{DateTime, XmlText};

/// Samples kept per instance: ten minutes at the default interval of 20 s.
pub const KEPT_SAMPLES: usize = 30;
/// The counter type of cumulative values, as Eucalyptus 3 named it.
const SUMMATION: &str = "summation";
/// The one dimension of a metric that is not per device.
const DEFAULT_DIMENSION: &str = "default";

/// A device's two byte counters: read and written (a disk), received and sent (an interface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCounters {
    pub name: String,
    pub bytes: [u64; 2],
}

/// A domain's cumulative counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// CPU time used by all its vCPUs, in nanoseconds.
    pub cpu_ns: u64,
    pub disks: Vec<DeviceCounters>,
    pub interfaces: Vec<DeviceCounters>,
}

impl Counters {
    /// What the test driver's domains report, `elapsed_ms` after their launch: a load that
    /// swings between 15% and 85% of the vCPUs over five minutes, and bytes rising at steady
    /// rates, so that charts have something to draw.
    pub fn synthetic(elapsed_ms: i64, vcpus: u32) -> Self {
        const PERIOD_S: f64 = 300.0;
        let t = elapsed_ms.max(0) as f64 / 1000.0;
        // The integral of 0.5 + 0.35 sin(2πt/P) from 0 to t.
        let busy = 0.5 * t + 0.35 * PERIOD_S / TAU * (1.0 - (TAU * t / PERIOD_S).cos());
        let bytes = |per_second: f64| (per_second * t) as u64;
        Self {
            cpu_ns: (busy * f64::from(vcpus) * 1e9) as u64,
            disks: vec![DeviceCounters {
                name: "vda".to_owned(),
                bytes: [bytes(64.0 * 1024.0), bytes(16.0 * 1024.0)],
            }],
            interfaces: vec![DeviceCounters {
                name: "eth0".to_owned(),
                bytes: [bytes(8.0 * 1024.0), bytes(4.0 * 1024.0)],
            }],
        }
    }
}

/// One metric on the wire and where its values come from.
struct Metric {
    name: &'static str,
    values: fn(&Counters) -> Vec<(&str, u64)>,
}

/// The metrics reported, named as CloudWatch's AWS/EC2 names them; CPUUtilization's values
/// are CPU nanoseconds, which the cloud turns into percentages.
const METRICS: [Metric; 5] = [
    Metric {
        name: "CPUUtilization",
        values: |c| vec![(DEFAULT_DIMENSION, c.cpu_ns)],
    },
    Metric {
        name: "DiskReadBytes",
        values: |c| device_values(&c.disks, 0),
    },
    Metric {
        name: "DiskWriteBytes",
        values: |c| device_values(&c.disks, 1),
    },
    Metric {
        name: "NetworkIn",
        values: |c| device_values(&c.interfaces, 0),
    },
    Metric {
        name: "NetworkOut",
        values: |c| device_values(&c.interfaces, 1),
    },
];

fn device_values(devices: &[DeviceCounters], which: usize) -> Vec<(&str, u64)> {
    devices
        .iter()
        .map(|d| (d.name.as_str(), d.bytes[which]))
        .collect()
}

#[derive(Debug)]
struct Sample {
    sequence: i64,
    at_ms: i64,
    counters: Counters,
}

#[derive(Debug, Default)]
struct Ring {
    next_sequence: i64,
    samples: VecDeque<Sample>,
}

/// The samples kept of each running instance.
#[derive(Debug)]
pub struct Sensors {
    interval: Duration,
    rings: Mutex<HashMap<String, Ring>>,
}

impl Sensors {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            rings: Mutex::default(),
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn rings(&self) -> MutexGuard<'_, HashMap<String, Ring>> {
        self.rings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `counters`, read at `at_ms` (milliseconds since the epoch), as the instance's
    /// newest sample, dropping its oldest past [`KEPT_SAMPLES`].
    pub fn record(&self, id: &str, at_ms: i64, counters: Counters) {
        let mut rings = self.rings();
        let ring = rings.entry(id.to_owned()).or_default();
        if ring.samples.len() == KEPT_SAMPLES {
            ring.samples.pop_front();
        }
        ring.samples.push_back(Sample {
            sequence: ring.next_sequence,
            at_ms,
            counters,
        });
        ring.next_sequence += 1;
    }

    /// Drops the samples of every instance `keep` refuses.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.rings().retain(|id, _| keep(id));
    }

    /// The instances `ids` names (all when empty), each with its last `history` samples (all
    /// kept when 0), in the order of their ids.
    pub fn resources(&self, ids: &[String], history: usize) -> Vec<SensorsResourceType> {
        let rings = self.rings();
        let mut chosen: Vec<(&String, &Ring)> = rings
            .iter()
            .filter(|(id, _)| ids.is_empty() || ids.contains(id))
            .collect();
        chosen.sort_by_key(|(id, _)| *id);
        let interval_ms = i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX);
        chosen
            .into_iter()
            .map(|(id, ring)| {
                let skip = match history {
                    0 => 0,
                    n => ring.samples.len().saturating_sub(n),
                };
                let samples: Vec<&Sample> = ring.samples.iter().skip(skip).collect();
                resource(id, &samples, interval_ms)
            })
            .collect()
    }
}

/// The wire form of one instance's samples, oldest first.
fn resource(id: &str, samples: &[&Sample], interval_ms: i64) -> SensorsResourceType {
    let metrics = METRICS
        .iter()
        .map(|metric| MetricsResourceType {
            metric_name: metric.name.to_owned(),
            counters: vec![MetricCounterType {
                r#type: SUMMATION.to_owned(),
                collection_interval_ms: interval_ms,
                dimensions: dimensions(samples, metric.values),
            }],
        })
        .collect();
    SensorsResourceType {
        resource_name: id.to_owned(),
        resource_type: "instance".to_owned(),
        resource_uuid: None,
        metrics,
    }
}

/// One dimension per device of the newest sample, holding the run of samples, up to the
/// newest, in which the device was there, so that sequence numbers follow one another.
fn dimensions(
    samples: &[&Sample],
    values: fn(&Counters) -> Vec<(&str, u64)>,
) -> Vec<MetricDimensionsType> {
    let Some(newest) = samples.last() else {
        return Vec::new();
    };
    let per_sample: Vec<Vec<(&str, u64)>> = samples.iter().map(|s| values(&s.counters)).collect();
    let value_of = |index: usize, device: &str| {
        per_sample[index]
            .iter()
            .find(|(name, _)| *name == device)
            .map(|(_, value)| *value)
    };
    values(&newest.counters)
        .into_iter()
        .map(|(device, _)| {
            let first = (0..samples.len())
                .rev()
                .take_while(|&i| value_of(i, device).is_some())
                .last()
                .unwrap_or(samples.len() - 1);
            MetricDimensionsType {
                dimension_name: device.to_owned(),
                sequence_num: samples[first].sequence,
                values: (first..samples.len())
                    .filter_map(|i| {
                        Some(MetricDimensionsValuesType {
                            timestamp: timestamp(samples[i].at_ms),
                            value: Some(value_of(i, device)? as f64),
                        })
                    })
                    .collect(),
            }
        })
        .collect()
}

/// `xs:dateTime` with milliseconds.
fn timestamp(at_ms: i64) -> DateTime {
    DateTime::from_text(&kit::time::iso8601_millis(at_ms))
        .unwrap_or_else(|_| DateTime::from_unix(at_ms.div_euclid(1000)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn counters(cpu_ns: u64, disks: &[(&str, u64)]) -> Counters {
        Counters {
            cpu_ns,
            disks: disks
                .iter()
                .map(|(name, bytes)| DeviceCounters {
                    name: (*name).to_owned(),
                    bytes: [*bytes, bytes * 2],
                })
                .collect(),
            interfaces: Vec::new(),
        }
    }

    fn metric<'a>(resource: &'a SensorsResourceType, name: &str) -> &'a MetricCounterType {
        let metric = resource
            .metrics
            .iter()
            .find(|m| m.metric_name == name)
            .unwrap();
        &metric.counters[0]
    }

    fn values(dimension: &MetricDimensionsType) -> Vec<f64> {
        dimension.values.iter().map(|v| v.value.unwrap()).collect()
    }

    #[test]
    fn rings_keep_the_newest_samples_in_order() {
        let sensors = Sensors::new(Duration::from_secs(20));
        for i in 0..(KEPT_SAMPLES as u64 + 5) {
            sensors.record("i-1", 1_000_000 + i as i64 * 20_000, counters(i * 10, &[]));
        }
        let all = sensors.resources(&[], 0);
        assert_eq!(all.len(), 1);
        let cpu = metric(&all[0], "CPUUtilization");
        assert_eq!(cpu.r#type, "summation");
        assert_eq!(cpu.collection_interval_ms, 20_000);
        let dimension = &cpu.dimensions[0];
        assert_eq!(dimension.dimension_name, "default");
        assert_eq!(dimension.sequence_num, 5);
        assert_eq!(values(dimension).len(), KEPT_SAMPLES);
        assert_eq!(values(dimension)[0], 50.0);
        assert_eq!(
            dimension.values[0].timestamp.as_str(),
            "1970-01-01T00:18:20.000Z"
        );

        let last_two = sensors.resources(&["i-1".to_owned()], 2);
        let dimension = &metric(&last_two[0], "CPUUtilization").dimensions[0];
        assert_eq!(dimension.sequence_num, KEPT_SAMPLES as i64 + 3);
        assert_eq!(values(dimension), [330.0, 340.0]);
        assert!(sensors.resources(&["i-2".to_owned()], 0).is_empty());
    }

    #[test]
    fn a_device_plugged_in_later_starts_its_own_run() {
        let sensors = Sensors::new(Duration::from_secs(1));
        sensors.record("i-1", 1_000, counters(1, &[("vda", 10)]));
        sensors.record("i-1", 2_000, counters(2, &[("vda", 20), ("sdb", 5)]));
        sensors.record("i-1", 3_000, counters(3, &[("vda", 30), ("sdb", 7)]));
        let resource = &sensors.resources(&[], 0)[0];
        let read = metric(resource, "DiskReadBytes");
        let names: Vec<&str> = read
            .dimensions
            .iter()
            .map(|d| d.dimension_name.as_str())
            .collect();
        assert_eq!(names, ["vda", "sdb"]);
        assert_eq!(read.dimensions[0].sequence_num, 0);
        assert_eq!(values(&read.dimensions[0]), [10.0, 20.0, 30.0]);
        assert_eq!(read.dimensions[1].sequence_num, 1);
        assert_eq!(values(&read.dimensions[1]), [5.0, 7.0]);
        let written = metric(resource, "DiskWriteBytes");
        assert_eq!(values(&written.dimensions[1]), [10.0, 14.0]);
        assert!(metric(resource, "NetworkIn").dimensions.is_empty());
    }

    #[test]
    fn samples_go_with_their_instance() {
        let sensors = Sensors::new(Duration::from_secs(1));
        sensors.record("i-1", 1_000, counters(1, &[]));
        sensors.record("i-2", 1_000, counters(1, &[]));
        sensors.retain(|id| id == "i-2");
        let left: Vec<String> = sensors
            .resources(&[], 0)
            .into_iter()
            .map(|r| r.resource_name)
            .collect();
        assert_eq!(left, ["i-2"]);
    }

    #[test]
    fn the_test_drivers_load_follows_its_pattern() {
        let at = |seconds: i64| Counters::synthetic(seconds * 1000, 2);
        assert_eq!(at(0), Counters::synthetic(-5, 2));
        assert_eq!(at(0).cpu_ns, 0);
        // Over a whole period the load averages half of the two vCPUs.
        assert!(at(300).cpu_ns.abs_diff(300_000_000_000) < 1_000);
        // Busier in the first half of the period than in the second.
        let first = at(150).cpu_ns - at(0).cpu_ns;
        let second = at(300).cpu_ns - at(150).cpu_ns;
        assert!(first > 2 * second, "{first} vs {second}");
        assert!(at(20).disks[0].bytes[0] > at(10).disks[0].bytes[0]);
        assert!(at(20).interfaces[0].bytes[1] > at(10).interfaces[0].bytes[1]);
    }
}

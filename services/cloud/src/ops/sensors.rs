//! The instances' monitoring samples, as the tick gathers them. Each cluster is asked
//! (DescribeSensors, EucalyptusCCSensors) for the samples its nodes took since the cloud
//! last asked; between two samples of an instance, its cumulative counters become the values
//! of that interval ([`intervals`]): CPU as a percentage of the instance's vCPUs, bytes as
//! the count over the interval, summed over its disks or interfaces. A counter that went
//! down was reset (the domain restarted) and counts from zero; so does a device that
//! appeared.

use std::collections::BTreeMap;

use wire::cc_sensors::SensorsResourceType;

/// The metrics of the wire, named as CloudWatch's AWS/EC2 names them. CPUUtilization's
/// counters are CPU time in nanoseconds, the others' bytes.
pub const METRICS: [&str; 5] = [
    CPU,
    "DiskReadBytes",
    "DiskWriteBytes",
    "NetworkIn",
    "NetworkOut",
];
const CPU: &str = "CPUUtilization";
/// The counter type of cumulative values.
const SUMMATION: &str = "summation";

/// An instance's counters at one moment: each metric's value per device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    pub counters: BTreeMap<(&'static str, String), f64>,
}

/// The value of one metric over the interval that ends at `at_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub metric: &'static str,
    pub at_ms: i64,
    pub value: f64,
}

/// The readings of `resource`, oldest first, one per timestamp its values carry.
pub fn readings(resource: &SensorsResourceType) -> Vec<Reading> {
    let mut by_time: BTreeMap<i64, Reading> = BTreeMap::new();
    for metric in &resource.metrics {
        let Some(name) = METRICS.into_iter().find(|m| *m == metric.metric_name) else {
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
                    .insert((name, dimension.dimension_name.clone()), v);
            }
        }
    }
    by_time.into_values().collect()
}

/// The values of the intervals between `previous` (what was taken in last, if anything) and
/// each of `readings` newer than it, oldest first; and the newest reading, to start from next
/// time. CPU time is spread over `vcpus`.
pub fn intervals(
    vcpus: u32,
    previous: Option<Reading>,
    readings: Vec<Reading>,
) -> (Vec<Interval>, Option<Reading>) {
    let mut values = Vec::new();
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
        for metric in METRICS {
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
            let value = if metric == CPU {
                let available_ns = elapsed_ms * 1e6 * f64::from(vcpus.max(1));
                (delta / available_ns * 100.0).clamp(0.0, 100.0)
            } else {
                delta
            };
            values.push(Interval {
                metric,
                at_ms: reading.at_ms,
                value,
            });
        }
        last = Some(reading);
    }
    (values, last)
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

    fn values_of(intervals: &[Interval], metric: &str) -> Vec<(i64, f64)> {
        intervals
            .iter()
            .filter(|i| i.metric == metric)
            .map(|i| (i.at_ms, i.value))
            .collect()
    }

    #[test]
    fn cpu_time_becomes_a_percentage_of_the_vcpus() {
        // Two vCPUs, 10 s apart: 5 s of CPU is 25%, then 20 s is 100%.
        let r = resource(&[(
            "CPUUtilization",
            &[("default", &[(1_000, 1e9), (11_000, 6e9), (21_000, 26e9)])],
        )]);
        let (values, newest) = intervals(2, None, readings(&r));
        assert_eq!(
            values_of(&values, "CPUUtilization"),
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
        let (values, _) = intervals(1, None, readings(&r));
        assert_eq!(values_of(&values, "DiskReadBytes"), [(500, 205.0)]);
        assert!(values_of(&values, "NetworkIn").is_empty());
    }

    #[test]
    fn what_was_taken_in_before_is_not_counted_again() {
        let r = resource(&[(
            "NetworkIn",
            &[("eth0", &[(0, 100.0), (1_000, 150.0), (2_000, 170.0)])],
        )]);
        let (first, newest) = intervals(1, None, readings(&r));
        assert_eq!(
            values_of(&first, "NetworkIn"),
            [(1_000, 50.0), (2_000, 20.0)]
        );
        // The next answer repeats the newest sample and adds one.
        let r = resource(&[("NetworkIn", &[("eth0", &[(2_000, 170.0), (3_000, 171.0)])])]);
        let (next, newest) = intervals(1, newest, readings(&r));
        assert_eq!(values_of(&next, "NetworkIn"), [(3_000, 1.0)]);
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
        let (values, _) = intervals(1, None, readings(&r));
        assert_eq!(values_of(&values, "CPUUtilization"), [(10_000, 20.0)]);
        assert_eq!(values_of(&values, "DiskWriteBytes"), [(10_000, 564.0)]);
    }

    #[test]
    fn one_reading_alone_is_no_interval_and_odd_values_are_left_out() {
        let r = resource(&[
            ("CPUUtilization", &[("default", &[(0, 1e9)])]),
            ("MemoryUsed", &[("default", &[(0, 5.0), (10, 6.0)])]),
            ("NetworkOut", &[("eth0", &[(0, f64::NAN), (10, -1.0)])]),
        ]);
        let (values, newest) = intervals(1, None, readings(&r));
        assert!(values.is_empty(), "{values:?}");
        assert_eq!(newest.unwrap().counters.len(), 1);
    }
}

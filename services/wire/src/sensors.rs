//! What the cluster and the cloud read alike from the sensors' answers
//! ([`crate::cc_sensors`]; a node's are turned into those types first).

use std::time::Duration;

use crate::cc_sensors::SensorsResourceType;

/// The shortest time between two samples that the counters of `resources` report; zero when
/// they report none (no instance runs).
pub fn sample_interval(resources: &[SensorsResourceType]) -> Duration {
    resources
        .iter()
        .flat_map(|r| &r.metrics)
        .flat_map(|m| &m.counters)
        .filter_map(|c| u64::try_from(c.collection_interval_ms).ok())
        .min()
        .map_or(Duration::ZERO, Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cc_sensors::{MetricCounterType, MetricsResourceType};

    fn counting_every(ms: &[i64]) -> SensorsResourceType {
        SensorsResourceType {
            metrics: vec![MetricsResourceType {
                counters: ms
                    .iter()
                    .map(|&collection_interval_ms| MetricCounterType {
                        collection_interval_ms,
                        ..MetricCounterType::default()
                    })
                    .collect(),
                ..MetricsResourceType::default()
            }],
            ..SensorsResourceType::default()
        }
    }

    #[test]
    fn the_shortest_interval_reported_counts() {
        let resources = [counting_every(&[20_000, 500]), counting_every(&[-1, 1_000])];
        assert_eq!(sample_interval(&resources), Duration::from_millis(500));
        assert_eq!(sample_interval(&[]), Duration::ZERO);
    }
}

//! Monitoring: the instances' metrics as the CLC keeps them, the CloudWatch API that serves
//! them ([`api`], at `/services/CloudWatch`, over the Query protocol, AWS JSON 1.0 and rpc-v2-cbor), threshold alarms on them ([`alarms`])
//! and the console's charts ([`chart`]).
//!
//! Samples (one value of one metric of one instance over a sampling interval, as the
//! sensors report them) are folded into 5-minute [`Point`]s per instance and metric:
//! their count, sum, minimum and maximum, from which every CloudWatch statistic of any
//! longer period follows ([`statistics`]). Points are kept [`RETENTION`] (14 days): a
//! task of its own ([`spawn`], every `--tick`) forgets older ones and evaluates the alarms.
//! The types the store keeps are `crate::store::metrics`', re-exported here. A point belongs to its instance's
//! account, as the store knows it when the point is recorded: samples of an instance the
//! store does not know are dropped.

mod alarms;
pub mod api;
mod chart;
mod error;
mod rpc;
mod statistics;
mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::{debug, warn};

use crate::ops::Cloud;
use crate::store::StoreError;

pub use chart::{chart, instance_chart, CHART_SECONDS};
pub use error::CloudWatchError;
pub use statistics::{statistics, Datapoint, StatisticsError, MAX_DATAPOINTS};
// The store keeps them; they are monitoring's words.
pub use crate::store::metrics::{
    period_start, Alarm, AlarmState, Comparison, Metric, Point, Sample, StateChange, Statistic,
    POINT_SECONDS,
};

/// How long points are kept, in seconds.
pub const RETENTION: i64 = 14 * 86_400;

/// CloudWatch's namespace of the instances' metrics.
pub const NAMESPACE: &str = "AWS/EC2";

/// The one dimension of the instances' metrics.
pub const INSTANCE_ID: &str = "InstanceId";

/// An XML document of the CloudWatch API: `body` as its element `local`, in CloudWatch's
/// namespace (answers and errors alike).
fn document(body: &dyn xmlbind::ToXml, local: &str) -> String {
    let namespace = wire::cloudwatch::NAMESPACE;
    let mut w = xmlbind::XmlWriter::new();
    w.prefer_prefix(namespace, "cw");
    body.to_xml(&mut w, Some(namespace), local);
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", w.finish())
}

/// Seconds since the epoch of `at` (before it: negative).
fn unix_seconds(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Folds `samples` into 5-minute points, one per instance, metric and period, in that
/// order; values that are not finite numbers are left out.
pub fn fold(samples: &[Sample]) -> Vec<Point> {
    let mut points: BTreeMap<(&str, Metric, i64), Point> = BTreeMap::new();
    for sample in samples {
        if !sample.value.is_finite() {
            warn!(instance = %sample.instance, metric = %sample.metric, value = sample.value, "sample left out: not a number");
            continue;
        }
        let start = period_start(unix_seconds(sample.at), POINT_SECONDS);
        let one = Point::of(&sample.instance, sample.metric, start, sample.value);
        points
            .entry((&sample.instance, sample.metric, start))
            .and_modify(|p| p.absorb(&one))
            .or_insert(one);
    }
    points.into_values().collect()
}

impl Cloud {
    /// Records `samples` in the instances' 5-minute points, then evaluates the alarms on
    /// the instances and metrics they are of (a state change is logged, recorded and sent
    /// to the alarm's webhooks without waiting for them).
    pub async fn record_samples(&self, samples: Vec<Sample>) -> Result<(), StoreError> {
        let points = fold(&samples);
        if points.is_empty() {
            return Ok(());
        }
        self.store.add_points(&points).await?;
        debug!(
            samples = samples.len(),
            points = points.len(),
            "samples recorded"
        );
        let mut measured: Vec<(String, Metric)> =
            points.into_iter().map(|p| (p.instance, p.metric)).collect();
        measured.dedup();
        alarms::evaluate_measured(self, &measured).await
    }
}

/// Keeps the metrics every `every` ([`tick`]), for as long as the returned task is not
/// aborted: beside the cloud's tick, which never waits for it.
pub fn spawn(cloud: Arc<Cloud>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = tick(&cloud).await {
                warn!(error = %e, "cannot forget old metric points or evaluate the alarms");
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Forgets the points older than [`RETENTION`], and evaluates every alarm, so that one whose
/// metric stopped coming (its instance ended) moves to INSUFFICIENT_DATA.
pub async fn tick(cloud: &Cloud) -> Result<(), StoreError> {
    let before = kit::time::now() - RETENTION;
    let forgotten = cloud.store.forget_points(before).await?;
    if forgotten > 0 {
        debug!(forgotten, "metric points past their retention forgotten");
    }
    for alarm in cloud.store.alarms(None).await? {
        alarms::evaluate(cloud, &alarm).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(instance: &str, metric: Metric, at: u64, value: f64) -> Sample {
        Sample {
            instance: instance.into(),
            metric,
            at: UNIX_EPOCH + Duration::from_secs(at),
            value,
        }
    }

    #[test]
    fn samples_fold_into_five_minute_points_per_instance_and_metric() {
        let samples = [
            sample("i-1", Metric::CpuUtilization, 600, 10.0),
            sample("i-1", Metric::CpuUtilization, 899, 30.0),
            sample("i-1", Metric::CpuUtilization, 620, 20.0),
            // The next period.
            sample("i-1", Metric::CpuUtilization, 900, 50.0),
            sample("i-1", Metric::NetworkIn, 610, 4096.0),
            sample("i-2", Metric::CpuUtilization, 610, 5.0),
            sample("i-2", Metric::CpuUtilization, 611, f64::NAN),
        ];
        let points = fold(&samples);
        assert_eq!(points.len(), 4, "{points:?}");
        let first = &points[0];
        assert_eq!(
            (first.instance.as_str(), first.metric, first.start),
            ("i-1", Metric::CpuUtilization, 600)
        );
        assert_eq!(first.sample_count, 3);
        assert_eq!(first.sum, 60.0);
        assert_eq!((first.minimum, first.maximum), (10.0, 30.0));
        assert_eq!(first.average(), 20.0);
        assert_eq!((points[1].start, points[1].sample_count), (900, 1));
        assert_eq!(points[2].metric, Metric::NetworkIn);
        assert_eq!(
            (points[3].instance.as_str(), points[3].sample_count),
            ("i-2", 1)
        );
    }

    #[test]
    fn metrics_are_named_and_united_as_cloudwatch_names_them() {
        for metric in Metric::ALL {
            assert_eq!(Metric::from_name(metric.name()), Some(metric));
        }
        assert_eq!(Metric::CpuUtilization.name(), "CPUUtilization");
        assert_eq!(Metric::CpuUtilization.unit(), "Percent");
        assert_eq!(Metric::NetworkOut.unit(), "Bytes");
        assert_eq!(Metric::from_name("cpuutilization"), None);
        assert_eq!(period_start(-1, 300), -300);
    }
}

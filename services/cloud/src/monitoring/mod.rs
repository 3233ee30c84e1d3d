//! Monitoring: the instances' metrics as the CLC keeps them, the CloudWatch Query API that
//! serves them ([`api`], at `/services/CloudWatch`), threshold alarms on them ([`alarms`])
//! and the console's charts ([`chart`]).
//!
//! Samples (one value of one metric of one instance over a sampling interval, as the
//! sensors report them) are folded into 5-minute [`Point`]s per instance and metric:
//! their count, sum, minimum and maximum, from which every CloudWatch statistic of any
//! longer period follows ([`statistics`]). Points are kept [`RETENTION`] (14 days); the
//! tick forgets older ones ([`forget_old_points`]). A point belongs to its instance's
//! account, as the store knows it when the point is recorded: samples of an instance the
//! store does not know are dropped.

mod alarms;
pub mod api;
mod chart;
mod columns;
mod error;
pub(crate) mod postgres;
pub(crate) mod sqlite;
mod statistics;
mod webhook;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{debug, warn};

use crate::ops::Cloud;
use crate::store::StoreError;

pub use alarms::{Alarm, AlarmState, Comparison, StateChange};
pub use chart::{chart, instance_chart, CHART_SECONDS};
pub use error::CloudWatchError;
pub use statistics::{statistics, Datapoint, Statistic, StatisticsError, MAX_DATAPOINTS};

/// The length of a point, in seconds: CloudWatch's basic monitoring of EC2.
pub const POINT_SECONDS: i64 = 300;

/// How long points are kept, in seconds.
pub const RETENTION: i64 = 14 * 86_400;

/// CloudWatch's namespace of the instances' metrics.
pub const NAMESPACE: &str = "AWS/EC2";

/// The one dimension of the instances' metrics.
pub const INSTANCE_ID: &str = "InstanceId";

/// What is measured of an instance, by its `AWS/EC2` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Percent of the instance's vCPUs in use over the interval.
    CpuUtilization,
    /// Bytes read from the instance's disks over the interval.
    DiskReadBytes,
    /// Bytes written to them.
    DiskWriteBytes,
    /// Bytes received on its network interfaces.
    NetworkIn,
    /// Bytes sent.
    NetworkOut,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Self::CpuUtilization,
        Self::DiskReadBytes,
        Self::DiskWriteBytes,
        Self::NetworkIn,
        Self::NetworkOut,
    ];

    /// Its CloudWatch name.
    pub fn name(self) -> &'static str {
        match self {
            Self::CpuUtilization => "CPUUtilization",
            Self::DiskReadBytes => "DiskReadBytes",
            Self::DiskWriteBytes => "DiskWriteBytes",
            Self::NetworkIn => "NetworkIn",
            Self::NetworkOut => "NetworkOut",
        }
    }

    /// The metric of CloudWatch name `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Its CloudWatch unit.
    pub fn unit(self) -> &'static str {
        match self {
            Self::CpuUtilization => "Percent",
            _ => "Bytes",
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One measurement: `value` of `metric` of `instance` over the sampling interval ending
/// `at` (CPU in percent of the instance's vCPUs; bytes as the count over the interval).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub instance: String,
    pub metric: Metric,
    pub at: SystemTime,
    pub value: f64,
}

/// The samples of one instance's metric in the 5 minutes from `start`.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub instance: String,
    pub metric: Metric,
    /// Seconds since the epoch, a multiple of [`POINT_SECONDS`].
    pub start: i64,
    pub sample_count: u64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
}

impl Point {
    /// The point of one value at `start`.
    fn of(instance: &str, metric: Metric, start: i64, value: f64) -> Self {
        Self {
            instance: instance.to_owned(),
            metric,
            start,
            sample_count: 1,
            sum: value,
            minimum: value,
            maximum: value,
        }
    }

    /// Adds `other`'s samples (of the same instance, metric and start) to this point's.
    pub fn absorb(&mut self, other: &Point) {
        self.sample_count += other.sample_count;
        self.sum += other.sum;
        self.minimum = self.minimum.min(other.minimum);
        self.maximum = self.maximum.max(other.maximum);
    }

    pub fn average(&self) -> f64 {
        // A point holds at least one sample; the guard keeps a bad row from dividing by 0.
        self.sum / self.sample_count.max(1) as f64
    }
}

/// The start of the period of length `period` holding second `at`.
pub fn period_start(at: i64, period: i64) -> i64 {
    at.div_euclid(period) * period
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

/// Forgets the points older than [`RETENTION`] (the tick's).
pub async fn forget_old_points(cloud: &Cloud) -> Result<(), StoreError> {
    let before = kit::time::now() - RETENTION;
    let forgotten = cloud.store.forget_points(before).await?;
    if forgotten > 0 {
        debug!(forgotten, "metric points past their retention forgotten");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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

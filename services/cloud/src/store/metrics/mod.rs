//! What the store keeps of monitoring (`crate::monitoring`): the instances' metrics, their
//! samples folded into 5-minute points, the statistics of those points, and the alarms on
//! them with their states. The SQL is each engine's file here ([`sqlite`], [`postgres`]),
//! their rows read and written once ([`columns`]). `crate::monitoring` re-exports them; code
//! that `crate::monitoring` itself imports (`crate::ops`, whose `Cloud` it extends) takes
//! them from here, or the two modules would import each other.

mod columns;
pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::time::SystemTime;

/// The length of a point, in seconds: CloudWatch's basic monitoring of EC2.
pub const POINT_SECONDS: i64 = 300;

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
    pub fn of(instance: &str, metric: Metric, start: i64, value: f64) -> Self {
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

/// A statistic of a period's samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
}

impl Statistic {
    pub const ALL: [Statistic; 5] = [
        Self::SampleCount,
        Self::Average,
        Self::Sum,
        Self::Minimum,
        Self::Maximum,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::SampleCount => "SampleCount",
            Self::Average => "Average",
            Self::Sum => "Sum",
            Self::Minimum => "Minimum",
            Self::Maximum => "Maximum",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// This statistic of the samples `point` holds.
    pub fn of(self, point: &Point) -> f64 {
        match self {
            Self::SampleCount => point.sample_count as f64,
            Self::Average => point.average(),
            Self::Sum => point.sum,
            Self::Minimum => point.minimum,
            Self::Maximum => point.maximum,
        }
    }
}

/// Where an alarm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    /// CloudWatch's name (`StateValue`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Alarm => "ALARM",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Ok, Self::Alarm, Self::InsufficientData]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// How a period's statistic is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub const ALL: [Comparison; 4] = [
        Self::GreaterThanOrEqualToThreshold,
        Self::GreaterThanThreshold,
        Self::LessThanThreshold,
        Self::LessThanOrEqualToThreshold,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Self::GreaterThanThreshold => "GreaterThanThreshold",
            Self::LessThanThreshold => "LessThanThreshold",
            Self::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether `value` breaches `threshold`.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterThanOrEqualToThreshold => value >= threshold,
            Self::GreaterThanThreshold => value > threshold,
            Self::LessThanThreshold => value < threshold,
            Self::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// Its sign, for state reasons.
    pub fn sign(self) -> &'static str {
        match self {
            Self::GreaterThanOrEqualToThreshold => ">=",
            Self::GreaterThanThreshold => ">",
            Self::LessThanThreshold => "<",
            Self::LessThanOrEqualToThreshold => "<=",
        }
    }
}

/// A state an alarm moved to: why, and when (seconds since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    pub state: AlarmState,
    pub reason: String,
    pub at: i64,
}

/// A metric alarm of account `owner` on one instance's metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub owner: String,
    pub name: String,
    pub description: Option<String>,
    pub actions_enabled: bool,
    /// The http(s) URLs posted to when the alarm moves to each state.
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub metric: Metric,
    pub instance: String,
    pub statistic: Statistic,
    /// Seconds, a multiple of 60 and at least 300.
    pub period: i64,
    pub unit: Option<String>,
    pub evaluation_periods: u32,
    pub threshold: f64,
    pub comparison: Comparison,
    /// Where it is now (a put keeps the state of the alarm it replaces).
    pub state: StateChange,
    /// When its configuration was last put.
    pub updated: i64,
}

impl Alarm {
    /// The actions of `state`.
    pub fn actions(&self, state: AlarmState) -> &[String] {
        match state {
            AlarmState::Ok => &self.ok_actions,
            AlarmState::Alarm => &self.alarm_actions,
            AlarmState::InsufficientData => &self.insufficient_data_actions,
        }
    }
}

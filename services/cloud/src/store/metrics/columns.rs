//! The monitoring tables' columns as both engines read and write them: names in the order
//! the SQL of `sqlite.rs` and `postgres.rs` lists them, and the conversions between rows
//! and [`Point`]s and [`Alarm`]s, written once.

use super::{Alarm, AlarmState, Comparison, Metric, Point, StateChange, Statistic};
use crate::store::StoreError;

/// A point's columns, in [`PointRow`]'s order.
pub const POINT_COLUMNS: &str = "instance, metric, start, sample_count, sum, minimum, maximum";

/// An alarm's columns, in [`AlarmRow`]'s order.
pub const ALARM_COLUMNS: &str = "owner, name, description, actions_enabled, ok_actions, \
    alarm_actions, insufficient_data_actions, metric, instance, statistic, period, unit, \
    evaluation_periods, threshold, comparison, state, state_reason, state_updated, updated";

/// A point as the engines' columns hold it.
pub type PointRow = (String, String, i64, i64, f64, f64, f64);

/// An alarm as the engines' columns hold it (its actions' URLs one per line).
#[derive(Debug)]
pub struct AlarmRow {
    pub owner: String,
    pub name: String,
    pub description: Option<String>,
    pub actions_enabled: bool,
    pub ok_actions: String,
    pub alarm_actions: String,
    pub insufficient_data_actions: String,
    pub metric: String,
    pub instance: String,
    pub statistic: String,
    pub period: i64,
    pub unit: Option<String>,
    pub evaluation_periods: i64,
    pub threshold: f64,
    pub comparison: String,
    pub state: String,
    pub state_reason: String,
    pub state_updated: i64,
    pub updated: i64,
}

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::Value(format!("a stored {what} of {value:?}"))
}

/// The stored name of `metric`, read back.
pub fn metric(name: &str) -> Result<Metric, StoreError> {
    Metric::from_name(name).ok_or_else(|| bad("metric", name))
}

pub fn point(row: PointRow) -> Result<Point, StoreError> {
    let (instance, name, start, count, sum, minimum, maximum) = row;
    Ok(Point {
        instance,
        metric: metric(&name)?,
        start,
        sample_count: u64::try_from(count).map_err(|_| bad("sample count", &count.to_string()))?,
        sum,
        minimum,
        maximum,
    })
}

/// A point's count as a column.
pub fn count(point: &Point) -> i64 {
    i64::try_from(point.sample_count).unwrap_or(i64::MAX)
}

fn lines(urls: &[String]) -> String {
    urls.join("\n")
}

fn urls(lines: &str) -> Vec<String> {
    lines
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

impl AlarmRow {
    pub fn of(alarm: &Alarm) -> Self {
        Self {
            owner: alarm.owner.clone(),
            name: alarm.name.clone(),
            description: alarm.description.clone(),
            actions_enabled: alarm.actions_enabled,
            ok_actions: lines(&alarm.ok_actions),
            alarm_actions: lines(&alarm.alarm_actions),
            insufficient_data_actions: lines(&alarm.insufficient_data_actions),
            metric: alarm.metric.name().to_owned(),
            instance: alarm.instance.clone(),
            statistic: alarm.statistic.name().to_owned(),
            period: alarm.period,
            unit: alarm.unit.clone(),
            evaluation_periods: i64::from(alarm.evaluation_periods),
            threshold: alarm.threshold,
            comparison: alarm.comparison.name().to_owned(),
            state: alarm.state.state.name().to_owned(),
            state_reason: alarm.state.reason.clone(),
            state_updated: alarm.state.at,
            updated: alarm.updated,
        }
    }

    pub fn alarm(self) -> Result<Alarm, StoreError> {
        Ok(Alarm {
            metric: metric(&self.metric)?,
            statistic: Statistic::from_name(&self.statistic)
                .ok_or_else(|| bad("statistic", &self.statistic))?,
            comparison: Comparison::from_name(&self.comparison)
                .ok_or_else(|| bad("comparison", &self.comparison))?,
            state: StateChange {
                state: AlarmState::from_name(&self.state)
                    .ok_or_else(|| bad("alarm state", &self.state))?,
                reason: self.state_reason,
                at: self.state_updated,
            },
            evaluation_periods: u32::try_from(self.evaluation_periods)
                .map_err(|_| bad("evaluation periods", &self.evaluation_periods.to_string()))?,
            ok_actions: urls(&self.ok_actions),
            alarm_actions: urls(&self.alarm_actions),
            insufficient_data_actions: urls(&self.insufficient_data_actions),
            owner: self.owner,
            name: self.name,
            description: self.description,
            actions_enabled: self.actions_enabled,
            instance: self.instance,
            period: self.period,
            unit: self.unit,
            threshold: self.threshold,
            updated: self.updated,
        })
    }
}

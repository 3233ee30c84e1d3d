//! Threshold alarms on one instance's metric, as CloudWatch's metric alarms: the
//! statistic of each of the last `evaluation_periods` periods (the current one included)
//! compared with the threshold. All of them breaching is ALARM, all of them present and
//! one not breaching is OK, a period without data is INSUFFICIENT_DATA.
//!
//! An alarm is evaluated when points of its metric are recorded, and when it is put. A
//! change of state (and only a change: the store sets it compare-and-set, so concurrent
//! evaluations change it once) is logged, recorded in the event log, and posted to the
//! URLs of the new state's actions ([`super::webhook`]), without waiting for them.

use std::collections::HashSet;

use tracing::info;
use users::events::{Component, Event, Who};

use super::statistics::{statistics, Statistic};
use super::{period_start, webhook, Metric, Point, NAMESPACE};
use crate::ops::Cloud;
use crate::store::StoreError;

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
    fn sign(self) -> &'static str {
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

    /// The seconds its evaluation reads back from `now`: the first of its periods' start.
    pub fn window_start(&self, now: i64) -> i64 {
        period_start(now, self.period) - self.period * i64::from(self.evaluation_periods - 1)
    }

    /// Where `points` (its instance's metric, from [`Alarm::window_start`]) put it at `now`.
    pub fn evaluate(&self, points: &[Point], now: i64) -> StateChange {
        let start = self.window_start(now);
        let end = period_start(now, self.period) + self.period;
        let datapoints = statistics(points, start, end, self.period).unwrap_or_default();
        let values: Vec<f64> = datapoints
            .iter()
            .map(|d| self.statistic.of(&d.samples))
            .collect();
        let periods = self.evaluation_periods;
        let shown = values
            .iter()
            .map(|v| format!("{v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let (state, reason) = if values.len() < periods as usize {
            (
                AlarmState::InsufficientData,
                format!(
                    "Insufficient Data: {} of the {periods} datapoints needed were available.",
                    values.len()
                ),
            )
        } else if values
            .iter()
            .all(|v| self.comparison.breaches(*v, self.threshold))
        {
            (
                AlarmState::Alarm,
                format!(
                    "Threshold Crossed: {periods} datapoint(s) [{shown}] were {} the threshold ({}).",
                    self.comparison.sign(),
                    self.threshold
                ),
            )
        } else {
            (
                AlarmState::Ok,
                format!(
                    "Threshold Crossed: not every one of {periods} datapoint(s) [{shown}] was {} the threshold ({}).",
                    self.comparison.sign(),
                    self.threshold
                ),
            )
        };
        StateChange {
            state,
            reason,
            at: now,
        }
    }
}

/// Evaluates the alarms on each of `measured` (instances' metrics just recorded).
pub(super) async fn evaluate_measured(
    cloud: &Cloud,
    measured: &[(String, super::Metric)],
) -> Result<(), StoreError> {
    let instances: Vec<String> = measured
        .iter()
        .map(|(i, _)| i.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let alarms = cloud.store.alarms_on(&instances).await?;
    for alarm in alarms
        .iter()
        .filter(|a| measured.contains(&(a.instance.clone(), a.metric)))
    {
        evaluate(cloud, alarm).await?;
    }
    Ok(())
}

/// Evaluates `alarm` now, and acts on a change of its state.
pub(super) async fn evaluate(cloud: &Cloud, alarm: &Alarm) -> Result<(), StoreError> {
    let now = kit::time::now();
    let points = cloud
        .store
        .points(
            &alarm.instance,
            alarm.metric,
            alarm.window_start(now),
            now + 1,
        )
        .await?;
    let change = alarm.evaluate(&points, now);
    if change.state == alarm.state.state {
        return Ok(());
    }
    let changed = cloud
        .store
        .change_alarm_state(&alarm.owner, &alarm.name, alarm.state.state, &change)
        .await?;
    if changed {
        state_changed(cloud, alarm, &change).await;
    }
    Ok(())
}

/// The action recorded in the event log for an alarm's change of state.
pub const ALARM_STATE_ACTION: &str = "alarm.state";

/// Logs, records and posts `alarm`'s move to `change`.
async fn state_changed(cloud: &Cloud, alarm: &Alarm, change: &StateChange) {
    let old = alarm.state.state;
    info!(
        alarm = %alarm.name,
        account = %alarm.owner,
        instance = %alarm.instance,
        metric = %alarm.metric,
        from = old.name(),
        to = change.state.name(),
        reason = %change.reason,
        "alarm changed state"
    );
    // Recorded as the alarm's own event; it is no billed change, so it carries no key
    // that would let only the first change of the alarm be kept.
    let event = Event {
        resource: alarm.name.clone(),
        outcome: change.state.name().to_owned(),
        ..Event::request(
            &Who::system(&alarm.owner),
            Component::CloudWatch,
            ALARM_STATE_ACTION,
            change.state.name(),
        )
    };
    cloud.events.record(event).await;
    let urls = alarm.actions(change.state);
    if !alarm.actions_enabled || urls.is_empty() {
        return;
    }
    let account_id = match cloud.store.directory().account(&alarm.owner).await {
        Ok(Some(account)) => account.id,
        Ok(None) | Err(_) => String::new(),
    };
    let body = notification(alarm, old, change, &account_id, &cloud.region);
    for url in urls {
        webhook::post(url.clone(), body.clone());
    }
}

/// The JSON body posted to a webhook: the fields of CloudWatch's alarm notification.
pub fn notification(
    alarm: &Alarm,
    old: AlarmState,
    change: &StateChange,
    account_id: &str,
    region: &str,
) -> String {
    serde_json::json!({
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account_id,
        "Region": region,
        "NewStateValue": change.state.name(),
        "NewStateReason": change.reason,
        "StateChangeTime": kit::time::iso8601_millis(change.at.saturating_mul(1000)),
        "OldStateValue": old.name(),
        "Trigger": {
            "MetricName": alarm.metric.name(),
            "Namespace": NAMESPACE,
            "Statistic": alarm.statistic.name(),
            "Unit": alarm.unit,
            "Dimensions": [{"name": super::INSTANCE_ID, "value": alarm.instance}],
            "Period": alarm.period,
            "EvaluationPeriods": alarm.evaluation_periods,
            "ComparisonOperator": alarm.comparison.name(),
            "Threshold": alarm.threshold,
        },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn alarm(comparison: Comparison, threshold: f64, periods: u32) -> Alarm {
        Alarm {
            owner: "ann".into(),
            name: "busy".into(),
            description: None,
            actions_enabled: true,
            ok_actions: vec![],
            alarm_actions: vec!["http://127.0.0.1:1/hook".into()],
            insufficient_data_actions: vec![],
            metric: Metric::CpuUtilization,
            instance: "i-1".into(),
            statistic: Statistic::Average,
            period: 300,
            unit: None,
            evaluation_periods: periods,
            threshold,
            comparison,
            state: StateChange {
                state: AlarmState::InsufficientData,
                reason: String::new(),
                at: 0,
            },
            updated: 0,
        }
    }

    fn point(start: i64, value: f64) -> Point {
        Point {
            instance: "i-1".into(),
            metric: Metric::CpuUtilization,
            start,
            sample_count: 1,
            sum: value,
            minimum: value,
            maximum: value,
        }
    }

    #[test]
    fn every_period_breaching_is_alarm_one_not_is_ok_one_missing_is_insufficient_data() {
        let busy = alarm(Comparison::GreaterThanThreshold, 50.0, 2);
        let now = 3000 + 42;
        assert_eq!(busy.window_start(now), 2700);
        let high = [point(2700, 80.0), point(3000, 90.0)];
        assert_eq!(busy.evaluate(&high, now).state, AlarmState::Alarm);
        let mixed = [point(2700, 80.0), point(3000, 10.0)];
        let ok = busy.evaluate(&mixed, now);
        assert_eq!(ok.state, AlarmState::Ok);
        assert_eq!(ok.at, now);
        let one = [point(3000, 90.0)];
        assert_eq!(busy.evaluate(&one, now).state, AlarmState::InsufficientData);
        let idle = alarm(Comparison::LessThanOrEqualToThreshold, 5.0, 1);
        assert_eq!(
            idle.evaluate(&[point(3000, 5.0)], now).state,
            AlarmState::Alarm
        );
    }

    #[test]
    fn the_notification_names_the_alarm_its_states_and_its_trigger() {
        let busy = alarm(Comparison::GreaterThanThreshold, 50.0, 1);
        let change = busy.evaluate(&[point(3000, 90.0)], 3010);
        let body = notification(&busy, AlarmState::Ok, &change, "000000000001", "eucalyptus");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(json["AlarmName"], "busy");
        assert_eq!(json["NewStateValue"], "ALARM");
        assert_eq!(json["OldStateValue"], "OK");
        assert_eq!(json["AWSAccountId"], "000000000001");
        assert_eq!(json["Trigger"]["MetricName"], "CPUUtilization");
        assert_eq!(json["Trigger"]["Dimensions"][0]["value"], "i-1");
        assert_eq!(json["Trigger"]["Threshold"], 50.0);
    }
}

//! Threshold alarms on one instance's metric, as CloudWatch's metric alarms: the
//! statistic of each of the last `evaluation_periods` periods (the current one included)
//! compared with the threshold. All of them breaching is ALARM, all of them present and
//! one not breaching is OK, a period without data is INSUFFICIENT_DATA.
//!
//! An alarm is evaluated when points of its metric are recorded, when it is put, and every
//! tick ([`super::tick`]: one whose metric stops coming moves to INSUFFICIENT_DATA). A
//! change of state (and only a change: the store sets it compare-and-set, so concurrent
//! evaluations change it once) is logged, recorded in the event log, and posted to the
//! URLs of the new state's actions ([`super::webhook`]), without waiting for them.

use std::collections::HashSet;

use tracing::info;
use users::events::{Component, Event, Who};

use super::statistics::statistics;
use super::{period_start, webhook, Alarm, AlarmState, Point, StateChange, NAMESPACE};
use crate::ops::Cloud;
use crate::store::StoreError;

/// The seconds its evaluation reads back from `now`: one period before the first of
/// its periods (see [`state_at`]).
pub fn window_start(alarm: &Alarm, now: i64) -> i64 {
    period_start(now, alarm.period) - alarm.period * i64::from(alarm.evaluation_periods)
}

/// Where `points` (`alarm`'s instance's metric, from [`window_start`]) put it at `now`.
/// Its periods are the last `evaluation_periods` up to the current one when that has
/// data, else up to the one before: a period just begun, with no sample yet, changes
/// nothing until it has one or is over.
pub fn state_at(alarm: &Alarm, points: &[Point], now: i64) -> StateChange {
    let current = period_start(now, alarm.period);
    let datapoints = statistics(
        points,
        window_start(alarm, now),
        current + alarm.period,
        alarm.period,
    )
    .unwrap_or_default();
    let last = match datapoints.last() {
        Some(d) if d.start == current => current,
        _ => current - alarm.period,
    };
    let first = last - alarm.period * i64::from(alarm.evaluation_periods - 1);
    let values: Vec<f64> = datapoints
        .iter()
        .filter(|d| (first..=last).contains(&d.start))
        .map(|d| alarm.statistic.of(&d.samples))
        .collect();
    let periods = alarm.evaluation_periods;
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
        .all(|v| alarm.comparison.breaches(*v, alarm.threshold))
    {
        (
            AlarmState::Alarm,
            format!(
                "Threshold Crossed: {periods} datapoint(s) [{shown}] were {} the threshold ({}).",
                alarm.comparison.sign(),
                alarm.threshold
            ),
        )
    } else {
        (
            AlarmState::Ok,
            format!(
                "Threshold Crossed: not every one of {periods} datapoint(s) [{shown}] was {} the threshold ({}).",
                alarm.comparison.sign(),
                alarm.threshold
            ),
        )
    };
    StateChange {
        state,
        reason,
        at: now,
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
            window_start(alarm, now),
            now + 1,
        )
        .await?;
    let change = state_at(alarm, &points, now);
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
    use super::super::{Comparison, Metric, Statistic};
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
        assert_eq!(window_start(&busy, now), 2400);
        let high = [point(2700, 80.0), point(3000, 90.0)];
        assert_eq!(state_at(&busy, &high, now).state, AlarmState::Alarm);
        let mixed = [point(2700, 80.0), point(3000, 10.0)];
        let ok = state_at(&busy, &mixed, now);
        assert_eq!(ok.state, AlarmState::Ok);
        assert_eq!(ok.at, now);
        let one = [point(3000, 90.0)];
        assert_eq!(
            state_at(&busy, &one, now).state,
            AlarmState::InsufficientData
        );
        // A period just begun without samples: the two before it count.
        assert_eq!(state_at(&busy, &high, 3300 + 5).state, AlarmState::Alarm);
        // A whole period without samples: too few.
        assert_eq!(
            state_at(&busy, &high, 3600 + 5).state,
            AlarmState::InsufficientData
        );
        let idle = alarm(Comparison::LessThanOrEqualToThreshold, 5.0, 1);
        assert_eq!(
            state_at(&idle, &[point(3000, 5.0)], now).state,
            AlarmState::Alarm
        );
    }

    #[test]
    fn the_notification_names_the_alarm_its_states_and_its_trigger() {
        let busy = alarm(Comparison::GreaterThanThreshold, 50.0, 1);
        let change = state_at(&busy, &[point(3000, 90.0)], 3010);
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

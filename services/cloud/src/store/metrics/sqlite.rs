//! The monitoring tables in SQLite (`DATA/cloud.sqlite`), each call in the store's
//! transaction (`crate::store::SqliteStore` runs them).

use rusqlite::{params, params_from_iter, Row, Transaction};

use super::columns::{self, AlarmRow, ALARM_COLUMNS, POINT_COLUMNS};
use super::{Alarm, AlarmState, Metric, Point, StateChange};
use crate::store::StoreError;

/// The migration that adds the tables: 5-minute points by instance, metric and start,
/// with their instance's account; alarms by account and name.
pub const MIGRATION: &str = "
    CREATE TABLE metric_points (
        instance TEXT NOT NULL,
        metric TEXT NOT NULL,
        start INTEGER NOT NULL,
        owner TEXT NOT NULL,
        sample_count INTEGER NOT NULL,
        sum REAL NOT NULL,
        minimum REAL NOT NULL,
        maximum REAL NOT NULL,
        PRIMARY KEY (instance, metric, start)
    ) STRICT;
    CREATE INDEX metric_points_by_start ON metric_points (start);
    CREATE INDEX metric_points_by_owner ON metric_points (owner, instance, metric);
    CREATE TABLE metric_alarms (
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        actions_enabled INTEGER NOT NULL,
        ok_actions TEXT NOT NULL,
        alarm_actions TEXT NOT NULL,
        insufficient_data_actions TEXT NOT NULL,
        metric TEXT NOT NULL,
        instance TEXT NOT NULL,
        statistic TEXT NOT NULL,
        period INTEGER NOT NULL,
        unit TEXT,
        evaluation_periods INTEGER NOT NULL,
        threshold REAL NOT NULL,
        comparison TEXT NOT NULL,
        state TEXT NOT NULL,
        state_reason TEXT NOT NULL,
        state_updated INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        PRIMARY KEY (owner, name)
    ) STRICT;
    CREATE INDEX metric_alarms_by_instance ON metric_alarms (instance);
";

pub fn add_points(tx: &Transaction<'_>, points: &[Point]) -> Result<(), StoreError> {
    let mut add = tx.prepare_cached(
        "INSERT INTO metric_points
             (instance, metric, start, owner, sample_count, sum, minimum, maximum)
         SELECT ?1, ?2, ?3, owner, ?4, ?5, ?6, ?7 FROM instances WHERE id = ?1
         ON CONFLICT (instance, metric, start) DO UPDATE SET
             sample_count = sample_count + excluded.sample_count,
             sum = sum + excluded.sum,
             minimum = min(minimum, excluded.minimum),
             maximum = max(maximum, excluded.maximum)",
    )?;
    for p in points {
        add.execute(params![
            p.instance,
            p.metric.name(),
            p.start,
            columns::count(p),
            p.sum,
            p.minimum,
            p.maximum
        ])?;
    }
    Ok(())
}

pub fn points(
    tx: &Transaction<'_>,
    instance: &str,
    metric: Metric,
    from: i64,
    to: i64,
) -> Result<Vec<Point>, StoreError> {
    let mut query = tx.prepare(&format!(
        "SELECT {POINT_COLUMNS} FROM metric_points
         WHERE instance = ?1 AND metric = ?2 AND start >= ?3 AND start < ?4 ORDER BY start"
    ))?;
    let rows = query.query_map(params![instance, metric.name(), from, to], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })?;
    rows.map(|row| columns::point(row?)).collect()
}

pub fn metrics(
    tx: &Transaction<'_>,
    owner: Option<&str>,
) -> Result<Vec<(String, Metric)>, StoreError> {
    let mut query = tx.prepare(
        "SELECT DISTINCT instance, metric FROM metric_points
         WHERE ?1 IS NULL OR owner = ?1 ORDER BY instance, metric",
    )?;
    let rows = query.query_map([owner], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    rows.map(|row| {
        let (instance, metric) = row?;
        Ok((instance, columns::metric(&metric)?))
    })
    .collect()
}

pub fn forget_points(tx: &Transaction<'_>, before: i64) -> Result<u64, StoreError> {
    let forgotten = tx.execute("DELETE FROM metric_points WHERE start < ?1", [before])?;
    Ok(u64::try_from(forgotten).unwrap_or(u64::MAX))
}

pub fn put_alarm(tx: &Transaction<'_>, alarm: &Alarm) -> Result<(), StoreError> {
    let a = AlarmRow::of(alarm);
    tx.execute(
        &format!(
            "INSERT INTO metric_alarms ({ALARM_COLUMNS}) VALUES
                (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
             ON CONFLICT (owner, name) DO UPDATE SET
                description = excluded.description, actions_enabled = excluded.actions_enabled,
                ok_actions = excluded.ok_actions, alarm_actions = excluded.alarm_actions,
                insufficient_data_actions = excluded.insufficient_data_actions,
                metric = excluded.metric, instance = excluded.instance,
                statistic = excluded.statistic, period = excluded.period, unit = excluded.unit,
                evaluation_periods = excluded.evaluation_periods,
                threshold = excluded.threshold, comparison = excluded.comparison,
                updated = excluded.updated"
        ),
        params![
            a.owner,
            a.name,
            a.description,
            a.actions_enabled,
            a.ok_actions,
            a.alarm_actions,
            a.insufficient_data_actions,
            a.metric,
            a.instance,
            a.statistic,
            a.period,
            a.unit,
            a.evaluation_periods,
            a.threshold,
            a.comparison,
            a.state,
            a.state_reason,
            a.state_updated,
            a.updated
        ],
    )?;
    Ok(())
}

fn alarm_from_row(r: &Row<'_>) -> rusqlite::Result<AlarmRow> {
    Ok(AlarmRow {
        owner: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        actions_enabled: r.get(3)?,
        ok_actions: r.get(4)?,
        alarm_actions: r.get(5)?,
        insufficient_data_actions: r.get(6)?,
        metric: r.get(7)?,
        instance: r.get(8)?,
        statistic: r.get(9)?,
        period: r.get(10)?,
        unit: r.get(11)?,
        evaluation_periods: r.get(12)?,
        threshold: r.get(13)?,
        comparison: r.get(14)?,
        state: r.get(15)?,
        state_reason: r.get(16)?,
        state_updated: r.get(17)?,
        updated: r.get(18)?,
    })
}

pub fn alarms(tx: &Transaction<'_>, owner: Option<&str>) -> Result<Vec<Alarm>, StoreError> {
    let mut query = tx.prepare(&format!(
        "SELECT {ALARM_COLUMNS} FROM metric_alarms WHERE ?1 IS NULL OR owner = ?1
         ORDER BY owner, name"
    ))?;
    let rows = query.query_map([owner], alarm_from_row)?;
    rows.map(|row| row?.alarm()).collect()
}

pub fn alarms_on(tx: &Transaction<'_>, instances: &[String]) -> Result<Vec<Alarm>, StoreError> {
    let mut query = tx.prepare_cached(&format!(
        "SELECT {ALARM_COLUMNS} FROM metric_alarms WHERE instance = ?1 ORDER BY owner, name"
    ))?;
    let mut found = Vec::new();
    for instance in instances {
        for row in query.query_map([instance], alarm_from_row)? {
            found.push(row?.alarm()?);
        }
    }
    Ok(found)
}

pub fn delete_alarms(
    tx: &Transaction<'_>,
    owner: &str,
    names: &[String],
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for name in names {
        deleted += tx.execute(
            "DELETE FROM metric_alarms WHERE owner = ?1 AND name = ?2",
            params_from_iter([owner, name.as_str()]),
        )?;
    }
    Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
}

pub fn change_alarm_state(
    tx: &Transaction<'_>,
    owner: &str,
    name: &str,
    from: AlarmState,
    to: &StateChange,
) -> Result<bool, StoreError> {
    let changed = tx.execute(
        "UPDATE metric_alarms SET state = ?1, state_reason = ?2, state_updated = ?3
         WHERE owner = ?4 AND name = ?5 AND state = ?6",
        params![to.state.name(), to.reason, to.at, owner, name, from.name()],
    )?;
    Ok(changed == 1)
}

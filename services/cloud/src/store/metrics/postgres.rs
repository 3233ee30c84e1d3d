//! The monitoring tables in PostgreSQL (`euca cloud --db`), each call on the client or
//! transaction `crate::store::PgStore` gives it.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::columns::{self, AlarmRow, ALARM_COLUMNS, POINT_COLUMNS};
use super::{Alarm, AlarmState, Metric, Point, StateChange};
use crate::store::StoreError;

/// The migration that adds the tables, as SQLite's (`super::sqlite::MIGRATION`).
pub const MIGRATION: &str = r#"
    CREATE TABLE metric_points (
        instance TEXT COLLATE "C" NOT NULL,
        metric TEXT COLLATE "C" NOT NULL,
        start BIGINT NOT NULL,
        owner TEXT COLLATE "C" NOT NULL,
        sample_count BIGINT NOT NULL,
        sum DOUBLE PRECISION NOT NULL,
        minimum DOUBLE PRECISION NOT NULL,
        maximum DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (instance, metric, start)
    );
    CREATE INDEX metric_points_by_start ON metric_points (start);
    CREATE INDEX metric_points_by_owner ON metric_points (owner, instance, metric);
    CREATE TABLE metric_alarms (
        owner TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        description TEXT COLLATE "C",
        actions_enabled BOOLEAN NOT NULL,
        ok_actions TEXT COLLATE "C" NOT NULL,
        alarm_actions TEXT COLLATE "C" NOT NULL,
        insufficient_data_actions TEXT COLLATE "C" NOT NULL,
        metric TEXT COLLATE "C" NOT NULL,
        instance TEXT COLLATE "C" NOT NULL,
        statistic TEXT COLLATE "C" NOT NULL,
        period BIGINT NOT NULL,
        unit TEXT COLLATE "C",
        evaluation_periods BIGINT NOT NULL,
        threshold DOUBLE PRECISION NOT NULL,
        comparison TEXT COLLATE "C" NOT NULL,
        state TEXT COLLATE "C" NOT NULL,
        state_reason TEXT COLLATE "C" NOT NULL,
        state_updated BIGINT NOT NULL,
        updated BIGINT NOT NULL,
        PRIMARY KEY (owner, name)
    );
    CREATE INDEX metric_alarms_by_instance ON metric_alarms (instance);
"#;

/// Adds `points` in one transaction of `client`'s.
pub async fn add_points(client: &impl GenericClient, points: &[Point]) -> Result<(), StoreError> {
    let add = client
        .prepare(
            "INSERT INTO metric_points
                 (instance, metric, start, owner, sample_count, sum, minimum, maximum)
             SELECT $1::TEXT, $2::TEXT, $3::BIGINT, owner, $4::BIGINT, $5::DOUBLE PRECISION,
                    $6::DOUBLE PRECISION, $7::DOUBLE PRECISION
             FROM instances WHERE id = $1
             ON CONFLICT (instance, metric, start) DO UPDATE SET
                 sample_count = metric_points.sample_count + EXCLUDED.sample_count,
                 sum = metric_points.sum + EXCLUDED.sum,
                 minimum = LEAST(metric_points.minimum, EXCLUDED.minimum),
                 maximum = GREATEST(metric_points.maximum, EXCLUDED.maximum)",
        )
        .await?;
    for p in points {
        client
            .execute(
                &add,
                &[
                    &p.instance,
                    &p.metric.name(),
                    &p.start,
                    &columns::count(p),
                    &p.sum,
                    &p.minimum,
                    &p.maximum,
                ],
            )
            .await?;
    }
    Ok(())
}

pub async fn points(
    client: &impl GenericClient,
    instance: &str,
    metric: Metric,
    from: i64,
    to: i64,
) -> Result<Vec<Point>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {POINT_COLUMNS} FROM metric_points
                 WHERE instance = $1 AND metric = $2 AND start >= $3 AND start < $4
                 ORDER BY start"
            ),
            &[&instance, &metric.name(), &from, &to],
        )
        .await?;
    rows.iter()
        .map(|r| {
            columns::point((
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
                r.try_get(5)?,
                r.try_get(6)?,
            ))
        })
        .collect()
}

pub async fn metrics(
    client: &impl GenericClient,
    owner: Option<&str>,
) -> Result<Vec<(String, Metric)>, StoreError> {
    let rows = client
        .query(
            "SELECT DISTINCT instance, metric FROM metric_points
             WHERE $1::TEXT IS NULL OR owner = $1 ORDER BY instance, metric",
            &[&owner],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let metric: String = r.try_get(1)?;
            Ok((r.try_get(0)?, columns::metric(&metric)?))
        })
        .collect()
}

pub async fn forget_points(client: &impl GenericClient, before: i64) -> Result<u64, StoreError> {
    Ok(client
        .execute("DELETE FROM metric_points WHERE start < $1", &[&before])
        .await?)
}

pub async fn put_alarm(client: &impl GenericClient, alarm: &Alarm) -> Result<(), StoreError> {
    let a = AlarmRow::of(alarm);
    client
        .execute(
            &format!(
                "INSERT INTO metric_alarms ({ALARM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7,
                    $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
                 ON CONFLICT (owner, name) DO UPDATE SET
                    description = EXCLUDED.description,
                    actions_enabled = EXCLUDED.actions_enabled,
                    ok_actions = EXCLUDED.ok_actions, alarm_actions = EXCLUDED.alarm_actions,
                    insufficient_data_actions = EXCLUDED.insufficient_data_actions,
                    metric = EXCLUDED.metric, instance = EXCLUDED.instance,
                    statistic = EXCLUDED.statistic, period = EXCLUDED.period,
                    unit = EXCLUDED.unit, evaluation_periods = EXCLUDED.evaluation_periods,
                    threshold = EXCLUDED.threshold, comparison = EXCLUDED.comparison,
                    updated = EXCLUDED.updated"
            ),
            &[
                &a.owner,
                &a.name,
                &a.description,
                &a.actions_enabled,
                &a.ok_actions,
                &a.alarm_actions,
                &a.insufficient_data_actions,
                &a.metric,
                &a.instance,
                &a.statistic,
                &a.period,
                &a.unit,
                &a.evaluation_periods,
                &a.threshold,
                &a.comparison,
                &a.state,
                &a.state_reason,
                &a.state_updated,
                &a.updated,
            ],
        )
        .await?;
    Ok(())
}

fn alarm_from_row(r: &Row) -> Result<Alarm, StoreError> {
    AlarmRow {
        owner: r.try_get(0)?,
        name: r.try_get(1)?,
        description: r.try_get(2)?,
        actions_enabled: r.try_get(3)?,
        ok_actions: r.try_get(4)?,
        alarm_actions: r.try_get(5)?,
        insufficient_data_actions: r.try_get(6)?,
        metric: r.try_get(7)?,
        instance: r.try_get(8)?,
        statistic: r.try_get(9)?,
        period: r.try_get(10)?,
        unit: r.try_get(11)?,
        evaluation_periods: r.try_get(12)?,
        threshold: r.try_get(13)?,
        comparison: r.try_get(14)?,
        state: r.try_get(15)?,
        state_reason: r.try_get(16)?,
        state_updated: r.try_get(17)?,
        updated: r.try_get(18)?,
    }
    .alarm()
}

pub async fn alarms(
    client: &impl GenericClient,
    owner: Option<&str>,
) -> Result<Vec<Alarm>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {ALARM_COLUMNS} FROM metric_alarms WHERE $1::TEXT IS NULL OR owner = $1
                 ORDER BY owner, name"
            ),
            &[&owner],
        )
        .await?;
    rows.iter().map(alarm_from_row).collect()
}

pub async fn alarms_on(
    client: &impl GenericClient,
    instances: &[String],
) -> Result<Vec<Alarm>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {ALARM_COLUMNS} FROM metric_alarms WHERE instance = ANY($1)
                 ORDER BY owner, name"
            ),
            &[&instances],
        )
        .await?;
    rows.iter().map(alarm_from_row).collect()
}

pub async fn delete_alarms(
    client: &impl GenericClient,
    owner: &str,
    names: &[String],
) -> Result<u64, StoreError> {
    Ok(client
        .execute(
            "DELETE FROM metric_alarms WHERE owner = $1 AND name = ANY($2)",
            &[&owner, &names],
        )
        .await?)
}

pub async fn change_alarm_state(
    client: &impl GenericClient,
    owner: &str,
    name: &str,
    from: AlarmState,
    to: &StateChange,
) -> Result<bool, StoreError> {
    let changed = client
        .execute(
            "UPDATE metric_alarms SET state = $1, state_reason = $2, state_updated = $3
             WHERE owner = $4 AND name = $5 AND state = $6",
            &[
                &to.state.name(),
                &to.reason,
                &to.at,
                &owner,
                &name,
                &from.name(),
            ],
        )
        .await?;
    Ok(changed == 1)
}

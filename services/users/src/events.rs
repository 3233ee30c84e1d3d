//! The cloud's event log: an append-only record of every request the CLC and Walrus answer
//! and of every change of state that is billed (instances running and stopped, volumes,
//! bucket bytes). It is the audit trail (who did what, when, from where) and the source of
//! usage reports ([`crate::usage`]).
//!
//! Events live beside the users, in the same engine: the `events` table of `users.sqlite`
//! or of the cloud's PostgreSQL database. Nothing here updates or deletes a row.
//!
//! Writing never costs a request its own commit: one writer task per process takes what is
//! queued and commits it as one transaction (group commit). A change of state is awaited
//! until committed ([`EventLog::commit`]), so a crash loses nothing billed; a plain request
//! record is queued ([`EventLog::record`]) and a crash may lose the last few. The queue is
//! bounded: when it is full, the request waits for room; nothing is dropped.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use deadpool_postgres::Pool;
use rusqlite::{params, Connection};
use tokio::sync::{mpsc, oneshot};

use crate::{Location, User, UserError};

/// The table in SQLite (a migration of `users.sqlite`).
pub(crate) const SQLITE_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        account TEXT NOT NULL,
        user_name TEXT NOT NULL,
        source TEXT NOT NULL,
        component TEXT NOT NULL,
        action TEXT NOT NULL,
        resource TEXT NOT NULL,
        outcome TEXT NOT NULL,
        vm_type TEXT,
        volume_gb INTEGER,
        bytes INTEGER,
        state_change INTEGER NOT NULL,
        once TEXT UNIQUE
    ) STRICT;
    CREATE INDEX IF NOT EXISTS events_by_time ON events (time);
";

/// The table in PostgreSQL (a migration of the users' tables).
pub(crate) const PG_SCHEMA: &str = r#"
    CREATE TABLE IF NOT EXISTS events (
        seq BIGSERIAL PRIMARY KEY,
        time BIGINT NOT NULL,
        account TEXT COLLATE "C" NOT NULL,
        user_name TEXT COLLATE "C" NOT NULL,
        source TEXT COLLATE "C" NOT NULL,
        component TEXT COLLATE "C" NOT NULL,
        action TEXT COLLATE "C" NOT NULL,
        resource TEXT COLLATE "C" NOT NULL,
        outcome TEXT COLLATE "C" NOT NULL,
        vm_type TEXT COLLATE "C",
        volume_gb BIGINT,
        bytes BIGINT,
        state_change BOOLEAN NOT NULL,
        once TEXT COLLATE "C" UNIQUE
    );
    CREATE INDEX IF NOT EXISTS events_by_time ON events (time);
"#;

const COLUMNS: &str = "time, account, user_name, source, component, action, resource, \
                       outcome, vm_type, volume_gb, bytes, state_change, once";

/// The most events queued before a request waits for room.
const QUEUE: usize = 4096;
/// The most events one transaction commits.
const BATCH: usize = 512;
/// How often a failed commit is tried again before its events are reported lost.
const ATTEMPTS: u32 = 5;

/// The environment variable naming the test clock's file ([`clock_millis`]).
pub const TEST_CLOCK: &str = "EUCA_TEST_CLOCK";

/// The actions of the changes of state (a request's action is its operation's name).
pub mod action {
    /// RunInstances made the instance (its VM type): who ran it.
    pub const INSTANCE_LAUNCHED: &str = "instance.launched";
    /// Its cluster first reported it running: billing starts.
    pub const INSTANCE_RUNNING: &str = "instance.running";
    /// TerminateInstances, or its cluster stopped reporting it: billing ends.
    pub const INSTANCE_STOPPED: &str = "instance.stopped";
    pub const VOLUME_CREATED: &str = "volume.created";
    pub const VOLUME_DELETED: &str = "volume.deleted";
    pub const SNAPSHOT_CREATED: &str = "snapshot.created";
    pub const SNAPSHOT_DELETED: &str = "snapshot.deleted";
    pub const BUCKET_CREATED: &str = "bucket.created";
    pub const BUCKET_DELETED: &str = "bucket.deleted";
    /// The bucket's stored bytes changed by the event's byte count.
    pub const BUCKET_BYTES: &str = "bucket.bytes";
}

/// The part of the cloud an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Ec2,
    S3,
    Iam,
    /// The CloudWatch API, and its alarms' changes of state.
    CloudWatch,
    /// The cloud itself (its tick), acting for no request.
    System,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ec2 => "ec2",
            Self::S3 => "s3",
            Self::Iam => "iam",
            Self::CloudWatch => "cloudwatch",
            Self::System => "system",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "ec2" => Self::Ec2,
            "s3" => Self::S3,
            "iam" => Self::Iam,
            "cloudwatch" => Self::CloudWatch,
            _ => Self::System,
        }
    }
}

/// What an event counts, beside its resource.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Quantity {
    #[default]
    None,
    /// An instance's VM type.
    VmType(String),
    /// A volume's size in GB.
    VolumeGb(i64),
    /// Bytes added to (or, negative, removed from) a bucket.
    Bytes(i64),
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its place in the log, given when committed (0 before).
    pub seq: i64,
    /// Milliseconds since the epoch.
    pub time: i64,
    pub account: String,
    /// The user who asked (empty for the cloud's own changes).
    pub user: String,
    /// The client's address (empty for the cloud's own changes).
    pub source: String,
    pub component: Component,
    pub action: String,
    pub resource: String,
    /// `ok`, or the error code answered.
    pub outcome: String,
    pub quantity: Quantity,
    /// Whether it records a change of state (awaited, billed) rather than a request.
    pub state_change: bool,
    /// The change's unique key: a change seen twice (an instance starts running once,
    /// whether a launch's follow or the tick sees it first; a change written again after a
    /// crash) is recorded once. Requests have none.
    pub once: Option<String>,
}

impl Event {
    /// A request answered now with `outcome`.
    pub fn request(who: &Who, component: Component, action: &str, outcome: &str) -> Self {
        Self {
            seq: 0,
            time: clock_millis(),
            account: who.account.clone(),
            user: who.user.clone(),
            source: who.source.clone(),
            component,
            action: action.to_owned(),
            resource: String::new(),
            outcome: outcome.to_owned(),
            quantity: Quantity::None,
            state_change: false,
            once: None,
        }
    }

    /// A change of state of `resource`, now, keyed by its action and resource.
    pub fn change(
        who: &Who,
        component: Component,
        action: &str,
        resource: &str,
        quantity: Quantity,
    ) -> Self {
        Self {
            resource: resource.to_owned(),
            quantity,
            state_change: true,
            once: Some(format!("{action}:{resource}")),
            ..Self::request(who, component, action, "ok")
        }
    }
}

/// Who an event is for: the account, the user and the client's address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Who {
    pub account: String,
    pub user: String,
    pub source: String,
}

impl Who {
    /// `user`'s request from address `source` (an unauthenticated request names no one).
    pub fn of(user: Option<&User>, source: &str) -> Self {
        Self {
            account: user.map(|u| u.account.clone()).unwrap_or_default(),
            user: user.map(|u| u.name.clone()).unwrap_or_default(),
            source: source.to_owned(),
        }
    }

    /// The cloud itself, for `account`'s resource.
    pub fn system(account: &str) -> Self {
        Self {
            account: account.to_owned(),
            ..Self::default()
        }
    }
}

/// Milliseconds since the epoch for events: the real clock, or under tests the epoch
/// seconds in the file [`TEST_CLOCK`] names, read at each call so a test can move it. Only
/// event times read it: signatures and expiry keep the real clock.
pub fn clock_millis() -> i64 {
    static FILE: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    let file = FILE.get_or_init(|| std::env::var_os(TEST_CLOCK).map(Into::into));
    let Some(file) = file else {
        return kit::time::now_millis();
    };
    match std::fs::read_to_string(file)
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok())
    {
        Some(secs) => secs.saturating_mul(1000),
        None => {
            tracing::warn!(file = %file.display(), "the test clock is unreadable: the real time is recorded");
            kit::time::now_millis()
        }
    }
}

/// Where events are committed.
#[derive(Debug, Clone)]
enum Sink {
    Sqlite(Arc<Mutex<Connection>>),
    Postgres(Pool),
}

impl Sink {
    async fn open(location: &Location) -> Result<Self, UserError> {
        Ok(match location {
            Location::Sqlite(path) => {
                let path = path.clone();
                let conn = tokio::task::spawn_blocking(move || open_sqlite(&path))
                    .await
                    .map_err(|_| UserError::Runtime)??;
                Self::Sqlite(Arc::new(Mutex::new(conn)))
            }
            Location::Postgres(url) => Self::Postgres(crate::connect(url)?),
        })
    }

    /// Commits `events` in one transaction; a change already recorded (its `once` key) is
    /// left as it was.
    async fn write(&self, events: Vec<Event>) -> Result<(), UserError> {
        match self {
            Self::Sqlite(conn) => {
                let conn = Arc::clone(conn);
                tokio::task::spawn_blocking(move || {
                    let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
                    let tx = conn.transaction()?;
                    {
                        let mut insert = tx.prepare_cached(&format!(
                            "INSERT OR IGNORE INTO events ({COLUMNS}) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                        ))?;
                        for e in &events {
                            let (vm_type, gb, bytes) = columns(&e.quantity);
                            insert.execute(params![
                                e.time,
                                e.account,
                                e.user,
                                e.source,
                                e.component.as_str(),
                                e.action,
                                e.resource,
                                e.outcome,
                                vm_type,
                                gb,
                                bytes,
                                e.state_change,
                                e.once
                            ])?;
                        }
                    }
                    tx.commit()?;
                    Ok(())
                })
                .await
                .map_err(|_| UserError::Runtime)?
            }
            Self::Postgres(pool) => {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                let insert = tx
                    .prepare_cached(&format!(
                        "INSERT INTO events ({COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                         ON CONFLICT DO NOTHING"
                    ))
                    .await?;
                for e in &events {
                    let (vm_type, gb, bytes) = columns(&e.quantity);
                    tx.execute(
                        &insert,
                        &[
                            &e.time,
                            &e.account,
                            &e.user,
                            &e.source,
                            &e.component.as_str(),
                            &e.action,
                            &e.resource,
                            &e.outcome,
                            &vm_type,
                            &gb,
                            &bytes,
                            &e.state_change,
                            &e.once,
                        ],
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    }
}

fn open_sqlite(path: &Path) -> Result<Connection, UserError> {
    let open = |source| UserError::Open {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(open)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(open)?;
    Ok(conn)
}

/// A quantity as its three columns: VM type, volume GB, bytes.
fn columns(quantity: &Quantity) -> (Option<&str>, Option<i64>, Option<i64>) {
    match quantity {
        Quantity::None => (None, None, None),
        Quantity::VmType(t) => (Some(t), None, None),
        Quantity::VolumeGb(gb) => (None, Some(*gb), None),
        Quantity::Bytes(n) => (None, None, Some(*n)),
    }
}

fn quantity(vm_type: Option<String>, gb: Option<i64>, bytes: Option<i64>) -> Quantity {
    match (vm_type, gb, bytes) {
        (Some(t), _, _) => Quantity::VmType(t),
        (_, Some(gb), _) => Quantity::VolumeGb(gb),
        (_, _, Some(n)) => Quantity::Bytes(n),
        _ => Quantity::None,
    }
}

/// One entry of the writer's queue: an event, and whom to tell once it is committed (a
/// flush is an entry with no event).
#[derive(Debug)]
struct Entry {
    event: Option<Event>,
    done: Option<oneshot::Sender<bool>>,
}

/// Why an event was not recorded.
#[derive(Debug, thiserror::Error)]
#[error("the event log cannot be written")]
pub struct EventError;

/// The handle components write events through; cheap to clone. Its writer task runs while
/// a handle lives.
#[derive(Debug, Clone)]
pub struct EventLog {
    queue: mpsc::Sender<Entry>,
}

impl EventLog {
    /// Opens the log where `location` keeps the users (whose migrations made its table) and
    /// starts its writer on the current runtime.
    pub async fn start(location: &Location) -> Result<Self, UserError> {
        if let Some(file) = std::env::var_os(TEST_CLOCK) {
            tracing::warn!(file = ?file, "{TEST_CLOCK} is set: events record the test clock's time, not the real one");
        }
        let sink = Sink::open(location).await?;
        let (queue, entries) = mpsc::channel(QUEUE);
        tokio::spawn(write_all(sink, entries));
        Ok(Self { queue })
    }

    /// Queues a request's record; waits only when the queue is full.
    pub async fn record(&self, event: Event) {
        let entry = Entry {
            event: Some(event),
            done: None,
        };
        if let Err(lost) = self.queue.send(entry).await {
            tracing::error!(event = ?lost.0.event, "the event log's writer has stopped: event not recorded");
        }
    }

    /// Commits a change of state, returning once it is durable.
    pub async fn commit(&self, event: Event) -> Result<(), EventError> {
        self.wait(Some(event)).await
    }

    /// Returns once everything queued before it is committed (a stopping component's last
    /// act).
    pub async fn flush(&self) -> Result<(), EventError> {
        self.wait(None).await
    }

    async fn wait(&self, event: Option<Event>) -> Result<(), EventError> {
        let (done, committed) = oneshot::channel();
        let entry = Entry {
            event,
            done: Some(done),
        };
        self.queue.send(entry).await.map_err(|_| EventError)?;
        match committed.await {
            Ok(true) => Ok(()),
            _ => Err(EventError),
        }
    }
}

/// The writer: commits what is queued in batches until every handle is gone.
async fn write_all(sink: Sink, mut entries: mpsc::Receiver<Entry>) {
    let mut batch = Vec::with_capacity(BATCH);
    while entries.recv_many(&mut batch, BATCH).await > 0 {
        let events: Vec<Event> = batch.iter().filter_map(|e| e.event.clone()).collect();
        let committed = events.is_empty() || write_retrying(&sink, &events).await;
        if !committed {
            tracing::error!(
                ?events,
                "events not recorded: the event log cannot be written"
            );
        }
        for entry in batch.drain(..) {
            if let Some(done) = entry.done {
                // The waiter may have gone (its request was cancelled).
                let _ = done.send(committed);
            }
        }
    }
}

async fn write_retrying(sink: &Sink, events: &[Event]) -> bool {
    let mut pause = Duration::from_millis(50);
    for attempt in 1..=ATTEMPTS {
        match sink.write(events.to_vec()).await {
            Ok(()) => return true,
            Err(e) => {
                tracing::warn!(error = %e, attempt, "cannot commit events");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
    false
}

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Milliseconds since the epoch: from (inclusive) to (exclusive).
    pub from: i64,
    pub to: i64,
    pub account: Option<String>,
    /// Also every change of state before `from` (what usage needs to know the state at
    /// `from`).
    pub history: bool,
}

/// The events `selection` chooses at `location`, in order of time, then of commit.
pub async fn read(location: &Location, selection: &Selection) -> Result<Vec<Event>, UserError> {
    let filter = "time < $2 AND (time >= $1 OR ($3 AND state_change)) \
                  AND ($4::TEXT IS NULL OR account = $4)";
    let order = "ORDER BY time, seq";
    match location {
        Location::Sqlite(path) => {
            let (path, selection) = (path.clone(), selection.clone());
            tokio::task::spawn_blocking(move || {
                let conn = open_sqlite(&path)?;
                let sql = format!(
                    "SELECT seq, {COLUMNS} FROM events WHERE {} {order}",
                    filter.replace("::TEXT", "").replace('$', "?")
                );
                let mut statement = conn.prepare(&sql)?;
                let rows = statement.query_map(
                    params![
                        selection.from,
                        selection.to,
                        selection.history,
                        selection.account
                    ],
                    |r| {
                        Ok(Event {
                            seq: r.get(0)?,
                            time: r.get(1)?,
                            account: r.get(2)?,
                            user: r.get(3)?,
                            source: r.get(4)?,
                            component: Component::parse(&r.get::<_, String>(5)?),
                            action: r.get(6)?,
                            resource: r.get(7)?,
                            outcome: r.get(8)?,
                            quantity: quantity(r.get(9)?, r.get(10)?, r.get(11)?),
                            state_change: r.get(12)?,
                            once: r.get(13)?,
                        })
                    },
                )?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
            .map_err(|_| UserError::Runtime)?
        }
        Location::Postgres(url) => {
            let client = crate::connect(url)?.get().await?;
            let rows = client
                .query(
                    &format!("SELECT seq, {COLUMNS} FROM events WHERE {filter} {order}"),
                    &[
                        &selection.from,
                        &selection.to,
                        &selection.history,
                        &selection.account,
                    ],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(Event {
                        seq: r.try_get(0)?,
                        time: r.try_get(1)?,
                        account: r.try_get(2)?,
                        user: r.try_get(3)?,
                        source: r.try_get(4)?,
                        component: Component::parse(r.try_get(5)?),
                        action: r.try_get(6)?,
                        resource: r.try_get(7)?,
                        outcome: r.try_get(8)?,
                        quantity: quantity(r.try_get(9)?, r.try_get(10)?, r.try_get(11)?),
                        state_change: r.try_get(12)?,
                        once: r.try_get(13)?,
                    })
                })
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(UserError::from)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(time: i64, mut event: Event) -> Event {
        event.time = time;
        event
    }

    /// Writes a day's events through `log` and reads them back from `location`.
    async fn a_log_keeps_what_it_was_given(location: Location) {
        // Opening the users migrates them, the event log's table with them.
        match &location {
            Location::Sqlite(path) => drop(crate::UserStore::open(path).unwrap()),
            Location::Postgres(url) => {
                crate::PgUsers::open(crate::connect(url).unwrap())
                    .await
                    .unwrap();
            }
        }
        let log = EventLog::start(&location).await.unwrap();
        let ann = Who {
            account: "acme".into(),
            user: "ann".into(),
            source: "10.1.2.3".into(),
        };
        let run = |t| {
            at(
                t,
                Event::change(
                    &ann,
                    Component::Ec2,
                    action::INSTANCE_RUNNING,
                    "i-1",
                    Quantity::VmType("m1.small".into()),
                ),
            )
        };
        // Queued requests and awaited changes, many at once: one writer commits them all.
        let mut writes = tokio::task::JoinSet::new();
        for t in 0..200 {
            let (log, ann) = (log.clone(), ann.clone());
            writes.spawn(async move {
                log.record(at(
                    t,
                    Event::request(&ann, Component::S3, "PutObject", "ok"),
                ))
                .await;
            });
        }
        while writes.join_next().await.is_some() {}
        log.commit(run(300)).await.unwrap();
        // Seen again (the tick after the follow): recorded once, at its first time.
        log.commit(run(400)).await.unwrap();
        let bytes = |t, key: &str| Event {
            once: Some(key.into()),
            ..at(
                t,
                Event::change(
                    &ann,
                    Component::S3,
                    action::BUCKET_BYTES,
                    "b",
                    Quantity::Bytes(-5),
                ),
            )
        };
        log.commit(bytes(500, "s3:k1")).await.unwrap();
        log.commit(bytes(500, "s3:k2")).await.unwrap();
        log.commit(bytes(500, "s3:k1")).await.unwrap();
        log.flush().await.unwrap();

        let all = |from, to, history| Selection {
            from,
            to,
            account: None,
            history,
        };
        let read_all = read(&location, &all(0, 1000, false)).await.unwrap();
        assert_eq!(read_all.len(), 203);
        assert!(read_all
            .windows(2)
            .all(|w| (w[0].time, w[0].seq) < (w[1].time, w[1].seq)));
        let running = &read_all[200];
        assert_eq!(
            (running.time, running.source.as_str(), &running.quantity),
            (300, "10.1.2.3", &Quantity::VmType("m1.small".into()))
        );
        assert_eq!(read_all[201].quantity, Quantity::Bytes(-5));
        // From 250: the requests before it are left out, the changes before it kept.
        let since = read(&location, &all(250, 1000, true)).await.unwrap();
        assert_eq!(since.len(), 3);
        let other = Selection {
            account: Some("other".into()),
            ..all(0, 1000, true)
        };
        assert!(read(&location, &other).await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_keeps_the_events() {
        let dir = tempfile::tempdir().unwrap();
        a_log_keeps_what_it_was_given(Location::Sqlite(dir.path().join("users.sqlite"))).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_keeps_the_events() {
        match pgtest::database() {
            Ok(url) => a_log_keeps_what_it_was_given(Location::Postgres(url)).await,
            Err(skip) => println!("skipped: {skip}"),
        }
    }
}

//! Instance records on disk: an SQLite database under the data directory, so that a node
//! controller that restarts (or was killed) finds every instance again.
//!
//! One writer thread owns the connection and applies changes in the order they were
//! submitted; each submission returns a [`Persisted`] to await. Callers submit while they
//! hold the lock that orders their in-memory changes, so the disk sees the same order.
//! Changes waiting together are committed together, one sync for all (a commit costs a
//! sync of a few milliseconds: one each would cap a node at a few hundred launches a second).

use std::path::Path;
use std::sync::mpsc;
use std::thread;

use rusqlite::{params, Connection, Row};
use tokio::sync::oneshot;
use tracing::error;

use crate::instances::{ImageRef, InstanceRecord, NetParams, VmSize, Volume};

/// Why records could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("instance database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("instance database: record {id} is unreadable: {reason}")]
    Corrupt { id: String, reason: String },
    #[error("instance database: the writer has stopped")]
    Closed,
    #[error("cannot start the instance database writer: {0}")]
    Thread(std::io::Error),
}

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    PRAGMA foreign_keys = ON;
    CREATE TABLE IF NOT EXISTS instances (
        instance_id TEXT PRIMARY KEY,
        reservation_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        image_id TEXT NOT NULL,
        image_url TEXT NOT NULL,
        kernel_id TEXT NOT NULL,
        kernel_url TEXT NOT NULL,
        ramdisk_id TEXT,
        ramdisk_url TEXT,
        key_name TEXT NOT NULL,
        memory_mb INTEGER NOT NULL,
        cores INTEGER NOT NULL,
        disk_gb INTEGER NOT NULL,
        private_mac TEXT NOT NULL,
        public_mac TEXT NOT NULL,
        vlan INTEGER NOT NULL,
        private_ip TEXT NOT NULL,
        public_ip TEXT NOT NULL,
        user_data TEXT,
        launch_index TEXT,
        state TEXT NOT NULL,
        launch_time INTEGER NOT NULL,
        termination_time INTEGER,
        failure TEXT
    ) STRICT;
    CREATE TABLE IF NOT EXISTS group_names (
        instance_id TEXT NOT NULL REFERENCES instances ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (instance_id, position)
    ) STRICT;
    CREATE TABLE IF NOT EXISTS volumes (
        instance_id TEXT NOT NULL REFERENCES instances ON DELETE CASCADE,
        position INTEGER NOT NULL,
        volume_id TEXT NOT NULL,
        remote_dev TEXT NOT NULL,
        local_dev TEXT NOT NULL,
        PRIMARY KEY (instance_id, position)
    ) STRICT;
";

/// Most changes committed together.
const MAX_BATCH: usize = 512;

enum Change {
    Save(Box<InstanceRecord>),
    Delete(String),
}

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// Handle to the instance database.
#[derive(Debug, Clone)]
pub struct Store {
    changes: mpsc::Sender<(Change, Reply)>,
}

/// A change submitted to the store; await [`Persisted::wait`] to know it is on disk.
#[derive(Debug)]
#[must_use = "a change is durable only once wait() returns Ok"]
pub struct Persisted(oneshot::Receiver<Result<(), StoreError>>);

impl Persisted {
    pub async fn wait(self) -> Result<(), StoreError> {
        self.0.await.unwrap_or(Err(StoreError::Closed))
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and returns it with every record
    /// it holds.
    pub fn open(path: &Path) -> Result<(Self, Vec<InstanceRecord>), StoreError> {
        let mut connection = Connection::open(path)?;
        connection.execute_batch(SCHEMA)?;
        let records = load_all(&mut connection)?;
        let (changes, queue) = mpsc::channel::<(Change, Reply)>();
        thread::Builder::new()
            .name("instance-store".into())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let (changes, replies): (Vec<Change>, Vec<Reply>) = std::iter::once(first)
                        .chain(queue.try_iter().take(MAX_BATCH - 1))
                        .unzip();
                    for (result, reply) in apply_all(&mut connection, &changes)
                        .into_iter()
                        .zip(replies)
                    {
                        if let Err(e) = &result {
                            error!(error = %e, "cannot write an instance record");
                        }
                        let _ = reply.send(result);
                    }
                }
            })
            .map_err(StoreError::Thread)?;
        Ok((Self { changes }, records))
    }

    /// Submits `record` to be written (replacing any earlier version).
    pub fn save(&self, record: &InstanceRecord) -> Persisted {
        self.submit(Change::Save(Box::new(record.clone())))
    }

    /// Submits the removal of the record of `instance_id`.
    pub fn delete(&self, instance_id: &str) -> Persisted {
        self.submit(Change::Delete(instance_id.to_owned()))
    }

    fn submit(&self, change: Change) -> Persisted {
        let (reply, receiver) = oneshot::channel();
        // A send fails only when the writer thread is gone; the dropped reply then makes
        // wait() report Closed.
        let _ = self.changes.send((change, reply));
        Persisted(receiver)
    }
}

/// Applies `changes` in one transaction, each in a savepoint of its own so that one that
/// fails leaves the others; returns each one's outcome. When the commit itself fails, each
/// change is tried alone, for an outcome of its own.
fn apply_all(connection: &mut Connection, changes: &[Change]) -> Vec<Result<(), StoreError>> {
    match in_one_transaction(connection, changes) {
        Ok(outcomes) => outcomes,
        Err(e) if changes.len() == 1 => vec![Err(e)],
        Err(_) => changes
            .chunks(1)
            .flat_map(|one| apply_all(connection, one))
            .collect(),
    }
}

fn in_one_transaction(
    connection: &mut Connection,
    changes: &[Change],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut tx = connection.transaction()?;
    let mut outcomes = Vec::with_capacity(changes.len());
    for change in changes {
        let savepoint = tx.savepoint()?;
        let outcome = apply(&savepoint, change);
        if outcome.is_ok() {
            savepoint.commit()?;
        }
        // Dropped uncommitted, the savepoint rolls its change back.
        outcomes.push(outcome);
    }
    tx.commit()?;
    Ok(outcomes)
}

fn apply(connection: &Connection, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::Save(record) => write(connection, record),
        Change::Delete(id) => {
            connection.execute("DELETE FROM instances WHERE instance_id = ?1", [id])?;
            Ok(())
        }
    }
}

fn write(db: &Connection, r: &InstanceRecord) -> Result<(), StoreError> {
    let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    db.execute(
        "INSERT OR REPLACE INTO instances VALUES
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
          ?19, ?20, ?21, ?22, ?23, ?24)",
        params![
            r.instance_id,
            r.reservation_id,
            r.user_id,
            r.image.id,
            r.image.url,
            r.kernel.id,
            r.kernel.url,
            r.ramdisk.as_ref().map(|d| &d.id),
            r.ramdisk.as_ref().map(|d| &d.url),
            r.key_name,
            int(r.size.memory_mb),
            int(r.size.cores),
            int(r.size.disk_gb),
            r.net.private_mac,
            r.net.public_mac,
            r.net.vlan,
            r.net.private_ip,
            r.net.public_ip,
            r.user_data,
            r.launch_index,
            r.state.to_string(),
            r.launch_time,
            r.termination_time,
            r.failure,
        ],
    )?;
    // REPLACE deleted the old row and, through the cascade, its children.
    for (position, name) in (0_i64..).zip(&r.group_names) {
        db.execute(
            "INSERT INTO group_names VALUES (?1, ?2, ?3)",
            params![r.instance_id, position, name],
        )?;
    }
    for (position, v) in (0_i64..).zip(&r.volumes) {
        db.execute(
            "INSERT INTO volumes VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                r.instance_id,
                position,
                v.volume_id,
                v.remote_dev,
                v.local_dev
            ],
        )?;
    }
    Ok(())
}

fn load_all(connection: &mut Connection) -> Result<Vec<InstanceRecord>, StoreError> {
    let tx = connection.transaction()?;
    let mut records = Vec::new();
    {
        let mut rows = tx.prepare("SELECT * FROM instances ORDER BY launch_time, instance_id")?;
        let mut rows = rows.query([])?;
        while let Some(row) = rows.next()? {
            records.push(read(row)?);
        }
        let mut groups =
            tx.prepare("SELECT name FROM group_names WHERE instance_id = ?1 ORDER BY position")?;
        let mut volumes = tx.prepare(
            "SELECT volume_id, remote_dev, local_dev FROM volumes
             WHERE instance_id = ?1 ORDER BY position",
        )?;
        for record in &mut records {
            record.group_names = groups
                .query_map([&record.instance_id], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            record.volumes = volumes
                .query_map([&record.instance_id], |row| {
                    Ok(Volume {
                        volume_id: row.get(0)?,
                        remote_dev: row.get(1)?,
                        local_dev: row.get(2)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
        }
    }
    tx.commit()?;
    Ok(records)
}

fn read(row: &Row<'_>) -> Result<InstanceRecord, StoreError> {
    let instance_id: String = row.get("instance_id")?;
    let corrupt = |reason: String| StoreError::Corrupt {
        id: instance_id.clone(),
        reason,
    };
    let size = |column: &str| -> Result<u64, StoreError> {
        let value: i64 = row.get(column)?;
        u64::try_from(value).map_err(|_| corrupt(format!("{column} is {value}")))
    };
    let ramdisk = match (
        row.get::<_, Option<String>>("ramdisk_id")?,
        row.get::<_, Option<String>>("ramdisk_url")?,
    ) {
        (Some(id), Some(url)) => Some(ImageRef { id, url }),
        _ => None,
    };
    let state: String = row.get("state")?;
    Ok(InstanceRecord {
        reservation_id: row.get("reservation_id")?,
        user_id: row.get("user_id")?,
        image: ImageRef {
            id: row.get("image_id")?,
            url: row.get("image_url")?,
        },
        kernel: ImageRef {
            id: row.get("kernel_id")?,
            url: row.get("kernel_url")?,
        },
        ramdisk,
        key_name: row.get("key_name")?,
        size: VmSize {
            memory_mb: size("memory_mb")?,
            cores: size("cores")?,
            disk_gb: size("disk_gb")?,
        },
        net: NetParams {
            private_mac: row.get("private_mac")?,
            public_mac: row.get("public_mac")?,
            vlan: row.get("vlan")?,
            private_ip: row.get("private_ip")?,
            public_ip: row.get("public_ip")?,
        },
        user_data: row.get("user_data")?,
        launch_index: row.get("launch_index")?,
        group_names: Vec::new(),
        volumes: Vec::new(),
        state: state.parse().map_err(corrupt)?,
        launch_time: row.get("launch_time")?,
        termination_time: row.get("termination_time")?,
        failure: row.get("failure")?,
        instance_id: instance_id.clone(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::instances::testing::record;
    use crate::instances::State;
    use rusqlite::OptionalExtension;

    /// Whether a record for `instance_id` is on disk.
    fn exists(path: &Path, instance_id: &str) -> bool {
        let connection = Connection::open(path).unwrap();
        connection
            .query_row(
                "SELECT 1 FROM instances WHERE instance_id = ?1",
                [instance_id],
                |_| Ok(()),
            )
            .optional()
            .unwrap()
            .is_some()
    }

    #[tokio::test]
    async fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instances.sqlite");
        let (store, loaded) = Store::open(&path).unwrap();
        assert!(loaded.is_empty());
        let mut a = record("i-a");
        store.save(&a).wait().await.unwrap();
        a.state = State::Teardown;
        a.termination_time = Some(1_700_000_100);
        a.failure = Some("download failed".into());
        a.volumes.clear();
        a.group_names.pop();
        store.save(&a).wait().await.unwrap();
        let mut b = record("i-b");
        b.ramdisk = None;
        b.user_data = None;
        store.save(&b).wait().await.unwrap();
        store.save(&record("i-c")).wait().await.unwrap();
        store.delete("i-c").wait().await.unwrap();
        drop(store);

        let (_store, loaded) = Store::open(&path).unwrap();
        assert_eq!(loaded, vec![a, b]);
        assert!(!exists(&path, "i-c"));
    }

    /// Guards the batched commits: a burst larger than a batch lands whole, each change
    /// reported done.
    #[tokio::test]
    async fn a_burst_of_changes_lands_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instances.sqlite");
        let (store, _) = Store::open(&path).unwrap();
        let ids: Vec<String> = (0..MAX_BATCH * 2 + 7)
            .map(|n| format!("i-{n:04}"))
            .collect();
        let pending: Vec<Persisted> = ids.iter().map(|id| store.save(&record(id))).collect();
        let deleted = store.delete(&ids[0]);
        for p in pending {
            p.wait().await.unwrap();
        }
        deleted.wait().await.unwrap();
        drop(store);
        let (_, loaded) = Store::open(&path).unwrap();
        assert_eq!(loaded.len(), ids.len() - 1);
        assert!(!exists(&path, &ids[0]));
    }

    /// Guards against a later change overtaking an earlier one on its way to disk.
    #[tokio::test]
    async fn changes_land_in_submission_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instances.sqlite");
        let (store, _) = Store::open(&path).unwrap();
        let mut r = record("i-a");
        let mut pending = Vec::new();
        for state in [State::Booting, State::Running, State::Teardown] {
            r.state = state;
            pending.push(store.save(&r));
        }
        for p in pending.into_iter().rev() {
            p.wait().await.unwrap();
        }
        drop(store);
        let (_, loaded) = Store::open(&path).unwrap();
        assert_eq!(loaded[0].state, State::Teardown);
    }
}

//! The SC's state in SQLite (`DATA/storage.sqlite`, WAL): volumes, snapshots and the limits.
//! Every change is one statement or one transaction, so a restart finds what was answered.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{params, Connection, OptionalExtension, Row};

#[derive(Debug, thiserror::Error)]
#[error("storage database: {0}")]
pub struct StoreError(#[from] rusqlite::Error);

/// Schema versions, applied in order; `PRAGMA user_version` counts those applied.
const MIGRATIONS: [&str; 1] = ["
    CREATE TABLE volumes (
        id TEXT PRIMARY KEY,
        size_gb INTEGER NOT NULL,
        snapshot_id TEXT,
        status TEXT NOT NULL,
        create_time TEXT NOT NULL,
        node_ip TEXT,
        remote_dev TEXT
    );
    CREATE TABLE snapshots (
        id TEXT PRIMARY KEY,
        volume_id TEXT NOT NULL,
        size_gb INTEGER NOT NULL,
        status TEXT NOT NULL,
        start_time TEXT NOT NULL,
        progress INTEGER NOT NULL
    );
    CREATE TABLE limits (
        name TEXT PRIMARY KEY,
        gb INTEGER NOT NULL
    );
"];

/// A volume as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub id: String,
    pub size_gb: u32,
    pub snapshot_id: Option<String>,
    pub status: String,
    pub create_time: String,
    /// The node it is exported to, and where that node reaches it, while attached.
    pub node_ip: Option<String>,
    pub remote_dev: Option<String>,
}

/// A snapshot as stored; `progress` is a percentage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: String,
    pub volume_id: String,
    pub size_gb: u32,
    pub status: String,
    pub start_time: String,
    pub progress: u8,
}

/// The limits UpdateStorageConfiguration sets, in GB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_total_volume_gb: u32,
    pub max_volume_gb: u32,
}

impl Default for Limits {
    /// The original's defaults (StorageProperties): 50 GB in all, 10 GB a volume.
    fn default() -> Self {
        Self {
            max_total_volume_gb: 50,
            max_volume_gb: 10,
        }
    }
}

#[derive(Debug)]
pub struct Store {
    db: Mutex<Connection>,
}

fn volume(row: &Row<'_>) -> rusqlite::Result<Volume> {
    Ok(Volume {
        id: row.get(0)?,
        size_gb: row.get(1)?,
        snapshot_id: row.get(2)?,
        status: row.get(3)?,
        create_time: row.get(4)?,
        node_ip: row.get(5)?,
        remote_dev: row.get(6)?,
    })
}

fn snapshot(row: &Row<'_>) -> rusqlite::Result<Snapshot> {
    Ok(Snapshot {
        id: row.get(0)?,
        volume_id: row.get(1)?,
        size_gb: row.get(2)?,
        status: row.get(3)?,
        start_time: row.get(4)?,
        progress: row.get(5)?,
    })
}

const VOLUME_COLUMNS: &str =
    "SELECT id, size_gb, snapshot_id, status, create_time, node_ip, remote_dev FROM volumes";
const SNAPSHOT_COLUMNS: &str =
    "SELECT id, volume_id, size_gb, status, start_time, progress FROM snapshots";

impl Store {
    /// Opens (creating) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        let applied: u32 = db.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (migration, version) in MIGRATIONS.iter().zip(1u32..).skip(applied as usize) {
            let tx = db.transaction()?;
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()?;
        }
        Ok(Self { db: Mutex::new(db) })
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-done statement behind in SQLite.
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn limits(&self) -> Result<Limits, StoreError> {
        let db = self.db();
        let get = |name: &str| -> Result<Option<u32>, StoreError> {
            Ok(db
                .query_row("SELECT gb FROM limits WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?)
        };
        let default = Limits::default();
        Ok(Limits {
            max_total_volume_gb: get("max_total_volume")?.unwrap_or(default.max_total_volume_gb),
            max_volume_gb: get("max_volume")?.unwrap_or(default.max_volume_gb),
        })
    }

    pub fn set_limits(&self, limits: Limits) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        for (name, gb) in [
            ("max_total_volume", limits.max_total_volume_gb),
            ("max_volume", limits.max_volume_gb),
        ] {
            tx.execute(
                "INSERT INTO limits (name, gb) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET gb = excluded.gb",
                params![name, gb],
            )?;
        }
        Ok(tx.commit()?)
    }

    /// Adds `volume` unless its id is taken or it would take the volumes past
    /// `max_total_gb`; answers what stood in the way.
    pub fn add_volume(&self, volume: &Volume, max_total_gb: u32) -> Result<Added, StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM volumes WHERE id = ?1)",
            [&volume.id],
            |r| r.get(0),
        )?;
        if taken {
            return Ok(Added::Duplicate);
        }
        let used: u32 = tx.query_row("SELECT COALESCE(SUM(size_gb), 0) FROM volumes", [], |r| {
            r.get(0)
        })?;
        if used + volume.size_gb > max_total_gb {
            return Ok(Added::OverLimit { used });
        }
        tx.execute(
            "INSERT INTO volumes (id, size_gb, snapshot_id, status, create_time, node_ip, remote_dev)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                volume.id,
                volume.size_gb,
                volume.snapshot_id,
                volume.status,
                volume.create_time,
                volume.node_ip,
                volume.remote_dev
            ],
        )?;
        tx.commit()?;
        Ok(Added::Yes)
    }

    pub fn volume(&self, id: &str) -> Result<Option<Volume>, StoreError> {
        let sql = format!("{VOLUME_COLUMNS} WHERE id = ?1");
        Ok(self.db().query_row(&sql, [id], volume).optional()?)
    }

    /// The volumes exported to a node.
    pub fn attached_volumes(&self) -> Result<Vec<Volume>, StoreError> {
        let db = self.db();
        let sql = format!("{VOLUME_COLUMNS} WHERE remote_dev IS NOT NULL ORDER BY id");
        let mut statement = db.prepare(&sql)?;
        let rows = statement.query_map([], volume)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records (or, with `None`, ends) the export of a volume to a node.
    pub fn set_export(&self, id: &str, export: Option<(&str, &str)>) -> Result<(), StoreError> {
        let (node_ip, remote_dev) = export.unzip();
        self.db().execute(
            "UPDATE volumes SET node_ip = ?2, remote_dev = ?3 WHERE id = ?1",
            params![id, node_ip, remote_dev],
        )?;
        Ok(())
    }

    /// Removes a volume that is not exported; false when it is (or is gone).
    pub fn remove_unexported_volume(&self, id: &str) -> Result<bool, StoreError> {
        let removed = self.db().execute(
            "DELETE FROM volumes WHERE id = ?1 AND remote_dev IS NULL",
            [id],
        )?;
        Ok(removed == 1)
    }

    /// Adds a snapshot; false when its id is taken.
    pub fn add_snapshot(&self, snapshot: &Snapshot) -> Result<bool, StoreError> {
        let added = self.db().execute(
            "INSERT OR IGNORE INTO snapshots (id, volume_id, size_gb, status, start_time, progress)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                snapshot.id,
                snapshot.volume_id,
                snapshot.size_gb,
                snapshot.status,
                snapshot.start_time,
                snapshot.progress
            ],
        )?;
        Ok(added == 1)
    }

    pub fn snapshot(&self, id: &str) -> Result<Option<Snapshot>, StoreError> {
        let sql = format!("{SNAPSHOT_COLUMNS} WHERE id = ?1");
        Ok(self.db().query_row(&sql, [id], snapshot).optional()?)
    }

    /// The snapshots named, or all of them when `ids` is empty.
    pub fn snapshots(&self, ids: &[String]) -> Result<Vec<Snapshot>, StoreError> {
        let db = self.db();
        let sql = format!("{SNAPSHOT_COLUMNS} ORDER BY id");
        let mut statement = db.prepare(&sql)?;
        let rows = statement.query_map([], snapshot)?;
        let all: Vec<Snapshot> = rows.collect::<Result<_, _>>()?;
        Ok(all
            .into_iter()
            .filter(|s| ids.is_empty() || ids.contains(&s.id))
            .collect())
    }

    pub fn set_snapshot_progress(
        &self,
        id: &str,
        status: &str,
        progress: u8,
    ) -> Result<(), StoreError> {
        self.db().execute(
            "UPDATE snapshots SET status = ?2, progress = ?3 WHERE id = ?1",
            params![id, status, progress],
        )?;
        Ok(())
    }

    /// Snapshots a stopped SC left copying: they failed.
    pub fn fail_unfinished_snapshots(&self) -> Result<Vec<String>, StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let ids = {
            let mut statement = tx.prepare("SELECT id FROM snapshots WHERE status = 'pending'")?;
            let rows = statement.query_map([], |r| r.get(0))?;
            rows.collect::<Result<Vec<String>, _>>()?
        };
        tx.execute(
            "UPDATE snapshots SET status = 'failed' WHERE status = 'pending'",
            [],
        )?;
        tx.commit()?;
        Ok(ids)
    }

    pub fn remove_snapshot(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .db()
            .execute("DELETE FROM snapshots WHERE id = ?1", [id])?
            == 1)
    }
}

/// What [`Store::add_volume`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Yes,
    Duplicate,
    OverLimit { used: u32 },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn volume(id: &str, size_gb: u32) -> Volume {
        Volume {
            id: id.to_owned(),
            size_gb,
            snapshot_id: None,
            status: "available".to_owned(),
            create_time: "2009-01-01T00:00:00.000Z".to_owned(),
            node_ip: None,
            remote_dev: None,
        }
    }

    #[test]
    fn volumes_snapshots_and_limits_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("storage.sqlite");
        {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.limits().unwrap(), Limits::default());
            store
                .set_limits(Limits {
                    max_total_volume_gb: 3,
                    max_volume_gb: 2,
                })
                .unwrap();
            assert_eq!(
                store.add_volume(&volume("vol-1", 2), 3).unwrap(),
                Added::Yes
            );
            assert_eq!(
                store.add_volume(&volume("vol-1", 1), 3).unwrap(),
                Added::Duplicate
            );
            assert_eq!(
                store.add_volume(&volume("vol-2", 2), 3).unwrap(),
                Added::OverLimit { used: 2 }
            );
            store
                .set_export("vol-1", Some(("10.0.0.2", "nbd://h:1/vol-1")))
                .unwrap();
            assert!(!store.remove_unexported_volume("vol-1").unwrap());
            let snap = Snapshot {
                id: "snap-1".to_owned(),
                volume_id: "vol-1".to_owned(),
                size_gb: 2,
                status: "pending".to_owned(),
                start_time: "t".to_owned(),
                progress: 0,
            };
            assert!(store.add_snapshot(&snap).unwrap());
            assert!(!store.add_snapshot(&snap).unwrap());
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.limits().unwrap().max_volume_gb, 2);
        let attached = store.attached_volumes().unwrap();
        assert_eq!(attached.len(), 1);
        assert_eq!(attached[0].remote_dev.as_deref(), Some("nbd://h:1/vol-1"));
        assert_eq!(store.fail_unfinished_snapshots().unwrap(), ["snap-1"]);
        assert_eq!(store.snapshot("snap-1").unwrap().unwrap().status, "failed");
        store.set_export("vol-1", None).unwrap();
        assert!(store.remove_unexported_volume("vol-1").unwrap());
        assert!(store.volume("vol-1").unwrap().is_none());
    }
}

//! The users in an SQLite file of their own, `DATA/users.sqlite`, which Walrus and the CLC
//! open together. The database runs in WAL mode with a busy timeout, so that two processes
//! can share it.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::quotas::{self, Quota, Resource};
use crate::{NewUser, User, UserError, UserLookup};

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    CREATE TABLE IF NOT EXISTS users (
        name TEXT PRIMARY KEY,
        access_key TEXT NOT NULL UNIQUE,
        secret_key TEXT NOT NULL,
        canonical_id TEXT NOT NULL UNIQUE,
        email TEXT UNIQUE,
        admin INTEGER NOT NULL,
        enabled INTEGER NOT NULL,
        created INTEGER NOT NULL
    ) STRICT;
";

const COLUMNS: &str = "name, access_key, secret_key, canonical_id, email, admin, enabled, created";

/// The user database. Cheap to share behind an `Arc`; calls are short, and safe to make from
/// async code (see `with_conn`).
#[derive(Debug)]
pub struct UserStore {
    conn: Mutex<Connection>,
}

impl UserStore {
    /// Opens (creating if needed) the database at `path`. A new file is readable by its owner
    /// only, since it holds every secret key; SQLite gives its WAL files the same mode.
    pub fn open(path: &Path) -> Result<Self, UserError> {
        use std::os::unix::fs::OpenOptionsExt;

        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| UserError::Create {
                path: path.to_owned(),
                source,
            })?;
        let open = |source| UserError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open)?;
        // Another process (the CLC) may hold the write lock for a moment.
        conn.busy_timeout(Duration::from_secs(10)).map_err(open)?;
        conn.execute_batch(SCHEMA).map_err(open)?;
        conn.execute_batch(quotas::SQLITE_SCHEMA).map_err(open)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Runs `work` on the connection. Waiting for the connection and SQLite's I/O block, so
    /// on a worker of a multi-threaded Tokio runtime this runs under `block_in_place`, which
    /// first hands the worker's other tasks to another thread: callers in async code (the S3
    /// signature and ACL checks, behind synchronous interfaces) never stall the executor.
    fn with_conn<T>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, UserError> {
        let run = || {
            // A panic while holding the lock leaves the connection usable: SQLite rolls back.
            let conn = self
                .conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            work(&conn)
        };
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let result = if on_worker {
            tokio::task::block_in_place(run)
        } else {
            run()
        };
        Ok(result?)
    }

    /// Adds a user with fresh keys.
    pub fn create(&self, new: &NewUser) -> Result<User, UserError> {
        let user = new.generate()?;
        let inserted = self.with_conn(|conn| {
            conn.execute(
                &format!(
                    "INSERT OR IGNORE INTO users ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    user.name,
                    user.access_key,
                    user.secret_key,
                    user.canonical_id,
                    user.email,
                    user.admin,
                    user.enabled,
                    user.created
                ],
            )
        })?;
        if inserted == 0 {
            return Err(UserError::Exists(new.name.clone()));
        }
        Ok(user)
    }

    /// Creates the administrator [`crate::ADMIN_NAME`] unless an administrator exists; returns the
    /// new user when one was created.
    pub fn ensure_admin(&self) -> Result<Option<User>, UserError> {
        let any_admin: bool = self.with_conn(|conn| {
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE admin = 1)",
                [],
                |r| r.get(0),
            )
        })?;
        if any_admin {
            return Ok(None);
        }
        self.create(&NewUser::admin()).map(Some)
    }

    pub fn by_access_key(&self, access_key: &str) -> Result<Option<User>, UserError> {
        self.find("access_key", access_key)
    }

    pub fn by_name(&self, name: &str) -> Result<Option<User>, UserError> {
        self.find("name", name)
    }

    pub fn by_canonical_id(&self, id: &str) -> Result<Option<User>, UserError> {
        self.find("canonical_id", id)
    }

    pub fn by_email(&self, email: &str) -> Result<Option<User>, UserError> {
        self.find("email", email)
    }

    /// `column` is one of our own column names, never input.
    fn find(&self, column: &'static str, value: &str) -> Result<Option<User>, UserError> {
        self.with_conn(|conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM users WHERE {column} = ?1"),
                [value],
                user_from_row,
            )
            .optional()
        })
    }

    /// Every user, by name.
    pub fn list(&self) -> Result<Vec<User>, UserError> {
        self.with_conn(|conn| {
            conn.prepare(&format!("SELECT {COLUMNS} FROM users ORDER BY name"))?
                .query_map([], user_from_row)?
                .collect()
        })
    }

    /// Enables or disables a user; a disabled user's requests are refused.
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), UserError> {
        let changed = self.with_conn(|conn| {
            conn.execute(
                "UPDATE users SET enabled = ?2 WHERE name = ?1",
                params![name, enabled],
            )
        })?;
        if changed == 0 {
            return Err(UserError::NotFound(name.to_owned()));
        }
        Ok(())
    }

    /// Sets a limit, replacing the one it had.
    pub fn set_quota(&self, quota: &Quota) -> Result<(), UserError> {
        self.with_conn(|conn| quotas::sqlite_set(conn, quota))
    }

    /// Removes a limit; `false` when there was none.
    pub fn clear_quota(
        &self,
        account: &str,
        user: Option<&str>,
        resource: Resource,
    ) -> Result<bool, UserError> {
        self.with_conn(|conn| quotas::sqlite_clear(conn, account, user, resource))
    }

    /// The limits of `account` and its users (every account's for `None`).
    pub fn quotas(&self, account: Option<&str>) -> Result<Vec<Quota>, UserError> {
        self.with_conn(|conn| quotas::sqlite_list(conn, account))
    }

    pub fn delete(&self, name: &str) -> Result<(), UserError> {
        let changed =
            self.with_conn(|conn| conn.execute("DELETE FROM users WHERE name = ?1", [name]))?;
        if changed == 0 {
            return Err(UserError::NotFound(name.to_owned()));
        }
        Ok(())
    }
}

impl UserLookup for UserStore {
    fn by_name(&self, name: &str) -> Result<Option<User>, UserError> {
        UserStore::by_name(self, name)
    }

    fn by_access_key(&self, access_key: &str) -> Result<Option<User>, UserError> {
        UserStore::by_access_key(self, access_key)
    }

    fn by_canonical_id(&self, id: &str) -> Result<Option<User>, UserError> {
        UserStore::by_canonical_id(self, id)
    }

    fn by_email(&self, email: &str) -> Result<Option<User>, UserError> {
        UserStore::by_email(self, email)
    }

    fn quotas(&self, account: &str) -> Result<Vec<Quota>, UserError> {
        UserStore::quotas(self, Some(account))
    }
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        name: row.get(0)?,
        access_key: row.get(1)?,
        secret_key: row.get(2)?,
        canonical_id: row.get(3)?,
        email: row.get(4)?,
        admin: row.get(5)?,
        enabled: row.get(6)?,
        created: row.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ADMIN_NAME;

    fn store() -> (tempfile::TempDir, UserStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = UserStore::open(&dir.path().join("users.sqlite")).unwrap();
        (dir, store)
    }

    /// Guards against a lookup from async code stalling the worker's other tasks while it
    /// waits for the database.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_lookup_waiting_for_the_database_leaves_the_worker_to_other_tasks() {
        let (_dir, store) = store();
        let store = std::sync::Arc::new(store);
        let (locked, wait_locked) = std::sync::mpsc::channel();
        let holder = {
            let store = std::sync::Arc::clone(&store);
            std::thread::spawn(move || {
                let _conn = store.conn.lock().unwrap();
                locked.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(1500));
            })
        };
        wait_locked.recv().unwrap();
        let lookup = {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move { store.by_name("nobody") })
        };
        // The lookup now waits on the only worker, unless it handed the worker's tasks over.
        // (Timers need that worker too: the test waits on a plain channel.)
        std::thread::sleep(Duration::from_millis(100));
        let (ran, wait_ran) = std::sync::mpsc::channel();
        tokio::spawn(async move { ran.send(()).unwrap() });
        assert!(
            wait_ran.recv_timeout(Duration::from_millis(1000)).is_ok(),
            "another task waited for the lookup"
        );
        assert_eq!(lookup.await.unwrap().unwrap(), None);
        holder.join().unwrap();
    }

    #[test]
    fn the_database_and_its_wal_files_are_private() {
        // Guards against every user's secret key sitting in a world-readable file.
        use std::os::unix::fs::PermissionsExt;
        let (dir, store) = store();
        store.ensure_admin().unwrap();
        for name in ["users.sqlite", "users.sqlite-wal", "users.sqlite-shm"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }

    #[test]
    fn admin_is_created_once() {
        let (_dir, store) = store();
        let admin = store.ensure_admin().unwrap().unwrap();
        assert!(admin.admin && admin.enabled);
        assert_eq!(admin.name, ADMIN_NAME);
        assert!(store.ensure_admin().unwrap().is_none());
        assert_eq!(store.list().unwrap(), vec![admin]);
    }

    #[test]
    fn lookups_find_the_same_user() {
        let (_dir, store) = store();
        let bob = store
            .create(&NewUser {
                name: "bob".into(),
                email: Some("bob@example.com".into()),
                admin: false,
            })
            .unwrap();
        assert_eq!(
            store.by_access_key(&bob.access_key).unwrap().as_ref(),
            Some(&bob)
        );
        assert_eq!(store.by_name("bob").unwrap().as_ref(), Some(&bob));
        assert_eq!(
            store.by_canonical_id(&bob.canonical_id).unwrap().as_ref(),
            Some(&bob)
        );
        assert_eq!(
            store.by_email("bob@example.com").unwrap().as_ref(),
            Some(&bob)
        );
        assert!(store.by_access_key("NOPE").unwrap().is_none());
    }

    #[test]
    fn duplicate_and_invalid_names_are_refused() {
        let (_dir, store) = store();
        let new = NewUser {
            name: "carol".into(),
            ..NewUser::default()
        };
        store.create(&new).unwrap();
        assert!(matches!(store.create(&new), Err(UserError::Exists(_))));
        for bad in ["", "a b", "x/y", &"n".repeat(65)] {
            let new = NewUser {
                name: bad.into(),
                ..NewUser::default()
            };
            assert!(
                matches!(store.create(&new), Err(UserError::BadName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_second_connection_sees_changes_at_once() {
        // Regression guard for sharing with the CLC: no caching of users in a handle.
        let (dir, store) = store();
        let other = UserStore::open(&dir.path().join("users.sqlite")).unwrap();
        let dan = store
            .create(&NewUser {
                name: "dan".into(),
                ..NewUser::default()
            })
            .unwrap();
        assert!(
            other
                .by_access_key(&dan.access_key)
                .unwrap()
                .unwrap()
                .enabled
        );
        store.set_enabled("dan", false).unwrap();
        assert!(
            !other
                .by_access_key(&dan.access_key)
                .unwrap()
                .unwrap()
                .enabled
        );
        other.delete("dan").unwrap();
        assert!(store.by_name("dan").unwrap().is_none());
        assert!(matches!(store.delete("dan"), Err(UserError::NotFound(_))));
    }
}

//! The identities in an SQLite file of their own, `DATA/users.sqlite`, which Walrus and the
//! CLC open together. The database runs in WAL mode with a busy timeout, so that two
//! processes can share it; its schema is [`MIGRATIONS`], counted in `PRAGMA user_version`.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::accounts::Lookup;
use crate::{Quota, User, UserError, UserLookup};

/// The schema, one entry per version: a file at version N has run the first N. Never edit
/// an entry once released; add one.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: one user per row, as the cloud kept them before accounts (a file made then has
    // this table at version 0).
    "
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
    ",
    // 2: accounts, users in them and their access keys. Each old user X becomes account X
    // (its canonical id, its enabled flag) with root user `admin` holding X's key, so that
    // nothing a client holds changes.
    "
    CREATE TEMP TABLE legacy_users AS SELECT * FROM users;
    DROP TABLE users;
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        canonical_id TEXT NOT NULL UNIQUE,
        enabled INTEGER NOT NULL,
        created INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE users (
        account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        email TEXT UNIQUE,
        enabled INTEGER NOT NULL,
        created INTEGER NOT NULL,
        PRIMARY KEY (account, name)
    ) STRICT;
    CREATE TABLE access_keys (
        access_key TEXT PRIMARY KEY,
        secret_key TEXT NOT NULL,
        account TEXT NOT NULL,
        user_name TEXT NOT NULL,
        active INTEGER NOT NULL,
        created INTEGER NOT NULL,
        FOREIGN KEY (account, user_name) REFERENCES users (account, name) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX access_keys_by_user ON access_keys (account, user_name);
    INSERT INTO accounts (name, id, canonical_id, enabled, created)
        SELECT name, printf('%012d', abs(random() % 1000000000000)), canonical_id, enabled, created
        FROM legacy_users;
    INSERT INTO users (account, name, id, path, email, enabled, created)
        SELECT name, 'admin', 'AIDA' || substr(hex(randomblob(9)), 1, 17), '/', email, 1, created
        FROM legacy_users;
    INSERT INTO access_keys (access_key, secret_key, account, user_name, active, created)
        SELECT access_key, secret_key, name, 'admin', 1, created FROM legacy_users;
    DROP TABLE legacy_users;
    ",
    // 3: IAM groups, their members, and the policies of users and groups.
    crate::groups::SQLITE_SCHEMA,
    // 4: limits per account and per user (quotas.rs).
    crate::quotas::SQLITE_MIGRATION,
    // 5: the event log (`crate::events`).
    crate::events::SQLITE_SCHEMA,
    // 6: console passwords (IAM login profiles, passwords.rs).
    crate::passwords::SQLITE_MIGRATION,
];

/// The identity database. Cheap to share behind an `Arc`; calls are short, and safe to make
/// from async code (see `with_conn`).
#[derive(Debug)]
pub struct UserStore {
    conn: Mutex<Connection>,
}

impl UserStore {
    /// Opens (creating if needed, and migrating) the database at `path`. A new file is
    /// readable by its owner only, since it holds every secret key; SQLite gives its WAL
    /// files the same mode.
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
        let mut conn = Connection::open(path).map_err(open)?;
        // Another process (the CLC) may hold the write lock for a moment.
        conn.busy_timeout(Duration::from_secs(10)).map_err(open)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(open)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Runs `work` on the connection. Waiting for the connection and SQLite's I/O block, so
    /// on a worker of a multi-threaded Tokio runtime this runs under `block_in_place`, which
    /// first hands the worker's other tasks to another thread: callers in async code (the
    /// [`crate::Directory`], the S3 signature and ACL checks behind synchronous interfaces)
    /// never stall the executor.
    pub(crate) fn with_conn<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, UserError>,
    ) -> Result<T, UserError> {
        let run = || {
            // A panic while holding the lock leaves the connection usable: SQLite rolls back.
            let mut conn = self
                .conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            work(&mut conn)
        };
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if on_worker {
            tokio::task::block_in_place(run)
        } else {
            run()
        }
    }

    /// Runs `work` in an immediate transaction (taking the write lock first, so that its
    /// reads and writes are not interleaved with another process's), committing on success.
    pub(crate) fn write<T>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, UserError>,
    ) -> Result<T, UserError> {
        self.with_conn(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = work(&tx)?;
            tx.commit()?;
            Ok(out)
        })
    }
}

/// Brings the schema to the latest version in one transaction; a process opening the file
/// meanwhile waits for it and finds nothing left to do.
fn migrate(conn: &mut Connection) -> Result<(), UserError> {
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(UserError::Newer { found, known });
    }
    for sql in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", known)?;
    Ok(tx.commit()?)
}

impl UserLookup for UserStore {
    fn root_of(&self, account: &str) -> Result<Option<User>, UserError> {
        self.find(Lookup::Root(account))
    }

    fn by_access_key(&self, access_key: &str) -> Result<Option<User>, UserError> {
        self.find(Lookup::AccessKey(access_key))
    }

    fn by_canonical_id(&self, id: &str) -> Result<Option<User>, UserError> {
        self.find(Lookup::CanonicalId(id))
    }

    fn by_email(&self, email: &str) -> Result<Option<User>, UserError> {
        self.find(Lookup::Email(email))
    }

    fn policies_of(&self, user: &User) -> Result<Vec<crate::Policy>, UserError> {
        self.policies_applying_to(user)
    }

    fn quotas(&self, account: &str) -> Result<Vec<Quota>, UserError> {
        self.quotas(Some(account))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::suite;
    use crate::Directory;
    use std::sync::Arc;

    fn store() -> (tempfile::TempDir, UserStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = UserStore::open(&dir.path().join("users.sqlite")).unwrap();
        (dir, store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_directory_suite_passes() {
        let (_dir, store) = store();
        suite::run(&Directory::Sqlite(Arc::new(store))).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_of_the_schema_before_accounts_is_migrated_once() {
        // Guards the upgrade: every old user keeps its keys, as account X's root user.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch(suite::LEGACY_SQLITE)
            .unwrap();
        let open = || Directory::Sqlite(Arc::new(UserStore::open(&path).unwrap()));
        suite::migrated(&open(), &open()).await;
    }

    #[test]
    fn a_file_of_a_newer_schema_is_refused() {
        let (dir, store) = store();
        drop(store);
        let path = dir.path().join("users.sqlite");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        assert!(matches!(
            UserStore::open(&path),
            Err(UserError::Newer { found: 99, .. })
        ));
    }

    /// Guards against a lookup from async code stalling the worker's other tasks while it
    /// waits for the database.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_lookup_waiting_for_the_database_leaves_the_worker_to_other_tasks() {
        let (_dir, store) = store();
        let store = Arc::new(store);
        let (locked, wait_locked) = std::sync::mpsc::channel();
        let holder = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let _conn = store.conn.lock().unwrap();
                locked.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(1500));
            })
        };
        wait_locked.recv().unwrap();
        let lookup = {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.root_of("nobody") })
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
    fn a_second_connection_sees_changes_at_once() {
        // Regression guard for sharing with the CLC: no caching of users in a handle.
        let (dir, store) = store();
        let other = UserStore::open(&dir.path().join("users.sqlite")).unwrap();
        let (_, dan) = store.create_account("dan", None).unwrap();
        assert!(
            other
                .by_access_key(&dan.access_key)
                .unwrap()
                .unwrap()
                .enabled
        );
        store.set_account_enabled("dan", false).unwrap();
        assert!(
            !other
                .by_access_key(&dan.access_key)
                .unwrap()
                .unwrap()
                .enabled
        );
        other.delete_account("dan").unwrap();
        assert!(store.root_of("dan").unwrap().is_none());
    }
}

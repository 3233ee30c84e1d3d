//! The identities in the cloud's PostgreSQL database, beside the cloud's tables, so that an
//! account and what it owns change in one transaction. Their schema is [`MIGRATIONS`],
//! counted in the table `identity_schema`.

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::accounts::Lookup;
use crate::{Quota, User, UserError, UserLookup};

/// The schema, one entry per version (text byte by byte, `COLLATE "C"`, as the cloud's
/// tables): a database at version N has run the first N. Never edit an entry once released;
/// add one.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: one user per row, as the cloud kept them before accounts (a database made then has
    // this table, made by the cloud's first migration, and no `identity_schema`).
    r#"
    CREATE TABLE IF NOT EXISTS users (
        name TEXT COLLATE "C" PRIMARY KEY,
        access_key TEXT COLLATE "C" NOT NULL UNIQUE,
        secret_key TEXT COLLATE "C" NOT NULL,
        canonical_id TEXT COLLATE "C" NOT NULL UNIQUE,
        email TEXT COLLATE "C" UNIQUE,
        admin BOOLEAN NOT NULL,
        enabled BOOLEAN NOT NULL,
        created BIGINT NOT NULL
    );
    "#,
    // 2: accounts, users in them and their access keys. Each old user X becomes account X
    // (its canonical id, its enabled flag) with root user `admin` holding X's key, so that
    // nothing a client holds changes.
    r#"
    CREATE TEMP TABLE legacy_users ON COMMIT DROP AS SELECT * FROM users;
    DROP TABLE users;
    CREATE TABLE accounts (
        name TEXT COLLATE "C" PRIMARY KEY,
        id TEXT COLLATE "C" NOT NULL UNIQUE,
        canonical_id TEXT COLLATE "C" NOT NULL UNIQUE,
        enabled BOOLEAN NOT NULL,
        created BIGINT NOT NULL
    );
    CREATE TABLE users (
        account TEXT COLLATE "C" NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        name TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL UNIQUE,
        path TEXT COLLATE "C" NOT NULL,
        email TEXT COLLATE "C" UNIQUE,
        enabled BOOLEAN NOT NULL,
        created BIGINT NOT NULL,
        PRIMARY KEY (account, name)
    );
    CREATE TABLE access_keys (
        access_key TEXT COLLATE "C" PRIMARY KEY,
        secret_key TEXT COLLATE "C" NOT NULL,
        account TEXT COLLATE "C" NOT NULL,
        user_name TEXT COLLATE "C" NOT NULL,
        active BOOLEAN NOT NULL,
        created BIGINT NOT NULL,
        FOREIGN KEY (account, user_name) REFERENCES users (account, name) ON DELETE CASCADE
    );
    CREATE INDEX access_keys_by_user ON access_keys (account, user_name);
    INSERT INTO accounts (name, id, canonical_id, enabled, created)
        SELECT name, lpad(floor(random() * 1e12)::BIGINT::TEXT, 12, '0'), canonical_id,
            enabled, created
        FROM legacy_users;
    INSERT INTO users (account, name, id, path, email, enabled, created)
        SELECT name, 'admin', 'AIDA' || upper(substr(md5(random()::TEXT || name), 1, 17)), '/',
            email, TRUE, created
        FROM legacy_users;
    INSERT INTO access_keys (access_key, secret_key, account, user_name, active, created)
        SELECT access_key, secret_key, name, 'admin', TRUE, created FROM legacy_users;
    "#,
    // 3: IAM groups, their members, and the policies of users and groups.
    crate::groups::PG_SCHEMA,
    // 4: limits per account and per user (quotas.rs).
    crate::quotas::PG_MIGRATION,
    // 5: the event log (`crate::events`).
    crate::events::PG_SCHEMA,
    // 6: console passwords (IAM login profiles, passwords.rs).
    crate::passwords::PG_MIGRATION,
];

/// Serializes migrations of one database between processes (a CLC, Walrus and `euca
/// admin` starting together): a transaction-scoped advisory lock of this key.
const MIGRATION_LOCK: i64 = 0x6964_656e_7469_7479;

/// Most connections one process opens to the database.
const POOL_SIZE: usize = 16;
/// How long opening a connection may take, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of connections to the database at `url`, a libpq URL
/// (`postgresql://USER[:PASSWORD]@HOST[:PORT]/DB`, a Unix socket's folder as `?host=/path`).
/// Connections are opened when first needed, on the current Tokio runtime.
pub fn connect(url: &str) -> Result<Pool, UserError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| UserError::Url(e.to_string()))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .build()
        .map_err(|e| UserError::Url(e.to_string()))
}

/// The identities of a cloud's PostgreSQL database. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct PgUsers {
    pool: Pool,
}

impl PgUsers {
    /// The identities in the database of `pool`, its schema brought to this program's
    /// version first.
    pub async fn open(pool: Pool) -> Result<Self, UserError> {
        let users = Self { pool };
        users.migrate().await?;
        Ok(users)
    }

    pub(crate) async fn client(&self) -> Result<Object, UserError> {
        Ok(self.pool.get().await?)
    }

    /// Runs the missing migrations of the identity schema.
    async fn migrate(&self) -> Result<(), UserError> {
        let schema = Schema {
            table: "identity_schema",
            lock: MIGRATION_LOCK,
            migrations: MIGRATIONS,
        };
        let mut client = self.client().await?;
        schema.migrate(&mut client).await
    }
}

/// A schema kept in a PostgreSQL database that several processes share, as an ordered list
/// of migrations: `table` records the version reached, and the transaction-scoped advisory
/// lock `lock` lets one process at a time migrate (the identity's here, the cloud's store).
#[derive(Debug, Clone, Copy)]
pub struct Schema<'a, S> {
    pub table: &'static str,
    pub lock: i64,
    pub migrations: &'a [S],
}

impl<S: AsRef<str> + Sync> Schema<'_, S> {
    /// Runs the missing migrations on `client`, one transaction each, under the lock; a
    /// database of a later version than this program knows is [`UserError::Newer`].
    pub async fn migrate(&self, client: &mut tokio_postgres::Client) -> Result<(), UserError> {
        let known = i64::try_from(self.migrations.len()).unwrap_or(i64::MAX);
        let table = self.table;
        loop {
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&self.lock])
                .await?;
            // Without the SET, every start logs the server's NOTICE that the table exists.
            tx.batch_execute(&format!(
                "SET LOCAL client_min_messages = warning;
                 CREATE TABLE IF NOT EXISTS {table} (version BIGINT NOT NULL)"
            ))
            .await?;
            let found: i64 = tx
                .query_one(
                    &format!("SELECT COALESCE(MAX(version), 0) FROM {table}"),
                    &[],
                )
                .await?
                .try_get(0)?;
            if found > known {
                return Err(UserError::Newer { found, known });
            }
            let Some(sql) = usize::try_from(found)
                .ok()
                .and_then(|i| self.migrations.get(i))
            else {
                return Ok(tx.commit().await?);
            };
            tx.batch_execute(sql.as_ref()).await?;
            tx.execute(
                &format!("INSERT INTO {table} (version) VALUES ($1)"),
                &[&(found + 1)],
            )
            .await?;
            tx.commit().await?;
        }
    }
}

/// Runs `work` to its end for a synchronous caller on a multi-threaded runtime, handing this
/// worker's other tasks to another thread meanwhile.
pub(crate) fn wait<T>(work: impl Future<Output = Result<T, UserError>>) -> Result<T, UserError> {
    let handle = tokio::runtime::Handle::try_current().map_err(|_| UserError::Runtime)?;
    if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return Err(UserError::Runtime);
    }
    tokio::task::block_in_place(|| handle.block_on(work))
}

impl UserLookup for PgUsers {
    fn root_of(&self, account: &str) -> Result<Option<User>, UserError> {
        wait(self.find(Lookup::Root(account)))
    }

    fn by_access_key(&self, access_key: &str) -> Result<Option<User>, UserError> {
        wait(self.find(Lookup::AccessKey(access_key)))
    }

    fn by_canonical_id(&self, id: &str) -> Result<Option<User>, UserError> {
        wait(self.find(Lookup::CanonicalId(id)))
    }

    fn by_email(&self, email: &str) -> Result<Option<User>, UserError> {
        wait(self.find(Lookup::Email(email)))
    }

    fn policies_of(&self, user: &User) -> Result<Vec<crate::Policy>, UserError> {
        wait(self.policies_applying_to(user))
    }

    fn quotas(&self, account: &str) -> Result<Vec<Quota>, UserError> {
        wait(PgUsers::quotas(self, Some(account)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{suite, Directory};

    /// A fresh database of the test server, or `None` (printed) when PostgreSQL is not
    /// installed.
    fn database() -> Option<String> {
        pgtest::database()
            .map_err(|skip| println!("skipped: {skip}"))
            .ok()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_directory_suite_passes() {
        let Some(url) = database() else { return };
        let users = PgUsers::open(connect(&url).unwrap()).await.unwrap();
        suite::run(&Directory::Postgres(users)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_database_of_the_schema_before_accounts_is_migrated_once() {
        // Guards the upgrade: every old user keeps its keys, as account X's root user.
        let Some(url) = database() else { return };
        let pool = connect(&url).unwrap();
        let client = pool.get().await.unwrap();
        client.batch_execute(suite::LEGACY_POSTGRES).await.unwrap();
        drop(client);
        let open = || async { Directory::Postgres(PgUsers::open(pool.clone()).await.unwrap()) };
        suite::migrated(&open().await, &open().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn processes_opening_a_new_database_together_migrate_it_once() {
        let Some(url) = database() else { return };
        let open = || async { PgUsers::open(connect(&url).unwrap()).await };
        let (one, two, three) = tokio::join!(open(), open(), open());
        let users = Directory::Postgres(one.unwrap());
        two.unwrap();
        three.unwrap();
        assert!(users.ensure_admin().await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_lookup_on_a_single_threaded_runtime_is_an_error_not_a_deadlock() {
        let Some(url) = database() else { return };
        let users = PgUsers::open(connect(&url).unwrap()).await.unwrap();
        assert!(matches!(
            users.by_access_key("AKID"),
            Err(UserError::Runtime)
        ));
    }
}

//! The users in the cloud's PostgreSQL database: its `users` table, which the cloud's
//! migrations create from [`SCHEMA`], so that a user and what they own change in one
//! transaction.

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{NoTls, Row};

use crate::quotas::{self, Quota, Resource};
use crate::{NewUser, User, UserError, UserLookup};

/// The `users` table (text byte by byte, as the cloud's tables).
pub const SCHEMA: &str = r#"
    CREATE TABLE users (
        name TEXT COLLATE "C" PRIMARY KEY,
        access_key TEXT COLLATE "C" NOT NULL UNIQUE,
        secret_key TEXT COLLATE "C" NOT NULL,
        canonical_id TEXT COLLATE "C" NOT NULL UNIQUE,
        email TEXT COLLATE "C" UNIQUE,
        admin BOOLEAN NOT NULL,
        enabled BOOLEAN NOT NULL,
        created BIGINT NOT NULL
    );
"#;

const COLUMNS: &str = "name, access_key, secret_key, canonical_id, email, admin, enabled, created";

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

/// Which unique column finds a user.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    Name(&'a str),
    AccessKey(&'a str),
    CanonicalId(&'a str),
    Email(&'a str),
}

/// The users of a cloud's PostgreSQL database. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct PgUsers {
    pool: Pool,
}

impl PgUsers {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Adds a user with fresh keys.
    pub async fn create(&self, new: &NewUser) -> Result<User, UserError> {
        let user = new.generate()?;
        let client = self.pool.get().await?;
        let inserted = client
            .execute(
                &format!(
                    "INSERT INTO users ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT DO NOTHING"
                ),
                &[
                    &user.name,
                    &user.access_key,
                    &user.secret_key,
                    &user.canonical_id,
                    &user.email,
                    &user.admin,
                    &user.enabled,
                    &user.created,
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(UserError::Exists(new.name.clone()));
        }
        Ok(user)
    }

    /// Creates the administrator unless an administrator exists, in one statement (two
    /// processes starting together create one); returns the new user when created.
    pub async fn ensure_admin(&self) -> Result<Option<User>, UserError> {
        let admin = NewUser::admin().generate()?;
        let client = self.pool.get().await?;
        let inserted = client
            .execute(
                &format!(
                    "INSERT INTO users ({COLUMNS})
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8
                     WHERE NOT EXISTS (SELECT 1 FROM users WHERE admin)
                     ON CONFLICT DO NOTHING"
                ),
                &[
                    &admin.name,
                    &admin.access_key,
                    &admin.secret_key,
                    &admin.canonical_id,
                    &admin.email,
                    &admin.admin,
                    &admin.enabled,
                    &admin.created,
                ],
            )
            .await?;
        Ok((inserted > 0).then_some(admin))
    }

    pub async fn find(&self, key: Key<'_>) -> Result<Option<User>, UserError> {
        let (column, value) = match key {
            Key::Name(v) => ("name", v),
            Key::AccessKey(v) => ("access_key", v),
            Key::CanonicalId(v) => ("canonical_id", v),
            Key::Email(v) => ("email", v),
        };
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM users WHERE {column} = $1"),
                &[&value],
            )
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    /// Every user, by name.
    pub async fn list(&self) -> Result<Vec<User>, UserError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(&format!("SELECT {COLUMNS} FROM users ORDER BY name"), &[])
            .await?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    /// Enables or disables a user; a disabled user's requests are refused.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), UserError> {
        let client = self.pool.get().await?;
        let changed = client
            .execute(
                "UPDATE users SET enabled = $2 WHERE name = $1",
                &[&name, &enabled],
            )
            .await?;
        if changed == 0 {
            return Err(UserError::NotFound(name.to_owned()));
        }
        Ok(())
    }

    /// Sets a limit, replacing the one it had.
    pub async fn set_quota(&self, quota: &Quota) -> Result<(), UserError> {
        quotas::pg_set(&self.pool.get().await?, quota).await
    }

    /// Removes a limit; `false` when there was none.
    pub async fn clear_quota(
        &self,
        account: &str,
        user: Option<&str>,
        resource: Resource,
    ) -> Result<bool, UserError> {
        quotas::pg_clear(&self.pool.get().await?, account, user, resource).await
    }

    /// The limits of `account` and its users (every account's for `None`).
    pub async fn quotas(&self, account: Option<&str>) -> Result<Vec<Quota>, UserError> {
        quotas::pg_list(&self.pool.get().await?, account).await
    }

    /// Deletes a user through `client`, so that a caller's transaction can take what the
    /// user owns with them.
    pub async fn delete(client: &impl GenericClient, name: &str) -> Result<(), UserError> {
        let changed = client
            .execute("DELETE FROM users WHERE name = $1", &[&name])
            .await?;
        if changed == 0 {
            return Err(UserError::NotFound(name.to_owned()));
        }
        Ok(())
    }

    /// Runs a lookup to its end for a synchronous caller on a multi-threaded runtime,
    /// handing this worker's other tasks to another thread meanwhile.
    fn wait<T>(work: impl Future<Output = Result<T, UserError>>) -> Result<T, UserError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| UserError::Runtime)?;
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return Err(UserError::Runtime);
        }
        tokio::task::block_in_place(|| handle.block_on(work))
    }
}

impl UserLookup for PgUsers {
    fn by_name(&self, name: &str) -> Result<Option<User>, UserError> {
        Self::wait(self.find(Key::Name(name)))
    }

    fn by_access_key(&self, access_key: &str) -> Result<Option<User>, UserError> {
        Self::wait(self.find(Key::AccessKey(access_key)))
    }

    fn by_canonical_id(&self, id: &str) -> Result<Option<User>, UserError> {
        Self::wait(self.find(Key::CanonicalId(id)))
    }

    fn by_email(&self, email: &str) -> Result<Option<User>, UserError> {
        Self::wait(self.find(Key::Email(email)))
    }

    fn quotas(&self, account: &str) -> Result<Vec<Quota>, UserError> {
        Self::wait(PgUsers::quotas(self, Some(account)))
    }
}

fn user_from_row(row: &Row) -> Result<User, tokio_postgres::Error> {
    Ok(User {
        name: row.try_get(0)?,
        access_key: row.try_get(1)?,
        secret_key: row.try_get(2)?,
        canonical_id: row.try_get(3)?,
        email: row.try_get(4)?,
        admin: row.try_get(5)?,
        enabled: row.try_get(6)?,
        created: row.try_get(7)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Users on a fresh database of the test server with the table made, or `None` (printed)
    /// when PostgreSQL is not installed.
    async fn users() -> Option<PgUsers> {
        let url = match pgtest::database() {
            Ok(url) => url,
            Err(skip) => {
                println!("skipped: {skip}");
                return None;
            }
        };
        let pool = connect(&url).unwrap();
        pool.get()
            .await
            .unwrap()
            .batch_execute(SCHEMA)
            .await
            .unwrap();
        Some(PgUsers::new(pool))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn walrus_lookups_see_every_change_at_once() {
        let Some(users) = users().await else { return };
        let admin = users.ensure_admin().await.unwrap().unwrap();
        assert!(users.ensure_admin().await.unwrap().is_none());
        let bob = users
            .create(&NewUser {
                name: "bob".into(),
                email: Some("bob@example.com".into()),
                admin: false,
            })
            .await
            .unwrap();
        assert!(matches!(
            users
                .create(&NewUser {
                    name: "bob".into(),
                    ..NewUser::default()
                })
                .await,
            Err(UserError::Exists(_))
        ));
        let lookup: &dyn UserLookup = &users;
        assert_eq!(lookup.by_name("bob").unwrap().as_ref(), Some(&bob));
        assert_eq!(
            lookup.by_access_key(&bob.access_key).unwrap().as_ref(),
            Some(&bob)
        );
        assert_eq!(
            lookup.by_canonical_id(&bob.canonical_id).unwrap().as_ref(),
            Some(&bob)
        );
        assert_eq!(
            lookup.by_email("bob@example.com").unwrap().as_ref(),
            Some(&bob)
        );
        users.set_enabled("bob", false).await.unwrap();
        assert!(
            !lookup
                .by_access_key(&bob.access_key)
                .unwrap()
                .unwrap()
                .enabled
        );
        PgUsers::delete(&users.pool.get().await.unwrap(), "bob")
            .await
            .unwrap();
        assert!(lookup.by_access_key(&bob.access_key).unwrap().is_none());
        assert_eq!(users.list().await.unwrap(), vec![admin]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn quotas_are_set_replaced_listed_and_cleared() {
        let Some(users) = users().await else { return };
        users
            .pool
            .get()
            .await
            .unwrap()
            .batch_execute(quotas::PG_SCHEMA)
            .await
            .unwrap();
        let mut account = Quota {
            account: "A".into(),
            user: None,
            resource: Resource::BucketGb,
            limit: 1 << 20,
        };
        users.set_quota(&account).await.unwrap();
        account.limit = 2 << 20;
        users.set_quota(&account).await.unwrap();
        let user = Quota {
            user: Some("u".into()),
            resource: Resource::Instances,
            limit: 2,
            ..account.clone()
        };
        users.set_quota(&user).await.unwrap();
        let other = Quota {
            account: "B".into(),
            ..account.clone()
        };
        users.set_quota(&other).await.unwrap();
        let lookup: &dyn UserLookup = &users;
        assert_eq!(lookup.quotas("A").unwrap(), [account.clone(), user]);
        assert_eq!(users.quotas(None).await.unwrap().len(), 3);
        assert!(users
            .clear_quota("A", Some("u"), Resource::Instances)
            .await
            .unwrap());
        assert!(!users
            .clear_quota("A", Some("u"), Resource::Instances)
            .await
            .unwrap());
        assert_eq!(users.quotas(Some("A")).await.unwrap(), [account]);
    }

    #[tokio::test]
    async fn a_lookup_on_a_single_threaded_runtime_is_an_error_not_a_deadlock() {
        let Some(users) = users().await else { return };
        assert!(matches!(
            users.by_access_key("AKID"),
            Err(UserError::Runtime)
        ));
    }
}

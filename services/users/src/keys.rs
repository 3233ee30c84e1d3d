//! Users' access keys, in both engines: up to [`MAX_ACCESS_KEYS`] per user, created fresh,
//! listed, made active or inactive, deleted.

use kit::time::now;
use rusqlite::params;

use crate::sql::{
    changed, pg, pg_lock_user, pg_user_exists, sqlite_rows, sqlite_user_exists, Columns,
};
use crate::{credentials, AccessKey, Directory, PgUsers, UserError, UserStore, MAX_ACCESS_KEYS};

const KEYS_OF: &str = "SELECT access_key, secret_key, user_name, account, active, created
    FROM access_keys WHERE account = ?1 AND user_name = ?2 ORDER BY created, access_key";
/// A new active key (access key, secret, account, user, created).
pub(crate) const INSERT_KEY: &str =
    "INSERT INTO access_keys (access_key, secret_key, account, user_name, active, created)
    VALUES (?1, ?2, ?3, ?4, TRUE, ?5)";
const COUNT_KEYS: &str = "SELECT COUNT(*) FROM access_keys WHERE account = ?1 AND user_name = ?2";
const SET_ACTIVE: &str =
    "UPDATE access_keys SET active = ?4 WHERE account = ?1 AND user_name = ?2 AND access_key = ?3";
const DELETE_KEY: &str =
    "DELETE FROM access_keys WHERE account = ?1 AND user_name = ?2 AND access_key = ?3";

fn key_from(row: &impl Columns) -> Result<AccessKey, UserError> {
    Ok(AccessKey {
        access_key: row.get(0)?,
        secret_key: row.get(1)?,
        user: row.get(2)?,
        account: row.get(3)?,
        active: row.get(4)?,
        created: row.get(5)?,
    })
}

/// A fresh active key for `user` of `account`, unless the user holds as many as it may.
fn new_key(account: &str, user: &str, held: i64) -> Result<AccessKey, UserError> {
    if usize::try_from(held).unwrap_or(usize::MAX) >= MAX_ACCESS_KEYS {
        return Err(UserError::LimitExceeded(format!(
            "user {user:?} of account {account:?} already has {MAX_ACCESS_KEYS} access keys"
        )));
    }
    let (access_key, secret_key) = credentials::key_pair()?;
    Ok(AccessKey {
        access_key,
        secret_key,
        user: user.to_owned(),
        account: account.to_owned(),
        active: true,
        created: now(),
    })
}

impl UserStore {
    /// Gives `user` of `account` a fresh active key.
    pub fn create_key(&self, account: &str, user: &str) -> Result<AccessKey, UserError> {
        self.write(|tx| {
            sqlite_user_exists(tx, account, user)?;
            let held: i64 = tx.query_row(COUNT_KEYS, [account, user], |r| r.get(0))?;
            let key = new_key(account, user, held)?;
            tx.execute(
                INSERT_KEY,
                params![key.access_key, key.secret_key, account, user, key.created],
            )?;
            Ok(key)
        })
    }

    /// The keys of `user` of `account`, oldest first.
    pub fn keys(&self, account: &str, user: &str) -> Result<Vec<AccessKey>, UserError> {
        self.with_conn(|conn| {
            sqlite_user_exists(conn, account, user)?;
            sqlite_rows(conn, KEYS_OF, [account, user], |row| key_from(row))
        })
    }

    pub fn set_key_active(
        &self,
        account: &str,
        user: &str,
        access_key: &str,
        active: bool,
    ) -> Result<(), UserError> {
        let count = self.with_conn(|conn| {
            Ok(conn.execute(SET_ACTIVE, params![account, user, access_key, active])?)
        })?;
        changed(count > 0, "access key", access_key)
    }

    pub fn delete_key(&self, account: &str, user: &str, access_key: &str) -> Result<(), UserError> {
        let count =
            self.with_conn(|conn| Ok(conn.execute(DELETE_KEY, [account, user, access_key])?))?;
        changed(count > 0, "access key", access_key)
    }
}

impl PgUsers {
    /// Gives `user` of `account` a fresh active key; the user's row is locked meanwhile, so
    /// that two requests together cannot pass the limit.
    pub async fn create_key(&self, account: &str, user: &str) -> Result<AccessKey, UserError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        pg_lock_user(&tx, account, user).await?;
        let held: i64 = tx
            .query_one(&pg(COUNT_KEYS), &[&account, &user])
            .await?
            .try_get(0)?;
        let key = new_key(account, user, held)?;
        tx.execute(
            &pg(INSERT_KEY),
            &[
                &key.access_key,
                &key.secret_key,
                &account,
                &user,
                &key.created,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(key)
    }

    pub async fn keys(&self, account: &str, user: &str) -> Result<Vec<AccessKey>, UserError> {
        let client = self.client().await?;
        pg_user_exists(&client, account, user).await?;
        let rows = client.query(&pg(KEYS_OF), &[&account, &user]).await?;
        rows.iter().map(key_from).collect()
    }

    pub async fn set_key_active(
        &self,
        account: &str,
        user: &str,
        access_key: &str,
        active: bool,
    ) -> Result<(), UserError> {
        let count = self
            .client()
            .await?
            .execute(&pg(SET_ACTIVE), &[&account, &user, &access_key, &active])
            .await?;
        changed(count > 0, "access key", access_key)
    }

    pub async fn delete_key(
        &self,
        account: &str,
        user: &str,
        access_key: &str,
    ) -> Result<(), UserError> {
        let count = self
            .client()
            .await?
            .execute(&pg(DELETE_KEY), &[&account, &user, &access_key])
            .await?;
        changed(count > 0, "access key", access_key)
    }
}

/// The access keys of either engine, for async callers.
impl Directory {
    /// Gives `user` of `account` a fresh active key; a user holding
    /// [`MAX_ACCESS_KEYS`] already is `LimitExceeded`.
    pub async fn create_key(&self, account: &str, user: &str) -> Result<AccessKey, UserError> {
        match self {
            Self::Sqlite(s) => s.create_key(account, user),
            Self::Postgres(p) => p.create_key(account, user).await,
        }
    }

    /// The keys of `user` of `account`, oldest first.
    pub async fn keys(&self, account: &str, user: &str) -> Result<Vec<AccessKey>, UserError> {
        match self {
            Self::Sqlite(s) => s.keys(account, user),
            Self::Postgres(p) => p.keys(account, user).await,
        }
    }

    /// Makes a key active or inactive: an inactive key's requests are refused.
    pub async fn set_key_active(
        &self,
        account: &str,
        user: &str,
        access_key: &str,
        active: bool,
    ) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.set_key_active(account, user, access_key, active),
            Self::Postgres(p) => p.set_key_active(account, user, access_key, active).await,
        }
    }

    pub async fn delete_key(
        &self,
        account: &str,
        user: &str,
        access_key: &str,
    ) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.delete_key(account, user, access_key),
            Self::Postgres(p) => p.delete_key(account, user, access_key).await,
        }
    }
}

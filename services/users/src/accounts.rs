//! Accounts and the users in them, in both engines: creating an account with its root user
//! and a first key, listing, enabling and deleting them; IAM users in an account; and the
//! lookups that find a user with its account's facts.

use deadpool_postgres::GenericClient;
use kit::time::now;
use rusqlite::{params, OptionalExtension};

use crate::keys::INSERT_KEY;
use crate::sql::{pg, sqlite_rows, Columns};
use crate::{
    check_name, check_path, credentials, Account, Directory, PgUsers, User, UserError, UserStore,
    ADMIN_NAME, ROOT_NAME,
};

/// How a user is found.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lookup<'a> {
    /// An account's root user.
    Root(&'a str),
    User {
        account: &'a str,
        name: &'a str,
    },
    /// The holder of an access key, with that key.
    AccessKey(&'a str),
    /// The root user of the account with this canonical id.
    CanonicalId(&'a str),
    Email(&'a str),
}

/// A user's columns, as [`user_from`] reads them: `u` the user, `a` its account, `k` the key
/// shown (absent: empty). `{enabled}` is the condition of its being enabled.
const USER_COLUMNS: &str = "u.name, COALESCE(k.access_key, ''), COALESCE(k.secret_key, ''),
    a.canonical_id, u.email, (u.account = '{admin}' AND u.name = '{root}'), {enabled},
    u.created, u.account, a.id, u.id, u.path";

/// Users with their accounts and first active key.
const USERS_FROM: &str = "users u JOIN accounts a ON a.name = u.account
    LEFT JOIN access_keys k ON k.access_key = (
        SELECT f.access_key FROM access_keys f
        WHERE f.account = u.account AND f.user_name = u.name AND f.active
        ORDER BY f.created, f.access_key LIMIT 1)";

/// The SELECT of users `from` and `enabled` make, up to its WHERE.
fn select_users(from: &str, enabled: &str) -> String {
    let columns = USER_COLUMNS
        .replace("{admin}", ADMIN_NAME)
        .replace("{root}", ROOT_NAME)
        .replace("{enabled}", enabled);
    format!("SELECT {columns} FROM {from}")
}

impl<'a> Lookup<'a> {
    /// The query (SQLite's placeholders) and its parameters.
    fn query(self) -> (String, Vec<&'a str>) {
        let users = || select_users(USERS_FROM, "(u.enabled AND a.enabled)");
        let root = format!("u.name = '{ROOT_NAME}'");
        match self {
            Self::Root(account) => (
                format!("{} WHERE u.account = ?1 AND {root}", users()),
                vec![account],
            ),
            Self::User { account, name } => (
                format!("{} WHERE u.account = ?1 AND u.name = ?2", users()),
                vec![account, name],
            ),
            Self::CanonicalId(id) => (
                format!("{} WHERE a.canonical_id = ?1 AND {root}", users()),
                vec![id],
            ),
            Self::Email(email) => (format!("{} WHERE u.email = ?1", users()), vec![email]),
            Self::AccessKey(key) => (
                format!(
                    "{} WHERE k.access_key = ?1",
                    select_users(
                        "access_keys k JOIN users u ON u.account = k.account AND u.name = k.user_name
                         JOIN accounts a ON a.name = u.account",
                        "(u.enabled AND a.enabled AND k.active)",
                    )
                ),
                vec![key],
            ),
        }
    }
}

fn user_from(row: &impl Columns) -> Result<User, UserError> {
    Ok(User {
        name: row.get(0)?,
        access_key: row.get(1)?,
        secret_key: row.get(2)?,
        canonical_id: row.get(3)?,
        email: row.get(4)?,
        admin: row.get(5)?,
        enabled: row.get(6)?,
        created: row.get(7)?,
        account: row.get(8)?,
        account_id: row.get(9)?,
        id: row.get(10)?,
        path: row.get(11)?,
    })
}

const ACCOUNT_COLUMNS: &str = "name, id, canonical_id, enabled, created";

fn account_from(row: &impl Columns) -> Result<Account, UserError> {
    Ok(Account {
        name: row.get(0)?,
        id: row.get(1)?,
        canonical_id: row.get(2)?,
        enabled: row.get(3)?,
        created: row.get(4)?,
    })
}

const INSERT_ACCOUNT: &str = "INSERT INTO accounts (name, id, canonical_id, enabled, created)
    VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";
const INSERT_USER: &str = "INSERT INTO users (account, name, id, path, email, enabled, created)
    VALUES (?1, ?2, ?3, ?4, ?5, TRUE, ?6) ON CONFLICT DO NOTHING";
const ACCOUNT_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM accounts WHERE name = ?1)";
const SET_ACCOUNT_ENABLED: &str = "UPDATE accounts SET enabled = ?2 WHERE name = ?1";
const DELETE_ACCOUNT: &str = "DELETE FROM accounts WHERE name = ?1";
const SET_USER_ENABLED: &str = "UPDATE users SET enabled = ?3 WHERE account = ?1 AND name = ?2";
const DELETE_USER: &str = "DELETE FROM users WHERE account = ?1 AND name = ?2";
/// An account's users whose path starts with a prefix, by name.
const USERS_WHERE: &str =
    "WHERE u.account = ?1 AND substr(u.path, 1, length(CAST(?2 AS TEXT))) = ?2 ORDER BY u.name";

/// What a new account is made of: the account, its root user (with `email`) and the root
/// user's first key, all fresh.
fn new_account(name: &str, email: Option<&str>) -> Result<(Account, User), UserError> {
    check_name("account", name)?;
    let created = now();
    let account = Account {
        name: name.to_owned(),
        id: credentials::account_id()?,
        canonical_id: credentials::canonical_id()?,
        enabled: true,
        created,
    };
    let (access_key, secret_key) = credentials::key_pair()?;
    let root = User {
        name: ROOT_NAME.to_owned(),
        access_key,
        secret_key,
        canonical_id: account.canonical_id.clone(),
        email: email.map(str::to_owned),
        admin: name == ADMIN_NAME,
        enabled: true,
        created,
        account: name.to_owned(),
        account_id: account.id.clone(),
        id: credentials::user_id()?,
        path: "/".to_owned(),
    };
    Ok((account, root))
}

/// Why a user cannot be deleted: the root user goes only with its account.
fn deletable(name: &str) -> Result<(), UserError> {
    if name == ROOT_NAME {
        return Err(UserError::DeleteConflict(format!(
            "the root user {ROOT_NAME:?} goes only with its account"
        )));
    }
    Ok(())
}

/// Why the cloud administrator's account cannot be deleted.
fn account_deletable(name: &str) -> Result<(), UserError> {
    if name == ADMIN_NAME {
        return Err(UserError::DeleteConflict(format!(
            "{ADMIN_NAME:?} is the cloud administrator's account"
        )));
    }
    Ok(())
}

/// The result of an UPDATE or DELETE of one named thing: `NotFound` unless `any` row
/// changed.
pub(crate) fn changed(any: bool, kind: &'static str, name: &str) -> Result<(), UserError> {
    if any {
        Ok(())
    } else {
        Err(UserError::not_found(kind, name))
    }
}

impl UserStore {
    pub(crate) fn find(&self, lookup: Lookup<'_>) -> Result<Option<User>, UserError> {
        let (sql, params) = lookup.query();
        self.with_conn(|conn| {
            let mut statement = conn.prepare(&sql)?;
            let mut rows = statement.query(rusqlite::params_from_iter(params))?;
            rows.next()?.map(user_from).transpose()
        })
    }

    /// Creates the account `name` with its root user (e-mail `email`) holding a fresh key.
    pub fn create_account(
        &self,
        name: &str,
        email: Option<&str>,
    ) -> Result<(Account, User), UserError> {
        let (account, root) = new_account(name, email)?;
        self.write(|tx| {
            let a = &account;
            let inserted = tx.execute(
                INSERT_ACCOUNT,
                params![a.name, a.id, a.canonical_id, a.enabled, a.created],
            )?;
            if inserted == 0 {
                return Err(UserError::exists("account", name));
            }
            let r = &root;
            tx.execute(
                INSERT_USER,
                params![r.account, r.name, r.id, r.path, r.email, r.created],
            )?;
            tx.execute(
                INSERT_KEY,
                params![r.access_key, r.secret_key, r.account, r.name, r.created],
            )?;
            Ok(())
        })?;
        Ok((account, root))
    }

    /// Creates the cloud administrator's account unless it exists; returns its root user
    /// when created.
    pub fn ensure_admin(&self) -> Result<Option<User>, UserError> {
        match self.create_account(ADMIN_NAME, None) {
            Ok((_, admin)) => Ok(Some(admin)),
            Err(UserError::Exists { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn account(&self, name: &str) -> Result<Option<Account>, UserError> {
        self.with_conn(|conn| {
            conn.query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name = ?1"),
                [name],
                |row| Ok(account_from(row)),
            )
            .optional()?
            .transpose()
        })
    }

    /// Every account, by name.
    pub fn accounts(&self) -> Result<Vec<Account>, UserError> {
        self.with_conn(|conn| {
            sqlite_rows(
                conn,
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY name"),
                [],
                |row| account_from(row),
            )
        })
    }

    pub fn set_account_enabled(&self, name: &str, enabled: bool) -> Result<(), UserError> {
        let count =
            self.with_conn(|conn| Ok(conn.execute(SET_ACCOUNT_ENABLED, params![name, enabled])?))?;
        changed(count > 0, "account", name)
    }

    /// Deletes an account with its users and their keys.
    pub fn delete_account(&self, name: &str) -> Result<(), UserError> {
        account_deletable(name)?;
        let count = self.with_conn(|conn| Ok(conn.execute(DELETE_ACCOUNT, [name])?))?;
        changed(count > 0, "account", name)
    }

    /// Adds the IAM user `name` (at `path`) to `account`, without keys.
    pub fn create_user(&self, account: &str, name: &str, path: &str) -> Result<User, UserError> {
        check_name("user", name)?;
        check_path(path)?;
        let id = credentials::user_id()?;
        self.write(|tx| {
            let found: bool = tx.query_row(ACCOUNT_EXISTS, [account], |r| r.get(0))?;
            if !found {
                return Err(UserError::not_found("account", account));
            }
            let inserted = tx.execute(
                INSERT_USER,
                params![account, name, id, path, None::<String>, now()],
            )?;
            if inserted == 0 {
                return Err(UserError::exists("user", name));
            }
            Ok(())
        })?;
        self.find(Lookup::User { account, name })?
            .ok_or_else(|| UserError::not_found("user", name))
    }

    /// The users of `account` whose path starts with `path_prefix`, by name.
    pub fn users(&self, account: &str, path_prefix: &str) -> Result<Vec<User>, UserError> {
        let sql = format!(
            "{} {USERS_WHERE}",
            select_users(USERS_FROM, "(u.enabled AND a.enabled)")
        );
        self.with_conn(|conn| {
            sqlite_rows(conn, &sql, params![account, path_prefix], |row| {
                user_from(row)
            })
        })
    }

    pub fn set_user_enabled(
        &self,
        account: &str,
        name: &str,
        enabled: bool,
    ) -> Result<(), UserError> {
        let count = self.with_conn(|conn| {
            Ok(conn.execute(SET_USER_ENABLED, params![account, name, enabled])?)
        })?;
        changed(count > 0, "user", name)
    }

    /// Deletes an IAM user with its keys.
    pub fn delete_user(&self, account: &str, name: &str) -> Result<(), UserError> {
        deletable(name)?;
        let count = self.with_conn(|conn| Ok(conn.execute(DELETE_USER, [account, name])?))?;
        changed(count > 0, "user", name)
    }
}

impl PgUsers {
    pub(crate) async fn find(&self, lookup: Lookup<'_>) -> Result<Option<User>, UserError> {
        let (sql, params) = lookup.query();
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let row = self.client().await?.query_opt(&pg(&sql), &params).await?;
        row.as_ref().map(user_from).transpose()
    }

    /// Creates the account `name` with its root user (e-mail `email`) holding a fresh key,
    /// in one transaction.
    pub async fn create_account(
        &self,
        name: &str,
        email: Option<&str>,
    ) -> Result<(Account, User), UserError> {
        let (account, root) = new_account(name, email)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let a = &account;
        let inserted = tx
            .execute(
                &pg(INSERT_ACCOUNT),
                &[&a.name, &a.id, &a.canonical_id, &a.enabled, &a.created],
            )
            .await?;
        if inserted == 0 {
            return Err(UserError::exists("account", name));
        }
        let r = &root;
        tx.execute(
            &pg(INSERT_USER),
            &[&r.account, &r.name, &r.id, &r.path, &r.email, &r.created],
        )
        .await?;
        tx.execute(
            &pg(INSERT_KEY),
            &[
                &r.access_key,
                &r.secret_key,
                &r.account,
                &r.name,
                &r.created,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok((account, root))
    }

    /// Creates the cloud administrator's account unless it exists (two processes starting
    /// together create one); returns its root user when created.
    pub async fn ensure_admin(&self) -> Result<Option<User>, UserError> {
        match self.create_account(ADMIN_NAME, None).await {
            Ok((_, admin)) => Ok(Some(admin)),
            Err(UserError::Exists { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn account(&self, name: &str) -> Result<Option<Account>, UserError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name = $1"),
                &[&name],
            )
            .await?;
        row.as_ref().map(account_from).transpose()
    }

    pub async fn accounts(&self) -> Result<Vec<Account>, UserError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY name"),
                &[],
            )
            .await?;
        rows.iter().map(account_from).collect()
    }

    pub async fn set_account_enabled(&self, name: &str, enabled: bool) -> Result<(), UserError> {
        let count = self
            .client()
            .await?
            .execute(&pg(SET_ACCOUNT_ENABLED), &[&name, &enabled])
            .await?;
        changed(count > 0, "account", name)
    }

    /// Deletes an account with its users and their keys through `client`, so that a
    /// caller's transaction can take what the account owns with it.
    pub async fn delete_account(client: &impl GenericClient, name: &str) -> Result<(), UserError> {
        account_deletable(name)?;
        let count = client.execute(&pg(DELETE_ACCOUNT), &[&name]).await?;
        changed(count > 0, "account", name)
    }

    pub async fn create_user(
        &self,
        account: &str,
        name: &str,
        path: &str,
    ) -> Result<User, UserError> {
        check_name("user", name)?;
        check_path(path)?;
        let id = credentials::user_id()?;
        let client = self.client().await?;
        let found: bool = client
            .query_one(&pg(ACCOUNT_EXISTS), &[&account])
            .await?
            .try_get(0)?;
        if !found {
            return Err(UserError::not_found("account", account));
        }
        let inserted = client
            .execute(
                &pg(INSERT_USER),
                &[&account, &name, &id, &path, &None::<String>, &now()],
            )
            .await?;
        if inserted == 0 {
            return Err(UserError::exists("user", name));
        }
        self.find(Lookup::User { account, name })
            .await?
            .ok_or_else(|| UserError::not_found("user", name))
    }

    pub async fn users(&self, account: &str, path_prefix: &str) -> Result<Vec<User>, UserError> {
        let sql = format!(
            "{} {USERS_WHERE}",
            select_users(USERS_FROM, "(u.enabled AND a.enabled)")
        );
        let rows = self
            .client()
            .await?
            .query(&pg(&sql), &[&account, &path_prefix])
            .await?;
        rows.iter().map(user_from).collect()
    }

    pub async fn set_user_enabled(
        &self,
        account: &str,
        name: &str,
        enabled: bool,
    ) -> Result<(), UserError> {
        let count = self
            .client()
            .await?
            .execute(&pg(SET_USER_ENABLED), &[&account, &name, &enabled])
            .await?;
        changed(count > 0, "user", name)
    }

    pub async fn delete_user(&self, account: &str, name: &str) -> Result<(), UserError> {
        deletable(name)?;
        let count = self
            .client()
            .await?
            .execute(&pg(DELETE_USER), &[&account, &name])
            .await?;
        changed(count > 0, "user", name)
    }
}

/// The accounts and users of either engine, for async callers.
impl Directory {
    /// Creates the account `name` with its root user (e-mail `email`) holding a fresh key:
    /// the account and the root user, key included.
    pub async fn create_account(
        &self,
        name: &str,
        email: Option<&str>,
    ) -> Result<(Account, User), UserError> {
        match self {
            Self::Sqlite(s) => s.create_account(name, email),
            Self::Postgres(p) => p.create_account(name, email).await,
        }
    }

    /// Creates the cloud administrator's account unless it exists; returns its root user
    /// when created.
    pub async fn ensure_admin(&self) -> Result<Option<User>, UserError> {
        match self {
            Self::Sqlite(s) => s.ensure_admin(),
            Self::Postgres(p) => p.ensure_admin().await,
        }
    }

    pub async fn account(&self, name: &str) -> Result<Option<Account>, UserError> {
        match self {
            Self::Sqlite(s) => s.account(name),
            Self::Postgres(p) => p.account(name).await,
        }
    }

    /// Every account, by name.
    pub async fn accounts(&self) -> Result<Vec<Account>, UserError> {
        match self {
            Self::Sqlite(s) => s.accounts(),
            Self::Postgres(p) => p.accounts().await,
        }
    }

    /// Enables or disables an account: a disabled account's users are refused.
    pub async fn set_account_enabled(&self, name: &str, enabled: bool) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.set_account_enabled(name, enabled),
            Self::Postgres(p) => p.set_account_enabled(name, enabled).await,
        }
    }

    /// Deletes an account with its users and their keys (not what it owns in the cloud: the
    /// CLC's store deletes the account with that). The administrator's account stays.
    pub async fn delete_account(&self, name: &str) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.delete_account(name),
            Self::Postgres(p) => PgUsers::delete_account(&p.client().await?, name).await,
        }
    }

    /// Adds the IAM user `name` at `path` (IAM's, `/` for none) to `account`, without keys.
    pub async fn create_user(
        &self,
        account: &str,
        name: &str,
        path: &str,
    ) -> Result<User, UserError> {
        match self {
            Self::Sqlite(s) => s.create_user(account, name, path),
            Self::Postgres(p) => p.create_user(account, name, path).await,
        }
    }

    /// The user `name` of `account`, showing its first active key.
    pub async fn user(&self, account: &str, name: &str) -> Result<Option<User>, UserError> {
        self.find(Lookup::User { account, name }).await
    }

    /// The root user of `account`.
    pub async fn root_of(&self, account: &str) -> Result<Option<User>, UserError> {
        self.find(Lookup::Root(account)).await
    }

    /// The user holding `access_key`, with that key; not enabled when the key is inactive.
    pub async fn by_access_key(&self, access_key: &str) -> Result<Option<User>, UserError> {
        self.find(Lookup::AccessKey(access_key)).await
    }

    /// The users of `account` whose path starts with `path_prefix` (`/` for all), by name.
    pub async fn users(&self, account: &str, path_prefix: &str) -> Result<Vec<User>, UserError> {
        match self {
            Self::Sqlite(s) => s.users(account, path_prefix),
            Self::Postgres(p) => p.users(account, path_prefix).await,
        }
    }

    /// Enables or disables a user: a disabled user's requests are refused.
    pub async fn set_user_enabled(
        &self,
        account: &str,
        name: &str,
        enabled: bool,
    ) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.set_user_enabled(account, name, enabled),
            Self::Postgres(p) => p.set_user_enabled(account, name, enabled).await,
        }
    }

    /// Deletes an IAM user with its keys; the root user goes only with its account.
    pub async fn delete_user(&self, account: &str, name: &str) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.delete_user(account, name),
            Self::Postgres(p) => p.delete_user(account, name).await,
        }
    }

    async fn find(&self, lookup: Lookup<'_>) -> Result<Option<User>, UserError> {
        match self {
            Self::Sqlite(s) => s.find(lookup),
            Self::Postgres(p) => p.find(lookup).await,
        }
    }
}

//! The cloud's users: name, access key id, secret key, canonical id, optional e-mail, admin
//! flag and enabled flag, kept where the cloud keeps its state and read there by Walrus.
//!
//! Two engines hold them: an SQLite file of their own ([`UserStore`], `DATA/users.sqlite`,
//! the default) and the `users` table of the cloud's PostgreSQL database ([`PgUsers`]).
//! Walrus sees either through [`UserLookup`]. No handle caches users, so a user added or
//! disabled by one process is seen by the others at their next request.

mod credentials;
pub mod events;
mod postgres;
mod sqlite;
pub mod usage;

use std::path::{Path, PathBuf};

use kit::time::now;

use credentials::Credentials;

pub use postgres::{connect, Key, PgUsers, SCHEMA as PG_SCHEMA};
pub use sqlite::UserStore;

/// Name of the administrator created on first start.
pub const ADMIN_NAME: &str = "admin";

/// The file in a cloud controller's DATA that names its PostgreSQL database, when its state
/// lives in one (`euca cloud --db URL`); private, since the URL may carry a password.
pub const DATABASE_URL_FILE: &str = "database-url";

/// Why the user store failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("user database {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("user database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database URL: {0}")]
    Url(String),
    #[error("user database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("user database: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("user lookups in PostgreSQL need a multi-threaded Tokio runtime")]
    Runtime,
    #[error("user {0:?} already exists")]
    Exists(String),
    #[error("no user {0:?}")]
    NotFound(String),
    #[error("invalid user name {0:?}: use 1 to 64 letters, digits, '.', '_', '-' or '@'")]
    BadName(String),
    #[error("the system's random number generator failed")]
    Random,
}

/// One user of the cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// The access key id that requests name (`AWSAccessKeyId`, SigV4 credential).
    pub access_key: String,
    /// The secret that signs this user's requests.
    pub secret_key: String,
    /// S3's canonical user id: 64 hex digits, used in ACLs and as bucket owner.
    pub canonical_id: String,
    pub email: Option<String>,
    pub admin: bool,
    pub enabled: bool,
    /// Seconds since the Unix epoch.
    pub created: i64,
}

/// What is chosen about a new user; the keys are generated.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub name: String,
    pub email: Option<String>,
    pub admin: bool,
}

impl NewUser {
    /// The administrator a new cloud starts with.
    pub fn admin() -> Self {
        Self {
            name: ADMIN_NAME.to_owned(),
            email: None,
            admin: true,
        }
    }

    /// The user this describes, with fresh keys, enabled, created now.
    fn generate(&self) -> Result<User, UserError> {
        if !valid_name(&self.name) {
            return Err(UserError::BadName(self.name.clone()));
        }
        let keys = Credentials::generate()?;
        Ok(User {
            name: self.name.clone(),
            access_key: keys.access_key,
            secret_key: keys.secret_key,
            canonical_id: keys.canonical_id,
            email: self.email.clone(),
            admin: self.admin,
            enabled: true,
            created: now(),
        })
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// The lookups that authenticate requests, resolve ACL grantees and find the administrator
/// (the owner of snapshots), as Walrus makes them:
/// synchronous, from async code (each engine keeps the executor's other tasks running while
/// it waits). Every call reads the store.
pub trait UserLookup: Send + Sync + std::fmt::Debug {
    fn by_name(&self, name: &str) -> Result<Option<User>, UserError>;
    fn by_access_key(&self, access_key: &str) -> Result<Option<User>, UserError>;
    fn by_canonical_id(&self, id: &str) -> Result<Option<User>, UserError>;
    fn by_email(&self, email: &str) -> Result<Option<User>, UserError>;
}

/// Where a cloud keeps its users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `DATA/users.sqlite` of the cloud controller's DATA.
    Sqlite(PathBuf),
    /// The cloud's PostgreSQL database, by URL.
    Postgres(String),
}

impl Location {
    /// Where the cloud controller whose DATA is `data` keeps its users: the database its
    /// [`DATABASE_URL_FILE`] names, else its SQLite file.
    pub fn of_cloud(data: &Path) -> std::io::Result<Self> {
        match std::fs::read_to_string(data.join(DATABASE_URL_FILE)) {
            Ok(url) => Ok(Self::Postgres(url.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Self::Sqlite(data.join("users.sqlite")))
            }
            Err(e) => Err(e),
        }
    }

    /// Opens the users here for lookups. Blocking (SQLite opens its file); a PostgreSQL
    /// location is checked with a first query, so a wrong URL fails now, not per request.
    pub fn open(&self) -> Result<std::sync::Arc<dyn UserLookup>, UserError> {
        Ok(match self {
            Self::Sqlite(path) => {
                if !path.exists() {
                    return Err(UserError::Create {
                        path: path.clone(),
                        source: std::io::ErrorKind::NotFound.into(),
                    });
                }
                std::sync::Arc::new(UserStore::open(path)?)
            }
            Self::Postgres(url) => {
                let users = PgUsers::new(connect(url)?);
                users.by_access_key("")?;
                std::sync::Arc::new(users)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_cloud_names_its_users_database() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Location::of_cloud(dir.path()).unwrap(),
            Location::Sqlite(dir.path().join("users.sqlite"))
        );
        std::fs::write(dir.path().join(DATABASE_URL_FILE), "postgresql://h/db\n").unwrap();
        assert_eq!(
            Location::of_cloud(dir.path()).unwrap(),
            Location::Postgres("postgresql://h/db".into())
        );
    }

    #[test]
    fn a_missing_sqlite_file_is_not_created_for_lookups() {
        // Guards `--identity` against serving an empty user list from a wrong folder.
        let dir = tempfile::tempdir().unwrap();
        let missing = Location::Sqlite(dir.path().join("users.sqlite"));
        assert!(matches!(missing.open(), Err(UserError::Create { .. })));
        assert!(!dir.path().join("users.sqlite").exists());
    }
}

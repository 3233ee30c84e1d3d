//! The cloud's identities: accounts, the users in them and their access keys, kept where
//! the cloud keeps its state and read there by Walrus.
//!
//! An [`Account`] is the boundary between tenants: it owns every resource its users make.
//! Each account has a root user ([`ROOT_NAME`]) and may have IAM users; each user holds up to
//! two [`AccessKey`]s. The root user of the account [`ADMIN_NAME`] is the cloud
//! administrator.
//!
//! Two engines hold them: an SQLite file of their own ([`UserStore`], `DATA/users.sqlite`,
//! the default) and tables in the cloud's PostgreSQL database ([`PgUsers`]). Each engine
//! keeps an ordered list of migrations, run when it opens. [`Directory`] is the async handle
//! over either; Walrus reads through [`UserLookup`]. No handle caches identities, so a user
//! added or disabled by one process is seen by the others at their next request.

mod accounts;
mod credentials;
pub mod events;
mod groups;
mod keys;
mod passwords;
mod policies;
mod postgres;
pub mod quotas;
mod sql;
mod sqlite;
#[cfg(test)]
mod suite;
pub mod usage;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use groups::{Group, MAX_GROUPS_PER_USER};
pub use passwords::{
    new_password, LoginProfile, PasswordChange, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN,
};
pub use policies::{decide, evaluated, Policy};
pub use postgres::{connect, PgUsers, Schema};
pub use quotas::{Quota, Resource};
pub use sqlite::UserStore;

/// The cloud administrator's account, created on first start.
pub const ADMIN_NAME: &str = "admin";

/// The name of every account's root user.
pub const ROOT_NAME: &str = "admin";

/// Most access keys a user holds at once, as AWS allows.
pub const MAX_ACCESS_KEYS: usize = 2;

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
    #[error("user database has schema version {found}, newer than this program's {known}")]
    Newer { found: i64, known: i64 },
    #[error("{kind} {name:?} already exists")]
    Exists { kind: &'static str, name: String },
    #[error("no {kind} {name:?}")]
    NotFound { kind: &'static str, name: String },
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    #[error("cannot delete: {0}")]
    DeleteConflict(String),
    #[error("{0}")]
    Invalid(String),
    /// A policy document the IAM grammar refuses: the fault (IAM's MalformedPolicyDocument).
    #[error("malformed policy document: {0}")]
    MalformedPolicy(String),
    #[error("the system's random number generator failed")]
    Random,
}

impl UserError {
    fn exists(kind: &'static str, name: &str) -> Self {
        Self::Exists {
            kind,
            name: name.to_owned(),
        }
    }

    fn not_found(kind: &'static str, name: &str) -> Self {
        Self::NotFound {
            kind,
            name: name.to_owned(),
        }
    }
}

/// A tenant of the cloud: it owns what its users make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Unique; the rules of [`valid_name`].
    pub name: String,
    /// AWS's account id, 12 decimal digits: EC2's `ownerId`, and the account in ARNs.
    pub id: String,
    /// S3's canonical user id, 64 hex digits: the owner of every bucket and object the
    /// account's users make.
    pub canonical_id: String,
    /// A disabled account's users are refused, whatever their keys.
    pub enabled: bool,
    /// Seconds since the Unix epoch.
    pub created: i64,
}

/// A user of an account, as a lookup found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    /// Unique in its account; [`ROOT_NAME`] for the account's root user.
    pub name: String,
    /// The access key id the lookup matched ([`UserLookup::by_access_key`]), else the
    /// user's first active key, else empty.
    pub access_key: String,
    /// That key's secret.
    pub secret_key: String,
    /// The ACCOUNT's canonical id (S3 owner of what the user makes).
    pub canonical_id: String,
    pub email: Option<String>,
    /// Whether this is the cloud administrator: the root user of account [`ADMIN_NAME`].
    pub admin: bool,
    /// False when the user, its account or (for a lookup by access key) the matched key is
    /// disabled or inactive: the user's requests are refused.
    pub enabled: bool,
    /// Seconds since the Unix epoch.
    pub created: i64,
    /// The account's name: the owner of every resource the user makes.
    pub account: String,
    /// The account's 12-digit id.
    pub account_id: String,
    /// IAM's UserId: `AIDA` and 17 upper-case letters and digits.
    pub id: String,
    /// IAM's path, `/` unless given.
    pub path: String,
}

impl User {
    /// Whether this is its account's root user.
    pub fn is_root(&self) -> bool {
        self.name == ROOT_NAME
    }

    /// IAM's ARN of the user: `arn:aws:iam::ACCOUNT-ID:user/PATH/NAME`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:iam::{}:user{}{}",
            self.account_id, self.path, self.name
        )
    }
}

/// One of a user's access keys (the secret signs the user's requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key: String,
    pub secret_key: String,
    pub user: String,
    pub account: String,
    /// An inactive key's requests are refused.
    pub active: bool,
    /// Seconds since the Unix epoch.
    pub created: i64,
}

/// Whether `name` may name an account or a user: 1 to 64 letters, digits, `.`, `_`, `-` or
/// `@` (so that it also names a credentials folder and an S3 display name safely).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

fn check_name(kind: &'static str, name: &str) -> Result<(), UserError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(UserError::Invalid(format!(
            "invalid {kind} name {name:?}: use 1 to 64 letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

/// IAM's rule for a path: `/`, or `/` and segments each ending in `/`, at most 512
/// printable ASCII characters.
fn check_path(path: &str) -> Result<(), UserError> {
    let printable = path.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if path.starts_with('/') && path.ends_with('/') && path.len() <= 512 && printable {
        Ok(())
    } else {
        Err(UserError::Invalid(format!(
            "invalid path {path:?}: it starts and ends with '/', at most 512 printable characters"
        )))
    }
}

/// The lookups that authenticate requests, resolve ACL grantees and find an account's root
/// user (the administrator owns snapshots), as Walrus makes them: synchronous, from async
/// code (each engine keeps the executor's other tasks running while it waits). Every call
/// reads the store.
pub trait UserLookup: Send + Sync + std::fmt::Debug {
    /// The root user of `account`.
    fn root_of(&self, account: &str) -> Result<Option<User>, UserError>;
    /// The user holding `access_key`, with that key in [`User::access_key`].
    fn by_access_key(&self, access_key: &str) -> Result<Option<User>, UserError>;
    /// The root user of the account whose canonical id is `id`.
    fn by_canonical_id(&self, id: &str) -> Result<Option<User>, UserError>;
    fn by_email(&self, email: &str) -> Result<Option<User>, UserError>;
    /// The policies that apply to `user`: its own, then its groups'.
    fn policies_of(&self, user: &User) -> Result<Vec<Policy>, UserError>;
    /// The quotas of `account` and of its users (Walrus checks its bucket limits).
    fn quotas(&self, account: &str) -> Result<Vec<Quota>, UserError>;
}

/// The identities of a cloud, in either engine: a cheap-to-clone handle with async methods
/// (SQLite's work runs off the executor, see [`UserStore`]).
#[derive(Debug, Clone)]
pub enum Directory {
    Sqlite(Arc<UserStore>),
    Postgres(PgUsers),
}

impl Directory {
    /// The synchronous lookups over the same store, for Walrus.
    pub fn lookup(&self) -> Arc<dyn UserLookup> {
        match self {
            Self::Sqlite(store) => Arc::clone(store) as Arc<dyn UserLookup>,
            Self::Postgres(users) => Arc::new(users.clone()),
        }
    }
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

    /// Opens the users here for lookups, bringing their schema to this program's version.
    /// Blocking, on a multi-threaded runtime for PostgreSQL, which is reached now, so that a
    /// wrong URL fails at start, not per request.
    pub fn open(&self) -> Result<Directory, UserError> {
        Ok(match self {
            Self::Sqlite(path) => {
                if !path.exists() {
                    return Err(UserError::Create {
                        path: path.clone(),
                        source: std::io::ErrorKind::NotFound.into(),
                    });
                }
                Directory::Sqlite(Arc::new(UserStore::open(path)?))
            }
            Self::Postgres(url) => {
                Directory::Postgres(postgres::wait(PgUsers::open(connect(url)?))?)
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

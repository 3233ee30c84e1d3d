//! Console passwords, as IAM login profiles: at most one per user, kept as an argon2id hash
//! in PHC string form (algorithm, parameters, salt and hash in one string, so that a change
//! of parameters later still verifies the old hashes). The password itself is never stored.
//!
//! Parameters: argon2id, 19 MiB of memory, 2 passes, 1 lane, a 16-byte random salt and a
//! 32-byte hash: OWASP's recommended minimum for argon2id, about 20–40 ms per hash on one
//! core in an optimized build. Hashing and verifying run on a blocking thread, off the
//! executor.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use kit::time::now;
use rusqlite::{params, OptionalExtension};

use crate::sql::{changed, pg, pg_lock_user, sqlite_user_exists};
use crate::{credentials, Directory, PgUsers, User, UserError, UserStore};

/// The table in each engine's migrations: one row per user holding a password.
pub(crate) const SQLITE_MIGRATION: &str = "
    CREATE TABLE login_profiles (
        account TEXT NOT NULL,
        user_name TEXT NOT NULL,
        hash TEXT NOT NULL,
        created INTEGER NOT NULL,
        PRIMARY KEY (account, user_name),
        FOREIGN KEY (account, user_name) REFERENCES users (account, name) ON DELETE CASCADE
    ) STRICT;
    ";
pub(crate) const PG_MIGRATION: &str = r#"
    CREATE TABLE login_profiles (
        account TEXT COLLATE "C" NOT NULL,
        user_name TEXT COLLATE "C" NOT NULL,
        hash TEXT COLLATE "C" NOT NULL,
        created BIGINT NOT NULL,
        PRIMARY KEY (account, user_name),
        FOREIGN KEY (account, user_name) REFERENCES users (account, name) ON DELETE CASCADE
    );
    "#;

const PROFILE: &str =
    "SELECT hash, created FROM login_profiles WHERE account = ?1 AND user_name = ?2";
const INSERT: &str = "INSERT INTO login_profiles (account, user_name, hash, created)
    VALUES (?1, ?2, ?3, ?4)";
const UPDATE: &str = "UPDATE login_profiles SET hash = ?3 WHERE account = ?1 AND user_name = ?2";
const DELETE: &str = "DELETE FROM login_profiles WHERE account = ?1 AND user_name = ?2";

/// Fewest characters a password may have.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Most bytes a password may have (IAM's limit), which also bounds the work of hashing it.
pub const MAX_PASSWORD_LEN: usize = 128;

/// A user's login profile: that the user may sign in to the console, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginProfile {
    pub account: String,
    pub user: String,
    /// Seconds since the Unix epoch.
    pub created: i64,
}

/// How a password is written: IAM's CreateLoginProfile needs the user to have none yet,
/// UpdateLoginProfile one already; the console and `euca admin` set it either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChange {
    Create,
    Update,
    Either,
}

/// The hasher, with the parameters of the module's note.
fn hasher() -> Result<Argon2<'static>, UserError> {
    let params = Params::new(19 * 1024, 2, 1, Some(32))
        .map_err(|e| UserError::Invalid(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn check_password_rules(password: &str) -> Result<(), UserError> {
    if password.chars().count() < MIN_PASSWORD_LEN || password.len() > MAX_PASSWORD_LEN {
        return Err(UserError::Invalid(format!(
            "a password has {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}

/// The PHC string of `password` with a fresh salt. CPU-bound: call it off the executor.
fn hash(password: &str) -> Result<String, UserError> {
    let salt = SaltString::encode_b64(&credentials::random_bytes::<16>()?)
        .map_err(|e| UserError::Invalid(format!("salt: {e}")))?;
    Ok(hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| UserError::Invalid(format!("cannot hash the password: {e}")))?
        .to_string())
}

/// Whether `password` matches the PHC string `phc` (with the parameters `phc` names). A
/// string that does not parse matches nothing. CPU-bound.
fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash of no one's password, verified against when a user has none, so that a sign-in
/// takes as long whether the user exists or not.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        hash("no user has this password").unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot make the decoy password hash");
            String::new()
        })
    })
}

/// Whether a write of `change` inserts a row (else it updates one), given the creation time
/// of the user's existing profile.
fn inserts(change: PasswordChange, existing: Option<i64>, user: &str) -> Result<bool, UserError> {
    match (change, existing) {
        (PasswordChange::Create, Some(_)) => Err(UserError::exists("login profile", user)),
        (PasswordChange::Update, None) => Err(UserError::not_found("login profile", user)),
        (_, existing) => Ok(existing.is_none()),
    }
}

impl UserStore {
    fn write_password(
        &self,
        account: &str,
        user: &str,
        phc: &str,
        change: PasswordChange,
    ) -> Result<LoginProfile, UserError> {
        self.write(|tx| {
            sqlite_user_exists(tx, account, user)?;
            let existing: Option<i64> = tx
                .query_row(PROFILE, [account, user], |r| r.get(1))
                .optional()?;
            let created = existing.unwrap_or_else(now);
            if inserts(change, existing, user)? {
                tx.execute(INSERT, params![account, user, phc, created])?;
            } else {
                tx.execute(UPDATE, params![account, user, phc])?;
            }
            Ok(profile(account, user, created))
        })
    }

    fn stored_password(
        &self,
        account: &str,
        user: &str,
    ) -> Result<Option<(String, i64)>, UserError> {
        self.with_conn(|conn| {
            Ok(conn
                .query_row(PROFILE, [account, user], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
    }

    fn delete_password(&self, account: &str, user: &str) -> Result<(), UserError> {
        let count = self.with_conn(|conn| Ok(conn.execute(DELETE, [account, user])?))?;
        changed(count > 0, "login profile", user)
    }
}

impl PgUsers {
    /// As SQLite's, with the user's row locked meanwhile.
    async fn write_password(
        &self,
        account: &str,
        user: &str,
        phc: &str,
        change: PasswordChange,
    ) -> Result<LoginProfile, UserError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        pg_lock_user(&tx, account, user).await?;
        let existing: Option<i64> = match tx.query_opt(&pg(PROFILE), &[&account, &user]).await? {
            Some(row) => Some(row.try_get(1)?),
            None => None,
        };
        let created = existing.unwrap_or_else(now);
        if inserts(change, existing, user)? {
            tx.execute(&pg(INSERT), &[&account, &user, &phc, &created])
                .await?;
        } else {
            tx.execute(&pg(UPDATE), &[&account, &user, &phc]).await?;
        }
        tx.commit().await?;
        Ok(profile(account, user, created))
    }

    async fn stored_password(
        &self,
        account: &str,
        user: &str,
    ) -> Result<Option<(String, i64)>, UserError> {
        let row = self
            .client()
            .await?
            .query_opt(&pg(PROFILE), &[&account, &user])
            .await?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
    }

    async fn delete_password(&self, account: &str, user: &str) -> Result<(), UserError> {
        let count = self
            .client()
            .await?
            .execute(&pg(DELETE), &[&account, &user])
            .await?;
        changed(count > 0, "login profile", user)
    }
}

fn profile(account: &str, user: &str, created: i64) -> LoginProfile {
    LoginProfile {
        account: account.to_owned(),
        user: user.to_owned(),
        created,
    }
}

/// A fresh random password (24 letters and digits), such as the administrator's first.
pub fn new_password() -> Result<String, UserError> {
    credentials::password()
}

/// Passwords and login profiles, in either engine.
impl Directory {
    /// Sets the console password of `user` of `account` (see [`PasswordChange`]): 8 to 128
    /// characters, stored as an argon2id hash.
    pub async fn set_password(
        &self,
        account: &str,
        user: &str,
        password: &str,
        change: PasswordChange,
    ) -> Result<LoginProfile, UserError> {
        check_password_rules(password)?;
        let password = password.to_owned();
        let phc = kit::blocking(move || hash(&password)).await?;
        match self {
            Self::Sqlite(s) => s.write_password(account, user, &phc, change),
            Self::Postgres(p) => p.write_password(account, user, &phc, change).await,
        }
    }

    /// The login profile of `user` of `account`, if the user has a password.
    pub async fn login_profile(
        &self,
        account: &str,
        user: &str,
    ) -> Result<Option<LoginProfile>, UserError> {
        Ok(self
            .stored_password(account, user)
            .await?
            .map(|(_, created)| profile(account, user, created)))
    }

    /// Removes the password of `user` of `account`: the user can no longer sign in.
    pub async fn delete_login_profile(&self, account: &str, user: &str) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.delete_password(account, user),
            Self::Postgres(p) => p.delete_password(account, user).await,
        }
    }

    /// The user `user` of `account` if `password` is theirs and they (and their account)
    /// are enabled; else `None`, after as much work as a match (a decoy hash is verified
    /// when the user or their password does not exist).
    pub async fn check_password(
        &self,
        account: &str,
        user: &str,
        password: &str,
    ) -> Result<Option<User>, UserError> {
        let stored = if password.len() <= MAX_PASSWORD_LEN {
            self.stored_password(account, user).await?
        } else {
            None
        };
        let (phc, known) = match stored {
            Some((phc, _)) => (phc, true),
            None => (decoy().to_owned(), false),
        };
        let password = password.to_owned();
        let matches = kit::blocking(move || verify(&phc, &password)).await && known;
        if !matches {
            return Ok(None);
        }
        Ok(self.user(account, user).await?.filter(|u| u.enabled))
    }

    async fn stored_password(
        &self,
        account: &str,
        user: &str,
    ) -> Result<Option<(String, i64)>, UserError> {
        match self {
            Self::Sqlite(s) => s.stored_password(account, user),
            Self::Postgres(p) => p.stored_password(account, user).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_hash_is_argon2id_with_the_documented_parameters_and_verifies_only_its_password() {
        let phc = hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify(&phc, "correct horse"));
        assert!(!verify(&phc, "correct horsf"));
        assert_ne!(phc, hash("correct horse").unwrap(), "salts differ");
    }

    #[test]
    fn a_damaged_hash_matches_nothing() {
        // Guards against a corrupted row letting any password in.
        assert!(!verify("", ""));
        assert!(!verify("$argon2id$garbage", "x"));
    }

    #[test]
    fn passwords_outside_the_length_rules_are_refused() {
        assert!(check_password_rules("short").is_err());
        assert!(check_password_rules(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
        assert!(check_password_rules("eight ch").is_ok());
    }
}

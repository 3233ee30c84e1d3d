//! Quotas: limits per account, and per user of an account, on what they may hold at once
//! (instances, cores, memory, volumes and their size, snapshots, addresses, buckets and the
//! bytes stored in them). A user's limit applies to what that user made, an account's to
//! what all its users made. No row is no limit. The components count the use themselves,
//! from what exists, when a request would add to it: the CLC from its store, Walrus from
//! its metadata.

use rusqlite::params;

use crate::sql::{pg, sqlite_rows, Columns};
use crate::{Directory, PgUsers, UserError, UserStore};

/// The table in each engine's migrations (text byte by byte in PostgreSQL, as its other
/// tables). An account-wide limit has the empty user name; the limits go with their account.
pub(crate) const SQLITE_MIGRATION: &str = "
    CREATE TABLE quotas (
        account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        user_name TEXT NOT NULL,
        resource TEXT NOT NULL,
        max INTEGER NOT NULL CHECK (max >= 0),
        PRIMARY KEY (account, user_name, resource)
    ) STRICT;
    ";
pub(crate) const PG_MIGRATION: &str = r#"
    CREATE TABLE quotas (
        account TEXT COLLATE "C" NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        user_name TEXT COLLATE "C" NOT NULL,
        resource TEXT COLLATE "C" NOT NULL,
        max BIGINT NOT NULL CHECK (max >= 0),
        PRIMARY KEY (account, user_name, resource)
    );
    "#;

const SET: &str = "INSERT INTO quotas (account, user_name, resource, max) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (account, user_name, resource) DO UPDATE SET max = excluded.max";
const CLEAR: &str = "DELETE FROM quotas WHERE account = ?1 AND user_name = ?2 AND resource = ?3";
const OF_ACCOUNT: &str = "SELECT account, user_name, resource, max FROM quotas
    WHERE account = ?1 ORDER BY account, user_name, resource";
const ALL: &str = "SELECT account, user_name, resource, max FROM quotas
    ORDER BY account, user_name, resource";

/// Bytes in a MiB: `bucket-gb` limits are kept in bytes, with MiB precision.
const MIB: u64 = 1 << 20;
/// Bytes in a GiB.
const GIB: u64 = 1 << 30;

/// What a quota limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// Instances not terminated.
    Instances,
    /// Their VM types' cores.
    Cores,
    /// Their VM types' memory, in MiB.
    Memory,
    Volumes,
    /// The volumes' sizes, in GiB.
    VolumeGb,
    Snapshots,
    /// Elastic addresses allocated.
    Addresses,
    Buckets,
    /// The bytes stored in the buckets (objects and the parts of unfinished uploads),
    /// written and limited as GiB with MiB precision (`0.5` is 512 MiB), kept in bytes.
    BucketGb,
}

impl Resource {
    pub const ALL: [Self; 9] = [
        Self::Instances,
        Self::Cores,
        Self::Memory,
        Self::Volumes,
        Self::VolumeGb,
        Self::Snapshots,
        Self::Addresses,
        Self::Buckets,
        Self::BucketGb,
    ];

    /// Its name on the command line and in the database.
    pub fn name(self) -> &'static str {
        match self {
            Self::Instances => "instances",
            Self::Cores => "cores",
            Self::Memory => "memory",
            Self::Volumes => "volumes",
            Self::VolumeGb => "volume-gb",
            Self::Snapshots => "snapshots",
            Self::Addresses => "addresses",
            Self::Buckets => "buckets",
            Self::BucketGb => "bucket-gb",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Reads an amount as written on the command line: a whole number, or for `bucket-gb`
    /// GiB with a fraction (rounded to the MiB).
    pub fn parse_amount(self, text: &str) -> Result<u64, UserError> {
        let invalid = || {
            UserError::Invalid(format!(
                "{}={text:?}: give a whole number{}",
                self.name(),
                if self == Self::BucketGb {
                    " or a fraction of GiB (0.5)"
                } else {
                    ""
                }
            ))
        };
        if self != Self::BucketGb {
            return text.parse().map_err(|_| invalid());
        }
        let gib: f64 = text.parse().map_err(|_| invalid())?;
        if !gib.is_finite() || gib < 0.0 || gib > (u64::MAX / GIB) as f64 {
            return Err(invalid());
        }
        // In range, checked above: whole MiB of at most u64::MAX / GIB GiB.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let mib = (gib * 1024.0).round() as u64;
        Ok(mib * MIB)
    }

    /// An amount as people read it: `2 instances`, `512 MiB of memory`,
    /// `0.5 GiB of bucket storage`.
    pub fn amount(self, amount: u64) -> String {
        match self {
            Self::Memory => format!("{amount} MiB of memory"),
            Self::VolumeGb => format!("{amount} GiB of volumes"),
            Self::BucketGb => format!("{} GiB of bucket storage", gib_text(amount)),
            other => format!("{amount} {}", other.name()),
        }
    }

    /// An amount as the command line writes it (the inverse of [`Resource::parse_amount`]).
    pub fn amount_text(self, amount: u64) -> String {
        if self == Self::BucketGb {
            gib_text(amount)
        } else {
            amount.to_string()
        }
    }
}

/// Bytes as GiB, to six decimals (a few KiB) without trailing zeros: `0.5`, `0.000977`.
fn gib_text(bytes: u64) -> String {
    // Display only: f64 holds any size a disk has closely enough.
    #[allow(clippy::cast_precision_loss)]
    let gib = bytes as f64 / GIB as f64;
    let text = format!("{gib:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// One limit: of an account (`user` is `None`) or of one user of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub account: String,
    pub user: Option<String>,
    pub resource: Resource,
    /// In the resource's unit (bytes for `bucket-gb`).
    pub limit: u64,
}

impl Quota {
    /// Whether it limits what `user` of its account makes: the account's own limit does,
    /// and that user's (`None`: no user in particular, only the account's own).
    pub fn applies_to(&self, user: Option<&str>) -> bool {
        self.user.is_none() || self.user.as_deref() == user
    }

    /// Whom it limits, as messages name them: `account A`, `user U of account A`.
    pub fn holder(&self) -> String {
        match &self.user {
            Some(user) => format!("user {user} of account {}", self.account),
            None => format!("account {}", self.account),
        }
    }

    /// Refuses `requested` more when `in_use` is held already and the sum passes the
    /// limit: the message names the quota and the use ("quota of 2 instances for account
    /// A: 2 in use, 1 requested").
    pub fn admits(&self, in_use: u64, requested: u64) -> Result<(), String> {
        if in_use.saturating_add(requested) <= self.limit {
            return Ok(());
        }
        Err(format!(
            "quota of {} for {}: {} in use, {} requested",
            self.resource.amount(self.limit),
            self.holder(),
            self.resource.amount_text(in_use),
            self.resource.amount_text(requested)
        ))
    }
}

/// The quota a row holds; a resource this program does not know (a newer one's) is skipped.
fn quota_from(row: &impl Columns) -> Result<Option<Quota>, UserError> {
    let (account, user, resource, max): (String, String, String, i64) =
        (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
    Ok(Resource::from_name(&resource).map(|resource| Quota {
        account,
        user: (!user.is_empty()).then_some(user),
        resource,
        limit: u64::try_from(max).unwrap_or(0),
    }))
}

/// A quota's limit as both engines keep it.
fn max_of(quota: &Quota) -> i64 {
    i64::try_from(quota.limit).unwrap_or(i64::MAX)
}

impl UserStore {
    /// Sets a limit, replacing the one it had.
    pub fn set_quota(&self, quota: &Quota) -> Result<(), UserError> {
        let user = quota.user.as_deref().unwrap_or_default();
        self.with_conn(|conn| {
            let row = params![quota.account, user, quota.resource.name(), max_of(quota)];
            conn.execute(SET, row)?;
            Ok(())
        })
    }

    /// Removes a limit; `false` when there was none.
    pub fn clear_quota(
        &self,
        account: &str,
        user: Option<&str>,
        resource: Resource,
    ) -> Result<bool, UserError> {
        let row = params![account, user.unwrap_or_default(), resource.name()];
        self.with_conn(|conn| Ok(conn.execute(CLEAR, row)? > 0))
    }

    /// The limits of `account` and its users (every account's for `None`).
    pub fn quotas(&self, account: Option<&str>) -> Result<Vec<Quota>, UserError> {
        let rows = self.with_conn(|conn| match account {
            Some(account) => sqlite_rows(conn, OF_ACCOUNT, [account], |r| quota_from(r)),
            None => sqlite_rows(conn, ALL, [], |r| quota_from(r)),
        })?;
        Ok(rows.into_iter().flatten().collect())
    }
}

impl PgUsers {
    pub async fn set_quota(&self, quota: &Quota) -> Result<(), UserError> {
        let user = quota.user.as_deref().unwrap_or_default();
        self.client()
            .await?
            .execute(
                &pg(SET),
                &[
                    &quota.account,
                    &user,
                    &quota.resource.name(),
                    &max_of(quota),
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn clear_quota(
        &self,
        account: &str,
        user: Option<&str>,
        resource: Resource,
    ) -> Result<bool, UserError> {
        let user = user.unwrap_or_default();
        let removed = self
            .client()
            .await?
            .execute(&pg(CLEAR), &[&account, &user, &resource.name()])
            .await?;
        Ok(removed > 0)
    }

    pub async fn quotas(&self, account: Option<&str>) -> Result<Vec<Quota>, UserError> {
        let client = self.client().await?;
        let rows = match account {
            Some(account) => client.query(&pg(OF_ACCOUNT), &[&account]).await?,
            None => client.query(ALL, &[]).await?,
        };
        let quotas: Vec<Option<Quota>> = rows.iter().map(quota_from).collect::<Result<_, _>>()?;
        Ok(quotas.into_iter().flatten().collect())
    }
}

/// The quotas of either engine, for async callers.
impl Directory {
    /// Sets a limit, replacing the one it had.
    pub async fn set_quota(&self, quota: &Quota) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.set_quota(quota),
            Self::Postgres(p) => p.set_quota(quota).await,
        }
    }

    /// Removes a limit; `false` when there was none.
    pub async fn clear_quota(
        &self,
        account: &str,
        user: Option<&str>,
        resource: Resource,
    ) -> Result<bool, UserError> {
        match self {
            Self::Sqlite(s) => s.clear_quota(account, user, resource),
            Self::Postgres(p) => p.clear_quota(account, user, resource).await,
        }
    }

    /// The limits of `account` and its users (every account's for `None`), by account,
    /// user (the account's own first) and resource.
    pub async fn quotas(&self, account: Option<&str>) -> Result<Vec<Quota>, UserError> {
        match self {
            Self::Sqlite(s) => s.quotas(account),
            Self::Postgres(p) => p.quotas(account).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_and_amounts_read_back() {
        for resource in Resource::ALL {
            assert_eq!(Resource::from_name(resource.name()), Some(resource));
        }
        assert_eq!(Resource::Instances.parse_amount("3").unwrap(), 3);
        assert!(Resource::Instances.parse_amount("1.5").is_err());
        assert!(Resource::Cores.parse_amount("-1").is_err());
        assert_eq!(Resource::BucketGb.parse_amount("0.5").unwrap(), 512 * MIB);
        assert_eq!(Resource::BucketGb.parse_amount("2").unwrap(), 2 * GIB);
        assert_eq!(Resource::BucketGb.parse_amount("0.001").unwrap(), MIB);
        assert!(Resource::BucketGb.parse_amount("NaN").is_err());
        assert!(Resource::BucketGb.parse_amount("-0.5").is_err());
        assert_eq!(Resource::BucketGb.amount_text(512 * MIB), "0.5");
        assert_eq!(Resource::BucketGb.amount_text(MIB), "0.000977");
        assert_eq!(Resource::BucketGb.amount_text(0), "0");
        let shown = Resource::BucketGb.amount_text(3 * MIB);
        assert_eq!(Resource::BucketGb.parse_amount(&shown).unwrap(), 3 * MIB);
    }

    #[test]
    fn a_quota_admits_up_to_its_limit_and_names_itself_when_it_refuses() {
        let quota = Quota {
            account: "A".into(),
            user: None,
            resource: Resource::Instances,
            limit: 2,
        };
        assert!(quota.admits(1, 1).is_ok());
        assert_eq!(
            quota.admits(2, 1).unwrap_err(),
            "quota of 2 instances for account A: 2 in use, 1 requested"
        );
        let memory = Quota {
            user: Some("u".into()),
            resource: Resource::Memory,
            limit: 512,
            ..quota
        };
        assert_eq!(
            memory.admits(256, 512).unwrap_err(),
            "quota of 512 MiB of memory for user u of account A: 256 in use, 512 requested"
        );
    }

    #[test]
    fn the_account_and_the_asking_user_limit_a_request() {
        let quota = |user: Option<&str>| Quota {
            account: "A".into(),
            user: user.map(str::to_owned),
            resource: Resource::Instances,
            limit: 1,
        };
        assert!(quota(None).applies_to(Some("u")) && quota(None).applies_to(None));
        assert!(quota(Some("u")).applies_to(Some("u")));
        assert!(!quota(Some("v")).applies_to(Some("u")) && !quota(Some("u")).applies_to(None));
    }
}

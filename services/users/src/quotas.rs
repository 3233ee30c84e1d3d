//! Quotas: limits per account, and per user of an account, on what they may hold at once
//! (instances, cores, memory, volumes and their size, snapshots, addresses, buckets and the
//! bytes stored in them). A user's limit applies to what that user made, an account's to
//! what all its users made. No row is no limit. The components count the use themselves,
//! from what exists, when a request would add to it: the CLC from its store, Walrus from
//! its metadata.

use std::fmt;

use rusqlite::{params, Connection, Row};

use crate::UserError;

/// The SQLite table (in `users.sqlite`, beside the users, which Walrus reads too). An
/// account-wide limit has the empty user name.
pub(crate) const SQLITE_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS quotas (
        account TEXT NOT NULL,
        user TEXT NOT NULL DEFAULT '',
        resource TEXT NOT NULL,
        max INTEGER NOT NULL CHECK (max >= 0),
        PRIMARY KEY (account, user, resource)
    ) STRICT;
";

/// The PostgreSQL table, in the cloud's database.
pub const PG_SCHEMA: &str = r#"
    CREATE TABLE IF NOT EXISTS quotas (
        account TEXT COLLATE "C" NOT NULL,
        "user" TEXT COLLATE "C" NOT NULL DEFAULT '',
        resource TEXT COLLATE "C" NOT NULL,
        max BIGINT NOT NULL CHECK (max >= 0),
        PRIMARY KEY (account, "user", resource)
    );
"#;

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

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
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

/// The limits of account `account` from `quotas` that apply to a request of `user` on
/// `resource`: the account's own and the user's.
pub fn applying<'a>(
    quotas: &'a [Quota],
    user: &'a str,
    resource: Resource,
) -> impl Iterator<Item = &'a Quota> + 'a {
    quotas
        .iter()
        .filter(move |q| q.resource == resource && q.user.as_deref().is_none_or(|u| u == user))
}

// ---- SQLite

pub(crate) fn sqlite_set(conn: &Connection, quota: &Quota) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO quotas (account, user, resource, max) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (account, user, resource) DO UPDATE SET max = excluded.max",
        params![
            quota.account,
            quota.user.as_deref().unwrap_or_default(),
            quota.resource.name(),
            i64::try_from(quota.limit).unwrap_or(i64::MAX)
        ],
    )?;
    Ok(())
}

pub(crate) fn sqlite_clear(
    conn: &Connection,
    account: &str,
    user: Option<&str>,
    resource: Resource,
) -> rusqlite::Result<bool> {
    let removed = conn.execute(
        "DELETE FROM quotas WHERE account = ?1 AND user = ?2 AND resource = ?3",
        params![account, user.unwrap_or_default(), resource.name()],
    )?;
    Ok(removed > 0)
}

pub(crate) fn sqlite_list(
    conn: &Connection,
    account: Option<&str>,
) -> rusqlite::Result<Vec<Quota>> {
    conn.prepare_cached(
        "SELECT account, user, resource, max FROM quotas
         WHERE ?1 IS NULL OR account = ?1 ORDER BY account, user, resource",
    )?
    .query_map([account], sqlite_row)?
    .filter_map(|row| row.map(quota_of).transpose())
    .collect()
}

fn sqlite_row(row: &Row<'_>) -> rusqlite::Result<(String, String, String, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

// ---- PostgreSQL

pub(crate) async fn pg_set(
    client: &impl deadpool_postgres::GenericClient,
    quota: &Quota,
) -> Result<(), UserError> {
    client
        .execute(
            r#"INSERT INTO quotas (account, "user", resource, max) VALUES ($1, $2, $3, $4)
               ON CONFLICT (account, "user", resource) DO UPDATE SET max = excluded.max"#,
            &[
                &quota.account,
                &quota.user.as_deref().unwrap_or_default(),
                &quota.resource.name(),
                &i64::try_from(quota.limit).unwrap_or(i64::MAX),
            ],
        )
        .await?;
    Ok(())
}

pub(crate) async fn pg_clear(
    client: &impl deadpool_postgres::GenericClient,
    account: &str,
    user: Option<&str>,
    resource: Resource,
) -> Result<bool, UserError> {
    let removed = client
        .execute(
            r#"DELETE FROM quotas WHERE account = $1 AND "user" = $2 AND resource = $3"#,
            &[&account, &user.unwrap_or_default(), &resource.name()],
        )
        .await?;
    Ok(removed > 0)
}

pub(crate) async fn pg_list(
    client: &impl deadpool_postgres::GenericClient,
    account: Option<&str>,
) -> Result<Vec<Quota>, UserError> {
    let rows = client
        .query(
            r#"SELECT account, "user", resource, max FROM quotas
               WHERE $1::TEXT IS NULL OR account = $1 ORDER BY account, "user", resource"#,
            &[&account],
        )
        .await?;
    let mut quotas = Vec::new();
    for row in rows {
        let row = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        quotas.extend(quota_of(row));
    }
    Ok(quotas)
}

/// The quota a row holds; a resource this program does not know (a newer one's) is skipped.
fn quota_of((account, user, resource, max): (String, String, String, i64)) -> Option<Quota> {
    Some(Quota {
        account,
        user: (!user.is_empty()).then_some(user),
        resource: Resource::from_name(&resource)?,
        limit: u64::try_from(max).unwrap_or(0),
    })
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
        let quota = |user: Option<&str>, resource| Quota {
            account: "A".into(),
            user: user.map(str::to_owned),
            resource,
            limit: 1,
        };
        let quotas = [
            quota(None, Resource::Instances),
            quota(Some("u"), Resource::Instances),
            quota(Some("v"), Resource::Instances),
            quota(Some("u"), Resource::Volumes),
        ];
        let users: Vec<_> = applying(&quotas, "u", Resource::Instances)
            .map(|q| q.user.clone())
            .collect();
        assert_eq!(users, [None, Some("u".to_owned())]);
    }

    #[test]
    fn sqlite_rows_are_set_replaced_listed_and_cleared() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SQLITE_SCHEMA).unwrap();
        let mut quota = Quota {
            account: "A".into(),
            user: None,
            resource: Resource::Cores,
            limit: 4,
        };
        sqlite_set(&conn, &quota).unwrap();
        quota.limit = 8;
        sqlite_set(&conn, &quota).unwrap();
        let user = Quota {
            user: Some("u".into()),
            ..quota.clone()
        };
        sqlite_set(&conn, &user).unwrap();
        let other = Quota {
            account: "B".into(),
            ..quota.clone()
        };
        sqlite_set(&conn, &other).unwrap();
        assert_eq!(
            sqlite_list(&conn, Some("A")).unwrap(),
            [quota.clone(), user]
        );
        assert_eq!(sqlite_list(&conn, None).unwrap().len(), 3);
        assert!(sqlite_clear(&conn, "A", Some("u"), Resource::Cores).unwrap());
        assert!(!sqlite_clear(&conn, "A", Some("u"), Resource::Cores).unwrap());
        assert_eq!(sqlite_list(&conn, Some("A")).unwrap(), [quota]);
    }
}

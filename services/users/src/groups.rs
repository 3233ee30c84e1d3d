//! IAM groups in both engines: groups of an account, and which of its users belong to
//! which. A group holds policies ([`crate::policies`]) that apply to every member.
//!
//! Memberships go with their user (its row's deletion cascades); a group is deleted only
//! once it has no members and no policies, as IAM requires.

use kit::time::now;
use rusqlite::{params, OptionalExtension};

use crate::sql::{pg, pg_lock_user, sqlite_rows, Columns};
use crate::{check_path, credentials, Directory, PgUsers, UserError, UserStore};

/// The schema of groups, memberships and policy documents: the SQLite migration. Each row
/// goes with its account, group or user (cascading deletes).
pub(crate) const SQLITE_SCHEMA: &str = "
    CREATE TABLE iam_groups (
        account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        created INTEGER NOT NULL,
        PRIMARY KEY (account, name)
    ) STRICT;
    CREATE TABLE iam_group_members (
        account TEXT NOT NULL,
        group_name TEXT NOT NULL,
        user_name TEXT NOT NULL,
        PRIMARY KEY (account, group_name, user_name),
        FOREIGN KEY (account, group_name) REFERENCES iam_groups (account, name) ON DELETE CASCADE,
        FOREIGN KEY (account, user_name) REFERENCES users (account, name) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX iam_group_members_by_user ON iam_group_members (account, user_name);
    CREATE TABLE iam_user_policies (
        account TEXT NOT NULL,
        user_name TEXT NOT NULL,
        name TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (account, user_name, name),
        FOREIGN KEY (account, user_name) REFERENCES users (account, name) ON DELETE CASCADE
    ) STRICT;
    CREATE TABLE iam_group_policies (
        account TEXT NOT NULL,
        group_name TEXT NOT NULL,
        name TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (account, group_name, name),
        FOREIGN KEY (account, group_name) REFERENCES iam_groups (account, name) ON DELETE CASCADE
    ) STRICT;
";

/// [`SQLITE_SCHEMA`] in PostgreSQL (text byte by byte, as the other tables).
pub(crate) const PG_SCHEMA: &str = r#"
    CREATE TABLE iam_groups (
        account TEXT COLLATE "C" NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
        name TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL UNIQUE,
        path TEXT COLLATE "C" NOT NULL,
        created BIGINT NOT NULL,
        PRIMARY KEY (account, name)
    );
    CREATE TABLE iam_group_members (
        account TEXT COLLATE "C" NOT NULL,
        group_name TEXT COLLATE "C" NOT NULL,
        user_name TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (account, group_name, user_name),
        FOREIGN KEY (account, group_name) REFERENCES iam_groups (account, name) ON DELETE CASCADE,
        FOREIGN KEY (account, user_name) REFERENCES users (account, name) ON DELETE CASCADE
    );
    CREATE INDEX iam_group_members_by_user ON iam_group_members (account, user_name);
    CREATE TABLE iam_user_policies (
        account TEXT COLLATE "C" NOT NULL,
        user_name TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (account, user_name, name),
        FOREIGN KEY (account, user_name) REFERENCES users (account, name) ON DELETE CASCADE
    );
    CREATE TABLE iam_group_policies (
        account TEXT COLLATE "C" NOT NULL,
        group_name TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (account, group_name, name),
        FOREIGN KEY (account, group_name) REFERENCES iam_groups (account, name) ON DELETE CASCADE
    );
"#;

/// Most groups one user belongs to, as IAM allows.
pub const MAX_GROUPS_PER_USER: usize = 10;

/// A group of users in an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub account: String,
    /// Unique in its account; [`check_iam_name`]'s rules.
    pub name: String,
    /// IAM's GroupId: `AGPA` and 17 upper-case letters and digits.
    pub id: String,
    /// IAM's path, `/` unless given.
    pub path: String,
    /// Seconds since the Unix epoch.
    pub created: i64,
}

impl Group {
    /// IAM's ARN of the group, in the account whose id is `account_id`.
    pub fn arn(&self, account_id: &str) -> String {
        format!("arn:aws:iam::{account_id}:group{}{}", self.path, self.name)
    }
}

/// IAM's rule for the name of a group or a policy: 1 to 128 letters, digits and `+=,.@_-`.
pub(crate) fn check_iam_name(kind: &'static str, name: &str) -> Result<(), UserError> {
    let valid = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(UserError::Invalid(format!(
            "invalid {kind} name {name:?}: use 1 to 128 letters, digits or '+=,.@_-'"
        )))
    }
}

/// Reads `g.account, g.name, g.id, g.path, g.created`.
fn group_from(row: &impl Columns) -> Result<Group, UserError> {
    Ok(Group {
        account: row.get(0)?,
        name: row.get(1)?,
        id: row.get(2)?,
        path: row.get(3)?,
        created: row.get(4)?,
    })
}

const ACCOUNT_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM accounts WHERE name = ?1)";
pub(crate) const USER_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM users WHERE account = ?1 AND name = ?2)";
pub(crate) const GROUP_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM iam_groups WHERE account = ?1 AND name = ?2)";
const INSERT_GROUP: &str = "INSERT INTO iam_groups (account, name, id, path, created)
    VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";
const SELECT_GROUP: &str = "SELECT g.account, g.name, g.id, g.path, g.created FROM iam_groups g
    WHERE g.account = ?1 AND g.name = ?2";
/// An account's groups whose path starts with a prefix, by name.
const SELECT_GROUPS: &str = "SELECT g.account, g.name, g.id, g.path, g.created FROM iam_groups g
    WHERE g.account = ?1 AND substr(g.path, 1, length(CAST(?2 AS TEXT))) = ?2 ORDER BY g.name";
/// What still holds a group: its members and its policies.
const GROUP_HOLDINGS: &str = "SELECT
    (SELECT COUNT(*) FROM iam_group_members WHERE account = ?1 AND group_name = ?2),
    (SELECT COUNT(*) FROM iam_group_policies WHERE account = ?1 AND group_name = ?2)";
const DELETE_GROUP: &str = "DELETE FROM iam_groups WHERE account = ?1 AND name = ?2";
const COUNT_GROUPS_OF_USER: &str =
    "SELECT COUNT(*) FROM iam_group_members WHERE account = ?1 AND user_name = ?2";
const INSERT_MEMBER: &str = "INSERT INTO iam_group_members (account, group_name, user_name)
    VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
const DELETE_MEMBER: &str =
    "DELETE FROM iam_group_members WHERE account = ?1 AND group_name = ?2 AND user_name = ?3";
const SELECT_GROUPS_OF_USER: &str = "SELECT g.account, g.name, g.id, g.path, g.created
    FROM iam_groups g JOIN iam_group_members m ON m.account = g.account AND m.group_name = g.name
    WHERE m.account = ?1 AND m.user_name = ?2 ORDER BY g.name";
const SELECT_MEMBERS: &str = "SELECT user_name FROM iam_group_members
    WHERE account = ?1 AND group_name = ?2 ORDER BY user_name";

/// A new group, checked, with a fresh id.
fn new_group(account: &str, name: &str, path: &str) -> Result<Group, UserError> {
    check_iam_name("group", name)?;
    check_path(path)?;
    Ok(Group {
        account: account.to_owned(),
        name: name.to_owned(),
        id: credentials::group_id()?,
        path: path.to_owned(),
        created: now(),
    })
}

/// Refuses to delete a group that still has members or policies.
fn deletable(name: &str, members: i64, policies: i64) -> Result<(), UserError> {
    if members > 0 || policies > 0 {
        return Err(UserError::DeleteConflict(format!(
            "group {name:?} still has {members} member(s) and {policies} policy(ies)"
        )));
    }
    Ok(())
}

/// Refuses a membership past [`MAX_GROUPS_PER_USER`] (a user already in the group is let
/// through: adding is idempotent).
fn room_for_group(user: &str, groups: i64) -> Result<(), UserError> {
    if usize::try_from(groups).unwrap_or(usize::MAX) >= MAX_GROUPS_PER_USER {
        return Err(UserError::LimitExceeded(format!(
            "user {user:?} is in {MAX_GROUPS_PER_USER} groups already"
        )));
    }
    Ok(())
}

fn found(exists: bool, kind: &'static str, name: &str) -> Result<(), UserError> {
    if exists {
        Ok(())
    } else {
        Err(UserError::NotFound {
            kind,
            name: name.to_owned(),
        })
    }
}

impl UserStore {
    fn create_group(&self, account: &str, name: &str, path: &str) -> Result<Group, UserError> {
        let group = new_group(account, name, path)?;
        self.write(|tx| {
            found(
                tx.query_row(ACCOUNT_EXISTS, [account], |r| r.get(0))?,
                "account",
                account,
            )?;
            let g = &group;
            let inserted = tx.execute(
                INSERT_GROUP,
                params![g.account, g.name, g.id, g.path, g.created],
            )?;
            if inserted == 0 {
                return Err(UserError::Exists {
                    kind: "group",
                    name: name.to_owned(),
                });
            }
            Ok(())
        })?;
        Ok(group)
    }

    fn group(&self, account: &str, name: &str) -> Result<Option<Group>, UserError> {
        self.with_conn(|conn| {
            conn.query_row(SELECT_GROUP, [account, name], |row| Ok(group_from(row)))
                .optional()?
                .transpose()
        })
    }

    fn groups(&self, account: &str, path_prefix: &str) -> Result<Vec<Group>, UserError> {
        self.with_conn(|conn| {
            sqlite_rows(conn, SELECT_GROUPS, [account, path_prefix], |row| {
                group_from(row)
            })
        })
    }

    fn delete_group(&self, account: &str, name: &str) -> Result<(), UserError> {
        self.write(|tx| {
            let (members, policies) = tx.query_row(GROUP_HOLDINGS, [account, name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            deletable(name, members, policies)?;
            found(
                tx.execute(DELETE_GROUP, [account, name])? > 0,
                "group",
                name,
            )
        })
    }

    fn add_user_to_group(&self, account: &str, group: &str, user: &str) -> Result<(), UserError> {
        self.write(|tx| {
            found(
                tx.query_row(GROUP_EXISTS, [account, group], |r| r.get(0))?,
                "group",
                group,
            )?;
            found(
                tx.query_row(USER_EXISTS, [account, user], |r| r.get(0))?,
                "user",
                user,
            )?;
            let groups = tx.query_row(COUNT_GROUPS_OF_USER, [account, user], |r| r.get(0))?;
            if tx.execute(INSERT_MEMBER, [account, group, user])? > 0 {
                room_for_group(user, groups)?;
            }
            Ok(())
        })
    }

    fn remove_user_from_group(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), UserError> {
        let removed =
            self.with_conn(|conn| Ok(conn.execute(DELETE_MEMBER, [account, group, user])?))?;
        found(removed > 0, "member of the group", user)
    }

    fn groups_of_user(&self, account: &str, user: &str) -> Result<Vec<Group>, UserError> {
        self.with_conn(|conn| {
            sqlite_rows(conn, SELECT_GROUPS_OF_USER, [account, user], |row| {
                group_from(row)
            })
        })
    }

    fn users_in_group(&self, account: &str, group: &str) -> Result<Vec<String>, UserError> {
        self.with_conn(|conn| {
            found(
                conn.query_row(GROUP_EXISTS, [account, group], |r| r.get(0))?,
                "group",
                group,
            )?;
            sqlite_rows(
                conn,
                SELECT_MEMBERS,
                [account, group],
                |row| Ok(row.get(0)?),
            )
        })
    }
}

impl PgUsers {
    async fn create_group(
        &self,
        account: &str,
        name: &str,
        path: &str,
    ) -> Result<Group, UserError> {
        let group = new_group(account, name, path)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        found(
            tx.query_one(&pg(ACCOUNT_EXISTS), &[&account])
                .await?
                .try_get(0)?,
            "account",
            account,
        )?;
        let g = &group;
        let inserted = tx
            .execute(
                &pg(INSERT_GROUP),
                &[&g.account, &g.name, &g.id, &g.path, &g.created],
            )
            .await?;
        if inserted == 0 {
            return Err(UserError::Exists {
                kind: "group",
                name: name.to_owned(),
            });
        }
        tx.commit().await?;
        Ok(group)
    }

    async fn group(&self, account: &str, name: &str) -> Result<Option<Group>, UserError> {
        let row = self
            .client()
            .await?
            .query_opt(&pg(SELECT_GROUP), &[&account, &name])
            .await?;
        row.as_ref().map(group_from).transpose()
    }

    async fn groups(&self, account: &str, path_prefix: &str) -> Result<Vec<Group>, UserError> {
        let rows = self
            .client()
            .await?
            .query(&pg(SELECT_GROUPS), &[&account, &path_prefix])
            .await?;
        rows.iter().map(group_from).collect()
    }

    async fn delete_group(&self, account: &str, name: &str) -> Result<(), UserError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Locks the group's row, so that no member or policy is added meanwhile.
        tx.query_opt(
            &format!("{} FOR UPDATE", pg(SELECT_GROUP)),
            &[&account, &name],
        )
        .await?;
        let holdings = tx
            .query_one(&pg(GROUP_HOLDINGS), &[&account, &name])
            .await?;
        deletable(name, holdings.try_get(0)?, holdings.try_get(1)?)?;
        let deleted = tx.execute(&pg(DELETE_GROUP), &[&account, &name]).await?;
        found(deleted > 0, "group", name)?;
        Ok(tx.commit().await?)
    }

    async fn add_user_to_group(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), UserError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Locks the group and the user against their deletion meanwhile.
        let group_row = tx
            .query_opt(
                &format!("{} FOR SHARE", pg(SELECT_GROUP)),
                &[&account, &group],
            )
            .await?;
        found(group_row.is_some(), "group", group)?;
        pg_lock_user(&tx, account, user).await?;
        let groups: i64 = tx
            .query_one(&pg(COUNT_GROUPS_OF_USER), &[&account, &user])
            .await?
            .try_get(0)?;
        if tx
            .execute(&pg(INSERT_MEMBER), &[&account, &group, &user])
            .await?
            > 0
        {
            room_for_group(user, groups)?;
        }
        Ok(tx.commit().await?)
    }

    async fn remove_user_from_group(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), UserError> {
        let removed = self
            .client()
            .await?
            .execute(&pg(DELETE_MEMBER), &[&account, &group, &user])
            .await?;
        found(removed > 0, "member of the group", user)
    }

    async fn groups_of_user(&self, account: &str, user: &str) -> Result<Vec<Group>, UserError> {
        let rows = self
            .client()
            .await?
            .query(&pg(SELECT_GROUPS_OF_USER), &[&account, &user])
            .await?;
        rows.iter().map(group_from).collect()
    }

    async fn users_in_group(&self, account: &str, group: &str) -> Result<Vec<String>, UserError> {
        let client = self.client().await?;
        found(
            client
                .query_one(&pg(GROUP_EXISTS), &[&account, &group])
                .await?
                .try_get(0)?,
            "group",
            group,
        )?;
        let rows = client
            .query(&pg(SELECT_MEMBERS), &[&account, &group])
            .await?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }
}

impl Directory {
    /// Creates the group `name` (at `path`) in `account`.
    pub async fn create_group(
        &self,
        account: &str,
        name: &str,
        path: &str,
    ) -> Result<Group, UserError> {
        match self {
            Self::Sqlite(s) => s.create_group(account, name, path),
            Self::Postgres(p) => p.create_group(account, name, path).await,
        }
    }

    pub async fn group(&self, account: &str, name: &str) -> Result<Option<Group>, UserError> {
        match self {
            Self::Sqlite(s) => s.group(account, name),
            Self::Postgres(p) => p.group(account, name).await,
        }
    }

    /// The groups of `account` whose path starts with `path_prefix`, by name.
    pub async fn groups(&self, account: &str, path_prefix: &str) -> Result<Vec<Group>, UserError> {
        match self {
            Self::Sqlite(s) => s.groups(account, path_prefix),
            Self::Postgres(p) => p.groups(account, path_prefix).await,
        }
    }

    /// Deletes a group that has no members and no policies (else `DeleteConflict`).
    pub async fn delete_group(&self, account: &str, name: &str) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.delete_group(account, name),
            Self::Postgres(p) => p.delete_group(account, name).await,
        }
    }

    /// Adds `user` to `group` (nothing happens if it is a member already).
    pub async fn add_user_to_group(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.add_user_to_group(account, group, user),
            Self::Postgres(p) => p.add_user_to_group(account, group, user).await,
        }
    }

    pub async fn remove_user_from_group(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.remove_user_from_group(account, group, user),
            Self::Postgres(p) => p.remove_user_from_group(account, group, user).await,
        }
    }

    /// The groups `user` belongs to, by name.
    pub async fn groups_of_user(&self, account: &str, user: &str) -> Result<Vec<Group>, UserError> {
        match self {
            Self::Sqlite(s) => s.groups_of_user(account, user),
            Self::Postgres(p) => p.groups_of_user(account, user).await,
        }
    }

    /// The names of `group`'s members, sorted.
    pub async fn users_in_group(
        &self,
        account: &str,
        group: &str,
    ) -> Result<Vec<String>, UserError> {
        match self {
            Self::Sqlite(s) => s.users_in_group(account, group),
            Self::Postgres(p) => p.users_in_group(account, group).await,
        }
    }
}

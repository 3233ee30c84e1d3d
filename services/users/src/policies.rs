//! IAM policy documents of users and groups in both engines, checked by the `policy`
//! crate before they are stored, and what the CLC and Walrus ask of them: the policies that
//! apply to a user ([`Directory::policies_of`], [`crate::UserLookup::policies_of`]) and
//! whether a request passes them ([`decide`]).

use policy::{Decision, Request, GROUP_POLICY_LIMIT, USER_POLICY_LIMIT};
use rusqlite::{params, OptionalExtension};

use crate::groups::{check_iam_name, GROUP_EXISTS, USER_EXISTS};
use crate::sql::{pg, sqlite_rows};
use crate::{Directory, PgUsers, User, UserError, UserStore};

/// A named policy document, as stored (checked when it was put).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub document: String,
}

/// Whether `user`'s requests are evaluated against policies: the cloud administrator and
/// every account's root user are allowed everything (within their accounts, which the
/// components keep apart), as AWS's root users are.
pub fn evaluated(user: &User) -> bool {
    !user.admin && !user.is_root()
}

/// Evaluates `request` against `policies` (a user's [`Directory::policies_of`]). A stored
/// document that no longer parses denies explicitly: a policy is never ignored.
pub fn decide(policies: &[Policy], request: &Request<'_>) -> Decision {
    let mut parsed = Vec::with_capacity(policies.len());
    for p in policies {
        match policy::Policy::parse(&p.document, GROUP_POLICY_LIMIT) {
            Ok(document) => parsed.push((p.name.as_str(), document)),
            Err(_) => {
                return Decision::Deny {
                    policy: p.name.clone(),
                    sid: None,
                }
            }
        }
    }
    policy::evaluate(parsed.iter().map(|(name, p)| (*name, p)), request)
}

/// Whose a policy is.
#[derive(Debug, Clone, Copy)]
enum Holder {
    User,
    Group,
}

impl Holder {
    fn kind(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
        }
    }

    fn limit(self) -> usize {
        match self {
            Self::User => USER_POLICY_LIMIT,
            Self::Group => GROUP_POLICY_LIMIT,
        }
    }

    fn exists(self) -> &'static str {
        match self {
            Self::User => USER_EXISTS,
            Self::Group => GROUP_EXISTS,
        }
    }

    /// The statements on this holder's table (SQLite's placeholders: account, holder,
    /// policy name, document).
    fn sql(self) -> &'static Statements {
        match self {
            Self::User => &USER_POLICIES,
            Self::Group => &GROUP_POLICIES,
        }
    }

    /// Checks a document before it is stored: its name, its grammar, its size.
    fn check(self, name: &str, document: &str) -> Result<(), UserError> {
        check_iam_name("policy", name)?;
        match policy::Policy::parse(document, self.limit()) {
            Ok(_) => Ok(()),
            Err(e @ policy::PolicyError::TooLarge { .. }) => Err(UserError::LimitExceeded(
                format!("{} policy {name:?}: {e}", self.kind()),
            )),
            Err(policy::PolicyError::Malformed(fault)) => Err(UserError::MalformedPolicy(fault)),
        }
    }
}

#[derive(Debug)]
struct Statements {
    put: &'static str,
    get: &'static str,
    list: &'static str,
    delete: &'static str,
}

const USER_POLICIES: Statements = Statements {
    put: "INSERT INTO iam_user_policies (account, user_name, name, document)
        VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (account, user_name, name) DO UPDATE SET document = excluded.document",
    get:
        "SELECT document FROM iam_user_policies WHERE account = ?1 AND user_name = ?2 AND name = ?3",
    list: "SELECT name FROM iam_user_policies WHERE account = ?1 AND user_name = ?2 ORDER BY name",
    delete: "DELETE FROM iam_user_policies WHERE account = ?1 AND user_name = ?2 AND name = ?3",
};

const GROUP_POLICIES: Statements = Statements {
    put: "INSERT INTO iam_group_policies (account, group_name, name, document)
        VALUES (?1, ?2, ?3, ?4)
        ON CONFLICT (account, group_name, name) DO UPDATE SET document = excluded.document",
    get: "SELECT document FROM iam_group_policies WHERE account = ?1 AND group_name = ?2 AND name = ?3",
    list: "SELECT name FROM iam_group_policies WHERE account = ?1 AND group_name = ?2 ORDER BY name",
    delete: "DELETE FROM iam_group_policies WHERE account = ?1 AND group_name = ?2 AND name = ?3",
};

/// A user's own policies, then those of its groups (named `GROUP/NAME`).
const POLICIES_OF: &str = "SELECT name, document FROM (
        SELECT 0 AS rank, name, document FROM iam_user_policies
        WHERE account = ?1 AND user_name = ?2
        UNION ALL
        SELECT 1 AS rank, p.group_name || '/' || p.name AS name, p.document
        FROM iam_group_policies p JOIN iam_group_members m
            ON m.account = p.account AND m.group_name = p.group_name
        WHERE m.account = ?1 AND m.user_name = ?2
    ) AS applying ORDER BY rank, name";

fn not_found(kind: &'static str, name: &str) -> UserError {
    UserError::NotFound {
        kind,
        name: name.to_owned(),
    }
}

impl UserStore {
    fn put_policy(
        &self,
        holder: Holder,
        account: &str,
        of: &str,
        name: &str,
        document: &str,
    ) -> Result<(), UserError> {
        holder.check(name, document)?;
        self.write(|tx| {
            let exists: bool = tx.query_row(holder.exists(), [account, of], |r| r.get(0))?;
            if !exists {
                return Err(not_found(holder.kind(), of));
            }
            tx.execute(holder.sql().put, params![account, of, name, document])?;
            Ok(())
        })
    }

    fn policy(
        &self,
        holder: Holder,
        account: &str,
        of: &str,
        name: &str,
    ) -> Result<Option<Policy>, UserError> {
        let document: Option<String> = self.with_conn(|conn| {
            Ok(conn
                .query_row(holder.sql().get, [account, of, name], |r| r.get(0))
                .optional()?)
        })?;
        Ok(document.map(|document| Policy {
            name: name.to_owned(),
            document,
        }))
    }

    fn policy_names(
        &self,
        holder: Holder,
        account: &str,
        of: &str,
    ) -> Result<Vec<String>, UserError> {
        self.with_conn(|conn| {
            let exists: bool = conn.query_row(holder.exists(), [account, of], |r| r.get(0))?;
            if !exists {
                return Err(not_found(holder.kind(), of));
            }
            sqlite_rows(
                conn,
                holder.sql().list,
                [account, of],
                |row| Ok(row.get(0)?),
            )
        })
    }

    fn delete_policy(
        &self,
        holder: Holder,
        account: &str,
        of: &str,
        name: &str,
    ) -> Result<(), UserError> {
        let deleted =
            self.with_conn(|conn| Ok(conn.execute(holder.sql().delete, [account, of, name])?))?;
        if deleted == 0 {
            return Err(not_found("policy", name));
        }
        Ok(())
    }

    pub(crate) fn policies_applying_to(&self, user: &User) -> Result<Vec<Policy>, UserError> {
        self.with_conn(|conn| {
            sqlite_rows(conn, POLICIES_OF, [&user.account, &user.name], |row| {
                Ok(Policy {
                    name: row.get(0)?,
                    document: row.get(1)?,
                })
            })
        })
    }
}

impl PgUsers {
    async fn put_policy(
        &self,
        holder: Holder,
        account: &str,
        of: &str,
        name: &str,
        document: &str,
    ) -> Result<(), UserError> {
        holder.check(name, document)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let exists: bool = tx
            .query_one(&pg(holder.exists()), &[&account, &of])
            .await?
            .try_get(0)?;
        if !exists {
            return Err(not_found(holder.kind(), of));
        }
        tx.execute(&pg(holder.sql().put), &[&account, &of, &name, &document])
            .await?;
        Ok(tx.commit().await?)
    }

    async fn policy(
        &self,
        holder: Holder,
        account: &str,
        of: &str,
        name: &str,
    ) -> Result<Option<Policy>, UserError> {
        let row = self
            .client()
            .await?
            .query_opt(&pg(holder.sql().get), &[&account, &of, &name])
            .await?;
        Ok(match row {
            Some(row) => Some(Policy {
                name: name.to_owned(),
                document: row.try_get(0)?,
            }),
            None => None,
        })
    }

    async fn policy_names(
        &self,
        holder: Holder,
        account: &str,
        of: &str,
    ) -> Result<Vec<String>, UserError> {
        let client = self.client().await?;
        let exists: bool = client
            .query_one(&pg(holder.exists()), &[&account, &of])
            .await?
            .try_get(0)?;
        if !exists {
            return Err(not_found(holder.kind(), of));
        }
        let rows = client
            .query(&pg(holder.sql().list), &[&account, &of])
            .await?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }

    async fn delete_policy(
        &self,
        holder: Holder,
        account: &str,
        of: &str,
        name: &str,
    ) -> Result<(), UserError> {
        let deleted = self
            .client()
            .await?
            .execute(&pg(holder.sql().delete), &[&account, &of, &name])
            .await?;
        if deleted == 0 {
            return Err(not_found("policy", name));
        }
        Ok(())
    }

    pub(crate) async fn policies_applying_to(&self, user: &User) -> Result<Vec<Policy>, UserError> {
        let rows = self
            .client()
            .await?
            .query(&pg(POLICIES_OF), &[&user.account, &user.name])
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Policy {
                    name: row.try_get(0)?,
                    document: row.try_get(1)?,
                })
            })
            .collect()
    }
}

impl Directory {
    async fn put_policy(
        &self,
        holder: Holder,
        account: &str,
        of: &str,
        name: &str,
        document: &str,
    ) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.put_policy(holder, account, of, name, document),
            Self::Postgres(p) => p.put_policy(holder, account, of, name, document).await,
        }
    }

    async fn policy(
        &self,
        holder: Holder,
        account: &str,
        of: &str,
        name: &str,
    ) -> Result<Option<Policy>, UserError> {
        match self {
            Self::Sqlite(s) => s.policy(holder, account, of, name),
            Self::Postgres(p) => p.policy(holder, account, of, name).await,
        }
    }

    async fn policy_names(
        &self,
        holder: Holder,
        account: &str,
        of: &str,
    ) -> Result<Vec<String>, UserError> {
        match self {
            Self::Sqlite(s) => s.policy_names(holder, account, of),
            Self::Postgres(p) => p.policy_names(holder, account, of).await,
        }
    }

    async fn delete_policy(
        &self,
        holder: Holder,
        account: &str,
        of: &str,
        name: &str,
    ) -> Result<(), UserError> {
        match self {
            Self::Sqlite(s) => s.delete_policy(holder, account, of, name),
            Self::Postgres(p) => p.delete_policy(holder, account, of, name).await,
        }
    }

    /// Creates or replaces `user`'s policy `name`, once `document` passes the grammar
    /// (else `MalformedPolicy`) and IAM's size limit for user policies (else
    /// `LimitExceeded`).
    pub async fn put_user_policy(
        &self,
        account: &str,
        user: &str,
        name: &str,
        document: &str,
    ) -> Result<(), UserError> {
        self.put_policy(Holder::User, account, user, name, document)
            .await
    }

    pub async fn user_policy(
        &self,
        account: &str,
        user: &str,
        name: &str,
    ) -> Result<Option<Policy>, UserError> {
        self.policy(Holder::User, account, user, name).await
    }

    /// The names of `user`'s policies, sorted.
    pub async fn user_policies(&self, account: &str, user: &str) -> Result<Vec<String>, UserError> {
        self.policy_names(Holder::User, account, user).await
    }

    pub async fn delete_user_policy(
        &self,
        account: &str,
        user: &str,
        name: &str,
    ) -> Result<(), UserError> {
        self.delete_policy(Holder::User, account, user, name).await
    }

    /// Creates or replaces `group`'s policy `name`, checked as [`Self::put_user_policy`]
    /// with the limit for group policies.
    pub async fn put_group_policy(
        &self,
        account: &str,
        group: &str,
        name: &str,
        document: &str,
    ) -> Result<(), UserError> {
        self.put_policy(Holder::Group, account, group, name, document)
            .await
    }

    pub async fn group_policy(
        &self,
        account: &str,
        group: &str,
        name: &str,
    ) -> Result<Option<Policy>, UserError> {
        self.policy(Holder::Group, account, group, name).await
    }

    /// The names of `group`'s policies, sorted.
    pub async fn group_policies(
        &self,
        account: &str,
        group: &str,
    ) -> Result<Vec<String>, UserError> {
        self.policy_names(Holder::Group, account, group).await
    }

    pub async fn delete_group_policy(
        &self,
        account: &str,
        group: &str,
        name: &str,
    ) -> Result<(), UserError> {
        self.delete_policy(Holder::Group, account, group, name)
            .await
    }

    /// The policies that apply to `user`: its own, then its groups' (named `GROUP/NAME`).
    pub async fn policies_of(&self, user: &User) -> Result<Vec<Policy>, UserError> {
        match self {
            Self::Sqlite(s) => s.policies_applying_to(user),
            Self::Postgres(p) => p.policies_applying_to(user).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use policy::Context;

    use super::*;
    use crate::groups::MAX_GROUPS_PER_USER;

    const DESCRIBE: &str = r#"{"Version": "2012-10-17", "Statement":
        {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}}"#;
    const NO_RUN: &str = r#"{"Version": "2012-10-17", "Statement":
        {"Sid": "NoRun", "Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "*"}}"#;
    const EVERYTHING: &str =
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#;

    fn allowed(policies: &[Policy], action: &str) -> bool {
        let context = Context::new();
        decide(
            policies,
            &Request {
                action,
                resource: "*",
                context: &context,
            },
        )
        .allowed()
    }

    /// Groups, memberships and policies on a directory with the accounts `ann` and `bob`.
    async fn suite(dir: &Directory) {
        dir.ensure_admin().await.unwrap();
        dir.create_account("ann", None).await.unwrap();
        dir.create_account("bob", None).await.unwrap();
        let carl = dir.create_user("ann", "carl", "/").await.unwrap();
        dir.create_user("ann", "dora", "/").await.unwrap();
        assert!(evaluated(&carl));
        assert!(!evaluated(&dir.root_of("ann").await.unwrap().unwrap()));

        // Groups.
        let ops = dir.create_group("ann", "ops", "/team/").await.unwrap();
        assert!(
            ops.id.starts_with("AGPA") && ops.id.len() == 21,
            "{}",
            ops.id
        );
        assert_eq!(
            ops.arn("123456789012"),
            "arn:aws:iam::123456789012:group/team/ops"
        );
        assert!(matches!(
            dir.create_group("ann", "ops", "/").await,
            Err(UserError::Exists { kind: "group", .. })
        ));
        assert!(matches!(
            dir.create_group("ann", "a b", "/").await,
            Err(UserError::Invalid(_))
        ));
        assert!(matches!(
            dir.create_group("nobody", "ops", "/").await,
            Err(UserError::NotFound {
                kind: "account",
                ..
            })
        ));
        dir.create_group("bob", "ops", "/").await.unwrap();
        dir.create_group("ann", "devs", "/").await.unwrap();
        let names =
            |groups: Vec<crate::Group>| groups.into_iter().map(|g| g.name).collect::<Vec<_>>();
        assert_eq!(
            names(dir.groups("ann", "/").await.unwrap()),
            ["devs", "ops"]
        );
        assert_eq!(names(dir.groups("ann", "/team/").await.unwrap()), ["ops"]);
        assert_eq!(dir.group("ann", "ops").await.unwrap().as_ref(), Some(&ops));
        assert_eq!(dir.group("ann", "nope").await.unwrap(), None);

        // Members.
        dir.add_user_to_group("ann", "ops", "carl").await.unwrap();
        dir.add_user_to_group("ann", "ops", "carl").await.unwrap();
        dir.add_user_to_group("ann", "ops", "dora").await.unwrap();
        dir.add_user_to_group("ann", "devs", "carl").await.unwrap();
        assert!(matches!(
            dir.add_user_to_group("bob", "ops", "carl").await,
            Err(UserError::NotFound { kind: "user", .. })
        ));
        assert!(matches!(
            dir.add_user_to_group("ann", "nope", "carl").await,
            Err(UserError::NotFound { kind: "group", .. })
        ));
        assert_eq!(
            dir.users_in_group("ann", "ops").await.unwrap(),
            ["carl", "dora"]
        );
        assert_eq!(
            dir.users_in_group("bob", "ops").await.unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            names(dir.groups_of_user("ann", "carl").await.unwrap()),
            ["devs", "ops"]
        );

        // Policies: checked, stored, replaced, applied.
        assert!(matches!(
            dir.put_user_policy("ann", "carl", "bad", r#"{"Statement": []}"#)
                .await,
            Err(UserError::MalformedPolicy(_))
        ));
        let big = format!(
            r#"{{"Statement": {{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{}"}}}}"#,
            "b".repeat(3000)
        );
        assert!(matches!(
            dir.put_user_policy("ann", "carl", "big", &big).await,
            Err(UserError::LimitExceeded(_))
        ));
        dir.put_group_policy("ann", "ops", "big", &big)
            .await
            .unwrap();
        dir.delete_group_policy("ann", "ops", "big").await.unwrap();
        assert!(matches!(
            dir.put_user_policy("ann", "nobody", "p", DESCRIBE).await,
            Err(UserError::NotFound { kind: "user", .. })
        ));
        assert!(matches!(
            dir.put_group_policy("ann", "nope", "p", DESCRIBE).await,
            Err(UserError::NotFound { kind: "group", .. })
        ));
        dir.put_user_policy("ann", "carl", "read", EVERYTHING)
            .await
            .unwrap();
        dir.put_user_policy("ann", "carl", "read", DESCRIBE)
            .await
            .unwrap();
        assert_eq!(dir.user_policies("ann", "carl").await.unwrap(), ["read"]);
        assert_eq!(
            dir.user_policy("ann", "carl", "read")
                .await
                .unwrap()
                .unwrap()
                .document,
            DESCRIBE
        );
        let mine = dir.policies_of(&carl).await.unwrap();
        assert!(allowed(&mine, "ec2:DescribeInstances") && !allowed(&mine, "ec2:RunInstances"));

        dir.put_group_policy("ann", "ops", "all", EVERYTHING)
            .await
            .unwrap();
        assert!(allowed(
            &dir.policies_of(&carl).await.unwrap(),
            "ec2:RunInstances"
        ));
        dir.put_group_policy("ann", "devs", "norun", NO_RUN)
            .await
            .unwrap();
        let applying = dir.policies_of(&carl).await.unwrap();
        let named: Vec<&str> = applying.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(named, ["read", "devs/norun", "ops/all"]);
        assert_eq!(
            decide(
                &applying,
                &Request {
                    action: "ec2:RunInstances",
                    resource: "*",
                    context: &Context::new()
                }
            ),
            policy::Decision::Deny {
                policy: "devs/norun".into(),
                sid: Some("NoRun".into())
            }
        );
        assert_eq!(dir.lookup().policies_of(&carl).unwrap(), applying);

        // Leaving a group drops its policies; a group goes only once empty.
        dir.remove_user_from_group("ann", "devs", "carl")
            .await
            .unwrap();
        assert!(matches!(
            dir.remove_user_from_group("ann", "devs", "carl").await,
            Err(UserError::NotFound { .. })
        ));
        assert!(allowed(
            &dir.policies_of(&carl).await.unwrap(),
            "ec2:RunInstances"
        ));
        assert!(matches!(
            dir.delete_group("ann", "devs").await,
            Err(UserError::DeleteConflict(_))
        ));
        dir.delete_group_policy("ann", "devs", "norun")
            .await
            .unwrap();
        assert!(matches!(
            dir.delete_group_policy("ann", "devs", "norun").await,
            Err(UserError::NotFound { kind: "policy", .. })
        ));
        dir.delete_group("ann", "devs").await.unwrap();
        assert!(matches!(
            dir.delete_group("ann", "ops").await,
            Err(UserError::DeleteConflict(_))
        ));

        // A deleted user's memberships and policies go with it: a new user of the name
        // starts with none.
        dir.delete_user("ann", "carl").await.unwrap();
        assert_eq!(dir.users_in_group("ann", "ops").await.unwrap(), ["dora"]);
        let again = dir.create_user("ann", "carl", "/").await.unwrap();
        assert!(dir.policies_of(&again).await.unwrap().is_empty());
        assert!(dir.user_policies("ann", "carl").await.unwrap().is_empty());

        // At most MAX_GROUPS_PER_USER groups a user.
        for i in 0..MAX_GROUPS_PER_USER {
            let name = format!("g{i}");
            dir.create_group("ann", &name, "/").await.unwrap();
            dir.add_user_to_group("ann", &name, "carl").await.unwrap();
        }
        assert!(matches!(
            dir.add_user_to_group("ann", "ops", "carl").await,
            Err(UserError::LimitExceeded(_))
        ));
        assert!(!dir
            .users_in_group("ann", "ops")
            .await
            .unwrap()
            .contains(&"carl".to_owned()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn groups_and_policies_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = UserStore::open(&dir.path().join("users.sqlite")).unwrap();
        suite(&Directory::Sqlite(Arc::new(store))).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn groups_and_policies_on_postgres() {
        let url = match pgtest::database() {
            Ok(url) => url,
            Err(skip) => {
                println!("skipped: {skip}");
                return;
            }
        };
        let users = PgUsers::open(crate::connect(&url).unwrap()).await.unwrap();
        suite(&Directory::Postgres(users)).await;
    }

    #[test]
    fn a_stored_document_that_no_longer_parses_denies() {
        // Guards against a damaged row silently dropping a Deny.
        let policies = [
            Policy {
                name: "all".into(),
                document: EVERYTHING.into(),
            },
            Policy {
                name: "damaged".into(),
                document: "{".into(),
            },
        ];
        assert!(!allowed(&policies, "ec2:DescribeInstances"));
    }
}

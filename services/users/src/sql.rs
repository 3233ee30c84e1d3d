//! What the two engines' code shares: statements written once with SQLite's `?N`
//! placeholders (PostgreSQL's `$N` made from them by [`pg`]) and rows read through one
//! interface ([`Columns`]), so that each operation differs between engines only in how it
//! runs.

use deadpool_postgres::GenericClient;
use rusqlite::OptionalExtension;

use crate::UserError;

/// A user's row: whether `account` holds the user.
const USER_ROW: &str = "SELECT 1 FROM users WHERE account = ?1 AND name = ?2";

/// Refuses a user `account` does not hold, on SQLite (whose writes take the whole database,
/// so the answer holds for the rest of a write).
pub(crate) fn sqlite_user_exists(
    conn: &rusqlite::Connection,
    account: &str,
    user: &str,
) -> Result<(), UserError> {
    conn.query_row(USER_ROW, [account, user], |_| Ok(()))
        .optional()?
        .ok_or_else(|| UserError::not_found("user", user))
}

/// Refuses a user `account` does not hold, on PostgreSQL.
pub(crate) async fn pg_user_exists(
    client: &impl GenericClient,
    account: &str,
    user: &str,
) -> Result<(), UserError> {
    pg_user_row(client, &pg(USER_ROW), account, user).await
}

/// Refuses a user `account` does not hold, and locks the user's row until `tx` ends, so that
/// neither its deletion nor another request's change of what it holds can interleave.
pub(crate) async fn pg_lock_user(
    tx: &impl GenericClient,
    account: &str,
    user: &str,
) -> Result<(), UserError> {
    let locking = format!("{} FOR UPDATE", pg(USER_ROW));
    pg_user_row(tx, &locking, account, user).await
}

async fn pg_user_row(
    client: &impl GenericClient,
    sql: &str,
    account: &str,
    user: &str,
) -> Result<(), UserError> {
    client
        .query_opt(sql, &[&account, &user])
        .await?
        .map(|_| ())
        .ok_or_else(|| UserError::not_found("user", user))
}

/// `sql` with PostgreSQL's placeholders: every `?` becomes `$` (the statements hold no
/// other `?`).
pub(crate) fn pg(sql: &str) -> String {
    sql.replace('?', "$")
}

/// A value both engines read from a column: text, optional text, integers and booleans.
pub(crate) trait Value:
    rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>
{
}

impl<T> Value for T where T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a> {}

/// A result row of either engine.
pub(crate) trait Columns {
    fn get<T: Value>(&self, index: usize) -> Result<T, UserError>;
}

impl Columns for rusqlite::Row<'_> {
    fn get<T: Value>(&self, index: usize) -> Result<T, UserError> {
        Ok(rusqlite::Row::get(self, index)?)
    }
}

impl Columns for tokio_postgres::Row {
    fn get<T: Value>(&self, index: usize) -> Result<T, UserError> {
        Ok(self.try_get(index)?)
    }
}

/// The rows of an SQLite query, each read by `read`.
pub(crate) fn sqlite_rows<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: impl Fn(&rusqlite::Row<'_>) -> Result<T, UserError>,
) -> Result<Vec<T>, UserError> {
    let mut statement = conn.prepare(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read(row)?);
    }
    Ok(out)
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

//! What the two engines' code shares: statements written once with SQLite's `?N`
//! placeholders (PostgreSQL's `$N` made from them by [`pg`]) and rows read through one
//! interface ([`Columns`]), so that each operation differs between engines only in how it
//! runs.

use crate::UserError;

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

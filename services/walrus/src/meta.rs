//! Metadata in SQLite: buckets (with their size, for quotas), objects and the blobs they are
//! made of, multipart uploads and their parts. Every change is one transaction, so what a
//! reader sees is always a whole state: an object and its blobs appear and disappear at once.
//!
//! Keys are compared as bytes (SQLite's BINARY collation over UTF-8), which is S3's order.

use std::collections::HashSet;
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql, Transaction};

use crate::acl::Acl;

/// What the metadata refuses, and its database's failures. [`crate::state`], where
/// metadata calls return, maps these to S3 errors; nothing here knows S3 codes.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("no such bucket")]
    NoSuchBucket,
    #[error("no such key")]
    NoSuchKey,
    #[error("no such upload")]
    NoSuchUpload,
    #[error("the bucket name is taken by another owner")]
    BucketAlreadyExists,
    #[error("the bucket exists and is yours")]
    BucketAlreadyOwnedByYou,
    #[error("the bucket is not empty")]
    BucketNotEmpty,
    #[error("the owner has as many buckets as allowed")]
    TooManyBuckets,
    #[error("the bucket would exceed its size limit")]
    EntityTooLarge,
    #[error("{0}")]
    QuotaExceeded(String),
    /// An account's quota (`euca admin quota`) on `buckets` or `bucket-gb` would be passed.
    #[error("{1}")]
    OverQuota(users::Resource, String),
    #[error("a part is missing or its ETag does not match")]
    InvalidPart,
    #[error("metadata database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    PRAGMA foreign_keys = ON;
    CREATE TABLE IF NOT EXISTS buckets (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        created INTEGER NOT NULL,
        location TEXT,
        acl TEXT NOT NULL,
        log_bucket TEXT,
        log_prefix TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        creator TEXT
    ) STRICT;
    CREATE INDEX IF NOT EXISTS buckets_by_owner ON buckets (owner);
    CREATE TABLE IF NOT EXISTS objects (
        id INTEGER PRIMARY KEY,
        bucket TEXT NOT NULL REFERENCES buckets ON DELETE CASCADE,
        key TEXT NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        modified INTEGER NOT NULL,
        owner TEXT NOT NULL,
        headers TEXT NOT NULL,
        acl TEXT NOT NULL,
        UNIQUE (bucket, key)
    ) STRICT;
    CREATE TABLE IF NOT EXISTS segments (
        object INTEGER NOT NULL REFERENCES objects ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        blob TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (object, seq)
    ) STRICT;
    CREATE TABLE IF NOT EXISTS uploads (
        id TEXT PRIMARY KEY,
        bucket TEXT NOT NULL REFERENCES buckets ON DELETE CASCADE,
        key TEXT NOT NULL,
        initiated INTEGER NOT NULL,
        owner TEXT NOT NULL,
        headers TEXT NOT NULL,
        acl TEXT NOT NULL
    ) STRICT;
    CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, id);
    CREATE TABLE IF NOT EXISTS completed_uploads (
        id TEXT PRIMARY KEY,
        object INTEGER NOT NULL REFERENCES objects ON DELETE CASCADE,
        parts TEXT NOT NULL
    ) STRICT;
    CREATE INDEX IF NOT EXISTS completed_by_object ON completed_uploads (object);
    CREATE TABLE IF NOT EXISTS parts (
        upload TEXT NOT NULL REFERENCES uploads ON DELETE CASCADE,
        number INTEGER NOT NULL,
        blob TEXT NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        modified INTEGER NOT NULL,
        crc32 INTEGER,
        PRIMARY KEY (upload, number)
    ) STRICT;
    CREATE TABLE IF NOT EXISTS snapshots (
        id TEXT PRIMARY KEY,
        bucket TEXT NOT NULL REFERENCES buckets ON DELETE CASCADE,
        size INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        time INTEGER NOT NULL,
        bucket TEXT NOT NULL,
        owner TEXT NOT NULL,
        change TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        user_name TEXT NOT NULL,
        source TEXT NOT NULL
    ) STRICT;
";

/// Who makes the changes of a call to the metadata: the user's name and the client's
/// address (empty for Walrus's own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub user: String,
    pub source: String,
}

/// What a [`BucketChange`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Deleted,
    /// Bytes stored, added or (negative) removed.
    Bytes(i64),
}

/// A change of a bucket that usage counts. It is written in the transaction that makes it
/// (the outbox), and stays until the event log has it ([`Meta::outbox`],
/// [`Meta::forwarded`]): a crash between the two loses nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketChange {
    /// Its place in the outbox.
    pub id: i64,
    /// Unique among every change: the event log records a key once.
    pub key: String,
    /// Milliseconds since the epoch, on the event log's clock.
    pub time: i64,
    pub bucket: String,
    /// The bucket owner's canonical id.
    pub owner: String,
    pub change: Change,
    pub actor: Actor,
}

/// Where a bucket's access log goes (stored and reported; Walrus writes no logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    pub target_bucket: String,
    pub target_prefix: String,
}

/// A bucket and what it holds, for the console's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketContents {
    pub name: String,
    /// Its owner's canonical id.
    pub owner: String,
    /// Milliseconds since the epoch.
    pub created: i64,
    pub objects: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    /// Canonical id of the owner.
    pub owner: String,
    /// Milliseconds since the epoch.
    pub created: i64,
    pub location: Option<String>,
    pub acl: Acl,
    pub logging: Option<Logging>,
    /// Bytes of its objects and of the parts of its unfinished uploads.
    pub size: u64,
    /// The user of the owner's account who made it (whose quotas count it); `None` for
    /// buckets made before Walrus kept it, and for those Walrus makes itself.
    pub creator: Option<String>,
}

/// Response headers stored with an object (Content-Type..., `x-amz-meta-*`), lower-case
/// names, in the order received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredHeaders(pub Vec<(String, String)>);

impl StoredHeaders {
    /// `name:value` lines; header values cannot hold line breaks.
    fn to_text(&self) -> String {
        self.0.iter().map(|(n, v)| format!("{n}:{v}\n")).collect()
    }

    fn from_text(text: &str) -> Self {
        Self(
            text.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One blob of an object's data, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub blob: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    /// Milliseconds since the epoch.
    pub modified: i64,
    pub owner: String,
    pub headers: StoredHeaders,
    pub acl: Acl,
    pub segments: Vec<Segment>,
}

/// What a listing shows of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub modified: i64,
    pub owner: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub objects: Vec<Summary>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page starts.
    pub last: Option<String>,
}

/// An upload that made the object now at its key, kept so that completing it again with
/// the same parts answers as the first time (S3 does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub bucket: String,
    pub key: String,
    /// The parts the completion listed, as the caller gave them to [`Meta::complete_upload`].
    pub parts: String,
    pub etag: String,
    /// The object's stored headers (its checksum among them).
    pub headers: StoredHeaders,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub initiated: i64,
    pub owner: String,
    pub headers: StoredHeaders,
    pub acl: Acl,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub number: u32,
    pub blob: String,
    pub size: u64,
    pub etag: String,
    pub modified: i64,
    /// The CRC32 of its data (none for parts stored before Walrus kept it).
    pub crc32: Option<u32>,
}

/// Storage limits a write must respect; `None` is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quota {
    pub max_bucket_bytes: Option<u64>,
    pub max_total_bytes: Option<u64>,
    /// The `bucket-gb` quotas of the account owning the bucket and of the user who made it:
    /// on the bytes of all the buckets the account owns, or that user made.
    pub held_bytes: Vec<users::Quota>,
}

/// A key bound for listings: any bytes, compared as SQLite compares TEXT (memcmp).
struct KeyBound<'a>(&'a [u8]);

impl ToSql for KeyBound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0)))
    }
}

/// The least byte string greater than every string starting with `prefix` (UTF-8 never
/// contains 0xFF, so incrementing the last byte does not overflow for our keys).
fn after_all_with_prefix(prefix: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xFF {
            out.push(last + 1);
            return out;
        }
    }
    vec![0xFF]
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The metadata database. Used from one thread at a time (callers hold a lock).
#[derive(Debug)]
pub struct Meta {
    conn: Connection,
    /// Who makes the changes of the current call.
    actor: Actor,
}

impl Meta {
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.execute_batch(SCHEMA)?;
        // Databases made before parts kept their CRC32 gain the column, empty.
        let has_crc32: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('parts') WHERE name = 'crc32'",
            [],
            |r| r.get(0),
        )?;
        if !has_crc32 {
            conn.execute_batch("ALTER TABLE parts ADD COLUMN crc32 INTEGER")?;
        }
        // Databases made before buckets kept their creator gain the column, empty.
        let has_creator: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('buckets') WHERE name = 'creator'",
            [],
            |r| r.get(0),
        )?;
        if !has_creator {
            conn.execute_batch("ALTER TABLE buckets ADD COLUMN creator TEXT")?;
        }
        Ok(Self {
            conn,
            actor: Actor::default(),
        })
    }

    /// Makes `actor` the maker of the changes that follow.
    pub fn act_for(&mut self, actor: Actor) {
        self.actor = actor;
    }

    /// The changes not yet known to be in the event log, oldest first.
    pub fn outbox(&self) -> Result<Vec<BucketChange>, MetaError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, key, time, bucket, owner, change, bytes, user_name, source FROM outbox ORDER BY id",
        )?;
        let rows = statement.query_map([], |r| {
            let change = match (r.get::<_, String>(5)?.as_str(), r.get::<_, i64>(6)?) {
                ("created", _) => Change::Created,
                ("deleted", _) => Change::Deleted,
                (_, bytes) => Change::Bytes(bytes),
            };
            Ok(BucketChange {
                id: r.get(0)?,
                key: r.get(1)?,
                time: r.get(2)?,
                bucket: r.get(3)?,
                owner: r.get(4)?,
                change,
                actor: Actor {
                    user: r.get(7)?,
                    source: r.get(8)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets the changes `ids` of the outbox, which the event log has.
    pub fn forwarded(&mut self, ids: &[i64]) -> Result<(), MetaError> {
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.execute("DELETE FROM outbox WHERE id = ?1", [id])?;
        }
        tx.commit()?;
        Ok(())
    }

    // ---- buckets

    pub fn bucket(&self, name: &str) -> Result<Option<Bucket>, MetaError> {
        Ok(bucket_in(&self.conn, name)?)
    }

    /// The buckets `owner` owns, by name.
    pub fn buckets_of(&self, owner: &str) -> Result<Vec<Bucket>, MetaError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {BUCKET_COLUMNS} FROM buckets WHERE owner = ?1 ORDER BY name"
        ))?;
        let buckets = statement
            .query_map([owner], bucket_from_row)?
            .collect::<Result<_, _>>()?;
        Ok(buckets)
    }

    /// Every bucket (those of `owner` when given), by name, with its owner, its objects'
    /// count and its bytes (as [`Self::holdings`] counts them).
    pub fn contents(&self, owner: Option<&str>) -> rusqlite::Result<Vec<BucketContents>> {
        let mut statement = self.conn.prepare(
            "SELECT b.name, b.owner, b.created, b.size,
                (SELECT COUNT(*) FROM objects o WHERE o.bucket = b.name)
             FROM buckets b WHERE ?1 IS NULL OR b.owner = ?1 ORDER BY b.name",
        )?;
        let rows = statement.query_map([owner], |r| {
            Ok(BucketContents {
                name: r.get(0)?,
                owner: r.get(1)?,
                created: r.get(2)?,
                bytes: to_u64(r.get(3)?),
                objects: to_u64(r.get(4)?),
            })
        })?;
        rows.collect()
    }

    /// How many buckets `owner` owns, and the bytes in them (objects and unfinished
    /// uploads' parts); of them, those `creator` made when given.
    pub fn holdings(&self, owner: &str, creator: Option<&str>) -> rusqlite::Result<(u64, u64)> {
        held(&self.conn, owner, creator)
    }

    /// Creates `bucket` unless its name is taken or its owner has `max_buckets` already,
    /// or as many as a `buckets` quota of `quotas` (its account's, its creator's) allows.
    pub fn create_bucket(
        &mut self,
        bucket: &Bucket,
        max_buckets: Option<u64>,
        quotas: &[users::Quota],
    ) -> Result<(), MetaError> {
        let tx = self.conn.transaction()?;
        if let Some(existing) = bucket_in(&tx, &bucket.name)? {
            return Err(if existing.owner == bucket.owner {
                MetaError::BucketAlreadyOwnedByYou
            } else {
                MetaError::BucketAlreadyExists
            });
        }
        if let Some(max) = max_buckets {
            let (owned, _) = held(&tx, &bucket.owner, None)?;
            if owned >= max {
                return Err(MetaError::TooManyBuckets);
            }
        }
        for quota in quotas {
            let (owned, _) = held(&tx, &bucket.owner, quota.user.as_deref())?;
            quota
                .admits(owned, 1)
                .map_err(|why| MetaError::OverQuota(users::Resource::Buckets, why))?;
        }
        tx.execute(
            "INSERT INTO buckets (name, owner, created, location, acl, size, creator) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
            params![bucket.name, bucket.owner, bucket.created, bucket.location, bucket.acl.to_text(), bucket.creator],
        )?;
        note(&tx, &self.actor, bucket, Change::Created)?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes an empty bucket, aborting its unfinished uploads; returns their blobs.
    pub fn delete_bucket(&mut self, name: &str) -> Result<Vec<String>, MetaError> {
        let tx = self.conn.transaction()?;
        let bucket = bucket_in(&tx, name)?.ok_or(MetaError::NoSuchBucket)?;
        let objects: i64 = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = ?1)",
            [name],
            |r| r.get(0),
        )?;
        if objects != 0 {
            return Err(MetaError::BucketNotEmpty);
        }
        let blobs = strings(
            &tx,
            "SELECT p.blob FROM parts p JOIN uploads u ON p.upload = u.id WHERE u.bucket = ?1",
            [name],
        )?;
        tx.execute("DELETE FROM buckets WHERE name = ?1", [name])?;
        note(&tx, &self.actor, &bucket, Change::Deleted)?;
        tx.commit()?;
        Ok(blobs)
    }

    pub fn set_bucket_acl(&mut self, name: &str, acl: &Acl) -> Result<(), MetaError> {
        let changed = self.conn.execute(
            "UPDATE buckets SET acl = ?2 WHERE name = ?1",
            params![name, acl.to_text()],
        )?;
        if changed == 0 {
            return Err(MetaError::NoSuchBucket);
        }
        Ok(())
    }

    pub fn set_bucket_logging(
        &mut self,
        name: &str,
        logging: Option<&Logging>,
    ) -> Result<(), MetaError> {
        let changed = self.conn.execute(
            "UPDATE buckets SET log_bucket = ?2, log_prefix = ?3 WHERE name = ?1",
            params![
                name,
                logging.map(|l| &l.target_bucket),
                logging.map(|l| &l.target_prefix)
            ],
        )?;
        if changed == 0 {
            return Err(MetaError::NoSuchBucket);
        }
        Ok(())
    }

    // ---- objects

    pub fn object(&self, bucket: &str, key: &str) -> Result<Option<Object>, MetaError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT id, {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"),
                [bucket, key],
                |r| Ok((r.get::<_, i64>(0)?, object_from_row(r, 1)?)),
            )
            .optional()?;
        let Some((id, mut object)) = row else {
            return Ok(None);
        };
        let mut statement = self
            .conn
            .prepare_cached("SELECT blob, size FROM segments WHERE object = ?1 ORDER BY seq")?;
        object.segments = statement
            .query_map([id], |r| {
                Ok(Segment {
                    blob: r.get(0)?,
                    size: to_u64(r.get(1)?),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(object))
    }

    /// Stores `object`, replacing any object at its key, within `quota`; returns the blobs
    /// of the replaced object.
    pub fn put_object(&mut self, object: &Object, quota: &Quota) -> Result<Vec<String>, MetaError> {
        let tx = self.conn.transaction()?;
        let bucket = bucket_in(&tx, &object.bucket)?.ok_or(MetaError::NoSuchBucket)?;
        let (old_size, old_blobs) = remove_object(&tx, &object.bucket, &object.key)?;
        let new_size = bucket.size.saturating_sub(old_size) + object.size;
        check_quota(&tx, quota, &bucket, new_size)?;
        insert_object(&tx, object)?;
        resize(&tx, &self.actor, &bucket, new_size)?;
        tx.commit()?;
        Ok(old_blobs)
    }

    /// Removes an object; returns its blobs (none if there was no object).
    pub fn delete_object(&mut self, bucket: &str, key: &str) -> Result<Vec<String>, MetaError> {
        let tx = self.conn.transaction()?;
        let record = bucket_in(&tx, bucket)?.ok_or(MetaError::NoSuchBucket)?;
        let (size, blobs) = remove_object(&tx, bucket, key)?;
        resize(&tx, &self.actor, &record, record.size.saturating_sub(size))?;
        tx.commit()?;
        Ok(blobs)
    }

    // ---- snapshots (the storage controller's, stored as objects named by their id)

    /// The bucket holding snapshot `id`, and its size in bytes.
    pub fn snapshot(&self, id: &str) -> Result<Option<(String, u64)>, MetaError> {
        Ok(self
            .conn
            .query_row(
                "SELECT bucket, size FROM snapshots WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, to_u64(r.get(1)?))),
            )
            .optional()?)
    }

    /// Bytes of every snapshot stored.
    pub fn snapshots_size(&self) -> Result<u64, MetaError> {
        let total: i64 =
            self.conn
                .query_row("SELECT COALESCE(SUM(size), 0) FROM snapshots", [], |r| {
                    r.get(0)
                })?;
        Ok(to_u64(total))
    }

    /// Records snapshot `id` as the object `bucket/id`; false when `id` was taken already.
    pub fn add_snapshot(&mut self, id: &str, bucket: &str, size: u64) -> Result<bool, MetaError> {
        let added = self.conn.execute(
            "INSERT OR IGNORE INTO snapshots (id, bucket, size) VALUES (?1, ?2, ?3)",
            params![id, bucket, to_i64(size)],
        )?;
        Ok(added == 1)
    }

    /// Forgets snapshot `id`; returns the bucket that held it.
    pub fn remove_snapshot(&mut self, id: &str) -> Result<Option<String>, MetaError> {
        Ok(self
            .conn
            .query_row(
                "DELETE FROM snapshots WHERE id = ?1 RETURNING bucket",
                [id],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_object_acl(&mut self, bucket: &str, key: &str, acl: &Acl) -> Result<(), MetaError> {
        let changed = self.conn.execute(
            "UPDATE objects SET acl = ?3 WHERE bucket = ?1 AND key = ?2",
            params![bucket, key, acl.to_text()],
        )?;
        if changed == 0 {
            return Err(MetaError::NoSuchKey);
        }
        Ok(())
    }

    /// Up to `max` entries (objects and common prefixes) of `bucket` whose keys start with
    /// `prefix` and sort after `after`, keys sharing a prefix up to `delimiter` rolled up.
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max: usize,
    ) -> Result<Listing, MetaError> {
        let mut listing = Listing::default();
        // (bound, inclusive): where the next query starts.
        let (mut bound, mut inclusive) = match after {
            Some(a) if a.as_bytes() >= prefix.as_bytes() => (a.as_bytes().to_vec(), false),
            _ => (prefix.as_bytes().to_vec(), true),
        };
        let mut from_inclusive = self.conn.prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM objects WHERE bucket = ?1 AND key >= ?2 ORDER BY key LIMIT ?3"
        ))?;
        let mut from_exclusive = self.conn.prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM objects WHERE bucket = ?1 AND key > ?2 ORDER BY key LIMIT ?3"
        ))?;
        'pages: loop {
            let entries = listing.objects.len() + listing.prefixes.len();
            if entries == max {
                listing.truncated = self.any_from(bucket, prefix, &bound, inclusive)?;
                break;
            }
            let batch = i64::try_from((max - entries + 1).min(1000)).unwrap_or(1000);
            let statement = if inclusive {
                &mut from_inclusive
            } else {
                &mut from_exclusive
            };
            let rows: Vec<Summary> = statement
                .query_map(params![bucket, KeyBound(&bound), batch], summary_from_row)?
                .collect::<Result<_, _>>()?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                if !row.key.starts_with(prefix) {
                    break 'pages;
                }
                let rolled = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                    row.key[prefix.len()..]
                        .find(d)
                        .map(|i| row.key[..prefix.len() + i + d.len()].to_owned())
                });
                match rolled {
                    Some(common) => {
                        bound = after_all_with_prefix(common.as_bytes());
                        inclusive = true;
                        // A prefix at or before the marker was on an earlier page.
                        if after.is_none_or(|a| common.as_str() > a) {
                            listing.last = Some(common.clone());
                            listing.prefixes.push(common);
                        }
                        continue 'pages;
                    }
                    None => {
                        bound = row.key.as_bytes().to_vec();
                        inclusive = false;
                        listing.last = Some(row.key.clone());
                        listing.objects.push(row);
                        if listing.objects.len() + listing.prefixes.len() == max {
                            continue 'pages;
                        }
                    }
                }
            }
        }
        Ok(listing)
    }

    /// Whether any key with `prefix` sorts after `bound` (or at it, when `inclusive`).
    fn any_from(
        &self,
        bucket: &str,
        prefix: &str,
        bound: &[u8],
        inclusive: bool,
    ) -> Result<bool, MetaError> {
        let op = if inclusive { ">=" } else { ">" };
        let key: Option<String> = self
            .conn
            .query_row(
                &format!("SELECT key FROM objects WHERE bucket = ?1 AND key {op} ?2 ORDER BY key LIMIT 1"),
                params![bucket, KeyBound(bound)],
                |r| r.get(0),
            )
            .optional()?;
        Ok(key.is_some_and(|k| k.starts_with(prefix)))
    }

    // ---- multipart uploads

    pub fn create_upload(&mut self, upload: &Upload) -> Result<(), MetaError> {
        let tx = self.conn.transaction()?;
        bucket_in(&tx, &upload.bucket)?.ok_or(MetaError::NoSuchBucket)?;
        tx.execute(
            "INSERT INTO uploads (id, bucket, key, initiated, owner, headers, acl) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                upload.id,
                upload.bucket,
                upload.key,
                upload.initiated,
                upload.owner,
                upload.headers.to_text(),
                upload.acl.to_text()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The upload `id` if it made the object still at its key.
    pub fn completed_upload(&self, id: &str) -> Result<Option<Completed>, MetaError> {
        Ok(self
            .conn
            .query_row(
                "SELECT o.bucket, o.key, c.parts, o.etag, o.headers FROM completed_uploads c \
                 JOIN objects o ON o.id = c.object WHERE c.id = ?1",
                [id],
                |r| {
                    Ok(Completed {
                        bucket: r.get(0)?,
                        key: r.get(1)?,
                        parts: r.get(2)?,
                        etag: r.get(3)?,
                        headers: StoredHeaders::from_text(&r.get::<_, String>(4)?),
                    })
                },
            )
            .optional()?)
    }

    pub fn upload(&self, id: &str) -> Result<Option<Upload>, MetaError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = ?1"),
                [id],
                upload_from_row,
            )
            .optional()?)
    }

    /// Stores a part, replacing one with the same number; returns the replaced part's blob.
    pub fn put_part(
        &mut self,
        upload: &str,
        part: &Part,
        quota: &Quota,
    ) -> Result<Option<String>, MetaError> {
        let tx = self.conn.transaction()?;
        let bucket_name: String = tx
            .query_row("SELECT bucket FROM uploads WHERE id = ?1", [upload], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or(MetaError::NoSuchUpload)?;
        let bucket = bucket_in(&tx, &bucket_name)?.ok_or(MetaError::NoSuchBucket)?;
        let old: Option<(String, i64)> = tx
            .query_row(
                "SELECT blob, size FROM parts WHERE upload = ?1 AND number = ?2",
                params![upload, part.number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let old_size = old.as_ref().map_or(0, |(_, size)| to_u64(*size));
        let new_size = bucket.size.saturating_sub(old_size) + part.size;
        check_quota(&tx, quota, &bucket, new_size)?;
        tx.execute(
            "INSERT OR REPLACE INTO parts (upload, number, blob, size, etag, modified, crc32) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![upload, part.number, part.blob, to_i64(part.size), part.etag, part.modified, part.crc32],
        )?;
        resize(&tx, &self.actor, &bucket, new_size)?;
        tx.commit()?;
        Ok(old.map(|(blob, _)| blob))
    }

    /// Parts numbered above `after`, at most `max`; and whether more follow.
    pub fn parts(
        &self,
        upload: &str,
        after: u32,
        max: usize,
    ) -> Result<(Vec<Part>, bool), MetaError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT number, blob, size, etag, modified, crc32 FROM parts WHERE upload = ?1 AND number > ?2 ORDER BY number LIMIT ?3",
        )?;
        let limit = i64::try_from(max.saturating_add(1)).unwrap_or(i64::MAX);
        let mut parts: Vec<Part> = statement
            .query_map(params![upload, after, limit], |r| {
                Ok(Part {
                    number: r.get(0)?,
                    blob: r.get(1)?,
                    size: to_u64(r.get(2)?),
                    etag: r.get(3)?,
                    modified: r.get(4)?,
                    crc32: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let truncated = parts.len() > max;
        parts.truncate(max);
        Ok((parts, truncated))
    }

    /// Turns an upload into `object`, whose segments must be parts of the upload as they
    /// are now; returns the blobs no longer needed (parts left out, the replaced object).
    /// Makes `object` of upload `upload`'s parts; `listed` describes the completion, for
    /// [`Meta::completed_upload`].
    pub fn complete_upload(
        &mut self,
        upload: &str,
        object: &Object,
        listed: &str,
    ) -> Result<Vec<String>, MetaError> {
        let tx = self.conn.transaction()?;
        tx.query_row("SELECT 1 FROM uploads WHERE id = ?1", [upload], |_| Ok(()))
            .optional()?
            .ok_or(MetaError::NoSuchUpload)?;
        let bucket = bucket_in(&tx, &object.bucket)?.ok_or(MetaError::NoSuchBucket)?;
        let parts: Vec<(String, u64)> = {
            let mut statement = tx.prepare("SELECT blob, size FROM parts WHERE upload = ?1")?;
            let rows = statement.query_map([upload], |r| {
                Ok((r.get::<_, String>(0)?, to_u64(r.get(1)?)))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let chosen: HashSet<&str> = object.segments.iter().map(|s| s.blob.as_str()).collect();
        if chosen.len() != object.segments.len()
            || !chosen.iter().all(|b| parts.iter().any(|(p, _)| p == b))
        {
            // A part was replaced since the caller read it.
            return Err(MetaError::InvalidPart);
        }
        let mut unused = Vec::new();
        let mut unused_size = 0;
        for (blob, size) in parts {
            if !chosen.contains(blob.as_str()) {
                unused_size += size;
                unused.push(blob);
            }
        }
        let (old_size, old_blobs) = remove_object(&tx, &object.bucket, &object.key)?;
        unused.extend(old_blobs);
        insert_object(&tx, object)?;
        tx.execute("DELETE FROM uploads WHERE id = ?1", [upload])?;
        // Goes with the object (foreign key), when it is replaced or deleted.
        tx.execute(
            "INSERT INTO completed_uploads (id, object, parts) \
             SELECT ?1, id, ?2 FROM objects WHERE bucket = ?3 AND key = ?4",
            params![upload, listed, object.bucket, object.key],
        )?;
        let size = bucket.size.saturating_sub(old_size + unused_size);
        resize(&tx, &self.actor, &bucket, size)?;
        tx.commit()?;
        Ok(unused)
    }

    /// Forgets an upload; returns its parts' blobs.
    pub fn abort_upload(&mut self, upload: &str) -> Result<Vec<String>, MetaError> {
        let tx = self.conn.transaction()?;
        let bucket_name: String = tx
            .query_row("SELECT bucket FROM uploads WHERE id = ?1", [upload], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or(MetaError::NoSuchUpload)?;
        let blobs = strings(&tx, "SELECT blob FROM parts WHERE upload = ?1", [upload])?;
        let size: i64 = tx.query_row(
            "SELECT COALESCE(SUM(size), 0) FROM parts WHERE upload = ?1",
            [upload],
            |r| r.get(0),
        )?;
        tx.execute("DELETE FROM uploads WHERE id = ?1", [upload])?;
        if let Some(bucket) = bucket_in(&tx, &bucket_name)? {
            resize(
                &tx,
                &self.actor,
                &bucket,
                bucket.size.saturating_sub(to_u64(size)),
            )?;
        }
        tx.commit()?;
        Ok(blobs)
    }

    /// Unfinished uploads of `bucket` with keys starting with `prefix`, after
    /// (`key_marker`, `upload_marker`), at most `max`; and whether more follow.
    pub fn uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        upload_marker: &str,
        max: usize,
    ) -> Result<(Vec<Upload>, bool), MetaError> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE bucket = ?1 AND key >= ?2
               AND (key > ?3 OR (key = ?3 AND id > ?4))
             ORDER BY key, id LIMIT ?5"
        ))?;
        let limit = i64::try_from(max.saturating_add(1)).unwrap_or(i64::MAX);
        let mut uploads = Vec::new();
        for row in statement.query_map(
            params![bucket, prefix, key_marker, upload_marker, limit],
            upload_from_row,
        )? {
            let upload = row?;
            if !upload.key.starts_with(prefix) {
                break;
            }
            uploads.push(upload);
        }
        let truncated = uploads.len() > max;
        uploads.truncate(max);
        Ok((uploads, truncated))
    }

    // ---- recovery

    /// Every blob some object or part names, by id.
    pub fn referenced_blobs(&self) -> Result<HashSet<String>, MetaError> {
        let mut out = HashSet::new();
        for sql in ["SELECT blob FROM segments", "SELECT blob FROM parts"] {
            out.extend(strings(&self.conn, sql, [])?);
        }
        Ok(out)
    }

    /// Removes the objects and parts whose blobs are in `missing` (lost from the backend);
    /// returns the (bucket, key) of the objects removed.
    pub fn forget_missing(
        &mut self,
        missing: &HashSet<String>,
    ) -> Result<Vec<(String, String)>, MetaError> {
        let tx = self.conn.transaction()?;
        let mut lost = Vec::new();
        {
            let mut statement = tx.prepare(
                "SELECT DISTINCT o.bucket, o.key FROM objects o JOIN segments s ON s.object = o.id WHERE s.blob = ?1",
            )?;
            for blob in missing {
                for row in statement.query_map([blob], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })? {
                    lost.push(row?);
                }
            }
        }
        lost.sort();
        lost.dedup();
        for (bucket, key) in &lost {
            remove_object(&tx, bucket, key)?;
        }
        for blob in missing {
            tx.execute("DELETE FROM parts WHERE blob = ?1", [blob])?;
        }
        // Sizes are recomputed from what is left, each change noted for usage.
        let buckets: Vec<Bucket> = {
            let mut statement = tx.prepare(&format!("SELECT {BUCKET_COLUMNS} FROM buckets"))?;
            let rows = statement.query_map([], bucket_from_row)?;
            rows.collect::<Result<_, _>>()?
        };
        for bucket in &buckets {
            let size: i64 = tx.query_row(
                "SELECT COALESCE((SELECT SUM(size) FROM objects WHERE bucket = ?1), 0)
                      + COALESCE((SELECT SUM(p.size) FROM parts p JOIN uploads u ON p.upload = u.id
                                  WHERE u.bucket = ?1), 0)",
                [&bucket.name],
                |r| r.get(0),
            )?;
            resize(&tx, &self.actor, bucket, to_u64(size))?;
        }
        tx.commit()?;
        Ok(lost)
    }
}

const BUCKET_COLUMNS: &str =
    "name, owner, created, location, acl, log_bucket, log_prefix, size, creator";
const OBJECT_COLUMNS: &str = "bucket, key, size, etag, modified, owner, headers, acl";
const SUMMARY_COLUMNS: &str = "key, size, etag, modified, owner";
const UPLOAD_COLUMNS: &str = "id, bucket, key, initiated, owner, headers, acl";

fn bucket_in(conn: &Connection, name: &str) -> rusqlite::Result<Option<Bucket>> {
    conn.query_row(
        &format!("SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = ?1"),
        [name],
        bucket_from_row,
    )
    .optional()
}

fn bucket_from_row(r: &Row<'_>) -> rusqlite::Result<Bucket> {
    let log_bucket: Option<String> = r.get(5)?;
    let log_prefix: Option<String> = r.get(6)?;
    Ok(Bucket {
        name: r.get(0)?,
        owner: r.get(1)?,
        created: r.get(2)?,
        location: r.get(3)?,
        acl: Acl::from_text(&r.get::<_, String>(4)?),
        logging: log_bucket.map(|target_bucket| Logging {
            target_bucket,
            target_prefix: log_prefix.unwrap_or_default(),
        }),
        size: to_u64(r.get(7)?),
        creator: r.get(8)?,
    })
}

fn object_from_row(r: &Row<'_>, first: usize) -> rusqlite::Result<Object> {
    Ok(Object {
        bucket: r.get(first)?,
        key: r.get(first + 1)?,
        size: to_u64(r.get(first + 2)?),
        etag: r.get(first + 3)?,
        modified: r.get(first + 4)?,
        owner: r.get(first + 5)?,
        headers: StoredHeaders::from_text(&r.get::<_, String>(first + 6)?),
        acl: Acl::from_text(&r.get::<_, String>(first + 7)?),
        segments: Vec::new(),
    })
}

fn summary_from_row(r: &Row<'_>) -> rusqlite::Result<Summary> {
    Ok(Summary {
        key: r.get(0)?,
        size: to_u64(r.get(1)?),
        etag: r.get(2)?,
        modified: r.get(3)?,
        owner: r.get(4)?,
    })
}

fn upload_from_row(r: &Row<'_>) -> rusqlite::Result<Upload> {
    Ok(Upload {
        id: r.get(0)?,
        bucket: r.get(1)?,
        key: r.get(2)?,
        initiated: r.get(3)?,
        owner: r.get(4)?,
        headers: StoredHeaders::from_text(&r.get::<_, String>(5)?),
        acl: Acl::from_text(&r.get::<_, String>(6)?),
    })
}

fn strings(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map(params, |r| r.get(0))?;
    rows.collect()
}

/// Deletes the object at (`bucket`, `key`) if any; returns its size and blobs.
fn remove_object(
    tx: &Transaction<'_>,
    bucket: &str,
    key: &str,
) -> rusqlite::Result<(u64, Vec<String>)> {
    let old: Option<(i64, i64)> = tx
        .query_row(
            "SELECT id, size FROM objects WHERE bucket = ?1 AND key = ?2",
            [bucket, key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, size)) = old else {
        return Ok((0, Vec::new()));
    };
    let blobs = strings(tx, "SELECT blob FROM segments WHERE object = ?1", [id])?;
    tx.execute("DELETE FROM objects WHERE id = ?1", [id])?;
    Ok((to_u64(size), blobs))
}

fn insert_object(tx: &Transaction<'_>, object: &Object) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO objects (bucket, key, size, etag, modified, owner, headers, acl) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            object.bucket,
            object.key,
            to_i64(object.size),
            object.etag,
            object.modified,
            object.owner,
            object.headers.to_text(),
            object.acl.to_text()
        ],
    )?;
    let id = tx.last_insert_rowid();
    let mut statement = tx
        .prepare_cached("INSERT INTO segments (object, seq, blob, size) VALUES (?1, ?2, ?3, ?4)")?;
    for (seq, segment) in (0_i64..).zip(&object.segments) {
        statement.execute(params![id, seq, segment.blob, to_i64(segment.size)])?;
    }
    Ok(())
}

/// How many buckets `owner` owns and their running totals summed (the owner is indexed);
/// of them, those `creator` made when given.
fn held(conn: &Connection, owner: &str, creator: Option<&str>) -> rusqlite::Result<(u64, u64)> {
    conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM buckets
         WHERE owner = ?1 AND (?2 IS NULL OR creator = ?2)",
        params![owner, creator],
        |r| Ok((to_u64(r.get(0)?), to_u64(r.get(1)?))),
    )
}

/// Makes `bucket`'s size `size`, noting the change by `actor`.
fn resize(tx: &Transaction<'_>, actor: &Actor, bucket: &Bucket, size: u64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE buckets SET size = ?2 WHERE name = ?1",
        params![bucket.name, to_i64(size)],
    )?;
    let delta = to_i64(size).saturating_sub(to_i64(bucket.size));
    if delta != 0 {
        note(tx, actor, bucket, Change::Bytes(delta))?;
    }
    Ok(())
}

/// Writes `change` of `bucket` by `actor` to the outbox, now.
fn note(
    tx: &Transaction<'_>,
    actor: &Actor,
    bucket: &Bucket,
    change: Change,
) -> rusqlite::Result<()> {
    let (name, bytes) = match change {
        Change::Created => ("created", 0),
        Change::Deleted => ("deleted", 0),
        Change::Bytes(n) => ("bytes", n),
    };
    let mut key = [0u8; 16];
    // A failing generator makes a key that may repeat, and a repeated key's change is
    // dropped by the event log: fail instead.
    SystemRandom::new().fill(&mut key).map_err(|_| {
        rusqlite::Error::ToSqlConversionFailure("the random number generator failed".into())
    })?;
    tx.execute(
        "INSERT INTO outbox (key, time, bucket, owner, change, bytes, user_name, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            crate::digest::hex(&key),
            users::events::clock_millis(),
            bucket.name,
            bucket.owner,
            name,
            bytes,
            actor.user,
            actor.source
        ],
    )?;
    Ok(())
}

/// Refuses a bucket growing to `new_size` beyond the quota. Shrinking is always allowed.
fn check_quota(
    tx: &Transaction<'_>,
    quota: &Quota,
    bucket: &Bucket,
    new_size: u64,
) -> Result<(), MetaError> {
    if new_size <= bucket.size {
        return Ok(());
    }
    if quota.max_bucket_bytes.is_some_and(|max| new_size > max) {
        return Err(MetaError::EntityTooLarge);
    }
    if let Some(max) = quota.max_total_bytes {
        let total: i64 = tx.query_row("SELECT COALESCE(SUM(size), 0) FROM buckets", [], |r| {
            r.get(0)
        })?;
        if (to_u64(total) - bucket.size).saturating_add(new_size) > max {
            return Err(MetaError::QuotaExceeded(format!(
                "the store holds at most {max} bytes"
            )));
        }
    }
    for limit in &quota.held_bytes {
        let (_, bytes) = held(tx, &bucket.owner, limit.user.as_deref())?;
        limit
            .admits(bytes, new_size - bucket.size)
            .map_err(|why| MetaError::OverQuota(users::Resource::BucketGb, why))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn meta() -> (tempfile::TempDir, Meta) {
        let dir = tempfile::tempdir().unwrap();
        let meta = Meta::open(&dir.path().join("walrus.sqlite")).unwrap();
        (dir, meta)
    }

    fn bucket(name: &str, owner: &str) -> Bucket {
        Bucket {
            name: name.into(),
            owner: owner.into(),
            created: 1,
            location: None,
            acl: Acl::private(owner),
            logging: None,
            size: 0,
            creator: None,
        }
    }

    fn object(bucket: &str, key: &str, size: u64, blob: &str) -> Object {
        Object {
            bucket: bucket.into(),
            key: key.into(),
            size,
            etag: "e".into(),
            modified: 2,
            owner: "o".into(),
            headers: StoredHeaders(vec![("content-type".into(), "text/plain".into())]),
            acl: Acl::private("o"),
            segments: vec![Segment {
                blob: blob.into(),
                size,
            }],
        }
    }

    const FREE: Quota = Quota {
        max_bucket_bytes: None,
        max_total_bytes: None,
        held_bytes: Vec::new(),
    };

    #[test]
    fn every_change_of_a_buckets_size_waits_in_the_outbox_until_forwarded() {
        let (_dir, mut meta) = meta();
        let ann = Actor {
            user: "ann".into(),
            source: "10.0.0.7".into(),
        };
        meta.act_for(ann.clone());
        meta.create_bucket(&bucket("b", "o"), None, &[]).unwrap();
        meta.put_object(&object("b", "k", 10, "1"), &FREE).unwrap();
        // An overwrite counts the difference; a failed write nothing.
        meta.put_object(&object("b", "k", 4, "2"), &FREE).unwrap();
        assert!(meta
            .put_object(&object("none", "k", 4, "3"), &FREE)
            .is_err());
        meta.delete_object("b", "k").unwrap();
        // Deleting what is not there changes nothing.
        meta.delete_object("b", "k").unwrap();
        meta.delete_bucket("b").unwrap();
        let outbox = meta.outbox().unwrap();
        let changes: Vec<Change> = outbox.iter().map(|c| c.change).collect();
        assert_eq!(
            changes,
            [
                Change::Created,
                Change::Bytes(10),
                Change::Bytes(-6),
                Change::Bytes(-4),
                Change::Deleted
            ]
        );
        assert!(outbox
            .iter()
            .all(|c| c.actor == ann && c.bucket == "b" && c.owner == "o"));
        let keys: HashSet<&str> = outbox.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys.len(), outbox.len(), "keys are unique");
        let ids: Vec<i64> = outbox.iter().map(|c| c.id).take(2).collect();
        meta.forwarded(&ids).unwrap();
        assert_eq!(meta.outbox().unwrap().len(), 3);
    }

    #[test]
    fn contents_count_each_buckets_objects_and_bytes() {
        let (_dir, mut meta) = meta();
        meta.create_bucket(&bucket("b", "o"), None, &[]).unwrap();
        meta.create_bucket(&bucket("a", "p"), None, &[]).unwrap();
        meta.put_object(&object("b", "k1", 10, "1"), &FREE).unwrap();
        meta.put_object(&object("b", "k2", 5, "2"), &FREE).unwrap();
        let seen = |owner| -> Vec<(String, String, u64, u64)> {
            meta.contents(owner)
                .unwrap()
                .into_iter()
                .map(|c| (c.name, c.owner, c.objects, c.bytes))
                .collect()
        };
        assert_eq!(
            seen(None),
            [
                ("a".into(), "p".into(), 0, 0),
                ("b".into(), "o".into(), 2, 15)
            ]
        );
        assert_eq!(seen(Some("p")), [("a".into(), "p".into(), 0, 0)]);
    }

    #[test]
    fn snapshots_are_recorded_once_and_go_with_their_bucket() {
        let (_dir, mut meta) = meta();
        meta.create_bucket(&bucket("snapset-1", "admin"), None, &[])
            .unwrap();
        assert!(meta.add_snapshot("snap-1", "snapset-1", 10).unwrap());
        assert!(!meta.add_snapshot("snap-1", "snapset-1", 99).unwrap());
        assert!(meta.add_snapshot("snap-2", "snapset-1", 5).unwrap());
        assert_eq!(
            meta.snapshot("snap-1").unwrap(),
            Some(("snapset-1".into(), 10))
        );
        assert_eq!(meta.snapshots_size().unwrap(), 15);
        assert_eq!(
            meta.remove_snapshot("snap-1").unwrap().as_deref(),
            Some("snapset-1")
        );
        assert_eq!(meta.remove_snapshot("snap-1").unwrap(), None);
        meta.delete_bucket("snapset-1").unwrap();
        assert_eq!(meta.snapshot("snap-2").unwrap(), None);
        assert_eq!(meta.snapshots_size().unwrap(), 0);
    }

    #[test]
    fn buckets_are_unique_and_limited() {
        let (_dir, mut meta) = meta();
        meta.create_bucket(&bucket("a", "o"), Some(2), &[]).unwrap();
        assert!(matches!(
            meta.create_bucket(&bucket("a", "o"), None, &[]),
            Err(MetaError::BucketAlreadyOwnedByYou)
        ));
        assert!(matches!(
            meta.create_bucket(&bucket("a", "p"), None, &[]),
            Err(MetaError::BucketAlreadyExists)
        ));
        meta.create_bucket(&bucket("b", "o"), Some(2), &[]).unwrap();
        assert!(matches!(
            meta.create_bucket(&bucket("c", "o"), Some(2), &[]),
            Err(MetaError::TooManyBuckets)
        ));
        assert_eq!(meta.buckets_of("o").unwrap().len(), 2);
    }

    #[test]
    fn objects_replace_and_sizes_follow() {
        let (_dir, mut meta) = meta();
        meta.create_bucket(&bucket("b", "o"), None, &[]).unwrap();
        assert!(meta
            .put_object(&object("b", "k", 10, "blob1"), &FREE)
            .unwrap()
            .is_empty());
        assert_eq!(
            meta.put_object(&object("b", "k", 4, "blob2"), &FREE)
                .unwrap(),
            vec!["blob1"]
        );
        assert_eq!(
            meta.object("b", "k").unwrap().unwrap(),
            object("b", "k", 4, "blob2")
        );
        assert_eq!(meta.bucket("b").unwrap().unwrap().size, 4);
        assert!(matches!(
            meta.delete_bucket("b"),
            Err(MetaError::BucketNotEmpty)
        ));
        assert_eq!(meta.delete_object("b", "k").unwrap(), vec!["blob2"]);
        assert_eq!(meta.bucket("b").unwrap().unwrap().size, 0);
        meta.delete_bucket("b").unwrap();
        assert!(matches!(
            meta.put_object(&object("b", "k", 1, "x"), &FREE),
            Err(MetaError::NoSuchBucket)
        ));
    }

    #[test]
    fn quotas_limit_growth_only() {
        let (_dir, mut meta) = meta();
        meta.create_bucket(&bucket("a", "o"), None, &[]).unwrap();
        meta.create_bucket(&bucket("b", "o"), None, &[]).unwrap();
        let per_bucket = Quota {
            max_bucket_bytes: Some(100),
            ..Quota::default()
        };
        meta.put_object(&object("a", "k", 100, "1"), &per_bucket)
            .unwrap();
        assert!(matches!(
            meta.put_object(&object("a", "k2", 1, "2"), &per_bucket),
            Err(MetaError::EntityTooLarge)
        ));
        // Replacing with something smaller is fine.
        meta.put_object(&object("a", "k", 50, "3"), &per_bucket)
            .unwrap();
        let total = Quota {
            max_total_bytes: Some(120),
            ..Quota::default()
        };
        meta.put_object(&object("b", "k", 70, "4"), &total).unwrap();
        assert!(matches!(
            meta.put_object(&object("b", "k2", 1, "5"), &total),
            Err(MetaError::QuotaExceeded(_))
        ));
    }

    #[test]
    fn account_and_user_quotas_limit_the_owners_buckets_and_their_bytes() {
        let (_dir, mut meta) = meta();
        let limit = |user: Option<&str>, resource, limit| users::Quota {
            account: "acct".into(),
            user: user.map(str::to_owned),
            resource,
            limit,
        };
        let made_by = |name: &str, owner: &str, creator: &str| Bucket {
            creator: Some(creator.into()),
            ..bucket(name, owner)
        };
        let buckets = [
            limit(None, users::Resource::Buckets, 3),
            limit(Some("u"), users::Resource::Buckets, 1),
        ];
        meta.create_bucket(&made_by("a", "o", "u"), None, &buckets)
            .unwrap();
        match meta.create_bucket(&made_by("u2", "o", "u"), None, &buckets) {
            Err(MetaError::OverQuota(users::Resource::Buckets, why)) => assert_eq!(
                why,
                "quota of 1 buckets for user u of account acct: 1 in use, 1 requested"
            ),
            other => panic!("{other:?}"),
        }
        // Another user of the account, and another owner, are not u.
        meta.create_bucket(&made_by("b", "o", "v"), None, &buckets[..1])
            .unwrap();
        meta.create_bucket(&made_by("c", "p", "u"), None, &buckets)
            .unwrap();
        meta.create_bucket(&made_by("d", "o", "v"), None, &buckets[..1])
            .unwrap();
        match meta.create_bucket(&made_by("e", "o", "v"), None, &buckets[..1]) {
            Err(MetaError::OverQuota(users::Resource::Buckets, why)) => assert_eq!(
                why,
                "quota of 3 buckets for account acct: 3 in use, 1 requested"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            meta.bucket("d").unwrap().unwrap().creator.as_deref(),
            Some("v")
        );

        let quota = |limits: Vec<users::Quota>| Quota {
            held_bytes: limits,
            ..Quota::default()
        };
        let account = quota(vec![limit(None, users::Resource::BucketGb, 100)]);
        let of_u = quota(vec![
            limit(None, users::Resource::BucketGb, 100),
            limit(Some("u"), users::Resource::BucketGb, 50),
        ]);
        meta.put_object(&object("a", "k", 50, "1"), &of_u).unwrap();
        assert!(matches!(
            meta.put_object(&object("a", "k2", 1, "2"), &of_u),
            Err(MetaError::OverQuota(users::Resource::BucketGb, _))
        ));
        meta.put_object(&object("c", "k", 500, "3"), &FREE).unwrap();
        meta.put_object(&object("b", "k", 50, "4"), &account)
            .unwrap();
        assert!(matches!(
            meta.put_object(&object("d", "k", 1, "5"), &account),
            Err(MetaError::OverQuota(users::Resource::BucketGb, _))
        ));
        // The refused objects left nothing behind; replacing with less still fits.
        assert!(meta.object("a", "k2").unwrap().is_none());
        assert_eq!(meta.bucket("a").unwrap().unwrap().size, 50);
        meta.put_object(&object("b", "k", 30, "6"), &account)
            .unwrap();
        meta.put_object(&object("d", "k", 20, "7"), &account)
            .unwrap();
        assert_eq!(meta.holdings("o", None).unwrap(), (3, 100));
        assert_eq!(meta.holdings("o", Some("v")).unwrap(), (2, 50));
    }

    fn keys(listing: &Listing) -> (Vec<&str>, Vec<&str>) {
        (
            listing.objects.iter().map(|o| o.key.as_str()).collect(),
            listing.prefixes.iter().map(String::as_str).collect(),
        )
    }

    #[test]
    fn listings_roll_up_prefixes_and_page() {
        let (_dir, mut meta) = meta();
        meta.create_bucket(&bucket("b", "o"), None, &[]).unwrap();
        for (i, key) in ["a", "d/1", "d/2", "d/sub/3", "e", "é", "f/1"]
            .iter()
            .enumerate()
        {
            meta.put_object(&object("b", key, 1, &i.to_string()), &FREE)
                .unwrap();
        }
        let all = meta.list("b", "", Some("/"), None, 1000).unwrap();
        assert_eq!(keys(&all), (vec!["a", "e", "é"], vec!["d/", "f/"]));
        assert!(!all.truncated);

        let page = meta.list("b", "", Some("/"), None, 2).unwrap();
        assert_eq!(keys(&page), (vec!["a"], vec!["d/"]));
        assert!(page.truncated);
        assert_eq!(page.last.as_deref(), Some("d/"));
        // Byte order: "f/1" sorts before "é".
        let next = meta.list("b", "", Some("/"), Some("d/"), 2).unwrap();
        assert_eq!(keys(&next), (vec!["e"], vec!["f/"]));
        assert!(next.truncated);

        let inside = meta.list("b", "d/", Some("/"), None, 10).unwrap();
        assert_eq!(keys(&inside), (vec!["d/1", "d/2"], vec!["d/sub/"]));
        let flat = meta.list("b", "d/", None, Some("d/1"), 10).unwrap();
        assert_eq!(keys(&flat), (vec!["d/2", "d/sub/3"], vec![]));
        let none = meta.list("b", "zzz", None, None, 10).unwrap();
        assert_eq!(keys(&none), (vec![], vec![]));
        let zero = meta.list("b", "", None, None, 0).unwrap();
        assert!(zero.truncated && zero.objects.is_empty());
    }

    fn upload(id: &str, bucket: &str, key: &str) -> Upload {
        Upload {
            id: id.into(),
            bucket: bucket.into(),
            key: key.into(),
            initiated: 3,
            owner: "o".into(),
            headers: StoredHeaders::default(),
            acl: Acl::private("o"),
        }
    }

    fn part(number: u32, blob: &str, size: u64) -> Part {
        Part {
            number,
            blob: blob.into(),
            size,
            etag: format!("etag{number}"),
            modified: 4,
            crc32: Some(number * 7),
        }
    }

    /// Guards the upgrade of a database whose parts table predates the CRC32 column.
    #[test]
    fn parts_of_an_older_database_gain_a_crc32() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE parts (upload TEXT NOT NULL, number INTEGER NOT NULL, \
                 blob TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, \
                 modified INTEGER NOT NULL, PRIMARY KEY (upload, number)) STRICT; \
                 INSERT INTO parts VALUES ('u', 1, 'old', 3, 'e', 4);",
            )
            .unwrap();
        let meta = Meta::open(&path).unwrap();
        let (parts, _) = meta.parts("u", 0, 10).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].crc32, None);
        drop(meta);
        // Opening again finds the column there.
        Meta::open(&path).unwrap();
    }

    #[test]
    fn uploads_complete_into_objects() {
        let (_dir, mut meta) = meta();
        meta.create_bucket(&bucket("b", "o"), None, &[]).unwrap();
        meta.put_object(&object("b", "k", 5, "old"), &FREE).unwrap();
        meta.create_upload(&upload("u1", "b", "k")).unwrap();
        assert!(matches!(
            meta.create_upload(&upload("u2", "nope", "k")),
            Err(MetaError::NoSuchBucket)
        ));
        assert_eq!(
            meta.put_part("u1", &part(1, "p1", 10), &FREE).unwrap(),
            None
        );
        assert_eq!(
            meta.put_part("u1", &part(1, "p1b", 10), &FREE).unwrap(),
            Some("p1".into())
        );
        meta.put_part("u1", &part(2, "p2", 3), &FREE).unwrap();
        meta.put_part("u1", &part(3, "p3", 7), &FREE).unwrap();
        assert_eq!(meta.bucket("b").unwrap().unwrap().size, 25);
        let (parts, truncated) = meta.parts("u1", 1, 1).unwrap();
        assert_eq!((parts[0].number, truncated), (2, true));

        let mut done = object("b", "k", 13, "");
        done.segments = vec![
            Segment {
                blob: "p1b".into(),
                size: 10,
            },
            Segment {
                blob: "p2".into(),
                size: 3,
            },
        ];
        let mut unused = meta.complete_upload("u1", &done, "1:e").unwrap();
        unused.sort();
        assert_eq!(unused, vec!["old", "p3"]);
        assert_eq!(
            meta.object("b", "k").unwrap().unwrap().segments,
            done.segments
        );
        assert_eq!(meta.bucket("b").unwrap().unwrap().size, 13);
        assert!(meta.upload("u1").unwrap().is_none());
        assert!(matches!(
            meta.complete_upload("u1", &done, "1:e"),
            Err(MetaError::NoSuchUpload)
        ));
        // The completion is remembered while its object stays.
        let completed = meta.completed_upload("u1").unwrap().unwrap();
        assert_eq!(
            (completed.key.as_str(), completed.parts.as_str()),
            ("k", "1:e")
        );
        meta.delete_object("b", "k").unwrap();
        assert!(meta.completed_upload("u1").unwrap().is_none());
    }

    #[test]
    fn completing_with_a_replaced_part_fails() {
        let (_dir, mut meta) = meta();
        meta.create_bucket(&bucket("b", "o"), None, &[]).unwrap();
        meta.create_upload(&upload("u", "b", "k")).unwrap();
        meta.put_part("u", &part(1, "p1", 1), &FREE).unwrap();
        let done = object("b", "k", 1, "gone");
        assert!(matches!(
            meta.complete_upload("u", &done, "1:e"),
            Err(MetaError::InvalidPart)
        ));
    }

    #[test]
    fn aborts_and_bucket_deletion_release_parts() {
        let (_dir, mut meta) = meta();
        meta.create_bucket(&bucket("b", "o"), None, &[]).unwrap();
        for id in ["u1", "u2"] {
            meta.create_upload(&upload(id, "b", id)).unwrap();
            meta.put_part(id, &part(1, &format!("{id}p"), 2), &FREE)
                .unwrap();
        }
        let (listed, truncated) = meta.uploads("b", "", "", "", 1).unwrap();
        assert_eq!((listed[0].id.as_str(), truncated), ("u1", true));
        let (listed, _) = meta.uploads("b", "", "u1", "u1", 10).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(meta.abort_upload("u1").unwrap(), vec!["u1p"]);
        assert_eq!(meta.bucket("b").unwrap().unwrap().size, 2);
        assert!(matches!(
            meta.abort_upload("u1"),
            Err(MetaError::NoSuchUpload)
        ));
        assert_eq!(meta.delete_bucket("b").unwrap(), vec!["u2p"]);
    }

    #[test]
    fn recovery_forgets_objects_whose_blobs_are_gone() {
        let (_dir, mut meta) = meta();
        meta.create_bucket(&bucket("b", "o"), None, &[]).unwrap();
        meta.put_object(&object("b", "kept", 1, "x1"), &FREE)
            .unwrap();
        meta.put_object(&object("b", "lost", 2, "x2"), &FREE)
            .unwrap();
        let referenced = meta.referenced_blobs().unwrap();
        assert_eq!(
            referenced,
            ["x1", "x2"].into_iter().map(String::from).collect()
        );
        let lost = meta
            .forget_missing(&["x2".to_owned()].into_iter().collect())
            .unwrap();
        assert_eq!(lost, vec![("b".to_owned(), "lost".to_owned())]);
        assert_eq!(meta.bucket("b").unwrap().unwrap().size, 1);
        // The bytes forgotten leave the bucket's usage too.
        let last = meta.outbox().unwrap().pop().unwrap();
        assert_eq!(last.change, Change::Bytes(-2));
    }
}

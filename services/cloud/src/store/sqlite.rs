//! The store in SQLite: `DATA/cloud.sqlite` for the cloud's state (WAL, versioned
//! migrations) and the `users` crate's `DATA/users.sqlite` for accounts, users and their
//! keys, the file Walrus opens to authenticate the cloud's users. Both are their owner's
//! only. (Migration 6 keys certificates by account and user: an old user X's is account
//! X's root user's.)

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use users::{Directory, UserStore};

use super::metrics::sqlite as monitoring;
use super::metrics::{Alarm, AlarmState, Metric, Point, StateChange};
use super::sla::{self as sla_sql, Breach, Floor, Reservation, Reserved, Sla};

use super::{
    attachment_columns, exists, not_found, own, sort_addresses, Address, Allocation, Association,
    BurstTarget, CloudFacts, Cluster, Image, ImageKind, InUse, Instance, KeyPair, LaunchPermission,
    Node, Observed, PoolAddress, RemoteInstance, Rule, SecurityGroup, Snapshot, SnapshotState,
    Source, Store, StoreError, StoreFuture, User, VmType, Volume, VolumeRow, VolumeState,
    BURST_TARGET_COLUMNS, DEFAULT_VM_TYPES, IN_USE, SNAPSHOT_COLUMNS, VOLUME_COLUMNS,
};

/// The schema, one entry per version: a database at version N has run the first N. Never
/// edit an entry once released; add one.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE facts (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        keys TEXT NOT NULL,
        ec2_url TEXT NOT NULL,
        s3_url TEXT NOT NULL,
        region TEXT NOT NULL
    ) STRICT;
    CREATE TABLE certificates (
        user TEXT PRIMARY KEY,
        pem TEXT NOT NULL
    ) STRICT;
    CREATE TABLE clusters (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL
    ) STRICT;
    CREATE TABLE vm_types (
        name TEXT PRIMARY KEY,
        cores INTEGER NOT NULL,
        memory_mb INTEGER NOT NULL,
        disk_gb INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE keypairs (
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        public_key TEXT NOT NULL,
        PRIMARY KEY (owner, name)
    ) STRICT;
    CREATE TABLE groups (
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL,
        PRIMARY KEY (owner, name)
    ) STRICT;
    CREATE TABLE rules (
        owner TEXT NOT NULL,
        group_name TEXT NOT NULL,
        protocol TEXT NOT NULL,
        from_port INTEGER NOT NULL,
        to_port INTEGER NOT NULL,
        cidr TEXT NOT NULL DEFAULT '',
        source_owner TEXT NOT NULL DEFAULT '',
        source_group TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (owner, group_name, protocol, from_port, to_port, cidr, source_owner, source_group),
        FOREIGN KEY (owner, group_name) REFERENCES groups (owner, name) ON DELETE CASCADE
    ) STRICT;
", "
    CREATE TABLE images (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        location TEXT NOT NULL,
        public INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE instances (
        id TEXT PRIMARY KEY,
        reservation TEXT NOT NULL,
        owner TEXT NOT NULL,
        image TEXT NOT NULL,
        kernel TEXT,
        ramdisk TEXT,
        vm_type TEXT NOT NULL,
        key_name TEXT,
        groups TEXT NOT NULL,
        launch_index INTEGER NOT NULL,
        cluster TEXT NOT NULL,
        launched INTEGER NOT NULL,
        terminated INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX instances_by_owner ON instances (owner);
", "
    CREATE TABLE addresses (
        public_ip TEXT PRIMARY KEY,
        cluster TEXT NOT NULL,
        owner TEXT,
        instance TEXT,
        private_ip TEXT,
        CHECK ((instance IS NULL) = (private_ip IS NULL))
    ) STRICT;
    CREATE INDEX addresses_by_owner ON addresses (owner);
    CREATE INDEX addresses_by_instance ON addresses (instance);
    ALTER TABLE images ADD COLUMN kernel TEXT;
    ALTER TABLE images ADD COLUMN ramdisk TEXT;
    CREATE TABLE launch_permissions (
        image TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        user TEXT NOT NULL,
        PRIMARY KEY (image, user)
    ) STRICT;
    CREATE TABLE product_codes (
        image TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        code TEXT NOT NULL,
        PRIMARY KEY (image, code)
    ) STRICT;
", "
    ALTER TABLE instances ADD COLUMN client_token TEXT;
    ALTER TABLE instances ADD COLUMN cluster_state TEXT;
    ALTER TABLE instances ADD COLUMN private_ip TEXT NOT NULL DEFAULT '';
    ALTER TABLE instances ADD COLUMN public_ip TEXT NOT NULL DEFAULT '';
    ALTER TABLE instances ADD COLUMN node TEXT NOT NULL DEFAULT '';
    ALTER TABLE instances ADD COLUMN seen INTEGER;
    ALTER TABLE instances ADD COLUMN vanished INTEGER NOT NULL DEFAULT 0;
    DROP INDEX instances_by_owner;
    CREATE INDEX instances_by_owner ON instances (owner, launched, reservation, launch_index);
    CREATE INDEX instances_by_launch ON instances (launched, reservation, launch_index);
    CREATE INDEX instances_live ON instances (cluster) WHERE vanished = 0;
    CREATE INDEX instances_by_token ON instances (owner, client_token) WHERE client_token IS NOT NULL;
", "
    CREATE TABLE volumes (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        size_gb INTEGER NOT NULL,
        snapshot TEXT,
        zone TEXT NOT NULL,
        created INTEGER NOT NULL,
        state TEXT NOT NULL,
        instance TEXT,
        device TEXT,
        remote_dev TEXT,
        attached INTEGER,
        client_token TEXT,
        CHECK ((instance IS NULL) = (device IS NULL))
    ) STRICT;
    CREATE INDEX volumes_by_owner ON volumes (owner, created, id);
    CREATE INDEX volumes_by_instance ON volumes (instance) WHERE instance IS NOT NULL;
    CREATE TABLE snapshots (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        volume TEXT NOT NULL,
        volume_size_gb INTEGER NOT NULL,
        started INTEGER NOT NULL,
        state TEXT NOT NULL,
        progress INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX snapshots_by_owner ON snapshots (owner, started, id);
", "
    CREATE TABLE user_certificates (
        account TEXT NOT NULL,
        user_name TEXT NOT NULL,
        pem TEXT NOT NULL,
        PRIMARY KEY (account, user_name)
    ) STRICT;
    INSERT INTO user_certificates (account, user_name, pem) SELECT user, 'admin', pem FROM certificates;
    DROP TABLE certificates;
    ALTER TABLE user_certificates RENAME TO certificates;
", "
    ALTER TABLE instances ADD COLUMN creator TEXT;
    ALTER TABLE volumes ADD COLUMN creator TEXT;
    ALTER TABLE snapshots ADD COLUMN creator TEXT;
    ALTER TABLE addresses ADD COLUMN creator TEXT;
", "
    CREATE TABLE slas (
        account TEXT PRIMARY KEY,
        priority INTEGER NOT NULL,
        placement TEXT,
        burst TEXT NOT NULL,
        webhook TEXT
    ) STRICT;
    CREATE TABLE sla_reservations (
        account TEXT NOT NULL,
        zone TEXT NOT NULL,
        vm_type TEXT NOT NULL,
        count INTEGER NOT NULL,
        since INTEGER NOT NULL,
        until INTEGER
    ) STRICT;
    CREATE INDEX sla_reservations_by_time ON sla_reservations (since, until);
    CREATE TABLE sla_floors (
        account TEXT NOT NULL,
        zone TEXT NOT NULL,
        vm_type TEXT NOT NULL,
        floor INTEGER NOT NULL,
        PRIMARY KEY (account, zone, vm_type)
    ) STRICT;
    CREATE TABLE sla_breaches (
        account TEXT NOT NULL,
        zone TEXT NOT NULL,
        vm_type TEXT NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (account, zone, vm_type)
    ) STRICT;
", monitoring::MIGRATION, "
    CREATE TABLE nodes (
        cluster TEXT NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
        host TEXT NOT NULL,
        PRIMARY KEY (cluster, host)
    ) STRICT;
", "
    CREATE TABLE burst_targets (
        name TEXT PRIMARY KEY,
        endpoint TEXT NOT NULL,
        region TEXT NOT NULL,
        access_key TEXT NOT NULL,
        sealed_secret TEXT NOT NULL,
        image_map TEXT NOT NULL,
        max_instances INTEGER,
        accounts TEXT
    ) STRICT;
    CREATE TABLE burst_instances (
        id TEXT PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
        target TEXT NOT NULL,
        remote_id TEXT NOT NULL
    ) STRICT;
"];

/// The store in SQLite files under DATA. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Arc<Mutex<Connection>>,
    directory: Directory,
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) `DATA/cloud.sqlite` and `DATA/users.sqlite`.
    /// Blocking: call it from a blocking thread.
    pub fn open(data: &Path) -> Result<Self, StoreError> {
        let path = data.join("cloud.sqlite");
        // Its journals take the database's mode.
        kit::private::own_file(&path).map_err(|source| StoreError::Create {
            path: path.clone(),
            source,
        })?;
        let open = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open)?;
        // `euca admin` may hold the write lock for a moment.
        conn.busy_timeout(Duration::from_secs(10)).map_err(open)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(open)?;
        migrate(&mut conn, &path)?;
        let users = UserStore::open(&data.join("users.sqlite"))?;
        Ok(Self {
            db: Arc::new(Mutex::new(conn)),
            directory: Directory::Sqlite(Arc::new(users)),
        })
    }

    /// Runs `work` in a transaction on a blocking thread.
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        let db = Arc::clone(&self.db);
        Box::pin(kit::blocking(move || {
            // A panic while holding the lock leaves the connection usable: SQLite rolls back.
            let mut conn = db.lock().unwrap_or_else(PoisonError::into_inner);
            let tx = conn.transaction()?;
            let out = work(&tx)?;
            tx.commit()?;
            Ok(out)
        }))
    }
}

/// Brings the schema to the latest version, one transaction per step.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::Newer {
            database: path.display().to_string(),
            found,
            known,
        });
    }
    for (version, sql) in (1..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if version == 1 {
            for (name, cores, memory_mb, disk_gb) in DEFAULT_VM_TYPES {
                tx.execute(
                    "INSERT INTO vm_types (name, cores, memory_mb, disk_gb) VALUES (?1, ?2, ?3, ?4)",
                    params![name, cores, memory_mb, disk_gb],
                )?;
            }
        }
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

/// Deletes the row of `table` named `name`; `NotFound` (naming `what`) when there is none.
fn delete_named(
    tx: &Transaction<'_>,
    table: &str,
    what: &'static str,
    name: &str,
) -> Result<(), StoreError> {
    if tx.execute(&format!("DELETE FROM {table} WHERE name = ?1"), [name])? == 0 {
        return Err(not_found(what, name));
    }
    Ok(())
}

fn keypair_from_row(row: &Row<'_>) -> rusqlite::Result<KeyPair> {
    Ok(KeyPair {
        owner: row.get(0)?,
        name: row.get(1)?,
        fingerprint: row.get(2)?,
        public_key: row.get(3)?,
    })
}

/// The reservation of a row whose columns 1 to 3 are zone, VM type and count.
fn reservation_from_row(row: &Row<'_>) -> rusqlite::Result<Reservation> {
    Ok(Reservation {
        zone: row.get(1)?,
        vm_type: row.get(2)?,
        count: row.get(3)?,
    })
}

fn rule_from_row(row: &Row<'_>) -> rusqlite::Result<Rule> {
    Ok(Rule {
        protocol: row.get(0)?,
        from_port: row.get(1)?,
        to_port: row.get(2)?,
        source: Source::from_columns(row.get(3)?, row.get(4)?, row.get(5)?),
    })
}

fn group_exists(tx: &Transaction<'_>, owner: &str, name: &str) -> Result<(), StoreError> {
    let found: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM groups WHERE owner = ?1 AND name = ?2)",
        params![owner, name],
        |r| r.get(0),
    )?;
    if found {
        Ok(())
    } else {
        Err(not_found("security group", name))
    }
}

fn rule_present(
    tx: &Transaction<'_>,
    owner: &str,
    group: &str,
    rule: &Rule,
) -> rusqlite::Result<bool> {
    let (cidr, source_owner, source_group) = rule.source.columns();
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM rules WHERE owner = ?1 AND group_name = ?2 AND protocol = ?3
            AND from_port = ?4 AND to_port = ?5 AND cidr = ?6 AND source_owner = ?7 AND source_group = ?8)",
        params![owner, group, rule.protocol, rule.from_port, rule.to_port, cidr, source_owner, source_group],
        |r| r.get(0),
    )
}

fn image_from_row(row: &Row<'_>) -> rusqlite::Result<Image> {
    let id: String = row.get(0)?;
    let kind = ImageKind::of_id(&id).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("image id {id:?} has no emi/eki/eri prefix").into(),
        )
    })?;
    Ok(Image {
        id,
        owner: row.get(1)?,
        location: row.get(2)?,
        kind,
        public: row.get(3)?,
        kernel: row.get(4)?,
        ramdisk: row.get(5)?,
        product_codes: Vec::new(),
        launch_users: Vec::new(),
    })
}

/// The image columns [`image_from_row`] reads.
const IMAGE_COLUMNS: &str = "id, owner, location, public, kernel, ramdisk";

/// Fills in the product codes and launch users of `images`.
fn image_lists(tx: &Transaction<'_>, images: &mut [Image]) -> rusqlite::Result<()> {
    let mut codes = tx.prepare("SELECT code FROM product_codes WHERE image = ?1 ORDER BY code")?;
    let mut users =
        tx.prepare("SELECT user FROM launch_permissions WHERE image = ?1 ORDER BY user")?;
    for image in images {
        image.product_codes = codes
            .query_map([&image.id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        image.launch_users = users
            .query_map([&image.id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(())
}

/// The statements adding to an image's lists: a product code, a user granted to run it.
const ADD_PRODUCT_CODE: &str = "INSERT OR IGNORE INTO product_codes (image, code) VALUES (?1, ?2)";
const ADD_LAUNCH_USER: &str =
    "INSERT OR IGNORE INTO launch_permissions (image, user) VALUES (?1, ?2)";

/// Adds `values` to one of image `id`'s lists with `insert` (one of the statements above);
/// those it has stay.
fn add_to_image(
    tx: &Transaction<'_>,
    insert: &str,
    id: &str,
    values: &[String],
) -> rusqlite::Result<()> {
    let mut statement = tx.prepare_cached(insert)?;
    for value in values {
        statement.execute(params![id, value])?;
    }
    Ok(())
}

fn image_exists(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM images WHERE id = ?1)",
        [id],
        |r| r.get(0),
    )
}

/// The address columns [`address_from_row`] reads.
const ADDRESS_COLUMNS: &str = "public_ip, cluster, owner, instance, private_ip";

fn address_from_row(row: &Row<'_>) -> rusqlite::Result<Address> {
    Ok(Address {
        public_ip: row.get(0)?,
        cluster: row.get(1)?,
        owner: row.get(2)?,
        association: Association::from_columns(row.get(3)?, row.get(4)?),
    })
}

/// Group names are kept one per line (a name never holds a line break: EC2's are printable).
const GROUP_SEPARATOR: char = '\n';

/// An instance's columns, in the order `instance_from_row` reads them.
const INSTANCE_COLUMNS: &str = "id, reservation, owner, image, kernel, ramdisk, vm_type, key_name,
    groups, launch_index, cluster, launched, terminated, client_token, cluster_state, private_ip,
    public_ip, node, seen, vanished";

/// The instances `sql` (a query of [`INSTANCE_COLUMNS`]) selects with `params`.
fn select_instances(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Instance>, StoreError> {
    let mut query = tx.prepare_cached(sql)?;
    let rows = query.query_map(params, instance_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn instance_from_row(row: &Row<'_>) -> rusqlite::Result<Instance> {
    let groups: String = row.get(8)?;
    Ok(Instance {
        id: row.get(0)?,
        reservation: row.get(1)?,
        owner: row.get(2)?,
        image: row.get(3)?,
        kernel: row.get(4)?,
        ramdisk: row.get(5)?,
        vm_type: row.get(6)?,
        key_name: row.get(7)?,
        groups: groups
            .split(GROUP_SEPARATOR)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect(),
        launch_index: row.get(9)?,
        cluster: row.get(10)?,
        launched: row.get(11)?,
        terminated: row.get(12)?,
        client_token: row.get(13)?,
        observed: Observed {
            state: row.get(14)?,
            private_ip: row.get(15)?,
            public_ip: row.get(16)?,
            node: row.get(17)?,
            seen: row.get(18)?,
            vanished: row.get(19)?,
        },
    })
}

/// Records `instances`, made by `creator`, in `tx` (see [`Store::add_instances`]).
fn insert_instances(
    tx: &Transaction<'_>,
    instances: &[Instance],
    creator: Option<&str>,
) -> Result<(), StoreError> {
    let mut tokens: Vec<(&str, &str)> = Vec::new();
    for i in instances {
        if let Some(token) = &i.client_token {
            let pair = (i.owner.as_str(), token.as_str());
            if !tokens.contains(&pair) {
                let taken: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM instances
                        WHERE owner = ?1 AND client_token = ?2 AND reservation <> ?3)",
                    params![i.owner, token, i.reservation],
                    |r| r.get(0),
                )?;
                if taken {
                    return Err(exists("client token", token));
                }
                tokens.push(pair);
            }
        }
        let o = &i.observed;
        let added = tx.execute(
            "INSERT OR IGNORE INTO instances (id, reservation, owner, image, kernel, ramdisk,
                vm_type, key_name, groups, launch_index, cluster, launched, terminated,
                client_token, cluster_state, private_ip, public_ip, node, seen, vanished,
                creator)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                ?17, ?18, ?19, ?20, ?21)",
            params![
                i.id,
                i.reservation,
                i.owner,
                i.image,
                i.kernel,
                i.ramdisk,
                i.vm_type,
                i.key_name,
                i.groups.join(&GROUP_SEPARATOR.to_string()),
                i.launch_index,
                i.cluster,
                i.launched,
                i.terminated,
                i.client_token,
                o.state,
                o.private_ip,
                o.public_ip,
                o.node,
                o.seen,
                o.vanished,
                creator
            ],
        )?;
        if added == 0 {
            return Err(exists("instance", &i.id));
        }
    }
    Ok(())
}

/// The volumes `sql` (selecting [`VOLUME_COLUMNS`]) finds with `params`.
fn select_volumes(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Volume>, StoreError> {
    let mut query = tx.prepare(sql)?;
    let rows = query
        .query_map(params, |r| {
            Ok(VolumeRow {
                id: r.get(0)?,
                owner: r.get(1)?,
                size_gb: r.get(2)?,
                snapshot: r.get(3)?,
                zone: r.get(4)?,
                created: r.get(5)?,
                state: r.get(6)?,
                instance: r.get(7)?,
                device: r.get(8)?,
                remote_dev: r.get(9)?,
                attached: r.get(10)?,
                client_token: r.get(11)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(VolumeRow::volume).collect()
}

fn snapshot_from_row(row: &Row<'_>) -> rusqlite::Result<Snapshot> {
    let state: String = row.get(5)?;
    let state = SnapshotState::from_name(&state).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, e.into())
    })?;
    Ok(Snapshot {
        id: row.get(0)?,
        owner: row.get(1)?,
        volume: row.get(2)?,
        volume_size_gb: row.get(3)?,
        started: row.get(4)?,
        state,
        progress: row.get(6)?,
    })
}

impl Store for SqliteStore {
    fn directory(&self) -> &Directory {
        &self.directory
    }

    fn delete_account(&self, name: &str) -> StoreFuture<'_, ()> {
        let name = own(name);
        Box::pin(async move {
            // The account first: an unknown name deletes nothing else.
            self.directory.delete_account(&name).await?;
            self.run(move |tx| {
                tx.execute("DELETE FROM certificates WHERE account = ?1", [&name])?;
                tx.execute("DELETE FROM keypairs WHERE owner = ?1", [&name])?;
                tx.execute("DELETE FROM groups WHERE owner = ?1", [&name])?;
                tx.execute("DELETE FROM images WHERE owner = ?1", [&name])?;
                tx.execute("DELETE FROM launch_permissions WHERE user = ?1", [&name])?;
                tx.execute("DELETE FROM addresses WHERE owner = ?1", [&name])?;
                for sql in [
                    sla_sql::DELETE_FLOORS,
                    sla_sql::DELETE_BREACHES,
                    sla_sql::DELETE_SLA,
                ] {
                    tx.execute(sql, [&name])?;
                }
                // Its reservations end now: they hold no room, and the report keeps them.
                let now = users::events::clock_millis();
                tx.execute(sla_sql::END_RESERVATIONS, params![now, name])?;
                tx.execute("DELETE FROM metric_alarms WHERE owner = ?1", [&name])?;
                tx.execute("DELETE FROM metric_points WHERE owner = ?1", [&name])?;
                Ok(())
            })
            .await
        })
    }

    fn delete_user(&self, account: &str, name: &str) -> StoreFuture<'_, ()> {
        let (account, name) = (own(account), own(name));
        Box::pin(async move {
            self.directory.delete_user(&account, &name).await?;
            self.run(move |tx| {
                tx.execute(
                    "DELETE FROM certificates WHERE account = ?1 AND user_name = ?2",
                    [&account, &name],
                )?;
                Ok(())
            })
            .await
        })
    }

    fn put_certificate(&self, user: &User, pem: &str) -> StoreFuture<'_, ()> {
        let (account, name, pem) = (user.account.clone(), user.name.clone(), own(pem));
        self.run(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO certificates (account, user_name, pem) VALUES (?1, ?2, ?3)",
                params![account, name, pem],
            )?;
            Ok(())
        })
    }

    fn certificate(&self, account: &str, user: &str) -> StoreFuture<'_, Option<String>> {
        let (account, user) = (own(account), own(user));
        self.run(move |tx| {
            Ok(tx
                .query_row(
                    "SELECT pem FROM certificates WHERE account = ?1 AND user_name = ?2",
                    [&account, &user],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    fn delete_certificate(&self, account: &str, user: &str) -> StoreFuture<'_, bool> {
        let (account, user) = (own(account), own(user));
        self.run(move |tx| {
            let deleted = tx.execute(
                "DELETE FROM certificates WHERE account = ?1 AND user_name = ?2",
                [&account, &user],
            )?;
            Ok(deleted > 0)
        })
    }

    fn put_facts(&self, facts: &CloudFacts) -> StoreFuture<'_, ()> {
        let facts = facts.clone();
        self.run(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO facts (id, keys, ec2_url, s3_url, region) VALUES (1, ?1, ?2, ?3, ?4)",
                params![
                    facts.keys.to_string_lossy(),
                    facts.ec2_url,
                    facts.s3_url,
                    facts.region
                ],
            )?;
            Ok(())
        })
    }

    fn facts(&self) -> StoreFuture<'_, Option<CloudFacts>> {
        self.run(|tx| {
            Ok(tx
                .query_row(
                    "SELECT keys, ec2_url, s3_url, region FROM facts WHERE id = 1",
                    [],
                    |r| {
                        Ok(CloudFacts {
                            keys: PathBuf::from(r.get::<_, String>(0)?),
                            ec2_url: r.get(1)?,
                            s3_url: r.get(2)?,
                            region: r.get(3)?,
                        })
                    },
                )
                .optional()?)
        })
    }

    fn add_cluster(&self, cluster: &Cluster) -> StoreFuture<'_, ()> {
        let cluster = cluster.clone();
        self.run(move |tx| {
            let added = tx.execute(
                "INSERT OR IGNORE INTO clusters (name, url) VALUES (?1, ?2)",
                params![cluster.name, cluster.url],
            )?;
            if added == 0 {
                return Err(exists("cluster", &cluster.name));
            }
            Ok(())
        })
    }

    fn remove_cluster(&self, name: &str) -> StoreFuture<'_, ()> {
        let name = own(name);
        self.run(move |tx| delete_named(tx, "clusters", "cluster", &name))
    }

    fn clusters(&self) -> StoreFuture<'_, Vec<Cluster>> {
        self.run(|tx| {
            let mut query = tx.prepare("SELECT name, url FROM clusters ORDER BY name")?;
            let rows = query.query_map([], |r| {
                Ok(Cluster {
                    name: r.get(0)?,
                    url: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn add_node(&self, node: &Node) -> StoreFuture<'_, ()> {
        let node = node.clone();
        self.run(move |tx| {
            let cluster: Option<String> = tx
                .query_row(
                    "SELECT name FROM clusters WHERE name = ?1",
                    [&node.cluster],
                    |r| r.get(0),
                )
                .optional()?;
            if cluster.is_none() {
                return Err(not_found("cluster", &node.cluster));
            }
            let added = tx.execute(
                "INSERT OR IGNORE INTO nodes (cluster, host) VALUES (?1, ?2)",
                params![node.cluster, node.host],
            )?;
            if added == 0 {
                return Err(exists("node", &node.host));
            }
            Ok(())
        })
    }

    fn remove_node(&self, node: &Node) -> StoreFuture<'_, ()> {
        let node = node.clone();
        self.run(move |tx| {
            let removed = tx.execute(
                "DELETE FROM nodes WHERE cluster = ?1 AND host = ?2",
                params![node.cluster, node.host],
            )?;
            if removed == 0 {
                return Err(not_found("node", &node.host));
            }
            Ok(())
        })
    }

    fn nodes(&self) -> StoreFuture<'_, Vec<Node>> {
        self.run(|tx| {
            let mut query = tx.prepare("SELECT cluster, host FROM nodes ORDER BY cluster, host")?;
            let rows = query.query_map([], |r| {
                Ok(Node {
                    cluster: r.get(0)?,
                    host: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn vm_types(&self) -> StoreFuture<'_, Vec<VmType>> {
        self.run(|tx| {
            // Smallest first, as the original listed them.
            let mut query = tx.prepare(
                "SELECT name, cores, memory_mb, disk_gb FROM vm_types
                 ORDER BY cores, memory_mb, disk_gb, name",
            )?;
            let rows = query.query_map([], |r| {
                Ok(VmType {
                    name: r.get(0)?,
                    cores: r.get(1)?,
                    memory_mb: r.get(2)?,
                    disk_gb: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn set_vm_type(&self, vm_type: &VmType) -> StoreFuture<'_, ()> {
        let t = vm_type.clone();
        self.run(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO vm_types (name, cores, memory_mb, disk_gb) VALUES (?1, ?2, ?3, ?4)",
                params![t.name, t.cores, t.memory_mb, t.disk_gb],
            )?;
            Ok(())
        })
    }

    fn add_keypair(&self, keypair: &KeyPair) -> StoreFuture<'_, ()> {
        let k = keypair.clone();
        self.run(move |tx| {
            let added = tx.execute(
                "INSERT OR IGNORE INTO keypairs (owner, name, fingerprint, public_key) VALUES (?1, ?2, ?3, ?4)",
                params![k.owner, k.name, k.fingerprint, k.public_key],
            )?;
            if added == 0 {
                return Err(exists("keypair", &k.name));
            }
            Ok(())
        })
    }

    fn delete_keypair(&self, owner: &str, name: &str) -> StoreFuture<'_, bool> {
        let (owner, name) = (own(owner), own(name));
        self.run(move |tx| {
            Ok(tx.execute(
                "DELETE FROM keypairs WHERE owner = ?1 AND name = ?2",
                params![owner, name],
            )? > 0)
        })
    }

    fn keypairs(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<KeyPair>> {
        let owner = owner.map(own);
        self.run(move |tx| {
            let mut query = tx.prepare(
                "SELECT owner, name, fingerprint, public_key FROM keypairs
                 WHERE ?1 IS NULL OR owner = ?1 ORDER BY owner, name",
            )?;
            let rows = query.query_map([&owner], keypair_from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn add_group(&self, group: &SecurityGroup) -> StoreFuture<'_, ()> {
        let g = group.clone();
        self.run(move |tx| {
            let added = tx.execute(
                "INSERT OR IGNORE INTO groups (owner, name, id, description) VALUES (?1, ?2, ?3, ?4)",
                params![g.owner, g.name, g.id, g.description],
            )?;
            if added == 0 {
                return Err(exists("security group", &g.name));
            }
            Ok(())
        })
    }

    fn delete_group(&self, owner: &str, name: &str) -> StoreFuture<'_, ()> {
        let (owner, name) = (own(owner), own(name));
        self.run(move |tx| {
            let naming: Option<(String, String)> = tx
                .query_row(
                    "SELECT owner, group_name FROM rules WHERE source_owner = ?1 AND source_group = ?2
                     AND NOT (owner = ?1 AND group_name = ?2) LIMIT 1",
                    params![owner, name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((by_owner, by_group)) = naming {
                return Err(StoreError::InUse {
                    what: "security group",
                    name,
                    by: format!("{by_owner}'s group {by_group}"),
                });
            }
            let deleted = tx.execute(
                "DELETE FROM groups WHERE owner = ?1 AND name = ?2",
                params![owner, name],
            )?;
            if deleted == 0 {
                return Err(not_found("security group", &name));
            }
            Ok(())
        })
    }

    fn groups(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<SecurityGroup>> {
        let owner = owner.map(own);
        self.run(move |tx| {
            let mut query = tx.prepare(
                "SELECT owner, name, id, description FROM groups
                 WHERE ?1 IS NULL OR owner = ?1 ORDER BY owner, name",
            )?;
            let mut groups = query
                .query_map([&owner], |r| {
                    Ok(SecurityGroup {
                        owner: r.get(0)?,
                        name: r.get(1)?,
                        id: r.get(2)?,
                        description: r.get(3)?,
                        rules: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut rules = tx.prepare(
                "SELECT protocol, from_port, to_port, cidr, source_owner, source_group FROM rules
                 WHERE owner = ?1 AND group_name = ?2
                 ORDER BY protocol, from_port, to_port, cidr, source_owner, source_group",
            )?;
            for group in &mut groups {
                group.rules = rules
                    .query_map(params![group.owner, group.name], rule_from_row)?
                    .collect::<rusqlite::Result<_>>()?;
            }
            Ok(groups)
        })
    }

    fn authorize(&self, owner: &str, group: &str, rules: &[Rule]) -> StoreFuture<'_, ()> {
        let (owner, group, rules) = (own(owner), own(group), rules.to_vec());
        self.run(move |tx| {
            group_exists(tx, &owner, &group)?;
            for rule in &rules {
                if rule_present(tx, &owner, &group, rule)? {
                    return Err(exists("rule in group", &group));
                }
                let (cidr, source_owner, source_group) = rule.source.columns();
                tx.execute(
                    "INSERT INTO rules (owner, group_name, protocol, from_port, to_port, cidr, source_owner, source_group)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![owner, group, rule.protocol, rule.from_port, rule.to_port, cidr, source_owner, source_group],
                )?;
            }
            Ok(())
        })
    }

    fn revoke(&self, owner: &str, group: &str, rules: &[Rule]) -> StoreFuture<'_, ()> {
        let (owner, group, rules) = (own(owner), own(group), rules.to_vec());
        self.run(move |tx| {
            group_exists(tx, &owner, &group)?;
            for rule in &rules {
                let (cidr, source_owner, source_group) = rule.source.columns();
                let removed = tx.execute(
                    "DELETE FROM rules WHERE owner = ?1 AND group_name = ?2 AND protocol = ?3
                     AND from_port = ?4 AND to_port = ?5 AND cidr = ?6 AND source_owner = ?7 AND source_group = ?8",
                    params![owner, group, rule.protocol, rule.from_port, rule.to_port, cidr, source_owner, source_group],
                )?;
                if removed == 0 {
                    return Err(not_found("rule in group", &group));
                }
            }
            Ok(())
        })
    }

    fn allocate_address(
        &self,
        owner: Option<&str>,
        creator: Option<&str>,
        pool: &[PoolAddress],
        limit: Option<usize>,
    ) -> StoreFuture<'_, Allocation> {
        let (owner, creator, pool) = (owner.map(own), creator.map(own), pool.to_vec());
        self.run(move |tx| {
            if let (Some(owner), Some(limit)) = (&owner, limit) {
                let held: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM addresses WHERE owner = ?1",
                    [owner],
                    |r| r.get(0),
                )?;
                if usize::try_from(held).unwrap_or(usize::MAX) >= limit {
                    return Ok(Allocation::LimitReached);
                }
            }
            for candidate in pool {
                let added = tx.execute(
                    "INSERT OR IGNORE INTO addresses (public_ip, cluster, owner, creator)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![candidate.public_ip, candidate.cluster, owner, creator],
                )?;
                if added > 0 {
                    return Ok(Allocation::Allocated(Address {
                        public_ip: candidate.public_ip,
                        cluster: candidate.cluster,
                        owner,
                        association: None,
                    }));
                }
            }
            Ok(Allocation::PoolExhausted)
        })
    }

    fn addresses(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Address>> {
        let owner = owner.map(own);
        self.run(move |tx| {
            let mut query = tx.prepare(&format!(
                "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE ?1 IS NULL OR owner = ?1"
            ))?;
            let mut addresses = query
                .query_map([&owner], address_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            sort_addresses(&mut addresses);
            Ok(addresses)
        })
    }

    fn associate_address(
        &self,
        public_ip: &str,
        association: Option<&Association>,
    ) -> StoreFuture<'_, ()> {
        let (public_ip, association) = (own(public_ip), association.cloned());
        self.run(move |tx| {
            let (instance, private_ip) = association.map(|a| (a.instance, a.private_ip)).unzip();
            let changed = tx.execute(
                "UPDATE addresses SET instance = ?2, private_ip = ?3 WHERE public_ip = ?1",
                params![public_ip, instance, private_ip],
            )?;
            if changed == 0 {
                return Err(not_found("address", &public_ip));
            }
            Ok(())
        })
    }

    fn release_address(&self, public_ip: &str) -> StoreFuture<'_, bool> {
        let public_ip = own(public_ip);
        self.run(move |tx| {
            Ok(tx.execute("DELETE FROM addresses WHERE public_ip = ?1", [&public_ip])? > 0)
        })
    }

    fn detach_addresses(&self, instances: &[String]) -> StoreFuture<'_, Vec<Address>> {
        let instances = instances.to_vec();
        self.run(move |tx| {
            let mut query = tx.prepare(&format!(
                "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE instance = ?1 ORDER BY public_ip"
            ))?;
            let mut changed = Vec::new();
            for instance in &instances {
                changed.extend(
                    query
                        .query_map([instance], address_from_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()?,
                );
                tx.execute(
                    "DELETE FROM addresses WHERE instance = ?1 AND owner IS NULL",
                    [instance],
                )?;
                tx.execute(
                    "UPDATE addresses SET instance = NULL, private_ip = NULL WHERE instance = ?1",
                    [instance],
                )?;
            }
            Ok(changed)
        })
    }

    fn change_launch_permission(
        &self,
        id: &str,
        add: &LaunchPermission,
        remove: &LaunchPermission,
    ) -> StoreFuture<'_, bool> {
        let (id, add, remove) = (own(id), add.clone(), remove.clone());
        self.run(move |tx| {
            if !image_exists(tx, &id)? {
                return Ok(false);
            }
            if add.public {
                tx.execute("UPDATE images SET public = 1 WHERE id = ?1", [&id])?;
            }
            add_to_image(tx, ADD_LAUNCH_USER, &id, &add.users)?;
            if remove.public {
                tx.execute("UPDATE images SET public = 0 WHERE id = ?1", [&id])?;
            }
            for user in &remove.users {
                tx.execute(
                    "DELETE FROM launch_permissions WHERE image = ?1 AND user = ?2",
                    params![id, user],
                )?;
            }
            Ok(true)
        })
    }

    fn reset_launch_permission(&self, id: &str) -> StoreFuture<'_, bool> {
        let id = own(id);
        self.run(move |tx| {
            if tx.execute("UPDATE images SET public = 1 WHERE id = ?1", [&id])? == 0 {
                return Ok(false);
            }
            tx.execute("DELETE FROM launch_permissions WHERE image = ?1", [&id])?;
            Ok(true)
        })
    }

    fn add_product_codes(&self, id: &str, codes: &[String]) -> StoreFuture<'_, bool> {
        let (id, codes) = (own(id), codes.to_vec());
        self.run(move |tx| {
            if !image_exists(tx, &id)? {
                return Ok(false);
            }
            add_to_image(tx, ADD_PRODUCT_CODE, &id, &codes)?;
            Ok(true)
        })
    }

    fn add_image(&self, image: &Image) -> StoreFuture<'_, ()> {
        let i = image.clone();
        self.run(move |tx| {
            let added = tx.execute(
                "INSERT OR IGNORE INTO images (id, owner, location, public, kernel, ramdisk)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![i.id, i.owner, i.location, i.public, i.kernel, i.ramdisk],
            )?;
            if added == 0 {
                return Err(exists("image", &i.id));
            }
            add_to_image(tx, ADD_PRODUCT_CODE, &i.id, &i.product_codes)?;
            add_to_image(tx, ADD_LAUNCH_USER, &i.id, &i.launch_users)?;
            Ok(())
        })
    }

    fn delete_image(&self, owner: Option<&str>, id: &str) -> StoreFuture<'_, bool> {
        let (owner, id) = (owner.map(own), own(id));
        self.run(move |tx| {
            Ok(tx.execute(
                "DELETE FROM images WHERE id = ?1 AND (?2 IS NULL OR owner = ?2)",
                params![id, owner],
            )? > 0)
        })
    }

    fn images(&self) -> StoreFuture<'_, Vec<Image>> {
        self.run(|tx| {
            let mut query =
                tx.prepare(&format!("SELECT {IMAGE_COLUMNS} FROM images ORDER BY id"))?;
            let mut images = query
                .query_map([], image_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            image_lists(tx, &mut images)?;
            Ok(images)
        })
    }

    fn add_instances(&self, instances: &[Instance], creator: Option<&str>) -> StoreFuture<'_, ()> {
        let (instances, creator) = (instances.to_vec(), creator.map(own));
        self.run(move |tx| insert_instances(tx, &instances, creator.as_deref()))
    }

    fn remove_instances(&self, ids: &[String]) -> StoreFuture<'_, ()> {
        let ids = ids.to_vec();
        self.run(move |tx| {
            for id in &ids {
                tx.execute("DELETE FROM instances WHERE id = ?1", [id])?;
            }
            Ok(())
        })
    }

    fn set_terminated(&self, ids: &[String]) -> StoreFuture<'_, ()> {
        let ids = ids.to_vec();
        self.run(move |tx| {
            for id in &ids {
                tx.execute("UPDATE instances SET terminated = 1 WHERE id = ?1", [id])?;
            }
            Ok(())
        })
    }

    fn instances(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Instance>> {
        let owner = owner.map(own);
        self.run(move |tx| match owner {
            // Two statements, so that each walks its index in order.
            Some(owner) => select_instances(
                tx,
                &format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances WHERE owner = ?1
                     ORDER BY owner, launched, reservation, launch_index"
                ),
                [owner],
            ),
            None => select_instances(
                tx,
                &format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances
                     ORDER BY launched, reservation, launch_index"
                ),
                [],
            ),
        })
    }

    fn live_instances(&self, cluster: &str) -> StoreFuture<'_, Vec<Instance>> {
        let cluster = own(cluster);
        self.run(move |tx| {
            select_instances(
                tx,
                &format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances WHERE cluster = ?1 AND vanished = 0
                     ORDER BY launched, reservation, launch_index"
                ),
                [cluster],
            )
        })
    }

    fn observe(&self, observed: &[(String, Observed)]) -> StoreFuture<'_, ()> {
        let observed = observed.to_vec();
        self.run(move |tx| {
            let mut update = tx.prepare_cached(
                "UPDATE instances SET cluster_state = ?2, private_ip = ?3, public_ip = ?4,
                    node = ?5, seen = ?6, vanished = ?7 WHERE id = ?1",
            )?;
            for (id, o) in &observed {
                update.execute(params![
                    id,
                    o.state,
                    o.private_ip,
                    o.public_ip,
                    o.node,
                    o.seen,
                    o.vanished
                ])?;
            }
            Ok(())
        })
    }

    fn by_client_token(&self, owner: &str, client_token: &str) -> StoreFuture<'_, Vec<Instance>> {
        let (owner, token) = (own(owner), own(client_token));
        self.run(move |tx| {
            select_instances(
                tx,
                &format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances WHERE owner = ?1 AND client_token = ?2
                     ORDER BY launch_index"
                ),
                [owner, token],
            )
        })
    }

    fn add_volume(&self, volume: &Volume, creator: Option<&str>) -> StoreFuture<'_, ()> {
        let (v, creator) = (volume.clone(), creator.map(own));
        self.run(move |tx| {
            let (instance, device, remote_dev, attached) = attachment_columns(&v);
            let added = tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO volumes ({VOLUME_COLUMNS}, creator)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ),
                params![
                    v.id,
                    v.owner,
                    v.size_gb,
                    v.snapshot,
                    v.zone,
                    v.created,
                    v.state.name(),
                    instance,
                    device,
                    remote_dev,
                    attached,
                    v.client_token,
                    creator
                ],
            )?;
            if added == 0 {
                return Err(exists("volume", &v.id));
            }
            Ok(())
        })
    }

    fn change_volume(&self, volume: &Volume, from: VolumeState) -> StoreFuture<'_, bool> {
        let v = volume.clone();
        self.run(move |tx| {
            let (instance, device, remote_dev, attached) = attachment_columns(&v);
            let changed = tx.execute(
                "UPDATE volumes SET size_gb = ?2, snapshot = ?3, zone = ?4, state = ?5,
                    instance = ?6, device = ?7, remote_dev = ?8, attached = ?9
                 WHERE id = ?1 AND state = ?10",
                params![
                    v.id,
                    v.size_gb,
                    v.snapshot,
                    v.zone,
                    v.state.name(),
                    instance,
                    device,
                    remote_dev,
                    attached,
                    from.name()
                ],
            )?;
            Ok(changed > 0)
        })
    }

    fn remove_volume(&self, id: &str) -> StoreFuture<'_, bool> {
        let id = own(id);
        self.run(move |tx| Ok(tx.execute("DELETE FROM volumes WHERE id = ?1", [&id])? > 0))
    }

    fn volumes(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Volume>> {
        let owner = owner.map(own);
        self.run(move |tx| {
            select_volumes(
                tx,
                &format!(
                    "SELECT {VOLUME_COLUMNS} FROM volumes WHERE ?1 IS NULL OR owner = ?1
                     ORDER BY created, id"
                ),
                [owner],
            )
        })
    }

    fn detach_volumes(&self, instances: &[String]) -> StoreFuture<'_, Vec<Volume>> {
        let instances = instances.to_vec();
        self.run(move |tx| {
            let mut detached = Vec::new();
            for instance in &instances {
                detached.extend(select_volumes(
                    tx,
                    &format!("SELECT {VOLUME_COLUMNS} FROM volumes WHERE instance = ?1"),
                    [instance],
                )?);
                tx.execute(
                    "UPDATE volumes SET state = ?2, instance = NULL, device = NULL,
                        remote_dev = NULL, attached = NULL WHERE instance = ?1",
                    params![instance, VolumeState::Available.name()],
                )?;
            }
            Ok(detached)
        })
    }

    fn add_snapshot(&self, snapshot: &Snapshot, creator: Option<&str>) -> StoreFuture<'_, ()> {
        let (s, creator) = (snapshot.clone(), creator.map(own));
        self.run(move |tx| {
            let added = tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO snapshots ({SNAPSHOT_COLUMNS}, creator)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    s.id,
                    s.owner,
                    s.volume,
                    s.volume_size_gb,
                    s.started,
                    s.state.name(),
                    s.progress,
                    creator
                ],
            )?;
            if added == 0 {
                return Err(exists("snapshot", &s.id));
            }
            Ok(())
        })
    }

    fn change_snapshot(&self, snapshot: &Snapshot) -> StoreFuture<'_, bool> {
        let s = snapshot.clone();
        self.run(move |tx| {
            let changed = tx.execute(
                "UPDATE snapshots SET state = ?2, progress = ?3 WHERE id = ?1",
                params![s.id, s.state.name(), s.progress],
            )?;
            Ok(changed > 0)
        })
    }

    fn remove_snapshot(&self, id: &str) -> StoreFuture<'_, bool> {
        let id = own(id);
        self.run(move |tx| Ok(tx.execute("DELETE FROM snapshots WHERE id = ?1", [&id])? > 0))
    }

    fn snapshots(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Snapshot>> {
        let owner = owner.map(own);
        self.run(move |tx| {
            let mut query = tx.prepare(&format!(
                "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE ?1 IS NULL OR owner = ?1
                 ORDER BY started, id"
            ))?;
            let snapshots = query
                .query_map([owner], snapshot_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(snapshots)
        })
    }

    fn user_by_certificate(&self, pem: &str) -> StoreFuture<'_, Option<User>> {
        let pem = own(pem);
        // One certificate per user: a scan of a small table.
        let holder = self.run(move |tx| {
            Ok(tx
                .query_row(
                    "SELECT account, user_name FROM certificates WHERE pem = ?1",
                    [&pem],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                )
                .optional()?)
        });
        Box::pin(async move {
            match holder.await? {
                Some((account, name)) => Ok(self.directory.user(&account, &name).await?),
                None => Ok(None),
            }
        })
    }

    fn in_use(&self, account: &str, creator: Option<&str>) -> StoreFuture<'_, InUse> {
        let (account, creator) = (own(account), creator.map(own));
        self.run(move |tx| {
            let columns = tx.query_row(IN_USE, params![account, creator], |r| {
                Ok([
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ])
            })?;
            Ok(InUse::from_columns(columns))
        })
    }
    fn add_burst_target(&self, target: &BurstTarget) -> StoreFuture<'_, ()> {
        let t = target.clone();
        self.run(move |tx| {
            let added = tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO burst_targets ({BURST_TARGET_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    t.name,
                    t.endpoint,
                    t.region,
                    t.access_key,
                    t.sealed_secret,
                    t.image_map_column(),
                    t.max_instances,
                    t.accounts_column()
                ],
            )?;
            if added == 0 {
                return Err(exists("burst target", &t.name));
            }
            Ok(())
        })
    }

    fn remove_burst_target(&self, name: &str) -> StoreFuture<'_, ()> {
        let name = own(name);
        self.run(move |tx| delete_named(tx, "burst_targets", "burst target", &name))
    }

    fn burst_targets(&self) -> StoreFuture<'_, Vec<BurstTarget>> {
        self.run(|tx| {
            let mut query = tx.prepare(&format!(
                "SELECT {BURST_TARGET_COLUMNS} FROM burst_targets ORDER BY name"
            ))?;
            let rows = query.query_map([], |r| {
                Ok(BurstTarget::from_columns(
                    [
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ],
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn add_remote_instances(
        &self,
        instances: &[Instance],
        remotes: &[RemoteInstance],
        creator: Option<&str>,
    ) -> StoreFuture<'_, ()> {
        let (instances, remotes, creator) =
            (instances.to_vec(), remotes.to_vec(), creator.map(own));
        self.run(move |tx| {
            insert_instances(tx, &instances, creator.as_deref())?;
            for r in &remotes {
                tx.execute(
                    "INSERT INTO burst_instances (id, target, remote_id) VALUES (?1, ?2, ?3)",
                    params![r.id, r.target, r.remote_id],
                )?;
            }
            Ok(())
        })
    }

    fn remote_instances(&self, ids: &[String]) -> StoreFuture<'_, Vec<RemoteInstance>> {
        let ids = ids.to_vec();
        self.run(move |tx| {
            let mut query =
                tx.prepare("SELECT id, target, remote_id FROM burst_instances WHERE id = ?1")?;
            let mut found = Vec::new();
            for id in &ids {
                let row = query
                    .query_row([id], |r| {
                        Ok(RemoteInstance {
                            id: r.get(0)?,
                            target: r.get(1)?,
                            remote_id: r.get(2)?,
                        })
                    })
                    .optional()?;
                found.extend(row);
            }
            Ok(found)
        })
    }

    fn put_sla(&self, sla: &Sla, at: i64) -> StoreFuture<'_, ()> {
        let sla = sla.clone();
        self.run(move |tx| {
            let placement = sla.placement.map(|p| p.name());
            tx.execute(
                sla_sql::UPSERT_SLA,
                params![
                    sla.account,
                    sla.priority,
                    placement,
                    sla.burst.name(),
                    sla.webhook
                ],
            )?;
            tx.execute(sla_sql::END_RESERVATIONS, params![at, sla.account])?;
            for r in &sla.reservations {
                tx.execute(
                    sla_sql::INSERT_RESERVATION,
                    params![sla.account, r.zone, r.vm_type, r.count, at],
                )?;
            }
            tx.execute(sla_sql::DELETE_FLOORS, [&sla.account])?;
            for f in &sla.floors {
                tx.execute(
                    sla_sql::INSERT_FLOOR,
                    params![sla.account, f.zone_column(), f.vm_type, f.floor],
                )?;
            }
            tx.execute(sla_sql::DROP_STALE_BREACHES, [&sla.account])?;
            Ok(())
        })
    }

    fn slas(&self) -> StoreFuture<'_, Vec<Sla>> {
        self.run(|tx| {
            let rows = tx
                .prepare(sla_sql::SELECT_SLAS)?
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut slas = rows
                .into_iter()
                .map(|(a, p, pl, b, w)| Sla::from_columns(a, p, pl, b, w))
                .collect::<Result<Vec<_>, _>>()?;
            let reservations = tx
                .prepare(sla_sql::SELECT_CURRENT_RESERVATIONS)?
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, reservation_from_row(r)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Sla::attach(&mut slas, reservations, |s, r| s.reservations.push(r));
            let floors = tx
                .prepare(sla_sql::SELECT_FLOORS)?
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Floor::from_columns(r.get(1)?, r.get(2)?, r.get(3)?),
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Sla::attach(&mut slas, floors, |s, f| s.floors.push(f));
            Ok(slas)
        })
    }

    fn delete_sla(&self, account: &str, at: i64) -> StoreFuture<'_, bool> {
        let account = own(account);
        self.run(move |tx| {
            tx.execute(sla_sql::END_RESERVATIONS, params![at, account])?;
            tx.execute(sla_sql::DELETE_FLOORS, [&account])?;
            tx.execute(sla_sql::DELETE_BREACHES, [&account])?;
            Ok(tx.execute(sla_sql::DELETE_SLA, [&account])? > 0)
        })
    }

    fn reservation_history(&self, from: i64, to: i64) -> StoreFuture<'_, Vec<Reserved>> {
        self.run(move |tx| {
            Ok(tx
                .prepare(sla_sql::SELECT_RESERVATION_HISTORY)?
                .query_map(params![from, to], |r| {
                    Ok(Reserved {
                        account: r.get(0)?,
                        reservation: reservation_from_row(r)?,
                        since: r.get(4)?,
                        until: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn open_breach(&self, breach: &Breach) -> StoreFuture<'_, bool> {
        let b = breach.clone();
        self.run(move |tx| {
            let added = tx.execute(
                sla_sql::OPEN_BREACH,
                params![b.account, b.zone, b.vm_type, b.since],
            )?;
            Ok(added > 0)
        })
    }

    fn close_breach(&self, breach: &Breach) -> StoreFuture<'_, bool> {
        let b = breach.clone();
        self.run(move |tx| {
            let removed =
                tx.execute(sla_sql::CLOSE_BREACH, params![b.account, b.zone, b.vm_type])?;
            Ok(removed > 0)
        })
    }

    fn running_by_zone(&self, vm_type: &str) -> StoreFuture<'_, Vec<(String, String, u32)>> {
        let vm_type = own(vm_type);
        self.run(move |tx| {
            Ok(tx
                .prepare(sla_sql::RUNNING_BY_ZONE)?
                .query_map([&vm_type], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn breaches(&self) -> StoreFuture<'_, Vec<Breach>> {
        self.run(|tx| {
            Ok(tx
                .prepare(sla_sql::SELECT_BREACHES)?
                .query_map([], |r| {
                    Ok(Breach {
                        account: r.get(0)?,
                        zone: r.get(1)?,
                        vm_type: r.get(2)?,
                        since: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
    // ---- Monitoring: the SQL is crate::monitoring::sqlite's ----
    // ---- Monitoring: the SQL is metrics::sqlite's ----
    fn add_points(&self, points: &[Point]) -> StoreFuture<'_, ()> {
        let points = points.to_vec();
        self.run(move |tx| monitoring::add_points(tx, &points))
    }

    fn points(
        &self,
        instance: &str,
        metric: Metric,
        from: i64,
        to: i64,
    ) -> StoreFuture<'_, Vec<Point>> {
        let instance = own(instance);
        self.run(move |tx| monitoring::points(tx, &instance, metric, from, to))
    }

    fn metrics(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<(String, Metric)>> {
        let owner = owner.map(own);
        self.run(move |tx| monitoring::metrics(tx, owner.as_deref()))
    }

    fn forget_points(&self, before: i64) -> StoreFuture<'_, u64> {
        self.run(move |tx| monitoring::forget_points(tx, before))
    }

    fn put_alarm(&self, alarm: &Alarm) -> StoreFuture<'_, ()> {
        let alarm = alarm.clone();
        self.run(move |tx| monitoring::put_alarm(tx, &alarm))
    }

    fn alarms(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Alarm>> {
        let owner = owner.map(own);
        self.run(move |tx| monitoring::alarms(tx, owner.as_deref()))
    }

    fn alarms_on(&self, instances: &[String]) -> StoreFuture<'_, Vec<Alarm>> {
        let instances = instances.to_vec();
        self.run(move |tx| monitoring::alarms_on(tx, &instances))
    }

    fn delete_alarms(&self, owner: &str, names: &[String]) -> StoreFuture<'_, u64> {
        let (owner, names) = (own(owner), names.to_vec());
        self.run(move |tx| monitoring::delete_alarms(tx, &owner, &names))
    }

    fn change_alarm_state(
        &self,
        owner: &str,
        name: &str,
        from: AlarmState,
        to: &StateChange,
    ) -> StoreFuture<'_, bool> {
        let (owner, name, to) = (own(owner), own(name), to.clone());
        self.run(move |tx| monitoring::change_alarm_state(tx, &owner, &name, from, &to))
    }
    // ---- end of monitoring ----
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::suite;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let store = kit::blocking(move || SqliteStore::open(&path))
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn the_store_suite_passes() {
        let (_dir, store) = store().await;
        suite::run(&store).await;
    }

    #[tokio::test]
    async fn a_reopened_store_keeps_changes() {
        let (dir, store) = store().await;
        let bigger = VmType {
            name: "m1.small".into(),
            cores: 2,
            memory_mb: 512,
            disk_gb: 4,
        };
        store.set_vm_type(&bigger).await.unwrap();
        drop(store);
        let path = dir.path().to_owned();
        let again = kit::blocking(move || SqliteStore::open(&path))
            .await
            .unwrap();
        let types = again.vm_types().await.unwrap();
        assert!(types.contains(&bigger), "{types:?}");
        assert_eq!(types.len(), 5);
    }

    #[tokio::test]
    async fn a_database_of_a_newer_schema_is_refused() {
        let (dir, store) = store().await;
        drop(store);
        let path = dir.path().join("cloud.sqlite");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let data = dir.path().to_owned();
        let opened = kit::blocking(move || SqliteStore::open(&data)).await;
        assert!(
            matches!(opened, Err(StoreError::Newer { found: 99, .. })),
            "{opened:?}"
        );
    }

    #[tokio::test]
    async fn instances_recorded_before_the_reconcile_columns_are_kept() {
        // Guards against an upgrade losing the instances an older cloud recorded.
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("cloud.sqlite")).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(&MIGRATIONS[..2].concat()).unwrap();
        tx.execute(
            "INSERT INTO instances (id, reservation, owner, image, vm_type, groups,
                launch_index, cluster, launched) VALUES
                ('i-00000001', 'r-00000001', 'ann', 'emi-00000001', 'm1.small', 'default', 0, 'z', 5)",
            [],
        )
        .unwrap();
        tx.pragma_update(None, "user_version", 2).unwrap();
        tx.commit().unwrap();
        drop(conn);
        let path = dir.path().to_owned();
        let store = kit::blocking(move || SqliteStore::open(&path))
            .await
            .unwrap();
        let kept = store.instances(None).await.unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (kept[0].client_token.as_ref(), &kept[0].observed),
            (None, &Observed::default())
        );
        assert_eq!(store.live_instances("z").await.unwrap(), kept);
    }

    #[tokio::test]
    async fn a_users_certificate_from_before_accounts_is_its_accounts_root_users() {
        // Guards EC2 over SOAP after the upgrade: old user X is account X's root user.
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("cloud.sqlite")).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(&MIGRATIONS[..5].concat()).unwrap();
        tx.execute(
            "INSERT INTO certificates (user, pem) VALUES ('bob', 'PEM bob')",
            [],
        )
        .unwrap();
        tx.pragma_update(None, "user_version", 5).unwrap();
        tx.commit().unwrap();
        drop(conn);
        let path = dir.path().to_owned();
        let store = kit::blocking(move || SqliteStore::open(&path))
            .await
            .unwrap();
        assert_eq!(
            store.certificate("bob", users::ROOT_NAME).await.unwrap(),
            Some("PEM bob".to_owned())
        );
    }

    #[tokio::test]
    async fn the_databases_are_private() {
        // Guards against users' certificates and keys lying in world-readable files.
        use std::os::unix::fs::PermissionsExt;
        let (dir, store) = store().await;
        store.directory().ensure_admin().await.unwrap();
        for name in ["cloud.sqlite", "cloud.sqlite-wal", "users.sqlite"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }
}

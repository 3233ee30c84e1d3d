//! The store in PostgreSQL (`euca cloud --db postgresql://...`): the cloud's state and its
//! accounts and users (the `users` crate's tables and migrations) in one database, so that
//! an account and what it owns go in one transaction, and Walrus (`--db`, or `--identity`
//! of the cloud's DATA) reads the same tables. Versioned migrations as in SQLite; each
//! logical change is one transaction.

use std::path::PathBuf;

use deadpool_postgres::{GenericClient, Object, Pool, Transaction};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use tokio_postgres::ToStatement;
use users::{Directory, PgUsers};

use super::metrics::postgres as monitoring;
use super::metrics::{Alarm, AlarmState, Metric, Point, StateChange};
use super::sla::{self as sla_sql, Breach, Floor, Reservation, Reserved, Sla};

use super::{
    attachment_columns, exists, not_found, own, sort_addresses, Address, Allocation, Association,
    BurstTarget, CloudFacts, Cluster, Image, ImageKind, InUse, Instance, KeyPair, LaunchPermission,
    Node, Observed, PoolAddress, RemoteInstance, Rule, SecurityGroup, Snapshot, SnapshotState,
    Source, Store, StoreError, StoreFuture, User, VmType, Volume, VolumeRow, VolumeState,
    BURST_TARGET_COLUMNS, DEFAULT_VM_TYPES, IN_USE, SNAPSHOT_COLUMNS, VOLUME_COLUMNS,
};

/// The schema, one entry per version, numbered as SQLite's (version 1 of programs before
/// accounts also created the `users` crate's table, which now migrates it): a database at
/// version N has run the first N. Never edit an entry
/// once released; add one. Text is `COLLATE "C"`: compared and listed byte by byte, as
/// SQLite does, whatever the server's locale.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE facts (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        keys TEXT COLLATE "C" NOT NULL,
        ec2_url TEXT COLLATE "C" NOT NULL,
        s3_url TEXT COLLATE "C" NOT NULL,
        region TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE certificates (
        owner TEXT COLLATE "C" PRIMARY KEY,
        pem TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE clusters (
        name TEXT COLLATE "C" PRIMARY KEY,
        url TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE vm_types (
        name TEXT COLLATE "C" PRIMARY KEY,
        cores BIGINT NOT NULL,
        memory_mb BIGINT NOT NULL,
        disk_gb BIGINT NOT NULL
    );
    CREATE TABLE keypairs (
        owner TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        fingerprint TEXT COLLATE "C" NOT NULL,
        public_key TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (owner, name)
    );
    CREATE TABLE security_groups (
        owner TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL UNIQUE,
        description TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (owner, name)
    );
    CREATE TABLE rules (
        owner TEXT COLLATE "C" NOT NULL,
        group_name TEXT COLLATE "C" NOT NULL,
        protocol TEXT COLLATE "C" NOT NULL,
        from_port INTEGER NOT NULL,
        to_port INTEGER NOT NULL,
        cidr TEXT COLLATE "C" NOT NULL DEFAULT '',
        source_owner TEXT COLLATE "C" NOT NULL DEFAULT '',
        source_group TEXT COLLATE "C" NOT NULL DEFAULT '',
        PRIMARY KEY (owner, group_name, protocol, from_port, to_port, cidr, source_owner, source_group),
        FOREIGN KEY (owner, group_name) REFERENCES security_groups (owner, name) ON DELETE CASCADE
    );
    CREATE INDEX rules_by_source ON rules (source_owner, source_group);
"#,
    r#"
    CREATE TABLE images (
        id TEXT COLLATE "C" PRIMARY KEY,
        owner TEXT COLLATE "C" NOT NULL,
        location TEXT COLLATE "C" NOT NULL,
        public BOOLEAN NOT NULL
    );
    CREATE TABLE instances (
        id TEXT COLLATE "C" PRIMARY KEY,
        reservation TEXT COLLATE "C" NOT NULL,
        owner TEXT COLLATE "C" NOT NULL,
        image TEXT COLLATE "C" NOT NULL,
        kernel TEXT COLLATE "C",
        ramdisk TEXT COLLATE "C",
        vm_type TEXT COLLATE "C" NOT NULL,
        key_name TEXT COLLATE "C",
        groups TEXT[] NOT NULL,
        launch_index BIGINT NOT NULL,
        cluster TEXT COLLATE "C" NOT NULL,
        launched BIGINT NOT NULL,
        terminated BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX instances_by_owner ON instances (owner);
"#,
    // Elastic addresses; images' kernel, ramdisk, launch permissions and product codes.
    r#"
    CREATE TABLE addresses (
        public_ip TEXT COLLATE "C" PRIMARY KEY,
        cluster TEXT COLLATE "C" NOT NULL,
        owner TEXT COLLATE "C",
        instance TEXT COLLATE "C",
        private_ip TEXT COLLATE "C",
        CHECK ((instance IS NULL) = (private_ip IS NULL))
    );
    CREATE INDEX addresses_by_owner ON addresses (owner);
    CREATE INDEX addresses_by_instance ON addresses (instance);
    ALTER TABLE images ADD COLUMN kernel TEXT COLLATE "C", ADD COLUMN ramdisk TEXT COLLATE "C";
    CREATE TABLE launch_permissions (
        image TEXT COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        grantee TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (image, grantee)
    );
    CREATE TABLE product_codes (
        image TEXT COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        code TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (image, code)
    );
"#,
    // Reconciliation: what the clusters last reported; RunInstances' ClientToken.
    r#"
    ALTER TABLE instances
        ADD COLUMN client_token TEXT COLLATE "C",
        ADD COLUMN cluster_state TEXT COLLATE "C",
        ADD COLUMN private_ip TEXT COLLATE "C" NOT NULL DEFAULT '',
        ADD COLUMN public_ip TEXT COLLATE "C" NOT NULL DEFAULT '',
        ADD COLUMN node TEXT COLLATE "C" NOT NULL DEFAULT '',
        ADD COLUMN seen BIGINT,
        ADD COLUMN vanished BOOLEAN NOT NULL DEFAULT FALSE;
    DROP INDEX instances_by_owner;
    CREATE INDEX instances_by_owner ON instances (owner, launched, reservation, launch_index);
    CREATE INDEX instances_by_launch ON instances (launched, reservation, launch_index);
    CREATE INDEX instances_live ON instances (cluster) WHERE NOT vanished;
    CREATE INDEX instances_by_token ON instances (owner, client_token) WHERE client_token IS NOT NULL;
"#,
    // EBS volumes and snapshots.
    r#"
    CREATE TABLE volumes (
        id TEXT COLLATE "C" PRIMARY KEY,
        owner TEXT COLLATE "C" NOT NULL,
        size_gb BIGINT NOT NULL,
        snapshot TEXT COLLATE "C",
        zone TEXT COLLATE "C" NOT NULL,
        created BIGINT NOT NULL,
        state TEXT COLLATE "C" NOT NULL,
        instance TEXT COLLATE "C",
        device TEXT COLLATE "C",
        remote_dev TEXT COLLATE "C",
        attached BIGINT,
        client_token TEXT COLLATE "C",
        CHECK ((instance IS NULL) = (device IS NULL))
    );
    CREATE INDEX volumes_by_owner ON volumes (owner, created, id);
    CREATE INDEX volumes_by_instance ON volumes (instance) WHERE instance IS NOT NULL;
    CREATE TABLE snapshots (
        id TEXT COLLATE "C" PRIMARY KEY,
        owner TEXT COLLATE "C" NOT NULL,
        volume TEXT COLLATE "C" NOT NULL,
        volume_size_gb BIGINT NOT NULL,
        started BIGINT NOT NULL,
        state TEXT COLLATE "C" NOT NULL,
        progress BIGINT NOT NULL
    );
    CREATE INDEX snapshots_by_owner ON snapshots (owner, started, id);
"#,
    // Certificates by account and user: an old user X's is account X's root user's.
    r#"
    ALTER TABLE certificates RENAME COLUMN owner TO account;
    ALTER TABLE certificates ADD COLUMN user_name TEXT COLLATE "C" NOT NULL DEFAULT 'admin';
    ALTER TABLE certificates ALTER COLUMN user_name DROP DEFAULT;
    ALTER TABLE certificates DROP CONSTRAINT certificates_pkey;
    ALTER TABLE certificates ADD PRIMARY KEY (account, user_name);
"#,
    r#"
    ALTER TABLE instances ADD COLUMN creator TEXT COLLATE "C";
    ALTER TABLE volumes ADD COLUMN creator TEXT COLLATE "C";
    ALTER TABLE snapshots ADD COLUMN creator TEXT COLLATE "C";
    ALTER TABLE addresses ADD COLUMN creator TEXT COLLATE "C";
"#,
    // SLAs: reservations with their history, floors and the floors breached now.
    r#"
    CREATE TABLE slas (
        account TEXT COLLATE "C" PRIMARY KEY,
        priority BIGINT NOT NULL,
        placement TEXT COLLATE "C",
        burst TEXT COLLATE "C" NOT NULL,
        webhook TEXT COLLATE "C"
    );
    CREATE TABLE sla_reservations (
        account TEXT COLLATE "C" NOT NULL,
        zone TEXT COLLATE "C" NOT NULL,
        vm_type TEXT COLLATE "C" NOT NULL,
        count BIGINT NOT NULL,
        since BIGINT NOT NULL,
        until BIGINT
    );
    CREATE INDEX sla_reservations_by_time ON sla_reservations (since, until);
    CREATE TABLE sla_floors (
        account TEXT COLLATE "C" NOT NULL,
        zone TEXT COLLATE "C" NOT NULL,
        vm_type TEXT COLLATE "C" NOT NULL,
        floor BIGINT NOT NULL,
        PRIMARY KEY (account, zone, vm_type)
    );
    CREATE TABLE sla_breaches (
        account TEXT COLLATE "C" NOT NULL,
        zone TEXT COLLATE "C" NOT NULL,
        vm_type TEXT COLLATE "C" NOT NULL,
        since BIGINT NOT NULL,
        PRIMARY KEY (account, zone, vm_type)
    );
"#,
    monitoring::MIGRATION,
    // Nodes registered with their clusters.
    r#"
    CREATE TABLE nodes (
        cluster TEXT COLLATE "C" NOT NULL REFERENCES clusters (name) ON DELETE CASCADE,
        host TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (cluster, host)
    );
"#,
    r#"
    CREATE TABLE burst_targets (
        name TEXT COLLATE "C" PRIMARY KEY,
        endpoint TEXT COLLATE "C" NOT NULL,
        region TEXT COLLATE "C" NOT NULL,
        access_key TEXT COLLATE "C" NOT NULL,
        sealed_secret TEXT COLLATE "C" NOT NULL,
        image_map TEXT COLLATE "C" NOT NULL,
        max_instances BIGINT,
        accounts TEXT COLLATE "C"
    );
    CREATE TABLE burst_instances (
        id TEXT COLLATE "C" PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
        target TEXT COLLATE "C" NOT NULL,
        remote_id TEXT COLLATE "C" NOT NULL
    );
"#,
];

/// Serializes migrations of one database between processes (a CLC and `euca admin`
/// starting together): a transaction-scoped advisory lock of this key.
const MIGRATION_LOCK: i64 = 0x6575_6361_6462;

/// The store in a PostgreSQL database. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: Pool,
    directory: Directory,
}

impl PgStore {
    /// Connects to the database at `url` and brings its schema to this program's version.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = users::connect(url)?;
        let directory = Directory::Postgres(PgUsers::open(pool.clone()).await?);
        let store = Self { pool, directory };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// One statement on a pooled connection, outside any transaction: the rows it changed.
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        Ok(self.client().await?.execute(sql, params).await?)
    }

    /// Deletes the row of `table` named `name`; `NotFound` (naming `what`) when there is none.
    async fn delete_named(
        &self,
        table: &str,
        what: &'static str,
        name: &str,
    ) -> Result<(), StoreError> {
        let sql = format!("DELETE FROM {table} WHERE name = $1");
        if self.execute(&sql, &[&name]).await? == 0 {
            return Err(not_found(what, name));
        }
        Ok(())
    }

    /// One query on a pooled connection: its rows.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        Ok(self.client().await?.query(sql, params).await?)
    }

    /// One query on a pooled connection: its row, if any (more than one is an error).
    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.client().await?.query_opt(sql, params).await?)
    }

    /// Runs the missing migrations of the cloud's schema; the first also adds the default
    /// VM types.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut migrations: Vec<String> = MIGRATIONS.iter().map(|m| (*m).to_owned()).collect();
        if let Some(first) = migrations.first_mut() {
            for (name, cores, memory_mb, disk_gb) in DEFAULT_VM_TYPES {
                first.push_str(&format!(
                    "INSERT INTO vm_types (name, cores, memory_mb, disk_gb)
                     VALUES ('{name}', {cores}, {memory_mb}, {disk_gb});"
                ));
            }
        }
        let mut client = self.client().await?;
        let schema = users::Schema {
            table: "schema_version",
            lock: MIGRATION_LOCK,
            migrations: &migrations,
        };
        schema.migrate(&mut client).await.map_err(|e| match e {
            users::UserError::Newer { found, known } => StoreError::Newer {
                database: "the PostgreSQL database".into(),
                found,
                known,
            },
            other => other.into(),
        })
    }
}

/// Inserts one row with `statement`, an `INSERT ... ON CONFLICT DO NOTHING`: a row already
/// there (by any unique key) is `Exists`, naming `what` and `name`.
async fn insert_new<T>(
    client: &impl GenericClient,
    statement: &T,
    params: &[&(dyn ToSql + Sync)],
    what: &'static str,
    name: &str,
) -> Result<(), StoreError>
where
    T: ?Sized + ToStatement + Sync + Send,
{
    if client.execute(statement, params).await? == 0 {
        return Err(exists(what, name));
    }
    Ok(())
}

/// A `u32` column (kept as BIGINT: PostgreSQL has no unsigned types).
fn unsigned(row: &Row, column: usize) -> Result<u32, StoreError> {
    let value: i64 = row.try_get(column)?;
    u32::try_from(value)
        .map_err(|_| StoreError::Value(format!("{value} in column {column} is not a u32")))
}

async fn put_vm_type(client: &impl GenericClient, t: &VmType) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO vm_types (name, cores, memory_mb, disk_gb) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE
             SET cores = EXCLUDED.cores, memory_mb = EXCLUDED.memory_mb, disk_gb = EXCLUDED.disk_gb",
            &[
                &t.name,
                &i64::from(t.cores),
                &i64::from(t.memory_mb),
                &i64::from(t.disk_gb),
            ],
        )
        .await?;
    Ok(())
}

/// The rule of a row of [`SecurityGroup`]s joined with their rules, from its fifth column;
/// `None` for a group without rules.
fn rule_from_row(row: &Row) -> Result<Option<Rule>, StoreError> {
    let Some(protocol) = row.try_get(4)? else {
        return Ok(None);
    };
    Ok(Some(Rule {
        protocol,
        from_port: row.try_get(5)?,
        to_port: row.try_get(6)?,
        source: Source::from_columns(row.try_get(7)?, row.try_get(8)?, row.try_get(9)?),
    }))
}

async fn group_exists(
    client: &impl GenericClient,
    owner: &str,
    name: &str,
) -> Result<(), StoreError> {
    let found = client
        .query_opt(
            "SELECT 1 FROM security_groups WHERE owner = $1 AND name = $2",
            &[&owner, &name],
        )
        .await?;
    found
        .map(drop)
        .ok_or_else(|| not_found("security group", name))
}

/// Deletes `rule` from `group`; `false` when it had no such rule.
async fn delete_rule(
    client: &impl GenericClient,
    owner: &str,
    group: &str,
    rule: &Rule,
) -> Result<bool, StoreError> {
    let (cidr, source_owner, source_group) = rule.source.columns();
    let removed = client
        .execute(
            "DELETE FROM rules WHERE owner = $1 AND group_name = $2 AND protocol = $3
             AND from_port = $4 AND to_port = $5 AND cidr = $6 AND source_owner = $7 AND source_group = $8",
            &[
                &owner,
                &group,
                &rule.protocol,
                &rule.from_port,
                &rule.to_port,
                &cidr,
                &source_owner,
                &source_group,
            ],
        )
        .await?;
    Ok(removed > 0)
}

/// An image's columns with its product codes and launch users, in the order
/// `image_from_row` reads them, for a query `FROM images i`.
const IMAGE_COLUMNS: &str = "id, owner, location, public, kernel, ramdisk,
    ARRAY(SELECT code FROM product_codes p WHERE p.image = i.id ORDER BY code),
    ARRAY(SELECT grantee FROM launch_permissions l WHERE l.image = i.id ORDER BY grantee)";

fn image_from_row(row: &Row) -> Result<Image, StoreError> {
    let id: String = row.try_get(0)?;
    let kind = ImageKind::of_id(&id)
        .ok_or_else(|| StoreError::Value(format!("image id {id:?} has no emi/eki/eri prefix")))?;
    Ok(Image {
        id,
        owner: row.try_get(1)?,
        location: row.try_get(2)?,
        kind,
        public: row.try_get(3)?,
        kernel: row.try_get(4)?,
        ramdisk: row.try_get(5)?,
        product_codes: row.try_get(6)?,
        launch_users: row.try_get(7)?,
    })
}

/// The statements adding to an image's lists: a product code, a user granted to run it.
const ADD_PRODUCT_CODES: &str = "INSERT INTO product_codes (image, code)
    SELECT $1, unnest($2::TEXT[]) ON CONFLICT DO NOTHING";
const ADD_LAUNCH_USERS: &str = "INSERT INTO launch_permissions (image, grantee)
    SELECT $1, unnest($2::TEXT[]) ON CONFLICT DO NOTHING";

/// Adds `values` to one of image `id`'s lists with `insert` (one of the statements above);
/// those it has stay.
async fn add_to_image(
    client: &impl GenericClient,
    insert: &str,
    id: &str,
    values: &[String],
) -> Result<(), StoreError> {
    client.execute(insert, &[&id, &values]).await?;
    Ok(())
}

async fn image_exists(client: &impl GenericClient, id: &str) -> Result<bool, StoreError> {
    Ok(client
        .query_opt("SELECT 1 FROM images WHERE id = $1", &[&id])
        .await?
        .is_some())
}

/// The address columns [`address_from_row`] reads.
const ADDRESS_COLUMNS: &str = "public_ip, cluster, owner, instance, private_ip";

fn address_from_row(row: &Row) -> Result<Address, StoreError> {
    Ok(Address {
        public_ip: row.try_get(0)?,
        cluster: row.try_get(1)?,
        owner: row.try_get(2)?,
        association: Association::from_columns(row.try_get(3)?, row.try_get(4)?),
    })
}

/// Serializes allocations between processes, so that a user's limit holds: a
/// transaction-scoped advisory lock of this key.
const ALLOCATION_LOCK: i64 = 0x6575_6361_6970;

/// An instance's columns, in the order `instance_from_row` reads them.
const INSTANCE_COLUMNS: &str = "id, reservation, owner, image, kernel, ramdisk, vm_type, key_name,
    groups, launch_index, cluster, launched, terminated, client_token, cluster_state, private_ip,
    public_ip, node, seen, vanished";

fn instance_from_row(row: &Row) -> Result<Instance, StoreError> {
    Ok(Instance {
        id: row.try_get(0)?,
        reservation: row.try_get(1)?,
        owner: row.try_get(2)?,
        image: row.try_get(3)?,
        kernel: row.try_get(4)?,
        ramdisk: row.try_get(5)?,
        vm_type: row.try_get(6)?,
        key_name: row.try_get(7)?,
        groups: row.try_get(8)?,
        launch_index: unsigned(row, 9)?,
        cluster: row.try_get(10)?,
        launched: row.try_get(11)?,
        terminated: row.try_get(12)?,
        client_token: row.try_get(13)?,
        observed: Observed {
            state: row.try_get(14)?,
            private_ip: row.try_get(15)?,
            public_ip: row.try_get(16)?,
            node: row.try_get(17)?,
            seen: row.try_get(18)?,
            vanished: row.try_get(19)?,
        },
    })
}

/// The reservation of a row whose columns 1 to 3 are zone, VM type and count.
fn reservation(row: &Row) -> Result<Reservation, StoreError> {
    let count: i64 = row.try_get(3)?;
    Ok(Reservation {
        zone: row.try_get(1)?,
        vm_type: row.try_get(2)?,
        count: u32::try_from(count).map_err(|e| StoreError::Value(e.to_string()))?,
    })
}

/// The instances `sql` (a query of [`INSTANCE_COLUMNS`]) selects with `params`.
async fn select_instances(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Instance>, StoreError> {
    let rows = client.query(sql, params).await?;
    rows.iter().map(instance_from_row).collect()
}

/// Records `instances`, made by `creator`, in `tx` (see [`Store::add_instances`]).
async fn insert_instances(
    tx: &Transaction<'_>,
    instances: &[Instance],
    creator: Option<&str>,
) -> Result<(), StoreError> {
    let mut tokens: Vec<(&str, &str)> = Vec::new();
    for i in instances {
        let Some(token) = &i.client_token else {
            continue;
        };
        let pair = (i.owner.as_str(), token.as_str());
        if tokens.contains(&pair) {
            continue;
        }
        // Held to the commit: a concurrent RunInstances with the token waits, then
        // finds this one's instances.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1 || E'\\n' || $2, 0))",
            &[&i.owner, token],
        )
        .await?;
        let taken = tx
            .query_opt(
                "SELECT 1 FROM instances
                 WHERE owner = $1 AND client_token = $2 AND reservation <> $3 LIMIT 1",
                &[&i.owner, token, &i.reservation],
            )
            .await?;
        if taken.is_some() {
            return Err(exists("client token", token));
        }
        tokens.push(pair);
    }
    let insert = tx
        .prepare(&format!(
            "INSERT INTO instances ({INSTANCE_COLUMNS}, creator) VALUES ($1, $2, $3, $4, $5,
                $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
             ON CONFLICT DO NOTHING"
        ))
        .await?;
    for i in instances {
        let o = &i.observed;
        insert_new(
            tx,
            &insert,
            &[
                &i.id,
                &i.reservation,
                &i.owner,
                &i.image,
                &i.kernel,
                &i.ramdisk,
                &i.vm_type,
                &i.key_name,
                &i.groups,
                &i64::from(i.launch_index),
                &i.cluster,
                &i.launched,
                &i.terminated,
                &i.client_token,
                &o.state,
                &o.private_ip,
                &o.public_ip,
                &o.node,
                &o.seen,
                &o.vanished,
                &creator,
            ],
            "instance",
            &i.id,
        )
        .await?;
    }
    Ok(())
}

/// The volumes `sql` (selecting [`VOLUME_COLUMNS`]) finds with `params`.
async fn select_volumes(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Volume>, StoreError> {
    let rows = client.query(sql, params).await?;
    rows.iter()
        .map(|r| {
            VolumeRow {
                id: r.try_get(0)?,
                owner: r.try_get(1)?,
                size_gb: unsigned(r, 2)?,
                snapshot: r.try_get(3)?,
                zone: r.try_get(4)?,
                created: r.try_get(5)?,
                state: r.try_get(6)?,
                instance: r.try_get(7)?,
                device: r.try_get(8)?,
                remote_dev: r.try_get(9)?,
                attached: r.try_get(10)?,
                client_token: r.try_get(11)?,
            }
            .volume()
        })
        .collect()
}

fn snapshot_from_row(row: &Row) -> Result<Snapshot, StoreError> {
    let progress = unsigned(row, 6)?;
    Ok(Snapshot {
        id: row.try_get(0)?,
        owner: row.try_get(1)?,
        volume: row.try_get(2)?,
        volume_size_gb: unsigned(row, 3)?,
        started: row.try_get(4)?,
        state: SnapshotState::from_name(row.try_get(5)?)?,
        progress: u8::try_from(progress)
            .map_err(|_| StoreError::Value(format!("{progress} is not a percentage")))?,
    })
}

impl Store for PgStore {
    fn directory(&self) -> &Directory {
        &self.directory
    }

    fn delete_account(&self, name: &str) -> StoreFuture<'_, ()> {
        let name = own(name);
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            PgUsers::delete_account(&tx, &name).await?;
            for sql in [
                "DELETE FROM certificates WHERE account = $1",
                "DELETE FROM keypairs WHERE owner = $1",
                "DELETE FROM security_groups WHERE owner = $1",
                "DELETE FROM images WHERE owner = $1",
                "DELETE FROM launch_permissions WHERE grantee = $1",
                "DELETE FROM addresses WHERE owner = $1",
                sla_sql::DELETE_FLOORS,
                sla_sql::DELETE_BREACHES,
                sla_sql::DELETE_SLA,
                "DELETE FROM metric_alarms WHERE owner = $1",
                "DELETE FROM metric_points WHERE owner = $1",
            ] {
                tx.execute(sql, &[&name]).await?;
            }
            // Its reservations end now: they hold no room, and the report keeps them.
            let now = users::events::clock_millis();
            tx.execute(sla_sql::END_RESERVATIONS, &[&now, &name])
                .await?;
            Ok(tx.commit().await?)
        })
    }

    fn delete_user(&self, account: &str, name: &str) -> StoreFuture<'_, ()> {
        let (account, name) = (own(account), own(name));
        Box::pin(async move {
            self.directory.delete_user(&account, &name).await?;
            self.execute(
                "DELETE FROM certificates WHERE account = $1 AND user_name = $2",
                &[&account, &name],
            )
            .await?;
            Ok(())
        })
    }

    fn put_certificate(&self, user: &User, pem: &str) -> StoreFuture<'_, ()> {
        let (account, name, pem) = (user.account.clone(), user.name.clone(), own(pem));
        Box::pin(async move {
            self.execute(
                "INSERT INTO certificates (account, user_name, pem) VALUES ($1, $2, $3)
                     ON CONFLICT (account, user_name) DO UPDATE SET pem = EXCLUDED.pem",
                &[&account, &name, &pem],
            )
            .await?;
            Ok(())
        })
    }

    fn certificate(&self, account: &str, user: &str) -> StoreFuture<'_, Option<String>> {
        let (account, user) = (own(account), own(user));
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT pem FROM certificates WHERE account = $1 AND user_name = $2",
                    &[&account, &user],
                )
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }

    fn delete_certificate(&self, account: &str, user: &str) -> StoreFuture<'_, bool> {
        let (account, user) = (own(account), own(user));
        Box::pin(async move {
            let deleted = self
                .execute(
                    "DELETE FROM certificates WHERE account = $1 AND user_name = $2",
                    &[&account, &user],
                )
                .await?;
            Ok(deleted > 0)
        })
    }

    fn put_facts(&self, facts: &CloudFacts) -> StoreFuture<'_, ()> {
        let facts = facts.clone();
        Box::pin(async move {
            self.execute(
                    "INSERT INTO facts (id, keys, ec2_url, s3_url, region) VALUES (1, $1, $2, $3, $4)
                     ON CONFLICT (id) DO UPDATE SET keys = EXCLUDED.keys, ec2_url = EXCLUDED.ec2_url,
                        s3_url = EXCLUDED.s3_url, region = EXCLUDED.region",
                    &[
                        &facts.keys.to_string_lossy(),
                        &facts.ec2_url,
                        &facts.s3_url,
                        &facts.region,
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn facts(&self) -> StoreFuture<'_, Option<CloudFacts>> {
        Box::pin(async move {
            let row = self
                .query_opt(
                    "SELECT keys, ec2_url, s3_url, region FROM facts WHERE id = 1",
                    &[],
                )
                .await?;
            let facts = |r: Row| -> Result<CloudFacts, StoreError> {
                Ok(CloudFacts {
                    keys: PathBuf::from(r.try_get::<_, String>(0)?),
                    ec2_url: r.try_get(1)?,
                    s3_url: r.try_get(2)?,
                    region: r.try_get(3)?,
                })
            };
            row.map(facts).transpose()
        })
    }

    fn add_cluster(&self, cluster: &Cluster) -> StoreFuture<'_, ()> {
        let cluster = cluster.clone();
        Box::pin(async move {
            insert_new(
                &self.client().await?,
                "INSERT INTO clusters (name, url) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&cluster.name, &cluster.url],
                "cluster",
                &cluster.name,
            )
            .await?;
            Ok(())
        })
    }

    fn remove_cluster(&self, name: &str) -> StoreFuture<'_, ()> {
        let name = own(name);
        Box::pin(async move { self.delete_named("clusters", "cluster", &name).await })
    }

    fn clusters(&self) -> StoreFuture<'_, Vec<Cluster>> {
        Box::pin(async move {
            let rows = self
                .query("SELECT name, url FROM clusters ORDER BY name", &[])
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(Cluster {
                        name: r.try_get(0)?,
                        url: r.try_get(1)?,
                    })
                })
                .collect()
        })
    }

    fn add_node(&self, node: &Node) -> StoreFuture<'_, ()> {
        let node = node.clone();
        Box::pin(async move {
            // One statement: the cluster's row is the condition, so a node never outlives
            // its cluster's deregistration.
            let added = self
                .execute(
                    "INSERT INTO nodes (cluster, host)
                     SELECT name, $2 FROM clusters WHERE name = $1
                     ON CONFLICT DO NOTHING",
                    &[&node.cluster, &node.host],
                )
                .await?;
            if added == 0 {
                let known = self
                    .query_opt("SELECT 1 FROM clusters WHERE name = $1", &[&node.cluster])
                    .await?;
                return Err(match known {
                    None => not_found("cluster", &node.cluster),
                    Some(_) => exists("node", &node.host),
                });
            }
            Ok(())
        })
    }

    fn remove_node(&self, node: &Node) -> StoreFuture<'_, ()> {
        let node = node.clone();
        Box::pin(async move {
            let removed = self
                .execute(
                    "DELETE FROM nodes WHERE cluster = $1 AND host = $2",
                    &[&node.cluster, &node.host],
                )
                .await?;
            if removed == 0 {
                return Err(not_found("node", &node.host));
            }
            Ok(())
        })
    }

    fn nodes(&self) -> StoreFuture<'_, Vec<Node>> {
        Box::pin(async move {
            let rows = self
                .query(
                    "SELECT cluster, host FROM nodes ORDER BY cluster, host",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(Node {
                        cluster: r.try_get(0)?,
                        host: r.try_get(1)?,
                    })
                })
                .collect()
        })
    }

    fn vm_types(&self) -> StoreFuture<'_, Vec<VmType>> {
        Box::pin(async move {
            // Smallest first, as the original listed them.
            let rows = self
                .query(
                    "SELECT name, cores, memory_mb, disk_gb FROM vm_types
                     ORDER BY cores, memory_mb, disk_gb, name",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(VmType {
                        name: r.try_get(0)?,
                        cores: unsigned(r, 1)?,
                        memory_mb: unsigned(r, 2)?,
                        disk_gb: unsigned(r, 3)?,
                    })
                })
                .collect()
        })
    }

    fn set_vm_type(&self, vm_type: &VmType) -> StoreFuture<'_, ()> {
        let t = vm_type.clone();
        Box::pin(async move { put_vm_type(&self.client().await?, &t).await })
    }

    fn add_keypair(&self, keypair: &KeyPair) -> StoreFuture<'_, ()> {
        let k = keypair.clone();
        Box::pin(async move {
            insert_new(
                &self.client().await?,
                "INSERT INTO keypairs (owner, name, fingerprint, public_key)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&k.owner, &k.name, &k.fingerprint, &k.public_key],
                "keypair",
                &k.name,
            )
            .await?;
            Ok(())
        })
    }

    fn delete_keypair(&self, owner: &str, name: &str) -> StoreFuture<'_, bool> {
        let (owner, name) = (own(owner), own(name));
        Box::pin(async move {
            let deleted = self
                .execute(
                    "DELETE FROM keypairs WHERE owner = $1 AND name = $2",
                    &[&owner, &name],
                )
                .await?;
            Ok(deleted > 0)
        })
    }

    fn keypairs(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<KeyPair>> {
        let owner = owner.map(own);
        Box::pin(async move {
            let rows = self
                .query(
                    "SELECT owner, name, fingerprint, public_key FROM keypairs
                     WHERE $1::TEXT IS NULL OR owner = $1 ORDER BY owner, name",
                    &[&owner],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(KeyPair {
                        owner: r.try_get(0)?,
                        name: r.try_get(1)?,
                        fingerprint: r.try_get(2)?,
                        public_key: r.try_get(3)?,
                    })
                })
                .collect()
        })
    }

    fn add_group(&self, group: &SecurityGroup) -> StoreFuture<'_, ()> {
        let g = group.clone();
        Box::pin(async move {
            insert_new(
                &self.client().await?,
                "INSERT INTO security_groups (owner, name, id, description) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                &[&g.owner, &g.name, &g.id, &g.description],
                "security group",
                &g.name,
            )
            .await?;
            Ok(())
        })
    }

    fn delete_group(&self, owner: &str, name: &str) -> StoreFuture<'_, ()> {
        let (owner, name) = (own(owner), own(name));
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let naming = tx
                .query_opt(
                    "SELECT owner, group_name FROM rules WHERE source_owner = $1 AND source_group = $2
                     AND NOT (owner = $1 AND group_name = $2) LIMIT 1",
                    &[&owner, &name],
                )
                .await?;
            if let Some(row) = naming {
                let (by_owner, by_group): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                return Err(StoreError::InUse {
                    what: "security group",
                    name,
                    by: format!("{by_owner}'s group {by_group}"),
                });
            }
            let deleted = tx
                .execute(
                    "DELETE FROM security_groups WHERE owner = $1 AND name = $2",
                    &[&owner, &name],
                )
                .await?;
            if deleted == 0 {
                return Err(not_found("security group", &name));
            }
            Ok(tx.commit().await?)
        })
    }

    fn groups(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<SecurityGroup>> {
        let owner = owner.map(own);
        Box::pin(async move {
            // One statement: the groups and their rules as of one moment.
            let rows = self
                .query(
                    "SELECT g.owner, g.name, g.id, g.description, r.protocol, r.from_port,
                        r.to_port, r.cidr, r.source_owner, r.source_group
                     FROM security_groups g LEFT JOIN rules r
                        ON r.owner = g.owner AND r.group_name = g.name
                     WHERE $1::TEXT IS NULL OR g.owner = $1
                     ORDER BY g.owner, g.name, r.protocol, r.from_port, r.to_port, r.cidr,
                        r.source_owner, r.source_group",
                    &[&owner],
                )
                .await?;
            let mut groups: Vec<SecurityGroup> = Vec::new();
            for row in &rows {
                let (owner, name): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                let same = groups
                    .last()
                    .is_some_and(|g| g.owner == owner && g.name == name);
                if !same {
                    groups.push(SecurityGroup {
                        owner,
                        name,
                        id: row.try_get(2)?,
                        description: row.try_get(3)?,
                        rules: Vec::new(),
                    });
                }
                if let (Some(rule), Some(group)) = (rule_from_row(row)?, groups.last_mut()) {
                    group.rules.push(rule);
                }
            }
            Ok(groups)
        })
    }

    fn authorize(&self, owner: &str, group: &str, rules: &[Rule]) -> StoreFuture<'_, ()> {
        let (owner, group, rules) = (own(owner), own(group), rules.to_vec());
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            group_exists(&tx, &owner, &group).await?;
            for rule in &rules {
                let (cidr, source_owner, source_group) = rule.source.columns();
                insert_new(
                    &tx,
                    "INSERT INTO rules (owner, group_name, protocol, from_port, to_port, cidr,
                        source_owner, source_group)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                    &[
                        &owner,
                        &group,
                        &rule.protocol,
                        &rule.from_port,
                        &rule.to_port,
                        &cidr,
                        &source_owner,
                        &source_group,
                    ],
                    "rule in group",
                    &group,
                )
                .await?;
            }
            Ok(tx.commit().await?)
        })
    }

    fn revoke(&self, owner: &str, group: &str, rules: &[Rule]) -> StoreFuture<'_, ()> {
        let (owner, group, rules) = (own(owner), own(group), rules.to_vec());
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            group_exists(&tx, &owner, &group).await?;
            for rule in &rules {
                if !delete_rule(&tx, &owner, &group, rule).await? {
                    return Err(not_found("rule in group", &group));
                }
            }
            Ok(tx.commit().await?)
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
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ALLOCATION_LOCK])
                .await?;
            if let (Some(owner), Some(limit)) = (&owner, limit) {
                let held: i64 = tx
                    .query_one("SELECT COUNT(*) FROM addresses WHERE owner = $1", &[owner])
                    .await?
                    .try_get(0)?;
                if usize::try_from(held).unwrap_or(usize::MAX) >= limit {
                    return Ok(Allocation::LimitReached);
                }
            }
            let insert = tx
                .prepare(
                    "INSERT INTO addresses (public_ip, cluster, owner, creator)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .await?;
            for candidate in pool {
                let added = tx
                    .execute(
                        &insert,
                        &[&candidate.public_ip, &candidate.cluster, &owner, &creator],
                    )
                    .await?;
                if added > 0 {
                    tx.commit().await?;
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
        Box::pin(async move {
            let rows = self.query(
                    &format!(
                        "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE $1::TEXT IS NULL OR owner = $1"
                    ),
                    &[&owner],
                )
                .await?;
            let mut addresses = rows
                .iter()
                .map(address_from_row)
                .collect::<Result<Vec<_>, _>>()?;
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
        Box::pin(async move {
            let (instance, private_ip) = association.map(|a| (a.instance, a.private_ip)).unzip();
            let changed = self
                .execute(
                    "UPDATE addresses SET instance = $2, private_ip = $3 WHERE public_ip = $1",
                    &[&public_ip, &instance, &private_ip],
                )
                .await?;
            if changed == 0 {
                return Err(not_found("address", &public_ip));
            }
            Ok(())
        })
    }

    fn release_address(&self, public_ip: &str) -> StoreFuture<'_, bool> {
        let public_ip = own(public_ip);
        Box::pin(async move {
            let deleted = self
                .execute("DELETE FROM addresses WHERE public_ip = $1", &[&public_ip])
                .await?;
            Ok(deleted > 0)
        })
    }

    fn detach_addresses(&self, instances: &[String]) -> StoreFuture<'_, Vec<Address>> {
        let instances = instances.to_vec();
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let select = tx
                .prepare(&format!(
                    "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE instance = $1 ORDER BY public_ip"
                ))
                .await?;
            let mut changed = Vec::new();
            for instance in &instances {
                for row in tx.query(&select, &[instance]).await? {
                    changed.push(address_from_row(&row)?);
                }
                tx.execute(
                    "DELETE FROM addresses WHERE instance = $1 AND owner IS NULL",
                    &[instance],
                )
                .await?;
                tx.execute(
                    "UPDATE addresses SET instance = NULL, private_ip = NULL WHERE instance = $1",
                    &[instance],
                )
                .await?;
            }
            tx.commit().await?;
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
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            if !image_exists(&tx, &id).await? {
                return Ok(false);
            }
            if add.public {
                tx.execute("UPDATE images SET public = TRUE WHERE id = $1", &[&id])
                    .await?;
            }
            add_to_image(&tx, ADD_LAUNCH_USERS, &id, &add.users).await?;
            if remove.public {
                tx.execute("UPDATE images SET public = FALSE WHERE id = $1", &[&id])
                    .await?;
            }
            tx.execute(
                "DELETE FROM launch_permissions WHERE image = $1 AND grantee = ANY($2)",
                &[&id, &remove.users],
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn reset_launch_permission(&self, id: &str) -> StoreFuture<'_, bool> {
        let id = own(id);
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let changed = tx
                .execute("UPDATE images SET public = TRUE WHERE id = $1", &[&id])
                .await?;
            if changed == 0 {
                return Ok(false);
            }
            tx.execute("DELETE FROM launch_permissions WHERE image = $1", &[&id])
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn add_product_codes(&self, id: &str, codes: &[String]) -> StoreFuture<'_, bool> {
        let (id, codes) = (own(id), codes.to_vec());
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            if !image_exists(&tx, &id).await? {
                return Ok(false);
            }
            add_to_image(&tx, ADD_PRODUCT_CODES, &id, &codes).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn add_image(&self, image: &Image) -> StoreFuture<'_, ()> {
        let i = image.clone();
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            insert_new(
                &tx,
                "INSERT INTO images (id, owner, location, public, kernel, ramdisk)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &i.id,
                    &i.owner,
                    &i.location,
                    &i.public,
                    &i.kernel,
                    &i.ramdisk,
                ],
                "image",
                &i.id,
            )
            .await?;
            add_to_image(&tx, ADD_PRODUCT_CODES, &i.id, &i.product_codes).await?;
            add_to_image(&tx, ADD_LAUNCH_USERS, &i.id, &i.launch_users).await?;
            Ok(tx.commit().await?)
        })
    }

    fn delete_image(&self, owner: Option<&str>, id: &str) -> StoreFuture<'_, bool> {
        let (owner, id) = (owner.map(own), own(id));
        Box::pin(async move {
            let deleted = self
                .execute(
                    "DELETE FROM images WHERE id = $1 AND ($2::TEXT IS NULL OR owner = $2)",
                    &[&id, &owner],
                )
                .await?;
            Ok(deleted > 0)
        })
    }

    fn images(&self) -> StoreFuture<'_, Vec<Image>> {
        Box::pin(async move {
            let rows = self
                .query(
                    &format!("SELECT {IMAGE_COLUMNS} FROM images i ORDER BY id"),
                    &[],
                )
                .await?;
            rows.iter().map(image_from_row).collect()
        })
    }

    fn add_instances(&self, instances: &[Instance], creator: Option<&str>) -> StoreFuture<'_, ()> {
        let (instances, creator) = (instances.to_vec(), creator.map(own));
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            insert_instances(&tx, &instances, creator.as_deref()).await?;
            Ok(tx.commit().await?)
        })
    }

    fn remove_instances(&self, ids: &[String]) -> StoreFuture<'_, ()> {
        let ids = ids.to_vec();
        Box::pin(async move {
            self.execute("DELETE FROM instances WHERE id = ANY($1)", &[&ids])
                .await?;
            Ok(())
        })
    }

    fn set_terminated(&self, ids: &[String]) -> StoreFuture<'_, ()> {
        let ids = ids.to_vec();
        Box::pin(async move {
            self.execute(
                "UPDATE instances SET terminated = TRUE WHERE id = ANY($1)",
                &[&ids],
            )
            .await?;
            Ok(())
        })
    }

    fn instances(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Instance>> {
        let owner = owner.map(own);
        Box::pin(async move {
            let client = self.client().await?;
            // Two statements, so that each walks its index in order.
            match owner {
                Some(owner) => {
                    select_instances(
                        &client,
                        &format!(
                            "SELECT {INSTANCE_COLUMNS} FROM instances WHERE owner = $1
                             ORDER BY owner, launched, reservation, launch_index"
                        ),
                        &[&owner],
                    )
                    .await
                }
                None => {
                    select_instances(
                        &client,
                        &format!(
                            "SELECT {INSTANCE_COLUMNS} FROM instances
                             ORDER BY launched, reservation, launch_index"
                        ),
                        &[],
                    )
                    .await
                }
            }
        })
    }

    fn live_instances(&self, cluster: &str) -> StoreFuture<'_, Vec<Instance>> {
        let cluster = own(cluster);
        Box::pin(async move {
            select_instances(
                &self.client().await?,
                &format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances WHERE cluster = $1 AND NOT vanished
                     ORDER BY launched, reservation, launch_index"
                ),
                &[&cluster],
            )
            .await
        })
    }

    fn observe(&self, observed: &[(String, Observed)]) -> StoreFuture<'_, ()> {
        let observed = observed.to_vec();
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let update = tx
                .prepare(
                    "UPDATE instances SET cluster_state = $2, private_ip = $3, public_ip = $4,
                        node = $5, seen = $6, vanished = $7 WHERE id = $1",
                )
                .await?;
            for (id, o) in &observed {
                tx.execute(
                    &update,
                    &[
                        id,
                        &o.state,
                        &o.private_ip,
                        &o.public_ip,
                        &o.node,
                        &o.seen,
                        &o.vanished,
                    ],
                )
                .await?;
            }
            Ok(tx.commit().await?)
        })
    }

    fn add_volume(&self, volume: &Volume, creator: Option<&str>) -> StoreFuture<'_, ()> {
        let (v, creator) = (volume.clone(), creator.map(own));
        Box::pin(async move {
            let (instance, device, remote_dev, attached) = attachment_columns(&v);
            insert_new(
                &self.client().await?,
                &format!(
                    "INSERT INTO volumes ({VOLUME_COLUMNS}, creator)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                     ON CONFLICT DO NOTHING"
                ),
                &[
                    &v.id,
                    &v.owner,
                    &i64::from(v.size_gb),
                    &v.snapshot,
                    &v.zone,
                    &v.created,
                    &v.state.name(),
                    &instance,
                    &device,
                    &remote_dev,
                    &attached,
                    &v.client_token,
                    &creator,
                ],
                "volume",
                &v.id,
            )
            .await
        })
    }

    fn change_volume(&self, volume: &Volume, from: VolumeState) -> StoreFuture<'_, bool> {
        let v = volume.clone();
        Box::pin(async move {
            let (instance, device, remote_dev, attached) = attachment_columns(&v);
            let changed = self
                .execute(
                    "UPDATE volumes SET size_gb = $2, snapshot = $3, zone = $4, state = $5,
                        instance = $6, device = $7, remote_dev = $8, attached = $9
                     WHERE id = $1 AND state = $10",
                    &[
                        &v.id,
                        &i64::from(v.size_gb),
                        &v.snapshot,
                        &v.zone,
                        &v.state.name(),
                        &instance,
                        &device,
                        &remote_dev,
                        &attached,
                        &from.name(),
                    ],
                )
                .await?;
            Ok(changed > 0)
        })
    }

    fn remove_volume(&self, id: &str) -> StoreFuture<'_, bool> {
        let id = own(id);
        Box::pin(async move {
            Ok(self
                .execute("DELETE FROM volumes WHERE id = $1", &[&id])
                .await?
                > 0)
        })
    }

    fn volumes(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Volume>> {
        let owner = owner.map(own);
        Box::pin(async move {
            select_volumes(
                &self.client().await?,
                &format!(
                    "SELECT {VOLUME_COLUMNS} FROM volumes WHERE $1::TEXT IS NULL OR owner = $1
                     ORDER BY created, id"
                ),
                &[&owner],
            )
            .await
        })
    }

    fn detach_volumes(&self, instances: &[String]) -> StoreFuture<'_, Vec<Volume>> {
        let instances = instances.to_vec();
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let mut detached = Vec::new();
            for instance in &instances {
                detached.extend(
                    select_volumes(
                        &tx,
                        &format!(
                            "SELECT {VOLUME_COLUMNS} FROM volumes WHERE instance = $1 FOR UPDATE"
                        ),
                        &[instance],
                    )
                    .await?,
                );
                tx.execute(
                    "UPDATE volumes SET state = $2, instance = NULL, device = NULL,
                        remote_dev = NULL, attached = NULL WHERE instance = $1",
                    &[instance, &VolumeState::Available.name()],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(detached)
        })
    }

    fn add_snapshot(&self, snapshot: &Snapshot, creator: Option<&str>) -> StoreFuture<'_, ()> {
        let (s, creator) = (snapshot.clone(), creator.map(own));
        Box::pin(async move {
            insert_new(
                &self.client().await?,
                &format!(
                    "INSERT INTO snapshots ({SNAPSHOT_COLUMNS}, creator)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"
                ),
                &[
                    &s.id,
                    &s.owner,
                    &s.volume,
                    &i64::from(s.volume_size_gb),
                    &s.started,
                    &s.state.name(),
                    &i64::from(s.progress),
                    &creator,
                ],
                "snapshot",
                &s.id,
            )
            .await
        })
    }

    fn change_snapshot(&self, snapshot: &Snapshot) -> StoreFuture<'_, bool> {
        let s = snapshot.clone();
        Box::pin(async move {
            let changed = self
                .execute(
                    "UPDATE snapshots SET state = $2, progress = $3 WHERE id = $1",
                    &[&s.id, &s.state.name(), &i64::from(s.progress)],
                )
                .await?;
            Ok(changed > 0)
        })
    }

    fn remove_snapshot(&self, id: &str) -> StoreFuture<'_, bool> {
        let id = own(id);
        Box::pin(async move {
            Ok(self
                .execute("DELETE FROM snapshots WHERE id = $1", &[&id])
                .await?
                > 0)
        })
    }

    fn snapshots(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Snapshot>> {
        let owner = owner.map(own);
        Box::pin(async move {
            let rows = self
                .query(
                    &format!(
                        "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE $1::TEXT IS NULL OR owner = $1
                         ORDER BY started, id"
                    ),
                    &[&owner],
                )
                .await?;
            rows.iter().map(snapshot_from_row).collect()
        })
    }

    fn user_by_certificate(&self, pem: &str) -> StoreFuture<'_, Option<User>> {
        let pem = own(pem);
        Box::pin(async move {
            // One certificate per user: a scan of a small table.
            let Some(row) = self
                .query_opt(
                    "SELECT account, user_name FROM certificates WHERE pem = $1",
                    &[&pem],
                )
                .await?
            else {
                return Ok(None);
            };
            let (account, name): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            Ok(self.directory.user(&account, &name).await?)
        })
    }

    fn in_use(&self, account: &str, creator: Option<&str>) -> StoreFuture<'_, InUse> {
        let (account, creator) = (own(account), creator.map(own));
        Box::pin(async move {
            let row = self
                .client()
                .await?
                .query_one(IN_USE, &[&account, &creator])
                .await?;
            let mut columns = [0; 7];
            for (i, column) in columns.iter_mut().enumerate() {
                *column = row.try_get(i)?;
            }
            Ok(InUse::from_columns(columns))
        })
    }

    fn put_sla(&self, sla: &Sla, at: i64) -> StoreFuture<'_, ()> {
        let sla = sla.clone();
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let placement = sla.placement.map(|p| p.name());
            tx.execute(
                sla_sql::UPSERT_SLA,
                &[
                    &sla.account,
                    &sla.priority,
                    &placement,
                    &sla.burst.name(),
                    &sla.webhook,
                ],
            )
            .await?;
            tx.execute(sla_sql::END_RESERVATIONS, &[&at, &sla.account])
                .await?;
            for r in &sla.reservations {
                let count = i64::from(r.count);
                tx.execute(
                    sla_sql::INSERT_RESERVATION,
                    &[&sla.account, &r.zone, &r.vm_type, &count, &at],
                )
                .await?;
            }
            tx.execute(sla_sql::DELETE_FLOORS, &[&sla.account]).await?;
            for f in &sla.floors {
                let floor = i64::from(f.floor);
                tx.execute(
                    sla_sql::INSERT_FLOOR,
                    &[&sla.account, &f.zone_column(), &f.vm_type, &floor],
                )
                .await?;
            }
            tx.execute(sla_sql::DROP_STALE_BREACHES, &[&sla.account])
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn slas(&self) -> StoreFuture<'_, Vec<Sla>> {
        Box::pin(async move {
            let client = self.client().await?;
            let mut slas = client
                .query(sla_sql::SELECT_SLAS, &[])
                .await?
                .iter()
                .map(|r| {
                    Sla::from_columns(
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                        r.try_get(4)?,
                    )
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let reservations = client
                .query(sla_sql::SELECT_CURRENT_RESERVATIONS, &[])
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, reservation(r)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            Sla::attach(&mut slas, reservations, |s, r| s.reservations.push(r));
            let floors = client
                .query(sla_sql::SELECT_FLOORS, &[])
                .await?
                .iter()
                .map(|r| {
                    let floor = Floor::from_columns(r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
                    Ok((r.try_get(0)?, floor))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Sla::attach(&mut slas, floors, |s, f| s.floors.push(f));
            Ok(slas)
        })
    }

    fn delete_sla(&self, account: &str, at: i64) -> StoreFuture<'_, bool> {
        let account = own(account);
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            tx.execute(sla_sql::END_RESERVATIONS, &[&at, &account])
                .await?;
            tx.execute(sla_sql::DELETE_FLOORS, &[&account]).await?;
            tx.execute(sla_sql::DELETE_BREACHES, &[&account]).await?;
            let deleted = tx.execute(sla_sql::DELETE_SLA, &[&account]).await?;
            tx.commit().await?;
            Ok(deleted > 0)
        })
    }

    fn reservation_history(&self, from: i64, to: i64) -> StoreFuture<'_, Vec<Reserved>> {
        Box::pin(async move {
            self.query(sla_sql::SELECT_RESERVATION_HISTORY, &[&from, &to])
                .await?
                .iter()
                .map(|r| {
                    Ok(Reserved {
                        account: r.try_get(0)?,
                        reservation: reservation(r)?,
                        since: r.try_get(4)?,
                        until: r.try_get(5)?,
                    })
                })
                .collect()
        })
    }

    fn open_breach(&self, breach: &Breach) -> StoreFuture<'_, bool> {
        let b = breach.clone();
        Box::pin(async move {
            let added = self
                .execute(
                    sla_sql::OPEN_BREACH,
                    &[&b.account, &b.zone, &b.vm_type, &b.since],
                )
                .await?;
            Ok(added > 0)
        })
    }

    fn close_breach(&self, breach: &Breach) -> StoreFuture<'_, bool> {
        let b = breach.clone();
        Box::pin(async move {
            let removed = self
                .execute(sla_sql::CLOSE_BREACH, &[&b.account, &b.zone, &b.vm_type])
                .await?;
            Ok(removed > 0)
        })
    }

    fn running_by_zone(&self, vm_type: &str) -> StoreFuture<'_, Vec<(String, String, u32)>> {
        let vm_type = own(vm_type);
        Box::pin(async move {
            self.query(sla_sql::RUNNING_BY_ZONE, &[&vm_type])
                .await?
                .iter()
                .map(|r| {
                    let count: i64 = r.try_get(2)?;
                    let count =
                        u32::try_from(count).map_err(|e| StoreError::Value(e.to_string()))?;
                    Ok((r.try_get(0)?, r.try_get(1)?, count))
                })
                .collect()
        })
    }

    fn breaches(&self) -> StoreFuture<'_, Vec<Breach>> {
        Box::pin(async move {
            self.query(sla_sql::SELECT_BREACHES, &[])
                .await?
                .iter()
                .map(|r| {
                    Ok(Breach {
                        account: r.try_get(0)?,
                        zone: r.try_get(1)?,
                        vm_type: r.try_get(2)?,
                        since: r.try_get(3)?,
                    })
                })
                .collect()
        })
    }
    // ---- Monitoring: the SQL is crate::monitoring::postgres's ----
    // ---- Monitoring: the SQL is metrics::postgres's ----
    fn add_points(&self, points: &[Point]) -> StoreFuture<'_, ()> {
        let points = points.to_vec();
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            monitoring::add_points(&tx, &points).await?;
            Ok(tx.commit().await?)
        })
    }

    fn points(
        &self,
        instance: &str,
        metric: Metric,
        from: i64,
        to: i64,
    ) -> StoreFuture<'_, Vec<Point>> {
        let instance = own(instance);
        Box::pin(async move {
            monitoring::points(&self.client().await?, &instance, metric, from, to).await
        })
    }

    fn metrics(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<(String, Metric)>> {
        let owner = owner.map(own);
        Box::pin(async move { monitoring::metrics(&self.client().await?, owner.as_deref()).await })
    }

    fn forget_points(&self, before: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move { monitoring::forget_points(&self.client().await?, before).await })
    }

    fn put_alarm(&self, alarm: &Alarm) -> StoreFuture<'_, ()> {
        let alarm = alarm.clone();
        Box::pin(async move { monitoring::put_alarm(&self.client().await?, &alarm).await })
    }

    fn alarms(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Alarm>> {
        let owner = owner.map(own);
        Box::pin(async move { monitoring::alarms(&self.client().await?, owner.as_deref()).await })
    }

    fn alarms_on(&self, instances: &[String]) -> StoreFuture<'_, Vec<Alarm>> {
        let instances = instances.to_vec();
        Box::pin(async move { monitoring::alarms_on(&self.client().await?, &instances).await })
    }

    fn delete_alarms(&self, owner: &str, names: &[String]) -> StoreFuture<'_, u64> {
        let (owner, names) = (own(owner), names.to_vec());
        Box::pin(
            async move { monitoring::delete_alarms(&self.client().await?, &owner, &names).await },
        )
    }

    fn change_alarm_state(
        &self,
        owner: &str,
        name: &str,
        from: AlarmState,
        to: &StateChange,
    ) -> StoreFuture<'_, bool> {
        let (owner, name, to) = (own(owner), own(name), to.clone());
        Box::pin(async move {
            monitoring::change_alarm_state(&self.client().await?, &owner, &name, from, &to).await
        })
    }
    // ---- end of monitoring ----

    fn by_client_token(&self, owner: &str, client_token: &str) -> StoreFuture<'_, Vec<Instance>> {
        let (owner, token) = (own(owner), own(client_token));
        Box::pin(async move {
            select_instances(
                &self.client().await?,
                &format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances WHERE owner = $1 AND client_token = $2
                     ORDER BY launch_index"
                ),
                &[&owner, &token],
            )
            .await
        })
    }
    fn add_burst_target(&self, target: &BurstTarget) -> StoreFuture<'_, ()> {
        let t = target.clone();
        Box::pin(async move {
            insert_new(
                &self.client().await?,
                &format!(
                    "INSERT INTO burst_targets ({BURST_TARGET_COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"
                ),
                &[
                    &t.name,
                    &t.endpoint,
                    &t.region,
                    &t.access_key,
                    &t.sealed_secret,
                    &t.image_map_column(),
                    &t.max_instances.map(i64::from),
                    &t.accounts_column(),
                ],
                "burst target",
                &t.name,
            )
            .await
        })
    }

    fn remove_burst_target(&self, name: &str) -> StoreFuture<'_, ()> {
        let name = own(name);
        Box::pin(async move {
            self.delete_named("burst_targets", "burst target", &name)
                .await
        })
    }

    fn burst_targets(&self) -> StoreFuture<'_, Vec<BurstTarget>> {
        Box::pin(async move {
            let rows = self
                .query(
                    &format!("SELECT {BURST_TARGET_COLUMNS} FROM burst_targets ORDER BY name"),
                    &[],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let max: Option<i64> = r.try_get(6)?;
                    let max = max
                        .map(|m| {
                            u32::try_from(m).map_err(|_| {
                                StoreError::Value(format!("{m} instances is not a u32"))
                            })
                        })
                        .transpose()?;
                    Ok(BurstTarget::from_columns(
                        [
                            r.try_get(0)?,
                            r.try_get(1)?,
                            r.try_get(2)?,
                            r.try_get(3)?,
                            r.try_get(4)?,
                            r.try_get(5)?,
                        ],
                        max,
                        r.try_get(7)?,
                    ))
                })
                .collect()
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
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            insert_instances(&tx, &instances, creator.as_deref()).await?;
            for r in &remotes {
                tx.execute(
                    "INSERT INTO burst_instances (id, target, remote_id) VALUES ($1, $2, $3)",
                    &[&r.id, &r.target, &r.remote_id],
                )
                .await?;
            }
            Ok(tx.commit().await?)
        })
    }

    fn remote_instances(&self, ids: &[String]) -> StoreFuture<'_, Vec<RemoteInstance>> {
        let ids = ids.to_vec();
        Box::pin(async move {
            let rows = self
                .query(
                    "SELECT id, target, remote_id FROM burst_instances WHERE id = ANY($1)
                     ORDER BY id",
                    &[&ids],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(RemoteInstance {
                        id: r.try_get(0)?,
                        target: r.try_get(1)?,
                        remote_id: r.try_get(2)?,
                    })
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::suite;

    /// A store on a fresh database of the test server, or `None` (printed) when PostgreSQL
    /// is not installed.
    async fn store() -> Option<(String, PgStore)> {
        let url = match pgtest::database() {
            Ok(url) => url,
            Err(skip) => {
                println!("skipped: {skip}");
                return None;
            }
        };
        let store = PgStore::connect(&url).await.unwrap();
        Some((url, store))
    }

    #[tokio::test]
    async fn the_store_suite_passes() {
        let Some((_, store)) = store().await else {
            return;
        };
        suite::run(&store).await;
    }

    #[tokio::test]
    async fn a_reconnected_store_keeps_changes_and_migrates_once() {
        let Some((url, store)) = store().await else {
            return;
        };
        let bigger = VmType {
            name: "m1.small".into(),
            cores: 2,
            memory_mb: 512,
            disk_gb: 4,
        };
        store.set_vm_type(&bigger).await.unwrap();
        drop(store);
        let again = PgStore::connect(&url).await.unwrap();
        let types = again.vm_types().await.unwrap();
        assert!(types.contains(&bigger), "{types:?}");
        assert_eq!(types.len(), 5);
    }

    #[tokio::test]
    async fn a_database_of_a_newer_schema_is_refused() {
        let Some((url, store)) = store().await else {
            return;
        };
        store
            .client()
            .await
            .unwrap()
            .execute("INSERT INTO schema_version (version) VALUES (99)", &[])
            .await
            .unwrap();
        let opened = PgStore::connect(&url).await;
        assert!(
            matches!(opened, Err(StoreError::Newer { found: 99, .. })),
            "{opened:?}"
        );
    }

    #[tokio::test]
    async fn instances_recorded_before_the_reconcile_columns_are_kept() {
        // Guards against an upgrade losing the instances an older cloud recorded.
        let Ok(url) = pgtest::database() else {
            return println!("skipped: PostgreSQL is not installed");
        };
        let pool = users::connect(&url).unwrap();
        let client = pool.get().await.unwrap();
        client
            .batch_execute(&MIGRATIONS[..2].concat())
            .await
            .unwrap();
        client
            .batch_execute(
                "CREATE TABLE schema_version (version BIGINT NOT NULL);
                 INSERT INTO schema_version VALUES (2);
                 INSERT INTO instances (id, reservation, owner, image, vm_type, groups,
                    launch_index, cluster, launched) VALUES
                    ('i-00000001', 'r-00000001', 'ann', 'emi-00000001', 'm1.small', '{default}', 0, 'z', 5)",
            )
            .await
            .unwrap();
        let store = PgStore::connect(&url).await.unwrap();
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
        let Ok(url) = pgtest::database() else {
            return println!("skipped: PostgreSQL is not installed");
        };
        let pool = users::connect(&url).unwrap();
        let client = pool.get().await.unwrap();
        client
            .batch_execute(&MIGRATIONS[..5].concat())
            .await
            .unwrap();
        client
            .batch_execute(
                "CREATE TABLE schema_version (version BIGINT NOT NULL);
                 INSERT INTO schema_version VALUES (5);
                 INSERT INTO certificates (owner, pem) VALUES ('bob', 'PEM bob')",
            )
            .await
            .unwrap();
        let store = PgStore::connect(&url).await.unwrap();
        assert_eq!(
            store.certificate("bob", users::ROOT_NAME).await.unwrap(),
            Some("PEM bob".to_owned())
        );
    }

    #[tokio::test]
    async fn concurrent_launches_with_one_client_token_record_one_reservation() {
        // Guards the token's lock: without it both transactions find the token free.
        let Some((_, store)) = store().await else {
            return;
        };
        for round in 0..20u32 {
            let token = format!("token-{round}");
            let launch = |n: u32| {
                let id = format!("{round:04x}{n:04x}");
                let mut i = suite::sample(&format!("i-{id}"), "ann", &format!("r-{id}"), "z", 0);
                i.client_token = Some(token.clone());
                [i]
            };
            let (one, two) = (launch(1), launch(2));
            let (one, two) = tokio::join!(
                store.add_instances(&one, None),
                store.add_instances(&two, None)
            );
            assert_eq!(
                u8::from(one.is_ok()) + u8::from(two.is_ok()),
                1,
                "{one:?} {two:?}"
            );
            assert_eq!(store.by_client_token("ann", &token).await.unwrap().len(), 1);
        }
    }

    #[tokio::test]
    async fn concurrent_allocations_keep_a_users_limit() {
        // Guards the allocation lock: without it each transaction counts the others' out.
        let Some((_, store)) = store().await else {
            return;
        };
        let pool: Vec<PoolAddress> = (1..=16)
            .map(|i| PoolAddress {
                cluster: "z".into(),
                public_ip: format!("192.0.2.{i}"),
            })
            .collect();
        for user in ["u1", "u2", "u3", "u4"] {
            let allocate = || store.allocate_address(Some(user), None, &pool, Some(2));
            let all = tokio::join!(allocate(), allocate(), allocate(), allocate());
            let all = [all.0, all.1, all.2, all.3].map(Result::unwrap);
            let allocated = all
                .iter()
                .filter(|a| matches!(a, Allocation::Allocated(_)))
                .count();
            assert_eq!(allocated, 2, "{all:?}");
            assert_eq!(store.addresses(Some(user)).await.unwrap().len(), 2);
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("postgresql://nobody@/db?host={}", dir.path().display());
        let opened = PgStore::connect(&url).await;
        // The directory's migrations are the first to connect.
        assert!(
            matches!(opened, Err(StoreError::Users(users::UserError::Pool(_)))),
            "{opened:?}"
        );
    }
}

//! The cloud's state behind one interface: users and their certificates, the cloud's own
//! facts, clusters and the nodes registered with them, VM types, keypairs, security groups
//! and their rules, images with their launch permissions and product codes, instances,
//! elastic addresses, EBS volumes and snapshots.
//!
//! [`Store`] is engine-neutral and async: every call returns a boxed future. Two engines
//! implement it: SQLite files in DATA ([`SqliteStore`], the default; each call on a
//! blocking thread) and a PostgreSQL database ([`PgStore`], `euca cloud --db URL`), and
//! one suite (`suite.rs`) checks both. [`open`] picks the engine.

pub mod metrics;
mod postgres;
pub mod sla;
mod sqlite;
#[cfg(test)]
pub(crate) mod suite;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use users::{Directory, User};

use metrics::{Alarm, AlarmState, Metric, Point, StateChange};

/// What every store call returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why a store call failed. The conflicts and absences are the caller's business (they
/// become EC2 error codes); the rest are the engine's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} {name:?} already exists")]
    Exists { what: &'static str, name: String },
    #[error("no {what} {name:?}")]
    NotFound { what: &'static str, name: String },
    #[error("{what} {name:?} is named by {by}")]
    InUse {
        what: &'static str,
        name: String,
        by: String,
    },
    #[error(transparent)]
    Users(#[from] users::UserError),
    #[error("cloud database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cloud database {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cloud database {database} has schema version {found}, newer than this program's {known}"
    )]
    Newer {
        database: String,
        found: i64,
        known: i64,
    },
    #[error("cloud database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cloud database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("cloud database: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("cloud database: {0}")]
    Value(String),
    #[error("{path}: {source}")]
    Record {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Opens the store of the cloud controller whose DATA is `data`: the PostgreSQL database
/// at `db` when given (and recorded in DATA, where `euca admin` and Walrus's `--identity`
/// find it), else the one DATA recorded, else the SQLite files in DATA.
pub async fn open(data: &Path, db: Option<&str>) -> Result<Arc<dyn Store>, StoreError> {
    let record = data.join(users::DATABASE_URL_FILE);
    let recorded = |source| StoreError::Record {
        path: record.clone(),
        source,
    };
    let location = match db {
        Some(url) => users::Location::Postgres(url.to_owned()),
        None => {
            let data = data.to_owned();
            kit::blocking(move || users::Location::of_cloud(&data))
                .await
                .map_err(recorded)?
        }
    };
    Ok(match location {
        users::Location::Postgres(url) => {
            let store = PgStore::connect(&url).await?;
            if db.is_some() {
                let path = record.clone();
                kit::blocking(move || kit::private::write_file(&path, url.as_bytes()))
                    .await
                    .map_err(recorded)?;
            }
            Arc::new(store)
        }
        users::Location::Sqlite(_) => {
            let data = data.to_owned();
            Arc::new(kit::blocking(move || SqliteStore::open(&data)).await?)
        }
    })
}

fn exists(what: &'static str, name: &str) -> StoreError {
    StoreError::Exists {
        what,
        name: name.to_owned(),
    }
}

fn not_found(what: &'static str, name: &str) -> StoreError {
    StoreError::NotFound {
        what,
        name: name.to_owned(),
    }
}

/// Owned copies of borrowed arguments, for the futures and threads that outlive them.
fn own(text: &str) -> String {
    text.to_owned()
}

/// What the cloud controller records about itself when it starts, so that `euca admin`
/// (which is given only DATA) can issue credentials as the running cloud would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudFacts {
    /// The folder of `cloud-cert.pem` and `cloud-pk.pem`, which issue user certificates.
    pub keys: PathBuf,
    /// `EC2_URL` of every eucarc.
    pub ec2_url: String,
    /// `S3_URL` of every eucarc.
    pub s3_url: String,
    /// `AWS_DEFAULT_REGION` of every eucarc, and the region the cloud names itself.
    pub region: String,
}

/// A cluster controller registered with the cloud: one availability zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub name: String,
    /// Its EucalyptusCC service URL.
    pub url: String,
}

/// A node registered with a cluster (`euca_conf --register-nodes` in the original, which
/// wrote the CC's `NODES`): the cloud's record of the nodes its CC is to run, which the
/// console shows beside the nodes the CC reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub cluster: String,
    /// `HOST` or `HOST:PORT`, as `NODES` names a node.
    pub host: String,
}

/// A VM type: what an instance of it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmType {
    pub name: String,
    pub cores: u32,
    pub memory_mb: u32,
    pub disk_gb: u32,
}

/// The VM types of a new cloud (CONTRACT.md): name, cores, memory MB, disk GB.
pub const DEFAULT_VM_TYPES: [(&str, u32, u32, u32); 5] = [
    ("m1.small", 1, 128, 2),
    ("c1.medium", 1, 256, 5),
    ("m1.large", 2, 512, 10),
    ("m1.xlarge", 2, 1024, 20),
    ("c1.xlarge", 4, 2048, 20),
];

/// A user's keypair; the private key is never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The owning user's name.
    pub owner: String,
    pub name: String,
    /// EC2's fingerprint: colon-separated SHA-1 of the private key's DER PKCS#8 form.
    pub fingerprint: String,
    /// The public key in OpenSSH form (`ssh-rsa AAAA... name`), as instances receive it.
    pub public_key: String,
}

/// Where a rule lets traffic come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// An address block, `a.b.c.d/n`.
    Cidr(String),
    /// The instances of a user's group.
    Group { owner: String, name: String },
}

impl Source {
    /// The source as the engines' three columns (`cidr`, `source_owner`, `source_group`):
    /// the one that does not apply is empty.
    fn columns(&self) -> (&str, &str, &str) {
        match self {
            Self::Cidr(cidr) => (cidr, "", ""),
            Self::Group { owner, name } => ("", owner, name),
        }
    }

    /// The source those three columns hold.
    fn from_columns(cidr: String, owner: String, name: String) -> Self {
        if cidr.is_empty() {
            Self::Group { owner, name }
        } else {
            Self::Cidr(cidr)
        }
    }
}

/// One ingress permission of a security group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub source: Source,
}

/// A user's security group with its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroup {
    pub owner: String,
    pub name: String,
    /// `sg-` and 8 hex digits.
    pub id: String,
    pub description: String,
    pub rules: Vec<Rule>,
}

/// What an image boots as, from its id's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// `emi-`: a root filesystem.
    Machine,
    /// `eki-`: a kernel.
    Kernel,
    /// `eri-`: a ramdisk.
    Ramdisk,
}

impl ImageKind {
    /// The id's prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Machine => "emi",
            Self::Kernel => "eki",
            Self::Ramdisk => "eri",
        }
    }

    /// EC2's `imageType`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Machine => "machine",
            Self::Kernel => "kernel",
            Self::Ramdisk => "ramdisk",
        }
    }

    /// The kind whose id `id` is, by its prefix.
    pub fn of_id(id: &str) -> Option<Self> {
        [Self::Machine, Self::Kernel, Self::Ramdisk]
            .into_iter()
            .find(|k| {
                id.strip_prefix(k.prefix())
                    .is_some_and(|rest| rest.starts_with('-'))
            })
    }
}

/// An image registered from a bundle's manifest in Walrus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// `emi-`, `eki-` or `eri-` and 8 hex digits.
    pub id: String,
    /// The registering user's name.
    pub owner: String,
    /// The manifest's location in Walrus, `bucket/key.manifest.xml`.
    pub location: String,
    pub kind: ImageKind,
    /// Whether every user may run it (launch permission group `all`; the original
    /// registered images public).
    pub public: bool,
    /// The kernel and ramdisk its manifest names (`machine_configuration`).
    pub kernel: Option<String>,
    pub ramdisk: Option<String>,
    /// Its product codes, sorted.
    pub product_codes: Vec<String>,
    /// The users besides its owner granted to run it, sorted.
    pub launch_users: Vec<String>,
}

/// Who may run an image, as ModifyImageAttribute grants or revokes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchPermission {
    /// Group `all`: every user.
    pub public: bool,
    pub users: Vec<String>,
}

/// A public address of a cluster's pool (its VNET_PUBLICIPS) that the cloud gave out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub public_ip: String,
    /// The cluster whose pool it is.
    pub cluster: String,
    /// The user it is allocated to; `None`: the cloud's own, given to an instance at launch
    /// and released when it is no longer the instance's.
    pub owner: Option<String>,
    /// The instance it is associated with, and that instance's private address.
    pub association: Option<Association>,
}

/// An address's mapping to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub instance: String,
    pub private_ip: String,
}

impl Association {
    /// The association the engines' `instance` and `private_ip` columns hold (both or
    /// neither).
    fn from_columns(instance: Option<String>, private_ip: Option<String>) -> Option<Self> {
        instance.zip(private_ip).map(|(instance, private_ip)| Self {
            instance,
            private_ip,
        })
    }
}

/// A public address a cluster offers, as a candidate to allocate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolAddress {
    pub cluster: String,
    pub public_ip: String,
}

/// Puts addresses in the order the store lists them: by address as a number, the order of
/// the pool.
fn sort_addresses(addresses: &mut [Address]) {
    addresses.sort_by_key(|a| {
        (
            a.public_ip.parse::<std::net::Ipv4Addr>().ok(),
            a.public_ip.clone(),
        )
    });
}

/// What an allocation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocation {
    Allocated(Address),
    /// Every address of the pool is held.
    PoolExhausted,
    /// The user already holds as many addresses as they may.
    LimitReached,
}

/// An instance the cloud asked a cluster to run: what it was launched with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// `i-` and 8 hex digits.
    pub id: String,
    /// `r-` and 8 hex digits, shared by the instances of one RunInstances.
    pub reservation: String,
    pub owner: String,
    pub image: String,
    pub kernel: Option<String>,
    pub ramdisk: Option<String>,
    pub vm_type: String,
    pub key_name: Option<String>,
    /// Its security groups' names.
    pub groups: Vec<String>,
    /// Its place in its reservation, from 0.
    pub launch_index: u32,
    /// The cluster (zone) running it.
    pub cluster: String,
    /// When it was asked for, seconds since the epoch.
    pub launched: i64,
    /// Whether TerminateInstances was asked for it.
    pub terminated: bool,
    /// RunInstances' idempotency token, when the client sent one.
    pub client_token: Option<String>,
    /// What its cluster last reported of it.
    pub observed: Observed,
}

/// What a cluster last reported of an instance, as the cloud's tick recorded it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The cluster's state name (`Pending`, `Extant`, `Teardown`); `None` until the cluster
    /// first reports the instance.
    pub state: Option<String>,
    pub private_ip: String,
    pub public_ip: String,
    /// The node running it (the cluster's `serviceTag`).
    pub node: String,
    /// When the cluster last reported it, seconds since the epoch.
    pub seen: Option<i64>,
    /// Whether its cluster no longer reports it: it is gone.
    pub vanished: bool,
}

/// Where a volume is in its life, and in its attachment (EC2's `status` and
/// `attachmentSet/item/status` in one, so that one compare-and-set moves both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeState {
    /// Recorded; the SC is (or was, before a restart) asked to create it.
    Creating,
    Available,
    /// Recorded as attaching to an instance; the SC exports it and the CC attaches it.
    Attaching,
    Attached,
    Detaching,
    /// Recorded as deleting; the SC is asked to delete it, and the record goes when it has.
    Deleting,
}

impl VolumeState {
    const ALL: [Self; 6] = [
        Self::Creating,
        Self::Available,
        Self::Attaching,
        Self::Attached,
        Self::Detaching,
        Self::Deleting,
    ];

    /// The engines' `state` column.
    pub fn name(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::Available => "available",
            Self::Attaching => "attaching",
            Self::Attached => "attached",
            Self::Detaching => "detaching",
            Self::Deleting => "deleting",
        }
    }

    fn from_name(name: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| StoreError::Value(format!("{name:?} is not a volume state")))
    }

    /// EC2's `status` of the volume.
    pub fn ec2(self) -> &'static str {
        match self {
            Self::Attaching | Self::Attached | Self::Detaching => "in-use",
            other => other.name(),
        }
    }
}

/// A volume's attachment to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub instance: String,
    /// The device the user named (`/dev/sdf`).
    pub device: String,
    /// The SC's export of the volume to the instance's node (`nbd://...`); empty until the
    /// SC has answered.
    pub remote_dev: String,
    /// When it was asked for, seconds since the epoch.
    pub attached: i64,
}

/// An EBS volume, kept by the SC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// `vol-` and 8 hex digits.
    pub id: String,
    pub owner: String,
    pub size_gb: u32,
    /// The snapshot it was made from.
    pub snapshot: Option<String>,
    /// Its availability zone (a cluster's name).
    pub zone: String,
    /// When it was asked for, seconds since the epoch.
    pub created: i64,
    pub state: VolumeState,
    /// Present in the attaching, attached and detaching states.
    pub attachment: Option<Attachment>,
    /// CreateVolume's idempotency token, when the client sent one.
    pub client_token: Option<String>,
}

/// Where a snapshot is: EC2's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotState {
    Pending,
    Completed,
    Error,
}

impl SnapshotState {
    /// EC2's `status`, and the engines' `state` column.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::Error => "error",
        }
    }

    fn from_name(name: &str) -> Result<Self, StoreError> {
        [Self::Pending, Self::Completed, Self::Error]
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| StoreError::Value(format!("{name:?} is not a snapshot state")))
    }
}

/// A point-in-time copy of a volume, kept by the SC (in Walrus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `snap-` and 8 hex digits.
    pub id: String,
    pub owner: String,
    pub volume: String,
    /// The volume's size when it was taken: a volume made from it has at least this.
    pub volume_size_gb: u32,
    /// When it was asked for, seconds since the epoch.
    pub started: i64,
    pub state: SnapshotState,
    /// Percent copied, 0 to 100.
    pub progress: u8,
}

/// The engines' columns of a volume, in the order [`VolumeRow`] holds them.
const VOLUME_COLUMNS: &str = "id, owner, size_gb, snapshot, zone, created, state, instance, device,
    remote_dev, attached, client_token";

/// A volume as the engines' columns hold it: the attachment's four are all set or none.
struct VolumeRow {
    id: String,
    owner: String,
    size_gb: u32,
    snapshot: Option<String>,
    zone: String,
    created: i64,
    state: String,
    instance: Option<String>,
    device: Option<String>,
    remote_dev: Option<String>,
    attached: Option<i64>,
    client_token: Option<String>,
}

impl VolumeRow {
    fn volume(self) -> Result<Volume, StoreError> {
        let attachment = match (self.instance, self.device) {
            (Some(instance), Some(device)) => Some(Attachment {
                instance,
                device,
                remote_dev: self.remote_dev.unwrap_or_default(),
                attached: self.attached.unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(Volume {
            id: self.id,
            owner: self.owner,
            size_gb: self.size_gb,
            snapshot: self.snapshot,
            zone: self.zone,
            created: self.created,
            state: VolumeState::from_name(&self.state)?,
            attachment,
            client_token: self.client_token,
        })
    }
}

/// The engines' attachment columns of `volume`: instance, device, remote_dev, attached.
fn attachment_columns(volume: &Volume) -> (Option<&str>, Option<&str>, Option<&str>, Option<i64>) {
    match &volume.attachment {
        Some(a) => (
            Some(&a.instance),
            Some(&a.device),
            Some(&a.remote_dev),
            Some(a.attached),
        ),
        None => (None, None, None, None),
    }
}

/// The engines' columns of a snapshot.
const SNAPSHOT_COLUMNS: &str = "id, owner, volume, volume_size_gb, started, state, progress";

// Cloud-bursting (the `burst` module): the other EC2 clouds RunInstances may run on, and the
// remote ids of the instances it ran there.

/// Another EC2 cloud that runs what the local zones cannot place (`euca admin burst add`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurstTarget {
    pub name: String,
    /// Its EC2 Query endpoint URL.
    pub endpoint: String,
    /// The region its SigV4 signatures are scoped to.
    pub region: String,
    pub access_key: String,
    /// The secret key, sealed with a key derived from the cloud's (`burst::seal`): the store
    /// never holds it in clear.
    pub sealed_secret: String,
    /// Local machine image id → the target's image id, by local id.
    pub image_map: Vec<(String, String)>,
    /// The most instances it runs for this cloud at once; `None`: no limit.
    pub max_instances: Option<u32>,
    /// The accounts that may burst to it; `None`: every account.
    pub accounts: Option<Vec<String>>,
}

impl BurstTarget {
    /// The availability zone its instances are listed in.
    pub fn zone(&self) -> String {
        burst_zone(&self.name)
    }

    /// The engines' `image_map` column: `local=remote` lines.
    fn image_map_column(&self) -> String {
        let lines: Vec<String> = self
            .image_map
            .iter()
            .map(|(local, remote)| format!("{local}={remote}"))
            .collect();
        lines.join("\n")
    }

    /// The engines' `accounts` column: names one per line, NULL for every account.
    fn accounts_column(&self) -> Option<String> {
        self.accounts.as_ref().map(|a| a.join("\n"))
    }

    /// The target the engines' columns hold.
    fn from_columns(
        [name, endpoint, region, access_key, sealed_secret, image_map]: [String; 6],
        max_instances: Option<u32>,
        accounts: Option<String>,
    ) -> Self {
        Self {
            name,
            endpoint,
            region,
            access_key,
            sealed_secret,
            image_map: image_map
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(local, remote)| (local.to_owned(), remote.to_owned()))
                .collect(),
            max_instances,
            accounts: accounts.map(|a| a.lines().map(str::to_owned).collect()),
        }
    }
}

/// The availability zone of burst target `name`.
pub fn burst_zone(name: &str) -> String {
    format!("burst-{name}")
}

/// The engines' columns of a burst target, in [`BurstTarget::from_columns`]' order.
const BURST_TARGET_COLUMNS: &str =
    "name, endpoint, region, access_key, sealed_secret, image_map, max_instances, accounts";

/// An instance run on a burst target: its local id and its id there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteInstance {
    pub id: String,
    pub target: String,
    pub remote_id: String,
}

/// What an account holds now, or what one user made of it, as quotas count it: instances
/// not asked to terminate (with their VM types' cores and memory), volumes not asked to be
/// deleted (with their sizes), snapshots and elastic addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InUse {
    pub instances: u64,
    pub cores: u64,
    pub memory_mb: u64,
    pub volumes: u64,
    pub volume_gb: u64,
    pub snapshots: u64,
    pub addresses: u64,
}

impl InUse {
    /// Its amount of `resource`; `None` for what the cloud does not hold (buckets).
    pub fn of(&self, resource: users::Resource) -> Option<u64> {
        use users::Resource as R;
        match resource {
            R::Instances => Some(self.instances),
            R::Cores => Some(self.cores),
            R::Memory => Some(self.memory_mb),
            R::Volumes => Some(self.volumes),
            R::VolumeGb => Some(self.volume_gb),
            R::Snapshots => Some(self.snapshots),
            R::Addresses => Some(self.addresses),
            R::Buckets | R::BucketGb => None,
        }
    }

    /// The use the columns of [`IN_USE`] give, in its order.
    fn from_columns(columns: [i64; 7]) -> Self {
        let [instances, cores, memory_mb, volumes, volume_gb, snapshots, addresses] =
            columns.map(|n| u64::try_from(n).unwrap_or(0));
        Self {
            instances,
            cores,
            memory_mb,
            volumes,
            volume_gb,
            snapshots,
            addresses,
        }
    }
}

/// [`InUse`] of account `$1`, of what creator `$2` made when it is not NULL, in one row;
/// the same text for both engines (SQLite reads `$N` as the Nth parameter, and both know
/// `CAST`, which tells PostgreSQL the type of a NULL).
const IN_USE: &str = "
    SELECT
        (SELECT COUNT(*) FROM instances i
            WHERE i.owner = $1 AND (CAST($2 AS TEXT) IS NULL OR i.creator = $2)
            AND NOT i.terminated AND NOT i.vanished),
        (SELECT CAST(COALESCE(SUM(t.cores), 0) AS BIGINT) FROM instances i
            JOIN vm_types t ON t.name = i.vm_type
            WHERE i.owner = $1 AND (CAST($2 AS TEXT) IS NULL OR i.creator = $2)
            AND NOT i.terminated AND NOT i.vanished),
        (SELECT CAST(COALESCE(SUM(t.memory_mb), 0) AS BIGINT) FROM instances i
            JOIN vm_types t ON t.name = i.vm_type
            WHERE i.owner = $1 AND (CAST($2 AS TEXT) IS NULL OR i.creator = $2)
            AND NOT i.terminated AND NOT i.vanished),
        (SELECT COUNT(*) FROM volumes
            WHERE owner = $1 AND (CAST($2 AS TEXT) IS NULL OR creator = $2)
            AND state <> 'deleting'),
        (SELECT CAST(COALESCE(SUM(size_gb), 0) AS BIGINT) FROM volumes
            WHERE owner = $1 AND (CAST($2 AS TEXT) IS NULL OR creator = $2)
            AND state <> 'deleting'),
        (SELECT COUNT(*) FROM snapshots
            WHERE owner = $1 AND (CAST($2 AS TEXT) IS NULL OR creator = $2)),
        (SELECT COUNT(*) FROM addresses
            WHERE owner = $1 AND (CAST($2 AS TEXT) IS NULL OR creator = $2))
";

/// The cloud's state. Lookups that may be for another user take the owner; `None` as an
/// owner filter means every user's.
pub trait Store: Send + Sync + std::fmt::Debug {
    // Accounts, users and their keys (the `users` crate's directory), and users'
    // certificates.
    /// The cloud's accounts, users and access keys.
    fn directory(&self) -> &Directory;
    /// Deletes an account with its users, their certificates and everything the account
    /// owns (keypairs, groups, images, addresses) and the launch permissions naming it.
    fn delete_account(&self, name: &str) -> StoreFuture<'_, ()>;
    /// Deletes an IAM user of `account` with its keys and certificate.
    fn delete_user(&self, account: &str, name: &str) -> StoreFuture<'_, ()>;
    /// Records the X.509 certificate (PEM) issued to a user, replacing an earlier one.
    fn put_certificate(&self, user: &User, pem: &str) -> StoreFuture<'_, ()>;
    /// The certificate of `user` of `account`.
    fn certificate(&self, account: &str, user: &str) -> StoreFuture<'_, Option<String>>;
    /// Forgets the certificate of `user` of `account`; false when it had none.
    fn delete_certificate(&self, account: &str, user: &str) -> StoreFuture<'_, bool>;

    // The cloud itself.
    fn put_facts(&self, facts: &CloudFacts) -> StoreFuture<'_, ()>;
    fn facts(&self) -> StoreFuture<'_, Option<CloudFacts>>;

    // Clusters and VM types.
    fn add_cluster(&self, cluster: &Cluster) -> StoreFuture<'_, ()>;
    fn remove_cluster(&self, name: &str) -> StoreFuture<'_, ()>;
    fn clusters(&self) -> StoreFuture<'_, Vec<Cluster>>;
    /// Registers a node with its cluster: `NotFound` without the cluster, `Exists` when it
    /// is registered already. Deregistering the cluster deregisters its nodes.
    fn add_node(&self, node: &Node) -> StoreFuture<'_, ()>;
    /// Deregisters a node; `NotFound` when it is not registered.
    fn remove_node(&self, node: &Node) -> StoreFuture<'_, ()>;
    /// The registered nodes, by cluster and host.
    fn nodes(&self) -> StoreFuture<'_, Vec<Node>>;
    fn vm_types(&self) -> StoreFuture<'_, Vec<VmType>>;
    /// Changes a VM type, or adds it.
    fn set_vm_type(&self, vm_type: &VmType) -> StoreFuture<'_, ()>;

    // Keypairs.
    fn add_keypair(&self, keypair: &KeyPair) -> StoreFuture<'_, ()>;
    /// Deletes a keypair; `false` when it did not exist.
    fn delete_keypair(&self, owner: &str, name: &str) -> StoreFuture<'_, bool>;
    fn keypairs(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<KeyPair>>;

    // Security groups.
    /// Adds a group without rules.
    fn add_group(&self, group: &SecurityGroup) -> StoreFuture<'_, ()>;
    /// Deletes a group; one that another group's rules name as their source is `InUse`.
    fn delete_group(&self, owner: &str, name: &str) -> StoreFuture<'_, ()>;
    fn groups(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<SecurityGroup>>;
    /// Adds rules to a group, all or none: a rule it already has is `Exists`.
    fn authorize(&self, owner: &str, group: &str, rules: &[Rule]) -> StoreFuture<'_, ()>;
    /// Removes rules from a group, all or none: a rule it lacks is `NotFound`.
    fn revoke(&self, owner: &str, group: &str, rules: &[Rule]) -> StoreFuture<'_, ()>;

    // Elastic addresses, and images' launch permissions and product codes.
    /// Allocates to `owner` (the cloud itself for `None`) the first address of `pool` that no
    /// one holds, unless `owner` already holds `limit` addresses; in one transaction.
    /// `creator` is the user who asked for it.
    fn allocate_address(
        &self,
        owner: Option<&str>,
        creator: Option<&str>,
        pool: &[PoolAddress],
        limit: Option<usize>,
    ) -> StoreFuture<'_, Allocation>;
    /// The addresses given out, by address: `owner`'s (every one, the cloud's own too, for
    /// `None`).
    fn addresses(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Address>>;
    /// Associates an address with an instance, or dissociates it (`None`); `NotFound` when
    /// it is not given out.
    fn associate_address(
        &self,
        public_ip: &str,
        association: Option<&Association>,
    ) -> StoreFuture<'_, ()>;
    /// Gives an address back to its pool; `false` when it was not given out.
    fn release_address(&self, public_ip: &str) -> StoreFuture<'_, bool>;
    /// What terminating instances does to addresses: the cloud's own of theirs go back to
    /// the pool, the users' stay allocated and are dissociated. Returns those changed.
    fn detach_addresses(&self, instances: &[String]) -> StoreFuture<'_, Vec<Address>>;
    /// Grants `add`, then revokes `remove`, in one step (a `public` in either sets or clears
    /// group `all`); `false` when there is no image `id`.
    fn change_launch_permission(
        &self,
        id: &str,
        add: &LaunchPermission,
        remove: &LaunchPermission,
    ) -> StoreFuture<'_, bool>;
    /// Makes image `id`'s launch permission as RegisterImage left it: public, no user named;
    /// `false` when there is no such image.
    fn reset_launch_permission(&self, id: &str) -> StoreFuture<'_, bool>;
    /// Attaches product codes to image `id` (those it has stay); `false` when there is no
    /// such image.
    fn add_product_codes(&self, id: &str, codes: &[String]) -> StoreFuture<'_, bool>;

    // Images.
    /// Adds an image with its product codes and launch users; an id already taken is
    /// `Exists`.
    fn add_image(&self, image: &Image) -> StoreFuture<'_, ()>;
    /// Deletes the image `id` if `owner` owns it (any owner's for `None`); `false` when
    /// there was none.
    fn delete_image(&self, owner: Option<&str>, id: &str) -> StoreFuture<'_, bool>;
    /// Every image, by id.
    fn images(&self) -> StoreFuture<'_, Vec<Image>>;

    // Instances.
    /// Records instances, all or none; an id already taken is `Exists`, and so is a
    /// `client_token` their owner already gave another reservation (`what` is
    /// `"client token"`). `creator` is the user who asked for them (quotas count per user).
    fn add_instances(&self, instances: &[Instance], creator: Option<&str>) -> StoreFuture<'_, ()>;
    /// Forgets instances (those a cluster did not start).
    fn remove_instances(&self, ids: &[String]) -> StoreFuture<'_, ()>;
    /// Marks instances as asked to terminate.
    fn set_terminated(&self, ids: &[String]) -> StoreFuture<'_, ()>;
    /// The instances of `owner` (every user's for `None`), by launch, reservation and index.
    fn instances(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Instance>>;

    // Reconciliation with the clusters (the cloud's tick) and RunInstances' idempotency.
    /// The instances on `cluster` not yet found gone: those a tick reconciles.
    fn live_instances(&self, cluster: &str) -> StoreFuture<'_, Vec<Instance>>;
    /// Records what the clusters reported of instances, by id, in one transaction; an id
    /// the store does not hold is skipped.
    fn observe(&self, observed: &[(String, Observed)]) -> StoreFuture<'_, ()>;
    /// The instances of `owner`'s reservation made with `client_token`, by launch index;
    /// empty when there is none.
    fn by_client_token(&self, owner: &str, client_token: &str) -> StoreFuture<'_, Vec<Instance>>;
    // EBS volumes and snapshots.
    /// Records a new volume, made by user `creator`; an id already taken is `Exists`.
    fn add_volume(&self, volume: &Volume, creator: Option<&str>) -> StoreFuture<'_, ()>;
    /// Replaces the record of `volume.id` with `volume` if its state is still `from`;
    /// `false` when it is not (or there is no such volume): the compare-and-set that keeps
    /// two requests from moving one volume at once.
    fn change_volume(&self, volume: &Volume, from: VolumeState) -> StoreFuture<'_, bool>;
    /// Forgets a volume (the SC deleted it); `false` when there was none.
    fn remove_volume(&self, id: &str) -> StoreFuture<'_, bool>;
    /// The volumes of `owner` (every user's for `None`), by creation and id.
    fn volumes(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Volume>>;
    /// What terminating instances does to their volumes: each one attached to them (or
    /// attaching or detaching) becomes available, unattached. Returns them as they were.
    fn detach_volumes(&self, instances: &[String]) -> StoreFuture<'_, Vec<Volume>>;
    /// Records a new snapshot, made by user `creator`; an id already taken is `Exists`.
    fn add_snapshot(&self, snapshot: &Snapshot, creator: Option<&str>) -> StoreFuture<'_, ()>;
    /// Records a snapshot's state and progress; `false` when there is no such snapshot.
    fn change_snapshot(&self, snapshot: &Snapshot) -> StoreFuture<'_, bool>;
    /// Forgets a snapshot (the SC deleted it); `false` when there was none.
    fn remove_snapshot(&self, id: &str) -> StoreFuture<'_, bool>;
    /// The snapshots of `owner` (every user's for `None`), by start and id.
    fn snapshots(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Snapshot>>;
    // EC2 over SOAP: the certificate a request is signed with names its user.
    /// The user whose certificate [`Store::put_certificate`] recorded as `pem`, text for
    /// text. The cloud records OpenSSL's PEM of each certificate it issues, so the PEM of a
    /// received certificate's DER written the same way finds its user.
    fn user_by_certificate(&self, pem: &str) -> StoreFuture<'_, Option<User>>;

    // Quotas.
    /// What account `account` holds now, or of it what user `creator` made.
    fn in_use(&self, account: &str, creator: Option<&str>) -> StoreFuture<'_, InUse>;

    // SLAs (`crate::sla`; the statements are in `sla.rs`).
    /// Replaces `sla.account`'s SLA: its earlier reservations end at `at` and its new ones
    /// start then (milliseconds since the epoch).
    fn put_sla(&self, sla: &sla::Sla, at: i64) -> StoreFuture<'_, ()>;
    /// Every account's SLA with its current reservations, by account.
    fn slas(&self) -> StoreFuture<'_, Vec<sla::Sla>>;
    /// Removes `account`'s SLA (its reservations end at `at`); `false` when it had none.
    fn delete_sla(&self, account: &str, at: i64) -> StoreFuture<'_, bool>;
    /// The reservations in force some time from `from` to `to` (not included), ended or
    /// not.
    fn reservation_history(&self, from: i64, to: i64) -> StoreFuture<'_, Vec<sla::Reserved>>;
    /// Records a breached floor; `false` when it was recorded already.
    fn open_breach(&self, breach: &sla::Breach) -> StoreFuture<'_, bool>;
    /// Forgets a breached floor (of `breach`, its account, zone and type); `false` when
    /// none was recorded.
    fn close_breach(&self, breach: &sla::Breach) -> StoreFuture<'_, bool>;
    /// The floors breached now.
    fn breaches(&self) -> StoreFuture<'_, Vec<sla::Breach>>;
    /// How many instances of `vm_type` each owner has in each zone, not asked to terminate
    /// nor gone (what uses a reservation up): owner, zone, count.
    fn running_by_zone(&self, vm_type: &str) -> StoreFuture<'_, Vec<(String, String, u32)>>;
    // ---- Monitoring (`crate::monitoring`; its types and SQL are in `metrics`) ----
    /// Adds each point's samples to the stored point of its instance, metric and start
    /// (made when missing), as its instance's account's; a point of an instance the store
    /// does not hold is dropped. One transaction.
    fn add_points(&self, points: &[Point]) -> StoreFuture<'_, ()>;
    /// `instance`'s points of `metric` starting in `from..to`, in time order.
    fn points(
        &self,
        instance: &str,
        metric: Metric,
        from: i64,
        to: i64,
    ) -> StoreFuture<'_, Vec<Point>>;
    /// The instances' metrics that have points, of account `owner` (every account's for
    /// `None`), by instance and metric name.
    fn metrics(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<(String, Metric)>>;
    /// Forgets the points that start before `before`: how many.
    fn forget_points(&self, before: i64) -> StoreFuture<'_, u64>;
    /// Records an alarm, replacing the configuration (not the state) of one of the same
    /// owner and name.
    fn put_alarm(&self, alarm: &Alarm) -> StoreFuture<'_, ()>;
    /// The alarms of `owner` (every account's for `None`), by owner and name.
    fn alarms(&self, owner: Option<&str>) -> StoreFuture<'_, Vec<Alarm>>;
    /// The alarms on any of `instances`.
    fn alarms_on(&self, instances: &[String]) -> StoreFuture<'_, Vec<Alarm>>;
    /// Deletes `owner`'s alarms of `names`: how many there were.
    fn delete_alarms(&self, owner: &str, names: &[String]) -> StoreFuture<'_, u64>;
    /// Moves `owner`'s alarm `name` to `to` if it is still in state `from`; `false` when it
    /// is not (or is gone): the compare-and-set that makes one change of state one action.
    fn change_alarm_state(
        &self,
        owner: &str,
        name: &str,
        from: AlarmState,
        to: &StateChange,
    ) -> StoreFuture<'_, bool>;
    // ---- end of monitoring ----

    // Cloud-bursting (the `burst` module).
    /// Registers a burst target; a name taken is `Exists`.
    fn add_burst_target(&self, target: &BurstTarget) -> StoreFuture<'_, ()>;
    /// Forgets a burst target; `NotFound` when there is none.
    fn remove_burst_target(&self, name: &str) -> StoreFuture<'_, ()>;
    /// The burst targets, by name.
    fn burst_targets(&self) -> StoreFuture<'_, Vec<BurstTarget>>;
    /// Records instances a burst target runs with their remote ids, all or none, as
    /// [`Store::add_instances`] records instances.
    fn add_remote_instances(
        &self,
        instances: &[Instance],
        remotes: &[RemoteInstance],
        creator: Option<&str>,
    ) -> StoreFuture<'_, ()>;
    /// Of instances `ids`, those a burst target runs, with their remote ids.
    fn remote_instances(&self, ids: &[String]) -> StoreFuture<'_, Vec<RemoteInstance>>;
}

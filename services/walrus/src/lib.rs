//! Walrus, the S3-compatible object store of Eucalyptus 1.6: the S3 REST API (2006-03-01)
//! at `/services/Walrus` and at the root, the S3 SOAP API at `/services/Walrus`, both on one
//! front door (`soap::Server`), with S3's HMAC-SHA1 and AWS SigV4 signatures,
//! object data on local disk or in a remote S3-compatible store, metadata in SQLite.
//! `euca walrus` runs it; see [`WalrusArgs`] for its settings.

pub mod acl;
mod api;
pub mod auth;
mod authorize;
mod body;
mod buckets;
pub mod bundle;
pub mod config;
pub mod digest;
mod dispatch;
mod error;
mod events;
mod form;
pub mod hooks;
mod json;
mod meta;
mod multipart;
mod objects;
mod ops;
mod payload;
mod post;
mod recovery;
mod rest;
mod router;
pub mod snapshots;
mod soap;
mod state;
pub mod storage;
pub use kit::time;
pub mod uri;
mod xml;

use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use ::soap::Security;
use tracing::info;
use users::events::EventLog;
use users::{User, UserLookup, UserStore};

pub use body::Body;
pub use config::{CloudUsers, Config, ConfigError, Overrides, SERVICE_PATH};
pub use error::S3Error;
pub use hooks::Hooks;
pub use meta::{BucketContents, Object};
pub use state::{ObjectReader, Walrus};

use config::BackendConfig;
use meta::Meta;
use storage::{Backend, LocalDisk, RemoteS3, Storage, StorageError};

/// Run Walrus, the S3-compatible object store.
///
/// Settings come from --config (a file of key=value lines) and are overridden by the flags.
/// Keys read, named as the original's walrus_info columns: storage_dir (DATA),
/// storage_max_buckets_per_user (default 5), storage_max_bucket_size_mb (default 5120),
/// storage_cache_size_mb (image cache, default 30720); and this implementation's own:
/// storage_max_total_size_mb (default 0, unlimited), upload_min_rate_bytes (slowest upload
/// accepted, in bytes a second averaged over upload_rate_window_secs; defaults 1024 and 20;
/// 0 = no floor), walrus_port, keys_dir, domain, backend,
/// remote_endpoint, remote_access_key, remote_secret_key, remote_region,
/// remote_bucket_prefix.
#[derive(Debug, clap::Args)]
pub struct WalrusArgs {
    /// Settings file of key=value lines.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to serve on [default: 0.0.0.0:8773].
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<SocketAddr>,
    /// Directory for users, metadata and (local backend) object data [config: storage_dir].
    #[arg(long, value_name = "DATA")]
    pub data: Option<PathBuf>,
    /// Directory of the cloud's keys (for image bundles)
    /// [default: $EUCALYPTUS/var/lib/eucalyptus/keys].
    ///
    /// `cloud-pk.pem` decrypts bundles (`euca keys init KEYS` makes it), `node-cert.pem` is the
    /// node certificate trusted for GetDecryptedImage, and `users/*.pem` are the certificates
    /// whose manifest signatures are accepted, read anew for every image.
    #[arg(long, value_name = "KEYS")]
    pub keys: Option<PathBuf>,
    /// Domain under which <bucket>.<domain> host names address buckets (virtual-host style).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// Where object data is kept: local (under DATA) or s3 (a remote S3-compatible store).
    #[arg(long, value_name = "local|s3")]
    pub backend: Option<String>,
    /// The remote store, http://HOST:PORT (backend s3).
    #[arg(long, value_name = "URL")]
    pub remote_endpoint: Option<String>,
    /// Access key id for the remote store.
    #[arg(long, value_name = "KEY")]
    pub remote_access_key: Option<String>,
    /// Secret key for the remote store (better given in the environment).
    #[arg(
        long,
        value_name = "KEY",
        env = "WALRUS_REMOTE_SECRET_KEY",
        hide_env_values = true
    )]
    pub remote_secret_key: Option<String>,
    /// Region named in signatures sent to the remote store [default: us-east-1].
    #[arg(long, value_name = "REGION")]
    pub remote_region: Option<String>,
    /// Prefix of the remote bucket names: Walrus bucket B lives in remote bucket PREFIX+B.
    #[arg(long, value_name = "PREFIX")]
    pub remote_bucket_prefix: Option<String>,
    /// The cloud controller's DATA: authenticate every user of the cloud from its store (its
    /// users.sqlite, or the PostgreSQL database it records), as the original's shared
    /// database did. Without it or --db, Walrus keeps users of its own in DATA/users.sqlite
    /// and writes DATA/admin-eucarc.
    #[arg(long, value_name = "CLC_DATA", conflicts_with = "db")]
    pub identity: Option<PathBuf>,
    /// The cloud's PostgreSQL database (the cloud controller's --db URL): authenticate every
    /// user of the cloud from it.
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
}

/// Why Walrus could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot prepare {path}: {source}")]
    Data {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Users(#[from] users::UserError),
    #[error("metadata database: {0}")]
    Meta(#[from] rusqlite::Error),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("recovery: {0}")]
    Recovery(S3Error),
    #[error(transparent)]
    Server(#[from] ::soap::ServerError),
    #[error("the cloud's certificate: {0}")]
    Keys(#[from] ::soap::keys::KeyError),
}

/// `euca walrus`: runs until SIGTERM or SIGINT.
pub fn main(args: WalrusArgs) -> ExitCode {
    let overrides = Overrides {
        listen: args.listen,
        data: args.data,
        keys: args.keys,
        domain: args.domain,
        backend: args.backend,
        remote_endpoint: args.remote_endpoint,
        remote_access_key: args.remote_access_key,
        remote_secret_key: args.remote_secret_key,
        remote_region: args.remote_region,
        remote_bucket_prefix: args.remote_bucket_prefix,
        cloud_users: match (args.identity, args.db) {
            (Some(data), _) => Some(CloudUsers::Data(data)),
            (None, Some(url)) => Some(CloudUsers::Db(url)),
            (None, None) => None,
        },
    };
    let load = || {
        let config = Config::load(args.config.as_deref(), overrides)?;
        // Before anything is written: objects, databases and keys are private.
        kit::private::own_only(&[&config.data, &config.keys]).map_err(|e| StartError::Data {
            path: e.path,
            source: e.source,
        })?;
        // Before the image cache makes a directory inside it.
        create_data(&config.data)?;
        Ok(config)
    };
    kit::main("euca walrus", "walrus", load, |config| async {
        // Opening the image cache reads KEYS and DATA: on a blocking thread.
        let hooks = kit::blocking({
            let config = config.clone();
            move || internal_hooks(&config)
        })
        .await?;
        serve(config, hooks).await
    })
}

/// The internal operations of a Walrus configured by `config`: image bundles and, when the
/// cloud's certificate is in KEYS, the storage controller's snapshots.
fn internal_hooks(config: &Config) -> Result<Hooks, StartError> {
    let snapshots = snapshots::SnapshotOperations::load(&config.keys)?
        .map(|ops| Arc::new(ops) as Arc<dyn hooks::InternalOperations>);
    Ok(Hooks {
        snapshots,
        internal: bundle::internal_operations(config),
    })
}

/// Starts Walrus with `config` and `hooks` and serves until SIGTERM or SIGINT: the SOAP API
/// at the service path, the REST API everywhere else.
pub async fn serve(config: Config, hooks: Hooks) -> Result<(), StartError> {
    let listen = config.listen;
    let data = config.data.clone();
    let (walrus, new_admin) = open(config).await?;
    let events = walrus.events().clone();
    // S3's SOAP API has no WS-Security: the signature is in the Body (see `soap::auth`).
    let soap_api = ::soap::Endpoint::new(soap::S3Soap::new(walrus.clone()), Security::unsecured())?;
    let server = ::soap::Server::builder()
        .mount_endpoint(SERVICE_PATH, Arc::new(soap_api))
        .fallback(api::handler(walrus, hooks))
        .bind(listen)
        .await?;
    let url = kit::service_url(server.local_addr(), SERVICE_PATH);
    if let Some(admin) = new_admin {
        let path = data.join("admin-eucarc");
        kit::blocking({
            let (path, url) = (path.clone(), url.clone());
            move || write_eucarc(&path, &admin, &url)
        })
        .await
        .map_err(|source| StartError::Data { path, source })?;
    }
    // Watched before the ready line: a signal sent on seeing it stops the server cleanly.
    let stop = kit::termination();
    kit::announce_ready!("walrus", url);
    server.run(stop).await;
    if events.flush().await.is_err() {
        tracing::error!("the last events could not be recorded");
    }
    info!("walrus stopped");
    Ok(())
}

/// Opens the stores under DATA (and the cloud's users and event log, when Walrus serves a
/// cloud's), recovers from any unclean stop (forwarding the bucket changes a crash left
/// unrecorded) and creates the administrator of Walrus's own users on first start
/// (returned then).
pub async fn open(config: Config) -> Result<(Arc<Walrus>, Option<User>), StartError> {
    // Opening the stores reads and writes DATA: on a blocking thread.
    let (stores, new_admin) = kit::blocking(move || open_stores(config)).await?;
    // Beside the users, whose file exists now (with its private mode).
    let events = EventLog::start(&stores.location).await?;
    let walrus = Arc::new(Walrus::new(
        stores.config,
        stores.users,
        events,
        stores.meta,
        stores.storage,
    ));
    recovery::recover(&walrus)
        .await
        .map_err(StartError::Recovery)?;
    Ok((walrus, new_admin))
}

/// What Walrus is made of, opened.
struct Stores {
    config: Config,
    users: Arc<dyn UserLookup>,
    /// Where the users (and the event log) are.
    location: users::Location,
    meta: Meta,
    storage: Storage,
}

fn open_stores(config: Config) -> Result<(Stores, Option<User>), StartError> {
    create_data(&config.data)?;
    let (users, location, new_admin): (Arc<dyn UserLookup>, _, _) = match &config.cloud_users {
        None => {
            let path = config.data.join("users.sqlite");
            let own = UserStore::open(&path)?;
            let new_admin = own.ensure_admin()?;
            (Arc::new(own), users::Location::Sqlite(path), new_admin)
        }
        Some(CloudUsers::Data(data)) => {
            let location = users::Location::of_cloud(data).map_err(|source| StartError::Data {
                path: data.clone(),
                source,
            })?;
            (location.open()?.lookup(), location, None)
        }
        Some(CloudUsers::Db(url)) => {
            let location = users::Location::Postgres(url.clone());
            (location.open()?.lookup(), location, None)
        }
    };
    if let Some(cloud) = &config.cloud_users {
        info!(users = ?cloud, "authenticating the cloud's users");
    }
    let meta = Meta::open(&config.data.join(META_FILE))?;
    let backend: Arc<dyn Backend> = match &config.backend {
        BackendConfig::Local => Arc::new(LocalDisk::open(&config.data)?),
        BackendConfig::Remote(remote) => Arc::new(RemoteS3::new(remote.clone(), &config.data)?),
    };
    let stores = Stores {
        config,
        users,
        location,
        meta,
        storage: Storage::new(backend),
    };
    Ok((stores, new_admin))
}

/// Walrus's metadata database in its DATA.
const META_FILE: &str = "walrus.sqlite";

/// What one owner holds in a Walrus: its buckets and the bytes stored in them (objects and
/// the parts of unfinished uploads).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holdings {
    pub buckets: u64,
    pub bytes: u64,
}

/// What the owner `canonical_id` holds in the Walrus whose DATA is `data` (of it, what
/// `creator` made when given), from its metadata (which a running Walrus shares safely),
/// for `euca admin quota show`; `None` when DATA holds no Walrus. Blocking.
pub fn holdings(
    data: &Path,
    canonical_id: &str,
    creator: Option<&str>,
) -> Result<Option<Holdings>, StartError> {
    let path = data.join(META_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let (buckets, bytes) = Meta::open(&path)?.holdings(canonical_id, creator)?;
    Ok(Some(Holdings { buckets, bytes }))
}

/// Every bucket of the Walrus whose DATA is `data` (those of the owner `canonical_id` when
/// given), with its objects' count and bytes, from its metadata (as [`holdings`]); `None`
/// when DATA holds no Walrus. Blocking.
pub fn buckets(
    data: &Path,
    canonical_id: Option<&str>,
) -> Result<Option<Vec<BucketContents>>, StartError> {
    let path = data.join(META_FILE);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(Meta::open(&path)?.contents(canonical_id)?))
}

/// Creates DATA if missing. Private objects and the users' keys live there, so a new DATA is
/// its owner's only.
fn create_data(data: &Path) -> Result<(), StartError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data)
        .map_err(|source| StartError::Data {
            path: data.to_owned(),
            source,
        })
}

/// The administrator's credentials as an eucarc, readable by its owner only.
fn write_eucarc(path: &Path, admin: &User, s3_url: &str) -> std::io::Result<()> {
    let text = format!(
        "export EC2_ACCESS_KEY={}\nexport EC2_SECRET_KEY={}\nexport S3_URL={s3_url}\nexport EC2_USER_ID={}\n",
        admin.access_key, admin.secret_key, admin.canonical_id
    );
    kit::private::write_file(path, text.as_bytes())
}

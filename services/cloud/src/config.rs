//! What `euca cloud` is run with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use kit::security::{Compat, CompatArgs};
use settings::Settings;

use crate::store::Cluster;

/// The path of the EC2 API on the front door.
pub const SERVICE_PATH: &str = "/services/Eucalyptus";
/// The region the cloud names itself when `--region` is not given.
pub const DEFAULT_REGION: &str = "eucalyptus";
/// Walrus's path on the cloud's own host, for `S3_URL` when `--walrus` is not given.
const WALRUS_PATH: &str = "/services/Walrus";

/// Run the cloud controller (CLC): the EC2 API at /services/Eucalyptus (Query: GET and POST,
/// SigV2 and SigV4), the cloud's users, credentials and state. On its first start it creates
/// the administrator and writes DATA/credentials/admin/eucarc (with the certificate, key and
/// cloud-cert.pem beside it) and DATA/credentials/admin.zip.
#[derive(Debug, clap::Args)]
pub struct CloudArgs {
    /// Address to serve on.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: SocketAddr,
    /// Directory holding cloud-cert.pem and cloud-pk.pem, which issue the users' certificates
    /// and sign requests to the clusters.
    #[arg(long, value_name = "KEYS")]
    pub keys: PathBuf,
    /// Directory for the cloud's state, the users' credentials and the log.
    #[arg(long, value_name = "DATA")]
    pub data: PathBuf,
    /// A cluster controller to register (added to those already registered), as
    /// NAME=URL of its EucalyptusCC service; repeatable.
    #[arg(long = "cluster", value_name = "NAME=URL", value_parser = parse_cluster)]
    pub clusters: Vec<Cluster>,
    /// Walrus's URL, written as S3_URL in the users' eucarc
    /// [default: http://HOST:PORT/services/Walrus on this listener's host and port].
    #[arg(long, value_name = "URL")]
    pub walrus: Option<String>,
    /// The storage controller's URL (its Storage service), which keeps the EBS volumes and
    /// snapshots [default: none: the EBS operations answer Unsupported].
    #[arg(long, value_name = "URL")]
    pub storage: Option<String>,
    /// The PostgreSQL database of the cloud's state and users, as
    /// postgresql://USER[:PASSWORD]@HOST[:PORT]/DB (a Unix socket's folder as ?host=/path);
    /// recorded in DATA for `euca admin` and `euca walrus --identity`
    /// [default: the database DATA recorded, else SQLite: DATA/cloud.sqlite, DATA/users.sqlite].
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// The cloud's region, in eucarc and DescribeRegions [default: eucalyptus].
    #[arg(long, value_name = "NAME")]
    pub region: Option<String>,
    /// Seconds between two polls of every cluster (their capacity and instances, which
    /// the cloud reconciles its records with).
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub tick: u64,
    /// Serve another process's service on this listener: requests under PATH are passed on,
    /// streamed, to http://HOST:PORT (as `euca up` serves Walrus and the SC here), such as
    /// /services/Walrus=http://127.0.0.1:8776; repeatable.
    #[arg(long = "forward", value_name = "PATH=URL")]
    pub forwards: Vec<kit::forward::Route>,
    /// Address of the admin console (HTTPS, with a certificate the cloud's key issues;
    /// sign in as account admin with DATA/credentials/admin/console-password).
    #[arg(long, value_name = "HOST:PORT", env = "EUCA_CONSOLE", default_value = crate::console::DEFAULT_LISTEN)]
    pub console: SocketAddr,
    #[command(flatten)]
    pub compat: CompatArgs,
}

fn parse_cluster(text: &str) -> Result<Cluster, String> {
    match text.split_once('=') {
        Some((name, url)) if !name.is_empty() && url.starts_with("http") => Ok(Cluster {
            name: name.to_owned(),
            url: url.to_owned(),
        }),
        _ => Err(format!(
            "{text:?}: expected NAME=URL, such as cluster1=http://host:8774/axis2/services/EucalyptusCC"
        )),
    }
}

/// Why the command line cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--db {0:?}: expected a postgresql:// (or postgres://) URL")]
    Db(String),
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
}

/// The cloud controller's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub keys: PathBuf,
    pub data: PathBuf,
    pub clusters: Vec<Cluster>,
    pub walrus: Option<String>,
    pub storage: Option<String>,
    /// The PostgreSQL database's URL (`--db`).
    pub db: Option<String>,
    pub region: String,
    /// Time between two rounds of the tick.
    pub tick: Duration,
    /// Paths of this listener served by other processes (`--forward`).
    pub forwards: Vec<kit::forward::Route>,
    /// The admin console's address (`--console`).
    pub console: SocketAddr,
    pub compat: Compat,
}

impl Config {
    pub fn from_args(args: CloudArgs) -> Result<Self, ConfigError> {
        if let Some(db) = args.db.as_deref() {
            if !["postgresql://", "postgres://"]
                .iter()
                .any(|s| db.starts_with(s))
            {
                return Err(ConfigError::Db(db.to_owned()));
            }
        }
        Ok(Self {
            listen: args.listen,
            keys: args.keys,
            data: args.data,
            clusters: args.clusters,
            walrus: args.walrus,
            storage: args.storage,
            db: args.db,
            region: args.region.unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            tick: Duration::from_secs(args.tick),
            forwards: args.forwards,
            console: args.console,
            compat: args.compat.resolve(&Settings::default())?,
        })
    }

    /// `S3_URL`: `--walrus`, else Walrus on the cloud's own front door, as the original
    /// served them together.
    pub fn s3_url(&self, local: SocketAddr) -> String {
        self.walrus
            .clone()
            .unwrap_or_else(|| kit::service_url(local, WALRUS_PATH))
    }
}

//! The cloud controller (CLC) of Eucalyptus 1.6: the EC2 API at `/services/Eucalyptus`
//! (Query, [`query`], and SOAP, [`ec2_soap`]), the IAM API at `/services/Euare` ([`euare`]),
//! the cloud's users and their credentials, and its state. `euca cloud`
//! runs it ([`CloudArgs`]); `euca admin` manages users, clusters and VM types in the same
//! store ([`admin::AdminArgs`]).

pub mod admin;
pub mod config;
pub mod console;
pub mod credentials;
pub mod default_image;
pub mod ec2_soap;
mod error;
pub mod euare;
pub mod ops;
pub mod params;
pub mod query;
pub mod store;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use kit::security::SecurityError;
use kit::LogFile;
use soap::keys::{KeyError, KeyPair};
use soap::{Server, ServerError};
use tracing::info;
use xmlbind::Limits;

pub use config::{CloudArgs, Config, ConfigError, SERVICE_PATH};
pub use credentials::CredentialsError;
pub use error::Ec2Error;
pub use store::{PgStore, SqliteStore, Store, StoreError};

use ops::Cloud;
use store::CloudFacts;

/// Why the cloud controller could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Security(#[from] SecurityError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the administrator's credentials: {0}")]
    Credentials(#[from] CredentialsError),
    #[error("cannot prepare {path}: {source}")]
    Data {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    Console(#[from] console::ConsoleStartError),
}

/// `euca cloud`: runs until SIGTERM or SIGINT.
pub fn main(args: CloudArgs) -> ExitCode {
    kit::main(
        "euca cloud",
        "cloud controller",
        || Config::from_args(args).map_err(StartError::from),
        serve,
    )
}

/// What start-up reads from disk.
struct Prepared {
    cloud_key: KeyPair,
    clusters: soap::Security,
    /// Signs the requests to the storage controller and checks its replies (both the
    /// cloud's key), when the cloud has one.
    storage: Option<soap::Security>,
    /// The users' EC2 SOAP endpoint's.
    users: soap::Security,
    _log: LogFile,
}

/// Starts the cloud controller with `config` and serves until SIGTERM or SIGINT.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let prepared = kit::blocking({
        let config = config.clone();
        move || prepare(&config)
    })
    .await?;
    let store = store::open(&config.data, config.db.as_deref()).await?;
    // Where the store is, now that opening it has recorded a database's URL.
    let location = kit::blocking({
        let data = config.data.clone();
        move || users::Location::of_cloud(&data)
    })
    .await
    .map_err(|source| StartError::Data {
        path: config.data.clone(),
        source,
    })?;
    let events = users::events::EventLog::start(&location)
        .await
        .map_err(StoreError::from)?;
    for cluster in &config.clusters {
        match store.add_cluster(cluster).await {
            Ok(()) => info!(name = %cluster.name, url = %cluster.url, "cluster registered"),
            Err(StoreError::Exists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let cloud = Arc::new(Cloud {
        store: Arc::clone(&store),
        region: config.region.clone(),
        ec2_url: OnceLock::new(),
        clusters: prepared.clusters,
        walrus: config.walrus.clone(),
        storage: config
            .storage
            .clone()
            .zip(prepared.storage)
            .map(|(url, security)| ops::StorageController { url, security }),
        zones: ops::Zones::default(),
        launching: std::sync::Mutex::default(),
        client_tokens: tokio::sync::Mutex::default(),
        quota_turns: ops::QuotaTurns::default(),
        ebs: std::sync::Mutex::default(),
        events: events.clone(),
        data: config.data.clone(),
    });
    let server = config
        .forwards
        .iter()
        .fold(Server::builder(), |server, route| {
            server.route(
                &route.path,
                kit::forward::Forward::new(route.upstream.clone()),
            )
        })
        .limits(Limits {
            max_bytes: query::MAX_BODY,
            ..Limits::default()
        })
        .route(SERVICE_PATH, query::handler(Arc::clone(&cloud)))
        .route(euare::PATH, euare::handler(Arc::clone(&cloud)))
        .mount(
            SERVICE_PATH,
            ec2_soap::Ec2Soap::new(Arc::clone(&cloud)),
            prepared.users,
        )
        .bind(config.listen)
        .await?;
    // The URLs of every eucarc name the address actually served.
    let url = kit::service_url(server.local_addr(), SERVICE_PATH);
    cloud.ec2_url.get_or_init(|| url.clone());
    let keys = std::path::absolute(&config.keys).map_err(|source| StartError::Data {
        path: config.keys.clone(),
        source,
    })?;
    let facts = CloudFacts {
        keys,
        ec2_url: url.clone(),
        s3_url: config.s3_url(server.local_addr()),
        region: config.region.clone(),
    };
    store.put_facts(&facts).await?;
    admin_credentials(&*store, &config.data, &facts, &prepared.cloud_key).await?;
    console::admin_password(store.directory(), &config.data).await?;
    let console = console::Console::bind(
        config.console,
        Arc::clone(&cloud),
        &config.data,
        &prepared.cloud_key,
    )
    .await?;
    info!("console ready at {}", console.url());
    let (stop_console, console_stops) = tokio::sync::watch::channel(false);
    let console = tokio::spawn(console.run(console_stops));
    info!(clusters = config.clusters.len(), region = %config.region, tick = ?config.tick, "cloud controller configured");
    let tick = ops::tick::spawn(Arc::clone(&cloud), config.tick);
    // Watched before the ready line: a signal sent on seeing it stops the server cleanly.
    let stop = kit::termination();
    kit::announce_ready!("cloud controller", url);
    server.run(stop).await;
    let _ = stop_console.send(true);
    if console.await.is_err() {
        tracing::error!("the console stopped abnormally");
    }
    tick.abort();
    if events.flush().await.is_err() {
        tracing::error!("the last events could not be recorded");
    }
    info!("cloud controller stopped");
    Ok(())
}

/// Creates the administrator on first start, and hands out their credentials whenever
/// their eucarc is missing (a first start, or one stopped before it was written).
async fn admin_credentials(
    store: &dyn Store,
    data: &Path,
    facts: &CloudFacts,
    cloud_key: &KeyPair,
) -> Result<(), StartError> {
    let created = store
        .directory()
        .ensure_admin()
        .await
        .map_err(StoreError::from)?;
    let eucarc = credentials::eucarc_path(data, users::ADMIN_NAME)?;
    let present = tokio::fs::try_exists(&eucarc).await.unwrap_or(false);
    if created.is_none() && present {
        return Ok(());
    }
    let admin = match created {
        Some(admin) => admin,
        None => store
            .directory()
            .root_of(users::ADMIN_NAME)
            .await
            .map_err(StoreError::from)?
            .ok_or_else(|| StoreError::NotFound {
                what: "account",
                name: users::ADMIN_NAME.to_owned(),
            })?,
    };
    let eucarc = credentials::hand_out(store, data, facts, cloud_key, &admin).await?;
    info!(eucarc = %eucarc.display(), "administrator's credentials written");
    Ok(())
}

/// Makes what the cloud writes its owner's only, creates DATA, starts the log file and
/// loads the cloud's keys.
fn prepare(config: &Config) -> Result<Prepared, StartError> {
    let data_error = |path: &Path| {
        let path = path.to_owned();
        move |source| StartError::Data { path, source }
    };
    kit::private::own_only(&[&config.data, &config.keys]).map_err(|e| StartError::Data {
        path: e.path,
        source: e.source,
    })?;
    std::fs::create_dir_all(&config.data).map_err(data_error(&config.data))?;
    let log =
        kit::log_to_file(&config.data, "clc").map_err(data_error(&config.data.join("log")))?;
    let keys = kit::security::load(&config.keys, "cloud", &["cluster"], config.compat, None)?;
    let users = ec2_soap::security(&keys.pair.certificate, config.compat, &config.data)
        .map_err(SecurityError::Wss)?;
    let storage = match config.storage {
        Some(_) => Some(
            kit::security::load(&config.keys, "cloud", &["cloud"], config.compat, None)?.security,
        ),
        None => None,
    };
    Ok(Prepared {
        cloud_key: keys.pair,
        clusters: keys.security,
        storage,
        users,
        _log: log,
    })
}

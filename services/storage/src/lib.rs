//! The storage controller (SC) of Eucalyptus 1.6: serves `StorageController` at
//! `/services/Storage`, keeps EBS volumes (sparse files, or LVM2 logical volumes over loop
//! files) and their snapshots, and exports volumes to node controllers over NBD (`qemu-nbd`)
//! or iSCSI (`tgtd`). `euca storage` runs it; see
//! [`StorageArgs`] for its settings.

mod error;
mod exports;
pub mod files;
mod lvm;
mod service;
mod store;
mod volumes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use kit::security::{Compat, CompatArgs, SecurityError};
use soap::{Server, ServerError};
use tracing::info;
use walrus::snapshots::client::SnapshotClient;
use wire::storage::StorageControllerServer;

pub use error::StorageError;
pub use store::StoreError;

use exports::{Exports, Protocol};
use files::Folder;
use lvm::Lvm;
use service::StorageService;
use store::Store;
use volumes::Volumes;

/// The SC's path on the front door, as the original's.
pub const SERVICE_PATH: &str = "/services/Storage";

/// Where volumes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Backend {
    /// Sparse files under DATA/volumes (no privileges needed).
    #[default]
    File,
    /// LVM2 logical volumes over loop files in DATA/volumes, as the original (needs root,
    /// the lvm2 tools and device-mapper in the kernel; refused at start without them).
    Lvm,
}

/// How volumes are exported to nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Export {
    /// NBD: one qemu-nbd per attached volume.
    #[default]
    Nbd,
    /// iSCSI: a target per attached volume in a tgtd of the SC's own.
    Iscsi,
}

/// Run a storage controller: EBS volumes and snapshots, exported to nodes on attach.
///
/// Requests must be signed with the cloud key (KEYS/cloud-cert.pem); answers are signed with
/// it too. State (volumes, snapshots, limits) is kept in DATA/storage.sqlite, volumes in
/// DATA/volumes and snapshots in DATA/snapshots.
#[derive(Debug, clap::Args)]
pub struct StorageArgs {
    /// Address to serve on; exports are bound to its host.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: SocketAddr,
    /// Directory holding cloud-cert.pem and cloud-pk.pem.
    #[arg(long, value_name = "KEYS")]
    pub keys: PathBuf,
    /// Directory for the state, volumes and snapshots.
    #[arg(long, value_name = "DATA")]
    pub data: PathBuf,
    /// Where volumes live.
    #[arg(long, value_enum, default_value_t)]
    pub backend: Backend,
    /// How volumes are exported to nodes.
    #[arg(long, value_enum, default_value_t)]
    pub export: Export,
    /// Walrus (http://HOST:PORT/services/Walrus), where snapshots are stored, signed with
    /// the cloud key; without it they stay under DATA/snapshots.
    #[arg(long, value_name = "URL")]
    pub walrus: Option<String>,
    #[command(flatten)]
    pub compat: CompatArgs,
}

/// Why the storage controller could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("--backend lvm needs what this machine lacks: {}", .0.join("; "))]
    Lvm(Vec<String>),
    #[error(transparent)]
    Export(#[from] exports::ExportError),
    #[error(transparent)]
    Security(#[from] SecurityError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot prepare {path}: {source}")]
    Data {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("--walrus: {0}")]
    Walrus(#[from] walrus::snapshots::client::SnapshotClientError),
}

/// `euca storage`: runs until SIGTERM or SIGINT.
pub fn main(args: StorageArgs) -> ExitCode {
    let load = || -> Result<StorageArgs, StartError> { Ok(args) };
    kit::main("euca storage", "storage controller", load, serve)
}

/// Starts the storage controller and serves until SIGTERM or SIGINT; exports end with it.
pub async fn serve(args: StorageArgs) -> Result<(), StartError> {
    let compat = args.compat.compat.unwrap_or_default();
    let (security, service) = kit::blocking({
        let (keys, data, listen) = (args.keys.clone(), args.data.clone(), args.listen);
        let (walrus, backend) = (args.walrus.clone(), args.backend);
        let protocol = match args.export {
            Export::Nbd => Protocol::Nbd,
            Export::Iscsi => Protocol::Iscsi,
        };
        move || {
            prepare(
                &keys,
                &data,
                listen,
                (backend, protocol),
                walrus.as_deref(),
                compat,
            )
        }
    })
    .await?;
    service.start_exports().await?;
    let server = Server::builder()
        .mount(
            SERVICE_PATH,
            StorageControllerServer::new(service.clone()),
            security,
        )
        .bind(args.listen)
        .await?;
    info!(backend = ?args.backend, export = ?args.export, walrus = ?args.walrus, %compat, "storage controller configured");
    let url = kit::service_url(server.local_addr(), SERVICE_PATH);
    let stop = kit::termination();
    kit::announce_ready!("storage controller", url);
    server.run(stop).await;
    service.stop().await;
    info!("storage controller stopped");
    Ok(())
}

/// Makes what the SC writes its owner's only, loads the cloud key and opens the state.
fn prepare(
    keys: &std::path::Path,
    data: &std::path::Path,
    listen: SocketAddr,
    (backend, protocol): (Backend, Protocol),
    walrus: Option<&str>,
    compat: Compat,
) -> Result<(soap::Security, StorageService), StartError> {
    // Before anything is made: what the backend needs is there.
    if backend == Backend::Lvm {
        let missing = lvm::preflight();
        if !missing.is_empty() {
            return Err(StartError::Lvm(missing));
        }
    }
    let data_error = |path: PathBuf| move |source| StartError::Data { path, source };
    kit::private::own_only(&[data, keys]).map_err(|e| StartError::Data {
        path: e.path,
        source: e.source,
    })?;
    std::fs::create_dir_all(data).map_err(data_error(data.to_owned()))?;
    kit::log_to_file(data, "sc").map_err(data_error(data.join("log")))?;
    let cloud = kit::security::load(keys, "cloud", &["cloud"], compat, Some(data))?;
    let walrus = walrus
        .map(|url| SnapshotClient::new(url, cloud.pair.private_key.clone()))
        .transpose()?;
    let path = data.join("storage.sqlite");
    kit::private::own_file(&path).map_err(data_error(path.clone()))?;
    let store = Store::open(&path)?;
    for id in store.fail_unfinished_snapshots()? {
        info!(snapshot = id, "snapshot interrupted by the stop: failed");
    }
    let files = Folder::open(data.join("volumes")).map_err(data_error(data.join("volumes")))?;
    let volumes = match backend {
        Backend::File => Volumes::File(files),
        Backend::Lvm => Volumes::Lvm(Lvm::new(files)),
    };
    volumes.restore()?;
    let snapshots =
        Folder::open(data.join("snapshots")).map_err(data_error(data.join("snapshots")))?;
    let exports = Exports::open(listen.ip(), data.join("exports"), protocol)?;
    let service = StorageService::new(store, volumes, snapshots, walrus, exports);
    Ok((cloud.security, service))
}

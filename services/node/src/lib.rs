//! The node controller (NC) of Eucalyptus 1.6: serves `EucalyptusNC` at
//! `/axis2/services/EucalyptusNC`, and the host's `EucalyptusGL` and the instances' sensors
//! (`EucalyptusNCSensors`) beside it, and runs the cluster's instances on this host through
//! libvirt. `euca node` runs it; see [`NodeArgs`]
//! for its settings.

pub mod config;
mod config_drive;
mod console;
mod controller;
mod domain_xml;
mod error;
mod handlers;
mod hypervisor;
mod images;
mod instances;
mod libvirt_xml;
mod resources;
mod sensors;
mod store;
mod volumes;
mod walrus;
mod workdir;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use kit::security::{CompatArgs, ComponentKeys, SecurityError};
use kit::LogFile;
use soap::keys::KeyPair;
use soap::{Server, ServerError};
use tracing::info;
use wire::gl::EucalyptusGlServer;
use wire::nc::EucalyptusNcServer;
use wire::nc_sensors::EucalyptusNcSensorsServer;

pub use config::{Config, ConfigError, HypervisorKind, Overrides};
pub use error::NodeError;

use controller::{NodeController, Parts};
use handlers::{NcService, SensorsService};
use hypervisor::{Hypervisor, HypervisorError};
use images::{ImageCache, ImageError};
use instances::InstanceRecord;
use resources::Capacity;
use store::{Store, StoreError};
use walrus::ImageClient;
use workdir::{Disks, Tools};

/// Run a node controller: serve EucalyptusNC and run instances on this host's hypervisor.
///
/// Settings come from --config (an eucalyptus.conf file: KEY="value" lines) and are
/// overridden by the flags. Keys read, as the original named them: NC_PORT, HYPERVISOR,
/// INSTANCE_PATH, EUCALYPTUS (keys under $EUCALYPTUS/var/lib/eucalyptus/keys), MAX_MEM (MB),
/// MAX_CORES, MAX_DISK (GB), NC_CACHE_SIZE (MB, 0 = no cache), SWAP_SIZE (MB), VNET_MODE,
/// VNET_BRIDGE (unset = user-mode networking), MANUAL_INSTANCES_CLEANUP; and this
/// implementation's own: LIBVIRT_URI, LIBVIRT_DOMAIN_TYPE (kvm|qemu), TEARDOWN_STATE_DURATION
/// (seconds a terminated instance stays reported, default 60); WSSEC_COMPAT (see --compat).
#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// Settings file in eucalyptus.conf form.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to serve on [default: 0.0.0.0:NC_PORT, port 8775].
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<SocketAddr>,
    /// Hypervisor to drive: test (libvirt's test:///default, no real guests), kvm or xen
    /// [config: HYPERVISOR].
    #[arg(long, value_name = "test|kvm|xen")]
    pub hypervisor: Option<HypervisorKind>,
    /// Directory holding node-cert.pem, node-pk.pem and the trusted cluster-cert.pem
    /// [default: $EUCALYPTUS/var/lib/eucalyptus/keys].
    #[arg(long, value_name = "KEYS")]
    pub keys: Option<PathBuf>,
    /// Directory for instance records, work directories, the image cache and the log file
    /// GetLogs reads (log/nc.log) [config: INSTANCE_PATH].
    #[arg(long, value_name = "DATA")]
    pub data: Option<PathBuf>,
    /// libvirt connection, such as qemu:///embed?root=DIR [config: LIBVIRT_URI; default
    /// per hypervisor: test:///default, qemu:///system, xen:///].
    #[arg(long, value_name = "URI")]
    pub libvirt_uri: Option<String>,
    /// libvirt's domain type for kvm: kvm, or qemu for software emulation
    /// [config: LIBVIRT_DOMAIN_TYPE; default kvm where /dev/kvm exists, else qemu].
    #[arg(long, value_name = "kvm|qemu")]
    pub domain_type: Option<String>,
    /// With --hypervisor test only: offer this capacity instead of the host's, as
    /// cores=N,memory=MiB,disk=GiB. Instances then get no disks carved from the host (their
    /// folder holds a few kilobytes), so one node can hold thousands, for benchmarks.
    #[arg(long, value_name = "cores=N,memory=MiB,disk=GiB")]
    pub capacity: Option<Capacity>,
    /// Seconds between two samples of each running instance's counters (CPU time, disk and
    /// network bytes), served by EucalyptusNCSensors [config: SAMPLE_INTERVAL; default 20].
    #[arg(long, value_name = "SECONDS")]
    pub sample_interval: Option<f64>,
    #[command(flatten)]
    pub compat: CompatArgs,
}

/// Why the node controller could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Security(#[from] SecurityError),
    #[error(transparent)]
    Hypervisor(#[from] HypervisorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Images(#[from] ImageError),
    #[error("cannot prepare {path}: {source}")]
    Data {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot measure the host: {0}")]
    Capacity(std::io::Error),
    #[error("cannot load the node's key for image downloads: {0}")]
    ImageKey(#[from] openssl::error::ErrorStack),
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// `euca node`: runs until SIGTERM or SIGINT.
pub fn main(args: NodeArgs) -> ExitCode {
    let load = || {
        Config::load(
            args.config.as_deref(),
            Overrides {
                listen: args.listen,
                hypervisor: args.hypervisor,
                keys: args.keys,
                data: args.data,
                libvirt_uri: args.libvirt_uri,
                domain_type: args.domain_type,
                capacity: args.capacity,
                sample_interval: args.sample_interval,
                compat: args.compat,
            },
        )
        .map_err(StartError::from)
    };
    kit::main("euca node", "node controller", load, serve)
}

/// The largest request the node reads. Its largest real request, an ncRunInstance with EC2's
/// 16 KB of user data, is under 64 KB signed; the margin is wide, and a flood of oversized
/// messages costs the node at most this much per message being read.
const MAX_REQUEST_BYTES: usize = 1 << 20;

/// Starts the node controller with `config` and serves until SIGTERM or SIGINT.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let (keys, log) = kit::blocking({
        let config = config.clone();
        move || prepare(&config)
    })
    .await?;
    let node = start_node(&config, &keys.pair).await?;
    let server = Server::builder()
        .limits(xmlbind::Limits {
            max_bytes: MAX_REQUEST_BYTES,
            ..xmlbind::Limits::default()
        })
        .mount(
            config::SERVICE_PATH,
            EucalyptusNcServer::new(NcService::new(Arc::clone(&node))),
            keys.security.clone(),
        )
        .mount(
            wire::nc_sensors::SERVICE_PATH,
            EucalyptusNcSensorsServer::new(SensorsService::new(node)),
            keys.security.clone(),
        )
        .mount(
            gl::SERVICE_PATH,
            EucalyptusGlServer::new(gl::GlService::for_node(&config.keys, log)),
            keys.security,
        )
        .bind(config.listen)
        .await?;
    info!(hypervisor = %config.hypervisor, compat = %config.compat, "node controller configured");
    let url = kit::service_url(server.local_addr(), config::SERVICE_PATH);
    // Watched before the ready line: a signal sent on seeing it stops the server cleanly.
    let stop = kit::termination();
    kit::announce_ready!("node controller", url);
    server.run(stop).await;
    info!("node controller stopped");
    Ok(())
}

/// Creates the data folders, opens the log file GetLogs reads (`DATA/log/nc.log`), closes
/// KEYS and loads the keys. Replies are signed like every message we send; requests, to NC and
/// GL alike, must be signed by the cluster. The replay cache lives in the data folder, so a
/// restart does not forget it. No 077 umask here: under `qemu:///system` the guest's QEMU,
/// another user, must reach the instance folders under DATA.
fn prepare(config: &Config) -> Result<(ComponentKeys, LogFile), StartError> {
    for dir in [&config.data, &work_dir(config), &cache_dir(config)] {
        std::fs::create_dir_all(dir).map_err(|source| StartError::Data {
            path: dir.clone(),
            source,
        })?;
    }
    let log = kit::log_to_file(&config.data, "nc").map_err(|source| StartError::Data {
        path: config.data.join("log"),
        source,
    })?;
    kit::private::close_open(&[&config.keys]).map_err(|e| StartError::Data {
        path: e.path,
        source: e.source,
    })?;
    let keys = kit::security::load(
        &config.keys,
        "node",
        &["cluster"],
        config.compat,
        Some(&config.data),
    )?;
    Ok((keys, log))
}

fn work_dir(config: &Config) -> PathBuf {
    config.data.join("work")
}

fn cache_dir(config: &Config) -> PathBuf {
    config.data.join("cache")
}

async fn start_node(
    config: &Config,
    node_keys: &KeyPair,
) -> Result<Arc<NodeController>, StartError> {
    let client = ImageClient::new(node_keys)?;
    let config = config.clone();
    // Opening the records, the image cache and the hypervisor blocks.
    let (parts, records) = kit::blocking(move || open_parts(config, client)).await?;
    Ok(NodeController::start(parts, records).await)
}

/// What the controller is made of, opened on a blocking thread.
fn open_parts(
    config: Config,
    client: ImageClient,
) -> Result<(Parts, Vec<InstanceRecord>), StartError> {
    let hypervisor = Hypervisor::connect(config.hypervisor, &config.libvirt_uri)?;
    let records_path = config.data.join("instances.sqlite");
    // The records hold what users sent (user data, key names): owner only, and so SQLite's
    // journals, which take the database's mode.
    kit::private::own_file(&records_path).map_err(|source| StartError::Data {
        path: records_path.clone(),
        source,
    })?;
    let (store, records) = Store::open(&records_path)?;
    let images = ImageCache::open(&cache_dir(&config), config.cache_size_mb, client)?;
    let (capacity, disks) = match config.capacity {
        Some(declared) => {
            info!(
                memory_mb = declared.memory_mb,
                cores = declared.cores,
                disk_gb = declared.disk_gb,
                "capacity declared: instances carve no disks from the host"
            );
            (declared, Disks::Declared)
        }
        None => (
            Capacity::measure(&config.limits, &config.data).map_err(StartError::Capacity)?,
            Disks::Host(Tools::find()),
        ),
    };
    let parts = Parts {
        hypervisor,
        store,
        images,
        disks,
        capacity,
        work_dir: work_dir(&config),
        config,
    };
    Ok((parts, records))
}

//! The cluster controller (CC) of Eucalyptus 1.6: serves `EucalyptusCC` at
//! `/axis2/services/EucalyptusCC` and fronts a set of node controllers as one availability
//! zone, placing instances on them and routing each instance's operations to its node; and
//! serves the samples of its instances' counters it gathers from them
//! (`EucalyptusCCSensors`), and `EucalyptusCCNodes` at `/axis2/services/EucalyptusCCNodes`,
//! where the cloud registers nodes with it while it runs.
//! `euca cluster` runs it; see [`ClusterArgs`] for its settings.

pub mod config;
mod error;
mod handlers;
mod instances;
mod launch;
pub mod network;
mod nodes;
mod poller;
mod registration;
mod reply;
pub mod scheduler;
mod sensors;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use kit::security::{CompatArgs, SecurityError};
use kit::LogFile;
use soap::{ClientError, Server, ServerError};
use tracing::info;
use wire::cc::EucalyptusCcServer;
use wire::cc_nodes::EucalyptusCcNodesServer;
use wire::cc_sensors::EucalyptusCcSensorsServer;
use wire::gl::EucalyptusGlServer;

pub use config::{Config, ConfigError, Overrides};
pub use scheduler::Policy;

use handlers::CcService;
use instances::{Instances, StoreError};
use network::Network;
use nodes::NodePool;
use poller::Poller;
use registration::{NodesService, RegistrationError, Registry};
use sensors::{Sensors, SensorsService};

/// Run a cluster controller: serve EucalyptusCC and place instances on the cluster's nodes.
///
/// Settings come from --config (an eucalyptus.conf file: KEY="value" lines) and are
/// overridden by the flags. Keys read, as the original named them: CC_PORT, NODES (node hosts,
/// HOST or HOST:PORT), NC_PORT, NC_SERVICE, SCHEDPOLICY, POWER_IDLETHRESH, POWER_WAKETHRESH
/// (seconds), VNET_* (the VM network: see the `vnet` crate), EUCALYPTUS (keys under $EUCALYPTUS/var/lib/eucalyptus/keys);
/// WSSEC_COMPAT (see --compat).
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// Settings file in eucalyptus.conf form.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to serve on [default: 0.0.0.0:CC_PORT, port 8774].
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<SocketAddr>,
    /// Directory holding cluster-cert.pem, cluster-pk.pem and the trusted cloud-cert.pem
    /// (requests) and node-cert.pem (node replies) [default: $EUCALYPTUS/var/lib/eucalyptus/keys].
    #[arg(long, value_name = "KEYS")]
    pub keys: Option<PathBuf>,
    /// Directory for the instance cache and the replay journal
    /// [default: $EUCALYPTUS/var/lib/eucalyptus/CC].
    #[arg(long, value_name = "DATA")]
    pub data: Option<PathBuf>,
    /// The nodes, blank-separated: "HOST:PORT HOST:PORT ..." [config: NODES].
    #[arg(long, value_name = "NODES")]
    pub nodes: Option<String>,
    /// How instances are placed on nodes [config: SCHEDPOLICY; default ROUNDROBIN].
    #[arg(long, value_name = "GREEDY|ROUNDROBIN|POWERSAVE")]
    pub policy: Option<Policy>,
    #[command(flatten)]
    pub compat: CompatArgs,
}

/// Why the cluster controller could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Security(#[from] SecurityError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Network(#[from] vnet::VnetError),
    #[error("cannot prepare {path}: {source}")]
    Data {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Gl(#[from] gl::NodeAddressError),
    #[error("cannot make a client for the nodes: {0}")]
    Nodes(#[from] ClientError),
    #[error(transparent)]
    Registered(#[from] RegistrationError),
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// `euca cluster`: runs until SIGTERM or SIGINT.
pub fn main(args: ClusterArgs) -> ExitCode {
    let load = || {
        Config::load(
            args.config.as_deref(),
            Overrides {
                listen: args.listen,
                keys: args.keys,
                data: args.data,
                nodes: args.nodes,
                policy: args.policy,
                compat: args.compat,
            },
        )
        .map_err(StartError::from)
    };
    kit::main("euca cluster", "cluster controller", load, serve)
}

/// The loaded keys: one security for the service (requests signed by the cloud), one for the
/// nodes (replies signed by the nodes). Each trusts only its peer.
struct Keys {
    service: soap::Security,
    nodes: soap::Security,
}

/// Starts the cluster controller with `config` and serves until SIGTERM or SIGINT.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let (keys, instances, network, log) = kit::blocking({
        let config = config.clone();
        move || prepare(&config)
    })
    .await?;
    let instances = Arc::new(instances);
    let nodes = Arc::new(NodePool::new(
        &config.nodes,
        &keys.nodes,
        config.policy,
        config.idle_threshold,
        config.wake_threshold,
    )?);
    // Those the cloud registered while the cluster ran before join the configured ones.
    let registry = Arc::new(
        kit::blocking({
            let (nodes, config) = (Arc::clone(&nodes), config.clone());
            move || Registry::open(nodes, config.node_service, config.nodes, &config.data)
        })
        .await?,
    );
    let sensors = Arc::new(Sensors::new(&keys.nodes));
    let poller = Poller::new(
        Arc::clone(&nodes),
        Arc::clone(&instances),
        Arc::clone(&sensors),
    );
    let polling = tokio::spawn(poller.clone().run());
    let nodes_count = nodes.len();
    let service = CcService::new(nodes, instances, network, poller);
    // GL answers for this host, and passes requests naming a node's GL on to it.
    let gl = gl::GlService::for_cluster(&config.keys, log, &config.node_addresses(), &keys.nodes)?;
    let server = Server::builder()
        .mount(
            config::SERVICE_PATH,
            EucalyptusCcServer::new(service),
            keys.service.clone(),
        )
        .mount(
            wire::cc_sensors::SERVICE_PATH,
            EucalyptusCcSensorsServer::new(SensorsService::new(sensors)),
            keys.service.clone(),
        )
        .mount(
            wire::cc_nodes::SERVICE_PATH,
            EucalyptusCcNodesServer::new(NodesService::new(registry)),
            keys.service.clone(),
        )
        .mount(gl::SERVICE_PATH, EucalyptusGlServer::new(gl), keys.service)
        .bind(config.listen)
        .await?;
    info!(policy = %config.policy, nodes = nodes_count, compat = %config.compat, "cluster controller configured");
    let url = kit::service_url(server.local_addr(), config::SERVICE_PATH);
    // Watched before the ready line: a signal sent on seeing it stops the server cleanly.
    let stop = kit::termination();
    kit::announce_ready!("cluster controller", url);
    server.run(stop).await;
    polling.abort();
    info!("cluster controller stopped");
    Ok(())
}

/// Makes what the cluster writes its owner's only (a 077 umask; DATA and KEYS closed if open),
/// creates DATA, loads the keys and opens the instance cache and the VM network's state.
fn prepare(config: &Config) -> Result<(Keys, Instances, Network, LogFile), StartError> {
    let data_error = |path: &PathBuf| {
        let path = path.clone();
        move |source| StartError::Data { path, source }
    };
    kit::private::own_only(&[&config.data, &config.keys]).map_err(|e| StartError::Data {
        path: e.path,
        source: e.source,
    })?;
    std::fs::create_dir_all(&config.data).map_err(data_error(&config.data))?;
    let log = kit::log_to_file(&config.data, "cc").map_err(data_error(&config.data.join("log")))?;
    let service = kit::security::load(
        &config.keys,
        "cluster",
        &["cloud"],
        config.compat,
        Some(&config.data),
    )?
    .security;
    let nodes =
        kit::security::load(&config.keys, "cluster", &["node"], config.compat, None)?.security;
    // The cache holds what users sent (user data, key names): owner only, and so SQLite's
    // journals, which take the database's mode.
    let path = config.data.join("instances.sqlite");
    kit::private::own_file(&path).map_err(data_error(&path))?;
    let instances = Instances::open(&path)?;
    let network = Network::open(config.network.clone(), &config.data.join("vnet"))?;
    Ok((Keys { service, nodes }, instances, network, log))
}

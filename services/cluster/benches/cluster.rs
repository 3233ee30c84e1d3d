//! Latency of the cluster controller's answers over many nodes (issue 11, acceptance 5), in
//! one run (`cargo bench -p cluster`):
//!
//! 1. DescribeInstances with 1,000 and then 10,000 instances spread over 20 nodes;
//! 2. DescribeResources with one of the 20 nodes dead: at once, and once it is marked down.
//!
//! The nodes are stand-ins in this process (an `EucalyptusNc` that reports a set number of
//! instances and a fixed capacity), each on its own loopback port; the cluster is the real
//! one (`cluster::serve`), and every hop is signed and verified as in production (cloud →
//! cluster, cluster → node, and the replies). Figures are printed, nothing is asserted.

#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kit::security::{Compat, CompatArgs};
use soap::{Fault, HttpTransport, RequestContext, Server};
use tokio::sync::oneshot;
use wire::cc::{
    DescribeInstancesType, DescribeResourcesType, EucalyptusCcClient, VirtualMachineType,
};
use wire::nc::*;

const NODES: usize = 20;
const SIZES: [usize; 2] = [1_000, 10_000];
const ROUNDS: usize = 20;
const NC_PATH: &str = "/axis2/services/EucalyptusNC";

/// A node that reports `count` instances of alice's and 8 GB, 16 cores, 100 GB free.
#[derive(Debug, Clone)]
struct StandIn {
    node: usize,
    count: Arc<AtomicUsize>,
}

impl StandIn {
    fn instances(&self) -> Vec<InstanceType> {
        (0..self.count.load(Ordering::Relaxed))
            .map(|i| {
                let id = format!("i-{:04x}{:04x}", self.node, i);
                InstanceType {
                    reservation_id: "r-00000001".into(),
                    instance_id: id.clone(),
                    image_id: "emi-00000001".into(),
                    kernel_id: "eki-00000001".into(),
                    ramdisk_id: Some("eri-00000001".into()),
                    user_id: "alice".into(),
                    key_name: "ssh-rsa AAAA bench".into(),
                    instance_type: wire::nc::VirtualMachineType {
                        memory: Some(128),
                        cores: Some(1),
                        disk: Some(2),
                    },
                    net_params: Some(NetConfigType {
                        private_mac_address: format!("d0:0d:{}", &id[2..]),
                        public_mac_address: format!("d0:0d:{}", &id[2..]),
                        vlan: 10,
                        private_ip: "0.0.0.0".into(),
                        public_ip: "0.0.0.0".into(),
                    }),
                    state_name: "Extant".into(),
                    launch_time: Some(xmlbind::DateTime::from_unix(1_700_000_000)),
                    group_names: vec!["default".into()],
                    ..InstanceType::default()
                }
            })
            .collect()
    }
}

fn refused<T>() -> Result<T, Fault> {
    Err(Fault::client("a stand-in node only describes"))
}

impl EucalyptusNc for StandIn {
    async fn nc_run_instance(
        &self,
        _: NcRunInstanceType,
        _: RequestContext,
    ) -> Result<NcRunInstanceResponseType, Fault> {
        refused()
    }
    async fn nc_terminate_instance(
        &self,
        _: NcTerminateInstanceType,
        _: RequestContext,
    ) -> Result<NcTerminateInstanceResponseType, Fault> {
        refused()
    }
    async fn nc_reboot_instance(
        &self,
        _: NcRebootInstanceType,
        _: RequestContext,
    ) -> Result<NcRebootInstanceResponseType, Fault> {
        refused()
    }
    async fn nc_describe_instances(
        &self,
        request: NcDescribeInstancesType,
        _: RequestContext,
    ) -> Result<NcDescribeInstancesResponseType, Fault> {
        Ok(NcDescribeInstancesResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            instances: self.instances(),
            ..NcDescribeInstancesResponseType::default()
        })
    }
    async fn nc_describe_resource(
        &self,
        request: NcDescribeResourceType,
        _: RequestContext,
    ) -> Result<NcDescribeResourceResponseType, Fault> {
        Ok(NcDescribeResourceResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            node_status: "OK".into(),
            memory_size_max: 8192,
            memory_size_available: 8192,
            disk_size_max: 100,
            disk_size_available: 100,
            number_of_cores_max: 16,
            number_of_cores_available: 16,
            public_subnets: "none".into(),
            ..NcDescribeResourceResponseType::default()
        })
    }
    async fn nc_get_console_output(
        &self,
        _: NcGetConsoleOutputType,
        _: RequestContext,
    ) -> Result<NcGetConsoleOutputResponseType, Fault> {
        refused()
    }
    async fn nc_attach_volume(
        &self,
        _: NcAttachVolumeType,
        _: RequestContext,
    ) -> Result<NcAttachVolumeResponseType, Fault> {
        refused()
    }
    async fn nc_detach_volume(
        &self,
        _: NcDetachVolumeType,
        _: RequestContext,
    ) -> Result<NcDetachVolumeResponseType, Fault> {
        refused()
    }
    async fn nc_start_network(
        &self,
        _: NcStartNetworkType,
        _: RequestContext,
    ) -> Result<NcStartNetworkResponseType, Fault> {
        refused()
    }
    async fn nc_power_down(
        &self,
        _: NcPowerDownType,
        _: RequestContext,
    ) -> Result<NcPowerDownResponseType, Fault> {
        refused()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts stand-in node `node` on a loopback port; returns its address and what stops it.
async fn stand_in(
    keys: &Path,
    node: usize,
    count: Arc<AtomicUsize>,
) -> (SocketAddr, oneshot::Sender<()>) {
    let security = kit::security::load(keys, "node", &["cluster"], Compat::Strict, None)
        .unwrap()
        .security;
    let server = Server::builder()
        .mount(
            NC_PATH,
            EucalyptusNcServer::new(StandIn { node, count }),
            security,
        )
        .bind("127.0.0.1:0".parse::<SocketAddr>().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// The size of `reply` as XML, unsigned.
fn body_size(reply: &wire::cc::DescribeInstancesResponseType) -> usize {
    use xmlbind::ToXml;
    let mut w = xmlbind::XmlWriter::new();
    reply.to_xml(
        &mut w,
        Some(wire::cc::NAMESPACE),
        "DescribeInstancesResponse",
    );
    w.finish().len()
}

/// min / median / max of `samples`, in milliseconds.
fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "min {:.1} ms, median {:.1} ms, max {:.1} ms ({} calls)",
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1]),
        samples.len()
    )
}

#[tokio::main]
async fn main() {
    let keys = tempfile::tempdir().unwrap();
    soap::keys::init(keys.path()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let mut nodes = Vec::new();
    for node in 0..NODES {
        nodes.push(stand_in(keys.path(), node, Arc::clone(&count)).await);
    }
    let hosts: Vec<String> = nodes.iter().map(|(addr, _)| addr.to_string()).collect();
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = cluster::Config::load(
        None,
        cluster::Overrides {
            listen: Some(listen),
            keys: Some(keys.path().to_owned()),
            data: Some(data.path().to_owned()),
            nodes: Some(hosts.join(" ")),
            policy: None,
            compat: CompatArgs::default(),
        },
    )
    .unwrap();
    tokio::spawn(cluster::serve(config));

    let cloud = kit::security::load(keys.path(), "cloud", &["cluster"], Compat::Strict, None)
        .unwrap()
        .security;
    let transport = HttpTransport::builder(
        format!("http://{listen}/axis2/services/EucalyptusCC"),
        cloud,
    )
    .limits(xmlbind::Limits {
        max_bytes: 256 << 20,
        max_nodes: 4_000_000,
        ..xmlbind::Limits::default()
    })
    .build()
    .unwrap();
    let cc = EucalyptusCcClient::new(transport);
    let all_instances = DescribeInstancesType {
        user_id: Some("eucalyptus".into()),
        ..DescribeInstancesType::default()
    };
    let describe_instances = || cc.describe_instances(&all_instances);

    println!("cluster over {NODES} stand-in nodes, signed hops; DescribeInstances as the cloud:");
    for total in SIZES {
        count.store(total / NODES, Ordering::Relaxed);
        let waiting = Instant::now();
        loop {
            if let Ok(reply) = describe_instances().await {
                if reply.instances.len() == total {
                    break;
                }
            }
            assert!(
                waiting.elapsed() < Duration::from_secs(120),
                "the cluster never saw {total} instances"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut samples = Vec::new();
        let mut body = 0;
        for _ in 0..ROUNDS {
            let start = Instant::now();
            let reply = describe_instances().await.unwrap();
            samples.push(start.elapsed());
            assert_eq!(reply.instances.len(), total);
            body = body_size(&reply);
        }
        println!(
            "  {total:>6} instances ({:.1} MB reply body): {}",
            body as f64 / 1e6,
            summary(samples)
        );
    }

    let small = DescribeResourcesType {
        user_id: Some("eucalyptus".into()),
        instance_types: vec![VirtualMachineType {
            name: Some("m1.small".into()),
            memory: Some(128),
            cores: Some(1),
            disk: Some(2),
        }],
        ..DescribeResourcesType::default()
    };
    let describe_resources = || cc.describe_resources(&small);
    let available = |reply: &wire::cc::DescribeResourcesResponseType| {
        reply.resources[0].available_instances.unwrap_or_default()
    };
    let before = available(&describe_resources().await.unwrap());
    let (_, stop) = nodes.remove(0);
    let _ = stop.send(());
    let killed = Instant::now();
    let mut at_once = Vec::new();
    let mut marked_down = None;
    let mut after = Vec::new();
    while killed.elapsed() < Duration::from_secs(8) {
        let start = Instant::now();
        let reply = describe_resources().await.unwrap();
        let took = start.elapsed();
        if available(&reply) < before {
            marked_down.get_or_insert(killed.elapsed());
            after.push(took);
        } else {
            at_once.push(took);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "DescribeResources with one of {NODES} nodes dead ({before} m1.small available before):"
    );
    if !at_once.is_empty() {
        println!("  before it is marked down: {}", summary(at_once));
    }
    match marked_down {
        Some(when) => println!(
            "  marked down {:.1} s after it died; since then: {}",
            when.as_secs_f64(),
            summary(after)
        ),
        None => println!("  not marked down within 8 s"),
    }
}

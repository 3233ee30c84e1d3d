//! What the cluster controller's tests share: node controllers on libvirt's test driver, each
//! on a loopback port of its own (so it can come back on it), a real `euca cluster` over them,
//! and zeep driving the cluster with the original CC WSDL, signing as the cloud.

// Each test crate uses a different part of this module.
#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::common::launcher::{euca, Component, Keys};
pub use crate::common::zeep_driver::{Reply, Zeep};
use crate::node_support::{serve_images, ImageServer, Nc, NcClient, NcSetup};

/// Runs `future` to completion on a runtime of its own: the tests are synchronous, the node
/// clients async.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The public addresses of [`MANAGED_NOVLAN`]'s pool.
pub const PUBLIC_IPS: &str = "192.168.7.10-192.168.7.17";

/// Cluster settings: MANAGED-NOVLAN over a /16 in networks of 32, with the pool
/// [`PUBLIC_IPS`] (not applied to the host).
pub const MANAGED_NOVLAN: &[(&str, &str)] = &[
    ("VNET_MODE", "MANAGED-NOVLAN"),
    ("VNET_SUBNET", "10.0.0.0"),
    ("VNET_NETMASK", "255.255.0.0"),
    ("VNET_DNS", "10.1.1.1"),
    ("VNET_ADDRSPERNET", "32"),
    ("VNET_PUBLICIPS", PUBLIC_IPS),
];

/// Node controllers on the test driver (2 GB, 8 cores, 11 GB each) and the images they run.
pub struct Nodes {
    pub keys: Keys,
    pub images: ImageServer,
    ncs: Vec<Option<Nc>>,
    data: Vec<tempfile::TempDir>,
    ports: Vec<u16>,
    /// Settings each node's file has beside the test driver's.
    settings: Vec<(&'static str, String)>,
}

impl Nodes {
    pub fn start(count: usize) -> Self {
        Self::start_with(count, &[])
    }

    /// `count` nodes whose settings files also hold `settings`.
    pub fn start_with(count: usize, settings: &[(&'static str, &str)]) -> Self {
        let keys = Keys::new();
        let images = ImageServer::start();
        serve_images(&images);
        let mut nodes = Self {
            keys,
            images,
            ncs: Vec::new(),
            data: (0..count).map(|_| tempfile::tempdir().unwrap()).collect(),
            ports: (0..count).map(|_| free_port()).collect(),
            settings: settings
                .iter()
                .map(|(key, value)| (*key, (*value).to_owned()))
                .collect(),
        };
        for index in 0..count {
            let nc = nodes.launch(index);
            nodes.ncs.push(Some(nc));
        }
        nodes
    }

    fn launch(&self, index: usize) -> Nc {
        let setup = NcSetup {
            listen: format!("127.0.0.1:{}", self.ports[index]),
            ..NcSetup::test_driver(&self.keys, self.data[index].path())
        };
        self.settings
            .iter()
            .fold(setup, |setup, (key, value)| setup.set(key, value))
            .start()
    }

    /// `127.0.0.1:PORT` of node `index`.
    pub fn host(&self, index: usize) -> String {
        format!("127.0.0.1:{}", self.ports[index])
    }

    /// `127.0.0.1:PORT ...`, as `--nodes` takes them.
    pub fn hosts(&self) -> String {
        let hosts: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        hosts.join(" ")
    }

    /// The service URL of node `index`, as the cluster names it in serviceTag.
    pub fn url(&self, index: usize) -> String {
        format!(
            "http://127.0.0.1:{}/axis2/services/EucalyptusNC",
            self.ports[index]
        )
    }

    pub fn nc(&self, index: usize) -> &Nc {
        self.ncs[index].as_ref().expect("the node is running")
    }

    /// The security the cloud calls its clusters with: signing as the cloud, trusting the
    /// clusters' certificate.
    pub fn cloud_security(&self) -> soap::Security {
        kit::security::load(
            self.keys.path(),
            "cloud",
            &["cluster"],
            kit::security::Compat::Strict,
            None,
        )
        .unwrap()
        .security
    }

    /// A client of node `index` signing as the cluster.
    pub fn client(&self, index: usize) -> NcClient {
        self.nc(index).client(&self.keys)
    }

    /// Kills node `index`, as a crash would.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut nc) = self.ncs[index].take() {
            nc.kill();
        }
    }

    /// Starts node `index` again, on its port and data.
    pub fn restart(&mut self, index: usize) {
        self.kill(index);
        self.ncs[index] = Some(self.launch(index));
    }
}

/// A running `euca cluster`.
pub struct Cc {
    pub process: Component,
}

impl Cc {
    /// Starts a cluster over `nodes` with `--policy policy`, its data in `data`, and the
    /// further settings `settings` in its --config file.
    pub fn start(nodes: &Nodes, data: &Path, policy: &str, settings: &[(&str, &str)]) -> Self {
        Self::start_over(&nodes.hosts(), &nodes.keys, data, policy, settings)
    }

    /// Starts a cluster over the nodes at `hosts` (`HOST:PORT ...`, as `--nodes` takes them)
    /// with the keys `keys`.
    pub fn start_over(
        hosts: &str,
        keys: &Keys,
        data: &Path,
        policy: &str,
        settings: &[(&str, &str)],
    ) -> Self {
        std::fs::create_dir_all(data).unwrap();
        let config = data.join("eucalyptus.conf");
        let text: String = settings
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\"\n"))
            .collect();
        std::fs::write(&config, text).unwrap();
        let mut command = euca();
        command
            .arg("cluster")
            .arg("--config")
            .arg(&config)
            .args(["--listen", "127.0.0.1:0"])
            .arg("--keys")
            .arg(keys.path())
            .arg("--data")
            .arg(data)
            .args(["--nodes", hosts, "--policy", policy]);
        let process = Component::start(command, "cluster controller")
            .unwrap_or_else(|log| panic!("euca cluster did not become ready:\n{log}"));
        Self { process }
    }

    pub fn url(&self) -> &str {
        &self.process.url
    }

    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// zeep with the original CC WSDL (see [`crate::common::zeep_driver`]).
impl Zeep {
    /// zeep calling the cluster at `url`, or `None` (after a `skipped:` line) without the
    /// original WSDL.
    pub fn start(url: &str, keys: &Keys) -> Option<Self> {
        let Some(reference) = crate::common::reference_dir() else {
            println!("skipped: no reference (../shared/reference is absent)");
            return None;
        };
        let wsdl: PathBuf = reference.join("eucalyptus-1.6.1/wsdl/eucalyptus_cc.wsdl");
        Some(Zeep::spawn(
            "cluster_zeep.py",
            &[wsdl.as_os_str(), url.as_ref(), keys.path().as_os_str()],
        ))
    }
}

/// The VM types the tests ask about: (name, memory MB, cores, disk GB).
pub const SMALL: (&str, i32, i32, i32) = ("m1.small", 128, 1, 2);
pub const LARGE: (&str, i32, i32, i32) = ("m1.large", 512, 2, 5);

/// A VM type as JSON.
pub fn vm_type((name, memory, cores, disk): (&str, i32, i32, i32)) -> String {
    format!(r#"{{"name": "{name}", "memory": {memory}, "cores": {cores}, "disk": {disk}}}"#)
}

/// RunInstances arguments: `ids` of the small type for `user`, each with a MAC address from
/// the cloud (which SYSTEM mode replaces with one made from the id, as the original did).
pub fn run_args(nodes: &Nodes, user: &str, ids: &[&str]) -> String {
    run_args_in(nodes, user, ids, "default", 10)
}

/// RunInstances of `ids` for `user` in security group `group` on VLAN `vlan`.
pub fn run_args_in(nodes: &Nodes, user: &str, ids: &[&str], group: &str, vlan: i32) -> String {
    let count = ids.len();
    let quoted: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
    let ids = quoted.join(", ");
    let macs: Vec<String> = (0..count)
        .map(|i| format!("\"aa:00:00:00:00:{i:02x}\""))
        .collect();
    let macs = macs.join(", ");
    format!(
        r#"{{"userId": "{user}", "imageId": "emi-00000001", "kernelId": "eki-00000001",
            "ramdiskId": "eri-00000001", "imageURL": "{image}", "kernelURL": "{kernel}",
            "ramdiskURL": "{ramdisk}", "instanceType": {vm}, "keyName": "ssh-rsa AAAA test",
            "maxCount": {count}, "minCount": 1, "reservationId": "r-00000001",
            "instanceIds": [{ids}], "netNames": ["{group}"], "macAddresses": [{macs}],
            "vlan": {vlan}, "userData": "", "launchIndex": "0"}}"#,
        image = nodes.images.url("/image"),
        kernel = nodes.images.url("/kernel"),
        ramdisk = nodes.images.url("/ramdisk"),
        vm = vm_type(SMALL),
    )
}

/// What the nodes themselves report: per VM type, (max, available) summed as
/// ⌊min(memory, disk, cores ratios)⌋ per node, over the nodes `live`.
pub fn expected_capacity(nodes: &Nodes, live: &[usize], vm: (&str, i32, i32, i32)) -> (i32, i32) {
    let (_, memory, cores, disk) = vm;
    let fits = |m: i32, d: i32, c: i32| (m / memory).min(d / disk).min(c / cores).max(0);
    live.iter().fold((0, 0), |(max, free), &i| {
        let r = block_on(crate::node_support::resources(&nodes.client(i)));
        (
            max + fits(r.memory_size_max, r.disk_size_max, r.number_of_cores_max),
            free + fits(
                r.memory_size_available,
                r.disk_size_available,
                r.number_of_cores_available,
            ),
        )
    })
}

/// The (max, available) the cluster answers for `vm`.
pub fn cluster_capacity(reply: &Reply, index: usize) -> (i32, i32) {
    let field = |name: &str| {
        reply
            .get(&format!("resources.{index}.{name}"))
            .unwrap_or("0")
            .parse()
            .unwrap()
    };
    (field("maxInstances"), field("availableInstances"))
}

/// DescribeResources arguments for the small and large types.
pub fn resource_args() -> String {
    format!(
        r#"{{"userId": "eucalyptus", "instanceTypes": [{}, {}]}}"#,
        vm_type(SMALL),
        vm_type(LARGE)
    )
}

/// A typed RunInstances of one m1.small instance `id` in `reservation` for `user`, booting the
/// nodes' test images (the request a cloud sends its cluster).
pub fn launch_one(
    nodes: &Nodes,
    user: &str,
    reservation: &str,
    id: &str,
    mac: &str,
) -> wire::cc::RunInstancesType {
    let (name, memory, cores, disk) = SMALL;
    wire::cc::RunInstancesType {
        user_id: Some(user.into()),
        image_id: Some("emi-00000001".into()),
        kernel_id: Some("eki-00000001".into()),
        image_url: Some(nodes.images.url("/image")),
        kernel_url: Some(nodes.images.url("/kernel")),
        instance_type: Some(wire::cc::VirtualMachineType {
            name: Some(name.into()),
            memory: Some(memory),
            cores: Some(cores),
            disk: Some(disk),
        }),
        min_count: 1,
        max_count: 1,
        reservation_id: reservation.into(),
        instance_ids: vec![id.into()],
        net_names: vec!["default".into()],
        mac_addresses: vec![mac.into()],
        launch_index: "0".into(),
        ..wire::cc::RunInstancesType::default()
    }
}

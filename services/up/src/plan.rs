//! What `euca up` runs: the folders under HOME, the ports from the base port, and each
//! component's command line.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// The hypervisor the node drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Hypervisor {
    /// libvirt's test driver: instances without guests.
    Test,
    /// QEMU through libvirt's embedded driver (no daemon), KVM where the CPU allows.
    Kvm,
}

impl Hypervisor {
    pub fn name(self) -> &'static str {
        match self {
            Self::Test => "test",
            Self::Kvm => "kvm",
        }
    }
}

/// One component: `euca NAME ARGS...`, healthy when `url?wsdl` answers 200.
#[derive(Debug, Clone)]
pub struct Component {
    pub name: &'static str,
    pub args: Vec<OsString>,
    /// Its service on its own port.
    pub url: String,
    /// A file another component creates that this one reads as it starts: it starts once
    /// the file is there.
    pub needs: Option<PathBuf>,
    /// The component whose service this one polls as it starts: on a cloud's start this one
    /// is started once that one answers, so its first poll finds it (see `up::run`).
    pub after: Option<&'static str>,
}

/// The cloud `euca up` runs from HOME.
#[derive(Debug, Clone)]
pub struct Plan {
    pub home: PathBuf,
    pub host: IpAddr,
    pub port_base: u16,
    pub hypervisor: Hypervisor,
    /// In start order; stopped in the reverse.
    pub components: Vec<Component>,
}

/// The cluster's name, which is also its availability zone's.
pub const CLUSTER_NAME: &str = "cluster1";

/// Ports from the base: the front door (CLC, and Walrus and SC behind it), CC, NC, the
/// private ports of Walrus and the SC, then the CLC's admin console (HTTPS).
const FRONT_DOOR: u16 = 0;
const CLUSTER: u16 = 1;
const NODE: u16 = 2;
const WALRUS: u16 = 3;
const STORAGE: u16 = 4;
const CONSOLE: u16 = 5;
/// How many ports from the base a cloud takes.
pub const PORTS: u16 = 6;

impl Plan {
    pub fn new(home: PathBuf, host: IpAddr, port_base: u16, hypervisor: Hypervisor) -> Self {
        let mut plan = Self {
            home,
            host,
            port_base,
            hypervisor,
            components: Vec::new(),
        };
        plan.components = plan.make_components();
        plan
    }

    /// Appends `args` to the node's command line, after `euca up`'s own (`--node-arg`).
    pub fn with_node_args(mut self, args: &[OsString]) -> Self {
        if let Some(node) = self.components.iter_mut().find(|c| c.name == "node") {
            node.args.extend_from_slice(args);
        }
        self
    }

    pub fn keys(&self) -> PathBuf {
        self.home.join("keys")
    }

    pub fn logs(&self) -> PathBuf {
        self.home.join("logs")
    }

    /// The administrator's credentials, which the CLC writes on its first start.
    pub fn eucarc(&self) -> PathBuf {
        self.home.join("credentials").join("admin").join("eucarc")
    }

    /// Where `euca up` records what it started, for `euca status`.
    pub fn record(&self) -> PathBuf {
        state_file(&self.home)
    }

    /// Every address the cloud listens on, with what listens there.
    pub fn listeners(&self) -> Vec<(SocketAddr, &'static str)> {
        [
            (FRONT_DOOR, "the front door (CLC, Walrus, SC)"),
            (CLUSTER, "the cluster controller"),
            (NODE, "the node controller"),
            (WALRUS, "Walrus (behind the front door)"),
            (STORAGE, "the storage controller (behind the front door)"),
            (CONSOLE, "the admin console (HTTPS)"),
        ]
        .into_iter()
        .map(|(offset, what)| (self.listen(offset), what))
        .collect()
    }

    /// The admin console's URL.
    pub fn console(&self) -> String {
        let url = kit::service_url(self.listen(CONSOLE), "/");
        url.replacen("http://", "https://", 1)
    }

    /// The front door's URL of a path (`/services/Walrus`).
    pub fn front_door(&self, path: &str) -> String {
        self.url(FRONT_DOOR, path)
    }

    fn listen(&self, offset: u16) -> SocketAddr {
        SocketAddr::new(self.host, self.port_base.saturating_add(offset))
    }

    fn url(&self, offset: u16, path: &str) -> String {
        kit::service_url(self.listen(offset), path)
    }

    /// `euca NAME --listen ADDR:P+OFFSET --keys KEYS --data DATA` and `extra`, healthy when
    /// its service at `path` on its own port answers.
    fn component(
        &self,
        name: &'static str,
        offset: u16,
        data: PathBuf,
        path: &str,
        extra: Vec<OsString>,
    ) -> Component {
        let mut args: Vec<OsString> = vec![
            name.into(),
            "--listen".into(),
            self.listen(offset).to_string().into(),
            "--keys".into(),
            self.keys().into(),
            "--data".into(),
            data.into(),
        ];
        args.extend(extra);
        Component {
            name,
            args,
            url: self.url(offset, path),
            needs: None,
            after: None,
        }
    }

    fn make_components(&self) -> Vec<Component> {
        let walrus = Component {
            // The CLC's user database, which the CLC creates on its first start.
            needs: Some(self.home.join("users.sqlite")),
            ..self.component(
                "walrus",
                WALRUS,
                self.home.join("walrus"),
                walrus::SERVICE_PATH,
                // The cloud's users are Walrus's: the CLC's DATA is HOME.
                vec!["--identity".into(), self.home.clone().into()],
            )
        };
        let storage = self.component(
            "storage",
            STORAGE,
            self.home.join("storage"),
            storage::SERVICE_PATH,
            vec![
                "--walrus".into(),
                self.url(WALRUS, walrus::SERVICE_PATH).into(),
            ],
        );
        let mut hypervisor = vec!["--hypervisor".into(), self.hypervisor.name().into()];
        hypervisor.extend(self.node_specifics());
        let node = self.component(
            "node",
            NODE,
            self.home.join("node"),
            node::config::SERVICE_PATH,
            hypervisor,
        );
        let cluster = Component {
            after: Some(node.name),
            ..self.component(
                "cluster",
                CLUSTER,
                self.home.join("cluster"),
                cluster::config::SERVICE_PATH,
                vec!["--nodes".into(), self.listen(NODE).to_string().into()],
            )
        };
        let forward =
            |offset, path: &str| OsString::from(format!("{path}={}", self.url(offset, "")));
        let cloud = Component {
            after: Some(cluster.name),
            ..self.component(
                "cloud",
                FRONT_DOOR,
                self.home.clone(),
                cloud::SERVICE_PATH,
                vec![
                    "--cluster".into(),
                    format!(
                        "{CLUSTER_NAME}={}",
                        self.url(CLUSTER, cluster::config::SERVICE_PATH)
                    )
                    .into(),
                    "--walrus".into(),
                    self.front_door(walrus::SERVICE_PATH).into(),
                    "--storage".into(),
                    self.front_door(storage::SERVICE_PATH).into(),
                    "--forward".into(),
                    forward(WALRUS, walrus::SERVICE_PATH),
                    "--forward".into(),
                    forward(STORAGE, storage::SERVICE_PATH),
                    // A launch shows as running within a second.
                    "--tick".into(),
                    "1".into(),
                    "--console".into(),
                    self.listen(CONSOLE).to_string().into(),
                ],
            )
        };
        vec![walrus, storage, node, cluster, cloud]
    }

    /// QEMU runs through libvirt's embedded driver, its state under the node's DATA, so no
    /// daemon is needed; the guest's CPU is emulated unless `euca up`'s environment has
    /// LIBVIRT_DOMAIN_TYPE=kvm (a /dev/kvm may exist that stock guest kernels cannot use).
    fn node_specifics(&self) -> Vec<OsString> {
        match self.hypervisor {
            Hypervisor::Test => Vec::new(),
            Hypervisor::Kvm => {
                let uri = format!("qemu:///embed?root={}", self.libvirt_root().display());
                let domain_type =
                    std::env::var_os("LIBVIRT_DOMAIN_TYPE").unwrap_or_else(|| "qemu".into());
                vec![
                    "--libvirt-uri".into(),
                    uri.into(),
                    "--domain-type".into(),
                    domain_type,
                ]
            }
        }
    }

    /// The embedded libvirt driver's root.
    pub fn libvirt_root(&self) -> PathBuf {
        self.home.join("node").join("libvirt")
    }
}

/// HOME's record of the running cloud.
pub fn state_file(home: &Path) -> PathBuf {
    home.join("up.json")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan::new(
            "/srv/cloud".into(),
            "127.0.0.1".parse().unwrap(),
            9000,
            Hypervisor::Test,
        )
    }

    fn command_line(component: &Component) -> String {
        component
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_front_door_serves_walrus_and_the_sc_from_their_private_ports() {
        let plan = plan();
        let cloud = plan.components.iter().find(|c| c.name == "cloud").unwrap();
        let line = command_line(cloud);
        assert!(line.contains("--listen 127.0.0.1:9000 "), "{line}");
        assert!(line.contains("--data /srv/cloud "), "{line}");
        assert!(
            line.contains("--forward /services/Walrus=http://127.0.0.1:9003"),
            "{line}"
        );
        assert!(
            line.contains("--forward /services/Storage=http://127.0.0.1:9004"),
            "{line}"
        );
        assert!(
            line.contains("--walrus http://127.0.0.1:9000/services/Walrus"),
            "{line}"
        );
        assert!(
            line.contains("--cluster cluster1=http://127.0.0.1:9001/axis2/services/EucalyptusCC"),
            "{line}"
        );
        assert_eq!(cloud.url, "http://127.0.0.1:9000/services/Eucalyptus");
        assert!(line.contains("--console 127.0.0.1:9005"), "{line}");
        assert_eq!(plan.console(), "https://127.0.0.1:9005/");
    }

    #[test]
    fn every_listener_is_a_distinct_port_from_the_base() {
        let plan = plan();
        let ports: Vec<u16> = plan.listeners().iter().map(|(a, _)| a.port()).collect();
        assert_eq!(ports, [9000, 9001, 9002, 9003, 9004, 9005]);
        assert_eq!(ports.len(), usize::from(PORTS));
    }

    #[test]
    fn a_poller_starts_after_what_it_polls() {
        let plan = plan();
        let names: Vec<&str> = plan.components.iter().map(|c| c.name).collect();
        let position = |name| names.iter().position(|n| *n == name).unwrap();
        for component in &plan.components {
            if let Some(first) = component.after {
                assert!(position(first) < position(component.name), "{names:?}");
            }
        }
        let after = |name| plan.components[position(name)].after;
        assert_eq!(after("cluster"), Some("node"));
        assert_eq!(after("cloud"), Some("cluster"));
    }

    #[test]
    fn node_args_follow_euca_ups_own() {
        let plan = plan().with_node_args(&["--capacity=cores=9,memory=9,disk=9".into()]);
        let node = plan.components.iter().find(|c| c.name == "node").unwrap();
        let line = command_line(node);
        assert!(
            line.ends_with("--hypervisor test --capacity=cores=9,memory=9,disk=9"),
            "{line}"
        );
        let others = plan.components.iter().filter(|c| c.name != "node");
        assert!(others.map(command_line).all(|l| !l.contains("--capacity")));
    }

    #[test]
    fn kvm_uses_the_embedded_driver_under_home() {
        let plan = Plan::new(
            "/srv/cloud".into(),
            "0.0.0.0".parse().unwrap(),
            8773,
            Hypervisor::Kvm,
        );
        let node = plan.components.iter().find(|c| c.name == "node").unwrap();
        let line = command_line(node);
        assert!(line.contains("--hypervisor kvm"), "{line}");
        assert!(
            line.contains("--libvirt-uri qemu:///embed?root=/srv/cloud/node/libvirt"),
            "{line}"
        );
        // Guards the domain type reaching the node: an environment variable did not, and
        // QEMU ran with KVM, which this machine kind's guests hang under.
        assert!(line.contains("--domain-type "), "{line}");
        // A wildcard listener is reached on loopback.
        assert_eq!(
            node.url,
            "http://127.0.0.1:8775/axis2/services/EucalyptusNC"
        );
    }
}

//! Issue 14: the components on separate hosts. The front door (`euca cloud` serving Walrus
//! and the SC behind its port with `--forward`, as `euca up` does, and the `euca walrus` and
//! `euca storage` behind it), a cluster (`euca cluster`), two nodes (`euca node --hypervisor
//! test`) and the user each run in a network namespace of their own, joined by veth pairs to
//! a bridge in one more namespace (all made and removed by the test); where namespaces
//! cannot be made (not root), on separate loopback addresses instead, and the test says
//! which ran. They talk over signed SOAP (CLC → CC → NC, CLC → SC) and HTTP across those
//! addresses. On the user's host, `euca admin image add-default` bundles and uploads the
//! default image through the front door and registers it; boto3, from the admin's eucarc,
//! round-trips an object through Walrus, runs an instance on each node (which fetch the
//! image from Walrus through the front door), attaches a volume to one (whose export on the
//! front door's host the node's host then writes and reads with `qemu-io`), describes and
//! terminates them.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use cloud_support::{admin, new_database, python_by, Engine};
use common::launcher::{Component, Keys};
use node_support::NcSetup;

/// The hosts, in the order of their addresses (10.77.0.2, .3, ...; 127.0.0.2, ...).
const HOSTS: [&str; 5] = ["front", "cc", "nc1", "nc2", "user"];

/// One host: an address, and the network namespace it is, if any.
struct Host {
    ip: String,
    netns: Option<String>,
}

impl Host {
    /// `program` run on this host.
    fn command(&self, program: impl AsRef<OsStr>) -> Command {
        match &self.netns {
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", netns]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// `euca KIND --listen HOST:PORT --keys KEYS --data DATA` on this host (`port` 0: any).
    fn component(&self, kind: &str, port: u16, keys: &Keys, data: &Path) -> Command {
        let mut command = self.command(env!("CARGO_BIN_EXE_euca"));
        command
            .args([kind, "--listen", &format!("{}:{port}", self.ip), "--keys"])
            .arg(keys.path())
            .arg("--data")
            .arg(data)
            // The CLC's console on any free port of the host.
            .env("EUCA_CONSOLE", format!("{}:0", self.ip));
        command
    }

    /// A port to give a component before it starts (its URL is another's argument): `fixed`
    /// in a namespace of the test's own, else one free at the time of asking.
    fn port(&self, fixed: u16) -> u16 {
        match self.netns {
            Some(_) => fixed,
            None => TcpListener::bind((self.ip.as_str(), 0))
                .unwrap()
                .local_addr()
                .unwrap()
                .port(),
        }
    }
}

/// The hosts of the test; the namespaces it made are removed on drop, when the test fails
/// too (the processes in them are ended first: they are declared after it).
struct Lab {
    hosts: Vec<Host>,
    namespaces: Vec<String>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Lab {
    /// Network namespaces where the machine allows them, else loopback addresses.
    fn new() -> Self {
        let tag = format!("euca{}", std::process::id());
        let mut lab = Self {
            hosts: Vec::new(),
            namespaces: Vec::new(),
        };
        match lab.make_namespaces(&tag) {
            Ok(()) => println!("hosts: network namespaces {tag}-* on a bridge, 10.77.0.0/24"),
            Err(reason) => {
                lab.remove_namespaces();
                println!("hosts: loopback addresses 127.0.0.2-6 (no network namespaces: {reason})");
                lab.hosts = (0..HOSTS.len())
                    .map(|i| Host {
                        ip: format!("127.0.0.{}", i + 2),
                        netns: None,
                    })
                    .collect();
            }
        }
        lab
    }

    fn make_namespaces(&mut self, tag: &str) -> Result<(), String> {
        let switch = format!("{tag}-sw");
        ip(&["netns", "add", &switch])?;
        self.namespaces.push(switch.clone());
        ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &switch, "link", "set", "br0", "up"])?;
        for (i, name) in HOSTS.iter().enumerate() {
            let netns = format!("{tag}-{name}");
            ip(&["netns", "add", &netns])?;
            self.namespaces.push(netns.clone());
            let port = format!("v{name}");
            let address = format!("10.77.0.{}", i + 2);
            ip(&[
                "-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &netns,
            ])?;
            ip(&["-n", &switch, "link", "set", &port, "master", "br0", "up"])?;
            ip(&[
                "-n",
                &netns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &netns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &netns, "link", "set", "lo", "up"])?;
            self.hosts.push(Host {
                ip: address,
                netns: Some(netns),
            });
        }
        Ok(())
    }

    fn remove_namespaces(&mut self) {
        for netns in self.namespaces.drain(..).rev() {
            if let Err(e) = ip(&["netns", "del", &netns]) {
                eprintln!("cannot remove a namespace of the test: {e}");
            }
        }
    }

    fn host(&self, name: &str) -> &Host {
        let index = HOSTS.iter().position(|h| *h == name).unwrap();
        &self.hosts[index]
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.remove_namespaces();
    }
}

fn start(command: Command, ready: &str) -> Component {
    Component::start(command, ready).unwrap_or_else(|log| panic!("{ready} did not start:\n{log}"))
}

/// Runs `tests/py/cloud_hosts.py ARGS...` on `host`, which must succeed; its output.
fn user(host: &Host, args: &[&str]) -> String {
    python_by(host.command(common::python()), "cloud_hosts.py", args)
}

/// The instances a node's work folder holds.
fn instances_on(data: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(data.join("work"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| name.starts_with("i-"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn front_door_cluster_and_two_nodes_on_separate_hosts_run_an_instance_on_each_node() {
    let lab = Lab::new();
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let front = lab.host("front");

    // Two nodes, each on its host.
    let mut nodes = Vec::new();
    for name in ["nc1", "nc2"] {
        let data = dir.path().join(name);
        std::fs::create_dir_all(&data).unwrap();
        let config = data.join("eucalyptus.conf");
        let settings: String = NcSetup::test_driver(&keys, &data)
            .settings
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\"\n"))
            .collect();
        std::fs::write(&config, settings).unwrap();
        let mut command = lab.host(name).component("node", 0, &keys, &data);
        command.arg("--config").arg(&config);
        nodes.push((start(command, "node controller"), data));
    }

    // The cluster over them, on its host.
    let cc_data = dir.path().join("cc");
    std::fs::create_dir_all(&cc_data).unwrap();
    std::fs::write(cc_data.join("eucalyptus.conf"), "").unwrap();
    let hosts: Vec<&str> = nodes.iter().map(|(nc, _)| nc.authority()).collect();
    let mut command = lab.host("cc").component("cluster", 0, &keys, &cc_data);
    command
        .arg("--config")
        .arg(cc_data.join("eucalyptus.conf"))
        .args(["--nodes", &hosts.join(" "), "--policy", "ROUNDROBIN"]);
    let cc = start(command, "cluster controller");

    // The front door: the cloud on its port serves Walrus and the SC behind it (--forward),
    // as `euca up` does; Walrus reads the cloud's users, which the cloud makes on its first
    // start, so the cloud is given the URLs before the others start.
    let (clc_port, walrus_port, sc_port) = (front.port(8773), front.port(8780), front.port(8781));
    let door = |path: &str| format!("http://{}:{clc_port}{path}", front.ip);
    let private = |port: u16| format!("http://{}:{port}", front.ip);
    let clc_data = dir.path().join("clc");
    let mut command = front.component("cloud", clc_port, &keys, &clc_data);
    command
        .args(["--cluster", &format!("zone1={}", cc.url)])
        .args(["--walrus", &door(walrus::SERVICE_PATH)])
        .args(["--storage", &door(storage::SERVICE_PATH), "--tick", "1"])
        .arg("--forward")
        .arg(format!("{}={}", walrus::SERVICE_PATH, private(walrus_port)))
        .arg("--forward")
        .arg(format!("{}={}", storage::SERVICE_PATH, private(sc_port)));
    if Engine::from_env() == Engine::Postgres {
        command.args(["--db", &new_database().unwrap()]);
    }
    let cloud = start(command, "cloud controller");
    let mut command = front.component("walrus", walrus_port, &keys, &dir.path().join("walrus"));
    command.arg("--identity").arg(&clc_data);
    let walrus = start(command, "walrus");
    let mut command = front.component("storage", sc_port, &keys, &dir.path().join("sc"));
    command.args(["--walrus", &walrus.url]);
    let sc = start(command, "storage controller");
    for component in [&cloud, &walrus, &sc] {
        assert!(component.url.contains(&front.ip), "{}", component.url);
    }
    assert!(cc.url.contains(&lab.host("cc").ip), "{}", cc.url);
    assert!(admin(&clc_data, &["cluster", "list"]).contains("zone1"));

    // The user, on a host of its own, with the admin's eucarc.
    let creds = clc_data.join("credentials/admin").display().to_string();
    let eucarc = std::fs::read_to_string(clc_data.join("credentials/admin/eucarc")).unwrap();
    assert!(
        eucarc.contains(&format!("EC2_URL={}", door(cloud::SERVICE_PATH)))
            && eucarc.contains(&format!("S3_URL={}", door(walrus::SERVICE_PATH))),
        "{eucarc}"
    );
    let user_host = lab.host("user");
    user(user_host, &["s3", &creds]);
    // The default image, bundled and uploaded through the front door by the admin's tool
    // on the user's host; the nodes fetch it from Walrus through the front door.
    let out = user_host
        .command(env!("CARGO_BIN_EXE_euca"))
        .arg("admin")
        .arg("--data")
        .arg(&clc_data)
        .args(["image", "add-default"])
        .output()
        .unwrap();
    let added = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{added}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = |tag: &str| {
        added
            .lines()
            .find_map(|l| l.strip_prefix(tag)?.split('\t').nth(1))
            .unwrap_or_else(|| panic!("no {tag} line in:\n{added}"))
            .to_owned()
    };
    let (emi, eki, eri) = (id("IMAGE"), id("KERNEL"), id("RAMDISK"));
    let out = user(user_host, &["run", &creds, &emi, &eki, &eri]);
    let launched: Vec<&str> = out
        .lines()
        .find_map(|l| l.strip_prefix("instances: "))
        .unwrap()
        .split(' ')
        .collect();
    // One on each node: each node's work folder holds one of them, whose image it fetched
    // from Walrus through the front door.
    let fetched = format!("url={}/", door(walrus::SERVICE_PATH));
    let mut placed: Vec<String> = nodes
        .iter()
        .flat_map(|(nc, data)| {
            let on = instances_on(data);
            assert_eq!(on.len(), 1, "{on:?} on {}", data.display());
            let log = nc.log();
            assert!(
                log.lines()
                    .any(|l| l.contains("downloading") && l.contains(&fetched)),
                "{log}"
            );
            on
        })
        .collect();
    placed.sort();
    let mut expected: Vec<String> = launched.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(placed, expected);

    // A volume of the SC on the front door's host, attached to the instance on the first
    // node: the node's host reads and writes the SC's export across the hosts.
    let (first_node, first_data) = &nodes[0];
    let instance = instances_on(first_data).remove(0);
    let out = user(user_host, &["attach", &creds, &instance]);
    let volume = out
        .lines()
        .find_map(|l| l.strip_prefix("volume: "))
        .unwrap();
    let log = first_node.log();
    let remote = log
        .lines()
        .filter(|l| l.contains("volume attached") && l.contains(volume))
        .find_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("remote=")))
        .unwrap_or_else(|| panic!("the node logged no attachment of {volume}:\n{log}"));
    assert!(remote.contains(&format!("//{}:", front.ip)), "{remote}");
    let node_host = lab.host("nc1");
    for command in ["write -P 0x5a 0 65536", "read -P 0x5a 0 65536"] {
        let out = node_host
            .command("qemu-io")
            .args(["-f", "raw", "-c", command, remote])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && !text.contains("failed"),
            "qemu-io {command} {remote} on nc1: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    user(user_host, &["detach", &creds, volume]);

    let mut args = vec!["terminate", creds.as_str()];
    args.extend(&launched);
    user(user_host, &args);
    drop((cloud, walrus, sc, cc, nodes));
    let made = lab.namespaces.clone();
    drop(lab);
    if !made.is_empty() {
        let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
        let left = String::from_utf8_lossy(&list.stdout);
        assert!(made.iter().all(|n| !left.contains(n.as_str())), "{left}");
    }
}

//! The small cloud the monitoring tests watch: a test-driver node, a cluster over it, the
//! cloud (with `--tick 1`), accounts `bob` and `carol` added by `euca admin`, and bob's
//! instance run to `running` with boto3 (`tests/py/cloud_cloudwatch.py run`).

use std::path::PathBuf;

use crate::cloud_support::{self, admin, python, start_cloud};
use crate::cluster_support::{Cc, Nodes};
use crate::common::launcher::Component;
use crate::node_support::Served;

/// The running cloud and what the tests hand its clients.
pub struct Watched {
    pub cloud: Component,
    /// The cloud's DATA.
    pub data: PathBuf,
    /// The eucarc folders of the administrator, bob and carol.
    pub admin_dir: String,
    pub bob: String,
    pub carol: String,
    /// Bob's running instance.
    pub instance: String,
    // Kept running (and their folders kept) as long as the cloud.
    _cc: Cc,
    _nodes: Nodes,
    _dir: tempfile::TempDir,
}

/// Starts it all and runs bob's instance.
pub fn start() -> Watched {
    let nodes = Nodes::start(1);
    cloud_support::serve_manifests(|path, manifest| nodes.images.add(path, Served::File(manifest)));
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let data = dir.path().join("clc");
    let cluster = format!("zone1={}", cc.url());
    let walrus = nodes.images.url("/services/Walrus");
    let cloud = start_cloud(
        nodes.keys.path(),
        &data,
        &["--cluster", &cluster, "--walrus", &walrus, "--tick", "1"],
    );
    admin(&data, &["user", "add", "bob"]);
    admin(&data, &["user", "add", "carol"]);
    let creds = data.join("credentials");
    let [admin_dir, bob, carol] =
        ["admin", "bob", "carol"].map(|a| creds.join(a).display().to_string());
    let out = python("cloud_cloudwatch.py", &["run", &bob]);
    let instance = out.lines().last().unwrap().trim().to_owned();
    assert!(instance.starts_with("i-"), "{out}");
    Watched {
        cloud,
        data,
        admin_dir,
        bob,
        carol,
        instance,
        _cc: cc,
        _nodes: nodes,
        _dir: dir,
    }
}

impl Watched {
    /// Runs `tests/py/SCRIPT ARGS...`, which must succeed; the cloud's log with its failure.
    pub fn python(&self, script: &str, args: &[&str]) -> String {
        std::panic::catch_unwind(|| python(script, args))
            .unwrap_or_else(|_| panic!("cloud log:\n{}", self.cloud.log()))
    }
}

//! Cloud-bursting against the real `euca cloud` over a real `euca cluster` and a test-driver
//! node, with moto's server (`moto.server`, from the test venv) as the remote EC2 cloud;
//! boto3 drives both (`tests/py/cloud_burst.py`).

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloud_support::{admin, admin_run, python, restart_cloud, start_cloud, Engine};
use cluster_support::{free_port, Cc, Nodes};
use common::launcher::Component;

/// The secret key the target is registered with; the store must never hold it in clear.
const SECRET: &str = "moto-secret";

/// moto's server on a free loopback port, stopped when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new(common::python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto's server starts (run scripts/setup.sh)");
        let moto = Self {
            child,
            url: format!("http://127.0.0.1:{port}/"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto's server did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the cloud's store holds, as bytes to search: its SQLite files (the database and
/// its WAL), or on PostgreSQL a `pg_dump` of its database.
fn stored_bytes(data: &std::path::Path) -> Vec<u8> {
    match Engine::from_env() {
        Engine::Sqlite => std::fs::read_dir(data)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("cloud.sqlite"))
            })
            .flat_map(|p| std::fs::read(p).unwrap())
            .collect(),
        Engine::Postgres => {
            let url = std::fs::read_to_string(data.join(users::DATABASE_URL_FILE)).unwrap();
            let dump = Command::new("pg_dump")
                .args(["--data-only", "--dbname", url.trim()])
                .output()
                .unwrap();
            assert!(dump.status.success(), "pg_dump: {dump:?}");
            dump.stdout
        }
    }
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A cloud over one cluster of one test-driver node with room for 2 instances (m1.small made
/// 4 cores; the node has 8), its images registered; `bob` an account besides the admin.
struct Cloud {
    // Dropped in this order: the cloud, then its cluster, then the node.
    cloud: Component,
    _cc: Cc,
    nodes: Nodes,
    _dir: tempfile::TempDir,
    data: PathBuf,
    args: Vec<String>,
    emi: String,
    eki: String,
}

impl Cloud {
    /// The cloud; with `moto`, one of moto's AMIs too (the images phase's last word).
    fn start(moto: Option<&Moto>) -> (Self, Option<String>) {
        let nodes = Nodes::start(1);
        cloud_support::serve_manifests(|path, manifest| {
            nodes.images.add(path, node_support::Served::File(manifest))
        });
        let dir = tempfile::tempdir().unwrap();
        let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
        let data = dir.path().join("clc");
        let args: Vec<String> = [
            "--cluster".to_owned(),
            format!("zone1={}", cc.url()),
            "--walrus".to_owned(),
            nodes.images.url("/services/Walrus"),
            "--tick".to_owned(),
            "1".to_owned(),
        ]
        .into();
        let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let cloud = start_cloud(nodes.keys.path(), &data, &arg_refs);
        admin(&data, &["vmtype", "set", "m1.small", "4", "256", "1"]);
        admin(&data, &["user", "add", "bob"]);
        let admin_dir = data.join("credentials/admin").display().to_string();
        let mut phase = vec!["images", admin_dir.as_str()];
        phase.extend(moto.map(|m| m.url.as_str()));
        let out = python("cloud_burst.py", &phase);
        let mut words = out.lines().last().unwrap().split(' ').map(str::to_owned);
        let (emi, eki) = (words.next().unwrap(), words.next().unwrap());
        let ami = words.next();
        let cloud = Self {
            cloud,
            _cc: cc,
            nodes,
            _dir: dir,
            data,
            args,
            emi,
            eki,
        };
        (cloud, ami)
    }

    fn credentials(&self, account: &str) -> String {
        self.data
            .join("credentials")
            .join(account)
            .display()
            .to_string()
    }

    fn restart(&mut self) {
        assert!(self.cloud.terminate().success(), "{}", self.cloud.log());
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.cloud = restart_cloud(self.nodes.keys.path(), &self.data, &args);
    }
}

/// `euca admin burst add NAME` of `endpoint` with image map `map` (access key `AKIDBURST`,
/// secret key `S` unless `extra` gives one).
fn burst_add<'a>(
    name: &'a str,
    endpoint: &'a str,
    map: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "burst",
        "add",
        name,
        "--endpoint",
        endpoint,
        "--access-key",
        "AKIDBURST",
        "--image-map",
        map,
    ];
    if !extra.contains(&"--secret-key") {
        args.extend(["--secret-key", "S"]);
    }
    args.extend_from_slice(extra);
    args
}

#[test]
fn what_the_zone_cannot_place_runs_on_moto_and_is_described_and_terminated_by_local_ids() {
    let moto = Moto::start();
    let (mut cloud, ami) = Cloud::start(Some(&moto));
    let (data, emi, eki) = (cloud.data.clone(), cloud.emi.clone(), cloud.eki.clone());
    let map = format!("{emi}={}", ami.unwrap());
    let bad = admin_run(&data, &burst_add("moto", "https://ec2.example/", &map, &[]));
    assert!(
        !bad.status.success(),
        "an https endpoint is refused: {bad:?}"
    );
    let secret = ["--secret-key", SECRET, "--accounts", "admin"];
    admin(&data, &burst_add("moto", &moto.url, &map, &secret));
    let listed = admin(&data, &["burst", "list"]);
    assert_eq!(
        listed.trim(),
        format!("moto\t{}\tus-east-1\tAKIDBURST\t{map}\t-\tadmin", moto.url),
        "burst list shows the target, never its secret"
    );
    // The store holds the target (its access key in clear), never its secret key.
    let stored = stored_bytes(&data);
    assert!(
        holds(&stored, "AKIDBURST"),
        "the store's bytes hold no target"
    );
    assert!(
        !holds(&stored, SECRET),
        "the secret key is in the store in clear"
    );
    let (admin_dir, bob_dir) = (cloud.credentials("admin"), cloud.credentials("bob"));
    let out = python(
        "cloud_burst.py",
        &["burst", &admin_dir, &bob_dir, &moto.url, &emi, &eki],
    );
    let ids: Vec<String> = out
        .lines()
        .last()
        .unwrap()
        .split(' ')
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), 4, "{out}");
    let removal = admin_run(&data, &["burst", "remove", "moto"]);
    assert!(
        !removal.status.success(),
        "a target running instances is kept: {removal:?}"
    );

    cloud.restart();
    let mut kept = vec!["kept", admin_dir.as_str(), moto.url.as_str()];
    kept.extend(ids.iter().map(String::as_str));
    python("cloud_burst.py", &kept);

    // The account's SLA decides how it bursts.
    for preference in ["first", "never"] {
        admin(
            &data,
            &["sla", "set", "--account", "admin", "--burst", preference],
        );
        python(
            "cloud_burst.py",
            &[preference, &admin_dir, &moto.url, &emi, &eki],
        );
    }
    admin(&data, &["burst", "remove", "moto"]);
    assert_eq!(admin(&data, &["burst", "list"]), "");
}

#[test]
fn a_target_that_fails_costs_only_the_remote_part_unless_min_count_needs_it() {
    let (cloud, _) = Cloud::start(None);
    let data = &cloud.data;
    let dead = format!("http://127.0.0.1:{}/", free_port());
    let map = format!("{}=ami-12c6146b", cloud.emi);
    admin(data, &burst_add("dead", &dead, &map, &[]));
    let admin_dir = cloud.credentials("admin");
    python(
        "cloud_burst.py",
        &["failure", &admin_dir, &cloud.emi, &cloud.eki],
    );
    assert!(
        cloud
            .cloud
            .log()
            .contains("burst: the target did not run the remainder"),
        "{}",
        cloud.cloud.log()
    );
    // Each failed remote launch is in the event log (queued: read until it is written).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = admin(
            data,
            &["events", "--from", "2000-01-01", "--to", "2100-01-01"],
        );
        let failed = events
            .lines()
            .filter(|l| l.contains(",system,burst.RunInstances,r-") && l.ends_with(",Unavailable,"))
            .count();
        if failed >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no failed burst in:\n{events}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

//! Cloud-bursting against the real `euca cloud` over a real `euca cluster` and a test-driver
//! node, with moto's server (`moto.server`, from the test venv) as the remote EC2 cloud;
//! boto3 drives both (`tests/py/cloud_burst.py`).

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloud_support::{admin, admin_run, python, restart_cloud, start_cloud, Engine};
use cluster_support::{free_port, Cc, Nodes};

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

/// Whether `needle` is anywhere in the cloud's SQLite files (the database and its WAL).
fn in_sqlite_files(data: &std::path::Path, needle: &str) -> bool {
    std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("cloud.sqlite"))
        })
        .any(|p| {
            let bytes = std::fs::read(&p).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
}

#[test]
fn what_the_zone_cannot_place_runs_on_moto_and_is_described_and_terminated_by_local_ids() {
    let moto = Moto::start();
    let nodes = Nodes::start(1);
    cloud_support::serve_manifests(|path, manifest| {
        nodes.images.add(path, node_support::Served::File(manifest))
    });
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let data = dir.path().join("clc");
    let cluster = format!("zone1={}", cc.url());
    let walrus = nodes.images.url("/services/Walrus");
    let args = [
        "--cluster",
        cluster.as_str(),
        "--walrus",
        &walrus,
        "--tick",
        "1",
    ];
    let mut cloud = start_cloud(nodes.keys.path(), &data, &args);
    // The test node has 8 cores: room for 2 instances of 4.
    admin(&data, &["vmtype", "set", "m1.small", "4", "256", "1"]);
    admin(&data, &["user", "add", "bob"]);
    let creds = data.join("credentials");
    let (admin_dir, bob_dir) = (
        creds.join("admin").display().to_string(),
        creds.join("bob").display().to_string(),
    );
    let out = python("cloud_burst.py", &["images", &admin_dir, &moto.url]);
    let ids: Vec<&str> = out.lines().last().unwrap().split(' ').collect();
    let [emi, eki, ami] = ids[..] else {
        panic!("{out}")
    };

    let map = format!("{emi}={ami}");
    let bad = admin_run(
        &data,
        &[
            "burst",
            "add",
            "moto",
            "--endpoint",
            "https://ec2.example/",
            "--access-key",
            "A",
            "--secret-key",
            "S",
            "--image-map",
            &map,
        ],
    );
    assert!(
        !bad.status.success(),
        "an https endpoint is refused: {bad:?}"
    );
    admin(
        &data,
        &[
            "burst",
            "add",
            "moto",
            "--endpoint",
            &moto.url,
            "--access-key",
            "AKIDBURST",
            "--secret-key",
            SECRET,
            "--image-map",
            &map,
            "--accounts",
            "admin",
        ],
    );
    let listed = admin(&data, &["burst", "list"]);
    assert_eq!(
        listed.trim(),
        format!("moto\t{}\tus-east-1\tAKIDBURST\t{map}\t-\tadmin", moto.url),
        "burst list shows the target, never its secret"
    );
    match Engine::from_env() {
        Engine::Sqlite => assert!(
            !in_sqlite_files(&data, SECRET),
            "the secret key is in the SQLite files in clear"
        ),
        Engine::Postgres => println!("note: the secret's sealing is checked on SQLite's files"),
    }

    let out = python(
        "cloud_burst.py",
        &["burst", &admin_dir, &bob_dir, &moto.url, emi, eki],
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

    assert!(cloud.terminate().success(), "{}", cloud.log());
    let _cloud = restart_cloud(nodes.keys.path(), &data, &args);
    let mut kept = vec!["kept", admin_dir.as_str(), moto.url.as_str()];
    kept.extend(ids.iter().map(String::as_str));
    python("cloud_burst.py", &kept);
    admin(&data, &["burst", "remove", "moto"]);
    assert_eq!(admin(&data, &["burst", "list"]), "");
}

//! The cloud controller's answers (issue 12, acceptance 8), in one run (`cargo bench -p
//! cloud`):
//!
//! 1. Query DescribeInstances with 1,000 and then 10,000 instances in the store (seeded
//!    through the `Store` API, 100 users owning an equal share, each instance as the tick
//!    records a running one): p50 latency of one request at a time and requests per second
//!    with 8 at a time, for a user (their 1 % of the instances) and for the administrator's
//!    `verbose` (all of them);
//! 2. RunInstances → `running`: a real cluster over a node on libvirt's test driver, the
//!    cloud polling every second; p50 of the time from sending RunInstances to the first
//!    DescribeInstances that shows the instance running.
//!
//! Every component is the real one (`cloud::serve`, `cluster::serve`, `node::serve`) in this
//! process, on loopback ports, with every hop signed as in production; the Query client signs
//! SigV2 (HmacSHA256) as boto did. Figures are printed, nothing is asserted but the answers'
//! size.

#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloud::store::{Image, ImageKind, Instance, Observed};
use cloud::{Config, SqliteStore, Store};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use kit::security::{Compat, CompatArgs};
use users::User;

const SIZES: [usize; 2] = [1_000, 10_000];
const USERS: usize = 100;
const ROUNDS: usize = 30;
const CONCURRENCY: usize = 8;
const LAUNCHES: usize = 10;

type Http = Client<HttpConnector, Full<Bytes>>;

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Starts `euca cloud` in this process on `listen` over `data`; returns once it answers.
async fn start_cloud(keys: &Path, data: &Path, listen: SocketAddr, clusters: &[(&str, String)]) {
    let config = Config {
        listen,
        keys: keys.to_owned(),
        data: data.to_owned(),
        clusters: clusters
            .iter()
            .map(|(name, url)| cloud::store::Cluster {
                name: (*name).to_owned(),
                url: url.clone(),
            })
            .collect(),
        walrus: None,
        storage: None,
        db: None,
        region: "eucalyptus".into(),
        tick: Duration::from_secs(1),
        forwards: Vec::new(),
        console: SocketAddr::from(([127, 0, 0, 1], 0)),
        compat: Compat::Strict,
    };
    tokio::spawn(async move { cloud::serve(config).await.unwrap() });
    wait_for(listen).await;
}

async fn wait_for(addr: SocketAddr) {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{addr} never answered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A SigV2-signed (HmacSHA256) Query GET of `action` with `params`, as `user`.
fn signed_uri(addr: SocketAddr, user: &User, action: &str, params: &[(&str, &str)]) -> String {
    let stamp = kit::time::amz_date(kit::time::now());
    let timestamp = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    );
    let mut all = vec![
        ("Action", action),
        ("AWSAccessKeyId", user.access_key.as_str()),
        ("SignatureMethod", "HmacSHA256"),
        ("SignatureVersion", "2"),
        ("Timestamp", &timestamp),
        ("Version", "2009-04-04"),
    ];
    all.extend_from_slice(params);
    let host = addr.to_string();
    let query =
        cloud::query::auth::sign_v2("GET", &host, "/services/Eucalyptus", &all, &user.secret_key);
    format!("http://{addr}/services/Eucalyptus?{query}")
}

/// Sends `uri`; the answer's body, which must be a 200.
async fn get(http: &Http, uri: String) -> String {
    let response = http
        .request(
            hyper::Request::get(uri)
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// `count` running instances of `owner`, ids from `first`.
fn instances(owner: &str, first: usize, count: usize) -> Vec<Instance> {
    (first..first + count)
        .map(|n| Instance {
            id: format!("i-{n:08x}"),
            reservation: format!("r-{n:08x}"),
            owner: owner.to_owned(),
            image: "emi-00000001".into(),
            kernel: Some("eki-00000001".into()),
            ramdisk: None,
            vm_type: "m1.small".into(),
            key_name: Some("bench".into()),
            groups: vec!["default".into()],
            launch_index: 0,
            cluster: "zone1".into(),
            launched: 1_700_000_000 + i64::try_from(n).unwrap(),
            terminated: false,
            client_token: None,
            observed: Observed {
                state: Some("Extant".into()),
                private_ip: format!("10.0.{}.{}", n / 250, n % 250 + 2),
                public_ip: String::new(),
                node: "http://127.0.0.1:8775/axis2/services/EucalyptusNC".into(),
                seen: Some(1_700_000_000),
                vanished: false,
            },
        })
        .collect()
}

/// One figure: p50 of `ROUNDS` requests one at a time, then requests per second with
/// `CONCURRENCY` at a time; each answer must list `expected` instances.
async fn describe(http: &Http, addr: SocketAddr, user: &User, verbose: bool, expected: usize) {
    let params: &[(&str, &str)] = if verbose {
        &[("InstanceId.1", "verbose")]
    } else {
        &[]
    };
    let mut samples = Vec::new();
    for _ in 0..ROUNDS {
        let uri = signed_uri(addr, user, "DescribeInstances", params);
        let started = Instant::now();
        let body = get(http, uri).await;
        samples.push(started.elapsed());
        assert_eq!(body.matches("<ec2:instanceId>").count(), expected);
    }
    let p50 = median(samples);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (http, user) = (http.clone(), user.clone());
        tasks.spawn(async move {
            for _ in 0..ROUNDS / 3 {
                get(&http, signed_uri(addr, &user, "DescribeInstances", params)).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let rate = (CONCURRENCY * (ROUNDS / 3)) as f64 / started.elapsed().as_secs_f64();
    let who = if verbose {
        "admin verbose"
    } else {
        "one user     "
    };
    println!(
        "  {who} ({expected:>5} listed): p50 {:>9}, {rate:>7.1} requests/s",
        ms(p50)
    );
}

async fn describe_instances(keys: &Path, http: &Http) {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().to_owned();
    let store = kit::blocking(move || SqliteStore::open(&path))
        .await
        .unwrap();
    let admin = store.directory().ensure_admin().await.unwrap().unwrap();
    let mut owners = Vec::new();
    for n in 0..USERS {
        let (_, user) = store
            .directory()
            .create_account(&format!("user{n:03}"), None)
            .await
            .unwrap();
        owners.push(user);
    }
    let addr = free_addr();
    start_cloud(keys, data.path(), addr, &[]).await;
    let mut seeded = 0;
    for size in SIZES {
        let each = (size - seeded) / USERS;
        for (n, owner) in owners.iter().enumerate() {
            let first = seeded + n * each;
            store
                .add_instances(&instances(&owner.account, first, each), None)
                .await
                .unwrap();
        }
        seeded = size;
        println!("DescribeInstances, {size} instances in the store:");
        describe(http, addr, &owners[0], false, size / USERS).await;
        describe(http, addr, &admin, true, size).await;
    }
}

/// Serves any GET with 64 KiB: the images the node fetches.
async fn image_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let serve = hyper::service::service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                        vec![0u8; 64 << 10],
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), serve)
                    .await;
            });
        }
    });
    addr
}

async fn run_to_running(keys: &Path, http: &Http) {
    let dir = tempfile::tempdir().unwrap();
    let images = image_server().await;
    // A node on libvirt's test driver, as the tests run it.
    let node_addr = free_addr();
    let node_conf = dir.path().join("node.conf");
    std::fs::write(
        &node_conf,
        "HYPERVISOR=\"test\"\nMAX_MEM=\"2048\"\nMAX_CORES=\"8\"\nMAX_DISK=\"11\"\nSWAP_SIZE=\"64\"\nTEARDOWN_STATE_DURATION=\"2\"\n",
    )
    .unwrap();
    let node = node::Config::load(
        Some(&node_conf),
        node::Overrides {
            listen: Some(node_addr),
            keys: Some(keys.to_owned()),
            data: Some(dir.path().join("nc")),
            ..node::Overrides::default()
        },
    )
    .unwrap();
    tokio::spawn(async move { node::serve(node).await.unwrap() });
    wait_for(node_addr).await;
    let cc_addr = free_addr();
    let cc = cluster::Config::load(
        None,
        cluster::Overrides {
            listen: Some(cc_addr),
            keys: Some(keys.to_owned()),
            data: Some(dir.path().join("cc")),
            nodes: Some(node_addr.to_string()),
            policy: None,
            compat: CompatArgs::default(),
        },
    )
    .unwrap();
    tokio::spawn(async move { cluster::serve(cc).await.unwrap() });
    wait_for(cc_addr).await;

    let data = dir.path().join("clc");
    std::fs::create_dir_all(&data).unwrap();
    let path = data.clone();
    let store = kit::blocking(move || SqliteStore::open(&path))
        .await
        .unwrap();
    let admin = store.directory().ensure_admin().await.unwrap().unwrap();
    for (id, kind) in [
        ("emi-00000001", ImageKind::Machine),
        ("eki-00000001", ImageKind::Kernel),
    ] {
        store
            .add_image(&Image {
                id: id.into(),
                owner: admin.account.clone(),
                location: format!("images/{id}"),
                kind,
                public: true,
                kernel: None,
                ramdisk: None,
                product_codes: Vec::new(),
                launch_users: Vec::new(),
            })
            .await
            .unwrap();
    }
    let addr = free_addr();
    let cc_url = format!("http://{cc_addr}/axis2/services/EucalyptusCC");
    start_cloud(keys, &data, addr, &[("zone1", cc_url)]).await;
    // Images come from the image server: the cloud names them under its S3_URL.
    let mut facts = store.facts().await.unwrap().unwrap();
    facts.s3_url = format!("http://{images}/services/Walrus");
    store.put_facts(&facts).await.unwrap();

    let mut samples = Vec::new();
    for _ in 0..LAUNCHES {
        let run = [
            ("ImageId", "emi-00000001"),
            ("KernelId", "eki-00000001"),
            ("MinCount", "1"),
            ("MaxCount", "1"),
            ("InstanceType", "m1.small"),
        ];
        let started = Instant::now();
        let body = get(http, signed_uri(addr, &admin, "RunInstances", &run)).await;
        let id = between(&body, "<ec2:instanceId>", "</ec2:instanceId>");
        loop {
            let asked = [("InstanceId.1", id.as_str())];
            let body = get(http, signed_uri(addr, &admin, "DescribeInstances", &asked)).await;
            if body.contains("<ec2:name>running</ec2:name>") {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        samples.push(started.elapsed());
        let end = [("InstanceId.1", id.as_str())];
        get(http, signed_uri(addr, &admin, "TerminateInstances", &end)).await;
    }
    println!(
        "RunInstances -> running, test driver, cloud tick 1 s, cluster poll 2 s: p50 {} over {LAUNCHES}",
        ms(median(samples))
    );
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap() + start.len();
    let to = from + text[from..].find(end).unwrap();
    text[from..to].to_owned()
}

#[tokio::main]
async fn main() {
    let keys = tempfile::tempdir().unwrap();
    soap::keys::init(keys.path()).unwrap();
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    describe_instances(keys.path(), &http).await;
    run_to_running(keys.path(), &http).await;
}

//! What the node controller's tests share: keys made by `euca keys init`, the real `euca node`
//! process on an ephemeral loopback port, a signed SOAP client for it, and a tiny HTTP server
//! that serves images the way Walrus will.

// Each test crate uses a different part of this module.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kit::security::Compat;
use openssl::hash::{hash, MessageDigest};
use soap::{ClientError, HttpTransport};
use wire::nc::{
    EucalyptusNcClient, InstanceType, NcDescribeInstancesType, NcDescribeResourceResponseType,
    NcDescribeResourceType, NcRunInstanceType, VirtualMachineType,
};
use xmlbind::XmlText;

pub type NcClient = EucalyptusNcClient<HttpTransport>;
pub type NcSensorsClient = wire::nc_sensors::EucalyptusNcSensorsClient<HttpTransport>;

pub use crate::common::launcher::Keys;
use crate::common::launcher::{euca, euca_with_umask, Component};

/// A running `euca node`.
pub struct Nc {
    process: Component,
    pub data: PathBuf,
}

/// A transport to `url` signing as the cluster and trusting only the node's certificate.
fn as_cluster(url: &str, keys: &Keys) -> HttpTransport {
    let cluster =
        kit::security::load(keys.path(), "cluster", &["node"], Compat::Strict, None).unwrap();
    HttpTransport::builder(url, cluster.security)
        .build()
        .unwrap()
}

/// Settings of a node under test; `start` writes them as an eucalyptus.conf file.
pub struct NcSetup<'a> {
    pub keys: &'a Keys,
    pub data: &'a Path,
    pub settings: Vec<(&'a str, String)>,
    /// Extra flags, such as `--libvirt-uri`.
    pub flags: Vec<String>,
    /// Working directory of the process, against which a relative `data` is resolved.
    pub cwd: Option<&'a Path>,
    /// The umask the process starts with, when not the test's own.
    pub umask: Option<&'a str>,
    /// `--listen`: by default an ephemeral loopback port; a node restarted on its old address
    /// is the same node to its cluster.
    pub listen: String,
}

impl<'a> NcSetup<'a> {
    /// The test hypervisor with 2 GB of memory, 8 cores and 11 GB of disk on offer (little
    /// enough that a busy host's free disk, measured at start, stays above it), and
    /// terminated instances forgotten after 2 seconds.
    pub fn test_driver(keys: &'a Keys, data: &'a Path) -> Self {
        Self {
            keys,
            data,
            settings: vec![
                ("HYPERVISOR", "test".into()),
                ("MAX_MEM", "2048".into()),
                ("MAX_CORES", "8".into()),
                ("MAX_DISK", "11".into()),
                ("SWAP_SIZE", "64".into()),
                ("TEARDOWN_STATE_DURATION", "2".into()),
            ],
            flags: Vec::new(),
            cwd: None,
            umask: None,
            listen: "127.0.0.1:0".to_owned(),
        }
    }

    pub fn set(mut self, key: &'a str, value: &str) -> Self {
        self.settings.retain(|(k, _)| *k != key);
        self.settings.push((key, value.to_owned()));
        self
    }

    pub fn start(&self) -> Nc {
        self.try_start()
            .unwrap_or_else(|log| panic!("euca node did not become ready:\n{log}"))
    }

    /// Starts the node; on failure, what it logged.
    pub fn try_start(&self) -> Result<Nc, String> {
        let data = match self.cwd {
            Some(cwd) => cwd.join(self.data),
            None => self.data.to_owned(),
        };
        let config = data.join("eucalyptus.conf");
        std::fs::create_dir_all(&data).unwrap();
        let text: String = self
            .settings
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\"\n"))
            .collect();
        std::fs::write(&config, text).unwrap();
        let mut command = self.umask.map_or_else(euca, euca_with_umask);
        if let Some(cwd) = self.cwd {
            command.current_dir(cwd);
        }
        command
            .arg("node")
            .arg("--config")
            .arg(&config)
            .args(["--listen", &self.listen])
            .arg("--keys")
            .arg(self.keys.path())
            .arg("--data")
            .arg(self.data)
            .args(&self.flags);
        let process = Component::start(command, "node controller")?;
        Ok(Nc { process, data })
    }
}

impl Nc {
    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// The service URL from its ready line.
    pub fn url(&self) -> &str {
        &self.process.url
    }

    /// A client signing as the cluster and trusting only the node's certificate.
    pub fn client(&self, keys: &Keys) -> NcClient {
        EucalyptusNcClient::new(as_cluster(self.url(), keys))
    }

    /// A client of the node's sensors (EucalyptusNCSensors, beside EucalyptusNC), signing as
    /// the cluster.
    pub fn sensors_client(&self, keys: &Keys) -> NcSensorsClient {
        let url = self.url().replace(
            "/axis2/services/EucalyptusNC",
            wire::nc_sensors::SERVICE_PATH,
        );
        NcSensorsClient::new(as_cluster(&url, keys))
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Sends SIGTERM and waits for the process to end.
    pub fn terminate(&mut self) -> ExitStatus {
        self.process.terminate()
    }

    /// Kills the process outright, as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// The instance's work directory.
    pub fn work_dir(&self, instance_id: &str) -> PathBuf {
        self.data.join("work").join(instance_id)
    }
}

/// What the image server answers for a path.
#[derive(Clone)]
pub enum Served {
    /// The bytes, with their Content-Length and Content-MD5.
    File(Vec<u8>),
    /// The bytes with a Content-MD5 of other bytes.
    WrongDigest(Vec<u8>),
    /// The bytes after a delay.
    Slow(Vec<u8>, Duration),
}

/// One request the image server received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

/// A minimal HTTP/1.1 server on a loopback port; unknown paths get 404.
pub struct ImageServer {
    port: u16,
    files: Arc<Mutex<HashMap<String, Served>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl ImageServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let files: Arc<Mutex<HashMap<String, Served>>> = Arc::default();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let (f, r) = (Arc::clone(&files), Arc::clone(&received));
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (f, r) = (Arc::clone(&f), Arc::clone(&r));
                thread::spawn(move || serve(stream, &f, &r));
            }
        });
        Self {
            port,
            files,
            received,
        }
    }

    pub fn add(&self, path: &str, served: Served) {
        self.files.lock().unwrap().insert(path.to_owned(), served);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How many requests asked for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(
    mut stream: TcpStream,
    files: &Mutex<HashMap<String, Served>>,
    received: &Mutex<Vec<Received>>,
) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    received.lock().unwrap().push(Received {
        path: path.clone(),
        headers,
    });
    let served = files.lock().unwrap().get(&path).cloned();
    let (status, md5, body) = match served {
        Some(Served::File(bytes)) => ("200 OK", Some(md5_of(&bytes)), bytes),
        Some(Served::WrongDigest(bytes)) => ("200 OK", Some(md5_of(b"something else")), bytes),
        Some(Served::Slow(bytes, delay)) => {
            thread::sleep(delay);
            ("200 OK", Some(md5_of(&bytes)), bytes)
        }
        None => ("404 Not Found", None, b"no such image\n".to_vec()),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(md5) = md5 {
        response.push_str(&format!("Content-MD5: {md5}\r\n"));
    }
    response.push_str("\r\n");
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.write_all(&body);
}

fn md5_of(bytes: &[u8]) -> String {
    xmlbind::Base64Binary(hash(MessageDigest::md5(), bytes).unwrap().to_vec())
        .to_text()
        .into_owned()
}

/// Bytes that look like nothing in particular, `len` of them.
pub fn blob(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The usual images: `/kernel`, `/ramdisk` and a 1 MiB `/image`.
pub fn serve_images(server: &ImageServer) {
    server.add("/kernel", Served::File(blob(1, 4096)));
    server.add("/ramdisk", Served::File(blob(2, 8192)));
    server.add("/image", Served::File(blob(3, 1 << 20)));
}

/// A launch of a `memory` MB, `cores`, `disk` GB instance from the usual images.
pub fn launch(
    server: &ImageServer,
    instance_id: &str,
    memory: i32,
    cores: i32,
    disk: i32,
) -> NcRunInstanceType {
    NcRunInstanceType {
        correlation_id: Some(format!("corr-{instance_id}")),
        user_id: Some("admin".into()),
        image_id: "emi-00000001".into(),
        kernel_id: "eki-00000001".into(),
        ramdisk_id: Some("eri-00000001".into()),
        image_url: server.url("/image"),
        kernel_url: server.url("/kernel"),
        ramdisk_url: Some(server.url("/ramdisk")),
        instance_id: instance_id.into(),
        instance_type: VirtualMachineType {
            memory: Some(memory),
            cores: Some(cores),
            disk: Some(disk),
        },
        key_name: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0test admin@cloud".into(),
        public_mac_address: "d0:0d:4b:11:22:33".into(),
        private_mac_address: "d0:0d:4b:11:22:33".into(),
        reservation_id: "r-00000001".into(),
        vlan: 10,
        user_data: Some("aGVsbG8=".into()),
        launch_index: Some("0".into()),
        group_names: vec!["default".into()],
        ..NcRunInstanceType::default()
    }
}

/// ncDescribeInstances of one instance, as the cluster asks it.
pub async fn describe(client: &NcClient, instance_id: &str) -> Option<InstanceType> {
    let request = NcDescribeInstancesType {
        user_id: Some("eucalyptus".into()),
        instance_ids: vec![instance_id.to_owned()],
        ..NcDescribeInstancesType::default()
    };
    let reply = client.nc_describe_instances(&request).await.unwrap();
    reply
        .instances
        .into_iter()
        .find(|i| i.instance_id == instance_id)
}

/// Polls until the instance reports `state`; panics with what it did report after `limit`.
pub async fn wait_for(
    client: &NcClient,
    instance_id: &str,
    state: &str,
    limit: Duration,
) -> InstanceType {
    let start = Instant::now();
    loop {
        let seen = describe(client, instance_id).await;
        match seen {
            Some(i) if i.state_name == state => return i,
            other if start.elapsed() > limit => {
                panic!("{instance_id} not {state} after {limit:?}: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Polls until the instance is no longer reported.
pub async fn wait_gone(client: &NcClient, instance_id: &str, limit: Duration) {
    let start = Instant::now();
    while describe(client, instance_id).await.is_some() {
        assert!(
            start.elapsed() < limit,
            "{instance_id} still reported after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn resources(client: &NcClient) -> NcDescribeResourceResponseType {
    client
        .nc_describe_resource(&NcDescribeResourceType::default())
        .await
        .unwrap()
}

/// The fault's text, or a panic saying the call did not fail as expected.
pub fn fault_text<T: std::fmt::Debug>(result: Result<T, ClientError>) -> String {
    match result {
        Err(ClientError::Fault(fault)) => fault.to_string(),
        other => panic!("expected a SOAP fault, got {other:?}"),
    }
}

/// Files and directories under `dir`, recursively, as paths relative to it.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            found.push(path.strip_prefix(root).unwrap().to_owned());
            if path.is_dir() {
                walk(root, &path, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found
}

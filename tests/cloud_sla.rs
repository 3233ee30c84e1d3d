//! SLAs end to end (issue 18's acceptance 1 and 2) on a real `euca cloud` over a real
//! `euca cluster` and a test-driver `euca node` whose zone has room for 3 m1.small, driven by
//! boto3 from the accounts' eucarc files (`tests/py/cloud_sla.py`), set with `euca admin sla`
//! and reported with `euca admin sla report`, with the events' test clock set at each step:
//! 1. account a reserves 2 x m1.small: b starts 1, its second is InsufficientInstanceCapacity
//!    naming the reservation, a starts its 2; the report shows reserved and used hours;
//! 2. an availability floor driven below its threshold by running an instance POSTs one
//!    breach alert to the test's webhook (not one per tick, not again after a CLC restart)
//!    and, after the terminate, one recovery alert;
//! 3. priority: b's reservation of higher priority is kept whole where both do not fit.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloud_support::{admin, python, restart_cloud, start_cloud};
use cluster_support::{Cc, Nodes};
use node_support::Served;

/// 2026-01-01T00:00:00Z.
const DAY: i64 = 1_767_225_600;
const HOUR: i64 = 3600;

/// A webhook on a loopback port keeping the JSON bodies POSTed to it.
struct Webhook {
    url: String,
    received: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Webhook {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/alerts", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(value) = lower.strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Self { url, received }
    }

    fn alerts(&self) -> Vec<serde_json::Value> {
        self.received.lock().unwrap().clone()
    }

    /// The alerts once there are `count`; then, after a few more ticks, still only those.
    fn expect(&self, count: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.alerts().len() < count {
            assert!(Instant::now() < deadline, "alerts: {:?}", self.alerts());
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_secs(4));
        let alerts = self.alerts();
        assert_eq!(alerts.len(), count, "no storm: {alerts:?}");
        alerts
    }
}

fn set_clock(clock: &Path, seconds: i64) {
    std::fs::write(clock, format!("{seconds}\n")).unwrap();
}

#[test]
fn reservations_hold_capacity_and_a_floor_alerts_once_each_way() {
    let clock = tempfile::NamedTempFile::new().unwrap();
    // Read by every component (and `euca admin`) this test starts, for the times of events
    // only. This test is alone in its binary, so no other test sees it.
    std::env::set_var("EUCA_TEST_CLOCK", clock.path());
    set_clock(clock.path(), DAY);

    let nodes = Nodes::start(1);
    cloud_support::serve_manifests(|path, manifest| nodes.images.add(path, Served::File(manifest)));
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let data = dir.path().join("clc");
    let cluster = format!("zone1={}", cc.url());
    let images = nodes.images.url("/services/Walrus");
    let args = ["--cluster", &cluster, "--walrus", &images, "--tick", "1"];
    let mut cloud = start_cloud(nodes.keys.path(), &data, &args);
    // 600 MB each: the node's 2 GB has room for 3.
    admin(&data, &["vmtype", "set", "m1.small", "1", "600", "2"]);
    admin(&data, &["user", "add", "a"]);
    admin(&data, &["user", "add", "b"]);
    let creds = data.join("credentials");
    let [a, b, root] = ["a", "b", "admin"].map(|u| creds.join(u).display().to_string());
    let reserve = |spec| ["sla", "set", "--account", "a", "--reserve", spec];
    let refused = cloud_support::admin_run(&data, &reserve("zone9:m1.small:2"));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("there is no zone \"zone9\""), "{refused:?}");
    let shown = admin(&data, &reserve("zone1:m1.small:2"));
    assert!(shown.contains("a\treserve zone1:m1.small:2\n"), "{shown}");
    python("cloud_sla.py", &["available", &root, "3"]);

    // Acceptance 1.
    let out = std::panic::catch_unwind(|| python("cloud_sla.py", &["reserved", &a, &b]))
        .unwrap_or_else(|_| panic!("cloud log:\n{}", cloud.log()));
    assert_eq!(out.lines().last().unwrap().split(' ').count(), 3, "{out}");
    // Two hours on, all three are terminated; the report runs to four hours.
    set_clock(clock.path(), DAY + 2 * HOUR);
    python("cloud_sla.py", &["end", &a]);
    python("cloud_sla.py", &["end", &b]);
    let report = admin(
        &data,
        &[
            "sla",
            "report",
            "--from",
            "2026-01-01T00:00:00Z",
            "--to",
            "2026-01-01T04:00:00Z",
        ],
    );
    assert_eq!(
        report,
        "account,vm_type,reserved_instance_hours,used_instance_hours\n\
         a,m1.small,8,4\n\
         b,m1.small,0,2\n",
        "a reserved 2 for 4 h and ran 2 for 2 h; b reserved none and ran 1 for 2 h"
    );
    let json = admin(
        &data,
        &[
            "sla",
            "report",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
            "--account",
            "a",
            "--format",
            "json",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["sla"],
        serde_json::json!([{"account": "a", "vmType": "m1.small",
            "reservedInstanceHours": 48.0, "usedInstanceHours": 4.0}])
    );

    // Acceptance 2: b's floor of 3 available m1.small in zone1 (b may run the 1 not
    // reserved).
    python("cloud_sla.py", &["available", &root, "3"]);
    let webhook = Webhook::start();
    admin(
        &data,
        &[
            "sla",
            "set",
            "--account",
            "b",
            "--floor",
            "zone1:m1.small:3",
            "--webhook",
            &webhook.url,
        ],
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(webhook.alerts().is_empty(), "{:?}", webhook.alerts());
    python("cloud_sla.py", &["run", &b]);
    let breach = webhook.expect(1);
    let alert = |state: &str, available: i64| {
        serde_json::json!({"alert": state, "account": "b", "zone": "zone1", "vmType": "m1.small",
            "floor": 3, "availableInstances": available, "time": (DAY + 2 * HOUR) * 1000})
    };
    assert_eq!(breach[0], alert("sla.floor.breached", 2));
    assert!(
        cloud.log().contains("SLA availability floor breached"),
        "{}",
        cloud.log()
    );
    let shown = admin(&data, &["sla", "show", "--account", "b"]);
    assert!(shown.contains("b\tbreached zone1:m1.small\n"), "{shown}");
    // A restarted cloud knows the floor is breached already.
    assert!(cloud.terminate().success(), "{}", cloud.log());
    let cloud = restart_cloud(nodes.keys.path(), &data, &args);
    webhook.expect(1);
    python("cloud_sla.py", &["end", &b]);
    let alerts = webhook.expect(2);
    assert_eq!(alerts[1], alert("sla.floor.recovered", 3));
    assert!(
        cloud.log().contains("SLA availability floor holds again"),
        "{}",
        cloud.log()
    );
    let events = admin(
        &data,
        &[
            "events",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
            "--account",
            "b",
        ],
    );
    let alerted: Vec<&str> = events
        .lines()
        .filter(|l| l.contains(",sla.floor."))
        .map(|l| l.split(',').nth(6).unwrap())
        .collect();
    assert_eq!(
        alerted,
        ["sla.floor.breached", "sla.floor.recovered"],
        "{events}"
    );

    // Room for 3, a's 2 (priority 0) and b's 2 (priority 10) reserved: b's are kept whole.
    let b_reserves = [
        "sla",
        "set",
        "--account",
        "b",
        "--reserve",
        "zone1:m1.small:2",
    ];
    admin(&data, &[&b_reserves[..], &["--priority", "10"]].concat());
    python("cloud_sla.py", &["available", &root, "3"]);
    python("cloud_sla.py", &["priority", &a]);

    // Cleared: no SLA is shown, and a's reservation no longer holds room.
    admin(&data, &["sla", "clear", "--account", "a"]);
    let left = admin(&data, &["sla", "show"]);
    assert!(!left.contains("a\t"), "{left}");
    assert!(left.contains("b\tfloor zone1:m1.small:3\n"), "{left}");
}

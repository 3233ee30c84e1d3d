//! Acceptance 3 of issue 14: under `euca up`, each component killed with SIGKILL while an
//! instance runs (the CLC, Walrus, the SC, the CC, the NC, in turn) is started again, and
//! the cloud's answers after it (DescribeInstances, DescribeImages, the buckets and their
//! keys) are the same as before.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod common;
mod up_support;

use std::time::{Duration, Instant};

use cloud_support::python;
use up_support::{alive, Up};

/// How long a killed component may take to be back, and the cloud's answers to settle.
const PATIENCE: Duration = Duration::from_secs(60);
/// Three rounds of the CLC's tick under `euca up`.
const SETTLE: Duration = Duration::from_secs(3);

#[test]
fn every_component_killed_is_restarted_and_the_cloud_answers_the_same() {
    let home = tempfile::tempdir().unwrap();
    let cloud = Up::start(home.path());
    let admin = cloud.admin_dir();
    python("up_clients.py", &["launch", &admin]);
    let before = python("up_clients.py", &["answers", &admin]);
    assert!(
        before.contains("\"running\""),
        "no running instance: {before}"
    );

    for name in ["cloud", "walrus", "storage", "cluster", "node"] {
        let pid_of = |name: &str| {
            cloud
                .pids()
                .into_iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, pid)| pid)
        };
        let old = pid_of(name).unwrap();
        println!("killing {name} (pid {old})");
        let status = std::process::Command::new("kill")
            .args(["-KILL", &old.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let started = Instant::now();
        loop {
            let back = pid_of(name).is_some_and(|pid| pid != old && alive(pid));
            if back && cloud.status().0 == Some(0) {
                let after = python("up_clients.py", &["answers", &admin]);
                if after == before {
                    println!("{name}: back after {:?}", started.elapsed());
                    // And still so after a few of the CLC's polls of the cluster (one a
                    // second): a lost instance would show as terminated by then.
                    std::thread::sleep(SETTLE);
                    let settled = python("up_clients.py", &["answers", &admin]);
                    assert_eq!(settled, before, "after {name} was killed and restarted");
                    break;
                }
                assert!(
                    started.elapsed() < PATIENCE,
                    "after {name} was killed the cloud answers\n{after}\ninstead of\n{before}"
                );
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{name} is not back: {:?}\n{}",
                cloud.status(),
                cloud.up.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    let log = cloud.up.log();
    assert_eq!(log.matches("component died").count(), 5, "{log}");
}

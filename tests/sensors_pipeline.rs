//! The monitoring samples' way from a node to the cloud (issue 16): a real `euca node` on
//! libvirt's test driver samples its instance every half second, a real `euca cluster`
//! gathers the samples after its polls, and a real `euca cloud` (ticking every second) runs
//! the instance through the EC2 API and takes the samples in. zeep, signing as the cloud with
//! the WSDL the cluster serves, reads them from the cluster's DescribeSensors; boto3's
//! `cloudwatch` client reads what the cloud made of them (`tests/py/sensors_pipeline.py`).

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;

use std::path::Path;
use std::time::Duration;

use cloud_support::{python, serve_manifests, start_cloud};
use cluster_support::{Cc, Nodes, Reply, Zeep};
use common::launcher::Component;
use node_support::Served;

/// The nodes' sample interval in these tests, in seconds and as the wire gives it.
const SAMPLE_INTERVAL: &str = "0.5";
const SAMPLE_INTERVAL_MS: &str = "500";
/// Values asked of each series: more than the cluster takes from its node at one poll (about
/// 2 s, four samples), so that they show its polls' answers put together.
const HISTORY: usize = 12;
/// The metrics each instance reports, in the node's order.
const METRICS: [&str; 5] = [
    "CPUUtilization",
    "DiskReadBytes",
    "DiskWriteBytes",
    "NetworkIn",
    "NetworkOut",
];

/// A cloud over `cc` ticking every second, with the fixture images registered: the cloud and
/// its admin's credentials folder, machine and kernel ids.
fn cloud(nodes: &Nodes, cc: &Cc, dir: &Path) -> (Component, String, String, String) {
    serve_manifests(|path, manifest| nodes.images.add(path, Served::File(manifest)));
    let data = dir.join("clc");
    let walrus = nodes.images.url("/services/Walrus");
    let cluster = format!("zone1={}", cc.url());
    let process = start_cloud(
        nodes.keys.path(),
        &data,
        &["--tick", "1", "--walrus", &walrus, "--cluster", &cluster],
    );
    let admin_dir = data.join("credentials/admin").display().to_string();
    let out = python("cloud_reconcile.py", &["images", &admin_dir]);
    let (emi, eki) = out.lines().last().unwrap().split_once(' ').unwrap();
    (process, admin_dir, emi.to_owned(), eki.to_owned())
}

/// `sensorsResources.0.metrics.M.counters.0.dimensions.D` of `reply`, for metric `metric`,
/// if the reply has the metric.
fn find_dimension(reply: &Reply, metric: &str, index: usize) -> Option<String> {
    let names = reply.column("sensorsResources.0.metrics", Some("metricName"));
    let m = names.iter().position(|n| n == metric)?;
    Some(format!(
        "sensorsResources.0.metrics.{m}.counters.0.dimensions.{index}"
    ))
}

fn dimension(reply: &Reply, metric: &str, index: usize) -> String {
    find_dimension(reply, metric, index).unwrap_or_else(|| panic!("no {metric}: {reply:?}"))
}

/// The values of a dimension, as numbers.
fn values(reply: &Reply, dimension: &str) -> Vec<f64> {
    reply
        .column(&format!("{dimension}.values"), Some("value"))
        .iter()
        .map(|v| v.parse().unwrap())
        .collect()
}

#[test]
fn an_instance_s_samples_go_from_its_node_through_its_cluster_to_the_cloud() {
    let nodes = Nodes::start_with(1, &[("SAMPLE_INTERVAL", SAMPLE_INTERVAL)]);
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let (clc, admin_dir, emi, eki) = cloud(&nodes, &cc, dir.path());
    let out = python("cloud_reconcile.py", &["run", &admin_dir, &emi, &eki]);
    let instance = out.lines().last().unwrap().to_owned();

    // zeep loads the WSDL the cluster serves beside EucalyptusCC and signs as the cloud.
    let sensors = cc.url().replace("EucalyptusCC", "EucalyptusCCSensors");
    let mut zeep = Zeep::spawn(
        "cluster_zeep.py",
        &[
            format!("{sensors}?wsdl").as_ref(),
            sensors.as_ref(),
            nodes.keys.path().as_os_str(),
            "EucalyptusCCSensorsSoapBinding".as_ref(),
        ],
    );
    let ask = format!(
        r#"{{"userId": "eucalyptus", "instanceIds": ["{instance}"], "historySize": {HISTORY}}}"#
    );
    let reply = zeep.until("DescribeSensors", &ask, Duration::from_secs(30), |r| {
        find_dimension(r, "CPUUtilization", 0).is_some_and(|cpu| values(r, &cpu).len() >= HISTORY)
    });
    assert!(reply.ok(), "{reply:?}");
    assert_eq!(
        reply.get("sensorsResources.0.resourceName"),
        Some(instance.as_str())
    );
    assert_eq!(
        reply.get("sensorsResources.0.resourceType"),
        Some("instance")
    );
    assert_eq!(
        reply.column("sensorsResources.0.metrics", Some("metricName")),
        METRICS
    );
    assert!(
        reply.get("sensorsResources.1.resourceName").is_none(),
        "{reply:?}"
    );
    for metric in METRICS {
        let counter = dimension(&reply, metric, 0).replace(".dimensions.0", "");
        assert_eq!(reply.get(&format!("{counter}.type")), Some("summation"));
        assert_eq!(
            reply.get(&format!("{counter}.collectionIntervalMs")),
            Some(SAMPLE_INTERVAL_MS)
        );
        // The test driver's counters only rise, sample after sample.
        let series = values(&reply, &dimension(&reply, metric, 0));
        assert_eq!(series.len(), HISTORY, "{metric}: {series:?}");
        assert!(
            series.windows(2).all(|w| w[0] < w[1]),
            "{metric}: {series:?}"
        );
    }
    let cpu = dimension(&reply, "CPUUtilization", 0);
    assert_eq!(reply.get(&format!("{cpu}.dimensionName")), Some("default"));
    assert_eq!(
        reply.get(&format!(
            "{}.dimensionName",
            dimension(&reply, "DiskReadBytes", 0)
        )),
        Some("vda")
    );
    let stamps = reply.column(&format!("{cpu}.values"), Some("timestamp"));
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    let first: i64 = reply
        .get(&format!("{cpu}.sequenceNum"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(first >= 0);

    // Only the cloud may ask.
    let unsigned = zeep.call_as("none", "DescribeSensors", &ask);
    assert!(unsigned.fault().is_some(), "{unsigned:?}");

    // The cloud turned them into CloudWatch's values, which its API serves.
    let out = python(
        "sensors_pipeline.py",
        &["samples", &admin_dir, &instance, SAMPLE_INTERVAL],
    );
    assert_eq!(out.matches("ok:").count(), 3, "{out}\n{}", clc.log());
}

//! A burst of concurrent RunInstances cannot overbook the cluster: placement holds each
//! instance's resources at once, so every node is asked only for what it has (issue 11).

#![allow(clippy::unwrap_used)]

mod cluster_support;
mod common;
mod node_support;

use std::time::{Duration, Instant};

use cluster_support::*;
use soap::HttpTransport;
use wire::cc::{DescribeResourcesType, EucalyptusCcClient};

#[test]
fn a_burst_of_launches_fills_the_cluster_exactly_and_no_node_refuses() {
    let nodes = Nodes::start(3);
    let data = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, data.path(), "ROUNDROBIN", &[]);
    let (max, free) = expected_capacity(&nodes, &[0, 1, 2], SMALL);
    assert_eq!(max, free);
    let cloud = nodes.cloud_security();
    let client = EucalyptusCcClient::new(HttpTransport::builder(cc.url(), cloud).build().unwrap());
    let launch = |i: i32| {
        launch_one(
            &nodes,
            "alice",
            &format!("r-{i:08x}"),
            &format!("i-{:08x}", 0x100 + i),
            "aa:00:00:00:00:01",
        )
    };
    let placed = block_on(async {
        // Once the cluster counts every node:
        let small = DescribeResourcesType {
            user_id: Some("eucalyptus".into()),
            instance_types: vec![launch(0).instance_type.unwrap()],
            ..DescribeResourcesType::default()
        };
        let start = Instant::now();
        while client.describe_resources(&small).await.unwrap().resources[0].available_instances
            != Some(free)
        {
            assert!(start.elapsed() < Duration::from_secs(15), "{}", cc.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let burst = (0..free + 5).map(|i| {
            let (client, request) = (client.clone(), launch(i));
            tokio::spawn(async move { client.run_instances(&request).await.unwrap() })
        });
        let mut placed = 0;
        for reply in burst.collect::<Vec<_>>() {
            let reply = reply.await.unwrap();
            if reply.r#return == Some(true) {
                placed += reply.instances.len();
            } else {
                let message = reply.status_message.unwrap_or_default();
                assert!(message.contains("no node has room"), "{message}");
            }
        }
        placed
    });
    assert_eq!(placed, usize::try_from(free).unwrap());
    assert_eq!(expected_capacity(&nodes, &[0, 1, 2], SMALL).1, 0);
    let log = cc.log();
    assert!(
        !log.contains("placement failed"),
        "a node was asked for more than it had:\n{log}"
    );
}

//! Nodes registered with a running `euca cluster` over its EucalyptusCCNodes service (signed
//! by the cloud): polled and counted from the next round, kept across a restart, taken out
//! again; an unsigned registration is refused.

#![allow(clippy::unwrap_used)]

mod cluster_support;
mod common;
mod node_support;

use std::time::{Duration, Instant};

use cluster_support::*;
use soap::{ClientError, HttpTransport, Security};
use wire::cc::{DescribeResourcesType, EucalyptusCcClient};
use wire::cc_nodes::{EucalyptusCcNodesClient, NodesType};

/// Where `cc` serves EucalyptusCCNodes: its host and port, that service's path.
fn nodes_url(cc: &Cc) -> String {
    let cc_url = cc.url();
    let root = cc_url.strip_suffix("/axis2/services/EucalyptusCC").unwrap();
    format!("{root}{}", wire::cc_nodes::SERVICE_PATH)
}

fn nodes_client(cc: &Cc, security: Security) -> EucalyptusCcNodesClient<HttpTransport> {
    EucalyptusCcNodesClient::new(
        HttpTransport::builder(nodes_url(cc), security)
            .build()
            .unwrap(),
    )
}

fn naming(host: String) -> NodesType {
    NodesType {
        user_id: Some("eucalyptus".into()),
        nodes: vec![host],
        ..NodesType::default()
    }
}

/// Waits until the cluster at `cc` reports the nodes `urls` and the m1.small capacity
/// `expected` (max, available).
fn wait_for(cc: &Cc, security: &Security, urls: &[String], expected: (i32, i32)) {
    let client = EucalyptusCcClient::new(
        HttpTransport::builder(cc.url(), security.clone())
            .build()
            .unwrap(),
    );
    let (name, memory, cores, disk) = SMALL;
    let small = DescribeResourcesType {
        user_id: Some("eucalyptus".into()),
        instance_types: vec![wire::cc::VirtualMachineType {
            name: Some(name.into()),
            memory: Some(memory),
            cores: Some(cores),
            disk: Some(disk),
        }],
        ..DescribeResourcesType::default()
    };
    let start = Instant::now();
    block_on(async {
        loop {
            let answer = client.describe_resources(&small).await.unwrap();
            let resource = &answer.resources[0];
            let seen = (
                resource.max_instances.unwrap_or(0),
                resource.available_instances.unwrap_or(0),
            );
            if answer.service_tags == urls && seen == expected {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{:?} {seen:?}, not {urls:?} {expected:?}:\n{}",
                answer.service_tags,
                cc.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

#[test]
fn a_node_registered_at_runtime_is_polled_counted_kept_across_restarts_and_taken_out() {
    let nodes = Nodes::start(2);
    let data = tempfile::tempdir().unwrap();
    let cloud = nodes.cloud_security();
    let start = || Cc::start_over(&nodes.host(0), &nodes.keys, data.path(), "ROUNDROBIN", &[]);
    let one = expected_capacity(&nodes, &[0], SMALL);
    let both = expected_capacity(&nodes, &[0, 1], SMALL);
    let (first, all) = (vec![nodes.url(0)], vec![nodes.url(0), nodes.url(1)]);

    let cc = start();
    wait_for(&cc, &cloud, &first, one);
    let answer =
        block_on(nodes_client(&cc, cloud.clone()).register_nodes(&naming(nodes.host(1)))).unwrap();
    assert_eq!((answer.r#return, &answer.service_tags), (Some(true), &all));
    wait_for(&cc, &cloud, &all, both);

    // Unsigned: refused, and the pool is as it was.
    let unsigned =
        block_on(nodes_client(&cc, Security::unsecured()).deregister_nodes(&naming(nodes.host(1))));
    assert!(
        matches!(unsigned, Err(ClientError::Fault(_))),
        "{unsigned:?}"
    );
    // A node of the cluster's NODES is not taken out by deregistration.
    let configured =
        block_on(nodes_client(&cc, cloud.clone()).deregister_nodes(&naming(nodes.host(0))))
            .unwrap();
    assert_eq!(configured.r#return, Some(false));
    assert!(
        configured
            .status_message
            .as_deref()
            .unwrap()
            .contains("NODES"),
        "{configured:?}"
    );

    drop(cc);
    let cc = start();
    wait_for(&cc, &cloud, &all, both);
    let answer =
        block_on(nodes_client(&cc, cloud.clone()).deregister_nodes(&naming(nodes.host(1))))
            .unwrap();
    assert_eq!(
        (answer.r#return, &answer.service_tags),
        (Some(true), &first)
    );
    wait_for(&cc, &cloud, &first, one);

    drop(cc);
    let cc = start();
    wait_for(&cc, &cloud, &first, one);
}

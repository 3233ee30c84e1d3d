//! A node controller killed while instances run loses none of them: started again on the
//! same data, it reports them all, with their volumes, and still manages them.

#![allow(clippy::unwrap_used)]

mod common;
mod node_support;

use std::time::Duration;

use node_support::*;
use wire::nc::{NcAttachVolumeType, NcTerminateInstanceType};

const BOOT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn instances_survive_a_killed_node_controller() {
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let images = ImageServer::start();
    serve_images(&images);
    // Launched last, from an image that takes a while to arrive: still Pending at the kill.
    images.add(
        "/slow-image",
        Served::Slow(blob(7, 1 << 20), Duration::from_secs(2)),
    );
    let setup = NcSetup::test_driver(&keys, data.path());
    let mut nc = setup.start();
    let client = nc.client(&keys);

    let running = ["i-00000011", "i-00000012", "i-00000013"];
    for id in running {
        client
            .nc_run_instance(&launch(&images, id, 128, 1, 1))
            .await
            .unwrap();
    }
    for id in running {
        wait_for(&client, id, "Extant", BOOT).await;
    }
    let volume = data.path().join("vol-1.img");
    std::fs::write(&volume, b"volume").unwrap();
    client
        .nc_attach_volume(&NcAttachVolumeType {
            instance_id: Some(running[0].into()),
            volume_id: Some("vol-1".into()),
            remote_dev: Some(volume.to_str().unwrap().into()),
            local_dev: Some("/dev/sdb".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut slow = launch(&images, "i-00000014", 128, 1, 1);
    slow.image_id = "emi-00000014".into();
    slow.image_url = images.url("/slow-image");
    client.nc_run_instance(&slow).await.unwrap();
    let mut before = Vec::new();
    for id in running {
        before.push(describe(&client, id).await.unwrap());
    }

    nc.kill();
    drop(client);
    let nc = setup.start();
    let client = nc.client(&keys);

    // Every instance is back as it was, the volume included.
    for (id, was) in running.iter().zip(&before) {
        let now = describe(&client, id)
            .await
            .unwrap_or_else(|| panic!("{id} lost"));
        assert_eq!(&now, was, "{id} changed across the restart");
    }
    assert_eq!(before[0].volumes.len(), 1);
    // The launch that was interrupted completes.
    wait_for(&client, "i-00000014", "Extant", BOOT).await;
    assert!(
        nc.log().contains("resuming an interrupted launch"),
        "{}",
        nc.log()
    );
    let busy = resources(&client).await;
    assert_eq!(busy.memory_size_available, 2048 - 4 * 128);
    assert_eq!(busy.number_of_cores_available, 8 - 4);

    // They are still managed: terminate destroys the domain the restart brought back.
    let reply = client
        .nc_terminate_instance(&NcTerminateInstanceType {
            instance_id: running[1].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(reply.previous_state.as_deref(), Some("14"));
    assert!(nc.log().contains("domain destroyed"), "{}", nc.log());
    assert_eq!(
        resources(&client).await.memory_size_available,
        2048 - 3 * 128
    );
    assert!(!nc.work_dir(running[1]).exists());
}

/// SIGTERM stops the node controller cleanly; instance records stay for the next start.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_cleanly() {
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let images = ImageServer::start();
    serve_images(&images);
    let setup = NcSetup::test_driver(&keys, data.path());
    let mut nc = setup.start();
    let client = nc.client(&keys);
    client
        .nc_run_instance(&launch(&images, "i-00000021", 128, 1, 1))
        .await
        .unwrap();
    wait_for(&client, "i-00000021", "Extant", BOOT).await;

    let status = nc.terminate();
    assert!(status.success(), "exit {status:?}\n{}", nc.log());
    assert!(nc.log().contains("node controller stopped"), "{}", nc.log());

    // The test driver forgot the domain with the old process: the record brings it back
    // (briefly Pending while it is recreated).
    let nc = setup.start();
    let client = nc.client(&keys);
    assert!(describe(&client, "i-00000021").await.is_some());
    wait_for(&client, "i-00000021", "Extant", BOOT).await;
}

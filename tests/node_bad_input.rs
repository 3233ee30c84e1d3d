//! Bad requests to the node controller: each gets a SOAP fault, or an instance that ends in
//! Teardown saying why, and nothing is left on disk.

#![allow(clippy::unwrap_used)]

mod common;
mod node_support;

use std::time::Duration;

use node_support::*;
use wire::nc::{
    NcAttachVolumeType, NcDetachVolumeType, NcGetConsoleOutputType, NcRebootInstanceType,
    NcTerminateInstanceType,
};
use xmlbind::{Base64Binary, XmlText};

const SETTLE: Duration = Duration::from_secs(30);

async fn console_text(client: &NcClient, id: &str) -> String {
    let reply = client
        .nc_get_console_output(&NcGetConsoleOutputType {
            instance_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    String::from_utf8(Base64Binary::from_text(&reply.console_output).unwrap().0).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_instances_get_faults() {
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let nc = NcSetup::test_driver(&keys, data.path()).start();
    let client = nc.client(&keys);
    let id = || "i-deadbeef".to_owned();

    let faults = [
        fault_text(
            client
                .nc_terminate_instance(&NcTerminateInstanceType {
                    instance_id: id(),
                    ..Default::default()
                })
                .await,
        ),
        fault_text(
            client
                .nc_reboot_instance(&NcRebootInstanceType {
                    instance_id: id(),
                    ..Default::default()
                })
                .await,
        ),
        fault_text(
            client
                .nc_get_console_output(&NcGetConsoleOutputType {
                    instance_id: id(),
                    ..Default::default()
                })
                .await,
        ),
        fault_text(
            client
                .nc_attach_volume(&NcAttachVolumeType {
                    instance_id: Some(id()),
                    volume_id: Some("vol-1".into()),
                    remote_dev: Some("/dev/null".into()),
                    local_dev: Some("/dev/sdb".into()),
                    ..Default::default()
                })
                .await,
        ),
        fault_text(
            client
                .nc_detach_volume(&NcDetachVolumeType {
                    instance_id: Some(id()),
                    volume_id: Some("vol-1".into()),
                    ..Default::default()
                })
                .await,
        ),
    ];
    for fault in faults {
        assert!(
            fault.contains("instance i-deadbeef is not known on this node"),
            "{fault}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_launches_are_refused_before_anything_happens() {
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let images = ImageServer::start();
    serve_images(&images);
    let nc = NcSetup::test_driver(&keys, data.path()).start();
    let client = nc.client(&keys);

    // Guards against an instance id walking out of the data directory.
    let fault = fault_text(
        client
            .nc_run_instance(&launch(&images, "../../etc", 128, 1, 1))
            .await,
    );
    assert!(fault.contains("invalid instanceId"), "{fault}");
    let fault = fault_text(
        client
            .nc_run_instance(&launch(&images, "i-00000001", -5, 1, 1))
            .await,
    );
    // Guards against Rust's debug form (`Some(-5)`) reaching the cluster.
    assert!(
        fault.contains("invalid instanceType.memory: -5 is not a size"),
        "{fault}"
    );
    let fault = fault_text(
        client
            .nc_run_instance(&launch(&images, "i-00000001", 128, 0, 1))
            .await,
    );
    assert!(
        fault.contains("invalid instanceType.cores: must be a positive number"),
        "{fault}"
    );
    let mut no_ramdisk_url = launch(&images, "i-00000001", 128, 1, 1);
    no_ramdisk_url.ramdisk_url = None;
    let fault = fault_text(client.nc_run_instance(&no_ramdisk_url).await);
    assert!(fault.contains("invalid ramdiskURL: missing"), "{fault}");

    // A duplicate id is refused while the first instance is untouched.
    client
        .nc_run_instance(&launch(&images, "i-00000002", 128, 1, 1))
        .await
        .unwrap();
    let fault = fault_text(
        client
            .nc_run_instance(&launch(&images, "i-00000002", 128, 1, 1))
            .await,
    );
    assert!(
        fault.contains("instance i-00000002 already exists"),
        "{fault}"
    );
    wait_for(&client, "i-00000002", "Extant", SETTLE).await;

    // A volume device that is neither a path nor a known network form.
    let fault = fault_text(
        client
            .nc_attach_volume(&NcAttachVolumeType {
                instance_id: Some("i-00000002".into()),
                volume_id: Some("vol-1".into()),
                remote_dev: Some("smb://server/share".into()),
                local_dev: Some("/dev/sdb".into()),
                ..Default::default()
            })
            .await,
    );
    assert!(
        fault.contains("neither a local path nor nbd://HOST:PORT/EXPORT"),
        "{fault}"
    );

    // Only the instance that was accepted has files.
    let files = files_under(&data.path().join("work"));
    assert!(
        files.iter().all(|f| f.starts_with("i-00000002")),
        "{files:?}"
    );
    assert!(!data.path().join("etc").exists());
}

/// Launches whose images cannot be had end in Teardown, say why, and leave nothing behind.
#[tokio::test(flavor = "multi_thread")]
async fn failed_downloads_end_in_teardown_with_the_reason() {
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let images = ImageServer::start();
    serve_images(&images);
    images.add("/corrupt", Served::WrongDigest(blob(9, 1 << 20)));
    let nc = NcSetup::test_driver(&keys, data.path())
        .set("TEARDOWN_STATE_DURATION", "60")
        .start();
    let client = nc.client(&keys);

    let cases = [
        ("i-0000000a", "not a url at all", "malformed image URL"),
        (
            "i-0000000b",
            "ftp://127.0.0.1/image",
            "scheme ftp is not supported",
        ),
        ("i-0000000c", &images.url("/missing"), "answered HTTP 404"),
        (
            "i-0000000d",
            &images.url("/corrupt"),
            "does not match its Content-MD5",
        ),
        ("i-0000000e", "http://127.0.0.1:1/image", "cannot reach"),
    ];
    for (id, url, _) in &cases {
        let mut request = launch(&images, id, 64, 1, 1);
        request.image_id = format!("emi-{}", &id[2..]);
        request.image_url = (*url).to_owned();
        let reply = client.nc_run_instance(&request).await.unwrap();
        assert_eq!(reply.instance.unwrap().state_name, "Pending");
    }
    for (id, _, reason) in &cases {
        wait_for(&client, id, "Teardown", SETTLE).await;
        let console = console_text(&client, id).await;
        assert!(
            console.contains(&format!("instance {id} failed: ")),
            "{console}"
        );
        assert!(console.contains(reason), "{id}: {console}");
        assert!(
            nc.log().contains(reason),
            "{reason} not logged:\n{}",
            nc.log()
        );
    }

    let free = resources(&client).await;
    assert_eq!(
        free.memory_size_available, 2048,
        "failed launches hold nothing"
    );

    assert_eq!(
        files_under(&data.path().join("work")),
        Vec::<std::path::PathBuf>::new()
    );
    // The good kernel and ramdisk stay cached (one file each, named after id and URL); no
    // entry and no half-filled file for the images that failed.
    let mut cached: Vec<String> = files_under(&data.path().join("cache"))
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    cached.sort();
    assert_eq!(cached.len(), 2, "{cached:?}");
    assert!(cached[0].starts_with("eki-00000001-"), "{cached:?}");
    assert!(cached[1].starts_with("eri-00000001-"), "{cached:?}");
}

/// A node that cannot start says why on stderr and exits with a failure.
#[test]
fn a_node_without_its_keys_says_which_file_is_missing() {
    let keys = Keys::new();
    std::fs::remove_file(keys.file("cluster-cert.pem")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let log = match NcSetup::test_driver(&keys, data.path()).try_start() {
        Ok(_) => panic!("started without the cluster's certificate"),
        Err(log) => log,
    };
    assert!(log.contains("cluster-cert.pem"), "{log}");
    assert!(log.contains("euca node: keys:"), "{log}");
}

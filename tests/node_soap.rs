//! The node controller over real signed SOAP: the `euca node` binary on libvirt's test
//! driver, driven by the generated client as the cluster controller drives it.

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

const BOOT: Duration = Duration::from_secs(30);

fn terminate_request(id: &str) -> NcTerminateInstanceType {
    NcTerminateInstanceType {
        instance_id: id.into(),
        ..Default::default()
    }
}

async fn console_text(client: &NcClient, id: &str) -> String {
    let reply = client
        .nc_get_console_output(&NcGetConsoleOutputType {
            instance_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let bytes = Base64Binary::from_text(&reply.console_output).unwrap().0;
    String::from_utf8(bytes).unwrap()
}

fn attach_request(id: &str, volume: &str, remote: &str, local: &str) -> NcAttachVolumeType {
    NcAttachVolumeType {
        instance_id: Some(id.into()),
        volume_id: Some(volume.into()),
        remote_dev: Some(remote.into()),
        local_dev: Some(local.into()),
        ..Default::default()
    }
}

fn detach_request(id: &str, volume: &str) -> NcDetachVolumeType {
    NcDetachVolumeType {
        instance_id: Some(id.into()),
        volume_id: Some(volume.into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_runs_from_launch_to_teardown() {
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let images = ImageServer::start();
    serve_images(&images);
    let nc = NcSetup::test_driver(&keys, data.path()).start();
    let client = nc.client(&keys);

    let before = resources(&client).await;
    assert_eq!(before.node_status, "OK");
    assert_eq!(
        (before.memory_size_max, before.memory_size_available),
        (2048, 2048)
    );
    assert_eq!(
        (before.number_of_cores_max, before.number_of_cores_available),
        (8, 8)
    );
    assert_eq!((before.disk_size_max, before.disk_size_available), (11, 11));

    // Run: answered at once, Pending, with the launch parameters echoed.
    let id = "i-1a2b3c4d";
    let reply = client
        .nc_run_instance(&launch(&images, id, 256, 1, 2))
        .await
        .unwrap();
    assert_eq!(reply.r#return, Some(true));
    assert_eq!(reply.correlation_id.as_deref(), Some("corr-i-1a2b3c4d"));
    let pending = reply.instance.unwrap();
    assert_eq!(pending.state_name, "Pending");
    assert_eq!(pending.instance_id, id);
    assert_eq!(pending.reservation_id, "r-00000001");

    // Describe: Extant once booted, with everything the cluster gave it.
    let running = wait_for(&client, id, "Extant", BOOT).await;
    assert_eq!(running.image_id, "emi-00000001");
    assert_eq!(running.kernel_id, "eki-00000001");
    assert_eq!(running.ramdisk_id.as_deref(), Some("eri-00000001"));
    assert_eq!(running.user_id, "admin");
    assert_eq!(running.instance_type.memory, Some(256));
    assert_eq!(running.instance_type.disk, Some(2));
    let net = running.net_params.as_ref().unwrap();
    assert_eq!(
        (net.private_mac_address.as_str(), net.vlan),
        ("d0:0d:4b:11:22:33", 10)
    );
    assert_eq!(net.private_ip, "0.0.0.0");
    assert_eq!(running.group_names, vec!["default".to_owned()]);
    assert_eq!(running.user_data.as_deref(), Some("aGVsbG8="));
    let launched = running.launch_time.as_ref().unwrap().unix_seconds();
    let now = xmlbind::DateTime::now().unix_seconds();
    assert!(
        (now - 60..=now).contains(&launched),
        "launchTime {launched}, now {now}"
    );

    // Each image was fetched once, signed as the node, asking Walrus for the decrypted image.
    for path in ["/kernel", "/ramdisk", "/image"] {
        assert_eq!(images.hits(path), 1, "{path}");
    }
    let request = images
        .requests()
        .into_iter()
        .find(|r| r.path == "/image")
        .unwrap();
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("eucaoperation").as_deref(),
        Some("GetDecryptedImage")
    );
    assert!(
        header("eucasignature").is_some_and(|s| s.len() > 100),
        "{request:?}"
    );
    assert!(header("eucacert").is_some(), "{request:?}");

    // The keypair's key is on the config disk the guest gets.
    let work = nc.work_dir(id);
    let config_disk = std::fs::read(work.join("config.tar")).unwrap();
    let key = b"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0test admin@cloud";
    assert!(config_disk.windows(key.len()).any(|w| w == key));
    let domain_xml = std::fs::read_to_string(work.join("libvirt.xml")).unwrap();
    assert!(
        domain_xml.contains(r#"<memory unit="MiB">256</memory>"#),
        "{domain_xml}"
    );
    assert!(
        domain_xml.contains(r#"<mac address="d0:0d:4b:11:22:33"/>"#),
        "{domain_xml}"
    );

    let after_launch = resources(&client).await;
    assert_eq!(after_launch.memory_size_available, 2048 - 256);
    assert_eq!(after_launch.number_of_cores_available, 7);
    assert_eq!(after_launch.disk_size_available, 9);

    // Console: what the guest wrote to its serial log, base64 on the wire. (The test driver
    // runs no guest, so the test writes the log.)
    assert_eq!(console_text(&client, id).await, "");
    std::fs::write(work.join("console.log"), "Linux version 6.1\nlogin: \n").unwrap();
    assert_eq!(
        console_text(&client, id).await,
        "Linux version 6.1\nlogin: \n"
    );

    // Reboot: the domain is destroyed and started again; the instance stays Extant.
    let reply = client
        .nc_reboot_instance(&NcRebootInstanceType {
            instance_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(reply.status);
    wait_until(|| nc.log().contains("rebooting"), "the reboot").await;
    wait_for(&client, id, "Extant", BOOT).await;

    // Attach and detach a volume (a file standing for the exported block device).
    let volume = data.path().join("vol-1.img");
    std::fs::write(&volume, vec![0u8; 4096]).unwrap();
    let remote = volume.to_str().unwrap();
    client
        .nc_attach_volume(&attach_request(id, "vol-1", remote, "/dev/sdb"))
        .await
        .unwrap();
    let attached = describe(&client, id).await.unwrap();
    assert_eq!(attached.volumes.len(), 1);
    let v = &attached.volumes[0];
    assert_eq!(v.volume_id.as_deref(), Some("vol-1"));
    assert_eq!(v.remote_dev.as_deref(), Some(remote));
    assert_eq!(v.local_dev.as_deref(), Some("/dev/sdb"));
    assert_eq!(v.state.as_deref(), Some("attached"));
    let again = fault_text(
        client
            .nc_attach_volume(&attach_request(id, "vol-1", remote, "/dev/sdc"))
            .await,
    );
    assert!(again.contains("already attached"), "{again}");
    let same_device = fault_text(
        client
            .nc_attach_volume(&attach_request(id, "vol-2", remote, "sdb"))
            .await,
    );
    assert!(
        same_device.contains("already taken by volume vol-1"),
        "{same_device}"
    );
    client
        .nc_detach_volume(&detach_request(id, "vol-1"))
        .await
        .unwrap();
    assert!(describe(&client, id).await.unwrap().volumes.is_empty());
    let not_there = fault_text(client.nc_detach_volume(&detach_request(id, "vol-1")).await);
    assert!(not_there.contains("not attached"), "{not_there}");
    // The storage controller's exports are network disks; the test driver takes them too.
    for (volume, remote) in [
        ("vol-2", "nbd://127.0.0.1:10809/vol-2"),
        (
            "vol-3",
            "iscsi://127.0.0.1:3260/iqn.2009-01.edu.ucsb.eucalyptus:vol-3/1",
        ),
    ] {
        client
            .nc_attach_volume(&attach_request(id, volume, remote, "/dev/sdc"))
            .await
            .unwrap();
        let attached = describe(&client, id).await.unwrap();
        assert_eq!(attached.volumes.len(), 1);
        assert_eq!(attached.volumes[0].remote_dev.as_deref(), Some(remote));
        client
            .nc_detach_volume(&detach_request(id, volume))
            .await
            .unwrap();
        assert!(describe(&client, id).await.unwrap().volumes.is_empty());
    }

    // Terminate: Extant (14) to Teardown (15), resources back, files gone.
    let reply = client
        .nc_terminate_instance(&terminate_request(id))
        .await
        .unwrap();
    assert_eq!(reply.instance_id, id);
    assert_eq!(reply.previous_state.as_deref(), Some("14"));
    assert_eq!(reply.shutdown_state.as_deref(), Some("15"));
    assert_eq!(describe(&client, id).await.unwrap().state_name, "Teardown");
    let after = resources(&client).await;
    assert_eq!(after.memory_size_available, 2048);
    assert_eq!(after.number_of_cores_available, 8);
    assert_eq!(after.disk_size_available, 11);
    assert!(!work.exists());
    let gone = fault_text(
        client
            .nc_get_console_output(&NcGetConsoleOutputType {
                instance_id: id.into(),
                ..Default::default()
            })
            .await,
    );
    assert!(gone.contains("terminated"), "{gone}");
    // Terminating again is harmless.
    let reply = client
        .nc_terminate_instance(&terminate_request(id))
        .await
        .unwrap();
    assert_eq!(reply.shutdown_state.as_deref(), Some("15"));

    // Teardown is reported for a while (2 s here), then the instance is forgotten.
    wait_gone(&client, id, Duration::from_secs(15)).await;
}

/// Ten launches of one image at once: all run, and each image is downloaded once.
#[tokio::test(flavor = "multi_thread")]
async fn ten_concurrent_launches_share_one_download() {
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let images = ImageServer::start();
    images.add(
        "/kernel",
        Served::Slow(blob(1, 4096), Duration::from_millis(300)),
    );
    images.add("/ramdisk", Served::File(blob(2, 8192)));
    images.add(
        "/image",
        Served::Slow(blob(3, 1 << 20), Duration::from_millis(300)),
    );
    let nc = NcSetup::test_driver(&keys, data.path())
        .set("MAX_CORES", "12")
        .start();
    let client = std::sync::Arc::new(nc.client(&keys));

    let ids: Vec<String> = (0..10).map(|n| format!("i-0000000{n}")).collect();
    let mut launches = Vec::new();
    for id in &ids {
        let (client, request) = (
            std::sync::Arc::clone(&client),
            launch(&images, id, 128, 1, 1),
        );
        launches.push(tokio::spawn(async move {
            client.nc_run_instance(&request).await
        }));
    }
    for launch in launches {
        let reply = launch.await.unwrap().unwrap();
        assert_eq!(reply.instance.unwrap().state_name, "Pending");
    }
    for id in &ids {
        wait_for(&client, id, "Extant", BOOT).await;
    }
    for path in ["/kernel", "/ramdisk", "/image"] {
        assert_eq!(images.hits(path), 1, "{path} downloaded more than once");
    }
    let busy = resources(&client).await;
    assert_eq!(busy.memory_size_available, 2048 - 10 * 128);
    assert_eq!(busy.number_of_cores_available, 2);
    assert_eq!(busy.disk_size_available, 1);

    let mut terminations = Vec::new();
    for id in &ids {
        let (client, request) = (std::sync::Arc::clone(&client), terminate_request(id));
        terminations.push(tokio::spawn(async move {
            client.nc_terminate_instance(&request).await
        }));
    }
    for termination in terminations {
        assert_eq!(
            termination
                .await
                .unwrap()
                .unwrap()
                .shutdown_state
                .as_deref(),
            Some("15")
        );
    }
    let idle = resources(&client).await;
    assert_eq!(
        (idle.memory_size_available, idle.number_of_cores_available),
        (2048, 12)
    );
}

/// A launch needing more than is free is refused with what was short, and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn more_than_is_free_is_refused() {
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let images = ImageServer::start();
    serve_images(&images);
    let nc = NcSetup::test_driver(&keys, data.path())
        .set("MAX_MEM", "512")
        .start();
    let client = nc.client(&keys);

    client
        .nc_run_instance(&launch(&images, "i-00000001", 256, 1, 1))
        .await
        .unwrap();
    let refused = fault_text(
        client
            .nc_run_instance(&launch(&images, "i-00000002", 512, 1, 1))
            .await,
    );
    assert!(
        refused.contains("not enough memory (MB) on this node: 512 requested, 256 free"),
        "{refused}"
    );
    let refused = fault_text(
        client
            .nc_run_instance(&launch(&images, "i-00000003", 64, 9, 1))
            .await,
    );
    assert!(refused.contains("not enough cores"), "{refused}");
    let refused = fault_text(
        client
            .nc_run_instance(&launch(&images, "i-00000004", 64, 1, 500))
            .await,
    );
    assert!(refused.contains("not enough disk (GB)"), "{refused}");

    assert!(describe(&client, "i-00000002").await.is_none());
    let left = resources(&client).await;
    assert_eq!(
        (left.memory_size_max, left.memory_size_available),
        (512, 256)
    );
    assert_eq!(left.number_of_cores_available, 7);
    assert!(!nc.work_dir("i-00000002").exists());
}

/// Guards against a relative `--data` failing every boot: qemu-img resolved the backing
/// image from the instance's directory and could not find it.
#[tokio::test(flavor = "multi_thread")]
async fn a_relative_data_directory_boots_instances() {
    let keys = Keys::new();
    let cwd = tempfile::tempdir().unwrap();
    let images = ImageServer::start();
    serve_images(&images);
    let mut setup = NcSetup::test_driver(&keys, std::path::Path::new("data"));
    setup.cwd = Some(cwd.path());
    let nc = setup.start();
    let client = nc.client(&keys);

    let id = "i-0000da7a";
    client
        .nc_run_instance(&launch(&images, id, 128, 1, 1))
        .await
        .unwrap();
    wait_for(&client, id, "Extant", BOOT).await;
    assert!(cwd.path().join("data/work").join(id).is_dir());
}

/// Polls `done` for up to ten seconds.
async fn wait_until(done: impl Fn() -> bool, what: &str) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

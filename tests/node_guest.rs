//! A real guest: the node controller boots the Debian cloud kernel with a busybox initramfs
//! (built by scripts/guest-image.sh from Debian packages) under QEMU through libvirt's
//! embedded QEMU driver, and the guest's boot messages come back through ncGetConsoleOutput.
//! Volumes exported over NBD (qemu-nbd) and iSCSI (tgt) are attached through ncAttachVolume
//! as network disks: the guest reports the disk and the bytes on it, and its removal on
//! ncDetachVolume. The node's samples of the guest's counters (ncDescribeSensors) show its
//! CPU time moving and its disks read. Where QEMU, libvirt's QEMU driver or an exporter is missing, the test says
//! `skipped:` and why.

#![allow(clippy::unwrap_used)]

mod common;
mod node_support;

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::guest::on_path;
use node_support::*;
use wire::nc::{
    NcAttachVolumeType, NcDetachVolumeType, NcGetConsoleOutputType, NcTerminateInstanceType,
};
use wire::nc_sensors::{NcDescribeSensorsType, SensorsResourceType};
use xmlbind::{Base64Binary, XmlText};

async fn console(client: &NcClient, id: &str) -> String {
    let reply = client
        .nc_get_console_output(&NcGetConsoleOutputType {
            instance_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    String::from_utf8_lossy(&Base64Binary::from_text(&reply.console_output).unwrap().0).into_owned()
}

/// How long the guest may take to notice a disk come or go.
const HOTPLUG: Duration = Duration::from_secs(60);
/// The size of the test volumes: 64 MiB, in 512-byte sectors as /sys/block reports it.
const VOLUME_SECTORS: u64 = 64 * 2048;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sparse 64 MiB volume file starting with `marker`.
fn volume_file(path: &Path, marker: &str) {
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(marker.as_bytes()).unwrap();
    file.set_len(VOLUME_SECTORS * 512).unwrap();
}

/// An exporter process, killed when dropped (tgtd ignores SIGTERM while it has targets).
struct Exporter {
    pid: i32,
    child: Option<Child>,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        if let Some(child) = &mut self.child {
            let _ = child.wait();
        }
    }
}

/// `qemu-nbd` serving `file` as export `name` on a loopback port; the volume's remoteDev.
fn export_nbd(file: &Path, name: &str) -> (Exporter, String) {
    let port = free_port();
    let pid_file = file.with_extension("pid");
    let status = Command::new("qemu-nbd")
        .args(["--fork", "--persistent", "--bind", "127.0.0.1", "-f", "raw"])
        .args(["--port", &port.to_string(), "--export-name", name])
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(file)
        .status()
        .unwrap();
    assert!(status.success(), "qemu-nbd failed");
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (
        Exporter { pid, child: None },
        format!("nbd://127.0.0.1:{port}/{name}"),
    )
}

/// `tgtd` on a loopback portal serving `file` as LUN 1 of target `iqn`; the volume's
/// remoteDev. `Err` says why iSCSI cannot be tried here.
fn export_iscsi(file: &Path, iqn: &str) -> Result<(Exporter, String), String> {
    if !on_path("tgtd") || !on_path("tgtadm") {
        return Err("tgt is not installed (scripts/setup.sh installs it)".into());
    }
    if !Path::new("/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so").exists() {
        return Err("QEMU's iSCSI driver is missing (apt qemu-block-extra)".into());
    }
    let port = free_port();
    // A management port of its own, so as not to meet another tgtd.
    let control = (port % 1000 + 7000).to_string();
    let child = Command::new("tgtd")
        .args(["--foreground", "--control-port", &control])
        .args(["--iscsi", &format!("portal=127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("tgtd does not start: {e}"))?;
    let exporter = Exporter {
        pid: i32::try_from(child.id()).unwrap(),
        child: Some(child),
    };
    let tgtadm = |args: &[&str]| {
        Command::new("tgtadm")
            .args(["--control-port", &control, "--lld", "iscsi"])
            .args(args)
            .output()
            .map_err(|e| e.to_string())
            .and_then(|o| {
                if o.status.success() {
                    Ok(())
                } else {
                    Err(String::from_utf8_lossy(&o.stderr).into_owned())
                }
            })
    };
    let started = Instant::now();
    // tgtd opens its management socket shortly after it starts.
    while let Err(e) = tgtadm(&["--op", "new", "--mode", "target", "--tid", "1", "-T", iqn]) {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("tgtadm cannot reach tgtd: {e}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let file = file.to_str().unwrap();
    tgtadm(&[
        "--op",
        "new",
        "--mode",
        "logicalunit",
        "--tid",
        "1",
        "--lun",
        "1",
        "-b",
        file,
    ])?;
    tgtadm(&[
        "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL",
    ])?;
    Ok((exporter, format!("iscsi://127.0.0.1:{port}/{iqn}/1")))
}

/// The node's sensors of `id` once they hold `count` samples.
async fn wait_for_samples(
    sensors: &NcSensorsClient,
    id: &str,
    count: usize,
) -> SensorsResourceType {
    let ask = NcDescribeSensorsType {
        instance_ids: vec![id.to_owned()],
        ..NcDescribeSensorsType::default()
    };
    let started = Instant::now();
    loop {
        let mut reply = sensors.nc_describe_sensors(&ask).await.unwrap();
        if let Some(resource) = reply.sensors_resources.pop() {
            let cpu = &resource.metrics[0].counters[0].dimensions;
            if cpu.first().is_some_and(|d| d.values.len() >= count) {
                return resource;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no samples");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until the console has a line after `from` that `wanted` accepts; the console.
async fn wait_console(
    client: &NcClient,
    nc: &Nc,
    id: &str,
    from: usize,
    wanted: impl Fn(&str) -> bool,
    what: &str,
) -> String {
    let started = Instant::now();
    loop {
        let text = console(client, id).await;
        if text.get(from..).is_some_and(|new| new.lines().any(&wanted)) {
            return text;
        }
        assert!(
            started.elapsed() < HOTPLUG,
            "{what} not seen after {:?}; console:\n{text}\nnode log:\n{}",
            started.elapsed(),
            nc.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Attaches `remote` as `volume`, sees the guest find a disk holding `marker`, detaches it
/// and sees the disk go.
async fn plug_and_unplug(
    client: &NcClient,
    nc: &Nc,
    id: &str,
    volume: &str,
    remote: &str,
    marker: &str,
) {
    let before = console(client, id).await.len();
    client
        .nc_attach_volume(&NcAttachVolumeType {
            instance_id: Some(id.into()),
            volume_id: Some(volume.into()),
            remote_dev: Some(remote.into()),
            local_dev: Some("/dev/vde".into()),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("attaching {remote}: {e}\n{}", nc.log()));
    let text = wait_console(
        client,
        nc,
        id,
        before,
        |l| l.starts_with("EUCA-DISK-DATA ") && l.contains(marker),
        &format!("{remote}'s data"),
    )
    .await;
    let added = text[before..]
        .lines()
        .find(|l| l.starts_with("EUCA-DISK-ADDED "))
        .unwrap();
    let mut fields = added.split_whitespace().skip(1);
    let disk = fields.next().unwrap().to_owned();
    assert_eq!(
        fields.next(),
        Some(VOLUME_SECTORS.to_string().as_str()),
        "{added}"
    );
    println!("{volume} ({remote}) seen by the guest as {disk}");

    let before = text.len();
    client
        .nc_detach_volume(&NcDetachVolumeType {
            instance_id: Some(id.into()),
            volume_id: Some(volume.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let gone = format!("EUCA-DISK-REMOVED {disk}");
    wait_console(client, nc, id, before, |l| l == gone, &gone).await;
    assert!(describe(client, id).await.unwrap().volumes.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_guest_boots_and_its_console_comes_back() {
    let Some((kernel, initramfs)) = common::guest::image_or_skip() else {
        return;
    };

    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    // libvirt's QEMU driver inside the node's own process, rooted here: no daemon needed.
    let libvirt_root = data.path().join("libvirt");
    std::fs::create_dir_all(libvirt_root.join("etc")).unwrap();
    // QEMU writes its logs and the serial console itself (no virtlogd daemon), and, as
    // root, runs as root rather than as a "qemu" user that may not exist (which would also
    // make libvirt probe QEMU again on every start).
    let mut qemu_conf = String::from("stdio_handler = \"file\"\n");
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        qemu_conf.push_str("user = \"root\"\ngroup = \"root\"\n");
    }
    std::fs::write(libvirt_root.join("etc/qemu.conf"), qemu_conf).unwrap();
    let images = ImageServer::start();
    images.add("/kernel", Served::File(std::fs::read(kernel).unwrap()));
    images.add("/ramdisk", Served::File(std::fs::read(initramfs).unwrap()));
    // The initramfs never mounts a root file system; the disk is there as every instance's is.
    images.add("/image", Served::File(vec![0u8; 1 << 20]));

    let mut setup = NcSetup::test_driver(&keys, data.path())
        .set("HYPERVISOR", "kvm")
        .set("LIBVIRT_DOMAIN_TYPE", "qemu")
        .set("TEARDOWN_STATE_DURATION", "600")
        .set("SAMPLE_INTERVAL", "1");
    setup.flags = vec![format!(
        "--libvirt-uri=qemu:///embed?root={}",
        libvirt_root.display()
    )];
    let mut nc = match setup.try_start() {
        Ok(nc) => nc,
        Err(log) if log.contains("cannot connect to the hypervisor") => {
            let reason = log
                .lines()
                .find(|l| l.contains("cannot connect"))
                .unwrap_or_default();
            println!("skipped: libvirt's QEMU driver is not usable here: {reason}");
            return;
        }
        Err(log) => panic!("euca node did not start:\n{log}"),
    };
    let client = nc.client(&keys);

    let id = "i-9e570001";
    let started = Instant::now();
    client
        .nc_run_instance(&launch(&images, id, 256, 1, 1))
        .await
        .unwrap();

    let mut text = String::new();
    while !text.contains("EUCA-GUEST-READY") {
        let state = describe(&client, id).await.map(|i| i.state_name);
        assert_ne!(
            state.as_deref(),
            Some("Teardown"),
            "the launch failed:\n{}",
            nc.log()
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no boot marker after {:?}; console:\n{text}\nnode log:\n{}",
            started.elapsed(),
            nc.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        text = console(&client, id).await;
    }
    println!("guest ready after {:?}", started.elapsed());
    assert!(text.contains("EUCA-GUEST-BOOTED 6."), "{text}");
    // The guest read the keypair's key from its config disk.
    assert!(
        text.contains("EUCA-KEY: ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0test admin@cloud"),
        "{text}"
    );

    // libvirt's counters of the running guest, sampled every second.
    let sensors = nc.sensors_client(&keys);
    let samples = wait_for_samples(&sensors, id, 3).await;
    let series = |metric: &str| -> Vec<(String, Vec<f64>)> {
        let metric = samples
            .metrics
            .iter()
            .find(|m| m.metric_name == metric)
            .unwrap();
        metric.counters[0]
            .dimensions
            .iter()
            .map(|d| {
                (
                    d.dimension_name.clone(),
                    d.values.iter().filter_map(|v| v.value).collect(),
                )
            })
            .collect()
    };
    let cpu = &series("CPUUtilization")[0].1;
    assert!(cpu.windows(2).all(|w| w[0] < w[1]), "CPU time: {cpu:?}");
    let read = series("DiskReadBytes");
    let disks: Vec<&str> = read.iter().map(|(name, _)| name.as_str()).collect();
    assert!(disks.contains(&"vda"), "{disks:?}");
    // The guest read the keypair's key from its config disk.
    assert!(
        read.iter().any(|(_, bytes)| bytes.last() > Some(&0.0)),
        "{read:?}"
    );
    let last_read: Vec<(&str, f64)> = read
        .iter()
        .map(|(disk, bytes)| (disk.as_str(), bytes.last().copied().unwrap_or(0.0)))
        .collect();
    println!(
        "guest CPU time over {} samples: {:.2} s to {:.2} s; bytes read per disk: {last_read:?}",
        cpu.len(),
        cpu[0] / 1e9,
        cpu[cpu.len() - 1] / 1e9
    );

    // Volumes, as the storage controller exports them.
    let nbd_file = data.path().join("vol-nbd.img");
    volume_file(&nbd_file, "EUCA-VOLUME-NBD-1");
    let (_nbd, remote) = export_nbd(&nbd_file, "vol-00000001");
    plug_and_unplug(
        &client,
        &nc,
        id,
        "vol-00000001",
        &remote,
        "EUCA-VOLUME-NBD-1",
    )
    .await;
    let iscsi_file = data.path().join("vol-iscsi.img");
    volume_file(&iscsi_file, "EUCA-VOLUME-ISCSI-2");
    match export_iscsi(&iscsi_file, "iqn.2009-01.edu.ucsb.eucalyptus:vol-00000002") {
        Ok((_target, remote)) => {
            plug_and_unplug(
                &client,
                &nc,
                id,
                "vol-00000002",
                &remote,
                "EUCA-VOLUME-ISCSI-2",
            )
            .await;
        }
        Err(reason) => println!("skipped: iSCSI volume: {reason}"),
    }

    let reply = client
        .nc_terminate_instance(&NcTerminateInstanceType {
            instance_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(reply.shutdown_state.as_deref(), Some("15"));
    assert!(nc.log().contains("domain destroyed"), "{}", nc.log());
    assert!(nc.terminate().success(), "{}", nc.log());
}

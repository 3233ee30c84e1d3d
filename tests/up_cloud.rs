//! `euca up` brings the whole cloud up on free ports in a folder of its own: the ready line,
//! the admin's eucarc working with boto3 through the front door (EC2, and S3 passed on to
//! Walrus), the admin console, a signed SC call through the same door, `euca status`, and a
//! SIGTERM that stops every component; and the preflight refusals that leave nothing started.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod common;
mod up_support;

use std::net::TcpListener;

use cloud_support::python;
use common::zeep_driver::Zeep;
use up_support::{alive, free_base, up_command, Up};

#[test]
fn up_serves_the_cloud_through_its_front_door_and_stops_every_component() {
    let home = tempfile::tempdir().unwrap();
    let mut cloud = Up::start(home.path());
    let pids = cloud.pids();
    assert_eq!(pids.len(), 5, "{pids:?}");
    assert!(
        pids.iter().all(|(_, pid)| pid.is_some_and(alive)),
        "{pids:?}"
    );
    for name in ["cloud", "walrus", "storage", "cluster", "node"] {
        assert!(
            home.path()
                .join("logs")
                .join(format!("{name}.log"))
                .is_file(),
            "no log of {name}"
        );
    }

    python("up_clients.py", &["front", &cloud.admin_dir()]);

    // The admin console on the base port + 5, its certificate issued by the cloud's.
    let keys = home.path().join("keys");
    python(
        "console_security.py",
        &[
            "--signin",
            &format!("https://127.0.0.1:{}/", cloud.port_base + 5),
            &cloud_support::cloud_cert(&keys),
            &cloud_support::console_password(home.path()),
        ],
    );

    // The SC behind the front door: a request signed with the cloud's key verifies there.
    let wsdl = common::workspace_root().join("wsdl/storage_controller.wsdl");
    let storage = format!("http://127.0.0.1:{}/services/Storage", cloud.port_base);
    let mut zeep = Zeep::spawn(
        "storage_zeep.py",
        &[wsdl.as_os_str(), storage.as_ref(), keys.as_os_str()],
    );
    let created = zeep.call(
        "CreateStorageVolume",
        r#"{"VolumeId": "vol-front", "Size": "1"}"#,
    );
    assert_eq!(created.get("Status"), Some("available"), "{created:?}");
    let described = zeep.call("GetStorageVolume", r#"{"VolumeId": "vol-front"}"#);
    assert!(described.fault().is_none(), "{described:?}");
    assert!(
        described.0.values().any(|v| v == "vol-front"),
        "{described:?}"
    );

    let (code, text) = cloud.status();
    println!("{text}");
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(text.matches(" up (").count(), 7, "{text}");

    // A second cloud from the same folder is refused while this one runs.
    let second = up_command(home.path(), free_base()).output().unwrap();
    let refusal = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(refusal.contains("already running"), "{refusal}");

    let status = cloud.up.terminate();
    assert!(status.success(), "{status:?}\n{}", cloud.up.log());
    let left: Vec<_> = pids
        .iter()
        .filter(|(_, pid)| pid.is_some_and(alive))
        .collect();
    assert!(
        left.is_empty(),
        "still running after euca up stopped: {left:?}"
    );
    assert!(!home.path().join("up.json").exists());
    let (code, text) = cloud.status();
    assert_eq!(code, Some(3), "{text}");
}

#[test]
fn a_port_in_use_or_an_unwritable_home_is_refused_before_anything_starts() {
    let home = tempfile::tempdir().unwrap();
    let base = free_base();
    let held = TcpListener::bind(("127.0.0.1", base + 2)).unwrap();
    let out = up_command(home.path(), base).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{}", base + 2)), "{text}");
    assert!(
        text.contains("fix:") && text.contains("--port-base"),
        "{text}"
    );
    assert!(!home.path().join("logs").exists(), "something started");
    assert!(
        !home.path().join("keys").exists(),
        "keys made before the refusal"
    );
    drop(held);

    let file = tempfile::NamedTempFile::new().unwrap();
    let out = up_command(&file.path().join("cloud"), free_base())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("cannot write") && text.contains("fix:"),
        "{text}"
    );
}

/// Regression: a SIGTERM while a first run still adds the default image ended `euca up`
/// with a panic (the finished signal future polled again) instead of a clean stop.
#[test]
fn a_sigterm_as_soon_as_the_cloud_is_ready_stops_it_cleanly() {
    let home = tempfile::tempdir().unwrap();
    let mut cloud = Up::start(home.path());
    let pids = cloud.pids();
    let status = cloud.up.terminate();
    assert!(status.success(), "{status:?}\n{}", cloud.up.log());
    assert!(
        pids.iter().all(|(_, pid)| !pid.is_some_and(alive)),
        "{pids:?}"
    );
}

/// The front door alone (`euca cloud --forward`), its upstreams not listening: each request
/// is answered 503 in its client's terms, and the CLC itself still answers.
#[test]
fn a_front_door_whose_upstream_is_down_answers_503_in_the_clients_terms() {
    let keys = common::launcher::Keys::new();
    let data = tempfile::tempdir().unwrap();
    // A port just freed: nothing listens there.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let walrus = format!("/services/Walrus=http://{closed}");
    let storage = format!("/services/Storage=http://{closed}");
    let cloud = cloud_support::start_cloud(
        keys.path(),
        data.path(),
        &["--forward", &walrus, "--forward", &storage],
    );
    let front_door = format!("http://{}", cloud.authority());
    python("up_clients.py", &["down", &front_door]);
    let admin = data.path().join("credentials/admin");
    python("up_clients.py", &["regions", &admin.to_string_lossy()]);
}

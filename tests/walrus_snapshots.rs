//! The storage controller's snapshot operations on the real `euca walrus`: StoreSnapshot,
//! GetWalrusSnapshot and DeleteWalrusSnapshot over HTTP with `EucaSignature` by the cloud's
//! key, through our client (`walrus::snapshots::client`) and through an independent one
//! (`tests/py/walrus_snapshots.py`, requests + cryptography, sending chunked as the original).

#![allow(clippy::unwrap_used)]

mod common;
mod walrus_support;

use std::io::Write;
use std::path::Path;

use common::launcher::Keys;
use openssl::pkey::PKey;
use walrus::snapshots::client::{SnapshotClient, SnapshotClientError};
use walrus_support::{files_under, Walrus};

fn random_file(path: &Path, len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    openssl::rand::rand_bytes(&mut data).unwrap();
    std::fs::File::create(path)
        .unwrap()
        .write_all(&data)
        .unwrap();
    data
}

fn client(walrus: &Walrus, key_file: &Path) -> SnapshotClient {
    let key = PKey::private_key_from_pem(&std::fs::read(key_file).unwrap()).unwrap();
    SnapshotClient::new(walrus.url(), key).unwrap()
}

/// Runs the independent client; its JSON answer.
fn python(walrus: &Walrus, key: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "--url".to_owned(),
        walrus.url().to_owned(),
        "--key".to_owned(),
        key.display().to_string(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let out = walrus.run_script("walrus_snapshots.py", &all);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn refused_with(
    result: Result<impl std::fmt::Debug, SnapshotClientError>,
    status: u16,
    code: &str,
) {
    match result {
        Err(SnapshotClientError::Refused {
            status: s,
            document,
        }) => {
            assert_eq!(s.as_u16(), status, "{document}");
            assert!(
                document.contains(&format!("<Code>{code}</Code>")),
                "{document}"
            );
        }
        other => panic!("expected {status} {code}, got {other:?}"),
    }
}

#[test]
fn snapshots_are_stored_fetched_and_deleted_by_the_cloud_only() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let strangers = Keys::new();
    let data = dir.path().join("data");
    let keys_arg = keys.path().display().to_string();
    let mut walrus = Walrus::start(&data, &["--keys", &keys_arg]);
    let cloud_key = keys.file("cloud-pk.pem");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sc = client(&walrus, &cloud_key);

    // 3 MiB and a bit: several chunks each way.
    let original = dir.path().join("vol.img");
    let bytes = random_file(&original, 3 * 1024 * 1024 + 17);
    runtime
        .block_on(sc.store("snapset-1", "snap-00000001", &original))
        .unwrap();
    // The bytes live under DATA, in a file of their size.
    assert!(files_under(&data)
        .iter()
        .any(|f| std::fs::metadata(f).unwrap().len() == bytes.len() as u64));

    // Fetched by our client (from any bucket name: the id finds it) and by the original's shape.
    let back = dir.path().join("back.img");
    let size = runtime
        .block_on(sc.fetch("snapset", "snap-00000001", &back))
        .unwrap();
    assert_eq!(size, bytes.len() as u64);
    assert_eq!(std::fs::read(&back).unwrap(), bytes);
    let py_back = dir.path().join("py-back.img");
    let answer = python(
        &walrus,
        &cloud_key,
        &[
            "--op",
            "GetWalrusSnapshot",
            "--bucket",
            "snapset-1",
            "--id",
            "snap-00000001",
            "--out",
            &py_back.display().to_string(),
        ],
    );
    assert!(answer.contains("\"status\": 200"), "{answer}");
    assert_eq!(std::fs::read(&py_back).unwrap(), bytes);

    // The same id again is EntityAlreadyExists; the first stays whole.
    refused_with(
        runtime.block_on(sc.store("snapset-1", "snap-00000001", &original)),
        409,
        "EntityAlreadyExists",
    );

    // Stored chunked by the independent client, with the size the original sent.
    let second = dir.path().join("second.img");
    let second_bytes = random_file(&second, 700_001);
    let answer = python(
        &walrus,
        &cloud_key,
        &[
            "--op",
            "StoreSnapshot",
            "--bucket",
            "snapset-2",
            "--id",
            "snap-00000002",
            "--file",
            &second.display().to_string(),
        ],
    );
    assert!(answer.contains("\"status\": 200"), "{answer}");

    // Refusals: no size, a size the body does not fill or overflows, no signature, a missing
    // snapshot.
    let store = format!(
        "--op StoreSnapshot --id snap-00000003 --file {}",
        second.display()
    );
    for (args, code) in [
        (format!("{store} --no-size"), "InvalidArgument"),
        (format!("{store} --size 800000"), "IncompleteBody"),
        (format!("{store} --size 100"), "EntityTooLarge"),
        // More than the 50 GB of snapshots Walrus keeps by default: refused before a byte.
        (format!("{store} --size 60000000000"), "EntityTooLarge"),
        (
            "--op GetWalrusSnapshot --id snap-00000001 --unsigned".into(),
            "AccessDenied",
        ),
        (
            "--op GetWalrusSnapshot --id snap-0000000f".into(),
            "NoSuchSnapshot",
        ),
    ] {
        let mut all = vec!["--bucket", "snapset-3"];
        all.extend(args.split_whitespace());
        let answer = python(&walrus, &cloud_key, &all);
        assert!(
            answer.contains(&format!("\"code\": \"{code}\"")),
            "{all:?}: {answer}"
        );
    }
    let stranger = client(&walrus, &strangers.file("cloud-pk.pem"));
    refused_with(
        runtime.block_on(stranger.fetch("snapset-1", "snap-00000001", &back)),
        403,
        "AccessDenied",
    );
    refused_with(
        runtime.block_on(stranger.delete("snapset-1", "snap-00000001")),
        403,
        "AccessDenied",
    );
    // A refused store left nothing behind.
    refused_with(
        runtime.block_on(sc.fetch("snapset-3", "snap-00000003", &back)),
        404,
        "NoSuchSnapshot",
    );

    // Kept across a restart.
    walrus.terminate();
    walrus = Walrus::start(&data, &["--keys", &keys_arg]);
    let sc = client(&walrus, &cloud_key);
    runtime
        .block_on(sc.fetch("snapset", "snap-00000002", &back))
        .unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), second_bytes);

    // Deleted: gone, and deleting again says so; the other stays.
    runtime
        .block_on(sc.delete("snapset", "snap-00000001"))
        .unwrap();
    refused_with(
        runtime.block_on(sc.fetch("snapset-1", "snap-00000001", &back)),
        404,
        "NoSuchSnapshot",
    );
    let answer = python(
        &walrus,
        &cloud_key,
        &[
            "--op",
            "DeleteWalrusSnapshot",
            "--bucket",
            "snapset",
            "--id",
            "snap-00000001",
        ],
    );
    assert!(answer.contains("\"code\": \"NoSuchSnapshot\""), "{answer}");
    assert!(!files_under(&data)
        .iter()
        .any(|f| std::fs::metadata(f).unwrap().len() == bytes.len() as u64));
    runtime
        .block_on(sc.fetch("snapset", "snap-00000002", &back))
        .unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), second_bytes);
    walrus.terminate();
}

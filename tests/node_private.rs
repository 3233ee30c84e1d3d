//! Issue 17, finding 3, for the node controller: a KEYS folder open to group or others is
//! closed at start with a warning naming it, and the files the node keeps its records and its
//! replay journal in are its owner's only, whatever umask it inherited.

#![allow(clippy::unwrap_used)]

mod common;
mod node_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use node_support::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Guards against the node's keys, records and replay journal readable by any local user.
#[test]
fn an_open_keys_folder_is_closed_and_records_and_journal_are_private() {
    let keys = Keys::new();
    std::fs::set_permissions(keys.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = tempfile::tempdir().unwrap();
    let setup = NcSetup {
        umask: Some("022"),
        ..NcSetup::test_driver(&keys, data.path())
    };
    let nc = setup.start();

    let log = nc.log();
    assert!(
        log.contains("folder open to group or others")
            && log.contains(&format!("folder={}", keys.path().display())),
        "no warning naming {}:\n{log}",
        keys.path().display()
    );
    assert_eq!(mode(keys.path()), 0o700);
    for file in ["instances.sqlite", "replay.journal"] {
        assert_eq!(mode(&data.path().join(file)), 0o600, "{file}");
    }
}

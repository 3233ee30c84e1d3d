//! euca2ools against a cloud `euca up` starts: `scripts/euca2ools-check.sh` replays what
//! euca2ools 1.0 and 3.4.1 sent for describe-availability-zones, describe-images,
//! run-instances, describe-instances and terminate-instances (the recorded requests,
//! re-signed with a user's keys) and prints the answers as euca2ools prints them.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

#[test]
fn euca2ools_recorded_commands_work_against_euca_up() {
    if common::reference_dir().is_none() {
        println!("skipped: ../shared/reference is absent (the recorded euca2ools requests)");
        return;
    }
    let root = common::workspace_root();
    let mut check = Command::new("sh");
    check
        .arg(root.join("scripts/euca2ools-check.sh"))
        .env("EUCA", env!("CARGO_BIN_EXE_euca"))
        .env("EUCA_PYTHON", common::python())
        .env_remove("EUCA2OOLS_SRC");
    let stdout = common::succeeds(check, "scripts/euca2ools-check.sh");
    for version in ["euca2ools 1.0", "euca2ools 3.4.1"] {
        for command in [
            "euca-describe-availability-zones",
            "euca-describe-images",
            "euca-run-instances",
            "euca-describe-instances",
            "euca-terminate-instances",
        ] {
            assert!(
                stdout
                    .lines()
                    .any(|l| l.starts_with(&format!("$ {command}  # {version}:"))),
                "{version} {command} not run:\n{stdout}"
            );
        }
        assert!(
            stdout.contains(&format!("ok: {version}'s five commands")),
            "{stdout}"
        );
    }
    // The instances the recorded run-instances started ran, and were described running.
    let running = stdout
        .lines()
        .filter(|l| l.starts_with("INSTANCE\t") && l.split('\t').nth(5) == Some("running"));
    assert!(running.count() >= 4, "{stdout}");
}

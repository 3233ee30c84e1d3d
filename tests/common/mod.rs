//! Helpers shared by the integration tests: where the workspace, the reference data and the
//! Python interpreter are.

// Each test crate compiles this module and uses only some of its functions.
#![allow(dead_code)]

pub mod guest;
pub mod launcher;
pub mod policy;
pub mod rust_sources;
pub mod wsdl_facts;
pub mod zeep_driver;

use std::path::{Path, PathBuf};

/// The workspace root (the root package's manifest directory).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `<workspace>/../shared/reference`, the original system's interface files, when present.
/// Tests that need it print a line starting `skipped:` and pass when it is absent.
pub fn reference_dir() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/reference");
    dir.is_dir().then_some(dir)
}

/// The Python interpreter with the test clients installed: `$EUCA_PYTHON`, else
/// `<workspace>/.venv/bin/python`. Panics (the test fails) when neither exists.
pub fn python() -> PathBuf {
    let path = std::env::var_os("EUCA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "Python test clients not found at {}: run scripts/setup.sh",
        path.display()
    );
    path
}

/// Runs `command`, which must succeed (`what` names it in the failure); prints and returns
/// its standard output.
pub fn succeeds(mut command: std::process::Command, what: &str) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{what} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout.into_owned()
}

//! Temporary crates that compile generated code, for tests that must prove it builds.
//!
//! Each crate depends on the workspace's `xmlbind` and `soap` by path (and on `codegen` when
//! it has a build script), uses the workspace's lock file and `--offline`, and shares one
//! target directory under Cargo's test scratch space, so only the first build is slow.

// Each test crate uses only some of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `<workspace>/../shared/reference`, when present. Tests that need it print a line
/// starting `skipped:` and pass without it.
pub fn reference_dir() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/reference");
    dir.is_dir().then_some(dir)
}

/// A library crate in a temporary directory.
pub struct TempCrate {
    dir: tempfile::TempDir,
}

impl TempCrate {
    /// A crate named `name`; with `build_dependency_on_codegen` its build script may call
    /// `codegen`. It has a `sample` feature, on by default, so generated samples compile too.
    pub fn new(name: &str, build_dependency_on_codegen: bool) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(name)
            .tempdir()
            .expect("create a temporary crate directory");
        let root = workspace_root();
        let path_of = |member: &str| root.join(member).display().to_string();
        let mut manifest = format!(
            r#"[package]
name = "{name}"
version = "0.0.0"
edition = "2021"
publish = false

[features]
default = ["sample"]
sample = []

[dependencies]
xmlbind = {{ path = "{xmlbind}" }}
soap = {{ path = "{soap}" }}
"#,
            xmlbind = path_of("services/xmlbind"),
            soap = path_of("services/soap"),
        );
        if build_dependency_on_codegen {
            manifest.push_str(&format!(
                "\n[build-dependencies]\ncodegen = {{ path = \"{}\" }}\n",
                path_of("codegen")
            ));
        }
        // An empty workspace table keeps Cargo from looking for an enclosing workspace.
        manifest.push_str("\n[workspace]\n");
        let krate = Self { dir };
        krate.write("Cargo.toml", &manifest);
        // The workspace's versions, so nothing needs resolving (and nothing new downloading).
        std::fs::copy(root.join("Cargo.lock"), krate.path().join("Cargo.lock"))
            .expect("copy Cargo.lock");
        krate
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file, creating its folder.
    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create a folder in the temporary crate");
        }
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// `cargo check`: `Ok` when the crate compiles, else the compiler's output.
    pub fn check(&self) -> Result<(), String> {
        self.cargo_check("--quiet").map(drop)
    }

    /// `cargo check --verbose`: Cargo's account of what it ran (or found fresh) when the
    /// crate compiles, else the compiler's output.
    pub fn check_verbose(&self) -> Result<String, String> {
        self.cargo_check("--verbose")
    }

    fn cargo_check(&self, verbosity: &str) -> Result<String, String> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated-crates");
        let output = Command::new(cargo)
            .arg("check")
            .arg("--offline")
            .arg(verbosity)
            .arg("--target-dir")
            .arg(&target)
            .current_dir(self.path())
            .output()
            .expect("run cargo");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.success() {
            Ok(stderr)
        } else {
            Err(format!(
                "{}{stderr}",
                String::from_utf8_lossy(&output.stdout)
            ))
        }
    }
}

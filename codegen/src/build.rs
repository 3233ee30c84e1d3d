//! For build scripts, like `tonic-build`: generate into `OUT_DIR` and make Cargo rerun the
//! script when, and only when, an input file changes.

use std::path::{Path, PathBuf};

use crate::{generate, Error, Options};

/// Generates `<OUT_DIR>/<stem>.rs` for each WSDL file (`eucalyptus_nc.wsdl` →
/// `eucalyptus_nc.rs`) and prints `cargo:rerun-if-changed` for it and every schema it
/// includes. Include the result with `include!(concat!(env!("OUT_DIR"), "/<stem>.rs"))`.
pub fn compile(wsdl_files: &[impl AsRef<Path>]) -> Result<(), Error> {
    let inputs: Vec<(&Path, Options)> = wsdl_files
        .iter()
        .map(|wsdl| (wsdl.as_ref(), Options::default()))
        .collect();
    compile_with(&inputs)
}

/// [`compile`] with [`Options`] of each file's own (e.g. a Query binding).
pub fn compile_with(inputs: &[(impl AsRef<Path>, Options)]) -> Result<(), Error> {
    let out_dir = std::env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .ok_or(Error::NotInBuildScript)?;
    compile_to(inputs, &out_dir)
}

/// [`compile_with`] into a given directory.
pub fn compile_to(inputs: &[(impl AsRef<Path>, Options)], out_dir: &Path) -> Result<(), Error> {
    for (wsdl, options) in inputs {
        let wsdl = wsdl.as_ref();
        let generated = generate(wsdl, options)?;
        for input in &generated.inputs {
            println!("cargo:rerun-if-changed={}", input.display());
        }
        let stem = wsdl.file_stem().unwrap_or(wsdl.as_os_str());
        let path = out_dir.join(stem).with_extension("rs");
        std::fs::write(&path, generated.code).map_err(|source| Error::Write { path, source })?;
    }
    Ok(())
}

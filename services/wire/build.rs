//! Generates the wire types and services from the workspace's `wsdl/` folder into `OUT_DIR`
//! (see the `codegen` crate); Cargo reruns it only when one of those files changes.

use std::path::Path;

const WSDL_FILES: [&str; 6] = [
    "eucalyptus_nc.wsdl",
    "eucalyptus_cc.wsdl",
    "eucalyptus_gl.wsdl",
    "s3.wsdl",
    "ec2_2009-04-04.wsdl",
    "ec2_additions.wsdl",
];

fn main() {
    // services/wire → the workspace root.
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wsdl_dir = manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .join("wsdl");
    let files = WSDL_FILES.map(|file| wsdl_dir.join(file));
    if let Err(error) = codegen::build::compile(&files) {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

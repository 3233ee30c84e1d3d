//! Generates the wire types and services from the workspace's `wsdl/` folder into `OUT_DIR`
//! (see the `codegen` crate); Cargo reruns it only when one of those files changes.

use std::path::Path;

/// Each WSDL file, and whether its requests also come over EC2's Query protocol.
const WSDL_FILES: [(&str, bool); 7] = [
    ("eucalyptus_nc.wsdl", false),
    ("eucalyptus_cc.wsdl", false),
    ("eucalyptus_gl.wsdl", false),
    ("s3.wsdl", false),
    ("storage_controller.wsdl", false),
    ("ec2_2009-04-04.wsdl", true),
    ("ec2_additions.wsdl", true),
];

fn main() {
    // services/wire → the workspace root.
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wsdl_dir = manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .join("wsdl");
    let inputs = WSDL_FILES.map(|(file, query)| {
        let options = codegen::Options {
            query: query.then(codegen::QueryBinding::ec2),
            ..codegen::Options::default()
        };
        (wsdl_dir.join(file), options)
    });
    if let Err(error) = codegen::build::compile_with(&inputs) {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

//! Generates the wire types and services from the workspace's `wsdl/` folder into `OUT_DIR`
//! (see the `codegen` crate), each with its requests' catalog (`wire::catalog`); Cargo reruns it only when one of those files changes.

use std::path::Path;

/// The Query binding a WSDL file's requests also come over.
type Binding = fn() -> codegen::QueryBinding;

/// Each WSDL file, and its Query binding, if any.
const WSDL_FILES: [(&str, Option<Binding>); 12] = [
    ("eucalyptus_nc.wsdl", None),
    ("eucalyptus_cc.wsdl", None),
    ("eucalyptus_gl.wsdl", None),
    ("eucalyptus_nc_sensors.wsdl", None),
    ("eucalyptus_cc_sensors.wsdl", None),
    ("eucalyptus_cc_nodes.wsdl", None),
    ("s3.wsdl", None),
    ("storage_controller.wsdl", None),
    ("ec2_2009-04-04.wsdl", Some(codegen::QueryBinding::ec2)),
    ("ec2_additions.wsdl", Some(codegen::QueryBinding::ec2)),
    ("iam.wsdl", Some(codegen::QueryBinding::aws)),
    ("cloudwatch.wsdl", Some(codegen::QueryBinding::aws)),
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
            query: query.map(|binding| binding()),
            catalog: true,
            ..codegen::Options::default()
        };
        (wsdl_dir.join(file), options)
    });
    if let Err(error) = codegen::build::compile_with(&inputs) {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

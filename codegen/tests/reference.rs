//! The generator handles the original Eucalyptus 1.6.1 WSDLs and Amazon's EC2 2009-04-04 and
//! S3 2006-03-01 WSDLs (the latter through `xs:include` of its schema), and what it generates
//! for them compiles without warnings.

mod common;

use common::{reference_dir, TempCrate};

/// Module name, file under the reference folder, and a definition the output must contain.
const SOURCES: [(&str, &str, &str); 5] = [
    (
        "ec2",
        "aws/2009-04-04.ec2.wsdl",
        "pub static AMAZON_EC2_PORT_TYPE_OPERATIONS: [soap::Operation; 43]",
    ),
    ("s3", "aws/AmazonS3.wsdl", "pub enum Grantee {"),
    (
        "nc",
        "eucalyptus-1.6.1/wsdl/eucalyptus_nc.wsdl",
        "pub trait EucalyptusNc: Send + Sync + 'static {",
    ),
    (
        "cc",
        "eucalyptus-1.6.1/wsdl/eucalyptus_cc.wsdl",
        "pub static EUCALYPTUS_CC_OPERATIONS: [soap::Operation; 15]",
    ),
    (
        "gl",
        "eucalyptus-1.6.1/wsdl/eucalyptus_gl.wsdl",
        "pub struct EucalyptusGlServer<T> {",
    ),
];

#[test]
fn code_generated_from_the_reference_wsdls_compiles() {
    let Some(reference) = reference_dir() else {
        println!("skipped: no reference");
        return;
    };
    let krate = TempCrate::new("reference_wsdls", false);
    let mut lib = String::from("#![deny(warnings)]\n");
    for (module, file, expected) in SOURCES {
        let path = reference.join(file);
        let generated = codegen::generate_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            generated.code.contains(expected),
            "{file}: the generated code lacks `{expected}`"
        );
        krate.write(&format!("src/{module}.rs"), &generated.code);
        lib.push_str(&format!(
            "pub mod {module} {{\n    include!(\"{module}.rs\");\n}}\n"
        ));
    }
    krate.write("src/lib.rs", &lib);
    if let Err(errors) = krate.check() {
        panic!("the generated code does not compile:\n{errors}");
    }
}

#[test]
fn an_included_schema_is_an_input() {
    let Some(reference) = reference_dir() else {
        println!("skipped: no reference");
        return;
    };
    let generated = codegen::generate_file(&reference.join("aws/AmazonS3.wsdl"))
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = generated
        .inputs
        .iter()
        .filter_map(|p| p.file_name())
        .collect();
    assert_eq!(names, ["AmazonS3.wsdl", "AmazonS3.xsd"]);
    assert!(generated.inputs.iter().all(|p| p.is_absolute()));
}

//! A field added to a WSDL shows up in the generated type at the next build: a crate whose
//! build script runs `codegen::build::compile` (as `wire`'s does) over a copy of
//! `wsdl/eucalyptus_nc.wsdl` fails to compile code using `extra_probe` until the copy gains
//! that element, then compiles without any other change (the build script reran because the
//! file changed). And only then: the `rerun-if-changed` lines keep the generator from running
//! again when the WSDL is unchanged, even when other files of the crate change.

mod common;

use common::{workspace_root, TempCrate};

const BUILD_RS: &str = r#"fn main() {
    if let Err(error) = codegen::build::compile(&["eucalyptus_nc.wsdl"]) {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
"#;

const LIB_RS: &str = r#"pub mod nc {
    include!(concat!(env!("OUT_DIR"), "/eucalyptus_nc.rs"));
}

pub fn probe() -> nc::VirtualMachineType {
    nc::VirtualMachineType { extra_probe: Some("probe".to_owned()), ..Default::default() }
}
"#;

/// Adds an optional `extraProbe` element at the end of `virtualMachineType`'s sequence.
fn with_extra_probe(wsdl: &str) -> String {
    let start = wsdl
        .find(r#"name="virtualMachineType""#)
        .expect("virtualMachineType in the NC WSDL");
    let end = start
        + wsdl[start..]
            .find("</xs:sequence>")
            .expect("the end of its sequence");
    let element = r#"<xs:element minOccurs="0" name="extraProbe" type="xs:string"/>"#;
    format!("{}{element}\n{}", &wsdl[..end], &wsdl[end..])
}

#[test]
fn a_field_added_to_the_wsdl_appears_in_the_generated_type() {
    let original = std::fs::read_to_string(workspace_root().join("wsdl/eucalyptus_nc.wsdl"))
        .expect("wsdl/eucalyptus_nc.wsdl");
    let krate = TempCrate::new("schema_change", true);
    krate.write("build.rs", BUILD_RS);
    krate.write("src/lib.rs", LIB_RS);
    krate.write("eucalyptus_nc.wsdl", &original);

    let errors = krate
        .check()
        .expect_err("code using extra_probe compiled before the WSDL had it");
    assert!(
        errors.contains("extra_probe"),
        "the build failed for another reason:\n{errors}"
    );

    krate.write("eucalyptus_nc.wsdl", &with_extra_probe(&original));
    let rebuilt = krate.check_verbose().unwrap_or_else(|errors| {
        panic!("the field added to the WSDL did not reach the generated type:\n{errors}")
    });
    assert!(
        runs_build_script(&rebuilt),
        "the changed WSDL did not rerun the build script:\n{rebuilt}"
    );

    // Regression guard: without `rerun-if-changed`, Cargo reruns a build script whenever any
    // file of its package changes, and so regenerates everything on every edit.
    krate.write(
        "src/lib.rs",
        &format!("{LIB_RS}// an edit that is not the WSDL\n"),
    );
    let edited = krate
        .check_verbose()
        .unwrap_or_else(|errors| panic!("{errors}"));
    assert!(
        !runs_build_script(&edited),
        "an unrelated edit reran the generator:\n{edited}"
    );
    let unchanged = krate
        .check_verbose()
        .unwrap_or_else(|errors| panic!("{errors}"));
    assert!(
        unchanged.contains("Fresh schema_change") && !runs_build_script(&unchanged),
        "an unchanged crate was rebuilt:\n{unchanged}"
    );
}

/// Whether `cargo --verbose` output shows the crate's build script running.
fn runs_build_script(cargo_output: &str) -> bool {
    cargo_output
        .lines()
        .any(|line| line.trim_start().starts_with("Running") && line.contains("build-script-build"))
}

//! Our WSDL files must be wire-identical to the Eucalyptus 1.6.1 originals.
//!
//! Both files are reduced to a set of facts that decide what goes over the wire (element and
//! type names, field order, cardinalities, nillability, messages, operations, SOAPActions,
//! service and port names) and the two sets are compared. Comments, layout, prefixes,
//! attribute order and the endpoint address are deliberately left out.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;

use common::wsdl_facts::{differences, extract, operation_count};

/// Our files, with the number of operations CONTRACT.md counts in each.
const FILES: [(&str, usize); 3] = [
    ("eucalyptus_nc.wsdl", 10),
    ("eucalyptus_cc.wsdl", 15),
    ("eucalyptus_gl.wsdl", 2),
];

fn wsdl_dir() -> PathBuf {
    common::workspace_root().join("wsdl")
}

fn ours(file: &str) -> String {
    let path = wsdl_dir().join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn our_wsdls_match_the_originals() {
    let Some(reference) = common::reference_dir() else {
        println!("skipped: no reference");
        return;
    };
    let mut report = String::new();
    for (file, operations) in FILES {
        let original_path = reference.join("eucalyptus-1.6.1/wsdl").join(file);
        let original = std::fs::read_to_string(&original_path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", original_path.display()));
        let original = extract(&original, &reference.join("eucalyptus-1.6.1/wsdl"))
            .unwrap_or_else(|e| panic!("original {file}: {e}"));
        let ours = extract(&ours(file), &wsdl_dir()).unwrap_or_else(|e| panic!("our {file}: {e}"));
        // Guards against an extractor that sees nothing on either side and so "agrees".
        assert_eq!(
            operation_count(&original),
            operations,
            "operations in the original {file}"
        );
        assert!(
            original.keys().any(|k| k.contains(" field ")),
            "no fields found in the original {file}"
        );
        for line in differences(&ours, &original) {
            let _ = writeln!(report, "{file}: {line}");
        }
    }
    assert!(
        report.is_empty(),
        "our WSDLs differ from the originals:\n{report}"
    );
}

#[test]
fn our_wsdls_have_the_contract_operation_counts() {
    for (file, operations) in FILES {
        let facts = extract(&ours(file), &wsdl_dir()).unwrap_or_else(|e| panic!("our {file}: {e}"));
        assert_eq!(
            operation_count(&facts),
            operations,
            "operations in our {file}"
        );
    }
}

/// Regression guard: the comparison must notice each kind of wire change, or the main test
/// could pass while our WSDL drifts from the original.
#[test]
fn the_comparison_detects_wire_changes() {
    let nc = ours("eucalyptus_nc.wsdl");
    let cc = ours("eucalyptus_cc.wsdl");
    let drop_power_down = {
        let start = nc
            .find(r#"<wsdl:operation name="ncPowerDown">"#)
            .expect("ncPowerDown in portType");
        let end = start
            + nc[start..]
                .find("</wsdl:operation>")
                .expect("end of operation");
        format!("{}{}", &nc[..start], &nc[end + "</wsdl:operation>".len()..])
    };
    let cases: [(&str, &str, String, &str); 6] = [
        (
            "dropped operation",
            "nc",
            drop_power_down,
            "portType EucalyptusNC operation ncPowerDown",
        ),
        (
            "changed minOccurs",
            "nc",
            replace_once(
                &nc,
                r#"<xs:element name="kernelId" type="xs:string"/>"#,
                r#"<xs:element name="kernelId" type="xs:string" minOccurs="0"/>"#,
            ),
            "complexType instanceType field",
        ),
        (
            "changed soapAction",
            "cc",
            replace_once(&cc, "EucalyptusCC#RunInstances", "EucalyptusCC#RunInstance"),
            "binding EucalyptusCCSoapBinding operation RunInstances",
        ),
        (
            "renamed field",
            "cc",
            replace_once(&cc, r#"name="publicMacAddress""#, r#"name="publicMac""#),
            "complexType netConfigType field",
        ),
        (
            "changed nillability",
            "nc",
            replace_once(
                &nc,
                r#"type="xs:int" minOccurs="0" nillable="true""#,
                r#"type="xs:int" minOccurs="0""#,
            ),
            "complexType eucalyptusMessage field",
        ),
        (
            "changed field type",
            "cc",
            replace_once(
                &cc,
                r#"name="networkIndex" type="xs:int""#,
                r#"name="networkIndex" type="xs:long""#,
            ),
            "complexType ccInstanceType field",
        ),
    ];
    let baseline_nc = extract(&nc, &wsdl_dir()).expect("our NC WSDL");
    let baseline_cc = extract(&cc, &wsdl_dir()).expect("our CC WSDL");
    for (what, which, mutated, expected_key) in cases {
        let baseline = if which == "nc" {
            &baseline_nc
        } else {
            &baseline_cc
        };
        let found = differences(
            &extract(&mutated, &wsdl_dir()).expect("mutated WSDL parses"),
            baseline,
        );
        assert!(
            found.iter().any(|d| d.contains(expected_key)),
            "{what} not detected (expected a difference at {expected_key:?}); found: {found:#?}"
        );
    }
}

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "mutation target {from:?} not in our WSDL"
    );
    text.replacen(from, to, 1)
}

//! Our `wsdl/s3.wsdl` must be wire-identical to Amazon's S3 2006-03-01 WSDL, which keeps its
//! schema in `AmazonS3.xsd` (ours is inline: the facts compared do not depend on that).

mod common;

use std::fmt::Write as _;

use common::wsdl_facts::{differences, extract, operation_count, Facts};

/// Operations of the S3 SOAP API in 2006-03-01.
const OPERATIONS: usize = 16;

fn ours() -> (String, Facts) {
    let dir = common::workspace_root().join("wsdl");
    let text = std::fs::read_to_string(dir.join("s3.wsdl")).expect("reading wsdl/s3.wsdl");
    let facts = extract(&text, &dir).unwrap_or_else(|e| panic!("our s3.wsdl: {e}"));
    (text, facts)
}

#[test]
fn our_s3_wsdl_matches_amazons() {
    let Some(reference) = common::reference_dir() else {
        println!("skipped: no reference");
        return;
    };
    let dir = reference.join("aws");
    let text = std::fs::read_to_string(dir.join("AmazonS3.wsdl")).expect("reading AmazonS3.wsdl");
    let original = extract(&text, &dir).unwrap_or_else(|e| panic!("AmazonS3.wsdl: {e}"));
    // Guards against an extractor that sees neither the operations nor the included schema.
    assert_eq!(operation_count(&original), OPERATIONS);
    assert!(
        original.contains_key("complexType ListBucketResult field 02"),
        "the included schema was not read"
    );
    let mut report = String::new();
    for line in differences(&ours().1, &original) {
        let _ = writeln!(report, "{line}");
    }
    assert!(
        report.is_empty(),
        "wsdl/s3.wsdl differs from AmazonS3.wsdl:\n{report}"
    );
}

#[test]
fn our_s3_wsdl_has_every_operation_with_an_empty_soap_action() {
    let facts = ours().1;
    assert_eq!(operation_count(&facts), OPERATIONS);
    let actions: Vec<&String> = facts
        .iter()
        .filter(|(k, _)| k.starts_with("binding AmazonS3SoapBinding operation "))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(actions.len(), OPERATIONS);
    assert!(
        actions.iter().all(|v| v.starts_with("soapAction=\"\"")),
        "{actions:#?}"
    );
}

/// Regression guard: the comparison must see changes inside the S3 schema, or the main test
/// could pass while our WSDL drifts.
#[test]
fn the_comparison_detects_s3_wire_changes() {
    let (text, baseline) = ours();
    let dir = common::workspace_root().join("wsdl");
    let cases = [
        (
            r#"<xs:element name="Grant" type="tns:Grant" minOccurs="0" maxOccurs="100"/>"#,
            r#"<xs:element name="Grant" type="tns:Grant" minOccurs="0" maxOccurs="10"/>"#,
            "complexType AccessControlList field",
        ),
        (
            r#"<xs:element name="Data" type="xs:base64Binary" nillable="true"/>"#,
            r#"<xs:element name="Data" type="xs:base64Binary"/>"#,
            "complexType GetObjectResult field",
        ),
        (
            r#"<xs:element name="CreateBucketReturn" type="tns:CreateBucketResult"/>"#,
            r#"<xs:element name="CreateBucketResult" type="tns:CreateBucketResult"/>"#,
            "element CreateBucketResponse anonymous field",
        ),
        (
            r#"<xs:enumeration value="READ_ACP"/>"#,
            r#"<xs:enumeration value="READ_ACL"/>"#,
            "simpleType Permission",
        ),
    ];
    for (from, to, expected_key) in cases {
        assert!(
            text.contains(from),
            "mutation target {from:?} not in s3.wsdl"
        );
        let mutated = extract(&text.replacen(from, to, 1), &dir).expect("mutated WSDL parses");
        let found = differences(&mutated, &baseline);
        assert!(
            found.iter().any(|d| d.contains(expected_key)),
            "{from} → {to} not detected at {expected_key:?}: {found:#?}"
        );
    }
}

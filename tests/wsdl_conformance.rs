//! Our WSDL files must be wire-identical to the Eucalyptus 1.6.1 originals.
//!
//! Both files are reduced to a set of facts that decide what goes over the wire (element and
//! type names, field order, cardinalities, nillability, messages, operations, SOAPActions,
//! service and port names) and the two sets are compared. Comments, layout, prefixes,
//! attribute order and the endpoint address are deliberately left out.
//!
//! The CLC's `ec2_2009-04-04.wsdl` serves only the operations Eucalyptus 1.6.1 implements, so
//! Amazon's 2009-04-04 WSDL is first restricted to those operations and the schema components
//! they reach. `ec2_additions.wsdl` (DescribeAccountAttributes, which current clients call
//! first) has no 2009-04-04 original, nor `iam.wsdl` and `cloudwatch.wsdl` (the Euare
//! service's IAM API and the CloudWatch API, which Eucalyptus 1.6 lacks), nor
//! `eucalyptus_nc_sensors.wsdl` and `eucalyptus_cc_sensors.wsdl` (the monitoring samples,
//! services of their own after Eucalyptus 3's sensors): none is compared.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;

use common::wsdl_facts::{differences, extract, operation_count, restrict_to_operations};

/// Our files, with the number of operations CONTRACT.md counts in each.
const FILES: [(&str, usize); 3] = [
    ("eucalyptus_nc.wsdl", 10),
    ("eucalyptus_cc.wsdl", 15),
    ("eucalyptus_gl.wsdl", 2),
];

/// The EC2 operations of Eucalyptus 1.6.1, as CONTRACT.md lists them.
const EC2_OPERATIONS: [&str; 38] = [
    "RunInstances",
    "DescribeInstances",
    "TerminateInstances",
    "RebootInstances",
    "GetConsoleOutput",
    "RegisterImage",
    "DeregisterImage",
    "DescribeImages",
    "DescribeImageAttribute",
    "ModifyImageAttribute",
    "ResetImageAttribute",
    "ConfirmProductInstance",
    "DescribeBundleTasks",
    "AllocateAddress",
    "ReleaseAddress",
    "AssociateAddress",
    "DisassociateAddress",
    "DescribeAddresses",
    "CreateKeyPair",
    "DeleteKeyPair",
    "DescribeKeyPairs",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "DescribeSecurityGroups",
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupIngress",
    "DescribeAvailabilityZones",
    "DescribeRegions",
    "CreateVolume",
    "DeleteVolume",
    "DescribeVolumes",
    "AttachVolume",
    "DetachVolume",
    "CreateSnapshot",
    "DeleteSnapshot",
    "DescribeSnapshots",
    "DescribeReservedInstances",
    "DescribeReservedInstancesOfferings",
];

const EC2_FILE: &str = "ec2_2009-04-04.wsdl";

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

/// Amazon's 2009-04-04 WSDL restricted to the contract's operations, or `None` (with the
/// `skipped:` line printed) when the reference folder is absent.
fn amazon_ec2_facts() -> Option<common::wsdl_facts::Facts> {
    let Some(reference) = common::reference_dir() else {
        println!("skipped: no reference");
        return None;
    };
    let dir = reference.join("aws");
    let path = dir.join("2009-04-04.ec2.wsdl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let all = extract(&text, &dir).unwrap_or_else(|e| panic!("Amazon's EC2 WSDL: {e}"));
    Some(restrict_to_operations(&all, &EC2_OPERATIONS))
}

#[test]
fn our_ec2_wsdl_matches_amazons_for_the_contract_operations() {
    let Some(original) = amazon_ec2_facts() else {
        return;
    };
    // Guards against a restriction that keeps nothing and so "agrees".
    assert_eq!(operation_count(&original), EC2_OPERATIONS.len());
    assert!(
        original.keys().any(|k| k.starts_with("group ")),
        "the named groups of Amazon's schema were not reached"
    );
    let ours = extract(&ours(EC2_FILE), &wsdl_dir()).expect("our EC2 WSDL");
    let report = differences(&ours, &original);
    assert!(
        report.is_empty(),
        "{EC2_FILE} differs from Amazon's 2009-04-04 WSDL:\n{}",
        report.join("\n")
    );
}

/// Regression guard: the restricted comparison still sees a change in a shared type, in a
/// named group, and an operation Amazon has but the contract does not list.
#[test]
fn the_ec2_comparison_detects_wire_changes() {
    let Some(original) = amazon_ec2_facts() else {
        return;
    };
    let ec2 = ours(EC2_FILE);
    let cases = [
        (
            "changed minOccurs in a shared type",
            replace_once(
                &ec2,
                r#"<xs:element name="groupId" type="xs:string"/>"#,
                r#"<xs:element name="groupId" type="xs:string" minOccurs="0"/>"#,
            ),
            "complexType GroupItemType field",
        ),
        (
            "dropped alternative of a named group",
            replace_once(
                &ec2,
                r#"<xs:element name="ramdisk" type="tns:EmptyElementType"/>"#,
                "",
            ),
            "group DescribeImageAttributesGroup field",
        ),
        (
            "operation outside the contract",
            replace_once(
                &ec2,
                r#"<wsdl:operation name="RunInstances">"#,
                r#"<wsdl:operation name="MonitorInstances"><wsdl:input message="tns:RunInstancesRequestMsg"/><wsdl:output message="tns:RunInstancesResponseMsg"/></wsdl:operation><wsdl:operation name="RunInstances">"#,
            ),
            "portType AmazonEC2PortType operation MonitorInstances",
        ),
    ];
    for (what, mutated, expected_key) in cases {
        let found = differences(
            &extract(&mutated, &wsdl_dir()).expect("mutated WSDL parses"),
            &original,
        );
        assert!(
            found.iter().any(|d| d.contains(expected_key)),
            "{what} not detected (expected a difference at {expected_key:?}); found: {found:#?}"
        );
    }
}

#[test]
fn our_wsdls_have_the_contract_operation_counts() {
    let ec2 = extract(&ours(EC2_FILE), &wsdl_dir()).expect("our EC2 WSDL");
    assert_eq!(
        operation_count(&ec2),
        EC2_OPERATIONS.len(),
        "operations in our {EC2_FILE}"
    );
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

//! Our `storage_controller.wsdl` must put on the wire what the original 1.6.1 storage
//! controller read and wrote: its messages were Java classes bound by JiBX
//! (`bindings/storage-controller-binding.xml`), so each binding `mapping` (an element) with its
//! `value`s (child elements, in order) is compared with our schema's element of that name.
//! DescribeStorageSnapshots, AttachStorageVolume and DetachStorageVolume are our additions,
//! with no original.

mod common;

use std::collections::BTreeMap;

use xmlbind::{Element, Limits};

const XS: &str = "http://www.w3.org/2001/XMLSchema";
const NAMESPACE: &str = "http://storagecontroller.eucalyptus.ucsb.edu";
/// Elements of ours with no original (exports on attach, see the WSDL's comments).
const ADDITIONS: [&str; 6] = [
    "DescribeStorageSnapshots",
    "DescribeStorageSnapshotsResponse",
    "AttachStorageVolume",
    "AttachStorageVolumeResponse",
    "DetachStorageVolume",
    "DetachStorageVolumeResponse",
];

/// Each message element's name, with its child elements' names in order.
type Messages = BTreeMap<String, Vec<String>>;

fn parse(text: &str) -> Element {
    let limits = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    xmlbind::parse(text.as_bytes(), &limits).expect("well-formed XML")
}

fn name(e: &Element) -> &str {
    e.attribute(None, "name").unwrap_or_default()
}

/// The binding's namespace and its named mappings.
fn original(binding: &str) -> (String, Messages) {
    let root = parse(binding);
    let namespace = root
        .child(None, "namespace")
        .and_then(|n| n.attribute(None, "uri"))
        .expect("the binding's namespace")
        .to_owned();
    let messages = root
        .elements()
        .filter(|m| m.name.local == "mapping" && m.attribute(None, "name").is_some())
        .map(|m| {
            let fields = m
                .elements()
                .filter(|v| v.name.local == "value")
                .map(|v| name(v).to_owned())
                .collect();
            (name(m).to_owned(), fields)
        })
        .collect();
    (namespace, messages)
}

/// Our schema's target namespace and its top-level elements with their types' fields.
fn ours(wsdl: &str) -> (String, Messages) {
    let root = parse(wsdl);
    let schema = root
        .elements()
        .find(|e| e.name.local == "types")
        .and_then(|t| t.child(Some(XS), "schema"))
        .expect("an inline schema");
    let namespace = schema
        .attribute(None, "targetNamespace")
        .expect("targetNamespace")
        .to_owned();
    let fields_of = |type_name: &str| -> Vec<String> {
        let local = type_name.rsplit(':').next().unwrap_or(type_name);
        let complex = schema
            .elements()
            .find(|t| t.name.is(Some(XS), "complexType") && name(t) == local)
            .unwrap_or_else(|| panic!("no complexType {local}"));
        complex
            .child(Some(XS), "sequence")
            .map(|s| s.elements().map(|f| name(f).to_owned()).collect())
            .unwrap_or_default()
    };
    let messages = schema
        .elements()
        .filter(|e| e.name.is(Some(XS), "element"))
        .map(|e| {
            let type_name = e.attribute(None, "type").expect("element type");
            (name(e).to_owned(), fields_of(type_name))
        })
        .collect();
    (namespace, messages)
}

/// What differs, one line each; empty when the wire agrees.
fn differences(ours: &(String, Messages), original: &(String, Messages)) -> Vec<String> {
    let mut report = Vec::new();
    if ours.0 != original.0 {
        report.push(format!("namespace {} != {}", ours.0, original.0));
    }
    for (element, fields) in &original.1 {
        match ours.1.get(element) {
            None => report.push(format!("missing element {element}")),
            Some(mine) if mine != fields => {
                report.push(format!("{element}: fields {mine:?} != {fields:?}"))
            }
            Some(_) => {}
        }
    }
    for element in ours.1.keys() {
        if !original.1.contains_key(element) && !ADDITIONS.contains(&element.as_str()) {
            report.push(format!("element {element} has no original"));
        }
    }
    report
}

fn our_wsdl() -> String {
    let path = common::workspace_root().join("wsdl/storage_controller.wsdl");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn binding() -> Option<String> {
    let Some(reference) = common::reference_dir() else {
        println!("skipped: no reference");
        return None;
    };
    let path = reference.join("eucalyptus-1.6.1/bindings/storage-controller-binding.xml");
    Some(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

#[test]
fn our_storage_wsdl_has_the_originals_elements_in_its_namespace() {
    let Some(binding) = binding() else { return };
    let original = original(&binding);
    // Guards against a reader that sees nothing on either side and so "agrees".
    assert_eq!(original.0, NAMESPACE);
    assert_eq!(original.1.len(), 14, "{:?}", original.1.keys());
    assert_eq!(
        original.1["CreateStorageVolume"],
        ["VolumeId", "Size", "SnapshotId"]
    );
    let report = differences(&ours(&our_wsdl()), &original);
    assert!(report.is_empty(), "{report:#?}");
}

/// Regression guard: the comparison notices a renamed, reordered or extra field (each in the
/// first element holding it), another namespace and a renamed element.
#[test]
fn the_comparison_detects_wire_changes() {
    let Some(binding) = binding() else { return };
    let original = original(&binding);
    let wsdl = our_wsdl();
    for (from, to, expected) in [
        (
            r#"name="ActualDeviceName""#,
            r#"name="actualDeviceName""#,
            "GetStorageVolumeResponse: fields",
        ),
        (
            r#"<xs:element name="VolumeId" type="xs:string" minOccurs="0"/>
          <xs:element name="Size""#,
            r#"<xs:element name="Size" type="xs:string" minOccurs="0"/>
          <xs:element name="VolumeId""#,
            "CreateStorageVolume: fields",
        ),
        (
            r#"<xs:element name="SnapshotId" type="xs:string" minOccurs="0"/>
        </xs:sequence>"#,
            r#"<xs:element name="SnapshotId" type="xs:string" minOccurs="0"/><xs:element name="Extra" type="xs:string" minOccurs="0"/>
        </xs:sequence>"#,
            "CreateStorageVolume: fields",
        ),
        (
            r#"<xs:schema targetNamespace="http://storagecontroller.eucalyptus.ucsb.edu""#,
            r#"<xs:schema targetNamespace="http://eucalyptus.ucsb.edu/""#,
            "namespace",
        ),
        (
            r#"<xs:element name="DeleteStorageSnapshot" "#,
            r#"<xs:element name="RemoveStorageSnapshot" "#,
            "missing element DeleteStorageSnapshot",
        ),
    ] {
        assert!(wsdl.contains(from), "{from}");
        let changed = wsdl.replacen(from, to, 1);
        let report = differences(&ours(&changed), &original);
        assert!(
            report.iter().any(|line| line.starts_with(expected)),
            "{expected}: {report:#?}"
        );
    }
}

//! Errors name the file, line, column and construct, for malformed and unsupported input.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use crate::generate_file;

/// A WSDL whose schema holds `schema` (starting on line 5) and whose portType and binding
/// hold `operations`.
fn wsdl(schema: &str, rest: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:t" targetNamespace="urn:t">
  <wsdl:types><xs:schema targetNamespace="urn:t" elementFormDefault="qualified">
{schema}
  </xs:schema></wsdl:types>
{rest}
</wsdl:definitions>
"#
    )
}

/// Generates from `files` (name, text) written into a temporary folder, the first being the
/// WSDL, and returns the error with the folder left out of its paths.
fn error(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let err = generate_file(&dir.path().join(files[0].0)).unwrap_err();
    err.to_string()
        .replace(&format!("{}/", dir.path().display()), "")
}

fn schema_error(schema: &str) -> String {
    error(&[("t.wsdl", &wsdl(schema, ""))])
}

#[test]
fn unsupported_schema_constructs_are_named_with_their_place() {
    let schema = r#"    <xs:complexType name="t">
      <xs:all><xs:element name="a" type="xs:string"/></xs:all>
    </xs:complexType>"#;
    assert_eq!(
        schema_error(schema),
        "t.wsdl:6:7: unsupported XML Schema construct xs:all"
    );

    let any =
        r#"    <xs:complexType name="t"><xs:sequence><xs:any/></xs:sequence></xs:complexType>"#;
    assert_eq!(
        schema_error(any),
        "t.wsdl:5:43: unsupported XML Schema construct xs:any"
    );

    let list = r#"    <xs:simpleType name="l"><xs:list itemType="xs:int"/></xs:simpleType>"#;
    assert_eq!(
        schema_error(list),
        "t.wsdl:5:29: unsupported XML Schema construct xs:list"
    );

    let decimal = r#"    <xs:element name="d" type="xs:decimal"/>"#;
    assert_eq!(
        schema_error(decimal),
        "t.wsdl:5:5: unsupported XML Schema construct type xs:decimal"
    );

    let restriction = r#"    <xs:complexType name="r"><xs:complexContent>
      <xs:restriction base="tns:r"/></xs:complexContent></xs:complexType>"#;
    assert_eq!(
        schema_error(restriction),
        "t.wsdl:6:7: unsupported XML Schema construct xs:complexContent/xs:restriction"
    );
}

#[test]
fn malformed_xml_is_reported_at_its_position() {
    let text = wsdl(
        r#"    <xs:complexType name="t"><xs:sequence></xs:complexType>"#,
        "",
    );
    let message = error(&[("t.wsdl", &text)]);
    assert!(message.starts_with("t.wsdl:5:"), "{message}");
    assert!(message.contains("malformed XML"), "{message}");
}

#[test]
fn undefined_references_are_reported() {
    let schema = r#"    <xs:complexType name="t"><xs:sequence>
      <xs:element name="a" type="tns:missing"/>
    </xs:sequence></xs:complexType>"#;
    assert_eq!(
        schema_error(schema),
        "t.wsdl:6:7: type {urn:t}missing is not defined"
    );
}

#[test]
fn fields_that_collide_in_rust_are_refused() {
    let schema = r#"    <xs:complexType name="t"><xs:sequence>
      <xs:element name="instanceId" type="xs:string"/>
      <xs:element name="instance_id" type="xs:string"/>
    </xs:sequence></xs:complexType>"#;
    assert_eq!(
        schema_error(schema),
        "t.wsdl:7:7: element instance_id and element instanceId (at t.wsdl:6:7) both become the Rust name T::instance_id"
    );
}

#[test]
fn rpc_style_and_unbound_port_types_are_refused() {
    let rpc = r#"  <wsdl:message name="m"><wsdl:part name="p" type="xs:string"/></wsdl:message>"#;
    assert_eq!(
        error(&[("t.wsdl", &wsdl("", rpc))]),
        "t.wsdl:7:26: unsupported WSDL construct wsdl:part without element= (rpc style)"
    );
    let unbound = r#"  <wsdl:portType name="P"/>"#;
    assert_eq!(
        error(&[("t.wsdl", &wsdl("", unbound))]),
        "t.wsdl:7:3: portType P has no SOAP binding"
    );
}

#[test]
fn errors_in_an_included_schema_name_that_file() {
    let text = wsdl(r#"    <xs:include schemaLocation="types.xsd"/>"#, "");
    let xsd = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t">
  <xs:attributeGroup name="g"/>
</xs:schema>
"#;
    assert_eq!(
        error(&[("t.wsdl", &text), ("types.xsd", xsd)]),
        "types.xsd:2:3: unsupported XML Schema construct xs:attributeGroup"
    );
    let remote = wsdl(
        r#"    <xs:include schemaLocation="http://example.com/types.xsd"/>"#,
        "",
    );
    assert!(error(&[("t.wsdl", &remote)]).contains("is remote"));
}

#[test]
fn a_missing_file_is_named() {
    let err = generate_file(Path::new("/nonexistent/x.wsdl")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/x.wsdl: cannot read"),
        "{err}"
    );
}

//! Our WSDL files must be wire-identical to the Eucalyptus 1.6.1 originals.
//!
//! Both files are reduced to a set of facts that decide what goes over the wire (element and
//! type names, field order, cardinalities, nillability, messages, operations, SOAPActions,
//! service and port names) and the two sets are compared. Comments, layout, prefixes,
//! attribute order and the endpoint address are deliberately left out.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use xmlbind::{Element, Limits};

const XS: &str = "http://www.w3.org/2001/XMLSchema";
const WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
const SOAP: &str = "http://schemas.xmlsoap.org/wsdl/soap/";

/// Our files, with the number of operations CONTRACT.md counts in each.
const FILES: [(&str, usize); 3] = [
    ("eucalyptus_nc.wsdl", 10),
    ("eucalyptus_cc.wsdl", 15),
    ("eucalyptus_gl.wsdl", 2),
];

/// Normalized facts: a key naming the item (`complexType ncRunInstanceType field 03`) and a
/// description of everything about it that matters on the wire.
type Facts = BTreeMap<String, String>;

fn local_attr<'a>(e: &'a Element, name: &str) -> Option<&'a str> {
    e.attribute(None, name)
}

fn attr_or<'a>(e: &'a Element, name: &str, default: &'a str) -> &'a str {
    local_attr(e, name).map(str::trim).unwrap_or(default)
}

/// A QName-valued attribute as `{uri}local`, `-` when absent.
fn qname(e: &Element, name: &str) -> Result<String, String> {
    match e.qname_attribute(None, name) {
        Ok(Some((Some(uri), local))) => Ok(format!("{{{uri}}}{local}")),
        Ok(Some((None, local))) => Ok(local),
        Ok(None) => Ok("-".to_owned()),
        Err(err) => Err(format!(
            "{} at line {:?}: {err:?}",
            e.name.local, e.position
        )),
    }
}

fn children<'a>(e: &'a Element, ns: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
    e.elements().filter(move |c| {
        c.name.namespace.as_deref() == Some(ns)
            && !matches!(c.name.local.as_str(), "annotation" | "documentation")
    })
}

/// The parts of a document we do not understand still become facts, so that a construct
/// present on one side only is reported instead of silently ignored.
fn unknown(facts: &mut Facts, path: &str, e: &Element) {
    let name = local_attr(e, "name").unwrap_or("-");
    facts.insert(
        format!("{path} unknown {} {name}", e.name.expanded()),
        String::new(),
    );
}

fn extract(text: &str) -> Result<Facts, String> {
    let root = xmlbind::parse(text.as_bytes(), &Limits::default()).map_err(|e| format!("{e:?}"))?;
    if !root.name.is(Some(WSDL), "definitions") {
        return Err(format!(
            "root is {}, not wsdl:definitions",
            root.name.expanded()
        ));
    }
    let mut facts = Facts::new();
    facts.insert(
        "definitions".into(),
        format!(
            "name={} targetNamespace={}",
            attr_or(&root, "name", "-"),
            attr_or(&root, "targetNamespace", "-")
        ),
    );
    for item in children(&root, WSDL) {
        let name = attr_or(item, "name", "-");
        match item.name.local.as_str() {
            "types" => {
                for schema in item.elements() {
                    if schema.name.is(Some(XS), "schema") {
                        schema_facts(&mut facts, schema)?;
                    } else {
                        unknown(&mut facts, "types", schema);
                    }
                }
            }
            "message" => {
                let mut parts = Vec::new();
                for part in children(item, WSDL) {
                    parts.push(format!(
                        "{} element={} type={}",
                        attr_or(part, "name", "-"),
                        qname(part, "element")?,
                        qname(part, "type")?
                    ));
                }
                facts.insert(format!("message {name}"), parts.join("; "));
            }
            "portType" => {
                for op in children(item, WSDL) {
                    let op_name = attr_or(op, "name", "-");
                    let mut io = Vec::new();
                    for msg in children(op, WSDL) {
                        io.push(format!(
                            "{} {} message={}",
                            msg.name.local,
                            attr_or(msg, "name", "-"),
                            qname(msg, "message")?
                        ));
                    }
                    facts.insert(
                        format!("portType {name} operation {op_name}"),
                        io.join("; "),
                    );
                }
            }
            "binding" => binding_facts(&mut facts, item, name)?,
            "service" => {
                for port in item.elements() {
                    if port.name.is(Some(WSDL), "port") {
                        facts.insert(
                            format!("service {name} port {}", attr_or(port, "name", "-")),
                            format!("binding={}", qname(port, "binding")?),
                        );
                    } else {
                        unknown(&mut facts, &format!("service {name}"), port);
                    }
                }
            }
            _ => unknown(&mut facts, "definitions", item),
        }
    }
    Ok(facts)
}

fn binding_facts(facts: &mut Facts, binding: &Element, name: &str) -> Result<(), String> {
    let path = format!("binding {name}");
    let mut head = format!("type={}", qname(binding, "type")?);
    for child in binding.elements() {
        if child.name.is(Some(SOAP), "binding") {
            let _ = write!(
                head,
                " style={} transport={}",
                attr_or(child, "style", "document"),
                attr_or(child, "transport", "-")
            );
        } else if child.name.is(Some(WSDL), "operation") {
            let op_name = attr_or(child, "name", "-");
            let mut desc = Vec::new();
            for part in child.elements() {
                if part.name.is(Some(SOAP), "operation") {
                    desc.push(format!(
                        "soapAction={:?} style={}",
                        attr_or(part, "soapAction", ""),
                        attr_or(part, "style", "-")
                    ));
                } else if part.name.namespace.as_deref() == Some(WSDL) {
                    let uses: Vec<String> = part
                        .elements()
                        .map(|b| {
                            if b.name.is(Some(SOAP), "body") {
                                format!("body use={}", attr_or(b, "use", "-"))
                            } else {
                                b.name.expanded()
                            }
                        })
                        .collect();
                    desc.push(format!(
                        "{} {} [{}]",
                        part.name.local,
                        attr_or(part, "name", "-"),
                        uses.join(", ")
                    ));
                } else {
                    desc.push(part.name.expanded());
                }
            }
            facts.insert(format!("{path} operation {op_name}"), desc.join("; "));
        } else {
            unknown(facts, &path, child);
        }
    }
    facts.insert(path, head);
    Ok(())
}

fn schema_facts(facts: &mut Facts, schema: &Element) -> Result<(), String> {
    let tns = attr_or(schema, "targetNamespace", "-");
    facts.insert(
        format!("schema {tns}"),
        format!(
            "elementFormDefault={} attributeFormDefault={}",
            attr_or(schema, "elementFormDefault", "unqualified"),
            attr_or(schema, "attributeFormDefault", "unqualified")
        ),
    );
    for item in children(schema, XS) {
        let name = attr_or(item, "name", "-");
        match item.name.local.as_str() {
            "element" => {
                let path = format!("element {name}");
                facts.insert(path.clone(), element_desc(item)?);
                anonymous_type(facts, &path, item)?;
            }
            "complexType" => complex_type(facts, &format!("complexType {name}"), item)?,
            "simpleType" => simple_type(facts, &format!("simpleType {name}"), item)?,
            _ => unknown(facts, "schema", item),
        }
    }
    Ok(())
}

/// Everything about a local or global element declaration that changes the instance.
fn element_desc(e: &Element) -> Result<String, String> {
    let mut desc = format!(
        "name={} ref={} type={} minOccurs={} maxOccurs={} nillable={}",
        attr_or(e, "name", "-"),
        qname(e, "ref")?,
        qname(e, "type")?,
        attr_or(e, "minOccurs", "1"),
        attr_or(e, "maxOccurs", "1"),
        attr_or(e, "nillable", "false"),
    );
    for optional in ["form", "default", "fixed", "abstract", "substitutionGroup"] {
        if let Some(v) = local_attr(e, optional) {
            let _ = write!(desc, " {optional}={v}");
        }
    }
    Ok(desc)
}

fn anonymous_type(facts: &mut Facts, path: &str, e: &Element) -> Result<(), String> {
    for inner in children(e, XS) {
        match inner.name.local.as_str() {
            "complexType" => complex_type(facts, &format!("{path} anonymous"), inner)?,
            "simpleType" => simple_type(facts, &format!("{path} anonymous"), inner)?,
            _ => unknown(facts, path, inner),
        }
    }
    Ok(())
}

fn complex_type(facts: &mut Facts, path: &str, ct: &Element) -> Result<(), String> {
    let mut head = format!(
        "abstract={} mixed={}",
        attr_or(ct, "abstract", "false"),
        attr_or(ct, "mixed", "false")
    );
    let mut counter = 0usize;
    content(facts, path, ct, &mut counter)?;
    for child in children(ct, XS) {
        if matches!(
            child.name.local.as_str(),
            "complexContent" | "simpleContent"
        ) {
            for derivation in children(child, XS) {
                let _ = write!(
                    head,
                    " {} {} base={}",
                    child.name.local,
                    derivation.name.local,
                    qname(derivation, "base")?
                );
                content(facts, path, derivation, &mut counter)?;
            }
        }
    }
    facts.insert(path.to_owned(), head);
    Ok(())
}

/// The particles and attributes of a complex type (or of its extension/restriction): each
/// field becomes one fact numbered in document order, so order changes are reported.
fn content(
    facts: &mut Facts,
    path: &str,
    holder: &Element,
    counter: &mut usize,
) -> Result<(), String> {
    for child in children(holder, XS) {
        match child.name.local.as_str() {
            "sequence" | "choice" | "all" => particles(facts, path, child, counter)?,
            "attribute" => {
                facts.insert(
                    format!("{path} attribute {}", attr_or(child, "name", "-")),
                    format!(
                        "ref={} type={} use={} default={} fixed={}",
                        qname(child, "ref")?,
                        qname(child, "type")?,
                        attr_or(child, "use", "optional"),
                        attr_or(child, "default", "-"),
                        attr_or(child, "fixed", "-")
                    ),
                );
            }
            "anyAttribute" => {
                facts.insert(
                    format!("{path} anyAttribute"),
                    attr_or(child, "namespace", "##any").into(),
                );
            }
            // Handled by `complex_type`, which walks into the derivation.
            "complexContent" | "simpleContent" => {}
            _ => unknown(facts, path, child),
        }
    }
    Ok(())
}

fn particles(
    facts: &mut Facts,
    path: &str,
    group: &Element,
    counter: &mut usize,
) -> Result<(), String> {
    *counter += 1;
    facts.insert(
        format!("{path} field {counter:02}"),
        format!(
            "{} minOccurs={} maxOccurs={}",
            group.name.local,
            attr_or(group, "minOccurs", "1"),
            attr_or(group, "maxOccurs", "1")
        ),
    );
    for child in children(group, XS) {
        match child.name.local.as_str() {
            "element" => {
                *counter += 1;
                let field = format!("{path} field {counter:02}");
                facts.insert(field.clone(), element_desc(child)?);
                anonymous_type(facts, &field, child)?;
            }
            "sequence" | "choice" | "all" => particles(facts, path, child, counter)?,
            "any" => {
                *counter += 1;
                facts.insert(
                    format!("{path} field {counter:02}"),
                    format!(
                        "any namespace={} minOccurs={} maxOccurs={}",
                        attr_or(child, "namespace", "##any"),
                        attr_or(child, "minOccurs", "1"),
                        attr_or(child, "maxOccurs", "1")
                    ),
                );
            }
            _ => unknown(facts, path, child),
        }
    }
    *counter += 1;
    facts.insert(
        format!("{path} field {counter:02}"),
        format!("end {}", group.name.local),
    );
    Ok(())
}

fn simple_type(facts: &mut Facts, path: &str, st: &Element) -> Result<(), String> {
    for child in children(st, XS) {
        match child.name.local.as_str() {
            "restriction" => {
                let facets: Vec<String> = children(child, XS)
                    .map(|f| format!("{}={}", f.name.local, attr_or(f, "value", "-")))
                    .collect();
                facts.insert(
                    path.to_owned(),
                    format!(
                        "restriction base={} [{}]",
                        qname(child, "base")?,
                        facets.join(", ")
                    ),
                );
            }
            "list" => {
                facts.insert(
                    path.to_owned(),
                    format!("list itemType={}", qname(child, "itemType")?),
                );
            }
            "union" => {
                facts.insert(
                    path.to_owned(),
                    format!("union {}", attr_or(child, "memberTypes", "-")),
                );
            }
            _ => unknown(facts, path, child),
        }
    }
    Ok(())
}

/// Every difference between two fact sets, one line each; empty when they agree.
fn differences(ours: &Facts, original: &Facts) -> Vec<String> {
    let keys: BTreeSet<&String> = ours.keys().chain(original.keys()).collect();
    keys.into_iter()
        .filter_map(|key| match (ours.get(key), original.get(key)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(a), Some(b)) => Some(format!(
                "different: {key}\n    ours:     {a}\n    original: {b}"
            )),
            (Some(a), None) => Some(format!("only in ours: {key}: {a}")),
            (None, Some(b)) => Some(format!("missing in ours: {key}: {b}")),
            (None, None) => None,
        })
        .collect()
}

fn operation_count(facts: &Facts) -> usize {
    facts
        .keys()
        .filter(|k| k.starts_with("portType ") && k.contains(" operation "))
        .count()
}

fn ours(file: &str) -> String {
    let path = common::workspace_root().join("wsdl").join(file);
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
        let original = extract(&original).unwrap_or_else(|e| panic!("original {file}: {e}"));
        let ours = extract(&ours(file)).unwrap_or_else(|e| panic!("our {file}: {e}"));
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
        let facts = extract(&ours(file)).unwrap_or_else(|e| panic!("our {file}: {e}"));
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
    let baseline_nc = extract(&nc).expect("our NC WSDL");
    let baseline_cc = extract(&cc).expect("our CC WSDL");
    for (what, which, mutated, expected_key) in cases {
        let baseline = if which == "nc" {
            &baseline_nc
        } else {
            &baseline_cc
        };
        let found = differences(&extract(&mutated).expect("mutated WSDL parses"), baseline);
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

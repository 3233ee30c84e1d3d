//! Reduces a WSDL (with the schemas it includes) to the facts that decide what goes over the
//! wire — element and type names, field order, cardinalities, nillability, messages,
//! operations, SOAPActions, service and port names — so that two WSDLs can be compared by
//! meaning. Comments, layout, prefixes, attribute order, the endpoint address and whether a
//! schema is inline or included are deliberately left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use xmlbind::{Element, Limits};

const XS: &str = "http://www.w3.org/2001/XMLSchema";
const WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
const SOAP: &str = "http://schemas.xmlsoap.org/wsdl/soap/";

/// Normalized facts: a key naming the item (`complexType ncRunInstanceType field 03`) and a
/// description of everything about it that matters on the wire.
pub type Facts = BTreeMap<String, String>;

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

/// The facts of a WSDL document; `dir` is where the schemas it includes are.
pub fn extract(text: &str, dir: &Path) -> Result<Facts, String> {
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
                        schema_facts(&mut facts, schema, dir)?;
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

fn schema_facts(facts: &mut Facts, schema: &Element, dir: &Path) -> Result<(), String> {
    let tns = attr_or(schema, "targetNamespace", "-");
    let forms = format!(
        "elementFormDefault={} attributeFormDefault={}",
        attr_or(schema, "elementFormDefault", "unqualified"),
        attr_or(schema, "attributeFormDefault", "unqualified")
    );
    // An included schema that agrees with its includer adds nothing here.
    let key = format!("schema {tns}");
    match facts.get(&key) {
        Some(existing) if *existing != forms => {
            facts.insert(format!("{key} included"), forms);
        }
        _ => {
            facts.insert(key, forms);
        }
    }
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
            "group" => {
                let path = format!("group {name}");
                facts.insert(path.clone(), String::new());
                content(facts, &path, item, &mut 0)?;
            }
            "include" => include(facts, item, dir)?,
            _ => unknown(facts, "schema", item),
        }
    }
    Ok(())
}

/// Adds the components of an `xs:include`d schema, read from `dir`.
fn include(facts: &mut Facts, include: &Element, dir: &Path) -> Result<(), String> {
    let location =
        local_attr(include, "schemaLocation").ok_or("xs:include without schemaLocation")?;
    let path = dir.join(location);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let schema = xmlbind::parse(text.as_bytes(), &Limits::default())
        .map_err(|e| format!("{}: {e:?}", path.display()))?;
    if !schema.name.is(Some(XS), "schema") {
        return Err(format!("{} is not an XML schema", path.display()));
    }
    schema_facts(facts, &schema, path.parent().unwrap_or(dir))
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
            "group" => {
                *counter += 1;
                facts.insert(
                    format!("{path} field {counter:02}"),
                    format!(
                        "group ref={} minOccurs={} maxOccurs={}",
                        qname(child, "ref")?,
                        attr_or(child, "minOccurs", "1"),
                        attr_or(child, "maxOccurs", "1")
                    ),
                );
            }
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

/// The facts of `operations` alone: their portType and binding entries, their messages and
/// every schema component those messages reach, with the document-wide facts (definitions,
/// schema forms, binding head, services). For a WSDL of which ours serves only a part.
pub fn restrict_to_operations(facts: &Facts, operations: &[&str]) -> Facts {
    let operation_of = |key: &str| {
        let mut words = key.split(' ');
        match (words.next(), words.nth(1), words.next(), words.next()) {
            (Some("portType" | "binding"), Some("operation"), Some(op), None) => {
                Some(op.to_owned())
            }
            _ => None,
        }
    };
    let mut kept = Facts::new();
    for (key, value) in facts {
        let keep = match operation_of(key) {
            Some(op) => operations.contains(&op.as_str()),
            None => ["definitions", "schema ", "binding ", "service "]
                .iter()
                .any(|head| key.starts_with(head)),
        };
        if keep {
            kept.insert(key.clone(), value.clone());
        }
    }
    // Follow `{namespace}name` references from what is kept until nothing new is reached.
    let mut reached: BTreeSet<String> = BTreeSet::new();
    loop {
        let names: BTreeSet<String> = kept
            .values()
            .flat_map(|value| value.split(['=', ' ', ';']))
            .filter_map(|word| word.strip_prefix('{'))
            .filter_map(|word| word.split_once('}'))
            .map(|(_, local)| local.to_owned())
            .filter(|local| !reached.contains(local))
            .collect();
        if names.is_empty() {
            return kept;
        }
        for name in names {
            for kind in ["message", "element", "complexType", "simpleType", "group"] {
                let head = format!("{kind} {name}");
                let nested = format!("{head} ");
                for (key, value) in facts.range(head.clone()..) {
                    if *key != head && !key.starts_with(&nested) {
                        break;
                    }
                    kept.insert(key.clone(), value.clone());
                }
            }
            reached.insert(name);
        }
    }
}

/// Every difference between two fact sets, one line each; empty when they agree.
pub fn differences(ours: &Facts, original: &Facts) -> Vec<String> {
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

pub fn operation_count(facts: &Facts) -> usize {
    facts
        .keys()
        .filter(|k| k.starts_with("portType ") && k.contains(" operation "))
        .count()
}

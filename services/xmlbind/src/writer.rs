//! Streaming XML output that declares namespace prefixes as they are needed.

use std::sync::Arc;

use crate::atom::Atom;
use crate::dom::{Attribute, Element, Name, NamespaceScope, Node};
use crate::error::Position;

/// Writes well-formed XML into a string. Namespaces are given as URIs; the writer binds each
/// to a prefix on first use (a preferred one if registered, else `ns1`, `ns2`, ...), so callers
/// never juggle prefixes. The default namespace is never used, so unqualified names stay
/// unqualified.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
    /// One frame per open element: its qualified name and the prefixes it declared.
    open: Vec<Frame>,
    /// Frames of closed elements, kept for their buffers: writing an element allocates
    /// nothing once the document is as deep as it gets.
    spare: Vec<Frame>,
    start_tag_open: bool,
    next_prefix: usize,
    preferred: Vec<(String, String)>,
    /// `(from, to)`: names in `from` are written in `to` ([`XmlWriter::rename_namespace`]).
    renamed: Vec<(String, String)>,
    capture: Option<Capture>,
}

#[derive(Debug, Default)]
struct Frame {
    qname: String,
    declared: Vec<(Atom, String)>,
    /// The element's name and the attributes of its start tag, kept only while elements
    /// may be captured: an element is marked for capture by an attribute, after its name.
    name: Option<Name>,
    attributes: Vec<Attribute>,
    /// The bindings in scope at this element, once a captured element needed them.
    scope: Option<Arc<NamespaceScope>>,
}

/// Elements kept as trees while they are written ([`XmlWriter::capture_marked`]).
#[derive(Debug)]
struct Capture {
    /// The attribute that marks an element to capture, and the values that do.
    marker: (Option<String>, String),
    values: Vec<String>,
    /// The captured elements still open, outermost first, and the writer's frame of the
    /// outermost one.
    open: Vec<Element>,
    apex_frame: usize,
    done: Vec<Element>,
}

impl XmlWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `prefix` for `namespace` whenever that prefix is free.
    pub fn prefer_prefix(&mut self, namespace: &str, prefix: &str) {
        self.preferred
            .push((namespace.to_owned(), prefix.to_owned()));
    }

    /// Writes every element and attribute named in namespace `from` in namespace `to`
    /// instead: one set of types answers in the namespace of each version a request came in
    /// (EC2's 2008-12-01 and 2009-04-04 share their shapes). Call before writing.
    pub fn rename_namespace(&mut self, from: &str, to: &str) {
        self.renamed.push((from.to_owned(), to.to_owned()));
    }

    /// The namespace a name given in `namespace` is written in.
    fn renamed(&self, namespace: Option<&str>) -> Option<String> {
        let namespace = namespace?;
        let to = self
            .renamed
            .iter()
            .find(|(from, _)| from == namespace)
            .map_or(namespace, |(_, to)| to.as_str());
        Some(to.to_owned())
    }

    /// Keeps every element whose start tag gets the attribute `{namespace}local` with one of
    /// `values` as a tree too, exactly as [`crate::parse`] would read it back from the output,
    /// for [`XmlWriter::finish_with_captured`] to return: a signer canonicalizes what it signs
    /// without parsing its own output. Call before writing the elements.
    pub fn capture_marked(&mut self, namespace: Option<&str>, local: &str, values: Vec<String>) {
        self.capture = Some(Capture::new(
            (namespace.map(str::to_owned), local.to_owned()),
            values,
        ));
    }

    pub fn start_element(&mut self, namespace: Option<&str>, local: &str) {
        self.close_start_tag();
        // Borrowed through the call rather than copied per element.
        let renamed = std::mem::take(&mut self.renamed);
        let namespace = namespace.map(|ns| {
            renamed
                .iter()
                .find(|(from, _)| from == ns)
                .map_or(ns, |(_, to)| to.as_str())
        });
        let frame = self.spare.pop().unwrap_or_default();
        self.open.push(frame);
        let prefix = namespace.map(|ns| self.prefix_for(ns).0);
        if self.capture.is_some() {
            let name = Name {
                namespace: namespace.map(Atom::from),
                local: local.into(),
                prefix: prefix.clone(),
            };
            match self.capture.as_mut() {
                Some(capture) if !capture.open.is_empty() => {
                    capture.open.push(captured_element(name, Vec::new()))
                }
                _ => {
                    if let Some(frame) = self.open.last_mut() {
                        frame.name = Some(name);
                    }
                }
            }
        }
        self.renamed = renamed;
        if let Some(frame) = self.open.last_mut() {
            if let Some(prefix) = &prefix {
                frame.qname.push_str(prefix);
                frame.qname.push(':');
            }
            frame.qname.push_str(local);
            self.out.push('<');
            self.out.push_str(&frame.qname);
            for (prefix, uri) in &frame.declared {
                write_declaration(&mut self.out, prefix, uri);
            }
        }
        self.start_tag_open = true;
    }

    /// Adds an attribute to the element just started. Call before any content.
    pub fn attribute(&mut self, namespace: Option<&str>, local: &str, value: &str) {
        debug_assert!(self.start_tag_open, "attribute written after content");
        let renamed;
        let namespace = if self.renamed.is_empty() {
            namespace
        } else {
            renamed = self.renamed(namespace);
            renamed.as_deref()
        };
        let prefix = namespace.map(|ns| self.declare_in_tag(ns));
        self.out.push(' ');
        if let Some(prefix) = &prefix {
            self.out.push_str(prefix);
            self.out.push(':');
        }
        self.out.push_str(local);
        self.out.push_str("=\"");
        escape_into(&mut self.out, value, true);
        self.out.push('"');
        if self.capture.is_some() {
            self.capture_attribute(namespace, local, prefix, value);
        }
    }

    /// Records an attribute of the open start tag for capture, starting to capture its
    /// element when the attribute marks it.
    fn capture_attribute(
        &mut self,
        namespace: Option<&str>,
        local: &str,
        prefix: Option<Atom>,
        value: &str,
    ) {
        let depth = self.open.len();
        let (Some(capture), Some(frame)) = (self.capture.as_mut(), self.open.last_mut()) else {
            return;
        };
        let attribute = Attribute {
            name: Name {
                namespace: namespace.map(Atom::from),
                local: local.into(),
                prefix,
            },
            value: value.to_owned(),
        };
        if let Some(element) = capture.open.last_mut() {
            element.attributes.push(attribute);
            return;
        }
        let marks = capture.marker.0.as_deref() == namespace
            && capture.marker.1 == local
            && capture.values.iter().any(|v| v == value);
        frame.attributes.push(attribute);
        if marks {
            if let Some(name) = frame.name.take() {
                capture.apex_frame = depth - 1;
                capture.open.push(captured_element(
                    name,
                    std::mem::take(&mut frame.attributes),
                ));
            }
        }
    }

    /// The bindings in scope at the innermost open element, for a captured element's scope,
    /// once its start tag is complete. Each frame's is made once, from its parent's, and is
    /// its parent's own when it declares nothing (an ancestor's start tag is complete too).
    fn scope(&mut self) -> Arc<NamespaceScope> {
        let mut scope: Option<Arc<NamespaceScope>> = None;
        for frame in &mut self.open {
            if frame.scope.is_none() {
                let parent = scope.take().unwrap_or_default();
                frame.scope = Some(if frame.declared.is_empty() {
                    parent
                } else {
                    let mut bindings = parent.bindings().to_vec();
                    for (prefix, uri) in &frame.declared {
                        bindings.retain(|(p, _)| p.as_deref() != Some(prefix.as_str()));
                        bindings
                            .push((Some(Atom::from(prefix.as_str())), Atom::from(uri.as_str())));
                    }
                    Arc::new(NamespaceScope::from_bindings(bindings))
                });
            }
            scope = frame.scope.clone();
        }
        scope.unwrap_or_default()
    }

    /// Whether the innermost open element is being captured.
    fn capturing_innermost(&self) -> bool {
        self.capture
            .as_ref()
            .is_some_and(|c| !c.open.is_empty() && c.apex_frame + c.open.len() == self.open.len())
    }

    /// Declares `namespace` on the element just started, unless it is already in scope, so
    /// that its descendants share one declaration. Call before any content.
    pub fn declare(&mut self, namespace: &str) {
        debug_assert!(self.start_tag_open, "namespace declared after content");
        self.declare_in_tag(namespace);
    }

    /// Adds a QName-valued attribute (such as `xsi:type`), declaring the value's prefix.
    pub fn qname_attribute(
        &mut self,
        namespace: Option<&str>,
        local: &str,
        value_namespace: &str,
        value_local: &str,
    ) {
        let prefix = self.declare_in_tag(value_namespace);
        self.attribute(namespace, local, &format!("{prefix}:{value_local}"));
    }

    pub fn text(&mut self, text: &str) {
        self.close_start_tag();
        escape_into(&mut self.out, text, false);
        if let Some(element) = self.capture.as_mut().and_then(|c| c.open.last_mut()) {
            match element.children.last_mut() {
                Some(Node::Text(existing)) => existing.push_str(text),
                _ => element.children.push(Node::Text(text.to_owned())),
            }
        }
    }

    pub fn end_element(&mut self) {
        if self.start_tag_open && self.capturing_innermost() {
            self.set_captured_scope();
        }
        let capturing = self.capturing_innermost();
        let Some(mut frame) = self.open.pop() else {
            return;
        };
        if capturing {
            if let Some(capture) = self.capture.as_mut() {
                if let Some(done) = capture.open.pop() {
                    match capture.open.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(done)),
                        None => capture.done.push(done),
                    }
                }
            }
        }
        if self.start_tag_open {
            self.out.push_str("/>");
            self.start_tag_open = false;
        } else {
            self.out.push_str("</");
            self.out.push_str(&frame.qname);
            self.out.push('>');
        }
        frame.qname.clear();
        frame.declared.clear();
        frame.name = None;
        frame.attributes.clear();
        frame.scope = None;
        self.spare.push(frame);
    }

    /// Closes every open element and returns the document.
    pub fn finish(self) -> String {
        self.finish_with_captured().0
    }

    /// Closes every open element and returns the document with the elements captured
    /// ([`XmlWriter::capture_marked`]), in document order of their end tags.
    pub fn finish_with_captured(mut self) -> (String, Vec<Element>) {
        while !self.open.is_empty() {
            self.end_element();
        }
        let captured = self.capture.map(|c| c.done).unwrap_or_default();
        (self.out, captured)
    }

    /// The start tag of the innermost element is complete: so are its bindings.
    fn set_captured_scope(&mut self) {
        let scope = self.scope();
        if let Some(element) = self.capture.as_mut().and_then(|c| c.open.last_mut()) {
            element.scope = scope;
        }
    }

    fn close_start_tag(&mut self) {
        if self.start_tag_open && self.capturing_innermost() {
            self.set_captured_scope();
        }
        if self.start_tag_open {
            self.out.push('>');
            self.start_tag_open = false;
        }
    }

    fn lookup(&self, prefix: &str) -> Option<&str> {
        self.open
            .iter()
            .rev()
            .flat_map(|f| f.declared.iter())
            .find(|(p, _)| p == prefix)
            .map(|(_, uri)| uri.as_str())
    }

    /// The prefix for `namespace` inside an open start tag, writing its declaration if new.
    fn declare_in_tag(&mut self, namespace: &str) -> Atom {
        let (prefix, new) = self.prefix_for(namespace);
        if new {
            write_declaration(&mut self.out, &prefix, namespace);
        }
        prefix
    }

    /// The prefix bound to `namespace`, recording a new binding on the innermost open element
    /// when none is in scope (`true` in the second field).
    fn prefix_for(&mut self, namespace: &str) -> (Atom, bool) {
        // `xml` is bound by definition and may not be declared (for `xml:lang`, `xml:id`).
        if namespace == crate::XML_NS {
            return (Atom::from("xml"), false);
        }
        let bound = self
            .open
            .iter()
            .rev()
            .flat_map(|f| f.declared.iter().rev())
            .find(|(p, uri)| uri == namespace && self.lookup(p) == Some(namespace))
            .map(|(p, _)| p.clone());
        if let Some(prefix) = bound {
            return (prefix, false);
        }
        let preferred = self
            .preferred
            .iter()
            .find(|(uri, p)| uri == namespace && self.lookup(p).is_none())
            .map(|(_, p)| p.clone());
        let prefix = Atom::from(preferred.unwrap_or_else(|| loop {
            self.next_prefix += 1;
            let candidate = format!("ns{}", self.next_prefix);
            if self.lookup(&candidate).is_none() {
                break candidate;
            }
        }));
        if let Some(frame) = self.open.last_mut() {
            frame.declared.push((prefix.clone(), namespace.to_owned()));
        }
        (prefix, true)
    }
}

impl Capture {
    fn new(marker: (Option<String>, String), values: Vec<String>) -> Self {
        Self {
            marker,
            values,
            open: Vec::new(),
            apex_frame: 0,
            done: Vec::new(),
        }
    }
}

/// A captured element as its start tag begins; its scope is set when the tag is complete.
fn captured_element(name: Name, attributes: Vec<Attribute>) -> Element {
    Element {
        name,
        attributes,
        scope: Arc::default(),
        children: Vec::new(),
        position: Position::default(),
    }
}

fn write_declaration(out: &mut String, prefix: &str, namespace: &str) {
    out.push_str(" xmlns:");
    out.push_str(prefix);
    out.push_str("=\"");
    escape_into(out, namespace, true);
    out.push('"');
}

/// Escapes markup characters, and in attributes the whitespace that attribute-value
/// normalization would otherwise turn into spaces. Copies runs between them at once (all of
/// them are ASCII, so byte offsets between them are character boundaries).
fn escape_into(out: &mut String, text: &str, attribute: bool) {
    // Most text needs nothing escaped: look for the candidates without early exit, which
    // the compiler vectorizes, before going byte by byte.
    let candidate = |b: u8| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\t' | b'\n' | b'\r');
    if !text.bytes().fold(false, |any, b| any | candidate(b)) {
        out.push_str(text);
        return;
    }
    let mut run = 0;
    for (at, &byte) in text.as_bytes().iter().enumerate() {
        let replacement = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' if !attribute => "&gt;",
            b'"' if attribute => "&quot;",
            b'\t' if attribute => "&#x9;",
            b'\n' if attribute => "&#xA;",
            b'\r' => "&#xD;",
            _ => continue,
        };
        out.push_str(&text[run..at]);
        out.push_str(replacement);
        run = at + 1;
    }
    out.push_str(&text[run..]);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{parse, Limits};

    /// `a` and `b` are the same tree, positions aside, with the same bindings in scope.
    fn assert_same_tree(a: &Element, b: &Element) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.attributes, b.attributes, "attributes of {}", a.name.local);
        assert_eq!(
            a.scope.iter().collect::<Vec<_>>(),
            b.scope.iter().collect::<Vec<_>>(),
            "scope of {}",
            a.name.local
        );
        assert_eq!(a.children.len(), b.children.len(), "{}", a.name.local);
        for (x, y) in a.children.iter().zip(&b.children) {
            match (x, y) {
                (Node::Element(x), Node::Element(y)) => assert_same_tree(x, y),
                (x, y) => assert_eq!(x, y),
            }
        }
    }

    #[test]
    fn a_renamed_namespace_is_written_in_its_place_and_others_are_kept() {
        let mut w = XmlWriter::new();
        w.rename_namespace("urn:new", "urn:old");
        w.start_element(Some("urn:new"), "a");
        w.attribute(Some("urn:new"), "x", "1");
        w.attribute(Some("urn:other"), "y", "2");
        w.start_element(Some("urn:new"), "b");
        w.end_element();
        w.end_element();
        let tree = parse(w.finish().as_bytes(), &Limits::default()).unwrap();
        assert!(tree.name.is(Some("urn:old"), "a"));
        assert_eq!(tree.attribute(Some("urn:old"), "x"), Some("1"));
        assert_eq!(tree.attribute(Some("urn:other"), "y"), Some("2"));
        assert!(tree.child(Some("urn:old"), "b").is_some());
    }

    #[test]
    fn captured_elements_are_what_parsing_the_output_gives() {
        // Guards signing, which canonicalizes captured trees instead of parsing its output.
        let mut w = XmlWriter::new();
        w.prefer_prefix("urn:u", "u");
        w.capture_marked(Some("urn:u"), "Id", vec!["one".into(), "two".into()]);
        w.start_element(Some("urn:env"), "Envelope");
        w.declare("urn:u");
        w.start_element(Some("urn:env"), "Header");
        w.start_element(Some("urn:a"), "first");
        w.attribute(None, "before", "x");
        w.attribute(Some("urn:u"), "Id", "one");
        w.attribute(Some("urn:b"), "b", "tab\there\nline\r&<>\"'");
        w.text("a & b < c > d\r\n");
        w.text(" more");
        w.start_element(Some("urn:c"), "empty");
        w.end_element();
        w.start_element(None, "plain");
        w.qname_attribute(Some(crate::XSI_NS), "type", "urn:t", "T");
        w.text("x");
        w.end_element();
        w.end_element();
        w.start_element(Some("urn:a"), "unsigned");
        w.attribute(Some("urn:u"), "Id", "three");
        w.end_element();
        w.end_element();
        w.start_element(Some("urn:env"), "Body");
        w.attribute(Some("urn:u"), "Id", "two");
        w.start_element(Some("urn:a"), "payload");
        w.attribute(Some(crate::XML_NS), "lang", "en");
        w.end_element();
        let (out, captured) = w.finish_with_captured();
        let parsed = parse(out.as_bytes(), &Limits::default()).unwrap();
        let header = parsed.elements().next().unwrap();
        let body = parsed.elements().nth(1).unwrap();
        assert_eq!(captured.len(), 2);
        assert_same_tree(&captured[0], header.elements().next().unwrap());
        assert_same_tree(&captured[1], body);
    }

    #[test]
    fn declared_namespaces_are_shared_by_descendants() {
        let mut w = XmlWriter::new();
        w.prefer_prefix("urn:u", "u");
        w.start_element(Some("urn:a"), "t");
        w.declare("urn:u");
        w.declare("urn:u");
        w.start_element(Some("urn:u"), "x");
        w.attribute(Some("urn:u"), "id", "1");
        assert_eq!(
            w.finish(),
            r#"<ns1:t xmlns:ns1="urn:a" xmlns:u="urn:u"><u:x u:id="1"/></ns1:t>"#
        );
    }

    #[test]
    fn xml_namespace_uses_the_reserved_prefix_undeclared() {
        let mut w = XmlWriter::new();
        w.start_element(Some("urn:a"), "t");
        w.attribute(Some(crate::XML_NS), "lang", "en");
        assert_eq!(w.finish(), r#"<ns1:t xmlns:ns1="urn:a" xml:lang="en"/>"#);
    }

    #[test]
    fn declares_each_namespace_once_where_first_used() {
        let mut w = XmlWriter::new();
        w.prefer_prefix("urn:env", "soapenv");
        w.start_element(Some("urn:env"), "Envelope");
        w.start_element(Some("urn:a"), "x");
        w.attribute(Some("urn:b"), "id", "1 & \"2\"");
        w.start_element(Some("urn:a"), "y");
        w.text("<ok>");
        w.end_element();
        w.end_element();
        w.start_element(Some("urn:a"), "z");
        let out = w.finish();
        assert_eq!(
            out,
            r#"<soapenv:Envelope xmlns:soapenv="urn:env"><ns1:x xmlns:ns1="urn:a" xmlns:ns2="urn:b" ns2:id="1 &amp; &quot;2&quot;"><ns1:y>&lt;ok&gt;</ns1:y></ns1:x><ns3:z xmlns:ns3="urn:a"/></soapenv:Envelope>"#
        );
    }
}

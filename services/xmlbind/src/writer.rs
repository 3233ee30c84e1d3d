//! Streaming XML output that declares namespace prefixes as they are needed.

use std::fmt::Write as _;
use std::ops::Range;

/// Writes well-formed XML into a string. Namespaces are given as URIs; the writer binds each
/// to a prefix on first use (a preferred one if registered, else `ns1`, `ns2`, ...), so callers
/// never juggle prefixes. The default namespace is never used, so unqualified names stay
/// unqualified.
///
/// The open elements' names and namespace bindings live in three buffers used as stacks, so
/// that writing an element allocates nothing once they have grown to the document's depth.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
    /// One frame per open element.
    open: Vec<Frame>,
    /// The qualified names of the open elements, end to end.
    qnames: String,
    /// The namespace bindings the open elements declared, outermost first.
    bindings: Vec<Binding>,
    /// The prefixes and URIs of `bindings`, end to end.
    binding_text: String,
    start_tag_open: bool,
    next_prefix: usize,
    /// `(namespace, prefix)`: names the writer's callers know when they are compiled.
    preferred: Vec<(&'static str, &'static str)>,
    /// `(from, to)`: names in `from` are written in `to` ([`XmlWriter::rename_namespace`]).
    renamed: Vec<(String, String)>,
    canonical: Option<Canonical>,
}

/// An open element: where its qualified name starts in `XmlWriter::qnames` and its own
/// bindings in `XmlWriter::bindings`; each runs to the next frame's start, or the end.
#[derive(Debug, Clone, Copy)]
struct Frame {
    qname: usize,
    first_binding: usize,
}

/// A prefix bound to a namespace URI, as ranges of `XmlWriter::binding_text`.
#[derive(Debug, Clone)]
struct Binding {
    prefix: Range<usize>,
    namespace: Range<usize>,
}

/// A prefix to write: `xml`, bound by definition, or one of the writer's bindings.
#[derive(Debug, Clone)]
enum Prefix {
    Xml,
    Bound(Range<usize>),
}

impl Prefix {
    fn text(self, binding_text: &str) -> &str {
        match self {
            Prefix::Xml => "xml",
            Prefix::Bound(range) => &binding_text[range],
        }
    }
}

/// Marked elements written a second time, in their exclusive canonical form, while they are
/// written ([`XmlWriter::canonicalize_marked`]).
#[derive(Debug)]
struct Canonical {
    /// The attribute that marks an element, and the values that do.
    marker: (Option<String>, String),
    values: Vec<String>,
    /// The attributes of the start tag being written, and their namespace URIs.
    tag: Vec<TagAttribute>,
    namespaces: String,
    /// The bindings a canonical start tag declares, as indices in `XmlWriter::bindings`:
    /// a buffer kept from one tag to the next.
    declarations: Vec<usize>,
    /// The marked element being written, and the writer's depth at it.
    open: Option<(CanonicalPart, usize)>,
    done: Vec<CanonicalPart>,
}

/// An attribute of the start tag being written, as ranges: its namespace URI in
/// `Canonical::namespaces` (empty for none), its local name and its markup (` prefix:local="
/// escaped value"`) in the output, which only grows. Kept without allocating, since any
/// start tag may turn out to be marked.
#[derive(Debug)]
struct TagAttribute {
    namespace: Range<usize>,
    local: Range<usize>,
    markup: Range<usize>,
}

/// A marked element in exclusive canonical form ([`XmlWriter::canonicalize_marked`]): the
/// bytes Exclusive XML Canonicalization 1.0 gives for the element a parser reads from the
/// output, with `prefixes` as its InclusiveNamespaces PrefixList.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPart {
    /// The value of its marking attribute.
    pub id: String,
    /// Every prefix in scope at the element or declared inside it. Listing them all makes
    /// the canonical form render each binding where it first appears, which the writer knows
    /// as it goes, and signs the bindings of prefixes used only in content (`xsi:type`
    /// values, fault codes), so that they cannot be redeclared unnoticed.
    /// Space-separated, as the PrefixList attribute spells it.
    pub prefixes: String,
    pub canonical: String,
}

impl XmlWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer whose output holds `bytes` before it first grows: a caller that knows the
    /// size of what it writes spares the copies of growing.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            out: String::with_capacity(bytes),
            ..Self::default()
        }
    }

    /// Bytes written so far: where what is written next begins.
    pub fn position(&self) -> usize {
        self.out.len()
    }

    /// Uses `prefix` for `namespace` whenever that prefix is free.
    pub fn prefer_prefix(&mut self, namespace: &'static str, prefix: &'static str) {
        self.preferred.push((namespace, prefix));
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

    /// Writes every element whose start tag gets the attribute `{namespace}local` with one
    /// of `values` a second time, in exclusive canonical form, for
    /// [`XmlWriter::finish_with_canonical`] to return: a signer digests what it signs
    /// without parsing its output or canonicalizing a tree. Marked elements inside a marked
    /// element are not kept apart. Call before writing the elements.
    pub fn canonicalize_marked(
        &mut self,
        namespace: Option<&str>,
        local: &str,
        values: Vec<String>,
    ) {
        self.canonical = Some(Canonical {
            marker: (namespace.map(str::to_owned), local.to_owned()),
            values,
            tag: Vec::new(),
            namespaces: String::new(),
            declarations: Vec::new(),
            open: None,
            done: Vec::new(),
        });
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
        // The frame first: a binding made for the element's own name is the element's.
        self.open.push(Frame {
            qname: self.qnames.len(),
            first_binding: self.bindings.len(),
        });
        let prefix = namespace.map(|ns| self.prefix_for(ns).0);
        self.renamed = renamed;
        let qname_at = self.qnames.len();
        if let Some(prefix) = prefix {
            self.qnames.push_str(prefix.text(&self.binding_text));
            self.qnames.push(':');
        }
        self.qnames.push_str(local);
        self.out.push('<');
        self.out.push_str(&self.qnames[qname_at..]);
        let own = self.open.last().map_or(0, |f| f.first_binding);
        for binding in &self.bindings[own..] {
            let (prefix, uri) = binding.text(&self.binding_text);
            write_declaration(&mut self.out, prefix, uri);
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
        let start = self.out.len();
        self.out.push(' ');
        if let Some(prefix) = prefix {
            self.out.push_str(prefix.text(&self.binding_text));
            self.out.push(':');
        }
        let local_at = self.out.len();
        self.out.push_str(local);
        let local = local_at..self.out.len();
        self.out.push_str("=\"");
        escape_into(&mut self.out, value, true);
        self.out.push('"');
        let depth = self.open.len();
        if let Some(canonical) = self.canonical.as_mut() {
            let namespace_at = canonical.namespaces.len();
            canonical.namespaces.push_str(namespace.unwrap_or_default());
            canonical.tag.push(TagAttribute {
                namespace: namespace_at..canonical.namespaces.len(),
                local: local.clone(),
                markup: start..self.out.len(),
            });
            let marks = canonical.open.is_none()
                && canonical.marker.0.as_deref() == namespace
                && canonical.marker.1 == self.out[local]
                && canonical.values.iter().any(|v| v == value);
            if marks {
                // Sized for a header or a small Body at once, as the part grows tag by tag.
                let part = CanonicalPart {
                    id: value.to_owned(),
                    prefixes: String::with_capacity(64),
                    canonical: String::with_capacity(1024),
                };
                canonical.open = Some((part, depth));
            }
        }
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
        let value = [prefix.text(&self.binding_text), ":", value_local].concat();
        self.attribute(namespace, local, &value);
    }

    pub fn text(&mut self, text: &str) {
        self.close_start_tag();
        let start = self.out.len();
        escape_into(&mut self.out, text, false);
        if let Some((part, _)) = self.canonical.as_mut().and_then(|c| c.open.as_mut()) {
            // Canonical form escapes text as this writer does.
            part.canonical.push_str(&self.out[start..]);
        }
    }

    pub fn end_element(&mut self) {
        if self.start_tag_open {
            self.canonical_start_tag();
        }
        let Some(frame) = self.open.pop() else {
            return;
        };
        let qname = &self.qnames[frame.qname..];
        if let Some(canonical) = self.canonical.as_mut() {
            if let Some((part, depth)) = canonical.open.as_mut() {
                part.canonical.push_str("</");
                part.canonical.push_str(qname);
                part.canonical.push('>');
                if *depth > self.open.len() {
                    if let Some((part, _)) = canonical.open.take() {
                        canonical.done.push(part);
                    }
                }
            }
        }
        if self.start_tag_open {
            self.out.push_str("/>");
            self.start_tag_open = false;
        } else {
            self.out.push_str("</");
            self.out.push_str(qname);
            self.out.push('>');
        }
        self.qnames.truncate(frame.qname);
        if let Some(first) = self.bindings.get(frame.first_binding) {
            self.binding_text.truncate(first.prefix.start);
        }
        self.bindings.truncate(frame.first_binding);
    }

    /// Closes every open element and returns the document.
    pub fn finish(self) -> String {
        self.finish_with_canonical().0
    }

    /// Closes every open element and returns the document with the canonical form of the
    /// marked elements ([`XmlWriter::canonicalize_marked`]), in document order of their end
    /// tags.
    pub fn finish_with_canonical(mut self) -> (String, Vec<CanonicalPart>) {
        while !self.open.is_empty() {
            self.end_element();
        }
        let parts = self.canonical.map(|c| c.done).unwrap_or_default();
        (self.out, parts)
    }

    fn close_start_tag(&mut self) {
        if self.start_tag_open {
            self.canonical_start_tag();
            self.out.push('>');
            self.start_tag_open = false;
        }
    }

    /// Writes the complete start tag of the innermost element in canonical form, if it is in
    /// a marked element: declarations sorted by prefix (at the marked element every binding
    /// in scope, below it those the element makes: every prefix is on the inclusive list,
    /// and none is ever rebound), then attributes sorted by namespace URI and local name.
    fn canonical_start_tag(&mut self) {
        let Some(canonical) = self.canonical.as_mut() else {
            return;
        };
        let mut tag = std::mem::take(&mut canonical.tag);
        if let Some((part, depth)) = canonical.open.as_mut() {
            let first = if *depth == self.open.len() {
                0
            } else {
                self.open.last().map_or(0, |f| f.first_binding)
            };
            let declarations = &mut canonical.declarations;
            declarations.clear();
            declarations.extend(first..self.bindings.len());
            let binding = |&at: &usize| self.bindings[at].text(&self.binding_text);
            declarations.sort_unstable_by(|a, b| binding(a).cmp(&binding(b)));
            let out = &mut part.canonical;
            out.push('<');
            out.push_str(self.open.last().map_or("", |f| &self.qnames[f.qname..]));
            for (prefix, uri) in declarations.iter().map(binding) {
                write_declaration(out, prefix, uri);
                if !part.prefixes.split(' ').any(|p| p == prefix) {
                    if !part.prefixes.is_empty() {
                        part.prefixes.push(' ');
                    }
                    part.prefixes.push_str(prefix);
                }
            }
            let (written, namespaces) = (&self.out, &canonical.namespaces);
            let key =
                |a: &TagAttribute| (&namespaces[a.namespace.clone()], &written[a.local.clone()]);
            tag.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
            for attribute in &tag {
                out.push_str(&written[attribute.markup.clone()]);
            }
            out.push('>');
        }
        tag.clear();
        canonical.tag = tag;
        canonical.namespaces.clear();
    }

    /// The URI `prefix` is bound to where the writer is.
    fn lookup(&self, prefix: &str) -> Option<&str> {
        self.bindings
            .iter()
            .rev()
            .map(|b| b.text(&self.binding_text))
            .find(|(p, _)| *p == prefix)
            .map(|(_, uri)| uri)
    }

    /// The prefix for `namespace` inside an open start tag, writing its declaration if new.
    fn declare_in_tag(&mut self, namespace: &str) -> Prefix {
        let (prefix, new) = self.prefix_for(namespace);
        if new {
            let prefix = prefix.clone().text(&self.binding_text);
            write_declaration(&mut self.out, prefix, namespace);
        }
        prefix
    }

    /// The prefix bound to `namespace`, recording a new binding on the innermost open element
    /// when none is in scope (`true` in the second field).
    fn prefix_for(&mut self, namespace: &str) -> (Prefix, bool) {
        // `xml` is bound by definition and may not be declared (for `xml:lang`, `xml:id`).
        if namespace == crate::XML_NS {
            return (Prefix::Xml, false);
        }
        let bound = self
            .bindings
            .iter()
            .rev()
            .find(|b| {
                let (prefix, uri) = b.text(&self.binding_text);
                uri == namespace && self.lookup(prefix) == Some(namespace)
            })
            .map(|b| b.prefix.clone());
        if let Some(prefix) = bound {
            return (Prefix::Bound(prefix), false);
        }
        let preferred = self
            .preferred
            .iter()
            .find(|(uri, p)| *uri == namespace && self.lookup(p).is_none())
            .map(|(_, p)| *p);
        // The new binding's text goes at the end of `binding_text`; a generated prefix is
        // tried there until one is free.
        let start = self.binding_text.len();
        match preferred {
            Some(preferred) => self.binding_text.push_str(preferred),
            None => loop {
                self.next_prefix += 1;
                let _ = write!(self.binding_text, "ns{}", self.next_prefix);
                if self.lookup(&self.binding_text[start..]).is_none() {
                    break;
                }
                self.binding_text.truncate(start);
            },
        }
        let prefix = start..self.binding_text.len();
        self.binding_text.push_str(namespace);
        self.bindings.push(Binding {
            prefix: prefix.clone(),
            namespace: prefix.end..self.binding_text.len(),
        });
        (Prefix::Bound(prefix), true)
    }
}

impl Binding {
    /// The prefix and the URI.
    fn text<'t>(&self, binding_text: &'t str) -> (&'t str, &'t str) {
        (
            &binding_text[self.prefix.clone()],
            &binding_text[self.namespace.clone()],
        )
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
    fn marked_elements_are_written_again_in_canonical_form() {
        // Guards signing, which digests these instead of canonicalizing parsed trees (the
        // soap crate checks them against its C14N of the parsed output too): every binding in
        // scope at the marked element, declarations and attributes sorted, empty elements
        // with end tags, escaping as written.
        let mut w = XmlWriter::new();
        w.prefer_prefix("urn:u", "u");
        w.prefer_prefix(crate::XSI_NS, "xsi");
        w.canonicalize_marked(Some("urn:u"), "Id", vec!["one".into(), "two".into()]);
        w.start_element(Some("urn:env"), "Envelope");
        w.declare("urn:u");
        w.start_element(Some("urn:env"), "Header");
        w.start_element(Some("urn:a"), "first");
        w.attribute(None, "before", "x");
        w.attribute(Some("urn:u"), "Id", "one");
        w.attribute(Some("urn:b"), "b", "tab\there\nline\r&<>\"'");
        w.text("a & b < c > d\r\n");
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
        let (out, parts) = w.finish_with_canonical();
        assert!(parse(out.as_bytes(), &Limits::default()).is_ok());
        let ids: Vec<_> = parts.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["one", "two"]);
        assert_eq!(
            parts[0].canonical,
            concat!(
                r#"<ns2:first xmlns:ns1="urn:env" xmlns:ns2="urn:a" xmlns:ns3="urn:b" xmlns:u="urn:u" before="x" ns3:b="tab&#x9;here&#xA;line&#xD;&amp;&lt;>&quot;'" u:Id="one">"#,
                "a &amp; b &lt; c &gt; d&#xD;\n",
                r#"<ns4:empty xmlns:ns4="urn:c"></ns4:empty>"#,
                r#"<plain xmlns:ns5="urn:t" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="ns5:T">x</plain>"#,
                "</ns2:first>"
            )
        );
        assert_eq!(parts[0].prefixes, "ns1 ns2 ns3 u ns4 ns5 xsi");
        assert_eq!(
            parts[1].canonical,
            r#"<ns1:Body xmlns:ns1="urn:env" xmlns:u="urn:u" u:Id="two"><ns7:payload xmlns:ns7="urn:a" xml:lang="en"></ns7:payload></ns1:Body>"#
        );
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

//! Exclusive XML Canonicalization 1.0 without comments
//! (<https://www.w3.org/TR/xml-exc-c14n/>), over the xmlbind tree.
//!
//! The document subset is always a whole subtree: the apex element and its descendants, minus
//! comments. Over such a subset the specification's rules reduce to the following:
//! - an element renders the namespace bindings it *visibly utilizes* (the prefix of its own
//!   name, or of one of its attributes; an unprefixed name utilizes the default namespace)
//!   plus those named in the InclusiveNamespaces PrefixList that are in scope, each only when
//!   the nearest output ancestor did not already render the same prefix with the same URI;
//! - an element that utilizes an empty default namespace while an output ancestor rendered a
//!   non-empty one renders `xmlns=""`;
//! - namespace declarations are sorted by prefix (the default first), attributes by namespace
//!   URI (none first) then local name; `xml:` attributes are not inherited (unlike C14N 1.0);
//! - empty elements are written as start and end tag, text and attribute values are escaped
//!   as Canonical XML 1.0 §2.3 prescribes, processing instructions are kept.
//!
//! The walk is iterative, so that a deep tree cannot exhaust the stack.

use xmlbind::{AttributeRef, ChildNodes, Document, Element, ElementRef, Name, NodeRef};

/// Canonicalizes the subtree rooted at `apex`, an owned tree (see [`exclusive_of`], which
/// the verifier calls on the parsed document).
pub fn exclusive(apex: &Element, inclusive_prefixes: &[&str]) -> Vec<u8> {
    exclusive_of(Document::from(apex).root(), inclusive_prefixes)
}

/// Canonicalizes the subtree rooted at `apex`. `inclusive_prefixes` is the
/// InclusiveNamespaces PrefixList (`"#default"` names the default namespace).
pub fn exclusive_of(apex: ElementRef<'_>, inclusive_prefixes: &[&str]) -> Vec<u8> {
    let mut c14n = Exclusive::new();
    c14n.canonicalize(apex, inclusive_prefixes.iter().copied());
    c14n.out.into_bytes()
}

/// Canonicalizes subtrees of one document one after another, keeping its buffers from one
/// to the next: a verifier canonicalizes each signed part and SignedInfo.
pub(crate) struct Exclusive<'a> {
    out: String,
    /// The namespace bindings in effect in the output: `(prefix, uri)`, `None` for the
    /// default namespace, innermost last. An absent default counts as `""`.
    rendered: Vec<(Option<&'a str>, &'a str)>,
    inclusive: InclusiveList<'a>,
    /// The declarations and attributes of the start tag being written.
    declarations: Vec<(Option<&'a str>, &'a str)>,
    attributes: Vec<AttributeRef<'a>>,
    /// The elements whose start tags are written and whose children are being walked.
    open: Vec<Frame<'a>>,
}

impl<'a> Exclusive<'a> {
    pub(crate) fn new() -> Self {
        // Sized for a signed header or a small Body at once: growing from nothing took more
        // allocations than the rest of the walk.
        Self {
            out: String::with_capacity(1024),
            rendered: Vec::with_capacity(16),
            inclusive: InclusiveList {
                default: false,
                prefixes: Vec::new(),
            },
            declarations: Vec::with_capacity(8),
            attributes: Vec::with_capacity(8),
            open: Vec::with_capacity(16),
        }
    }

    /// The canonical form of the subtree rooted at `apex`, with `inclusive_prefixes` as the
    /// InclusiveNamespaces PrefixList (`"#default"` names the default namespace); valid
    /// until the next call.
    pub(crate) fn canonicalize(
        &mut self,
        apex: ElementRef<'a>,
        inclusive_prefixes: impl IntoIterator<Item = &'a str>,
    ) -> &[u8] {
        self.out.clear();
        self.rendered.clear();
        self.inclusive.set(inclusive_prefixes);
        let mut open = std::mem::take(&mut self.open);
        open.push(self.open_element(apex, None));
        while let Some(frame) = open.last_mut() {
            match frame.children.next() {
                Some(NodeRef::Element(child)) => {
                    let child = self.open_element(child, Some(frame.element));
                    open.push(child);
                }
                Some(NodeRef::Text(text)) => escape_text(text, &mut self.out),
                Some(NodeRef::ProcessingInstruction { target, data }) => {
                    self.out.push_str("<?");
                    self.out.push_str(target);
                    if let Some(data) = data.filter(|d| !d.is_empty()) {
                        self.out.push(' ');
                        self.out.push_str(data);
                    }
                    self.out.push_str("?>");
                }
                Some(NodeRef::Comment(_)) => {}
                None => {
                    let (element, rendered_len) = (frame.element, frame.rendered_len);
                    open.pop();
                    self.out.push_str("</");
                    push_qname(element.name(), &mut self.out);
                    self.out.push('>');
                    self.rendered.truncate(rendered_len);
                }
            }
        }
        self.open = open;
        self.out.as_bytes()
    }
}

/// The InclusiveNamespaces PrefixList: these prefixes are treated as in Canonical XML 1.0,
/// rendered whenever in scope rather than only when visibly utilized.
struct InclusiveList<'a> {
    default: bool,
    prefixes: Vec<&'a str>,
}

impl<'a> InclusiveList<'a> {
    fn set(&mut self, list: impl IntoIterator<Item = &'a str>) {
        self.default = false;
        self.prefixes.clear();
        for prefix in list {
            match prefix {
                "#default" => self.default = true,
                "xml" | "xmlns" | "" => {}
                prefix => self.prefixes.push(prefix),
            }
        }
    }
}

/// An element whose start tag is written and whose children are being walked.
struct Frame<'a> {
    element: ElementRef<'a>,
    children: ChildNodes<'a>,
    /// Length of `Exclusive::rendered` before this element's declarations.
    rendered_len: usize,
}

impl<'a> Exclusive<'a> {
    /// Writes the start tag of `element`, a child of `parent` in the output (none for the
    /// apex), and records the bindings it renders.
    fn open_element(
        &mut self,
        element: ElementRef<'a>,
        parent: Option<ElementRef<'a>>,
    ) -> Frame<'a> {
        let rendered_len = self.rendered.len();
        let mut declarations = std::mem::take(&mut self.declarations);
        // In its parent's scope an element has its parent's inclusive bindings, which are in
        // effect in the output already; named with its parent's prefix and namespace and
        // without prefixed attributes (most elements), it utilizes nothing else either.
        let inherits_scope = parent.is_some_and(|p| std::ptr::eq(p.scope(), element.scope()));
        let declares_nothing = inherits_scope
            && parent.is_some_and(|p| {
                let (mine, theirs) = (element.name(), p.name());
                mine.prefix == theirs.prefix && mine.namespace == theirs.namespace
            })
            && element.attributes().all(|a| a.name.prefix.is_none());
        if !declares_nothing {
            self.namespace_candidates(element, inherits_scope, &mut declarations);
            declarations.sort_unstable();
            declarations.dedup_by(|a, b| a.0 == b.0);
            declarations.retain(|&(prefix, uri)| self.in_effect(prefix) != uri);
        }

        self.out.push('<');
        push_qname(element.name(), &mut self.out);
        for &(prefix, uri) in &declarations {
            match prefix {
                Some(prefix) => {
                    self.out.push_str(" xmlns:");
                    self.out.push_str(prefix);
                }
                None => self.out.push_str(" xmlns"),
            }
            self.out.push_str("=\"");
            escape_attribute(uri, &mut self.out);
            self.out.push('"');
        }
        self.rendered.append(&mut declarations);
        self.declarations = declarations;

        let mut attributes = std::mem::take(&mut self.attributes);
        attributes.extend(element.attributes());
        attributes.sort_unstable_by(|a, b| {
            let key = |n: &'a Name| (n.namespace.as_deref().unwrap_or(""), n.local.as_str());
            key(a.name).cmp(&key(b.name))
        });
        for attribute in attributes.drain(..) {
            self.out.push(' ');
            push_qname(attribute.name, &mut self.out);
            self.out.push_str("=\"");
            escape_attribute(attribute.value, &mut self.out);
            self.out.push('"');
        }
        self.attributes = attributes;
        self.out.push('>');
        Frame {
            element,
            children: element.children(),
            rendered_len,
        }
    }

    /// Puts in `candidates` (empty) the bindings `element` may have to declare, unsorted and
    /// possibly repeated: those it visibly utilizes and the in-scope ones the inclusive list
    /// names. The URI of a utilized prefix is taken from the name itself (the parser
    /// resolved it in scope).
    fn namespace_candidates(
        &self,
        element: ElementRef<'a>,
        inherits_scope: bool,
        candidates: &mut Vec<(Option<&'a str>, &'a str)>,
    ) {
        let uri = |name: &'a Name| name.namespace.as_deref().unwrap_or("");
        let name = element.name();
        candidates.push((name.prefix.as_deref(), uri(name)));
        // Unprefixed attributes are in no namespace: they do not utilize the default one.
        for attribute in element.attributes() {
            if let Some(prefix) = attribute.name.prefix.as_deref() {
                candidates.push((Some(prefix), uri(attribute.name)));
            }
        }
        if !inherits_scope {
            if self.inclusive.default {
                candidates.push((None, element.scope().resolve(None).unwrap_or("")));
            }
            for &prefix in &self.inclusive.prefixes {
                if let Some(uri) = element
                    .scope()
                    .resolve(Some(prefix))
                    .filter(|u| !u.is_empty())
                {
                    candidates.push((Some(prefix), uri));
                }
            }
        }
        // The `xml` prefix is bound by definition and never declared.
        candidates.retain(|(prefix, _)| !matches!(prefix, Some("xml" | "xmlns")));
    }

    /// The URI `prefix` is bound to in the output so far (`""` when unbound).
    fn in_effect(&self, prefix: Option<&str>) -> &'a str {
        self.rendered
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map_or("", |&(_, uri)| uri)
    }
}

fn push_qname(name: &Name, out: &mut String) {
    if let Some(prefix) = &name.prefix {
        out.push_str(prefix);
        out.push(':');
    }
    out.push_str(&name.local);
}

/// Text nodes: `&`, `<`, `>` and carriage return are escaped (Canonical XML 1.0 §2.3).
fn escape_text(text: &str, out: &mut String) {
    escape(text, out, |c| match c {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    });
}

/// Attribute values: `&`, `<`, `"`, tab, line feed and carriage return are escaped.
pub(crate) fn escape_attribute(value: &str, out: &mut String) {
    escape(value, out, |c| match c {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'"' => Some("&quot;"),
        b'\t' => Some("&#x9;"),
        b'\n' => Some("&#xA;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    });
}

/// Copies `text` to `out`, replacing the ASCII characters `escaped` names, in runs rather
/// than character by character (every character that needs escaping is ASCII, so byte
/// offsets between them are character boundaries).
fn escape(text: &str, out: &mut String, escaped: impl Fn(u8) -> Option<&'static str>) {
    // Most text needs nothing escaped: look for it without early exit, which the compiler
    // vectorizes, before going byte by byte.
    if !text
        .bytes()
        .fold(false, |any, b| any | escaped(b).is_some())
    {
        out.push_str(text);
        return;
    }
    let mut run = 0;
    for (at, &byte) in text.as_bytes().iter().enumerate() {
        if let Some(replacement) = escaped(byte) {
            out.push_str(&text[run..at]);
            out.push_str(replacement);
            run = at + 1;
        }
    }
    out.push_str(&text[run..]);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use xmlbind::{parse, Limits};

    fn c14n(xml: &str, inclusive: &[&str]) -> String {
        let root = parse(xml.as_bytes(), &Limits::default()).unwrap();
        String::from_utf8(exclusive(&root, inclusive)).unwrap()
    }

    fn c14n_of(xml: &str, path: &[&str], inclusive: &[&str]) -> String {
        let root = parse(xml.as_bytes(), &Limits::default()).unwrap();
        let mut e = &root;
        for local in path {
            e = e.elements().find(|c| c.name.local == *local).unwrap();
        }
        String::from_utf8(exclusive(e, inclusive)).unwrap()
    }

    #[test]
    fn only_visibly_utilized_namespaces_are_rendered() {
        assert_eq!(
            c14n(
                r#"<a:e xmlns:a="urn:a" xmlns:b="urn:b" xmlns="urn:d"><b:f c="1"/></a:e>"#,
                &[]
            ),
            r#"<a:e xmlns:a="urn:a"><b:f xmlns:b="urn:b" c="1"></b:f></a:e>"#
        );
    }

    #[test]
    fn inherited_bindings_are_declared_on_an_inner_apex() {
        let doc = r#"<s:Envelope xmlns:s="urn:s" xmlns:u="urn:u"><s:Body u:Id="b"><x xmlns="urn:x"/></s:Body></s:Envelope>"#;
        assert_eq!(
            c14n_of(doc, &["Body"], &[]),
            r#"<s:Body xmlns:s="urn:s" xmlns:u="urn:u" u:Id="b"><x xmlns="urn:x"></x></s:Body>"#
        );
    }

    #[test]
    fn default_namespace_is_undeclared_only_where_utilized() {
        let doc = r#"<e xmlns="urn:d"><p:f xmlns:p="urn:p" xmlns=""><g/></p:f></e>"#;
        assert_eq!(
            c14n(doc, &[]),
            r#"<e xmlns="urn:d"><p:f xmlns:p="urn:p"><g xmlns=""></g></p:f></e>"#
        );
        // No xmlns="" at the apex: nothing was rendered above it.
        assert_eq!(c14n_of(doc, &["f", "g"], &[]), "<g></g>");
    }

    #[test]
    fn inclusive_prefixes_are_rendered_when_in_scope() {
        let doc = r#"<a:e xmlns:a="urn:a" xmlns:b="urn:b" xmlns="urn:d"><a:f/></a:e>"#;
        assert_eq!(
            c14n(doc, &["b", "#default", "zz"]),
            r#"<a:e xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b"><a:f></a:f></a:e>"#
        );
    }

    #[test]
    fn attributes_sort_by_namespace_then_local_name() {
        let doc =
            r#"<e xmlns:z="urn:a" xmlns:a="urn:b" a:x="1" z:y="2" b="3" a="4" xml:lang="en"/>"#;
        assert_eq!(
            c14n(doc, &[]),
            r#"<e xmlns:a="urn:b" xmlns:z="urn:a" a="4" b="3" xml:lang="en" z:y="2" a:x="1"></e>"#
        );
    }

    #[test]
    fn text_and_attributes_are_escaped() {
        let doc = "<e a=\"&lt;&amp;&gt;&quot;&#9;&#10;&#13;\">&lt;&amp;&gt;\"&#13;</e>";
        assert_eq!(
            c14n(doc, &[]),
            "<e a=\"&lt;&amp;>&quot;&#x9;&#xA;&#xD;\">&lt;&amp;&gt;\"&#xD;</e>"
        );
    }

    #[test]
    fn namespace_uris_are_escaped_like_attribute_values() {
        // libxml2 refuses such URIs, so the lxml corpus cannot cover this.
        let doc = r#"<a:e xmlns:a="urn:x?a=1&amp;b=&quot;2&quot;&lt;&#9;"/>"#;
        assert_eq!(
            c14n(doc, &[]),
            r#"<a:e xmlns:a="urn:x?a=1&amp;b=&quot;2&quot;&lt;&#x9;"></a:e>"#
        );
    }

    #[test]
    fn comments_are_dropped_and_pis_kept() {
        let doc = "<e><!-- c --><?pi data?><?empty?></e>";
        assert_eq!(c14n(doc, &[]), "<e><?pi data?><?empty?></e>");
    }
}

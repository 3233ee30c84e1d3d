//! Streaming XML output that declares namespace prefixes as they are needed.

/// Writes well-formed XML into a string. Namespaces are given as URIs; the writer binds each
/// to a prefix on first use (a preferred one if registered, else `ns1`, `ns2`, ...), so callers
/// never juggle prefixes. The default namespace is never used, so unqualified names stay
/// unqualified.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
    /// One frame per open element: its qualified name and the prefixes it declared.
    open: Vec<Frame>,
    start_tag_open: bool,
    next_prefix: usize,
    preferred: Vec<(String, String)>,
}

#[derive(Debug)]
struct Frame {
    qname: String,
    declared: Vec<(String, String)>,
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

    pub fn start_element(&mut self, namespace: Option<&str>, local: &str) {
        self.close_start_tag();
        self.open.push(Frame {
            qname: String::new(),
            declared: Vec::new(),
        });
        let qname = match namespace {
            Some(ns) => format!("{}:{local}", self.prefix_for(ns).0),
            None => local.to_owned(),
        };
        self.out.push('<');
        self.out.push_str(&qname);
        if let Some(frame) = self.open.last_mut() {
            frame.qname = qname;
            for (prefix, uri) in &frame.declared {
                write_declaration(&mut self.out, prefix, uri);
            }
        }
        self.start_tag_open = true;
    }

    /// Adds an attribute to the element just started. Call before any content.
    pub fn attribute(&mut self, namespace: Option<&str>, local: &str, value: &str) {
        debug_assert!(self.start_tag_open, "attribute written after content");
        let prefix = namespace.map(|ns| self.declare_in_tag(ns));
        self.out.push(' ');
        if let Some(prefix) = prefix {
            self.out.push_str(&prefix);
            self.out.push(':');
        }
        self.out.push_str(local);
        self.out.push_str("=\"");
        escape_into(&mut self.out, value, true);
        self.out.push('"');
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
    }

    pub fn end_element(&mut self) {
        let Some(frame) = self.open.pop() else { return };
        if self.start_tag_open {
            self.out.push_str("/>");
            self.start_tag_open = false;
        } else {
            self.out.push_str("</");
            self.out.push_str(&frame.qname);
            self.out.push('>');
        }
    }

    /// Closes every open element and returns the document.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.end_element();
        }
        self.out
    }

    fn close_start_tag(&mut self) {
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
    fn declare_in_tag(&mut self, namespace: &str) -> String {
        let (prefix, new) = self.prefix_for(namespace);
        if new {
            write_declaration(&mut self.out, &prefix, namespace);
        }
        prefix
    }

    /// The prefix bound to `namespace`, recording a new binding on the innermost open element
    /// when none is in scope (`true` in the second field).
    fn prefix_for(&mut self, namespace: &str) -> (String, bool) {
        // `xml` is bound by definition and may not be declared (for `xml:lang`, `xml:id`).
        if namespace == crate::XML_NS {
            return ("xml".to_owned(), false);
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
        let prefix = preferred.unwrap_or_else(|| loop {
            self.next_prefix += 1;
            let candidate = format!("ns{}", self.next_prefix);
            if self.lookup(&candidate).is_none() {
                break candidate;
            }
        });
        if let Some(frame) = self.open.last_mut() {
            frame.declared.push((prefix.clone(), namespace.to_owned()));
        }
        (prefix, true)
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
mod tests {
    use super::*;

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

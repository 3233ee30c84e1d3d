//! Messages as the SOAP console shows them: read by the hardened parser and written again
//! one element a line, indented, with the prefixes and namespace declarations they came
//! with, text escaped as XML (the page escapes it again as HTML); what does not parse is
//! shown as it came.

use std::fmt::Write as _;

use xmlbind::{Document, ElementRef, Limits, NodeRef};

/// `bytes` indented for reading, or as they are (lossily decoded) when not well-formed.
pub fn pretty(bytes: &[u8], limits: &Limits) -> String {
    match Document::parse(bytes, limits) {
        Ok(document) => {
            let mut out = String::new();
            element(&mut out, document.root(), None, 0);
            out
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn qualified(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(prefix) => format!("{prefix}:{local}"),
        None => local.to_owned(),
    }
}

/// Text and attribute values as XML writes them.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn element(out: &mut String, e: ElementRef<'_>, parent: Option<ElementRef<'_>>, depth: usize) {
    let indent = "  ".repeat(depth);
    let name = qualified(e.name().prefix.as_deref(), &e.name().local);
    let _ = write!(out, "{indent}<{name}");
    let inherited: Vec<(Option<&str>, &str)> = parent
        .map(|p| p.scope().iter().collect())
        .unwrap_or_default();
    for (prefix, uri) in e.scope().iter() {
        if !inherited.contains(&(prefix, uri)) {
            let _ = match prefix {
                Some(prefix) => write!(out, " xmlns:{prefix}=\"{uri}\""),
                None => write!(out, " xmlns=\"{uri}\""),
            };
        }
    }
    for attribute in e.attributes() {
        let _ = write!(
            out,
            " {}=\"{}\"",
            qualified(attribute.name.prefix.as_deref(), &attribute.name.local),
            escape(attribute.value)
        );
    }
    let children: Vec<NodeRef<'_>> = e
        .children()
        .filter(|n| !matches!(n, NodeRef::Text(t) if t.trim().is_empty()))
        .collect();
    match children.as_slice() {
        [] => out.push_str("/>\n"),
        [NodeRef::Text(text)] => {
            let _ = writeln!(out, ">{}</{name}>", escape(text));
        }
        _ => {
            out.push_str(">\n");
            for child in children {
                match child {
                    NodeRef::Element(child) => element(out, child, Some(e), depth + 1),
                    NodeRef::Text(text) => {
                        let _ = writeln!(out, "{indent}  {}", escape(text.trim()));
                    }
                    NodeRef::Comment(_) | NodeRef::ProcessingInstruction { .. } => {}
                }
            }
            let _ = writeln!(out, "{indent}</{name}>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_nest_one_a_line_with_their_declarations() {
        let xml = br#"<s:Envelope xmlns:s="urn:s"><s:Body><r xmlns="urn:r" a="1"><v>x &lt; y</v><e/></r></s:Body></s:Envelope>"#;
        assert_eq!(
            pretty(xml, &Limits::default()),
            "<s:Envelope xmlns:s=\"urn:s\">\n  <s:Body>\n    <r xmlns=\"urn:r\" a=\"1\">\n      <v>x &lt; y</v>\n      <e/>\n    </r>\n  </s:Body>\n</s:Envelope>\n"
        );
    }

    #[test]
    fn what_does_not_parse_is_shown_as_it_came() {
        assert_eq!(pretty(b"<html>oops", &Limits::default()), "<html>oops");
    }
}

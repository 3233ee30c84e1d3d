//! S3's XML documents: writing them the way clients parse them, reading request bodies.

use bytes::Bytes;
use xmlbind::{Element, Limits, XmlWriter};

/// The namespace of every S3 2006-03-01 document.
pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
pub const XSI_NS: &str = xmlbind::XSI_NS;

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Writes one S3 reply document.
///
/// The root carries S3's namespace as the *default* namespace and children are unprefixed:
/// s3cmd finds elements by unqualified name after removing exactly that `xmlns="..."`, so a
/// prefixed document (what [`XmlWriter`] makes of namespaced names) would not parse there.
#[derive(Debug)]
pub struct S3Xml {
    writer: XmlWriter,
}

impl S3Xml {
    /// A document whose root element is in S3's namespace.
    pub fn new(root: &str) -> Self {
        let mut writer = XmlWriter::new();
        writer.prefer_prefix(XSI_NS, "xsi");
        writer.start_element(None, root);
        writer.attribute(None, "xmlns", S3_NS);
        Self { writer }
    }

    /// A document without a namespace, as S3's `<Error>` documents are.
    pub fn unqualified(root: &str) -> Self {
        let mut writer = XmlWriter::new();
        writer.start_element(None, root);
        Self { writer }
    }

    pub fn start(&mut self, name: &str) {
        self.writer.start_element(None, name);
    }

    pub fn end(&mut self) {
        self.writer.end_element();
    }

    /// `<name>value</name>`.
    pub fn field(&mut self, name: &str, value: &str) {
        self.writer.start_element(None, name);
        self.writer.text(value);
        self.writer.end_element();
    }

    /// Text inside the element just started (or the root).
    pub fn text(&mut self, value: &str) {
        self.writer.text(value);
    }

    /// `<name>value</name>` when there is a value.
    pub fn optional(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.field(name, value);
        }
    }

    /// An `xsi:type` attribute on the element just started (ACL grantees).
    pub fn xsi_type(&mut self, value: &str) {
        self.writer.attribute(Some(XSI_NS), "type", value);
    }

    pub fn finish(self) -> Bytes {
        let mut out = String::from(DECLARATION);
        out.push_str(&self.writer.finish());
        Bytes::from(out)
    }
}

/// Bounds for request documents: the largest is a CompleteMultipartUpload of 10,000 parts.
const LIMITS: Limits = Limits {
    max_bytes: 4 << 20,
    max_depth: 16,
    max_attributes: 16,
    max_nodes: 200_000,
    max_text: 64 << 10,
};

/// Most bytes read from a request whose body is an XML document.
pub const MAX_DOCUMENT: usize = LIMITS.max_bytes;

/// A request document that is not well-formed, or not the one expected (S3's
/// `MalformedXML`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MalformedXml(pub String);

/// Parses a request document whose root must be `root` (in S3's namespace or in none:
/// clients differ).
pub fn parse(bytes: &[u8], root: &str) -> Result<Element, MalformedXml> {
    let element = xmlbind::parse(bytes, &LIMITS).map_err(|e| MalformedXml(e.to_string()))?;
    if element.name.local != root || !in_s3_namespace(&element) {
        return Err(MalformedXml(format!(
            "expected <{root}>, found <{}>",
            element.name.local
        )));
    }
    Ok(element)
}

fn in_s3_namespace(element: &Element) -> bool {
    element
        .name
        .namespace
        .as_deref()
        .is_none_or(|ns| ns == S3_NS)
}

/// Child elements of `parent` named `local` (S3 namespace or none).
pub fn children<'a>(parent: &'a Element, local: &'a str) -> impl Iterator<Item = &'a Element> {
    parent
        .elements()
        .filter(move |e| e.name.local == local && in_s3_namespace(e))
}

/// The text of the first child named `local`, trimmed.
pub fn child_text(parent: &Element, local: &str) -> Result<Option<String>, MalformedXml> {
    children(parent, local)
        .next()
        .map(|e| {
            e.text()
                .map(|t| t.trim().to_owned())
                .map_err(|e| MalformedXml(e.to_string()))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn documents_use_the_default_namespace_and_escape_text() {
        let mut doc = S3Xml::new("ListBucketResult");
        doc.field("Name", "a<b&c");
        let text = String::from_utf8(doc.finish().to_vec()).unwrap();
        assert_eq!(
            text,
            format!("{DECLARATION}<ListBucketResult xmlns=\"{S3_NS}\"><Name>a&lt;b&amp;c</Name></ListBucketResult>")
        );
    }

    #[test]
    fn request_documents_are_read_with_or_without_namespace() {
        for doc in [
            format!("<Delete xmlns=\"{S3_NS}\"><Quiet>true</Quiet></Delete>"),
            "<Delete><Quiet> true </Quiet></Delete>".to_owned(),
        ] {
            let root = parse(doc.as_bytes(), "Delete").unwrap();
            assert_eq!(child_text(&root, "Quiet").unwrap().as_deref(), Some("true"));
        }
        assert!(parse(b"<Other/>", "Delete").is_err());
        assert!(parse(b"<Delete xmlns=\"urn:x\"/>", "Delete").is_err());
        // Regression guard: no DTDs (entity expansion) in request bodies.
        assert!(parse(
            b"<!DOCTYPE d [<!ENTITY e \"x\">]><Delete>&e;</Delete>",
            "Delete"
        )
        .is_err());
    }
}

//! What both trees share: names, the namespace scopes that resolve them, and the limits on
//! what the reader accepts.

use crate::atom::Atom;
use crate::error::{ErrorKind, Position, XmlError};
use crate::XML_NS;

/// Bounds on what [`crate::parse`] and [`crate::Document::parse`] accept, so that hostile input costs little memory and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    /// Most attributes on one element, and most namespace bindings in scope at one element.
    pub max_attributes: usize,
    pub max_nodes: usize,
    /// Longest text, comment, attribute value or name, in bytes.
    pub max_text: usize,
}

impl Default for Limits {
    /// Generous for any Eucalyptus message (the largest carry user data and console output, or
    /// describe ten thousand instances), while keeping one parsed message under ~100 MB. A
    /// node of a message of small elements costs about 38 bytes in the arena (README, design
    /// notes): a million of them about 38 MB, beside at most `max_bytes` of strings.
    fn default() -> Self {
        Self {
            max_bytes: 16 << 20,
            max_depth: 64,
            max_attributes: 64,
            max_nodes: 1_000_000,
            max_text: 8 << 20,
        }
    }
}

/// An expanded name: the namespace URI decides identity, the prefix is kept only because
/// canonicalization must reproduce it. Its parts are shared with every name that spells them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name {
    pub namespace: Option<Atom>,
    pub local: Atom,
    pub prefix: Option<Atom>,
}

impl Name {
    pub fn is(&self, namespace: Option<&str>, local: &str) -> bool {
        self.local == local && self.namespace.as_deref() == namespace
    }

    /// `{uri}local`, the form used in error messages.
    pub fn expanded(&self) -> String {
        expanded(self.namespace.as_deref(), self.local.as_str())
    }
}

pub(crate) fn expanded(namespace: Option<&str>, local: &str) -> String {
    match namespace {
        Some(ns) => format!("{{{ns}}}{local}"),
        None => local.to_owned(),
    }
}

/// The namespace bindings in scope at an element: `(prefix, uri)`, `None` for the default
/// namespace, innermost binding last. Shared between elements that declare nothing new.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamespaceScope {
    /// Shared strings: an element that declares something copies its parent's bindings.
    bindings: Vec<(Option<Atom>, Atom)>,
}

impl NamespaceScope {
    /// A scope from its bindings, each prefix once.
    pub(crate) fn from_bindings(bindings: Vec<(Option<Atom>, Atom)>) -> Self {
        Self { bindings }
    }

    pub(crate) fn bindings(&self) -> &[(Option<Atom>, Atom)] {
        &self.bindings
    }

    /// The binding of `prefix` (`None` for the default namespace), innermost first; the
    /// reserved `xml` prefix is not among them.
    pub(crate) fn binding(&self, prefix: Option<&str>) -> Option<&(Option<Atom>, Atom)> {
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
    }

    /// The URI bound to `prefix`; `None` asks for the default namespace. An empty URI means
    /// the default namespace was undeclared (`xmlns=""`).
    pub fn resolve(&self, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(XML_NS);
        }
        self.binding(prefix).map(|(_, uri)| uri.as_str())
    }

    /// Every prefix in scope with its current URI, each prefix once, in first-declared order.
    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, &str)> {
        let mut seen: Vec<Option<&str>> = Vec::new();
        let mut out = Vec::new();
        for (p, _) in self.bindings.iter().rev() {
            if !seen.contains(&p.as_deref()) {
                seen.push(p.as_deref());
                out.push((p.as_deref(), self.resolve(p.as_deref()).unwrap_or("")));
            }
        }
        out.reverse();
        out.into_iter()
    }
}

/// Whether an `xsi:nil` value says nil.
pub(crate) fn is_nil_value(value: Option<&str>) -> bool {
    matches!(value, Some(v) if matches!(v.trim(), "true" | "1"))
}

/// A QName-valued attribute's `(namespace, local)`, its prefix resolved in `scope`.
pub(crate) fn resolve_qname_value(
    value: &str,
    scope: &NamespaceScope,
    position: Position,
) -> Result<(Option<String>, String), XmlError> {
    let value = value.trim();
    let (prefix, local) = match value.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, value),
    };
    let uri = match scope.resolve(prefix) {
        Some("") | None if prefix.is_none() => None,
        Some(uri) => Some(uri.to_owned()),
        None => {
            return Err(XmlError::at(
                ErrorKind::UndeclaredPrefix(prefix.unwrap_or_default().to_owned()),
                position,
            ))
        }
    };
    Ok((uri, local.to_owned()))
}

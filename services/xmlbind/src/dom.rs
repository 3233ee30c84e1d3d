//! The owned XML tree, for code that walks documents by hand. The reader's own output is the
//! compact [`Document`]; an [`Element`] is built from it on demand
//! ([`ElementRef::to_element`]).

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{ErrorKind, Position, XmlError};
use crate::names::{is_nil_value, resolve_qname_value, Name, NamespaceScope};
use crate::tree::{AttributeSlot, ChildNodes, Document, ElementRef, ElementSlot, NodeRef, Slot};
use crate::XSI_NS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: Name,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
    Comment(String),
    ProcessingInstruction {
        target: String,
        data: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: Name,
    /// Attributes other than namespace declarations, in document order.
    pub attributes: Vec<Attribute>,
    pub scope: Arc<NamespaceScope>,
    pub children: Vec<Node>,
    pub position: Position,
}

impl Element {
    pub fn attribute(&self, namespace: Option<&str>, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name.is(namespace, local))
            .map(|a| a.value.as_str())
    }

    /// Child elements, skipping text, comments and processing instructions.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The first child element with this name.
    pub fn child(&self, namespace: Option<&str>, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.name.is(namespace, local))
    }

    /// The concatenated text of this element, refusing child elements.
    pub fn text(&self) -> Result<String, XmlError> {
        let mut out = String::new();
        for node in &self.children {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Element(_) => {
                    return Err(XmlError::at(
                        ErrorKind::NotSimpleContent(self.name.expanded()),
                        self.position,
                    ))
                }
                Node::Comment(_) | Node::ProcessingInstruction { .. } => {}
            }
        }
        Ok(out)
    }

    /// True when the element carries `xsi:nil="true"` (or `"1"`).
    pub fn is_nil(&self) -> bool {
        is_nil_value(self.attribute(Some(XSI_NS), "nil"))
    }

    /// Resolves a QName-valued attribute such as `xsi:type` against this element's scope.
    pub fn qname_attribute(
        &self,
        namespace: Option<&str>,
        local: &str,
    ) -> Result<Option<(Option<String>, String)>, XmlError> {
        self.attribute(namespace, local)
            .map(|value| resolve_qname_value(value, &self.scope, self.position))
            .transpose()
    }
}

impl ElementRef<'_> {
    /// This element and its descendants as an owned tree.
    pub fn to_element(self) -> Element {
        let mut scopes: HashMap<*const NamespaceScope, Arc<NamespaceScope>> = HashMap::new();
        let mut open = |element: ElementRef<'_>| Element {
            name: element.name().clone(),
            attributes: element
                .attributes()
                .map(|a| Attribute {
                    name: a.name.clone(),
                    value: a.value.to_owned(),
                })
                .collect(),
            scope: scopes
                .entry(element.scope())
                .or_insert_with(|| Arc::new(element.scope().clone()))
                .clone(),
            children: Vec::new(),
            position: element.position(),
        };
        // Iterative, so that a deep document cannot exhaust the stack: `open_elements` holds
        // the ancestors of the element being filled in, `current`.
        let mut open_elements: Vec<(Element, ChildNodes<'_>)> = Vec::new();
        let mut current = (open(self), self.children());
        loop {
            let node = match current.1.next() {
                Some(NodeRef::Element(child)) => {
                    let child = (open(child), child.children());
                    open_elements.push(std::mem::replace(&mut current, child));
                    continue;
                }
                Some(NodeRef::Text(t)) => Node::Text(t.to_owned()),
                Some(NodeRef::Comment(c)) => Node::Comment(c.to_owned()),
                Some(NodeRef::ProcessingInstruction { target, data }) => {
                    Node::ProcessingInstruction {
                        target: target.to_owned(),
                        data: data.map(str::to_owned),
                    }
                }
                None => match open_elements.pop() {
                    Some(parent) => {
                        let done = std::mem::replace(&mut current, parent);
                        Node::Element(done.0)
                    }
                    None => return current.0,
                },
            };
            current.0.children.push(node);
        }
    }
}

impl From<&Element> for Document {
    /// The arena form of an owned tree, for code that holds one and reads it as generated
    /// code and canonicalization do.
    fn from(root: &Element) -> Self {
        let mut builder = Builder::default();
        let mut stack: Vec<(u32, std::slice::Iter<'_, Node>)> =
            vec![(builder.open(root), root.children.iter())];
        while let Some((open, children)) = stack.last_mut() {
            let slot = match children.next() {
                Some(Node::Element(child)) => {
                    let index = builder.open(child);
                    stack.push((index, child.children.iter()));
                    continue;
                }
                Some(Node::Text(t)) => Slot::Text(builder.document.store(t)),
                Some(Node::Comment(c)) => Slot::Comment(builder.document.store(c)),
                Some(Node::ProcessingInstruction { target, data }) => Slot::ProcessingInstruction {
                    target: builder.document.store(target),
                    data: builder.document.store(data.as_deref().unwrap_or_default()),
                },
                None => {
                    let end = builder.document.slots.len() as u32;
                    if let Some(Slot::Element(e)) = builder.document.slots.get_mut(*open as usize) {
                        e.end = end;
                    }
                    stack.pop();
                    continue;
                }
            };
            builder.document.slots.push(slot);
        }
        builder.document
    }
}

/// Builds a [`Document`] from an owned tree, each name and scope once.
struct Builder {
    document: Document,
    names: HashMap<Name, u32>,
    scopes: HashMap<*const NamespaceScope, u32>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            document: Document {
                slots: Vec::new(),
                attributes: Vec::new(),
                names: Vec::new(),
                scopes: Vec::new(),
                strings: String::new(),
            },
            names: HashMap::new(),
            scopes: HashMap::new(),
        }
    }
}

impl Builder {
    /// Pushes `element`'s slot (its `end` still unknown) and its attributes.
    fn open(&mut self, element: &Element) -> u32 {
        let first_attribute = self.document.attributes.len() as u32;
        for attribute in &element.attributes {
            let slot = AttributeSlot {
                name: self.name(&attribute.name),
                value: self.document.store(&attribute.value),
            };
            self.document.attributes.push(slot);
        }
        let scopes = &mut self.document.scopes;
        let scope = *self
            .scopes
            .entry(Arc::as_ptr(&element.scope))
            .or_insert_with(|| {
                scopes.push(NamespaceScope::clone(&element.scope));
                (scopes.len() - 1) as u32
            });
        let slot = ElementSlot {
            name: self.name(&element.name),
            scope,
            first_attribute,
            end_attribute: self.document.attributes.len() as u32,
            end: 0,
            position: element.position,
        };
        self.document.slots.push(Slot::Element(slot));
        (self.document.slots.len() - 1) as u32
    }

    fn name(&mut self, name: &Name) -> u32 {
        let names = &mut self.document.names;
        *self.names.entry(name.clone()).or_insert_with(|| {
            names.push(name.clone());
            (names.len() - 1) as u32
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{parse, Limits};

    fn parse_default(s: &str) -> Result<Element, XmlError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn names_resolve_by_uri_whatever_the_prefix() {
        let a = parse_default(r#"<ns0:a xmlns:ns0="urn:x"><ns0:b>1</ns0:b></ns0:a>"#).unwrap();
        let b = parse_default(r#"<a xmlns="urn:x"><b>1</b></a>"#).unwrap();
        assert!(a.name.is(Some("urn:x"), "a") && b.name.is(Some("urn:x"), "a"));
        assert_eq!(a.child(Some("urn:x"), "b").unwrap().text().unwrap(), "1");
        assert_eq!(b.child(Some("urn:x"), "b").unwrap().text().unwrap(), "1");
    }

    #[test]
    fn renaming_a_namespace_moves_every_name_in_it_and_no_other() {
        let mut document = Document::parse(
            br#"<a xmlns="urn:old" xmlns:o="urn:other" o:k="v"><b><o:c/></b></a>"#,
            &Limits::default(),
        )
        .unwrap();
        document.rename_namespace("urn:old", "urn:new");
        let tree = document.root().to_element();
        assert!(tree.name.is(Some("urn:new"), "a"));
        assert_eq!(tree.attribute(Some("urn:other"), "k"), Some("v"));
        let b = tree.child(Some("urn:new"), "b").unwrap();
        assert!(b.child(Some("urn:other"), "c").is_some());
    }

    #[test]
    fn names_and_nodes_stay_compact() {
        // Guards the memory per node the design notes state: a name is three atoms of two
        // pointers (its parts shared), a position two 32-bit numbers, and a node no larger
        // than an element.
        assert_eq!(std::mem::size_of::<Name>(), 48);
        assert_eq!(std::mem::size_of::<Position>(), 8);
        assert_eq!(std::mem::size_of::<Node>(), std::mem::size_of::<Element>());
        assert_eq!(std::mem::size_of::<Element>(), 112);
    }

    #[test]
    fn doctype_is_refused() {
        // Billion laughs: must fail at the DOCTYPE, before any expansion.
        let doc =
            r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx"><!ENTITY y "&x;&x;">]><a>&y;</a>"#;
        assert_eq!(parse_default(doc).unwrap_err().kind, ErrorKind::Doctype);
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        let err = parse(b"<a><b><c><d/></c></b></a>", &limits).unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooDeep(3));
        let limits = Limits {
            max_bytes: 4,
            ..Limits::default()
        };
        assert!(matches!(
            parse(b"<a></a>", &limits).unwrap_err().kind,
            ErrorKind::TooLarge { .. }
        ));
        let limits = Limits {
            max_attributes: 2,
            ..Limits::default()
        };
        assert!(parse(br#"<a x="1" y="2" z="3"/>"#, &limits).is_err());
    }

    #[test]
    fn the_default_node_limit_admits_a_large_describe_reply() {
        // Guards the limit raised with the arena: a million nodes, elements and texts.
        let message = |items: usize| format!("<a>{}</a>", "<i>1</i>".repeat(items)).into_bytes();
        assert!(Document::parse(&message(499_999), &Limits::default()).is_ok());
        let err = Document::parse(&message(500_000), &Limits::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooManyNodes(1_000_000));
    }

    #[test]
    fn nil_and_qname_attributes() {
        let e = parse_default(
            r#"<a xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:p="urn:t" xsi:nil="true" xsi:type="p:T"/>"#,
        )
        .unwrap();
        assert!(e.is_nil());
        assert_eq!(
            e.qname_attribute(Some(XSI_NS), "type").unwrap(),
            Some((Some("urn:t".to_owned()), "T".to_owned()))
        );
    }

    #[test]
    fn processing_instruction_data_starts_after_the_separating_spaces() {
        // Regression: xml-rs kept all but one of the spaces, which canonicalization rendered.
        let e = parse_default("<a><?t   data  x ?><?u    ?><?v?></a>").unwrap();
        let pis: Vec<_> = e
            .children
            .iter()
            .map(|n| match n {
                Node::ProcessingInstruction { target, data } => (target.as_str(), data.as_deref()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(pis, [("t", Some("data  x ")), ("u", None), ("v", None)]);
    }

    #[test]
    fn nothing_but_misc_may_follow_the_root() {
        // Regression: parsing stopped at the root's end tag, so a second root or any trailing
        // garbage after a signed envelope went unnoticed.
        for doc in ["<a/><b/>", "<a/>text", "<a/><", "<a/></a>", "<a/>&amp;"] {
            assert!(parse_default(doc).is_err(), "{doc} accepted");
        }
        let a = parse_default("<a/>\n<!-- c --><?pi x?>\n").unwrap();
        assert!(a.name.is(None, "a") && a.children.is_empty());
    }

    #[test]
    fn xml_1_1_is_refused() {
        // Regression: a 1.1 document's control characters canonicalized into bytes that no
        // XML 1.0 parser (nor a signature verifier) accepts.
        let err = parse_default("<?xml version='1.1'?><e>&#x1;</e>").unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Malformed(_)));
        assert!(parse_default("<?xml version='1.0'?><e/>").is_ok());
    }

    #[test]
    fn attribute_and_namespace_floods_hit_their_limits() {
        let limits = Limits {
            max_attributes: 4,
            ..Limits::default()
        };
        let attributes: String = (0..10).map(|i| format!(" a{i}='{i}'")).collect();
        let err = parse(format!("<a{attributes}/>").as_bytes(), &limits).unwrap_err();
        assert_eq!(err.kind, ErrorKind::LimitExceeded);
        // Declarations are not attributes to xml-rs; spread over elements, they add up.
        let nested: String = (0..10)
            .map(|i| format!("<e xmlns:p{i}='urn:{i}'>"))
            .collect();
        let err = parse(format!("{nested}{}", "</e>".repeat(10)).as_bytes(), &limits).unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooManyNamespaces(4));
        let err = parse(
            format!("<a{}/>", attributes.replace(" a", " xmlns:a")).as_bytes(),
            &limits,
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooManyNamespaces(4));
    }

    #[test]
    fn errors_carry_positions() {
        let err = parse_default("<a>\n  <b></c>\n</a>").unwrap_err();
        assert_eq!(err.position.map(|p| p.line), Some(2));
    }
}

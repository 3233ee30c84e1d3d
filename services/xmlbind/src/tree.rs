//! The parsed document: every node in one arena, read through [`ElementRef`] handles.
//!
//! A node is a 32-byte slot in one vector, in document order, so that an element's
//! descendants are the slots up to its `end`; texts, attribute values, comments and
//! processing instructions are ranges of one string (references resolved, so at most the
//! input's size); names and namespace scopes are tables the slots index. Parsing allocates
//! per document, not per node, and dropping a document frees a handful of blocks.

use std::borrow::Cow;
use std::fmt;

use crate::error::{ErrorKind, Position, XmlError};
use crate::names::{is_nil_value, resolve_qname_value, Name, NamespaceScope};
use crate::XSI_NS;

/// A range of a document's strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ElementSlot {
    /// Index in [`Document::names`].
    pub(crate) name: u32,
    /// Index in [`Document::scopes`].
    pub(crate) scope: u32,
    /// The element's attributes: `attributes[first_attribute..end_attribute]`.
    pub(crate) first_attribute: u32,
    pub(crate) end_attribute: u32,
    /// The slot after the element's last descendant (its children start at the next slot).
    pub(crate) end: u32,
    pub(crate) position: Position,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Element(ElementSlot),
    Text(Span),
    Comment(Span),
    /// An empty `data` is an instruction without data.
    ProcessingInstruction {
        target: Span,
        data: Span,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttributeSlot {
    pub(crate) name: u32,
    pub(crate) value: Span,
}

/// A parsed XML document, its root element first. Read it through [`Document::root`].
#[derive(Clone)]
pub struct Document {
    pub(crate) slots: Vec<Slot>,
    pub(crate) attributes: Vec<AttributeSlot>,
    pub(crate) names: Vec<Name>,
    pub(crate) scopes: Vec<NamespaceScope>,
    /// Every text, attribute value, comment and processing instruction, one after another.
    pub(crate) strings: String,
}

impl Document {
    /// The document element.
    pub fn root(&self) -> ElementRef<'_> {
        match self.slots.first() {
            Some(Slot::Element(slot)) => ElementRef {
                document: self,
                slot,
                index: 0,
            },
            // The reader and the conversions always put the root first.
            _ => unreachable!("a document starts with its root element"),
        }
    }

    /// How many nodes (elements, texts, comments and processing instructions) it holds.
    pub fn node_count(&self) -> usize {
        self.slots.len()
    }

    /// Moves every element and attribute named in namespace `from` to namespace `to`, so
    /// that a request of another version with the same shapes reads as the types of this
    /// one (the writer's counterpart is `XmlWriter::rename_namespace`).
    pub fn rename_namespace(&mut self, from: &str, to: &str) {
        let to = crate::Atom::from(to);
        for name in &mut self.names {
            if name.namespace.as_deref() == Some(from) {
                name.namespace = Some(to.clone());
            }
        }
    }

    /// Appends `s` to the strings; its span. Spans are 32-bit: the reader refuses an input
    /// longer than `u32::MAX` bytes, and the strings are no longer than the input.
    pub(crate) fn store(&mut self, s: &str) -> Span {
        let start = self.strings.len() as u32;
        self.strings.push_str(s);
        Span {
            start,
            len: s.len() as u32,
        }
    }

    pub(crate) fn str(&self, span: Span) -> &str {
        let (start, len) = (span.start as usize, span.len as usize);
        self.strings.get(start..start + len).unwrap_or_default()
    }

    fn node(&self, index: u32) -> Option<NodeRef<'_>> {
        Some(match self.slots.get(index as usize)? {
            Slot::Element(slot) => NodeRef::Element(ElementRef {
                document: self,
                slot,
                index,
            }),
            Slot::Text(span) => NodeRef::Text(self.str(*span)),
            Slot::Comment(span) => NodeRef::Comment(self.str(*span)),
            Slot::ProcessingInstruction { target, data } => NodeRef::ProcessingInstruction {
                target: self.str(*target),
                data: (data.len > 0).then(|| self.str(*data)),
            },
        })
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("root", &self.root())
            .field("nodes", &self.slots.len())
            .finish()
    }
}

/// A node of a [`Document`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRef<'a> {
    Element(ElementRef<'a>),
    Text(&'a str),
    Comment(&'a str),
    ProcessingInstruction {
        target: &'a str,
        data: Option<&'a str>,
    },
}

/// An attribute other than a namespace declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeRef<'a> {
    pub name: &'a Name,
    pub value: &'a str,
}

/// An element of a [`Document`]: a copyable handle that reads the arena.
#[derive(Clone, Copy)]
pub struct ElementRef<'a> {
    document: &'a Document,
    slot: &'a ElementSlot,
    index: u32,
}

impl PartialEq for ElementRef<'_> {
    /// The same element of the same document.
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.document, other.document) && self.index == other.index
    }
}

impl Eq for ElementRef<'_> {}

impl fmt::Debug for ElementRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElementRef")
            .field("name", &self.name().expanded())
            .field("position", &self.position())
            .finish()
    }
}

impl<'a> ElementRef<'a> {
    pub fn name(self) -> &'a Name {
        &self.document.names[self.slot.name as usize]
    }

    pub fn position(self) -> Position {
        self.slot.position
    }

    /// The namespace bindings in scope at this element.
    pub fn scope(self) -> &'a NamespaceScope {
        &self.document.scopes[self.slot.scope as usize]
    }

    /// Attributes other than namespace declarations, in document order.
    pub fn attributes(self) -> impl ExactSizeIterator<Item = AttributeRef<'a>> + 'a {
        let document = self.document;
        let range = self.slot.first_attribute as usize..self.slot.end_attribute as usize;
        document.attributes[range]
            .iter()
            .map(move |a| AttributeRef {
                name: &document.names[a.name as usize],
                value: document.str(a.value),
            })
    }

    pub fn attribute(self, namespace: Option<&str>, local: &str) -> Option<&'a str> {
        self.attributes()
            .find(|a| a.name.is(namespace, local))
            .map(|a| a.value)
    }

    /// Text, comment, processing-instruction and element children, in document order.
    pub fn children(self) -> ChildNodes<'a> {
        ChildNodes {
            document: self.document,
            next: self.index + 1,
            end: self.slot.end,
        }
    }

    /// Child elements, skipping text, comments and processing instructions.
    pub fn elements(self) -> impl Iterator<Item = ElementRef<'a>> + 'a {
        self.children().filter_map(|n| match n {
            NodeRef::Element(e) => Some(e),
            _ => None,
        })
    }

    /// This element and every element inside it, in document order: one pass over the
    /// arena's slots, with no stack.
    pub fn subtree(self) -> impl Iterator<Item = ElementRef<'a>> + 'a {
        let document = self.document;
        (self.index..self.slot.end).filter_map(move |at| match document.node(at)? {
            NodeRef::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The first child element with this name.
    pub fn child(self, namespace: Option<&str>, local: &str) -> Option<ElementRef<'a>> {
        self.elements().find(|e| e.name().is(namespace, local))
    }

    /// The concatenated text of this element, refusing child elements; borrowed when the
    /// element holds one text node (or none).
    pub fn text(self) -> Result<Cow<'a, str>, XmlError> {
        let mut out = Cow::Borrowed("");
        for node in self.children() {
            match node {
                NodeRef::Text(t) if out.is_empty() => out = Cow::Borrowed(t),
                NodeRef::Text(t) => out.to_mut().push_str(t),
                NodeRef::Element(_) => {
                    return Err(XmlError::at(
                        ErrorKind::NotSimpleContent(self.name().expanded()),
                        self.position(),
                    ))
                }
                NodeRef::Comment(_) | NodeRef::ProcessingInstruction { .. } => {}
            }
        }
        Ok(out)
    }

    /// True when the element carries `xsi:nil="true"` (or `"1"`).
    pub fn is_nil(self) -> bool {
        is_nil_value(self.attribute(Some(XSI_NS), "nil"))
    }

    /// Resolves a QName-valued attribute such as `xsi:type` against this element's scope.
    pub fn qname_attribute(
        self,
        namespace: Option<&str>,
        local: &str,
    ) -> Result<Option<(Option<String>, String)>, XmlError> {
        self.attribute(namespace, local)
            .map(|value| resolve_qname_value(value, self.scope(), self.position()))
            .transpose()
    }

    /// How many nodes this element and its descendants are.
    pub fn node_count(self) -> usize {
        (self.slot.end - self.index) as usize
    }

    /// This element and its descendants as a document of their own.
    pub fn to_document(self) -> Document {
        let document = self.document;
        let (first, end) = (self.index, self.slot.end);
        let first_attribute = self.slot.first_attribute;
        let slots = document.slots[first as usize..end as usize]
            .iter()
            .map(|slot| match *slot {
                Slot::Element(e) => Slot::Element(ElementSlot {
                    first_attribute: e.first_attribute - first_attribute,
                    end_attribute: e.end_attribute - first_attribute,
                    end: e.end - first,
                    ..e
                }),
                other => other,
            })
            .collect::<Vec<_>>();
        let end_attribute = slots
            .iter()
            .rev()
            .find_map(|slot| match slot {
                Slot::Element(e) => Some(e.end_attribute + first_attribute),
                _ => None,
            })
            .unwrap_or(first_attribute);
        Document {
            slots,
            attributes: document.attributes[first_attribute as usize..end_attribute as usize]
                .to_vec(),
            names: document.names.clone(),
            scopes: document.scopes.clone(),
            strings: document.strings.clone(),
        }
    }
}

/// The children of an element, in document order.
#[derive(Debug, Clone)]
pub struct ChildNodes<'a> {
    document: &'a Document,
    next: u32,
    end: u32,
}

impl<'a> Iterator for ChildNodes<'a> {
    type Item = NodeRef<'a>;

    fn next(&mut self) -> Option<NodeRef<'a>> {
        if self.next >= self.end {
            return None;
        }
        let node = self.document.node(self.next)?;
        self.next = match node {
            NodeRef::Element(e) => e.slot.end,
            _ => self.next + 1,
        };
        Some(node)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Limits;

    #[test]
    fn slots_stay_compact() {
        // Guards the memory per node the design notes state: 32 bytes a node.
        assert_eq!(std::mem::size_of::<Slot>(), 32);
        assert_eq!(std::mem::size_of::<AttributeSlot>(), 12);
    }

    fn parsed(xml: &[u8]) -> Document {
        Document::parse(xml, &Limits::default()).unwrap()
    }

    #[test]
    fn a_subtree_is_its_elements_in_document_order() {
        let doc = parsed(b"<a><b>t<c/></b><!--x--><d><e/></d></a>");
        let names = |e: ElementRef<'_>| {
            e.subtree()
                .map(|e| e.name().local.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(doc.root()), ["a", "b", "c", "d", "e"]);
        let d = doc.root().child(None, "d").unwrap();
        assert_eq!(names(d), ["d", "e"]);
    }

    #[test]
    fn children_skip_over_subtrees() {
        let doc = parsed(b"<a>x<b><c>1</c><d/></b><!--n--><?p d?><e>2</e></a>");
        let kinds: Vec<String> = doc
            .root()
            .children()
            .map(|n| match n {
                NodeRef::Element(e) => e.name().local.to_string(),
                NodeRef::Text(t) => format!("text {t}"),
                NodeRef::Comment(c) => format!("comment {c}"),
                NodeRef::ProcessingInstruction { target, data } => format!("pi {target} {data:?}"),
            })
            .collect();
        assert_eq!(kinds, ["text x", "b", "comment n", "pi p Some(\"d\")", "e"]);
        assert_eq!(doc.root().child(None, "e").unwrap().text().unwrap(), "2");
        assert_eq!(doc.node_count(), 10);
    }

    #[test]
    fn the_owned_tree_and_the_arena_convert_both_ways() {
        let doc = Document::parse(
            br#"<p:a xmlns:p="urn:p" k="1"><b xmlns="urn:d" p:x="&lt;">t&amp;u<!--c--><?pi d?></b><p:c/></p:a>"#,
            &Limits::default(),
        )
        .unwrap();
        let owned = doc.root().to_element();
        let back = Document::from(&owned);
        assert_eq!(back.root().to_element(), owned);
        assert_eq!(back.node_count(), doc.node_count());
        let b = back.root().elements().next().unwrap();
        assert_eq!(b.scope().resolve(Some("p")), Some("urn:p"));
        assert_eq!(b.attribute(Some("urn:p"), "x"), Some("<"));
    }

    #[test]
    fn a_subtree_becomes_a_document_of_its_own() {
        let doc = Document::parse(
            br#"<a k="0"><b x="1"><c y="2">t&amp;u</c></b><d z="3"/></a>"#,
            &Limits::default(),
        )
        .unwrap();
        let b = doc.root().child(None, "b").unwrap();
        let copy = b.to_document();
        assert_eq!(copy.root().attribute(None, "x"), Some("1"));
        let c = copy.root().child(None, "c").unwrap();
        assert_eq!(c.attribute(None, "y"), Some("2"));
        assert_eq!(c.text().unwrap(), "t&u");
        assert_eq!(copy.node_count(), 3);
        assert_eq!(copy.root().to_element(), b.to_element());
    }
}

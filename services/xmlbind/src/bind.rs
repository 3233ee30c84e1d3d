//! The traits generated types implement, and the cursor they read child elements with.

use std::slice;

use crate::dom::{expanded, Element, Node};
use crate::error::{ErrorKind, XmlError};
use crate::value::{Base64Binary, DateTime, XmlText};
use crate::writer::XmlWriter;

/// Reads a value from the element that carries it. The caller has already matched the
/// element's name; the implementation reads attributes and content.
pub trait FromXml: Sized {
    fn from_xml(element: &Element) -> Result<Self, XmlError>;
}

/// Writes a value as an element's attributes and content.
pub trait ToXml {
    /// Writes attributes, then content; the start tag is open.
    fn write_content(&self, w: &mut XmlWriter);

    /// Writes the whole element named `{namespace}local`.
    fn to_xml(&self, w: &mut XmlWriter, namespace: Option<&str>, local: &str) {
        w.start_element(namespace, local);
        self.write_content(w);
        w.end_element();
    }
}

macro_rules! text_binding {
    ($($t:ty),* $(,)?) => {$(
        impl FromXml for $t {
            fn from_xml(element: &Element) -> Result<Self, XmlError> {
                let text = element.text()?;
                <$t as XmlText>::from_text(&text).map_err(|e| e.or_at(element.position))
            }
        }
        impl ToXml for $t {
            fn write_content(&self, w: &mut XmlWriter) {
                w.text(&self.to_text());
            }
        }
    )*};
}
text_binding!(String, i32, i64, u32, u64, f64, bool, DateTime, Base64Binary);

/// Reads the children of an element in schema order, matching names by namespace URI.
#[derive(Debug)]
pub struct Children<'a> {
    parent: &'a Element,
    rest: slice::Iter<'a, Node>,
    next: Option<&'a Element>,
}

impl<'a> Children<'a> {
    pub fn new(parent: &'a Element) -> Result<Self, XmlError> {
        let mut children = Self { parent, rest: parent.children.iter(), next: None };
        children.advance()?;
        Ok(children)
    }

    fn advance(&mut self) -> Result<(), XmlError> {
        self.next = None;
        for node in self.rest.by_ref() {
            match node {
                Node::Element(e) => {
                    self.next = Some(e);
                    break;
                }
                Node::Text(t) if !t.trim().is_empty() => {
                    return Err(XmlError::at(
                        ErrorKind::UnexpectedText(t.trim().chars().take(40).collect()),
                        self.parent.position,
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The next unread child element.
    pub fn peek(&self) -> Option<&'a Element> {
        self.next
    }

    /// Whether the next unread child is `{namespace}local`.
    pub fn peek_is(&self, namespace: Option<&str>, local: &str) -> bool {
        self.next.is_some_and(|e| e.name.is(namespace, local))
    }

    /// Takes the next child if it is `{namespace}local`.
    pub fn take(&mut self, namespace: Option<&str>, local: &str) -> Result<Option<&'a Element>, XmlError> {
        match self.next {
            Some(e) if e.name.is(namespace, local) => {
                self.advance()?;
                Ok(Some(e))
            }
            _ => Ok(None),
        }
    }

    /// A required, non-nillable element.
    pub fn required<T: FromXml>(&mut self, namespace: Option<&str>, local: &str) -> Result<T, XmlError> {
        match self.take(namespace, local)? {
            Some(e) if e.is_nil() => Err(XmlError::at(ErrorKind::UnexpectedNil(e.name.expanded()), e.position)),
            Some(e) => T::from_xml(e).map_err(|err| err.or_at(e.position)),
            None => Err(self.missing(namespace, local)),
        }
    }

    /// A required element that may be `xsi:nil`, read as `None`.
    pub fn nillable<T: FromXml>(&mut self, namespace: Option<&str>, local: &str) -> Result<Option<T>, XmlError> {
        match self.take(namespace, local)? {
            Some(e) => read_nillable(e),
            None => Err(self.missing(namespace, local)),
        }
    }

    /// An element with `minOccurs="0"`. A nil element reads as absent, as the original
    /// stacks treat it.
    pub fn optional<T: FromXml>(&mut self, namespace: Option<&str>, local: &str) -> Result<Option<T>, XmlError> {
        match self.take(namespace, local)? {
            Some(e) => read_nillable(e),
            None => Ok(None),
        }
    }

    /// An element repeated between `min` and `max` (unbounded when `None`) times.
    pub fn repeated<T: FromXml>(
        &mut self,
        namespace: Option<&str>,
        local: &str,
        min: u32,
        max: Option<u32>,
    ) -> Result<Vec<T>, XmlError> {
        let mut out = Vec::new();
        while let Some(e) = self.take(namespace, local)? {
            if max.is_some_and(|m| out.len() >= m as usize) {
                return Err(XmlError::at(
                    ErrorKind::TooManyOccurrences { element: e.name.expanded(), max: max.unwrap_or(0) },
                    e.position,
                ));
            }
            out.push(T::from_xml(e).map_err(|err| err.or_at(e.position))?);
        }
        if out.len() < min as usize {
            return Err(XmlError::at(
                ErrorKind::TooFewOccurrences { element: expanded(namespace, local), min, found: out.len() },
                self.parent.position,
            ));
        }
        Ok(out)
    }

    /// Succeeds only if every child element was read.
    pub fn finish(self) -> Result<(), XmlError> {
        match self.next {
            None => Ok(()),
            Some(e) => Err(XmlError::at(
                ErrorKind::UnexpectedElement { expected: format!("end of {}", self.parent.name.expanded()), found: e.name.expanded() },
                e.position,
            )),
        }
    }

    fn missing(&self, namespace: Option<&str>, local: &str) -> XmlError {
        let expected = expanded(namespace, local);
        match self.next {
            Some(e) => XmlError::at(ErrorKind::UnexpectedElement { expected, found: e.name.expanded() }, e.position),
            None => XmlError::at(ErrorKind::MissingElement(expected), self.parent.position),
        }
    }
}

fn read_nillable<T: FromXml>(e: &Element) -> Result<Option<T>, XmlError> {
    if e.is_nil() {
        Ok(None)
    } else {
        T::from_xml(e).map(Some).map_err(|err| err.or_at(e.position))
    }
}

/// Writes `value`, or an empty element with `xsi:nil="true"` when it is `None`.
pub fn write_nillable<T: ToXml>(w: &mut XmlWriter, namespace: Option<&str>, local: &str, value: Option<&T>) {
    match value {
        Some(v) => v.to_xml(w, namespace, local),
        None => {
            w.start_element(namespace, local);
            w.attribute(Some(crate::XSI_NS), "nil", "true");
            w.end_element();
        }
    }
}

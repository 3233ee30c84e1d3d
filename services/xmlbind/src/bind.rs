//! The traits generated types implement, and the cursor they read child elements with.

use crate::error::{ErrorKind, XmlError};
use crate::names::expanded;
use crate::tree::{ChildNodes, ElementRef, NodeRef};
use crate::value::{Base64Binary, DateTime, XmlText};
use crate::writer::XmlWriter;

/// Reads a value from the element that carries it. The caller has already matched the
/// element's name; the implementation reads attributes and content.
pub trait FromXml: Sized {
    fn from_xml(element: ElementRef<'_>) -> Result<Self, XmlError>;
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

/// Reads a simple-typed element's text as `T`; errors name the element and its position.
pub fn text_value<T: XmlText>(element: ElementRef<'_>) -> Result<T, XmlError> {
    T::from_text(&element.text()?).map_err(|e| {
        e.or_at(element.position())
            .in_element(|| element.name().expanded())
    })
}

macro_rules! text_binding {
    ($($t:ty),* $(,)?) => {$(
        impl FromXml for $t {
            fn from_xml(element: ElementRef<'_>) -> Result<Self, XmlError> {
                text_value(element)
            }
        }
        impl ToXml for $t {
            fn write_content(&self, w: &mut XmlWriter) {
                w.text(&self.to_text());
            }
        }
    )*};
}
text_binding!(
    String,
    i32,
    i64,
    u32,
    u64,
    f64,
    bool,
    DateTime,
    Base64Binary
);

/// A group of alternative child elements (`xs:choice`), read from and written into the content
/// of the element that holds it.
pub trait Choice: Sized {
    /// Namespace and local name of each alternative, for error messages.
    const ELEMENTS: &'static [(Option<&'static str>, &'static str)];

    /// Reads one alternative when the next child element starts one; `None` otherwise.
    fn read_choice(children: &mut Children<'_>) -> Result<Option<Self>, XmlError>;

    /// Writes the chosen alternative as a child element.
    fn write_choice(&self, w: &mut XmlWriter);
}

/// Reads an optional attribute as a simple value.
pub fn attribute_value<T: XmlText>(
    element: ElementRef<'_>,
    namespace: Option<&str>,
    local: &str,
) -> Result<Option<T>, XmlError> {
    element
        .attribute(namespace, local)
        .map(|v| T::from_text(v).map_err(|e| e.or_at(element.position())))
        .transpose()
}

/// Reads a required attribute as a simple value.
pub fn required_attribute_value<T: XmlText>(
    element: ElementRef<'_>,
    namespace: Option<&str>,
    local: &str,
) -> Result<T, XmlError> {
    attribute_value(element, namespace, local)?.ok_or_else(|| {
        XmlError::at(
            ErrorKind::MissingAttribute(expanded(namespace, local)),
            element.position(),
        )
    })
}

/// Checks an attribute whose value the schema fixes (`fixed="..."`): when present it must
/// hold exactly that value, and it must be present when `required`.
pub fn check_fixed_attribute(
    element: ElementRef<'_>,
    namespace: Option<&str>,
    local: &str,
    fixed: &str,
    required: bool,
) -> Result<(), XmlError> {
    match element.attribute(namespace, local) {
        Some(value) if value == fixed => Ok(()),
        Some(value) => Err(XmlError::at(
            ErrorKind::InvalidValue {
                kind: "fixed attribute",
                value: format!(
                    "{}={value:?} (fixed to {fixed:?})",
                    expanded(namespace, local)
                ),
            },
            element.position(),
        )),
        None if required => Err(XmlError::at(
            ErrorKind::MissingAttribute(expanded(namespace, local)),
            element.position(),
        )),
        None => Ok(()),
    }
}

/// Reads the children of an element in schema order, matching names by namespace URI.
#[derive(Debug)]
pub struct Children<'a> {
    parent: ElementRef<'a>,
    rest: ChildNodes<'a>,
    next: Option<ElementRef<'a>>,
    /// Whether text between the child elements is allowed (`mixed="true"`) and skipped.
    mixed: bool,
}

impl<'a> Children<'a> {
    /// Element-only content: text other than whitespace is an error.
    pub fn new(parent: ElementRef<'a>) -> Result<Self, XmlError> {
        Self::start(parent, false)
    }

    /// Mixed content (`mixed="true"`): text between the child elements is skipped.
    pub fn mixed(parent: ElementRef<'a>) -> Result<Self, XmlError> {
        Self::start(parent, true)
    }

    fn start(parent: ElementRef<'a>, mixed: bool) -> Result<Self, XmlError> {
        let mut children = Self {
            parent,
            rest: parent.children(),
            next: None,
            mixed,
        };
        children.advance()?;
        Ok(children)
    }

    fn advance(&mut self) -> Result<(), XmlError> {
        self.next = None;
        for node in self.rest.by_ref() {
            match node {
                NodeRef::Element(e) => {
                    self.next = Some(e);
                    break;
                }
                NodeRef::Text(t) if !self.mixed && !t.trim().is_empty() => {
                    return Err(XmlError::at(
                        ErrorKind::UnexpectedText(t.trim().chars().take(40).collect()),
                        self.parent.position(),
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The next unread child element.
    pub fn peek(&self) -> Option<ElementRef<'a>> {
        self.next
    }

    /// Whether the next unread child is `{namespace}local`.
    pub fn peek_is(&self, namespace: Option<&str>, local: &str) -> bool {
        self.next.is_some_and(|e| e.name().is(namespace, local))
    }

    /// Takes the next child if it is `{namespace}local`.
    pub fn take(
        &mut self,
        namespace: Option<&str>,
        local: &str,
    ) -> Result<Option<ElementRef<'a>>, XmlError> {
        match self.next {
            Some(e) if e.name().is(namespace, local) => {
                self.advance()?;
                Ok(Some(e))
            }
            _ => Ok(None),
        }
    }

    /// A required, non-nillable element.
    pub fn required<T: FromXml>(
        &mut self,
        namespace: Option<&str>,
        local: &str,
    ) -> Result<T, XmlError> {
        match self.take(namespace, local)? {
            Some(e) if e.is_nil() => Err(XmlError::at(
                ErrorKind::UnexpectedNil(e.name().expanded()),
                e.position(),
            )),
            Some(e) => T::from_xml(e).map_err(|err| err.or_at(e.position())),
            None => Err(self.missing(namespace, local)),
        }
    }

    /// A required element that may be `xsi:nil`, read as `None`.
    pub fn nillable<T: FromXml>(
        &mut self,
        namespace: Option<&str>,
        local: &str,
    ) -> Result<Option<T>, XmlError> {
        match self.take(namespace, local)? {
            Some(e) => read_nillable(e),
            None => Err(self.missing(namespace, local)),
        }
    }

    /// An element with `minOccurs="0"`. A nil element reads as absent, as the original
    /// stacks treat it.
    pub fn optional<T: FromXml>(
        &mut self,
        namespace: Option<&str>,
        local: &str,
    ) -> Result<Option<T>, XmlError> {
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
        self.repeat(namespace, local, min, max, false)
    }

    /// A repeated element that may be `xsi:nil`: nil occurrences count towards `min` and
    /// `max` but carry no value, so they are left out of the result.
    pub fn repeated_nillable<T: FromXml>(
        &mut self,
        namespace: Option<&str>,
        local: &str,
        min: u32,
        max: Option<u32>,
    ) -> Result<Vec<T>, XmlError> {
        self.repeat(namespace, local, min, max, true)
    }

    fn repeat<T: FromXml>(
        &mut self,
        namespace: Option<&str>,
        local: &str,
        min: u32,
        max: Option<u32>,
        nillable: bool,
    ) -> Result<Vec<T>, XmlError> {
        let mut out = Vec::new();
        let mut found = 0usize;
        while let Some(e) = self.take(namespace, local)? {
            if max.is_some_and(|m| found >= m as usize) {
                return Err(XmlError::at(
                    ErrorKind::TooManyOccurrences {
                        element: e.name().expanded(),
                        max: max.unwrap_or(0),
                    },
                    e.position(),
                ));
            }
            found += 1;
            if nillable && e.is_nil() {
                continue;
            }
            out.push(T::from_xml(e).map_err(|err| err.or_at(e.position()))?);
        }
        if found < min as usize {
            return Err(XmlError::at(
                ErrorKind::TooFewOccurrences {
                    element: expanded(namespace, local),
                    min,
                    found,
                },
                self.parent.position(),
            ));
        }
        Ok(out)
    }

    /// A required `xs:choice`: one of `T`'s alternatives must come next.
    pub fn choice<T: Choice>(&mut self) -> Result<T, XmlError> {
        match T::read_choice(self)? {
            Some(value) => Ok(value),
            None => Err(self.missing_choice::<T>()),
        }
    }

    /// An `xs:choice` with `minOccurs="0"`.
    pub fn optional_choice<T: Choice>(&mut self) -> Result<Option<T>, XmlError> {
        T::read_choice(self)
    }

    /// An `xs:choice` repeated between `min` and `max` (unbounded when `None`) times.
    pub fn repeated_choice<T: Choice>(
        &mut self,
        min: u32,
        max: Option<u32>,
    ) -> Result<Vec<T>, XmlError> {
        let mut out = Vec::new();
        while max.is_none_or(|m| out.len() < m as usize) {
            match T::read_choice(self)? {
                Some(value) => out.push(value),
                None => break,
            }
        }
        if out.len() < min as usize {
            return Err(match self.next {
                Some(_) => self.missing_choice::<T>(),
                None => XmlError::at(
                    ErrorKind::TooFewOccurrences {
                        element: alternatives::<T>(),
                        min,
                        found: out.len(),
                    },
                    self.parent.position(),
                ),
            });
        }
        Ok(out)
    }

    /// Succeeds only if every child element was read.
    pub fn finish(self) -> Result<(), XmlError> {
        match self.next {
            None => Ok(()),
            Some(e) => Err(XmlError::at(
                ErrorKind::UnexpectedElement {
                    expected: format!("end of {}", self.parent.name().expanded()),
                    found: e.name().expanded(),
                },
                e.position(),
            )),
        }
    }

    fn missing(&self, namespace: Option<&str>, local: &str) -> XmlError {
        self.missing_expected(expanded(namespace, local))
    }

    fn missing_choice<T: Choice>(&self) -> XmlError {
        self.missing_expected(alternatives::<T>())
    }

    fn missing_expected(&self, expected: String) -> XmlError {
        match self.next {
            Some(e) => XmlError::at(
                ErrorKind::UnexpectedElement {
                    expected,
                    found: e.name().expanded(),
                },
                e.position(),
            ),
            None => XmlError::at(ErrorKind::MissingElement(expected), self.parent.position()),
        }
    }
}

/// `one of {ns}a, {ns}b`: the alternatives of a choice, for error messages.
fn alternatives<T: Choice>() -> String {
    let names: Vec<String> = T::ELEMENTS
        .iter()
        .map(|(ns, local)| expanded(*ns, local))
        .collect();
    format!("one of {}", names.join(", "))
}

fn read_nillable<T: FromXml>(e: ElementRef<'_>) -> Result<Option<T>, XmlError> {
    if e.is_nil() {
        Ok(None)
    } else {
        T::from_xml(e)
            .map(Some)
            .map_err(|err| err.or_at(e.position()))
    }
}

/// Writes `value`, or an empty element with `xsi:nil="true"` when it is `None`.
pub fn write_nillable<T: ToXml>(
    w: &mut XmlWriter,
    namespace: Option<&str>,
    local: &str,
    value: Option<&T>,
) {
    match value {
        Some(v) => v.to_xml(w, namespace, local),
        None => {
            w.start_element(namespace, local);
            w.attribute(Some(crate::XSI_NS), "nil", "true");
            w.end_element();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{Document, Limits};

    const NS: Option<&str> = Some("urn:t");

    fn doc(xml: &str) -> Document {
        Document::parse(xml.as_bytes(), &Limits::default()).unwrap()
    }

    #[derive(Debug, PartialEq)]
    enum AorB {
        A(i32),
        B(String),
    }

    impl Choice for AorB {
        const ELEMENTS: &'static [(Option<&'static str>, &'static str)] = &[(NS, "a"), (NS, "b")];
        fn read_choice(c: &mut Children<'_>) -> Result<Option<Self>, XmlError> {
            if c.peek_is(NS, "a") {
                return c.required(NS, "a").map(|v| Some(Self::A(v)));
            }
            if c.peek_is(NS, "b") {
                return c.required(NS, "b").map(|v| Some(Self::B(v)));
            }
            Ok(None)
        }
        fn write_choice(&self, w: &mut XmlWriter) {
            match self {
                Self::A(v) => v.to_xml(w, NS, "a"),
                Self::B(v) => v.to_xml(w, NS, "b"),
            }
        }
    }

    #[test]
    fn choices_read_in_order_and_name_their_alternatives_when_missing() {
        let e = doc(r#"<r xmlns="urn:t"><b>x</b><a>1</a><a>2</a><c/></r>"#);
        let mut c = Children::new(e.root()).unwrap();
        assert_eq!(c.choice::<AorB>().unwrap(), AorB::B("x".into()));
        assert_eq!(
            c.repeated_choice::<AorB>(1, Some(5)).unwrap(),
            vec![AorB::A(1), AorB::A(2)]
        );
        assert_eq!(c.optional_choice::<AorB>().unwrap(), None);
        let err = c.choice::<AorB>().unwrap_err();
        assert_eq!(
            err.kind,
            ErrorKind::UnexpectedElement {
                expected: "one of {urn:t}a, {urn:t}b".into(),
                found: "{urn:t}c".into()
            }
        );
    }

    #[test]
    fn repeated_nillable_skips_nil_items_but_counts_them() {
        let e = doc(
            r#"<r xmlns="urn:t" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><i>1</i><i xsi:nil="true"/><i>3</i></r>"#,
        );
        let mut c = Children::new(e.root()).unwrap();
        assert_eq!(
            c.repeated_nillable::<i32>(NS, "i", 0, None).unwrap(),
            vec![1, 3]
        );
        let mut c = Children::new(e.root()).unwrap();
        assert!(c.repeated_nillable::<i32>(NS, "i", 0, Some(2)).is_err());
        // Without nillable, a nil item is read as its (invalid) empty content.
        let mut c = Children::new(e.root()).unwrap();
        assert!(c.repeated::<i32>(NS, "i", 0, None).is_err());
    }

    #[test]
    fn mixed_content_skips_text_that_element_only_content_refuses() {
        let e = doc(r#"<r xmlns="urn:t">text<a>1</a>more</r>"#);
        assert!(Children::new(e.root()).is_err());
        let mut c = Children::mixed(e.root()).unwrap();
        assert_eq!(c.required::<i32>(NS, "a").unwrap(), 1);
        c.finish().unwrap();
    }

    #[test]
    fn attributes_are_typed_and_fixed_values_checked() {
        let e = doc(r#"<r n="7" version="1.0" bad="x"/>"#);
        assert_eq!(
            attribute_value::<i32>(e.root(), None, "n").unwrap(),
            Some(7)
        );
        assert_eq!(
            attribute_value::<i32>(e.root(), None, "missing").unwrap(),
            None
        );
        assert!(attribute_value::<i32>(e.root(), None, "bad").is_err());
        assert_eq!(
            required_attribute_value::<i32>(e.root(), None, "missing")
                .unwrap_err()
                .kind,
            ErrorKind::MissingAttribute("missing".into())
        );
        check_fixed_attribute(e.root(), None, "version", "1.0", true).unwrap();
        assert!(check_fixed_attribute(e.root(), None, "version", "2.0", true).is_err());
        assert!(check_fixed_attribute(e.root(), None, "encoding", "base64", true).is_err());
        check_fixed_attribute(e.root(), None, "encoding", "base64", false).unwrap();
    }
}

use std::fmt;

/// Line and column (both from 1) in the input. Every element carries one, so they are 32
/// bits: a message is far below 4 GiB (`Limits::max_bytes`); past that they saturate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// What went wrong while reading or writing XML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("document type declarations are not accepted")]
    Doctype,
    #[error("message of {size} bytes exceeds the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("elements nested deeper than {0}")]
    TooDeep(usize),
    #[error("more than {0} attributes on one element")]
    TooManyAttributes(usize),
    #[error("more than {0} namespace bindings in scope")]
    TooManyNamespaces(usize),
    #[error("more attributes on an element, or a longer name, attribute value or text, than the limits allow")]
    LimitExceeded,
    #[error("more than {0} nodes in the document")]
    TooManyNodes(usize),
    #[error("expected element {expected}, found {found}")]
    UnexpectedElement { expected: String, found: String },
    #[error("missing required element {0}")]
    MissingElement(String),
    #[error("element {element} occurs more than {max} times")]
    TooManyOccurrences { element: String, max: u32 },
    #[error("element {element} occurs {found} times, at least {min} required")]
    TooFewOccurrences {
        element: String,
        min: u32,
        found: usize,
    },
    #[error("unexpected text {0:?} in element-only content")]
    UnexpectedText(String),
    #[error("element {0} must hold text only")]
    NotSimpleContent(String),
    #[error("element {0} is nil but not nillable")]
    UnexpectedNil(String),
    #[error("invalid {kind} value {value:?}")]
    InvalidValue { kind: &'static str, value: String },
    #[error("missing required attribute {0}")]
    MissingAttribute(String),
    #[error("unknown xsi:type {0}")]
    UnknownType(String),
    #[error("undeclared namespace prefix {0:?}")]
    UndeclaredPrefix(String),
}

/// An [`ErrorKind`] with the place in the input where it was found, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    pub kind: ErrorKind,
    pub position: Option<Position>,
    /// The element whose content was wrong, `{uri}local`, when known.
    pub element: Option<String>,
}

impl XmlError {
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            position: None,
            element: None,
        }
    }

    pub fn at(kind: ErrorKind, position: Position) -> Self {
        Self {
            kind,
            position: Some(position),
            element: None,
        }
    }

    /// Keeps an existing position; adds `position` only when none is known yet.
    #[must_use]
    pub fn or_at(mut self, position: Position) -> Self {
        self.position.get_or_insert(position);
        self
    }

    /// Names the element the error was found in, unless a nearer one is already named.
    #[must_use]
    pub fn in_element(mut self, element: impl FnOnce() -> String) -> Self {
        if self.element.is_none() {
            self.element = Some(element());
        }
        self
    }
}

impl From<ErrorKind> for XmlError {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(element) = &self.element {
            write!(f, " in element {element}")?;
        }
        if let Some(p) = self.position {
            write!(f, " (line {}, column {})", p.line, p.column)?;
        }
        Ok(())
    }
}

impl std::error::Error for XmlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

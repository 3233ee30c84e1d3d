//! What the generator knows of a WSDL document once it is parsed: operations bound to SOAP,
//! global elements and the complex and simple types they use. References are resolved to
//! indices, so the emitters never look names up.

use std::path::PathBuf;

use crate::error::Location;

/// An expanded XML name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QName {
    pub namespace: Option<String>,
    pub local: String,
}

impl QName {
    pub fn new(namespace: Option<&str>, local: &str) -> Self {
        Self {
            namespace: namespace.map(str::to_owned),
            local: local.to_owned(),
        }
    }
}

impl std::fmt::Display for QName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{{{ns}}}{}", self.local),
            None => f.write_str(&self.local),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComplexId(pub usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SimpleId(pub usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ElementId(pub usize);

/// Identifies one `xs:choice`; every reference to the same named group shares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChoiceId(pub usize);

#[derive(Debug)]
pub struct Model {
    /// The WSDL file.
    pub source: PathBuf,
    pub target_namespace: String,
    pub port_types: Vec<PortType>,
    pub elements: Vec<GlobalElement>,
    pub complex_types: Vec<ComplexType>,
    pub simple_types: Vec<SimpleType>,
}

impl Model {
    pub fn complex(&self, id: ComplexId) -> &ComplexType {
        &self.complex_types[id.0]
    }

    pub fn simple(&self, id: SimpleId) -> &SimpleType {
        &self.simple_types[id.0]
    }

    pub fn element(&self, id: ElementId) -> &GlobalElement {
        &self.elements[id.0]
    }
}

/// A portType with the SOAP binding of each operation.
#[derive(Debug)]
pub struct PortType {
    pub name: String,
    /// The `wsdl:service` that exposes the portType, else the portType's own name.
    pub service: String,
    pub operations: Vec<Operation>,
    pub at: Location,
}

/// A document/literal request-response operation.
#[derive(Debug)]
pub struct Operation {
    pub name: String,
    /// From the binding's `soap:operation`; empty when it declares none.
    pub soap_action: String,
    pub input: ElementId,
    pub output: ElementId,
    pub at: Location,
}

#[derive(Debug)]
pub struct GlobalElement {
    pub name: QName,
    pub ty: TypeRef,
    pub nillable: bool,
    pub at: Location,
}

/// The type of an element or attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeRef {
    Builtin(Builtin),
    Complex(ComplexId),
    Simple(SimpleId),
}

/// The XML Schema built-in types the generator maps to Rust types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    String,
    Int,
    Long,
    UnsignedInt,
    UnsignedLong,
    Boolean,
    Double,
    DateTime,
    Base64Binary,
}

impl Builtin {
    /// The built-in type of this local name in the XML Schema namespace, if supported.
    pub fn from_local(local: &str) -> Option<Self> {
        Some(match local {
            "string" | "normalizedString" | "token" | "anyURI" | "QName" | "NCName" | "Name"
            | "language" | "NMTOKEN" | "ID" | "IDREF" => Self::String,
            "int" => Self::Int,
            "long" | "integer" => Self::Long,
            "unsignedInt" => Self::UnsignedInt,
            "unsignedLong" => Self::UnsignedLong,
            "boolean" => Self::Boolean,
            "double" | "float" => Self::Double,
            "dateTime" => Self::DateTime,
            "base64Binary" => Self::Base64Binary,
            _ => return None,
        })
    }
}

/// Where a type's name comes from; anonymous types are named after the element holding them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeName {
    /// A global, named type.
    Named(QName),
    /// The anonymous type of a global element.
    Element(QName),
    /// The anonymous type of a local element or attribute of `parent`.
    Local {
        parent: Box<TypeName>,
        element: String,
    },
}

impl TypeName {
    /// The schema's own name for the type, or the name of the element holding it.
    pub fn local(&self) -> &str {
        match self {
            Self::Named(q) | Self::Element(q) => &q.local,
            Self::Local { element, .. } => element,
        }
    }
}

#[derive(Debug)]
pub struct ComplexType {
    pub name: TypeName,
    pub is_abstract: bool,
    /// The base of a `complexContent` extension; its attributes and particles come first.
    pub base: Option<ComplexId>,
    /// Text between child elements is allowed and ignored.
    pub mixed: bool,
    pub content: Content,
    pub attributes: Vec<Attribute>,
    pub at: Location,
}

#[derive(Debug)]
pub enum Content {
    /// A sequence of particles (nested sequences and sequence groups are flattened); empty
    /// for an empty type.
    Elements(Vec<Particle>),
    /// `simpleContent`: a text value of this simple type.
    Simple(TypeRef),
}

#[derive(Debug)]
pub enum Particle {
    Element(ElementParticle),
    Choice(ChoiceParticle),
}

/// A local element or element reference.
#[derive(Debug, Clone)]
pub struct ElementParticle {
    /// Qualified by the target namespace when the element form is qualified.
    pub name: QName,
    pub ty: TypeRef,
    pub occurs: Occurs,
    pub nillable: bool,
    pub at: Location,
}

#[derive(Debug, Clone)]
pub struct ChoiceParticle {
    pub id: ChoiceId,
    /// The type whose content declares the choice (the first one, for a shared group).
    pub owner: ComplexId,
    /// The named group the choice comes from.
    pub group: Option<QName>,
    /// Position among the unnamed choices of `owner`, from 1.
    pub ordinal: usize,
    pub occurs: Occurs,
    /// Each alternative is a single element (`minOccurs` and `maxOccurs` 1).
    pub alternatives: Vec<ElementParticle>,
    pub at: Location,
}

/// `minOccurs`/`maxOccurs`; `max` is `None` for `unbounded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurs {
    pub min: u32,
    pub max: Option<u32>,
}

impl Occurs {
    pub const ONCE: Occurs = Occurs {
        min: 1,
        max: Some(1),
    };

    pub fn is_repeated(self) -> bool {
        self.max != Some(1)
    }
}

#[derive(Debug)]
pub struct Attribute {
    pub name: QName,
    /// A built-in or simple type.
    pub ty: TypeRef,
    pub required: bool,
    /// The value the schema fixes; such an attribute has no Rust field.
    pub fixed: Option<String>,
    pub at: Location,
}

#[derive(Debug)]
pub struct SimpleType {
    pub name: TypeName,
    pub kind: SimpleKind,
    pub at: Location,
}

#[derive(Debug)]
pub enum SimpleKind {
    /// A restriction by enumeration: the exact lexical values, in schema order.
    Enumeration(Vec<String>),
    /// A restriction without enumeration (its other facets are not checked): an alias.
    Alias(TypeRef),
}

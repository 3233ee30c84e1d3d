//! The structure of every generated service's requests, as data: per portType its operations
//! and, for each, the request element's tree (names, XML Schema types, occurrences, nested
//! complex types). Codegen emits one [`Service`] per portType (`nc::EUCALYPTUS_NC_CATALOG`)
//! from the same model the generated types come from, so generic clients — the console's
//! SOAP page — build any request without code per operation.
//!
//! Types that contain themselves are cyclic references between statics; walkers bound their
//! depth ([`form`]).

pub mod form;

/// One portType: its operations in WSDL order.
#[derive(Debug)]
pub struct Service {
    /// The portType's name (`EucalyptusNC`).
    pub port_type: &'static str,
    /// The `wsdl:service` exposing it (else the portType's name).
    pub service: &'static str,
    /// The WSDL's target namespace.
    pub namespace: &'static str,
    pub operations: &'static [Operation],
}

impl Service {
    pub fn operation(&self, name: &str) -> Option<&'static Operation> {
        self.operations.iter().find(|o| o.soap.name == name)
    }
}

/// One operation: the generated operations table's entry (SOAPAction, request and response
/// element names) and the request element's structure.
#[derive(Debug)]
pub struct Operation {
    pub soap: &'static soap::Operation,
    pub request: Element,
}

/// An element: a global request element or a member of a complex type.
#[derive(Debug)]
pub struct Element {
    pub namespace: Option<&'static str>,
    pub name: &'static str,
    pub occurs: Occurs,
    pub nillable: bool,
    pub ty: Type,
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

#[derive(Debug, Clone, Copy)]
pub enum Type {
    Simple(Simple),
    Complex(&'static Complex),
    /// A type others extend: the concrete types an element may hold, told apart by
    /// `xsi:type`, the base first when it is concrete.
    Derived(&'static [Variant]),
}

/// A concrete type an element of a derived type may hold, and its `xsi:type` name.
#[derive(Debug)]
pub struct Variant {
    pub namespace: Option<&'static str>,
    pub name: &'static str,
    pub ty: &'static Complex,
}

/// A simple type: a built-in one or an enumeration (other restrictions are their base's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simple {
    Builtin(Builtin),
    Enumeration(&'static [&'static str]),
}

/// The XML Schema built-in types the generator supports (aliases folded in: `token` is a
/// `String`, `integer` a `Long`, `float` a `Double`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// The XML Schema name of the type, as forms show it.
    pub fn xsd_name(self) -> &'static str {
        match self {
            Self::String => "xs:string",
            Self::Int => "xs:int",
            Self::Long => "xs:long",
            Self::UnsignedInt => "xs:unsignedInt",
            Self::UnsignedLong => "xs:unsignedLong",
            Self::Boolean => "xs:boolean",
            Self::Double => "xs:double",
            Self::DateTime => "xs:dateTime",
            Self::Base64Binary => "xs:base64Binary",
        }
    }
}

/// A complex type: its members in document order, a base type's first.
#[derive(Debug)]
pub struct Complex {
    /// The schema's name of the type, or of the element holding an anonymous one.
    pub name: &'static str,
    pub members: &'static [Member],
}

#[derive(Debug)]
pub enum Member {
    Attribute(Attribute),
    /// The text of a simple-content type.
    Text(Simple),
    Element(Element),
    Choice(Choice),
}

#[derive(Debug)]
pub struct Attribute {
    pub namespace: Option<&'static str>,
    pub name: &'static str,
    pub ty: Simple,
    pub required: bool,
    /// The value the schema fixes.
    pub fixed: Option<&'static str>,
}

/// An `xs:choice` whose alternatives are single elements.
#[derive(Debug)]
pub struct Choice {
    pub occurs: Occurs,
    pub alternatives: &'static [Element],
}

/// Every service this crate generates, in the order of [`crate`]'s modules.
pub static SERVICES: [&Service; 12] = [
    &crate::nc::EUCALYPTUS_NC_CATALOG,
    &crate::cc::EUCALYPTUS_CC_CATALOG,
    &crate::nc_sensors::EUCALYPTUS_NC_SENSORS_CATALOG,
    &crate::cc_sensors::EUCALYPTUS_CC_SENSORS_CATALOG,
    &crate::cc_nodes::EUCALYPTUS_CC_NODES_CATALOG,
    &crate::gl::EUCALYPTUS_GL_CATALOG,
    &crate::s3::AMAZON_S3_CATALOG,
    &crate::storage::STORAGE_CONTROLLER_CATALOG,
    &crate::ec2::AMAZON_EC2_PORT_TYPE_CATALOG,
    &crate::ec2_additions::AMAZON_EC2_ADDITIONS_PORT_TYPE_CATALOG,
    &crate::iam::IAM_PORT_TYPE_CATALOG,
    &crate::cloudwatch::CLOUD_WATCH_PORT_TYPE_CATALOG,
];

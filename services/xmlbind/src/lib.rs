//! XML runtime shared by the generated wire types, the SOAP layer and the WSDL generator.
//!
//! Untrusted XML is read into a compact [`Document`] (every node in one arena, read through
//! [`ElementRef`] handles) by [`Document::parse`], which refuses DTDs and enforces [`Limits`]
//! on size, depth, attributes and node count; [`parse`] reads the same way into an owned
//! [`Element`] tree for code that walks documents by hand. Names are always compared by
//! namespace URI, never by prefix, because every SOAP stack picks its own prefixes.
//! Generated types implement [`FromXml`] and [`ToXml`]; [`Children`] and [`XmlWriter`] are the
//! building blocks they use.

mod atom;
mod bind;
mod dom;
mod error;
mod names;
mod reader;
mod sample;
mod tree;
mod value;
mod writer;

pub use atom::{Atom, Vocabulary};
pub use bind::{
    attribute_value, check_fixed_attribute, required_attribute_value, text_value, write_nillable,
    Children, Choice, FromXml, ToXml,
};
pub use dom::{Attribute, Element, Node};
pub use error::{ErrorKind, Position, XmlError};
pub use names::{Limits, Name, NamespaceScope};
pub use reader::parse;
pub use sample::Sample;
pub use tree::{AttributeRef, ChildNodes, Document, ElementRef, NodeRef};
pub use value::{Base64Binary, DateTime, XmlText};
pub use writer::{CanonicalPart, XmlWriter};

/// `http://www.w3.org/2001/XMLSchema-instance`, home of `xsi:nil` and `xsi:type`.
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The namespace bound to the reserved `xml` prefix.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

//! WSDL 1.1 and XML Schema documents → [`Model`].
//!
//! Reading happens in three steps: load the WSDL and every schema file it includes or imports
//! ([`Inputs`]), turn the schemas into types ([`schema`]), then read messages, portTypes and
//! bindings ([`wsdl`]).

mod schema;
mod wsdl;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use xmlbind::{Element, Limits};

use crate::error::{Error, Location};
use crate::model::{Model, QName};

pub(crate) const XS_NS: &str = "http://www.w3.org/2001/XMLSchema";
pub(crate) const WSDL_NS: &str = "http://schemas.xmlsoap.org/wsdl/";
pub(crate) const SOAP11_BINDING_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
pub(crate) const SOAP12_BINDING_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";

/// Parses the WSDL file at `path`; returns the model and every file read (the WSDL first).
pub fn parse(path: &Path) -> Result<(Model, Vec<PathBuf>), Error> {
    let inputs = Inputs::load(path)?;
    let wsdl = inputs.root();
    if !wsdl.is(WSDL_NS, "definitions") {
        return Err(wsdl.invalid(format!(
            "root element is {}, not wsdl:definitions",
            wsdl.construct()
        )));
    }
    let target_namespace = wsdl.required("targetNamespace")?.to_owned();
    let types = schema::build(&inputs.schemas()?)?;
    let port_types = wsdl::port_types(wsdl, &types.element_index)?;
    let model = Model {
        source: path.to_path_buf(),
        target_namespace,
        port_types,
        elements: types.elements,
        complex_types: types.complex,
        simple_types: types.simple,
    };
    Ok((model, inputs.paths()))
}

/// One file read: its path as given (for messages), its canonical path (for build scripts)
/// and its tree.
#[derive(Debug)]
struct Document {
    path: Arc<Path>,
    canonical: PathBuf,
    root: Element,
}

/// The WSDL and the schema files it pulls in with `xs:include`/`xs:import schemaLocation`.
#[derive(Debug)]
struct Inputs {
    documents: Vec<Document>,
}

impl Inputs {
    fn load(wsdl: &Path) -> Result<Self, Error> {
        let mut inputs = Self {
            documents: vec![read(wsdl, 0)?],
        };
        let mut seen: HashSet<PathBuf> = inputs
            .documents
            .iter()
            .map(|d| d.canonical.clone())
            .collect();
        // Breadth-first over schema locations; each file is read once, whoever includes it.
        let mut next = 0;
        while next < inputs.documents.len() {
            let mut found = Vec::new();
            for schema in inputs.schema_roots_of(next)? {
                for reference in schema
                    .children()
                    .filter(|c| c.is(XS_NS, "include") || c.is(XS_NS, "import"))
                {
                    if let Some(location) = schema_location(reference)? {
                        let path = inputs.documents[next]
                            .path
                            .parent()
                            .unwrap_or(Path::new(""))
                            .join(location);
                        found.push((path, reference.at(), expected_namespace(schema, reference)));
                    }
                }
            }
            for (path, at, namespace) in found {
                let canonical = std::fs::canonicalize(&path).map_err(|source| Error::Read {
                    path: path.clone(),
                    source,
                })?;
                if seen.insert(canonical) {
                    let index = inputs.documents.len();
                    let document = read(&path, index)?;
                    inputs.documents.push(document);
                    let root = inputs.node(index);
                    if !root.is(XS_NS, "schema") {
                        return Err(root
                            .invalid(format!("{} is not an XML Schema document", path.display())));
                    }
                    if root.attr("targetNamespace") != namespace.as_deref() {
                        return Err(Error::Invalid {
                            at,
                            message: format!(
                                "{} has targetNamespace {:?}, expected {:?} (chameleon includes are not supported)",
                                path.display(),
                                root.attr("targetNamespace").unwrap_or(""),
                                namespace.as_deref().unwrap_or("")
                            ),
                        });
                    }
                }
            }
            next += 1;
        }
        Ok(inputs)
    }

    fn node(&self, index: usize) -> Node<'_> {
        let document = &self.documents[index];
        Node {
            file: &document.path,
            input: index,
            element: &document.root,
        }
    }

    fn root(&self) -> Node<'_> {
        self.node(0)
    }

    /// The `xs:schema` elements of one document: the root of a schema file, or those inside
    /// `wsdl:types`.
    fn schema_roots_of(&self, index: usize) -> Result<Vec<Node<'_>>, Error> {
        let root = self.node(index);
        if root.is(XS_NS, "schema") {
            return Ok(vec![root]);
        }
        let mut schemas = Vec::new();
        for types in root.children().filter(|c| c.is(WSDL_NS, "types")) {
            for child in types.children() {
                if child.is(XS_NS, "schema") {
                    schemas.push(child);
                } else if !child.is(WSDL_NS, "documentation") {
                    return Err(child.unsupported_wsdl());
                }
            }
        }
        Ok(schemas)
    }

    fn schemas(&self) -> Result<Vec<Node<'_>>, Error> {
        let mut all = Vec::new();
        for index in 0..self.documents.len() {
            all.extend(self.schema_roots_of(index)?);
        }
        Ok(all)
    }

    fn paths(&self) -> Vec<PathBuf> {
        self.documents.iter().map(|d| d.canonical.clone()).collect()
    }
}

fn read(path: &Path, input: usize) -> Result<Document, Error> {
    let read_error = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(read_error)?;
    let canonical = std::fs::canonicalize(path).map_err(read_error)?;
    let file: Arc<Path> = Arc::from(path);
    let root = xmlbind::parse(&bytes, &Limits::default()).map_err(|e| {
        let (line, column) = e.position.map_or((1, 1), |p| (p.line, p.column));
        Error::Xml {
            at: Location {
                file: file.clone(),
                input,
                line,
                column,
            },
            kind: e.kind,
        }
    })?;
    Ok(Document {
        path: file,
        canonical,
        root,
    })
}

/// The local file an `xs:include` or `xs:import` names, if any. Remote schemas are refused:
/// a build must not depend on the network.
fn schema_location<'d>(reference: Node<'d>) -> Result<Option<&'d str>, Error> {
    match reference.attr("schemaLocation") {
        Some(location) if location.contains("://") => Err(reference.invalid(format!(
            "schemaLocation {location:?} is remote; only files next to the WSDL can be read"
        ))),
        Some(location) => Ok(Some(location)),
        None if reference.is(XS_NS, "include") => {
            Err(reference.invalid("xs:include without schemaLocation".into()))
        }
        None => Ok(None),
    }
}

/// The target namespace the referenced schema must declare: the includer's for an include,
/// the `namespace` attribute for an import.
fn expected_namespace(schema: Node<'_>, reference: Node<'_>) -> Option<String> {
    let namespace = if reference.is(XS_NS, "include") {
        schema.attr("targetNamespace")
    } else {
        reference.attr("namespace")
    };
    namespace.map(str::to_owned)
}

/// An element of an input file, with what is needed to report errors about it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node<'d> {
    file: &'d Arc<Path>,
    input: usize,
    pub element: &'d Element,
}

impl<'d> Node<'d> {
    pub fn at(&self) -> Location {
        Location {
            file: self.file.clone(),
            input: self.input,
            line: self.element.position.line,
            column: self.element.position.column,
        }
    }

    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.element.name.is(Some(namespace), local)
    }

    pub fn local(&self) -> &'d str {
        &self.element.name.local
    }

    /// Child elements.
    pub fn children(self) -> impl Iterator<Item = Node<'d>> {
        self.element
            .elements()
            .map(move |element| Node { element, ..self })
    }

    /// An unqualified attribute, trimmed.
    pub fn attr(&self, name: &str) -> Option<&'d str> {
        self.element.attribute(None, name).map(str::trim)
    }

    pub fn required(&self, name: &str) -> Result<&'d str, Error> {
        self.attr(name)
            .ok_or_else(|| self.invalid(format!("{} without a {name} attribute", self.construct())))
    }

    /// A QName-valued attribute, resolved against the namespaces in scope.
    pub fn qname(&self, name: &str) -> Result<Option<QName>, Error> {
        match self.element.qname_attribute(None, name) {
            Ok(value) => Ok(value.map(|(namespace, local)| QName { namespace, local })),
            Err(e) => Err(Error::Xml {
                at: self.at(),
                kind: e.kind,
            }),
        }
    }

    /// A boolean attribute (`true`/`false`/`1`/`0`), `false` when absent.
    pub fn flag(&self, name: &str) -> Result<bool, Error> {
        match self.attr(name) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(other) => Err(self.invalid(format!("{name}={other:?} is not a boolean"))),
        }
    }

    /// The element's name as a schema author writes it: `xs:all`, `wsdl:import`.
    pub fn construct(&self) -> String {
        let prefix = match self.element.name.namespace.as_deref() {
            Some(XS_NS) => "xs",
            Some(WSDL_NS) => "wsdl",
            Some(SOAP11_BINDING_NS) => "soap",
            Some(SOAP12_BINDING_NS) => "soap12",
            _ => return self.element.name.expanded(),
        };
        format!("{prefix}:{}", self.element.name.local)
    }

    pub fn invalid(&self, message: String) -> Error {
        Error::Invalid {
            at: self.at(),
            message,
        }
    }

    pub fn unsupported(&self) -> Error {
        self.unsupported_as(self.construct())
    }

    /// An unsupported XML Schema construct described more precisely than by the element name.
    pub fn unsupported_as(&self, construct: String) -> Error {
        Error::UnsupportedSchema {
            at: self.at(),
            construct,
        }
    }

    pub fn unsupported_wsdl(&self) -> Error {
        self.unsupported_wsdl_as(self.construct())
    }

    pub fn unsupported_wsdl_as(&self, construct: String) -> Error {
        Error::UnsupportedWsdl {
            at: self.at(),
            construct,
        }
    }
}

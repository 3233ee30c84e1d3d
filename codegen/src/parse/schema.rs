//! `xs:schema` → complex types, simple types and global elements.
//!
//! Global names are registered first (so references may point forward), then each type is
//! converted. Constructs outside the supported subset fail with their name and position
//! instead of being approximated.

use std::collections::HashMap;

use super::{Node, XS_NS};
use crate::error::{Error, Location};
use crate::model::{
    Attribute, Builtin, ChoiceId, ChoiceParticle, ComplexId, ComplexType, Content, ElementId,
    ElementParticle, GlobalElement, Occurs, Particle, QName, SimpleId, SimpleKind, SimpleType,
    TypeName, TypeRef,
};

/// The types and elements of every schema of one WSDL.
#[derive(Debug)]
pub(super) struct Types {
    pub complex: Vec<ComplexType>,
    pub simple: Vec<SimpleType>,
    pub elements: Vec<GlobalElement>,
    pub element_index: HashMap<QName, ElementId>,
}

/// Facets that constrain values without changing their Rust type; they are not checked.
const IGNORED_FACETS: &[&str] = &[
    "length",
    "minLength",
    "maxLength",
    "pattern",
    "whiteSpace",
    "minInclusive",
    "maxInclusive",
    "minExclusive",
    "maxExclusive",
    "totalDigits",
    "fractionDigits",
];

pub(super) fn build(schemas: &[Node<'_>]) -> Result<Types, Error> {
    let mut builder = Builder::default();
    for &node in schemas {
        builder.schemas.push(Schema::read(node)?);
    }
    for index in 0..builder.schemas.len() {
        builder.register(index)?;
    }
    builder.global_elements()?;
    for Pending {
        schema,
        node,
        name,
        id,
    } in std::mem::take(&mut builder.complex_todo)
    {
        let ty = builder.complex_type(schema, node, name, id)?;
        builder.complex[id.0] = Some(ty);
    }
    for Pending { node, name, id, .. } in std::mem::take(&mut builder.simple_todo) {
        let ty = builder.simple_type(node, name)?;
        builder.simple[id.0] = Some(ty);
    }
    let complex = builder.complex.into_iter().collect::<Option<Vec<_>>>();
    let simple = builder.simple.into_iter().collect::<Option<Vec<_>>>();
    match (complex, simple) {
        (Some(complex), Some(simple)) => Ok(Types {
            complex,
            simple,
            elements: builder.elements,
            element_index: builder.element_index,
        }),
        // Every slot is filled by the loops above or right after it is reserved.
        _ => unreachable!("a reserved type slot was left empty"),
    }
}

/// One `xs:schema` element and its defaults.
#[derive(Debug, Clone, Copy)]
struct Schema<'d> {
    node: Node<'d>,
    target_namespace: Option<&'d str>,
    qualified_elements: bool,
    qualified_attributes: bool,
}

impl<'d> Schema<'d> {
    fn read(node: Node<'d>) -> Result<Self, Error> {
        Ok(Self {
            node,
            target_namespace: node.attr("targetNamespace"),
            qualified_elements: form(node, "elementFormDefault", false)?,
            qualified_attributes: form(node, "attributeFormDefault", false)?,
        })
    }

    fn qname(&self, local: &str) -> QName {
        QName::new(self.target_namespace, local)
    }
}

/// The type whose content is being read, for naming anonymous types and choices.
#[derive(Debug)]
struct Owner {
    id: ComplexId,
    name: TypeName,
    unnamed_choices: usize,
}

impl Owner {
    fn local_name(&self, element: &str) -> TypeName {
        TypeName::Local {
            parent: Box::new(self.name.clone()),
            element: element.to_owned(),
        }
    }
}

/// A global type, or the anonymous type of a global element, waiting to be converted into the
/// slot reserved for it.
#[derive(Debug)]
struct Pending<'d, Id> {
    schema: usize,
    node: Node<'d>,
    name: TypeName,
    id: Id,
}

#[derive(Debug, Default)]
struct Builder<'d> {
    schemas: Vec<Schema<'d>>,
    /// Where each global type, element and group was defined, to report duplicates.
    defined: HashMap<(&'static str, QName), Location>,
    complex_index: HashMap<QName, ComplexId>,
    simple_index: HashMap<QName, SimpleId>,
    element_index: HashMap<QName, ElementId>,
    groups: HashMap<QName, (usize, Node<'d>)>,
    /// Type slots: reserved when a type is first known, filled once it is converted.
    complex: Vec<Option<ComplexType>>,
    simple: Vec<Option<SimpleType>>,
    elements: Vec<GlobalElement>,
    complex_todo: Vec<Pending<'d, ComplexId>>,
    simple_todo: Vec<Pending<'d, SimpleId>>,
    /// Global elements with the anonymous type reserved for them, if any.
    element_todo: Vec<(usize, Node<'d>, Option<TypeRef>)>,
    /// The choice of each named group, converted once and shared by every reference.
    group_choices: HashMap<QName, ChoiceParticle>,
    /// Groups being expanded, to refuse a group that contains itself.
    group_stack: Vec<QName>,
    next_choice: usize,
}

impl<'d> Builder<'d> {
    /// Registers the global definitions of one schema.
    fn register(&mut self, index: usize) -> Result<(), Error> {
        let schema = self.schemas[index];
        for child in xs_children(schema.node)? {
            match child.local() {
                "include" | "import" => {}
                "complexType" => {
                    let name = schema.qname(child.required("name")?);
                    self.define("type", &name, child)?;
                    let id = self.reserve_complex();
                    self.complex_index.insert(name.clone(), id);
                    self.complex_todo.push(Pending {
                        schema: index,
                        node: child,
                        name: TypeName::Named(name),
                        id,
                    });
                }
                "simpleType" => {
                    let name = schema.qname(child.required("name")?);
                    self.define("type", &name, child)?;
                    let id = self.reserve_simple();
                    self.simple_index.insert(name.clone(), id);
                    self.simple_todo.push(Pending {
                        schema: index,
                        node: child,
                        name: TypeName::Named(name),
                        id,
                    });
                }
                "element" => {
                    let name = schema.qname(child.required("name")?);
                    self.define("element", &name, child)?;
                    let anonymous = match inline_type(child)? {
                        Some(node) if node.local() == "complexType" => {
                            let id = self.reserve_complex();
                            let name = TypeName::Element(name.clone());
                            self.complex_todo.push(Pending {
                                schema: index,
                                node,
                                name,
                                id,
                            });
                            Some(TypeRef::Complex(id))
                        }
                        Some(node) => {
                            let id = self.reserve_simple();
                            let name = TypeName::Element(name.clone());
                            self.simple_todo.push(Pending {
                                schema: index,
                                node,
                                name,
                                id,
                            });
                            Some(TypeRef::Simple(id))
                        }
                        None => None,
                    };
                    self.element_index
                        .insert(name, ElementId(self.element_todo.len()));
                    self.element_todo.push((index, child, anonymous));
                }
                "group" => {
                    let name = schema.qname(child.required("name")?);
                    self.define("group", &name, child)?;
                    self.groups.insert(name, (index, child));
                }
                _ => return Err(child.unsupported()),
            }
        }
        Ok(())
    }

    fn define(&mut self, what: &'static str, name: &QName, node: Node<'_>) -> Result<(), Error> {
        if let Some(first) = self.defined.insert((what, name.clone()), node.at()) {
            return Err(node.invalid(format!("{what} {name} is defined twice (first at {first})")));
        }
        Ok(())
    }

    fn reserve_complex(&mut self) -> ComplexId {
        self.complex.push(None);
        ComplexId(self.complex.len() - 1)
    }

    fn reserve_simple(&mut self) -> SimpleId {
        self.simple.push(None);
        SimpleId(self.simple.len() - 1)
    }

    /// Resolves the types of the global elements, in definition order (their ids).
    fn global_elements(&mut self) -> Result<(), Error> {
        for (index, node, anonymous) in std::mem::take(&mut self.element_todo) {
            unsupported_element_attributes(node)?;
            let ty = match (anonymous, node.qname("type")?) {
                (Some(ty), None) => ty,
                (None, Some(name)) => self.resolve_type(&name, node)?,
                (Some(_), Some(_)) => return Err(both_types(node)),
                (None, None) => return Err(untyped(node)),
            };
            let name = self.schemas[index].qname(node.required("name")?);
            self.elements.push(GlobalElement {
                name,
                ty,
                nillable: node.flag("nillable")?,
                at: node.at(),
            });
        }
        Ok(())
    }

    fn resolve_type(&self, name: &QName, node: Node<'_>) -> Result<TypeRef, Error> {
        if name.namespace.as_deref() == Some(XS_NS) {
            return Builtin::from_local(&name.local)
                .map(TypeRef::Builtin)
                .ok_or_else(|| node.unsupported_as(format!("type xs:{}", name.local)));
        }
        if let Some(id) = self.complex_index.get(name) {
            return Ok(TypeRef::Complex(*id));
        }
        if let Some(id) = self.simple_index.get(name) {
            return Ok(TypeRef::Simple(*id));
        }
        Err(Error::Undefined {
            at: node.at(),
            what: "type",
            name: name.to_string(),
        })
    }

    /// A built-in or simple type, as attributes and simple content require.
    fn resolve_simple(&self, name: &QName, node: Node<'_>) -> Result<TypeRef, Error> {
        match self.resolve_type(name, node)? {
            TypeRef::Complex(_) => Err(node.invalid(format!(
                "{name} is a complex type; a simple type is required here"
            ))),
            simple => Ok(simple),
        }
    }

    fn complex_type(
        &mut self,
        index: usize,
        node: Node<'d>,
        name: TypeName,
        id: ComplexId,
    ) -> Result<ComplexType, Error> {
        let mut owner = Owner {
            id,
            name: name.clone(),
            unnamed_choices: 0,
        };
        let mut ty = ComplexType {
            name,
            is_abstract: node.flag("abstract")?,
            base: None,
            mixed: node.flag("mixed")?,
            content: Content::Elements(Vec::new()),
            attributes: Vec::new(),
            at: node.at(),
        };
        let mut content = None;
        for child in xs_children(node)? {
            match child.local() {
                "attribute" => ty.attributes.push(self.attribute(index, child, &owner)?),
                "sequence" | "choice" | "group" | "all" | "complexContent" | "simpleContent" => {
                    if content.replace(child).is_some() {
                        return Err(
                            child.invalid(format!("{} after the content model", child.construct()))
                        );
                    }
                }
                _ => return Err(child.unsupported()),
            }
        }
        match content {
            Some(c) if c.local() == "complexContent" => {
                self.complex_content(index, c, &mut owner, &mut ty)?
            }
            Some(c) if c.local() == "simpleContent" => {
                self.simple_content(index, c, &owner, &mut ty)?
            }
            Some(c) => ty.content = Content::Elements(self.particles(index, c, &mut owner)?),
            None => {}
        }
        Ok(ty)
    }

    fn complex_content(
        &mut self,
        index: usize,
        node: Node<'d>,
        owner: &mut Owner,
        ty: &mut ComplexType,
    ) -> Result<(), Error> {
        ty.mixed |= node.flag("mixed")?;
        let extension = derivation(node)?;
        let base_name = extension
            .qname("base")?
            .ok_or_else(|| extension.invalid("xs:extension without base".into()))?;
        match self.resolve_type(&base_name, extension)? {
            TypeRef::Complex(base) => ty.base = Some(base),
            _ => {
                return Err(extension.invalid(format!(
                    "complexContent extends {base_name}, which is not a complex type"
                )))
            }
        }
        let mut particles = None;
        for child in xs_children(extension)? {
            match child.local() {
                "attribute" => ty.attributes.push(self.attribute(index, child, owner)?),
                "sequence" | "choice" | "group" | "all" if particles.is_none() => {
                    particles = Some(self.particles(index, child, owner)?);
                }
                _ => return Err(child.unsupported()),
            }
        }
        ty.content = Content::Elements(particles.unwrap_or_default());
        Ok(())
    }

    fn simple_content(
        &mut self,
        index: usize,
        node: Node<'d>,
        owner: &Owner,
        ty: &mut ComplexType,
    ) -> Result<(), Error> {
        let extension = derivation(node)?;
        let base_name = extension
            .qname("base")?
            .ok_or_else(|| extension.invalid("xs:extension without base".into()))?;
        let base = match self.resolve_type(&base_name, extension)? {
            TypeRef::Complex(_) => {
                return Err(
                    extension.unsupported_as("xs:simpleContent extension of a complex type".into())
                )
            }
            simple => simple,
        };
        for child in xs_children(extension)? {
            match child.local() {
                "attribute" => ty.attributes.push(self.attribute(index, child, owner)?),
                _ => return Err(child.unsupported()),
            }
        }
        ty.content = Content::Simple(base);
        Ok(())
    }

    /// The particles of a content model, with nested sequences and sequence groups flattened.
    fn particles(
        &mut self,
        index: usize,
        node: Node<'d>,
        owner: &mut Owner,
    ) -> Result<Vec<Particle>, Error> {
        let mut out = Vec::new();
        self.model_group(index, node, owner, &mut out)?;
        Ok(out)
    }

    fn model_group(
        &mut self,
        index: usize,
        node: Node<'d>,
        owner: &mut Owner,
        out: &mut Vec<Particle>,
    ) -> Result<(), Error> {
        match node.local() {
            "sequence" => {
                if occurs(node)? != Occurs::ONCE {
                    return Err(node.unsupported_as(
                        "xs:sequence with minOccurs or maxOccurs other than 1".into(),
                    ));
                }
                for child in xs_children(node)? {
                    match child.local() {
                        "element" => out.push(Particle::Element(
                            self.element_particle(index, child, owner)?,
                        )),
                        "sequence" | "choice" | "group" => {
                            self.model_group(index, child, owner, out)?
                        }
                        _ => return Err(child.unsupported()),
                    }
                }
            }
            "choice" => {
                let occurs = occurs(node)?;
                owner.unnamed_choices += 1;
                let ordinal = owner.unnamed_choices;
                let mut choice = self.choice(index, node, owner, None, ordinal)?;
                choice.occurs = occurs;
                out.push(Particle::Choice(choice));
            }
            "group" => self.group_ref(node, owner, out)?,
            _ => return Err(node.unsupported()),
        }
        Ok(())
    }

    fn choice(
        &mut self,
        index: usize,
        node: Node<'d>,
        owner: &Owner,
        group: Option<QName>,
        ordinal: usize,
    ) -> Result<ChoiceParticle, Error> {
        let mut alternatives = Vec::new();
        for child in xs_children(node)? {
            if child.local() != "element" {
                return Err(child.unsupported_as(format!("{} inside xs:choice", child.construct())));
            }
            let element = self.element_particle(index, child, owner)?;
            if element.occurs != Occurs::ONCE {
                return Err(child.unsupported_as(
                    "xs:element with minOccurs or maxOccurs inside xs:choice".into(),
                ));
            }
            alternatives.push(element);
        }
        if alternatives.is_empty() {
            return Err(node.invalid("xs:choice without alternatives".into()));
        }
        self.next_choice += 1;
        Ok(ChoiceParticle {
            id: ChoiceId(self.next_choice),
            owner: owner.id,
            group,
            ordinal,
            occurs: Occurs::ONCE,
            alternatives,
            at: node.at(),
        })
    }

    /// Expands `<xs:group ref="..."/>`: a sequence group inline, a choice group as one choice
    /// shared with every other reference to the group.
    fn group_ref(
        &mut self,
        node: Node<'d>,
        owner: &mut Owner,
        out: &mut Vec<Particle>,
    ) -> Result<(), Error> {
        let name = node
            .qname("ref")?
            .ok_or_else(|| node.invalid("xs:group in a content model without ref".into()))?;
        let occurs = occurs(node)?;
        let (index, definition) = *self.groups.get(&name).ok_or_else(|| Error::Undefined {
            at: node.at(),
            what: "group",
            name: name.to_string(),
        })?;
        if self.group_stack.contains(&name) {
            return Err(node.invalid(format!("group {name} contains itself")));
        }
        let body = match xs_children(definition)?.as_slice() {
            [body] => *body,
            _ => {
                return Err(definition
                    .invalid("xs:group must hold exactly one xs:sequence or xs:choice".into()))
            }
        };
        self.group_stack.push(name.clone());
        let result = match body.local() {
            "sequence" if occurs == Occurs::ONCE => self.model_group(index, body, owner, out),
            "sequence" => Err(node
                .unsupported_as("xs:group ref of a sequence with minOccurs or maxOccurs".into())),
            "choice" => self
                .group_choice(index, body, owner, &name)
                .map(|mut choice| {
                    choice.occurs = occurs;
                    choice.at = node.at();
                    out.push(Particle::Choice(choice));
                }),
            _ => Err(body.unsupported()),
        };
        self.group_stack.pop();
        result
    }

    fn group_choice(
        &mut self,
        index: usize,
        body: Node<'d>,
        owner: &Owner,
        name: &QName,
    ) -> Result<ChoiceParticle, Error> {
        if let Some(choice) = self.group_choices.get(name) {
            return Ok(choice.clone());
        }
        if occurs(body)? != Occurs::ONCE {
            return Err(
                body.unsupported_as("xs:choice with minOccurs or maxOccurs inside xs:group".into())
            );
        }
        let choice = self.choice(index, body, owner, Some(name.clone()), 0)?;
        self.group_choices.insert(name.clone(), choice.clone());
        Ok(choice)
    }

    fn element_particle(
        &mut self,
        index: usize,
        node: Node<'d>,
        owner: &Owner,
    ) -> Result<ElementParticle, Error> {
        let occurs = occurs(node)?;
        unsupported_element_attributes(node)?;
        if let Some(reference) = node.qname("ref")? {
            let id = self
                .element_index
                .get(&reference)
                .ok_or_else(|| Error::Undefined {
                    at: node.at(),
                    what: "element",
                    name: reference.to_string(),
                })?;
            let global = &self.elements[id.0];
            return Ok(ElementParticle {
                name: global.name.clone(),
                ty: global.ty,
                occurs,
                nillable: global.nillable,
                at: node.at(),
            });
        }
        let schema = self.schemas[index];
        let local = node.required("name")?;
        let namespace = if form(node, "form", schema.qualified_elements)? {
            schema.target_namespace
        } else {
            None
        };
        let ty = match (node.qname("type")?, inline_type(node)?) {
            (Some(name), None) => self.resolve_type(&name, node)?,
            (None, Some(ty)) if ty.local() == "complexType" => {
                TypeRef::Complex(self.local_complex(index, ty, owner.local_name(local))?)
            }
            (None, Some(ty)) => TypeRef::Simple(self.local_simple(ty, owner.local_name(local))?),
            (Some(_), Some(_)) => return Err(both_types(node)),
            (None, None) => return Err(untyped(node)),
        };
        Ok(ElementParticle {
            name: QName::new(namespace, local),
            ty,
            occurs,
            nillable: node.flag("nillable")?,
            at: node.at(),
        })
    }

    fn local_complex(
        &mut self,
        index: usize,
        node: Node<'d>,
        name: TypeName,
    ) -> Result<ComplexId, Error> {
        let id = self.reserve_complex();
        let ty = self.complex_type(index, node, name, id)?;
        self.complex[id.0] = Some(ty);
        Ok(id)
    }

    fn local_simple(&mut self, node: Node<'d>, name: TypeName) -> Result<SimpleId, Error> {
        let id = self.reserve_simple();
        let ty = self.simple_type(node, name)?;
        self.simple[id.0] = Some(ty);
        Ok(id)
    }

    fn attribute(
        &mut self,
        index: usize,
        node: Node<'d>,
        owner: &Owner,
    ) -> Result<Attribute, Error> {
        for unsupported in ["ref", "default"] {
            if node.attr(unsupported).is_some() {
                return Err(node.unsupported_as(format!("xs:attribute with {unsupported}=")));
            }
        }
        let schema = self.schemas[index];
        let local = node.required("name")?;
        let namespace = if form(node, "form", schema.qualified_attributes)? {
            schema.target_namespace
        } else {
            None
        };
        let required = match node.attr("use") {
            None | Some("optional") => false,
            Some("required") => true,
            Some("prohibited") => {
                return Err(node.unsupported_as("xs:attribute with use=\"prohibited\"".into()))
            }
            Some(other) => {
                return Err(node.invalid(format!(
                    "use={other:?} is not optional, required or prohibited"
                )))
            }
        };
        let mut inline = None;
        for child in xs_children(node)? {
            match child.local() {
                "simpleType" if inline.is_none() => inline = Some(child),
                _ => return Err(child.unsupported()),
            }
        }
        let ty = match (node.qname("type")?, inline) {
            (Some(name), None) => self.resolve_simple(&name, node)?,
            (None, Some(ty)) => TypeRef::Simple(self.local_simple(ty, owner.local_name(local))?),
            (Some(_), Some(_)) => return Err(both_types(node)),
            (None, None) => {
                return Err(
                    node.unsupported_as("xs:attribute without a type (xs:anySimpleType)".into())
                )
            }
        };
        let fixed = node.element.attribute(None, "fixed").map(str::to_owned);
        Ok(Attribute {
            name: QName::new(namespace, local),
            ty,
            required,
            fixed,
            at: node.at(),
        })
    }

    fn simple_type(&mut self, node: Node<'d>, name: TypeName) -> Result<SimpleType, Error> {
        let restriction = match xs_children(node)?.as_slice() {
            [r] if r.local() == "restriction" => *r,
            [other] => return Err(other.unsupported()),
            _ => {
                return Err(
                    node.invalid("xs:simpleType must hold exactly one xs:restriction".into())
                )
            }
        };
        let base_name = restriction.qname("base")?.ok_or_else(|| {
            restriction.unsupported_as("xs:restriction of an inline xs:simpleType".into())
        })?;
        let base = self.resolve_simple(&base_name, restriction)?;
        let mut values: Vec<String> = Vec::new();
        for facet in xs_children(restriction)? {
            match facet.local() {
                "enumeration" => {
                    // Lexical values are compared exactly: no trimming.
                    let value = facet
                        .element
                        .attribute(None, "value")
                        .ok_or_else(|| facet.invalid("xs:enumeration without value".into()))?;
                    if values.iter().any(|v| v == value) {
                        return Err(
                            facet.invalid(format!("enumeration value {value:?} is listed twice"))
                        );
                    }
                    values.push(value.to_owned());
                }
                local if IGNORED_FACETS.contains(&local) => {}
                _ => return Err(facet.unsupported()),
            }
        }
        let kind = if values.is_empty() {
            SimpleKind::Alias(base)
        } else {
            SimpleKind::Enumeration(values)
        };
        Ok(SimpleType {
            name,
            kind,
            at: node.at(),
        })
    }
}

/// Children in the XML Schema namespace, without annotations; anything else is refused.
fn xs_children<'d>(node: Node<'d>) -> Result<Vec<Node<'d>>, Error> {
    let mut out = Vec::new();
    for child in node.children() {
        if child.element.name.namespace.as_deref() != Some(XS_NS) {
            return Err(child.unsupported());
        }
        if child.local() != "annotation" {
            out.push(child);
        }
    }
    Ok(out)
}

/// The inline `xs:complexType` or `xs:simpleType` of an element, if any.
fn inline_type<'d>(element: Node<'d>) -> Result<Option<Node<'d>>, Error> {
    let mut found = None;
    for child in xs_children(element)? {
        match child.local() {
            "complexType" | "simpleType" if found.is_none() => found = Some(child),
            _ => return Err(child.unsupported()),
        }
    }
    Ok(found)
}

/// The single `xs:extension` of a `complexContent` or `simpleContent`.
fn derivation<'d>(content: Node<'d>) -> Result<Node<'d>, Error> {
    match xs_children(content)?.as_slice() {
        [extension] if extension.local() == "extension" => Ok(*extension),
        [other] if other.local() == "restriction" => {
            Err(other.unsupported_as(format!("{}/xs:restriction", content.construct())))
        }
        [other] => Err(other.unsupported()),
        _ => Err(content.invalid(format!(
            "{} must hold exactly one xs:extension",
            content.construct()
        ))),
    }
}

/// Element attributes that would change the data model in ways the generator does not follow.
fn unsupported_element_attributes(node: Node<'_>) -> Result<(), Error> {
    for name in ["substitutionGroup", "default", "fixed"] {
        if node.attr(name).is_some() {
            return Err(node.unsupported_as(format!("xs:element with {name}=")));
        }
    }
    if node.flag("abstract")? {
        return Err(node.unsupported_as("abstract xs:element".into()));
    }
    Ok(())
}

fn occurs(node: Node<'_>) -> Result<Occurs, Error> {
    let number = |name: &str, value: &str| {
        value
            .parse::<u32>()
            .map_err(|_| node.invalid(format!("{name}={value:?} is not a non-negative integer")))
    };
    let min = node
        .attr("minOccurs")
        .map_or(Ok(1), |v| number("minOccurs", v))?;
    let max = match node.attr("maxOccurs") {
        None => Some(1),
        Some("unbounded") => None,
        Some(v) => Some(number("maxOccurs", v)?),
    };
    match max {
        Some(0) => Err(node.unsupported_as("maxOccurs=\"0\"".into())),
        Some(max) if max < min => {
            Err(node.invalid(format!("maxOccurs {max} is less than minOccurs {min}")))
        }
        _ => Ok(Occurs { min, max }),
    }
}

/// Reads a form attribute (`qualified`/`unqualified`), `default` when absent.
fn form(node: Node<'_>, name: &str, default: bool) -> Result<bool, Error> {
    match node.attr(name) {
        None => Ok(default),
        Some("qualified") => Ok(true),
        Some("unqualified") => Ok(false),
        Some(other) => {
            Err(node.invalid(format!("{name}={other:?} is not qualified or unqualified")))
        }
    }
}

fn both_types(node: Node<'_>) -> Error {
    node.invalid(format!(
        "{} has both a type attribute and an inline type",
        node.construct()
    ))
}

fn untyped(node: Node<'_>) -> Error {
    node.unsupported_as("xs:element without a type (xs:anyType)".into())
}

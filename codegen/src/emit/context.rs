//! What the emitters share: the Rust name of every type, the shape each complex type takes
//! (struct, choice enum, or nothing for an abstract one), the enums for choices and for
//! types other types extend, and the fields of each struct (inherited ones first).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::error::{Error, Location};
use crate::model::{
    Attribute, Builtin, ChoiceId, ChoiceParticle, ComplexId, Content, ElementParticle, Model,
    Occurs, Particle, QName, SimpleId, SimpleKind, TypeName, TypeRef,
};
use crate::names;

/// One generated Rust type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item<'m> {
    /// A complex type with a struct of its own.
    Struct(ComplexId),
    /// The alternatives of an `xs:choice`; also a complex type whose content is one choice.
    Choice(&'m ChoiceEnum<'m>),
    /// A complex type other types extend, where an element of that type appears: the
    /// concrete types told apart by `xsi:type`.
    Derived(ComplexId),
    Enumeration(SimpleId, &'m [String]),
    Alias(SimpleId, TypeRef),
}

/// How a complex type appears in Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Abstract: never on the wire by itself; types that extend it inherit its fields.
    Abstract,
    /// Content is one `xs:choice`: the type is the choice's enum.
    Choice,
    Struct,
}

/// A generated enum for one `xs:choice`.
#[derive(Debug)]
pub(crate) struct ChoiceEnum<'m> {
    pub name: String,
    pub particle: &'m ChoiceParticle,
}

/// The concrete types an element of a polymorphic type can hold.
#[derive(Debug)]
pub(crate) struct Derived {
    pub name: String,
    /// Concrete named types (the `xsi:type` values), the base itself first when it is
    /// concrete, then in definition order.
    pub variants: Vec<(ComplexId, QName)>,
}

/// A member of a generated struct (fixed attributes have no Rust field but are still read
/// and written).
#[derive(Debug)]
pub(crate) struct Field<'m> {
    pub name: String,
    pub kind: FieldKind<'m>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum FieldKind<'m> {
    Attribute(&'m Attribute),
    /// The text of a simple-content type.
    Text(TypeRef),
    Element(&'m ElementParticle),
    Choice(&'m ChoiceParticle),
}

impl Field<'_> {
    /// Whether the field exists in the Rust struct.
    pub fn is_stored(&self) -> bool {
        !matches!(self.kind, FieldKind::Attribute(a) if a.fixed.is_some())
    }
}

/// How many values of an element a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cardinality {
    One,
    /// `minOccurs="0"`: `Option`.
    Optional,
    /// Required but `nillable`: `Option`, written as `xsi:nil` when `None`.
    Nillable,
    /// `maxOccurs` above 1: `Vec`.
    Many,
}

impl Cardinality {
    pub fn of(occurs: Occurs, nillable: bool) -> Self {
        if occurs.is_repeated() {
            Self::Many
        } else if occurs.min == 0 {
            Self::Optional
        } else if nillable {
            Self::Nillable
        } else {
            Self::One
        }
    }
}

/// Which containments count when looking for recursion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Through {
    /// Only values held directly (or in an `Option`): a cycle of these needs a `Box`.
    Values,
    /// Lists too: a cycle of these makes a sample value with every field filled infinite.
    Lists,
}

/// A node of the graph of types that contain each other, to find recursion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ValueNode {
    Struct(ComplexId),
    Derived(ComplexId),
    Choice(ChoiceId),
}

#[derive(Debug)]
pub(crate) struct Context<'m> {
    pub model: &'m Model,
    pub(super) complex_names: Vec<String>,
    pub(super) simple_names: Vec<String>,
    shapes: Vec<Shape>,
    pub(super) derived: BTreeMap<ComplexId, Derived>,
    pub(super) choices: BTreeMap<ChoiceId, ChoiceEnum<'m>>,
    fields: HashMap<ComplexId, Vec<Field<'m>>>,
    /// Answers of [`Context::contains`], which the emitters ask again and again.
    pub(super) reach_cache: RefCell<HashMap<(ValueNode, ValueNode, Through), bool>>,
}

impl<'m> Context<'m> {
    pub fn new(model: &'m Model) -> Result<Self, Error> {
        let complex_names = model
            .complex_types
            .iter()
            .map(|t| rust_type_name(&t.name))
            .collect();
        let simple_names = model
            .simple_types
            .iter()
            .map(|t| rust_type_name(&t.name))
            .collect();
        let mut extended_by: Vec<Vec<ComplexId>> = vec![Vec::new(); model.complex_types.len()];
        for (index, ty) in model.complex_types.iter().enumerate() {
            if let Some(base) = ty.base {
                extended_by[base.0].push(ComplexId(index));
            }
        }
        let shapes = model
            .complex_types
            .iter()
            .enumerate()
            .map(|(index, ty)| match &ty.content {
                _ if ty.is_abstract => Shape::Abstract,
                Content::Elements(particles)
                    if ty.base.is_none()
                        && ty.attributes.is_empty()
                        && !ty.mixed
                        && extended_by[index].is_empty()
                        && matches!(particles.as_slice(), [Particle::Choice(c)] if c.occurs == Occurs::ONCE && c.group.is_none()) =>
                {
                    Shape::Choice
                }
                _ => Shape::Struct,
            })
            .collect();
        let mut cx = Self {
            model,
            complex_names,
            simple_names,
            shapes,
            derived: BTreeMap::new(),
            choices: BTreeMap::new(),
            fields: HashMap::new(),
            reach_cache: RefCell::new(HashMap::new()),
        };
        cx.find_choices();
        cx.find_derived(&extended_by)?;
        for index in 0..model.complex_types.len() {
            let id = ComplexId(index);
            if cx.shape(id) != Shape::Abstract {
                let fields = cx.collect_fields(id)?;
                cx.fields.insert(id, fields);
            }
        }
        cx.check_operations()?;
        cx.check_names()?;
        Ok(cx)
    }

    fn find_choices(&mut self) {
        for (index, ty) in self.model.complex_types.iter().enumerate() {
            let Content::Elements(particles) = &ty.content else {
                continue;
            };
            for particle in particles {
                let Particle::Choice(choice) = particle else {
                    continue;
                };
                if self.choices.contains_key(&choice.id) {
                    continue;
                }
                let owner = ComplexId(index);
                let name = match &choice.group {
                    _ if self.shape(owner) == Shape::Choice => self.complex_names[index].clone(),
                    Some(group) => names::item_name(&group.local),
                    None if choice.ordinal > 1 => {
                        format!("{}Choice{}", self.complex_names[index], choice.ordinal)
                    }
                    None => format!("{}Choice", self.complex_names[index]),
                };
                self.choices.insert(
                    choice.id,
                    ChoiceEnum {
                        name,
                        particle: choice,
                    },
                );
            }
        }
    }

    /// Finds the extended types that elements use and the concrete types they stand for.
    fn find_derived(&mut self, extended_by: &[Vec<ComplexId>]) -> Result<(), Error> {
        let mut used: Vec<(ComplexId, &Location)> = Vec::new();
        for ty in &self.model.complex_types {
            if let Content::Elements(particles) = &ty.content {
                for particle in particles {
                    match particle {
                        Particle::Element(e) => used.extend(complex_of(e.ty).map(|id| (id, &e.at))),
                        Particle::Choice(c) => used.extend(
                            c.alternatives
                                .iter()
                                .filter_map(|e| complex_of(e.ty).map(|id| (id, &e.at))),
                        ),
                    }
                }
            }
        }
        for port_type in &self.model.port_types {
            for operation in &port_type.operations {
                for element in [operation.input, operation.output] {
                    used.extend(
                        complex_of(self.model.element(element).ty).map(|id| (id, &operation.at)),
                    );
                }
            }
        }
        for (id, at) in used {
            let ty = self.model.complex(id);
            if extended_by[id.0].is_empty() {
                if ty.is_abstract {
                    return Err(Error::Invalid {
                        at: at.clone(),
                        message: format!(
                            "abstract type {} is used here but no type extends it",
                            self.describe(&ty.name)
                        ),
                    });
                }
                continue;
            }
            if self.derived.contains_key(&id) {
                continue;
            }
            let mut variants = Vec::new();
            let mut stack = vec![id];
            while let Some(next) = stack.pop() {
                let next_ty = self.model.complex(next);
                // An anonymous type cannot be named by `xsi:type`, so it is never chosen.
                if let (false, TypeName::Named(name)) = (next_ty.is_abstract, &next_ty.name) {
                    variants.push((next, name.clone()));
                }
                stack.extend(extended_by[next.0].iter().rev());
            }
            variants.sort_by_key(|(v, _)| (*v != id, self.model.complex(*v).at.sort_key()));
            if variants.is_empty() {
                return Err(Error::Invalid {
                    at: at.clone(),
                    message: format!(
                        "{} is used here but neither it nor any type extending it is concrete",
                        self.describe(&ty.name)
                    ),
                });
            }
            let base_name = &self.complex_names[id.0];
            let name = if ty.is_abstract {
                base_name.clone()
            } else {
                format!("Any{base_name}")
            };
            self.derived.insert(id, Derived { name, variants });
        }
        Ok(())
    }

    /// The fields of a struct: attributes, text, then elements; a base type's before its own.
    fn collect_fields(&self, id: ComplexId) -> Result<Vec<Field<'m>>, Error> {
        let mut chain = vec![self.model.complex(id)];
        while let Some(base) = chain.last().and_then(|t| t.base) {
            if chain.len() > self.model.complex_types.len() {
                return Err(Error::Invalid {
                    at: self.model.complex(id).at.clone(),
                    message: format!(
                        "{} extends itself",
                        self.describe(&self.model.complex(id).name)
                    ),
                });
            }
            chain.push(self.model.complex(base));
        }
        chain.reverse();
        let mut fields = Vec::new();
        for ty in &chain {
            fields.extend(ty.attributes.iter().map(|a| Field {
                name: names::field_name(&a.name.local),
                kind: FieldKind::Attribute(a),
            }));
        }
        if let Content::Simple(value) = &self.model.complex(id).content {
            fields.push(Field {
                name: "value".to_owned(),
                kind: FieldKind::Text(*value),
            });
        }
        for ty in &chain {
            let Content::Elements(particles) = &ty.content else {
                continue;
            };
            for particle in particles {
                fields.push(match particle {
                    Particle::Element(e) => Field {
                        name: names::field_name(&e.name.local),
                        kind: FieldKind::Element(e),
                    },
                    Particle::Choice(c) => Field {
                        name: self.choice_field_name(c),
                        kind: FieldKind::Choice(c),
                    },
                });
            }
        }
        Ok(fields)
    }

    fn choice_field_name(&self, choice: &ChoiceParticle) -> String {
        match &choice.group {
            Some(group) => names::field_name(&group.local),
            None if choice.ordinal > 1 => format!("choice{}", choice.ordinal),
            None => "choice".to_owned(),
        }
    }

    /// Operation elements must be namespace-qualified: the dispatcher routes on the name.
    /// Every generated type, in the order of the definitions in the input files.
    pub fn items(&self) -> Vec<Item<'_>> {
        let mut ordered: Vec<(&Location, Vec<Item<'_>>)> = Vec::new();
        for (index, ty) in self.model.complex_types.iter().enumerate() {
            let id = ComplexId(index);
            let mut items = Vec::new();
            match self.shape(id) {
                Shape::Struct => items.push(Item::Struct(id)),
                Shape::Choice | Shape::Abstract => {}
            }
            items.extend(
                self.choices
                    .values()
                    .filter(|c| c.particle.owner == id)
                    .map(Item::Choice),
            );
            if self.derived.contains_key(&id) {
                items.push(Item::Derived(id));
            }
            ordered.push((&ty.at, items));
        }
        for (index, ty) in self.model.simple_types.iter().enumerate() {
            let item = match &ty.kind {
                SimpleKind::Enumeration(values) => Item::Enumeration(SimpleId(index), values),
                SimpleKind::Alias(base) => Item::Alias(SimpleId(index), *base),
            };
            ordered.push((&ty.at, vec![item]));
        }
        ordered.sort_by_key(|(at, _)| at.sort_key());
        ordered.into_iter().flat_map(|(_, items)| items).collect()
    }

    pub fn shape(&self, id: ComplexId) -> Shape {
        self.shapes[id.0]
    }

    pub fn fields(&self, id: ComplexId) -> &[Field<'m>] {
        self.fields.get(&id).map_or(&[], Vec::as_slice)
    }

    pub fn complex_ident(&self, id: ComplexId) -> Ident {
        names::ident(&self.complex_names[id.0])
    }

    pub fn simple_ident(&self, id: SimpleId) -> Ident {
        names::ident(&self.simple_names[id.0])
    }

    pub fn derived(&self, id: ComplexId) -> Option<&Derived> {
        self.derived.get(&id)
    }

    pub fn choice(&self, id: ChoiceId) -> Option<&ChoiceEnum<'m>> {
        self.choices.get(&id)
    }

    /// The Rust type of a value of `ty`.
    pub fn value_type(&self, ty: TypeRef) -> TokenStream {
        match ty {
            TypeRef::Builtin(builtin) => builtin_type(builtin),
            TypeRef::Complex(id) => {
                let ident = match self.derived(id) {
                    Some(derived) => names::ident(&derived.name),
                    None => self.complex_ident(id),
                };
                quote!(#ident)
            }
            TypeRef::Simple(id) => {
                let ident = self.simple_ident(id);
                quote!(#ident)
            }
        }
    }

    /// The node a value of `ty` is, in the by-value containment graph.
    /// An `Option<&str>` expression for a namespace: the `NAMESPACE` constant when it is the
    /// target namespace.
    pub fn namespace(&self, namespace: Option<&str>) -> TokenStream {
        match namespace {
            Some(ns) => {
                let ns = self.namespace_str(ns);
                quote!(Some(#ns))
            }
            None => quote!(None),
        }
    }

    pub fn namespace_str(&self, namespace: &str) -> TokenStream {
        if namespace == self.model.target_namespace {
            quote!(NAMESPACE)
        } else {
            quote!(#namespace)
        }
    }

    /// How a type's origin reads in documentation and messages.
    pub fn describe(&self, name: &TypeName) -> String {
        match name {
            TypeName::Named(q) => format!("type `{}`", q.local),
            TypeName::Element(q) => format!("the anonymous type of element `{}`", q.local),
            TypeName::Local { parent, element } => {
                format!(
                    "the anonymous type of `{element}` in {}",
                    self.describe(parent)
                )
            }
        }
    }

    pub fn describe_choice(&self, choice: &ChoiceParticle) -> String {
        match &choice.group {
            Some(group) => format!("the choice of group `{}`", group.local),
            None => format!(
                "a choice in {}",
                self.describe(&self.model.complex(choice.owner).name)
            ),
        }
    }
}

fn builtin_type(builtin: Builtin) -> TokenStream {
    match builtin {
        Builtin::String => quote!(String),
        Builtin::Int => quote!(i32),
        Builtin::Long => quote!(i64),
        Builtin::UnsignedInt => quote!(u32),
        Builtin::UnsignedLong => quote!(u64),
        Builtin::Boolean => quote!(bool),
        Builtin::Double => quote!(f64),
        Builtin::DateTime => quote!(xmlbind::DateTime),
        Builtin::Base64Binary => quote!(xmlbind::Base64Binary),
    }
}

pub(super) fn complex_of(ty: TypeRef) -> Option<ComplexId> {
    match ty {
        TypeRef::Complex(id) => Some(id),
        _ => None,
    }
}

/// The Rust name of a type: its own name, or for an anonymous type its element's name after
/// the enclosing type's.
fn rust_type_name(name: &TypeName) -> String {
    match name {
        TypeName::Named(q) | TypeName::Element(q) => names::item_name(&q.local),
        TypeName::Local { parent, element } => {
            format!("{}{}", rust_type_name(parent), names::type_name(element))
        }
    }
}

/// Where a field is declared; the text of simple content is declared by its type (`owner`).
pub(super) fn field_location<'a>(field: &Field<'a>, owner: &'a Location) -> &'a Location {
    match field.kind {
        FieldKind::Attribute(a) => &a.at,
        FieldKind::Element(e) => &e.at,
        FieldKind::Choice(c) => &c.at,
        FieldKind::Text(_) => owner,
    }
}

pub(super) fn describe_field(field: &Field<'_>) -> String {
    match field.kind {
        FieldKind::Attribute(a) => format!("attribute {}", a.name.local),
        FieldKind::Element(e) => format!("element {}", e.name.local),
        FieldKind::Choice(_) => "a choice".to_owned(),
        FieldKind::Text(_) => "the text content".to_owned(),
    }
}

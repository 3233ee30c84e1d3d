//! The Query binding (the `Action=…&InstanceId.1=…` protocol), emitted when
//! [`crate::Options::query`] asks for it: `wire::query::FromQuery` for every type a request
//! reaches, and per portType an enum of its requests that reads one from an action and its
//! parameters and calls the handler's method for it.
//!
//! A parameter is named after its element (EC2: with a capital, `instanceType` →
//! `InstanceType`), after its parent's parameter and a dot when nested
//! (`Placement.AvailabilityZone`). Lists are numbered from 1, by protocol:
//! - EC2: a list wrapper (a type holding only repeated `item`s of a complex type) is
//!   `IpPermissions.1.…` for structured items; when its element's name ends in `Set` and
//!   each item is one simple value, the values themselves under the item's element name
//!   (`instancesSet/item/instanceId` → `InstanceId.1`);
//! - AWS (IAM): a list wrapper (a type holding only repeated `member`s, simple or complex)
//!   is `Name.member.1` for values, `Name.member.1.Field` for structures.
//!
//! A choice takes the alternative whose parameter is present. [`QueryBinding::renames`]
//! gives the names that follow no rule; a renamed element whose type holds one simple value
//! is that value (`userData/data` → `UserData`).

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::service::{message_types, trait_ident};
use super::types::variant_ident;
use super::{doc_comment, Cardinality, ChoiceEnum, Context, Field, FieldKind, Shape};
use crate::error::{Error, Location};
use crate::model::{ComplexId, ElementParticle, PortType, TypeRef};
use crate::names;
use crate::{QueryBinding, QueryProtocol};

/// The `FromQuery` impls of the types the requests reach, and the request enums.
pub(super) fn binding(cx: &Context<'_>, binding: &QueryBinding) -> Result<TokenStream, Error> {
    let emitter = Emitter { cx, binding };
    let mut tokens = TokenStream::new();
    for id in emitter.reached()? {
        tokens.extend(emitter.implementation(id)?);
    }
    for port_type in &cx.model.port_types {
        tokens.extend(emitter.requests(port_type)?);
    }
    Ok(tokens)
}

struct Emitter<'c, 'm> {
    cx: &'c Context<'m>,
    binding: &'c QueryBinding,
}

/// How a complex type's value is spelled in parameters.
enum Spelling<'m> {
    /// No stored fields: present or not.
    Empty,
    /// One simple value, under the parameter itself (a renamed single-value type).
    Value(&'m ElementParticle),
    /// An EC2 list wrapper of single simple values: `Name.1`, `Name.2`.
    Values {
        item_type: ComplexId,
        value: &'m ElementParticle,
    },
    /// An AWS list wrapper of simple `member`s: `Name.member.1`, `Name.member.2`.
    Members(&'m ElementParticle),
    /// Fields under `Name.` (or for a list wrapper, items under `Name.N.`).
    Nested,
}

impl<'c, 'm> Emitter<'c, 'm> {
    /// The complex types the operations' requests reach, in input order.
    fn reached(&self) -> Result<BTreeSet<ComplexId>, Error> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<ComplexId> = Vec::new();
        for port_type in &self.cx.model.port_types {
            for operation in &port_type.operations {
                match self.cx.model.element(operation.input).ty {
                    TypeRef::Complex(id) => stack.push(id),
                    _ => {
                        return Err(self.unsupported(
                            &operation.at,
                            &format!("the request of {} is not a complex type", operation.name),
                        ))
                    }
                }
            }
        }
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            for field in self.cx.fields(id) {
                let elements: Vec<&ElementParticle> = match field.kind {
                    FieldKind::Element(e) => vec![e],
                    FieldKind::Choice(c) => c.alternatives.iter().collect(),
                    FieldKind::Attribute(_) | FieldKind::Text(_) => Vec::new(),
                };
                stack.extend(elements.into_iter().filter_map(|e| self.read_type(id, e)));
            }
        }
        Ok(seen)
    }

    fn unsupported(&self, at: &Location, what: &str) -> Error {
        Error::Invalid {
            at: at.clone(),
            message: format!("the Query binding does not support {what}"),
        }
    }

    /// The parameter name of element `element` of type `owner`.
    fn parameter(&self, owner: ComplexId, element: &str) -> String {
        let owner_name = self.cx.model.complex(owner).name.local();
        self.binding
            .renames
            .iter()
            .find(|r| r.owner == owner_name && r.element == element)
            .map_or_else(
                || match self.binding.protocol {
                    QueryProtocol::Ec2 => capitalized(element),
                    QueryProtocol::Aws => element.to_owned(),
                },
                |r| r.parameter.clone(),
            )
    }

    /// Reads the numbered simple values of list `key`: `Name.1` (EC2), `Name.member.1`
    /// (AWS).
    fn values(&self, key: &TokenStream) -> TokenStream {
        match self.binding.protocol {
            QueryProtocol::Ec2 => quote!(params.values(&#key)?),
            QueryProtocol::Aws => quote!(params.members(&#key)?),
        }
    }

    /// Reads the numbered structures of type `item` of list `key`: `Name.1.…` (EC2),
    /// `Name.member.1.…` (AWS).
    fn items(&self, key: &TokenStream, item: &TokenStream) -> TokenStream {
        let read = quote!(<#item as wire::query::FromQuery>::from_query);
        match self.binding.protocol {
            QueryProtocol::Ec2 => quote!(params.items(&#key, #read)?),
            QueryProtocol::Aws => quote!(params.member_items(&#key, #read)?),
        }
    }

    fn is_renamed(&self, owner: ComplexId, element: &str) -> bool {
        let owner_name = self.cx.model.complex(owner).name.local();
        self.binding
            .renames
            .iter()
            .any(|r| r.owner == owner_name && r.element == element)
    }

    /// The only stored field of a struct, when it is an element.
    fn only_element(&self, id: ComplexId) -> Option<&'m ElementParticle> {
        if self.cx.shape(id) != Shape::Struct {
            return None;
        }
        let mut stored = self.cx.fields(id).iter().filter(|f| f.is_stored());
        match (stored.next(), stored.next()) {
            (
                Some(Field {
                    kind: FieldKind::Element(e),
                    ..
                }),
                None,
            ) => Some(e),
            _ => None,
        }
    }

    /// The only stored field of a struct, when it is one simple value.
    fn single_value(&self, id: ComplexId) -> Option<&'m ElementParticle> {
        self.only_element(id).filter(|e| {
            super::context::complex_of(e.ty).is_none()
                && Cardinality::of(e.occurs, e.nillable) == Cardinality::One
        })
    }

    /// The repeated element of a list wrapper: a struct whose only stored field is
    /// repeated `item`s of a complex type (EC2) or repeated `member`s (AWS).
    fn list_element(&self, id: ComplexId) -> Option<&'m ElementParticle> {
        let element = self.only_element(id).filter(|e| e.occurs.is_repeated())?;
        match self.binding.protocol {
            QueryProtocol::Ec2 => (element.name.local == "item"
                && super::context::complex_of(element.ty).is_some())
            .then_some(element),
            QueryProtocol::Aws => (element.name.local == "member").then_some(element),
        }
    }

    /// The item type of a list wrapper of structures.
    fn list_item(&self, id: ComplexId) -> Option<ComplexId> {
        self.list_element(id)
            .and_then(|e| super::context::complex_of(e.ty))
    }

    /// The type whose `from_query` reads element `element` of `owner`, if any: the item
    /// type of a list of structures, the element's own type when nested.
    fn read_type(&self, owner: ComplexId, element: &ElementParticle) -> Option<ComplexId> {
        let ty = super::context::complex_of(element.ty)?;
        match self.spelling(owner, element, ty) {
            Spelling::Empty
            | Spelling::Value(_)
            | Spelling::Values { .. }
            | Spelling::Members(_) => None,
            Spelling::Nested if element.occurs.is_repeated() => Some(ty),
            Spelling::Nested => Some(self.list_item(ty).unwrap_or(ty)),
        }
    }

    fn spelling(&self, owner: ComplexId, element: &ElementParticle, ty: ComplexId) -> Spelling<'m> {
        if self.cx.shape(ty) == Shape::Struct && !self.cx.fields(ty).iter().any(Field::is_stored) {
            return Spelling::Empty;
        }
        let renamed = self.is_renamed(owner, &element.name.local);
        if self.binding.protocol == QueryProtocol::Aws {
            return match self.list_element(ty) {
                Some(member) if super::context::complex_of(member.ty).is_none() => {
                    Spelling::Members(member)
                }
                _ => Spelling::Nested,
            };
        }
        if let Some(item_type) = self.list_item(ty) {
            if let Some(value) = self.single_value(item_type) {
                if renamed || element.name.local.ends_with("Set") {
                    return Spelling::Values { item_type, value };
                }
            }
            return Spelling::Nested;
        }
        match self.single_value(ty) {
            Some(value) if renamed => Spelling::Value(value),
            _ => Spelling::Nested,
        }
    }

    /// `impl FromQuery` for a struct or a choice-shaped complex type.
    fn implementation(&self, id: ComplexId) -> Result<TokenStream, Error> {
        let ty = self.cx.model.complex(id);
        let (name, body) = match self.cx.shape(id) {
            Shape::Struct => (self.cx.complex_ident(id), self.structure(id)?),
            Shape::Choice => {
                let choice = self
                    .cx
                    .choices
                    .values()
                    .find(|c| c.particle.owner == id)
                    .ok_or_else(|| self.unsupported(&ty.at, "a choice without its enum"))?;
                (names::ident(&choice.name), self.choice(id, choice)?)
            }
            Shape::Abstract => return Err(self.unsupported(&ty.at, "abstract types")),
        };
        if self.cx.derived(id).is_some() {
            return Err(self.unsupported(&ty.at, "types other types extend"));
        }
        let reads =
            self.cx.shape(id) == Shape::Choice || self.cx.fields(id).iter().any(Field::is_stored);
        let mut tokens = from_query_impl(&name, body, reads);
        // The enums of choices inside a struct.
        for field in self.cx.fields(id) {
            if let FieldKind::Choice(particle) = field.kind {
                if particle.owner == id && self.cx.shape(id) == Shape::Struct {
                    if let Some(choice) = self.cx.choice(particle.id) {
                        let name = names::ident(&choice.name);
                        let body = self.choice(id, choice)?;
                        tokens.extend(from_query_impl(&name, body, true));
                    }
                }
            }
        }
        Ok(tokens)
    }

    fn structure(&self, id: ComplexId) -> Result<TokenStream, Error> {
        let owner = self.cx.model.complex(id);
        let mut fields = Vec::new();
        for field in self.cx.fields(id).iter().filter(|f| f.is_stored()) {
            let ident = names::ident(&field.name);
            let value = match field.kind {
                FieldKind::Element(element) => self.element(
                    id,
                    element,
                    Cardinality::of(element.occurs, element.nillable),
                )?,
                FieldKind::Attribute(attribute) => {
                    let key = self.key(&self.parameter(id, &attribute.name.local));
                    if attribute.required {
                        quote!(params.required(&#key)?)
                    } else {
                        quote!(params.value(&#key)?)
                    }
                }
                FieldKind::Choice(particle) => {
                    let choice = self.cx.choice(particle.id).ok_or_else(|| {
                        self.unsupported(&particle.at, "a choice without its enum")
                    })?;
                    let name = names::ident(&choice.name);
                    let keys = particle
                        .alternatives
                        .iter()
                        .map(|a| self.parameter(particle.owner, &a.name.local));
                    match Cardinality::of(particle.occurs, false) {
                        Cardinality::One => {
                            quote!(<#name as wire::query::FromQuery>::from_query(params, prefix)?)
                        }
                        Cardinality::Optional | Cardinality::Nillable => quote! {
                            if [#(#keys),*].iter().any(|key| params.has(&format!("{prefix}{key}"))) {
                                Some(<#name as wire::query::FromQuery>::from_query(params, prefix)?)
                            } else {
                                None
                            }
                        },
                        Cardinality::Many => {
                            return Err(self.unsupported(&particle.at, "repeated choices"))
                        }
                    }
                }
                FieldKind::Text(_) => return Err(self.unsupported(&owner.at, "simple content")),
            };
            fields.push(quote!(#ident: #value));
        }
        Ok(quote!(Ok(Self { #(#fields,)* })))
    }

    /// `format!("{prefix}Name")`.
    fn key(&self, parameter: &str) -> TokenStream {
        let pattern = format!("{{prefix}}{parameter}");
        quote!(format!(#pattern))
    }

    /// The expression reading element `element` of type `owner` with `cardinality`.
    fn element(
        &self,
        owner: ComplexId,
        element: &ElementParticle,
        cardinality: Cardinality,
    ) -> Result<TokenStream, Error> {
        let parameter = self.parameter(owner, &element.name.local);
        let key = self.key(&parameter);
        let Some(ty) = super::context::complex_of(element.ty) else {
            return Ok(match cardinality {
                Cardinality::One => quote!(params.required(&#key)?),
                Cardinality::Optional | Cardinality::Nillable => quote!(params.value(&#key)?),
                Cardinality::Many => self.values(&key),
            });
        };
        if self
            .cx
            .recursive(super::ValueNode::Struct(owner), element.ty)
        {
            return Err(self.unsupported(&element.at, "types that contain themselves"));
        }
        let name = self.cx.value_type(element.ty);
        let read = match self.spelling(owner, element, ty) {
            Spelling::Empty => {
                return Ok(match cardinality {
                    Cardinality::One => quote!({
                        params.flag(&#key);
                        #name::default()
                    }),
                    Cardinality::Optional | Cardinality::Nillable => {
                        quote!(params.flag(&#key).then(#name::default))
                    }
                    Cardinality::Many => {
                        return Err(self.unsupported(&element.at, "repeated empty elements"))
                    }
                });
            }
            Spelling::Value(value) => {
                let field = names::ident(&names::field_name(&value.name.local));
                return Ok(match cardinality {
                    Cardinality::One => quote!(#name { #field: params.required(&#key)? }),
                    Cardinality::Optional | Cardinality::Nillable => {
                        quote!(params.value(&#key)?.map(|value| #name { #field: value }))
                    }
                    Cardinality::Many => {
                        return Err(self.unsupported(&element.at, "repeated single values"))
                    }
                });
            }
            Spelling::Values { item_type, value } => {
                let item = self.cx.complex_ident(item_type);
                let field = names::ident(&names::field_name(&value.name.local));
                let values_key = self.key(&if self.is_renamed(owner, &element.name.local) {
                    self.parameter(owner, &element.name.local)
                } else {
                    capitalized(&value.name.local)
                });
                let read = quote! {
                    #name {
                        item: params
                            .values(&#values_key)?
                            .into_iter()
                            .map(|value| #item { #field: value })
                            .collect(),
                    }
                };
                return Ok(match cardinality {
                    Cardinality::One => read,
                    Cardinality::Optional | Cardinality::Nillable => quote! {
                        if params.has(&#values_key) { Some(#read) } else { None }
                    },
                    Cardinality::Many => {
                        return Err(self.unsupported(&element.at, "repeated lists"))
                    }
                });
            }
            Spelling::Members(member) => {
                let field = names::ident(&names::field_name(&member.name.local));
                let values = self.values(&key);
                quote!(#name { #field: #values })
            }
            Spelling::Nested => match self.list_element(ty).zip(self.list_item(ty)) {
                Some((list, item_type)) => {
                    let field = names::ident(&names::field_name(&list.name.local));
                    let item = self.cx.value_type(TypeRef::Complex(item_type));
                    let items = self.items(&key, &item);
                    quote!(#name { #field: #items })
                }
                None => {
                    let nested = self.key(&format!("{parameter}."));
                    quote!(<#name as wire::query::FromQuery>::from_query(params, &#nested)?)
                }
            },
        };
        Ok(match cardinality {
            Cardinality::One => read,
            Cardinality::Optional | Cardinality::Nillable => quote! {
                if params.has(&#key) { Some(#read) } else { None }
            },
            Cardinality::Many => self.items(&key, &name),
        })
    }

    /// The alternative whose parameter is present; a missing choice names every alternative.
    fn choice(&self, owner: ComplexId, choice: &ChoiceEnum<'m>) -> Result<TokenStream, Error> {
        let mut arms = Vec::new();
        let mut all = Vec::new();
        for alternative in &choice.particle.alternatives {
            let parameter = self.parameter(choice.particle.owner, &alternative.name.local);
            let key = self.key(&parameter);
            let variant = variant_ident(&alternative.name.local);
            let cardinality = if alternative.nillable {
                Cardinality::Optional
            } else {
                Cardinality::One
            };
            let value = self.element(owner, alternative, cardinality)?;
            arms.push(quote! {
                if params.has(&#key) {
                    return Ok(Self::#variant(#value));
                }
            });
            all.push(parameter);
        }
        let missing = format!("{{prefix}}{}", all.join("|{prefix}"));
        Ok(quote! {
            #(#arms)*
            Err(wire::query::QueryError::MissingParameter(format!(#missing)))
        })
    }

    /// Per portType: `<Trait>Request`, one variant per operation.
    fn requests(&self, port_type: &PortType) -> Result<TokenStream, Error> {
        let trait_name = trait_ident(port_type);
        let name = format_ident!("{}Request", trait_name);
        let table = super::service::operations_ident(port_type);
        let doc = doc_comment(&format!(
            "A request of portType `{}`, read from Query parameters or a SOAP Body: one variant per operation.",
            port_type.name
        ));
        let mut variants = Vec::new();
        let mut reads = Vec::new();
        let mut elements = Vec::new();
        let mut operations = Vec::new();
        let mut calls = Vec::new();
        for (index, operation) in port_type.operations.iter().enumerate() {
            let index = proc_macro2::Literal::usize_unsuffixed(index);
            let variant = variant_ident(&operation.name);
            let (request, _) = message_types(self.cx, operation);
            let action = &operation.name;
            let method = super::service::method_ident(operation);
            let doc = doc_comment(&format!("`{action}`."));
            variants.push(quote!(#doc #variant(#request)));
            reads.push(quote! {
                #action => Ok(Self::#variant(<#request as wire::query::FromQuery>::from_query(params, "")?)),
            });
            elements.push(quote! {
                #action => Some(<#request as xmlbind::FromXml>::from_xml(body).map(Self::#variant)),
            });
            operations.push(quote!(Self::#variant(_) => &#table[#index],));
            calls.push(quote! {
                Self::#variant(request) => Box::new(handler.#method(request, context).await?),
            });
        }
        Ok(quote! {
            #doc
            #[derive(Debug, Clone, PartialEq)]
            pub enum #name {
                #(#variants,)*
            }

            impl #name {
                /// Reads the request of the operation named `action` from `params`, taking the
                /// parameters it uses; `params.finish()` then names any left over.
                pub fn from_query(action: &str, params: &mut wire::query::QueryParams) -> Result<Self, wire::query::QueryError> {
                    match action {
                        #(#reads)*
                        _ => Err(wire::query::QueryError::InvalidAction(action.to_owned())),
                    }
                }

                /// Reads the request of the operation named `operation` from `body`, its SOAP
                /// Body element; `None` when `operation` is not one of this portType's.
                pub fn from_body(operation: &str, body: xmlbind::ElementRef<'_>) -> Option<Result<Self, xmlbind::XmlError>> {
                    match operation {
                        #(#elements)*
                        _ => None,
                    }
                }

                /// The operation this request is for.
                pub fn operation(&self) -> &'static soap::Operation {
                    match self {
                        #(#operations)*
                    }
                }

                /// Calls the handler's method for this request: the reply SOAP would send.
                pub async fn call<T: #trait_name>(self, handler: &T, context: soap::RequestContext) -> Result<soap::Reply, soap::Fault> {
                    let operation = self.operation();
                    let body: Box<dyn xmlbind::ToXml + Send + Sync> = match self {
                        #(#calls)*
                    };
                    Ok(soap::Reply { namespace: operation.response.0, local: operation.response.1, body })
                }
            }
        })
    }
}

/// `impl FromQuery for #name`; a type with nothing to read (`reads` false) leaves the
/// arguments unused.
fn from_query_impl(name: &proc_macro2::Ident, body: TokenStream, reads: bool) -> TokenStream {
    let (params, prefix) = if reads {
        (format_ident!("params"), format_ident!("prefix"))
    } else {
        (format_ident!("_params"), format_ident!("_prefix"))
    };
    quote! {
        impl wire::query::FromQuery for #name {
            fn from_query(#params: &mut wire::query::QueryParams, #prefix: &str) -> Result<Self, wire::query::QueryError> {
                #body
            }
        }
    }
}

/// `instanceType` → `InstanceType`.
fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

//! Per portType, the structure of its requests as data (`wire::catalog::Service`): each
//! operation's table entry and request element tree, for clients that build requests from
//! the schema at run time. The complex types the requests reach are statics of a module of
//! their own (`message_catalog`), referring to each other, so recursive types stay finite.

use std::collections::{BTreeSet, HashMap};

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::service::operations_ident;
use super::{doc_comment, Context, FieldKind};
use crate::model::{Builtin, ComplexId, Occurs, PortType, QName, SimpleKind, TypeRef};
use crate::names;

/// The catalog of every portType, or nothing for a schema without one.
pub(super) fn definition(cx: &Context<'_>) -> TokenStream {
    let port_types = &cx.model.port_types;
    if port_types.is_empty() {
        return TokenStream::new();
    }
    let reached = reached_types(cx);
    let statics = Statics::new(cx, &reached);
    let types = reached.iter().map(|&id| {
        let ident = statics.ident(id);
        let name = cx.model.complex(id).name.local();
        let members = cx.fields(id).iter().map(|field| match field.kind {
            FieldKind::Attribute(a) => {
                let namespace = cx.namespace(a.name.namespace.as_deref());
                let local = &a.name.local;
                let ty = simple(cx, a.ty);
                let required = a.required;
                let fixed = option(a.fixed.as_deref());
                quote!(wire::catalog::Member::Attribute(wire::catalog::Attribute {
                    namespace: #namespace, name: #local, ty: #ty, required: #required, fixed: #fixed,
                }))
            }
            FieldKind::Text(ty) => {
                let ty = simple(cx, ty);
                quote!(wire::catalog::Member::Text(#ty))
            }
            FieldKind::Element(e) => {
                let element = statics.element(&e.name, e.occurs, e.nillable, e.ty);
                quote!(wire::catalog::Member::Element(#element))
            }
            FieldKind::Choice(c) => {
                let occurs = occurs(c.occurs);
                let alternatives = c
                    .alternatives
                    .iter()
                    .map(|a| statics.element(&a.name, a.occurs, a.nillable, a.ty));
                quote!(wire::catalog::Member::Choice(wire::catalog::Choice {
                    occurs: #occurs, alternatives: &[#(#alternatives),*],
                }))
            }
        });
        quote! {
            static #ident: wire::catalog::Complex = wire::catalog::Complex {
                name: #name,
                members: &[#(#members),*],
            };
        }
    });
    let services = port_types.iter().map(|port_type| {
        let ident = catalog_ident(port_type);
        let doc = doc_comment(&format!(
            "The requests of portType `{}` as data, for clients built at run time.",
            port_type.name
        ));
        let (port, service) = (&port_type.name, &port_type.service);
        let table = operations_ident(port_type);
        let operations = port_type
            .operations
            .iter()
            .enumerate()
            .map(|(index, operation)| {
                let element = cx.model.element(operation.input);
                let request =
                    statics.element(&element.name, Occurs::ONCE, element.nillable, element.ty);
                let index = Literal::usize_unsuffixed(index);
                quote!(wire::catalog::Operation { soap: &super::#table[#index], request: #request })
            });
        quote! {
            #doc
            pub static #ident: wire::catalog::Service = wire::catalog::Service {
                port_type: #port,
                service: #service,
                namespace: NAMESPACE,
                operations: &[#(#operations),*],
            };
        }
    });
    let exported = port_types.iter().map(catalog_ident);
    quote! {
        pub use message_catalog::{#(#exported),*};

        /// The request structures of this module's portTypes ([`wire::catalog`]).
        mod message_catalog {
            use super::NAMESPACE;

            #(#services)*
            #(#types)*
        }
    }
}

/// `EUCALYPTUS_NC_CATALOG`.
fn catalog_ident(port_type: &PortType) -> Ident {
    format_ident!("{}_CATALOG", names::const_name(&port_type.name))
}

/// The complex types the requests reach, through elements, choices and derivations.
fn reached_types(cx: &Context<'_>) -> BTreeSet<ComplexId> {
    let mut stack: Vec<ComplexId> = cx
        .model
        .port_types
        .iter()
        .flat_map(|p| &p.operations)
        .filter_map(|o| complex(cx.model.element(o.input).ty))
        .collect();
    let mut reached = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if let Some(derived) = cx.derived(id) {
            stack.extend(
                derived
                    .variants
                    .iter()
                    .map(|(v, _)| *v)
                    .filter(|v| *v != id),
            );
            if cx.model.complex(id).is_abstract {
                continue;
            }
        }
        if !reached.insert(id) {
            continue;
        }
        for field in cx.fields(id) {
            match field.kind {
                FieldKind::Element(e) => stack.extend(complex(e.ty)),
                FieldKind::Choice(c) => {
                    stack.extend(c.alternatives.iter().filter_map(|a| complex(a.ty)));
                }
                FieldKind::Attribute(_) | FieldKind::Text(_) => {}
            }
        }
    }
    reached
}

fn complex(ty: TypeRef) -> Option<ComplexId> {
    match ty {
        TypeRef::Complex(id) => Some(id),
        TypeRef::Builtin(_) | TypeRef::Simple(_) => None,
    }
}

/// The names of the complex types' statics: their Rust type's name in capitals, with the
/// type's index where two would read alike.
struct Statics<'c, 'm> {
    cx: &'c Context<'m>,
    idents: HashMap<ComplexId, Ident>,
}

impl<'c, 'm> Statics<'c, 'm> {
    fn new(cx: &'c Context<'m>, reached: &BTreeSet<ComplexId>) -> Self {
        let name = |id: &ComplexId| names::const_name(&cx.complex_names[id.0]);
        let mut count: HashMap<String, usize> = HashMap::new();
        for id in reached {
            *count.entry(name(id)).or_default() += 1;
        }
        let idents = reached
            .iter()
            .map(|id| {
                let base = name(id);
                let unique = if count[&base] > 1 {
                    format!("{base}_{}", id.0)
                } else {
                    base
                };
                (*id, format_ident!("{unique}"))
            })
            .collect();
        Self { cx, idents }
    }

    fn ident(&self, id: ComplexId) -> &Ident {
        &self.idents[&id]
    }

    /// A `wire::catalog::Element`.
    fn element(&self, name: &QName, occurs_: Occurs, nillable: bool, ty: TypeRef) -> TokenStream {
        let namespace = self.cx.namespace(name.namespace.as_deref());
        let local = &name.local;
        let occurs = occurs(occurs_);
        let ty = self.type_of(ty);
        quote!(wire::catalog::Element {
            namespace: #namespace, name: #local, occurs: #occurs, nillable: #nillable, ty: #ty,
        })
    }

    /// A `wire::catalog::Type`.
    fn type_of(&self, ty: TypeRef) -> TokenStream {
        let Some(id) = complex(ty) else {
            let simple = simple(self.cx, ty);
            return quote!(wire::catalog::Type::Simple(#simple));
        };
        match self.cx.derived(id) {
            Some(derived) => {
                let variants = derived.variants.iter().map(|(variant, name)| {
                    let namespace = self.cx.namespace(name.namespace.as_deref());
                    let local = &name.local;
                    let ident = self.ident(*variant);
                    quote!(wire::catalog::Variant { namespace: #namespace, name: #local, ty: &#ident })
                });
                quote!(wire::catalog::Type::Derived(&[#(#variants),*]))
            }
            None => {
                let ident = self.ident(id);
                quote!(wire::catalog::Type::Complex(&#ident))
            }
        }
    }
}

/// A `wire::catalog::Simple` for a built-in or simple type (aliases resolved).
fn simple(cx: &Context<'_>, ty: TypeRef) -> TokenStream {
    match ty {
        TypeRef::Builtin(builtin) => {
            let variant = builtin_variant(builtin);
            quote!(wire::catalog::Simple::Builtin(wire::catalog::Builtin::#variant))
        }
        TypeRef::Simple(id) => match &cx.model.simple(id).kind {
            SimpleKind::Enumeration(values) => {
                quote!(wire::catalog::Simple::Enumeration(&[#(#values),*]))
            }
            SimpleKind::Alias(base) => simple(cx, *base),
        },
        // Complex types are never simple content or attribute values: parsing refuses them.
        TypeRef::Complex(_) => {
            quote!(wire::catalog::Simple::Builtin(
                wire::catalog::Builtin::String
            ))
        }
    }
}

fn builtin_variant(builtin: Builtin) -> Ident {
    format_ident!(
        "{}",
        match builtin {
            Builtin::String => "String",
            Builtin::Int => "Int",
            Builtin::Long => "Long",
            Builtin::UnsignedInt => "UnsignedInt",
            Builtin::UnsignedLong => "UnsignedLong",
            Builtin::Boolean => "Boolean",
            Builtin::Double => "Double",
            Builtin::DateTime => "DateTime",
            Builtin::Base64Binary => "Base64Binary",
        }
    )
}

fn occurs(occurs: Occurs) -> TokenStream {
    let min = occurs.min;
    let max = option(occurs.max);
    quote!(wire::catalog::Occurs { min: #min, max: #max })
}

fn option<T: quote::ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(value) => quote!(Some(#value)),
        None => quote!(None),
    }
}

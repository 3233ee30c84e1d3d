//! `xmlbind::Sample` for every generated type, behind the including crate's `sample`
//! feature: every field filled, lists of two, the first alternative of a choice, the first
//! concrete type of a derived enum. Where a type contains itself, the fields (and variants)
//! leading back to it keep their default (`None`, empty), or the sample would be infinite.

use proc_macro2::TokenStream;
use quote::quote;

use super::types::variant_ident;
use super::{ChoiceEnum, Context, FieldKind, Item, Through, ValueNode};
use crate::model::ComplexId;
use crate::names;

pub(super) fn implementation(cx: &Context<'_>, item: &Item<'_>) -> TokenStream {
    let (name, body) = match *item {
        Item::Struct(id) => (cx.complex_ident(id), structure(cx, id)),
        Item::Choice(choice) => (names::ident(&choice.name), choice_sample(cx, choice)),
        Item::Derived(id) => match cx.derived(id) {
            Some(derived) => (names::ident(&derived.name), derived_sample(cx, id)),
            None => return TokenStream::new(),
        },
        Item::Enumeration(id, values) => (cx.simple_ident(id), enumeration(values)),
        Item::Alias(..) => return TokenStream::new(),
    };
    quote! {
        #[cfg(feature = "sample")]
        impl xmlbind::Sample for #name {
            fn sample() -> Self {
                #body
            }
        }
    }
}

fn structure(cx: &Context<'_>, id: ComplexId) -> TokenStream {
    let owner = ValueNode::Struct(id);
    let fields = cx.fields(id).iter().filter(|f| f.is_stored()).map(|field| {
        let ident = names::ident(&field.name);
        let recursive = match field.kind {
            FieldKind::Element(e) => cx.recursive(owner, e.ty),
            FieldKind::Choice(c) => cx.contains(ValueNode::Choice(c.id), owner, Through::Lists),
            FieldKind::Attribute(_) | FieldKind::Text(_) => false,
        };
        if recursive {
            quote!(#ident: Default::default())
        } else {
            quote!(#ident: xmlbind::Sample::sample())
        }
    });
    quote!(Self { #(#fields,)* })
}

fn choice_sample(cx: &Context<'_>, choice: &ChoiceEnum<'_>) -> TokenStream {
    let owner = ValueNode::Choice(choice.particle.id);
    let first = choice
        .particle
        .alternatives
        .iter()
        .find(|a| !cx.recursive(owner, a.ty));
    match first {
        Some(alternative) => {
            let variant = variant_ident(&alternative.name.local);
            quote!(Self::#variant(xmlbind::Sample::sample()))
        }
        None => quote!(Self::default()),
    }
}

fn derived_sample(cx: &Context<'_>, id: ComplexId) -> TokenStream {
    let owner = ValueNode::Derived(id);
    let first = cx.derived(id).and_then(|d| {
        d.variants
            .iter()
            .find(|(v, _)| !cx.contains(ValueNode::Struct(*v), owner, Through::Lists))
    });
    match first {
        Some((variant, _)) => {
            let ident = cx.complex_ident(*variant);
            quote!(Self::#ident(xmlbind::Sample::sample()))
        }
        None => quote!(Self::default()),
    }
}

fn enumeration(values: &[String]) -> TokenStream {
    let first = values.first().map(|v| variant_ident(v));
    quote!(Self::#first)
}

//! Rust type definitions: a struct per complex type, enums for choices, derived types and
//! enumerations, aliases for other simple types.

use proc_macro2::TokenStream;
use quote::quote;

use super::{
    doc_comment, Cardinality, ChoiceEnum, Context, Field, FieldKind, Item, Through, ValueNode,
};
use crate::model::{ComplexId, ElementParticle, SimpleId, TypeRef};
use crate::names;

pub(super) fn definition(cx: &Context<'_>, item: &Item<'_>) -> TokenStream {
    match *item {
        Item::Struct(id) => structure(cx, id),
        Item::Choice(choice) => choice_enum(cx, choice),
        Item::Derived(id) => derived_enum(cx, id),
        Item::Enumeration(id, values) => enumeration(cx, id, values),
        Item::Alias(id, base) => alias(cx, id, base),
    }
}

fn structure(cx: &Context<'_>, id: ComplexId) -> TokenStream {
    let ty = cx.model.complex(id);
    let name = cx.complex_ident(id);
    let mut doc = sentence(&cx.describe(&ty.name));
    if let Some(base) = ty.base {
        doc = format!(
            "{} Extends {}, whose fields come first.",
            doc,
            cx.describe(&cx.model.complex(base).name)
        );
    }
    let fields = cx.fields(id).iter().filter(|f| f.is_stored()).map(|field| {
        let ident = names::ident(&field.name);
        let ty = field_type(cx, ValueNode::Struct(id), field);
        let doc = doc_comment(&field_doc(field));
        quote!(#doc pub #ident: #ty)
    });
    let doc = doc_comment(&doc);
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct #name {
            #(#fields,)*
        }
    }
}

/// The Rust type of a struct field.
pub(super) fn field_type(cx: &Context<'_>, owner: ValueNode, field: &Field<'_>) -> TokenStream {
    match field.kind {
        FieldKind::Attribute(attribute) => {
            let ty = cx.value_type(attribute.ty);
            if attribute.required {
                ty
            } else {
                quote!(Option<#ty>)
            }
        }
        FieldKind::Text(ty) => cx.value_type(ty),
        FieldKind::Element(element) => {
            let cardinality = Cardinality::of(element.occurs, element.nillable);
            shaped(
                cardinality,
                cx.value_type(element.ty),
                cx.field_boxed(owner, field),
            )
        }
        FieldKind::Choice(choice) => {
            let name = cx.choice(choice.id).map(|c| names::ident(&c.name));
            shaped(
                Cardinality::of(choice.occurs, false),
                quote!(#name),
                cx.field_boxed(owner, field),
            )
        }
    }
}

fn shaped(cardinality: Cardinality, ty: TokenStream, boxed: bool) -> TokenStream {
    let one = if boxed { quote!(Box<#ty>) } else { ty.clone() };
    match cardinality {
        Cardinality::One => one,
        Cardinality::Optional | Cardinality::Nillable => quote!(Option<#one>),
        Cardinality::Many => quote!(Vec<#ty>),
    }
}

fn field_doc(field: &Field<'_>) -> String {
    match field.kind {
        FieldKind::Attribute(a) => format!("Attribute `{}`.", a.name.local),
        FieldKind::Text(_) => "The text content.".to_owned(),
        FieldKind::Element(e) => format!("Element `{}`.", e.name.local),
        FieldKind::Choice(c) => match &c.group {
            Some(group) => format!("Choice of group `{}`.", group.local),
            None => "Choice.".to_owned(),
        },
    }
}

/// The payload of a choice variant: the alternative's value, `None` when nil.
pub(super) fn alternative_type(
    cx: &Context<'_>,
    choice: &ChoiceEnum<'_>,
    alternative: &ElementParticle,
) -> TokenStream {
    let boxed = cx.needs_box(ValueNode::Choice(choice.particle.id), alternative.ty);
    let cardinality = if alternative.nillable {
        Cardinality::Nillable
    } else {
        Cardinality::One
    };
    shaped(cardinality, cx.value_type(alternative.ty), boxed)
}

fn choice_enum(cx: &Context<'_>, choice: &ChoiceEnum<'_>) -> TokenStream {
    let name = names::ident(&choice.name);
    let owner = cx.model.complex(choice.particle.owner);
    let doc = if cx.complex_ident(choice.particle.owner) == name {
        format!(
            "{} Its content is one of these elements.",
            sentence(&cx.describe(&owner.name))
        )
    } else {
        sentence(&format!(
            "one of the elements of {}",
            cx.describe_choice(choice.particle)
        ))
    };
    let variants = choice.particle.alternatives.iter().map(|alternative| {
        let variant = variant_ident(&alternative.name.local);
        let payload = alternative_type(cx, choice, alternative);
        let doc = doc_comment(&format!("Element `{}`.", alternative.name.local));
        quote!(#doc #variant(#payload))
    });
    let first = choice
        .particle
        .alternatives
        .first()
        .map(|a| variant_ident(&a.name.local));
    enum_with_payloads(&name, &doc, variants.collect(), quote!(#first))
}

fn derived_enum(cx: &Context<'_>, id: ComplexId) -> TokenStream {
    let Some(derived) = cx.derived(id) else {
        return TokenStream::new();
    };
    let name = names::ident(&derived.name);
    let doc = sentence(&format!(
        "{} or a type extending it, told apart by `xsi:type`",
        cx.describe(&cx.model.complex(id).name)
    ));
    let variants = derived.variants.iter().map(|(variant, _)| {
        let ident = cx.complex_ident(*variant);
        let boxed = cx.contains(
            ValueNode::Struct(*variant),
            ValueNode::Derived(id),
            Through::Values,
        );
        let payload = if boxed {
            quote!(Box<#ident>)
        } else {
            quote!(#ident)
        };
        let doc = doc_comment(&sentence(&cx.describe(&cx.model.complex(*variant).name)));
        quote!(#doc #ident(#payload))
    });
    let first = derived.variants.first().map(|(v, _)| cx.complex_ident(*v));
    enum_with_payloads(&name, &doc, variants.collect(), quote!(#first))
}

fn enum_with_payloads(
    name: &proc_macro2::Ident,
    doc: &str,
    variants: Vec<TokenStream>,
    first: TokenStream,
) -> TokenStream {
    let doc = doc_comment(doc);
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant, reason = "variants mirror the schema; boxing them would burden every user")]
        pub enum #name {
            #(#variants,)*
        }

        impl Default for #name {
            fn default() -> Self {
                Self::#first(Default::default())
            }
        }
    }
}

fn enumeration(cx: &Context<'_>, id: SimpleId, values: &[String]) -> TokenStream {
    let name = cx.simple_ident(id);
    let doc = doc_comment(&sentence(&format!(
        "{}, an enumeration",
        cx.describe(&cx.model.simple(id).name)
    )));
    let variants = values.iter().enumerate().map(|(index, value)| {
        let variant = variant_ident(value);
        let doc = doc_comment(&format!("`{value}`"));
        let default = (index == 0).then(|| quote!(#[default]));
        quote!(#doc #default #variant)
    });
    quote! {
        #doc
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum #name {
            #(#variants,)*
        }
    }
}

fn alias(cx: &Context<'_>, id: SimpleId, base: TypeRef) -> TokenStream {
    let name = cx.simple_ident(id);
    let doc = doc_comment(&sentence(&format!(
        "{}, a restriction whose facets are not checked",
        cx.describe(&cx.model.simple(id).name)
    )));
    let base = cx.value_type(base);
    quote! {
        #doc
        pub type #name = #base;
    }
}

/// The variant for an element name or enumeration value.
pub(super) fn variant_ident(xml: &str) -> proc_macro2::Ident {
    names::ident(&names::type_name(xml))
}

/// `text` with a capital first letter and a final full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

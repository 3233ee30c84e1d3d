//! `xmlbind::FromXml`/`ToXml` for every generated type, `xmlbind::Choice` for choices and
//! `xmlbind::XmlText` for enumerations. Names are matched by namespace URI; attributes are
//! read and written before the content, elements in schema order.

use proc_macro2::TokenStream;
use quote::quote;

use super::types::variant_ident;
use super::{Cardinality, ChoiceEnum, Context, Field, FieldKind, Item, Shape, Through, ValueNode};
use crate::model::{ComplexId, Content, Occurs, SimpleId};
use crate::names;

pub(super) fn impls(cx: &Context<'_>, item: &Item<'_>) -> TokenStream {
    match *item {
        Item::Struct(id) => structure(cx, id),
        Item::Choice(choice) => choice_impls(cx, choice),
        Item::Derived(id) => derived(cx, id),
        Item::Enumeration(id, values) => enumeration(cx, id, values),
        Item::Alias(..) => TokenStream::new(),
    }
}

fn structure(cx: &Context<'_>, id: ComplexId) -> TokenStream {
    let ty = cx.model.complex(id);
    let name = cx.complex_ident(id);
    let owner = ValueNode::Struct(id);
    let fields = cx.fields(id);
    let checks = fields.iter().filter_map(|f| fixed_check(cx, f));
    let reads = fields.iter().filter(|f| f.is_stored()).map(|field| {
        let ident = names::ident(&field.name);
        let read = read_field(cx, owner, field);
        quote!(#ident: #read)
    });
    let writes: Vec<_> = fields
        .iter()
        .map(|field| write_field(cx, owner, field))
        .collect();
    // An empty type writes nothing.
    let writer = if writes.is_empty() {
        quote!(_w)
    } else {
        quote!(w)
    };
    let has_elements = fields
        .iter()
        .any(|f| matches!(f.kind, FieldKind::Element(_) | FieldKind::Choice(_)));
    let cursor = if ty.mixed {
        quote!(xmlbind::Children::mixed)
    } else {
        quote!(xmlbind::Children::new)
    };
    let body = match &ty.content {
        Content::Elements(_) if has_elements => quote! {
            let mut children = #cursor(element)?;
            let value = Self { #(#reads,)* };
            children.finish()?;
            Ok(value)
        },
        // No child elements allowed; text is checked too unless the type is mixed.
        Content::Elements(_) => quote! {
            #cursor(element)?.finish()?;
            Ok(Self { #(#reads,)* })
        },
        Content::Simple(_) => quote!(Ok(Self { #(#reads,)* })),
    };
    quote! {
        impl xmlbind::FromXml for #name {
            fn from_xml(element: xmlbind::ElementRef<'_>) -> Result<Self, xmlbind::XmlError> {
                #(#checks)*
                #body
            }
        }

        impl xmlbind::ToXml for #name {
            fn write_content(&self, #writer: &mut xmlbind::XmlWriter) {
                #(#writes)*
            }
        }
    }
}

fn fixed_check(cx: &Context<'_>, field: &Field<'_>) -> Option<TokenStream> {
    let FieldKind::Attribute(attribute) = field.kind else {
        return None;
    };
    let fixed = attribute.fixed.as_deref()?;
    let namespace = cx.namespace(attribute.name.namespace.as_deref());
    let local = &attribute.name.local;
    let required = attribute.required;
    Some(quote!(xmlbind::check_fixed_attribute(element, #namespace, #local, #fixed, #required)?;))
}

/// The expression reading one field; `children` is the cursor over the element's content.
fn read_field(cx: &Context<'_>, owner: ValueNode, field: &Field<'_>) -> TokenStream {
    let boxed = cx.field_boxed(owner, field);
    match field.kind {
        FieldKind::Attribute(attribute) => {
            let namespace = cx.namespace(attribute.name.namespace.as_deref());
            let local = &attribute.name.local;
            if attribute.required {
                quote!(xmlbind::required_attribute_value(element, #namespace, #local)?)
            } else {
                quote!(xmlbind::attribute_value(element, #namespace, #local)?)
            }
        }
        FieldKind::Text(_) => {
            quote!(xmlbind::text_value(element)?)
        }
        FieldKind::Element(e) => {
            let namespace = cx.namespace(e.name.namespace.as_deref());
            let local = &e.name.local;
            let read = match Cardinality::of(e.occurs, e.nillable) {
                Cardinality::One => quote!(children.required(#namespace, #local)?),
                Cardinality::Optional => quote!(children.optional(#namespace, #local)?),
                Cardinality::Nillable => quote!(children.nillable(#namespace, #local)?),
                Cardinality::Many => {
                    let (min, max) = bounds(e.occurs);
                    if e.nillable {
                        quote!(children.repeated_nillable(#namespace, #local, #min, #max)?)
                    } else {
                        quote!(children.repeated(#namespace, #local, #min, #max)?)
                    }
                }
            };
            boxed_read(read, Cardinality::of(e.occurs, e.nillable), boxed)
        }
        FieldKind::Choice(c) => {
            let cardinality = Cardinality::of(c.occurs, false);
            let read = match cardinality {
                Cardinality::One => quote!(children.choice()?),
                Cardinality::Optional | Cardinality::Nillable => {
                    quote!(children.optional_choice()?)
                }
                Cardinality::Many => {
                    let (min, max) = bounds(c.occurs);
                    quote!(children.repeated_choice(#min, #max)?)
                }
            };
            boxed_read(read, cardinality, boxed)
        }
    }
}

fn boxed_read(read: TokenStream, cardinality: Cardinality, boxed: bool) -> TokenStream {
    match cardinality {
        _ if !boxed => read,
        Cardinality::One => quote!(Box::new(#read)),
        Cardinality::Optional | Cardinality::Nillable => quote!(#read.map(Box::new)),
        Cardinality::Many => read,
    }
}

fn bounds(occurs: Occurs) -> (proc_macro2::Literal, TokenStream) {
    let max = match occurs.max.map(proc_macro2::Literal::u32_unsuffixed) {
        Some(max) => quote!(Some(#max)),
        None => quote!(None),
    };
    (proc_macro2::Literal::u32_unsuffixed(occurs.min), max)
}

/// The statements writing one field.
fn write_field(cx: &Context<'_>, owner: ValueNode, field: &Field<'_>) -> TokenStream {
    let ident = names::ident(&field.name);
    let boxed = cx.field_boxed(owner, field);
    match field.kind {
        FieldKind::Attribute(attribute) => {
            let namespace = cx.namespace(attribute.name.namespace.as_deref());
            let local = &attribute.name.local;
            match (&attribute.fixed, attribute.required) {
                (Some(fixed), _) => quote!(w.attribute(#namespace, #local, #fixed);),
                (None, true) => {
                    quote!(w.attribute(#namespace, #local, &xmlbind::XmlText::to_text(&self.#ident));)
                }
                (None, false) => quote! {
                    if let Some(value) = &self.#ident {
                        w.attribute(#namespace, #local, &xmlbind::XmlText::to_text(value));
                    }
                },
            }
        }
        FieldKind::Text(_) => quote!(w.text(&xmlbind::XmlText::to_text(&self.#ident));),
        FieldKind::Element(e) => {
            let namespace = cx.namespace(e.name.namespace.as_deref());
            let local = &e.name.local;
            match Cardinality::of(e.occurs, e.nillable) {
                Cardinality::Nillable => {
                    let value = if boxed {
                        quote!(self.#ident.as_deref())
                    } else {
                        quote!(self.#ident.as_ref())
                    };
                    quote!(xmlbind::write_nillable(w, #namespace, #local, #value);)
                }
                cardinality => write_values(
                    cardinality,
                    &ident,
                    boxed,
                    |value| quote!(xmlbind::ToXml::to_xml(#value, w, #namespace, #local);),
                ),
            }
        }
        FieldKind::Choice(c) => write_values(
            Cardinality::of(c.occurs, false),
            &ident,
            boxed,
            |value| quote!(xmlbind::Choice::write_choice(#value, w);),
        ),
    }
}

/// Runs `write` (given a reference to one value) over each value a field of `cardinality`
/// holds; `boxed` fields hold a `Box` of the value.
fn write_values(
    cardinality: Cardinality,
    ident: &proc_macro2::Ident,
    boxed: bool,
    write: impl Fn(TokenStream) -> TokenStream,
) -> TokenStream {
    match cardinality {
        Cardinality::One => write(if boxed {
            quote!(&*self.#ident)
        } else {
            quote!(&self.#ident)
        }),
        Cardinality::Optional | Cardinality::Nillable => {
            let each = write(if boxed {
                quote!(&**value)
            } else {
                quote!(value)
            });
            quote! {
                if let Some(value) = &self.#ident {
                    #each
                }
            }
        }
        Cardinality::Many => {
            let each = write(quote!(value));
            quote! {
                for value in &self.#ident {
                    #each
                }
            }
        }
    }
}

fn choice_impls(cx: &Context<'_>, choice: &ChoiceEnum<'_>) -> TokenStream {
    let name = names::ident(&choice.name);
    let owner = ValueNode::Choice(choice.particle.id);
    let mut elements = Vec::new();
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    for alternative in &choice.particle.alternatives {
        let namespace = cx.namespace(alternative.name.namespace.as_deref());
        let local = &alternative.name.local;
        let variant = variant_ident(local);
        let boxed = cx.needs_box(owner, alternative.ty);
        elements.push(quote!((#namespace, #local)));
        let read = match (alternative.nillable, boxed) {
            (false, false) => quote!(children.required(#namespace, #local)?),
            (false, true) => quote!(Box::new(children.required(#namespace, #local)?)),
            (true, false) => quote!(children.nillable(#namespace, #local)?),
            (true, true) => quote!(children.nillable(#namespace, #local)?.map(Box::new)),
        };
        reads.push(quote! {
            if children.peek_is(#namespace, #local) {
                return Ok(Some(Self::#variant(#read)));
            }
        });
        let write = match (alternative.nillable, boxed) {
            (false, false) => quote!(xmlbind::ToXml::to_xml(value, w, #namespace, #local)),
            (false, true) => quote!(xmlbind::ToXml::to_xml(&**value, w, #namespace, #local)),
            (true, false) => quote!(xmlbind::write_nillable(w, #namespace, #local, value.as_ref())),
            (true, true) => {
                quote!(xmlbind::write_nillable(w, #namespace, #local, value.as_deref()))
            }
        };
        writes.push(quote!(Self::#variant(value) => #write));
    }
    let mut tokens = quote! {
        impl xmlbind::Choice for #name {
            const ELEMENTS: &'static [(Option<&'static str>, &'static str)] = &[#(#elements),*];

            fn read_choice(children: &mut xmlbind::Children<'_>) -> Result<Option<Self>, xmlbind::XmlError> {
                #(#reads)*
                Ok(None)
            }

            fn write_choice(&self, w: &mut xmlbind::XmlWriter) {
                match self {
                    #(#writes,)*
                }
            }
        }
    };
    // A complex type that is a single choice is also read and written as an element.
    if cx.shape(choice.particle.owner) == Shape::Choice
        && cx.complex_ident(choice.particle.owner) == name
    {
        tokens.extend(quote! {
            impl xmlbind::FromXml for #name {
                fn from_xml(element: xmlbind::ElementRef<'_>) -> Result<Self, xmlbind::XmlError> {
                    let mut children = xmlbind::Children::new(element)?;
                    let value = children.choice()?;
                    children.finish()?;
                    Ok(value)
                }
            }

            impl xmlbind::ToXml for #name {
                fn write_content(&self, w: &mut xmlbind::XmlWriter) {
                    xmlbind::Choice::write_choice(self, w);
                }
            }
        });
    }
    tokens
}

/// Reading picks the variant by `xsi:type`; writing states it.
fn derived(cx: &Context<'_>, id: ComplexId) -> TokenStream {
    let Some(derived) = cx.derived(id) else {
        return TokenStream::new();
    };
    let name = names::ident(&derived.name);
    let owner = ValueNode::Derived(id);
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    for (variant, type_name) in &derived.variants {
        let ident = cx.complex_ident(*variant);
        let boxed = cx.contains(ValueNode::Struct(*variant), owner, Through::Values);
        let namespace = type_name
            .namespace
            .as_deref()
            .map(|ns| cx.namespace_str(ns));
        let namespace_pattern = match &namespace {
            Some(ns) => quote!(Some(#ns)),
            None => quote!(None),
        };
        let local = &type_name.local;
        let read = if boxed {
            quote!(Box::new(xmlbind::FromXml::from_xml(element)?))
        } else {
            quote!(xmlbind::FromXml::from_xml(element)?)
        };
        reads.push(quote!(Some((#namespace_pattern, #local)) => Ok(Self::#ident(#read))));
        let value = if boxed {
            quote!(&**value)
        } else {
            quote!(value)
        };
        let namespace_value = namespace.unwrap_or_else(|| quote!(""));
        // The declared type itself needs no `xsi:type`.
        let state_type = (*variant != id).then(
            || quote!(w.qname_attribute(Some(xmlbind::XSI_NS), "type", #namespace_value, #local);),
        );
        writes.push(quote! {
            Self::#ident(value) => {
                #state_type
                xmlbind::ToXml::write_content(#value, w);
            }
        });
    }
    // Without `xsi:type` an element holds the declared type itself, if that is concrete.
    let untyped = if cx.model.complex(id).is_abstract {
        quote!(Err(xmlbind::XmlError::at(
            xmlbind::ErrorKind::MissingAttribute(format!("{{{}}}type", xmlbind::XSI_NS)),
            element.position(),
        )))
    } else {
        let ident = cx.complex_ident(id);
        quote!(Ok(Self::#ident(xmlbind::FromXml::from_xml(element)?)))
    };
    quote! {
        impl xmlbind::FromXml for #name {
            fn from_xml(element: xmlbind::ElementRef<'_>) -> Result<Self, xmlbind::XmlError> {
                let ty = element.qname_attribute(Some(xmlbind::XSI_NS), "type")?;
                match ty.as_ref().map(|(namespace, local)| (namespace.as_deref(), local.as_str())) {
                    #(#reads,)*
                    None => #untyped,
                    Some((namespace, local)) => Err(xmlbind::XmlError::at(
                        xmlbind::ErrorKind::UnknownType(match namespace {
                            Some(namespace) => format!("{{{namespace}}}{local}"),
                            None => local.to_owned(),
                        }),
                        element.position(),
                    )),
                }
            }
        }

        impl xmlbind::ToXml for #name {
            fn write_content(&self, w: &mut xmlbind::XmlWriter) {
                match self {
                    #(#writes)*
                }
            }
        }
    }
}

fn enumeration(cx: &Context<'_>, id: SimpleId, values: &[String]) -> TokenStream {
    let name = cx.simple_ident(id);
    let kind = cx.model.simple(id).name.local();
    let variants: Vec<_> = values.iter().map(|v| variant_ident(v)).collect();
    quote! {
        impl xmlbind::XmlText for #name {
            fn from_text(text: &str) -> Result<Self, xmlbind::XmlError> {
                match text {
                    #(#values => Ok(Self::#variants),)*
                    _ => Err(xmlbind::ErrorKind::InvalidValue { kind: #kind, value: text.to_owned() }.into()),
                }
            }

            fn to_text(&self) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed(match self {
                    #(Self::#variants => #values,)*
                })
            }
        }

        impl xmlbind::FromXml for #name {
            fn from_xml(element: xmlbind::ElementRef<'_>) -> Result<Self, xmlbind::XmlError> {
                xmlbind::text_value(element)
            }
        }

        impl xmlbind::ToXml for #name {
            fn write_content(&self, w: &mut xmlbind::XmlWriter) {
                w.text(&xmlbind::XmlText::to_text(self));
            }
        }
    }
}

//! Per portType: the operations table and the trait a handler implements, one async method
//! per operation (tonic's and s3s's shape).

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{doc_comment, Context};
use crate::model::{Operation, PortType};
use crate::names;

/// `EUCALYPTUS_NC_OPERATIONS`.
pub(super) fn operations_ident(port_type: &PortType) -> Ident {
    format_ident!("{}_OPERATIONS", names::const_name(&port_type.name))
}

/// `EucalyptusNc`.
pub(super) fn trait_ident(port_type: &PortType) -> Ident {
    names::ident(&names::item_name(&port_type.name))
}

/// `nc_run_instance`.
pub(super) fn method_ident(operation: &Operation) -> Ident {
    names::ident(&names::field_name(&operation.name))
}

/// The request and response types of an operation.
pub(super) fn message_types(cx: &Context<'_>, operation: &Operation) -> (TokenStream, TokenStream) {
    (
        cx.value_type(cx.model.element(operation.input).ty),
        cx.value_type(cx.model.element(operation.output).ty),
    )
}

pub(super) fn definition(cx: &Context<'_>, port_type: &PortType) -> TokenStream {
    let table = operations_ident(port_type);
    let count = proc_macro2::Literal::usize_unsuffixed(port_type.operations.len());
    let table_doc = doc_comment(&format!(
        "The operations of portType `{}`, in WSDL order, as its SOAP binding declares them.",
        port_type.name
    ));
    let entries = port_type.operations.iter().map(|operation| {
        let name = &operation.name;
        let action = &operation.soap_action;
        let request = element_name(cx, operation.input);
        let response = element_name(cx, operation.output);
        quote!(soap::Operation { name: #name, soap_action: #action, request: #request, response: #response })
    });
    let trait_name = trait_ident(port_type);
    let server = format_ident!("{}Server", trait_name);
    let client = format_ident!("{}Client", trait_name);
    let trait_doc = doc_comment(&format!(
        "Handler of portType `{}`: one method per operation. Serve it with [`{server}`]; call a remote one with [`{client}`].",
        port_type.name
    ));
    let methods = port_type.operations.iter().map(|operation| {
        let method = method_ident(operation);
        let (request, response) = message_types(cx, operation);
        let doc = doc_comment(&operation_doc(operation));
        quote! {
            #doc
            fn #method(
                &self,
                request: #request,
                context: soap::RequestContext,
            ) -> impl std::future::Future<Output = Result<#response, soap::Fault>> + Send;
        }
    });
    quote! {
        #table_doc
        pub static #table: [soap::Operation; #count] = [#(#entries),*];

        #trait_doc
        pub trait #trait_name: Send + Sync + 'static {
            #(#methods)*
        }
    }
}

/// `` `ncRunInstance` (SOAPAction `EucalyptusNC#ncRunInstance`). ``
pub(super) fn operation_doc(operation: &Operation) -> String {
    if operation.soap_action.is_empty() {
        format!("`{}`.", operation.name)
    } else {
        format!(
            "`{}` (SOAPAction `{}`).",
            operation.name, operation.soap_action
        )
    }
}

/// `(NAMESPACE, "ncRunInstance")`: operation elements always have a namespace.
fn element_name(cx: &Context<'_>, element: crate::model::ElementId) -> TokenStream {
    let name = &cx.model.element(element).name;
    let namespace = cx.namespace_str(name.namespace.as_deref().unwrap_or_default());
    let local = &name.local;
    quote!((#namespace, #local))
}

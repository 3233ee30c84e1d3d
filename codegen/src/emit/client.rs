//! Per portType: a typed client over any `soap::Transport`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::service::{message_types, method_ident, operation_doc, operations_ident, trait_ident};
use super::{doc_comment, Context};
use crate::model::PortType;

pub(super) fn definition(cx: &Context<'_>, port_type: &PortType) -> TokenStream {
    let client = format_ident!("{}Client", trait_ident(port_type));
    let table = operations_ident(port_type);
    let doc = doc_comment(&format!(
        "Calls portType `{}` of a remote service through a [`soap::Transport`].",
        port_type.name
    ));
    let methods = port_type.operations.iter().enumerate().map(|(index, operation)| {
        let method = method_ident(operation);
        let (request, response) = message_types(cx, operation);
        let doc = doc_comment(&operation_doc(operation));
        let index = proc_macro2::Literal::usize_unsuffixed(index);
        quote! {
            #doc
            pub async fn #method(&self, request: &#request) -> Result<#response, soap::ClientError> {
                call(&self.transport, &#table[#index], request).await
            }
        }
    });
    quote! {
        #doc
        #[derive(Debug, Clone)]
        pub struct #client<T> {
            transport: T,
        }

        impl<T: soap::Transport> #client<T> {
            pub fn new(transport: T) -> Self {
                Self { transport }
            }

            pub fn transport(&self) -> &T {
                &self.transport
            }

            #(#methods)*
        }
    }
}

/// Emitted once per file: sends a request and checks that the reply is the operation's
/// response element before reading it.
pub(super) fn helper() -> TokenStream {
    quote! {
        async fn call<T: soap::Transport, Response: xmlbind::FromXml>(
            transport: &T,
            operation: &'static soap::Operation,
            request: &(dyn xmlbind::ToXml + Sync),
        ) -> Result<Response, soap::ClientError> {
            let reply = transport.call(operation, request).await?;
            let reply = reply.root();
            let (namespace, local) = operation.response;
            if !reply.name().is(Some(namespace), local) {
                return Err(soap::ClientError::UnexpectedResponse {
                    expected: format!("{{{namespace}}}{local}"),
                    found: reply.name().expanded(),
                });
            }
            Response::from_xml(reply).map_err(soap::ClientError::from)
        }
    }
}

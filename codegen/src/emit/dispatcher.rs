//! Per portType: the server that implements `soap::Service` around a handler. The runtime
//! routes each request (Body element, SOAPAction) to one of the portType's operations; the
//! server only reads that operation's request and calls the handler's method for it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::doc_comment;
use super::service::{method_ident, operations_ident, trait_ident};
use crate::model::PortType;

pub(super) fn definition(port_type: &PortType) -> TokenStream {
    let trait_name = trait_ident(port_type);
    let server = format_ident!("{}Server", trait_name);
    let server_name = server.to_string();
    let table = operations_ident(port_type);
    let service = &port_type.service;
    let doc = doc_comment(&format!(
        "Serves a [`{trait_name}`] handler as service `{service}`."
    ));
    let foreign = format!("operation {{}} is not one of {service}'s");
    let arms = port_type.operations.iter().map(|operation| {
        let name = &operation.name;
        let method = method_ident(operation);
        quote! {
            #name => dispatch(operation, body, context, |request, context| inner.#method(request, context)).await,
        }
    });
    quote! {
        #doc
        pub struct #server<T> {
            inner: std::sync::Arc<T>,
        }

        impl<T: #trait_name> #server<T> {
            pub fn new(inner: T) -> Self {
                Self::from_arc(std::sync::Arc::new(inner))
            }

            pub fn from_arc(inner: std::sync::Arc<T>) -> Self {
                Self { inner }
            }
        }

        impl<T> Clone for #server<T> {
            fn clone(&self) -> Self {
                Self { inner: self.inner.clone() }
            }
        }

        impl<T> std::fmt::Debug for #server<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(#server_name).finish_non_exhaustive()
            }
        }

        impl<T: #trait_name> soap::Service for #server<T> {
            fn name(&self) -> &'static str {
                #service
            }

            fn wsdl(&self) -> &'static str {
                WSDL
            }

            fn operations(&self) -> &'static [soap::Operation] {
                &#table
            }

            fn call<'a>(
                &'a self,
                operation: &'static soap::Operation,
                body: xmlbind::ElementRef<'a>,
                context: soap::RequestContext,
            ) -> soap::BoxFuture<'a, Result<soap::Reply, soap::Fault>> {
                let inner = &self.inner;
                Box::pin(async move {
                    match operation.name {
                        #(#arms)*
                        // The runtime passes only operations of this service's table.
                        _ => Err(soap::Fault::server(format!(#foreign, operation.name))),
                    }
                })
            }
        }
    }
}

/// Emitted once per file: what every dispatcher arm does.
pub(super) fn helper() -> TokenStream {
    quote! {
        /// Runs one operation: reads the request, calls the handler.
        async fn dispatch<Request, Response, Handled>(
            operation: &'static soap::Operation,
            body: xmlbind::ElementRef<'_>,
            context: soap::RequestContext,
            handler: impl FnOnce(Request, soap::RequestContext) -> Handled,
        ) -> Result<soap::Reply, soap::Fault>
        where
            Request: xmlbind::FromXml,
            Response: xmlbind::ToXml + Send + Sync + 'static,
            Handled: std::future::Future<Output = Result<Response, soap::Fault>>,
        {
            let request = Request::from_xml(body)
                .map_err(|e| soap::Fault::client(format!("invalid {} request: {e}", operation.name)))?;
            let response = handler(request, context).await?;
            Ok(soap::Reply { namespace: operation.response.0, local: operation.response.1, body: Box::new(response) })
        }
    }
}

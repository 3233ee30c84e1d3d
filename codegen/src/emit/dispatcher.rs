//! Per portType: the server that implements `soap::Service` around a handler, routing each
//! request by the QName of the Body's element and checking the SOAPAction against it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::service::{method_ident, operations_ident, trait_ident};
use super::{doc_comment, Context};
use crate::model::PortType;

pub(super) fn definition(cx: &Context<'_>, port_type: &PortType) -> TokenStream {
    let trait_name = trait_ident(port_type);
    let server = format_ident!("{}Server", trait_name);
    let server_name = server.to_string();
    let table = operations_ident(port_type);
    let service = &port_type.service;
    let doc = doc_comment(&format!(
        "Serves a [`{trait_name}`] handler as service `{service}`."
    ));
    let unknown = format!("unknown operation {{}} for {service}");
    let arms = port_type.operations.iter().enumerate().map(|(index, operation)| {
        let element = &cx.model.element(operation.input).name;
        let namespace = cx.namespace(element.namespace.as_deref());
        let local = &element.local;
        let method = method_ident(operation);
        let index = proc_macro2::Literal::usize_unsuffixed(index);
        quote! {
            (#namespace, #local) => {
                dispatch(&#table[#index], body, context, |request, context| inner.#method(request, context)).await
            }
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
                body: &'a xmlbind::Element,
                context: soap::RequestContext,
            ) -> soap::BoxFuture<'a, Result<soap::Reply, soap::Fault>> {
                let inner = &self.inner;
                Box::pin(async move {
                    match (body.name.namespace.as_deref(), body.name.local.as_str()) {
                        #(#arms)*
                        _ => Err(soap::Fault::client(format!(#unknown, body.name.expanded()))),
                    }
                })
            }
        }
    }
}

/// Emitted once per file: what every dispatcher arm does.
pub(super) fn helper() -> TokenStream {
    quote! {
        /// Runs one operation: checks the SOAPAction, reads the request, calls the handler.
        async fn dispatch<Request, Response, Handled>(
            operation: &'static soap::Operation,
            body: &xmlbind::Element,
            context: soap::RequestContext,
            handler: impl FnOnce(Request, soap::RequestContext) -> Handled,
        ) -> Result<soap::Reply, soap::Fault>
        where
            Request: xmlbind::FromXml,
            Response: xmlbind::ToXml + Send + Sync + 'static,
            Handled: std::future::Future<Output = Result<Response, soap::Fault>>,
        {
            // An empty SOAPAction (sent or declared) carries no intent; the element decides.
            if let Some(action) = context.soap_action.as_deref().filter(|a| !a.is_empty()) {
                if !operation.soap_action.is_empty() && action != operation.soap_action {
                    return Err(soap::Fault::client(format!(
                        "SOAPAction {action:?} does not match operation {}, whose SOAPAction is {:?}",
                        operation.name, operation.soap_action
                    )));
                }
            }
            let request = Request::from_xml(body)
                .map_err(|e| soap::Fault::client(format!("invalid {} request: {e}", operation.name)))?;
            let response = handler(request, context).await?;
            Ok(soap::Reply { namespace: operation.response.0, local: operation.response.1, body: Box::new(response) })
        }
    }
}

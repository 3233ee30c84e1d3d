//! S3 over SOAP, at `POST /services/Walrus`: the messages of Amazon's S3 WSDL of 2006-03-01
//! (ours is `wsdl/s3.wsdl`), read and written by the code generated from it (`wire::s3`)
//! and answered from the same metadata and storage as the REST API.
//!
//! Every operation has an empty SOAPAction, so the Body's element names the operation.
//! Requests are authenticated by the fields in that element ([`auth`]); errors are S3's,
//! as SOAP faults ([`fault`]).

mod auth;
mod convert;
mod fault;
mod handler;

use std::sync::Arc;

use ::soap::envelope::{self, Addressing, BodyContent, Outgoing, SoapVersion};
use ::soap::{Fault, RequestContext, Service, SOAP11_NS};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use tracing::Span;
use wire::s3::{AmazonS3Server, AMAZON_S3_OPERATIONS};
use xmlbind::Limits;

use crate::body::Body;
use crate::hooks::SoapEndpoint;
use crate::state::Walrus;
use crate::storage::BoxFuture;
use fault::FaultBody;
use handler::Handler;

/// The SOAP API, registered as Walrus' SOAP hook.
#[derive(Debug, Default)]
pub struct SoapApi;

impl SoapEndpoint for SoapApi {
    fn handle<'a>(
        &'a self,
        walrus: &'a Arc<Walrus>,
        request: Request<Incoming>,
    ) -> BoxFuture<'a, Response<Body>> {
        Box::pin(async move {
            let limits = Limits::default();
            let bytes = match Limited::new(request.into_body(), limits.max_bytes)
                .collect()
                .await
            {
                Ok(collected) => collected.to_bytes(),
                Err(e) => {
                    let fault = Fault::client(format!("the request could not be read: {e}"));
                    return fault_response(SoapVersion::V11, &fault);
                }
            };
            exchange(walrus, &bytes, &limits).await
        })
    }
}

/// Answers one envelope.
async fn exchange(walrus: &Arc<Walrus>, bytes: &[u8], limits: &Limits) -> Response<Body> {
    let incoming = match envelope::Incoming::parse(bytes, limits) {
        Ok(incoming) => incoming,
        Err(e) => return fault_response(SoapVersion::V11, &e.to_fault()),
    };
    let version = incoming.version();
    // S3's SOAP API has no WS-Security: the signature is in the Body.
    let payload = match incoming.verify(None) {
        Ok(verified) => verified.payload,
        Err(e) => return fault_response(version, &e.to_fault()),
    };
    let Some(payload) = payload else {
        return fault_response(version, &Fault::client("the Body is empty"));
    };
    let Some(operation) = AMAZON_S3_OPERATIONS
        .iter()
        .find(|op| payload.name.is(Some(op.request.0), op.request.1))
    else {
        let message = format!(
            "no operation takes {} as its request",
            payload.name.expanded()
        );
        return fault_response(version, &Fault::client(message));
    };
    Span::current().record("op", operation.name);
    let who = match auth::authenticate(payload, operation.name, walrus.users(), crate::time::now())
    {
        Ok(who) => who,
        Err(e) => return fault_response(version, &fault::to_fault(e)),
    };
    let server = AmazonS3Server::new(Handler::new(walrus.clone(), who));
    match server.call(payload, RequestContext::default()).await {
        Ok(reply) => {
            let outgoing = Outgoing {
                version,
                addressing: Addressing::default(),
                body: BodyContent::Payload {
                    namespace: reply.namespace,
                    local: reply.local,
                    value: reply.body.as_ref(),
                },
            };
            match envelope::write(&outgoing, None) {
                Ok(bytes) => reply_with(StatusCode::OK, version, bytes),
                Err(e) => {
                    fault_response(version, &Fault::server(format!("reply not written: {e}")))
                }
            }
        }
        Err(fault) => fault_response(version, &fault),
    }
}

/// A fault envelope with HTTP status 500, as SOAP wants. In SOAP 1.1 (S3's) the fault
/// code names the S3 error ([`FaultBody`]); SOAP 1.2 faults have no room for it.
fn fault_response(version: SoapVersion, fault: &Fault) -> Response<Body> {
    let s3_body = FaultBody(fault);
    let body = match version {
        SoapVersion::V11 => BodyContent::Payload {
            namespace: SOAP11_NS,
            local: "Fault",
            value: &s3_body,
        },
        SoapVersion::V12 => BodyContent::Fault(fault),
    };
    let outgoing = Outgoing {
        version,
        addressing: Addressing::default(),
        body,
    };
    // Writing an unsigned envelope does not fail; should it, the status says enough.
    let bytes = envelope::write(&outgoing, None).unwrap_or_default();
    reply_with(StatusCode::INTERNAL_SERVER_ERROR, version, bytes)
}

fn reply_with(status: StatusCode, version: SoapVersion, bytes: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::full(Bytes::from(bytes)));
    *response.status_mut() = status;
    let content_type = if version.namespace() == SOAP11_NS {
        "text/xml; charset=utf-8"
    } else {
        "application/soap+xml; charset=utf-8"
    };
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

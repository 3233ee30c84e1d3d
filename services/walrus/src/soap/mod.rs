//! S3 over SOAP, at `POST /services/Walrus`: the messages of Amazon's S3 WSDL of 2006-03-01
//! (ours is `wsdl/s3.wsdl`), read and written by the code generated from it (`wire::s3`)
//! and answered from the same metadata and storage as the REST API.
//!
//! The exchange itself (body limits, SOAP 1.1/1.2, routing by the Body's element, faults on
//! the wire, `?wsdl`) is the `soap` crate's [`soap::Endpoint`]; this module is the service it
//! runs. Every S3 operation declares an empty SOAPAction, so the element alone names the
//! operation and any SOAPAction is accepted. There is no WS-Security: requests are
//! authenticated by the fields of their element ([`auth`]); errors are S3's, as faults with
//! S3 codes ([`fault`]).

mod auth;
mod convert;
mod fault;
mod handler;

use std::net::IpAddr;
use std::sync::Arc;

use ::soap::{BoxFuture, Fault, Operation, Reply, RequestContext, Service};
use wire::s3::{AmazonS3Server, AMAZON_S3_OPERATIONS, WSDL};
use xmlbind::ElementRef;

use crate::acl::Identity;
use crate::authorize::{self, authorize};
use crate::events;
use crate::meta::Actor;
use crate::state::Walrus;
use handler::Handler;

/// The S3 SOAP API as a SOAP service, on behalf of whoever signed each request.
#[derive(Debug)]
pub struct S3Soap {
    walrus: Arc<Walrus>,
}

impl S3Soap {
    pub fn new(walrus: Arc<Walrus>) -> Self {
        Self { walrus }
    }
}

impl S3Soap {
    /// Answers an authenticated request of `who` from `source`, once their policies allow it.
    async fn answer(
        &self,
        operation: &'static Operation,
        body: ElementRef<'_>,
        context: RequestContext,
        who: Identity,
        source: Option<IpAddr>,
    ) -> Result<Reply, Fault> {
        let accesses = authorize::of_soap(operation.name, body);
        authorize(&self.walrus, &who, &accesses, |user| {
            let prefix = body
                .child(Some(wire::s3::NAMESPACE), "Prefix")
                .and_then(|e| e.text().ok());
            authorize::context(user, source, prefix.as_deref())
        })
        .map_err(fault::to_fault)?;
        let actor = Actor {
            user: match &who {
                Identity::User(user) => user.name.clone(),
                Identity::Anonymous => String::new(),
            },
            source: source.map(|ip| ip.to_string()).unwrap_or_default(),
        };
        let server = AmazonS3Server::new(Handler::new(self.walrus.clone(), who));
        events::acting(actor, server.call(operation, body, context)).await
    }
}

impl Service for S3Soap {
    fn name(&self) -> &'static str {
        "AmazonS3"
    }

    fn wsdl(&self) -> &'static str {
        WSDL
    }

    fn operations(&self) -> &'static [Operation] {
        &AMAZON_S3_OPERATIONS
    }

    fn call<'a>(
        &'a self,
        operation: &'static Operation,
        body: ElementRef<'a>,
        context: RequestContext,
    ) -> BoxFuture<'a, Result<Reply, Fault>> {
        Box::pin(async move {
            let source = context.peer.map(|p| p.ip());
            let who = auth::authenticate(
                body,
                operation.name,
                &**self.walrus.users(),
                crate::time::now(),
            )
            .map_err(fault::to_fault);
            let user = match &who {
                Ok(Identity::User(user)) => Some(user.clone()),
                _ => None,
            };
            let answered = match who {
                Ok(who) => self.answer(operation, body, context, who, source).await,
                Err(fault) => Err(fault),
            };
            let outcome = match &answered {
                Ok(_) => "ok",
                Err(fault) => fault.subcode.as_deref().unwrap_or("fault"),
            };
            let event = events::request(user.as_deref(), source, operation.name, outcome);
            self.walrus.events().record(event).await;
            answered
        })
    }
}

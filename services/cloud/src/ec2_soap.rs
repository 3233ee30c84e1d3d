//! The EC2 API over SOAP at `/services/Eucalyptus`, beside Query on the same front door: both
//! generated portTypes (`wire::ec2`, `wire::ec2_additions`) in one service, in the namespace
//! of every version the original bound.
//!
//! A request is signed with its user's X.509 certificate, which the cloud's key issued and
//! which names the user (CONTRACT.md: the signature covers the Body, and here a Timestamp
//! too unless `--compat original`). The runtime verifies the signature against any
//! certificate the cloud issued ([`soap::wss::Verifier::with_issuers`]); this service then
//! looks the certificate up among its users' ([`crate::Store::user_by_certificate`]), so a user
//! added, disabled or deleted by `euca admin` counts from their next request. Replies are
//! not signed, as the original's were not (its user-facing handler verified requests and
//! left replies alone): users hold no key to verify the cloud by but its certificate, and
//! TLS in front of the cloud is what protects a reply.
//!
//! A request in another bound version's namespace is read as 2009-04-04 and answered in its
//! own namespace, like Query answers in the `Version` it names.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use kit::security::Compat;
use openssl::x509::X509;
use soap::wss::{Verifier, VerifyOptions, WssError};
use soap::{BoxFuture, Fault, Operation, Reply, RequestContext, Service};
use tracing::{info, info_span, warn, Instrument};
use wire::ec2::{AMAZON_EC2_PORT_TYPE_OPERATIONS, NAMESPACE, WSDL};
use wire::ec2_additions::AMAZON_EC2_ADDITIONS_PORT_TYPE_OPERATIONS;
use wire::ec2_query::{Ec2QueryRequest, Ec2Request};
use wire::ec2_versions::NAMESPACES;
use xmlbind::{Document, ElementRef, ToXml, XmlWriter};

use crate::error::Ec2Error;
use crate::ops::{self, Cloud};
use crate::store::User;
use users::events::Component;

/// The service's name, as the WSDL's.
const NAME: &str = "AmazonEC2";

/// Every operation of both portTypes in every bound version's namespace, 2009-04-04's first
/// (the runtime routes by the Body element's name, trying them in order).
static OPERATIONS: LazyLock<Vec<Operation>> = LazyLock::new(|| {
    let versions =
        std::iter::once(NAMESPACE).chain(NAMESPACES.into_iter().filter(|ns| *ns != NAMESPACE));
    versions
        .flat_map(|namespace| {
            AMAZON_EC2_PORT_TYPE_OPERATIONS
                .iter()
                .chain(&AMAZON_EC2_ADDITIONS_PORT_TYPE_OPERATIONS)
                .map(move |operation| Operation {
                    request: (namespace, operation.request.1),
                    response: (namespace, operation.response.1),
                    ..*operation
                })
        })
        .collect()
});

/// The WS-Security of the users' endpoint: requests signed over the Body with a
/// certificate the cloud issued (`cloud`), and over a Timestamp unless `compat` is the
/// original's, remembered against replays in `DATA/replay.journal`; replies unsigned.
/// Blocking (it opens the journal).
pub fn security(cloud: &X509, compat: Compat, data: &Path) -> Result<soap::Security, WssError> {
    // The original's shapes without a signed Body (CLC → CC) are no user's: only the
    // Timestamp is waived.
    let options = VerifyOptions {
        require_timestamp: compat == Compat::Strict,
        untimestamped_memory: kit::security::UNTIMESTAMPED_MEMORY,
        ..VerifyOptions::default()
    };
    let verifier = Verifier::new(&[], options)?
        .with_issuers(std::slice::from_ref(cloud))?
        .with_replay_journal(&data.join(kit::security::REPLAY_JOURNAL))?;
    Ok(soap::Security::new(None, Some(Arc::new(verifier))))
}

/// The EC2 SOAP service, for mounting at [`crate::SERVICE_PATH`].
#[derive(Debug, Clone)]
pub struct Ec2Soap {
    cloud: Arc<Cloud>,
}

impl Ec2Soap {
    pub fn new(cloud: Arc<Cloud>) -> Self {
        Self { cloud }
    }

    /// Authenticates and answers one request from `source`, recording it; its fault is
    /// made by the caller.
    async fn answer(
        &self,
        operation: &'static Operation,
        body: ElementRef<'_>,
        certificate: Option<&[u8]>,
        source: Option<IpAddr>,
        request_id: &str,
    ) -> Result<Reply, Ec2Error> {
        let (user, answered) = match self.user(certificate).await {
            Ok(user) => {
                let answered = self
                    .answer_for(&user, operation, body, source, request_id)
                    .await;
                (Some(user), answered)
            }
            Err(e) => (None, Err(e)),
        };
        let outcome = answered.as_ref().map_or_else(Ec2Error::code, |_| "ok");
        self.cloud
            .record_request(
                Component::Ec2,
                operation.name,
                user.as_ref(),
                source,
                outcome,
            )
            .await;
        answered
    }

    /// Answers one request of `user`.
    async fn answer_for(
        &self,
        user: &User,
        operation: &'static Operation,
        body: ElementRef<'_>,
        source: Option<IpAddr>,
        request_id: &str,
    ) -> Result<Reply, Ec2Error> {
        tracing::Span::current().record("user", user.arn().as_str());
        let namespace = operation.request.0;
        let renamed = (namespace != NAMESPACE).then(|| {
            let mut copy = body.to_document();
            copy.rename_namespace(namespace, NAMESPACE);
            copy
        });
        let body = renamed.as_ref().map_or(body, Document::root);
        let request = Ec2Request::from_body(operation.name, body)
            .ok_or_else(|| Ec2Error::Unsupported(operation.name.to_owned()))?
            .map_err(|e| {
                Ec2Error::InvalidParameterValue(format!("invalid {} request: {e}", operation.name))
            })?;
        let reply = ops::answer(
            &self.cloud,
            user,
            source,
            Ec2QueryRequest::plain(request),
            request_id,
        )
        .await?;
        Ok(if namespace == NAMESPACE {
            reply
        } else {
            Reply {
                body: Box::new(InNamespace {
                    namespace,
                    response: reply.body,
                }),
                ..reply
            }
        })
    }

    /// The enabled user whose certificate signed the request.
    async fn user(&self, certificate: Option<&[u8]>) -> Result<User, Ec2Error> {
        let unknown = || {
            Ec2Error::AuthFailure(
                "The certificate that signed the request is not one of this cloud's users'".into(),
            )
        };
        let certificate =
            certificate.ok_or_else(|| Ec2Error::AuthFailure("The request is not signed".into()))?;
        let pem = X509::from_der(certificate)
            .and_then(|c| c.to_pem())
            .map_err(|_| unknown())?;
        let pem = String::from_utf8(pem).map_err(|_| unknown())?;
        let user = self
            .cloud
            .store
            .user_by_certificate(&pem)
            .await?
            .ok_or_else(unknown)?;
        ops::enabled(user)
    }
}

impl Service for Ec2Soap {
    fn name(&self) -> &'static str {
        NAME
    }

    fn wsdl(&self) -> &'static str {
        WSDL
    }

    fn operations(&self) -> &'static [Operation] {
        &OPERATIONS
    }

    fn call<'a>(
        &'a self,
        operation: &'static Operation,
        body: ElementRef<'a>,
        context: RequestContext,
    ) -> BoxFuture<'a, Result<Reply, Fault>> {
        let id = ops::request_id();
        let span = info_span!(
            "ec2",
            request = %id,
            action = operation.name,
            user = tracing::field::Empty,
        );
        Box::pin(
            async move {
                let source = context.peer.map(|p| p.ip());
                let answered = self
                    .answer(
                        operation,
                        body,
                        context.signer_certificate.as_deref(),
                        source,
                        &id,
                    )
                    .await;
                answered.map_err(|e| {
                    match &e {
                        Ec2Error::Internal(cause) => warn!(%cause, "internal error"),
                        other => info!(code = other.code(), "refused"),
                    }
                    e.fault()
                })
            }
            .instrument(span),
        )
    }

    fn security_fault(&self, error: &WssError) -> Fault {
        Ec2Error::from(error).fault()
    }
}

/// A response written in the namespace of an older version than the types'.
struct InNamespace {
    namespace: &'static str,
    response: Box<dyn ToXml + Send + Sync>,
}

impl ToXml for InNamespace {
    fn write_content(&self, w: &mut XmlWriter) {
        w.rename_namespace(NAMESPACE, self.namespace);
        self.response.write_content(w);
    }

    fn to_xml(&self, w: &mut XmlWriter, namespace: Option<&str>, local: &str) {
        // The renaming outlasts the element: nothing after the Body's payload is in the
        // 2009-04-04 namespace.
        w.rename_namespace(NAMESPACE, self.namespace);
        self.response.to_xml(w, namespace, local);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_operation_is_served_in_every_bound_version() {
        let per_version =
            AMAZON_EC2_PORT_TYPE_OPERATIONS.len() + AMAZON_EC2_ADDITIONS_PORT_TYPE_OPERATIONS.len();
        assert_eq!(OPERATIONS.len(), NAMESPACES.len() * per_version);
        assert_eq!(OPERATIONS[0].request.0, NAMESPACE);
        let older = "http://ec2.amazonaws.com/doc/2008-12-01/";
        let keys = OPERATIONS
            .iter()
            .find(|o| o.request == (older, "DescribeKeyPairs"))
            .unwrap();
        assert_eq!(keys.response, (older, "DescribeKeyPairsResponse"));
        assert_eq!(keys.soap_action, "DescribeKeyPairs");
        assert!(OPERATIONS
            .iter()
            .any(|o| o.request == (older, "DescribeAccountAttributes")));
    }

    #[test]
    fn a_response_is_written_in_the_requests_namespace() {
        let older = "http://ec2.amazonaws.com/doc/2008-12-01/";
        let response = InNamespace {
            namespace: older,
            response: Box::new(wire::ec2::DeleteKeyPairResponseType {
                request_id: "r".into(),
                r#return: true,
            }),
        };
        let mut w = XmlWriter::new();
        response.to_xml(&mut w, Some(NAMESPACE), "DeleteKeyPairResponse");
        let root = xmlbind::parse(w.finish().as_bytes(), &xmlbind::Limits::default()).unwrap();
        assert!(root.name.is(Some(older), "DeleteKeyPairResponse"));
        assert!(root
            .elements()
            .all(|e| e.name.namespace.as_deref() == Some(older)));
        assert_eq!(root.elements().count(), 2);
    }
}

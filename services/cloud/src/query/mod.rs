//! The EC2 Query API at `/services/Eucalyptus`: GET with the parameters in the URL, or POST
//! with them form-encoded in the body; signed with SigV2 or SigV4 ([`auth`]). Every failure
//! becomes EC2's error document here, and only here.

pub mod auth;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{HeaderMap, Method, Request, Response};
use soap::{Connection, Handler, HttpBody};
use tracing::{info, info_span, warn, Instrument};

use crate::error::Ec2Error;
use crate::ops::{self, Cloud};
use crate::params::Params;
use crate::store::User;
use auth::Claim;
use users::events::Component;

/// The largest request body read. EC2's largest Query request (RunInstances with 16 KB of
/// user data, base64) is far below it.
pub const MAX_BODY: usize = 1 << 20;

/// A Query request as received: what its signature covers, and its parameters.
#[derive(Debug)]
pub struct QueryRequest<'a> {
    pub method: &'a str,
    /// The Host header (or the URL's authority).
    pub host: &'a str,
    /// The path as sent, still percent-encoded.
    pub path: &'a str,
    /// The URL's query string as sent, without `?`.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The URL's parameters, then (POST) the body's.
    pub params: Params,
}

/// The Query API, for mounting on the front door.
pub fn handler(cloud: Arc<Cloud>) -> impl Handler {
    move |request, connection: Connection| handle(Arc::clone(&cloud), request, connection)
}

async fn handle(
    cloud: Arc<Cloud>,
    request: Request<Incoming>,
    connection: Connection,
) -> Response<HttpBody> {
    let started = Instant::now();
    let id = ops::request_id();
    let span = info_span!(
        "ec2",
        request = %id,
        peer = %connection.peer,
        method = %request.method(),
        action = tracing::field::Empty,
        user = tracing::field::Empty,
    );
    async move {
        let mut asker = Asker::default();
        let source = connection.peer.ip();
        let answered = answer(&cloud, request, source, &id, &mut asker).await;
        let outcome = answered.as_ref().map_or_else(Ec2Error::code, |_| "ok");
        let (action, user) = (&asker.action, asker.user.as_ref());
        cloud
            .record_request(Component::Ec2, action, user, Some(source), outcome)
            .await;
        let (status, body) = match answered {
            Ok(xml) => (hyper::StatusCode::OK, xml),
            Err(e) => {
                if let Ec2Error::Internal(cause) = &e {
                    warn!(%cause, "internal error");
                }
                (e.status(), e.document(&id))
            }
        };
        info!(
            status = status.as_u16(),
            ms = started.elapsed().as_millis(),
            "answered"
        );
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/xml;charset=UTF-8"),
        );
        soap::boxed(response)
    }
    .instrument(span)
    .await
}

/// Who asked for what, as far as a request was read: its event's.
#[derive(Debug, Default)]
struct Asker {
    user: Option<User>,
    action: String,
}

/// Reads, authenticates and answers one request from `source`; `asker` learns who asked
/// for what as the request is read.
async fn answer(
    cloud: &Cloud,
    request: Request<Incoming>,
    source: IpAddr,
    request_id: &str,
    asker: &mut Asker,
) -> Result<String, Ec2Error> {
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                Ec2Error::RequestTooLarge(MAX_BODY)
            } else {
                Ec2Error::InvalidParameterValue(format!("cannot read the request body: {e}"))
            }
        })?
        .to_bytes();
    let query = parts.uri.query().unwrap_or("");
    let mut params = Params::parse(query);
    if parts.method == Method::POST {
        let form = std::str::from_utf8(&body).map_err(|_| {
            Ec2Error::InvalidParameterValue("the request body is not UTF-8 form data".into())
        })?;
        params.extend(Params::parse(form));
    }
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    let request = QueryRequest {
        method: parts.method.as_str(),
        host,
        path: parts.uri.path(),
        query,
        headers: &parts.headers,
        body: &body,
        params,
    };
    asker.action = request.params.get("Action").unwrap_or_default().to_owned();
    let claim = Claim::read(&request, kit::time::now())?;
    let user = cloud
        .store
        .directory()
        .by_access_key(claim.access_key())
        .await?
        .ok_or(Ec2Error::InvalidClientTokenId)?;
    let user = ops::enabled(user)?;
    claim.verify(&request, &user.secret_key)?;
    let action = request
        .params
        .get("Action")
        .ok_or_else(|| Ec2Error::MissingParameter("Action".into()))?;
    let span = tracing::Span::current();
    span.record("action", action);
    span.record("user", user.arn().as_str());
    let asked = asker.user.insert(user);
    ops::dispatch(
        cloud,
        asked,
        Some(source),
        action,
        &request.params,
        request_id,
    )
    .await
}

//! The EC2 Query API at `/services/Eucalyptus`: GET with the parameters in the URL, or POST
//! with them form-encoded in the body; signed with SigV2 or SigV4 ([`auth`]). Every failure
//! becomes EC2's error document here, and only here. The IAM and CloudWatch Query APIs
//! (`crate::euare`, `crate::monitoring::api`) read, authenticate and answer their requests
//! with the same code ([`read_authenticated`], [`span`], [`respond`]).

pub mod auth;

use std::borrow::Cow;
use std::io::Read as _;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, HOST};
use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, Request, Response};
use soap::{Connection, Handler, HttpBody};
use tracing::{info, info_span, warn, Instrument};

use crate::config::SERVICE_PATH;
use crate::error::Ec2Error;
use crate::ops::{self, Cloud};
use crate::params::Params;
use crate::store::{Store, User};
use auth::Claim;
use users::events::Component;
use wire::query::QueryParams;

/// The largest request body read. EC2's largest Query request (RunInstances with 16 KB of
/// user data, base64) is far below it.
pub const MAX_BODY: usize = 1 << 20;

/// A Query API, as its signatures name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// Its name in logs (the span of each request).
    pub name: &'static str,
    /// Where the front door serves it (SigV2 clients configured with the bare host sign `/`
    /// instead).
    pub path: &'static str,
    /// The SigV4 service names a credential may be scoped to.
    pub signing_names: &'static [&'static str],
}

/// The EC2 API.
pub const EC2: Service = Service {
    name: "ec2",
    path: SERVICE_PATH,
    signing_names: &["ec2"],
};

/// A Query request as received: what its signature covers, and its parameters.
#[derive(Debug)]
pub struct QueryRequest<'a> {
    /// The API it was sent to.
    pub service: &'static Service,
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
    let id = ops::request_id();
    let span = span(&EC2, &id, &connection, &request);
    let asker = Asker::new(Component::Ec2, connection.peer.ip());
    let answer = answer(&cloud, request, &asker, &id);
    respond(&cloud, span, &asker, answer, &id).await
}

/// Who asked what of an API, as far as the request was read: the event it is recorded as.
#[derive(Debug)]
pub struct Asker {
    component: Component,
    /// The client's address.
    pub source: IpAddr,
    action: OnceLock<String>,
    user: OnceLock<User>,
}

impl Asker {
    pub fn new(component: Component, source: IpAddr) -> Self {
        Self {
            component,
            source,
            action: OnceLock::new(),
            user: OnceLock::new(),
        }
    }

    /// Notes the action asked for, and returns it.
    pub fn asks<'a>(&'a self, action: &str) -> &'a str {
        self.action.get_or_init(|| action.to_owned())
    }

    /// Notes who authenticated as asking, and returns them.
    pub fn is(&self, user: User) -> &User {
        self.user.get_or_init(|| user)
    }
}

/// The span of request `id` to `service`, whose answer records its action and user.
pub fn span(
    service: &Service,
    id: &str,
    connection: &Connection,
    request: &Request<Incoming>,
) -> tracing::Span {
    info_span!(
        "query",
        api = service.name,
        request = %id,
        peer = %connection.peer,
        method = %request.method(),
        action = tracing::field::Empty,
        user = tracing::field::Empty,
    )
}

/// A Query API's failure, as its front door answers it.
pub trait Failure {
    fn status(&self) -> hyper::StatusCode;
    /// The API's error document.
    fn document(&self, request_id: &str) -> String;
    /// The cause of our own failure, logged (the document leaves it out); `None` when the
    /// request is to blame.
    fn internal(&self) -> Option<&str>;
    /// The API's error code, for the event log.
    fn code(&self) -> &str;
}

impl Failure for Ec2Error {
    fn status(&self) -> hyper::StatusCode {
        Ec2Error::status(self)
    }

    fn document(&self, request_id: &str) -> String {
        Ec2Error::document(self, request_id)
    }

    fn internal(&self) -> Option<&str> {
        match self {
            Self::Internal(cause) => Some(cause),
            _ => None,
        }
    }

    fn code(&self) -> &str {
        Ec2Error::code(self)
    }
}

/// The response to request `request_id`: `answer`'s document, or its failure's; its
/// outcome and time logged in `span`, which `answer` runs in, and recorded in the cloud's
/// event log as what `asker` learnt.
pub async fn respond<E: Failure>(
    cloud: &Cloud,
    span: tracing::Span,
    asker: &Asker,
    answer: impl std::future::Future<Output = Result<String, E>>,
    request_id: &str,
) -> Response<HttpBody> {
    let render = |answered: Result<String, E>| match answered {
        Ok(xml) => xml_response(hyper::StatusCode::OK, xml),
        Err(e) => xml_response(e.status(), e.document(request_id)),
    };
    respond_as(cloud, span, asker, answer, render).await
}

/// The response `render` makes of `answer` (another protocol's, of the same requests), logged
/// and recorded as [`respond`]'s.
pub async fn respond_as<T, E: Failure>(
    cloud: &Cloud,
    span: tracing::Span,
    asker: &Asker,
    answer: impl std::future::Future<Output = Result<T, E>>,
    render: impl FnOnce(Result<T, E>) -> Response<HttpBody>,
) -> Response<HttpBody> {
    let started = Instant::now();
    async move {
        let answered = answer.await;
        let outcome = answered.as_ref().map_or_else(Failure::code, |_| "ok");
        cloud
            .record_request(
                asker.component,
                asker.action.get().map_or("", String::as_str),
                asker.user.get(),
                Some(asker.source),
                outcome,
            )
            .await;
        if let Some(cause) = answered.as_ref().err().and_then(Failure::internal) {
            warn!(%cause, "internal error");
        }
        let response = render(answered);
        info!(
            status = response.status().as_u16(),
            ms = started.elapsed().as_millis(),
            "answered"
        );
        response
    }
    .instrument(span)
    .await
}

/// A Query API's answer: the XML `document` with `status`.
fn xml_response(status: hyper::StatusCode, document: String) -> Response<HttpBody> {
    let mut response = Response::new(Full::new(Bytes::from(document)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/xml;charset=UTF-8"),
    );
    soap::boxed(response)
}

/// Reads a request's body whole, up to [`MAX_BODY`].
pub async fn read_body(body: Incoming) -> Result<Bytes, Ec2Error> {
    Ok(Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                Ec2Error::RequestTooLarge(MAX_BODY)
            } else {
                Ec2Error::InvalidParameterValue(format!("cannot read the request body: {e}"))
            }
        })?
        .to_bytes())
}

impl<'a> QueryRequest<'a> {
    /// The request of `parts` and `body` sent to `service`: the URL's parameters, then (POST)
    /// the form body's.
    pub fn read(
        parts: &'a Parts,
        body: &'a [u8],
        service: &'static Service,
    ) -> Result<Self, Ec2Error> {
        let mut params = Params::parse(parts.uri.query().unwrap_or(""));
        if parts.method == Method::POST {
            let form = decoded_body(&parts.headers, body)?;
            let form = std::str::from_utf8(&form).map_err(|_| {
                Ec2Error::InvalidParameterValue("the request body is not UTF-8 form data".into())
            })?;
            params.extend(Params::parse(form));
        }
        Ok(Self::with_params(parts, body, service, params))
    }

    /// The request of `parts` and `body` sent to `service`, with the parameters another
    /// protocol's body stands for (CloudWatch's JSON or CBOR).
    pub fn with_params(
        parts: &'a Parts,
        body: &'a [u8],
        service: &'static Service,
        params: Params,
    ) -> Self {
        let host = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("");
        Self {
            service,
            method: parts.method.as_str(),
            host,
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body,
            params,
        }
    }
}

/// A POST's body (a form, or CloudWatch's JSON or CBOR) as sent, or gunzipped (at most
/// [`MAX_BODY`]) when its `Content-Encoding` is gzip: botocore compresses CloudWatch's
/// PutMetricData bodies of 10 KB and more. The signature covers the body as sent.
pub fn decoded_body<'b>(headers: &HeaderMap, body: &'b [u8]) -> Result<Cow<'b, [u8]>, Ec2Error> {
    let encoding = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim();
    if encoding.eq_ignore_ascii_case("identity") {
        return Ok(Cow::Borrowed(body));
    }
    if !encoding.eq_ignore_ascii_case("gzip") {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "the request body's encoding {encoding:?} is not gzip"
        )));
    }
    let mut form = Vec::new();
    let limit = u64::try_from(MAX_BODY).unwrap_or(u64::MAX) + 1;
    flate2::read::GzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut form)
        .map_err(|e| {
            Ec2Error::InvalidParameterValue(format!("the request body is not gzip: {e}"))
        })?;
    if form.len() > MAX_BODY {
        return Err(Ec2Error::RequestTooLarge(MAX_BODY));
    }
    Ok(Cow::Owned(form))
}

/// The enabled user whose key signed `request`, the signature checked with their secret.
pub async fn authenticate(store: &dyn Store, request: &QueryRequest<'_>) -> Result<User, Ec2Error> {
    let claim = Claim::read(request, kit::time::now())?;
    let user = store
        .directory()
        .by_access_key(claim.access_key())
        .await?
        .ok_or(Ec2Error::InvalidClientTokenId)?;
    let user = ops::enabled(user)?;
    claim.verify(request, &user.secret_key)?;
    Ok(user)
}

/// Reads and authenticates a request to `service`, an AWS Query API answered from typed
/// requests (IAM's, CloudWatch's): who asked, the action, and its parameters without the
/// protocol's own. `asker` learns the action and the user as they are read, and the current
/// span records them.
pub async fn read_authenticated<'a>(
    store: &dyn Store,
    request: Request<Incoming>,
    asker: &'a Asker,
    service: &'static Service,
) -> Result<(&'a User, &'a str, QueryParams), Ec2Error> {
    let (parts, body) = request.into_parts();
    let body = read_body(body).await?;
    let request = QueryRequest::read(&parts, &body, service)?;
    let action = request.params.get("Action").unwrap_or_default();
    identify(store, &request, asker, action).await
}

/// Authenticates `request` asking for `action` (`asker` and the current span learn both):
/// who asked, the action, and the request's parameters without the protocol's own.
pub async fn identify<'a>(
    store: &dyn Store,
    request: &QueryRequest<'_>,
    asker: &'a Asker,
    action: &str,
) -> Result<(&'a User, &'a str, QueryParams), Ec2Error> {
    let action = asker.asks(action);
    let user = asker.is(authenticate(store, request).await?);
    if action.is_empty() {
        return Err(Ec2Error::MissingParameter("Action".into()));
    }
    let span = tracing::Span::current();
    span.record("action", action);
    span.record("user", user.arn().as_str());
    Ok((
        user,
        action,
        QueryParams::new(request.params.iter().cloned())?,
    ))
}

/// Reads, authenticates and answers one request; `asker` learns who asked what.
async fn answer(
    cloud: &Cloud,
    request: Request<Incoming>,
    asker: &Asker,
    request_id: &str,
) -> Result<String, Ec2Error> {
    let (parts, body) = request.into_parts();
    let body = read_body(body).await?;
    let request = QueryRequest::read(&parts, &body, &EC2)?;
    let action = asker.asks(request.params.get("Action").unwrap_or_default());
    let user = asker.is(authenticate(&*cloud.store, &request).await?);
    if action.is_empty() {
        return Err(Ec2Error::MissingParameter("Action".into()));
    }
    let span = tracing::Span::current();
    span.record("action", action);
    span.record("user", user.arn().as_str());
    let source = Some(asker.source);
    ops::dispatch(cloud, user, source, action, &request.params, request_id).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Write as _;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn encoded(encoding: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_ENCODING, HeaderValue::from_str(encoding).unwrap());
        headers
    }

    #[test]
    fn gzipped_forms_are_read_within_the_body_limit() {
        let form = b"Action=PutMetricData&Namespace=AWS%2FEC2";
        let plain = decoded_body(&HeaderMap::new(), form).unwrap();
        assert_eq!(&*plain, form);
        let zipped = gzip(form);
        assert_eq!(&*decoded_body(&encoded("gzip"), &zipped).unwrap(), form);
        assert!(matches!(
            decoded_body(&encoded("br"), form),
            Err(Ec2Error::InvalidParameterValue(_))
        ));
        assert!(matches!(
            decoded_body(&encoded("gzip"), form),
            Err(Ec2Error::InvalidParameterValue(_))
        ));
        // A small body that inflates past the limit is refused, not read whole.
        let bomb = gzip(&vec![b'a'; MAX_BODY + 1]);
        assert!(bomb.len() < MAX_BODY / 100);
        assert!(matches!(
            decoded_body(&encoded("gzip"), &bomb),
            Err(Ec2Error::RequestTooLarge(_))
        ));
    }
}

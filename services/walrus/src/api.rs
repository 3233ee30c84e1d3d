//! The S3 REST API as a handler of the front door (`soap::Server`, which owns the listener):
//! one tracing span per request, S3's common response headers. What a request means is
//! [`crate::dispatch`]'s business.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::body::{Body as _, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONNECTION, DATE, SERVER};
use hyper::{Method, Request, Response};
use ring::rand::{SecureRandom, SystemRandom};
use soap::{Connection, Handler, HttpBody};
use tracing::{info, info_span, Instrument};

use crate::authorize;
use crate::dispatch::{dispatch, Asker};
use crate::events;
use crate::hooks::Hooks;
use crate::state::Walrus;

/// The REST API of `walrus`, for mounting on the front door.
pub fn handler(walrus: Arc<Walrus>, hooks: Hooks) -> impl Handler {
    let hooks = Arc::new(hooks);
    move |request, connection: Connection| {
        handle(walrus.clone(), hooks.clone(), request, connection.peer)
    }
}

async fn handle(
    walrus: Arc<Walrus>,
    hooks: Arc<Hooks>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<HttpBody> {
    let started = Instant::now();
    let id = request_id();
    let span = info_span!(
        "s3",
        request = %id,
        %peer,
        method = %request.method(),
        path = request.uri().path(),
        op = tracing::field::Empty,
        user = tracing::field::Empty,
    );
    async move {
        let head = request.method() == Method::HEAD;
        let has_body = !request.body().is_end_stream();
        let source = authorize::source(peer, request.headers());
        let mut asker = Asker::default();
        let answered = dispatch(&walrus, &hooks, request, source, &mut asker).await;
        let outcome = match &answered {
            Ok(_) => "ok",
            Err((error, _)) => error.s3_code(),
        };
        let event = events::request(asker.user.as_ref(), Some(source), asker.operation, outcome);
        walrus.events().record(event).await;
        let mut response = match answered {
            Ok(response) => response,
            Err((error, resource)) => {
                let mut response = error.into_response(&resource, &id, head);
                // The body may be unread: a client that sent `Expect: 100-continue` and got
                // no 100 does not send it, so reading on would take the next request's bytes
                // for it. Closing keeps the two in step.
                if has_body {
                    response
                        .headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                }
                response
            }
        };
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&id) {
            headers.insert(HeaderName::from_static("x-amz-request-id"), value.clone());
            headers.insert(HeaderName::from_static("x-amz-id-2"), value);
        }
        if let Ok(date) = HeaderValue::from_str(&crate::time::http_date(crate::time::now())) {
            headers.insert(DATE, date);
        }
        headers.insert(SERVER, HeaderValue::from_static("Walrus"));
        info!(status = response.status().as_u16(), elapsed = ?started.elapsed(), "answered");
        soap::boxed(response)
    }
    .instrument(span)
    .await
}

/// 16 upper-case hex digits, as S3's request ids look.
fn request_id() -> String {
    let mut bytes = [0u8; 8];
    // A failing generator only makes ids less unique; they identify log lines, nothing more.
    let _ = SystemRandom::new().fill(&mut bytes);
    crate::digest::hex(&bytes).to_ascii_uppercase()
}

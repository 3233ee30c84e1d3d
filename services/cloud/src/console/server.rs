//! The console's HTTPS server: accepts TLS connections (no plain HTTP: a request without
//! TLS fails the handshake), reads each request within limits, signs users in and out,
//! finds the session and checks the CSRF token of every POST before any handler runs,
//! then calls the route's handler and draws its answer with the security headers every
//! response carries.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, HOST, LOCATION, ORIGIN,
    SET_COOKIE, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use openssl::ssl::{Ssl, SslAcceptor};
use soap::keys::KeyPair;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tracing::{info, warn, Instrument};

use super::sessions::{Session, Sessions, Throttle};
use super::tls::{self, TlsError};
use super::{layout, pages, routes, ConsoleError, Ctx, Form, Reply, Request, CSRF_FIELD};
use crate::ops::Cloud;

/// Largest request body read (the console's forms are small; a policy document is the
/// largest, and IAM allows 6 KiB of it).
pub const MAX_BODY: usize = 64 * 1024;
/// How long a client may take for its TLS handshake, and for a request's headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may take from its headers to its answer (body, handler and all).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Most connections served at once; others wait to be accepted.
const MAX_CONNECTIONS: usize = 512;
/// The session cookie's name.
const SESSION_COOKIE: &str = "euca_session";
/// The style sheet, the console's only asset.
const STYLE: &str = include_str!("assets/console.css");
pub const STYLE_PATH: &str = "/assets/console.css";

/// Why the console could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleStartError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("the administrator's console password: {0}")]
    Password(String),
    #[error("the administrator's console password: {0}")]
    Users(#[from] users::UserError),
    #[error("the console cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What every connection shares.
#[derive(Debug)]
struct State {
    cloud: Arc<Cloud>,
    sessions: Sessions,
    throttle: Throttle,
}

/// The console, bound and ready to serve.
pub struct Console {
    listener: TcpListener,
    acceptor: Arc<SslAcceptor>,
    state: Arc<State>,
    url: String,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Completes once `stop` turns true (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

impl Console {
    /// Issues (or finds in DATA) the console's certificate and binds `listen`.
    pub async fn bind(
        listen: SocketAddr,
        cloud: Arc<Cloud>,
        data: &Path,
        cloud_key: &KeyPair,
    ) -> Result<Self, ConsoleStartError> {
        let acceptor = kit::blocking({
            let (data, cloud_key) = (data.to_owned(), cloud_key.clone());
            move || {
                let pair = tls::certificate(&data, &cloud_key, listen)?;
                tls::acceptor(&pair, &cloud_key)
            }
        })
        .await?;
        let listener =
            TcpListener::bind(listen)
                .await
                .map_err(|source| ConsoleStartError::Bind {
                    addr: listen,
                    source,
                })?;
        let local = listener
            .local_addr()
            .map_err(|source| ConsoleStartError::Bind {
                addr: listen,
                source,
            })?;
        let reachable = if local.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port())
        } else {
            local
        };
        Ok(Self {
            listener,
            acceptor: Arc::new(acceptor),
            state: Arc::new(State {
                cloud,
                sessions: Sessions::default(),
                throttle: Throttle::default(),
            }),
            url: format!("https://{reachable}/"),
        })
    }

    /// `https://HOST:PORT/` (a wildcard address as the loopback one).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until `stop` turns true; then idle connections close at once and busy ones
    /// after their request.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = stopped(stop.clone()) => break,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error = %e, "console: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (acceptor, state, stop) = (
                Arc::clone(&self.acceptor),
                Arc::clone(&self.state),
                stop.clone(),
            );
            tokio::spawn(async move {
                serve_connection(tcp, peer, &acceptor, state, stop).await;
                drop(permit);
            });
        }
        info!("console stopped");
    }
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: &SslAcceptor,
    state: Arc<State>,
    stop: watch::Receiver<bool>,
) {
    let stream = match Ssl::new(acceptor.context())
        .and_then(|ssl| tokio_openssl::SslStream::new(ssl, tcp))
    {
        Ok(stream) => stream,
        Err(e) => {
            warn!(error = %e, "console: cannot start TLS");
            return;
        }
    };
    let mut stream = Box::pin(stream);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.as_mut().accept()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "console: TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "console: TLS handshake timed out");
            return;
        }
    }
    let service = hyper::service::service_fn(move |request| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(handle(&state, request, peer.ip()).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = stopped(stop) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, error = %e, "console: connection ended");
    }
}

type Response = http::Response<Full<Bytes>>;

/// Answers one request, logging it.
async fn handle(state: &State, request: http::Request<Incoming>, client: IpAddr) -> Response {
    let started = Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let span =
        tracing::info_span!("console", %method, %path, %client, user = tracing::field::Empty);
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, answer(state, request, client))
        .instrument(span.clone())
        .await
    {
        Ok(response) => response,
        Err(_) => {
            warn!(parent: &span, "console: the request timed out");
            message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The request took too long.",
            )
        }
    };
    info!(parent: &span, status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "console request");
    secured(response)
}

/// Every response's security headers: HTTPS only from now on, nothing but the console's
/// own resources, never in a frame, never cached.
fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (STRICT_TRANSPORT_SECURITY, "max-age=31536000"),
        (
            CONTENT_SECURITY_POLICY,
            "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
        (X_FRAME_OPTIONS, "DENY"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Not `no-referrer`: a browser then sends `Origin: null`, which the POST check refuses.
        (http::header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The request's parts a page or the sign-in needs.
struct Asked {
    method: Method,
    path: String,
    query: Form,
    form: Form,
    session_id: Option<String>,
}

async fn answer(state: &State, request: http::Request<Incoming>, client: IpAddr) -> Response {
    let (parts, body) = request.into_parts();
    if parts.method == Method::POST && !same_origin(&parts.headers) {
        return message_page(StatusCode::FORBIDDEN, "The form came from another site.");
    }
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return message_page(StatusCode::PAYLOAD_TOO_LARGE, "The request is too large.");
        }
    };
    let path =
        String::from_utf8_lossy(&walrus::uri::percent_decode(parts.uri.path(), false)).into_owned();
    let form = if parts.method == Method::POST {
        Form::parse(&String::from_utf8_lossy(&body))
    } else {
        Form::default()
    };
    let asked = Asked {
        method: parts.method.clone(),
        path,
        query: Form::parse(parts.uri.query().unwrap_or("")),
        form,
        session_id: session_cookie(&parts.headers),
    };
    match (&asked.method, asked.path.as_str()) {
        (&Method::GET, STYLE_PATH) => {
            let mut response = http::Response::new(Full::new(Bytes::from_static(STYLE.as_bytes())));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            );
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
            response
        }
        (&Method::GET, "/signin") => match signed_in(state, &asked).await {
            Some(_) => redirect("/"),
            None => html(StatusCode::OK, pages::signin::page(None)),
        },
        (&Method::POST, "/signin") => sign_in(state, &asked, client).await,
        _ => signed_request(state, asked).await,
    }
}

/// A POST must come from the console's own pages: a browser's `Origin`, when sent, names
/// the host the request was sent to (this refuses cross-site sign-ins as well).
fn same_origin(headers: &http::HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    match (origin.to_str().ok(), host) {
        (Some(origin), Some(host)) => origin.strip_prefix("https://") == Some(host),
        _ => false,
    }
}

fn session_cookie(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The session and the signed-in user it names, if it is open and the user may still sign
/// in (a user disabled or deleted meanwhile ends their sessions).
async fn signed_in(state: &State, asked: &Asked) -> Option<(Session, users::User)> {
    let id = asked.session_id.as_deref()?;
    let session = state.sessions.touch(id)?;
    let user = match state
        .cloud
        .store
        .directory()
        .user(&session.account, &session.user)
        .await
    {
        Ok(Some(user)) if user.enabled => user,
        Ok(_) => {
            state.sessions.close(id);
            return None;
        }
        Err(e) => {
            warn!(error = %e, "console: cannot read the session's user");
            return None;
        }
    };
    Some((session, user))
}

async fn sign_in(state: &State, asked: &Asked, client: IpAddr) -> Response {
    let account = asked.form.get("account").unwrap_or_default().trim();
    let user = asked
        .form
        .get("user")
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(users::ROOT_NAME);
    let password = asked.form.get("password").unwrap_or_default();
    tracing::Span::current().record("user", format!("{account}/{user}"));
    if !state.throttle.admits(account, user, client) {
        warn!(account, user, "console: sign-in throttled");
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            pages::signin::page(Some(&format!(
                "Too many failed sign-ins: try again in {} seconds.",
                super::WINDOW.as_secs()
            ))),
        );
    }
    let found = match state
        .cloud
        .store
        .directory()
        .check_password(account, user, password)
        .await
    {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot check a password");
            return message_page(StatusCode::INTERNAL_SERVER_ERROR, "Cannot sign in now.");
        }
    };
    let Some(found) = found else {
        state.throttle.failed(account, user, client);
        info!(account, user, "console: sign-in refused");
        return html(
            StatusCode::UNAUTHORIZED,
            pages::signin::page(Some("Wrong account, user name or password.")),
        );
    };
    if let Some(old) = &asked.session_id {
        state.sessions.close(old);
    }
    let Some(id) = state.sessions.open(&found.account, &found.name) else {
        return message_page(StatusCode::INTERNAL_SERVER_ERROR, "Cannot sign in now.");
    };
    info!(account = %found.account, user = %found.name, "console: signed in");
    let mut response = redirect("/");
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict"
    )) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

/// A request that needs a session: without one, to the sign-in page; a POST's CSRF token
/// checked; then its route.
async fn signed_request(state: &State, asked: Asked) -> Response {
    let Some((session, viewer)) = signed_in(state, &asked).await else {
        return redirect("/signin");
    };
    tracing::Span::current().record("user", viewer.arn().as_str());
    let ctx = Ctx {
        cloud: Arc::clone(&state.cloud),
        viewer,
        csrf: session.csrf.clone(),
    };
    if asked.method == Method::POST {
        let sent = asked.form.get(CSRF_FIELD).unwrap_or_default();
        if !(sent.len() == session.csrf.len()
            && openssl::memcmp::eq(sent.as_bytes(), session.csrf.as_bytes()))
        {
            warn!("console: a form without its CSRF token was refused");
            return error_page(&ctx, &ConsoleError::Forbidden, StatusCode::FORBIDDEN);
        }
        if asked.path == "/signout" {
            if let Some(id) = &asked.session_id {
                state.sessions.close(id);
            }
            let mut response = redirect("/signin");
            response.headers_mut().insert(
                SET_COOKIE,
                HeaderValue::from_static(
                    "euca_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict",
                ),
            );
            return response;
        }
    }
    let handler = match routes::find(&asked.method, &asked.path) {
        routes::Found::Handler(handler) => handler,
        routes::Found::WrongMethod => {
            return error_page(
                &ctx,
                &ConsoleError::BadRequest(format!("{} is not allowed here", asked.method)),
                StatusCode::METHOD_NOT_ALLOWED,
            )
        }
        routes::Found::Nothing => {
            return error_page(&ctx, &ConsoleError::NotFound, StatusCode::NOT_FOUND)
        }
    };
    let request = Request {
        method: asked.method,
        path: asked.path,
        query: asked.query,
        form: asked.form,
    };
    match handler(ctx.clone(), request).await {
        Ok(Reply::Page { title, body }) => html(StatusCode::OK, layout::page(&ctx, &title, body)),
        Ok(Reply::Redirect(to)) => redirect(&to),
        Ok(Reply::Body { content_type, body }) => {
            let mut response = http::Response::new(Full::new(Bytes::from(body)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
        }
        Err(e) => {
            let status = e.status();
            if status.is_server_error() {
                tracing::error!(error = %e, "console: a page failed");
            }
            error_page(&ctx, &e, status)
        }
    }
}

fn html(status: StatusCode, markup: maud::Markup) -> Response {
    let mut response = http::Response::new(Full::new(Bytes::from(markup.into_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn error_page(ctx: &Ctx, error: &ConsoleError, status: StatusCode) -> Response {
    html(status, layout::error(ctx, status, &error.message()))
}

/// A page with only a message, for answers before anyone is known.
fn message_page(status: StatusCode, message: &str) -> Response {
    html(
        status,
        layout::bare(
            status.canonical_reason().unwrap_or("Error"),
            maud::html! { p.error { (message) } },
        ),
    )
}

/// 303 See Other to `to`, a path of the console (anything else goes to the dashboard, so
/// that no page can send a user elsewhere).
fn redirect(to: &str) -> Response {
    let local = to.starts_with('/') && !to.starts_with("//") && !to.contains('\\');
    let target = if local { to } else { "/" };
    let mut response = http::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(location) = HeaderValue::from_str(target) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_from_another_site_is_refused() {
        let mut headers = http::HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("clc:8443"));
        assert!(same_origin(&headers), "no Origin: a non-browser client");
        headers.insert(ORIGIN, HeaderValue::from_static("https://clc:8443"));
        assert!(same_origin(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers));
    }

    #[test]
    fn redirects_stay_on_the_console() {
        // Guards against an open redirect through a handler's target.
        for (to, location) in [
            ("/users", "/users"),
            ("//evil", "/"),
            ("https://evil", "/"),
            ("/\\evil", "/"),
        ] {
            assert_eq!(redirect(to).headers()[LOCATION], location);
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; euca_session=abc; b=2"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
    }
}

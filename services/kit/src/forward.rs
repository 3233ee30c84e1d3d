//! The front door's reverse proxy: a [`soap::Handler`] that passes requests under a path on
//! to another process, as `euca up` serves Walrus and the SC behind the CLC's port.
//!
//! Bodies stream both ways, never read whole. The method, path, query, `Host` and every
//! end-to-end header go on unchanged, so what the client signed (S3's SigV2 and SigV4, a
//! WS-Security signature) still verifies upstream; hop-by-hop headers stop here. An upstream
//! that cannot be reached is a 503 shaped for the client: a SOAP fault to a SOAP message, an
//! S3 `<Error>` to anything else; one that takes a request whole and does not answer in time,
//! a 504 in the same shapes.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use soap::envelope::{Addressing, BodyContent, Outgoing, SoapVersion};
use soap::{BoxFuture, Connection, Endpoint, Fault, Handler, HttpBody};
use tracing::warn;

/// How long the proxy waits for the upstream to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the proxy waits for the upstream's answer once the request has gone to it whole:
/// an upstream that took a request and hangs would otherwise hold its client for good. Long,
/// since Walrus answers an upload only once it is stored.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(300);

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Why `PATH=URL` does not name a forward.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("{0:?}: expected PATH=URL, such as /services/Walrus=http://127.0.0.1:8776")]
    Syntax(String),
    #[error("{url:?}: expected http://HOST:PORT ({reason})")]
    Url { url: String, reason: String },
}

/// Requests under `path` go to the server at `upstream` (`http://HOST:PORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub path: String,
    pub upstream: Uri,
}

impl std::str::FromStr for Route {
    type Err = ForwardError;

    /// Reads `PATH=URL`, as `--forward /services/Walrus=http://127.0.0.1:8776`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (path, url) = text
            .split_once('=')
            .filter(|(path, _)| path.starts_with('/'))
            .ok_or_else(|| ForwardError::Syntax(text.to_owned()))?;
        let bad = |reason: &str| ForwardError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let upstream: Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        if upstream.scheme_str() != Some("http") || upstream.authority().is_none() {
            return Err(bad("plain http with a host"));
        }
        if upstream.path() != "/" && !upstream.path().is_empty() {
            return Err(bad("the request's own path is kept; give none"));
        }
        Ok(Self {
            path: path.to_owned(),
            upstream,
        })
    }
}

/// The proxy for one [`Route`]; mount it with `ServerBuilder::route(route.path, forward)`.
#[derive(Debug, Clone)]
pub struct Forward {
    upstream: Uri,
    client: Client<HttpConnector, Sent>,
    response_timeout: Duration,
}

impl Forward {
    pub fn new(upstream: Uri) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        Self {
            upstream,
            client: Client::builder(TokioExecutor::new()).build(connector),
            response_timeout: RESPONSE_TIMEOUT,
        }
    }

    /// How long to wait for the upstream's answer once the request has gone to it whole
    /// (default 300 s); then the client gets a 504.
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    async fn forward(
        self,
        request: Request<Incoming>,
        connection: Connection,
    ) -> Response<HttpBody> {
        let soap = Endpoint::claims(&request);
        let resource = request.uri().path().to_owned();
        let (mut parts, body) = request.into_parts();
        parts.uri = match self.upstream_uri(&parts.uri) {
            Ok(uri) => uri,
            Err(e) => {
                return refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    soap,
                    &resource,
                    &format!("bad upstream URI: {e}"),
                )
            }
        };
        drop_length_under_chunking(&mut parts.headers);
        strip_hop_by_hop(&mut parts.headers);
        // This hop answers `100-continue` itself when it starts reading the body.
        parts.headers.remove(hyper::header::EXPECT);
        append_forwarded_for(&mut parts.headers, connection.peer);
        let (body, sent) = Sent::new(body);
        let timeout = self.response_timeout;
        let answer = tokio::select! {
            answer = self.client.request(Request::from_parts(parts, body)) => answer,
            _ = async {
                // Ends with the body sent whole, or dropped (sent, or given up).
                let _ = sent.await;
                tokio::time::sleep(timeout).await;
            } => {
                warn!(upstream = %self.upstream, path = %resource, timeout_s = timeout.as_secs(), "upstream took the request and did not answer");
                return refusal(
                    StatusCode::GATEWAY_TIMEOUT,
                    soap,
                    &resource,
                    &format!("the service behind this path did not answer within {} s", timeout.as_secs()),
                );
            }
        };
        match answer {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, body.map_err(Into::into).boxed_unsync())
            }
            Err(e) => {
                warn!(upstream = %self.upstream, path = %resource, error = %soap::error_chain(&e), "upstream unavailable");
                refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    soap,
                    &resource,
                    "the service behind this path is not answering; it may be restarting",
                )
            }
        }
    }

    /// The upstream's scheme and authority with the request's path and query.
    fn upstream_uri(&self, original: &Uri) -> Result<Uri, hyper::http::Error> {
        let mut parts = self.upstream.clone().into_parts();
        parts.path_and_query = original.path_and_query().cloned();
        Ok(Uri::from_parts(parts)?)
    }
}

impl Handler for Forward {
    fn handle(
        &self,
        request: Request<Incoming>,
        connection: Connection,
    ) -> BoxFuture<'static, Response<HttpBody>> {
        Box::pin(self.clone().forward(request, connection))
    }
}

/// A request body on its way upstream, which tells when it is done: its sender is dropped
/// when the body ends, or when the body itself is dropped.
struct Sent {
    body: Incoming,
    done: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Sent {
    fn new(body: Incoming) -> (Self, tokio::sync::oneshot::Receiver<()>) {
        let (done, sent) = tokio::sync::oneshot::channel();
        (
            Self {
                body,
                done: Some(done),
            },
            sent,
        )
    }
}

impl Body for Sent {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.done.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Removes the hop-by-hop headers and those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(&HOP_BY_HOP.map(HeaderName::from_static)) {
        headers.remove(name);
    }
}

/// A message with both `Transfer-Encoding` and `Content-Length` is framed by the former
/// (RFC 9112 §6.3), and a proxy must drop the latter before passing it on: forwarded beside
/// the re-framed body, it would let the two hops disagree on where the request ends
/// (request smuggling).
fn drop_length_under_chunking(headers: &mut HeaderMap) {
    if headers.contains_key(hyper::header::TRANSFER_ENCODING) {
        headers.remove(hyper::header::CONTENT_LENGTH);
    }
}

/// `X-Forwarded-For`: the addresses a client or proxy before us gave, then the peer's.
/// Only the last is ours to vouch for; nothing behind the front door trusts the others.
fn append_forwarded_for(headers: &mut HeaderMap, peer: SocketAddr) {
    const NAME: &str = "x-forwarded-for";
    // Every line of it, in order: one header repeated is the list its lines make.
    let mut value: Vec<String> = headers
        .get_all(NAME)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    value.push(peer.ip().to_string());
    let value = value.join(", ");
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(NAME, value);
    }
}

/// `status` (503, or 504 for no answer in time) in the client's own terms: a SOAP 1.1
/// Server fault, else S3's error document.
fn refusal(status: StatusCode, soap: bool, resource: &str, message: &str) -> Response<HttpBody> {
    let (content_type, body) = if soap {
        let fault = Fault::server(message);
        let outgoing = Outgoing {
            version: SoapVersion::V11,
            addressing: Addressing::default(),
            body: BodyContent::Fault(&fault),
        };
        // An unsigned fault of a fixed shape cannot fail to serialize; fall back to text.
        match soap::envelope::write(&outgoing, None) {
            Ok(bytes) => ("text/xml; charset=utf-8", bytes),
            Err(_) => ("text/plain; charset=utf-8", message.as_bytes().to_vec()),
        }
    } else {
        ("application/xml", s3_error(resource, message).into_bytes())
    };
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// S3's error document: `<Error>` with `ServiceUnavailable`, as S3 itself sends on a 503
/// (clients retry it, as they do a 504).
fn s3_error(resource: &str, message: &str) -> String {
    let mut writer = xmlbind::XmlWriter::new();
    writer.start_element(None, "Error");
    for (name, value) in [
        ("Code", "ServiceUnavailable"),
        ("Message", message),
        ("Resource", resource),
    ] {
        writer.start_element(None, name);
        writer.text(value);
        writer.end_element();
    }
    writer.end_element();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
        writer.finish()
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_route_is_a_path_and_a_bare_http_origin() {
        let route: Route = "/services/Walrus=http://127.0.0.1:8776".parse().unwrap();
        assert_eq!(route.path, "/services/Walrus");
        assert_eq!(
            route.upstream,
            "http://127.0.0.1:8776/".parse::<Uri>().unwrap()
        );
        for bad in [
            "services/Walrus=http://h:1",
            "/x",
            "/x=https://h:1",
            "/x=http://h:1/other",
            "/x=not a url",
        ] {
            assert!(bad.parse::<Route>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_dropped() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-private"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("x-private", "1"),
            ("authorization", "AWS4-HMAC-SHA256 ..."),
            ("host", "front:8773"),
            ("x-amz-date", "20261205T000000Z"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        strip_hop_by_hop(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["authorization", "host", "x-amz-date"]);
    }

    #[test]
    fn a_chunked_request_loses_its_content_length() {
        // Guards against request smuggling: CL and TE both sent must not both reach upstream.
        let mut headers = HeaderMap::new();
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        headers.insert("content-length", HeaderValue::from_static("4"));
        drop_length_under_chunking(&mut headers);
        strip_hop_by_hop(&mut headers);
        assert!(headers.is_empty(), "{headers:?}");
        let mut plain = HeaderMap::new();
        plain.insert("content-length", HeaderValue::from_static("4"));
        drop_length_under_chunking(&mut plain);
        assert_eq!(plain["content-length"], "4");
    }

    #[test]
    fn forwarded_for_appends_the_peer() {
        let mut headers = HeaderMap::new();
        let peer: SocketAddr = "10.0.0.9:5000".parse().unwrap();
        append_forwarded_for(&mut headers, peer);
        assert_eq!(headers["x-forwarded-for"], "10.0.0.9");
        append_forwarded_for(&mut headers, peer);
        assert_eq!(headers["x-forwarded-for"], "10.0.0.9, 10.0.0.9");
        // Guards the lines of a repeated header: none is lost, the peer comes last.
        let mut repeated = HeaderMap::new();
        repeated.append("x-forwarded-for", HeaderValue::from_static("1.1.1.1"));
        repeated.append("x-forwarded-for", HeaderValue::from_static("2.2.2.2"));
        append_forwarded_for(&mut repeated, peer);
        let lines: Vec<_> = repeated.get_all("x-forwarded-for").iter().collect();
        assert_eq!(lines, ["1.1.1.1, 2.2.2.2, 10.0.0.9"]);
    }

    #[tokio::test]
    async fn an_unreachable_upstream_is_a_503_in_the_clients_terms() {
        let s3 = refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            false,
            "/services/Walrus/b",
            "down <now>",
        );
        assert_eq!(s3.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = s3.into_body().collect().await.unwrap().to_bytes();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains("<Code>ServiceUnavailable</Code>"), "{text}");
        assert!(text.contains("down &lt;now&gt;"), "{text}");
        let fault = refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            true,
            "/services/Storage",
            "down",
        );
        assert_eq!(fault.headers()[CONTENT_TYPE], "text/xml; charset=utf-8");
        let body = fault.into_body().collect().await.unwrap().to_bytes();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains("Fault>") && text.contains("down"), "{text}");
    }

    /// Guards against an upstream that takes a request whole and never answers holding the
    /// client for good (it was only bounded while connecting).
    #[tokio::test]
    async fn an_upstream_that_never_answers_is_a_504_once_the_request_is_sent() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream: Uri = format!("http://{}", hung.local_addr().unwrap())
            .parse()
            .unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let (mut socket, _) = hung.accept().await.unwrap();
                let mut request = vec![0; 4096];
                let _ = socket.read(&mut request).await;
                held.push(socket);
            }
        });
        let timeout = Duration::from_millis(300);
        let forward = Forward::new(upstream).with_response_timeout(timeout);
        let server = soap::Server::builder()
            .route("/services/Walrus", forward)
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let front = server.local_addr();
        tokio::spawn(server.run(std::future::pending()));

        let started = std::time::Instant::now();
        let mut client = tokio::net::TcpStream::connect(front).await.unwrap();
        client
            .write_all(
                b"PUT /services/Walrus/b/k HTTP/1.1\r\nHost: front\r\nContent-Length: 5\r\n\
                  Connection: close\r\n\r\nhello",
            )
            .await
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
        assert!(
            answer.contains("<Code>ServiceUnavailable</Code>"),
            "{answer}"
        );
        assert!(answer.contains("did not answer within"), "{answer}");
        assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
    }
}

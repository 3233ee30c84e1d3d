//! An alarm's webhook: its JSON notification POSTed to an http or https URL, on a thread of
//! its own with a bounded time for each step, so that a slow or dead receiver never holds
//! up recording. The outcome is logged; a failure is not retried.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use hyper::Uri;
use openssl::ssl::{SslConnector, SslMethod};
use tracing::{info, warn};

/// The time to connect, to send and to be answered, each.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The most of an answer read: its status line is all that counts.
const ANSWER_BYTES: usize = 4096;

/// Why a notification was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("not an http(s) URL with a host")]
    Url,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("answered {0:?}")]
    Refused(String),
}

/// Whether `url` is one a webhook can be posted to (checked when an alarm is put).
pub fn is_webhook(url: &str) -> bool {
    target(url).is_ok()
}

/// Posts `body` to `url` in the background, logging the outcome.
pub fn post(url: String, body: String) {
    tokio::spawn(async move {
        let outcome = kit::blocking({
            let url = url.clone();
            move || deliver(&url, &body)
        })
        .await;
        match outcome {
            Ok(status) => info!(%url, %status, "alarm notification delivered"),
            Err(error) => warn!(%url, %error, "alarm notification not delivered"),
        }
    });
}

/// The scheme is https, the host, the port and the path (with its query) of `url`.
fn target(url: &str) -> Result<(bool, String, u16, String), WebhookError> {
    let uri: Uri = url.parse().map_err(|_| WebhookError::Url)?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(WebhookError::Url),
    };
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or(WebhookError::Url)?;
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    Ok((tls, host.to_owned(), port, path))
}

/// Sends the request and reads the status line: `Ok` with it for a 2xx answer.
fn deliver(url: &str, body: &str) -> Result<String, WebhookError> {
    let (tls, host, port, path) = target(url)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let address = (bare, port)
        .to_socket_addrs()?
        .next()
        .ok_or(WebhookError::Url)?;
    let stream = TcpStream::connect_timeout(&address, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nUser-Agent: eucalyptus-rs-cloudwatch\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = if tls {
        let connector = SslConnector::builder(SslMethod::tls_client())
            .map_err(|e| WebhookError::Tls(e.to_string()))?
            .build();
        let mut stream = connector
            .connect(bare, stream)
            .map_err(|e| WebhookError::Tls(e.to_string()))?;
        exchange(&mut stream, &request)?
    } else {
        let mut stream = stream;
        exchange(&mut stream, &request)?
    };
    let status = answer.lines().next().unwrap_or_default().to_owned();
    match status.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(status),
        _ => Err(WebhookError::Refused(status)),
    }
}

/// Writes `request` and reads the start of the answer.
fn exchange(stream: &mut (impl Read + Write), request: &str) -> Result<String, WebhookError> {
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    let mut answer = Vec::new();
    stream
        .take(ANSWER_BYTES as u64)
        .read_to_end(&mut answer)
        .or_else(|e| match e.kind() {
            // A receiver that answers and then resets is still an answer.
            std::io::ErrorKind::ConnectionReset if !answer.is_empty() => Ok(0),
            _ => Err(e),
        })?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn webhooks_are_http_or_https_urls_with_a_host() {
        assert!(is_webhook("http://127.0.0.1:8080/hook?x=1"));
        assert!(is_webhook("https://hooks.example.com/a"));
        assert!(!is_webhook("arn:aws:sns:us-east-1:123456789012:topic"));
        assert!(!is_webhook("ftp://example.com/"));
        assert!(!is_webhook("http:///nohost"));
        assert_eq!(
            target("https://h.example/p?q").unwrap(),
            (true, "h.example".into(), 443, "/p?q".into())
        );
    }

    #[test]
    fn a_notification_is_posted_as_json_and_a_refusal_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let mut received = Vec::new();
            for answer in ["HTTP/1.1 200 OK", "HTTP/1.1 500 Oops"] {
                let (mut conn, _) = listener.accept().unwrap();
                let mut request = vec![0; 4096];
                let n = conn.read(&mut request).unwrap();
                received.push(String::from_utf8_lossy(&request[..n]).into_owned());
                conn.write_all(format!("{answer}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .unwrap();
            }
            received
        });
        let url = format!("http://127.0.0.1:{port}/hook");
        assert_eq!(deliver(&url, "{\"a\":1}").unwrap(), "HTTP/1.1 200 OK");
        let refused = deliver(&url, "{}").unwrap_err();
        assert!(matches!(refused, WebhookError::Refused(ref s) if s.contains("500")));
        let received = server.join().unwrap();
        assert!(received[0].starts_with("POST /hook HTTP/1.1\r\n"));
        assert!(received[0].contains("Content-Type: application/json"));
        assert!(received[0].ends_with("\r\n\r\n{\"a\":1}"));
    }
}

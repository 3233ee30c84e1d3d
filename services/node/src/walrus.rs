//! Fetching images over HTTP the way the original NC asked Walrus for them: a GET of the
//! image's URL carrying `EucaOperation: GetDecryptedImage`, signed with the node's key
//! ([`kit::euca_signature`]). A plain HTTP server that ignores those headers serves
//! as well.
//!
//! What the reply says about the body is checked: `Content-Length` and, when present,
//! `Content-MD5`.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, DATE};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kit::euca_signature::{self, CERTIFICATE_HEADER, SIGNATURE_HEADER};
use kit::time::{http_date, now};
use openssl::hash::{Hasher, MessageDigest};
use openssl::pkey::{PKey, Private};
use soap::keys::KeyPair;
use tokio::io::AsyncWriteExt;
use tracing::{debug, warn};

/// Tries of a download that fails for want of a connection or with a server error.
const ATTEMPTS: u32 = 3;
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the next piece of a reply.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an image could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("malformed image URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: StatusCode },
    #[error("{url}: {reason}")]
    Transfer { url: String, reason: String },
    #[error("{url} is larger than the instance's disk allows ({limit} bytes)")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: received {received} bytes, the reply announced {announced}")]
    Truncated {
        url: String,
        received: u64,
        announced: u64,
    },
    #[error("{url}: the content does not match its Content-MD5")]
    DigestMismatch { url: String },
    #[error("cannot sign the request for {url}: {reason}")]
    Signing { url: String, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("download canceled")]
    Canceled,
}

/// Checks `url` is something the node can fetch: `http://host[:port]/path`.
pub fn parse_url(url: &str) -> Result<Uri, FetchError> {
    let bad = |reason: &str| FetchError::BadUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => return Err(bad(&format!("scheme {other} is not supported, use http"))),
        None => return Err(bad("no scheme, expected http://host/path")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if uri.path().len() <= 1 {
        return Err(bad("no path"));
    }
    Ok(uri)
}

/// An HTTP client that signs its requests with the node's key.
#[derive(Clone)]
pub struct ImageClient {
    client: Client<HttpConnector, Empty<Bytes>>,
    key: PKey<Private>,
    certificate: HeaderValue,
}

impl std::fmt::Debug for ImageClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageClient").finish_non_exhaustive()
    }
}

/// Where a download goes and what it may be.
#[derive(Debug)]
pub struct Download<'a> {
    pub url: &'a Uri,
    pub to: &'a std::path::Path,
    /// Most bytes accepted.
    pub limit: u64,
}

impl ImageClient {
    pub fn new(node: &KeyPair) -> Result<Self, openssl::error::ErrorStack> {
        let encoded = euca_signature::encode_certificate(&node.certificate)?;
        let certificate =
            HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static(""));
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            key: node.private_key.clone(),
            certificate,
        })
    }

    /// Downloads into `download.to` (created or truncated), retrying connection failures
    /// and server errors. Returns the size. A failed download leaves no file behind.
    pub async fn fetch(&self, download: &Download<'_>) -> Result<u64, FetchError> {
        let mut delay = FIRST_RETRY_DELAY;
        let mut attempt = 1;
        loop {
            let result = self.fetch_once(download).await;
            if result.is_err() {
                let _ = tokio::fs::remove_file(download.to).await;
            }
            match result {
                Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                    warn!(error = %e, attempt, "image download failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn fetch_once(&self, download: &Download<'_>) -> Result<u64, FetchError> {
        let url = download.url;
        let response = self.get(url).await?;
        let status = response.status();
        if status != StatusCode::OK {
            return Err(FetchError::Status {
                url: url.to_string(),
                status,
            });
        }
        let announced =
            header(&response, CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > download.limit) {
            return Err(FetchError::TooLarge {
                url: url.to_string(),
                limit: download.limit,
            });
        }
        let expected_md5 = header(&response, "content-md5").and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .ok()
        });
        let write = |source| FetchError::Write {
            path: download.to.to_owned(),
            source,
        };
        let mut file = tokio::fs::File::create(download.to).await.map_err(write)?;
        let mut md5 = Hasher::new(MessageDigest::md5()).map_err(|e| transfer(url, &e))?;
        let mut received: u64 = 0;
        let mut body = response.into_body();
        loop {
            let frame = tokio::time::timeout(READ_TIMEOUT, body.frame())
                .await
                .map_err(|_| transfer(url, &"no data for a minute"))?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| transfer(url, &e))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            received += data.len() as u64;
            if received > download.limit {
                return Err(FetchError::TooLarge {
                    url: url.to_string(),
                    limit: download.limit,
                });
            }
            md5.update(&data).map_err(|e| transfer(url, &e))?;
            file.write_all(&data).await.map_err(write)?;
        }
        file.sync_all().await.map_err(write)?;
        if let Some(announced) = announced.filter(|&n| n != received) {
            return Err(FetchError::Truncated {
                url: url.to_string(),
                received,
                announced,
            });
        }
        if let Some(expected) = expected_md5 {
            let actual = md5.finish().map_err(|e| transfer(url, &e))?;
            if *actual != *expected {
                return Err(FetchError::DigestMismatch {
                    url: url.to_string(),
                });
            }
        }
        debug!(%url, bytes = received, "downloaded");
        Ok(received)
    }

    async fn get(&self, url: &Uri) -> Result<Response<Incoming>, FetchError> {
        let date = http_date(now());
        let signature = euca_signature::Request {
            method: "GET",
            date: &date,
            uri: url.path_and_query().map_or("/", |p| p.as_str()),
        }
        .sign(&self.key)
        .map_err(|e| FetchError::Signing {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        let request = Request::get(url.clone())
            .header(AUTHORIZATION, "Euca")
            .header("EucaOperation", "GetDecryptedImage")
            .header(DATE, &date)
            .header(CERTIFICATE_HEADER, self.certificate.clone())
            .header(SIGNATURE_HEADER, signature)
            .body(Empty::new())
            .map_err(|e| FetchError::BadUrl {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        self.client
            .request(request)
            .await
            .map_err(|e| FetchError::Unreachable {
                url: url.to_string(),
                reason: soap::error_chain(&e),
            })
    }
}

fn retryable(error: &FetchError) -> bool {
    match error {
        FetchError::Unreachable { .. } | FetchError::Transfer { .. } => true,
        FetchError::Status { status, .. } => {
            status.is_server_error() || *status == StatusCode::REQUEST_TIMEOUT
        }
        _ => false,
    }
}

fn transfer(url: &Uri, e: &dyn std::fmt::Display) -> FetchError {
    FetchError::Transfer {
        url: url.to_string(),
        reason: e.to_string(),
    }
}

fn header<'a>(response: &'a Response<Incoming>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_and_path_are_fetched() {
        parse_url("http://walrus:8773/services/Walrus/bucket/image.manifest.xml").unwrap();
        for bad in [
            "",
            "walrus/image",
            "ftp://h/x",
            "https://h/x",
            "http:///x",
            "http://h",
            "http://h/",
            "http://h x/y",
        ] {
            assert!(
                matches!(parse_url(bad), Err(FetchError::BadUrl { .. })),
                "{bad}"
            );
        }
    }
}

//! Fetching images over HTTP the way the original NC asked Walrus for them: a GET of the
//! image's URL carrying `EucaOperation: GetDecryptedImage` and signed with the node's key
//! (`EucaSignature`: RSA-SHA1 over `"<VERB>\n<Date>\n<path>\n"`, base64; `EucaCert`: the
//! node's certificate as base64 PEM). A plain HTTP server that ignores those headers serves
//! as well.
//!
//! What the reply says about the body is checked: `Content-Length` and, when present,
//! `Content-MD5`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, DATE};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use openssl::hash::{Hasher, MessageDigest};
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
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
        let pem = node.certificate.to_pem()?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(pem);
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
        let date = http_date(SystemTime::now());
        let path = url.path_and_query().map_or("/", |p| p.as_str());
        let signature =
            self.sign(&format!("GET\n{date}\n{path}\n"))
                .map_err(|e| FetchError::Signing {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
        let request = Request::get(url.clone())
            .header(AUTHORIZATION, "Euca")
            .header("EucaOperation", "GetDecryptedImage")
            .header(DATE, &date)
            .header("EucaCert", self.certificate.clone())
            .header("EucaSignature", signature)
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
                reason: error_chain(&e),
            })
    }

    fn sign(&self, text: &str) -> Result<String, openssl::error::ErrorStack> {
        let mut signer = Signer::new(MessageDigest::sha1(), &self.key)?;
        signer.update(text.as_bytes())?;
        Ok(base64::engine::general_purpose::STANDARD.encode(signer.sign_to_vec()?))
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

/// hyper's errors say little at the top ("client error (Connect)"); the causes say what.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Tue, 24 Nov 2026 12:00:00 GMT` (RFC 9110's IMF-fixdate).
fn http_date(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let iso = xmlbind::DateTime::from_unix(i64::try_from(secs).unwrap_or(i64::MAX));
    // YYYY-MM-DDThh:mm:ssZ
    let s = iso.as_str();
    let month = s
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("Jan");
    let weekday = DAYS[usize::try_from((secs / 86_400) % 7).unwrap_or(0)];
    format!(
        "{weekday}, {} {month} {} {} GMT",
        s.get(8..10).unwrap_or("01"),
        s.get(0..4).unwrap_or("1970"),
        s.get(11..19).unwrap_or("00:00:00")
    )
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

    /// Walrus checks EucaSignature with the certificate sent in EucaCert.
    #[test]
    fn requests_are_signed_with_the_node_key() {
        let keys = KeyPair::generate("node").unwrap();
        let client = ImageClient::new(&keys).unwrap();
        let text =
            "GET\nWed, 18 Nov 2026 11:06:40 GMT\n/services/Walrus/bucket/image.manifest.xml\n";
        let signature = base64::engine::general_purpose::STANDARD
            .decode(client.sign(text).unwrap())
            .unwrap();
        let pem = base64::engine::general_purpose::STANDARD
            .decode(client.certificate.to_str().unwrap())
            .unwrap();
        let certificate = openssl::x509::X509::from_pem(&pem).unwrap();
        let public = certificate.public_key().unwrap();
        let mut verifier = openssl::sign::Verifier::new(MessageDigest::sha1(), &public).unwrap();
        verifier.update(text.as_bytes()).unwrap();
        assert!(verifier.verify(&signature).unwrap());
    }

    #[test]
    fn dates_are_imf_fixdates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(http_date(t), "Wed, 18 Nov 2026 11:06:40 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}

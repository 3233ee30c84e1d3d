//! The caller's side of the snapshot operations (the storage controller's): files streamed
//! to and from Walrus in chunks, each request signed with the cloud's key.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, DATE};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kit::euca_signature::{self, SIGNATURE_HEADER};
use openssl::pkey::{PKey, Private};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{SnapshotOperation, SIZE_HEADER};
use crate::body::Body;

/// Bytes read from a file per chunk sent.
const CHUNK: usize = 256 * 1024;
/// Most of an error document kept for the error.
const MAX_ERROR_BODY: usize = 4096;

/// Why a snapshot operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotClientError {
    #[error("malformed Walrus URL {0:?}")]
    BadUrl(String),
    #[error("cannot sign the request: {0}")]
    Signing(#[from] openssl::error::ErrorStack),
    #[error("cannot reach Walrus: {0}")]
    Unreachable(String),
    #[error("Walrus answered {status}: {document}")]
    Refused {
        status: StatusCode,
        document: String,
    },
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the transfer broke off: {0}")]
    Transfer(String),
    #[error("received {received} bytes, Walrus announced {announced}")]
    Truncated { received: u64, announced: u64 },
}

/// Stores, fetches and deletes snapshots in one Walrus.
#[derive(Debug, Clone)]
pub struct SnapshotClient {
    /// `http://HOST:PORT/services/Walrus`, without a trailing slash.
    base: String,
    key: PKey<Private>,
    http: Client<HttpConnector, Body>,
}

impl SnapshotClient {
    /// A client of the Walrus at `url` (its service URL), signing with `key` (the cloud's).
    pub fn new(url: &str, key: PKey<Private>) -> Result<Self, SnapshotClientError> {
        let base = url.trim_end_matches('/').to_owned();
        match base.parse::<Uri>() {
            Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => {}
            _ => return Err(SnapshotClientError::BadUrl(url.to_owned())),
        }
        let http = Client::builder(TokioExecutor::new()).build_http();
        Ok(Self { base, key, http })
    }

    /// StoreSnapshot: sends `file` as snapshot `id` into `bucket`.
    pub async fn store(
        &self,
        bucket: &str,
        id: &str,
        file: &Path,
    ) -> Result<(), SnapshotClientError> {
        let io = |source| SnapshotClientError::File {
            path: file.to_owned(),
            source,
        };
        let mut input = tokio::fs::File::open(file).await.map_err(io)?;
        let size = input.metadata().await.map_err(io)?.len();
        let (sender, body) = Body::channel(Some(size));
        let path = file.to_owned();
        tokio::spawn(async move {
            let mut buf = vec![0; CHUNK];
            loop {
                match input.read(&mut buf).await {
                    Ok(0) => return,
                    Ok(n) => {
                        if sender
                            .send(Bytes::copy_from_slice(&buf[..n]))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "reading a snapshot failed");
                        sender.fail(e).await;
                        return;
                    }
                }
            }
        });
        let mut request = self.request(SnapshotOperation::Store, bucket, id, body)?;
        let headers = request.headers_mut();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(size));
        headers.insert(SIZE_HEADER, HeaderValue::from(size));
        self.send(request).await.map(drop)
    }

    /// GetWalrusSnapshot: writes snapshot `id` to `to`; returns its size.
    pub async fn fetch(
        &self,
        bucket: &str,
        id: &str,
        to: &Path,
    ) -> Result<u64, SnapshotClientError> {
        let request = self.request(SnapshotOperation::Get, bucket, id, Body::empty())?;
        let response = self.send(request).await?;
        let announced = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let io = |source| SnapshotClientError::File {
            path: to.to_owned(),
            source,
        };
        let mut output = tokio::fs::File::create(to).await.map_err(io)?;
        let mut body = response.into_body();
        let mut received = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| SnapshotClientError::Transfer(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                received += data.len() as u64;
                output.write_all(&data).await.map_err(io)?;
            }
        }
        output.flush().await.map_err(io)?;
        match announced {
            Some(announced) if announced != received => Err(SnapshotClientError::Truncated {
                received,
                announced,
            }),
            _ => Ok(received),
        }
    }

    /// DeleteWalrusSnapshot: removes snapshot `id` (from whichever bucket holds it).
    pub async fn delete(&self, bucket: &str, id: &str) -> Result<(), SnapshotClientError> {
        let request = self.request(SnapshotOperation::Delete, bucket, id, Body::empty())?;
        self.send(request).await.map(drop)
    }

    fn request(
        &self,
        operation: SnapshotOperation,
        bucket: &str,
        id: &str,
        body: Body,
    ) -> Result<Request<Body>, SnapshotClientError> {
        let url = format!(
            "{}/{}/{}",
            self.base,
            crate::uri::aws_encode(bucket.as_bytes(), false),
            crate::uri::aws_encode(id.as_bytes(), false)
        );
        let uri: Uri = url
            .parse()
            .map_err(|_| SnapshotClientError::BadUrl(url.clone()))?;
        let date = kit::time::http_date(kit::time::now());
        let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let method = operation.method();
        let signature = euca_signature::Request {
            method: method.as_str(),
            date: &date,
            uri: &target,
        }
        .sign(&self.key)?;
        let bad = |_| SnapshotClientError::BadUrl(url.clone());
        Request::builder()
            .method(method)
            .uri(uri.clone())
            .header(AUTHORIZATION, "Euca")
            .header(DATE, &date)
            .header("EucaOperation", operation.name())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .map_err(bad)
    }

    async fn send(
        &self,
        request: Request<Body>,
    ) -> Result<Response<Incoming>, SnapshotClientError> {
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| SnapshotClientError::Unreachable(e.to_string()))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let mut document = Vec::new();
        let mut body = response.into_body();
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                document.extend_from_slice(&data);
                if document.len() > MAX_ERROR_BODY {
                    document.truncate(MAX_ERROR_BODY);
                    break;
                }
            }
        }
        Err(SnapshotClientError::Refused {
            status,
            document: String::from_utf8_lossy(&document).into_owned(),
        })
    }
}

//! Blobs in another S3-compatible store (Ceph RGW, MinIO, Garage, a second Walrus...): the
//! blobs of Walrus bucket `b` are objects named by their ids in remote bucket
//! `<prefix>b`. Requests are path-style over HTTP, signed with SigV4.
//!
//! A blob is spooled to local staging while it arrives (its SHA-256 computed on the way),
//! then PUT with its exact length and hash, so the remote store verifies what it stores.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, HOST};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ring::digest;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::debug;
use xmlbind::Limits;

use super::local::{clear_dir, Staged};
use super::{Backend, BlobId, BlobReader, BlobWriter, BoxFuture, StorageError};
use crate::auth::v4::{sign_request, SigningParams};
use crate::body::Body;
use crate::digest::{hex, sha256_hex};
use crate::uri::aws_encode;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a reply's head, or for the next piece of its body.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
const SPOOL_BUFFER: usize = 1 << 20;
const UPLOAD_PIECE: usize = 256 << 10;
/// Largest listing or error document read from the remote store.
const MAX_DOCUMENT: usize = 16 << 20;
/// Deleting a remote bucket waits this long at most for its last blobs to go.
const BUCKET_DELETE_TRIES: u32 = 30;
const BUCKET_DELETE_PAUSE: Duration = Duration::from_millis(100);

/// Where the remote store is and how to sign for it.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// `http://host:port`.
    pub endpoint: Uri,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    /// Prepended to Walrus bucket names to name the remote buckets.
    pub bucket_prefix: String,
}

/// The remote backend. Cheap to clone.
#[derive(Clone)]
pub struct RemoteS3 {
    inner: Arc<Inner>,
}

struct Inner {
    config: RemoteConfig,
    authority: String,
    client: Client<HttpConnector, Body>,
    staging: PathBuf,
}

impl std::fmt::Debug for RemoteS3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteS3")
            .field("endpoint", &self.inner.config.endpoint)
            .field("bucket_prefix", &self.inner.config.bucket_prefix)
            .finish_non_exhaustive()
    }
}

fn remote_error(what: impl std::fmt::Display) -> StorageError {
    StorageError::Remote(what.to_string())
}

impl RemoteS3 {
    /// A client of the store at `config.endpoint`, spooling uploads in `data/staging`.
    pub fn new(config: RemoteConfig, data: &Path) -> Result<Self, StorageError> {
        if config.endpoint.scheme_str() != Some("http") {
            return Err(remote_error(format!(
                "endpoint {} must be an http:// URL",
                config.endpoint
            )));
        }
        let authority = config
            .endpoint
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| remote_error(format!("endpoint {} has no host", config.endpoint)))?;
        let staging = data.join("staging");
        std::fs::create_dir_all(&staging).map_err(|source| StorageError::Io {
            path: staging.clone(),
            source,
        })?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                authority,
                client: Client::builder(TokioExecutor::new()).build(connector),
                staging,
            }),
        })
    }
}

impl Inner {
    fn remote_bucket(&self, bucket: &str) -> String {
        format!("{}{bucket}", self.config.bucket_prefix)
    }

    fn bucket_path(&self, bucket: &str) -> String {
        format!(
            "/{}",
            aws_encode(self.remote_bucket(bucket).as_bytes(), false)
        )
    }

    fn blob_path(&self, blob: &BlobId) -> String {
        format!(
            "{}/{}",
            self.bucket_path(&blob.bucket),
            aws_encode(blob.id.as_bytes(), false)
        )
    }

    /// Sends a signed request. `path` and `query` are canonical already.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        mut headers: HeaderMap,
        body: Body,
        payload_sha256: &str,
    ) -> Result<Response<Incoming>, StorageError> {
        headers.insert(
            HOST,
            HeaderValue::from_str(&self.authority).map_err(remote_error)?,
        );
        let params = SigningParams {
            access_key: &self.config.access_key,
            secret_key: &self.config.secret_key,
            region: &self.config.region,
            service: "s3",
            now: crate::time::now(),
        };
        sign_request(
            method.as_str(),
            path,
            query,
            &mut headers,
            payload_sha256,
            &params,
        )
        .map_err(remote_error)?;
        let target = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        };
        let mut request = Request::builder()
            .method(method.clone())
            .uri(format!("http://{}{target}", self.authority))
            .body(body)
            .map_err(remote_error)?;
        *request.headers_mut() = headers;
        let response = tokio::time::timeout(READ_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| remote_error(format!("{method} {path}: no answer in {READ_TIMEOUT:?}")))?
            .map_err(|e| remote_error(format!("{method} {path}: {}", soap::error_chain(&e))))?;
        debug!(%method, path, status = response.status().as_u16(), "remote store answered");
        Ok(response)
    }

    /// Like [`Inner::send`] without a body, failing unless the status is one of `ok`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &str,
        headers: HeaderMap,
        ok: &[StatusCode],
    ) -> Result<Response<Incoming>, StorageError> {
        let empty = sha256_hex(b"");
        let response = self
            .send(method.clone(), path, query, headers, Body::empty(), &empty)
            .await?;
        expect(response, ok, &method, path).await
    }

    async fn list_bucket(&self, bucket: &str, found: &mut Vec<BlobId>) -> Result<(), StorageError> {
        let path = self.bucket_path(bucket);
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type".to_owned(), "2".to_owned())];
            if let Some(token) = &token {
                query.push(("continuation-token".to_owned(), token.clone()));
            }
            let response = self
                .call(
                    Method::GET,
                    &path,
                    &canonical_query(&query),
                    HeaderMap::new(),
                    &[StatusCode::OK],
                )
                .await?;
            let doc = read_document(response).await?;
            for contents in doc.elements().filter(|e| e.name.local == "Contents") {
                if let Some(key) = child_text(contents, "Key").filter(|k| BlobId::is_valid_id(k)) {
                    found.push(BlobId {
                        bucket: bucket.to_owned(),
                        id: key,
                    });
                }
            }
            token = child_text(&doc, "NextContinuationToken");
            if child_text(&doc, "IsTruncated").as_deref() != Some("true") || token.is_none() {
                return Ok(());
            }
        }
    }
}

/// `name=value&...`, SigV4-encoded and sorted, usable both in the URL and the signature.
fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(n, v)| {
            (
                aws_encode(n.as_bytes(), false),
                aws_encode(v.as_bytes(), false),
            )
        })
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

async fn expect(
    response: Response<Incoming>,
    ok: &[StatusCode],
    method: &Method,
    path: &str,
) -> Result<Response<Incoming>, StorageError> {
    let status = response.status();
    if ok.contains(&status) {
        return Ok(response);
    }
    let detail: String = match read_bytes(response, MAX_DOCUMENT).await {
        Ok(body) => String::from_utf8_lossy(&body).chars().take(500).collect(),
        Err(e) => e.to_string(),
    };
    Err(remote_error(format!(
        "{method} {path}: HTTP {status}: {detail}"
    )))
}

async fn read_bytes(response: Response<Incoming>, max: usize) -> Result<Bytes, StorageError> {
    let mut body = response.into_body();
    let mut out = BytesMut::new();
    loop {
        let frame = tokio::time::timeout(READ_TIMEOUT, body.frame())
            .await
            .map_err(|_| remote_error("the remote store stopped sending"))?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| remote_error(soap::error_chain(&e)))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(remote_error("the remote store's reply is too large"));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

async fn read_document(response: Response<Incoming>) -> Result<xmlbind::Element, StorageError> {
    let bytes = read_bytes(response, MAX_DOCUMENT).await?;
    let limits = Limits {
        max_bytes: MAX_DOCUMENT,
        ..Limits::default()
    };
    xmlbind::parse(&bytes, &limits).map_err(|e| remote_error(format!("unreadable reply: {e}")))
}

fn child_text(parent: &xmlbind::Element, local: &str) -> Option<String> {
    parent
        .elements()
        .find(|e| e.name.local == local)
        .and_then(|e| e.text().ok())
}

struct RemoteWriter {
    inner: Arc<Inner>,
    blob: BlobId,
    file: File,
    buffer: BytesMut,
    sha256: digest::Context,
    size: u64,
    staged: Staged,
}

impl RemoteWriter {
    async fn flush(&mut self) -> Result<(), StorageError> {
        if !self.buffer.is_empty() {
            let data = self.buffer.split().freeze();
            self.file
                .write_all(&data)
                .await
                .map_err(|source| StorageError::Io {
                    path: self.staged.path().to_owned(),
                    source,
                })?;
        }
        Ok(())
    }
}

/// Feeds an upload's body from its spool file.
async fn feed(mut file: File, size: u64, sender: crate::body::BodySender) {
    let mut left = size;
    while left > 0 {
        let mut buffer = BytesMut::with_capacity(UPLOAD_PIECE);
        match (&mut file)
            .take(UPLOAD_PIECE as u64)
            .read_buf(&mut buffer)
            .await
        {
            Ok(0) => return,
            Ok(n) => {
                left = left.saturating_sub(n as u64);
                if sender.send(buffer.freeze()).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                sender.fail(e).await;
                return;
            }
        }
    }
}

impl BlobWriter for RemoteWriter {
    fn write(&mut self, data: Bytes) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            self.sha256.update(&data);
            self.size += data.len() as u64;
            self.buffer.extend_from_slice(&data);
            if self.buffer.len() >= SPOOL_BUFFER {
                self.flush().await?;
            }
            Ok(())
        })
    }

    fn publish(mut self: Box<Self>) -> BoxFuture<'static, Result<BlobId, StorageError>> {
        Box::pin(async move {
            self.flush().await?;
            let spool = self.staged.path().to_owned();
            let io = |source| StorageError::Io {
                path: spool.clone(),
                source,
            };
            self.file.flush().await.map_err(io)?;
            let file = File::open(&spool).await.map_err(io)?;
            let (sender, body) = Body::channel(Some(self.size));
            tokio::spawn(feed(file, self.size, sender));
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_LENGTH, HeaderValue::from(self.size));
            let path = self.inner.blob_path(&self.blob);
            let digest = hex(self.sha256.clone().finish().as_ref());
            let response = self
                .inner
                .send(Method::PUT, &path, "", headers, body, &digest)
                .await?;
            expect(response, &[StatusCode::OK], &Method::PUT, &path).await?;
            // The spool file goes when `staged` drops.
            Ok(self.blob.clone())
        })
    }
}

struct RemoteReader {
    body: Option<Incoming>,
}

impl BlobReader for RemoteReader {
    fn next(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, StorageError>> {
        Box::pin(async move {
            let Some(body) = &mut self.body else {
                return Ok(None);
            };
            loop {
                let frame = tokio::time::timeout(READ_TIMEOUT, body.frame())
                    .await
                    .map_err(|_| remote_error("the remote store stopped sending"))?;
                let Some(frame) = frame else {
                    self.body = None;
                    return Ok(None);
                };
                let frame = frame.map_err(|e| remote_error(soap::error_chain(&e)))?;
                if let Ok(data) = frame.into_data() {
                    if !data.is_empty() {
                        return Ok(Some(data));
                    }
                }
            }
        })
    }
}

impl Backend for RemoteS3 {
    fn create_bucket<'a>(&'a self, bucket: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let path = self.inner.bucket_path(bucket);
            let ok = [StatusCode::OK, StatusCode::CONFLICT];
            let response = self
                .inner
                .call(Method::PUT, &path, "", HeaderMap::new(), &ok)
                .await?;
            if response.status() == StatusCode::CONFLICT {
                // Ours already (BucketAlreadyOwnedByYou) is fine; someone else's is not.
                let body = read_bytes(response, MAX_DOCUMENT).await?;
                if !String::from_utf8_lossy(&body).contains("BucketAlreadyOwnedByYou") {
                    return Err(remote_error(format!(
                        "remote bucket {} belongs to someone else",
                        self.inner.remote_bucket(bucket)
                    )));
                }
            }
            Ok(())
        })
    }

    fn delete_bucket<'a>(&'a self, bucket: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let path = self.inner.bucket_path(bucket);
            let ok = [
                StatusCode::NO_CONTENT,
                StatusCode::OK,
                StatusCode::NOT_FOUND,
                StatusCode::CONFLICT,
            ];
            // The bucket's last blobs may still be on their way out (deleted in the
            // background); give them a moment.
            for _ in 0..BUCKET_DELETE_TRIES {
                let response = self
                    .inner
                    .call(Method::DELETE, &path, "", HeaderMap::new(), &ok)
                    .await?;
                if response.status() != StatusCode::CONFLICT {
                    return Ok(());
                }
                tokio::time::sleep(BUCKET_DELETE_PAUSE).await;
            }
            // Blobs still being read: the bucket stays, and is reused if the name returns.
            debug!(path, "remote bucket not empty; kept");
            Ok(())
        })
    }

    fn writer<'a>(
        &'a self,
        bucket: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn BlobWriter>, StorageError>> {
        Box::pin(async move {
            let blob = BlobId::generate(bucket)?;
            let path = self.inner.staging.join(format!("{}.part", blob.id));
            let file = File::create(&path)
                .await
                .map_err(|source| StorageError::Io {
                    path: path.clone(),
                    source,
                })?;
            Ok(Box::new(RemoteWriter {
                inner: self.inner.clone(),
                blob,
                file,
                buffer: BytesMut::with_capacity(SPOOL_BUFFER),
                sha256: digest::Context::new(&digest::SHA256),
                size: 0,
                staged: Staged::new(path),
            }) as Box<dyn BlobWriter>)
        })
    }

    fn reader<'a>(
        &'a self,
        blob: &'a BlobId,
        range: Range<u64>,
    ) -> BoxFuture<'a, Result<Box<dyn BlobReader>, StorageError>> {
        Box::pin(async move {
            if range.start >= range.end {
                return Ok(Box::new(RemoteReader { body: None }) as Box<dyn BlobReader>);
            }
            let path = self.inner.blob_path(blob);
            let mut headers = HeaderMap::new();
            let value = format!("bytes={}-{}", range.start, range.end - 1);
            headers.insert(
                HeaderName::from_static("range"),
                HeaderValue::from_str(&value).map_err(remote_error)?,
            );
            let ok = [
                StatusCode::OK,
                StatusCode::PARTIAL_CONTENT,
                StatusCode::NOT_FOUND,
            ];
            let response = self
                .inner
                .call(Method::GET, &path, "", headers, &ok)
                .await?;
            if response.status() == StatusCode::NOT_FOUND {
                return Err(StorageError::Missing(blob.to_string()));
            }
            Ok(Box::new(RemoteReader {
                body: Some(response.into_body()),
            }) as Box<dyn BlobReader>)
        })
    }

    fn copy<'a>(
        &'a self,
        blob: &'a BlobId,
        to: &'a str,
    ) -> BoxFuture<'a, Result<BlobId, StorageError>> {
        Box::pin(async move {
            let copy = BlobId::generate(to)?;
            let path = self.inner.blob_path(&copy);
            let mut headers = HeaderMap::new();
            headers.insert(
                HeaderName::from_static("x-amz-copy-source"),
                HeaderValue::from_str(&self.inner.blob_path(blob)).map_err(remote_error)?,
            );
            let response = self
                .inner
                .call(Method::PUT, &path, "", headers, &[StatusCode::OK])
                .await?;
            // S3 may report a failed copy inside a 200 reply.
            let body = read_bytes(response, MAX_DOCUMENT).await?;
            let text = String::from_utf8_lossy(&body);
            if text.contains("<Error>") {
                return Err(remote_error(format!("copy to {path} failed: {text}")));
            }
            Ok(copy)
        })
    }

    fn delete<'a>(&'a self, blob: &'a BlobId) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let path = self.inner.blob_path(blob);
            let ok = [
                StatusCode::NO_CONTENT,
                StatusCode::OK,
                StatusCode::NOT_FOUND,
            ];
            self.inner
                .call(Method::DELETE, &path, "", HeaderMap::new(), &ok)
                .await?;
            Ok(())
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<BlobId>, StorageError>> {
        Box::pin(async move {
            let response = self
                .inner
                .call(Method::GET, "/", "", HeaderMap::new(), &[StatusCode::OK])
                .await?;
            let doc = read_document(response).await?;
            let prefix = &self.inner.config.bucket_prefix;
            let mut found = Vec::new();
            let buckets = doc.elements().filter(|e| e.name.local == "Buckets");
            for bucket in buckets.flat_map(|b| b.elements()) {
                let Some(name) = child_text(bucket, "Name") else {
                    continue;
                };
                if let Some(ours) = name.strip_prefix(prefix.as_str()) {
                    self.inner.list_bucket(ours, &mut found).await?;
                }
            }
            Ok(found)
        })
    }

    fn clear_staging(&self) -> BoxFuture<'_, Result<usize, StorageError>> {
        Box::pin(clear_dir(self.inner.staging.clone()))
    }
}

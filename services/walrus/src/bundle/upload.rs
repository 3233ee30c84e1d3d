//! Uploading a bundle the way `euca-upload-bundle` (euca2ools 1.x) does: the bucket is made
//! if it is not there yet, then each part and the manifest are PUT with the canned ACL
//! `aws-exec-read`, every request signed with S3's SigV2 by the user's access key. The
//! manifest goes last, so that a manifest in Walrus always has its parts beside it.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, DATE};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::AsyncReadExt;

use super::manifest::{Manifest, ManifestError};
use crate::body::Body;
use crate::uri::aws_encode;

/// The canned ACL euca-upload-bundle gives what it uploads.
const ACL: &str = "aws-exec-read";
/// Most of an error document read for the error.
const MAX_ERROR_BODY: usize = 16 * 1024;
/// Largest manifest read (Walrus refuses larger ones too).
const MAX_MANIFEST: u64 = 4 << 20;
/// Bytes of a part read at a time while it is sent.
const STREAM_CHUNK: usize = 64 * 1024;

/// Where a bundle goes and with whose keys.
#[derive(Debug, Clone)]
pub struct UploadSpec<'a> {
    /// Walrus' service URL, `http://HOST:PORT/services/Walrus` (eucarc's `S3_URL`).
    pub url: &'a str,
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub bucket: &'a str,
    /// The manifest `euca bundle-image` wrote; its parts are the files it names beside it.
    pub manifest: &'a Path,
}

/// A step of an upload, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// The bucket is there and the user's (made now, or before).
    Bucket,
    /// A file of the bundle is in Walrus, as this key.
    Uploaded(&'a str),
}

/// Why an upload failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("malformed Walrus URL {0:?}: expected http://HOST:PORT/services/Walrus")]
    BadUrl(String),
    #[error("{0:?} is not a bucket name")]
    BadBucket(String),
    #[error("cannot read {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a bundle manifest: {source}")]
    Manifest {
        path: PathBuf,
        source: ManifestError,
    },
    #[error("cannot reach Walrus at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("Walrus refused {what}: {status} {code}: {message}")]
    Refused {
        what: String,
        status: StatusCode,
        code: String,
        message: String,
    },
}

/// Uploads the bundle `spec.manifest` describes into `spec.bucket`, telling `progress` each
/// step done; returns the manifest's key (`BUCKET/NAME.manifest.xml` is what RegisterImage takes).
pub async fn upload(
    spec: &UploadSpec<'_>,
    mut progress: impl FnMut(Step<'_>),
) -> Result<String, UploadError> {
    if spec.bucket.is_empty() || spec.bucket.contains('/') {
        return Err(UploadError::BadBucket(spec.bucket.to_owned()));
    }
    let base = spec.url.trim_end_matches('/');
    match base.parse::<Uri>() {
        Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => {}
        _ => return Err(UploadError::BadUrl(spec.url.to_owned())),
    }
    let manifest_bytes = read(spec.manifest, MAX_MANIFEST).await?;
    let manifest = Manifest::parse(&manifest_bytes).map_err(|source| UploadError::Manifest {
        path: spec.manifest.to_owned(),
        source,
    })?;
    let folder = spec.manifest.parent().unwrap_or_else(|| Path::new("."));
    let manifest_name = spec
        .manifest
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| UploadError::File {
            path: spec.manifest.to_owned(),
            source: std::io::ErrorKind::InvalidInput.into(),
        })?;
    let client = S3Client {
        base,
        access_key: spec.access_key,
        secret_key: spec.secret_key,
        http: Client::builder(TokioExecutor::new()).build_http(),
    };
    client.ensure_bucket(spec.bucket).await?;
    progress(Step::Bucket);
    for part in &manifest.image.parts {
        let path = folder.join(&part.filename);
        let (len, body) = stream(&path).await?;
        client.put(spec.bucket, &part.filename, len, body).await?;
        progress(Step::Uploaded(&part.filename));
    }
    let len = manifest_bytes.len() as u64;
    client
        .put(spec.bucket, manifest_name, len, Body::full(manifest_bytes))
        .await?;
    progress(Step::Uploaded(manifest_name));
    Ok(format!("{}/{manifest_name}", spec.bucket))
}

/// A part's length and its bytes, read as they are sent: a part may be as large as
/// `--part-size` made it, and is never held whole.
async fn stream(path: &Path) -> Result<(u64, Body), UploadError> {
    let io = |source| UploadError::File {
        path: path.to_owned(),
        source,
    };
    let mut file = tokio::fs::File::open(path).await.map_err(io)?;
    let len = file.metadata().await.map_err(io)?.len();
    let (sender, body) = Body::channel(Some(len));
    tokio::spawn(async move {
        let mut chunk = vec![0; STREAM_CHUNK];
        loop {
            match file.read(&mut chunk).await {
                Ok(0) => return,
                Ok(n) => {
                    if sender
                        .send(Bytes::copy_from_slice(&chunk[..n]))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) => return sender.fail(e).await,
            }
        }
    });
    Ok((len, body))
}

async fn read(path: &Path, limit: u64) -> Result<Bytes, UploadError> {
    let io = |source| UploadError::File {
        path: path.to_owned(),
        source,
    };
    let size = tokio::fs::metadata(path).await.map_err(io)?.len();
    if size > limit {
        return Err(io(std::io::Error::other(format!(
            "{size} bytes is larger than a manifest may be"
        ))));
    }
    tokio::fs::read(path).await.map(Bytes::from).map_err(io)
}

/// The few S3 requests an upload makes, SigV2-signed.
struct S3Client<'a> {
    base: &'a str,
    access_key: &'a str,
    secret_key: &'a str,
    http: Client<HttpConnector, Body>,
}

impl S3Client<'_> {
    /// PUT Bucket. One the user owns already is fine, as it was for euca-upload-bundle.
    async fn ensure_bucket(&self, bucket: &str) -> Result<(), UploadError> {
        match self.send(Method::PUT, bucket, None, 0, Body::empty()).await {
            Err(UploadError::Refused { code, .. }) if code == "BucketAlreadyOwnedByYou" => Ok(()),
            other => other,
        }
    }

    async fn put(&self, bucket: &str, key: &str, len: u64, body: Body) -> Result<(), UploadError> {
        self.send(Method::PUT, bucket, Some(key), len, body).await
    }

    async fn send(
        &self,
        method: Method,
        bucket: &str,
        key: Option<&str>,
        len: u64,
        body: Body,
    ) -> Result<(), UploadError> {
        let mut path = format!("/{}", aws_encode(bucket.as_bytes(), false));
        if let Some(key) = key {
            path.push('/');
            path.push_str(&aws_encode(key.as_bytes(), true));
        }
        let url = format!("{}{path}", self.base);
        let what = format!(
            "PUT {bucket}{}",
            key.map(|k| format!("/{k}")).unwrap_or_default()
        );
        let uri: Uri = url.parse().map_err(|_| UploadError::BadUrl(url.clone()))?;
        let date = kit::time::http_date(kit::time::now());
        let content_type = "application/octet-stream";
        let acl_header = key
            .map(|_| format!("x-amz-acl:{ACL}\n"))
            .unwrap_or_default();
        // The resource is the whole request path, /services/Walrus included, as euca2ools 1.x
        // signed it.
        let string_to_sign = format!(
            "{method}\n\n{content_type}\n{date}\n{acl_header}{}",
            uri.path()
        );
        let signature = crate::auth::v2::sign(self.secret_key, &string_to_sign);
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(DATE, &date)
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, HeaderValue::from(len))
            .header(
                AUTHORIZATION,
                format!("AWS {}:{signature}", self.access_key),
            );
        if key.is_some() {
            builder = builder.header("x-amz-acl", ACL);
        }
        let request = builder
            .body(body)
            .map_err(|_| UploadError::BadUrl(url.clone()))?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| UploadError::Unreachable {
                url: self.base.to_owned(),
                reason: soap::error_chain(&e),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let document = Limited::new(response.into_body(), MAX_ERROR_BODY)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let (code, message) = error_document(&document);
        Err(UploadError::Refused {
            what,
            status,
            code,
            message,
        })
    }
}

/// `Code` and `Message` of an S3 error document; the text itself when it is not one.
fn error_document(document: &[u8]) -> (String, String) {
    let Ok(error) = crate::xml::parse(document, "Error") else {
        return (
            String::new(),
            String::from_utf8_lossy(document).trim().to_owned(),
        );
    };
    let field = |name: &str| {
        error
            .elements()
            .find(|e| e.name.local == name)
            .and_then(|e| e.text().ok())
            .map(|t| t.trim().to_owned())
            .unwrap_or_default()
    };
    (field("Code"), field("Message"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_s3_error_document_gives_its_code_and_message() {
        let document = b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>\
            <Message>Access Denied</Message><Resource>/b</Resource></Error>";
        assert_eq!(
            error_document(document),
            ("AccessDenied".into(), "Access Denied".into())
        );
        assert_eq!(
            error_document(b"gateway down"),
            (String::new(), "gateway down".into())
        );
    }
}

//! GetDecryptedImage over HTTP, as the original node controller asks for it: a GET of the
//! manifest's URL carrying `EucaOperation: GetDecryptedImage` and the node's
//! `EucaSignature`. With `?IsCompressed=true` (what the NC asks for when it has zlib) the
//! image comes gzipped. Failures are S3 error documents, like every other Walrus answer.

use std::fs::File;
use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use flate2::write::GzEncoder;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Response};
use tokio::runtime::Handle;
use tracing::{info, warn};

use super::bridge::{BundleObjects, ObjectError};
use super::images::{ImageError, Images};
use super::node_signature::SignedRequest;
use super::signers::SignatureError;
use super::stream::CHUNK;
use super::unbundle::UnbundleError;
use crate::body::{Body, BodySender};
use crate::error::S3Error;
use crate::hooks::{InternalOperations, InternalRequest};
use crate::state::Walrus;
use crate::storage::BoxFuture;
use crate::uri::Query;

/// The one internal operation of Walrus that is not about snapshots.
pub const GET_DECRYPTED_IMAGE: &str = "GetDecryptedImage";

/// Answers `EucaOperation` requests: GetDecryptedImage (the snapshot operations of the
/// storage controller are not Walrus' yet).
#[derive(Debug)]
pub struct ImageOperations {
    images: Images,
}

impl ImageOperations {
    pub fn new(images: Images) -> Self {
        Self { images }
    }

    /// Answers a GetDecryptedImage request for the manifest `request.bucket/key`.
    async fn get_decrypted_image(
        &self,
        walrus: Arc<Walrus>,
        request: &InternalRequest,
    ) -> Result<Response<Body>, S3Error> {
        let uri = &request.head.uri;
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let signed = SignedRequest::from_headers(
            request.head.method.as_str(),
            target,
            &request.head.headers,
        )
        .ok_or(S3Error::AccessDenied)?;
        self.images.authorize(&signed, crate::time::now())?;
        let compressed = Query::parse(uri.query().unwrap_or(""))
            .and_then(|q| {
                q.get("IsCompressed")
                    .map(|v| v.eq_ignore_ascii_case("true"))
            })
            .unwrap_or(false);
        let objects: Arc<dyn BundleObjects> = walrus;
        let image = self
            .images
            .get(objects, &request.bucket, &request.key)
            .await?;
        info!(bucket = %request.bucket, manifest = %request.key, size = image.size, compressed, "serving a decrypted image");

        let (sender, body) = Body::channel((!compressed).then_some(image.size));
        let runtime = Handle::current();
        tokio::task::spawn_blocking(move || pump(image.file, compressed, sender, &runtime));
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if !compressed {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(image.size));
        }
        Ok(response)
    }
}

impl InternalOperations for ImageOperations {
    fn handle<'a>(
        &'a self,
        walrus: &'a Arc<Walrus>,
        request: InternalRequest,
    ) -> BoxFuture<'a, Result<Response<Body>, S3Error>> {
        Box::pin(async move {
            // The original matched the name in any case.
            if !request
                .operation
                .trim()
                .eq_ignore_ascii_case(GET_DECRYPTED_IMAGE)
            {
                return Err(S3Error::NotImplemented(format!(
                    "EucaOperation {:?}",
                    request.operation
                )));
            }
            if request.head.method != Method::GET {
                return Err(S3Error::MethodNotAllowed);
            }
            if request.key.is_empty() {
                return Err(S3Error::InvalidRequest(
                    "GetDecryptedImage names a manifest object".into(),
                ));
            }
            self.get_decrypted_image(walrus.clone(), &request).await
        })
    }
}

/// Sends the file (gzipped when asked) into the body, from a blocking thread.
fn pump(mut file: File, compressed: bool, sender: BodySender, runtime: &Handle) {
    if let Err(Stop::Failed(e)) = copy_into(&mut file, compressed, &sender, runtime) {
        warn!(error = %e, "reading a cached image failed mid-way");
        runtime.block_on(sender.fail(e));
    }
}

/// Why [`copy_into`] stopped early.
enum Stop {
    /// The node hung up.
    Disconnected,
    Failed(std::io::Error),
}

fn copy_into(
    file: &mut File,
    compressed: bool,
    sender: &BodySender,
    runtime: &Handle,
) -> Result<(), Stop> {
    let send = |data: Vec<u8>| -> Result<(), Stop> {
        if data.is_empty() {
            return Ok(());
        }
        runtime
            .block_on(sender.send(Bytes::from(data)))
            .map_err(|_| Stop::Disconnected)
    };
    let mut gzip = compressed.then(|| GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let mut buf = vec![0; CHUNK];
    loop {
        let n = file.read(&mut buf).map_err(Stop::Failed)?;
        if n == 0 {
            break;
        }
        match &mut gzip {
            // What the encoder has ready goes out at once.
            Some(gz) => {
                gz.write_all(&buf[..n]).map_err(Stop::Failed)?;
                send(std::mem::take(gz.get_mut()))?;
            }
            None => send(buf[..n].to_vec())?,
        }
    }
    if let Some(gz) = gzip {
        send(gz.finish().map_err(Stop::Failed)?)?;
    }
    Ok(())
}

impl From<ImageError> for S3Error {
    fn from(error: ImageError) -> Self {
        match error {
            ImageError::Node(_) | ImageError::Signature(SignatureError::Unverified) => {
                info!(reason = %error, "GetDecryptedImage refused");
                Self::AccessDenied
            }
            ImageError::Object {
                source: ObjectError::NoSuchBucket,
                ..
            } => Self::NoSuchBucket,
            ImageError::Object {
                source: ObjectError::NoSuchKey,
                ..
            } => Self::NoSuchKey,
            ImageError::Object {
                source: ObjectError::TooLarge(_),
                ..
            }
            | ImageError::Manifest(_)
            | ImageError::Key(_) => Self::InvalidRequest(error.to_string()),
            ImageError::Bundle(UnbundleError::PartRead { ref source, .. })
                if source.kind() != std::io::ErrorKind::NotFound =>
            {
                Self::internal(error)
            }
            ImageError::Bundle(UnbundleError::Output(_)) => Self::internal(error),
            ImageError::Bundle(_) => Self::InvalidRequest(error.to_string()),
            ImageError::Object { .. } | ImageError::Signature(_) | ImageError::Cache(_) => {
                Self::internal(error)
            }
        }
    }
}

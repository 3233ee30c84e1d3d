//! The storage controller's snapshots, moved as the original 1.6.1 moved them: plain HTTP on
//! Walrus's REST paths, marked by an `EucaOperation` header and signed with `EucaSignature`
//! ([`kit::euca_signature`]) by the cloud's key, the SC's in a one-host cloud.
//!
//! - `StoreSnapshot`: `PUT /services/Walrus/<bucket>/<snapshot id>` with the bytes as the body
//!   and their count in `EucaSnapSize` (required); the bucket is made if missing. A snapshot id
//!   stored already is `EntityAlreadyExists`; snapshots beyond `storage_snapshot_size_gb` in
//!   all are `EntityTooLarge`.
//! - `GetWalrusSnapshot`: `GET …/<any bucket>/<snapshot id>` streams the bytes back, from the
//!   bucket the snapshot was stored in (as the original, which looked the id up).
//! - `DeleteWalrusSnapshot`: `DELETE …/<any bucket>/<snapshot id>` removes it, and its bucket
//!   when that is left empty (the original SC named the bucket `snapset`).
//!
//! Snapshots are objects owned by the administrator, under DATA like every object, written and
//! read in chunks: memory does not grow with their size. [`client`] is the caller's side.

pub mod client;

use std::path::Path;
use std::sync::Arc;

use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use hyper::{Method, Response};
use tracing::info;

use crate::acl::Identity;
use crate::body::Body;
use crate::bundle::node_signature::{NodeTrust, SignedRequest};
use crate::error::S3Error;
use crate::hooks::{InternalOperations, InternalRequest};
use crate::meta::StoredHeaders;
use crate::ops::{self, CreateBucket, PutObject, Source};
use crate::payload::Payload;
use crate::state::Walrus;
use crate::storage::BoxFuture;

pub const STORE_SNAPSHOT: &str = "StoreSnapshot";
pub const GET_WALRUS_SNAPSHOT: &str = "GetWalrusSnapshot";
pub const DELETE_WALRUS_SNAPSHOT: &str = "DeleteWalrusSnapshot";
/// The snapshot's size in bytes, sent with StoreSnapshot.
pub const SIZE_HEADER: &str = "EucaSnapSize";

/// Most a request's `Date` may differ from Walrus's clock, in seconds.
const MAX_SKEW_SECS: i64 = 15 * 60;

/// One of the three operations, named as the original's `EucaOperation` values (matched in
/// any case, as the original did).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOperation {
    Store,
    Get,
    Delete,
}

impl SnapshotOperation {
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        [
            (STORE_SNAPSHOT, Self::Store),
            (GET_WALRUS_SNAPSHOT, Self::Get),
            (DELETE_WALRUS_SNAPSHOT, Self::Delete),
        ]
        .into_iter()
        .find_map(|(known, op)| known.eq_ignore_ascii_case(name).then_some(op))
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Store => STORE_SNAPSHOT,
            Self::Get => GET_WALRUS_SNAPSHOT,
            Self::Delete => DELETE_WALRUS_SNAPSHOT,
        }
    }

    pub fn method(self) -> Method {
        match self {
            Self::Store => Method::PUT,
            Self::Get => Method::GET,
            Self::Delete => Method::DELETE,
        }
    }
}

/// Answers the snapshot operations of callers holding the cloud's key.
#[derive(Debug)]
pub struct SnapshotOperations {
    trust: NodeTrust,
}

impl SnapshotOperations {
    /// Trusts `KEYS/cloud-cert.pem`; `None` (snapshots off) when it is missing.
    pub fn load(keys: &Path) -> Result<Option<Self>, soap::keys::KeyError> {
        let path = soap::keys::certificate_path(keys, "cloud");
        if !path.exists() {
            tracing::warn!(path = %path.display(), "no cloud certificate: snapshots are off");
            return Ok(None);
        }
        let certificate = soap::keys::load_certificate(&path)?;
        Ok(Some(Self {
            trust: NodeTrust::new(vec![certificate], MAX_SKEW_SECS, false),
        }))
    }

    fn authorize(&self, request: &InternalRequest) -> Result<(), S3Error> {
        let target = request
            .head
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str());
        let signed = SignedRequest::from_headers(
            request.head.method.as_str(),
            target,
            &request.head.headers,
        )
        .ok_or(S3Error::AccessDenied)?;
        self.trust
            .verify(&signed, crate::time::now())
            .map_err(|reason| {
                info!(%reason, "snapshot request refused");
                S3Error::AccessDenied
            })
    }
}

impl InternalOperations for SnapshotOperations {
    fn handle<'a>(
        &'a self,
        walrus: &'a Arc<Walrus>,
        request: InternalRequest,
    ) -> BoxFuture<'a, Result<Response<Body>, S3Error>> {
        Box::pin(async move {
            let operation = SnapshotOperation::parse(&request.operation).ok_or_else(|| {
                S3Error::NotImplemented(format!("EucaOperation {:?}", request.operation))
            })?;
            if request.head.method != operation.method() {
                return Err(S3Error::MethodNotAllowed);
            }
            if request.key.is_empty() {
                return Err(S3Error::InvalidRequest(format!(
                    "{} names a snapshot: <bucket>/<snapshot id>",
                    operation.name()
                )));
            }
            self.authorize(&request)?;
            let admin = administrator(walrus)?;
            match operation {
                SnapshotOperation::Store => store(walrus, &admin, request).await,
                SnapshotOperation::Get => get(walrus, &request.key).await,
                SnapshotOperation::Delete => delete(walrus, &admin, &request.key).await,
            }
        })
    }
}

/// Snapshots belong to the administrator, the identity the original SC wrote them as.
fn administrator(walrus: &Walrus) -> Result<Identity, S3Error> {
    let admin = walrus
        .users()
        .root_of(users::ADMIN_NAME)?
        .ok_or_else(|| S3Error::internal("the administrator is missing"))?;
    Ok(Identity::User(Box::new(admin)))
}

async fn store(
    walrus: &Walrus,
    admin: &Identity,
    request: InternalRequest,
) -> Result<Response<Body>, S3Error> {
    let size = request
        .head
        .headers
        .get(SIZE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| S3Error::InvalidArgument(format!("{SIZE_HEADER} must give the size")))?;
    let (bucket, id) = (request.bucket, request.key);
    let (taken, room) = (id.clone(), walrus.config().max_snapshot_bytes);
    walrus
        .meta(move |meta, _| {
            if meta.snapshot(&taken)?.is_some() {
                return Err(S3Error::SnapshotAlreadyExists(taken));
            }
            // As the original: the room is checked before the bytes arrive, not while.
            let total = meta.snapshots_size()?.saturating_add(size);
            if room.is_some_and(|room| total > room) {
                return Err(S3Error::EntityTooLarge);
            }
            Ok(())
        })
        .await?;
    ops::create_bucket(
        walrus,
        admin,
        CreateBucket {
            bucket: bucket.clone(),
            acl: Default::default(),
            location: None,
        },
    )
    .await?;
    // At most the size announced; fewer bytes are refused below.
    let mut payload = Payload::new(
        request.body,
        crate::auth::PayloadCheck::Unsigned,
        &request.head.headers,
        size,
    )?
    .with_min_rate(walrus.config().upload_min_rate);
    let written = ops::put_object(
        walrus,
        admin,
        PutObject {
            bucket: bucket.clone(),
            key: id.clone(),
            headers: StoredHeaders::default(),
            acl: Default::default(),
            promised: Default::default(),
            length: Some(size),
            body: Source::Body(&mut payload),
        },
    )
    .await?;
    let (b, k) = (bucket.clone(), id.clone());
    let recorded = walrus
        .meta(move |meta, storage| {
            let stored = meta.object(&b, &k)?.map_or(0, |o| o.size);
            if stored != size {
                storage.discard_ids(&b, meta.delete_object(&b, &k)?);
                return Err(S3Error::IncompleteBody);
            }
            if meta.add_snapshot(&k, &b, size)? {
                return Ok(true);
            }
            // Another StoreSnapshot of the same id finished first and its record stands; what
            // this one wrote goes, unless it is the very object that record names.
            if meta.snapshot(&k)?.is_some_and(|(winner, _)| winner != b) {
                storage.discard_ids(&b, meta.delete_object(&b, &k)?);
            }
            Ok(false)
        })
        .await?;
    if !recorded {
        return Err(S3Error::SnapshotAlreadyExists(id));
    }
    info!(snapshot = %id, %bucket, size, "snapshot stored");
    let mut response = Response::new(Body::empty());
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", written.etag)) {
        response.headers_mut().insert(ETAG, etag);
    }
    Ok(response)
}

async fn get(walrus: &Walrus, id: &str) -> Result<Response<Body>, S3Error> {
    let wanted = id.to_owned();
    let (bucket, _) = walrus
        .meta(move |meta, _| meta.snapshot(&wanted))
        .await?
        .ok_or_else(|| S3Error::NoSuchSnapshot(id.to_owned()))?;
    let (object, lease) = walrus.open_object(&bucket, id).await?;
    let size = object.size;
    let mut response = Response::new(walrus.body(&object, 0..size, lease));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(size));
    info!(snapshot = %id, %bucket, size, "serving a snapshot");
    Ok(response)
}

async fn delete(walrus: &Walrus, admin: &Identity, id: &str) -> Result<Response<Body>, S3Error> {
    let forgotten = id.to_owned();
    let bucket = walrus
        .meta(move |meta, _| meta.remove_snapshot(&forgotten))
        .await?
        .ok_or_else(|| S3Error::NoSuchSnapshot(id.to_owned()))?;
    ops::delete_object(walrus, admin, &bucket, id).await?;
    // The bucket goes with its last snapshot; one still holding others stays.
    match ops::delete_bucket(walrus, admin, &bucket).await {
        Ok(()) | Err(S3Error::BucketNotEmpty) => {}
        Err(e) => return Err(e),
    }
    info!(snapshot = %id, %bucket, "snapshot deleted");
    let mut response = Response::new(Body::empty());
    *response.status_mut() = hyper::StatusCode::NO_CONTENT;
    Ok(response)
}

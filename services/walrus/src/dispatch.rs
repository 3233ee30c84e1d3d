//! One request, start to end: route it, hand it to a hook or authenticate it, run its
//! handler. Errors come back with the resource they concern, for the error document.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response};
use tracing::Span;

use crate::acl::Identity;
use crate::auth::{self, PayloadCheck, RequestHead};
use crate::body::Body;
use crate::config::SERVICE_PATH;
use crate::error::S3Error;
use crate::hooks::{Hooks, InternalRequest};
use crate::payload::Payload;
use crate::rest::Req;
use crate::router::{self, virtual_bucket, Op};
use crate::snapshots::SnapshotOperation;
use crate::state::Walrus;
use crate::{buckets, multipart, objects, post, xml};

/// The header that marks the original's internal requests (node and storage controllers).
const INTERNAL_OPERATION: &str = "eucaoperation";

/// Answers a request, or says what went wrong and with which resource.
pub async fn dispatch(
    walrus: &Arc<Walrus>,
    hooks: &Hooks,
    request: Request<Incoming>,
) -> Result<Response<Body>, (S3Error, String)> {
    let (head, body) = request.into_parts();
    let path = head.uri.path().to_owned();
    let query = head.uri.query().unwrap_or("").to_owned();
    let vhost = virtual_bucket(&head.headers, walrus.config().domain.as_deref()).map(str::to_owned);
    let route = router::route(
        &head.method,
        &path,
        &query,
        &head.headers,
        vhost.as_deref(),
        SERVICE_PATH,
    )
    .map_err(|e| (e, path.clone()))?;
    let resource = route.resource();
    let fail = |e: S3Error| (e, resource.clone());
    Span::current().record("op", route.op.name());

    if let Some(operation) = head.headers.get(INTERNAL_OPERATION) {
        let operation = operation.to_str().unwrap_or_default().to_owned();
        let hook = match SnapshotOperation::parse(&operation) {
            Some(_) => &hooks.snapshots,
            None => &hooks.internal,
        };
        let hook = hook.clone().ok_or_else(|| {
            fail(S3Error::NotImplemented(format!(
                "EucaOperation {operation}"
            )))
        })?;
        let request = InternalRequest {
            operation,
            bucket: route.bucket().to_owned(),
            key: route.key().to_owned(),
            head,
            body,
        };
        return hook.handle(walrus, request).await.map_err(fail);
    }
    // The form carries the signature.
    if route.op == Op::PostObject {
        return post::post_object(walrus, head, route, body)
            .await
            .map_err(fail);
    }

    let request_head = RequestHead {
        method: head.method.as_str(),
        path: &path,
        query: &query,
        headers: &head.headers,
        virtual_bucket: vhost.as_deref(),
        service_prefix: SERVICE_PATH,
    };
    // SQLite reads in WAL mode do not wait for writers, so this lookup stays short.
    let users = walrus.users().clone();
    let lookup = move |access_key: &str| -> Result<_, S3Error> {
        Ok(users
            .by_access_key(access_key)?
            .filter(|u| u.enabled)
            .map(|u| {
                let secret = u.secret_key.clone();
                (u, secret)
            }))
    };
    let signed = auth::verify(&request_head, &lookup, crate::time::now(), "s3").map_err(fail)?;
    let (who, check) = match signed {
        Some(signed) => {
            Span::current().record("user", signed.principal.arn().as_str());
            (Identity::User(Box::new(signed.principal)), signed.payload)
        }
        None => (Identity::Anonymous, PayloadCheck::Unsigned),
    };
    let limit = match route.op {
        Op::PutObject | Op::UploadPart => walrus.config().max_object_bytes,
        _ => xml::MAX_DOCUMENT as u64,
    };
    let body = Payload::new(body, check, &head.headers, limit)
        .map_err(fail)?
        .with_min_rate(walrus.config().upload_min_rate);
    let req = Req {
        head,
        route,
        who,
        body,
    };
    run(walrus, req).await.map_err(fail)
}

async fn run(walrus: &Walrus, req: Req) -> Result<Response<Body>, S3Error> {
    match req.route.op {
        Op::ListBuckets => buckets::list_buckets(walrus, req).await,
        Op::CreateBucket => buckets::create_bucket(walrus, req).await,
        Op::DeleteBucket => buckets::delete_bucket(walrus, req).await,
        Op::HeadBucket => buckets::head_bucket(walrus, req).await,
        Op::ListObjects | Op::ListObjectsV2 => buckets::list_objects(walrus, req).await,
        Op::GetBucketLocation => buckets::get_location(walrus, req).await,
        Op::GetBucketLogging => buckets::get_logging(walrus, req).await,
        Op::PutBucketLogging => buckets::put_logging(walrus, req).await,
        Op::GetBucketAcl => buckets::get_acl(walrus, req).await,
        Op::PutBucketAcl => buckets::put_acl(walrus, req).await,
        Op::GetBucketVersioning => buckets::get_versioning(walrus, req).await,
        Op::ListMultipartUploads => multipart::list_uploads(walrus, req).await,
        Op::DeleteObjects => objects::delete_objects(walrus, req).await,
        Op::PutObject => objects::put_object(walrus, req).await,
        Op::CopyObject => objects::copy_object(walrus, req).await,
        Op::GetObject | Op::HeadObject => objects::get_object(walrus, req).await,
        Op::DeleteObject => objects::delete_object(walrus, req).await,
        Op::GetObjectAcl => objects::get_acl(walrus, req).await,
        Op::PutObjectAcl => objects::put_acl(walrus, req).await,
        Op::CreateMultipartUpload => multipart::create(walrus, req).await,
        Op::UploadPart => multipart::upload_part(walrus, req).await,
        Op::UploadPartCopy => multipart::upload_part_copy(walrus, req).await,
        Op::CompleteMultipartUpload => multipart::complete(walrus, req).await,
        Op::AbortMultipartUpload => multipart::abort(walrus, req).await,
        Op::ListParts => multipart::list_parts(walrus, req).await,
        // Answered before authentication.
        Op::PostObject => Err(S3Error::MethodNotAllowed),
    }
}

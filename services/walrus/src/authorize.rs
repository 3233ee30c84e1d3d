//! IAM policies at Walrus: before an S3 operation runs, a user who is neither the cloud
//! administrator nor an account's root user needs an Allow, and no explicit Deny, for each
//! S3 action the request takes (`s3:GetObject` on `arn:aws:s3:::bucket/key`, ...) in the
//! user's own and its groups' policies. REST requests are checked in `dispatch`, SOAP
//! requests in `soap`, a POST form once its fields name the signer and key; ACLs and
//! account boundaries are checked after, by the operations, as before.

use std::net::{IpAddr, SocketAddr};

use hyper::HeaderMap;
use policy::{Context, Request};
use tracing::{debug, warn};
use users::User;
use xmlbind::ElementRef;

use crate::acl::Identity;
use crate::error::S3Error;
use crate::objects::copy_source;
use crate::router::{Op, Route};
use crate::state::Walrus;

/// The resource of actions on no bucket in particular (ListAllMyBuckets).
const EVERY_BUCKET: &str = "arn:aws:s3:::*";

/// One S3 action a request takes, on a bucket's or an object's ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub action: &'static str,
    pub resource: String,
}

impl Access {
    fn bucket(action: &'static str, bucket: &str) -> Self {
        Self {
            action,
            resource: format!("arn:aws:s3:::{bucket}"),
        }
    }

    pub fn object(action: &'static str, bucket: &str, key: &str) -> Self {
        Self {
            action,
            resource: format!("arn:aws:s3:::{bucket}/{key}"),
        }
    }
}

/// The actions of a REST request. A copy also reads its source, so it needs
/// `s3:GetObject` there besides `s3:PutObject` at its target. DeleteObjects is checked as
/// `s3:DeleteObject` on every key of the bucket (`bucket/*`): a user allowed to delete
/// only some keys deletes them one by one.
pub fn of_route(route: &Route, headers: &HeaderMap) -> Result<Vec<Access>, S3Error> {
    let (b, k) = (route.bucket(), route.key());
    let bucket = |action| vec![Access::bucket(action, b)];
    let object = |action| vec![Access::object(action, b, k)];
    Ok(match route.op {
        Op::ListBuckets => vec![Access {
            action: "s3:ListAllMyBuckets",
            resource: EVERY_BUCKET.to_owned(),
        }],
        Op::CreateBucket => bucket("s3:CreateBucket"),
        Op::DeleteBucket => bucket("s3:DeleteBucket"),
        Op::HeadBucket | Op::ListObjects | Op::ListObjectsV2 => bucket("s3:ListBucket"),
        Op::GetBucketLocation => bucket("s3:GetBucketLocation"),
        Op::GetBucketLogging => bucket("s3:GetBucketLogging"),
        Op::PutBucketLogging => bucket("s3:PutBucketLogging"),
        Op::GetBucketAcl => bucket("s3:GetBucketAcl"),
        Op::PutBucketAcl => bucket("s3:PutBucketAcl"),
        Op::GetBucketVersioning => bucket("s3:GetBucketVersioning"),
        Op::ListMultipartUploads => bucket("s3:ListBucketMultipartUploads"),
        Op::DeleteObjects => vec![Access::object("s3:DeleteObject", b, "*")],
        Op::PostObject
        | Op::PutObject
        | Op::CreateMultipartUpload
        | Op::UploadPart
        | Op::CompleteMultipartUpload => object("s3:PutObject"),
        Op::CopyObject | Op::UploadPartCopy => {
            let (source_bucket, source_key) = copy_source(headers)?;
            vec![
                Access::object("s3:GetObject", &source_bucket, &source_key),
                Access::object("s3:PutObject", b, k),
            ]
        }
        Op::GetObject | Op::HeadObject => object("s3:GetObject"),
        Op::DeleteObject => object("s3:DeleteObject"),
        Op::GetObjectAcl => object("s3:GetObjectAcl"),
        Op::PutObjectAcl => object("s3:PutObjectAcl"),
        Op::AbortMultipartUpload => object("s3:AbortMultipartUpload"),
        Op::ListParts => object("s3:ListMultipartUploadParts"),
    })
}

/// The actions of a SOAP operation, from the fields of its request element; none for an
/// operation Walrus does not answer (it fails on its own).
pub fn of_soap(operation: &str, body: ElementRef<'_>) -> Vec<Access> {
    let field = |name: &str| {
        body.child(Some(wire::s3::NAMESPACE), name)
            .and_then(|e| e.text().ok())
            .map(|t| t.trim().to_owned())
            .unwrap_or_default()
    };
    let (b, k) = (field("Bucket"), field("Key"));
    let bucket = |action| vec![Access::bucket(action, &b)];
    let object = |action| vec![Access::object(action, &b, &k)];
    match operation {
        "ListAllMyBuckets" => vec![Access {
            action: "s3:ListAllMyBuckets",
            resource: EVERY_BUCKET.to_owned(),
        }],
        "CreateBucket" => bucket("s3:CreateBucket"),
        "DeleteBucket" => bucket("s3:DeleteBucket"),
        "ListBucket" => bucket("s3:ListBucket"),
        "GetBucketAccessControlPolicy" => bucket("s3:GetBucketAcl"),
        "SetBucketAccessControlPolicy" => bucket("s3:PutBucketAcl"),
        "GetBucketLoggingStatus" => bucket("s3:GetBucketLogging"),
        "SetBucketLoggingStatus" => bucket("s3:PutBucketLogging"),
        "GetObject" | "GetObjectExtended" => object("s3:GetObject"),
        "PutObject" | "PutObjectInline" => object("s3:PutObject"),
        "DeleteObject" => object("s3:DeleteObject"),
        "GetObjectAccessControlPolicy" => object("s3:GetObjectAcl"),
        "SetObjectAccessControlPolicy" => object("s3:PutObjectAcl"),
        "CopyObject" => vec![
            Access::object("s3:GetObject", &field("SourceBucket"), &field("SourceKey")),
            Access::object(
                "s3:PutObject",
                &field("DestinationBucket"),
                &field("DestinationKey"),
            ),
        ],
        _ => Vec::new(),
    }
}

/// Where a request came from: the peer, or, when the peer is this host (the cloud's front
/// door, which appends the address it took the request from), the last address of
/// `X-Forwarded-For`.
pub fn source(peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let forwarded = || {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()?
            .to_str()
            .ok()?
            .rsplit(',')
            .next()?
            .trim()
            .parse()
            .ok()
    };
    match peer.ip() {
        ip if ip.is_loopback() => forwarded().unwrap_or(ip),
        ip => ip,
    }
}

/// The condition keys of `user`'s request from `source`; `prefix`: ListBucket's.
pub fn context(user: &User, source: Option<IpAddr>, prefix: Option<&str>) -> Context {
    let mut context = Context::of_request(&user.name, &user.id, source, crate::time::now());
    if let Some(prefix) = prefix {
        context.set(policy::S3_PREFIX, prefix);
    }
    context
}

/// Refuses with AccessDenied, and logs, a request `who` may not make: the first of
/// `accesses` its policies do not allow. Anonymous requests and those of the cloud
/// administrator and of root users are left to ACLs.
pub fn authorize(
    walrus: &Walrus,
    who: &Identity,
    accesses: &[Access],
    context: impl FnOnce(&User) -> Context,
) -> Result<(), S3Error> {
    let Identity::User(user) = who else {
        return Ok(());
    };
    if !users::evaluated(user) || accesses.is_empty() {
        return Ok(());
    }
    let policies = walrus.users().policies_of(user)?;
    let context = context(user);
    for access in accesses {
        let request = Request {
            action: access.action,
            resource: &access.resource,
            context: &context,
        };
        let decision = users::decide(&policies, &request);
        if !decision.allowed() {
            warn!(
                user = %user.name,
                account = %user.account,
                action = access.action,
                resource = %access.resource,
                %decision,
                "request denied by policy"
            );
            return Err(S3Error::AccessDenied);
        }
        debug!(action = access.action, resource = %access.resource, %decision, "allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_front_doors_address_is_trusted_and_no_one_elses() {
        let local: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let remote: SocketAddr = "192.0.2.7:9".parse().unwrap();
        let forwarded = headers(&[
            ("x-forwarded-for", "10.9.9.9"),
            ("x-forwarded-for", "203.0.113.1, 198.51.100.2"),
        ]);
        assert_eq!(source(local, &forwarded).to_string(), "198.51.100.2");
        assert_eq!(source(remote, &forwarded).to_string(), "192.0.2.7");
        assert_eq!(source(local, &HeaderMap::new()).to_string(), "127.0.0.1");
        let junk = headers(&[("x-forwarded-for", "not an address")]);
        assert_eq!(source(local, &junk).to_string(), "127.0.0.1");
    }

    #[test]
    fn copies_need_to_read_the_source_and_write_the_target() {
        let route = crate::router::route(
            &hyper::Method::PUT,
            "/services/Walrus/target/t",
            "",
            &headers(&[("x-amz-copy-source", "/source/s%20k")]),
            None,
            crate::config::SERVICE_PATH,
        )
        .unwrap();
        let accesses = of_route(&route, &headers(&[("x-amz-copy-source", "/source/s%20k")]));
        assert_eq!(
            accesses.unwrap(),
            vec![
                Access::object("s3:GetObject", "source", "s k"),
                Access::object("s3:PutObject", "target", "t"),
            ]
        );
    }
}

//! The S3 operations, written once for both front ends: typed inputs in, typed outputs out,
//! failures as [`S3Error`](crate::error::S3Error). The REST handlers ([`crate::buckets`],
//! [`crate::objects`]) and the SOAP handler (`crate::soap`) only translate their transport
//! into these types and back, as s3s's `S3` trait separates the protocol from the store; so
//! an operation behaves the same whichever way it arrives.

mod access;
mod buckets;
mod conditions;
mod names;
mod objects;

pub use access::{
    bucket_for, commit, object_for, precheck_quota, write_blob, writer_id, Promised, Source,
};
pub use buckets::{
    create_bucket, delete_bucket, get_bucket_acl, get_bucket_logging, list_buckets, list_objects,
    put_bucket_acl, put_bucket_logging, CreateBucket, ListObjects, ListObjectsOutput,
    PutBucketLogging,
};
pub use conditions::{ByteRange, Conditions};
pub use names::{check_bucket_name, check_key};
pub use objects::{
    copy_object, delete_object, get_object, get_object_acl, put_object, put_object_acl, CopyObject,
    GetObject, GetObjectOutput, PutObject,
};

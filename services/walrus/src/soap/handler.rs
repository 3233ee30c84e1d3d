//! The S3 SOAP operations: each request's fields become the typed input of the operation
//! in [`crate::ops`], which REST uses too, and its output becomes the SOAP reply.

use std::sync::Arc;

use ::soap::{Fault, RequestContext};
use bytes::Bytes;
use wire::s3::{self, AmazonS3};

use super::convert::{acl_from_wire, acl_to_wire, date, owner};
use super::fault::to_fault;
use crate::acl::{AclRequest, Identity};
use crate::error::S3Error;
use crate::meta::{Logging, StoredHeaders};
use crate::ops::{self, ByteRange, Conditions, Source};
use crate::state::Walrus;

/// Largest object sent inline in a GetObject reply (the whole envelope is read into memory
/// by most SOAP clients; larger objects are for REST).
const MAX_INLINE: u64 = 8 << 20;
const META_PREFIX: &str = "x-amz-meta-";

/// One request's operations, on behalf of the identity its signature proved.
#[derive(Debug)]
pub struct Handler {
    walrus: Arc<Walrus>,
    who: Identity,
}

impl Handler {
    pub fn new(walrus: Arc<Walrus>, who: Identity) -> Self {
        Self { walrus, who }
    }

    fn ok_status() -> s3::Status {
        s3::Status {
            code: 200,
            description: "OK".into(),
        }
    }

    /// The ACL a request's optional list asks for: none is private.
    fn acl_request(&self, list: Option<&s3::AccessControlList>) -> Result<AclRequest, S3Error> {
        list.map_or(Ok(AclRequest::Private), |list| {
            acl_from_wire(list, &self.walrus.directory())
        })
    }

    async fn list_all_my_buckets(&self) -> Result<s3::ListAllMyBucketsResult, S3Error> {
        let out = ops::list_buckets(&self.walrus, &self.who).await?;
        Ok(s3::ListAllMyBucketsResult {
            owner: owner(&out.owner, &self.walrus.directory()),
            buckets: s3::ListAllMyBucketsList {
                bucket: out
                    .buckets
                    .into_iter()
                    .map(|b| s3::ListAllMyBucketsEntry {
                        name: b.name,
                        creation_date: date(b.created),
                    })
                    .collect(),
            },
        })
    }

    async fn create_bucket(
        &self,
        request: s3::CreateBucket,
    ) -> Result<s3::CreateBucketResult, S3Error> {
        let input = ops::CreateBucket {
            bucket: request.bucket.clone(),
            acl: self.acl_request(request.access_control_list.as_ref())?,
            location: None,
        };
        ops::create_bucket(&self.walrus, &self.who, input).await?;
        Ok(s3::CreateBucketResult {
            bucket_name: request.bucket,
        })
    }

    async fn delete_bucket(&self, name: String) -> Result<s3::Status, S3Error> {
        ops::delete_bucket(&self.walrus, &self.who, &name).await?;
        Ok(Self::ok_status())
    }

    async fn list_bucket(&self, request: s3::ListBucket) -> Result<s3::ListBucketResult, S3Error> {
        let input = ops::ListObjects {
            bucket: request.bucket,
            prefix: request.prefix.clone().unwrap_or_default(),
            delimiter: request.delimiter,
            max_keys: request
                .max_keys
                .map(|n| usize::try_from(n.max(0)).unwrap_or(0)),
            after: request.marker.clone(),
        };
        let out = ops::list_objects(&self.walrus, &self.who, input).await?;
        let directory = self.walrus.directory();
        let listing = out.listing;
        Ok(s3::ListBucketResult {
            metadata: Vec::new(),
            name: out.bucket.name,
            prefix: request.prefix.unwrap_or_default(),
            marker: request.marker.unwrap_or_default(),
            next_marker: listing.last.filter(|_| listing.truncated),
            max_keys: i32::try_from(out.max_keys).unwrap_or(i32::MAX),
            delimiter: out.delimiter,
            is_truncated: listing.truncated,
            contents: listing
                .objects
                .into_iter()
                .map(|o| s3::ListEntry {
                    owner: Some(owner(&o.owner, &directory)),
                    key: o.key,
                    last_modified: date(o.modified),
                    e_tag: format!("\"{}\"", o.etag),
                    size: i64::try_from(o.size).unwrap_or(i64::MAX),
                    storage_class: s3::StorageClass::Standard,
                })
                .collect(),
            common_prefixes: listing
                .prefixes
                .into_iter()
                .map(|prefix| s3::PrefixEntry { prefix })
                .collect(),
        })
    }

    async fn bucket_acl(&self, name: &str) -> Result<s3::AccessControlPolicy, S3Error> {
        let out = ops::get_bucket_acl(&self.walrus, &self.who, name).await?;
        acl_to_wire(&out.acl, &out.owner, &self.walrus.directory())
    }

    async fn set_bucket_acl(
        &self,
        name: &str,
        list: Option<&s3::AccessControlList>,
    ) -> Result<(), S3Error> {
        let acl = self.acl_request(list)?;
        ops::put_bucket_acl(&self.walrus, &self.who, name, acl).await
    }

    async fn logging_status(&self, name: &str) -> Result<s3::BucketLoggingStatus, S3Error> {
        let logging = ops::get_bucket_logging(&self.walrus, &self.who, name).await?;
        Ok(s3::BucketLoggingStatus {
            logging_enabled: logging.map(|l| s3::LoggingSettings {
                target_bucket: l.target_bucket,
                target_prefix: l.target_prefix,
                target_grants: None,
            }),
        })
    }

    async fn set_logging_status(
        &self,
        name: &str,
        status: s3::BucketLoggingStatus,
    ) -> Result<(), S3Error> {
        let input = ops::PutBucketLogging {
            bucket: name.to_owned(),
            logging: status.logging_enabled.map(|settings| Logging {
                target_bucket: settings.target_bucket,
                target_prefix: settings.target_prefix,
            }),
        };
        ops::put_bucket_logging(&self.walrus, &self.who, input).await
    }

    async fn put_object_inline(
        &self,
        request: s3::PutObjectInline,
    ) -> Result<s3::PutObjectResult, S3Error> {
        let data = request.data.0;
        if u64::try_from(request.content_length).ok() != Some(data.len() as u64) {
            return Err(S3Error::IncompleteBody);
        }
        let input = ops::PutObject {
            bucket: request.bucket,
            key: request.key,
            headers: metadata_headers(&request.metadata)?,
            acl: self.acl_request(request.access_control_list.as_ref())?,
            promised: ops::Promised::default(),
            length: Some(data.len() as u64),
            body: Source::Inline(Some(Bytes::from(data))),
        };
        let written = ops::put_object(&self.walrus, &self.who, input).await?;
        Ok(s3::PutObjectResult {
            e_tag: format!("\"{}\"", written.etag),
            last_modified: date(written.modified),
        })
    }

    async fn get_object(
        &self,
        request: s3::GetObjectExtended,
    ) -> Result<s3::GetObjectResult, S3Error> {
        let mut conditions = Conditions {
            if_match: request.if_match,
            if_unmodified_since: request.if_unmodified_since.map(|t| t.unix_seconds()),
            if_none_match: request.if_none_match,
            if_modified_since: request.if_modified_since.map(|t| t.unix_seconds()),
        };
        // S3 honours ReturnCompleteObjectOnConditionFailure for the "not modified"
        // conditions only.
        if request.return_complete_object_on_condition_failure == Some(true) {
            conditions.if_none_match.clear();
            conditions.if_modified_since = None;
        }
        let input = ops::GetObject {
            bucket: request.bucket,
            key: request.key,
            conditions,
            range: byte_range(request.byte_range_start, request.byte_range_end)?,
            part_number: None,
        };
        let out = ops::get_object(&self.walrus, &self.who, input).await?;
        let served = out.served();
        let ops::GetObjectOutput { object, lease, .. } = out;
        let data = if request.get_data {
            if !request.inline_data {
                return Err(S3Error::NotImplemented(
                    "data as an attachment (use InlineData)".into(),
                ));
            }
            if served.end - served.start > MAX_INLINE {
                return Err(S3Error::InvalidRequest(format!(
                    "objects over {MAX_INLINE} bytes are not sent inline: use a range or REST"
                )));
            }
            let mut reader = self.walrus.reader(&object, served, lease);
            let mut data = Vec::new();
            while let Some(chunk) = reader.next().await? {
                data.extend_from_slice(&chunk);
            }
            Some(xmlbind::Base64Binary(data))
        } else {
            None
        };
        let metadata = if request.get_metadata {
            object
                .headers
                .0
                .iter()
                .filter_map(|(name, value)| {
                    let name = match name.strip_prefix(META_PREFIX) {
                        Some(user) => user,
                        None if name == "content-type" => "Content-Type",
                        None => return None,
                    };
                    Some(s3::MetadataEntry {
                        name: name.to_owned(),
                        value: value.clone(),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(s3::GetObjectResult {
            status: Self::ok_status(),
            metadata,
            data,
            last_modified: date(object.modified),
            e_tag: format!("\"{}\"", object.etag),
        })
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<s3::Status, S3Error> {
        ops::delete_object(&self.walrus, &self.who, bucket, key).await?;
        Ok(Self::ok_status())
    }

    async fn object_acl(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<s3::AccessControlPolicy, S3Error> {
        let out = ops::get_object_acl(&self.walrus, &self.who, bucket, key).await?;
        acl_to_wire(&out.acl, &out.owner, &self.walrus.directory())
    }

    async fn set_object_acl(
        &self,
        request: s3::SetObjectAccessControlPolicy,
    ) -> Result<(), S3Error> {
        let acl = self.acl_request(Some(&request.access_control_list))?;
        ops::put_object_acl(&self.walrus, &self.who, &request.bucket, &request.key, acl).await
    }

    async fn copy_object(&self, request: s3::CopyObject) -> Result<s3::CopyObjectResult, S3Error> {
        let replace = request.metadata_directive == Some(s3::MetadataDirective::Replace);
        let input = ops::CopyObject {
            source_bucket: request.source_bucket,
            source_key: request.source_key,
            bucket: request.destination_bucket,
            key: request.destination_key,
            conditions: Conditions {
                if_match: request.copy_source_if_match,
                if_unmodified_since: request
                    .copy_source_if_unmodified_since
                    .map(|t| t.unix_seconds()),
                if_none_match: request.copy_source_if_none_match,
                if_modified_since: request
                    .copy_source_if_modified_since
                    .map(|t| t.unix_seconds()),
            },
            replace_headers: if replace {
                Some(metadata_headers(&request.metadata)?)
            } else {
                None
            },
            acl: self.acl_request(request.access_control_list.as_ref())?,
        };
        let written = ops::copy_object(&self.walrus, &self.who, input).await?;
        Ok(s3::CopyObjectResult {
            last_modified: date(written.modified),
            e_tag: format!("\"{}\"", written.etag),
        })
    }
}

/// User metadata as stored headers, checked as REST headers are: `Content-Type` is the
/// object's type, any other name `x-amz-meta-<name>`.
fn metadata_headers(entries: &[s3::MetadataEntry]) -> Result<StoredHeaders, S3Error> {
    let mut headers = hyper::HeaderMap::new();
    for entry in entries {
        let name = if entry.name.eq_ignore_ascii_case("content-type") {
            hyper::header::CONTENT_TYPE
        } else {
            hyper::header::HeaderName::try_from(format!(
                "{META_PREFIX}{}",
                entry.name.to_ascii_lowercase()
            ))
            .map_err(|_| S3Error::InvalidArgument(format!("metadata name {:?}", entry.name)))?
        };
        let value = hyper::header::HeaderValue::try_from(entry.value.as_str())
            .map_err(|_| S3Error::InvalidArgument(format!("metadata value of {:?}", entry.name)))?;
        headers.append(name, value);
    }
    crate::objects::stored_headers(&headers)
}

/// The range `[start, end]` (inclusive, as S3's SOAP API gives it); none when neither end
/// is given.
fn byte_range(start: Option<i64>, end: Option<i64>) -> Result<Option<ByteRange>, S3Error> {
    let offset = |v: i64| {
        u64::try_from(v)
            .map_err(|_| S3Error::InvalidArgument(format!("byte range bound {v} is negative")))
    };
    Ok(match (start, end) {
        (None, None) => None,
        (start, end) => Some(ByteRange::Span {
            first: start.map(offset).transpose()?.unwrap_or(0),
            last: end.map(offset).transpose()?,
        }),
    })
}

fn extended(request: s3::GetObject) -> s3::GetObjectExtended {
    s3::GetObjectExtended {
        bucket: request.bucket,
        key: request.key,
        get_metadata: request.get_metadata,
        get_data: request.get_data,
        inline_data: request.inline_data,
        ..Default::default()
    }
}

impl AmazonS3 for Handler {
    async fn create_bucket(
        &self,
        request: s3::CreateBucket,
        _: RequestContext,
    ) -> Result<s3::CreateBucketResponse, Fault> {
        let result = Handler::create_bucket(self, request)
            .await
            .map_err(to_fault)?;
        Ok(s3::CreateBucketResponse {
            create_bucket_return: result,
        })
    }

    async fn delete_bucket(
        &self,
        request: s3::DeleteBucket,
        _: RequestContext,
    ) -> Result<s3::DeleteBucketResponse, Fault> {
        let status = Handler::delete_bucket(self, request.bucket)
            .await
            .map_err(to_fault)?;
        Ok(s3::DeleteBucketResponse {
            delete_bucket_response: status,
        })
    }

    async fn get_object_access_control_policy(
        &self,
        request: s3::GetObjectAccessControlPolicy,
        _: RequestContext,
    ) -> Result<s3::GetObjectAccessControlPolicyResponse, Fault> {
        let policy = self
            .object_acl(&request.bucket, &request.key)
            .await
            .map_err(to_fault)?;
        Ok(s3::GetObjectAccessControlPolicyResponse {
            get_object_access_control_policy_response: policy,
        })
    }

    async fn get_bucket_access_control_policy(
        &self,
        request: s3::GetBucketAccessControlPolicy,
        _: RequestContext,
    ) -> Result<s3::GetBucketAccessControlPolicyResponse, Fault> {
        let policy = self.bucket_acl(&request.bucket).await.map_err(to_fault)?;
        Ok(s3::GetBucketAccessControlPolicyResponse {
            get_bucket_access_control_policy_response: policy,
        })
    }

    async fn set_object_access_control_policy(
        &self,
        request: s3::SetObjectAccessControlPolicy,
        _: RequestContext,
    ) -> Result<s3::SetObjectAccessControlPolicyResponse, Fault> {
        Handler::set_object_acl(self, request)
            .await
            .map_err(to_fault)?;
        Ok(s3::SetObjectAccessControlPolicyResponse {})
    }

    async fn set_bucket_access_control_policy(
        &self,
        request: s3::SetBucketAccessControlPolicy,
        _: RequestContext,
    ) -> Result<s3::SetBucketAccessControlPolicyResponse, Fault> {
        self.set_bucket_acl(&request.bucket, request.access_control_list.as_ref())
            .await
            .map_err(to_fault)?;
        Ok(s3::SetBucketAccessControlPolicyResponse {})
    }

    async fn get_object(
        &self,
        request: s3::GetObject,
        _: RequestContext,
    ) -> Result<s3::GetObjectResponse, Fault> {
        let result = Handler::get_object(self, extended(request))
            .await
            .map_err(to_fault)?;
        Ok(s3::GetObjectResponse {
            get_object_response: result,
        })
    }

    async fn get_object_extended(
        &self,
        request: s3::GetObjectExtended,
        _: RequestContext,
    ) -> Result<s3::GetObjectExtendedResponse, Fault> {
        let result = Handler::get_object(self, request).await.map_err(to_fault)?;
        Ok(s3::GetObjectExtendedResponse {
            get_object_response: result,
        })
    }

    async fn put_object(
        &self,
        _: s3::PutObject,
        _: RequestContext,
    ) -> Result<s3::PutObjectResponse, Fault> {
        // The data of PutObject travels as a DIME or MIME attachment, which Walrus, like the
        // original, does not read.
        Err(to_fault(S3Error::NotImplemented(
            "PutObject with an attachment: use PutObjectInline or REST".into(),
        )))
    }

    async fn put_object_inline(
        &self,
        request: s3::PutObjectInline,
        _: RequestContext,
    ) -> Result<s3::PutObjectInlineResponse, Fault> {
        let result = Handler::put_object_inline(self, request)
            .await
            .map_err(to_fault)?;
        Ok(s3::PutObjectInlineResponse {
            put_object_inline_response: result,
        })
    }

    async fn delete_object(
        &self,
        request: s3::DeleteObject,
        _: RequestContext,
    ) -> Result<s3::DeleteObjectResponse, Fault> {
        let status = Handler::delete_object(self, &request.bucket, &request.key)
            .await
            .map_err(to_fault)?;
        Ok(s3::DeleteObjectResponse {
            delete_object_response: status,
        })
    }

    async fn list_bucket(
        &self,
        request: s3::ListBucket,
        _: RequestContext,
    ) -> Result<s3::ListBucketResponse, Fault> {
        let result = Handler::list_bucket(self, request)
            .await
            .map_err(to_fault)?;
        Ok(s3::ListBucketResponse {
            list_bucket_response: result,
        })
    }

    async fn list_all_my_buckets(
        &self,
        _: s3::ListAllMyBuckets,
        _: RequestContext,
    ) -> Result<s3::ListAllMyBucketsResponse, Fault> {
        let result = Handler::list_all_my_buckets(self).await.map_err(to_fault)?;
        Ok(s3::ListAllMyBucketsResponse {
            list_all_my_buckets_response: result,
        })
    }

    async fn get_bucket_logging_status(
        &self,
        request: s3::GetBucketLoggingStatus,
        _: RequestContext,
    ) -> Result<s3::GetBucketLoggingStatusResponse, Fault> {
        let status = self
            .logging_status(&request.bucket)
            .await
            .map_err(to_fault)?;
        Ok(s3::GetBucketLoggingStatusResponse {
            get_bucket_logging_status_response: status,
        })
    }

    async fn set_bucket_logging_status(
        &self,
        request: s3::SetBucketLoggingStatus,
        _: RequestContext,
    ) -> Result<s3::SetBucketLoggingStatusResponse, Fault> {
        self.set_logging_status(&request.bucket, request.bucket_logging_status)
            .await
            .map_err(to_fault)?;
        Ok(s3::SetBucketLoggingStatusResponse {})
    }

    async fn copy_object(
        &self,
        request: s3::CopyObject,
        _: RequestContext,
    ) -> Result<s3::CopyObjectResponse, Fault> {
        let result = Handler::copy_object(self, request)
            .await
            .map_err(to_fault)?;
        Ok(s3::CopyObjectResponse {
            copy_object_result: result,
        })
    }
}

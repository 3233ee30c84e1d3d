//! The S3 SOAP operations, on the metadata and storage the REST API uses, with the same
//! access checks ([`bucket_for`], [`object_for`]) and the same commit of new objects.

use std::sync::Arc;

use ::soap::{Fault, RequestContext};
use bytes::Bytes;
use wire::s3::{self, AmazonS3};

use super::convert::{acl_from_wire, acl_to_wire, date, owner};
use super::fault::to_fault;
use crate::acl::{Acl, Identity, Permission};
use crate::buckets::bucket_for;
use crate::digest::{hex, Md5};
use crate::error::S3Error;
use crate::meta::{Bucket, Logging, Object, Segment, StoredHeaders};
use crate::objects::{commit, object_for, precheck_quota, writer_id};
use crate::router::{check_bucket_name, check_key};
use crate::state::{blob_ids, Walrus};

/// Most keys a ListBucket answers with, as S3.
const MAX_KEYS: usize = 1000;
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

    async fn list_all_my_buckets(&self) -> Result<s3::ListAllMyBucketsResult, S3Error> {
        let user = self.who.user()?.canonical_id.clone();
        let id = user.clone();
        let buckets = self
            .walrus
            .meta(move |meta, _| meta.buckets_of(&id))
            .await?;
        Ok(s3::ListAllMyBucketsResult {
            owner: owner(&user, &self.walrus.directory()),
            buckets: s3::ListAllMyBucketsList {
                bucket: buckets
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
        let user = self.who.user()?;
        check_bucket_name(&request.bucket)?;
        let owner_id = user.canonical_id.clone();
        let acl = match &request.access_control_list {
            Some(list) => acl_from_wire(list, &owner_id, &self.walrus.directory())?,
            None => Acl::private(&owner_id),
        };
        let bucket = Bucket {
            name: request.bucket.clone(),
            owner: owner_id,
            created: crate::time::now_millis(),
            location: None,
            acl,
            logging: None,
            size: 0,
        };
        let max = self
            .walrus
            .config()
            .max_buckets_per_user
            .filter(|_| !self.who.is_admin());
        self.walrus
            .storage()
            .backend()
            .create_bucket(&bucket.name)
            .await?;
        self.walrus
            .meta(move |meta, _| meta.create_bucket(&bucket, max))
            .await?;
        Ok(s3::CreateBucketResult {
            bucket_name: request.bucket,
        })
    }

    async fn delete_bucket(&self, name: String) -> Result<s3::Status, S3Error> {
        let bucket = self.owned_bucket(&name).await?;
        let blobs = self
            .walrus
            .meta(move |meta, _| meta.delete_bucket(&bucket.name))
            .await?;
        if !blobs.is_empty() {
            // Parts of unfinished uploads go with the bucket.
            self.walrus
                .storage()
                .discard(blobs.into_iter().map(|id| crate::storage::BlobId {
                    bucket: name.clone(),
                    id,
                }));
        }
        self.walrus.storage().backend().delete_bucket(&name).await?;
        Ok(Self::ok_status())
    }

    /// A bucket only its owner (or an administrator) may act on as a whole.
    async fn owned_bucket(&self, name: &str) -> Result<Bucket, S3Error> {
        let bucket = bucket_for(&self.walrus, name, &self.who, Permission::Read).await?;
        if self.who.canonical_id() != Some(bucket.owner.as_str()) && !self.who.is_admin() {
            return Err(S3Error::AccessDenied);
        }
        Ok(bucket)
    }

    async fn list_bucket(&self, request: s3::ListBucket) -> Result<s3::ListBucketResult, S3Error> {
        let bucket = bucket_for(&self.walrus, &request.bucket, &self.who, Permission::Read).await?;
        let max = request.max_keys.map_or(MAX_KEYS, |n| {
            usize::try_from(n.max(0)).unwrap_or(0).min(MAX_KEYS)
        });
        let prefix = request.prefix.clone().unwrap_or_default();
        let (marker, delimiter) = (request.marker.clone(), request.delimiter.clone());
        let name = bucket.name.clone();
        let listing = self
            .walrus
            .meta(move |meta, _| {
                meta.list(&name, &prefix, delimiter.as_deref(), marker.as_deref(), max)
            })
            .await?;
        let directory = self.walrus.directory();
        let delimited = request.delimiter.as_deref().is_some_and(|d| !d.is_empty());
        Ok(s3::ListBucketResult {
            metadata: Vec::new(),
            name: bucket.name,
            prefix: request.prefix.unwrap_or_default(),
            marker: request.marker.unwrap_or_default(),
            next_marker: listing.last.filter(|_| listing.truncated && delimited),
            max_keys: i32::try_from(max).unwrap_or(i32::MAX),
            delimiter: request.delimiter,
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
        let bucket = bucket_for(&self.walrus, name, &self.who, Permission::ReadAcp).await?;
        acl_to_wire(&bucket.acl, &bucket.owner, &self.walrus.directory())
    }

    async fn set_bucket_acl(
        &self,
        name: &str,
        list: Option<&s3::AccessControlList>,
    ) -> Result<(), S3Error> {
        let bucket = bucket_for(&self.walrus, name, &self.who, Permission::WriteAcp).await?;
        let acl = match list {
            Some(list) => acl_from_wire(list, &bucket.owner, &self.walrus.directory())?,
            None => Acl::private(&bucket.owner),
        };
        self.walrus
            .meta(move |meta, _| meta.set_bucket_acl(&bucket.name, &acl))
            .await
    }

    async fn logging_status(&self, name: &str) -> Result<s3::BucketLoggingStatus, S3Error> {
        let bucket = self.owned_bucket(name).await?;
        Ok(s3::BucketLoggingStatus {
            logging_enabled: bucket.logging.map(|l| s3::LoggingSettings {
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
        let bucket = self.owned_bucket(name).await?;
        let logging = match status.logging_enabled {
            Some(settings) => {
                // The target must exist; Walrus stores the setting and writes no logs.
                bucket_for(
                    &self.walrus,
                    &settings.target_bucket,
                    &self.who,
                    Permission::Write,
                )
                .await?;
                Some(Logging {
                    target_bucket: settings.target_bucket,
                    target_prefix: settings.target_prefix,
                })
            }
            None => None,
        };
        self.walrus
            .meta(move |meta, _| meta.set_bucket_logging(&bucket.name, logging.as_ref()))
            .await
    }

    async fn put_object_inline(
        &self,
        request: s3::PutObjectInline,
    ) -> Result<s3::PutObjectResult, S3Error> {
        check_key(&request.key)?;
        let bucket =
            bucket_for(&self.walrus, &request.bucket, &self.who, Permission::Write).await?;
        let data = request.data.0;
        if u64::try_from(request.content_length).ok() != Some(data.len() as u64) {
            return Err(S3Error::IncompleteBody);
        }
        precheck_quota(&self.walrus, &self.who, &bucket, Some(data.len() as u64))?;
        let owner_id = writer_id(&self.who, &bucket);
        let acl = match &request.access_control_list {
            Some(list) => acl_from_wire(list, &owner_id, &self.walrus.directory())?,
            None => Acl::private(&owner_id),
        };
        let headers = metadata_headers(&request.metadata)?;
        let mut md5 = Md5::new().map_err(S3Error::internal)?;
        md5.update(&data).map_err(S3Error::internal)?;
        let md5 = md5.finish().map_err(S3Error::internal)?;
        let size = data.len() as u64;
        let mut writer = self.walrus.storage().backend().writer(&bucket.name).await?;
        writer.write(Bytes::from(data)).await?;
        let blob = writer.publish().await?;
        let etag = hex(&md5);
        let modified = crate::time::now_millis();
        let object = Object {
            bucket: bucket.name.clone(),
            key: request.key,
            size,
            etag: etag.clone(),
            modified,
            owner: owner_id,
            headers,
            acl,
            segments: vec![Segment {
                blob: blob.id,
                size,
            }],
        };
        commit(&self.walrus, &self.who, object).await?;
        Ok(s3::PutObjectResult {
            e_tag: format!("\"{etag}\""),
            last_modified: date(modified),
        })
    }

    async fn get_object(
        &self,
        request: s3::GetObjectExtended,
    ) -> Result<s3::GetObjectResult, S3Error> {
        let (object, lease) = object_for(
            &self.walrus,
            &request.bucket,
            &request.key,
            &self.who,
            Permission::Read,
        )
        .await?;
        check_conditions(&request, &object)?;
        let data = if request.get_data {
            if !request.inline_data {
                return Err(S3Error::NotImplemented(
                    "data as an attachment (use InlineData)".into(),
                ));
            }
            let range = byte_range(
                request.byte_range_start,
                request.byte_range_end,
                object.size,
            )?;
            if range.end - range.start > MAX_INLINE {
                return Err(S3Error::InvalidRequest(format!(
                    "objects over {MAX_INLINE} bytes are not sent inline: use a range or REST"
                )));
            }
            let mut reader = self.walrus.reader(&object, range, lease);
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
        let bucket = bucket_for(&self.walrus, bucket, &self.who, Permission::Write).await?;
        let (name, key) = (bucket.name.clone(), key.to_owned());
        self.walrus
            .meta(move |meta, storage| {
                let blobs = meta.delete_object(&name, &key)?;
                storage.discard(blobs.into_iter().map(|id| crate::storage::BlobId {
                    bucket: name.clone(),
                    id,
                }));
                Ok::<_, crate::meta::MetaError>(())
            })
            .await?;
        Ok(Self::ok_status())
    }

    async fn object_acl(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<s3::AccessControlPolicy, S3Error> {
        let (object, _) =
            object_for(&self.walrus, bucket, key, &self.who, Permission::ReadAcp).await?;
        acl_to_wire(&object.acl, &object.owner, &self.walrus.directory())
    }

    async fn set_object_acl(
        &self,
        request: s3::SetObjectAccessControlPolicy,
    ) -> Result<(), S3Error> {
        let (object, _) = object_for(
            &self.walrus,
            &request.bucket,
            &request.key,
            &self.who,
            Permission::WriteAcp,
        )
        .await?;
        let acl = acl_from_wire(
            &request.access_control_list,
            &object.owner,
            &self.walrus.directory(),
        )?;
        self.walrus
            .meta(move |meta, _| meta.set_object_acl(&object.bucket, &object.key, &acl))
            .await
    }

    async fn copy_object(&self, request: s3::CopyObject) -> Result<s3::CopyObjectResult, S3Error> {
        check_key(&request.destination_key)?;
        let (source, _lease) = object_for(
            &self.walrus,
            &request.source_bucket,
            &request.source_key,
            &self.who,
            Permission::Read,
        )
        .await?;
        let target = bucket_for(
            &self.walrus,
            &request.destination_bucket,
            &self.who,
            Permission::Write,
        )
        .await?;
        check_copy_conditions(&request, &source)?;
        let replace = request.metadata_directive == Some(s3::MetadataDirective::Replace);
        if !replace && source.bucket == target.name && source.key == request.destination_key {
            return Err(S3Error::CopyToItself);
        }
        precheck_quota(&self.walrus, &self.who, &target, Some(source.size))?;
        let headers = if replace {
            metadata_headers(&request.metadata)?
        } else {
            source.headers.clone()
        };
        let owner_id = writer_id(&self.who, &target);
        let acl = match &request.access_control_list {
            Some(list) => acl_from_wire(list, &owner_id, &self.walrus.directory())?,
            None => Acl::private(&owner_id),
        };
        let mut segments = Vec::with_capacity(source.segments.len());
        for (segment, blob) in source.segments.iter().zip(blob_ids(&source)) {
            let copy = self
                .walrus
                .storage()
                .backend()
                .copy(&blob, &target.name)
                .await?;
            segments.push(Segment {
                blob: copy.id,
                size: segment.size,
            });
        }
        let modified = crate::time::now_millis();
        let object = Object {
            bucket: target.name.clone(),
            key: request.destination_key,
            size: source.size,
            etag: source.etag.clone(),
            modified,
            owner: owner_id,
            headers,
            acl,
            segments,
        };
        commit(&self.walrus, &self.who, object).await?;
        Ok(s3::CopyObjectResult {
            last_modified: date(modified),
            e_tag: format!("\"{}\"", source.etag),
        })
    }
}

/// User metadata as stored headers (`x-amz-meta-<name>`), checked as REST headers are.
fn metadata_headers(entries: &[s3::MetadataEntry]) -> Result<StoredHeaders, S3Error> {
    let mut headers = hyper::HeaderMap::new();
    for entry in entries {
        let name = hyper::header::HeaderName::try_from(format!(
            "{META_PREFIX}{}",
            entry.name.to_ascii_lowercase()
        ))
        .map_err(|_| S3Error::InvalidArgument(format!("metadata name {:?}", entry.name)))?;
        let value = hyper::header::HeaderValue::try_from(entry.value.as_str())
            .map_err(|_| S3Error::InvalidArgument(format!("metadata value of {:?}", entry.name)))?;
        headers.append(name, value);
    }
    crate::objects::stored_headers(&headers)
}

/// The range `[start, end]` (inclusive, as S3's SOAP API gives it) of an object of `size`.
fn byte_range(
    start: Option<i64>,
    end: Option<i64>,
    size: u64,
) -> Result<std::ops::Range<u64>, S3Error> {
    let last = size.checked_sub(1);
    let to_u64 = |v: i64| u64::try_from(v).map_err(|_| S3Error::InvalidRange { size });
    match (start.map(to_u64).transpose()?, end.map(to_u64).transpose()?) {
        (None, None) => Ok(0..size),
        (start, end) => {
            let start = start.unwrap_or(0);
            let end = end.map_or(last, |e| Some(last.map_or(e, |l| e.min(l))));
            match end {
                Some(end) if start <= end => Ok(start..end + 1),
                _ => Err(S3Error::InvalidRange { size }),
            }
        }
    }
}

fn etag_listed(list: &[String], etag: &str) -> bool {
    list.iter()
        .any(|c| c.trim() == "*" || c.trim().trim_start_matches("W/").trim_matches('"') == etag)
}

/// GetObjectExtended's conditions; a failed one fails the request (S3 ignores
/// ReturnCompleteObjectOnConditionFailure for all but If-None-Match / If-Modified-Since).
fn check_conditions(request: &s3::GetObjectExtended, object: &Object) -> Result<(), S3Error> {
    let modified = object.modified.div_euclid(1000);
    if !request.if_match.is_empty() && !etag_listed(&request.if_match, &object.etag) {
        return Err(S3Error::PreconditionFailed);
    }
    if request
        .if_unmodified_since
        .as_ref()
        .is_some_and(|t| modified > t.unix_seconds())
    {
        return Err(S3Error::PreconditionFailed);
    }
    let not_modified = (!request.if_none_match.is_empty()
        && etag_listed(&request.if_none_match, &object.etag))
        || request
            .if_modified_since
            .as_ref()
            .is_some_and(|t| modified <= t.unix_seconds());
    if not_modified && request.return_complete_object_on_condition_failure != Some(true) {
        return Err(S3Error::NotModified);
    }
    Ok(())
}

fn check_copy_conditions(request: &s3::CopyObject, source: &Object) -> Result<(), S3Error> {
    let modified = source.modified.div_euclid(1000);
    let failed = (!request.copy_source_if_match.is_empty()
        && !etag_listed(&request.copy_source_if_match, &source.etag))
        || (!request.copy_source_if_none_match.is_empty()
            && etag_listed(&request.copy_source_if_none_match, &source.etag))
        || request
            .copy_source_if_unmodified_since
            .as_ref()
            .is_some_and(|t| modified > t.unix_seconds())
        || request
            .copy_source_if_modified_since
            .as_ref()
            .is_some_and(|t| modified <= t.unix_seconds());
    if failed {
        return Err(S3Error::PreconditionFailed);
    }
    Ok(())
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

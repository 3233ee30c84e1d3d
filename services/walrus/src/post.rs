//! Browser-based uploads: `POST /bucket` with a `multipart/form-data` body whose fields
//! carry the key, the ACL, metadata and a signed policy (SigV2: `AWSAccessKeyId` and
//! `signature`; SigV4: `x-amz-credential`, `x-amz-date`, `x-amz-signature`), the file last.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, ETAG, LOCATION};
use hyper::http::request::Parts;
use hyper::{HeaderMap, Response, StatusCode};
use ring::hmac;
use tracing::Span;

use crate::acl::{Acl, Identity, Permission};
use crate::auth::v4::{parse_credential, ALGORITHM};
use crate::auth::PayloadCheck;
use crate::body::Body;
use crate::digest::from_hex;
use crate::error::S3Error;
use crate::form::Form;
use crate::json::Json;
use crate::objects::stored_headers;
use crate::ops::{
    bucket_for, check_key, commit, precheck_quota, write_blob, writer_id, Promised, Source,
};
use crate::payload::Payload;
use crate::rest::{empty_reply, xml_reply};
use crate::router::Route;
use crate::state::Walrus;
use crate::uri::aws_encode;
use crate::xml::S3Xml;

/// Longest value of one form field, and most fields.
const MAX_FIELD: usize = 64 << 10;
const MAX_FIELDS: usize = 100;
/// Room for the form's fields and framing besides the file.
const FORM_OVERHEAD: u64 = 8 << 20;
/// Fields that need not appear in the policy's conditions.
const UNCHECKED: [&str; 6] = [
    "awsaccesskeyid",
    "signature",
    "x-amz-signature",
    "policy",
    "file",
    "submit",
];
/// Form fields stored as object headers (as the PUT headers of the same names).
const HEADER_FIELDS: [&str; 6] = [
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "expires",
    "content-language",
];

/// The form's fields, names compared without case.
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub async fn post_object(
    walrus: &Arc<Walrus>,
    head: Parts,
    route: Route,
    body: Incoming,
) -> Result<Response<Body>, S3Error> {
    let content_type = head
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let limit = walrus.config().max_object_bytes + FORM_OVERHEAD;
    let payload = Payload::new(body, PayloadCheck::Unsigned, &head.headers, limit)?
        .with_min_rate(walrus.config().upload_min_rate);
    let mut form = Form::new(payload, content_type)?;
    let mut fields = Fields(Vec::new());
    let file = loop {
        let part = form.next_part().await?.ok_or_else(|| {
            S3Error::InvalidArgument("POST requires exactly one file upload per request.".into())
        })?;
        if part.filename.is_some() || part.name.eq_ignore_ascii_case("file") {
            break part;
        }
        if fields.0.len() == MAX_FIELDS {
            return Err(S3Error::MalformedPostRequest("too many form fields".into()));
        }
        let value = form.text(MAX_FIELD).await?;
        fields.0.push((part.name, value));
    };
    let who = authenticate(walrus, &fields)?;
    if let Identity::User(user) = &who {
        Span::current().record("user", user.arn().as_str());
    }
    let bucket = bucket_for(walrus, route.bucket(), &who, Permission::Write).await?;
    let length_range = match fields.get("policy") {
        Some(policy) => check_policy(policy, &fields, &bucket.name)?,
        None => None,
    };
    let key = fields
        .get("key")
        .ok_or_else(|| {
            S3Error::InvalidArgument("Bucket POST must contain a field named 'key'.".into())
        })?
        .replace("${filename}", file.filename.as_deref().unwrap_or_default());
    check_key(&key)?;
    let owner = writer_id(&who, &bucket);
    let acl = match fields.get("acl") {
        Some(name) => Acl::canned(name, &owner, &bucket.owner)?,
        None => Acl::private(&owner),
    };
    let headers = stored_headers(&field_headers(&fields)?)?;
    precheck_quota(walrus, &who, &bucket, None)?;
    let written = write_blob(
        walrus,
        &bucket.name,
        Source::Form(&mut form),
        Promised::default(),
    )
    .await?;
    // Fields after the file are ignored, as S3 does, but read: the connection stays usable.
    if let Err(e) = drain(&mut form).await {
        walrus.storage().discard([written.blob]);
        return Err(e);
    }
    if let Some((min, max)) = length_range {
        let error = if written.size < min {
            Some(S3Error::EntityTooSmall)
        } else if written.size > max {
            Some(S3Error::EntityTooLarge)
        } else {
            None
        };
        if let Some(error) = error {
            walrus.storage().discard([written.blob]);
            return Err(error);
        }
    }
    let object = written.into_object(bucket.name.clone(), key.clone(), owner, headers, acl);
    let etag = object.etag.clone();
    commit(walrus, &who, object).await?;
    // Where the object is, by the path the form was posted to.
    let host = head
        .headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let location = format!(
        "http://{host}{}/{}",
        head.uri.path().trim_end_matches('/'),
        aws_encode(key.as_bytes(), true)
    );
    reply(&fields, &bucket.name, &key, &etag, &location)
}

async fn drain(form: &mut Form) -> Result<(), S3Error> {
    while form.next_part().await?.is_some() {}
    Ok(())
}

/// Who signed the form: nobody (anonymous) without a signature; else the signer of a
/// SigV4 (`x-amz-signature`) or SigV2 (`signature`) signature over the policy.
fn authenticate(walrus: &Walrus, fields: &Fields) -> Result<Identity, S3Error> {
    let lookup = |access_key: &str| -> Result<users::User, S3Error> {
        walrus
            .users()
            .by_access_key(access_key)?
            .filter(|u| u.enabled)
            .ok_or(S3Error::InvalidAccessKeyId)
    };
    let policy = fields.get("policy");
    if let Some(signature) = fields.get("x-amz-signature") {
        let policy = policy
            .ok_or_else(|| S3Error::InvalidArgument("a signed form needs a policy".into()))?;
        if fields.get("x-amz-algorithm") != Some(ALGORITHM) {
            return Err(S3Error::InvalidArgument(
                "x-amz-algorithm must be AWS4-HMAC-SHA256".into(),
            ));
        }
        let credential = fields.get("x-amz-credential").ok_or_else(|| {
            S3Error::InvalidArgument("a SigV4 form needs x-amz-credential".into())
        })?;
        let (access_key, scope) = parse_credential(credential)
            .ok_or_else(|| S3Error::InvalidArgument("x-amz-credential is malformed".into()))?;
        let user = lookup(access_key)?;
        let claimed = from_hex(signature).ok_or(S3Error::SignatureDoesNotMatch)?;
        hmac::verify(
            &scope.signing_key(&user.secret_key),
            policy.as_bytes(),
            &claimed,
        )
        .map_err(|_| S3Error::SignatureDoesNotMatch)?;
        return Ok(Identity::User(Box::new(user)));
    }
    if let Some(signature) = fields.get("signature") {
        let policy = policy
            .ok_or_else(|| S3Error::InvalidArgument("a signed form needs a policy".into()))?;
        let access_key = fields
            .get("AWSAccessKeyId")
            .ok_or_else(|| S3Error::InvalidArgument("a signed form needs AWSAccessKeyId".into()))?;
        let user = lookup(access_key)?;
        let claimed = BASE64
            .decode(signature.trim())
            .map_err(|_| S3Error::SignatureDoesNotMatch)?;
        let key = hmac::Key::new(
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            user.secret_key.as_bytes(),
        );
        hmac::verify(&key, policy.as_bytes(), &claimed)
            .map_err(|_| S3Error::SignatureDoesNotMatch)?;
        return Ok(Identity::User(Box::new(user)));
    }
    if policy.is_some() {
        return Err(S3Error::InvalidArgument(
            "a form with a policy must be signed".into(),
        ));
    }
    Ok(Identity::Anonymous)
}

fn denied(why: impl Into<String>) -> S3Error {
    S3Error::PolicyDenied(why.into())
}

/// Checks the policy (base64 JSON) against the form: not expired, every condition met,
/// every field covered by a condition. Returns its `content-length-range`, checked once
/// the file's size is known.
fn check_policy(
    policy: &str,
    fields: &Fields,
    bucket: &str,
) -> Result<Option<(u64, u64)>, S3Error> {
    let bad = |why: &str| S3Error::InvalidPolicyDocument(why.to_owned());
    let text = BASE64
        .decode(policy.trim())
        .map_err(|_| bad("the policy is not base64"))?;
    let text = String::from_utf8(text).map_err(|_| bad("the policy is not UTF-8"))?;
    let doc = Json::parse(&text).map_err(|e| bad(&e.to_string()))?;
    let expiration = doc
        .get("expiration")
        .and_then(Json::as_str)
        .and_then(crate::time::parse_iso8601)
        .ok_or_else(|| bad("the policy needs a valid expiration"))?;
    if crate::time::now() > expiration {
        return Err(denied("Policy expired."));
    }
    let Some(Json::Array(conditions)) = doc.get("conditions") else {
        return Err(bad("the policy needs conditions"));
    };
    let value_of = |name: &str| -> Option<String> {
        if name.eq_ignore_ascii_case("bucket") {
            return Some(fields.get("bucket").unwrap_or(bucket).to_owned());
        }
        fields.get(name).map(str::to_owned)
    };
    let mut covered: Vec<String> = Vec::new();
    let mut length = None;
    for condition in conditions {
        match condition {
            Json::Object(members) => {
                for (name, expected) in members {
                    let expected = expected
                        .as_str()
                        .ok_or_else(|| bad("condition values must be strings"))?;
                    if value_of(name).as_deref() != Some(expected) {
                        return Err(denied(format!(
                            "Policy Condition failed: [\"eq\", \"${name}\", \"{expected}\"]"
                        )));
                    }
                    covered.push(name.to_ascii_lowercase());
                }
            }
            Json::Array(items) => {
                let op = items
                    .first()
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if op == "content-length-range" {
                    let (min, max) = (
                        items.get(1).and_then(Json::as_u64),
                        items.get(2).and_then(Json::as_u64),
                    );
                    length = Some((
                        min.ok_or_else(|| bad("bad content-length-range"))?,
                        max.ok_or_else(|| bad("bad content-length-range"))?,
                    ));
                    continue;
                }
                let name = items
                    .get(1)
                    .and_then(Json::as_str)
                    .and_then(|n| n.strip_prefix('$'))
                    .ok_or_else(|| bad("a condition must name a $field"))?;
                let expected = items
                    .get(2)
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad("a condition needs a value"))?;
                let actual = value_of(name).unwrap_or_default();
                let holds = match op.as_str() {
                    "eq" => actual == expected,
                    "starts-with" => actual.starts_with(expected),
                    _ => return Err(bad("unknown condition operator")),
                };
                if !holds {
                    return Err(denied(format!(
                        "Policy Condition failed: [\"{op}\", \"${name}\", \"{expected}\"]"
                    )));
                }
                covered.push(name.to_ascii_lowercase());
            }
            _ => return Err(bad("a condition must be an object or an array")),
        }
    }
    for (name, _) in &fields.0 {
        let name = name.to_ascii_lowercase();
        if !UNCHECKED.contains(&name.as_str())
            && !name.starts_with("x-ignore-")
            && !covered.contains(&name)
        {
            return Err(denied(format!("Extra input fields: {name}")));
        }
    }
    Ok(length)
}

/// The fields stored as object headers, as a header map.
fn field_headers(fields: &Fields) -> Result<HeaderMap, S3Error> {
    let mut headers = HeaderMap::new();
    for (name, value) in &fields.0 {
        let name = name.to_ascii_lowercase();
        if HEADER_FIELDS.contains(&name.as_str()) || name.starts_with("x-amz-meta-") {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| S3Error::InvalidArgument(format!("invalid field name {name}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| S3Error::InvalidArgument(format!("invalid value of {name}")))?;
            headers.append(header, value);
        }
    }
    Ok(headers)
}

/// As the form asks: a redirect, or 200, 201 (with a document) or 204.
fn reply(
    fields: &Fields,
    bucket: &str,
    key: &str,
    etag: &str,
    location: &str,
) -> Result<Response<Body>, S3Error> {
    let set = |response: &mut Response<Body>, name, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(name, value);
        }
    };
    let redirect = fields
        .get("success_action_redirect")
        .or_else(|| fields.get("redirect"));
    if let Some(url) = redirect.filter(|u| !u.is_empty()) {
        let separator = if url.contains('?') { '&' } else { '?' };
        let target = format!(
            "{url}{separator}bucket={}&key={}&etag={}",
            aws_encode(bucket.as_bytes(), false),
            aws_encode(key.as_bytes(), false),
            aws_encode(format!("\"{etag}\"").as_bytes(), false)
        );
        let mut response = empty_reply(StatusCode::SEE_OTHER);
        set(&mut response, LOCATION, &target);
        return Ok(response);
    }
    let mut response = match fields.get("success_action_status") {
        Some("200") => empty_reply(StatusCode::OK),
        Some("201") => {
            let mut doc = S3Xml::new("PostResponse");
            doc.field("Location", location);
            doc.field("Bucket", bucket);
            doc.field("Key", key);
            doc.field("ETag", &format!("\"{etag}\""));
            let mut response = xml_reply(doc.finish());
            *response.status_mut() = StatusCode::CREATED;
            response
        }
        _ => empty_reply(StatusCode::NO_CONTENT),
    };
    set(&mut response, ETAG, &format!("\"{etag}\""));
    set(&mut response, LOCATION, location);
    Ok(response)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn policy(conditions: &str, expiration: &str) -> String {
        BASE64.encode(format!(
            r#"{{"expiration": "{expiration}", "conditions": [{conditions}]}}"#
        ))
    }

    const LATER: &str = "2099-01-01T00:00:00.000Z";

    #[test]
    fn policies_must_cover_and_match_every_field() {
        let form = fields(&[
            ("key", "user/a.txt"),
            ("acl", "public-read"),
            ("x-ignore-me", "1"),
            ("AWSAccessKeyId", "k"),
        ]);
        let ok = policy(
            r#"{"bucket": "b"}, ["starts-with", "$key", "user/"], {"acl": "public-read"}, ["content-length-range", 1, "10"]"#,
            LATER,
        );
        assert_eq!(check_policy(&ok, &form, "b").unwrap(), Some((1, 10)));
        let wrong_bucket = policy(
            r#"{"bucket": "c"}, ["starts-with", "$key", ""], {"acl": "public-read"}"#,
            LATER,
        );
        assert!(matches!(
            check_policy(&wrong_bucket, &form, "b"),
            Err(S3Error::PolicyDenied(_))
        ));
        let uncovered = policy(r#"["starts-with", "$key", "user/"]"#, LATER);
        assert!(matches!(
            check_policy(&uncovered, &form, "b"),
            Err(S3Error::PolicyDenied(_))
        ));
        let expired = policy(
            r#"["starts-with", "$key", ""], {"acl": "public-read"}"#,
            "2001-01-01T00:00:00Z",
        );
        assert!(matches!(
            check_policy(&expired, &form, "b"),
            Err(S3Error::PolicyDenied(_))
        ));
        assert!(matches!(
            check_policy("!!", &form, "b"),
            Err(S3Error::InvalidPolicyDocument(_))
        ));
    }
}

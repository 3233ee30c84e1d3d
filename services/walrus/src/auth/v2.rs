//! S3's HMAC-SHA1 signature: `Authorization: AWS key:signature` or the presigned query
//! (`AWSAccessKeyId`, `Expires`, `Signature`).
//!
//! The string to sign is `VERB\nContent-MD5\nContent-Type\nDate\n` + the `x-amz-*` headers +
//! the canonical resource. Walrus 1.6 (and boto, euca2ools 1.x) put the whole request path in
//! the resource, `/services/Walrus` included; euca2ools 3 leaves that prefix out. Both are
//! accepted, as are sub-resource values raw (boto) or decoded (Amazon's documentation).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::hmac;

use super::{
    check_skew, first_header, header_values, query_param, raw_query_param, PayloadCheck,
    RequestHead, SecretLookup, Signed,
};
use crate::error::S3Error;
use crate::time::parse_http_date;
use crate::uri::{percent_decode, query_pairs, strip_service_path};

/// Query parameters that are part of the canonical resource, in sorted order.
const SUBRESOURCES: &[&str] = &[
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// `base64(HMAC-SHA1(secret, string_to_sign))`.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    BASE64.encode(hmac::sign(&key, string_to_sign.as_bytes()))
}

/// Verifies `Authorization: AWS <credentials>`, `credentials` being `key:signature`.
pub(super) fn verify_header<L: SecretLookup>(
    head: &RequestHead<'_>,
    credentials: &str,
    keys: &L,
    now: i64,
) -> Result<Signed<L::Principal>, S3Error> {
    let (access_key, signature) = credentials.trim().rsplit_once(':').ok_or_else(|| {
        S3Error::AuthorizationHeaderMalformed("expected AWS key:signature".into())
    })?;
    let amz_date = first_header(head.headers, "x-amz-date");
    let date = amz_date
        .or_else(|| first_header(head.headers, "date"))
        .ok_or(S3Error::AccessDenied)?;
    // S3 refuses dates before the epoch as it does unparseable ones.
    let signed_at = parse_http_date(date)
        .filter(|t| *t >= 0)
        .ok_or(S3Error::AccessDenied)?;
    check_skew(signed_at, now)?;
    // With x-amz-date the Date line is empty: the date is signed among the x-amz headers.
    let date_line = if amz_date.is_some() { "" } else { date };
    check(head, access_key, signature, date_line, keys)
}

/// Verifies a presigned URL: `AWSAccessKeyId`, `Expires` (seconds since the epoch) and
/// `Signature` in the query.
pub(super) fn verify_query<L: SecretLookup>(
    head: &RequestHead<'_>,
    keys: &L,
    now: i64,
) -> Result<Signed<L::Principal>, S3Error> {
    let missing = || {
        S3Error::InvalidArgument(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
                .into(),
        )
    };
    let access_key = query_param(head.query, "AWSAccessKeyId").ok_or_else(missing)?;
    let signature = query_param(head.query, "Signature").ok_or_else(missing)?;
    let expires = raw_query_param(head.query, "Expires").ok_or_else(missing)?;
    let expires_at: i64 = expires
        .parse()
        .map_err(|_| S3Error::InvalidArgument("Expires must be a number of seconds".into()))?;
    if now > expires_at {
        return Err(S3Error::RequestExpired);
    }
    check(head, &access_key, &signature, expires, keys)
}

fn check<L: SecretLookup>(
    head: &RequestHead<'_>,
    access_key: &str,
    signature: &str,
    date_line: &str,
    keys: &L,
) -> Result<Signed<L::Principal>, S3Error> {
    let claimed = BASE64
        .decode(signature.trim())
        .map_err(|_| S3Error::SignatureDoesNotMatch)?;
    let (principal, secret) = keys
        .lookup(access_key)?
        .ok_or(S3Error::InvalidAccessKeyId)?;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    let verified = strings_to_sign(head, date_line)
        .iter()
        .any(|text| hmac::verify(&key, text.as_bytes(), &claimed).is_ok());
    if !verified {
        return Err(S3Error::SignatureDoesNotMatch);
    }
    Ok(Signed {
        principal,
        payload: PayloadCheck::Unsigned,
    })
}

/// Every string the client may have signed for this request (see the module's notes).
pub fn strings_to_sign(head: &RequestHead<'_>, date_line: &str) -> Vec<String> {
    let mut prefix = String::new();
    prefix.push_str(head.method);
    prefix.push('\n');
    prefix.push_str(first_header(head.headers, "content-md5").unwrap_or(""));
    prefix.push('\n');
    prefix.push_str(first_header(head.headers, "content-type").unwrap_or(""));
    prefix.push('\n');
    prefix.push_str(date_line);
    prefix.push('\n');
    prefix.push_str(&amz_headers(head));
    let mut out: Vec<String> = Vec::new();
    for resource in canonical_resources(head) {
        let text = format!("{prefix}{resource}");
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

/// `name:value\n` for each `x-amz-*` header, sorted by name.
fn amz_headers(head: &RequestHead<'_>) -> String {
    let mut names: Vec<&str> = head
        .headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with("x-amz-"))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| header_values(head.headers, name).map(|v| format!("{name}:{v}\n")))
        .collect()
}

fn canonical_resources(head: &RequestHead<'_>) -> Vec<String> {
    let mut paths = Vec::new();
    match head.virtual_bucket {
        Some(bucket) => paths.push(format!("/{bucket}{}", head.path)),
        None => {
            paths.push(head.path.to_owned());
            if let Some(rest) = strip_service_path(head.path, head.service_prefix) {
                paths.push(if rest.is_empty() {
                    "/".to_owned()
                } else {
                    rest.to_owned()
                });
            }
        }
    }
    // A bucket is `/bucket/` in Amazon's canonical form; botocore signs it so even when it
    // sends `/bucket`.
    let buckets: Vec<String> = paths
        .iter()
        .filter(|p| p.len() > 1 && !p[1..].contains('/'))
        .map(|p| format!("{p}/"))
        .collect();
    paths.extend(buckets);
    let subresources = [
        subresources(head.query, false),
        subresources(head.query, true),
    ];
    let mut out = Vec::new();
    for path in &paths {
        for sub in &subresources {
            out.push(format!("{path}{sub}"));
        }
    }
    out
}

/// `?name&name=value...` of the sub-resources in the query, sorted; empty when none.
fn subresources(query: &str, decode: bool) -> String {
    let mut found: Vec<(&str, String)> = query_pairs(query)
        .filter(|p| SUBRESOURCES.contains(&p.raw_name))
        .map(|p| {
            let value = match p.raw_value {
                None => String::new(),
                Some(raw) if decode => {
                    let decoded = String::from_utf8_lossy(&percent_decode(raw, true)).into_owned();
                    if decoded.is_empty() {
                        decoded
                    } else {
                        format!("={decoded}")
                    }
                }
                Some(raw) => format!("={raw}"),
            };
            (p.raw_name, value)
        })
        .collect();
    if found.is_empty() {
        return String::new();
    }
    found.sort_by(|a, b| a.0.cmp(b.0));
    let joined: Vec<String> = found.into_iter().map(|(n, v)| format!("{n}{v}")).collect();
    format!("?{}", joined.join("&"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use hyper::HeaderMap;

    use crate::auth::test_support::{head, headers, keys, SECRET};
    use crate::auth::verify;

    const DATE: &str = "Tue, 24 Nov 2026 23:34:31 GMT";

    fn signed(text: &str) -> HeaderMap {
        let sig = sign(SECRET, text);
        headers(&[
            ("date", DATE),
            ("authorization", &format!("AWS AKIAIOSFODNN7EXAMPLE:{sig}")),
        ])
    }

    fn now() -> i64 {
        parse_http_date(DATE).unwrap()
    }

    #[test]
    fn amazons_documented_get_verifies() {
        // Amazon's example "Object GET" (johnsmith/photos/puppy.jpg), date as signed.
        let text = "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg";
        assert_eq!(sign(SECRET, text), "bWq2s1WEIj+Ydj0vQ697zp+IXMU=");
    }

    #[test]
    fn signatures_over_the_path_with_or_without_the_service_prefix_verify() {
        for signed_path in ["/services/Walrus/b/k", "/b/k"] {
            let h = signed(&format!("GET\n\n\n{DATE}\n{signed_path}"));
            assert!(verify(
                &head("GET", "/services/Walrus/b/k", "", &h),
                &keys,
                now(),
                "s3"
            )
            .is_ok());
        }
        // A request sent without the prefix cannot be verified as if it had it.
        let h = signed(&format!("GET\n\n\n{DATE}\n/services/Walrus/b/k"));
        assert!(matches!(
            verify(&head("GET", "/b/k", "", &h), &keys, now(), "s3"),
            Err(S3Error::SignatureDoesNotMatch)
        ));
    }

    #[test]
    fn amz_headers_subresources_and_x_amz_date_are_signed() {
        let text = format!(
            "PUT\nmd5==\ntext/plain\n\nx-amz-acl:public-read\nx-amz-date:{DATE}\nx-amz-meta-a:1,2\n/b/k?partNumber=2&uploadId=u%2B1"
        );
        let sig = sign(SECRET, &text);
        let h = headers(&[
            ("content-md5", "md5=="),
            ("content-type", "text/plain"),
            ("x-amz-date", DATE),
            ("date", "ignored"),
            ("x-amz-acl", "public-read"),
            ("x-amz-meta-a", "1"),
            ("x-amz-meta-a", " 2 "),
            ("authorization", &format!("AWS AKIAIOSFODNN7EXAMPLE:{sig}")),
        ]);
        let request = head("PUT", "/b/k", "uploadId=u%2B1&partNumber=2&other=x", &h);
        assert!(verify(&request, &keys, now(), "s3").is_ok());
        let changed = head("PUT", "/b/k", "uploadId=u%2B2&partNumber=2", &h);
        assert!(verify(&changed, &keys, now(), "s3").is_err());
    }

    #[test]
    fn buckets_signed_with_a_trailing_slash_verify() {
        // Regression guard: botocore signs `/bucket/` for a request it sends to `/bucket`.
        let h = signed(&format!("PUT\n\n\n{DATE}\n/bucket/"));
        assert!(verify(
            &head("PUT", "/services/Walrus/bucket", "", &h),
            &keys,
            now(),
            "s3"
        )
        .is_ok());
    }

    #[test]
    fn virtual_host_requests_sign_the_bucket_in_the_resource() {
        let h = signed(&format!("GET\n\n\n{DATE}\n/bucket/key?acl"));
        let mut request = head("GET", "/key", "acl", &h);
        request.virtual_bucket = Some("bucket");
        assert!(verify(&request, &keys, now(), "s3").is_ok());
    }

    #[test]
    fn stale_unknown_and_malformed_requests_are_refused() {
        let text = format!("GET\n\n\n{DATE}\n/b/k");
        let h = signed(&text);
        assert!(matches!(
            verify(&head("GET", "/b/k", "", &h), &keys, now() + 16 * 60, "s3"),
            Err(S3Error::RequestTimeTooSkewed { .. })
        ));
        let sig = sign(SECRET, &text);
        let h = headers(&[
            ("date", DATE),
            ("authorization", &format!("AWS NOBODY:{sig}")),
        ]);
        assert!(matches!(
            verify(&head("GET", "/b/k", "", &h), &keys, now(), "s3"),
            Err(S3Error::InvalidAccessKeyId)
        ));
        let h = headers(&[("date", DATE), ("authorization", "AWS nocolon")]);
        assert!(matches!(
            verify(&head("GET", "/b/k", "", &h), &keys, now(), "s3"),
            Err(S3Error::AuthorizationHeaderMalformed(_))
        ));
        let h = headers(&[("authorization", &format!("AWS AKIAIOSFODNN7EXAMPLE:{sig}"))]);
        assert!(matches!(
            verify(&head("GET", "/b/k", "", &h), &keys, now(), "s3"),
            Err(S3Error::AccessDenied)
        ));
    }

    #[test]
    fn presigned_urls_verify_until_they_expire() {
        let expires = 1_800_000_000;
        let sig = sign(
            SECRET,
            &format!("GET\n\n\n{expires}\n/services/Walrus/b/k%3D1"),
        );
        let encoded = crate::uri::aws_encode(sig.as_bytes(), false);
        let query =
            format!("AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires={expires}&Signature={encoded}");
        let h = HeaderMap::new();
        let request = head("GET", "/services/Walrus/b/k%3D1", &query, &h);
        assert!(verify(&request, &keys, expires - 10, "s3").is_ok());
        assert!(matches!(
            verify(&request, &keys, expires + 1, "s3"),
            Err(S3Error::RequestExpired)
        ));
        let tampered = query.replace("Expires=18", "Expires=19");
        let request = head("GET", "/services/Walrus/b/k%3D1", &tampered, &h);
        assert!(verify(&request, &keys, expires - 10, "s3").is_err());
    }
}

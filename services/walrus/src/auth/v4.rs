//! AWS Signature Version 4: the `Authorization: AWS4-HMAC-SHA256 ...` header, presigned
//! `X-Amz-*` queries, and signing of the requests Walrus itself sends to a remote store.
//!
//! Any region is accepted (clients send arbitrary ones, euca2ools 3 `undefined-NNNN`): the
//! signing key is derived from the scope the client names. The canonical URI is tried in
//! two forms, normalized (decoded, then encoded as SigV4 says) and as sent; the canonical
//! query likewise with `+` read as a space or as a plus.

use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;
use ring::hmac;

use super::{
    check_skew, first_header, header_values, raw_query_param, ChunkSigner, PayloadCheck,
    RequestHead, SecretLookup, Signed,
};
use crate::digest::{from_hex, hex, sha256_hex};
use crate::error::S3Error;
use crate::time::{amz_date, parse_amz_date, parse_http_date};
use crate::uri::{aws_encode, percent_decode, query_pairs};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// Longest validity of a presigned URL (seven days).
const MAX_EXPIRES_SECS: i64 = 7 * 24 * 3600;

/// `date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub date: String,
    pub region: String,
    pub service: String,
}

impl Scope {
    pub fn text(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }

    /// The key that signs everything within this scope.
    pub fn signing_key(&self, secret: &str) -> hmac::Key {
        let step = |key: &[u8], data: &str| {
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
        };
        let k_date = step(format!("AWS4{secret}").as_bytes(), &self.date);
        let k_region = step(k_date.as_ref(), &self.region);
        let k_service = step(k_region.as_ref(), &self.service);
        let k_signing = step(k_service.as_ref(), "aws4_request");
        hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
    }
}

/// The parsed `key/date/region/service/aws4_request` of a credential.
pub fn parse_credential(text: &str) -> Option<(&str, Scope)> {
    let mut parts = text.rsplitn(5, '/');
    let terminator = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let date = parts.next()?;
    let access_key = parts.next()?;
    (terminator == "aws4_request" && date.len() == 8 && !access_key.is_empty()).then(|| {
        (
            access_key,
            Scope {
                date: date.to_owned(),
                region: region.to_owned(),
                service: service.to_owned(),
            },
        )
    })
}

/// `METHOD\nURI\nQUERY\nHEADERS\n\nSIGNED\nPAYLOAD`.
pub fn canonical_request(
    method: &str,
    uri: &str,
    query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    payload: &str,
) -> String {
    format!("{method}\n{uri}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload}")
}

pub fn string_to_sign(amz_date: &str, scope: &Scope, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{}\n{}",
        scope.text(),
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The canonical URIs a client may have signed for `path`.
pub fn canonical_uris(path: &str) -> Vec<String> {
    let normalized = aws_encode(&percent_decode(path, false), true);
    if normalized == path {
        vec![normalized]
    } else {
        vec![normalized, path.to_owned()]
    }
}

/// The canonical query strings a client may have signed, `X-Amz-Signature` left out.
pub fn canonical_queries(query: &str) -> Vec<String> {
    let build = |plus_as_space: bool| {
        let mut pairs: Vec<(String, String)> = query_pairs(query)
            .filter(|p| p.raw_name != "X-Amz-Signature")
            .map(|p| {
                let encode = |raw: &str| aws_encode(&percent_decode(raw, plus_as_space), false);
                (encode(p.raw_name), encode(p.raw_value.unwrap_or("")))
            })
            .collect();
        pairs.sort();
        let joined: Vec<String> = pairs.into_iter().map(|(n, v)| format!("{n}={v}")).collect();
        joined.join("&")
    };
    let spaces = build(true);
    if query.contains('+') {
        vec![spaces, build(false)]
    } else {
        vec![spaces]
    }
}

/// `name:value\n` for each signed header, values trimmed with inner runs of spaces
/// collapsed. A signed header the request lacks makes the signature fail.
pub fn canonical_headers(headers: &HeaderMap, signed: &[&str]) -> Option<String> {
    let mut out = String::new();
    for name in signed {
        let value = header_values(headers, name)?;
        out.push_str(name);
        out.push(':');
        let mut last_space = false;
        for c in value.chars() {
            if c == ' ' || c == '\t' {
                if !last_space {
                    out.push(' ');
                }
                last_space = true;
            } else {
                out.push(c);
                last_space = false;
            }
        }
        out.push('\n');
    }
    Some(out)
}

/// What verification needs from either form (header or query).
struct Claim<'a> {
    access_key: &'a str,
    scope: Scope,
    signed_headers: &'a str,
    signature: &'a str,
    amz_date: String,
    payload: String,
}

/// Verifies the header form; `rest` is what follows the algorithm name.
pub(super) fn verify_header<L: SecretLookup>(
    head: &RequestHead<'_>,
    rest: &str,
    keys: &L,
    now: i64,
    service: &str,
) -> Result<Signed<L::Principal>, S3Error> {
    let malformed = |what: &str| S3Error::AuthorizationHeaderMalformed(what.to_owned());
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in rest.split(',') {
        let field = field.trim();
        if let Some(v) = field.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = field.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = field.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| malformed("no Credential"))?;
    let (access_key, scope) =
        parse_credential(credential).ok_or_else(|| malformed("bad Credential"))?;
    // x-amz-date, or a Date header (which then must be signed).
    let (amz_date, signed_at) = match first_header(head.headers, "x-amz-date") {
        Some(text) => (
            text.to_owned(),
            parse_amz_date(text).ok_or(S3Error::AccessDenied)?,
        ),
        None => {
            let date = first_header(head.headers, "date").ok_or(S3Error::AccessDenied)?;
            let t = parse_http_date(date).ok_or(S3Error::AccessDenied)?;
            (amz_date(t), t)
        }
    };
    check_skew(signed_at, now)?;
    let payload = first_header(head.headers, "x-amz-content-sha256")
        .ok_or_else(|| {
            S3Error::InvalidRequest(
                "Missing required header for this request: x-amz-content-sha256".into(),
            )
        })?
        .to_owned();
    let claim = Claim {
        access_key,
        scope,
        signed_headers: signed_headers.ok_or_else(|| malformed("no SignedHeaders"))?,
        signature: signature.ok_or_else(|| malformed("no Signature"))?,
        amz_date,
        payload,
    };
    check(head, &claim, keys, service)
}

/// Verifies a presigned URL (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
/// `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`).
pub(super) fn verify_query<L: SecretLookup>(
    head: &RequestHead<'_>,
    keys: &L,
    now: i64,
    service: &str,
) -> Result<Signed<L::Principal>, S3Error> {
    let bad = |what: &str| S3Error::AuthorizationQueryParametersError(what.to_owned());
    let param = |name: &str| raw_query_param(head.query, name);
    let decoded = |name: &str| {
        param(name)
            .map(|raw| String::from_utf8(percent_decode(raw, true)))
            .transpose()
            .map_err(|_| bad(&format!("bad {name}")))?
            .ok_or_else(|| bad(&format!("no {name}")))
    };
    if param("X-Amz-Algorithm") != Some(ALGORITHM) {
        return Err(bad("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
    }
    // The credential's slashes arrive encoded.
    let credential = decoded("X-Amz-Credential")?;
    let date = param("X-Amz-Date").ok_or_else(|| bad("no X-Amz-Date"))?;
    let signed_at = parse_amz_date(date).ok_or_else(|| bad("bad X-Amz-Date"))?;
    let expires: i64 = param("X-Amz-Expires")
        .and_then(|e| e.parse().ok())
        .ok_or_else(|| bad("X-Amz-Expires must be a number of seconds"))?;
    if !(1..=MAX_EXPIRES_SECS).contains(&expires) {
        return Err(bad(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds",
        ));
    }
    if signed_at - now > super::MAX_SKEW_SECS {
        return Err(S3Error::AccessDenied);
    }
    if now > signed_at + expires {
        return Err(S3Error::RequestExpired);
    }
    let (access_key, scope) =
        parse_credential(&credential).ok_or_else(|| bad("bad X-Amz-Credential"))?;
    let signed_headers = decoded("X-Amz-SignedHeaders")?;
    let payload = first_header(head.headers, "x-amz-content-sha256").unwrap_or(UNSIGNED_PAYLOAD);
    let claim = Claim {
        access_key,
        scope,
        signed_headers: &signed_headers,
        signature: param("X-Amz-Signature").ok_or_else(|| bad("no X-Amz-Signature"))?,
        amz_date: date.to_owned(),
        payload: payload.to_owned(),
    };
    check(head, &claim, keys, service)
}

fn check<L: SecretLookup>(
    head: &RequestHead<'_>,
    claim: &Claim<'_>,
    keys: &L,
    service: &str,
) -> Result<Signed<L::Principal>, S3Error> {
    if claim.scope.service != service || !claim.amz_date.starts_with(&claim.scope.date) {
        return Err(S3Error::SignatureDoesNotMatch);
    }
    let signed: Vec<&str> = claim.signed_headers.split(';').collect();
    if !signed.contains(&"host") {
        return Err(S3Error::AuthorizationHeaderMalformed(
            "the host header must be signed".into(),
        ));
    }
    let kind = payload_kind(&claim.payload)?;
    let claimed = from_hex(claim.signature).ok_or(S3Error::SignatureDoesNotMatch)?;
    let headers = canonical_headers(head.headers, &signed).ok_or(S3Error::SignatureDoesNotMatch)?;
    let (principal, secret) = keys
        .lookup(claim.access_key)?
        .ok_or(S3Error::InvalidAccessKeyId)?;
    let key = claim.scope.signing_key(&secret);
    let queries = canonical_queries(head.query);
    let verified = canonical_uris(head.path).iter().any(|uri| {
        queries.iter().any(|query| {
            let request = canonical_request(
                head.method,
                uri,
                query,
                &headers,
                claim.signed_headers,
                &claim.payload,
            );
            let text = string_to_sign(&claim.amz_date, &claim.scope, &request);
            hmac::verify(&key, text.as_bytes(), &claimed).is_ok()
        })
    });
    if !verified {
        return Err(S3Error::SignatureDoesNotMatch);
    }
    let payload = match kind {
        PayloadKind::Unsigned => PayloadCheck::Unsigned,
        PayloadKind::Sha256(digest) => PayloadCheck::Sha256(digest),
        PayloadKind::Streaming { signed, trailer } => PayloadCheck::Chunked {
            signer: signed.then(|| {
                Box::new(ChunkSigner::new(
                    key,
                    &claim.amz_date,
                    &claim.scope,
                    claim.signature,
                ))
            }),
            trailer,
        },
    };
    Ok(Signed { principal, payload })
}

enum PayloadKind {
    Unsigned,
    Sha256([u8; 32]),
    Streaming { signed: bool, trailer: bool },
}

fn payload_kind(value: &str) -> Result<PayloadKind, S3Error> {
    Ok(match value {
        UNSIGNED_PAYLOAD => PayloadKind::Unsigned,
        STREAMING_PAYLOAD => PayloadKind::Streaming {
            signed: true,
            trailer: false,
        },
        STREAMING_PAYLOAD_TRAILER => PayloadKind::Streaming {
            signed: true,
            trailer: true,
        },
        STREAMING_UNSIGNED_TRAILER => PayloadKind::Streaming {
            signed: false,
            trailer: true,
        },
        hash => {
            let digest = from_hex(hash)
                .and_then(|d| <[u8; 32]>::try_from(d).ok())
                .ok_or_else(|| {
                    S3Error::InvalidArgument(
                        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value."
                            .into(),
                    )
                })?;
            PayloadKind::Sha256(digest)
        }
    })
}

/// Credentials and place for signing outgoing requests.
#[derive(Debug, Clone)]
pub struct SigningParams<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    /// Seconds since the epoch.
    pub now: i64,
}

/// Signs an outgoing request: adds `x-amz-date`, `x-amz-content-sha256` and
/// `authorization`, signing every header in `headers` (which must hold `host`). `path` and
/// `query` must already be in canonical form (SigV4-encoded, query sorted).
pub fn sign_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &mut HeaderMap,
    payload: &str,
    params: &SigningParams<'_>,
) -> Result<(), hyper::header::InvalidHeaderValue> {
    let date = amz_date(params.now);
    headers.insert(
        HeaderName::from_static("x-amz-date"),
        HeaderValue::from_str(&date)?,
    );
    headers.insert(
        HeaderName::from_static("x-amz-content-sha256"),
        HeaderValue::from_str(payload)?,
    );
    let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let signed = names.join(";");
    let canonical = canonical_headers(headers, &names).unwrap_or_default();
    let scope = Scope {
        date: date.get(..8).unwrap_or_default().to_owned(),
        region: params.region.to_owned(),
        service: params.service.to_owned(),
    };
    let request = canonical_request(method, path, query, &canonical, &signed, payload);
    let text = string_to_sign(&date, &scope, &request);
    let signature =
        hex(hmac::sign(&scope.signing_key(params.secret_key), text.as_bytes()).as_ref());
    let value = format!(
        "{ALGORITHM} Credential={}/{},SignedHeaders={signed},Signature={signature}",
        params.access_key,
        scope.text()
    );
    headers.insert(hyper::header::AUTHORIZATION, HeaderValue::from_str(&value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::auth::test_support::{head, headers, keys, ACCESS, SECRET};
    use crate::auth::verify;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const WHEN: &str = "20261124T233435Z";

    fn at(date: &str) -> i64 {
        parse_amz_date(date).unwrap()
    }

    #[test]
    fn amazons_documented_get_object_verifies() {
        // Amazon's SigV4 example "GET Object" with a Range header.
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY),
            ("x-amz-date", "20130524T000000Z"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        ]);
        let now = at("20130524T000000Z");
        let signed = verify(&head("GET", "/test.txt", "", &h), &keys, now, "s3")
            .unwrap()
            .unwrap();
        assert!(matches!(signed.payload, PayloadCheck::Sha256(_)));
        let mut wrong_range = h.clone();
        wrong_range.insert("range", HeaderValue::from_static("bytes=0-10"));
        assert!(matches!(
            verify(
                &head("GET", "/test.txt", "", &wrong_range),
                &keys,
                now,
                "s3"
            ),
            Err(S3Error::SignatureDoesNotMatch)
        ));
    }

    #[test]
    fn amazons_documented_presigned_url_verifies() {
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
        let request = head("GET", "/test.txt", query, &h);
        let start = at("20130524T000000Z");
        let signed = verify(&request, &keys, start + 3600, "s3")
            .unwrap()
            .unwrap();
        assert!(matches!(signed.payload, PayloadCheck::Unsigned));
        assert!(matches!(
            verify(&request, &keys, start + 86_401, "s3"),
            Err(S3Error::RequestExpired)
        ));
    }

    #[test]
    fn amazons_documented_streaming_put_yields_a_chunk_signer() {
        let h = headers(&[
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", STREAMING_PAYLOAD),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("content-length", "66824"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
        ]);
        let request = head("PUT", "/examplebucket/chunkObject.txt", "", &h);
        let signed = verify(&request, &keys, at("20130524T000000Z"), "s3")
            .unwrap()
            .unwrap();
        assert!(matches!(
            signed.payload,
            PayloadCheck::Chunked {
                signer: Some(_),
                trailer: false
            }
        ));
    }

    /// Headers of a request signed like a client that signs `path` and `query` as given.
    fn client_request(path_signed: &str, query_signed: &str) -> HeaderMap {
        let mut h = headers(&[
            ("host", "127.0.0.1:8773"),
            ("x-amz-content-sha256", EMPTY),
            ("x-amz-date", WHEN),
        ]);
        let scope = Scope {
            date: "20261124".into(),
            region: "undefined-1".into(),
            service: "s3".into(),
        };
        let names = ["host", "x-amz-content-sha256", "x-amz-date"];
        let canonical = canonical_headers(&h, &names).unwrap();
        let request = canonical_request(
            "GET",
            path_signed,
            query_signed,
            &canonical,
            &names.join(";"),
            EMPTY,
        );
        let text = string_to_sign(WHEN, &scope, &request);
        let sig = hex(hmac::sign(&scope.signing_key(SECRET), text.as_bytes()).as_ref());
        let value = format!(
            "{ALGORITHM} Credential={ACCESS}/{},SignedHeaders={},Signature={sig}",
            scope.text(),
            names.join(";")
        );
        h.insert("authorization", HeaderValue::from_str(&value).unwrap());
        h
    }

    /// Whether a request sent as (`path_sent`, `query_sent`) verifies when the client
    /// signed (`path_signed`, `query_signed`).
    fn verifies(path_sent: &str, path_signed: &str, query_sent: &str, query_signed: &str) -> bool {
        let h = client_request(path_signed, query_signed);
        verify(
            &head("GET", path_sent, query_sent, &h),
            &keys,
            at(WHEN),
            "s3",
        )
        .is_ok()
    }

    #[test]
    fn encoded_colon_and_slash_in_the_query() {
        // Regression guard: `%3A%2F` must stay encoded in the canonical query.
        assert!(verifies("/b", "/b", "prefix=a%3A%2Fb", "prefix=a%3A%2Fb"));
        assert!(verifies("/b", "/b", "prefix=a:/b", "prefix=a%3A%2Fb"));
        assert!(!verifies("/b", "/b", "prefix=a%3A%2Fb", "prefix=a:/b"));
    }

    #[test]
    fn equals_sign_in_keys() {
        assert!(verifies("/b/k%3Dv", "/b/k%3Dv", "", ""));
        assert!(verifies("/b/k=v", "/b/k%3Dv", "", ""));
        assert!(verifies("/b/k=v", "/b/k=v", "", ""));
        assert!(verifies(
            "/b",
            "/b",
            "prefix=k%3Dv&marker=",
            "marker=&prefix=k%3Dv"
        ));
    }

    #[test]
    fn spaces_in_keys() {
        assert!(verifies("/b/a%20b", "/b/a%20b", "", ""));
        assert!(verifies("/b", "/b", "prefix=a+b", "prefix=a%20b"));
        assert!(verifies("/b", "/b", "prefix=a%20b", "prefix=a%20b"));
    }

    #[test]
    fn plus_signs_in_keys() {
        // A plus in a path is a plus; in a query it is a space unless encoded.
        assert!(verifies("/b/a%2Bb", "/b/a%2Bb", "", ""));
        assert!(verifies("/b/a+b", "/b/a%2Bb", "", ""));
        assert!(verifies("/b", "/b", "prefix=a%2Bb", "prefix=a%2Bb"));
        assert!(verifies("/b", "/b", "prefix=a+b", "prefix=a%2Bb"));
        assert!(!verifies("/b/a+b", "/b/a%20b", "", ""));
    }

    #[test]
    fn outgoing_requests_verify_with_our_own_verifier() {
        let mut h = headers(&[("host", "remote:9000"), ("content-type", "text/plain")]);
        let params = SigningParams {
            access_key: ACCESS,
            secret_key: SECRET,
            region: "us-east-1",
            service: "s3",
            now: at(WHEN),
        };
        sign_request(
            "PUT",
            "/bucket/obj%20x",
            "partNumber=1&uploadId=x",
            &mut h,
            EMPTY,
            &params,
        )
        .unwrap();
        let request = head("PUT", "/bucket/obj%20x", "uploadId=x&partNumber=1", &h);
        assert!(verify(&request, &keys, params.now, "s3").is_ok());
        assert!(verify(&request, &keys, params.now, "ec2").is_err());
    }

    #[test]
    fn missing_payload_hash_and_wrong_scope_date_are_refused() {
        let mut h = client_request("/b", "");
        h.remove("x-amz-content-sha256");
        assert!(matches!(
            verify(&head("GET", "/b", "", &h), &keys, at(WHEN), "s3"),
            Err(S3Error::InvalidRequest(_))
        ));
        let mut h = client_request("/b", "");
        h.insert("x-amz-date", HeaderValue::from_static("20261125T000000Z"));
        assert!(verify(
            &head("GET", "/b", "", &h),
            &keys,
            at("20261125T000000Z"),
            "s3"
        )
        .is_err());
    }
}

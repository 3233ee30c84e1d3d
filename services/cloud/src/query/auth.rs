//! The signatures of Query requests (EC2's and IAM's): Signature Version 2 (HmacSHA1 or
//! HmacSHA256 over `VERB\nhost\npath\nsorted parameters`) and Version 4 (`Authorization:
//! AWS4-HMAC-SHA256`, one of the API's service names (`ec2`, `iam`), any region: the key is
//! derived from the scope the client names, since euca2ools signs `undefined-<pid>` when no
//! region is configured).
//!
//! A claim is read from the request first (without any secret), so that the caller can look
//! its access key up in the store, then checked against the secret.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::hmac;
use walrus::auth::v4::{self, Scope};
use walrus::digest::sha256_hex;
use walrus::uri::aws_encode;

use super::QueryRequest;
use crate::error::Ec2Error;
use crate::params::Params;

/// How far a request's time may be from ours, either way (EC2's 15 minutes).
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// What a request claims about its signer, before the secret is known.
#[derive(Debug)]
pub enum Claim {
    V2 {
        access_key: String,
        algorithm: hmac::Algorithm,
        signature: Vec<u8>,
    },
    V4 {
        access_key: String,
        scope: Scope,
        amz_date: String,
        signed_headers: String,
        signature: String,
    },
}

impl Claim {
    /// Reads the claim of `request` and checks its time against `now`.
    pub fn read(request: &QueryRequest<'_>, now: i64) -> Result<Self, Ec2Error> {
        match request.headers.get(hyper::header::AUTHORIZATION) {
            Some(value) => {
                let value = value.to_str().map_err(|_| {
                    Ec2Error::AuthFailure("The Authorization header is not ASCII".into())
                })?;
                let rest = value.strip_prefix(v4::ALGORITHM).ok_or_else(|| {
                    Ec2Error::AuthFailure(format!(
                        "Unsupported Authorization header; use {}",
                        v4::ALGORITHM
                    ))
                })?;
                Self::read_v4(request, rest, now)
            }
            None => Self::read_v2(&request.params, now),
        }
    }

    fn read_v2(params: &Params, now: i64) -> Result<Self, Ec2Error> {
        let required = |name: &str| {
            params
                .get(name)
                .ok_or_else(|| Ec2Error::MissingParameter(name.to_owned()))
        };
        let signature = required("Signature")?;
        let access_key = required("AWSAccessKeyId")?;
        match params.get("SignatureVersion") {
            Some("2") => {}
            other => {
                return Err(Ec2Error::AuthFailure(format!(
                    "SignatureVersion {} is not supported; use 2 or Signature Version 4",
                    other.unwrap_or("(none)")
                )))
            }
        }
        let algorithm = match params.get("SignatureMethod") {
            Some("HmacSHA256") => hmac::HMAC_SHA256,
            Some("HmacSHA1") => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            other => {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "SignatureMethod {} is not supported; use HmacSHA256 or HmacSHA1",
                    other.unwrap_or("(none)")
                )))
            }
        };
        match (params.get("Timestamp"), params.get("Expires")) {
            (Some(stamp), _) => {
                let at = parse_time(stamp, "Timestamp")?;
                check_skew(at, now)?;
            }
            (None, Some(expires)) => {
                if now > parse_time(expires, "Expires")? {
                    return Err(Ec2Error::RequestExpired(format!(
                        "Expires {expires} has passed"
                    )));
                }
            }
            (None, None) => return Err(Ec2Error::MissingParameter("Timestamp".into())),
        }
        Ok(Self::V2 {
            access_key: access_key.to_owned(),
            algorithm,
            signature: BASE64
                .decode(signature.trim())
                .map_err(|_| Ec2Error::SignatureDoesNotMatch)?,
        })
    }

    fn read_v4(request: &QueryRequest<'_>, rest: &str, now: i64) -> Result<Self, Ec2Error> {
        let malformed =
            |what: &str| Ec2Error::AuthFailure(format!("Malformed Authorization header: {what}"));
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for part in rest.split(',') {
            match part.trim().split_once('=') {
                Some(("Credential", v)) => credential = Some(v),
                Some(("SignedHeaders", v)) => signed_headers = Some(v),
                Some(("Signature", v)) => signature = Some(v),
                _ => {}
            }
        }
        let credential = credential.ok_or_else(|| malformed("no Credential"))?;
        let (access_key, scope) =
            v4::parse_credential(credential).ok_or_else(|| malformed("bad Credential"))?;
        let names = request.service.signing_names;
        if !names.contains(&scope.service.as_str()) {
            return Err(Ec2Error::AuthFailure(format!(
                "Credential should be scoped to service '{}', not '{}'",
                names.join("' or '"),
                scope.service
            )));
        }
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let amz_date = header("x-amz-date").ok_or_else(|| malformed("no X-Amz-Date header"))?;
        let at = kit::time::parse_amz_date(amz_date).ok_or_else(|| {
            Ec2Error::InvalidParameterValue(format!("Invalid X-Amz-Date {amz_date}"))
        })?;
        check_skew(at, now)?;
        if !amz_date.starts_with(&scope.date) {
            return Err(Ec2Error::SignatureDoesNotMatch);
        }
        Ok(Self::V4 {
            access_key: access_key.to_owned(),
            scope,
            amz_date: amz_date.to_owned(),
            signed_headers: signed_headers
                .ok_or_else(|| malformed("no SignedHeaders"))?
                .to_owned(),
            signature: signature
                .ok_or_else(|| malformed("no Signature"))?
                .to_owned(),
        })
    }

    pub fn access_key(&self) -> &str {
        match self {
            Self::V2 { access_key, .. } | Self::V4 { access_key, .. } => access_key,
        }
    }

    /// Checks the signature with the claimed key's `secret`.
    pub fn verify(&self, request: &QueryRequest<'_>, secret: &str) -> Result<(), Ec2Error> {
        let verified = match self {
            Self::V2 {
                algorithm,
                signature,
                ..
            } => {
                let key = hmac::Key::new(*algorithm, secret.as_bytes());
                v2_strings_to_sign(request)
                    .iter()
                    .any(|text| hmac::verify(&key, text.as_bytes(), signature).is_ok())
            }
            Self::V4 {
                scope,
                amz_date,
                signed_headers,
                signature,
                ..
            } => {
                let names: Vec<&str> = signed_headers.split(';').collect();
                let key = scope.signing_key(secret);
                let Some(headers) = v4::canonical_headers(request.headers, &names) else {
                    return Err(Ec2Error::SignatureDoesNotMatch);
                };
                // The body is covered by its hash, computed here whatever the client claims.
                let payload = sha256_hex(request.body);
                let claimed = walrus::digest::from_hex(signature).unwrap_or_default();
                v4::canonical_uris(request.path).iter().any(|uri| {
                    v4::canonical_queries(request.query).iter().any(|query| {
                        let canonical = v4::canonical_request(
                            request.method,
                            uri,
                            query,
                            &headers,
                            signed_headers,
                            &payload,
                        );
                        let text = v4::string_to_sign(amz_date, scope, &canonical);
                        hmac::verify(&key, text.as_bytes(), &claimed).is_ok()
                    })
                })
            }
        };
        if verified {
            Ok(())
        } else {
            Err(Ec2Error::SignatureDoesNotMatch)
        }
    }
}

/// SigV2's canonical query: each name and value percent-encoded, sorted, joined by `&`.
fn v2_canonical_query<'a>(params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(String, String)> = params
        .map(|(name, value)| {
            (
                aws_encode(name.as_bytes(), false),
                aws_encode(value.as_bytes(), false),
            )
        })
        .collect();
    pairs.sort();
    let query: Vec<String> = pairs.into_iter().map(|(n, v)| format!("{n}={v}")).collect();
    query.join("&")
}

/// A client's SigV2 (HmacSHA256) of `params` (the signing parameters among them, as
/// `AWSAccessKeyId`, `SignatureVersion`, `SignatureMethod`, `Timestamp`) sent with `method` to
/// `host` (`HOST:PORT`) and `path`: the canonical query with its `Signature` appended, as a
/// query string or a form body.
pub fn sign_v2(
    method: &str,
    host: &str,
    path: &str,
    params: &[(&str, &str)],
    secret: &str,
) -> String {
    let query = v2_canonical_query(params.iter().copied());
    let text = format!("{method}\n{}\n{path}\n{query}", host.to_ascii_lowercase());
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signature = BASE64.encode(hmac::sign(&key, text.as_bytes()));
    format!(
        "{query}&Signature={}",
        aws_encode(signature.as_bytes(), false)
    )
}

/// SigV2's strings to sign: the path as sent, and without the service's path (clients
/// configured with the bare host sign `/`).
fn v2_strings_to_sign(request: &QueryRequest<'_>) -> Vec<String> {
    let query = v2_canonical_query(
        request
            .params
            .iter()
            .filter(|(name, _)| name != "Signature")
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    let host = request.host.to_ascii_lowercase();
    let service_path = request.service.path;
    let mut paths = vec![request.path.to_owned()];
    if let Some(rest) = request.path.strip_prefix(service_path) {
        paths.push(if rest.is_empty() {
            "/".to_owned()
        } else {
            rest.to_owned()
        });
    }
    if request.path != service_path {
        paths.push(service_path.to_owned());
    }
    paths
        .into_iter()
        .map(|path| format!("{}\n{host}\n{path}\n{query}", request.method))
        .collect()
}

fn parse_time(text: &str, name: &str) -> Result<i64, Ec2Error> {
    kit::time::parse_iso8601(text)
        .ok_or_else(|| Ec2Error::InvalidParameterValue(format!("Invalid {name} {text}")))
}

fn check_skew(at: i64, now: i64) -> Result<(), Ec2Error> {
    if (now - at).abs() > MAX_SKEW_SECS {
        return Err(Ec2Error::RequestExpired(format!(
            "the request was signed at {}, more than {} minutes from the server's time {}",
            kit::time::amz_date(at),
            MAX_SKEW_SECS / 60,
            kit::time::amz_date(now)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use hyper::header::{HeaderName, HeaderValue};
    use hyper::HeaderMap;

    use super::*;

    /// The recorded requests of real euca2ools versions (README.txt beside them): secret
    /// `secretkey`, except euca2ools 1.0's authorize and revoke by address block, whose `-s`
    /// set the secret.
    fn captures() -> Option<Vec<serde_json::Value>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/captures");
        if !dir.is_dir() {
            println!("skipped: {} is absent", dir.display());
            return None;
        }
        let mut all = Vec::new();
        for name in [
            "euca2ools-1.0_boto-1.8d.jsonl",
            "euca2ools-3.4.1_requestbuilder-0.7.1.jsonl",
        ] {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            all.extend(text.lines().map(|l| serde_json::from_str(l).unwrap()));
        }
        Some(all)
    }

    /// Checks `capture` at its own time; `tamper` changes the body or query first.
    fn check(capture: &serde_json::Value, tamper: bool) -> Result<(), Ec2Error> {
        let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
        let (path, mut query) = match text(&capture["path"]).split_once('?') {
            Some((p, q)) => (p.to_owned(), q.to_owned()),
            None => (text(&capture["path"]), String::new()),
        };
        let mut body = text(&capture["body"]);
        if tamper {
            if body.is_empty() {
                query = query.replacen("Action=", "Action=X", 1);
            } else {
                body = body.replacen("Action=", "Action=X", 1);
            }
        }
        let mut headers = HeaderMap::new();
        for (name, value) in capture["headers"].as_object().unwrap() {
            headers.insert(
                HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap(),
                HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
            );
        }
        let method = text(&capture["method"]);
        let mut params = Params::parse(&query);
        if method == "POST" {
            params.extend(Params::parse(&body));
        }
        let host = text(&capture["headers"]["Host"]);
        let request = QueryRequest {
            service: &crate::query::EC2,
            method: &method,
            host: &host,
            path: &path,
            query: &query,
            headers: &headers,
            body: body.as_bytes(),
            params,
        };
        let at = match capture["headers"]["X-Amz-Date"].as_str() {
            Some(date) => kit::time::parse_amz_date(date).unwrap(),
            None => parse_time(&format!("{}Z", text(&capture["params"]["Timestamp"])), "").unwrap(),
        };
        let action = text(&capture["params"]["Action"]);
        let old_authorize = capture["headers"]["User-Agent"]
            .as_str()
            .is_some_and(|a| a.starts_with("Boto/1.8"))
            && action.ends_with("SecurityGroupIngress")
            && capture["params"]["SourceSecurityGroupName"].is_null();
        let secret = if old_authorize {
            "0.0.0.0/0"
        } else {
            "secretkey"
        };
        Claim::read(&request, at)?.verify(&request, secret)
    }

    #[test]
    fn recorded_euca2ools_requests_verify_and_a_changed_byte_does_not() {
        let Some(captures) = captures() else { return };
        let ec2: Vec<_> = captures
            .iter()
            .filter(|c| {
                c["path"]
                    .as_str()
                    .unwrap()
                    .starts_with("/services/Eucalyptus")
            })
            .collect();
        assert_eq!(ec2.len(), 36 + 34, "every EC2 request of both captures");
        for capture in ec2 {
            let what = format!(
                "{} {}",
                capture["headers"]["User-Agent"], capture["params"]["Action"]
            );
            assert!(
                check(capture, false).is_ok(),
                "{what}: {:?}",
                check(capture, false)
            );
            assert!(
                matches!(check(capture, true), Err(Ec2Error::SignatureDoesNotMatch)),
                "{what} changed: {:?}",
                check(capture, true)
            );
        }
    }

    #[test]
    fn requests_outside_fifteen_minutes_are_expired() {
        let Some(captures) = captures() else { return };
        let capture = &captures[0];
        let (path, query) = capture["path"].as_str().unwrap().split_once('?').unwrap();
        let request = QueryRequest {
            service: &crate::query::EC2,
            method: "GET",
            host: "127.0.0.1:18773",
            path,
            query,
            headers: &HeaderMap::new(),
            body: b"",
            params: Params::parse(query),
        };
        let at = parse_time("2026-11-24T23:34:28Z", "").unwrap();
        assert!(Claim::read(&request, at + MAX_SKEW_SECS).is_ok());
        for now in [at + MAX_SKEW_SECS + 1, at - MAX_SKEW_SECS - 1] {
            assert!(matches!(
                Claim::read(&request, now),
                Err(Ec2Error::RequestExpired(_))
            ));
        }
    }

    #[test]
    fn a_sigv4_credential_must_be_scoped_to_one_of_the_apis_service_names() {
        const IAM: crate::query::Service = crate::query::Service {
            name: "iam",
            path: "/services/Euare",
            signing_names: &["iam"],
        };
        let now = parse_time("2026-12-05T00:00:00Z", "").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AK/20261205/us-east-1/iam/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=00",
            ),
        );
        headers.insert("x-amz-date", HeaderValue::from_static("20261205T000000Z"));
        let request = |service| QueryRequest {
            service,
            method: "POST",
            host: "cloud:8773",
            path: "/services/Euare",
            query: "",
            headers: &headers,
            body: b"",
            params: Params::parse(""),
        };
        let claim = Claim::read(&request(&IAM), now).unwrap();
        assert_eq!(claim.access_key(), "AK");
        let refused = Claim::read(&request(&crate::query::EC2), now).unwrap_err();
        assert!(
            matches!(&refused, Ec2Error::AuthFailure(m) if m.contains("'ec2', not 'iam'")),
            "{refused:?}"
        );
    }

    #[test]
    fn what_sign_v2_signs_verifies_and_with_another_secret_does_not() {
        let params = [
            ("Action", "DescribeImages"),
            ("AWSAccessKeyId", "AK"),
            ("SignatureVersion", "2"),
            ("SignatureMethod", "HmacSHA256"),
            ("Timestamp", "2026-12-05T00:00:00.000Z"),
            ("Owner.1", "self"),
        ];
        let body = sign_v2(
            "POST",
            "Cloud:8773",
            "/services/Eucalyptus",
            &params,
            "secret",
        );
        let request = QueryRequest {
            service: &crate::query::EC2,
            method: "POST",
            host: "cloud:8773",
            path: "/services/Eucalyptus",
            query: "",
            headers: &HeaderMap::new(),
            body: body.as_bytes(),
            params: Params::parse(&body),
        };
        let at = parse_time("2026-12-05T00:00:00Z", "").unwrap();
        let claim = Claim::read(&request, at).unwrap();
        assert!(claim.verify(&request, "secret").is_ok());
        assert!(matches!(
            claim.verify(&request, "other"),
            Err(Ec2Error::SignatureDoesNotMatch)
        ));
    }
}

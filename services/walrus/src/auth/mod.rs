//! Request signatures: S3's HMAC-SHA1 (`AWS key:signature`, presigned `Signature=`) and
//! AWS Signature Version 4 (header, presigned `X-Amz-*`, chunked uploads).
//!
//! Verification works on the request as received: the raw path and query string, never a
//! re-serialized URI, because clients sign exactly what they send and encodings differ
//! (`%3A%2F`, `=` and `+` in keys). It needs only the request head, a way to find a secret
//! and the current time, so that recorded requests can be checked at their own time.

pub mod chunked;
pub mod v2;
pub mod v4;

#[cfg(test)]
mod test_support;

use hyper::header::AUTHORIZATION;
use hyper::HeaderMap;

use crate::error::{S3Error, MAX_SKEW_SECS};
use crate::uri::query_pairs;

pub use chunked::{ChunkDecoder, ChunkSigner};

/// The parts of a request a signature covers, as received.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// The path as sent, still percent-encoded.
    pub path: &'a str,
    /// The query string as sent, without `?` (empty when there is none).
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    /// The bucket named by the Host header (virtual-host style), if any.
    pub virtual_bucket: Option<&'a str>,
    /// The path prefix of the service (`/services/Walrus`): S3 clients differ on whether
    /// they sign it, so a SigV2 signature is accepted over the path with or without it.
    pub service_prefix: &'a str,
}

/// What the body must satisfy for the signature to hold.
#[derive(Debug)]
pub enum PayloadCheck {
    /// Nothing: the signature does not cover the body (SigV2, `UNSIGNED-PAYLOAD`, anonymous).
    Unsigned,
    /// SigV4 with the body's SHA-256 in `x-amz-content-sha256`.
    Sha256([u8; 32]),
    /// `aws-chunked` body; each chunk signed when a signer is given.
    Chunked {
        signer: Option<Box<ChunkSigner>>,
        trailer: bool,
    },
}

/// A request whose signature verified: who signed it and what its body must satisfy.
#[derive(Debug)]
pub struct Signed<P> {
    pub principal: P,
    pub payload: PayloadCheck,
}

/// Finds the principal and secret key of an access key id; `None` for an unknown or
/// disabled key.
pub trait SecretLookup {
    type Principal;
    fn lookup(&self, access_key: &str) -> Result<Option<(Self::Principal, String)>, S3Error>;
}

impl<P, F> SecretLookup for F
where
    F: Fn(&str) -> Result<Option<(P, String)>, S3Error>,
{
    type Principal = P;
    fn lookup(&self, access_key: &str) -> Result<Option<(P, String)>, S3Error> {
        self(access_key)
    }
}

/// Verifies whichever signature the request carries at time `now` (seconds since the
/// epoch). `Ok(None)`: the request is anonymous. SigV4 signatures must be for `service`.
pub fn verify<L: SecretLookup>(
    head: &RequestHead<'_>,
    keys: &L,
    now: i64,
    service: &str,
) -> Result<Option<Signed<L::Principal>>, S3Error> {
    if let Some(value) = head.headers.get(AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| S3Error::AuthorizationHeaderMalformed("not ASCII".into()))?;
        if let Some(rest) = value.strip_prefix(v4::ALGORITHM) {
            return v4::verify_header(head, rest, keys, now, service).map(Some);
        }
        if let Some(rest) = value.strip_prefix("AWS ") {
            return v2::verify_header(head, rest, keys, now).map(Some);
        }
        return Err(S3Error::AuthorizationHeaderMalformed(
            "unsupported authorization type".into(),
        ));
    }
    let has = |name: &str| query_pairs(head.query).any(|p| p.raw_name == name);
    if has("X-Amz-Algorithm") {
        v4::verify_query(head, keys, now, service).map(Some)
    } else if has("Signature") {
        v2::verify_query(head, keys, now).map(Some)
    } else {
        Ok(None)
    }
}

/// All values of a header joined by commas, as signatures canonicalize repeated headers.
fn header_values(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let joined: Vec<&str> = values
        .map(|v| std::str::from_utf8(v.as_bytes()).unwrap_or("").trim())
        .collect();
    Some(joined.join(","))
}

fn first_header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn check_skew(signed_at: i64, now: i64) -> Result<(), S3Error> {
    if (now - signed_at).abs() > MAX_SKEW_SECS {
        return Err(S3Error::RequestTimeTooSkewed {
            request_time: signed_at,
            server_time: now,
        });
    }
    Ok(())
}

/// The raw value of the first query parameter `name`.
fn raw_query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query_pairs(query)
        .find(|p| p.raw_name == name)
        .map(|p| p.raw_value.unwrap_or(""))
}

/// The decoded value of the first query parameter `name`.
fn query_param(query: &str, name: &str) -> Option<String> {
    raw_query_param(query, name)
        .map(|raw| String::from_utf8_lossy(&crate::uri::percent_decode(raw, true)).into_owned())
}

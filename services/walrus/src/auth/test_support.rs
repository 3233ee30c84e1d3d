//! What the signature tests of every scheme share: one user and request heads to check.
#![allow(clippy::unwrap_used)]

use hyper::header::HeaderValue;
use hyper::HeaderMap;

use super::RequestHead;
use crate::error::S3Error;

pub const ACCESS: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub const PREFIX: &str = "/services/Walrus";

/// The key store of the tests: one user, [`ACCESS`] with [`SECRET`].
pub fn keys(access_key: &str) -> Result<Option<((), String)>, S3Error> {
    Ok((access_key == ACCESS).then(|| ((), SECRET.to_owned())))
}

pub fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

/// A path-style request under the Walrus service path.
pub fn head<'a>(
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &'a HeaderMap,
) -> RequestHead<'a> {
    RequestHead {
        method,
        path,
        query,
        headers,
        virtual_bucket: None,
        service_prefix: PREFIX,
    }
}

//! Which bucket names and keys Walrus accepts.

use crate::error::S3Error;

/// Longest key S3 accepts, in bytes.
const MAX_KEY_BYTES: usize = 1024;

/// Bucket names as the original accepted them: S3's DNS-style names and the older
/// us-east-1 ones (upper case and `_` too), 3 to 255 characters; but, as S3, none in the
/// form of an IPv4 address, which virtual-host addressing would take for a host.
pub fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    let bad = |why: &str| Err(S3Error::InvalidBucketName(format!("{name:?}: {why}")));
    if !(3..=255).contains(&name.len()) {
        return bad("a bucket name has 3 to 255 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return bad("use letters, digits, '.', '-' and '_'");
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() || name.contains("..") {
        return bad("start with a letter or digit and do not use '..'");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("a bucket name must not be formatted as an IP address");
    }
    Ok(())
}

/// Keys that could be mistaken for paths are refused: `..` segments, NUL; invalid UTF-8 is
/// refused while decoding. Keys never name files (blobs have ids), so this is defence in
/// depth and protection of clients that map keys to paths.
pub fn check_key(key: &str) -> Result<(), S3Error> {
    if key.is_empty() {
        return Err(S3Error::InvalidObjectName("Object key is empty".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(S3Error::KeyTooLong);
    }
    if key.contains('\0') {
        return Err(S3Error::InvalidObjectName(
            "Object key contains a NUL character".into(),
        ));
    }
    if key.split('/').any(|segment| segment == "..") {
        return Err(S3Error::InvalidObjectName(
            "Object key contains a '..' path segment".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_are_checked() {
        for good in [
            "abc",
            "my.bucket-1",
            "Legacy_Bucket",
            "1.2.3",
            "192.168.1.256",
        ] {
            assert!(check_bucket_name(good).is_ok(), "{good}");
        }
        // Regression guard (issue 17, finding 6): IP-form names are refused.
        for bad in [
            "ab",
            "-abc",
            "a..b",
            "a b",
            "a/b",
            &"x".repeat(256),
            "192.168.1.1",
            "10.0.0.255",
        ] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }
}

//! Percent-encoding as S3 and SigV4 define it, and query strings kept as sent.

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as it is. With
/// `plus_as_space`, `+` is a space (query strings); in paths it is a plus.
pub fn percent_decode(text: &str, plus_as_space: bool) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                if let (Some(h), Some(l)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' if plus_as_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// SigV4's URI encoding: unreserved characters (`A-Z a-z 0-9 - . _ ~`) as they are, every
/// other byte as `%XX` with upper-case hex; `/` kept when `keep_slash` (paths).
pub fn aws_encode(bytes: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// One `name=value` pair of a query string, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPair<'a> {
    pub raw_name: &'a str,
    /// `None` when the pair had no `=` (`?acl`).
    pub raw_value: Option<&'a str>,
}

/// The rest of `path` after the service path (`/services/Walrus`), if it starts with it: empty
/// or from a `/` on. The case of the service path is not significant because s3cmd, given it
/// in `host_base`, lower-cases it with the host name.
pub fn strip_service_path<'p>(path: &'p str, service_path: &str) -> Option<&'p str> {
    if service_path.is_empty() {
        return None;
    }
    let head = path.get(..service_path.len())?;
    let rest = &path[service_path.len()..];
    (head.eq_ignore_ascii_case(service_path) && (rest.is_empty() || rest.starts_with('/')))
        .then_some(rest)
}

/// Splits a raw query string into its pairs, empty pieces dropped.
pub fn query_pairs(query: &str) -> impl Iterator<Item = QueryPair<'_>> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => QueryPair {
                raw_name: name,
                raw_value: Some(value),
            },
            None => QueryPair {
                raw_name: pair,
                raw_value: None,
            },
        })
}

/// A request's query parameters, decoded (`+` as space), in the order sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query; names or values that are not UTF-8 after decoding are refused.
    pub fn parse(raw: &str) -> Option<Self> {
        let mut pairs = Vec::new();
        for pair in query_pairs(raw) {
            let name = String::from_utf8(percent_decode(pair.raw_name, true)).ok()?;
            let value =
                String::from_utf8(percent_decode(pair.raw_value.unwrap_or(""), true)).ok()?;
            pairs.push((name, value));
        }
        Some(Self { pairs })
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%3A%2fb", false), b"a:/b");
        assert_eq!(percent_decode("a+b", false), b"a+b");
        assert_eq!(percent_decode("a+b", true), b"a b");
        assert_eq!(percent_decode("100%", false), b"100%");
        assert_eq!(percent_decode("%4", false), b"%4");
        assert_eq!(percent_decode("%zz", false), b"%zz");
        assert_eq!(percent_decode("%e2%82%ac", false), "€".as_bytes());
    }

    #[test]
    fn the_service_path_is_stripped_whatever_its_case() {
        // Guards s3cmd with `host_base = HOST:PORT/services/Walrus`: it sends the path lower-cased.
        for path in [
            "/services/Walrus/b/k",
            "/services/walrus/b/k",
            "/SERVICES/WALRUS/b/k",
        ] {
            assert_eq!(strip_service_path(path, "/services/Walrus"), Some("/b/k"));
        }
        assert_eq!(
            strip_service_path("/services/walrus", "/services/Walrus"),
            Some("")
        );
        assert_eq!(
            strip_service_path("/services/WalrusX/k", "/services/Walrus"),
            None
        );
        assert_eq!(strip_service_path("/servic", "/services/Walrus"), None);
        assert_eq!(
            strip_service_path("/services/Walr\u{20ac}/k", "/services/Walrus"),
            None
        );
        assert_eq!(strip_service_path("/b/k", ""), None);
    }

    #[test]
    fn aws_encoding_keeps_only_unreserved() {
        assert_eq!(aws_encode(b"a b+c=d/e~f", true), "a%20b%2Bc%3Dd/e~f");
        assert_eq!(aws_encode(b"a/b", false), "a%2Fb");
        assert_eq!(aws_encode("€".as_bytes(), true), "%E2%82%AC");
    }

    #[test]
    fn queries_keep_order_and_flags() {
        let q = Query::parse("acl&prefix=a%2Fb+c&max-keys=5&&x=").unwrap();
        assert!(q.has("acl"));
        assert_eq!(q.get("acl"), Some(""));
        assert_eq!(q.get("prefix"), Some("a/b c"));
        assert_eq!(q.get("max-keys"), Some("5"));
        assert_eq!(q.get("x"), Some(""));
        assert_eq!(q.get("nope"), None);
        assert!(Query::parse("k=%ff").is_none());
    }
}

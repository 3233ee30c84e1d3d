//! Conditional requests and byte ranges, as typed values: REST reads them from headers,
//! SOAP from GetObjectExtended's and CopyObject's fields, and both are decided here.

use std::ops::Range;

use crate::error::S3Error;
use crate::meta::Object;

/// The preconditions of a read or copy. Empty lists and `None` dates are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// ETags, quoted or not, `W/` allowed, or `*`.
    pub if_match: Vec<String>,
    /// Seconds since the epoch.
    pub if_unmodified_since: Option<i64>,
    pub if_none_match: Vec<String>,
    pub if_modified_since: Option<i64>,
}

/// Whether an object is unchanged for the client: GET and HEAD answer 304, copies 412.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unchanged {
    NotModified,
    PreconditionFailed,
}

impl Conditions {
    /// RFC 9110 §13.2.2's order: If-Match, else If-Unmodified-Since; then If-None-Match,
    /// else If-Modified-Since. Times compare at whole seconds, as HTTP dates carry them.
    pub fn check(&self, object: &Object, unchanged: Unchanged) -> Result<(), S3Error> {
        let modified = object.modified.div_euclid(1000);
        if !self.if_match.is_empty() {
            if !etag_listed(&self.if_match, &object.etag) {
                return Err(S3Error::PreconditionFailed);
            }
        } else if self.if_unmodified_since.is_some_and(|date| modified > date) {
            return Err(S3Error::PreconditionFailed);
        }
        let not_modified = if !self.if_none_match.is_empty() {
            etag_listed(&self.if_none_match, &object.etag)
        } else {
            self.if_modified_since.is_some_and(|date| modified <= date)
        };
        if not_modified {
            return Err(match unchanged {
                Unchanged::NotModified => S3Error::NotModified {
                    etag: object.etag.clone(),
                    modified: object.modified,
                },
                Unchanged::PreconditionFailed => S3Error::PreconditionFailed,
            });
        }
        Ok(())
    }
}

fn etag_listed(list: &[String], etag: &str) -> bool {
    list.iter().map(|c| c.trim()).any(|candidate| {
        candidate == "*" || candidate.trim_start_matches("W/").trim_matches('"') == etag
    })
}

/// A byte range asked of an object whose size is not yet known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// From `first` to `last` inclusive, or to the end.
    Span { first: u64, last: Option<u64> },
    /// The last N bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The bytes of an object of `size` this range covers; `InvalidRange` when it covers
    /// none (starts past the end, is reversed, or is an empty suffix).
    pub fn resolve(self, size: u64) -> Result<Range<u64>, S3Error> {
        let range = match self {
            Self::Suffix(0) => return Err(S3Error::InvalidRange { size }),
            Self::Suffix(n) => size.saturating_sub(n)..size,
            Self::Span { first, last: None } => first..size,
            Self::Span {
                first,
                last: Some(last),
            } if first <= last => first..last.saturating_add(1).min(size),
            Self::Span { .. } => return Err(S3Error::InvalidRange { size }),
        };
        if range.start >= size {
            return Err(S3Error::InvalidRange { size });
        }
        Ok(range)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::acl::Acl;
    use crate::meta::StoredHeaders;

    fn object(etag: &str, modified_secs: i64) -> Object {
        Object {
            bucket: "b".into(),
            key: "k".into(),
            size: 1,
            etag: etag.into(),
            modified: modified_secs * 1000 + 999,
            owner: "o".into(),
            headers: StoredHeaders::default(),
            acl: Acl::default(),
            segments: Vec::new(),
        }
    }

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn conditions_follow_rfc_9110_order() {
        let o = object("abc", 1_000_000);
        let (before, at) = (Some(999_999), Some(1_000_000));
        let get = |c: Conditions| c.check(&o, Unchanged::NotModified);
        let matching = || tags(&["\"x\"", "W/\"abc\""]);
        assert!(get(Conditions::default()).is_ok());
        assert!(get(Conditions {
            if_match: matching(),
            ..Default::default()
        })
        .is_ok());
        assert!(matches!(
            get(Conditions {
                if_match: tags(&["\"x\""]),
                ..Default::default()
            }),
            Err(S3Error::PreconditionFailed)
        ));
        assert!(matches!(
            get(Conditions {
                if_none_match: tags(&["*"]),
                ..Default::default()
            }),
            Err(S3Error::NotModified { .. })
        ));
        assert!(matches!(
            get(Conditions {
                if_modified_since: at,
                ..Default::default()
            }),
            Err(S3Error::NotModified { .. })
        ));
        assert!(matches!(
            get(Conditions {
                if_unmodified_since: before,
                ..Default::default()
            }),
            Err(S3Error::PreconditionFailed)
        ));
        // If-Match decides instead of If-Unmodified-Since, If-None-Match instead of
        // If-Modified-Since.
        assert!(get(Conditions {
            if_match: matching(),
            if_unmodified_since: before,
            ..Default::default()
        })
        .is_ok());
        assert!(get(Conditions {
            if_none_match: tags(&["\"x\""]),
            if_modified_since: at,
            ..Default::default()
        })
        .is_ok());
        // A failed If-Match is 412 even when If-None-Match would say 304.
        assert!(matches!(
            get(Conditions {
                if_match: tags(&["\"x\""]),
                if_none_match: tags(&["\"abc\""]),
                ..Default::default()
            }),
            Err(S3Error::PreconditionFailed)
        ));
        assert!(matches!(
            Conditions {
                if_none_match: tags(&["abc"]),
                ..Default::default()
            }
            .check(&o, Unchanged::PreconditionFailed),
            Err(S3Error::PreconditionFailed)
        ));
    }

    #[test]
    fn ranges_resolve_against_the_size() {
        let span = |first, last| ByteRange::Span { first, last };
        assert_eq!(span(0, Some(3)).resolve(10).unwrap(), 0..4);
        assert_eq!(span(5, None).resolve(10).unwrap(), 5..10);
        assert_eq!(span(8, Some(100)).resolve(10).unwrap(), 8..10);
        assert_eq!(ByteRange::Suffix(3).resolve(10).unwrap(), 7..10);
        assert_eq!(ByteRange::Suffix(30).resolve(10).unwrap(), 0..10);
        for unsatisfiable in [
            span(10, None),
            span(10, Some(20)),
            span(5, Some(2)),
            ByteRange::Suffix(0),
        ] {
            assert!(matches!(
                unsatisfiable.resolve(10),
                Err(S3Error::InvalidRange { size: 10 })
            ));
        }
        assert!(span(0, None).resolve(0).is_err());
    }
}

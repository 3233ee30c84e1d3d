//! `wsu:Timestamp`: written with Created and Expires, checked against a clock with a skew
//! allowance and a maximum age.

use xmlbind::{DateTime, ElementRef, XmlText, XmlWriter};

use super::signature::element_children;
use super::{WssError, WSU_NS};

/// Writes a Timestamp created at `created` that expires `ttl` seconds later.
pub(crate) fn write(w: &mut XmlWriter, id: &str, created: i64, ttl: i64) {
    w.start_element(Some(WSU_NS), "Timestamp");
    w.attribute(Some(WSU_NS), "Id", id);
    for (local, at) in [
        ("Created", created),
        ("Expires", created.saturating_add(ttl)),
    ] {
        w.start_element(Some(WSU_NS), local);
        w.text(DateTime::from_unix(at).as_str());
        w.end_element();
    }
    w.end_element();
}

/// How a Timestamp is judged, all in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) now: i64,
    pub(crate) skew: i64,
    pub(crate) max_age: i64,
}

/// Checks a Timestamp: Created (required) neither in the future nor older than the maximum
/// age, Expires (optional) not passed, each with the skew allowance.
pub(crate) fn check(timestamp: ElementRef<'_>, window: Window) -> Result<(), WssError> {
    let mut children = element_children(timestamp)?;
    let (created, expires) = match (children.next(), children.next(), children.next()) {
        (Some(created), None, _) => (time(created, "Created")?, None),
        (Some(created), Some(expires), None) => {
            (time(created, "Created")?, Some(time(expires, "Expires")?))
        }
        _ => {
            return Err(WssError::InvalidTimestamp(
                "expected Created and an optional Expires".into(),
            ))
        }
    };
    let Window { now, skew, max_age } = window;
    if created > now.saturating_add(skew) {
        return Err(WssError::NotYetValid);
    }
    if expires.is_some_and(|e| e <= now.saturating_sub(skew))
        || now.saturating_sub(created) > max_age.saturating_add(skew)
    {
        return Err(WssError::Expired);
    }
    if expires.is_some_and(|e| e < created) {
        return Err(WssError::InvalidTimestamp(
            "Expires precedes Created".into(),
        ));
    }
    Ok(())
}

fn time(element: ElementRef<'_>, local: &str) -> Result<i64, WssError> {
    if !element.name().is(Some(WSU_NS), local) {
        return Err(WssError::InvalidTimestamp(format!(
            "expected wsu:{local}, found {}",
            element.name().expanded()
        )));
    }
    let text = element
        .text()
        .map_err(|e| WssError::InvalidTimestamp(e.to_string()))?;
    DateTime::from_text(&text)
        .map(|t| t.unix_seconds())
        .map_err(|e| WssError::InvalidTimestamp(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use xmlbind::{Document, Limits};

    fn stamp(created: i64, ttl: i64) -> Document {
        let mut w = XmlWriter::new();
        write(&mut w, "ts", created, ttl);
        Document::parse(w.finish().as_bytes(), &Limits::default()).unwrap()
    }

    const WINDOW: Window = Window {
        now: 1_000_000,
        skew: 300,
        max_age: 300,
    };

    #[test]
    fn fresh_timestamps_pass_within_the_skew() {
        check(stamp(1_000_000, 300).root(), WINDOW).unwrap();
        check(stamp(1_000_000 + 299, 300).root(), WINDOW).unwrap();
        check(stamp(1_000_000 - 500, 600).root(), WINDOW).unwrap();
    }

    #[test]
    fn old_future_and_expired_timestamps_fail() {
        assert!(matches!(
            check(stamp(1_000_000 + 301, 300).root(), WINDOW),
            Err(WssError::NotYetValid)
        ));
        assert!(matches!(
            check(stamp(1_000_000 - 700, 100).root(), WINDOW),
            Err(WssError::Expired)
        ));
        // A long TTL does not extend the maximum age.
        assert!(matches!(
            check(stamp(1_000_000 - 601, 10_000).root(), WINDOW),
            Err(WssError::Expired)
        ));
    }

    #[test]
    fn created_is_required() {
        let doc = Document::parse(
            format!(r#"<u:Timestamp xmlns:u="{WSU_NS}"><u:Expires>2026-01-01T00:00:00Z</u:Expires></u:Timestamp>"#).as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        assert!(matches!(
            check(doc.root(), WINDOW),
            Err(WssError::InvalidTimestamp(_))
        ));
    }
}

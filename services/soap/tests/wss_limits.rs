//! Hostile XML refused at parse time, quickly and with the limit error that applies, before
//! any signature work. Each builds its bomb around a valid signed envelope.

#![allow(clippy::unwrap_used)]

mod hostile;
mod wss_support;

use std::time::{Duration, Instant};

use soap::envelope::Incoming;
use soap::SoapError;
use wss_support::*;
use xmlbind::{ErrorKind, Limits};

/// Generous for a loaded two-core machine running a debug build; the attacks below would
/// take seconds to minutes (or all memory) if they were processed.
const QUICK: Duration = Duration::from_millis(500);

fn refused_quickly(bytes: &[u8], limits: &Limits) -> ErrorKind {
    let started = Instant::now();
    let result = Incoming::parse(bytes, limits);
    let elapsed = started.elapsed();
    assert!(elapsed < QUICK, "took {elapsed:?}");
    match result {
        Err(SoapError::Xml(e)) => e.kind,
        other => panic!("expected a parse refusal, got {other:?}"),
    }
}

/// The signed request with `prolog` before the Envelope and `inner` at the start of the Body.
fn around_signed(prolog: &str, inner: &str) -> String {
    let xml = signed_request();
    let body_content = xml.find("<ns1:echo").unwrap();
    let mut xml = xml;
    xml.insert_str(body_content, inner);
    format!("{prolog}{xml}")
}

/// Billion laughs: nested entities expanding to gigabytes. Refused at the DOCTYPE.
#[test]
fn doctype_with_entity_expansion_is_refused() {
    let prolog = format!(
        "<?xml version=\"1.0\"?>{}",
        hostile::billion_laughs_doctype()
    );
    let xml = around_signed(&prolog, hostile::LAUGHS);
    assert_eq!(
        refused_quickly(xml.as_bytes(), &Limits::default()),
        ErrorKind::Doctype
    );
}

/// XXE: an external entity reading a local file into the message. Refused at the DOCTYPE.
#[test]
fn external_entity_is_refused() {
    let prolog = format!("<?xml version=\"1.0\"?>{}", hostile::XXE_DOCTYPE);
    let xml = around_signed(&prolog, hostile::XXE);
    assert_eq!(
        refused_quickly(xml.as_bytes(), &Limits::default()),
        ErrorKind::Doctype
    );
    // Without a DOCTYPE the entity is simply undeclared: still refused, never resolved.
    let xml = around_signed("", hostile::XXE);
    assert!(matches!(
        refused_quickly(xml.as_bytes(), &Limits::default()),
        ErrorKind::Malformed(_)
    ));
}

/// Oversize: a message beyond the size limit is refused before parsing starts.
#[test]
fn oversize_message_is_refused() {
    let padding = "<x>".to_owned() + &"A".repeat(17 << 20) + "</x>";
    let xml = around_signed("", &padding);
    let kind = refused_quickly(xml.as_bytes(), &Limits::default());
    assert!(
        matches!(kind, ErrorKind::TooLarge { limit, .. } if limit == Limits::default().max_bytes),
        "{kind:?}"
    );
}

/// Deep nesting: a hundred thousand nested elements, refused at the depth limit.
#[test]
fn deep_nesting_is_refused() {
    let xml = around_signed("", &hostile::nested(100_000));
    let limits = Limits::default();
    assert_eq!(
        refused_quickly(xml.as_bytes(), &limits),
        ErrorKind::TooDeep(limits.max_depth)
    );
}

/// Attribute flood: one element with tens of thousands of attributes (quadratic duplicate
/// checks in naive parsers), refused at the attribute limit.
#[test]
fn attribute_flood_is_refused() {
    let xml = around_signed("", &hostile::attribute_flood(50_000));
    assert_eq!(
        refused_quickly(xml.as_bytes(), &Limits::default()),
        ErrorKind::LimitExceeded
    );
}

/// Namespace-declaration flood: declarations are not attributes to the XML reader, which
/// hands every element all bindings in scope, so the cost grew as declarations times
/// elements (20,000 of each took over three minutes in a release build) before bindings in
/// scope were limited.
#[test]
fn namespace_declaration_flood_is_refused() {
    let limits = Limits::default();
    let xml = around_signed("", &hostile::namespace_flood(2_000, 20_000));
    assert_eq!(
        refused_quickly(xml.as_bytes(), &limits),
        ErrorKind::TooManyNamespaces(limits.max_attributes)
    );
}

//! Arbitrary bytes through the hardened parser with its default limits, then exclusive C14N of
//! every element of whatever parsed. Beyond not crashing: the canonical form of any accepted
//! document is itself well-formed and canonicalizes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soap::c14n::exclusive;
use xmlbind::{parse, Element, Limits};

fuzz_target!(|data: &[u8]| {
    let Ok(root) = parse(data, &Limits::default()) else {
        return;
    };
    let mut pending: Vec<&Element> = vec![&root];
    while let Some(element) = pending.pop() {
        let canonical = exclusive(element, &[]);
        let reparsed = parse(&canonical, &roomy())
            .unwrap_or_else(|e| panic!("canonical form does not parse: {e}"));
        assert_eq!(
            exclusive(&reparsed, &[]),
            canonical,
            "canonical form is not a fixed point"
        );
        pending.extend(element.elements());
    }
});

/// Limits for re-reading a canonical form, which may legitimately be larger than its input:
/// escaping lengthens text, and an inner apex declares the namespaces it inherited.
fn roomy() -> Limits {
    Limits {
        max_bytes: usize::MAX,
        max_attributes: usize::MAX,
        max_text: usize::MAX,
        ..Limits::default()
    }
}

//! Exclusive XML Canonicalization 1.0 without comments
//! (<https://www.w3.org/TR/xml-exc-c14n/>), over the xmlbind tree.
//! SKELETON by the lead: the signature is the agreed API.

use xmlbind::Element;

/// Canonicalizes the subtree rooted at `apex`. `inclusive_prefixes` is the
/// InclusiveNamespaces PrefixList (`"#default"` names the default namespace).
pub fn exclusive(apex: &Element, inclusive_prefixes: &[&str]) -> Vec<u8> {
    let _ = (apex, inclusive_prefixes);
    todo!("c14n::exclusive")
}

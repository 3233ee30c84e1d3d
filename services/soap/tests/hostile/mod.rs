//! Hostile XML, shared by the tests that refuse it in the parser (`wss_limits`) and in a
//! running server (`http_hostile`). Each piece goes into an otherwise valid signed envelope:
//! a DOCTYPE before it, an element inside its Body.

// Each test crate uses a different part of this module.
#![allow(dead_code)]

/// Billion laughs: a DOCTYPE whose nested entities make [`LAUGHS`] a billion `lol`s.
pub fn billion_laughs_doctype() -> String {
    let mut doctype = String::from(r#"<!DOCTYPE soapenv:Envelope [<!ENTITY lol0 "lol">"#);
    for i in 1..10 {
        let previous = format!("&lol{};", i - 1).repeat(10);
        doctype.push_str(&format!(r#"<!ENTITY lol{i} "{previous}">"#));
    }
    doctype.push_str("]>");
    doctype
}

/// The element that expands the billion laughs.
pub const LAUGHS: &str = "<x>&lol9;</x>";

/// XXE: a DOCTYPE declaring an external entity that reads a local file into [`XXE`].
pub const XXE_DOCTYPE: &str =
    r#"<!DOCTYPE soapenv:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>"#;

/// The element that would receive the file.
pub const XXE: &str = "<x>&xxe;</x>";

/// `depth` nested elements: 7 bytes a level.
pub fn nested(depth: usize) -> String {
    "<d>".repeat(depth) + &"</d>".repeat(depth)
}

/// One element with `count` attributes: 9 to 15 bytes each below 100,000.
pub fn attribute_flood(count: usize) -> String {
    let attributes: String = (0..count).map(|i| format!(r#" a{i}="{i}""#)).collect();
    format!("<x{attributes}/>")
}

/// An element declaring `declarations` namespace prefixes around `children` empty elements.
/// Declarations are not attributes to the XML reader, which hands every element all bindings
/// in scope: unlimited, the cost grows as declarations times elements.
pub fn namespace_flood(declarations: usize, children: usize) -> String {
    let declared: String = (0..declarations)
        .map(|i| format!(r#" xmlns:p{i}="urn:{i}""#))
        .collect();
    format!("<x{declared}>{}</x>", "<c/>".repeat(children))
}

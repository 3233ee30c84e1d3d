//! Rust names for XML names: `UpperCamelCase` types, `snake_case` fields and methods,
//! raw identifiers for keywords.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

/// Words that need `r#` to be identifiers (Rust 2021, including reserved words).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers; they get a trailing underscore instead.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Prelude names the generated code refers to: a generated item must not shadow them.
const PRELUDE: &[&str] = &[
    "Box", "Clone", "Default", "FnOnce", "Option", "Result", "Send", "Sized", "String", "Sync",
    "Vec",
];

/// A variant name: `READ_ACP` → `ReadAcp`.
pub fn type_name(xml: &str) -> String {
    with_leading_letter(xml.to_upper_camel_case(), "V")
}

/// A type or trait name: `ncRunInstanceType` → `NcRunInstanceType`; `Result` → `ResultType`,
/// since the generated code needs the prelude's `Result`.
pub fn item_name(xml: &str) -> String {
    let name = type_name(xml);
    if PRELUDE.contains(&name.as_str()) {
        format!("{name}Type")
    } else {
        name
    }
}

/// A field or method name: `instanceIds` → `instance_ids`, `imageURL` → `image_url`.
pub fn field_name(xml: &str) -> String {
    with_leading_letter(xml.to_snake_case(), "_")
}

/// A constant or static name: `EucalyptusNC` → `EUCALYPTUS_NC`.
pub fn const_name(xml: &str) -> String {
    with_leading_letter(xml.to_shouty_snake_case(), "_")
}

/// Identifiers may not start with a digit (and heck drops characters that cannot appear).
fn with_leading_letter(name: String, prefix: &str) -> String {
    match name.chars().next() {
        Some(c) if !c.is_ascii_digit() => name,
        _ => format!("{prefix}{name}"),
    }
}

/// The identifier for a name made by this module, raw when it is a keyword.
pub fn ident(name: &str) -> Ident {
    if NOT_RAW.contains(&name) {
        Ident::new(&format!("{name}_"), Span::call_site())
    } else if KEYWORDS.contains(&name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_upper_camel_case() {
        assert_eq!(type_name("ncRunInstanceType"), "NcRunInstanceType");
        assert_eq!(type_name("virtualMachineType"), "VirtualMachineType");
        assert_eq!(type_name("EucalyptusNC"), "EucalyptusNc");
        assert_eq!(type_name("READ_ACP"), "ReadAcp");
        assert_eq!(type_name("1.0"), "V10");
        assert_eq!(item_name("Result"), "ResultType");
        assert_eq!(item_name("result"), "ResultType");
        assert_eq!(type_name("Result"), "Result");
    }

    #[test]
    fn fields_are_snake_case() {
        assert_eq!(field_name("instanceIds"), "instance_ids");
        assert_eq!(field_name("imageURL"), "image_url");
        assert_eq!(field_name("CCLog"), "cc_log");
        assert_eq!(field_name("x-amz-meta"), "x_amz_meta");
        assert_eq!(field_name("2nd"), "_2nd");
        assert_eq!(const_name("EucalyptusNC"), "EUCALYPTUS_NC");
    }

    #[test]
    fn keywords_become_raw_identifiers() {
        assert_eq!(ident(&field_name("return")).to_string(), "r#return");
        assert_eq!(ident(&field_name("type")).to_string(), "r#type");
        assert_eq!(ident(&field_name("Self")).to_string(), "self_");
        assert_eq!(ident(&type_name("self")).to_string(), "Self_");
        assert_eq!(ident("memory").to_string(), "memory");
    }
}

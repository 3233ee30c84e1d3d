//! Resolving `#id` references so that an Id names exactly one element.
//!
//! Stacks disagree on which attribute is an Id (`wsu:Id`, `Id`, `ID`, `xml:id`, ...), and
//! signature wrapping exploits that: a verifier that resolves `wsu:Id` and an application that
//! finds the same value in an unqualified `Id` look at different elements. So every attribute
//! whose local name is `id` in any case and any namespace counts, values are compared with
//! surrounding whitespace removed, and an Id held by two elements resolves to nothing.

use xmlbind::ElementRef;

use super::WssError;

/// Every Id-like attribute value of a document, with the elements that carry it: sorted by
/// value, one entry per element and value (a message holds a handful).
#[derive(Debug)]
pub(crate) struct IdIndex<'a> {
    ids: Vec<(&'a str, ElementRef<'a>)>,
}

impl<'a> IdIndex<'a> {
    pub(crate) fn build(root: ElementRef<'a>) -> Self {
        let mut ids = Vec::new();
        for element in root.subtree() {
            let own = ids.len();
            for attribute in element.attributes() {
                if attribute.name.local.eq_ignore_ascii_case("id") {
                    let value = attribute.value.trim();
                    if !ids[own..].iter().any(|(held, _)| *held == value) {
                        ids.push((value, element));
                    }
                }
            }
        }
        ids.sort_unstable_by_key(|(value, _)| *value);
        Self { ids }
    }

    /// The one element that carries `id`.
    pub(crate) fn resolve(&self, id: &str) -> Result<ElementRef<'a>, WssError> {
        let id = id.trim();
        let first = self.ids.partition_point(|(value, _)| *value < id);
        let mut holders = self.ids[first..]
            .iter()
            .take_while(|(value, _)| *value == id);
        match (holders.next(), holders.next()) {
            (Some(&(_, element)), None) => Ok(element),
            (None, _) => Err(WssError::UnknownId(id.to_owned())),
            (Some(_), Some(_)) => Err(WssError::DuplicateId(id.to_owned())),
        }
    }
}

/// The Id named by a same-document reference `#id`. Anything else (an empty URI meaning the
/// whole document, another document, an XPointer expression) is refused.
pub(crate) fn fragment(uri: &str) -> Result<&str, WssError> {
    let id = uri
        .strip_prefix('#')
        .ok_or_else(|| WssError::ForeignReference(uri.to_owned()))?;
    let mut chars = id.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if starts_well && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        Ok(id)
    } else {
        Err(WssError::ForeignReference(uri.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use xmlbind::{Document, Limits};

    #[test]
    fn confusable_id_attributes_make_an_id_ambiguous() {
        let doc = Document::parse(
            br#"<a xmlns:u="urn:u" xmlns:f="urn:f"><b u:Id="x"/><c ID=" x "/><d f:id="y"/><e Id="z" u:Id="z"/></a>"#,
            &Limits::default(),
        )
        .unwrap();
        let index = IdIndex::build(doc.root());
        assert!(matches!(index.resolve("x"), Err(WssError::DuplicateId(_))));
        assert_eq!(index.resolve("y").unwrap().name().local, "d");
        // One element holding the same value twice is still one element.
        assert_eq!(index.resolve("z").unwrap().name().local, "e");
        assert!(matches!(index.resolve("w"), Err(WssError::UnknownId(_))));
    }

    #[test]
    fn only_bare_fragments_are_references() {
        assert_eq!(fragment("#id-1.a_b").unwrap(), "id-1.a_b");
        for uri in [
            "",
            "#",
            "id",
            "http://x/#a",
            "#xpointer(/)",
            "#xpointer(id('a'))",
            "#a b",
            "#1a",
        ] {
            assert!(
                matches!(fragment(uri), Err(WssError::ForeignReference(_))),
                "{uri}"
            );
        }
    }
}

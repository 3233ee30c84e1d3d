//! Shared names: the namespace URIs, prefixes and local names of a parsed tree.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// An immutable string shared by every name that spells it: a message names a handful of
/// namespaces and local names thousands of times, so the reader keeps each once (the URIs
/// and prefixes of a scope's bindings, one table of local names per document) and every
/// element holds a reference. Reads and compares as a `str`. One pointer wide (a shared,
/// boxed `str`: the length sits in the shared allocation), so that a `Name` costs 24 bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Atom(Arc<Box<str>>);

impl Atom {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the shared string lives: within one document, whose reader keeps each string
    /// once, equal addresses are equal strings.
    pub(crate) fn address(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl Deref for Atom {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Atom {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Atom {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Self {
        Self(Arc::new(Box::from(s)))
    }
}

impl From<String> for Atom {
    fn from(s: String) -> Self {
        Self(Arc::new(s.into_boxed_str()))
    }
}

impl From<Atom> for String {
    fn from(a: Atom) -> Self {
        a.as_str().to_owned()
    }
}

impl PartialEq<str> for Atom {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Atom {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Atom {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Atom> for str {
    fn eq(&self, other: &Atom) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Atom> for &str {
    fn eq(&self, other: &Atom) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Atom> for String {
    fn eq(&self, other: &Atom) -> bool {
        self.as_str() == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_and_reads_as_a_str() {
        let a = Atom::from("Body");
        let (borrowed, owned) = ("Body", String::from("Body"));
        assert_eq!(a, borrowed);
        assert_eq!(borrowed, a);
        assert_eq!(a, owned);
        assert_eq!(owned, a);
        assert_ne!(a, "body");
        assert_eq!(a.len(), 4);
        assert_eq!(format!("{a} {a:?}"), "Body \"Body\"");
        assert_eq!(String::from(a.clone()), "Body");
        let map: std::collections::HashMap<Atom, u8> = [(a, 1)].into();
        assert_eq!(map.get("Body"), Some(&1));
    }
}

/// Names a reader expects in most documents it reads (its protocols' namespace URIs,
/// prefixes and element names), made once: a parse takes them from here rather than
/// allocating each again ([`crate::Document::parse_with`]).
#[derive(Debug, Default)]
pub struct Vocabulary(foldhash::HashSet<Atom>);

impl Vocabulary {
    pub fn new<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        Self(words.into_iter().map(Atom::from).collect())
    }

    pub(crate) fn get(&self, word: &str) -> Option<&Atom> {
        self.0.get(word)
    }
}

//! Shared names: the namespace URIs, prefixes and local names of a parsed tree.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// An immutable string shared by every name that spells it: a message names a handful of
/// namespaces and local names thousands of times, so the reader keeps each once (the URIs
/// and prefixes of a scope's bindings, one table of local names per document) and every
/// element holds a reference. Reads, compares and hashes as a `str`. Two pointers wide at
/// most (`Option<Atom>` too), so that a `Name` costs 48 bytes.
#[derive(Clone)]
pub struct Atom(Repr);

// `&Box<str>`, not `&str`: a thin pointer, so that an atom and an `Option<Atom>` are 16 bytes.
#[allow(clippy::borrowed_box)]
#[derive(Clone)]
enum Repr {
    /// A word of a process-wide [`Vocabulary`]: cloned and dropped without touching a
    /// reference count, which every thread parsing with that vocabulary would share.
    Known(&'static Box<str>),
    Shared(Arc<Box<str>>),
}

impl Atom {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Known(word) => word,
            Repr::Shared(shared) => shared,
        }
    }

    /// Where the string lives: within one document, whose reader keeps each string once,
    /// equal addresses are equal strings.
    pub(crate) fn address(&self) -> usize {
        match &self.0 {
            Repr::Known(word) => std::ptr::from_ref::<Box<str>>(word) as usize,
            Repr::Shared(shared) => Arc::as_ptr(shared) as usize,
        }
    }
}

impl PartialEq for Atom {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Atom {}

impl Hash for Atom {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Atom {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
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
        Self(Repr::Shared(Arc::new(Box::from(s))))
    }
}

impl From<String> for Atom {
    fn from(s: String) -> Self {
        Self(Repr::Shared(Arc::new(s.into_boxed_str())))
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

/// Names a reader expects in most documents it reads (its protocols' namespace URIs,
/// prefixes and element names), made once per process: a parse takes them from here rather
/// than allocating each again ([`crate::Document::parse_with`]), and the atoms it hands out
/// share no reference count between the threads that parse.
#[derive(Debug, Default)]
pub struct Vocabulary(foldhash::HashSet<Box<str>>);

impl Vocabulary {
    pub fn new<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        Self(words.into_iter().map(Box::from).collect())
    }

    pub(crate) fn get(&'static self, word: &str) -> Option<Atom> {
        self.0.get(word).map(|known| Atom(Repr::Known(known)))
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

    #[test]
    fn a_vocabulary_word_is_the_same_atom_as_one_read_anew() {
        static WORDS: std::sync::LazyLock<Vocabulary> =
            std::sync::LazyLock::new(|| Vocabulary::new(["Body"]));
        let known = WORDS.get("Body").expect("a word of the vocabulary");
        let shared = Atom::from("Body");
        assert_eq!(known, shared);
        assert_eq!(known.cmp(&shared), Ordering::Equal);
        let map: std::collections::HashMap<Atom, u8> = [(shared, 1)].into();
        assert_eq!(map.get(&known), Some(&1));
        assert_eq!(known.address(), known.clone().address());
        assert!(WORDS.get("body").is_none());
    }
}

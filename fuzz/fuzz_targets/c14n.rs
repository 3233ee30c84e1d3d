//! Structured fuzzing of exclusive C14N.
//!
//! The input drives a generator of namespace-well-formed documents: prefix and default
//! namespace declarations, redeclarations and undeclarations (`xmlns=""`), `xml:` attributes,
//! text full of characters that need escaping, comments, processing instructions. Each
//! document is written twice, in two different but equivalent spellings (attribute order and
//! quotes, character references, CDATA, empty-element tags, redundant namespace declarations,
//! whitespace inside tags). Then, for every element as apex and the generated
//! InclusiveNamespaces PrefixList:
//! - both spellings canonicalize to the same bytes (canonicalization erases syntax), and
//! - the canonical form parses and canonicalizes to itself (idempotence).
#![no_main]

use libfuzzer_sys::arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use soap::c14n::exclusive;
use xmlbind::{parse, Limits};

const PREFIXES: &[&str] = &["a", "b", "soap", "wsu", "ns0", "é"];
const URIS: &[&str] = &[
    "urn:a",
    "urn:b",
    "http://schemas.xmlsoap.org/soap/envelope/",
    "urn:x?q=1&r=\"2\"",
    "http://example.org/ü",
    "urn:<tag>",
];
const LOCALS: &[&str] = &["e", "Body", "Id", "x", "名前", "a-b", "_z", "item"];
const XML_LOCALS: &[&str] = &["lang", "space", "base", "id"];
const CHARS: &[char] = &[
    'a', 'Z', ' ', '\t', '\n', '\r', '<', '>', '&', '"', '\'', ']', '-', '?', 'é', '😀', '\u{85}',
    '\u{2028}', '\u{a0}',
];
const PI_TARGETS: &[&str] = &["pi", "target", "x-y"];
const INCLUSIVE: &[&str] = &["a", "b", "soap", "wsu", "ns0", "é", "#default", "xml", "zz"];
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const MAX_DEPTH: usize = 6;

type Binding = (Option<&'static str>, &'static str);

#[derive(Debug)]
struct Element {
    prefix: Option<&'static str>,
    local: &'static str,
    declarations: Vec<Binding>,
    attributes: Vec<Attribute>,
    children: Vec<Child>,
}

#[derive(Debug)]
struct Attribute {
    prefix: Option<&'static str>,
    local: &'static str,
    value: String,
}

#[derive(Debug)]
enum Child {
    Element(Element),
    Text(String),
    Comment(String),
    Pi(&'static str, String),
}

#[derive(Debug)]
struct Input {
    root: Element,
    inclusive: Vec<&'static str>,
    spellings: [u64; 2],
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let root = element(u, &mut Vec::new(), 0)?;
        let mut inclusive = Vec::new();
        for _ in 0..u.int_in_range(0..=3)? {
            inclusive.push(*u.choose(INCLUSIVE)?);
        }
        Ok(Self {
            root,
            inclusive,
            spellings: [u.arbitrary()?, u.arbitrary()?],
        })
    }
}

fn bound_uri(scope: &[Binding], prefix: Option<&str>) -> Option<&'static str> {
    scope
        .iter()
        .rev()
        .find(|(p, _)| *p == prefix)
        .map(|&(_, uri)| uri)
}

fn text(u: &mut Unstructured, allowed: impl Fn(char) -> bool) -> Result<String> {
    let mut s = String::new();
    for _ in 0..u.int_in_range(0..=8)? {
        let c = *u.choose(CHARS)?;
        if allowed(c) {
            s.push(c);
        }
    }
    Ok(s)
}

fn element(u: &mut Unstructured, scope: &mut Vec<Binding>, depth: usize) -> Result<Element> {
    let mark = scope.len();
    let mut declarations: Vec<Binding> = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let prefix = if u.ratio(1, 3)? {
            None
        } else {
            Some(*u.choose(PREFIXES)?)
        };
        if declarations.iter().any(|(p, _)| *p == prefix) {
            continue;
        }
        let uri = if prefix.is_none() && u.ratio(1, 3)? {
            ""
        } else {
            *u.choose(URIS)?
        };
        declarations.push((prefix, uri));
        scope.push((prefix, uri));
    }
    let bound: Vec<&'static str> = PREFIXES
        .iter()
        .copied()
        .filter(|p| bound_uri(scope, Some(p)).is_some())
        .collect();
    let prefix = if !bound.is_empty() && u.arbitrary()? {
        Some(*u.choose(&bound)?)
    } else {
        None
    };
    let local = *u.choose(LOCALS)?;

    let mut attributes: Vec<Attribute> = Vec::new();
    let mut names: Vec<(&str, &str)> = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let (prefix, uri, local) = match u.int_in_range(0..=4)? {
            0 if !bound.is_empty() => {
                let p = *u.choose(&bound)?;
                (
                    Some(p),
                    bound_uri(scope, Some(p)).unwrap_or_default(),
                    *u.choose(LOCALS)?,
                )
            }
            1 => (Some("xml"), XML_NS, *u.choose(XML_LOCALS)?),
            _ => (None, "", *u.choose(LOCALS)?),
        };
        if names.contains(&(uri, local)) {
            continue;
        }
        names.push((uri, local));
        attributes.push(Attribute {
            prefix,
            local,
            value: text(u, |_| true)?,
        });
    }

    let mut children = Vec::new();
    if depth < MAX_DEPTH {
        for _ in 0..u.int_in_range(0..=4)? {
            children.push(match u.int_in_range(0..=4)? {
                0 | 1 => Child::Element(element(u, scope, depth + 1)?),
                2 => Child::Comment(text(u, |c| c != '-')?),
                3 => Child::Pi(u.choose(PI_TARGETS)?, text(u, |c| c != '?')?),
                _ => Child::Text(text(u, |_| true)?),
            });
        }
    }
    scope.truncate(mark);
    Ok(Element {
        prefix,
        local,
        declarations,
        attributes,
        children,
    })
}

/// Writes the model as XML, taking every free choice of spelling from a xorshift generator.
struct Writer {
    out: String,
    state: u64,
    scope: Vec<Binding>,
}

impl Writer {
    fn new(seed: u64) -> Self {
        Self {
            out: String::new(),
            state: seed | 1,
            scope: Vec::new(),
        }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn space(&mut self) {
        let s = [" ", "  ", "\n", "\t", "\r\n "][self.below(5)];
        self.out.push_str(s);
    }

    fn char_ref(&mut self, c: char) {
        let r = if self.coin() {
            format!("&#{};", c as u32)
        } else {
            format!("&#x{:X};", c as u32)
        };
        self.out.push_str(&r);
    }

    fn document(mut self, root: &Element) -> String {
        if self.coin() {
            self.out
                .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        }
        if self.coin() {
            self.out.push_str("<!-- before --><?before root?>\n");
        }
        self.element(root);
        if self.coin() {
            self.out.push_str("\n<!-- after -->\n");
        }
        self.out
    }

    fn element(&mut self, e: &Element) {
        let mark = self.scope.len();
        let mut items: Vec<(String, &str)> = Vec::new();
        for &(prefix, uri) in &e.declarations {
            items.push((
                prefix.map_or("xmlns".to_owned(), |p| format!("xmlns:{p}")),
                uri,
            ));
        }
        // A redundant redeclaration of something in scope changes nothing.
        let inherited: Vec<Binding> = self
            .scope
            .iter()
            .copied()
            .filter(|(p, _)| p.is_some() && !e.declarations.iter().any(|(q, _)| q == p))
            .collect();
        if !inherited.is_empty() && self.below(4) == 0 {
            let (prefix, _) = inherited[self.below(inherited.len())];
            let uri = bound_uri(&self.scope, prefix).unwrap_or_default();
            items.push((format!("xmlns:{}", prefix.unwrap_or_default()), uri));
        }
        self.scope.extend(e.declarations.iter().copied());
        for a in &e.attributes {
            items.push((qname(a.prefix, a.local), &a.value));
        }
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }

        let name = qname(e.prefix, e.local);
        self.out.push('<');
        self.out.push_str(&name);
        for (attr, value) in items {
            self.space();
            self.out.push_str(&attr);
            if self.coin() {
                self.space();
            }
            self.out.push('=');
            if self.coin() {
                self.space();
            }
            self.attribute_value(value);
        }
        if self.coin() {
            self.space();
        }
        if e.children.is_empty() && self.coin() {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
            for child in &e.children {
                match child {
                    Child::Element(c) => self.element(c),
                    Child::Text(t) => self.text(t),
                    Child::Comment(c) => {
                        self.out.push_str("<!--");
                        self.out.push_str(c);
                        self.out.push_str("-->");
                    }
                    Child::Pi(target, data) => {
                        self.out.push_str("<?");
                        self.out.push_str(target);
                        if !data.is_empty() {
                            self.space();
                            self.out.push_str(data);
                        }
                        self.out.push_str("?>");
                    }
                }
            }
            self.out.push_str("</");
            self.out.push_str(&name);
            if self.coin() {
                self.space();
            }
            self.out.push('>');
        }
        self.scope.truncate(mark);
    }

    fn attribute_value(&mut self, value: &str) {
        let quote = if self.coin() { '"' } else { '\'' };
        self.out.push(quote);
        for c in value.chars() {
            match c {
                '<' | '&' | '\t' | '\n' | '\r' => self.reference(c),
                c if c == quote => self.reference(c),
                c if self.below(4) == 0 => self.char_ref(c),
                c => self.out.push(c),
            }
        }
        self.out.push(quote);
    }

    fn text(&mut self, text: &str) {
        if !text.contains('\r') && !text.contains("]]>") && self.below(3) == 0 {
            self.out.push_str("<![CDATA[");
            self.out.push_str(text);
            self.out.push_str("]]>");
            return;
        }
        for c in text.chars() {
            match c {
                // `>` always escaped, so that `]]>` never appears in text.
                '<' | '&' | '>' | '\r' => self.reference(c),
                c if self.below(4) == 0 => self.char_ref(c),
                c => self.out.push(c),
            }
        }
    }

    /// A character that must be escaped: by entity where XML has one, else by number.
    fn reference(&mut self, c: char) {
        let entity = match c {
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '&' => Some("&amp;"),
            '"' => Some("&quot;"),
            '\'' => Some("&apos;"),
            _ => None,
        };
        match entity {
            Some(entity) if self.coin() => self.out.push_str(entity),
            _ => self.char_ref(c),
        }
    }
}

fn qname(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_owned(),
    }
}

/// Elements in document order.
fn preorder(root: &xmlbind::Element) -> Vec<&xmlbind::Element> {
    let mut out = Vec::new();
    let mut pending = vec![root];
    while let Some(e) = pending.pop() {
        out.push(e);
        let mut children: Vec<&xmlbind::Element> = e.elements().collect();
        children.reverse();
        pending.extend(children);
    }
    out
}

fuzz_target!(|input: Input| {
    let [first, second] = input
        .spellings
        .map(|seed| Writer::new(seed).document(&input.root));
    let limits = Limits::default();
    let a = parse(first.as_bytes(), &limits)
        .unwrap_or_else(|e| panic!("generated document refused: {e}\n{first}"));
    let b = parse(second.as_bytes(), &limits)
        .unwrap_or_else(|e| panic!("generated document refused: {e}\n{second}"));
    let (a, b) = (preorder(&a), preorder(&b));
    assert_eq!(a.len(), b.len());
    for (ea, eb) in a.into_iter().zip(b) {
        let canonical = exclusive(ea, &input.inclusive);
        let text = String::from_utf8_lossy(&canonical);
        assert_eq!(
            String::from_utf8_lossy(&exclusive(eb, &input.inclusive)),
            text,
            "two spellings canonicalize differently:\n{first}\n{second}"
        );
        let reparsed = parse(
            &canonical,
            &Limits {
                max_attributes: usize::MAX,
                ..limits
            },
        )
        .unwrap_or_else(|e| panic!("canonical form does not parse: {e}\n{text}"));
        assert_eq!(
            String::from_utf8_lossy(&exclusive(&reparsed, &input.inclusive)),
            text,
            "canonical form is not a fixed point"
        );
    }
});

//! The hardened reader: untrusted bytes into a [`Document`].
//!
//! quick-xml tokenizes; everything XML 1.0 and Namespaces in XML demand beyond tokens is
//! checked here, because quick-xml leaves it to its users: the input is normalized first
//! (encoding to UTF-8, line ends to `\n`, every character an XML `Char`), then names are
//! checked against the `Name` production, references are resolved with only the five
//! predefined entities, attribute values are normalized, prefixes are resolved and
//! declarations checked, and only misc may surround the one root element.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::atom::{Atom, Vocabulary};
use crate::dom::Element;
use crate::error::Position;
use crate::error::{ErrorKind, XmlError};
use crate::names::{Limits, Name, NamespaceScope};
use crate::tree::{AttributeSlot, Document, ElementSlot, Slot};
use crate::XML_NS;

/// The namespace bound to the reserved `xmlns` prefix; nothing may be declared to it.
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";
/// Longest element, attribute or processing-instruction name.
const MAX_NAME: usize = 1024;

/// Parses a whole document into an owned tree, refusing DTDs and anything beyond `limits`.
/// Comments and processing instructions inside the root element are kept (canonicalization
/// needs to know of them); those outside it are dropped. [`Document::parse`] reads the same
/// way into the compact arena, which is what the SOAP layer and generated code read.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    Document::parse(bytes, limits).map(|document| document.root().to_element())
}

impl Document {
    /// Parses a whole document, refusing DTDs and anything beyond `limits` (see [`parse`],
    /// which reads the same way into an owned [`Element`]). Here, beside the reader, so that
    /// the tree's module does not depend on the module that builds it.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, XmlError> {
        read(bytes, limits, None)
    }

    /// Parses as [`Document::parse`] does, taking the names `vocabulary` holds from it.
    pub fn parse_with(
        bytes: &[u8],
        limits: &Limits,
        vocabulary: &'static Vocabulary,
    ) -> Result<Self, XmlError> {
        read(bytes, limits, Some(vocabulary))
    }
}

fn read(
    bytes: &[u8],
    limits: &Limits,
    vocabulary: Option<&'static Vocabulary>,
) -> Result<Document, XmlError> {
    // Spans are 32-bit offsets into the document's strings, which the input bounds.
    let limit = limits.max_bytes.min(u32::MAX as usize);
    if bytes.len() > limit {
        return Err(ErrorKind::TooLarge {
            size: bytes.len(),
            limit,
        }
        .into());
    }
    let text = normalize(bytes)?;
    let mut document = Parser::new(&text, limits, vocabulary).run()?;
    // The estimates the buffers were sized by are upper bounds.
    document.slots.shrink_to_fit();
    document.strings.shrink_to_fit();
    Ok(document)
}

/// The document as UTF-8 with `\r\n` and lone `\r` turned into `\n` (XML 1.0 §2.11),
/// refusing characters outside `Char` (§2.2) and encodings other than UTF-8, US-ASCII and
/// ISO-8859-1.
fn normalize(bytes: &[u8]) -> Result<Cow<'_, str>, XmlError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text: Cow<'_, str> = match declared_encoding(bytes)?.as_deref() {
        None | Some("utf-8" | "utf8" | "us-ascii" | "ascii") => {
            Cow::Borrowed(std::str::from_utf8(bytes).map_err(|e| {
                malformed_at(
                    format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                    bytes,
                    e.valid_up_to(),
                )
            })?)
        }
        Some("iso-8859-1" | "latin1" | "latin-1" | "iso_8859-1") => {
            Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())
        }
        Some(other) => {
            return Err(ErrorKind::Malformed(format!("unsupported encoding {other:?}")).into())
        }
    };
    let scanned = scan(text.as_bytes());
    if let Some(at) = scanned.non_char {
        return Err(malformed_at(
            "a character XML does not allow".into(),
            text.as_bytes(),
            at,
        ));
    }
    if !scanned.carriage_return {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            chars.next_if_eq(&'\n');
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    Ok(Cow::Owned(out))
}

/// What one pass over UTF-8 text finds.
struct Scanned {
    /// The offset of the first character outside XML's `Char`: a control character other
    /// than tab and line ends, or U+FFFE or U+FFFF (`EF BF BE`, `EF BF BF`).
    non_char: Option<usize>,
    /// Whether a carriage return is there, to be normalized.
    carriage_return: bool,
}

/// Scans `text` in blocks without early exit, which the compiler vectorizes; only a block
/// that may hold a character outside `Char` is looked at byte by byte.
fn scan(text: &[u8]) -> Scanned {
    const BLOCK: usize = 64;
    let suspect = |b: u8| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) | (b == 0xEF);
    let bad_at = |at: usize| match text[at] {
        0xEF => text
            .get(at + 1..at + 3)
            .is_some_and(|t| matches!(t, [0xBF, 0xBE | 0xBF])),
        _ => true,
    };
    let mut carriage_return = false;
    for (i, block) in text.chunks(BLOCK).enumerate() {
        let (any_suspect, any_return) = block.iter().fold((false, false), |(s, r), &b| {
            (s | suspect(b), r | (b == b'\r'))
        });
        carriage_return |= any_return;
        if any_suspect {
            let start = i * BLOCK;
            let found = (start..start + block.len()).find(|&at| suspect(text[at]) && bad_at(at));
            if found.is_some() {
                return Scanned {
                    non_char: found,
                    carriage_return,
                };
            }
        }
    }
    Scanned {
        non_char: None,
        carriage_return,
    }
}

/// How many bytes of `bytes` satisfy `test`, counted without early exit in byte-wide
/// counters over blocks of 255, which the compiler vectorizes a vector's width at a time
/// (a wider counter would take a quarter of the lanes).
fn count(bytes: &[u8], test: impl Fn(u8) -> bool) -> usize {
    bytes
        .chunks(usize::from(u8::MAX))
        .map(|block| usize::from(block.iter().fold(0u8, |n, &b| n + u8::from(test(b)))))
        .sum()
}

/// The lowercased `encoding` of the XML declaration, if the document starts with one.
fn declared_encoding(bytes: &[u8]) -> Result<Option<String>, XmlError> {
    let Some(rest) = bytes.strip_prefix(b"<?xml") else {
        return Ok(None);
    };
    if !rest.first().is_some_and(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    let end = find(rest, b"?>").unwrap_or(rest.len());
    let declaration = String::from_utf8_lossy(&rest[..end]);
    let Some((_, after)) = declaration.split_once("encoding") else {
        return Ok(None);
    };
    let after = after.trim_start().strip_prefix('=').map(str::trim_start);
    let value = after.and_then(|a| {
        let quote = a.chars().next().filter(|q| matches!(q, '"' | '\''))?;
        a[1..].split_once(quote).map(|(v, _)| v)
    });
    match value {
        Some(v) => Ok(Some(v.to_ascii_lowercase())),
        None => Err(ErrorKind::Malformed("malformed encoding declaration".into()).into()),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn malformed_at(message: String, text: &[u8], at: usize) -> XmlError {
    XmlError::at(ErrorKind::Malformed(message), Lines::position_of(text, at))
}

/// Turns byte offsets, which only grow, into lines and columns without rescanning.
struct Lines<'a> {
    text: &'a [u8],
    /// Whether every character is one byte, so that columns are byte counts.
    ascii: bool,
    offset: usize,
    position: Position,
    /// The first line end at or after `offset`: a segment before it is within a line.
    next_line_end: Option<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            ascii: text.is_ascii(),
            offset: 0,
            position: Position { line: 1, column: 1 },
            next_line_end: memchr::memchr(b'\n', text),
        }
    }

    fn position_of(text: &[u8], at: usize) -> Position {
        Lines::new(text).advance(at)
    }

    /// The position of byte `at`; columns count characters.
    fn advance(&mut self, at: usize) -> Position {
        let at = at.min(self.text.len());
        if at > self.offset {
            let segment = &self.text[self.offset..at];
            // Every byte of a character but its continuation bytes (`10xxxxxx`).
            let ascii = self.ascii;
            let chars = |s: &[u8]| {
                if ascii {
                    saturate(s.len())
                } else {
                    saturate(count(s, |b| b & 0xC0 != 0x80))
                }
            };
            if self.next_line_end.is_none_or(|end| end >= at) {
                self.position.column = self.position.column.saturating_add(chars(segment));
            } else {
                let lines = memchr::memchr_iter(b'\n', segment).count();
                let last = memchr::memrchr(b'\n', segment).unwrap_or(0);
                self.position.line = self.position.line.saturating_add(saturate(lines));
                self.position.column = chars(&segment[last + 1..]).saturating_add(1);
                self.next_line_end = memchr::memchr(b'\n', &self.text[at..]).map(|end| at + end);
            }
            self.offset = at;
        }
        self.position
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A start tag's namespace declarations (`None` declares the default namespace) and its
/// other attributes, with their values normalized.
type StartTag<'a> = (
    Vec<(Option<&'a str>, Cow<'a, str>)>,
    Vec<(&'a str, Cow<'a, str>)>,
);

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    text: &'a str,
    lines: Lines<'a>,
    limits: &'a Limits,
    /// The slots of the open elements, innermost last.
    stack: Vec<u32>,
    /// Whether the last slot is a text node still open to more characters.
    in_text: bool,
    /// The namespace declarations and other attributes of the start tag being read: buffers
    /// kept from one start tag to the next.
    start_tag: StartTag<'a>,
    /// Every local name, prefix and namespace URI read so far, each kept once.
    atoms: Atoms,
    /// The index in `parsed.names` of each `(qualified name, namespace URI)` read so far.
    names: foldhash::HashMap<(&'a str, usize), u32>,
    /// Nodes read, those outside the root element (dropped) included.
    nodes: usize,
    seen_root: bool,
    parsed: Document,
}

/// The strings of a document's names, each kept once: a message declares the same few
/// namespaces again and again (each signed header, each reference's transform). Those the
/// reader's vocabulary knows are shared with it.
#[derive(Debug)]
struct Atoms {
    read: foldhash::HashSet<Atom>,
    vocabulary: Option<&'static Vocabulary>,
}

impl Atoms {
    fn get(&mut self, s: &str) -> Atom {
        // The vocabulary first: it holds most names, and a word it holds is always taken
        // from it, so each string still has one atom in the document.
        if let Some(known) = self.vocabulary.and_then(|v| v.get(s)) {
            return known;
        }
        if let Some(atom) = self.read.get(s) {
            return atom.clone();
        }
        let atom = Atom::from(s);
        self.read.insert(atom.clone());
        atom
    }
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, limits: &'a Limits, vocabulary: Option<&'static Vocabulary>) -> Self {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        // Every node but a text starts with `<`, and every text inside the root ends before
        // one: sized so, the slots rarely grow (a grown vector briefly holds both buffers).
        // What the strings hold is at most the input (references only shrink).
        let tags = count(text.as_bytes(), |b| b == b'<');
        Self {
            reader,
            text,
            lines: Lines::new(text.as_bytes()),
            limits,
            stack: Vec::with_capacity(16),
            in_text: false,
            start_tag: StartTag::default(),
            atoms: Atoms {
                read: foldhash::HashSet::with_capacity_and_hasher(64, Default::default()),
                vocabulary,
            },
            names: foldhash::HashMap::with_capacity_and_hasher(64, Default::default()),
            nodes: 0,
            seen_root: false,
            parsed: Document {
                slots: Vec::with_capacity(tags.min(limits.max_nodes) + 1),
                // Guesses that spare a message of a few dozen elements (a signed SOAP
                // request) any regrowth, without reserving much for larger ones.
                attributes: Vec::with_capacity((2 * tags).min(256)),
                names: Vec::with_capacity(tags.min(64)),
                scopes: Vec::with_capacity(tags.min(16)),
                strings: String::with_capacity(text.len()),
            },
        }
    }

    fn run(mut self) -> Result<Document, XmlError> {
        let mut first = true;
        loop {
            let start = self.reader.buffer_position() as usize;
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let at = self.reader.error_position() as usize;
                    return Err(self.error_at(ErrorKind::Malformed(e.to_string()), at));
                }
            };
            let position = self.lines.advance(start);
            let is_text = matches!(
                event,
                Event::Text(_) | Event::CData(_) | Event::GeneralRef(_)
            );
            if !is_text {
                self.in_text = false;
            }
            match event {
                Event::Decl(decl) if first && start == 0 => {
                    let version = decl
                        .version()
                        .map_err(|e| XmlError::at(ErrorKind::Malformed(e.to_string()), position))?;
                    if &*version != b"1.0" {
                        return Err(XmlError::at(
                            ErrorKind::Malformed(format!(
                                "XML {} documents are not accepted",
                                String::from_utf8_lossy(&version)
                            )),
                            position,
                        ));
                    }
                }
                Event::Decl(_) => {
                    return Err(XmlError::at(
                        ErrorKind::Malformed("an XML declaration that is not at the start".into()),
                        position,
                    ))
                }
                Event::DocType(_) => return Err(XmlError::at(ErrorKind::Doctype, position)),
                Event::Start(tag) => self.start(&tag, position)?,
                Event::Empty(tag) => {
                    self.start(&tag, position)?;
                    self.end(position)?;
                }
                Event::End(_) => self.end(position)?,
                Event::Text(raw) => {
                    let raw = self.str(&raw, start)?;
                    if raw.contains("]]>") {
                        return Err(malformed("]]> in text", position));
                    }
                    self.characters(raw, position)?;
                }
                Event::CData(_) | Event::GeneralRef(_) if self.stack.is_empty() => {
                    return Err(malformed(
                        "character data outside the root element",
                        position,
                    ))
                }
                Event::CData(raw) => {
                    let raw = self.str(&raw, start)?;
                    self.characters(raw, position)?;
                }
                Event::GeneralRef(name) => {
                    let name = self.str(&name, start)?;
                    let c = resolve_reference(name).ok_or_else(|| {
                        malformed(&format!("undeclared entity reference &{name};"), position)
                    })?;
                    self.characters(c.encode_utf8(&mut [0; 4]), position)?;
                }
                Event::Comment(raw) => {
                    let raw = self.str(&raw, start)?;
                    if raw.ends_with('-') {
                        return Err(malformed("a comment ending in -", position));
                    }
                    self.check_text_length(raw.len(), position)?;
                    // Kept inside the root element, dropped outside it.
                    self.count_node(position)?;
                    if !self.stack.is_empty() {
                        let slot = Slot::Comment(self.parsed.store(raw));
                        self.parsed.slots.push(slot);
                    }
                }
                Event::PI(pi) => {
                    let raw = self.str(&pi, start)?;
                    let (target, data) = match raw.split_once([' ', '\t', '\n']) {
                        Some((target, data)) => {
                            (target, data.trim_start_matches([' ', '\t', '\n']))
                        }
                        None => (raw, ""),
                    };
                    if !is_ncname(target) || target.eq_ignore_ascii_case("xml") {
                        return Err(malformed(
                            &format!("invalid processing instruction target {target:?}"),
                            position,
                        ));
                    }
                    self.check_text_length(data.len(), position)?;
                    self.count_node(position)?;
                    if !self.stack.is_empty() {
                        let slot = Slot::ProcessingInstruction {
                            target: self.parsed.store(target),
                            data: self.parsed.store(data),
                        };
                        self.parsed.slots.push(slot);
                    }
                }
                Event::Eof => {
                    if !self.stack.is_empty() {
                        return Err(malformed("unclosed elements at the end", position));
                    }
                    if !self.seen_root {
                        return Err(malformed("no root element", position));
                    }
                    return Ok(self.parsed);
                }
            }
            first = false;
        }
    }

    /// The UTF-8 text of an event's bytes (always valid: they are a slice of a `str`).
    fn str(&self, raw: &[u8], start: usize) -> Result<&'a str, XmlError> {
        // Events borrow from the input, so their bytes sit inside `self.text`; find them there
        // to hand out `&'a str` without copying.
        let offset = self.offset_of(raw);
        self.text
            .get(offset..offset + raw.len())
            .ok_or_else(|| self.error_at(ErrorKind::Malformed("bad UTF-8 boundary".into()), start))
    }

    fn offset_of(&self, raw: &[u8]) -> usize {
        (raw.as_ptr() as usize).wrapping_sub(self.text.as_ptr() as usize)
    }

    fn error_at(&self, kind: ErrorKind, at: usize) -> XmlError {
        XmlError::at(kind, Lines::position_of(self.text.as_bytes(), at))
    }

    fn check_text_length(&self, len: usize, position: Position) -> Result<(), XmlError> {
        if len > self.limits.max_text {
            return Err(XmlError::at(ErrorKind::LimitExceeded, position));
        }
        Ok(())
    }

    fn count_node(&mut self, position: Position) -> Result<(), XmlError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(XmlError::at(
                ErrorKind::TooManyNodes(self.limits.max_nodes),
                position,
            ));
        }
        Ok(())
    }

    /// Character data, appended to the text node being read; outside the root element only
    /// whitespace may stand.
    fn characters(&mut self, text: &str, position: Position) -> Result<(), XmlError> {
        if self.stack.is_empty() {
            if text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n')) {
                return Ok(());
            }
            return Err(malformed("text outside the root element", position));
        }
        if self.in_text {
            // The text being read is the last of the strings: the piece joins it there.
            if let Some(Slot::Text(open)) = self.parsed.slots.last_mut() {
                let len = open.len as usize + text.len();
                open.len = len as u32;
                self.parsed.strings.push_str(text);
                return self.check_text_length(len, position);
            }
        }
        self.check_text_length(text.len(), position)?;
        self.count_node(position)?;
        let span = self.parsed.store(text);
        self.parsed.slots.push(Slot::Text(span));
        self.in_text = true;
        Ok(())
    }

    fn start(&mut self, tag: &BytesStart<'_>, position: Position) -> Result<(), XmlError> {
        if self.stack.is_empty() && self.seen_root {
            return Err(malformed("a second root element", position));
        }
        self.count_node(position)?;
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmlError::at(
                ErrorKind::TooDeep(self.limits.max_depth),
                position,
            ));
        }
        let start = self.lines.offset;
        // Checked where it is resolved, the first time the document uses it.
        let qname = self.str(tag.name().as_ref(), start)?;

        // Declarations first: they apply to the element's own name and attributes.
        let (mut declared, mut raw_attributes) = std::mem::take(&mut self.start_tag);
        declared.clear();
        raw_attributes.clear();
        // quick-xml's check for repeated attributes allocates for each start tag; repeated
        // names are refused below instead: declarations here, attributes once resolved (the
        // same name twice is the same expanded name twice).
        let mut attributes = tag.attributes();
        attributes.with_checks(false);
        for attribute in attributes {
            let attribute = attribute.map_err(|e| malformed(&e.to_string(), position))?;
            let key = self.str(attribute.key.as_ref(), start)?;
            let raw = self.str(&attribute.value, start)?;
            let value = attribute_value(raw, self.limits.max_text, position)?;
            let prefix = if key == "xmlns" {
                Some(None)
            } else {
                key.strip_prefix("xmlns:").map(Some)
            };
            if let Some(prefix) = prefix {
                check_qname(key, position)?;
                if declared.iter().any(|(p, _)| *p == prefix) {
                    return Err(malformed(&format!("attribute {key} given twice"), position));
                }
                declared.push((prefix, value));
            } else {
                raw_attributes.push((key, value));
                if raw_attributes.len() > self.limits.max_attributes {
                    return Err(XmlError::at(ErrorKind::LimitExceeded, position));
                }
                continue;
            }
            if declared.len() > self.limits.max_attributes {
                return Err(XmlError::at(
                    ErrorKind::TooManyNamespaces(self.limits.max_attributes),
                    position,
                ));
            }
        }
        for (prefix, uri) in &declared {
            check_declaration(*prefix, uri, position)?;
        }

        let parent_scope =
            self.stack
                .last()
                .and_then(|&parent| match self.parsed.slots.get(parent as usize) {
                    Some(Slot::Element(parent)) => Some(parent.scope),
                    _ => None,
                });
        let scope = match parent_scope {
            // Redeclaring what is in scope (as most writers do) changes nothing.
            Some(parent)
                if declared.iter().all(|(p, uri)| {
                    self.parsed.scopes[parent as usize].resolve(*p) == Some(&**uri)
                }) =>
            {
                parent
            }
            parent => {
                let mut bindings: Vec<(Option<Atom>, Atom)> = parent
                    .map(|p| {
                        self.parsed.scopes[p as usize]
                            .bindings()
                            .iter()
                            .filter(|(p, _)| !declared.iter().any(|(d, _)| *d == p.as_deref()))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                let atoms = &mut self.atoms;
                bindings.extend(
                    declared
                        .drain(..)
                        .map(|(p, uri)| (p.map(|p| atoms.get(p)), atoms.get(&uri))),
                );
                if bindings.len() > self.limits.max_attributes {
                    return Err(XmlError::at(
                        ErrorKind::TooManyNamespaces(self.limits.max_attributes),
                        position,
                    ));
                }
                self.parsed
                    .scopes
                    .push(NamespaceScope::from_bindings(bindings));
                (self.parsed.scopes.len() - 1) as u32
            }
        };

        let name = self.resolve(scope, qname, true, position)?;
        let first_attribute = self.parsed.attributes.len();
        for (key, value) in raw_attributes.drain(..) {
            let name = self.resolve(scope, key, false, position)?;
            let given = &self.parsed.attributes[first_attribute..];
            let names = &self.parsed.names;
            let (new_local, new_namespace) =
                (&names[name as usize].local, &names[name as usize].namespace);
            if given.iter().any(|a| {
                let old = &names[a.name as usize];
                old.local == *new_local && old.namespace == *new_namespace
            }) {
                return Err(malformed(
                    &format!("attribute {} given twice", names[name as usize].expanded()),
                    position,
                ));
            }
            let value = self.parsed.store(&value);
            self.parsed.attributes.push(AttributeSlot { name, value });
        }
        self.start_tag = (declared, raw_attributes);
        self.stack.push(self.parsed.slots.len() as u32);
        self.parsed.slots.push(Slot::Element(ElementSlot {
            name,
            scope,
            first_attribute: first_attribute as u32,
            end_attribute: self.parsed.attributes.len() as u32,
            end: 0,
            position,
        }));
        Ok(())
    }

    /// The index in the name table of an element (`element`) or attribute name with its
    /// prefix resolved in scope `scope`; an unprefixed attribute is in no namespace. A new
    /// name shares its prefix and URI with the binding that declared them, and its local
    /// name with every other use of it.
    fn resolve(
        &mut self,
        scope: u32,
        qname: &'a str,
        element: bool,
        position: Position,
    ) -> Result<u32, XmlError> {
        let scope = &self.parsed.scopes[scope as usize];
        let (prefix, local) = split_qname(qname);
        let (prefix, namespace) = match prefix {
            Some("xmlns") if element => {
                return Err(malformed("an element in the xmlns namespace", position))
            }
            None if !element => (None, None),
            None => {
                let uri = scope.binding(None).map(|(_, uri)| uri);
                (None, uri.filter(|u| !u.is_empty()).cloned())
            }
            Some("xml") => (Some(self.atoms.get("xml")), Some(self.atoms.get(XML_NS))),
            Some(p) => {
                let Some((prefix, uri)) = scope.binding(Some(p)) else {
                    // A name that is no name at all is reported as such.
                    check_qname(qname, position)?;
                    return Err(XmlError::at(
                        ErrorKind::UndeclaredPrefix(p.to_owned()),
                        position,
                    ));
                };
                (prefix.clone(), Some(uri.clone()))
            }
        };
        let key = (qname, namespace.as_ref().map_or(0, Atom::address));
        if let Some(&index) = self.names.get(&key) {
            // The same spelling was checked when it was first read.
            return Ok(index);
        }
        check_qname(qname, position)?;
        let local = self.atoms.get(local);
        let index = self.parsed.names.len() as u32;
        self.parsed.names.push(Name {
            namespace,
            local,
            prefix,
        });
        self.names.insert(key, index);
        Ok(index)
    }

    fn end(&mut self, position: Position) -> Result<(), XmlError> {
        let Some(open) = self.stack.pop() else {
            return Err(malformed("unbalanced end tag", position));
        };
        let end = self.parsed.slots.len() as u32;
        if let Some(Slot::Element(element)) = self.parsed.slots.get_mut(open as usize) {
            element.end = end;
        }
        // Read on to the end: what follows the root must be well-formed too.
        self.seen_root |= self.stack.is_empty();
        Ok(())
    }
}

fn malformed(message: &str, position: Position) -> XmlError {
    XmlError::at(ErrorKind::Malformed(message.to_owned()), position)
}

/// The character a predefined entity or character reference (`name` between `&` and `;`)
/// stands for.
fn resolve_reference(name: &str) -> Option<char> {
    let code = match name {
        "lt" => return Some('<'),
        "gt" => return Some('>'),
        "amp" => return Some('&'),
        "apos" => return Some('\''),
        "quot" => return Some('"'),
        _ => match name.strip_prefix("#x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => name.strip_prefix('#')?.parse::<u32>().ok()?,
        },
    };
    // `from_str_radix` and `parse` accept a sign; a reference does not.
    if name.contains(['+', '-']) {
        return None;
    }
    char::from_u32(code).filter(|&c| is_xml_char(c))
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// An attribute value with references resolved and whitespace normalized (XML 1.0 §3.3.3:
/// each literal tab and line end becomes a space; those written as references stay).
fn attribute_value(
    raw: &str,
    max_text: usize,
    position: Position,
) -> Result<Cow<'_, str>, XmlError> {
    // One pass over the value for the four bytes that matter, without early exit, which
    // the compiler vectorizes.
    let (mut less_than, mut special) = (false, false);
    for &b in raw.as_bytes() {
        less_than |= b == b'<';
        special |= matches!(b, b'&' | b'\t' | b'\n');
    }
    if less_than {
        return Err(malformed("< in an attribute value", position));
    }
    if !special {
        if raw.len() > max_text {
            return Err(XmlError::at(ErrorKind::LimitExceeded, position));
        }
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find(['&', '\t', '\n']) {
        out.push_str(&rest[..at]);
        if rest.as_bytes()[at] == b'&' {
            let after = &rest[at + 1..];
            let end = after
                .find(';')
                .ok_or_else(|| malformed("& without ; in an attribute value", position))?;
            let name = &after[..end];
            let c = resolve_reference(name).ok_or_else(|| {
                malformed(&format!("undeclared entity reference &{name};"), position)
            })?;
            out.push(c);
            rest = &after[end + 1..];
        } else {
            out.push(' ');
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    if out.len() > max_text {
        return Err(XmlError::at(ErrorKind::LimitExceeded, position));
    }
    Ok(Cow::Owned(out))
}

/// Refuses declarations Namespaces in XML 1.0 forbids: an empty URI for a prefix, the `xml`
/// prefix bound elsewhere or its URI bound to another prefix, and anything for `xmlns`.
fn check_declaration(prefix: Option<&str>, uri: &str, position: Position) -> Result<(), XmlError> {
    let bad = match prefix {
        Some("xmlns") => true,
        Some("xml") => uri != XML_NS,
        Some(p) => !is_ncname(p) || uri.is_empty() || uri == XML_NS || uri == XMLNS_NS,
        None => uri == XML_NS || uri == XMLNS_NS,
    };
    if bad {
        return Err(malformed(
            &format!(
                "namespace declaration xmlns{}=\"{uri}\" is not allowed",
                prefix.map(|p| format!(":{p}")).unwrap_or_default()
            ),
            position,
        ));
    }
    Ok(())
}

/// A name as Namespaces in XML 1.0 allows it: `NCName` or `NCName:NCName`.
fn check_qname(qname: &str, position: Position) -> Result<(), XmlError> {
    if qname.len() > MAX_NAME {
        return Err(XmlError::at(ErrorKind::LimitExceeded, position));
    }
    let ok = if qname.is_ascii() {
        is_ascii_qname(qname.as_bytes())
    } else {
        match split_qname(qname) {
            (Some(prefix), local) => is_ncname(prefix) && is_ncname(local),
            (None, local) => is_ncname(local),
        }
    };
    if ok {
        Ok(())
    } else {
        Err(malformed(&format!("invalid name {qname:?}"), position))
    }
}

/// `NCName(:NCName)?` over ASCII, in one pass: each part begins with a name-start byte.
fn is_ascii_qname(bytes: &[u8]) -> bool {
    let (mut ok, mut part_start, mut colons) = (true, true, 0u32);
    for &b in bytes {
        if b == b':' {
            ok &= !part_start;
            colons += 1;
            part_start = true;
        } else {
            let class = ASCII_NAME[usize::from(b & 0x7F)];
            ok &= class & if part_start { 1 } else { 2 } != 0;
            part_start = false;
        }
    }
    ok && !part_start && colons <= 1
}

/// A qualified name's prefix, if any, and local part. Names are short: a plain scan beats
/// a searcher's set-up.
fn split_qname(qname: &str) -> (Option<&str>, &str) {
    match qname.bytes().position(|b| b == b':') {
        Some(at) => (Some(&qname[..at]), &qname[at + 1..]),
        None => (None, qname),
    }
}

/// Of each ASCII byte, whether it may start an `NCName` (bit 0) and whether it may follow in
/// one (bit 1): one lookup a byte.
const ASCII_NAME: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        let start = c.is_ascii_alphabetic() || c == b'_';
        let follow = start || c.is_ascii_digit() || c == b'-' || c == b'.';
        table[b] = (start as u8) | ((follow as u8) << 1);
        b += 1;
    }
    table
};

/// XML 1.0 (fifth edition) `Name` without colons.
fn is_ncname(name: &str) -> bool {
    if name.is_ascii() {
        return !name.contains(':') && is_ascii_qname(name.as_bytes());
    }
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(|c| is_name_start(c) || is_name_char(c))
}

fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn parse_default(doc: &[u8]) -> Result<Element, XmlError> {
        parse(doc, &Limits::default())
    }

    fn text_of(doc: &[u8]) -> String {
        parse_default(doc).unwrap().text().unwrap()
    }

    #[test]
    fn what_quick_xml_leaves_to_us_is_refused() {
        // Each is malformed XML 1.0 or Namespaces in XML that a tokenizer lets through.
        let refused: &[&[u8]] = &[
            b"<a>&ent;</a>",
            b"<a x='&ent;'/>",
            b"<a>&#0;</a>",
            b"<a>&#xD800;</a>",
            b"<a>&#-5;</a>",
            b"<a>\x01</a>",
            b"<a>\xEF\xBF\xBE</a>",
            b"<a>\xFF</a>",
            b"<a>]]></a>",
            b"<a><!-- x ---></a>",
            b"<a><?xml x?></a>",
            b"<a><?XmL x?></a>",
            b"<a x='<'/>",
            b"<a p:x='1'/>",
            b"<p:a/>",
            b"<a xmlns:p=''/>",
            b"<a xmlns:xml='urn:x'/>",
            b"<a xmlns:p='http://www.w3.org/XML/1998/namespace'/>",
            b"<a xmlns:xmlns='urn:x'/>",
            b"<a xmlns='http://www.w3.org/2000/xmlns/'/>",
            b"<xmlns:a/>",
            b"<a xmlns:p='urn:x' xmlns:q='urn:x' p:x='1' q:x='2'/>",
            b"<a x='1' x='2'/>",
            b"<a xmlns:p='urn:x' xmlns:p='urn:x'/>",
            b"<a xmlns='urn:x' xmlns='urn:y'/>",
            b"<p:a xmlns:p='urn:x' p:x='1' p:x='1'/>",
            b"<1a/>",
            b"<a:b:c xmlns:a='urn:a'/>",
            b"<a/>&#32;",
            b"<a/><![CDATA[ ]]>",
            b"<a/>\n<?xml version='1.0'?>",
            b" <?xml version='1.0'?><a/>",
            b"<?xml version='1.0' encoding='UTF-16'?><a/>",
            b"<?xml version='2.0'?><a/>",
        ];
        for doc in refused {
            assert!(
                parse_default(doc).is_err(),
                "accepted {}",
                String::from_utf8_lossy(doc)
            );
        }
    }

    #[test]
    fn line_ends_and_attribute_values_are_normalized() {
        assert_eq!(text_of(b"<a>1\r\n2\r3&#13;4</a>"), "1\n2\n3\r4");
        let e = parse_default(b"<a x='\t1\r\n2&#9;&#10;&lt;&amp;&quot;&apos;'/>").unwrap();
        assert_eq!(e.attribute(None, "x"), Some(" 1 2\t\n<&\"'"));
    }

    #[test]
    fn text_is_one_node_across_references_and_cdata() {
        let e = parse_default(b"<a>x&amp;y<![CDATA[<z>]]>&#x41;</a>").unwrap();
        assert_eq!(e.children.len(), 1);
        assert_eq!(e.text().unwrap(), "x&y<z>A");
    }

    #[test]
    fn declared_encodings_are_honoured() {
        let latin1 = b"<?xml version='1.0' encoding='ISO-8859-1'?><a>\xE9</a>";
        assert_eq!(text_of(latin1), "é");
        assert_eq!(text_of("\u{feff}<a>é</a>".as_bytes()), "é");
        assert_eq!(
            text_of(b"<?xml version=\"1.0\" encoding=\"utf-8\"?><a>1</a>"),
            "1"
        );
    }

    #[test]
    fn redeclaring_a_binding_in_scope_shares_the_scope() {
        let e = parse_default(
            b"<p:a xmlns:p='urn:p'><p:b xmlns:p='urn:p'/><p:c xmlns:p='urn:q'/></p:a>",
        )
        .unwrap();
        let children: Vec<&Element> = e.elements().collect();
        assert!(Arc::ptr_eq(&e.scope, &children[0].scope));
        assert_eq!(children[1].name.namespace.as_deref(), Some("urn:q"));
        assert_eq!(children[1].scope.resolve(Some("p")), Some("urn:q"));
    }

    #[test]
    fn names_the_vocabulary_knows_are_taken_from_it() {
        static VOCABULARY: std::sync::LazyLock<Vocabulary> =
            std::sync::LazyLock::new(|| Vocabulary::new(["urn:p", "a"]));
        let doc = b"<p:a xmlns:p='urn:p'><p:b/><a/></p:a>";
        let read = Document::parse_with(doc, &Limits::default(), &VOCABULARY).unwrap();
        let root = read.root();
        let known = |word: &str| VOCABULARY.get(word).as_ref().map(Atom::address);
        assert_eq!(Some(root.name().local.address()), known("a"));
        let namespace = root.name().namespace.as_ref().map(Atom::address);
        assert_eq!(namespace, known("urn:p"));
        let b = root.elements().next().unwrap();
        assert_eq!(b.name().local, "b");
        assert_eq!(
            b.name().namespace.as_ref().map(Atom::address),
            known("urn:p")
        );
        // The same document as without one.
        let plain = Document::parse(doc, &Limits::default()).unwrap();
        assert_eq!(read.root().to_element(), plain.root().to_element());
    }

    #[test]
    fn qualified_names_are_checked_in_one_pass() {
        for good in ["a", "_x.y-z9", "p:l", "ns1:Body", "A:B"] {
            assert!(is_ascii_qname(good.as_bytes()), "{good}");
            assert!(check_qname(good, Position::default()).is_ok());
        }
        for bad in [
            "", ":", "a:", ":a", "a:b:c", "1a", "a:1b", "-a", "a b", "a::b",
        ] {
            assert!(!is_ascii_qname(bad.as_bytes()), "{bad:?}");
        }
        assert!(check_qname("é:ü", Position::default()).is_ok());
        assert!(check_qname("é:1", Position::default()).is_err());
    }

    #[test]
    fn positions_follow_line_ends() {
        let e = parse_default(b"<a>\n <b/>\r\n\n  <c/><d/>\n</a>").unwrap();
        let at = |name: &str| e.child(None, name).unwrap().position;
        assert_eq!(at("b"), Position { line: 2, column: 2 });
        assert_eq!(at("c"), Position { line: 4, column: 3 });
        assert_eq!(at("d"), Position { line: 4, column: 7 });
    }

    #[test]
    fn columns_count_characters() {
        let err = parse_default("<a>é\n  éé<b></c></a>".as_bytes()).unwrap_err();
        let position = err.position.unwrap();
        assert_eq!(position.line, 2);
        let e = parse_default("<a>éé<b/></a>".as_bytes()).unwrap();
        assert_eq!(
            e.child(None, "b").unwrap().position,
            Position { line: 1, column: 6 }
        );
    }
}

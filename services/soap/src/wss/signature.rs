//! The `ds:Signature` element: written for outgoing messages, read strictly from incoming ones.
//! Only the shape WS-Security uses is accepted: exclusive C14N for SignedInfo and as the one
//! transform of each reference, RSA signatures, SHA digests, KeyInfo left to the caller.

use std::borrow::Cow;

use xmlbind::{Base64Binary, ElementRef, XmlText};

use super::algorithm::{DigestAlgorithm, SignatureAlgorithm};
use super::{WssError, DS_NS, EXC_C14N, WSSE_NS, X509V3};
use crate::c14n;

/// More references than any profile of ours signs (Body, Timestamp, four addressing headers).
const MAX_REFERENCES: usize = 16;

/// What SignedInfo says: borrowed from the message where it was read, owned where it is
/// being written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedInfo<'a> {
    /// InclusiveNamespaces PrefixList of the canonicalization method.
    pub(crate) c14n_prefixes: PrefixList<'a>,
    pub(crate) method: SignatureAlgorithm,
    pub(crate) references: Vec<Reference<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference<'a> {
    pub(crate) uri: Cow<'a, str>,
    /// InclusiveNamespaces PrefixList of the exclusive C14N transform.
    pub(crate) prefixes: PrefixList<'a>,
    pub(crate) digest: DigestAlgorithm,
    pub(crate) value: Vec<u8>,
}

/// An InclusiveNamespaces PrefixList as its attribute spells it: prefixes separated by
/// whitespace, `#default` for the default namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PrefixList<'a>(pub(crate) Cow<'a, str>);

impl PrefixList<'_> {
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split_ascii_whitespace()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// A `ds:Signature` read from a message.
#[derive(Debug)]
pub(crate) struct Signature<'a> {
    pub(crate) signed_info_element: ElementRef<'a>,
    pub(crate) signed_info: SignedInfo<'a>,
    pub(crate) value: Vec<u8>,
    pub(crate) key_info: Option<ElementRef<'a>>,
}

/// A written Signature: its markup with an empty SignatureValue, the offset where the value
/// goes, and the canonical form of its SignedInfo, which the markup holds verbatim.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) markup: String,
    pub(crate) value_offset: usize,
    pub(crate) canonical_signed_info: String,
}

/// Writes a Signature whose KeyInfo points at the token `#token_id`, with an empty
/// SignatureValue. SignedInfo is written in its exclusive canonical form (its own `ds`
/// declaration, start and end tags for empty elements, attributes escaped as C14N does): it
/// uses no binding of its context, so the form a verifier computes from the received bytes
/// is these bytes, and signing needs neither a tree nor a canonicalization pass. That holds
/// for an empty PrefixList of SignedInfo's own canonicalization, the only one we write.
pub(crate) fn write(info: &SignedInfo<'_>, token_id: &str) -> Result<Written, WssError> {
    if !info.c14n_prefixes.is_empty() {
        return Err(WssError::Signing(
            "SignedInfo is written canonical for an empty PrefixList only".into(),
        ));
    }
    let mut signed_info = String::with_capacity(320 + 480 * info.references.len());
    push_start(&mut signed_info, "ds:SignedInfo", &[("xmlns:ds", DS_NS)]);
    let none = PrefixList::default();
    write_method(
        &mut signed_info,
        "ds:CanonicalizationMethod",
        EXC_C14N,
        &none,
    );
    write_method(
        &mut signed_info,
        "ds:SignatureMethod",
        info.method.uri(),
        &none,
    );
    for reference in &info.references {
        push_start(&mut signed_info, "ds:Reference", &[("URI", &reference.uri)]);
        signed_info.push_str("<ds:Transforms>");
        write_method(
            &mut signed_info,
            "ds:Transform",
            EXC_C14N,
            &reference.prefixes,
        );
        signed_info.push_str("</ds:Transforms>");
        write_method(
            &mut signed_info,
            "ds:DigestMethod",
            reference.digest.uri(),
            &none,
        );
        signed_info.push_str("<ds:DigestValue>");
        Base64Binary::encode_into(&reference.value, &mut signed_info);
        signed_info.push_str("</ds:DigestValue></ds:Reference>");
    }
    signed_info.push_str("</ds:SignedInfo>");

    let mut markup = String::with_capacity(signed_info.len() + 640);
    push_start(&mut markup, "ds:Signature", &[("xmlns:ds", DS_NS)]);
    markup.push_str(&signed_info);
    markup.push_str("<ds:SignatureValue>");
    let value_offset = markup.len();
    markup.push_str("</ds:SignatureValue><ds:KeyInfo>");
    push_start(
        &mut markup,
        "wsse:SecurityTokenReference",
        &[("xmlns:wsse", WSSE_NS)],
    );
    push_start(
        &mut markup,
        "wsse:Reference",
        &[("URI", &["#", token_id].concat()), ("ValueType", X509V3)],
    );
    markup.push_str("</wsse:Reference></wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature>");
    Ok(Written {
        markup,
        value_offset,
        canonical_signed_info: signed_info,
    })
}

/// A start tag with its attributes (namespace declarations first, then the rest, each sorted
/// as C14N sorts them), values escaped as C14N escapes them.
fn push_start(out: &mut String, qname: &str, attributes: &[(&str, &str)]) {
    out.push('<');
    out.push_str(qname);
    for (name, value) in attributes {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        c14n::escape_attribute(value, out);
        out.push('"');
    }
    out.push('>');
}

/// An element with an `Algorithm` attribute and, for C14N, an optional PrefixList.
fn write_method(out: &mut String, qname: &str, algorithm: &str, prefixes: &PrefixList<'_>) {
    push_start(out, qname, &[("Algorithm", algorithm)]);
    if !prefixes.is_empty() {
        push_start(
            out,
            "ec:InclusiveNamespaces",
            &[("xmlns:ec", EXC_C14N), ("PrefixList", &prefixes.0)],
        );
        out.push_str("</ec:InclusiveNamespaces>");
    }
    out.push_str("</");
    out.push_str(qname);
    out.push('>');
}

/// Reads a `ds:Signature` element.
pub(crate) fn read(signature: ElementRef<'_>) -> Result<Signature<'_>, WssError> {
    let mut children = element_children(signature)?;
    let signed_info_element = expect(children.next(), "SignedInfo")?;
    let value_element = expect(children.next(), "SignatureValue")?;
    let key_info = children.next();
    if let Some(k) = key_info {
        if !k.name().is(Some(DS_NS), "KeyInfo") {
            return Err(unexpected(k, "ds:KeyInfo"));
        }
    }
    // Anything after KeyInfo (ds:Object) is never referenced legitimately; it is left unread,
    // and a reference into it is refused when references are placed.
    let value = Base64Binary::from_text(&value_element.text().map_err(malformed)?)
        .map_err(malformed)?
        .0;
    Ok(Signature {
        signed_info_element,
        signed_info: read_signed_info(signed_info_element)?,
        value,
        key_info,
    })
}

fn read_signed_info(element: ElementRef<'_>) -> Result<SignedInfo<'_>, WssError> {
    let mut children = element_children(element)?;
    let c14n = expect(children.next(), "CanonicalizationMethod")?;
    let c14n_prefixes = read_c14n(c14n)?;
    let method = expect(children.next(), "SignatureMethod")?;
    if let Some(extra) = element_children(method)?.next() {
        // HMACOutputLength and the like belong to algorithms we refuse.
        return Err(unexpected(extra, "no content in ds:SignatureMethod"));
    }
    let method = SignatureAlgorithm::from_uri(algorithm(method)?)?;
    let references = children
        .map(read_reference)
        .collect::<Result<Vec<_>, _>>()?;
    if references.is_empty() {
        return Err(WssError::Malformed("SignedInfo holds no Reference".into()));
    }
    if references.len() > MAX_REFERENCES {
        return Err(WssError::Malformed(format!(
            "more than {MAX_REFERENCES} references"
        )));
    }
    Ok(SignedInfo {
        c14n_prefixes,
        method,
        references,
    })
}

fn read_reference(element: ElementRef<'_>) -> Result<Reference<'_>, WssError> {
    if !element.name().is(Some(DS_NS), "Reference") {
        return Err(unexpected(element, "ds:Reference"));
    }
    let uri = element
        .attribute(None, "URI")
        .ok_or_else(|| WssError::ForeignReference(String::new()))?;
    let mut children = element_children(element)?;
    // Without Transforms a reference is canonicalized with inclusive C14N 1.0, which
    // WS-Security does not use; with several, the result depends on transforms we refuse.
    let transforms = expect(children.next(), "Transforms")?;
    let mut chain = element_children(transforms)?;
    let prefixes = match (chain.next(), chain.next()) {
        (Some(transform), None) if transform.name().is(Some(DS_NS), "Transform") => {
            read_c14n(transform)?
        }
        (Some(other), None) => return Err(unexpected(other, "ds:Transform")),
        _ => {
            return Err(WssError::UnsupportedAlgorithm(
                "a transform chain other than exclusive C14N".into(),
            ))
        }
    };
    let digest_method = expect(children.next(), "DigestMethod")?;
    let digest = DigestAlgorithm::from_uri(algorithm(digest_method)?)?;
    let value_element = expect(children.next(), "DigestValue")?;
    let value = Base64Binary::from_text(&value_element.text().map_err(malformed)?)
        .map_err(malformed)?
        .0;
    if let Some(extra) = children.next() {
        return Err(unexpected(extra, "end of ds:Reference"));
    }
    Ok(Reference {
        uri: Cow::Borrowed(uri),
        prefixes,
        digest,
        value,
    })
}

/// Reads an exclusive C14N method or transform, returning its PrefixList.
fn read_c14n(element: ElementRef<'_>) -> Result<PrefixList<'_>, WssError> {
    let algorithm = algorithm(element)?;
    if algorithm != EXC_C14N {
        return Err(WssError::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let mut children = element_children(element)?;
    match (children.next(), children.next()) {
        (None, _) => Ok(PrefixList::default()),
        (Some(list), None) if list.name().is(Some(EXC_C14N), "InclusiveNamespaces") => {
            Ok(PrefixList(Cow::Borrowed(
                list.attribute(None, "PrefixList").unwrap_or_default(),
            )))
        }
        (Some(other), None) => Err(unexpected(other, "ec:InclusiveNamespaces")),
        (Some(_), Some(extra)) => Err(unexpected(extra, "one ec:InclusiveNamespaces")),
    }
}

fn algorithm(element: ElementRef<'_>) -> Result<&str, WssError> {
    element
        .attribute(None, "Algorithm")
        .ok_or_else(|| WssError::Malformed(format!("{} has no Algorithm", element.name().local)))
}

/// The child elements of an element-only XML Signature element.
pub(crate) fn element_children(
    element: ElementRef<'_>,
) -> Result<impl Iterator<Item = ElementRef<'_>>, WssError> {
    if element
        .children()
        .any(|n| matches!(n, xmlbind::NodeRef::Text(t) if !t.trim().is_empty()))
    {
        return Err(WssError::Malformed(format!(
            "unexpected text in {}",
            element.name().local
        )));
    }
    Ok(element.elements())
}

fn expect<'a>(element: Option<ElementRef<'a>>, local: &str) -> Result<ElementRef<'a>, WssError> {
    match element {
        Some(e) if e.name().is(Some(DS_NS), local) => Ok(e),
        Some(e) => Err(unexpected(e, &format!("ds:{local}"))),
        None => Err(WssError::Malformed(format!("missing ds:{local}"))),
    }
}

fn unexpected(found: ElementRef<'_>, expected: &str) -> WssError {
    WssError::Malformed(format!(
        "expected {expected}, found {}",
        found.name().expanded()
    ))
}

fn malformed(error: xmlbind::XmlError) -> WssError {
    WssError::Malformed(error.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use xmlbind::{Document, Limits};

    fn sample() -> SignedInfo<'static> {
        SignedInfo {
            c14n_prefixes: PrefixList::default(),
            method: SignatureAlgorithm::RsaSha256,
            references: vec![Reference {
                uri: "#b".into(),
                prefixes: PrefixList("xsd #default".into()),
                digest: DigestAlgorithm::Sha256,
                value: vec![1, 2, 3],
            }],
        }
    }

    #[test]
    fn written_signed_info_is_its_own_canonical_form() {
        // Guards signing, which signs the SignedInfo it wrote without canonicalizing it.
        let mut info = sample();
        info.references.push(Reference {
            uri: "#a&\"b".into(),
            prefixes: PrefixList::default(),
            digest: DigestAlgorithm::Sha1,
            value: vec![4; 20],
        });
        let written = write(&info, "tok").unwrap();
        let parsed = Document::parse(written.markup.as_bytes(), &Limits::default()).unwrap();
        let signed_info = parsed.root().child(Some(DS_NS), "SignedInfo").unwrap();
        assert_eq!(
            String::from_utf8(c14n::exclusive_of(signed_info, &[])).unwrap(),
            written.canonical_signed_info
        );
        assert!(written.markup.contains(&written.canonical_signed_info));
    }

    #[test]
    fn written_signatures_read_back() {
        let Written {
            markup,
            value_offset: offset,
            ..
        } = write(&sample(), "tok").unwrap();
        assert!(markup[offset..].starts_with("</ds:SignatureValue>"));
        let doc = Document::parse(markup.as_bytes(), &Limits::default()).unwrap();
        let read = read(doc.root()).unwrap();
        assert_eq!(read.signed_info, sample());
        assert!(read.value.is_empty());
        assert!(read.key_info.is_some());
    }

    #[test]
    fn hmac_and_foreign_transforms_are_refused() {
        let markup = write(&sample(), "tok").unwrap().markup;
        for (from, to) in [
            (
                SignatureAlgorithm::RsaSha256.uri(),
                "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
            ),
            (
                "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">",
                "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\">",
            ),
            (
                DigestAlgorithm::Sha256.uri(),
                "http://www.w3.org/2001/04/xmldsig-more#md5",
            ),
        ] {
            let doc = Document::parse(markup.replacen(from, to, 1).as_bytes(), &Limits::default())
                .unwrap();
            assert!(
                matches!(read(doc.root()), Err(WssError::UnsupportedAlgorithm(_))),
                "{to}"
            );
        }
    }
}

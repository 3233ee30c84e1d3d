//! Signing outgoing envelopes.
//!
//! The envelope is first written whole, with `wsu:Id`s on the parts to sign and a Security
//! header holding the Timestamp and the token ([`Stamp`]). The writer writes each signed part
//! a second time, in the exclusive canonical form a verifier computes from the part it reads
//! ([`XmlWriter::canonicalize_marked`]), and that is digested: nothing is parsed or
//! canonicalized from a tree. SignedInfo is written in its canonical form (it uses no binding
//! of its context), signed as written, and inserted with the value.

use std::borrow::Cow;
use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::x509::X509;
use xmlbind::{Base64Binary, CanonicalPart, XmlText, XmlWriter};

use super::algorithm::{DigestAlgorithm, SignatureAlgorithm};
use super::signature::{self, PrefixList, Reference, SignedInfo};
use super::{timestamp, token, WssError, WSSE_NS, WSU_NS};
use crate::addressing::{Addressing, Field};

/// What a [`Signer`] signs, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOptions {
    pub signature: SignatureAlgorithm,
    pub digest: DigestAlgorithm,
    /// Sign the Body.
    pub body: bool,
    /// Sign each WS-Addressing header the message carries.
    pub addressing: bool,
    /// Add a signed `wsu:Timestamp` that expires after this long; `None` sends none.
    pub timestamp_ttl: Option<Duration>,
}

impl Default for SignOptions {
    /// Our default: RSA-SHA1 and SHA1 as the original, signing Body, Timestamp (300 s) and
    /// the WS-Addressing headers.
    fn default() -> Self {
        Self {
            signature: SignatureAlgorithm::RsaSha1,
            digest: DigestAlgorithm::Sha1,
            body: true,
            addressing: true,
            timestamp_ttl: Some(Duration::from_secs(300)),
        }
    }
}

impl SignOptions {
    /// The original CLC → CC profile (CONTRACT.md): only `wsa:To`, `wsa:MessageID` and
    /// `wsa:Action` are signed, and there is no Timestamp.
    pub fn addressing_only() -> Self {
        Self {
            body: false,
            timestamp_ttl: None,
            ..Self::default()
        }
    }
}

/// Signs outgoing envelopes with one key and certificate.
#[derive(Debug)]
pub struct Signer {
    /// Parsed once: signing a message then costs only the private-key operation.
    key: Rsa<Private>,
    certificate: Vec<u8>,
    /// `certificate` in base64, as every message carries it.
    certificate_base64: String,
    options: SignOptions,
}

impl Signer {
    /// A signer from an RSA private key and its certificate, both PEM.
    pub fn from_pem(
        key_pem: &[u8],
        certificate_pem: &[u8],
        options: SignOptions,
    ) -> Result<Self, WssError> {
        let key = PKey::private_key_from_pem(key_pem)
            .map_err(|e| WssError::Key(format!("private key: {e}")))?;
        let certificate = X509::from_pem(certificate_pem)
            .map_err(|e| WssError::Key(format!("certificate: {e}")))?;
        Self::new(key, &certificate, options)
    }

    pub fn new(
        key: PKey<Private>,
        certificate: &X509,
        options: SignOptions,
    ) -> Result<Self, WssError> {
        if key.id() != Id::RSA {
            return Err(WssError::Key("the private key is not an RSA key".into()));
        }
        if !certificate.public_key()?.public_eq(&key) {
            return Err(WssError::Key(
                "the private key does not belong to the certificate".into(),
            ));
        }
        let certificate = certificate.to_der()?;
        Ok(Self {
            key: key.rsa()?,
            certificate_base64: Base64Binary(certificate.clone()).to_text().into_owned(),
            certificate,
            options,
        })
    }

    /// DER of the certificate sent with each signature.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    pub fn options(&self) -> &SignOptions {
        &self.options
    }

    /// Chooses the Ids and times of one message carrying `addressing`.
    pub(crate) fn stamp(&self, addressing: &Addressing) -> Result<Stamp<'_>, WssError> {
        let created = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, secs);
        let nonce = nonce()?;
        let id = |label: &str| [label, "-", &nonce].concat();
        let timestamp = self
            .options
            .timestamp_ttl
            .map(|ttl| (id("TS"), created, secs(ttl)));
        let addressing_ids = Field::ALL
            .into_iter()
            .filter(|f| self.options.addressing && addressing.get(*f).is_some())
            .map(|f| (f, id(f.local())))
            .collect::<Vec<_>>();
        let body_id = self.options.body.then(|| id("Body"));
        if timestamp.is_none() && addressing_ids.is_empty() && body_id.is_none() {
            return Err(WssError::Signing(
                "the signing profile names no part this message has".into(),
            ));
        }
        Ok(Stamp {
            signer: self,
            token_id: id("X509"),
            timestamp,
            addressing_ids,
            body_id,
            security_end: Cell::new(None),
        })
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// 128 random bits in hex, drawn once per message: each Id of the message is a label of its
/// own and this nonce, so that no peer could have chosen one of them already.
fn nonce() -> Result<String, WssError> {
    let mut bytes = [0u8; 16];
    crate::random::fill(&mut bytes)?;
    Ok(lower_hex(&bytes))
}

/// `bytes` in lowercase hexadecimal.
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(2 * bytes.len());
    for b in bytes {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

/// The prefix of `wsse:Security` in the envelopes we write.
const SECURITY_PREFIX: &str = "wsse";
/// The header's end tag, spelled with that prefix.
const SECURITY_END: &str = "</wsse:Security>";

/// The security decorations of one outgoing message, between writing and signing it.
#[derive(Debug)]
pub(crate) struct Stamp<'a> {
    signer: &'a Signer,
    token_id: String,
    /// Id, Created and time-to-live in seconds.
    timestamp: Option<(String, i64, i64)>,
    addressing_ids: Vec<(Field, String)>,
    body_id: Option<String>,
    /// Where the Security header's end tag was written, which the Signature goes before.
    security_end: Cell<Option<usize>>,
}

impl Stamp<'_> {
    pub(crate) fn body_id(&self) -> Option<&str> {
        self.body_id.as_deref()
    }

    pub(crate) fn addressing_id(&self, field: Field) -> Option<&str> {
        self.addressing_ids
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, id)| id.as_str())
    }

    /// Writes the `wsse:Security` header block (Timestamp and token; the Signature is
    /// added by [`Stamp::sign`]). `must_understand` is the SOAP version's attribute and value.
    pub(crate) fn write_security(&self, w: &mut XmlWriter, must_understand: (&str, &str)) {
        w.prefer_prefix(WSSE_NS, SECURITY_PREFIX);
        w.start_element(Some(WSSE_NS), "Security");
        w.attribute(Some(must_understand.0), "mustUnderstand", must_understand.1);
        if let Some((id, created, ttl)) = &self.timestamp {
            timestamp::write(w, id, *created, *ttl);
        }
        token::write(w, &self.token_id, &self.signer.certificate_base64);
        w.end_element();
        self.security_end
            .set(w.position().checked_sub(SECURITY_END.len()));
    }

    /// The Ids of the parts to sign, in the order they are referenced.
    fn signed_ids(&self) -> impl Iterator<Item = &String> {
        self.timestamp
            .iter()
            .map(|(id, ..)| id)
            .chain(self.addressing_ids.iter().map(|(_, id)| id))
            .chain(&self.body_id)
    }

    /// Has `w` write the parts to sign in canonical form too, so that signing digests them
    /// without parsing the envelope back. Each part's InclusiveNamespaces PrefixList names
    /// every prefix in scope at it or declared in it: exclusive C14N renders a binding only
    /// where a name visibly uses it, so a prefix used only inside content (a fault code
    /// `soapenv:Client`, a type `xsi:type="tns:T"`) would otherwise be unsigned, and an
    /// attacker could redeclare it to change what the content means (namespace injection).
    /// Listed prefixes are rendered wherever their binding changes, so a redeclaration
    /// breaks the digest.
    pub(crate) fn canonicalize_parts(&self, w: &mut XmlWriter) {
        w.canonicalize_marked(Some(WSU_NS), "Id", self.signed_ids().cloned().collect());
    }

    /// Signs an envelope written with this stamp, given the canonical parts
    /// [`Stamp::canonicalize_parts`] had written.
    pub(crate) fn sign(
        &self,
        envelope: String,
        mut parts: Vec<CanonicalPart>,
    ) -> Result<Vec<u8>, WssError> {
        let options = &self.signer.options;
        let mut references = Vec::with_capacity(parts.len());
        for id in self.signed_ids() {
            let mut marked = parts.iter_mut().filter(|p| p.id == *id);
            let (Some(part), None) = (marked.next(), marked.next()) else {
                return Err(WssError::Signing(format!(
                    "the part {id} was not written once"
                )));
            };
            let value = options.digest.digest(part.canonical.as_bytes())?;
            references.push(Reference {
                uri: Cow::Owned(["#", id].concat()),
                prefixes: PrefixList(Cow::Owned(std::mem::take(&mut part.prefixes))),
                digest: options.digest,
                value,
            });
        }
        let info = SignedInfo {
            c14n_prefixes: PrefixList::default(),
            method: options.signature,
            references,
        };
        let written = signature::write(&info, &self.token_id)?;

        // Noted as it was written: the header has content, so it ends with this end tag.
        let at = self
            .security_end
            .get()
            .filter(|&at| {
                envelope
                    .get(at..)
                    .is_some_and(|e| e.starts_with(SECURITY_END))
            })
            .ok_or_else(|| {
                WssError::Signing("no wsse:Security header in the written envelope".into())
            })?;
        // PKCS #1 v1.5 (RFC 8017 §8.2): the encoded digest, padded and raised to the private
        // exponent, which is what OpenSSL's signing context does after its per-call set-up.
        let encoded = options
            .signature
            .encoded_digest(written.canonical_signed_info.as_bytes())?;
        let mut value = vec![0; self.signer.key.size() as usize];
        let len = self
            .signer
            .key
            .private_encrypt(&encoded, &mut value, Padding::PKCS1)?;
        value.truncate(len);
        // The Signature, its value in place, goes before the Security header's end tag: the
        // signed envelope is assembled in one buffer, each piece copied once.
        let value = Base64Binary(value);
        let value = value.to_text();
        let (markup, value_at) = (&written.markup, written.value_offset);
        let mut signed = Vec::with_capacity(envelope.len() + markup.len() + value.len());
        for piece in [
            &envelope[..at],
            &markup[..value_at],
            &value,
            &markup[value_at..],
            &envelope[at..],
        ] {
            signed.extend_from_slice(piece.as_bytes());
        }
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_tag_checked_before_signing_is_the_one_written() {
        assert_eq!(SECURITY_END, format!("</{SECURITY_PREFIX}:Security>"));
    }
}

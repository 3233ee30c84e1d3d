//! Verifying incoming envelopes, on the tree parsed from the bytes that arrived.
//!
//! Checks run cheapest first: presence and shape of the Security header and Signature, trust
//! in the key (pinned certificate, validity dates), placement of every reference, the
//! signature value, the digests, then what the signature must cover, the Timestamp and replay.
//! An unsigned message or a stranger's is refused before any canonicalization or RSA work.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::x509::X509;
use xmlbind::ElementRef;

use super::ids::{fragment, IdIndex};
use super::replay::{Key, ReplayCache};
use super::signature::{self, Reference, Signature};
use super::timestamp::{self, Window};
use super::token::{TrustStore, Trusted};
use super::{WssError, DS_NS, WSSE_NS, WSU_NS};
use crate::addressing::{Field, Headers};
use crate::c14n;

/// Where a verifier takes the current time from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    #[default]
    System,
    /// A fixed time, in seconds since the Unix epoch: for tests and recorded messages.
    Fixed(i64),
}

impl Clock {
    fn now(self) -> i64 {
        match self {
            Self::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            Self::Fixed(t) => t,
        }
    }
}

/// Which message shapes beyond our own a verifier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compatibility {
    /// The signature must cover the Body.
    #[default]
    Strict,
    /// Also accept what the original CLC sends the CC (CONTRACT.md): a signature over
    /// `wsa:To`, `wsa:MessageID` and `wsa:Action` (and every other WS-Addressing header
    /// present) but not the Body. The Body is then unauthenticated: [`crate::envelope::Verified`]
    /// says so in `body_signed`.
    OriginalComponents,
}

/// What a [`Verifier`] demands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Refuse messages without a signature. (A signature that is present is always checked.)
    pub require_signature: bool,
    /// Demand a signed `wsu:Timestamp`.
    pub require_timestamp: bool,
    /// Demand that every WS-Addressing header present be signed.
    pub require_signed_addressing: bool,
    pub compatibility: Compatibility,
    /// How far the peer's clock may be off ours.
    pub clock_skew: Duration,
    /// How old a Timestamp's Created may be, whatever its Expires says.
    pub max_age: Duration,
    /// How many accepted messages to remember against replays; 0 disables the check.
    pub replay_cache_size: usize,
    /// How long an accepted message without a signed Timestamp (accepted only when
    /// `require_timestamp` is off) is remembered against replays, within the cache's size.
    /// A message with one is remembered as long as its Timestamp could make it acceptable.
    pub untimestamped_memory: Duration,
    pub clock: Clock,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            require_signature: true,
            require_timestamp: true,
            require_signed_addressing: false,
            compatibility: Compatibility::Strict,
            clock_skew: Duration::from_secs(300),
            max_age: Duration::from_secs(300),
            replay_cache_size: 100_000,
            untimestamped_memory: Duration::from_secs(24 * 3600),
            clock: Clock::System,
        }
    }
}

impl VerifyOptions {
    /// Accepts messages shaped as the original C components and CLC send them: no
    /// Timestamp, and possibly only the WS-Addressing headers signed.
    pub fn original_components() -> Self {
        Self {
            require_timestamp: false,
            compatibility: Compatibility::OriginalComponents,
            ..Self::default()
        }
    }
}

/// Verifies incoming envelopes against trusted certificates.
#[derive(Debug)]
pub struct Verifier {
    trust: TrustStore,
    options: VerifyOptions,
    replay: Mutex<ReplayCache>,
    /// Whether accepting a message writes the replay journal (file-system work).
    journaled: bool,
    /// Seconds a message with a signed Timestamp is remembered: past this, the Timestamp
    /// check refuses a replay by itself.
    timestamped_memory: i64,
}

/// The parts of a received envelope the verifier looks at.
#[derive(Debug)]
pub(crate) struct Message<'a> {
    pub(crate) root: ElementRef<'a>,
    pub(crate) header: Option<ElementRef<'a>>,
    pub(crate) body: ElementRef<'a>,
    pub(crate) addressing: &'a Headers<'a>,
}

/// What a successful verification established.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// DER of the trusted certificate whose key signed; `None` for an unsigned message.
    pub(crate) certificate: Option<Vec<u8>>,
    pub(crate) body_signed: bool,
    /// The WS-Addressing headers the signature covers.
    pub(crate) signed_addressing: Vec<Field>,
}

impl Verifier {
    pub fn new(trusted: &[X509], options: VerifyOptions) -> Result<Self, WssError> {
        let skew = secs(options.clock_skew);
        Ok(Self {
            trust: TrustStore::new(trusted)?,
            replay: Mutex::new(ReplayCache::new(options.replay_cache_size)),
            journaled: false,
            timestamped_memory: secs(options.max_age).saturating_add(skew.saturating_mul(2)),
            options,
        })
    }

    /// A verifier trusting the certificates in `pems` (each may hold several).
    pub fn from_pem<I, P>(pems: I, options: VerifyOptions) -> Result<Self, WssError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let mut trusted = Vec::new();
        for pem in pems {
            let certificates = X509::stack_from_pem(pem.as_ref())
                .map_err(|e| WssError::Key(format!("certificate: {e}")))?;
            if certificates.is_empty() {
                return Err(WssError::Key("no certificate in a trusted PEM".into()));
            }
            trusted.extend(certificates);
        }
        Self::new(&trusted, options)
    }

    /// Also trusts every certificate one of `issuers` signed (its issuer named as the
    /// issuer's subject, its signature made with the issuer's key), within its validity
    /// period: a cloud's users, whose certificates the cloud's key issues and whom only the
    /// service's own records tell apart. Which of them signed is the service's to look up,
    /// from [`crate::RequestContext::signer_certificate`].
    pub fn with_issuers(mut self, issuers: &[X509]) -> Result<Self, WssError> {
        self.trust.add_issuers(issuers)?;
        Ok(self)
    }

    /// Keeps the replay cache in the file at `path` as well (created if missing), so that a
    /// restarted verifier still refuses the messages accepted before, for as long as they
    /// could otherwise be accepted.
    pub fn with_replay_journal(self, path: &Path) -> Result<Self, WssError> {
        let cache = ReplayCache::open(
            self.options.replay_cache_size,
            path,
            self.options.clock.now(),
        )?;
        Ok(Self {
            journaled: cache.journaled(),
            replay: Mutex::new(cache),
            ..self
        })
    }

    /// Whether verifying writes to the replay journal, so that it belongs off an async
    /// executor thread.
    pub(crate) fn journaled(&self) -> bool {
        self.journaled
    }

    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    pub(crate) fn verify(&self, message: &Message<'_>) -> Result<Outcome, WssError> {
        let security = security_header(message.header)?;
        let signature = security
            .map(|s| only_child(s, DS_NS, "Signature"))
            .transpose()?
            .flatten();
        let (Some(security), Some(signature)) = (security, signature) else {
            return if self.options.require_signature {
                Err(WssError::Unsigned)
            } else {
                Ok(Outcome::default())
            };
        };
        let timestamp = only_child(security, WSU_NS, "Timestamp")?;
        let signature = signature::read(signature)?;
        let index = IdIndex::build(message.root);
        // Trust before anything the signature claims is looked at: a stranger's message costs
        // no placement, canonicalization, digest or RSA work, and learns nothing of them.
        let now = self.options.clock.now();
        let trusted = self.trust.signer(signature.key_info, security, &index)?;
        trusted.check_validity(now)?;
        let signed = Signed::place(&signature.signed_info.references, &index, message, security)?;
        let mut c14n = c14n::Exclusive::new();
        check_signature_value(&signature, &trusted, &mut c14n)?;
        signed.check_digests(&mut c14n)?;

        let body_signed = self.check_coverage(message, &signed)?;
        let timestamped = self.check_timestamp(timestamp, &signed, now)?;
        let message_id = match message.addressing.element(Field::MessageId) {
            Some(e) if signed.covers(e) => {
                Some(e.text().map_err(|e| WssError::Malformed(e.to_string()))?)
            }
            _ => None,
        };
        let mut keys = vec![Key::SignatureValue(&signature.value)];
        keys.extend(message_id.as_deref().map(|id| Key::MessageId(id.trim())));
        self.replay
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(
                &keys,
                now,
                if timestamped {
                    self.timestamped_memory
                } else {
                    secs(self.options.untimestamped_memory)
                },
            )?;

        let signed_addressing = Field::ALL
            .into_iter()
            .filter(|f| {
                message
                    .addressing
                    .element(*f)
                    .is_some_and(|e| signed.covers(e))
            })
            .collect();
        Ok(Outcome {
            certificate: Some(trusted.der.clone()),
            body_signed,
            signed_addressing,
        })
    }

    /// Checks that the signature covers what it must; returns whether it covers the Body.
    fn check_coverage(&self, message: &Message<'_>, signed: &Signed<'_>) -> Result<bool, WssError> {
        let body_signed = signed.covers(message.body);
        let addressing_signed = |f: Field| {
            message
                .addressing
                .element(f)
                .is_some_and(|e| signed.covers(e))
        };
        if !body_signed {
            let original = [Field::To, Field::MessageId, Field::Action];
            if self.options.compatibility == Compatibility::Strict
                || !original.into_iter().all(addressing_signed)
            {
                return Err(WssError::BodyNotSigned);
            }
        }
        if self.options.require_signed_addressing || !body_signed {
            let unsigned = Field::ALL
                .into_iter()
                .find(|f| message.addressing.element(*f).is_some() && !addressing_signed(*f));
            if let Some(field) = unsigned {
                return Err(WssError::AddressingNotSigned(field.local()));
            }
        }
        Ok(body_signed)
    }

    /// Checks the Timestamp; returns whether a signed one was checked. An unsigned one, where
    /// none is demanded, counts as none: anyone could have written it.
    fn check_timestamp(
        &self,
        timestamp: Option<ElementRef<'_>>,
        signed: &Signed<'_>,
        now: i64,
    ) -> Result<bool, WssError> {
        match timestamp {
            Some(t) if signed.covers(t) => timestamp::check(
                t,
                Window {
                    now,
                    skew: secs(self.options.clock_skew),
                    max_age: secs(self.options.max_age),
                },
            )
            .map(|()| true),
            Some(_) if self.options.require_timestamp => Err(WssError::TimestampNotSigned),
            None if self.options.require_timestamp => Err(WssError::MissingTimestamp),
            _ => Ok(false),
        }
    }
}

/// The elements the references resolved to, each with its reference.
struct Signed<'a> {
    parts: Vec<(ElementRef<'a>, &'a Reference<'a>)>,
}

impl<'a> Signed<'a> {
    /// Resolves each reference to exactly one element at a place where a signed part is read.
    fn place(
        references: &'a [Reference<'a>],
        index: &IdIndex<'a>,
        message: &Message<'a>,
        security: ElementRef<'a>,
    ) -> Result<Self, WssError> {
        let mut parts: Vec<(ElementRef<'_>, &Reference<'_>)> = Vec::new();
        for reference in references {
            let target = index.resolve(fragment(&reference.uri)?)?;
            if !signable_place(target, message, security) {
                return Err(WssError::WrappedElement {
                    reference: reference.uri.to_string(),
                    element: target.name().expanded(),
                });
            }
            if parts.iter().any(|(t, _)| *t == target) {
                return Err(WssError::Malformed(format!(
                    "{} is referenced twice",
                    reference.uri
                )));
            }
            parts.push((target, reference));
        }
        Ok(Self { parts })
    }

    fn check_digests(&self, c14n: &mut c14n::Exclusive<'a>) -> Result<(), WssError> {
        for (target, reference) in &self.parts {
            let canonical = c14n.canonicalize(*target, reference.prefixes.iter());
            if reference.digest.digest(canonical)? != reference.value {
                return Err(WssError::DigestMismatch {
                    reference: reference.uri.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Whether `element` itself (not an ancestor or a copy) is signed.
    fn covers(&self, element: ElementRef<'_>) -> bool {
        self.parts.iter().any(|(t, _)| *t == element)
    }
}

/// Checks the signature value over SignedInfo, canonicalized where it stands.
fn check_signature_value<'a>(
    signature: &'a Signature<'a>,
    trusted: &Trusted,
    c14n: &mut c14n::Exclusive<'a>,
) -> Result<(), WssError> {
    let info = &signature.signed_info;
    let canonical = c14n.canonicalize(signature.signed_info_element, info.c14n_prefixes.iter());
    if trusted.verifies(info.method, canonical, &signature.value)? {
        Ok(())
    } else {
        Err(WssError::BadSignature)
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The one `wsse:Security` header block. Several (for several actors) are refused: none of
/// our peers sends them, and each would be one more place to hide a wrapped element.
fn security_header(header: Option<ElementRef<'_>>) -> Result<Option<ElementRef<'_>>, WssError> {
    let mut found = header
        .into_iter()
        .flat_map(ElementRef::elements)
        .filter(|e| e.name().is(Some(WSSE_NS), "Security"));
    let first = found.next();
    match found.next() {
        Some(_) => Err(WssError::DuplicateSecurityHeader),
        None => Ok(first),
    }
}

/// The child `{namespace}local` of `parent`, refusing more than one.
fn only_child<'a>(
    parent: ElementRef<'a>,
    namespace: &str,
    local: &str,
) -> Result<Option<ElementRef<'a>>, WssError> {
    let mut found = parent
        .elements()
        .filter(|e| e.name().is(Some(namespace), local));
    let first = found.next();
    match found.next() {
        Some(_) => Err(WssError::Malformed(format!(
            "more than one {local} in {}",
            parent.name().local
        ))),
        None => Ok(first),
    }
}

/// Whether a signed element is where the part it claims to be is read from: the Envelope's
/// Body, the Security header's Timestamp or token, or a header block of its own (not a SOAP
/// or security element dressed up as one). Anything else is a wrapped element.
fn signable_place(target: ElementRef<'_>, message: &Message<'_>, security: ElementRef<'_>) -> bool {
    if target == message.body {
        return true;
    }
    if security.elements().any(|e| e == target) {
        return target.name().is(Some(WSU_NS), "Timestamp")
            || target.name().is(Some(WSSE_NS), "BinarySecurityToken");
    }
    let reserved = [
        message.root.name().namespace.as_deref(),
        Some(WSSE_NS),
        Some(WSU_NS),
        Some(DS_NS),
    ];
    message
        .header
        .is_some_and(|h| h.elements().any(|e| e == target))
        && !reserved.contains(&target.name().namespace.as_deref())
}

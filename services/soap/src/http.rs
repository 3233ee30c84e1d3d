//! What the HTTP server and client share: the security of an endpoint, SOAP content types and
//! SOAPAction, and request/reply bodies read under a size limit.

use std::sync::Arc;

use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Body;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};

use crate::envelope::SoapVersion;
use crate::wss::{lower_hex, Signer, Verifier};

/// The WS-Security configuration of one end of a hop: the signer of what it sends and the
/// verifier of what it receives. There is no default: an endpoint without signatures must be
/// asked for with [`Security::unsecured`].
#[derive(Debug, Clone)]
pub struct Security {
    signer: Option<Arc<Signer>>,
    verifier: Option<Arc<Verifier>>,
}

impl Security {
    /// Signs every outgoing message with `signer` and accepts only incoming messages that
    /// `verifier` accepts.
    pub fn signed(signer: Arc<Signer>, verifier: Arc<Verifier>) -> Self {
        Self {
            signer: Some(signer),
            verifier: Some(verifier),
        }
    }

    /// Neither signs nor verifies: for tests and local experiments only.
    pub fn unsecured() -> Self {
        Self {
            signer: None,
            verifier: None,
        }
    }

    /// Any other combination, such as verifying requests but answering unsigned.
    pub fn new(signer: Option<Arc<Signer>>, verifier: Option<Arc<Verifier>>) -> Self {
        Self { signer, verifier }
    }

    pub fn signer(&self) -> Option<&Signer> {
        self.signer.as_deref()
    }

    pub fn verifier(&self) -> Option<&Verifier> {
        self.verifier.as_deref()
    }
}

/// The Content-Type of a message in `version`; SOAP 1.2 carries the action as a parameter.
pub(crate) fn content_type(version: SoapVersion, action: Option<&str>) -> HeaderValue {
    const SOAP11: &str = "text/xml; charset=utf-8";
    const SOAP12: &str = "application/soap+xml; charset=utf-8";
    match (version, action) {
        (SoapVersion::V11, _) => HeaderValue::from_static(SOAP11),
        (SoapVersion::V12, None) => HeaderValue::from_static(SOAP12),
        (SoapVersion::V12, Some(action)) => HeaderValue::from_str(&format!(
            "{SOAP12}; action=\"{}\"",
            action.replace(['"', '\\'], "")
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(SOAP12)),
    }
}

/// Whether a `POST` with these headers is a SOAP message: it names a SOAPAction (SOAP 1.1)
/// or is of SOAP's content type (`text/xml` in 1.1, `application/soap+xml` in 1.2).
pub(crate) fn is_soap_message(headers: &HeaderMap) -> bool {
    let media_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    headers.contains_key("soapaction")
        || media_type.is_some_and(|t| {
            t.eq_ignore_ascii_case("text/xml") || t.eq_ignore_ascii_case("application/soap+xml")
        })
}

/// The SOAPAction header value for `action`: quoted, as SOAP 1.1 stacks send it.
pub(crate) fn soap_action_header(action: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("\"{action}\"")).ok()
}

/// The action a request names: the `SOAPAction` header in SOAP 1.1, the `action` parameter
/// of the Content-Type in SOAP 1.2. Quotes are removed; an empty action counts as none.
pub(crate) fn request_action(version: SoapVersion, headers: &HeaderMap) -> Option<String> {
    let action = match version {
        SoapVersion::V11 => headers.get("soapaction")?.to_str().ok().map(unquote),
        SoapVersion::V12 => headers
            .get(CONTENT_TYPE)?
            .to_str()
            .ok()?
            .split(';')
            .skip(1)
            .filter_map(|param| param.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("action"))
            .map(|(_, value)| unquote(value)),
    }?;
    (!action.is_empty()).then(|| action.to_owned())
}

/// A fresh WS-Addressing MessageID: `urn:uuid:` and a random (version 4) UUID.
pub(crate) fn new_message_id() -> Result<String, openssl::error::ErrorStack> {
    let mut b = [0u8; 16];
    crate::random::fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = lower_hex(&b);
    Ok([
        "urn:uuid:",
        &hex[..8],
        "-",
        &hex[8..12],
        "-",
        &hex[12..16],
        "-",
        &hex[16..20],
        "-",
        &hex[20..],
    ]
    .concat())
}

fn unquote(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// How fast a request body must arrive: its first bytes within `grace` of the headers, and
/// from then on at `min_bytes_per_sec` on average (the allowance grows with what arrived), so
/// that a client trickling or stalling a body cannot hold a connection and its memory for long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyPace {
    pub grace: Duration,
    pub min_bytes_per_sec: u64,
}

impl Default for BodyPace {
    /// 10 s of grace, then 8 KiB/s: far below any real link, far above a stalling attacker.
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(10),
            min_bytes_per_sec: 8 << 10,
        }
    }
}

impl BodyPace {
    /// How long after the start `received` bytes may have taken.
    fn allowance(&self, received: usize) -> Duration {
        let rate = self.min_bytes_per_sec.max(1) as f64;
        self.grace + Duration::from_secs_f64(received as f64 / rate)
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("message exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("message body arrived too slowly ({received} bytes in {elapsed:?})")]
    TooSlow { received: usize, elapsed: Duration },
    #[error("message could not be read: {0}")]
    Read(String),
}

/// Reads a whole body, refusing it as soon as it is known to exceed `limit`: at once when the
/// declared length says so, else when the bytes received pass the limit.
pub(crate) async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    read_paced_body(body, limit, None).await
}

/// [`read_body`], also refusing a body that falls behind `pace`.
pub(crate) async fn read_paced_body<B>(
    body: B,
    limit: usize,
    pace: Option<BodyPace>,
) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if body.size_hint().lower() > limit as u64 {
        return Err(BodyError::TooLarge { limit });
    }
    let started = Instant::now();
    let mut body = std::pin::pin!(body);
    // Frames are kept as they came and joined once at the end: no buffer grows by doubling
    // while a body arrives, so a refused body leaves no large reallocated blocks behind.
    let mut frames: Vec<Bytes> = Vec::new();
    let mut received = 0;
    loop {
        let frame = match pace {
            None => body.frame().await,
            Some(pace) => {
                let deadline = started + pace.allowance(received);
                tokio::time::timeout_at(deadline.into(), body.frame())
                    .await
                    .map_err(|_| BodyError::TooSlow {
                        received,
                        elapsed: started.elapsed(),
                    })?
            }
        };
        let Some(frame) = frame else {
            break;
        };
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        if let Ok(mut data) = frame.into_data() {
            received += data.remaining();
            if received > limit {
                return Err(BodyError::TooLarge { limit });
            }
            frames.push(data.copy_to_bytes(data.remaining()));
        }
    }
    if frames.len() == 1 {
        return Ok(frames.swap_remove(0));
    }
    let mut whole = BytesMut::with_capacity(received);
    for frame in frames {
        whole.extend_from_slice(&frame);
    }
    Ok(whole.freeze())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    hyper::header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    /// Guards the front door's split of one path between SOAP and a form-posting API (the
    /// CLC's EC2 Query at `/services/Eucalyptus`).
    #[test]
    fn a_post_is_soap_when_it_names_an_action_or_has_a_soap_content_type() {
        for soap in [
            headers(&[("content-type", "text/xml; charset=utf-8")]),
            headers(&[("content-type", "Text/XML")]),
            headers(&[("content-type", "application/soap+xml; action=\"a#b\"")]),
            headers(&[("soapaction", "\"\"")]),
            headers(&[
                ("soapaction", "x"),
                ("content-type", "application/octet-stream"),
            ]),
        ] {
            assert!(is_soap_message(&soap), "{soap:?}");
        }
        for other in [
            headers(&[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )]),
            headers(&[("content-type", "multipart/form-data; boundary=x")]),
            headers(&[("content-type", "text/xmlish")]),
            headers(&[]),
        ] {
            assert!(!is_soap_message(&other), "{other:?}");
        }
    }

    #[test]
    fn soap11_action_comes_from_the_soapaction_header_unquoted() {
        let h = headers(&[("soapaction", "\"EucalyptusNC#ncRunInstance\"")]);
        assert_eq!(
            request_action(SoapVersion::V11, &h).as_deref(),
            Some("EucalyptusNC#ncRunInstance")
        );
        let h = headers(&[("soapaction", "urn:plain")]);
        assert_eq!(
            request_action(SoapVersion::V11, &h).as_deref(),
            Some("urn:plain")
        );
        let h = headers(&[("soapaction", "\"\"")]);
        assert_eq!(request_action(SoapVersion::V11, &h), None);
    }

    #[test]
    fn soap12_action_comes_from_the_content_type_parameter() {
        let h = headers(&[(
            "content-type",
            "application/soap+xml; charset=utf-8; Action=\"urn:x#op\"",
        )]);
        assert_eq!(
            request_action(SoapVersion::V12, &h).as_deref(),
            Some("urn:x#op")
        );
        // A SOAPAction header means nothing in SOAP 1.2.
        let h = headers(&[
            ("content-type", "application/soap+xml"),
            ("soapaction", "\"urn:x#op\""),
        ]);
        assert_eq!(request_action(SoapVersion::V12, &h), None);
    }

    #[test]
    fn content_types_name_the_version() {
        assert_eq!(
            content_type(SoapVersion::V11, Some("a")),
            "text/xml; charset=utf-8"
        );
        assert_eq!(
            content_type(SoapVersion::V12, Some("urn:a")),
            "application/soap+xml; charset=utf-8; action=\"urn:a\""
        );
        assert_eq!(
            content_type(SoapVersion::V12, None),
            "application/soap+xml; charset=utf-8"
        );
    }

    #[test]
    fn message_ids_are_random_v4_uuids() {
        let (a, b) = (new_message_id().unwrap(), new_message_id().unwrap());
        assert_ne!(a, b);
        let uuid = a.strip_prefix("urn:uuid:").unwrap();
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
    }

    #[tokio::test]
    async fn declared_oversize_bodies_are_refused_before_reading() {
        let body = http_body_util::Full::new(Bytes::from(vec![b'x'; 100]));
        assert!(matches!(
            read_body(body, 99).await,
            Err(BodyError::TooLarge { limit: 99 })
        ));
        let body = http_body_util::Full::new(Bytes::from_static(b"<a/>"));
        assert_eq!(
            read_body(body, 4).await.unwrap(),
            Bytes::from_static(b"<a/>")
        );
    }
}

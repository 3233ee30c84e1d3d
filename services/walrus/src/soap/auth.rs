//! Authentication of S3 SOAP requests: the request element carries `AWSAccessKeyId`,
//! `Timestamp` and `Signature`, the base64 HMAC-SHA1 under the user's secret key of
//! `"AmazonS3" + <operation> + <Timestamp as sent>`. The original accepted any timestamp;
//! like S3 we refuse one more than 15 minutes from our clock, so that a captured request
//! cannot be replayed for long.

use base64::Engine as _;
use ring::hmac;
use users::{User, UserLookup};
use xmlbind::{DateTime, ElementRef, XmlText};

use crate::acl::Identity;
use crate::error::{S3Error, MAX_SKEW_SECS};

/// Who sent `payload`, the request element of operation `operation`, at time `now`: a user
/// when it is signed, anonymous when it carries no `AWSAccessKeyId`.
pub fn authenticate(
    payload: ElementRef<'_>,
    operation: &str,
    users: &dyn UserLookup,
    now: i64,
) -> Result<Identity, S3Error> {
    let field = |name: &str| -> Result<Option<String>, S3Error> {
        let mut found = payload
            .elements()
            .filter(|e| e.name().is(Some(wire::s3::NAMESPACE), name));
        match (found.next(), found.next()) {
            (None, _) => Ok(None),
            (Some(e), None) => e
                .text()
                .map(|t| Some(t.trim().to_owned()))
                .map_err(|e| S3Error::InvalidArgument(format!("{name}: {e}"))),
            (Some(_), Some(_)) => Err(S3Error::InvalidArgument(format!("{name} occurs twice"))),
        }
    };
    let Some(access_key) = field("AWSAccessKeyId")? else {
        return Ok(Identity::Anonymous);
    };
    let timestamp = field("Timestamp")?
        .ok_or_else(|| S3Error::InvalidArgument("a signed request needs a Timestamp".into()))?;
    let signature = field("Signature")?
        .ok_or_else(|| S3Error::InvalidArgument("a signed request needs a Signature".into()))?;
    let signed_at = DateTime::from_text(&timestamp).map_err(|_| {
        S3Error::InvalidArgument(format!("Timestamp {timestamp:?} is not a dateTime"))
    })?;
    if (now - signed_at.unix_seconds()).abs() > MAX_SKEW_SECS {
        return Err(S3Error::RequestTimeTooSkewed {
            request_time: signed_at.unix_seconds(),
            server_time: now,
        });
    }
    let user = users
        .by_access_key(&access_key)?
        .filter(|u| u.enabled)
        .ok_or(S3Error::InvalidAccessKeyId)?;
    check_signature(
        &user,
        &format!("AmazonS3{operation}{timestamp}"),
        &signature,
    )?;
    Ok(Identity::User(Box::new(user)))
}

fn check_signature(user: &User, text: &str, signature: &str) -> Result<(), S3Error> {
    // The original compared without padding; clients send it with or without.
    let claimed = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(signature.trim().trim_end_matches('='))
        .map_err(|_| S3Error::SignatureDoesNotMatch)?;
    let key = hmac::Key::new(
        hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        user.secret_key.as_bytes(),
    );
    hmac::verify(&key, text.as_bytes(), &claimed).map_err(|_| S3Error::SignatureDoesNotMatch)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use users::UserStore;

    use super::*;

    const NOW: i64 = 1_795_563_271; // 2026-11-24T23:34:31Z

    fn store() -> (tempfile::TempDir, UserStore, User) {
        let dir = tempfile::tempdir().unwrap();
        let store = UserStore::open(&dir.path().join("users.sqlite")).unwrap();
        let (_, user) = store.create_account("alice", None).unwrap();
        (dir, store, user)
    }

    /// A request element as a client signs it for `operation`, with `secret`.
    fn request(
        operation: &str,
        access_key: &str,
        secret: &str,
        timestamp: &str,
    ) -> xmlbind::Document {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
        let tag = hmac::sign(&key, format!("AmazonS3{operation}{timestamp}").as_bytes());
        let signature = base64::engine::general_purpose::STANDARD.encode(tag);
        let xml = format!(
            r#"<ListAllMyBuckets xmlns="{}"><AWSAccessKeyId>{access_key}</AWSAccessKeyId><Timestamp>{timestamp}</Timestamp><Signature>{signature}</Signature></ListAllMyBuckets>"#,
            wire::s3::NAMESPACE
        );
        xmlbind::Document::parse(xml.as_bytes(), &xmlbind::Limits::default()).unwrap()
    }

    #[test]
    fn a_signed_request_names_its_user() {
        let (_dir, store, user) = store();
        let element = request(
            "ListAllMyBuckets",
            &user.access_key,
            &user.secret_key,
            "2026-11-24T23:30:00.000Z",
        );
        let who = authenticate(element.root(), "ListAllMyBuckets", &store, NOW).unwrap();
        assert_eq!(who.canonical_id(), Some(user.canonical_id.as_str()));
    }

    #[test]
    fn a_request_without_credentials_is_anonymous() {
        let (_dir, store, _) = store();
        let element = xmlbind::Document::parse(
            format!(r#"<ListAllMyBuckets xmlns="{}"/>"#, wire::s3::NAMESPACE).as_bytes(),
            &xmlbind::Limits::default(),
        )
        .unwrap();
        let who = authenticate(element.root(), "ListAllMyBuckets", &store, NOW).unwrap();
        assert!(matches!(who, Identity::Anonymous));
    }

    /// Guards against forged, replayed and re-targeted requests.
    #[test]
    fn wrong_stale_and_misdirected_signatures_are_refused() {
        let (_dir, store, user) = store();
        let fresh = "2026-11-24T23:30:00Z";
        let cases = [
            (
                request(
                    "ListAllMyBuckets",
                    &user.access_key,
                    "not the secret",
                    fresh,
                ),
                "ListAllMyBuckets",
            ),
            // Signed for another operation than the one it is sent as.
            (
                request("DeleteBucket", &user.access_key, &user.secret_key, fresh),
                "ListAllMyBuckets",
            ),
        ];
        for (element, operation) in cases {
            assert!(matches!(
                authenticate(element.root(), operation, &store, NOW),
                Err(S3Error::SignatureDoesNotMatch)
            ));
        }
        let stale = request(
            "ListAllMyBuckets",
            &user.access_key,
            &user.secret_key,
            "2026-11-24T22:00:00Z",
        );
        assert!(matches!(
            authenticate(stale.root(), "ListAllMyBuckets", &store, NOW),
            Err(S3Error::RequestTimeTooSkewed { .. })
        ));
        let unknown = request("ListAllMyBuckets", "AKIDUNKNOWN", &user.secret_key, fresh);
        assert!(matches!(
            authenticate(unknown.root(), "ListAllMyBuckets", &store, NOW),
            Err(S3Error::InvalidAccessKeyId)
        ));
    }
}

//! What a request brings to evaluation besides its action and resource: the values of the
//! condition keys (`aws:SourceIp`, `aws:CurrentTime`, `aws:username`, `s3:prefix`, ...).

use std::collections::BTreeMap;
use std::net::IpAddr;

/// The requester's address.
pub const SOURCE_IP: &str = "aws:SourceIp";
/// The request's time, ISO 8601 in UTC.
pub const CURRENT_TIME: &str = "aws:CurrentTime";
/// The request's time, seconds since the Unix epoch.
pub const EPOCH_TIME: &str = "aws:EpochTime";
/// The requesting user's name.
pub const USERNAME: &str = "aws:username";
/// The requesting user's id (IAM UserId).
pub const USERID: &str = "aws:userid";
/// Whether the request came over TLS.
pub const SECURE_TRANSPORT: &str = "aws:SecureTransport";
/// ListBucket's `prefix`.
pub const S3_PREFIX: &str = "s3:prefix";
/// ListBucket's `delimiter`.
pub const S3_DELIMITER: &str = "s3:delimiter";

/// Condition keys and their values. Keys are case-insensitive, as in IAM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: BTreeMap<String, String>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys every request has: the user's name and id, where it came from, and when
    /// (seconds since the Unix epoch).
    pub fn of_request(user_name: &str, user_id: &str, source: Option<IpAddr>, now: i64) -> Self {
        let mut context = Self::new()
            .with(USERNAME, user_name)
            .with(CURRENT_TIME, xmlbind::DateTime::from_unix(now).as_str())
            .with(EPOCH_TIME, now.to_string())
            .with(SECURE_TRANSPORT, "false");
        if !user_id.is_empty() {
            context.set(USERID, user_id);
        }
        if let Some(ip) = source {
            context.set(SOURCE_IP, ip.to_string());
        }
        context
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_ascii_lowercase(), value.into());
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_has_its_standard_keys_and_keys_ignore_case() {
        let ip: IpAddr = [127, 0, 0, 1].into();
        let context = Context::of_request("bob", "AIDAEXAMPLE", Some(ip), 1_372_550_400);
        assert_eq!(context.get("AWS:SOURCEIP"), Some("127.0.0.1"));
        assert_eq!(context.get(CURRENT_TIME), Some("2013-06-30T00:00:00Z"));
        assert_eq!(context.get(EPOCH_TIME), Some("1372550400"));
        assert_eq!(context.get(USERNAME), Some("bob"));
        assert_eq!(context.get(USERID), Some("AIDAEXAMPLE"));
        assert_eq!(context.get(S3_PREFIX), None);
    }
}

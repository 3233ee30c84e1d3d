//! A statement's Condition block: operators over context keys. Within one key the values
//! are alternatives (any may match); keys and operators must all hold.
//!
//! A key the request lacks makes a condition false, except for the negated operators
//! (StringNotEquals, NotIpAddress, ...), which hold, and the `...IfExists` forms, which
//! hold whatever the operator. `Null: true` holds when the key is absent.

use std::net::IpAddr;

use serde_json::Value;
use xmlbind::XmlText;

use crate::context::Context;
use crate::pattern::{Pattern, Syntax};
use crate::PolicyError;

/// How an operator compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    StringEquals { fold_case: bool },
    StringLike,
    IpAddress,
    Date(Ordering),
    Numeric(Ordering),
    Bool,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ordering {
    Equals,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

impl Ordering {
    fn holds<T: PartialOrd>(self, actual: T, value: T) -> bool {
        match self {
            Self::Equals => actual == value,
            Self::LessThan => actual < value,
            Self::LessThanEquals => actual <= value,
            Self::GreaterThan => actual > value,
            Self::GreaterThanEquals => actual >= value,
        }
    }
}

/// The operators, by name: what they test and whether they are negated.
const OPERATORS: &[(&str, Test, bool)] = &[
    (
        "StringEquals",
        Test::StringEquals { fold_case: false },
        false,
    ),
    (
        "StringNotEquals",
        Test::StringEquals { fold_case: false },
        true,
    ),
    (
        "StringEqualsIgnoreCase",
        Test::StringEquals { fold_case: true },
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Test::StringEquals { fold_case: true },
        true,
    ),
    ("StringLike", Test::StringLike, false),
    ("StringNotLike", Test::StringLike, true),
    ("IpAddress", Test::IpAddress, false),
    ("NotIpAddress", Test::IpAddress, true),
    ("DateEquals", Test::Date(Ordering::Equals), false),
    ("DateNotEquals", Test::Date(Ordering::Equals), true),
    ("DateLessThan", Test::Date(Ordering::LessThan), false),
    (
        "DateLessThanEquals",
        Test::Date(Ordering::LessThanEquals),
        false,
    ),
    ("DateGreaterThan", Test::Date(Ordering::GreaterThan), false),
    (
        "DateGreaterThanEquals",
        Test::Date(Ordering::GreaterThanEquals),
        false,
    ),
    ("NumericEquals", Test::Numeric(Ordering::Equals), false),
    ("NumericNotEquals", Test::Numeric(Ordering::Equals), true),
    ("NumericLessThan", Test::Numeric(Ordering::LessThan), false),
    (
        "NumericLessThanEquals",
        Test::Numeric(Ordering::LessThanEquals),
        false,
    ),
    (
        "NumericGreaterThan",
        Test::Numeric(Ordering::GreaterThan),
        false,
    ),
    (
        "NumericGreaterThanEquals",
        Test::Numeric(Ordering::GreaterThanEquals),
        false,
    ),
    ("Bool", Test::Bool, false),
    ("Null", Test::Null, false),
];

/// The values one key is compared with, read as the operator needs them.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    Patterns(Vec<Pattern>),
    Networks(Vec<Network>),
    Numbers(Vec<f64>),
    Flags(Vec<bool>),
}

/// One operator on one key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    test: Test,
    negated: bool,
    if_exists: bool,
    key: String,
    values: Values,
}

impl Condition {
    /// The conditions of a Condition block; `variables`: whether string values read
    /// policy variables (Version 2012-10-17).
    pub(crate) fn parse_block(block: &Value, variables: bool) -> Result<Vec<Self>, PolicyError> {
        let operators = block
            .as_object()
            .ok_or_else(|| malformed("Condition must be an object of operators"))?;
        let mut conditions = Vec::new();
        for (operator, keys) in operators {
            let (test, negated, if_exists) = operator_named(operator)?;
            let keys = keys.as_object().ok_or_else(|| {
                malformed(format!(
                    "Condition operator {operator} must map condition keys to values"
                ))
            })?;
            if keys.is_empty() {
                return Err(malformed(format!(
                    "Condition operator {operator} names no condition key"
                )));
            }
            for (key, values) in keys {
                if !key.contains(':') {
                    return Err(malformed(format!(
                        "Condition key {key} must be prefaced by a vendor, e.g. aws:SourceIp"
                    )));
                }
                let texts = value_texts(values, operator, key)?;
                conditions.push(Condition {
                    test,
                    negated,
                    if_exists,
                    key: key.to_ascii_lowercase(),
                    values: read_values(test, &texts, variables, operator)?,
                });
            }
        }
        Ok(conditions)
    }

    /// Whether the condition holds for the request's `context`.
    pub(crate) fn holds(&self, context: &Context) -> bool {
        let Some(actual) = context.get(&self.key) else {
            return match (&self.test, &self.values) {
                (Test::Null, Values::Flags(flags)) => flags.contains(&true),
                _ => self.if_exists || self.negated,
            };
        };
        let any = match (&self.test, &self.values) {
            (Test::StringEquals { fold_case }, Values::Patterns(ps)) => {
                ps.iter().any(|p| p.matches(actual, *fold_case, context))
            }
            (Test::StringLike, Values::Patterns(ps)) => {
                ps.iter().any(|p| p.matches(actual, false, context))
            }
            (Test::IpAddress, Values::Networks(nets)) => match actual.parse::<IpAddr>() {
                Ok(ip) => nets.iter().any(|n| n.contains(ip)),
                Err(_) => return false,
            },
            (Test::Date(order), Values::Numbers(times)) => match time(actual) {
                Some(t) => times.iter().any(|v| order.holds(t, *v)),
                None => return false,
            },
            (Test::Numeric(order), Values::Numbers(numbers)) => match actual.parse::<f64>() {
                Ok(n) => numbers.iter().any(|v| order.holds(n, *v)),
                Err(_) => return false,
            },
            (Test::Bool, Values::Flags(flags)) => flags.iter().any(|f| f.to_string() == actual),
            (Test::Null, Values::Flags(flags)) => flags.contains(&false),
            _ => false,
        };
        any != self.negated
    }
}

fn malformed(message: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(message.into())
}

fn operator_named(name: &str) -> Result<(Test, bool, bool), PolicyError> {
    let (base, if_exists) = match name.strip_suffix("IfExists") {
        Some(base) if base != "Null" => (base, true),
        _ => (name, false),
    };
    OPERATORS
        .iter()
        .find(|(n, ..)| *n == base)
        .map(|(_, test, negated)| (*test, *negated, if_exists))
        .ok_or_else(|| malformed(format!("Condition operator {name} is not supported")))
}

/// A key's values as text: a string, number or boolean, or a non-empty list of them.
fn value_texts(values: &Value, operator: &str, key: &str) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let texts = match values {
        Value::Array(items) => items.iter().map(one).collect::<Option<Vec<_>>>(),
        v => one(v).map(|t| vec![t]),
    };
    match texts {
        Some(texts) if !texts.is_empty() => Ok(texts),
        _ => Err(malformed(format!(
            "Condition {operator} on {key} needs a string, number or boolean, or a list of them"
        ))),
    }
}

fn read_values(
    test: Test,
    texts: &[String],
    variables: bool,
    operator: &str,
) -> Result<Values, PolicyError> {
    let each = |parse: &dyn Fn(&str) -> Option<f64>, kind: &str| {
        texts
            .iter()
            .map(|t| {
                parse(t).ok_or_else(|| {
                    malformed(format!("Condition {operator} needs {kind}, not {t:?}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match test {
        Test::StringEquals { .. } | Test::StringLike => Values::Patterns(
            texts
                .iter()
                .map(|t| {
                    Pattern::parse(
                        t,
                        Syntax {
                            wildcards: test == Test::StringLike,
                            variables,
                        },
                    )
                })
                .collect(),
        ),
        Test::IpAddress => Values::Networks(
            texts
                .iter()
                .map(|t| {
                    Network::parse(t).ok_or_else(|| {
                        malformed(format!(
                            "Condition {operator} needs IP addresses or CIDR blocks, not {t:?}"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        Test::Date(_) => Values::Numbers(each(&time, "dates (ISO 8601 or epoch seconds)")?),
        Test::Numeric(_) => Values::Numbers(each(&|t| t.parse().ok(), "numbers")?),
        Test::Bool | Test::Null => Values::Flags(
            texts
                .iter()
                .map(|t| match t.as_str() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err(malformed(format!(
                        "Condition {operator} needs true or false, not {t:?}"
                    ))),
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A date as seconds since the epoch: epoch seconds, an ISO 8601 date-time, or a date
/// (midnight UTC).
fn time(text: &str) -> Option<f64> {
    if let Ok(secs) = text.parse::<i64>() {
        return Some(secs as f64);
    }
    let text = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    xmlbind::DateTime::from_text(&text)
        .ok()
        .map(|t| t.unix_seconds() as f64)
}

/// An address block: an address and how many leading bits count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    bits: u8,
}

impl Network {
    /// `a.b.c.d/n`, `x::y/n`, or an address alone (all its bits).
    fn parse(text: &str) -> Option<Self> {
        let (address, bits) = match text.split_once('/') {
            Some((a, b)) => (a.parse::<IpAddr>().ok()?, Some(b.parse::<u8>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let width = if address.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(width);
        (bits <= width).then_some(Self { address, bits })
    }

    fn contains(self, ip: IpAddr) -> bool {
        let prefix = |a: u128, b: u128, width: u8| {
            let shift = u32::from(width - self.bits);
            shift >= 128 || (a >> shift) == (b >> shift)
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix(u32::from(net).into(), u32::from(ip).into(), 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix(net.into(), ip.into(), 128),
            (IpAddr::V4(net), IpAddr::V6(ip)) => ip.to_ipv4_mapped().is_some_and(|ip| {
                Self {
                    address: net.into(),
                    ..self
                }
                .contains(ip.into())
            }),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn block(json: &str) -> Vec<Condition> {
        Condition::parse_block(&serde_json::from_str(json).unwrap(), true).unwrap()
    }

    fn all_hold(json: &str, context: &Context) -> bool {
        block(json).iter().all(|c| c.holds(context))
    }

    #[test]
    fn string_operators() {
        let bob = Context::new().with("aws:username", "bob");
        assert!(all_hold(
            r#"{"StringEquals": {"aws:username": ["alice", "bob"]}}"#,
            &bob
        ));
        assert!(!all_hold(
            r#"{"StringEquals": {"aws:username": "BOB"}}"#,
            &bob
        ));
        assert!(all_hold(
            r#"{"StringEqualsIgnoreCase": {"aws:username": "BOB"}}"#,
            &bob
        ));
        assert!(!all_hold(
            r#"{"StringNotEquals": {"aws:username": "bob"}}"#,
            &bob
        ));
        assert!(all_hold(
            r#"{"StringNotEquals": {"aws:username": "alice"}}"#,
            &bob
        ));
        assert!(all_hold(
            r#"{"StringLike": {"aws:username": "b?b*"}}"#,
            &bob
        ));
        assert!(!all_hold(
            r#"{"StringEquals": {"aws:username": "b*"}}"#,
            &bob
        ));
        assert!(!all_hold(
            r#"{"StringNotLike": {"aws:username": "b*"}}"#,
            &bob
        ));
    }

    #[test]
    fn a_missing_key_fails_plain_operators_and_passes_negated_and_if_exists() {
        let none = Context::new();
        assert!(!all_hold(r#"{"StringEquals": {"s3:prefix": "x"}}"#, &none));
        assert!(!all_hold(
            r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
            &none
        ));
        assert!(all_hold(
            r#"{"StringNotEquals": {"s3:prefix": "x"}}"#,
            &none
        ));
        assert!(all_hold(
            r#"{"StringEqualsIfExists": {"s3:prefix": "x"}}"#,
            &none
        ));
        assert!(all_hold(r#"{"Null": {"s3:prefix": "true"}}"#, &none));
        assert!(!all_hold(r#"{"Null": {"s3:prefix": false}}"#, &none));
        let with = Context::new().with("s3:prefix", "y");
        assert!(!all_hold(
            r#"{"StringEqualsIfExists": {"s3:prefix": "x"}}"#,
            &with
        ));
        assert!(all_hold(r#"{"Null": {"s3:prefix": "false"}}"#, &with));
    }

    #[test]
    fn addresses_and_blocks() {
        let from = |ip: &str| Context::new().with("aws:SourceIp", ip);
        let policy = r#"{"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.7"]}}"#;
        assert!(all_hold(policy, &from("192.0.2.200")));
        assert!(all_hold(policy, &from("203.0.113.7")));
        assert!(!all_hold(policy, &from("203.0.113.8")));
        assert!(!all_hold(policy, &from("127.0.0.1")));
        assert!(all_hold(
            r#"{"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}"#,
            &from("127.0.0.1")
        ));
        assert!(all_hold(
            r#"{"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}"#,
            &from("8.8.8.8")
        ));
        assert!(all_hold(
            r#"{"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}"#,
            &from("2001:db8::1")
        ));
        assert!(!all_hold(
            r#"{"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}"#,
            &from("10.0.0.1")
        ));
        assert!(all_hold(
            r#"{"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}"#,
            &from("::ffff:127.0.0.1")
        ));
    }

    #[test]
    fn dates_compare_as_times() {
        // AWS's example: allowed only within the first half of 2013.
        let window = r#"{"DateGreaterThan": {"aws:CurrentTime": "2013-01-01T00:00:00Z"},
                         "DateLessThan": {"aws:CurrentTime": "2013-06-30T00:00:00Z"}}"#;
        let at = |t: &str| Context::new().with("aws:CurrentTime", t);
        assert!(all_hold(window, &at("2013-03-01T12:00:00Z")));
        assert!(!all_hold(window, &at("2013-07-01T00:00:00Z")));
        assert!(!all_hold(window, &at("2012-12-31T23:59:59Z")));
        assert!(all_hold(window, &at("2013-03-01T12:00:00+05:00")));
        assert!(all_hold(
            r#"{"DateLessThan": {"aws:EpochTime": "2013-06-30"}}"#,
            &Context::new().with("aws:EpochTime", "1372550399")
        ));
        assert!(!all_hold(
            r#"{"DateLessThan": {"aws:EpochTime": 1372550400}}"#,
            &Context::new().with("aws:EpochTime", "1372550400")
        ));
    }

    #[test]
    fn numbers_and_flags() {
        let context = Context::new()
            .with("s3:max-keys", "10")
            .with("aws:SecureTransport", "false");
        assert!(all_hold(
            r#"{"NumericLessThanEquals": {"s3:max-keys": 10}}"#,
            &context
        ));
        assert!(!all_hold(
            r#"{"NumericLessThan": {"s3:max-keys": "10"}}"#,
            &context
        ));
        assert!(all_hold(
            r#"{"Bool": {"aws:SecureTransport": false}}"#,
            &context
        ));
        assert!(!all_hold(
            r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
            &context
        ));
    }

    #[test]
    fn malformed_conditions_name_their_fault() {
        let fault =
            |json: &str| match Condition::parse_block(&serde_json::from_str(json).unwrap(), true) {
                Err(PolicyError::Malformed(m)) => m,
                other => panic!("{json}: {other:?}"),
            };
        assert!(fault(r#"{"StringSortOf": {"aws:username": "x"}}"#).contains("StringSortOf"));
        assert!(fault(r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}"#).contains("10.0.0.0/33"));
        assert!(fault(r#"{"DateLessThan": {"aws:CurrentTime": "soon"}}"#).contains("soon"));
        assert!(fault(r#"{"StringEquals": {"username": "x"}}"#).contains("vendor"));
        assert!(fault(r#"{"StringEquals": {"aws:username": []}}"#).contains("aws:username"));
        assert!(fault(r#"{"StringEquals": {"aws:username": {"a": 1}}}"#).contains("aws:username"));
        assert!(fault(r#"{"StringEquals": {}}"#).contains("no condition key"));
        assert!(fault(r#"{"Bool": {"aws:SecureTransport": "yes"}}"#).contains("yes"));
        assert!(fault(r#"["StringEquals"]"#).contains("object"));
        assert!(fault(r#"{"NullIfExists": {"aws:username": true}}"#).contains("NullIfExists"));
    }
}

//! The EC2 Query protocol's parameters (`InstanceId.1=i-…&Placement.AvailabilityZone=…`) read
//! into the generated request types.
//!
//! The generated [`FromQuery`] impls know each parameter's name (the element's name with a
//! capital, `Name.N` for the `item`s of a `…Set`, `Name.N.Field` for structured items, `Name.`
//! before a nested structure's fields); [`QueryParams`] holds the parameters, hands each out
//! once, and at the end names any that no field took. Errors carry EC2's codes.

use std::collections::BTreeMap;

use xmlbind::XmlText;

/// Parameters of the protocol itself (action, version, signature), never part of a request:
/// [`QueryParams::new`] leaves them out, as it does every `X-Amz-*` (SigV4 in the query).
pub const PROTOCOL_PARAMETERS: [&str; 9] = [
    "Action",
    "Version",
    "AWSAccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "Timestamp",
    "Expires",
    "SecurityToken",
];

/// Why a Query request does not make a request value; [`QueryError::code`] is EC2's code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("The action {0} is not valid for this web service.")]
    InvalidAction(String),
    #[error("The request must contain the parameter {0}.")]
    MissingParameter(String),
    #[error("The parameter {0} is not recognized.")]
    UnknownParameter(String),
    #[error("Value ({value}) for parameter {parameter} is invalid. {reason}")]
    InvalidParameterValue {
        parameter: String,
        value: String,
        reason: String,
    },
}

impl QueryError {
    /// EC2's error code (all answered with HTTP 400).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidAction(_) => "InvalidAction",
            Self::MissingParameter(_) => "MissingParameter",
            Self::UnknownParameter(_) => "UnknownParameter",
            Self::InvalidParameterValue { .. } => "InvalidParameterValue",
        }
    }

    fn invalid(parameter: &str, value: &str, reason: impl Into<String>) -> Self {
        Self::InvalidParameterValue {
            parameter: parameter.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// One `Filter.N`: `Filter.N.Name` and its values `Filter.N.Value.M`, in index order. The
/// 2009-04-04 messages have no filters, so they travel beside the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

/// A value read from Query parameters; implemented by the generated types.
pub trait FromQuery: Sized {
    /// Reads the value whose parameters start with `prefix` (empty for a request,
    /// `Placement.` for a nested structure, `IpPermissions.1.` for an item), taking the
    /// parameters it uses out of `params`.
    fn from_query(params: &mut QueryParams, prefix: &str) -> Result<Self, QueryError>;
}

/// The parameters of one request, each handed out once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    params: BTreeMap<String, String>,
}

impl QueryParams {
    /// The request's parameters without the [`PROTOCOL_PARAMETERS`]; a parameter given
    /// twice is an error.
    pub fn new<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, QueryError> {
        let mut params = BTreeMap::new();
        for (key, value) in pairs {
            let key = key.into();
            if PROTOCOL_PARAMETERS.contains(&key.as_str()) || key.starts_with("X-Amz-") {
                continue;
            }
            let value = value.into();
            if params.contains_key(&key) {
                return Err(QueryError::invalid(
                    &key,
                    &value,
                    "It is given more than once.",
                ));
            }
            params.insert(key, value);
        }
        Ok(Self { params })
    }

    /// Takes a parameter out, unread.
    pub fn take(&mut self, key: &str) -> Option<String> {
        self.params.remove(key)
    }

    /// Adds a parameter, replacing one of the same name: for rewriting an older spelling.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.params.insert(key.into(), value.into());
    }

    /// Whether `key` itself or any parameter under it (`key.…`) is present.
    pub fn has(&self, key: &str) -> bool {
        self.params.contains_key(key) || self.under(key).next().is_some()
    }

    /// The parameters under `key.`, in key order, with what follows the dot.
    fn under<'a>(&'a self, key: &str) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        let prefix = format!("{key}.");
        let skip = prefix.len();
        self.params
            .range(prefix.clone()..)
            .map(|(k, _)| k.as_str())
            .take_while(move |k| k.starts_with(&prefix))
            .map(move |k| (k, &k[skip..]))
    }

    /// Takes `key` and reads it as `T`.
    pub fn value<T: XmlText>(&mut self, key: &str) -> Result<Option<T>, QueryError> {
        self.take(key).map(|text| parse(key, &text)).transpose()
    }

    /// Like [`QueryParams::value`], for a parameter the request must have.
    pub fn required<T: XmlText>(&mut self, key: &str) -> Result<T, QueryError> {
        self.value(key)?
            .ok_or_else(|| QueryError::MissingParameter(key.to_owned()))
    }

    /// Whether `key` is present, taking it; for an element with no content.
    pub fn flag(&mut self, key: &str) -> bool {
        self.take(key).is_some()
    }

    /// Takes `key.1`, `key.2`, … in index order and reads each as `T`.
    pub fn values<T: XmlText>(&mut self, key: &str) -> Result<Vec<T>, QueryError> {
        let mut indexed: Vec<(u32, String)> = self
            .under(key)
            .filter_map(|(full, rest)| index(rest).map(|n| (n, full.to_owned())))
            .collect();
        indexed.sort();
        indexed
            .into_iter()
            .map(|(_, full)| {
                let text = self.take(&full).unwrap_or_default();
                parse(&full, &text)
            })
            .collect()
    }

    /// The indices `N` of the structured items `key.N.…`, in order.
    pub fn indices(&self, key: &str) -> Vec<u32> {
        let mut found: Vec<u32> = self
            .under(key)
            .filter_map(|(_, rest)| rest.split_once('.').and_then(|(n, _)| index(n)))
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Reads each `key.N.` item with `read` (which gets the item's prefix), in index order.
    pub fn items<T>(
        &mut self,
        key: &str,
        mut read: impl FnMut(&mut Self, &str) -> Result<T, QueryError>,
    ) -> Result<Vec<T>, QueryError> {
        self.indices(key)
            .into_iter()
            .map(|n| read(self, &format!("{key}.{n}.")))
            .collect()
    }

    /// Takes an AWS Query list's `key.member.1`, `key.member.2`, … in index order and reads
    /// each as `T`; an empty list is `key=` alone (as botocore sends it), taken too.
    pub fn members<T: XmlText>(&mut self, key: &str) -> Result<Vec<T>, QueryError> {
        self.take_empty(key);
        self.values(&format!("{key}.member"))
    }

    /// Reads each structure `key.member.N.` of an AWS Query list with `read`, in index
    /// order; an empty list is `key=` alone, taken too.
    pub fn member_items<T>(
        &mut self,
        key: &str,
        read: impl FnMut(&mut Self, &str) -> Result<T, QueryError>,
    ) -> Result<Vec<T>, QueryError> {
        self.take_empty(key);
        self.items(&format!("{key}.member"), read)
    }

    /// Takes `key` if it is present and empty.
    fn take_empty(&mut self, key: &str) {
        if self.params.get(key).is_some_and(String::is_empty) {
            self.params.remove(key);
        }
    }

    /// Takes the `Filter.N.Name` / `Filter.N.Value.M` parameters.
    pub fn take_filters(&mut self) -> Result<Vec<Filter>, QueryError> {
        self.items("Filter", |params, prefix| {
            Ok(Filter {
                name: params.required(&format!("{prefix}Name"))?,
                values: params.values(&format!("{prefix}Value"))?,
            })
        })
    }

    /// Succeeds when every parameter was taken; else names the first one left.
    pub fn finish(self) -> Result<(), QueryError> {
        match self.params.into_keys().next() {
            Some(key) => Err(QueryError::UnknownParameter(key)),
            None => Ok(()),
        }
    }
}

/// A 1-based list index: decimal digits only.
fn index(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|n| *n >= 1)
}

fn parse<T: XmlText>(key: &str, text: &str) -> Result<T, QueryError> {
    T::from_text(text).map_err(|e| QueryError::invalid(key, text, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> QueryParams {
        QueryParams::new(pairs.iter().copied()).expect("no duplicates")
    }

    #[test]
    fn lists_are_read_in_index_order_not_key_order() {
        let mut p = params(&[("Id.10", "ten"), ("Id.2", "two"), ("Id.1", "one")]);
        let ids: Vec<String> = p.values("Id").expect("strings");
        assert_eq!(ids, ["one", "two", "ten"]);
        assert_eq!(p.finish(), Ok(()));
    }

    #[test]
    fn protocol_parameters_are_not_request_parameters() {
        let p = params(&[("Action", "X"), ("X-Amz-Date", "d"), ("Signature", "s")]);
        assert_eq!(p.finish(), Ok(()));
    }

    #[test]
    fn a_parameter_nobody_takes_is_unknown() {
        let mut p = params(&[("Id.1", "a"), ("Id.x", "b"), ("Id.0", "c")]);
        assert_eq!(p.values::<String>("Id"), Ok(vec!["a".to_owned()]));
        assert_eq!(
            p.finish(),
            Err(QueryError::UnknownParameter("Id.0".to_owned()))
        );
    }

    #[test]
    fn bad_values_and_missing_ones_have_ec2_codes() {
        let mut p = params(&[("MinCount", "many")]);
        let error = p.required::<i32>("MinCount").expect_err("not a number");
        assert_eq!(error.code(), "InvalidParameterValue");
        assert!(error.to_string().contains("MinCount"), "{error}");
        let error = p.required::<i32>("MaxCount").expect_err("absent");
        assert_eq!(error, QueryError::MissingParameter("MaxCount".to_owned()));
        let twice = QueryParams::new([("A", "1"), ("A", "2")]).expect_err("duplicate");
        assert_eq!(twice.code(), "InvalidParameterValue");
    }

    #[test]
    fn filters_are_taken_with_their_values() {
        let mut p = params(&[
            ("Filter.2.Name", "instance-state-name"),
            ("Filter.2.Value.1", "running"),
            ("Filter.1.Name", "tag:Name"),
            ("Filter.1.Value.2", "b"),
            ("Filter.1.Value.1", "a"),
        ]);
        let filters = p.take_filters().expect("filters");
        assert_eq!(
            filters,
            [
                Filter {
                    name: "tag:Name".into(),
                    values: vec!["a".into(), "b".into()]
                },
                Filter {
                    name: "instance-state-name".into(),
                    values: vec!["running".into()]
                },
            ]
        );
        assert_eq!(p.finish(), Ok(()));
    }

    #[test]
    fn aws_lists_are_numbered_members_and_an_empty_one_is_its_bare_name() {
        let mut p = params(&[
            ("Names.member.2", "b"),
            ("Names.member.1", "a"),
            ("Empty", ""),
            ("Tags.member.1.Key", "k"),
        ]);
        assert_eq!(
            p.members::<String>("Names"),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(p.members::<String>("Empty"), Ok(vec![]));
        let keys = p.member_items("Tags", |p, prefix| {
            p.required::<String>(&format!("{prefix}Key"))
        });
        assert_eq!(keys, Ok(vec!["k".into()]));
        assert_eq!(p.finish(), Ok(()));
        // A bare name with a value is not an empty list: nothing takes it.
        let mut p = params(&[("Names", "x")]);
        assert_eq!(p.members::<String>("Names"), Ok(vec![]));
        assert_eq!(
            p.finish(),
            Err(QueryError::UnknownParameter("Names".into()))
        );
    }

    #[test]
    fn structured_items_are_found_by_their_index() {
        let p = params(&[
            ("P.2.Port", "1"),
            ("P.1.Ranges.1.Cidr", "x"),
            ("P.1.Port", "2"),
            ("P.Other", "y"),
        ]);
        assert_eq!(p.indices("P"), [1, 2]);
        assert!(p.has("P") && p.has("P.1.Ranges") && !p.has("Q"));
    }
}

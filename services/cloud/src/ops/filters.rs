//! EC2's `Filter.N` on Describe calls: an item is listed when, for every filter, one of its
//! values for the filter's name matches one of the filter's values (`*` any run of
//! characters, `?` any one character, as EC2's). A name the call does not know is refused.

use wire::query::Filter;

use crate::error::Ec2Error;

/// The filters of one request, checked against the names its call knows.
#[derive(Debug)]
pub struct Filters<'a> {
    filters: &'a [Filter],
}

impl<'a> Filters<'a> {
    pub fn new(filters: &'a [Filter], known: &[&str]) -> Result<Self, Ec2Error> {
        if let Some(unknown) = filters.iter().find(|f| !known.contains(&f.name.as_str())) {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "The filter '{}' is invalid; this call knows {}",
                unknown.name,
                known.join(", ")
            )));
        }
        Ok(Self { filters })
    }

    /// Whether the item whose values `values` gives (by filter name) passes every filter.
    pub fn pass<'v>(&self, values: impl Fn(&str) -> Vec<&'v str>) -> bool {
        self.filters.iter().all(|filter| {
            values(&filter.name)
                .iter()
                .any(|value| filter.values.iter().any(|pattern| matches(pattern, value)))
        })
    }
}

/// `*` and `?` wildcards over characters.
fn matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer glob match, backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn filter(name: &str, values: &[&str]) -> Filter {
        Filter {
            name: name.into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn wildcards_match_as_ec2s() {
        assert!(matches("web*", "web-1") && matches("*", "") && matches("w?b", "web"));
        assert!(matches("*-1", "web-1") && matches("a*b*c", "aXbYc"));
        assert!(!matches("web", "web-1") && !matches("w?b", "wb") && !matches("a*c", "ab"));
    }

    #[test]
    fn every_filter_must_pass_by_one_of_its_values() {
        let given = [
            filter("key-name", &["a*", "z"]),
            filter("fingerprint", &["1:2"]),
        ];
        let filters = Filters::new(&given, &["key-name", "fingerprint"]).unwrap();
        let item = |name: &'static str, fp: &'static str| {
            move |key: &str| match key {
                "key-name" => vec![name],
                _ => vec![fp],
            }
        };
        assert!(filters.pass(item("abc", "1:2")));
        assert!(filters.pass(item("z", "1:2")));
        assert!(!filters.pass(item("b", "1:2")));
        assert!(!filters.pass(item("abc", "3:4")));
        assert!(Filters::new(&given, &["key-name"]).is_err());
    }
}

//! A Query request's parameters, decoded from the URL's query string or a form body.

use walrus::uri::{percent_decode, query_pairs};

/// A request's decoded parameters, in the order sent.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Reads `a=b&c=d` (URL query or form body): `+` is a space, `%XX` decoded.
    pub fn parse(raw: &str) -> Self {
        let decode = |text: &str| String::from_utf8_lossy(&percent_decode(text, true)).into_owned();
        Self(
            query_pairs(raw)
                .filter(|p| !p.raw_name.is_empty())
                .map(|p| (decode(p.raw_name), decode(p.raw_value.unwrap_or(""))))
                .collect(),
        )
    }

    /// Parameters decoded elsewhere (from CloudWatch's JSON or CBOR), in their order.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in the order sent.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Adds `more` after these (a POST's body after its URL's).
    pub fn extend(&mut self, more: Params) {
        self.0.extend(more.0);
    }

    pub fn iter(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_decoded_in_order() {
        let p = Params::parse("Action=DescribeKeyPairs&KeyName.1=a+b&KeyName.2=c%2Fd&Flag&=x");
        let pairs: Vec<(&str, &str)> = p.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("Action", "DescribeKeyPairs"),
                ("KeyName.1", "a b"),
                ("KeyName.2", "c/d"),
                ("Flag", "")
            ]
        );
        assert_eq!(p.get("KeyName.2"), Some("c/d"));
        assert_eq!(
            Params::parse("a=1&b=2&a=3").all("a").collect::<Vec<_>>(),
            ["1", "3"]
        );
    }
}

//! Simple XML Schema values and their lexical forms.

use std::borrow::Cow;

use base64::Engine as _;

use crate::error::{ErrorKind, XmlError};

/// A value with a text form: the content of a simple-typed element or an attribute.
pub trait XmlText: Sized {
    fn from_text(text: &str) -> Result<Self, XmlError>;
    fn to_text(&self) -> Cow<'_, str>;
}

fn invalid(kind: &'static str, value: &str) -> XmlError {
    ErrorKind::InvalidValue {
        kind,
        value: value.to_owned(),
    }
    .into()
}

impl XmlText for String {
    fn from_text(text: &str) -> Result<Self, XmlError> {
        Ok(text.to_owned())
    }
    fn to_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

macro_rules! numeric_text {
    ($($t:ty => $kind:literal),* $(,)?) => {$(
        impl XmlText for $t {
            fn from_text(text: &str) -> Result<Self, XmlError> {
                text.trim().parse().map_err(|_| invalid($kind, text))
            }
            fn to_text(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }
        }
    )*};
}
numeric_text!(i32 => "xs:int", i64 => "xs:long", u32 => "xs:unsignedInt", u64 => "xs:unsignedLong");

impl XmlText for f64 {
    fn from_text(text: &str) -> Result<Self, XmlError> {
        match text.trim() {
            "INF" => Ok(f64::INFINITY),
            "-INF" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            t => t.parse().map_err(|_| invalid("xs:double", text)),
        }
    }
    fn to_text(&self) -> Cow<'_, str> {
        Cow::Owned(match *self {
            f64::INFINITY => "INF".to_owned(),
            f64::NEG_INFINITY => "-INF".to_owned(),
            v if v.is_nan() => "NaN".to_owned(),
            v => v.to_string(),
        })
    }
}

impl XmlText for bool {
    fn from_text(text: &str) -> Result<Self, XmlError> {
        match text.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(invalid("xs:boolean", text)),
        }
    }
    fn to_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(if *self { "true" } else { "false" })
    }
}

/// `xs:base64Binary`: the decoded bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Base64Binary(pub Vec<u8>);

impl Base64Binary {
    /// Appends the lexical form of `bytes` to `out`: no value or string of its own for a
    /// writer that assembles markup itself.
    pub fn encode_into(bytes: &[u8], out: &mut String) {
        base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
    }
}

impl XmlText for Base64Binary {
    fn from_text(text: &str) -> Result<Self, XmlError> {
        let engine = base64::engine::general_purpose::STANDARD;
        // The lexical form allows whitespace anywhere (line-wrapped by many encoders); most
        // values have none, and are decoded as they stand.
        let decoded = if text.bytes().any(|b| b.is_ascii_whitespace()) {
            let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
            engine.decode(compact)
        } else {
            engine.decode(text)
        };
        decoded
            .map(Base64Binary)
            .map_err(|_| invalid("xs:base64Binary", text))
    }
    fn to_text(&self) -> Cow<'_, str> {
        Cow::Owned(base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

/// `xs:dateTime`, kept in its lexical form after checking it, so that a value read from a
/// peer is written back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(String);

/// The Unix epoch, `1970-01-01T00:00:00Z`: a valid value for types that must have a default.
impl Default for DateTime {
    fn default() -> Self {
        Self::from_unix(0)
    }
}

impl DateTime {
    /// The UTC time `secs` seconds after the Unix epoch, as `YYYY-MM-DDThh:mm:ssZ`.
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        if !(0..=9999).contains(&y) {
            return DateTime(format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                rem / 3600,
                rem % 3600 / 60,
                rem % 60
            ));
        }
        // Every signed message writes two of these: digits placed, not formatted.
        let digits = |n: i64| [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
        let mut text = [0u8; 20];
        for (at, pair) in [
            (0, y / 100),
            (2, y % 100),
            (5, m),
            (8, d),
            (11, rem / 3600),
            (14, rem % 3600 / 60),
            (17, rem % 60),
        ] {
            text[at..at + 2].copy_from_slice(&digits(pair));
        }
        for (at, separator) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'Z'),
        ] {
            text[at] = separator;
        }
        DateTime(text.iter().copied().map(char::from).collect())
    }

    /// The current time.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Self::from_unix(secs)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Seconds since the Unix epoch, honouring the time-zone offset; fractions are dropped.
    pub fn unix_seconds(&self) -> i64 {
        // The lexical form was checked on construction, so the fields are digits.
        let s = self.0.trim_start_matches('-');
        let field =
            |r: std::ops::Range<usize>| s.get(r).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        let (y, mo, d, h, mi, se) = (
            field(0..4),
            field(5..7),
            field(8..10),
            field(11..13),
            field(14..16),
            field(17..19),
        );
        let mut secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se;
        let tz = &s[19..];
        let tz = tz.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
        if let Some(sign) = tz.chars().next().filter(|c| *c == '+' || *c == '-') {
            let off = field_in(tz, 1..3) * 3600 + field_in(tz, 4..6) * 60;
            secs += if sign == '+' { -off } else { off };
        }
        secs
    }

    /// Milliseconds since the Unix epoch, honouring the time-zone offset and the fraction's
    /// first three digits (the rest are dropped).
    pub fn unix_millis(&self) -> i64 {
        let fraction = self.0.trim_start_matches('-').get(19..).and_then(|rest| {
            let digits = rest.strip_prefix('.')?;
            let digits = &digits[..digits.bytes().take_while(u8::is_ascii_digit).count()];
            // Checked on construction: at least one digit, all ASCII.
            Some(
                digits
                    .bytes()
                    .chain(std::iter::repeat(b'0'))
                    .take(3)
                    .fold(0, |n, d| n * 10 + i64::from(d - b'0')),
            )
        });
        self.unix_seconds() * 1000 + fraction.unwrap_or(0)
    }
}

fn field_in(s: &str, r: std::ops::Range<usize>) -> i64 {
    s.get(r).and_then(|v| v.parse().ok()).unwrap_or(0)
}

impl XmlText for DateTime {
    fn from_text(text: &str) -> Result<Self, XmlError> {
        let t = text.trim();
        if is_date_time(t) {
            Ok(DateTime(t.to_owned()))
        } else {
            Err(invalid("xs:dateTime", text))
        }
    }
    fn to_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

/// `-?YYYY-MM-DDThh:mm:ss(.s+)?(Z|(+|-)hh:mm)?`
fn is_date_time(t: &str) -> bool {
    let t = t.strip_prefix('-').unwrap_or(t);
    let b = t.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if b.len() < 19
        || !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10))
        || b[10] != b'T'
        || !(digits(11..13) && b[13] == b':' && digits(14..16) && b[16] == b':' && digits(17..19))
    {
        return false;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

// Howard Hinnant's days-from-civil algorithms, proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn date_time_round_trips_and_converts() {
        let t = DateTime::from_unix(1_258_000_000);
        assert_eq!(t.as_str(), "2009-11-12T04:26:40Z");
        assert_eq!(t.unix_seconds(), 1_258_000_000);
        assert_eq!(DateTime::from_unix(0).as_str(), "1970-01-01T00:00:00Z");
        assert_eq!(DateTime::from_unix(-1).as_str(), "1969-12-31T23:59:59Z");
        assert_eq!(
            DateTime::from_unix(253_402_300_799).as_str(),
            "9999-12-31T23:59:59Z"
        );
        let z = DateTime::from_text("2009-11-12T06:26:40.123+02:00").unwrap();
        assert_eq!(z.unix_seconds(), 1_258_000_000);
        assert!(DateTime::from_text("2009-11-12 04:26:40").is_err());
        assert!(DateTime::from_text("2009-11-12T04:26:40.Z").is_err());
    }

    #[test]
    fn date_time_keeps_milliseconds() {
        let at = |text| DateTime::from_text(text).unwrap().unix_millis();
        assert_eq!(at("2009-11-12T04:26:40Z"), 1_258_000_000_000);
        assert_eq!(at("2009-11-12T04:26:40.5Z"), 1_258_000_000_500);
        assert_eq!(at("2009-11-12T04:26:40.0429Z"), 1_258_000_000_042);
        assert_eq!(at("2009-11-12T06:26:40.123+02:00"), 1_258_000_000_123);
    }

    #[test]
    fn booleans_and_numbers() {
        assert!(bool::from_text(" 1 ").unwrap());
        assert!(bool::from_text("yes").is_err());
        assert_eq!(i32::from_text("-17").unwrap(), -17);
        assert!(i32::from_text("99999999999").is_err());
    }

    #[test]
    fn base64_allows_line_breaks() {
        assert_eq!(Base64Binary::from_text("aGVs\nbG8=").unwrap().0, b"hello");
        assert!(Base64Binary::from_text("***").is_err());
        let mut out = String::from("v=");
        Base64Binary::encode_into(b"hello", &mut out);
        assert_eq!(out, "v=aGVsbG8=");
    }
}

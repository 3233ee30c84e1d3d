//! Times and dates in the forms our peers send and expect: HTTP dates (RFC 1123, RFC 850,
//! asctime), ISO 8601 basic (`20130524T000000Z`, SigV4) and extended
//! (`2013-05-24T00:00:00.000Z`). Times are seconds (or milliseconds) since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

use xmlbind::{DateTime, XmlText};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    now_millis().div_euclid(1000)
}

/// Milliseconds since the epoch, now.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The time of a civil UTC date, through xmlbind's checked `xs:dateTime`.
fn civil(year: i64, month: i64, day: i64, hms: (i64, i64, i64)) -> Option<i64> {
    let (h, mi, s) = hms;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    DateTime::from_text(&format!(
        "{year:04}-{month:02}-{day:02}T{h:02}:{mi:02}:{s:02}Z"
    ))
    .ok()
    .map(|t| t.unix_seconds())
}

fn month_number(name: &str) -> Option<i64> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .and_then(|i| i64::try_from(i + 1).ok())
}

fn clock(text: &str) -> Option<(i64, i64, i64)> {
    let mut parts = text.split(':').map(|p| p.parse::<i64>().ok());
    let hms = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(hms)
}

/// Parses an HTTP date: `Tue, 24 Nov 2026 23:34:31 GMT` (also with `+0000`/`-0000` as
/// euca2ools 3 sends), `Tuesday, 24-Nov-26 23:34:31 GMT`, or asctime
/// `Tue Nov 24 23:34:31 2026` (what the original NC sends).
pub fn parse_http_date(text: &str) -> Option<i64> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    match fields.as_slice() {
        // RFC 1123, with a zone of GMT, UTC, Z or a numeric offset.
        [_, day, month, year, time, zone] if year.len() == 4 => {
            let t = civil(
                year.parse().ok()?,
                month_number(month)?,
                day.parse().ok()?,
                clock(time)?,
            )?;
            Some(t - zone_offset(zone)?)
        }
        // RFC 850: day-month-yy.
        [_, date, time, zone] => {
            let mut d = date.split('-');
            let (day, month, year) = (d.next()?, d.next()?, d.next()?);
            let year: i64 = year.parse().ok()?;
            let year = if year < 70 {
                2000 + year
            } else if year < 100 {
                1900 + year
            } else {
                year
            };
            let t = civil(year, month_number(month)?, day.parse().ok()?, clock(time)?)?;
            Some(t - zone_offset(zone)?)
        }
        // asctime.
        [_, month, day, time, year] => civil(
            year.parse().ok()?,
            month_number(month)?,
            day.parse().ok()?,
            clock(time)?,
        ),
        _ => None,
    }
}

/// Seconds east of UTC.
fn zone_offset(zone: &str) -> Option<i64> {
    match zone {
        "GMT" | "UTC" | "UT" | "Z" => Some(0),
        _ => {
            let (sign, digits) = match zone.as_bytes().first()? {
                b'+' => (1, &zone[1..]),
                b'-' => (-1, &zone[1..]),
                _ => return None,
            };
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let hours: i64 = digits[..2].parse().ok()?;
            let minutes: i64 = digits[2..].parse().ok()?;
            Some(sign * (hours * 3600 + minutes * 60))
        }
    }
}

/// Parses SigV4's `20130524T000000Z`.
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    civil(
        digits(0..4)?,
        digits(4..6)?,
        digits(6..8)?,
        (digits(9..11)?, digits(11..13)?, digits(13..15)?),
    )
}

/// Parses an ISO 8601 date-time such as `2013-05-24T00:00:00.000Z` (POST policy expiration).
pub fn parse_iso8601(text: &str) -> Option<i64> {
    DateTime::from_text(text).ok().map(|t| t.unix_seconds())
}

/// `Tue, 24 Nov 2026 12:00:00 GMT` (RFC 9110's IMF-fixdate).
pub fn http_date(secs: i64) -> String {
    let iso = DateTime::from_unix(secs);
    let s = iso.as_str();
    let month = s
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("Jan");
    let weekday = DAYS[usize::try_from(secs.div_euclid(86_400).rem_euclid(7)).unwrap_or(0)];
    format!(
        "{weekday}, {} {month} {} {} GMT",
        s.get(8..10).unwrap_or("01"),
        s.get(0..4).unwrap_or("1970"),
        s.get(11..19).unwrap_or("00:00:00")
    )
}

/// `2013-05-24T00:00:00.000Z`, as S3 documents write times.
pub fn iso8601_millis(millis: i64) -> String {
    let iso = DateTime::from_unix(millis.div_euclid(1000));
    let s = iso.as_str();
    format!(
        "{}.{:03}Z",
        s.trim_end_matches('Z'),
        millis.rem_euclid(1000)
    )
}

/// `20130524T000000Z`.
pub fn amz_date(secs: i64) -> String {
    DateTime::from_unix(secs)
        .as_str()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_795_563_271; // Tue, 24 Nov 2026 23:34:31 GMT

    #[test]
    fn http_dates_in_every_form_clients_send() {
        for text in [
            "Tue, 24 Nov 2026 23:34:31 GMT",
            "Tue, 24 Nov 2026 23:34:31 -0000",
            "Tue, 24 Nov 2026 23:34:31 +0000",
            "Tuesday, 24-Nov-26 23:34:31 GMT",
            "Tue Nov 24 23:34:31 2026",
        ] {
            assert_eq!(parse_http_date(text), Some(T), "{text}");
        }
        assert_eq!(parse_http_date("Wed, 25 Nov 2026 01:34:31 +0200"), Some(T));
        for bad in [
            "",
            "yesterday",
            "Tue, 32 Nov 2026 23:34:31 GMT",
            "Tue, 24 Foo 2026 23:34:31 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(http_date(T), "Tue, 24 Nov 2026 23:34:31 GMT");
        assert_eq!(amz_date(T), "20261124T233431Z");
        assert_eq!(parse_amz_date("20261124T233431Z"), Some(T));
        assert_eq!(parse_amz_date("2026-11-24T23:34:31Z"), None);
        assert_eq!(iso8601_millis(T * 1000 + 7), "2026-11-24T23:34:31.007Z");
        assert_eq!(parse_iso8601("2026-11-24T23:34:31.007Z"), Some(T));
    }
}

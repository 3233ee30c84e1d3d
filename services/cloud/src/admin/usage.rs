//! `euca admin usage` and `euca admin events`: the cloud's usage over a range of time, and
//! its audit trail, read from the event log (`users::events`) where the cloud keeps it.

use std::path::Path;

use users::events::{self, Event, Quantity, Selection};
use users::usage::{self, Line};
use xmlbind::{DateTime, XmlText};

use super::AdminError;

/// A time on the command line: RFC 3339 (`2026-12-05T10:00:00Z`) or a date (`2026-12-05`,
/// its midnight, UTC). Milliseconds since the epoch.
fn parse_time(text: &str) -> Result<i64, String> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    let time = DateTime::from_text(&full)
        .map_err(|_| format!("{text:?} is not an RFC 3339 time or a date (YYYY-MM-DD)"))?;
    // Milliseconds of a fraction, when given.
    let millis = full
        .get(19..)
        .and_then(|rest| rest.strip_prefix('.'))
        .map(|digits| {
            let digits: String = digits.chars().take_while(char::is_ascii_digit).collect();
            format!("{digits:0<3}")[..3].parse::<i64>().unwrap_or(0)
        })
        .unwrap_or(0);
    Ok(time.unix_seconds() * 1000 + millis)
}

/// How a report is printed.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Csv,
    Json,
}

/// The range and the accounts a command reads.
#[derive(Debug, clap::Args)]
pub struct Range {
    /// From this time on (RFC 3339, or a date: its midnight UTC).
    #[arg(long, value_parser = parse_time)]
    pub from: i64,
    /// Up to this time, not included.
    #[arg(long, value_parser = parse_time)]
    pub to: i64,
    /// Only this account's.
    #[arg(long)]
    pub account: Option<String>,
    /// Only this user's.
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

impl Range {
    pub(super) fn selection(&self, history: bool) -> Result<Selection, AdminError> {
        if self.to <= self.from {
            return Err(AdminError::Usage("--to must be after --from".into()));
        }
        Ok(Selection {
            from: self.from,
            to: self.to,
            account: self.account.clone(),
            history,
        })
    }

    pub(super) fn chooses(&self, account: &str, user: &str) -> bool {
        self.account.as_deref().is_none_or(|a| a == account)
            && self.user.as_deref().is_none_or(|u| u == user)
    }
}

/// `euca admin usage`: per account and user, instance-hours by VM type, volume GB-hours,
/// GB-hours of each bucket and requests by component, over the range.
pub async fn usage(data: &Path, range: &Range) -> Result<(), AdminError> {
    let events = read(data, &range.selection(true)?).await?;
    let lines: Vec<Line> = usage::usage(&events, range.from, range.to)
        .into_iter()
        .filter(|l| range.chooses(&l.account, &l.user))
        .collect();
    print!("{}", usage_report(&lines, range));
    Ok(())
}

fn usage_report(lines: &[Line], range: &Range) -> String {
    match range.format {
        Format::Csv => {
            let mut out = String::from("account,user,metric,item,quantity\n");
            for l in lines {
                let fields = [
                    l.account.as_str(),
                    &l.user,
                    l.metric.as_str(),
                    &l.item,
                    &l.quantity(),
                ];
                out.push_str(&csv_row(&fields));
            }
            out
        }
        Format::Json => {
            let usage: Vec<serde_json::Value> = lines
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "account": l.account,
                        "user": l.user,
                        "metric": l.metric.as_str(),
                        "item": l.item,
                        // Nine decimal places at most: a double prints them as they are.
                        "quantity": l.quantity().parse::<f64>().unwrap_or(f64::NAN),
                    })
                })
                .collect();
            let report = serde_json::json!({
                "from": time_text(range.from),
                "to": time_text(range.to),
                "usage": usage,
            });
            format!("{report:#}\n")
        }
    }
}

/// `euca admin events`: the audit trail over the range (when, who, from where, what, on
/// what, with what outcome).
pub async fn audit(data: &Path, range: &Range) -> Result<(), AdminError> {
    let events: Vec<Event> = read(data, &range.selection(false)?)
        .await?
        .into_iter()
        .filter(|e| range.chooses(&e.account, &e.user))
        .collect();
    print!("{}", audit_report(&events, range.format));
    Ok(())
}

fn audit_report(events: &[Event], format: Format) -> String {
    let quantity = |q: &Quantity| match q {
        Quantity::None => String::new(),
        Quantity::VmType(t) => t.clone(),
        Quantity::VolumeGb(gb) => format!("{gb} GB"),
        Quantity::Bytes(n) => format!("{n} bytes"),
    };
    match format {
        Format::Csv => {
            let mut out = String::from(
                "seq,time,account,user,source,component,action,resource,outcome,quantity\n",
            );
            for e in events {
                let fields = [
                    e.seq.to_string(),
                    time_text(e.time),
                    e.account.clone(),
                    e.user.clone(),
                    e.source.clone(),
                    e.component.as_str().to_owned(),
                    e.action.clone(),
                    e.resource.clone(),
                    e.outcome.clone(),
                    quantity(&e.quantity),
                ];
                out.push_str(&csv_row(&fields));
            }
            out
        }
        Format::Json => {
            let events: Vec<serde_json::Value> = events
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "seq": e.seq,
                        "time": time_text(e.time),
                        "account": e.account,
                        "user": e.user,
                        "source": e.source,
                        "component": e.component.as_str(),
                        "action": e.action,
                        "resource": e.resource,
                        "outcome": e.outcome,
                        "quantity": quantity(&e.quantity),
                    })
                })
                .collect();
            format!("{:#}\n", serde_json::Value::Array(events))
        }
    }
}

pub(super) async fn read(data: &Path, selection: &Selection) -> Result<Vec<Event>, AdminError> {
    let location = {
        let folder = data.to_owned();
        kit::blocking(move || users::Location::of_cloud(&folder))
            .await
            .map_err(|source| AdminError::Io {
                path: data.to_owned(),
                source,
            })?
    };
    Ok(events::read(&location, selection)
        .await
        .map_err(crate::StoreError::from)?)
}

/// A CSV line (RFC 4180: a field with a comma, quote or line break is quoted).
pub(super) fn csv_row<S: AsRef<str>>(fields: &[S]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            let f = f.as_ref();
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_owned()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}

/// `millis` as RFC 3339 UTC with milliseconds.
pub(super) fn time_text(millis: i64) -> String {
    let seconds = DateTime::from_unix(millis.div_euclid(1000));
    let text = seconds.as_str().trim_end_matches('Z');
    format!("{text}.{:03}Z", millis.rem_euclid(1000))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn times_are_rfc3339_or_dates() {
        assert_eq!(parse_time("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_time("1970-01-01T01:00:00Z").unwrap(), 3_600_000);
        assert_eq!(parse_time("1970-01-01T01:00:00.25Z").unwrap(), 3_600_250);
        assert_eq!(parse_time("1970-01-01T02:00:00+01:00").unwrap(), 3_600_000);
        assert!(parse_time("yesterday").is_err());
        assert_eq!(time_text(3_600_250), "1970-01-01T01:00:00.250Z");
    }

    #[test]
    fn csv_fields_that_need_it_are_quoted() {
        assert_eq!(csv_row(&["a", "b,c", "d\"e"]), "a,\"b,c\",\"d\"\"e\"\n");
    }
}

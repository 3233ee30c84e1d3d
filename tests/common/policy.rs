//! The answers of the scripts that send signed requests of given shapes
//! (`tests/py/nc_timestamp_policy.py`, `tests/py/clc_shaped_call.py`): one
//! `name<TAB>status<TAB>fault` line per request.

use std::collections::HashMap;

/// What the server answered to each request the script sends: HTTP status and fault string.
pub type Answers = HashMap<String, (u16, Option<String>)>;

/// Reads the script's `name<TAB>status<TAB>fault` lines.
pub fn parse_answers(text: &str) -> Answers {
    text.lines()
        .map(|line| {
            let mut fields = line.splitn(3, '\t');
            let name = fields.next().expect("a request name").to_owned();
            let status = fields
                .next()
                .and_then(|status| status.parse().ok())
                .unwrap_or_else(|| panic!("no HTTP status in {line:?}"));
            let fault = fields.next().filter(|f| !f.is_empty()).map(str::to_owned);
            (name, (status, fault))
        })
        .collect()
}

pub fn assert_accepted(answers: &Answers, name: &str) {
    let (status, fault) = &answers[name];
    assert_eq!(
        (*status, fault.as_deref()),
        (200, None),
        "{name}: {answers:?}"
    );
}

pub fn assert_refused(answers: &Answers, name: &str, reason: &str) {
    let (status, fault) = &answers[name];
    assert_eq!(*status, 500, "{name}: {answers:?}");
    let fault = fault.as_deref().unwrap_or_default();
    assert!(fault.contains(reason), "{name}: {fault:?} lacks {reason:?}");
}

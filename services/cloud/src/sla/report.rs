//! Reserved versus used instance-hours, per account and VM type, over a range of time:
//! reserved from the reservations' history in the store (each counts from when it was set
//! to when it was changed or cleared), used from the event log, as `euca admin usage`
//! computes instance-hours (`users::usage`), summed over the account's users and zones.

use std::collections::BTreeMap;

use users::usage::{Line, Metric};

use crate::store::sla::Reserved;

/// One line of the report; amounts in instance-milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub account: String,
    pub vm_type: String,
    pub reserved: i128,
    pub used: i128,
}

impl Row {
    /// Reserved instance-hours, as usage prints them.
    pub fn reserved_hours(&self) -> String {
        hours(&self.account, &self.vm_type, self.reserved)
    }

    /// Used instance-hours, as usage prints them.
    pub fn used_hours(&self) -> String {
        hours(&self.account, &self.vm_type, self.used)
    }
}

/// `amount` instance-milliseconds in hours, formatted as the usage report's lines are.
fn hours(account: &str, vm_type: &str, amount: i128) -> String {
    Line {
        account: account.to_owned(),
        user: String::new(),
        metric: Metric::InstanceHours,
        item: vm_type.to_owned(),
        amount,
    }
    .quantity()
}

/// The report from `from` to `to` (milliseconds): every account and VM type with a
/// reservation in force or instances running then, by account and type.
pub fn reserved_vs_used(reserved: &[Reserved], usage: &[Line], from: i64, to: i64) -> Vec<Row> {
    let mut rows: BTreeMap<(String, String), (i128, i128)> = BTreeMap::new();
    for r in reserved {
        let until = r.until.unwrap_or(to).min(to);
        let span = i128::from((until - r.since.max(from)).max(0));
        let key = (r.account.clone(), r.reservation.vm_type.clone());
        rows.entry(key).or_default().0 += span * i128::from(r.reservation.count);
    }
    for line in usage.iter().filter(|l| l.metric == Metric::InstanceHours) {
        let key = (line.account.clone(), line.item.clone());
        rows.entry(key).or_default().1 += line.amount;
    }
    rows.into_iter()
        .map(|((account, vm_type), (reserved, used))| Row {
            account,
            vm_type,
            reserved,
            used,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sla::Reservation;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn reservations_count_while_in_force_and_usage_sums_users() {
        let reserved = |count, since, until| Reserved {
            account: "a".into(),
            reservation: Reservation {
                zone: "z".into(),
                vm_type: "m1.small".into(),
                count,
            },
            since,
            until,
        };
        // 2 from before the range to its second hour, then 1 from then on.
        let history = [
            reserved(2, -HOUR, Some(2 * HOUR)),
            reserved(1, 2 * HOUR, None),
        ];
        let used = |user: &str, account: &str, amount| Line {
            account: account.into(),
            user: user.into(),
            metric: Metric::InstanceHours,
            item: "m1.small".into(),
            amount,
        };
        let usage = [
            used("admin", "a", i128::from(HOUR)),
            used("dev", "a", i128::from(HOUR / 2)),
            used("admin", "b", i128::from(3 * HOUR)),
        ];
        let rows = reserved_vs_used(&history, &usage, 0, 4 * HOUR);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].reserved_hours(), rows[0].used_hours()),
            ("6".to_owned(), "1.5".to_owned())
        );
        assert_eq!(
            (
                rows[1].account.as_str(),
                rows[1].reserved_hours(),
                rows[1].used_hours()
            ),
            ("b", "0".to_owned(), "3".to_owned())
        );
    }
}

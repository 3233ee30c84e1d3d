//! Usage over a range of time, from the event log: per account and user, instance-hours by
//! VM type, volume GB-hours, GB-hours of each bucket and requests by component, clipped
//! exactly to the range.
//!
//! An instance counts from when its cluster first reported it running to when it was asked
//! to terminate or its cluster stopped reporting it; a volume from its creation to its
//! deletion; a bucket's size is the sum of its byte changes, integrated over time (the size
//! at `from` included). Something still running at `to` counts to `to`. Each is the usage
//! of the account and user that made it (the first user an event of it names). A GB is
//! 2^30 bytes, as S3 bills them.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::events::{action, Event, Quantity};

const MS_PER_HOUR: i128 = 3_600_000;
const BYTES_PER_GB: i128 = 1 << 30;
/// Decimal places of the quantities reported.
const PLACES: u32 = 9;

/// What a line of the report measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Hours instances of a VM type ran.
    InstanceHours,
    /// GB of volumes times hours.
    VolumeGbHours,
    /// GB stored in a bucket times hours.
    BucketGbHours,
    /// Requests to a component.
    Requests,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InstanceHours => "instance-hours",
            Self::VolumeGbHours => "volume-gb-hours",
            Self::BucketGbHours => "bucket-gb-hours",
            Self::Requests => "requests",
        }
    }

    /// The units of a line's exact amount per one of the metric.
    fn denominator(self) -> i128 {
        match self {
            Self::InstanceHours | Self::VolumeGbHours => MS_PER_HOUR,
            Self::BucketGbHours => MS_PER_HOUR * BYTES_PER_GB,
            Self::Requests => 1,
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Line {
    pub account: String,
    pub user: String,
    pub metric: Metric,
    /// The VM type, the bucket, or the component; empty for volumes.
    pub item: String,
    /// The exact amount, in milliseconds (instances), GB-milliseconds (volumes),
    /// byte-milliseconds (buckets) or requests.
    pub amount: i128,
}

impl Line {
    /// The quantity in the metric's unit, rounded half up to 9 decimal places, without
    /// trailing zeros.
    pub fn quantity(&self) -> String {
        decimal(self.amount, self.metric.denominator())
    }
}

/// `n / d` (d > 0) in decimal, rounded half away from zero to [`PLACES`] places.
fn decimal(n: i128, d: i128) -> String {
    let scale = 10i128.pow(PLACES);
    let scaled = (n.abs() * scale * 2 + d) / (2 * d);
    let (whole, frac) = (scaled / scale, scaled % scale);
    let sign = if n < 0 && scaled != 0 { "-" } else { "" };
    let frac = format!("{frac:0width$}", width = PLACES as usize);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac}")
    }
}

/// Who is billed for a resource.
#[derive(Debug, Clone)]
struct Owner {
    account: String,
    user: String,
}

/// A resource billed while it lasts: since when, how much per millisecond, what kind, and
/// to whom.
#[derive(Debug, Clone)]
struct Open {
    since: i64,
    rate: i128,
    item: String,
    owner: Owner,
}

/// The usage `events` show from `from` to `to` (milliseconds), events in order of time,
/// with every change of state before `from` and the requests from `from` on.
pub fn usage(events: &[Event], from: i64, to: i64) -> Vec<Line> {
    let mut totals: BTreeMap<(String, String, Metric, String), i128> = BTreeMap::new();
    let mut add = |owner: &Owner, metric: Metric, item: &str, amount: i128| {
        if amount != 0 {
            *totals
                .entry((
                    owner.account.clone(),
                    owner.user.clone(),
                    metric,
                    item.to_owned(),
                ))
                .or_default() += amount;
        }
    };
    let clip = |since: i64, until: i64| i128::from((until.min(to) - since.max(from)).max(0));
    // By component and resource: a bucket may be named like an instance.
    let mut owners: HashMap<(&str, String), Owner> = HashMap::new();
    let mut open: HashMap<(Metric, String), Open> = HashMap::new();
    let mut ended: HashSet<(Metric, String)> = HashSet::new();
    for event in events {
        if !event.state_change {
            if event.time >= from && event.time < to {
                let who = Owner {
                    account: event.account.clone(),
                    user: event.user.clone(),
                };
                add(&who, Metric::Requests, event.component.as_str(), 1);
            }
            continue;
        }
        // The first user an event of the resource names (the tick's events name none).
        let resource = (event.component.as_str(), event.resource.clone());
        let owner = owners.entry(resource.clone()).or_insert_with(|| Owner {
            account: event.account.clone(),
            user: String::new(),
        });
        if owner.user.is_empty() {
            owner.user.clone_from(&event.user);
        }
        let owner = owner.clone();
        let mut close = |metric: Metric, at: i64, open: &mut HashMap<(Metric, String), Open>| {
            if let Some(was) = open.remove(&(metric, event.resource.clone())) {
                add(
                    &was.owner,
                    metric,
                    &was.item,
                    was.rate * clip(was.since, at),
                );
            }
        };
        let key = |metric| (metric, event.resource.clone());
        match (event.action.as_str(), &event.quantity) {
            (action::INSTANCE_RUNNING, Quantity::VmType(vm_type)) => {
                let k = key(Metric::InstanceHours);
                // Seen running after its end (a late report): not billed again.
                if !ended.contains(&k) {
                    open.entry(k).or_insert(Open {
                        since: event.time,
                        rate: 1,
                        item: vm_type.clone(),
                        owner,
                    });
                }
            }
            (action::INSTANCE_STOPPED, _) => {
                close(Metric::InstanceHours, event.time, &mut open);
                ended.insert(key(Metric::InstanceHours));
            }
            (action::VOLUME_CREATED, Quantity::VolumeGb(gb)) => {
                open.entry(key(Metric::VolumeGbHours)).or_insert(Open {
                    since: event.time,
                    rate: i128::from(*gb),
                    item: String::new(),
                    owner,
                });
            }
            (action::VOLUME_DELETED, _) => close(Metric::VolumeGbHours, event.time, &mut open),
            (action::BUCKET_CREATED, _) => {
                close(Metric::BucketGbHours, event.time, &mut open);
                // A bucket's name may be taken again after its deletion: the new owner.
                owners.insert(
                    resource,
                    Owner {
                        account: event.account.clone(),
                        user: event.user.clone(),
                    },
                );
            }
            (action::BUCKET_DELETED, _) => {
                close(Metric::BucketGbHours, event.time, &mut open);
                owners.remove(&resource);
            }
            (action::BUCKET_BYTES, Quantity::Bytes(delta)) => {
                let size = open.get(&key(Metric::BucketGbHours)).map_or(0, |o| o.rate);
                close(Metric::BucketGbHours, event.time, &mut open);
                open.insert(
                    key(Metric::BucketGbHours),
                    Open {
                        since: event.time,
                        rate: (size + i128::from(*delta)).max(0),
                        item: event.resource.clone(),
                        owner,
                    },
                );
            }
            _ => {}
        }
    }
    for ((metric, _), was) in open {
        add(
            &was.owner,
            metric,
            &was.item,
            was.rate * clip(was.since, to),
        );
    }
    totals
        .into_iter()
        .map(|((account, user, metric, item), amount)| Line {
            account,
            user,
            metric,
            item,
            amount,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Component, Who};

    const H: i64 = 3_600_000;

    fn at(time: i64, mut event: Event) -> Event {
        event.time = time;
        event
    }

    fn who(account: &str, user: &str) -> Who {
        Who {
            account: account.into(),
            user: user.into(),
            source: "10.0.0.1".into(),
        }
    }

    fn change(time: i64, who: &Who, act: &str, resource: &str, q: Quantity) -> Event {
        at(time, Event::change(who, Component::Ec2, act, resource, q))
    }

    fn report(lines: &[Line]) -> Vec<(String, String, &'static str, String, String)> {
        lines
            .iter()
            .map(|l| {
                (
                    l.account.clone(),
                    l.user.clone(),
                    l.metric.as_str(),
                    l.item.clone(),
                    l.quantity(),
                )
            })
            .collect()
    }

    fn row(
        a: &str,
        u: &str,
        m: &'static str,
        i: &str,
        q: &str,
    ) -> (String, String, &'static str, String, String) {
        (a.into(), u.into(), m, i.into(), q.into())
    }

    #[test]
    fn instances_count_from_running_to_stopped_clipped_to_the_range() {
        let ann = who("acme", "ann");
        let tick = Who::system("acme");
        let small = || Quantity::VmType("m1.small".into());
        let events = [
            // Launched by ann; the tick sees it running (no user) before the range.
            change(0, &ann, action::INSTANCE_LAUNCHED, "i-1", small()),
            change(H, &tick, action::INSTANCE_RUNNING, "i-1", small()),
            // The follow sees it running again: not a second start.
            change(2 * H, &tick, action::INSTANCE_RUNNING, "i-1", small()),
            change(5 * H, &ann, action::INSTANCE_STOPPED, "i-1", Quantity::None),
            // A late report after its end is not billed.
            change(6 * H, &tick, action::INSTANCE_RUNNING, "i-1", small()),
            // Still running at `to`.
            change(
                7 * H,
                &ann,
                action::INSTANCE_LAUNCHED,
                "i-2",
                Quantity::VmType("c1.medium".into()),
            ),
            change(
                7 * H + H / 2,
                &tick,
                action::INSTANCE_RUNNING,
                "i-2",
                Quantity::VmType("c1.medium".into()),
            ),
            // Never ran.
            change(8 * H, &ann, action::INSTANCE_STOPPED, "i-3", Quantity::None),
        ];
        let lines = usage(&events, 3 * H, 9 * H);
        assert_eq!(
            report(&lines),
            [
                row("acme", "ann", "instance-hours", "c1.medium", "1.5"),
                row("acme", "ann", "instance-hours", "m1.small", "2"),
            ]
        );
    }

    #[test]
    fn volumes_count_their_gb_while_they_exist() {
        let bob = who("bob", "admin");
        let events = [
            change(
                0,
                &bob,
                action::VOLUME_CREATED,
                "vol-1",
                Quantity::VolumeGb(10),
            ),
            change(
                H / 4,
                &bob,
                action::VOLUME_DELETED,
                "vol-1",
                Quantity::VolumeGb(10),
            ),
            change(
                H,
                &bob,
                action::VOLUME_CREATED,
                "vol-2",
                Quantity::VolumeGb(3),
            ),
        ];
        let lines = usage(&events, 0, 2 * H);
        assert_eq!(
            report(&lines),
            [row("bob", "admin", "volume-gb-hours", "", "5.5")]
        );
    }

    #[test]
    fn a_buckets_size_at_from_and_its_changes_are_integrated() {
        let carol = who("carol", "admin");
        let dan = who("carol", "dan");
        let mib = 1 << 20;
        let bytes = |t, w: &Who, n| {
            at(
                t,
                Event::change(
                    w,
                    Component::S3,
                    action::BUCKET_BYTES,
                    "b",
                    Quantity::Bytes(n),
                ),
            )
        };
        let events = [
            at(
                0,
                Event::change(
                    &carol,
                    Component::S3,
                    action::BUCKET_CREATED,
                    "b",
                    Quantity::None,
                ),
            ),
            bytes(0, &carol, 512 * mib),
            // Before the range: the bucket holds 1 GiB at `from`.
            bytes(H, &dan, 512 * mib),
            bytes(4 * H, &dan, -1024 * mib + 8 * mib),
            at(
                6 * H,
                Event::change(
                    &carol,
                    Component::S3,
                    action::BUCKET_DELETED,
                    "b",
                    Quantity::None,
                ),
            ),
            // The name taken again by another account.
            at(
                7 * H,
                Event::change(
                    &dan,
                    Component::S3,
                    action::BUCKET_CREATED,
                    "b",
                    Quantity::None,
                ),
            ),
            bytes(7 * H, &dan, 1 << 30),
        ];
        let lines = usage(&events, 2 * H, 8 * H);
        // carol: 1 GiB for 2 h, then 8 MiB for 2 h; dan's bucket: 1 GiB for 1 h.
        assert_eq!(
            report(&lines),
            [
                row("carol", "admin", "bucket-gb-hours", "b", "2.015625"),
                row("carol", "dan", "bucket-gb-hours", "b", "1"),
            ]
        );
    }

    #[test]
    fn requests_count_in_the_range_only() {
        let ann = who("acme", "ann");
        let request = |t, c| at(t, Event::request(&ann, c, "Op", "ok"));
        let events = [
            request(0, Component::Ec2),
            request(H, Component::Ec2),
            request(H, Component::S3),
            request(2 * H, Component::Ec2),
        ];
        assert_eq!(
            report(&usage(&events, H, 2 * H)),
            [
                row("acme", "ann", "requests", "ec2", "1"),
                row("acme", "ann", "requests", "s3", "1"),
            ]
        );
    }

    #[test]
    fn quantities_are_exact_decimals_rounded_at_nine_places() {
        assert_eq!(decimal(3, 2), "1.5");
        assert_eq!(decimal(1, 3), "0.333333333");
        assert_eq!(decimal(2, 3), "0.666666667");
        assert_eq!(decimal(0, 7), "0");
        assert_eq!(decimal(-1, 4), "-0.25");
        assert_eq!(decimal(1, 1 << 30), "0.000000001");
    }
}

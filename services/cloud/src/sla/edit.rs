//! Changing an account's SLA, as `euca admin sla set|clear` and the console's SLA page ask:
//! the written forms of its parts, and one checked change that keeps what it does not name.

use users::events::clock_millis;

use super::{BurstPreference, Floor, Placement, Reservation, Sla};
use crate::store::{Store, StoreError};

/// Why an SLA change was refused.
#[derive(Debug, thiserror::Error)]
pub enum SlaError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<users::UserError> for SlaError {
    fn from(e: users::UserError) -> Self {
        Self::Store(e.into())
    }
}

/// A change of an account's SLA; what it leaves `None` (or empty) stays as it was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// Each sets the reservation of its zone and type; a count of 0 removes it.
    pub reserve: Vec<Reservation>,
    /// Each sets the floor of its zone (or every zone) and type; a floor of 0 removes it.
    pub floors: Vec<Floor>,
    pub priority: Option<i64>,
    /// `Some(None)`: the cloud's own placement.
    pub placement: Option<Option<Placement>>,
    /// `Some(None)`: no webhook.
    pub webhook: Option<Option<String>>,
    pub burst: Option<BurstPreference>,
}

fn invalid(text: &str, why: &str) -> SlaError {
    SlaError::Invalid(format!("{text:?}: {why}"))
}

fn count(text: &str, n: &str) -> Result<u32, SlaError> {
    n.parse()
        .map_err(|_| invalid(text, "the count is not a whole number"))
}

/// `ZONE:TYPE:N`.
pub fn parse_reservation(text: &str) -> Result<Reservation, SlaError> {
    match text.split(':').collect::<Vec<_>>()[..] {
        [zone, vm_type, n] if !zone.is_empty() && !vm_type.is_empty() => Ok(Reservation {
            zone: zone.to_owned(),
            vm_type: vm_type.to_owned(),
            count: count(text, n)?,
        }),
        _ => Err(invalid(text, "write ZONE:TYPE:N")),
    }
}

/// `TYPE:N` (in every zone) or `ZONE:TYPE:N`.
pub fn parse_floor(text: &str) -> Result<Floor, SlaError> {
    let (zone, vm_type, n) = match text.split(':').collect::<Vec<_>>()[..] {
        [vm_type, n] => (None, vm_type, n),
        [zone, vm_type, n] if !zone.is_empty() => (Some(zone.to_owned()), vm_type, n),
        _ => return Err(invalid(text, "write TYPE:N or ZONE:TYPE:N")),
    };
    if vm_type.is_empty() {
        return Err(invalid(text, "write TYPE:N or ZONE:TYPE:N"));
    }
    Ok(Floor {
        zone,
        vm_type: vm_type.to_owned(),
        floor: count(text, n)?,
    })
}

/// `GREEDY`, `ROUNDROBIN`, or `default` (the cloud's: the zone with the most room).
pub fn parse_placement(text: &str) -> Result<Option<Placement>, SlaError> {
    if text.eq_ignore_ascii_case("default") {
        return Ok(None);
    }
    Placement::from_name(text)
        .map(Some)
        .ok_or_else(|| invalid(text, "use GREEDY, ROUNDROBIN or default"))
}

/// An `http://` URL, or `none`.
pub fn parse_webhook(text: &str) -> Result<Option<String>, SlaError> {
    if text == "none" {
        return Ok(None);
    }
    let parsed: hyper::Uri = text.parse().map_err(|_| invalid(text, "not a URL"))?;
    if parsed.scheme_str() != Some("http") || parsed.host().is_none() {
        return Err(invalid(
            text,
            "the webhook must be an http:// URL (or none)",
        ));
    }
    Ok(Some(text.to_owned()))
}

/// `never`, `overflow` or `first`.
pub fn parse_burst(text: &str) -> Result<BurstPreference, SlaError> {
    BurstPreference::from_name(text).ok_or_else(|| invalid(text, "use never, overflow or first"))
}

/// Applies `change` to `account`'s SLA (a new one when it has none) after checking that the
/// account, and every zone and VM type it names, exist; returns the SLA as stored.
pub async fn set(store: &dyn Store, account: &str, change: Change) -> Result<Sla, SlaError> {
    if store.directory().account(account).await?.is_none() {
        return Err(SlaError::Invalid(format!(
            "there is no account {account:?}"
        )));
    }
    let clusters = store.clusters().await?;
    let types = store.vm_types().await?;
    let zones = change
        .reserve
        .iter()
        .map(|r| Some(&r.zone))
        .chain(change.floors.iter().map(|f| f.zone.as_ref()));
    if let Some(zone) = zones
        .flatten()
        .find(|z| !clusters.iter().any(|c| &c.name == *z))
    {
        return Err(SlaError::Invalid(format!("there is no zone {zone:?}")));
    }
    let vm_types = change
        .reserve
        .iter()
        .map(|r| &r.vm_type)
        .chain(change.floors.iter().map(|f| &f.vm_type));
    if let Some(vm_type) = vm_types
        .into_iter()
        .find(|v| !types.iter().any(|t| &t.name == *v))
    {
        return Err(SlaError::Invalid(format!(
            "there is no VM type {vm_type:?}"
        )));
    }
    let mut sla = store
        .slas()
        .await?
        .into_iter()
        .find(|s| s.account == account)
        .unwrap_or_else(|| Sla {
            account: account.to_owned(),
            ..Sla::default()
        });
    for r in change.reserve {
        sla.reservations
            .retain(|old| (&old.zone, &old.vm_type) != (&r.zone, &r.vm_type));
        if r.count > 0 {
            sla.reservations.push(r);
        }
    }
    sla.reservations.sort();
    for f in change.floors {
        sla.floors
            .retain(|old| (&old.zone, &old.vm_type) != (&f.zone, &f.vm_type));
        if f.floor > 0 {
            sla.floors.push(f);
        }
    }
    sla.floors.sort();
    if let Some(priority) = change.priority {
        sla.priority = priority;
    }
    if let Some(placement) = change.placement {
        sla.placement = placement;
    }
    if let Some(webhook) = change.webhook {
        sla.webhook = webhook;
    }
    if let Some(burst) = change.burst {
        sla.burst = burst;
    }
    store.put_sla(&sla, clock_millis()).await?;
    Ok(sla)
}

/// Removes `account`'s SLA; `false` when it had none.
pub async fn clear(store: &dyn Store, account: &str) -> Result<bool, SlaError> {
    Ok(store.delete_sla(account, clock_millis()).await?)
}

/// The SLA in one line per part, as `euca admin sla show` prints it and the console lists
/// it: `reserve ZONE:TYPE:N`, `floor [ZONE:]TYPE:N`, and the settings.
pub fn describe(sla: &Sla) -> Vec<String> {
    let mut lines = vec![
        format!("priority {}", sla.priority),
        format!(
            "placement {}",
            sla.placement.map_or("default", Placement::name)
        ),
        format!("burst {}", sla.burst.name()),
        format!("webhook {}", sla.webhook.as_deref().unwrap_or("none")),
    ];
    lines.extend(
        sla.reservations
            .iter()
            .map(|r| format!("reserve {}:{}:{}", r.zone, r.vm_type, r.count)),
    );
    lines.extend(sla.floors.iter().map(|f| match &f.zone {
        Some(zone) => format!("floor {zone}:{}:{}", f.vm_type, f.floor),
        None => format!("floor {}:{}", f.vm_type, f.floor),
    }));
    lines
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn written_forms_are_read_and_bad_ones_refused() {
        let r = parse_reservation("zone1:m1.small:2").unwrap();
        assert_eq!(
            (r.zone.as_str(), r.vm_type.as_str(), r.count),
            ("zone1", "m1.small", 2)
        );
        assert!(parse_reservation("zone1:m1.small").is_err());
        assert!(parse_reservation("zone1:m1.small:-1").is_err());
        assert_eq!(parse_floor("m1.small:3").unwrap().zone, None);
        assert_eq!(
            parse_floor("z:m1.small:3").unwrap().zone.as_deref(),
            Some("z")
        );
        assert!(parse_floor(":3").is_err());
        assert_eq!(parse_placement("greedy").unwrap(), Some(Placement::Greedy));
        assert_eq!(parse_placement("default").unwrap(), None);
        assert!(parse_placement("POWERSAVE").is_err());
        assert_eq!(parse_webhook("none").unwrap(), None);
        assert!(parse_webhook("http://127.0.0.1:9/hook").unwrap().is_some());
        assert!(parse_webhook("ftp://host/").is_err());
        assert_eq!(parse_burst("FIRST").unwrap(), BurstPreference::First);
    }
}

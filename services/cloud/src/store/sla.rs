//! What the store keeps of service level agreements (`crate::sla` enforces them): per
//! account a priority, a placement preference, a burst preference, an alert webhook, the
//! capacity reserved per zone and VM type (with its history, which the reserved-versus-used
//! report reads) and the availability floors, and the floors breached now (so that a
//! restart does not alert again).
//!
//! The statements here are the same text for both engines. SQLite numbers `$N` parameters
//! in the order they first appear, so each statement names them in order: `$1` first.

use super::StoreError;

/// How a RunInstances that names no zone chooses one for the account: the cluster
/// controllers' scheduling policies (GREEDY, ROUNDROBIN), applied to zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The first zone (by name) with room.
    Greedy,
    /// The zone after the one the account's last instance went to, with room.
    RoundRobin,
}

impl Placement {
    pub const ALL: [Self; 2] = [Self::Greedy, Self::RoundRobin];

    /// The CC's name of the policy (`SCHEDPOLICY`), and the engines' column.
    pub fn name(self) -> &'static str {
        match self {
            Self::Greedy => "GREEDY",
            Self::RoundRobin => "ROUNDROBIN",
        }
    }

    /// The policy named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

/// Whether an account's RunInstances may run on another cloud (`crate::burst`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BurstPreference {
    /// Only on the local zones.
    Never,
    /// What the local zones cannot place goes to a burst target that admits the account.
    #[default]
    Overflow,
    /// To a burst target first, the local zones only when none admits it.
    First,
}

impl BurstPreference {
    pub const ALL: [Self; 3] = [Self::Never, Self::Overflow, Self::First];

    /// Its name on the command line and in the engines' column.
    pub fn name(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Overflow => "overflow",
            Self::First => "first",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

/// Capacity held for one account: `count` instances of `vm_type` in `zone`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reservation {
    pub zone: String,
    pub vm_type: String,
    pub count: u32,
}

/// An availability objective: the zone's `availableInstances` of `vm_type` stays at least
/// `floor`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Floor {
    /// `None`: in every zone, each on its own.
    pub zone: Option<String>,
    pub vm_type: String,
    pub floor: u32,
}

/// One account's SLA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sla {
    pub account: String,
    /// Higher wins when capacity is short (`crate::sla`); 0 for accounts without an SLA.
    pub priority: i64,
    /// `None`: the cloud's own (the zone with the most room).
    pub placement: Option<Placement>,
    pub burst: BurstPreference,
    /// Where floor alerts are POSTed (JSON).
    pub webhook: Option<String>,
    /// By zone and VM type.
    pub reservations: Vec<Reservation>,
    /// By zone and VM type.
    pub floors: Vec<Floor>,
}

/// A reservation as it was in force: from `since` to `until` (milliseconds since the epoch,
/// the event log's clock); `until` is `None` while it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    pub account: String,
    pub reservation: Reservation,
    pub since: i64,
    pub until: Option<i64>,
}

/// A floor breached now: in `zone`, for `vm_type`, of `account`'s SLA, since when
/// (milliseconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub account: String,
    pub zone: String,
    pub vm_type: String,
    pub since: i64,
}

/// The engines' `zone` column of a floor for every zone.
const EVERY_ZONE: &str = "";

impl Floor {
    /// The engines' `zone` column.
    pub(super) fn zone_column(&self) -> &str {
        self.zone.as_deref().unwrap_or(EVERY_ZONE)
    }

    pub(super) fn from_columns(zone: String, vm_type: String, floor: i64) -> Self {
        Self {
            zone: (zone != EVERY_ZONE).then_some(zone),
            vm_type,
            floor: u32::try_from(floor).unwrap_or(0),
        }
    }
}

impl Sla {
    /// The SLA the engines' `slas` columns give (reservations and floors added after).
    pub(super) fn from_columns(
        account: String,
        priority: i64,
        placement: Option<String>,
        burst: String,
        webhook: Option<String>,
    ) -> Result<Self, StoreError> {
        let placement = match placement {
            Some(name) => Some(
                Placement::from_name(&name)
                    .ok_or_else(|| StoreError::Value(format!("{name:?} is not a placement")))?,
            ),
            None => None,
        };
        let burst = BurstPreference::from_name(&burst)
            .ok_or_else(|| StoreError::Value(format!("{burst:?} is not a burst preference")))?;
        Ok(Self {
            account,
            priority,
            placement,
            burst,
            webhook,
            reservations: Vec::new(),
            floors: Vec::new(),
        })
    }

    /// Adds each of `rows` (account, reservation or floor) to its account's SLA of `slas`.
    pub(super) fn attach<T>(slas: &mut [Self], rows: Vec<(String, T)>, to: fn(&mut Self, T)) {
        for (account, row) in rows {
            if let Some(sla) = slas.iter_mut().find(|s| s.account == account) {
                to(sla, row);
            }
        }
    }
}

/// `$1`'s SLA, replaced (after its earlier reservations end and its floors go).
pub(super) const UPSERT_SLA: &str = "
    INSERT INTO slas (account, priority, placement, burst, webhook) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (account) DO UPDATE SET priority = excluded.priority,
        placement = excluded.placement, burst = excluded.burst, webhook = excluded.webhook";
/// Ends account `$2`'s current reservations at `$1`.
pub(super) const END_RESERVATIONS: &str =
    "UPDATE sla_reservations SET until = $1 WHERE account = $2 AND until IS NULL";
pub(super) const INSERT_RESERVATION: &str =
    "INSERT INTO sla_reservations (account, zone, vm_type, count, since) VALUES ($1, $2, $3, $4, $5)";
pub(super) const DELETE_FLOORS: &str = "DELETE FROM sla_floors WHERE account = $1";
pub(super) const INSERT_FLOOR: &str =
    "INSERT INTO sla_floors (account, zone, vm_type, floor) VALUES ($1, $2, $3, $4)";
/// Forgets account `$1`'s breaches of floors it no longer has.
pub(super) const DROP_STALE_BREACHES: &str = "
    DELETE FROM sla_breaches WHERE account = $1 AND NOT EXISTS (
        SELECT 1 FROM sla_floors f WHERE f.account = sla_breaches.account
            AND f.vm_type = sla_breaches.vm_type AND (f.zone = '' OR f.zone = sla_breaches.zone))";
pub(super) const DELETE_BREACHES: &str = "DELETE FROM sla_breaches WHERE account = $1";
pub(super) const DELETE_SLA: &str = "DELETE FROM slas WHERE account = $1";
pub(super) const SELECT_SLAS: &str =
    "SELECT account, priority, placement, burst, webhook FROM slas ORDER BY account";
pub(super) const SELECT_CURRENT_RESERVATIONS: &str = "
    SELECT account, zone, vm_type, count FROM sla_reservations WHERE until IS NULL
    ORDER BY account, zone, vm_type";
pub(super) const SELECT_FLOORS: &str =
    "SELECT account, zone, vm_type, floor FROM sla_floors ORDER BY account, zone, vm_type";
/// The reservations in force some time in [`$1`, `$2`).
pub(super) const SELECT_RESERVATION_HISTORY: &str = "
    SELECT account, zone, vm_type, count, since, until FROM sla_reservations
    WHERE (until IS NULL OR until > $1) AND since < $2 ORDER BY account, since, zone, vm_type";
/// Records a breach unless it is recorded: one row changed when it is new.
pub(super) const OPEN_BREACH: &str = "
    INSERT INTO sla_breaches (account, zone, vm_type, since) VALUES ($1, $2, $3, $4)
    ON CONFLICT (account, zone, vm_type) DO NOTHING";
pub(super) const CLOSE_BREACH: &str =
    "DELETE FROM sla_breaches WHERE account = $1 AND zone = $2 AND vm_type = $3";
pub(super) const SELECT_BREACHES: &str =
    "SELECT account, zone, vm_type, since FROM sla_breaches ORDER BY account, zone, vm_type";

//! How much of a zone's room for one VM type an account may take when other accounts hold
//! reservations there.
//!
//! An account's reservation holds what it has not used yet (reserved − its instances of
//! that zone and type). When the zone's room is short of every reservation's unused part,
//! the reservations are served in priority order (higher first; of equal priorities, by
//! account name), so the higher-priority account's reservation is the one kept whole. An
//! account may take the zone's room less what the others' reservations hold.

use std::cmp::Reverse;

/// One account's reservation in a zone, for one VM type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Claim {
    pub account: String,
    pub priority: i64,
    pub reserved: u32,
    /// Its instances of the zone and type now.
    pub running: u32,
}

impl Claim {
    fn unused(&self) -> u32 {
        self.reserved.saturating_sub(self.running)
    }
}

/// What a zone's room comes to for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Share {
    /// How many instances the account may start there.
    pub free: u32,
    /// The other accounts' reservations that hold part of the room, each with what it
    /// holds, in priority order.
    pub held: Vec<(Claim, u32)>,
}

/// `account`'s share of a zone with room for `available` instances, given every account's
/// claims there (its own among them, or not).
pub(super) fn share(account: &str, available: u32, claims: &[Claim]) -> Share {
    let mut ordered: Vec<&Claim> = claims.iter().collect();
    ordered.sort_by_key(|c| (Reverse(c.priority), c.account.clone()));
    let mut left = available;
    let mut held = Vec::new();
    for claim in ordered {
        let holds = claim.unused().min(left);
        left -= holds;
        if claim.account != account && holds > 0 {
            held.push((claim.clone(), holds));
        }
    }
    let others: u32 = held.iter().map(|(_, holds)| holds).sum();
    Share {
        free: available - others,
        held,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(account: &str, priority: i64, reserved: u32, running: u32) -> Claim {
        Claim {
            account: account.into(),
            priority,
            reserved,
            running,
        }
    }

    #[test]
    fn another_accounts_unused_reservation_is_not_free() {
        // Acceptance 1: room for 3, account a reserves 2.
        let claims = [claim("a", 0, 2, 0)];
        assert_eq!(share("b", 3, &claims).free, 1);
        assert_eq!(share("b", 3, &claims).held, [(claims[0].clone(), 2)]);
        assert_eq!(share("a", 3, &claims).free, 3);
        // Once b runs its one, a can still start its 2; b nothing more.
        assert_eq!(share("a", 2, &claims).free, 2);
        assert_eq!(share("b", 2, &claims).free, 0);
        // a running its 2 holds nothing more.
        let used = [claim("a", 0, 2, 2)];
        assert_eq!(
            share("b", 1, &used),
            Share {
                free: 1,
                held: vec![]
            }
        );
    }

    #[test]
    fn when_room_is_short_the_higher_priority_reservation_is_kept() {
        let claims = [claim("low", 1, 2, 0), claim("high", 5, 2, 0)];
        // Room for 3: high's 2 are held whole, low's only 1.
        assert_eq!(share("high", 3, &claims).free, 2);
        assert_eq!(share("low", 3, &claims).free, 1);
        assert_eq!(share("other", 3, &claims).free, 0);
        // Room for 2: all of it is high's.
        assert_eq!(share("high", 2, &claims).free, 2);
        assert_eq!(share("low", 2, &claims).free, 0);
        // Equal priorities: by account name.
        let tied = [claim("b", 0, 2, 0), claim("a", 0, 2, 0)];
        assert_eq!(share("a", 2, &tied).free, 2);
        assert_eq!(share("b", 2, &tied).free, 0);
    }
}

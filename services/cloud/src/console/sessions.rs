//! The console's sign-in state: sessions and the throttling of failed sign-ins, both in
//! this process's memory (a restart of the CLC signs everyone out and forgets failures).
//!
//! A session is named by 256 random bits (hex) in a `Secure; HttpOnly; SameSite=Strict`
//! cookie and holds who signed in and the session's CSRF token (another 256 random bits);
//! it ends at sign-out or after [`IDLE`] without a request. Throttling counts failed
//! sign-ins per account and user, and per client address: more than [`MAX_FAILURES`] in
//! [`WINDOW`] and the next attempt is refused before its password is checked.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};

/// How long a session lasts without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// Most sessions held at once; the least recently used goes first.
const MAX_SESSIONS: usize = 10_000;
/// Failed sign-ins allowed per account and user, and per client address, in [`WINDOW`].
pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Most holders of failures remembered; beyond it, those with none in the window go.
const MAX_HOLDERS: usize = 100_000;

/// Who a session belongs to, and its CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account: String,
    pub user: String,
    pub csrf: String,
}

#[derive(Debug)]
struct Held {
    session: Session,
    last: Instant,
}

/// The signed-in sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    held: Mutex<HashMap<String, Held>>,
}

/// 256 random bits, in hex; `None` if the system's generator fails.
fn token() -> Option<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Sessions {
    /// Opens a session for `user` of `account`: its id.
    pub fn open(&self, account: &str, user: &str) -> Option<String> {
        let id = token()?;
        let session = Session {
            account: account.to_owned(),
            user: user.to_owned(),
            csrf: token()?,
        };
        let now = Instant::now();
        let mut held = self.lock();
        held.retain(|_, h| now.duration_since(h.last) < IDLE);
        if held.len() >= MAX_SESSIONS {
            let oldest = held
                .iter()
                .min_by_key(|(_, h)| h.last)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                held.remove(&oldest);
            }
        }
        held.insert(id.clone(), Held { session, last: now });
        Some(id)
    }

    /// The session `id` names, if it is open and not idle too long; it counts as used now.
    pub fn touch(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut held = self.lock();
        let fresh = held
            .get(id)
            .is_some_and(|h| now.duration_since(h.last) < IDLE);
        if !fresh {
            held.remove(id);
            return None;
        }
        let h = held.get_mut(id)?;
        h.last = now;
        Some(h.session.clone())
    }

    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What failed sign-ins are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Holder {
    User { account: String, user: String },
    Client(IpAddr),
}

/// Failed sign-ins in the last [`WINDOW`].
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Holder, VecDeque<Instant>>>,
}

impl Throttle {
    fn holders(account: &str, user: &str, client: IpAddr) -> [Holder; 2] {
        [
            Holder::User {
                account: account.to_owned(),
                user: user.to_owned(),
            },
            Holder::Client(client),
        ]
    }

    /// Whether a sign-in as `user` of `account` from `client` may be tried now.
    pub fn admits(&self, account: &str, user: &str, client: IpAddr) -> bool {
        let now = Instant::now();
        let mut failures = self.lock();
        Self::holders(account, user, client).iter().all(|holder| {
            failures.get_mut(holder).is_none_or(|times| {
                forget_old(times, now);
                times.len() < MAX_FAILURES
            })
        })
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, account: &str, user: &str, client: IpAddr) {
        let now = Instant::now();
        let mut failures = self.lock();
        if failures.len() >= MAX_HOLDERS {
            failures.retain(|_, times| {
                forget_old(times, now);
                !times.is_empty()
            });
        }
        for holder in Self::holders(account, user, client) {
            let times = failures.entry(holder).or_default();
            forget_old(times, now);
            times.push_back(now);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Holder, VecDeque<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn forget_old(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_session_has_its_own_random_id_and_token_until_closed() {
        let sessions = Sessions::default();
        let a = sessions.open("acct", "ana").unwrap();
        let b = sessions.open("acct", "ana").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        let (sa, sb) = (sessions.touch(&a).unwrap(), sessions.touch(&b).unwrap());
        assert_ne!(sa.csrf, sb.csrf);
        assert_eq!((sa.account.as_str(), sa.user.as_str()), ("acct", "ana"));
        sessions.close(&a);
        assert!(sessions.touch(&a).is_none());
        assert!(sessions.touch("not-a-session").is_none());
    }

    #[test]
    fn the_sixth_attempt_after_five_failures_is_refused_per_user_and_per_client() {
        let throttle = Throttle::default();
        let (here, there) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..MAX_FAILURES {
            assert!(throttle.admits("a", "u", here));
            throttle.failed("a", "u", here);
        }
        assert!(!throttle.admits("a", "u", here));
        // The user is throttled from anywhere; the address for any user.
        assert!(!throttle.admits("a", "u", there));
        assert!(!throttle.admits("b", "v", here));
        assert!(throttle.admits("b", "v", there));
    }
}

//! What Walrus writes to the cloud's event log (`users::events`): one event per S3 request
//! (who, what, from where, with what outcome), and the changes of its buckets that usage
//! counts: created, deleted, and bytes added or removed by PUT, overwrite, DELETE, POST and
//! multipart uploads. Those changes are written to the metadata's outbox in the transaction
//! that makes them, then forwarded to the event log before the reply (`Walrus::meta`); a
//! crash between the two forwards them at the next start.

use std::future::Future;
use std::net::IpAddr;

use users::events::{Component, Event, Who};
use users::User;

use crate::meta::Actor;

tokio::task_local! {
    /// Who the request being answered is, for the changes it makes.
    static ACTOR: Actor;
}

/// Runs `work` as `actor`'s: the changes it makes are theirs.
pub async fn acting<F: Future>(actor: Actor, work: F) -> F::Output {
    ACTOR.scope(actor, work).await
}

/// Who the current request is; nobody outside one.
pub fn actor() -> Actor {
    ACTOR.try_with(Clone::clone).unwrap_or_default()
}

/// The event of a request `user` made from `source` (unknown: `None`), answered with
/// `outcome`.
pub fn request(
    user: Option<&User>,
    source: Option<IpAddr>,
    operation: &str,
    outcome: &str,
) -> Event {
    let source = source.map(|ip| ip.to_string()).unwrap_or_default();
    Event::request(&Who::of(user, &source), Component::S3, operation, outcome)
}

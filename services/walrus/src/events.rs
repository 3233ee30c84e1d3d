//! What Walrus writes to the cloud's event log (`users::events`): one event per S3 request
//! (who, what, from where, with what outcome), and the changes of its buckets that usage
//! counts: created, deleted, and bytes added or removed by PUT, overwrite, DELETE, POST and
//! multipart uploads. Those changes are written to the metadata's outbox in the transaction
//! that makes them, then forwarded to the event log before the reply (`Walrus::meta`); a
//! crash between the two forwards them at the next start.

use std::future::Future;
use std::net::SocketAddr;

use hyper::HeaderMap;
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

/// The client's address: the peer's, or, when the peer is this host (the cloud's front door,
/// which forwards S3 requests), the last address `X-Forwarded-For` names, which the front
/// door appended. Only a process on this host can claim another address.
pub fn source(peer: SocketAddr, headers: &HeaderMap) -> String {
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|a| !a.is_empty());
    match forwarded {
        Some(client) if peer.ip().is_loopback() => client.to_owned(),
        _ => peer.ip().to_string(),
    }
}

/// The event of a request `user` made from `source`, answered with `outcome`.
pub fn request(user: Option<&User>, source: &str, operation: &str, outcome: &str) -> Event {
    Event::request(&Who::of(user, source), Component::S3, operation, outcome)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_source_is_the_front_doors_client_only_behind_it() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.4".parse().unwrap(),
        );
        let local: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        assert_eq!(source(local, &headers), "198.51.100.4");
        // A remote client's claim is not taken.
        assert_eq!(source(remote, &headers), "192.0.2.1");
        assert_eq!(source(local, &HeaderMap::new()), "127.0.0.1");
    }
}

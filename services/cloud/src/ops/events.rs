//! What the EC2 operations and the tick write to the cloud's event log: who asked (account,
//! user, address) and the changes of state that are billed, each committed before the store
//! records the change (a crash between the two records it again, once: see
//! `users::events`).
//!
//! The moments are AWS's: an instance is billed from when its cluster first reports it
//! running until TerminateInstances (its shutting-down) or, for one that ended on its own,
//! until its cluster stops reporting it; a volume from when the storage controller made it
//! until it deleted it.

use std::net::IpAddr;

use users::events::{action, Component, Event, EventLog, Quantity, Who};

use super::Cloud;
use crate::error::Ec2Error;
use crate::store::{Instance, User};

impl Cloud {
    /// Records a request to `component` (`action`, answered with `outcome`) that `user` (if
    /// it authenticated) made from `source`: each front door (EC2 Query and SOAP, IAM) calls
    /// this once per request. Queued: it waits only for room in the queue.
    pub async fn record_request(
        &self,
        component: Component,
        action: &str,
        user: Option<&User>,
        source: Option<IpAddr>,
        outcome: &str,
    ) {
        let who = who(user, source);
        let event = Event::request(&who, component, action, outcome);
        self.events.record(event).await;
    }
}

/// `user` asking from `source` (unknown: empty), as events name them.
pub(super) fn who(user: Option<&User>, source: Option<IpAddr>) -> Who {
    Who::of(user, &source.map(|ip| ip.to_string()).unwrap_or_default())
}

/// Commits the change `action` of `resource` by `who` (EC2's), returning once durable.
pub(super) async fn changed(
    events: &EventLog,
    who: &Who,
    action: &str,
    resource: &str,
    quantity: Quantity,
) -> Result<(), Ec2Error> {
    let event = Event::change(who, Component::Ec2, action, resource, quantity);
    Ok(events.commit(event).await?)
}

/// Commits that `instance` runs (billing starts), as the cloud saw it.
pub(super) async fn instance_running(
    events: &EventLog,
    instance: &Instance,
) -> Result<(), Ec2Error> {
    let vm_type = Quantity::VmType(instance.vm_type.clone());
    let cloud = Who::system(&instance.owner);
    changed(
        events,
        &cloud,
        action::INSTANCE_RUNNING,
        &instance.id,
        vm_type,
    )
    .await
}

/// Commits that `instance` ended (billing stops), asked by `who`.
pub(super) async fn instance_stopped(
    events: &EventLog,
    who: &Who,
    instance: &Instance,
) -> Result<(), Ec2Error> {
    changed(
        events,
        who,
        action::INSTANCE_STOPPED,
        &instance.id,
        Quantity::None,
    )
    .await
}

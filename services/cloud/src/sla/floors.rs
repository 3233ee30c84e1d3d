//! Availability floors: after each tick has polled the clusters, every floor of every SLA is
//! checked against its zone's `availableInstances` of its VM type (a zone that did not
//! answer has none). The first check that finds a floor breached raises one alert, checks
//! while it stays breached raise none, and the first that finds it held again raises one
//! recovery alert. Whether a floor is breached is kept in the store (a compare-and-set, so a
//! restart or a second tick never alerts twice). An alert is a warning in the log, an event
//! in the event log (action `sla.floor.breached` or `sla.floor.recovered`) and, when the SLA
//! names a webhook, a POST of JSON to it (plain HTTP; one that fails is logged, not retried).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use users::events::{clock_millis, Component, Event, Quantity, Who};

use super::Sla;
use crate::ops::Cloud;
use crate::store::sla::Breach;
use crate::store::StoreError;

/// The event log's actions of the alerts.
pub const BREACHED: &str = "sla.floor.breached";
pub const RECOVERED: &str = "sla.floor.recovered";
/// How long a webhook has to answer.
const WEBHOOK_DEADLINE: Duration = Duration::from_secs(5);

/// Checks every floor against the zones as the tick last polled them; failures to read or
/// record are logged (the next tick checks again).
pub async fn check(cloud: &Cloud) {
    if let Err(e) = check_floors(cloud).await {
        tracing::warn!(error = %e, "tick: cannot check the SLAs' availability floors");
    }
}

async fn check_floors(cloud: &Cloud) -> Result<(), StoreError> {
    let slas = cloud.store.slas().await?;
    if slas.iter().all(|s| s.floors.is_empty()) {
        return Ok(());
    }
    let clusters = cloud.store.clusters().await?;
    let breached = cloud.store.breaches().await?;
    for sla in &slas {
        for floor in &sla.floors {
            let zones = clusters
                .iter()
                .filter(|c| floor.zone.as_ref().is_none_or(|z| *z == c.name));
            for cluster in zones {
                // Not polled yet: nothing to check.
                let Some(zone) = cloud.zones.get(&cluster.name) else {
                    continue;
                };
                let available = zone
                    .and_then(|types| types.into_iter().find(|c| c.vm_type == floor.vm_type))
                    .map_or(0, |c| c.available);
                let below = i64::from(available) < i64::from(floor.floor);
                let breach = Breach {
                    account: sla.account.clone(),
                    zone: cluster.name.clone(),
                    vm_type: floor.vm_type.clone(),
                    since: clock_millis(),
                };
                let was = breached.iter().any(|b| {
                    (&b.account, &b.zone, &b.vm_type)
                        == (&breach.account, &breach.zone, &breach.vm_type)
                });
                let changed = match (was, below) {
                    (false, true) => cloud.store.open_breach(&breach).await?,
                    (true, false) => cloud.store.close_breach(&breach).await?,
                    _ => false,
                };
                if changed {
                    let alert = Alert {
                        sla,
                        breach: &breach,
                        floor: floor.floor,
                        available,
                        breached: below,
                    };
                    alert.raise(cloud).await;
                }
            }
        }
    }
    Ok(())
}

/// A floor breached or held again.
#[derive(Debug)]
struct Alert<'a> {
    sla: &'a Sla,
    breach: &'a Breach,
    floor: u32,
    available: i32,
    breached: bool,
}

impl Alert<'_> {
    fn action(&self) -> &'static str {
        if self.breached {
            BREACHED
        } else {
            RECOVERED
        }
    }

    /// The webhook's body.
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "alert": self.action(),
            "account": self.sla.account,
            "zone": self.breach.zone,
            "vmType": self.breach.vm_type,
            "floor": self.floor,
            "availableInstances": self.available,
            "time": self.breach.since,
        })
    }

    async fn raise(&self, cloud: &Cloud) {
        let b = self.breach;
        if self.breached {
            tracing::warn!(account = %b.account, zone = %b.zone, vm_type = %b.vm_type, floor = self.floor, available = self.available, "SLA availability floor breached");
        } else {
            tracing::warn!(account = %b.account, zone = %b.zone, vm_type = %b.vm_type, floor = self.floor, available = self.available, "SLA availability floor holds again");
        }
        let resource = format!("{}/{}", b.zone, b.vm_type);
        let mut event = Event::change(
            &Who::system(&b.account),
            Component::System,
            self.action(),
            &resource,
            Quantity::None,
        );
        // One per alert, not one per action and resource.
        event.once = Some(format!(
            "{}:{}:{resource}:{}",
            self.action(),
            b.account,
            b.since
        ));
        if let Err(e) = cloud.events.commit(event).await {
            tracing::warn!(error = %e, "cannot record an SLA alert in the event log");
        }
        if let Some(url) = &self.sla.webhook {
            post(url, &self.json()).await;
        }
    }
}

/// POSTs `body` to `url`; a failure is logged.
async fn post(url: &str, body: &serde_json::Value) {
    let request = match Request::post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
    {
        Ok(request) => request,
        Err(e) => {
            tracing::warn!(%url, error = %e, "SLA webhook: not a usable URL");
            return;
        }
    };
    let client = Client::builder(TokioExecutor::new()).build_http();
    match tokio::time::timeout(WEBHOOK_DEADLINE, client.request(request)).await {
        Ok(Ok(response)) if response.status().is_success() => {}
        Ok(Ok(response)) => {
            tracing::warn!(%url, status = %response.status(), "SLA webhook refused the alert");
        }
        Ok(Err(e)) => tracing::warn!(%url, error = %e, "SLA webhook did not answer"),
        Err(_) => tracing::warn!(%url, "SLA webhook did not answer in time"),
    }
}

//! `/health` (the cloud admin's): each component and whether it answers: the CLC itself,
//! each CC (its WSDL, and the zone state and time of the tick's last poll), the nodes each
//! CC reports, Walrus and the SC, probed as `euca status` probes them.

use std::time::{Duration, SystemTime};

use kit::probe::{Health, Prober};
use maud::{html, Markup};

use super::date;
use super::provisioning::zone_state;
use crate::console::{ConsoleError, Ctx, Reply, Request};
use crate::ops;

/// How long a component has to answer a probe.
const PROBE_DEADLINE: Duration = Duration::from_secs(3);

/// One component's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `CLC`, `CC`, `NC`, `Walrus`, `SC`.
    pub kind: &'static str,
    pub name: String,
    pub url: String,
    pub health: Health,
    /// What the cloud last learned of it (a CC's zone state and when it was polled).
    pub note: String,
}

/// `GET /health`.
pub async fn page(ctx: Ctx, _req: Request) -> Result<Reply, ConsoleError> {
    ctx.require_admin()?;
    let cloud = &ctx.cloud;
    // What to probe: (kind, name, url, note).
    let mut listed: Vec<(&'static str, String, String, String)> = Vec::new();
    for cluster in cloud.store.clusters().await? {
        let polled = cloud.zones.polled(&cluster.name).map_or_else(
            || "never polled".to_owned(),
            |at| format!("last poll {}", date(seconds(at))),
        );
        let zone = zone_state(cloud.zones.get(&cluster.name).as_ref());
        let nodes = ops::clusters::reported_nodes(cloud, &cluster).await;
        listed.push((
            "CC",
            cluster.name.clone(),
            cluster.url.clone(),
            format!("zone {zone}, {polled}"),
        ));
        for node in nodes.unwrap_or_default() {
            listed.push((
                "NC",
                cluster.name.clone(),
                node,
                "reported by its CC".into(),
            ));
        }
    }
    if let Some(url) = &cloud.walrus {
        listed.push(("Walrus", "walrus".into(), url.clone(), String::new()));
    }
    if let Some(sc) = &cloud.storage {
        listed.push(("SC", "storage".into(), sc.url.clone(), String::new()));
    }
    let urls: Vec<String> = listed.iter().map(|(_, _, url, _)| url.clone()).collect();
    let healths = Prober::new(PROBE_DEADLINE).probe_all(&urls).await;
    let clc = Component {
        kind: "CLC",
        name: cloud.region.clone(),
        url: cloud.ec2_url.get().cloned().unwrap_or_default(),
        // It is answering this page, its store with it.
        health: Health::Up(Duration::ZERO),
        note: "serving this console".into(),
    };
    let components: Vec<Component> = std::iter::once(clc)
        .chain(
            listed
                .into_iter()
                .zip(healths)
                .map(|((kind, name, url, note), health)| Component {
                    kind,
                    name,
                    url,
                    health,
                    note,
                }),
        )
        .collect();
    Ok(Reply::page("Health", render(&components)))
}

/// Seconds since the epoch of `at`.
fn seconds(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub fn render(components: &[Component]) -> Markup {
    html! {
        table #health {
            thead { tr { th { "Component" } th { "Name" } th { "URL" } th { "Answers" } th { "Last known" } } }
            tbody {
                @for c in components {
                    tr data-kind=(c.kind) data-up=(c.health.is_up()) {
                        td { (c.kind) } td { (c.name) } td { (c.url) }
                        td.health { (c.health.to_string()) } td { (c.note) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_component_says_whether_it_answers() {
        let line = |kind, health| Component {
            kind,
            name: "n".into(),
            url: "http://x".into(),
            health,
            note: String::new(),
        };
        let page = render(&[
            line("CC", Health::Up(Duration::from_millis(4))),
            line("NC", Health::Down("connection refused".into())),
        ])
        .into_string();
        assert!(page.contains(r#"data-kind="CC" data-up="true""#), "{page}");
        assert!(page.contains(r#"data-kind="NC" data-up="false""#));
        assert!(page.contains("down: connection refused"));
        assert_eq!(seconds(SystemTime::UNIX_EPOCH + Duration::from_secs(5)), 5);
    }
}

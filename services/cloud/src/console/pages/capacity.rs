//! `/capacity` (the cloud admin's): each zone's room for each VM type, free and most, as
//! the tick last polled its CC (DescribeAvailabilityZones `verbose` shows the same).

use maud::{html, Markup};

use super::provisioning::zone_state;
use crate::console::{ConsoleError, Ctx, Reply, Request};
use crate::ops::{self, Zone};
use crate::store::{Cluster, VmType};

/// `GET /capacity`.
pub async fn page(ctx: Ctx, _req: Request) -> Result<Reply, ConsoleError> {
    ctx.require_admin()?;
    let clusters = ctx.cloud.store.clusters().await?;
    let types = ctx.cloud.store.vm_types().await?;
    let zones = ops::clusters::zones_of(&ctx.cloud, &clusters, &types).await?;
    let zones: Vec<(Cluster, Zone)> = clusters.into_iter().zip(zones).collect();
    Ok(Reply::page("Capacity", render(&zones, &types)))
}

pub fn render(zones: &[(Cluster, Zone)], types: &[VmType]) -> Markup {
    html! {
        p { "Free / most instances of each VM type per zone, as each cluster last reported." }
        table #capacity {
            thead {
                tr {
                    th { "Zone" } th { "State" }
                    @for t in types {
                        th title={ (t.cores) " CPU, " (t.memory_mb) " MB, " (t.disk_gb) " GB" } { (t.name) }
                    }
                }
            }
            tbody {
                @for (cluster, zone) in zones {
                    tr data-zone=(cluster.name) {
                        td { (cluster.name) }
                        td.state { (zone_state(Some(zone))) }
                        @for t in types {
                            @let room = zone.as_ref().and_then(|z| z.iter().find(|c| c.vm_type == t.name));
                            td data-vmtype=(t.name) {
                                @match room {
                                    Some(c) => { (c.available) " / " (c.max) },
                                    None => "–",
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Capacity;

    #[test]
    fn each_zone_shows_free_and_most_of_each_type_and_a_dash_where_unknown() {
        let types = [
            VmType {
                name: "m1.small".into(),
                cores: 1,
                memory_mb: 128,
                disk_gb: 2,
            },
            VmType {
                name: "c1.xlarge".into(),
                cores: 4,
                memory_mb: 2048,
                disk_gb: 20,
            },
        ];
        let cluster = |name: &str| Cluster {
            name: name.into(),
            url: format!("http://{name}"),
        };
        let small = Capacity {
            vm_type: "m1.small".into(),
            available: 3,
            max: 8,
        };
        let page = render(
            &[(cluster("up"), Some(vec![small])), (cluster("down"), None)],
            &types,
        )
        .into_string();
        assert!(
            page.contains(r#"<td data-vmtype="m1.small">3 / 8</td>"#),
            "{page}"
        );
        assert!(page.contains(r#"<td data-vmtype="c1.xlarge">–</td>"#));
        assert!(page.contains("unavailable"));
    }
}

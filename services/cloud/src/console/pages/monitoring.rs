//! `/monitoring`: the instances to chart and the alarms on them; `/monitoring/{instance}`:
//! an instance's five metrics over the last three hours, as server-drawn SVG charts. The
//! administrator sees every account's; a user their own account's.

use maud::html;

use crate::console::{ConsoleError, Ctx, Reply, Request};
use crate::monitoring::{instance_chart, Metric, CHART_SECONDS};

const PATH: &str = "/monitoring";

/// The account whose instances and alarms the viewer sees: `None` for every account's.
fn scope(ctx: &Ctx) -> Option<&str> {
    (!ctx.is_admin()).then_some(ctx.viewer.account.as_str())
}

pub async fn list(ctx: Ctx, _request: Request) -> Result<Reply, ConsoleError> {
    let store = &ctx.cloud.store;
    let (instances, alarms) =
        tokio::try_join!(store.instances(scope(&ctx)), store.alarms(scope(&ctx)))?;
    Ok(Reply::page(
        "Monitoring",
        html! {
            h2 { "Instances" }
            @if instances.is_empty() {
                p.note { "No instances to chart." }
            } @else {
                table #instances {
                    tr { th { "Instance" } th { "Account" } th { "Type" } th { "Zone" } th { "State" } }
                    @for instance in &instances {
                        tr {
                            td { a href={ (PATH) "/" (instance.id) } { (instance.id) } }
                            td { (instance.owner) }
                            td { (instance.vm_type) }
                            td { (instance.cluster) }
                            td { (if instance.terminated { "terminated" } else { instance.observed.state.as_deref().unwrap_or("pending") }) }
                        }
                    }
                }
            }
            h2 { "Alarms" }
            @if alarms.is_empty() {
                p.note { "No alarms: PutMetricAlarm of the CloudWatch API sets them." }
            } @else {
                table #alarms {
                    tr {
                        th { "Alarm" } th { "Account" } th { "Instance" } th { "Condition" }
                        th { "State" } th { "Why" } th { "Webhooks" }
                    }
                    @for alarm in &alarms {
                        tr {
                            td { (alarm.name) }
                            td { (alarm.owner) }
                            td { a href={ (PATH) "/" (alarm.instance) } { (alarm.instance) } }
                            td {
                                (alarm.statistic.name()) " of " (alarm.metric.name()) " "
                                (alarm.comparison.name()) " " (alarm.threshold) " for "
                                (alarm.evaluation_periods) " × " (alarm.period) " s"
                            }
                            td.state { (alarm.state.state.name()) }
                            td { (alarm.state.reason) }
                            td { (alarm.alarm_actions.len() + alarm.ok_actions.len() + alarm.insufficient_data_actions.len()) }
                        }
                    }
                }
            }
        },
    ))
}

pub async fn show(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    let id = request.last_segment();
    let visible = ctx.cloud.store.instances(scope(&ctx)).await?;
    let Some(instance) = visible.iter().find(|i| i.id == id) else {
        return Err(ConsoleError::NotFound);
    };
    let mut charts = Vec::with_capacity(Metric::ALL.len());
    for metric in Metric::ALL {
        charts.push((
            metric,
            instance_chart(&ctx.cloud, &instance.id, metric).await?,
        ));
    }
    Ok(Reply::page(
        "Monitoring",
        html! {
            p {
                "Instance " strong #instance { (instance.id) } " of account " (instance.owner)
                ": 5-minute averages over the last " (CHART_SECONDS / 3600) " hours (UTC). "
                a href=(PATH) { "All instances" }
            }
            @for (metric, chart) in charts {
                figure.metric id=(metric.name()) {
                    figcaption { (metric.name()) " (" (metric.unit()) ")" }
                    (chart)
                }
            }
        },
    ))
}

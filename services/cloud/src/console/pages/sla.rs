//! `/sla`: every account's service level agreement (reservations, priority, placement,
//! availability floors and their webhook, burst preference) and the floors breached now;
//! the administrator sets and clears them, through the same change `euca admin sla` makes
//! (`crate::sla::edit`).

use maud::html;

use super::button;
use crate::console::{ConsoleError, Ctx, Reply, Request};
use crate::sla::edit::{self, Change, SlaError};
use crate::sla::{BurstPreference, Placement};

const PATH: &str = "/sla";

pub async fn list(ctx: Ctx, _request: Request) -> Result<Reply, ConsoleError> {
    ctx.require_admin()?;
    let slas = ctx.cloud.store.slas().await?;
    let breaches = ctx.cloud.store.breaches().await?;
    Ok(Reply::page(
        "SLAs",
        html! {
            p { "Service level agreements per account. Reserved capacity is kept from other accounts' RunInstances; the higher priority wins when capacity is short." }
            table #slas {
                tr { th { "Account" } th { "Agreement" } th { "Breached now" } th { "Actions" } }
                @for sla in &slas {
                    tr id=(format!("sla-{}", sla.account)) {
                        td { (sla.account) }
                        td { ul { @for line in edit::describe(sla) { li { (line) } } } }
                        td {
                            @for b in breaches.iter().filter(|b| b.account == sla.account) {
                                span.breach { (b.zone) ":" (b.vm_type) " " }
                            }
                        }
                        td { (button(&ctx, PATH, "clear", &[("account", &sla.account)], "Clear")) }
                    }
                }
            }
            form #set-sla method="post" action=(PATH) {
                fieldset {
                    legend { "Set an account's SLA (what is left empty stays)" }
                    (ctx.csrf_field())
                    input type="hidden" name="action" value="set";
                    label for="account" { "Account" }
                    input type="text" id="account" name="account" required;
                    label for="reserve" { "Reservations, ZONE:TYPE:N each (N 0 removes one)" }
                    input type="text" id="reserve" name="reserve" placeholder="zone1:m1.small:2";
                    label for="priority" { "Priority" }
                    input type="text" id="priority" name="priority";
                    label for="placement" { "Placement" }
                    select id="placement" name="placement" {
                        option value="" { "unchanged" }
                        option value="default" { "default (the most room)" }
                        @for p in Placement::ALL { option value=(p.name()) { (p.name()) } }
                    }
                    label for="floor" { "Availability floors, [ZONE:]TYPE:N each (N 0 removes one)" }
                    input type="text" id="floor" name="floor" placeholder="zone1:m1.small:3";
                    label for="webhook" { "Alert webhook (http:// URL, or none)" }
                    input type="text" id="webhook" name="webhook";
                    label for="burst" { "Burst" }
                    select id="burst" name="burst" {
                        option value="" { "unchanged" }
                        @for b in BurstPreference::ALL { option value=(b.name()) { (b.name()) } }
                    }
                    button type="submit" { "Set" }
                }
            }
        },
    ))
}

pub async fn act(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    ctx.require_admin()?;
    let account = request.field("account")?.trim().to_owned();
    let store = &*ctx.cloud.store;
    match request.field("action")? {
        "set" => {
            let change = change(&request).map_err(refused)?;
            edit::set(store, &account, change).await.map_err(refused)?;
        }
        "clear" => {
            edit::clear(store, &account).await.map_err(refused)?;
        }
        other => return Err(ConsoleError::BadRequest(format!("no action {other:?}"))),
    }
    tracing::info!(account, by = %ctx.viewer.arn(), "console: SLA changed");
    Ok(Reply::back(PATH))
}

/// The change the set form asks for: its lists are separated by spaces or commas.
fn change(request: &Request) -> Result<Change, SlaError> {
    let given = |name| {
        request
            .form
            .get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let each = |name| {
        given(name)
            .unwrap_or_default()
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    };
    Ok(Change {
        reserve: each("reserve")
            .into_iter()
            .map(edit::parse_reservation)
            .collect::<Result<_, _>>()?,
        floors: each("floor")
            .into_iter()
            .map(edit::parse_floor)
            .collect::<Result<_, _>>()?,
        priority: given("priority")
            .map(|p| {
                p.parse().map_err(|_| {
                    SlaError::Invalid(format!("{p:?}: the priority is a whole number"))
                })
            })
            .transpose()?,
        placement: given("placement").map(edit::parse_placement).transpose()?,
        webhook: given("webhook").map(edit::parse_webhook).transpose()?,
        burst: given("burst").map(edit::parse_burst).transpose()?,
    })
}

fn refused(e: SlaError) -> ConsoleError {
    match e {
        SlaError::Invalid(why) => ConsoleError::BadRequest(why),
        SlaError::Store(e) => ConsoleError::Store(e),
    }
}

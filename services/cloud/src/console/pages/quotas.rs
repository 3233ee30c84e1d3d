//! `/quotas`: an account's limits and its users'. The administrator sets and clears them
//! (a quota bounds a tenant, so not the tenant's own root user); the account's users look.

use maud::html;
use users::{Quota, Resource};

use super::{about, account_field, account_picker, button};
use crate::console::{ConsoleError, Ctx, Reply, Request};

const PATH: &str = "/quotas";

pub async fn list(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    let account = ctx.account_of(&request);
    ctx.require_account(&account)?;
    let directory = ctx.cloud.store.directory();
    if directory.account(&account).await?.is_none() {
        return Err(ConsoleError::NotFound);
    }
    let quotas = directory.quotas(Some(&account)).await?;
    Ok(Reply::page(
        "Quotas",
        html! {
            (account_picker(&ctx, PATH, &account))
            p { "Quotas of account " strong #account { (account) } " and its users. No quota: no limit." }
            table #quotas {
                tr { th { "For" } th { "Resource" } th { "Limit" } th { "Actions" } }
                @for quota in &quotas {
                    tr {
                        td { (quota.user.as_deref().map_or_else(|| "the account".to_owned(), |u| format!("user {u}"))) }
                        td { (quota.resource.name()) }
                        td { (quota.resource.amount(quota.limit)) }
                        td {
                            @if ctx.is_admin() {
                                (button(&ctx, PATH, "clear", &[("account", &account), ("user", quota.user.as_deref().unwrap_or_default()), ("resource", quota.resource.name())], "Clear"))
                            }
                        }
                    }
                }
            }
            @if ctx.is_admin() {
                form #set-quota method="post" action=(PATH) {
                    fieldset {
                        legend { "Set a quota" }
                        (ctx.csrf_field())
                        (account_field(&account))
                        input type="hidden" name="action" value="set";
                        label for="user" { "User (empty: the whole account)" }
                        input type="text" id="user" name="user";
                        label for="resource" { "Resource" }
                        select id="resource" name="resource" {
                            @for resource in Resource::ALL { option value=(resource.name()) { (resource.name()) } }
                        }
                        label for="limit" { "Limit" }
                        input type="text" id="limit" name="limit" required;
                        button type="submit" { "Set" }
                    }
                }
            }
        },
    ))
}

pub async fn act(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    ctx.require_admin()?;
    let account = ctx.account_of(&request);
    let directory = ctx.cloud.store.directory();
    if directory.account(&account).await?.is_none() {
        return Err(ConsoleError::NotFound);
    }
    let user = request
        .form
        .get("user")
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    let resource = request.field("resource")?;
    let resource = Resource::from_name(resource)
        .ok_or_else(|| ConsoleError::BadRequest(format!("no resource {resource:?}")))?;
    let action = request.field("action")?;
    match action {
        "set" => {
            if let Some(user) = &user {
                if directory.user(&account, user).await?.is_none() {
                    return Err(ConsoleError::BadRequest(format!(
                        "account {account} has no user {user}"
                    )));
                }
            }
            let limit = resource.parse_amount(request.field("limit")?)?;
            directory
                .set_quota(&Quota {
                    account: account.clone(),
                    user,
                    resource,
                    limit,
                })
                .await?;
        }
        "clear" => {
            directory
                .clear_quota(&account, user.as_deref(), resource)
                .await?;
        }
        other => return Err(ConsoleError::BadRequest(format!("no action {other:?}"))),
    }
    tracing::info!(account, resource = resource.name(), action, by = %ctx.viewer.arn(), "console: quota changed");
    Ok(Reply::back(about(&ctx, PATH, &account)))
}

//! `/accounts` (the administrator's): every account, to create, enable, disable and
//! delete; `/accounts/{name}`: one account's users, groups and quotas (its own users may
//! look at it too).

use maud::html;

use super::{about, button, date};
use crate::console::{ConsoleError, Ctx, Reply, Request};

const PATH: &str = "/accounts";

pub async fn list(ctx: Ctx, _request: Request) -> Result<Reply, ConsoleError> {
    ctx.require_admin()?;
    let accounts = ctx.cloud.store.directory().accounts().await?;
    Ok(Reply::page(
        "Accounts",
        html! {
            table #accounts {
                tr { th { "Name" } th { "Id" } th { "State" } th { "Created" } th { "Actions" } }
                @for account in &accounts {
                    tr {
                        td { a href={ (PATH) "/" (account.name) } { (account.name) } }
                        td { (account.id) }
                        td { @if account.enabled { "enabled" } @else { "disabled" } }
                        td { (date(account.created)) }
                        td {
                            @if account.name != users::ADMIN_NAME {
                                @if account.enabled {
                                    (button(&ctx, PATH, "disable", &[("name", &account.name)], "Disable"))
                                } @else {
                                    (button(&ctx, PATH, "enable", &[("name", &account.name)], "Enable"))
                                }
                                (button(&ctx, PATH, "delete", &[("name", &account.name)], "Delete"))
                            }
                        }
                    }
                }
            }
            form #create-account method="post" action=(PATH) {
                fieldset {
                    legend { "New account" }
                    (ctx.csrf_field())
                    input type="hidden" name="action" value="create";
                    label for="name" { "Name" }
                    input type="text" id="name" name="name" required;
                    label for="email" { "Root user's e-mail" }
                    input type="email" id="email" name="email";
                    button type="submit" { "Create" }
                }
            }
            p.note { "Deleting an account deletes its users and everything it owns in the cloud." }
        },
    ))
}

pub async fn act(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    ctx.require_admin()?;
    let name = request.field("name")?;
    let directory = ctx.cloud.store.directory();
    match request.field("action")? {
        "create" => {
            let email = request
                .form
                .get("email")
                .map(str::trim)
                .filter(|e| !e.is_empty());
            directory.create_account(name, email).await?;
        }
        "enable" => directory.set_account_enabled(name, true).await?,
        "disable" => directory.set_account_enabled(name, false).await?,
        "delete" => {
            if name == users::ADMIN_NAME {
                return Err(ConsoleError::BadRequest(
                    "The cloud administrator's account cannot be deleted.".into(),
                ));
            }
            if directory.account(name).await?.is_none() {
                return Err(ConsoleError::NotFound);
            }
            ctx.cloud.store.delete_account(name).await?;
        }
        other => return Err(ConsoleError::BadRequest(format!("no action {other:?}"))),
    }
    tracing::info!(account = name, by = %ctx.viewer.arn(), "console: account changed");
    Ok(Reply::back(PATH))
}

pub async fn show(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    let name = request.last_segment().to_owned();
    ctx.require_account(&name)?;
    let directory = ctx.cloud.store.directory();
    let account = directory
        .account(&name)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let users = directory.users(&name, "/").await?;
    let groups = directory.groups(&name, "/").await?;
    let quotas = directory.quotas(Some(&name)).await?;
    Ok(Reply::page(
        format!("Account {name}"),
        html! {
            p { "Id " (account.id) ", " @if account.enabled { "enabled" } @else { "disabled" }
                ", created " (date(account.created)) "." }
            h2 { a href=(about(&ctx, "/users", &name)) { "Users" } }
            ul #users { @for user in &users { li { (user.name) } } }
            h2 { a href=(about(&ctx, "/groups", &name)) { "Groups" } }
            ul #groups { @for group in &groups { li { (group.name) } } }
            h2 { a href=(about(&ctx, "/quotas", &name)) { "Quotas" } }
            ul #quotas {
                @for quota in &quotas {
                    li { (quota.resource.amount(quota.limit)) " for " (quota.holder()) }
                }
            }
        },
    ))
}

//! `/groups`: an account's groups and their members; the administrator and the account's
//! root user create and delete groups and add and remove members.

use maud::html;

use super::{about, account_field, account_picker, button};
use crate::console::{ConsoleError, Ctx, Reply, Request};

const PATH: &str = "/groups";

pub async fn list(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    let account = ctx.account_of(&request);
    ctx.require_account(&account)?;
    let directory = ctx.cloud.store.directory();
    if directory.account(&account).await?.is_none() {
        return Err(ConsoleError::NotFound);
    }
    let manages = ctx.manages(&account);
    let mut rows = Vec::new();
    for group in directory.groups(&account, "/").await? {
        let members = directory.users_in_group(&account, &group.name).await?;
        rows.push((group, members));
    }
    Ok(Reply::page(
        "Groups",
        html! {
            (account_picker(&ctx, PATH, &account))
            p { "Groups of account " strong #account { (account) } "." }
            table #groups {
                tr { th { "Name" } th { "Path" } th { "Members" } th { "Actions" } }
                @for (group, members) in &rows {
                    tr id={ "group-" (group.name) } {
                        td { (group.name) }
                        td { (group.path) }
                        td {
                            @for member in members {
                                div {
                                    (member)
                                    @if manages {
                                        " " (button(&ctx, PATH, "remove", &[("account", &account), ("name", &group.name), ("user", member)], "Remove"))
                                    }
                                }
                            }
                            @if manages {
                                form.inline method="post" action=(PATH) {
                                    (ctx.csrf_field())
                                    (account_field(&account))
                                    input type="hidden" name="action" value="add";
                                    input type="hidden" name="name" value=(group.name);
                                    input type="text" name="user" aria-label="user to add" required;
                                    button type="submit" { "Add member" }
                                }
                            }
                        }
                        td {
                            @if manages {
                                (button(&ctx, PATH, "delete", &[("account", &account), ("name", &group.name)], "Delete group"))
                            }
                        }
                    }
                }
            }
            @if manages {
                form #create-group method="post" action=(PATH) {
                    fieldset {
                        legend { "New group" }
                        (ctx.csrf_field())
                        (account_field(&account))
                        input type="hidden" name="action" value="create";
                        label for="name" { "Name" }
                        input type="text" id="name" name="name" required;
                        label for="path" { "Path" }
                        input type="text" id="path" name="path" value="/";
                        button type="submit" { "Create" }
                    }
                }
            }
        },
    ))
}

pub async fn act(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    let account = ctx.account_of(&request);
    ctx.require_manager(&account)?;
    let name = request.field("name")?;
    let action = request.field("action")?;
    let directory = ctx.cloud.store.directory();
    match action {
        "create" => {
            let path = request
                .form
                .get("path")
                .map(str::trim)
                .filter(|p| !p.is_empty());
            directory
                .create_group(&account, name, path.unwrap_or("/"))
                .await?;
        }
        "delete" => directory.delete_group(&account, name).await?,
        "add" => {
            directory
                .add_user_to_group(&account, name, request.field("user")?)
                .await?;
        }
        "remove" => {
            directory
                .remove_user_from_group(&account, name, request.field("user")?)
                .await?;
        }
        other => return Err(ConsoleError::BadRequest(format!("no action {other:?}"))),
    }
    tracing::info!(account, group = name, action, by = %ctx.viewer.arn(), "console: group changed");
    Ok(Reply::back(about(&ctx, PATH, &account)))
}

//! `/users`: an account's users (the viewer's own; the administrator picks any), their
//! access keys and console passwords. The administrator and the account's root user
//! create and delete users, set passwords and manage keys; a user may set their own
//! password; others look.

use maud::html;
use users::PasswordChange;

use super::{about, account_field, account_picker, button, date};
use crate::console::{ConsoleError, Ctx, Reply, Request};

const PATH: &str = "/users";

pub async fn list(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    let account = ctx.account_of(&request);
    ctx.require_account(&account)?;
    let directory = ctx.cloud.store.directory();
    if directory.account(&account).await?.is_none() {
        return Err(ConsoleError::NotFound);
    }
    let manages = ctx.manages(&account);
    let mut rows = Vec::new();
    for user in directory.users(&account, "/").await? {
        let keys = directory.keys(&account, &user.name).await?;
        let password = directory.login_profile(&account, &user.name).await?;
        rows.push((user, keys, password));
    }
    let here = about(&ctx, PATH, &account);
    Ok(Reply::page(
        "Users",
        html! {
            (account_picker(&ctx, PATH, &account))
            p { "Users of account " strong #account { (account) } "." }
            table #users {
                tr { th { "Name" } th { "Path" } th { "Created" } th { "Password" } th { "Access keys" } th { "Actions" } }
                @for (user, keys, password) in &rows {
                    tr id={ "user-" (user.name) } {
                        td { (user.name) }
                        td { (user.path) }
                        td { (date(user.created)) }
                        td {
                            @if let Some(profile) = password { "set " (date(profile.created)) } @else { "none" }
                            @if manages || ctx.viewer.name == user.name && ctx.viewer.account == account {
                                form.inline method="post" action=(PATH) {
                                    (ctx.csrf_field())
                                    (account_field(&account))
                                    input type="hidden" name="action" value="password";
                                    input type="hidden" name="name" value=(user.name);
                                    input type="password" name="password" aria-label="new password" autocomplete="new-password" required;
                                    button type="submit" { "Set password" }
                                }
                            }
                        }
                        td {
                            @for key in keys {
                                div {
                                    code { (key.access_key) }
                                    @if key.active { " active " } @else { " inactive " }
                                    @if manages {
                                        @let fields = [("account", account.as_str()), ("name", user.name.as_str()), ("key", key.access_key.as_str())];
                                        @if key.active {
                                            (button(&ctx, PATH, "deactivate-key", &fields, "Deactivate"))
                                        } @else {
                                            (button(&ctx, PATH, "activate-key", &fields, "Activate"))
                                        }
                                        (button(&ctx, PATH, "delete-key", &fields, "Delete key"))
                                    }
                                }
                            }
                            @if manages && keys.len() < users::MAX_ACCESS_KEYS {
                                (button(&ctx, PATH, "create-key", &[("account", &account), ("name", &user.name)], "New key"))
                            }
                        }
                        td {
                            @if manages && !user.is_root() {
                                (button(&ctx, PATH, "delete", &[("account", &account), ("name", &user.name)], "Delete user"))
                            }
                        }
                    }
                }
            }
            @if manages {
                form #create-user method="post" action=(PATH) {
                    fieldset {
                        legend { "New user" }
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
            p.note { a href=(here) { "Reload" } }
        },
    ))
}

pub async fn act(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    let account = ctx.account_of(&request);
    let name = request.field("name")?;
    let action = request.field("action")?;
    let own = ctx.viewer.account == account && ctx.viewer.name == name;
    if !(ctx.manages(&account) || (own && action == "password")) {
        return Err(ConsoleError::Forbidden);
    }
    let directory = ctx.cloud.store.directory();
    match action {
        "create" => {
            let path = request
                .form
                .get("path")
                .map(str::trim)
                .filter(|p| !p.is_empty());
            directory
                .create_user(&account, name, path.unwrap_or("/"))
                .await?;
        }
        "password" => {
            let password = request.form.get("password").unwrap_or_default();
            directory
                .set_password(&account, name, password, PasswordChange::Either)
                .await?;
        }
        "create-key" => {
            let key = directory.create_key(&account, name).await?;
            return Ok(Reply::page(
                "New access key",
                html! {
                    p { "The new key of " (name) " of account " (account) ". The secret is shown only now." }
                    table #new-key {
                        tr { th { "Access key" } td { code { (key.access_key) } } }
                        tr { th { "Secret key" } td { code { (key.secret_key) } } }
                    }
                    p { a href=(about(&ctx, PATH, &account)) { "Back to the users" } }
                },
            ));
        }
        "activate-key" | "deactivate-key" => {
            let active = action == "activate-key";
            directory
                .set_key_active(&account, name, request.field("key")?, active)
                .await?;
        }
        "delete-key" => {
            directory
                .delete_key(&account, name, request.field("key")?)
                .await?;
        }
        "delete" => {
            if name == users::ROOT_NAME {
                return Err(ConsoleError::BadRequest(
                    "The root user goes only with its account.".into(),
                ));
            }
            if directory.user(&account, name).await?.is_none() {
                return Err(ConsoleError::NotFound);
            }
            ctx.cloud.store.delete_user(&account, name).await?;
        }
        other => return Err(ConsoleError::BadRequest(format!("no action {other:?}"))),
    }
    tracing::info!(account, user = name, action, by = %ctx.viewer.arn(), "console: user changed");
    Ok(Reply::back(about(&ctx, PATH, &account)))
}

//! `/policies`: the policy documents of an account's users and groups; the administrator
//! and the account's root user put (the IAM grammar checks each document: a malformed one
//! is refused with the parser's reason) and delete them.

use maud::html;

use super::{about, account_field, account_picker, button};
use crate::console::{ConsoleError, Ctx, Reply, Request};

const PATH: &str = "/policies";

/// Whom a policy is attached to, as the form names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    User,
    Group,
}

impl Holder {
    fn parse(text: &str) -> Result<Self, ConsoleError> {
        match text {
            "user" => Ok(Self::User),
            "group" => Ok(Self::Group),
            other => Err(ConsoleError::BadRequest(format!(
                "a policy is attached to a user or a group, not {other:?}"
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
        }
    }
}

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
        for name in directory.user_policies(&account, &user.name).await? {
            if let Some(policy) = directory.user_policy(&account, &user.name, &name).await? {
                rows.push((Holder::User, user.name.clone(), policy));
            }
        }
    }
    for group in directory.groups(&account, "/").await? {
        for name in directory.group_policies(&account, &group.name).await? {
            if let Some(policy) = directory.group_policy(&account, &group.name, &name).await? {
                rows.push((Holder::Group, group.name.clone(), policy));
            }
        }
    }
    Ok(Reply::page(
        "Policies",
        html! {
            (account_picker(&ctx, PATH, &account))
            p { "Policies of account " strong #account { (account) } "." }
            table #policies {
                tr { th { "Holder" } th { "Name" } th { "Document" } th { "Actions" } }
                @for (holder, who, policy) in &rows {
                    tr {
                        td { (holder.name()) " " (who) }
                        td { (policy.name) }
                        td { pre { (policy.document) } }
                        td {
                            @if manages {
                                (button(&ctx, PATH, "delete", &[("account", &account), ("holder", holder.name()), ("who", who), ("name", &policy.name)], "Delete"))
                            }
                        }
                    }
                }
            }
            @if manages {
                form #put-policy method="post" action=(PATH) {
                    fieldset {
                        legend { "Attach a policy" }
                        (ctx.csrf_field())
                        (account_field(&account))
                        input type="hidden" name="action" value="put";
                        label for="holder" { "To" }
                        select id="holder" name="holder" {
                            option value="user" { "user" }
                            option value="group" { "group" }
                        }
                        input type="text" id="who" name="who" aria-label="user or group name" required;
                        label for="name" { "Policy name" }
                        input type="text" id="name" name="name" required;
                        br;
                        textarea id="document" name="document" aria-label="policy document" required {}
                        br;
                        button type="submit" { "Attach" }
                    }
                }
            }
        },
    ))
}

pub async fn act(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    let account = ctx.account_of(&request);
    ctx.require_manager(&account)?;
    let holder = Holder::parse(request.field("holder")?)?;
    let who = request.field("who")?;
    let name = request.field("name")?;
    let action = request.field("action")?;
    let directory = ctx.cloud.store.directory();
    match (action, holder) {
        ("put", Holder::User) => {
            directory
                .put_user_policy(&account, who, name, request.field("document")?)
                .await?;
        }
        ("put", Holder::Group) => {
            directory
                .put_group_policy(&account, who, name, request.field("document")?)
                .await?;
        }
        ("delete", Holder::User) => directory.delete_user_policy(&account, who, name).await?,
        ("delete", Holder::Group) => directory.delete_group_policy(&account, who, name).await?,
        (other, _) => return Err(ConsoleError::BadRequest(format!("no action {other:?}"))),
    }
    tracing::info!(account, holder = holder.name(), who, policy = name, action, by = %ctx.viewer.arn(), "console: policy changed");
    Ok(Reply::back(about(&ctx, PATH, &account)))
}

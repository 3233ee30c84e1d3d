//! `/`: what the viewer may look at, with counts.

use maud::html;

use crate::console::{ConsoleError, Ctx, Reply, Request};

pub async fn page(ctx: Ctx, _request: Request) -> Result<Reply, ConsoleError> {
    let directory = ctx.cloud.store.directory();
    let account = &ctx.viewer.account;
    let users = directory.users(account, "/").await?.len();
    let groups = directory.groups(account, "/").await?.len();
    let accounts = if ctx.is_admin() {
        Some(directory.accounts().await?.len())
    } else {
        None
    };
    Ok(Reply::page(
        "Dashboard",
        html! {
            p { "Signed in as " strong { (ctx.viewer.arn()) } "." }
            table #summary {
                @if let Some(accounts) = accounts {
                    tr { th { a href="/accounts" { "Accounts" } } td { (accounts) } }
                }
                tr { th { a href="/users" { "Users of " (account) } } td { (users) } }
                tr { th { a href="/groups" { "Groups of " (account) } } td { (groups) } }
            }
        },
    ))
}

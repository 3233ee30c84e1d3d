//! The console's pages, one module per topic; each handler is listed in `routes::ROUTES`.

mod controls;

pub mod accounts;
pub mod buckets;
pub mod capacity;
pub mod dashboard;
pub mod groups;
pub mod health;
pub mod images;
pub mod instances;
pub mod monitoring;
pub mod policies;
pub mod provisioning;
pub mod quotas;
pub mod signin;
pub mod sla;
pub mod soap;
pub mod storage;
pub mod users;

use maud::{html, Markup};

use super::Ctx;

/// A date of the directory (seconds since the epoch) as ISO 8601 UTC.
pub fn date(secs: i64) -> String {
    xmlbind::DateTime::from_unix(secs).as_str().to_owned()
}

/// A one-button form posting `fields` (and `action`) to `path`: the console's actions.
pub fn button(ctx: &Ctx, path: &str, action: &str, fields: &[(&str, &str)], label: &str) -> Markup {
    html! {
        form.inline method="post" action=(path) {
            (ctx.csrf_field())
            input type="hidden" name="action" value=(action);
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" { (label) }
        }
    }
}

/// The hidden field naming the account a form acts on (the administrator's choice; others
/// act on their own account whatever it says).
pub fn account_field(account: &str) -> Markup {
    html! { input type="hidden" name="account" value=(account); }
}

/// The path of `page` about `account`: the viewer's own account needs no parameter.
pub fn about(ctx: &Ctx, page: &str, account: &str) -> String {
    if account == ctx.viewer.account {
        page.to_owned()
    } else {
        format!("{page}?account={account}")
    }
}

/// For the administrator: a form choosing which account `page` shows.
pub fn account_picker(ctx: &Ctx, page: &str, account: &str) -> Markup {
    html! {
        @if ctx.is_admin() {
            form method="get" action=(page) {
                label for="account" { "Account" }
                input type="text" id="account" name="account" value=(account);
                button type="submit" { "Show" }
            }
        }
    }
}

/// The form creating a named IAM thing (a user, a group) at an IAM path in `account`.
pub fn create_form(ctx: &Ctx, path: &str, id: &str, legend: &str, account: &str) -> Markup {
    html! {
        form id=(id) method="post" action=(path) {
            fieldset {
                legend { (legend) }
                (ctx.csrf_field())
                (account_field(account))
                input type="hidden" name="action" value="create";
                label for="name" { "Name" }
                input type="text" id="name" name="name" required;
                label for="path" { "Path" }
                input type="text" id="path" name="path" value="/";
                button type="submit" { "Create" }
            }
        }
    }
}

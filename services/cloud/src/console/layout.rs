//! The page frame every console page is drawn in, and the ONE navigation table.

use http::StatusCode;
use maud::{html, Markup, DOCTYPE};

use super::Ctx;

/// The style sheet every page links, the console's only asset (served by the server).
pub const STYLE: &str = include_str!("assets/console.css");
pub const STYLE_PATH: &str = "/assets/console.css";

/// One entry of the navigation bar.
#[derive(Debug)]
pub struct NavItem {
    pub path: &'static str,
    pub label: &'static str,
    /// Shown to the cloud administrator only (the page refuses others as well).
    pub admin_only: bool,
}

/// The navigation bar, in order.
pub static NAV: &[NavItem] = &[
    NavItem {
        path: "/",
        label: "Dashboard",
        admin_only: false,
    },
    NavItem {
        path: "/accounts",
        label: "Accounts",
        admin_only: true,
    },
    NavItem {
        path: "/users",
        label: "Users",
        admin_only: false,
    },
    NavItem {
        path: "/groups",
        label: "Groups",
        admin_only: false,
    },
    NavItem {
        path: "/policies",
        label: "Policies",
        admin_only: false,
    },
    NavItem {
        path: "/quotas",
        label: "Quotas",
        admin_only: false,
    },
    NavItem {
        path: "/provisioning",
        label: "Provisioning",
        admin_only: true,
    },
    NavItem {
        path: "/instances",
        label: "Instances",
        admin_only: false,
    },
    NavItem {
        path: "/volumes",
        label: "Volumes",
        admin_only: false,
    },
    NavItem {
        path: "/snapshots",
        label: "Snapshots",
        admin_only: false,
    },
    NavItem {
        path: "/buckets",
        label: "Buckets",
        admin_only: false,
    },
    NavItem {
        path: "/images",
        label: "Images",
        admin_only: false,
    },
    NavItem {
        path: "/capacity",
        label: "Capacity",
        admin_only: true,
    },
    NavItem {
        path: "/health",
        label: "Health",
        admin_only: true,
    },
    NavItem {
        path: "/monitoring",
        label: "Monitoring",
        admin_only: false,
    },
    NavItem {
        path: "/sla",
        label: "SLAs",
        admin_only: true,
    },
    NavItem {
        path: "/soap",
        label: "SOAP",
        admin_only: true,
    },
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            title { (title) " — Eucalyptus console" }
            link rel="stylesheet" href=(STYLE_PATH);
        }
    }
}

/// A page for the signed-in viewer: header (who, sign-out), navigation, `body`.
pub fn page(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header {
                    strong { "Eucalyptus" }
                    span.who {
                        (ctx.viewer.name) " of account " (ctx.viewer.account)
                        @if ctx.is_admin() { " (cloud administrator)" }
                    }
                    form method="post" action="/signout" {
                        (ctx.csrf_field())
                        button type="submit" id="signout" { "Sign out" }
                    }
                }
                nav {
                    @for item in NAV.iter().filter(|i| ctx.is_admin() || !i.admin_only) {
                        a href=(item.path) class=[(item.label == title).then_some("here")] { (item.label) }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// An error page inside the frame.
pub fn error(ctx: &Ctx, status: StatusCode, message: &str) -> Markup {
    let title = status.canonical_reason().unwrap_or("Error");
    page(ctx, title, html! { p.error id="error" { (message) } })
}

/// A page without the viewer's frame: the sign-in page and answers to no one in particular.
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header { strong { "Eucalyptus" } }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

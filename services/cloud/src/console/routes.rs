//! The ONE route table of the console: every page and action, by method and path. A
//! pattern is a path, or a path ending in `/{id}`, which matches that path and one more
//! segment (the handler reads it from `Request::path`, see `Request::last_segment`).
//! `/signin`, `/signout` and the style sheet are the server's own. Admin-only pages call
//! `ctx.require_admin()?` first; every POST has passed the CSRF check.

use http::Method;

use super::pages::{
    accounts, buckets, capacity, dashboard, groups, health, images, instances, monitoring,
    policies, provisioning, quotas, sla, soap, storage, users,
};
use super::Handler;

/// Method, path pattern, handler.
pub static ROUTES: &[(Method, &str, Handler)] = &[
    (Method::GET, "/", |c, r| Box::pin(dashboard::page(c, r))),
    (Method::GET, "/accounts", |c, r| {
        Box::pin(accounts::list(c, r))
    }),
    (Method::POST, "/accounts", |c, r| {
        Box::pin(accounts::act(c, r))
    }),
    (Method::GET, "/accounts/{name}", |c, r| {
        Box::pin(accounts::show(c, r))
    }),
    (Method::GET, "/users", |c, r| Box::pin(users::list(c, r))),
    (Method::POST, "/users", |c, r| Box::pin(users::act(c, r))),
    (Method::GET, "/groups", |c, r| Box::pin(groups::list(c, r))),
    (Method::POST, "/groups", |c, r| Box::pin(groups::act(c, r))),
    (Method::GET, "/policies", |c, r| {
        Box::pin(policies::list(c, r))
    }),
    (Method::POST, "/policies", |c, r| {
        Box::pin(policies::act(c, r))
    }),
    (Method::GET, "/quotas", |c, r| Box::pin(quotas::list(c, r))),
    (Method::POST, "/quotas", |c, r| Box::pin(quotas::act(c, r))),
    (Method::GET, "/provisioning", |c, r| {
        Box::pin(provisioning::page(c, r))
    }),
    (Method::POST, "/provisioning", |c, r| {
        Box::pin(provisioning::change(c, r))
    }),
    (Method::GET, "/instances", |c, r| {
        Box::pin(instances::list(c, r))
    }),
    (Method::GET, "/instances/{id}", |c, r| {
        Box::pin(instances::show(c, r))
    }),
    (Method::POST, "/instances/{id}", |c, r| {
        Box::pin(instances::act(c, r))
    }),
    (Method::GET, "/volumes", |c, r| {
        Box::pin(storage::volumes(c, r))
    }),
    (Method::POST, "/volumes", |c, r| {
        Box::pin(storage::delete_volume(c, r))
    }),
    (Method::GET, "/snapshots", |c, r| {
        Box::pin(storage::snapshots(c, r))
    }),
    (Method::POST, "/snapshots", |c, r| {
        Box::pin(storage::delete_snapshot(c, r))
    }),
    (Method::GET, "/buckets", |c, r| {
        Box::pin(buckets::list(c, r))
    }),
    (Method::GET, "/images", |c, r| Box::pin(images::list(c, r))),
    (Method::POST, "/images", |c, r| Box::pin(images::act(c, r))),
    (Method::GET, "/capacity", |c, r| {
        Box::pin(capacity::page(c, r))
    }),
    (Method::GET, "/health", |c, r| Box::pin(health::page(c, r))),
    (Method::GET, "/monitoring", |c, r| {
        Box::pin(monitoring::list(c, r))
    }),
    (Method::GET, "/monitoring/{instance}", |c, r| {
        Box::pin(monitoring::show(c, r))
    }),
    (Method::GET, "/sla", |c, r| Box::pin(sla::list(c, r))),
    (Method::POST, "/sla", |c, r| Box::pin(sla::act(c, r))),
    (Method::GET, "/soap", |c, r| Box::pin(soap::page(c, r))),
    (Method::POST, "/soap", |c, r| Box::pin(soap::send(c, r))),
];

/// What the table holds for a request.
#[derive(Debug)]
pub enum Found {
    Handler(Handler),
    /// The path is a page, but not for this method.
    WrongMethod,
    Nothing,
}

/// Whether `path` matches `pattern`.
fn matches(pattern: &str, path: &str) -> bool {
    match pattern.rsplit_once('/') {
        Some((prefix, last)) if last.starts_with('{') && last.ends_with('}') => path
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|id| !id.is_empty() && !id.contains('/')),
        _ => pattern == path,
    }
}

/// The handler for `method` on `path`.
pub fn find(method: &Method, path: &str) -> Found {
    let mut found = Found::Nothing;
    for (m, pattern, handler) in ROUTES {
        if matches(pattern, path) {
            if m == method {
                return Found::Handler(*handler);
            }
            found = Found::WrongMethod;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_their_path_and_one_more_segment() {
        assert!(matches("/accounts", "/accounts"));
        assert!(!matches("/accounts", "/accounts/x"));
        assert!(matches("/accounts/{name}", "/accounts/dev"));
        assert!(!matches("/accounts/{name}", "/accounts/"));
        assert!(!matches("/accounts/{name}", "/accounts/a/b"));
        assert!(!matches("/accounts/{name}", "/accountsx/a"));
        assert!(matches("/instances/{id}", "/instances/i-12345678"));
    }

    #[test]
    fn the_table_answers_by_method() {
        assert!(matches!(find(&Method::GET, "/users"), Found::Handler(_)));
        assert!(matches!(
            find(&Method::DELETE, "/users"),
            Found::WrongMethod
        ));
        assert!(matches!(find(&Method::GET, "/nowhere"), Found::Nothing));
    }
}

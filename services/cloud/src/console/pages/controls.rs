//! What the operations pages share: whose things a viewer sees, the POST button every
//! action is, and EC2 requests as `ops::ask` takes them.

use maud::{html, Markup};
use wire::ec2::AmazonEc2PortTypeRequest;
use wire::ec2_query::{Ec2QueryRequest, Ec2Request};
use xmlbind::DateTime;

use crate::console::{Ctx, Form};

/// Whose things `viewer` sees: every account's for the cloud admin (`None`), else their
/// own account's.
pub(super) fn scope(viewer: &users::User) -> Option<&str> {
    (!viewer.admin).then_some(viewer.account.as_str())
}

/// A form that POSTs `fields` (with the CSRF token) to `path` with one button.
pub(super) fn action(ctx: &Ctx, path: &str, label: &str, fields: &[(&str, &str)]) -> Markup {
    html! {
        form.action method="post" action=(path) {
            (ctx.csrf_field())
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" { (label) }
        }
    }
}

/// An EC2 request without filters.
pub(super) fn ec2(request: AmazonEc2PortTypeRequest) -> Ec2QueryRequest {
    Ec2QueryRequest::plain(Ec2Request::Ec2(request))
}

/// Seconds since the epoch as EC2 writes times.
pub(super) fn time(seconds: i64) -> String {
    DateTime::from_unix(seconds).as_str().to_owned()
}

/// The query's field `name` when given and not empty.
pub(super) fn optional(form: &Form, name: &str) -> Option<String> {
    form.get(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A POST of `pairs` as a handler gets it, for the pages' tests.
#[cfg(test)]
pub(super) fn post(pairs: &[(&str, &str)]) -> crate::console::Request {
    let form: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
    crate::console::Request {
        method: http::Method::POST,
        path: String::new(),
        query: Form::parse(""),
        form: Form::parse(&form.join("&")),
    }
}

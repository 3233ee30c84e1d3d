//! What the operations pages share: whose things a viewer sees, EC2 requests as
//! `ops::ask` takes them, and the query's optional fields.

use wire::ec2::AmazonEc2PortTypeRequest;
use wire::ec2_query::{Ec2QueryRequest, Ec2Request};

use crate::console::Form;

/// Whose things `viewer` sees: every account's for the cloud admin (`None`), else their
/// own account's.
pub(super) fn scope(viewer: &users::User) -> Option<&str> {
    (!viewer.admin).then_some(viewer.account.as_str())
}

/// An EC2 request without filters.
pub(super) fn ec2(request: AmazonEc2PortTypeRequest) -> Ec2QueryRequest {
    Ec2QueryRequest::plain(Ec2Request::Ec2(request))
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

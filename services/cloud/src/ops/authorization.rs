//! IAM policies at the CLC: before any EC2 operation runs, a user who is neither the cloud
//! administrator nor an account's root user needs an Allow, and no explicit Deny, for
//! `ec2:<Operation>` in its own and its groups' policies. EC2 of 2009 has no resource-level
//! permissions, so the resource is `*`; which account's resources a user reaches is the
//! store's owner filter's business, as before. CloudWatch checks `cloudwatch:<Action>` the
//! same way ([`allows`]).

use std::net::IpAddr;

use policy::{Context, Request};
use tracing::{debug, warn};

use crate::error::Ec2Error;
use crate::store::{StoreError, User};

use super::Cloud;

/// Refuses `operation` (`RunInstances`) unless `user`'s policies allow `ec2:<operation>`
/// ([`allows`]) to a request from `source` (none over SOAP, whose transport does not say; a
/// condition on `aws:SourceIp` then does not hold).
pub(super) async fn authorize(
    cloud: &Cloud,
    user: &User,
    operation: &str,
    source: Option<IpAddr>,
) -> Result<(), Ec2Error> {
    let action = format!("ec2:{operation}");
    if allows(cloud, user, &action, source).await? {
        Ok(())
    } else {
        Err(Ec2Error::UnauthorizedOperation(action))
    }
}

/// Whether `user` may take `action` (`ec2:RunInstances`, `cloudwatch:ListMetrics`) on any
/// resource in a request from `source`: always for the cloud administrator and an
/// account's root user, else when its own and its groups' policies allow it; a refusal is
/// logged.
pub(crate) async fn allows(
    cloud: &Cloud,
    user: &User,
    action: &str,
    source: Option<IpAddr>,
) -> Result<bool, StoreError> {
    if !users::evaluated(user) {
        return Ok(true);
    }
    let policies = cloud.store.directory().policies_of(user).await?;
    let context = Context::of_request(&user.name, &user.id, source, kit::time::now());
    let request = Request {
        action,
        resource: "*",
        context: &context,
    };
    let decision = users::decide(&policies, &request);
    if decision.allowed() {
        debug!(%action, %decision, "allowed");
        return Ok(true);
    }
    warn!(
        user = %user.name,
        account = %user.account,
        %action,
        %decision,
        "request denied by policy"
    );
    Ok(false)
}

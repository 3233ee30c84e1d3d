//! The EC2 operations the cloud answers by itself, by family: keypairs, security groups,
//! regions and zones, and the account's facts. Each takes the authenticated user and the
//! request's parameters and returns the answer's XML.

mod account;
mod groups;
mod keypairs;
mod reply;
mod zones;

use std::sync::{Arc, OnceLock};

use crate::error::Ec2Error;
use crate::params::Params;
use crate::store::{Store, User};

use xmlbind::ToXml;

/// What the operations work with.
#[derive(Debug)]
pub struct Cloud {
    pub store: Arc<dyn Store>,
    /// The region this cloud is, and its EC2 URL (DescribeRegions), known once the
    /// listener is bound.
    pub region: String,
    pub ec2_url: OnceLock<String>,
    /// Signs the requests to the clusters (the cloud's key) and checks their replies.
    pub clusters: soap::Security,
}

/// Answers `action` for `user`: the answer's XML document.
pub async fn dispatch(
    cloud: &Cloud,
    user: &User,
    action: &str,
    params: &Params,
    request_id: &str,
) -> Result<String, Ec2Error> {
    let call = Call {
        cloud,
        user,
        params,
        request_id,
    };
    let version = params.get("Version");
    let doc = |response: &dyn ToXml| reply::document(action, version, response);
    Ok(match action {
        "CreateKeyPair" => doc(&keypairs::create(&call).await?),
        "DeleteKeyPair" => doc(&keypairs::delete(&call).await?),
        "DescribeKeyPairs" => doc(&keypairs::describe(&call).await?),
        "CreateSecurityGroup" => doc(&groups::create(&call).await?),
        "DeleteSecurityGroup" => doc(&groups::delete(&call).await?),
        "DescribeSecurityGroups" => doc(&groups::describe(&call).await?),
        "AuthorizeSecurityGroupIngress" => doc(&groups::authorize(&call).await?),
        "RevokeSecurityGroupIngress" => doc(&groups::revoke(&call).await?),
        "DescribeRegions" => doc(&zones::regions(&call)),
        "DescribeAvailabilityZones" => doc(&zones::zones(&call).await?),
        "DescribeAccountAttributes" => doc(&account::attributes(&call)),
        "DescribeReservedInstances" => doc(&account::reserved_instances(&call)),
        "DescribeReservedInstancesOfferings" => doc(&account::reserved_offerings(&call)),
        other => return Err(Ec2Error::InvalidAction(other.to_owned())),
    })
}

/// One request: who asks, and with what.
#[derive(Debug)]
struct Call<'a> {
    cloud: &'a Cloud,
    user: &'a User,
    params: &'a Params,
    request_id: &'a str,
}

impl Call<'_> {
    fn required(&self, name: &str) -> Result<&str, Ec2Error> {
        self.params
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Ec2Error::MissingParameter(name.to_owned()))
    }

    /// The values of `prefix.1`, `prefix.2`, ... in the order of their numbers.
    fn list(&self, prefix: &str) -> Vec<&str> {
        let mut numbered: Vec<(u32, &str)> = self
            .params
            .iter()
            .filter_map(|(name, value)| {
                let n = name.strip_prefix(prefix)?.strip_prefix('.')?.parse().ok()?;
                Some((n, value.as_str()))
            })
            .collect();
        numbered.sort_by_key(|(n, _)| *n);
        numbered.into_iter().map(|(_, v)| v).collect()
    }

    /// Whose things a Describe call lists: the user's own; an administrator's `verbose`
    /// (the first name asked for, as euca2ools sends it) lists everyone's.
    fn owner_filter(&self, names: &[&str]) -> Option<&str> {
        let verbose = self.user.admin && names.first() == Some(&"verbose");
        (!verbose).then_some(self.user.name.as_str())
    }
}

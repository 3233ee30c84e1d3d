//! The EC2 operations the cloud answers by itself, by family: keypairs, security groups,
//! images, instances (through the clusters), regions and zones, and the account's facts. Each takes the authenticated user and the
//! request's parameters and returns the answer's XML. The [`tick`] keeps what the clusters
//! report in the store and in [`Zones`].

mod account;
mod clusters;
mod filters;
mod groups;
mod ids;
mod images;
mod instances;
mod keypairs;
mod reply;
pub mod tick;
mod zones;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

pub use clusters::{Capacity, Zone, Zones};

use crate::error::Ec2Error;
use crate::params::Params;
use crate::store::{Store, User};

use wire::ec2::AmazonEc2PortTypeRequest as R;
use wire::ec2_additions::AmazonEc2AdditionsPortTypeRequest as Additions;
use wire::ec2_query::Ec2Request;
use wire::query::QueryParams;
use xmlbind::ToXml;

/// RunInstances' idempotency token (EC2 API 2010-11-15 and later).
const CLIENT_TOKEN: &str = "ClientToken";

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
    /// Walrus's URL (`--walrus`), where RegisterImage checks a manifest; `None`: unchecked.
    pub walrus: Option<String>,
    /// Each cluster's capacity, as the tick last polled it.
    pub zones: Zones,
    /// The reservations whose RunInstances waits for a cluster now (the tick leaves their
    /// instances alone).
    pub launching: Mutex<HashSet<String>>,
}

/// Answers `action` for `user`: the answer's XML document. The parameters are read by the
/// generated Query binding into the action's request type.
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
        request_id,
    };
    let version = params.get("Version");
    let doc = |response: &dyn ToXml| reply::document(action, version, response);
    // Current clients send RunInstances an idempotency token, which 2009-04-04 did not know:
    // it is taken out before the binding reads the request, and honoured.
    let client_token = (action == "RunInstances")
        .then(|| params.get(CLIENT_TOKEN))
        .flatten();
    let query = QueryParams::new(
        params
            .iter()
            .filter(|(name, _)| !(action == "RunInstances" && name == CLIENT_TOKEN))
            .cloned(),
    )?;
    let parsed = wire::ec2_query::parse(action, query)?;
    let filters = &parsed.filters;
    Ok(match parsed.request {
        Ec2Request::Ec2(request) => match request {
            R::CreateKeyPair(r) => doc(&keypairs::create(&call, r).await?),
            R::DeleteKeyPair(r) => doc(&keypairs::delete(&call, r).await?),
            R::DescribeKeyPairs(r) => doc(&keypairs::describe(&call, r, filters).await?),
            R::CreateSecurityGroup(r) => doc(&groups::create(&call, r).await?),
            R::DeleteSecurityGroup(r) => doc(&groups::delete(&call, r).await?),
            R::DescribeSecurityGroups(r) => doc(&groups::describe(&call, r, filters).await?),
            R::AuthorizeSecurityGroupIngress(r) => doc(&groups::authorize(&call, r).await?),
            R::RevokeSecurityGroupIngress(r) => doc(&groups::revoke(&call, r).await?),
            R::RunInstances(r) => doc(&instances::run(&call, r, client_token).await?),
            R::DescribeInstances(r) => doc(&instances::describe(&call, r, filters).await?),
            R::TerminateInstances(r) => doc(&instances::terminate(&call, r).await?),
            R::RebootInstances(r) => doc(&instances::reboot(&call, r).await?),
            R::GetConsoleOutput(r) => doc(&instances::console(&call, r).await?),
            R::RegisterImage(r) => doc(&images::register(&call, r).await?),
            R::DeregisterImage(r) => doc(&images::deregister(&call, r).await?),
            R::DescribeImages(r) => doc(&images::describe(&call, r, filters).await?),
            R::DescribeRegions(r) => doc(&zones::regions(&call, &r, filters)?),
            R::DescribeAvailabilityZones(r) => doc(&zones::zones(&call, &r, filters).await?),
            R::DescribeReservedInstances(_) => doc(&account::reserved_instances(&call)),
            R::DescribeReservedInstancesOfferings(_) => doc(&account::reserved_offerings(&call)),
            // Addresses and volumes: their operations come later.
            _ => return Err(Ec2Error::Unsupported(action.to_owned())),
        },
        Ec2Request::Additions(Additions::DescribeAccountAttributes(r)) => {
            doc(&account::attributes(&call, &r))
        }
    })
}

/// One request: who asks, and what to answer it with.
#[derive(Debug)]
struct Call<'a> {
    cloud: &'a Cloud,
    user: &'a User,
    request_id: &'a str,
}

impl Call<'_> {
    /// Whose things a Describe call lists: the user's own; an administrator's `verbose`
    /// (the first name asked for, as euca2ools sends it) lists everyone's.
    fn owner_filter(&self, names: &[&str]) -> Option<&str> {
        let verbose = self.user.admin && names.first() == Some(&"verbose");
        (!verbose).then_some(self.user.name.as_str())
    }
}

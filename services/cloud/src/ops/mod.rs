//! The EC2 operations the cloud answers by itself, by family: keypairs, security groups,
//! images and their attributes, instances and elastic addresses (through the clusters),
//! EBS volumes and snapshots (through the storage controller and the clusters), regions
//! and zones, and the account's facts. [`answer`] answers a typed request for the
//! authenticated user, whichever front door read it (Query: [`dispatch`]; SOAP:
//! `crate::ec2_soap`), with the typed response. The [`tick`] keeps what the clusters report
//! in the store and in [`Zones`].

mod account;
mod addresses;
mod authorization;
pub mod clusters;
mod events;
mod filters;
mod groups;
mod ids;
mod images;
mod instances;
mod keypairs;
mod owners;
mod pools;
mod products;
mod quota;
mod reply;
mod snapshots;
mod storage;
pub mod tick;
mod volumes;
mod zones;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

pub use clusters::{Capacity, Zone, Zones};
pub use quota::QuotaTurns;
pub use storage::StorageController;

pub use ids::request_id;

use crate::error::Ec2Error;
use crate::params::Params;
use crate::store::{Snapshot, Store, User, Volume};

use soap::Reply;
use users::events::{EventLog, Who};
use wire::ec2::AmazonEc2PortTypeRequest as R;
use wire::ec2_additions::AmazonEc2AdditionsPortTypeRequest as Additions;
use wire::ec2_query::{Ec2QueryRequest, Ec2Request};
use wire::query::QueryParams;
use xmlbind::ToXml;

/// RunInstances' and CreateVolume's idempotency token (EC2 API 2010-11-15 and later), one
/// of their later parameters.
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
    /// The storage controller's URL (`--storage`), asked as the clusters are; `None`: the
    /// cloud has no volumes.
    pub storage: Option<StorageController>,
    /// Each cluster's capacity, as the tick last polled it.
    pub zones: Zones,
    /// The reservations whose RunInstances waits for a cluster now (the tick leaves their
    /// instances alone).
    pub launching: Mutex<HashSet<String>>,
    /// Taken by a RunInstances or CreateVolume with a ClientToken from its token lookup to
    /// its record, so that a concurrent retry finds the first one's reservation (or volume)
    /// instead of making another.
    pub client_tokens: tokio::sync::Mutex<()>,
    /// Taken by a request that adds to what quotas limit, from its check to its record
    /// (after `client_tokens`, when it takes both).
    pub quota_turns: QuotaTurns,
    /// The volumes and snapshots an EBS request is changing now (the tick leaves them
    /// alone).
    pub ebs: Mutex<HashSet<String>>,
    /// Where requests and billed changes are recorded.
    pub events: EventLog,
    /// The cloud's DATA folder, which holds the users' credentials.
    pub data: std::path::PathBuf,
}

/// Answers a Query request's `action` for `user` from address `source`: the answer's XML
/// document, in the namespace of the `Version` it names. The parameters are read by the
/// generated Query binding into the action's request type, which [`answer`] answers.
pub async fn dispatch(
    cloud: &Cloud,
    user: &User,
    source: Option<IpAddr>,
    action: &str,
    params: &Params,
    request_id: &str,
) -> Result<String, Ec2Error> {
    let query = QueryParams::new(params.iter().cloned())?;
    let parsed = wire::ec2_query::parse(action, query)?;
    let reply = answer(cloud, user, source, parsed, request_id).await?;
    Ok(reply::document(params.get("Version"), &reply))
}

/// Answers a request of either EC2 portType for `user` (from `source`, where the transport
/// says), however it arrived (Query or SOAP): the response element of its operation, in
/// 2009-04-04's namespace, once the user's policies allow it. Its filters are the request's
/// `Filter.N`, and its later parameters RunInstances' `ClientToken` (none over SOAP, whose
/// 2009-04-04 API had neither).
pub async fn answer(
    cloud: &Cloud,
    user: &User,
    source: Option<IpAddr>,
    parsed: Ec2QueryRequest,
    request_id: &str,
) -> Result<Reply, Ec2Error> {
    let Ec2QueryRequest {
        request,
        filters,
        later,
    } = parsed;
    let filters = &filters[..];
    let client_token = later.get(CLIENT_TOKEN).map(String::as_str);
    let call = Call {
        cloud,
        user,
        who: events::who(Some(user), source),
        request_id,
    };
    let operation = request.operation();
    authorization::authorize(cloud, user, operation.name, source).await?;
    let body = match request {
        Ec2Request::Ec2(request) => match request {
            R::CreateKeyPair(r) => doc(keypairs::create(&call, r).await?),
            R::DeleteKeyPair(r) => doc(keypairs::delete(&call, r).await?),
            R::DescribeKeyPairs(r) => doc(keypairs::describe(&call, r, filters).await?),
            R::CreateSecurityGroup(r) => doc(groups::create(&call, r).await?),
            R::DeleteSecurityGroup(r) => doc(groups::delete(&call, r).await?),
            R::DescribeSecurityGroups(r) => doc(groups::describe(&call, r, filters).await?),
            R::AuthorizeSecurityGroupIngress(r) => doc(groups::authorize(&call, r).await?),
            R::RevokeSecurityGroupIngress(r) => doc(groups::revoke(&call, r).await?),
            R::RunInstances(r) => doc(instances::run(&call, r, client_token).await?),
            R::DescribeInstances(r) => doc(instances::describe(&call, r, filters).await?),
            R::TerminateInstances(r) => doc(instances::terminate(&call, r).await?),
            R::RebootInstances(r) => doc(instances::reboot(&call, r).await?),
            R::GetConsoleOutput(r) => doc(instances::console(&call, r).await?),
            R::RegisterImage(r) => doc(images::register(&call, r).await?),
            R::DeregisterImage(r) => doc(images::deregister(&call, r).await?),
            R::DescribeImages(r) => doc(images::describe(&call, r, filters).await?),
            R::DescribeImageAttribute(r) => doc(images::describe_attribute(&call, r).await?),
            R::ModifyImageAttribute(r) => doc(images::modify_attribute(&call, r).await?),
            R::ResetImageAttribute(r) => doc(images::reset_attribute(&call, r).await?),
            R::ConfirmProductInstance(r) => doc(products::confirm(&call, r).await?),
            R::DescribeBundleTasks(r) => doc(images::bundle_tasks(&call, &r)),
            R::AllocateAddress(r) => doc(addresses::allocate(&call, r).await?),
            R::ReleaseAddress(r) => doc(addresses::release(&call, r).await?),
            R::AssociateAddress(r) => doc(addresses::associate(&call, r).await?),
            R::DisassociateAddress(r) => doc(addresses::disassociate(&call, r).await?),
            R::DescribeAddresses(r) => doc(addresses::describe(&call, r, filters).await?),
            R::DescribeRegions(r) => doc(zones::regions(&call, &r, filters)?),
            R::DescribeAvailabilityZones(r) => doc(zones::zones(&call, &r, filters).await?),
            R::DescribeReservedInstances(_) => doc(account::reserved_instances(&call)),
            R::DescribeReservedInstancesOfferings(_) => doc(account::reserved_offerings(&call)),
            R::CreateVolume(r) => doc(volumes::create(&call, r, client_token).await?),
            R::DeleteVolume(r) => doc(volumes::delete(&call, r).await?),
            R::DescribeVolumes(r) => doc(volumes::describe(&call, r, filters).await?),
            R::AttachVolume(r) => doc(volumes::attach(&call, r).await?),
            R::DetachVolume(r) => doc(volumes::detach(&call, r).await?),
            R::CreateSnapshot(r) => doc(snapshots::create(&call, r).await?),
            R::DeleteSnapshot(r) => doc(snapshots::delete(&call, r).await?),
            R::DescribeSnapshots(r) => doc(snapshots::describe(&call, r, filters).await?),
        },
        Ec2Request::Additions(Additions::DescribeAccountAttributes(r)) => {
            doc(account::attributes(&call, &r))
        }
    };
    Ok(Reply {
        namespace: operation.response.0,
        local: operation.response.1,
        body,
    })
}

/// An operation's typed response, for the [`Reply`] that carries it.
fn doc(response: impl ToXml + Send + Sync + 'static) -> Box<dyn ToXml + Send + Sync> {
    Box::new(response)
}

/// `user`, if it is enabled: the requests of a disabled user, of a user of a disabled
/// account and those signed with an inactive key are refused, however they are signed.
pub fn enabled(user: User) -> Result<User, Ec2Error> {
    if user.enabled {
        Ok(user)
    } else {
        Err(Ec2Error::AuthFailure(format!(
            "{} (account {}) or its key is disabled",
            user.arn(),
            user.account
        )))
    }
}

/// Of `items`, those whose `id` `asked` names (every one when it names none); the first
/// name no item has is the error `missing` makes of it.
fn named<T>(
    items: Vec<T>,
    asked: &[&str],
    id: impl Fn(&T) -> &str,
    missing: impl FnOnce(String) -> Ec2Error,
) -> Result<Vec<T>, Ec2Error> {
    if let Some(name) = asked.iter().find(|n| !items.iter().any(|i| id(i) == **n)) {
        return Err(missing((*name).to_owned()));
    }
    Ok(items
        .into_iter()
        .filter(|i| asked.is_empty() || asked.contains(&id(i)))
        .collect())
}

/// One request: who asks, and what to answer it with.
#[derive(Debug)]
struct Call<'a> {
    cloud: &'a Cloud,
    user: &'a User,
    /// Who asks, as events record them.
    who: Who,
    request_id: &'a str,
}

impl Call<'_> {
    /// Whose things a Describe call lists: the user's account's; an administrator's
    /// `verbose` (the first name asked for, as euca2ools sends it) lists every account's.
    fn owner_filter(&self, names: &[&str]) -> Option<&str> {
        let verbose = self.user.admin && names.first() == Some(&"verbose");
        (!verbose).then_some(self.user.account.as_str())
    }

    /// Whose things a request naming them may touch: the user's account's; the
    /// administrator's, any account's.
    fn toucher(&self) -> Option<&str> {
        (!self.user.admin).then_some(self.user.account.as_str())
    }

    /// The volume `id`, if the caller may touch it.
    async fn volume(&self, id: &str) -> Result<Volume, Ec2Error> {
        let volumes = self.cloud.store.volumes(self.toucher()).await?;
        volumes
            .into_iter()
            .find(|v| v.id == id)
            .ok_or_else(|| Ec2Error::VolumeNotFound(id.to_owned()))
    }

    /// Marks the volume or snapshot `id` as moved by this request until the mark drops;
    /// one another request (or the tick) is moving now is refused.
    fn claim(&self, id: &str) -> Result<InFlight<'_>, Ec2Error> {
        InFlight::claim(&self.cloud.ebs, id).ok_or_else(|| {
            Ec2Error::IncorrectState(format!("'{id}' is being changed by another request"))
        })
    }

    /// The snapshot `id`, if the caller may touch it.
    async fn snapshot(&self, id: &str) -> Result<Snapshot, Ec2Error> {
        let snapshots = self.cloud.store.snapshots(self.toucher()).await?;
        snapshots
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| Ec2Error::SnapshotNotFound(id.to_owned()))
    }
}

/// Marks a key in one of the cloud's sets of work in flight (a reservation waiting for its
/// cluster, a volume or snapshot an EBS request is moving) for as long as it lives, so that
/// a tick meanwhile leaves what it names alone.
#[derive(Debug)]
pub(super) struct InFlight<'a> {
    set: &'a Mutex<HashSet<String>>,
    key: String,
}

impl<'a> InFlight<'a> {
    /// Marks `key` unless it is marked already (another request, or the tick, is moving
    /// what it names): `None` then.
    pub(super) fn claim(set: &'a Mutex<HashSet<String>>, key: &str) -> Option<Self> {
        let fresh = set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned());
        fresh.then(|| Self {
            set,
            key: key.to_owned(),
        })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

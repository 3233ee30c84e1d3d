//! The EucalyptusCC operations: wire messages in, answers out. Failures are answers with
//! `return` false and a `statusMessage`, as the original gave them, never faults. Operations
//! on one instance go to the node holding it; network operations go to the network seam.

use std::future::Future;
use std::sync::Arc;

use soap::{ClientError, Fault, RequestContext};
use tracing::warn;
use wire::cc::*;
use wire::nc::{
    NcAttachVolumeType, NcDetachVolumeType, NcGetConsoleOutputType, NcRebootInstanceType,
    NcTerminateInstanceType,
};

use crate::error::ClusterError;
use crate::instances::{Instances, StoreError};
use crate::launch::{vm_size, Launch};
use crate::network::{Network, NO_ADDRESS};
use crate::nodes::{NcClient, NodeAnswer, NodePool, CALL_DEADLINE};
use crate::poller::Poller;
use crate::reply::answer;
use crate::scheduler::Health;

/// Callers who see every instance: `eucalyptus`, the identity the cloud controller polls
/// with (the original CC's superuser), and `admin`, the cloud's administrator.
const ADMINISTRATORS: [&str; 2] = ["eucalyptus", "admin"];

/// The EucalyptusCC service of one cluster.
#[derive(Debug, Clone)]
pub struct CcService {
    nodes: Arc<NodePool>,
    instances: Arc<Instances>,
    network: Network,
    poller: Poller,
}

impl CcService {
    pub fn new(
        nodes: Arc<NodePool>,
        instances: Arc<Instances>,
        network: Network,
        poller: Poller,
    ) -> Self {
        Self {
            nodes,
            instances,
            network,
            poller,
        }
    }

    /// Follows the instances just placed on each of their nodes, in the background, so that
    /// their leaving Pending is in the cache at once.
    fn follow(&self, placed: &[CcInstanceType]) {
        let mut by_node: Vec<(usize, Vec<String>)> = Vec::new();
        for record in placed {
            let index = record
                .service_tag
                .as_deref()
                .and_then(|url| self.nodes.index_of(url));
            let (Some(index), Some(id)) = (index, record.instance_id.clone()) else {
                continue;
            };
            match by_node.iter_mut().find(|(i, _)| *i == index) {
                Some((_, ids)) => ids.push(id),
                None => by_node.push((index, vec![id])),
            }
        }
        for (index, ids) in by_node {
            let poller = self.poller.clone();
            tokio::spawn(async move { poller.follow(index, ids).await });
        }
    }

    /// The nodes to ask about `instance_id`: the one holding it, else every node that is up.
    fn route(&self, instance_id: &str) -> Vec<usize> {
        let holder = self
            .instances
            .get(instance_id)
            .and_then(|r| r.service_tag)
            .and_then(|url| self.nodes.index_of(&url));
        match holder {
            Some(index) => vec![index],
            None => (0..self.nodes.len())
                .filter(|&i| self.nodes.health(i) == Health::Up)
                .collect(),
        }
    }

    /// Calls the node holding `instance_id` (or, for an instance the cache does not know, each
    /// node up until one succeeds); returns the answering node's index and its answer.
    async fn on_instance<T, F, Fut>(
        &self,
        instance_id: &str,
        call: F,
    ) -> Result<(usize, T), ClusterError>
    where
        T: NodeAnswer,
        F: Fn(NcClient) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let route = self.route(instance_id);
        let mut last = None;
        for &index in &route {
            match self.nodes.call(index, CALL_DEADLINE, &call).await {
                Ok(answer) => return Ok((index, answer)),
                Err(e) => last = Some(e),
            }
        }
        match (route.len(), last) {
            (1, Some(e)) => Err(e.into()),
            _ => Err(ClusterError::UnknownInstance(instance_id.to_owned())),
        }
    }

    /// Records `public_ip` as the public address of the instances whose network `select`
    /// picks.
    async fn set_public_ip(
        &self,
        select: impl Fn(&NetConfigType) -> bool,
        public_ip: &str,
    ) -> Result<(), StoreError> {
        self.instances
            .update(
                |r| r.net_params.as_ref().is_some_and(&select),
                |r| {
                    if let Some(n) = r.net_params.as_mut() {
                        n.public_ip = public_ip.to_owned();
                    }
                },
            )
            .await
    }

    /// Terminates `instance_id` on its node and gives back its network lease; returns the
    /// node's index, or `None` when no node terminated it.
    async fn terminate(
        &self,
        instance_id: &str,
        request: &TerminateInstancesType,
    ) -> Option<usize> {
        let call = NcTerminateInstanceType {
            correlation_id: request.correlation_id.clone(),
            user_id: request.user_id.clone(),
            instance_id: instance_id.to_owned(),
            ..NcTerminateInstanceType::default()
        };
        let terminated = self
            .on_instance(instance_id, |client| {
                let call = call.clone();
                async move { client.nc_terminate_instance(&call).await }
            })
            .await;
        match terminated {
            Ok((index, _)) => {
                self.network.release(instance_id).await;
                if let Err(e) = self.instances.remove(instance_id).await {
                    warn!(instance = instance_id, error = %e, "cannot forget a terminated instance");
                }
                Some(index)
            }
            Err(e) => {
                warn!(instance = instance_id, error = %e, "terminate failed");
                None
            }
        }
    }
}

/// `Ok(())` when `errors` is empty, else the errors as one.
fn all_done(mut errors: Vec<ClusterError>) -> Result<(), ClusterError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(ClusterError::Several(errors)),
    }
}

/// `value` when present and not empty, else an error naming `field`.
fn required<'a>(field: &'static str, value: Option<&'a String>) -> Result<&'a str, ClusterError> {
    value
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ClusterError::invalid(field, "missing"))
}

impl EucalyptusCc for CcService {
    async fn run_instances(
        &self,
        request: RunInstancesType,
        _context: RequestContext,
    ) -> Result<RunInstancesResponseType, Fault> {
        // Carried to its end even when the cloud goes away meanwhile (its connection
        // dropped): resources held and nodes asked are settled, never left half-way.
        let (nodes, network, instances) = (
            Arc::clone(&self.nodes),
            self.network.clone(),
            Arc::clone(&self.instances),
        );
        let (request, placed) = kit::detached(async move {
            let placed = match Launch::check(&request, &instances) {
                Ok(launch) => launch.place(&nodes, &network, &instances).await,
                Err(e) => Err(e),
            };
            (request, placed)
        })
        .await;
        let (instances, outcome) = match placed {
            Ok(instances) => {
                self.follow(&instances);
                (instances, Ok(()))
            }
            Err(e) => (Vec::new(), Err(e)),
        };
        Ok(answer!(RunInstancesResponseType, request, outcome, instances: instances))
    }

    async fn describe_instances(
        &self,
        request: DescribeInstancesType,
        _context: RequestContext,
    ) -> Result<DescribeInstancesResponseType, Fault> {
        let caller = request.user_id.as_deref().unwrap_or_default();
        let everyone = ADMINISTRATORS.contains(&caller);
        let wanted: Vec<&String> = request
            .instance_ids
            .iter()
            .filter(|i| !i.is_empty())
            .collect();
        let instances = self.instances.select(|r| {
            let id = r.instance_id.as_ref();
            (wanted.is_empty() || id.is_some_and(|id| wanted.contains(&id)))
                && (everyone || r.owner_id.as_deref() == Some(caller))
        });
        Ok(answer!(
            DescribeInstancesResponseType,
            request,
            Ok::<(), ClusterError>(()),
            instances: instances
        ))
    }

    async fn describe_resources(
        &self,
        request: DescribeResourcesType,
        _context: RequestContext,
    ) -> Result<DescribeResourcesResponseType, Fault> {
        let counted = request
            .instance_types
            .iter()
            .map(|vm| {
                let (max, available) = self.nodes.capacity(&vm_size(Some(vm))?);
                let clamp = |n: i64| Some(i32::try_from(n).unwrap_or(i32::MAX));
                Ok(CcResourceType {
                    instance_type: Some(vm.clone()),
                    max_instances: clamp(max),
                    available_instances: clamp(available),
                })
            })
            .collect::<Result<Vec<_>, ClusterError>>();
        let (resources, service_tags, outcome) = match counted {
            Ok(resources) => (resources, self.nodes.urls(), Ok(())),
            Err(e) => (Vec::new(), Vec::new(), Err(e)),
        };
        Ok(answer!(
            DescribeResourcesResponseType,
            request,
            outcome,
            resources: resources,
            service_tags: service_tags
        ))
    }

    async fn terminate_instances(
        &self,
        request: TerminateInstancesType,
        _context: RequestContext,
    ) -> Result<TerminateInstancesResponseType, Fault> {
        let mut is_terminated = Vec::new();
        let mut touched = Vec::new();
        for id in &request.instance_ids {
            let node = self.terminate(id, &request).await;
            is_terminated.push(node.is_some());
            touched.extend(node.filter(|n| !touched.contains(n)));
        }
        // As the original did: fresh resources once the instances are gone, so that their
        // capacity is offered again at once.
        for index in touched {
            self.poller.poll(index).await;
        }
        Ok(answer!(
            TerminateInstancesResponseType,
            request,
            Ok::<(), ClusterError>(()),
            is_terminated: is_terminated
        ))
    }

    async fn reboot_instances(
        &self,
        request: RebootInstancesType,
        _context: RequestContext,
    ) -> Result<RebootInstancesResponseType, Fault> {
        let mut errors = Vec::new();
        for id in &request.instance_ids {
            let call = NcRebootInstanceType {
                correlation_id: request.correlation_id.clone(),
                user_id: request.user_id.clone(),
                instance_id: id.clone(),
                ..NcRebootInstanceType::default()
            };
            let rebooted = self
                .on_instance(id, |client| {
                    let call = call.clone();
                    async move { client.nc_reboot_instance(&call).await }
                })
                .await;
            errors.extend(rebooted.err());
        }
        Ok(answer!(
            RebootInstancesResponseType,
            request,
            all_done(errors)
        ))
    }

    async fn get_console_output(
        &self,
        request: GetConsoleOutputType,
        _context: RequestContext,
    ) -> Result<GetConsoleOutputResponseType, Fault> {
        let output = async {
            let id = required("instanceId", request.instance_id.as_ref())?;
            let call = NcGetConsoleOutputType {
                correlation_id: request.correlation_id.clone(),
                user_id: request.user_id.clone(),
                instance_id: id.to_owned(),
                ..NcGetConsoleOutputType::default()
            };
            let (_, answer) = self
                .on_instance(id, |client| {
                    let call = call.clone();
                    async move { client.nc_get_console_output(&call).await }
                })
                .await?;
            Ok::<_, ClusterError>(answer.console_output)
        };
        let (console_output, outcome) = match output.await {
            Ok(text) => (Some(text), Ok(())),
            Err(e) => (None, Err(e)),
        };
        Ok(answer!(
            GetConsoleOutputResponseType,
            request,
            outcome,
            console_output: console_output
        ))
    }

    async fn attach_volume(
        &self,
        request: AttachVolumeType,
        _context: RequestContext,
    ) -> Result<AttachVolumeResponseType, Fault> {
        let attach = async {
            let id = required("instanceId", request.instance_id.as_ref())?;
            let call = NcAttachVolumeType {
                correlation_id: request.correlation_id.clone(),
                user_id: request.user_id.clone(),
                instance_id: Some(id.to_owned()),
                volume_id: Some(required("volumeId", request.volume_id.as_ref())?.to_owned()),
                remote_dev: Some(required("remoteDev", request.remote_dev.as_ref())?.to_owned()),
                local_dev: Some(required("localDev", request.local_dev.as_ref())?.to_owned()),
                ..NcAttachVolumeType::default()
            };
            self.on_instance(id, |client| {
                let call = call.clone();
                async move { client.nc_attach_volume(&call).await }
            })
            .await
            .map(drop)
        };
        Ok(answer!(AttachVolumeResponseType, request, attach.await))
    }

    async fn detach_volume(
        &self,
        request: DetachVolumeType,
        _context: RequestContext,
    ) -> Result<DetachVolumeResponseType, Fault> {
        let detach = async {
            let id = required("instanceId", request.instance_id.as_ref())?;
            let call = NcDetachVolumeType {
                correlation_id: request.correlation_id.clone(),
                user_id: request.user_id.clone(),
                instance_id: Some(id.to_owned()),
                volume_id: Some(required("volumeId", request.volume_id.as_ref())?.to_owned()),
                remote_dev: Some(required("remoteDev", request.remote_dev.as_ref())?.to_owned()),
                local_dev: Some(required("localDev", request.local_dev.as_ref())?.to_owned()),
                force: request.force,
                ..NcDetachVolumeType::default()
            };
            self.on_instance(id, |client| {
                let call = call.clone();
                async move { client.nc_detach_volume(&call).await }
            })
            .await
            .map(drop)
        };
        Ok(answer!(DetachVolumeResponseType, request, detach.await))
    }

    async fn start_network(
        &self,
        request: StartNetworkType,
        _context: RequestContext,
    ) -> Result<StartNetworkResponseType, Fault> {
        Ok(self.network.call(move |n| n.start_network(&request)).await)
    }

    async fn stop_network(
        &self,
        request: StopNetworkType,
        _context: RequestContext,
    ) -> Result<StopNetworkResponseType, Fault> {
        Ok(self.network.call(move |n| n.stop_network(&request)).await)
    }

    async fn configure_network(
        &self,
        request: ConfigureNetworkType,
        _context: RequestContext,
    ) -> Result<ConfigureNetworkResponseType, Fault> {
        Ok(self
            .network
            .call(move |n| n.configure_network(&request))
            .await)
    }

    async fn assign_address(
        &self,
        request: AssignAddressType,
        _context: RequestContext,
    ) -> Result<AssignAddressResponseType, Fault> {
        let mut reply = {
            let request = request.clone();
            self.network.call(move |n| n.assign_address(&request)).await
        };
        if reply.r#return == Some(true) {
            // The instance at the private address now has the public one.
            let (public, private) = (&request.source, &request.dest);
            let noted = self
                .set_public_ip(|n| n.private_ip == *private, public)
                .await;
            note_failure(&mut reply.r#return, &mut reply.status_message, noted);
        }
        Ok(reply)
    }

    async fn unassign_address(
        &self,
        request: UnassignAddressType,
        _context: RequestContext,
    ) -> Result<UnassignAddressResponseType, Fault> {
        let mut reply = {
            let request = request.clone();
            self.network
                .call(move |n| n.unassign_address(&request))
                .await
        };
        if reply.r#return == Some(true) {
            let public = &request.source;
            let noted = self
                .set_public_ip(|n| n.public_ip == *public, NO_ADDRESS)
                .await;
            note_failure(&mut reply.r#return, &mut reply.status_message, noted);
        }
        Ok(reply)
    }

    async fn describe_networks(
        &self,
        request: DescribeNetworksType,
        _context: RequestContext,
    ) -> Result<DescribeNetworksResponseType, Fault> {
        Ok(self
            .network
            .call(move |n| n.describe_networks(&request))
            .await)
    }

    async fn describe_public_addresses(
        &self,
        request: DescribePublicAddressesType,
        _context: RequestContext,
    ) -> Result<DescribePublicAddressesResponseType, Fault> {
        Ok(self
            .network
            .call(move |n| n.describe_public_addresses(&request))
            .await)
    }
}

/// Turns a successful answer into a failed one when the cache could not record its effect.
fn note_failure(
    r#return: &mut Option<bool>,
    status_message: &mut Option<String>,
    noted: Result<(), StoreError>,
) {
    if let Err(e) = noted {
        *r#return = Some(false);
        *status_message = Some(e.to_string());
    }
}

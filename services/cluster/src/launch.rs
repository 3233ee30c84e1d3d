//! RunInstances: the request checked, then each instance given its network lease and placed
//! on a node, a failed placement retried on another node.

use tracing::{info, warn};
use wire::cc::{CcInstanceType, NetConfigType, RunInstancesType};
use wire::nc::{NcRunInstanceType, VirtualMachineType as NcVm};
use xmlbind::DateTime;

use crate::error::ClusterError;
use crate::instances::Instances;
use vnet::Lease;

use crate::network::{instance_mac, Network};
use crate::nodes::{NodePool, CALL_DEADLINE};
use crate::scheduler::Resources;

/// A RunInstances request that passed its checks.
#[derive(Debug)]
pub struct Launch<'a> {
    request: &'a RunInstancesType,
    size: Resources,
    /// The ids to place, `maxCount` of them.
    ids: &'a [String],
}

impl<'a> Launch<'a> {
    /// Checks counts, ids, images and the VM size, as the original did and more: ids must be
    /// distinct instance ids unknown to the cluster.
    pub fn check(request: &'a RunInstancesType, known: &Instances) -> Result<Self, ClusterError> {
        let size = vm_size(request.instance_type.as_ref())?;
        let (min, max) = (request.min_count, request.max_count);
        if min < 1 || max < min {
            return Err(ClusterError::invalid(
                "minCount/maxCount",
                format!("{min}/{max}: need 1 <= minCount <= maxCount"),
            ));
        }
        let ids = usize::try_from(max)
            .ok()
            .and_then(|max| request.instance_ids.get(..max))
            .ok_or_else(|| {
                ClusterError::invalid(
                    "instanceIds",
                    format!("{} given for maxCount {max}", request.instance_ids.len()),
                )
            })?;
        for (i, id) in ids.iter().enumerate() {
            if instance_mac(id).is_err() {
                return Err(ClusterError::invalid(
                    "instanceIds",
                    format!("{id:?} is not i- and 8 hex digits"),
                ));
            }
            if ids[..i].contains(id) || known.contains(id) {
                return Err(ClusterError::invalid(
                    "instanceIds",
                    format!("{id} already exists"),
                ));
            }
        }
        for (field, value) in [
            ("reservationId", Some(&request.reservation_id)),
            ("imageId", request.image_id.as_ref()),
            ("imageURL", request.image_url.as_ref()),
            ("kernelId", request.kernel_id.as_ref()),
            ("kernelURL", request.kernel_url.as_ref()),
        ] {
            if value.is_none_or(|v| v.is_empty()) {
                return Err(ClusterError::invalid(field, "missing"));
            }
        }
        Ok(Self { request, size, ids })
    }

    /// Gives each instance its network lease and places it on a node; returns those placed, in
    /// order. Stops at the first instance that cannot be placed: the next ones, of the same
    /// size, would not fit either.
    pub async fn place(
        &self,
        nodes: &NodePool,
        network: &Network,
        instances: &Instances,
    ) -> Result<Vec<CcInstanceType>, ClusterError> {
        let mut placed = Vec::new();
        for (index, id) in self.ids.iter().enumerate() {
            match self.lease_and_place(nodes, network, id, index).await {
                Ok(record) => {
                    // The instance runs whatever the disk says: the cache in memory has it, and
                    // the next change a poll sees is written with it.
                    if let Err(e) = instances.add(record.clone()).await {
                        warn!(instance = %id, error = %e, "cannot store a placed instance");
                    }
                    placed.push(record);
                }
                Err(e) if placed.is_empty() => return Err(e),
                Err(e) => {
                    warn!(instance = %id, error = %e, placed = placed.len(), "placed fewer instances than asked");
                    break;
                }
            }
        }
        Ok(placed)
    }

    /// Leases the network parameters of the `index`th instance, `id`, and places it; a lease
    /// whose instance found no node is given back.
    async fn lease_and_place(
        &self,
        nodes: &NodePool,
        network: &Network,
        id: &str,
        index: usize,
    ) -> Result<CcInstanceType, ClusterError> {
        let request = self.request;
        // The cloud's MAC for this instance, when it sent one for each.
        let mac = if request.mac_addresses.len() >= self.ids.len() {
            request.mac_addresses[index].clone()
        } else {
            String::new()
        };
        let requested = NetConfigType {
            private_mac_address: mac.clone(),
            public_mac_address: mac,
            vlan: request.vlan,
            ..NetConfigType::default()
        };
        let lease = network
            .lease(
                id,
                request.user_id.as_deref().unwrap_or_default(),
                &requested,
                &request.net_names,
                request.network_index_list.get(index).copied(),
            )
            .await?;
        let placed = self.place_one(nodes, id, index, &lease).await;
        if placed.is_err() {
            network.release(id).await;
        }
        placed
    }

    /// Runs instance `id` on the node the scheduler picks, then on the next one if that node
    /// fails, until one takes it or none has room.
    async fn place_one(
        &self,
        nodes: &NodePool,
        id: &str,
        index: usize,
        lease: &Lease,
    ) -> Result<CcInstanceType, ClusterError> {
        let run = self.node_request(id, lease);
        let mut tried = Vec::new();
        let mut last_error = None;
        while let Some(placement) = nodes.place(&self.size, &tried) {
            let answer = nodes
                .call(placement.index, CALL_DEADLINE, |client| {
                    let run = &run;
                    async move { client.nc_run_instance(run).await }
                })
                .await;
            let failure = match answer {
                Ok(_) => {
                    nodes.accepted(&placement);
                    info!(instance = id, node = %placement.url, "instance placed");
                    return Ok(self.record(id, index, lease, &placement.url));
                }
                Err(e) => ClusterError::from(e),
            };
            warn!(instance = id, error = %failure, "placement failed; trying another node");
            nodes.cancel(&placement);
            tried.push(placement.index);
            last_error = Some(failure);
        }
        Err(last_error.unwrap_or(ClusterError::NoRoom {
            memory_mb: self.size.memory_mb,
            cores: self.size.cores,
            disk_gb: self.size.disk_gb,
        }))
    }

    fn node_request(&self, id: &str, lease: &Lease) -> NcRunInstanceType {
        let r = self.request;
        let vm = r.instance_type.as_ref();
        NcRunInstanceType {
            correlation_id: r.correlation_id.clone(),
            user_id: r.user_id.clone(),
            image_id: r.image_id.clone().unwrap_or_default(),
            kernel_id: r.kernel_id.clone().unwrap_or_default(),
            ramdisk_id: r.ramdisk_id.clone().filter(|d| !d.is_empty()),
            image_url: r.image_url.clone().unwrap_or_default(),
            kernel_url: r.kernel_url.clone().unwrap_or_default(),
            ramdisk_url: r.ramdisk_url.clone().filter(|d| !d.is_empty()),
            instance_id: id.to_owned(),
            instance_type: NcVm {
                memory: vm.and_then(|v| v.memory),
                cores: vm.and_then(|v| v.cores),
                disk: vm.and_then(|v| v.disk),
            },
            key_name: r.key_name.clone().unwrap_or_default(),
            public_mac_address: lease.mac.clone(),
            private_mac_address: lease.mac.clone(),
            reservation_id: r.reservation_id.clone(),
            vlan: lease.vlan,
            user_data: Some(r.user_data.clone()),
            launch_index: Some(r.launch_index.clone()),
            group_names: r.net_names.clone(),
            ..NcRunInstanceType::default()
        }
    }

    /// The cluster's record of a placed instance: Pending on the node at `node_url`.
    fn record(&self, id: &str, index: usize, lease: &Lease, node_url: &str) -> CcInstanceType {
        let r = self.request;
        CcInstanceType {
            image_id: r.image_id.clone(),
            kernel_id: r.kernel_id.clone(),
            ramdisk_id: r.ramdisk_id.clone(),
            instance_id: Some(id.to_owned()),
            instance_type: r.instance_type.clone(),
            key_name: r.key_name.clone(),
            launch_time: Some(DateTime::now()),
            state_name: Some("Pending".to_owned()),
            net_params: Some(NetConfigType {
                private_mac_address: lease.mac.clone(),
                public_mac_address: lease.mac.clone(),
                vlan: lease.vlan,
                private_ip: lease.private_ip.clone(),
                public_ip: lease.public_ip.clone(),
            }),
            owner_id: r.user_id.clone(),
            reservation_id: Some(r.reservation_id.clone()),
            service_tag: Some(node_url.to_owned()),
            user_data: Some(r.user_data.clone()),
            launch_index: Some(r.launch_index.clone()),
            network_index: r.network_index_list.get(index).copied(),
            group_names: r.net_names.clone(),
            volumes: Vec::new(),
        }
    }
}

/// The size of a VM type, each part at least 1 (the original refused others).
pub fn vm_size(vm: Option<&wire::cc::VirtualMachineType>) -> Result<Resources, ClusterError> {
    let vm = vm.ok_or_else(|| ClusterError::invalid("instanceType", "missing"))?;
    match (vm.memory, vm.disk, vm.cores) {
        (Some(m), Some(d), Some(c)) if m > 0 && d > 0 && c > 0 => Ok(Resources {
            memory_mb: m.into(),
            disk_gb: d.into(),
            cores: c.into(),
        }),
        _ => Err(ClusterError::invalid(
            "instanceType",
            format!(
                "{}: memory, disk and cores must each be at least 1",
                vm.name.as_deref().unwrap_or("unnamed type")
            ),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request() -> RunInstancesType {
        RunInstancesType {
            image_id: Some("emi-1".into()),
            image_url: Some("http://w/image".into()),
            kernel_id: Some("eki-1".into()),
            kernel_url: Some("http://w/kernel".into()),
            instance_type: Some(wire::cc::VirtualMachineType {
                name: Some("m1.small".into()),
                memory: Some(128),
                cores: Some(1),
                disk: Some(2),
            }),
            min_count: 1,
            max_count: 2,
            reservation_id: "r-1".into(),
            instance_ids: vec!["i-00000001".into(), "i-00000002".into()],
            ..RunInstancesType::default()
        }
    }

    #[test]
    fn counts_ids_images_and_sizes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let known = Instances::open(&dir.path().join("i.sqlite")).unwrap();
        let valid = request();
        let launch = Launch::check(&valid, &known).unwrap();
        assert_eq!(launch.ids.len(), 2);
        let refused = |edit: &dyn Fn(&mut RunInstancesType), field: &str| {
            let mut r = request();
            edit(&mut r);
            let err = Launch::check(&r, &known).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        };
        refused(&|r| r.min_count = 0, "minCount");
        refused(&|r| r.min_count = 3, "minCount");
        refused(&|r| r.max_count = 3, "instanceIds");
        refused(
            &|r| r.instance_ids[1] = "i-00000001".into(),
            "already exists",
        );
        refused(&|r| r.instance_ids[0] = "i-xyz".into(), "8 hex digits");
        refused(&|r| r.image_url = None, "imageURL");
        refused(
            &|r| r.instance_type.as_mut().unwrap().disk = Some(0),
            "at least 1",
        );
        refused(&|r| r.instance_type = None, "instanceType");
    }
}

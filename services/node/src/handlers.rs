//! The EucalyptusNC operations, and EucalyptusNCSensors' beside them: wire messages in, the
//! node controller's answers out, errors turned into faults at this one boundary.

use std::sync::Arc;

use soap::{Fault, RequestContext};
use tracing::{info, warn};
use wire::nc::{
    EucalyptusNc, NcAttachVolumeResponseType, NcAttachVolumeType, NcDescribeInstancesResponseType,
    NcDescribeInstancesType, NcDescribeResourceResponseType, NcDescribeResourceType,
    NcDetachVolumeResponseType, NcDetachVolumeType, NcGetConsoleOutputResponseType,
    NcGetConsoleOutputType, NcPowerDownResponseType, NcPowerDownType, NcRebootInstanceResponseType,
    NcRebootInstanceType, NcRunInstanceResponseType, NcRunInstanceType, NcStartNetworkResponseType,
    NcStartNetworkType, NcTerminateInstanceResponseType, NcTerminateInstanceType,
};
use wire::nc_sensors::{EucalyptusNcSensors, NcDescribeSensorsResponseType, NcDescribeSensorsType};

use crate::console;
use crate::controller::{unix_now, NodeController};
use crate::error::NodeError;
use crate::instances::{clamp_i32, ImageRef, InstanceRecord, NetParams, State, VmSize, Volume};

/// An IP address the node does not know yet (the original's placeholder).
const NO_ADDRESS: &str = "0.0.0.0";
/// Highest 802.1q VLAN id.
const MAX_VLAN: i32 = 4095;

/// The EucalyptusNC service of one node.
#[derive(Debug, Clone)]
pub struct NcService {
    node: Arc<NodeController>,
}

impl NcService {
    pub fn new(node: Arc<NodeController>) -> Self {
        Self { node }
    }
}

impl EucalyptusNc for NcService {
    async fn nc_run_instance(
        &self,
        request: NcRunInstanceType,
        _context: RequestContext,
    ) -> Result<NcRunInstanceResponseType, Fault> {
        let (correlation_id, user_id) = (request.correlation_id.clone(), request.user_id.clone());
        let record = launch_record(request).map_err(|e| e.to_fault())?;
        let record = self.node.run(record).await.map_err(|e| e.to_fault())?;
        Ok(NcRunInstanceResponseType {
            correlation_id,
            user_id,
            r#return: Some(true),
            status_message: None,
            instance: Some(record.to_wire()),
        })
    }

    async fn nc_terminate_instance(
        &self,
        request: NcTerminateInstanceType,
        _context: RequestContext,
    ) -> Result<NcTerminateInstanceResponseType, Fault> {
        let (previous, now) = self
            .node
            .terminate(&request.instance_id)
            .await
            .map_err(|e| e.to_fault())?;
        Ok(NcTerminateInstanceResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            status_message: None,
            instance_id: request.instance_id,
            // Codes, not names, as the original sent them.
            shutdown_state: Some(now.code().to_string()),
            previous_state: Some(previous.code().to_string()),
        })
    }

    async fn nc_reboot_instance(
        &self,
        request: NcRebootInstanceType,
        _context: RequestContext,
    ) -> Result<NcRebootInstanceResponseType, Fault> {
        self.node
            .reboot(&request.instance_id)
            .map_err(|e| e.to_fault())?;
        Ok(NcRebootInstanceResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            status_message: None,
            status: true,
        })
    }

    async fn nc_describe_instances(
        &self,
        request: NcDescribeInstancesType,
        _context: RequestContext,
    ) -> Result<NcDescribeInstancesResponseType, Fault> {
        let user = request.user_id.as_deref().filter(|u| !u.is_empty());
        let records = self.node.describe(&request.instance_ids, user).await;
        Ok(NcDescribeInstancesResponseType {
            correlation_id: request.correlation_id.clone(),
            user_id: request.user_id.clone(),
            r#return: Some(true),
            status_message: None,
            instances: records.iter().map(InstanceRecord::to_wire).collect(),
        })
    }

    async fn nc_describe_resource(
        &self,
        request: NcDescribeResourceType,
        _context: RequestContext,
    ) -> Result<NcDescribeResourceResponseType, Fault> {
        let (total, free) = self.node.resources();
        Ok(NcDescribeResourceResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            status_message: None,
            node_status: "OK".to_owned(),
            memory_size_max: clamp_i32(total.memory_mb),
            memory_size_available: clamp_i32(free.memory_mb),
            disk_size_max: clamp_i32(total.disk_gb),
            disk_size_available: clamp_i32(free.disk_gb),
            number_of_cores_max: clamp_i32(total.cores),
            number_of_cores_available: clamp_i32(free.cores),
            public_subnets: "none".to_owned(),
        })
    }

    async fn nc_get_console_output(
        &self,
        request: NcGetConsoleOutputType,
        _context: RequestContext,
    ) -> Result<NcGetConsoleOutputResponseType, Fault> {
        let output = self
            .node
            .console(&request.instance_id)
            .await
            .map_err(|e| e.to_fault())?;
        Ok(NcGetConsoleOutputResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            status_message: None,
            console_output: console::encode(&output),
        })
    }

    async fn nc_attach_volume(
        &self,
        request: NcAttachVolumeType,
        _context: RequestContext,
    ) -> Result<NcAttachVolumeResponseType, Fault> {
        let attach = async {
            let instance_id = required("instanceId", request.instance_id.as_deref())?;
            let volume = Volume {
                volume_id: required("volumeId", request.volume_id.as_deref())?.to_owned(),
                remote_dev: required("remoteDev", request.remote_dev.as_deref())?.to_owned(),
                local_dev: required("localDev", request.local_dev.as_deref())?.to_owned(),
            };
            self.node.attach(instance_id, volume).await
        };
        attach.await.map_err(|e| e.to_fault())?;
        Ok(NcAttachVolumeResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            status_message: None,
        })
    }

    async fn nc_detach_volume(
        &self,
        request: NcDetachVolumeType,
        _context: RequestContext,
    ) -> Result<NcDetachVolumeResponseType, Fault> {
        let detach = async {
            let instance_id = required("instanceId", request.instance_id.as_deref())?;
            let volume_id = required("volumeId", request.volume_id.as_deref())?;
            self.node
                .detach(instance_id, volume_id, request.force.unwrap_or(false))
                .await
        };
        detach.await.map_err(|e| e.to_fault())?;
        Ok(NcDetachVolumeResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            status_message: None,
        })
    }

    async fn nc_start_network(
        &self,
        request: NcStartNetworkType,
        _context: RequestContext,
    ) -> Result<NcStartNetworkResponseType, Fault> {
        if let Some(vlan) = request.vlan.filter(|v| !(0..=MAX_VLAN).contains(v)) {
            return Err(NodeError::Invalid {
                field: "vlan",
                reason: format!("{vlan} is not a VLAN id (0 to {MAX_VLAN})"),
            }
            .to_fault());
        }
        // The VLAN bridges of MANAGED mode are the cluster's network model's to set up.
        info!(vlan = ?request.vlan, peers = ?request.remote_hosts, port = ?request.remote_host_port, "network start acknowledged");
        Ok(NcStartNetworkResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            status_message: Some(0),
            network_status: Some("SUCCESS".to_owned()),
        })
    }

    async fn nc_power_down(
        &self,
        request: NcPowerDownType,
        _context: RequestContext,
    ) -> Result<NcPowerDownResponseType, Fault> {
        // The original ran powernap and answered OK whatever came of it; this node does not
        // switch its host off.
        warn!("power-down requested by the cluster; this node stays up");
        Ok(NcPowerDownResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            status_message: Some(0),
        })
    }
}

/// The record of a launch as requested: Pending, launched now.
fn launch_record(request: NcRunInstanceType) -> Result<InstanceRecord, NodeError> {
    let size = |field, value: Option<i32>| -> Result<u64, NodeError> {
        value
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| NodeError::Invalid {
                field,
                reason: match value {
                    Some(v) => format!("{v} is not a size"),
                    None => "missing".to_owned(),
                },
            })
    };
    let vm = &request.instance_type;
    let size = VmSize {
        memory_mb: size("instanceType.memory", vm.memory)?,
        cores: size("instanceType.cores", vm.cores)?,
        disk_gb: size("instanceType.disk", vm.disk)?,
    };
    let ramdisk = match request.ramdisk_id.filter(|id| !id.is_empty()) {
        Some(id) => Some(ImageRef {
            id,
            url: required("ramdiskURL", request.ramdisk_url.as_deref())?.to_owned(),
        }),
        None => None,
    };
    Ok(InstanceRecord {
        instance_id: request.instance_id,
        reservation_id: request.reservation_id,
        user_id: request.user_id.unwrap_or_default(),
        image: ImageRef {
            id: request.image_id,
            url: request.image_url,
        },
        kernel: ImageRef {
            id: request.kernel_id,
            url: request.kernel_url,
        },
        ramdisk,
        key_name: request.key_name,
        size,
        net: NetParams {
            private_mac: request.private_mac_address,
            public_mac: request.public_mac_address,
            vlan: request.vlan,
            private_ip: NO_ADDRESS.to_owned(),
            public_ip: NO_ADDRESS.to_owned(),
        },
        user_data: request.user_data,
        launch_index: request.launch_index,
        group_names: request.group_names,
        volumes: Vec::new(),
        state: State::Booting,
        launch_time: unix_now(),
        termination_time: None,
        failure: None,
    })
}

fn required<'a>(field: &'static str, value: Option<&'a str>) -> Result<&'a str, NodeError> {
    value.filter(|v| !v.is_empty()).ok_or(NodeError::Invalid {
        field,
        reason: "missing".to_owned(),
    })
}

/// The EucalyptusNCSensors service of one node.
#[derive(Debug, Clone)]
pub struct SensorsService {
    node: Arc<NodeController>,
}

impl SensorsService {
    pub fn new(node: Arc<NodeController>) -> Self {
        Self { node }
    }
}

impl EucalyptusNcSensors for SensorsService {
    async fn nc_describe_sensors(
        &self,
        request: NcDescribeSensorsType,
        _context: RequestContext,
    ) -> Result<NcDescribeSensorsResponseType, Fault> {
        let history = usize::try_from(request.history_size.unwrap_or(0)).unwrap_or(0);
        Ok(NcDescribeSensorsResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            status_message: None,
            r#return: Some(true),
            sensors_resources: self
                .node
                .sensors()
                .resources(&request.instance_ids, history),
        })
    }
}

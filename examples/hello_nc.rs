//! A toy node controller: the generated `EucalyptusNC` dispatcher serving an in-memory handler,
//! with WS-Security as a real node has it (replies signed with the node key, requests accepted
//! only when signed by the cluster key). See `examples/README.md` for how to call it.
//!
//! ```sh
//! cargo run --example hello_nc               # listens on 127.0.0.1:8775
//! cargo run --example hello_nc -- 0.0.0.0:9000
//! ```

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use kit::security::Compat;
use soap::keys;
use soap::{Fault, RequestContext, Security, Server, ServerError};
use wire::nc::*;
use xmlbind::{Base64Binary, DateTime, XmlText};

/// Where a node serves `EucalyptusNC` (CONTRACT.md).
pub const NC_PATH: &str = "/axis2/services/EucalyptusNC";

/// A node with fixed resources and instances that exist only in memory.
#[derive(Debug, Default)]
pub struct ToyNode {
    instances: Mutex<BTreeMap<String, InstanceType>>,
}

const MEMORY_MB: i32 = 4096;
const DISK_GB: i32 = 100;
const CORES: i32 = 4;

impl ToyNode {
    fn instances(&self) -> MutexGuard<'_, BTreeMap<String, InstanceType>> {
        // The map stays consistent whatever panicked while holding it.
        self.instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Resources left after `instances` took theirs: memory, disk, cores.
fn available(instances: &BTreeMap<String, InstanceType>) -> (i32, i32, i32) {
    instances
        .values()
        .fold((MEMORY_MB, DISK_GB, CORES), |(m, d, c), i| {
            let vm = &i.instance_type;
            (
                m - vm.memory.unwrap_or(0),
                d - vm.disk.unwrap_or(0),
                c - vm.cores.unwrap_or(0),
            )
        })
}

fn not_in_this_example(operation: &str) -> Fault {
    Fault::server(format!(
        "{operation} is not implemented by the hello_nc example"
    ))
}

impl EucalyptusNc for ToyNode {
    async fn nc_run_instance(
        &self,
        request: NcRunInstanceType,
        _context: RequestContext,
    ) -> Result<NcRunInstanceResponseType, Fault> {
        let mut instances = self.instances();
        if instances.contains_key(&request.instance_id) {
            return Err(Fault::client(format!(
                "instance {} already exists",
                request.instance_id
            )));
        }
        let (memory, disk, cores) = available(&instances);
        let vm = &request.instance_type;
        if vm.memory.unwrap_or(0) > memory
            || vm.disk.unwrap_or(0) > disk
            || vm.cores.unwrap_or(0) > cores
        {
            return Err(Fault::server("not enough resources on this node"));
        }
        let instance = InstanceType {
            reservation_id: request.reservation_id.clone(),
            instance_id: request.instance_id.clone(),
            image_id: request.image_id.clone(),
            kernel_id: request.kernel_id.clone(),
            ramdisk_id: request.ramdisk_id.clone(),
            user_id: request.user_id.clone().unwrap_or_default(),
            key_name: request.key_name.clone(),
            instance_type: request.instance_type.clone(),
            net_params: Some(NetConfigType {
                private_mac_address: request.private_mac_address.clone(),
                public_mac_address: request.public_mac_address.clone(),
                vlan: request.vlan,
                private_ip: "0.0.0.0".into(),
                public_ip: "0.0.0.0".into(),
            }),
            state_name: "Extant".into(),
            launch_time: Some(DateTime::now()),
            user_data: request.user_data.clone(),
            launch_index: request.launch_index.clone(),
            group_names: request.group_names.clone(),
            ..InstanceType::default()
        };
        instances.insert(instance.instance_id.clone(), instance.clone());
        Ok(NcRunInstanceResponseType {
            // Every Eucalyptus reply echoes these from its request.
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            instance: Some(instance),
            ..Default::default()
        })
    }

    async fn nc_terminate_instance(
        &self,
        request: NcTerminateInstanceType,
        _context: RequestContext,
    ) -> Result<NcTerminateInstanceResponseType, Fault> {
        let Some(previous) = self.instances().remove(&request.instance_id) else {
            return Err(Fault::client(format!(
                "no instance {}",
                request.instance_id
            )));
        };
        Ok(NcTerminateInstanceResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            instance_id: previous.instance_id,
            shutdown_state: Some("Teardown".into()),
            previous_state: Some(previous.state_name),
            ..Default::default()
        })
    }

    async fn nc_reboot_instance(
        &self,
        _request: NcRebootInstanceType,
        _context: RequestContext,
    ) -> Result<NcRebootInstanceResponseType, Fault> {
        Err(not_in_this_example("ncRebootInstance"))
    }

    async fn nc_describe_instances(
        &self,
        request: NcDescribeInstancesType,
        _context: RequestContext,
    ) -> Result<NcDescribeInstancesResponseType, Fault> {
        let wanted =
            |id: &String| request.instance_ids.is_empty() || request.instance_ids.contains(id);
        let instances = self
            .instances()
            .values()
            .filter(|i| wanted(&i.instance_id))
            .cloned()
            .collect();
        Ok(NcDescribeInstancesResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            instances,
            ..Default::default()
        })
    }

    async fn nc_describe_resource(
        &self,
        request: NcDescribeResourceType,
        _context: RequestContext,
    ) -> Result<NcDescribeResourceResponseType, Fault> {
        let (memory, disk, cores) = available(&self.instances());
        Ok(NcDescribeResourceResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            node_status: "enabled".into(),
            memory_size_max: MEMORY_MB,
            memory_size_available: memory,
            disk_size_max: DISK_GB,
            disk_size_available: disk,
            number_of_cores_max: CORES,
            number_of_cores_available: cores,
            public_subnets: "none".into(),
            ..Default::default()
        })
    }

    async fn nc_get_console_output(
        &self,
        request: NcGetConsoleOutputType,
        _context: RequestContext,
    ) -> Result<NcGetConsoleOutputResponseType, Fault> {
        if !self.instances().contains_key(&request.instance_id) {
            return Err(Fault::client(format!(
                "no instance {}",
                request.instance_id
            )));
        }
        // The node sends the console log base64-encoded.
        let log = format!("hello from {}\n", request.instance_id);
        Ok(NcGetConsoleOutputResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            r#return: Some(true),
            console_output: Base64Binary(log.into_bytes()).to_text().into_owned(),
            ..Default::default()
        })
    }

    async fn nc_attach_volume(
        &self,
        _request: NcAttachVolumeType,
        _context: RequestContext,
    ) -> Result<NcAttachVolumeResponseType, Fault> {
        Err(not_in_this_example("ncAttachVolume"))
    }

    async fn nc_detach_volume(
        &self,
        _request: NcDetachVolumeType,
        _context: RequestContext,
    ) -> Result<NcDetachVolumeResponseType, Fault> {
        Err(not_in_this_example("ncDetachVolume"))
    }

    async fn nc_start_network(
        &self,
        _request: NcStartNetworkType,
        _context: RequestContext,
    ) -> Result<NcStartNetworkResponseType, Fault> {
        Err(not_in_this_example("ncStartNetwork"))
    }

    async fn nc_power_down(
        &self,
        _request: NcPowerDownType,
        _context: RequestContext,
    ) -> Result<NcPowerDownResponseType, Fault> {
        Err(not_in_this_example("ncPowerDown"))
    }
}

/// The node's security, as `euca node` has it by default: replies signed with the node key;
/// requests must be signed by the cluster key, over the Body and a Timestamp.
pub fn node_security(keys_dir: &Path) -> Result<Security, Box<dyn Error>> {
    Ok(kit::security::load(keys_dir, "node", &["cluster"], Compat::Strict, None)?.security)
}

/// Binds a fresh toy node at `addr`.
pub async fn bind_node(addr: &str, security: Security) -> Result<Server, ServerError> {
    Server::builder()
        .mount(
            NC_PATH,
            EucalyptusNcServer::new(ToyNode::default()),
            security,
        )
        .bind(addr)
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    kit::init_tracing();
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8775".to_owned());

    // Throw-away keys: the cloud's three pairs, as `euca keys init` makes them.
    let keys_dir = tempfile::Builder::new()
        .prefix("hello-nc-keys-")
        .tempdir()?;
    keys::init(keys_dir.path())?;
    let server = bind_node(&addr, node_security(keys_dir.path())?).await?;

    let url = format!("http://{}{NC_PATH}", server.local_addr());
    println!("hello_nc: EucalyptusNC at {url}");
    println!("  WSDL:   curl '{url}?wsdl'");
    println!(
        "  call:   cargo run --example hello_nc_client -- {} {url}",
        keys_dir.path().display()
    );
    println!(
        "  keys:   {} (removed on exit; Ctrl-C stops the node)",
        keys_dir.path().display()
    );
    server.run(kit::termination()).await;
    Ok(())
}

//! Calls the `hello_nc` example as a cluster controller would: with the generated
//! `EucalyptusNcClient` over `soap::HttpTransport`, requests signed with the cluster key and
//! replies accepted only when signed by the node key.
//!
//! ```sh
//! cargo run --example hello_nc_client -- KEYS_DIR [URL]
//! ```
//! KEYS_DIR is the folder `hello_nc` printed; URL defaults to
//! `http://127.0.0.1:8775/axis2/services/EucalyptusNC`.

use std::error::Error;
use std::path::PathBuf;

use kit::security::Compat;
use soap::HttpTransport;
use wire::nc::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let keys_dir = PathBuf::from(args.next().ok_or("usage: hello_nc_client KEYS_DIR [URL]")?);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8775/axis2/services/EucalyptusNC".to_owned());

    let security =
        kit::security::load(&keys_dir, "cluster", &["node"], Compat::Strict, None)?.security;
    let nc = EucalyptusNcClient::new(HttpTransport::builder(url, security).build()?);

    let run = NcRunInstanceType {
        correlation_id: Some("hello-1".into()),
        user_id: Some("admin".into()),
        instance_id: "i-12345678".into(),
        reservation_id: "r-12345678".into(),
        image_id: "emi-12345678".into(),
        kernel_id: "eki-12345678".into(),
        instance_type: VirtualMachineType {
            memory: Some(512),
            cores: Some(1),
            disk: Some(10),
        },
        ..NcRunInstanceType::default()
    };
    let started = nc.nc_run_instance(&run).await?;
    let instance = started
        .instance
        .ok_or("the node answered without an instance")?;
    println!(
        "ncRunInstance: {} is {}",
        instance.instance_id, instance.state_name
    );

    let resource = nc
        .nc_describe_resource(&NcDescribeResourceType::default())
        .await?;
    println!(
        "ncDescribeResource: {}/{} MB, {}/{} cores available",
        resource.memory_size_available,
        resource.memory_size_max,
        resource.number_of_cores_available,
        resource.number_of_cores_max
    );

    let terminate = NcTerminateInstanceType {
        instance_id: instance.instance_id,
        ..NcTerminateInstanceType::default()
    };
    let stopped = nc.nc_terminate_instance(&terminate).await?;
    println!(
        "ncTerminateInstance: {} is {}",
        stopped.instance_id,
        stopped.shutdown_state.unwrap_or_default()
    );

    // Operations the toy does not implement answer with a SOAP fault.
    match nc.nc_power_down(&NcPowerDownType::default()).await {
        Err(soap::ClientError::Fault(fault)) => println!("ncPowerDown: fault {fault}"),
        other => println!("ncPowerDown: {other:?}"),
    }
    Ok(())
}

//! Acceptance 4: requests built by zeep from the ORIGINAL WSDLs reach our handlers intact.
//!
//! `tests/py/zeep_bodies.py` has zeep load the original NC and CC WSDLs and build the request
//! envelope of every operation with realistic arguments (`client.create_message`, nothing is
//! sent). Each Body's first element goes through the generated dispatcher
//! (`EucalyptusNcServer`, `EucalyptusCcServer`) to a handler that records the typed request;
//! the test then checks that the typed request holds exactly the values zeep was given.

mod common;

use std::any::Any;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use soap::{RequestContext, Service};
use xmlbind::{Document, Element, Limits, ToXml, XmlWriter};

const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// One typed request as a handler received it.
struct Received {
    operation: &'static str,
    /// The request written back out, to compare field by field with zeep's arguments.
    xml: String,
    typed: Box<dyn Any + Send>,
}

/// A handler for both portTypes that keeps every request and answers with defaults.
#[derive(Default)]
struct Recorder {
    received: Mutex<Vec<Received>>,
}

impl Recorder {
    fn record<T: ToXml + Any + Send>(&self, operation: &'static str, request: T) {
        let mut writer = XmlWriter::new();
        request.to_xml(&mut writer, Some(wire::nc::NAMESPACE), operation);
        let received = Received {
            operation,
            xml: writer.finish(),
            typed: Box::new(request),
        };
        self.received.lock().expect("recorder lock").push(received);
    }

    fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock().expect("recorder lock"))
    }
}

macro_rules! recording_handler {
    ($module:ident :: $trait:ident { $($method:ident($operation:literal, $request:ident) -> $response:ident;)* }) => {
        impl wire::$module::$trait for Recorder {
            $(
                async fn $method(
                    &self,
                    request: wire::$module::$request,
                    _context: RequestContext,
                ) -> Result<wire::$module::$response, soap::Fault> {
                    self.record($operation, request);
                    Ok(Default::default())
                }
            )*
        }
    };
}

recording_handler!(nc::EucalyptusNc {
    nc_run_instance("ncRunInstance", NcRunInstanceType) -> NcRunInstanceResponseType;
    nc_terminate_instance("ncTerminateInstance", NcTerminateInstanceType) -> NcTerminateInstanceResponseType;
    nc_reboot_instance("ncRebootInstance", NcRebootInstanceType) -> NcRebootInstanceResponseType;
    nc_describe_instances("ncDescribeInstances", NcDescribeInstancesType) -> NcDescribeInstancesResponseType;
    nc_describe_resource("ncDescribeResource", NcDescribeResourceType) -> NcDescribeResourceResponseType;
    nc_get_console_output("ncGetConsoleOutput", NcGetConsoleOutputType) -> NcGetConsoleOutputResponseType;
    nc_attach_volume("ncAttachVolume", NcAttachVolumeType) -> NcAttachVolumeResponseType;
    nc_detach_volume("ncDetachVolume", NcDetachVolumeType) -> NcDetachVolumeResponseType;
    nc_start_network("ncStartNetwork", NcStartNetworkType) -> NcStartNetworkResponseType;
    nc_power_down("ncPowerDown", NcPowerDownType) -> NcPowerDownResponseType;
});

recording_handler!(cc::EucalyptusCc {
    run_instances("RunInstances", RunInstancesType) -> RunInstancesResponseType;
    describe_instances("DescribeInstances", DescribeInstancesType) -> DescribeInstancesResponseType;
    describe_resources("DescribeResources", DescribeResourcesType) -> DescribeResourcesResponseType;
    terminate_instances("TerminateInstances", TerminateInstancesType) -> TerminateInstancesResponseType;
    reboot_instances("RebootInstances", RebootInstancesType) -> RebootInstancesResponseType;
    get_console_output("GetConsoleOutput", GetConsoleOutputType) -> GetConsoleOutputResponseType;
    attach_volume("AttachVolume", AttachVolumeType) -> AttachVolumeResponseType;
    detach_volume("DetachVolume", DetachVolumeType) -> DetachVolumeResponseType;
    start_network("StartNetwork", StartNetworkType) -> StartNetworkResponseType;
    stop_network("StopNetwork", StopNetworkType) -> StopNetworkResponseType;
    configure_network("ConfigureNetwork", ConfigureNetworkType) -> ConfigureNetworkResponseType;
    assign_address("AssignAddress", AssignAddressType) -> AssignAddressResponseType;
    unassign_address("UnassignAddress", UnassignAddressType) -> UnassignAddressResponseType;
    describe_networks("DescribeNetworks", DescribeNetworksType) -> DescribeNetworksResponseType;
    describe_public_addresses("DescribePublicAddresses", DescribePublicAddressesType) -> DescribePublicAddressesResponseType;
});

fn parse_file(path: &Path) -> Element {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    xmlbind::parse(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Body's first element of a zeep envelope.
fn body_element(envelope: &Element) -> &Element {
    assert!(
        envelope.name.is(Some(SOAP_ENV), "Envelope"),
        "zeep wrote a SOAP 1.1 envelope"
    );
    let body = envelope
        .child(Some(SOAP_ENV), "Body")
        .expect("envelope has a Body");
    body.elements().next().expect("Body has an element")
}

/// Child elements grouped by local name, in document order within each name.
fn grouped(element: &Element) -> Vec<(&str, Vec<&Element>)> {
    let mut groups: Vec<(&str, Vec<&Element>)> = Vec::new();
    for child in element.elements() {
        let name = child.name.local.as_str();
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, items)) => items.push(child),
            None => groups.push((name, vec![child])),
        }
    }
    groups
}

/// Compares zeep's arguments (a plain tree) with the typed request written back out: the same
/// fields, the same number of each, the same values, recursively.
fn compare(args: &Element, typed: &Element, path: &str, differences: &mut Vec<String>) {
    let wanted = grouped(args);
    let got = grouped(typed);
    for (name, _) in &got {
        if !wanted.iter().any(|(n, _)| n == name) {
            differences.push(format!(
                "{path}/{name}: in the typed request, not given to zeep"
            ));
        }
    }
    for (name, wanted_items) in &wanted {
        let got_items = got
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, items)| items.as_slice())
            .unwrap_or_default();
        if got_items.len() != wanted_items.len() {
            differences.push(format!(
                "{path}/{name}: zeep was given {} value(s), the typed request has {}",
                wanted_items.len(),
                got_items.len()
            ));
            continue;
        }
        for (index, (want, have)) in wanted_items.iter().zip(got_items).enumerate() {
            let here = format!("{path}/{name}[{index}]");
            if have.name.namespace.as_deref() != Some(wire::nc::NAMESPACE) {
                differences.push(format!("{here}: namespace {:?}", have.name.namespace));
            }
            if want.elements().next().is_some() {
                compare(want, have, &here, differences);
            } else {
                let (want, have) = (
                    want.text().unwrap_or_default(),
                    have.text().unwrap_or_default(),
                );
                if want != have {
                    differences.push(format!(
                        "{here}: zeep was given {want:?}, the typed request has {have:?}"
                    ));
                }
            }
        }
    }
}

fn typed<T: 'static>(received: &Received) -> &T {
    received
        .typed
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("{} carried another type", received.operation))
}

/// Spot checks on the typed values themselves, for the operations with nested, repeated and
/// base-message fields.
fn check_typed(received: &Received) {
    match received.operation {
        "ncRunInstance" => {
            let r: &wire::nc::NcRunInstanceType = typed(received);
            assert_eq!(r.instance_type.memory, Some(256));
            assert_eq!(r.vlan, 10);
            assert_eq!(r.group_names, ["default", "web"]);
            assert_eq!(r.ramdisk_id.as_deref(), Some("eri-B3EF1782"));
        }
        "ncPowerDown" => {
            let r: &wire::nc::NcPowerDownType = typed(received);
            assert_eq!((r.r#return, r.status_message), (Some(true), Some(7)));
        }
        "ncDetachVolume" => {
            let r: &wire::nc::NcDetachVolumeType = typed(received);
            assert_eq!(r.force, Some(true));
        }
        "RunInstances" => {
            let r: &wire::cc::RunInstancesType = typed(received);
            assert_eq!(
                r.instance_type.as_ref().and_then(|t| t.name.as_deref()),
                Some("c1.medium")
            );
            assert_eq!((r.max_count, r.min_count), (2, 1));
            assert_eq!(r.instance_ids, ["i-4E1A0850", "i-3F2D07C1"]);
            assert_eq!(r.network_index_list, [2, 3]);
        }
        "ConfigureNetwork" => {
            let r: &wire::cc::ConfigureNetworkType = typed(received);
            assert_eq!(r.rules.len(), 2);
            assert_eq!(r.rules[0].user_names, ["admin", "alice"]);
            assert_eq!(r.rules[0].port_range_max, 443);
            assert_eq!(r.rules[1].dest_user_name, None);
            assert_eq!(r.rules[1].source_nets, ["0.0.0.0/0", "10.1.0.0/16"]);
        }
        "DescribeResources" => {
            let r: &wire::cc::DescribeResourcesType = typed(received);
            let names: Vec<_> = r
                .instance_types
                .iter()
                .map(|t| t.name.as_deref().unwrap_or_default())
                .collect();
            assert_eq!(names, ["m1.small", "c1.medium", "c1.xlarge"]);
        }
        "DescribePublicAddresses" => {
            let r: &wire::cc::DescribePublicAddressesType = typed(received);
            assert_eq!(
                (r.status_message.as_deref(), r.r#return),
                (Some("queued"), Some(false))
            );
        }
        _ => {}
    }
}

#[tokio::test]
async fn zeep_requests_reach_the_handlers_with_their_values() {
    let Some(reference) = common::reference_dir() else {
        println!("skipped: no reference");
        return;
    };
    let wsdl = reference.join("eucalyptus-1.6.1/wsdl");
    let out = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(common::python())
        .arg(common::workspace_root().join("tests/py/zeep_bodies.py"))
        .arg(out.path())
        .arg(wsdl.join("eucalyptus_nc.wsdl"))
        .arg(wsdl.join("eucalyptus_cc.wsdl"))
        .output()
        .expect("running zeep_bodies.py");
    assert!(
        output.status.success(),
        "zeep_bodies.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let recorder = Arc::new(Recorder::default());
    let services: [(&str, Box<dyn Service>); 2] = [
        (
            "nc",
            Box::new(wire::nc::EucalyptusNcServer::from_arc(recorder.clone())),
        ),
        (
            "cc",
            Box::new(wire::cc::EucalyptusCcServer::from_arc(recorder.clone())),
        ),
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for (short, service) in &services {
        for operation in service.operations() {
            let name = operation.name;
            let envelope = parse_file(&out.path().join(format!("{short}.{name}.envelope.xml")));
            let args = parse_file(&out.path().join(format!("{short}.{name}.args.xml")));
            let body = body_element(&envelope);
            assert!(
                body.name.is(Some(operation.request.0), operation.request.1),
                "zeep's element for {name}"
            );

            let context = RequestContext {
                soap_action: Some(operation.soap_action.to_owned()),
                ..Default::default()
            };
            let body = Document::from(body);
            match service.call(operation, body.root(), context).await {
                Ok(reply) => {
                    assert_eq!(reply.local, operation.response.1, "reply element of {name}")
                }
                Err(fault) => {
                    failures.push(format!("{name}: fault {fault:?}"));
                    continue;
                }
            }
            let received = recorder.take();
            let [received] = received.as_slice() else {
                failures.push(format!(
                    "{name}: the handler was called {} times",
                    received.len()
                ));
                continue;
            };
            if received.operation != name {
                failures.push(format!(
                    "{name}: dispatched to the handler of {}",
                    received.operation
                ));
                continue;
            }
            let written = xmlbind::parse(received.xml.as_bytes(), &Limits::default())
                .expect("typed request re-reads");
            let mut differences = Vec::new();
            compare(&args, &written, name, &mut differences);
            failures.extend(differences);
            check_typed(received);
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        checked, 25,
        "every NC (10) and CC (15) operation was checked"
    );
}

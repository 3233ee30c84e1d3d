//! Acceptance 3: the generated wire types write what the original schemas accept and read
//! what the original stacks send.
//!
//! For every request and response element of the NC, CC and GL: a `Sample` value (every field
//! filled) is written, validated against the schema of the ORIGINAL WSDL by xmlschema (an
//! independent validator, run through `tests/py/schema_validate.py`) and read back to an equal
//! value. Hand-written messages in the shapes of Axis2/C, JiBX and zeep
//! (`tests/fixtures/messages/`) must parse into the right type, and broken ones must fail with
//! an error naming the element and its line.

mod common;

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::Command;

use xmlbind::{Element, FromXml, Limits, Sample, ToXml, XmlError, XmlWriter};

const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Nc,
    Cc,
    Gl,
}

impl Service {
    const ALL: [Service; 3] = [Service::Nc, Service::Cc, Service::Gl];

    fn short(self) -> &'static str {
        match self {
            Service::Nc => "nc",
            Service::Cc => "cc",
            Service::Gl => "gl",
        }
    }

    fn wsdl_file(self) -> String {
        format!("eucalyptus_{}.wsdl", self.short())
    }

    fn operations(self) -> &'static [soap::Operation] {
        match self {
            Service::Nc => &wire::nc::EUCALYPTUS_NC_OPERATIONS,
            Service::Cc => &wire::cc::EUCALYPTUS_CC_OPERATIONS,
            Service::Gl => &wire::gl::EUCALYPTUS_GL_OPERATIONS,
        }
    }

    fn namespace(self) -> &'static str {
        match self {
            Service::Nc => wire::nc::NAMESPACE,
            Service::Cc => wire::cc::NAMESPACE,
            Service::Gl => wire::gl::NAMESPACE,
        }
    }
}

/// One global element and the generated type that carries it.
struct Case {
    service: Service,
    element: &'static str,
    /// Writes the type's sample as `element`, reads it back, and returns the XML written.
    round_trip: fn(Service, &'static str) -> Result<String, String>,
    /// Reads an element of the wire as this type.
    parse: fn(&Element) -> Result<(), XmlError>,
}

macro_rules! case {
    ($service:ident, $element:literal, $module:ident :: $ty:ident) => {
        Case {
            service: Service::$service,
            element: $element,
            round_trip: round_trip::<wire::$module::$ty>,
            parse: parse_as::<wire::$module::$ty>,
        }
    };
}

/// Every request and response element of the three WSDLs, listed by hand so that a type the
/// generator maps wrongly shows up; `cases_cover_every_operation` checks the list is complete.
const CASES: &[Case] = &[
    case!(Nc, "ncRunInstance", nc::NcRunInstanceType),
    case!(Nc, "ncRunInstanceResponse", nc::NcRunInstanceResponseType),
    case!(Nc, "ncTerminateInstance", nc::NcTerminateInstanceType),
    case!(
        Nc,
        "ncTerminateInstanceResponse",
        nc::NcTerminateInstanceResponseType
    ),
    case!(Nc, "ncRebootInstance", nc::NcRebootInstanceType),
    case!(
        Nc,
        "ncRebootInstanceResponse",
        nc::NcRebootInstanceResponseType
    ),
    case!(Nc, "ncDescribeInstances", nc::NcDescribeInstancesType),
    case!(
        Nc,
        "ncDescribeInstancesResponse",
        nc::NcDescribeInstancesResponseType
    ),
    case!(Nc, "ncDescribeResource", nc::NcDescribeResourceType),
    case!(
        Nc,
        "ncDescribeResourceResponse",
        nc::NcDescribeResourceResponseType
    ),
    case!(Nc, "ncGetConsoleOutput", nc::NcGetConsoleOutputType),
    case!(
        Nc,
        "ncGetConsoleOutputResponse",
        nc::NcGetConsoleOutputResponseType
    ),
    case!(Nc, "ncAttachVolume", nc::NcAttachVolumeType),
    case!(Nc, "ncAttachVolumeResponse", nc::NcAttachVolumeResponseType),
    case!(Nc, "ncDetachVolume", nc::NcDetachVolumeType),
    case!(Nc, "ncDetachVolumeResponse", nc::NcDetachVolumeResponseType),
    case!(Nc, "ncStartNetwork", nc::NcStartNetworkType),
    case!(Nc, "ncStartNetworkResponse", nc::NcStartNetworkResponseType),
    case!(Nc, "ncPowerDown", nc::NcPowerDownType),
    case!(Nc, "ncPowerDownResponse", nc::NcPowerDownResponseType),
    case!(Cc, "RunInstances", cc::RunInstancesType),
    case!(Cc, "RunInstancesResponse", cc::RunInstancesResponseType),
    case!(Cc, "DescribeInstances", cc::DescribeInstancesType),
    case!(
        Cc,
        "DescribeInstancesResponse",
        cc::DescribeInstancesResponseType
    ),
    case!(Cc, "DescribeResources", cc::DescribeResourcesType),
    case!(
        Cc,
        "DescribeResourcesResponse",
        cc::DescribeResourcesResponseType
    ),
    case!(Cc, "TerminateInstances", cc::TerminateInstancesType),
    case!(
        Cc,
        "TerminateInstancesResponse",
        cc::TerminateInstancesResponseType
    ),
    case!(Cc, "RebootInstances", cc::RebootInstancesType),
    case!(
        Cc,
        "RebootInstancesResponse",
        cc::RebootInstancesResponseType
    ),
    case!(Cc, "GetConsoleOutput", cc::GetConsoleOutputType),
    case!(
        Cc,
        "GetConsoleOutputResponse",
        cc::GetConsoleOutputResponseType
    ),
    case!(Cc, "AttachVolume", cc::AttachVolumeType),
    case!(Cc, "AttachVolumeResponse", cc::AttachVolumeResponseType),
    case!(Cc, "DetachVolume", cc::DetachVolumeType),
    case!(Cc, "DetachVolumeResponse", cc::DetachVolumeResponseType),
    case!(Cc, "StartNetwork", cc::StartNetworkType),
    case!(Cc, "StartNetworkResponse", cc::StartNetworkResponseType),
    case!(Cc, "StopNetwork", cc::StopNetworkType),
    case!(Cc, "StopNetworkResponse", cc::StopNetworkResponseType),
    case!(Cc, "ConfigureNetwork", cc::ConfigureNetworkType),
    case!(
        Cc,
        "ConfigureNetworkResponse",
        cc::ConfigureNetworkResponseType
    ),
    case!(Cc, "AssignAddress", cc::AssignAddressType),
    case!(Cc, "AssignAddressResponse", cc::AssignAddressResponseType),
    case!(Cc, "UnassignAddress", cc::UnassignAddressType),
    case!(
        Cc,
        "UnassignAddressResponse",
        cc::UnassignAddressResponseType
    ),
    case!(Cc, "DescribeNetworks", cc::DescribeNetworksType),
    case!(
        Cc,
        "DescribeNetworksResponse",
        cc::DescribeNetworksResponseType
    ),
    case!(
        Cc,
        "DescribePublicAddresses",
        cc::DescribePublicAddressesType
    ),
    case!(
        Cc,
        "DescribePublicAddressesResponse",
        cc::DescribePublicAddressesResponseType
    ),
    case!(Gl, "GetLogs", gl::GetLogsType),
    case!(Gl, "GetLogsResponse", gl::GetLogsResponseType),
    case!(Gl, "GetKeys", gl::GetKeysType),
    case!(Gl, "GetKeysResponse", gl::GetKeysResponseType),
];

fn round_trip<T>(service: Service, element: &'static str) -> Result<String, String>
where
    T: Sample + ToXml + FromXml + PartialEq + Debug,
{
    let value = T::sample();
    let mut writer = XmlWriter::new();
    value.to_xml(&mut writer, Some(service.namespace()), element);
    let xml = writer.finish();
    let parsed = xmlbind::parse(xml.as_bytes(), &Limits::default())
        .map_err(|e| format!("{element}: our output does not parse: {e}\n{xml}"))?;
    // Every message carries the four base fields, all filled in a sample.
    if parsed.elements().count() < 4 {
        return Err(format!("{element}: the sample is not filled in:\n{xml}"));
    }
    let back =
        T::from_xml(&parsed).map_err(|e| format!("{element}: reading back failed: {e}\n{xml}"))?;
    if back != value {
        return Err(format!("{element}: read back {back:#?}\nwrote {value:#?}"));
    }
    Ok(xml)
}

fn parse_as<T: FromXml>(element: &Element) -> Result<(), XmlError> {
    T::from_xml(element).map(drop)
}

fn case_for(local: &str) -> Option<&'static Case> {
    CASES.iter().find(|c| c.element == local)
}

/// The schema to validate against: the original WSDL's, or ours when the reference folder is
/// absent (said on the output).
fn schema_wsdl(service: Service) -> PathBuf {
    match common::reference_dir() {
        Some(reference) => reference
            .join("eucalyptus-1.6.1/wsdl")
            .join(service.wsdl_file()),
        None => {
            println!(
                "no reference folder: validating against OUR {} instead",
                service.wsdl_file()
            );
            common::workspace_root()
                .join("wsdl")
                .join(service.wsdl_file())
        }
    }
}

/// Runs `tests/py/schema_validate.py`; returns one line per file that is not valid.
fn schema_errors(service: Service, files: &[PathBuf]) -> Vec<String> {
    if files.is_empty() {
        return Vec::new();
    }
    let script = common::workspace_root().join("tests/py/schema_validate.py");
    let output = Command::new(common::python())
        .arg(script)
        .arg(schema_wsdl(service))
        .args(files)
        .output()
        .expect("running schema_validate.py");
    assert!(
        output.status.success(),
        "schema_validate.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        files.len(),
        "one verdict per file expected:\n{stdout}"
    );
    lines
        .into_iter()
        .filter(|l| !l.starts_with("ok\t"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn cases_cover_every_operation() {
    let mut missing = Vec::new();
    for service in Service::ALL {
        for operation in service.operations() {
            for (namespace, local) in [operation.request, operation.response] {
                let covered = CASES.iter().any(|c| {
                    c.service == service && c.element == local && service.namespace() == namespace
                });
                if !covered {
                    missing.push(format!("{}: {local} ({})", service.short(), operation.name));
                }
            }
        }
    }
    assert!(missing.is_empty(), "elements without a case: {missing:#?}");
    let listed: usize = Service::ALL.iter().map(|s| s.operations().len() * 2).sum();
    assert_eq!(
        CASES.len(),
        listed,
        "CASES lists elements that are no operation's message"
    );
}

#[test]
fn samples_round_trip_and_satisfy_the_original_schema() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut failures = Vec::new();
    for service in Service::ALL {
        let mut files = Vec::new();
        for case in CASES.iter().filter(|c| c.service == service) {
            match (case.round_trip)(service, case.element) {
                Ok(xml) => {
                    let path = dir
                        .path()
                        .join(format!("{}.{}.xml", service.short(), case.element));
                    std::fs::write(&path, xml).expect("writing a sample");
                    files.push(path);
                }
                Err(e) => failures.push(e),
            }
        }
        failures.extend(schema_errors(service, &files));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn fixture_dir() -> PathBuf {
    common::workspace_root().join("tests/fixtures/messages")
}

fn fixtures(sub: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir().join(sub))
        .expect("fixture folder")
        .map(|entry| entry.expect("fixture entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    files
}

/// Reads a fixture envelope and returns its Body's first element.
fn body_of(path: &Path) -> Result<Element, XmlError> {
    let text = std::fs::read(path).expect("reading a fixture");
    let envelope = xmlbind::parse(&text, &Limits::default())?;
    let body = envelope
        .child(Some(SOAP_ENV), "Body")
        .expect("fixture has a SOAP 1.1 Body");
    let first = body.elements().next().expect("Body has an element");
    Ok(first.clone())
}

fn parse_fixture<T: FromXml>(relative: &str) -> T {
    let element = body_of(&fixture_dir().join(relative)).expect("fixture is well-formed");
    T::from_xml(&element).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

#[test]
fn fixtures_parse_into_their_types_and_satisfy_the_original_schema() {
    let mut failures = Vec::new();
    let mut seen = Vec::new();
    for service in Service::ALL {
        let files = fixtures(service.short());
        for path in &files {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let element = match body_of(path) {
                Ok(element) => element,
                Err(e) => {
                    failures.push(format!("{name}: {e}"));
                    continue;
                }
            };
            let local = element.name.local.as_str();
            let Some(case) = case_for(local).filter(|c| c.service == service) else {
                failures.push(format!("{name}: {local} is no {} message", service.short()));
                continue;
            };
            if !name.starts_with(&format!("{local}.")) {
                failures.push(format!("{name}: holds {local}; name the file after it"));
            }
            if element.name.namespace.as_deref() != Some(service.namespace()) {
                failures.push(format!(
                    "{name}: element in namespace {:?}",
                    element.name.namespace
                ));
            }
            match (case.parse)(&element) {
                Ok(()) => seen.push((service, local.to_owned())),
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
        // The fixtures themselves must be honest: valid for the original schema.
        failures.extend(schema_errors(service, &files));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Every operation has a request fixture; NC and GL also a response fixture for each.
    for service in Service::ALL {
        for operation in service.operations() {
            let mut wanted = vec![operation.request.1];
            if service != Service::Cc {
                wanted.push(operation.response.1);
            }
            for local in wanted {
                assert!(
                    seen.iter().any(|(s, l)| *s == service && l == local),
                    "no fixture for {} {local}",
                    service.short()
                );
            }
        }
    }
}

/// The values, not only the shapes: optional elements left out, `xsi:nil`, repeated and
/// nested elements, whitespace between elements and the three prefix styles all land in the
/// right fields.
#[test]
fn fixtures_carry_their_values() {
    let run: wire::nc::NcRunInstanceType = parse_fixture("nc/ncRunInstance.axis2c.xml");
    assert_eq!(run.correlation_id, None);
    assert_eq!(run.user_id.as_deref(), Some("admin"));
    assert_eq!(run.instance_type.memory, Some(256));
    assert_eq!(run.instance_type.disk, Some(5));
    assert_eq!(run.vlan, 10);
    assert_eq!(run.group_names, ["default", "web"]);

    let ran: wire::nc::NcRunInstanceResponseType =
        parse_fixture("nc/ncRunInstanceResponse.axis2c.xml");
    assert_eq!(ran.status_message, None, "xsi:nil statusMessage");
    assert_eq!(ran.r#return, Some(true));
    let instance = ran.instance.expect("instance");
    assert_eq!(
        instance.launch_time.map(|t| t.unix_seconds()),
        Some(1_257_416_430)
    );
    assert_eq!(instance.net_params.map(|n| n.vlan), Some(10));
    assert!(instance.volumes.is_empty());

    let described: wire::nc::NcDescribeInstancesResponseType =
        parse_fixture("nc/ncDescribeInstancesResponse.axis2c.xml");
    assert_eq!(described.instances.len(), 2);
    assert_eq!(described.instances[0].volumes.len(), 2);
    assert_eq!(
        described.instances[0].volumes[1].state.as_deref(),
        Some("attaching")
    );
    assert_eq!(described.instances[1].ramdisk_id, None);
    assert_eq!(described.instances[1].state_name, "Teardown");

    let detached: wire::nc::NcDetachVolumeResponseType =
        parse_fixture("nc/ncDetachVolumeResponse.axis2c.xml");
    assert_eq!(
        (detached.r#return, detached.status_message),
        (Some(false), Some(1))
    );

    let zeep: wire::nc::NcDescribeInstancesType = parse_fixture("nc/ncDescribeInstances.zeep.xml");
    assert_eq!(zeep.instance_ids, ["i-4E1A0850", "i-3F2D07C1"]);

    let run: wire::cc::RunInstancesType = parse_fixture("cc/RunInstances.jibx.xml");
    assert_eq!(
        run.instance_type.as_ref().and_then(|t| t.name.as_deref()),
        Some("c1.medium")
    );
    assert_eq!((run.max_count, run.min_count), (2, 1));
    assert_eq!(run.mac_addresses.len(), 2);
    assert_eq!(run.network_index_list, [2, 3]);

    let rules: wire::cc::ConfigureNetworkType = parse_fixture("cc/ConfigureNetwork.jibx.xml");
    assert_eq!(rules.rules.len(), 2);
    assert_eq!(rules.rules[0].source_names, ["default", "db"]);
    assert_eq!(rules.rules[0].user_names, ["admin", "alice"]);
    assert!(rules.rules[1].source_names.is_empty());
    assert_eq!(rules.rules[1].source_nets, ["0.0.0.0/0", "10.1.0.0/16"]);
    assert_eq!(
        (rules.rules[1].port_range_min, rules.rules[1].port_range_max),
        (-1, -1)
    );

    let instances: wire::cc::DescribeInstancesResponseType =
        parse_fixture("cc/DescribeInstancesResponse.axis2c.xml");
    assert_eq!(instances.status_message, None, "xsi:nil statusMessage");
    assert_eq!(instances.instances.len(), 2);
    assert_eq!(instances.instances[1].instance_type, None);
    assert_eq!(instances.instances[1].owner_id.as_deref(), Some("alice"));

    let addresses: wire::cc::DescribePublicAddressesResponseType =
        parse_fixture("cc/DescribePublicAddressesResponse.axis2c.xml");
    assert_eq!(addresses.source_addresses.len(), 3);
    assert_eq!(addresses.dest_addresses, ["10.0.10.2", "", ""]);

    let networks: wire::cc::DescribeNetworksResponseType =
        parse_fixture("cc/DescribeNetworksResponse.axis2c.xml");
    assert_eq!(networks.active_networks[0].active_addrs, [2, 3]);
    assert!(networks.active_networks[1].active_addrs.is_empty());

    let logs: wire::gl::GetLogsResponseType = parse_fixture("gl/GetLogsResponse.axis2c.xml");
    assert_eq!(logs.cc_log, None);
    assert!(logs.nc_log.is_some_and(|l| l.starts_with("WzEx")));
}

/// (broken fixture, text the error must name, line of the offending element)
type Broken = (&'static str, &'static str, u64);

const BROKEN: [Broken; 4] = [
    ("ncRunInstance.missing-instanceType.xml", "instanceType", 11),
    ("ncTerminateInstance.nil-instanceId.xml", "instanceId", 7),
    ("RunInstances.count-order.xml", "maxCount", 7),
    ("ncDescribeInstancesResponse.unclosed.xml", "instances", 8),
];

/// A value that is not of the element's simple type.
const BROKEN_VALUE: Broken = ("DescribeNetworksResponse.bad-vlan.xml", "vlan", 8);

/// Why reading a broken fixture did not fail as expected; `None` when it did.
fn broken_fixture_mismatch((file, names, line): Broken) -> Option<String> {
    let path = fixture_dir().join("broken").join(file);
    let result = body_of(&path).and_then(|element| {
        let case = case_for(&element.name.local).expect("broken fixture of a known element");
        (case.parse)(&element)
    });
    match result {
        Ok(()) => Some(format!("{file}: accepted")),
        Err(e) if e.to_string().contains(names) && e.position.map(|p| p.line) == Some(line) => None,
        Err(e) => Some(format!(
            "{file}: expected an error naming {names} at line {line}, got: {e}"
        )),
    }
}

/// Regression guard: a message the schema refuses must be refused with an error that says
/// which element is wrong and where, not silently read as defaults.
#[test]
fn broken_messages_fail_naming_the_element_and_line() {
    assert_eq!(
        BROKEN.len() + 1,
        fixtures("broken").len(),
        "every broken fixture has an expectation"
    );
    let failures: Vec<String> = BROKEN
        .into_iter()
        .filter_map(broken_fixture_mismatch)
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The same for a malformed value: the error names the value, the element and the line.
#[test]
fn invalid_values_fail_naming_the_element_and_line() {
    if let Some(failure) = broken_fixture_mismatch(BROKEN_VALUE) {
        panic!("{failure}");
    }
}

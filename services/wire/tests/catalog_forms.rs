//! The request catalog codegen emits (`wire::catalog`): every operation of every service lays
//! out as a form, a form filled with its defaults builds a request, and the requests built
//! from forms read back with the generated types, values checked and escaped.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use wire::catalog::form::{self, Form, Input, Part};
use wire::catalog::{Service, SERVICES};
use xmlbind::{FromXml, Limits, ToXml, XmlWriter};

fn service(port_type: &str) -> &'static Service {
    SERVICES
        .iter()
        .find(|s| s.port_type == port_type)
        .unwrap_or_else(|| panic!("no service {port_type}"))
}

fn layout(port_type: &str, operation: &str, rows: &[(&str, usize)]) -> Form {
    let operation = service(port_type).operation(operation).unwrap();
    let rows: HashMap<String, usize> = rows.iter().map(|(k, n)| (k.to_string(), *n)).collect();
    form::layout(operation, &|key| rows.get(key).copied())
}

/// The form's defaults, overridden by `values`.
fn filled<'a>(form: &'a Form, values: &[(&'a str, &'a str)]) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = form
        .inputs()
        .into_iter()
        .filter_map(|input| match input {
            Input::Field(f) => Some((f.path.clone(), f.default.clone()?)),
            Input::Presence(_) => None,
        })
        .collect();
    out.extend(values.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    out
}

fn build(form: &Form, values: &HashMap<String, String>) -> Result<String, Vec<form::Problem>> {
    let request = form::build(form, &|path| values.get(path).map(String::as_str))?;
    let mut w = XmlWriter::new();
    request.to_xml(&mut w, request.namespace, request.name);
    Ok(w.finish())
}

fn read<T: FromXml>(xml: &str) -> T {
    let document = xmlbind::Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
    T::from_xml(document.root()).unwrap_or_else(|e| panic!("{e} in {xml}"))
}

#[test]
fn every_operation_of_every_service_lays_out_and_builds_from_its_defaults() {
    for service in SERVICES {
        assert!(!service.operations.is_empty(), "{}", service.port_type);
        for operation in service.operations {
            let form = form::layout(operation, &|_| None);
            let xml = build(&form, &filled(&form, &[]))
                .unwrap_or_else(|p| panic!("{}: {p:?}", operation.soap.name));
            let (namespace, local) = operation.soap.request;
            let document = xmlbind::Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
            assert!(document.root().name().is(Some(namespace), local), "{xml}");
        }
    }
    // The catalog holds each portType's whole operations table: the 1.6.1 contract's counts.
    for (port_type, count) in [
        ("EucalyptusNC", 10),
        ("EucalyptusCC", 15),
        ("EucalyptusGL", 2),
    ] {
        assert_eq!(service(port_type).operations.len(), count, "{port_type}");
    }
    let ec2 = service("AmazonEC2PortType");
    assert_eq!(
        ec2.operations.len(),
        wire::ec2::AMAZON_EC2_PORT_TYPE_OPERATIONS.len()
    );
    for (operation, entry) in ec2
        .operations
        .iter()
        .zip(&wire::ec2::AMAZON_EC2_PORT_TYPE_OPERATIONS)
    {
        assert!(std::ptr::eq(operation.soap, entry), "{}", entry.name);
    }
}

#[test]
fn nc_describe_resource_from_a_form_reads_as_the_generated_type() {
    let form = layout("EucalyptusNC", "ncDescribeResource", &[]);
    let paths: Vec<&str> = form.inputs().into_iter().map(Input::path).collect();
    assert_eq!(
        paths,
        [
            "correlationId",
            "userId",
            "return",
            "statusMessage",
            "resourceType"
        ]
    );
    let values = filled(
        &form,
        &[("userId", "admin <&> \"x\""), ("statusMessage", "7")],
    );
    let xml = build(&form, &values).unwrap();
    let request: wire::nc::NcDescribeResourceType = read(&xml);
    assert_eq!(request.user_id.as_deref(), Some("admin <&> \"x\""));
    assert_eq!(request.status_message, Some(7));
    assert_eq!(request.correlation_id, None);
}

#[test]
fn typed_values_are_checked_and_every_problem_named() {
    let form = layout("EucalyptusNC", "ncDescribeResource", &[]);
    let values = filled(&form, &[("statusMessage", "seven"), ("return", "yes")]);
    let problems = build(&form, &values).unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["return", "statusMessage"]);
    assert!(problems[1].message.contains("xs:int"), "{problems:?}");
}

#[test]
fn describe_images_with_repeated_rows_reads_as_the_generated_type() {
    let form = layout(
        "AmazonEC2PortType",
        "DescribeImages",
        &[("imagesSet/item", 3)],
    );
    let paths: Vec<String> = form.inputs().iter().map(|i| i.path().to_owned()).collect();
    assert!(
        paths.contains(&"imagesSet/item[3]/imageId".to_owned()),
        "{paths:?}"
    );
    let values = filled(
        &form,
        &[
            ("imagesSet/item[1]/imageId", "emi-00000001"),
            ("imagesSet/item[3]/imageId", "emi-00000003"),
            ("ownersSet/item[1]/owner", "self"),
        ],
    );
    let request: wire::ec2::DescribeImagesType = read(&build(&form, &values).unwrap());
    let ids: Vec<&str> = request
        .images_set
        .item
        .iter()
        .map(|i| i.image_id.as_str())
        .collect();
    assert_eq!(ids, ["emi-00000001", "emi-00000003"]);
    assert_eq!(request.owners_set.unwrap().item[0].owner, "self");
}

#[test]
fn cc_run_instances_defaults_read_as_the_generated_type() {
    let form = layout("EucalyptusCC", "RunInstances", &[("instanceIds", 2)]);
    let values = filled(
        &form,
        &[
            ("imageId", "emi-1"),
            ("instanceIds[1]", "i-1"),
            ("instanceIds[2]", "i-2"),
            ("minCount", "1"),
            ("maxCount", "2"),
        ],
    );
    let request: wire::cc::RunInstancesType = read(&build(&form, &values).unwrap());
    assert_eq!(request.instance_ids, ["i-1", "i-2"]);
    assert_eq!(request.vlan, 0);
    assert_eq!(request.max_count, 2);
}

#[test]
fn a_choice_sends_the_one_alternative_filled_and_refuses_two() {
    let form = layout("AmazonEC2PortType", "DescribeImageAttribute", &[]);
    let choice = form
        .root
        .parts
        .iter()
        .find_map(|p| match p {
            Part::Choice(c) => Some(c),
            _ => None,
        })
        .expect("DescribeImageAttribute's attribute choice");
    assert!(choice.required);
    let presence: Vec<&str> = form
        .inputs()
        .into_iter()
        .filter_map(|i| match i {
            Input::Presence(p) => Some(p),
            Input::Field(_) => None,
        })
        .collect();
    assert!(presence.contains(&"kernel/?"), "{presence:?}");
    let values = filled(&form, &[("imageId", "emi-1"), ("kernel/?", "on")]);
    let request: wire::ec2::DescribeImageAttributeType = read(&build(&form, &values).unwrap());
    assert_eq!(request.image_id, "emi-1");
    let debug = format!("{:?}", request.describe_image_attributes_group);
    assert!(debug.starts_with("Kernel"), "{debug}");

    let two = filled(
        &form,
        &[
            ("imageId", "emi-1"),
            ("kernel/?", "on"),
            ("ramdisk/?", "on"),
        ],
    );
    let problems = build(&form, &two).unwrap_err();
    assert!(problems[0].message.contains("only one"), "{problems:?}");
}

#[test]
fn a_derived_type_is_sent_with_the_xsi_type_of_the_variant_filled() {
    let form = layout(
        "AmazonS3",
        "SetObjectAccessControlPolicy",
        &[("AccessControlList/Grant", 1)],
    );
    let paths: Vec<String> = form.inputs().iter().map(|i| i.path().to_owned()).collect();
    let email = paths
        .iter()
        .find(|p| p.contains("Grantee/(AmazonCustomerByEmail)/EmailAddress"))
        .unwrap_or_else(|| panic!("{paths:?}"));
    let values = filled(
        &form,
        &[
            ("Bucket", "b"),
            ("Key", "k"),
            (email.as_str(), "a@example.com"),
            ("AccessControlList/Grant[1]/Permission", "READ"),
        ],
    );
    let xml = build(&form, &values).unwrap();
    assert!(xml.contains(":type=\""), "{xml}");
    let request: wire::s3::SetObjectAccessControlPolicy = read(&xml);
    let grant = &request.access_control_list.grant[0];
    assert!(format!("{grant:?}").contains("a@example.com"), "{grant:?}");
}

#[test]
fn recursion_is_cut_at_the_depth_bound() {
    // Every operation's form stays finite and no deeper than the bound.
    fn depth(part: &Part) -> usize {
        match part {
            Part::Group(g) => 1 + g.parts.iter().map(depth).max().unwrap_or(0),
            Part::Repeated(r) => r.rows.iter().map(depth).max().unwrap_or(0),
            Part::Choice(c) | Part::Derived(c) => {
                c.alternatives.iter().map(depth).max().unwrap_or(0)
            }
            Part::Field(_) | Part::Truncated { .. } => 0,
        }
    }
    for service in SERVICES {
        for operation in service.operations {
            let form = form::layout(operation, &|_| None);
            let deepest = form.root.parts.iter().map(depth).max().unwrap_or(0);
            assert!(deepest <= form::MAX_DEPTH + 1, "{}", operation.soap.name);
        }
    }
}

/// A WSDL added to the build without its catalog in `SERVICES` would never be offered.
#[test]
fn every_port_type_of_the_wsdl_folder_is_in_the_catalog() {
    const WSDL_NS: &str = "http://schemas.xmlsoap.org/wsdl/";
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wsdl");
    let mut port_types = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wsdl") {
            let text = std::fs::read(&path).unwrap();
            let document = xmlbind::Document::parse(&text, &Limits::default()).unwrap();
            port_types.extend(
                document
                    .root()
                    .elements()
                    .filter(|e| e.name().is(Some(WSDL_NS), "portType"))
                    .filter_map(|e| e.attribute(None, "name").map(str::to_owned)),
            );
        }
    }
    port_types.sort();
    let mut catalog: Vec<String> = SERVICES.iter().map(|s| s.port_type.to_owned()).collect();
    catalog.sort();
    assert_eq!(catalog, port_types);
}

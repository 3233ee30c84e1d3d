//! EC2 Query parameters, as real clients send them, read into the generated request types by
//! `wire::ec2_query::parse`: the recorded euca2ools 1.x and 3.x requests in
//! `../shared/reference/captures`, and requests serialized by botocore's own EC2 Query
//! serializer (`tests/py/ec2_query_requests.py`).

mod common;

use std::process::Command;

use wire::ec2::{self, AmazonEc2PortTypeRequest as R};
use wire::ec2_additions::AmazonEc2AdditionsPortTypeRequest as A;
use wire::ec2_query::{parse, Ec2QueryRequest, Ec2Request};
use wire::query::{Filter, QueryError, QueryParams};

/// One client request: its action and parameters (the protocol's own ones included).
struct Recorded {
    action: String,
    params: Vec<(String, String)>,
}

impl Recorded {
    fn parse(&self) -> Result<Ec2QueryRequest, QueryError> {
        parse(&self.action, QueryParams::new(self.params.clone())?)
    }
}

fn requests(args: &[&str]) -> Vec<Recorded> {
    let script = common::workspace_root().join("tests/py/ec2_query_requests.py");
    let output = Command::new(common::python())
        .arg(script)
        .args(args)
        .output()
        .expect("running ec2_query_requests.py");
    assert!(
        output.status.success(),
        "ec2_query_requests.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8 output");
    text.split("--\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let params: Vec<(String, String)> = block
                .lines()
                .map(|line| {
                    let (key, value) = line.split_once('\t').expect("key<TAB>value");
                    (key.to_owned(), value.to_owned())
                })
                .collect();
            let action = params
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.clone())
                .expect("an Action");
            Recorded { action, params }
        })
        .collect()
}

fn ec2(request: Ec2QueryRequest) -> R {
    match request.request {
        Ec2Request::Ec2(request) => request,
        Ec2Request::Additions(other) => panic!("not a 2009-04-04 request: {other:?}"),
    }
}

/// The captures of one client, or `None` (said) without the reference folder.
fn captured(file: &str) -> Option<Vec<Recorded>> {
    let Some(reference) = common::reference_dir() else {
        println!("skipped: no reference");
        return None;
    };
    let path = reference.join("captures").join(file);
    Some(requests(&["captures", path.to_str().expect("UTF-8 path")]))
}

/// The first request of `action` among `recorded` whose parameters include `key`.
fn find<'a>(recorded: &'a [Recorded], action: &str, key: &str) -> &'a Recorded {
    recorded
        .iter()
        .find(|r| r.action == action && r.params.iter().any(|(k, _)| k == key))
        .unwrap_or_else(|| panic!("no captured {action} with {key}"))
}

fn parsed(recorded: &[Recorded], action: &str, key: &str) -> R {
    let request = find(recorded, action, key);
    ec2(request
        .parse()
        .unwrap_or_else(|e| panic!("{action}: {e} ({:?})", request.params)))
}

#[test]
fn every_euca2ools_request_parses_but_the_one_with_bad_values() {
    for file in [
        "euca2ools-1.0_boto-1.8d.jsonl",
        "euca2ools-3.4.1_requestbuilder-0.7.1.jsonl",
    ] {
        let Some(recorded) = captured(file) else {
            return;
        };
        assert!(recorded.len() > 30, "{file}: {} requests", recorded.len());
        for request in &recorded {
            let result = request.parse();
            // euca2ools 1.0's euca-modify-image-attribute sends the Python value None.
            let garbage = request
                .params
                .iter()
                .any(|(k, v)| k == "OperationType" && v == "None");
            match result {
                Ok(parsed) if !garbage => {
                    let operation = match &parsed.request {
                        Ec2Request::Ec2(r) => r.operation().name,
                        Ec2Request::Additions(r) => r.operation().name,
                    };
                    assert_eq!(operation, request.action, "{file}");
                }
                Err(error) if garbage => assert_eq!(error.code(), "InvalidParameterValue"),
                other => panic!(
                    "{file} {}: {other:?} ({:?})",
                    request.action, request.params
                ),
            }
        }
    }
}

#[test]
fn euca2ools_1_requests_carry_their_values() {
    let Some(recorded) = captured("euca2ools-1.0_boto-1.8d.jsonl") else {
        return;
    };
    let R::RunInstances(run) = parsed(&recorded, "RunInstances", "ImageId") else {
        panic!("RunInstances");
    };
    assert_eq!(
        (run.image_id.as_str(), run.min_count, run.max_count),
        ("emi-12345678", 2, 2)
    );
    assert_eq!(run.group_set.item[0].group_id, "default");
    assert_eq!(
        run.user_data.map(|u| u.data).as_deref(),
        Some("dXNlcmRhdGFzdHJpbmc=")
    );
    assert_eq!(
        run.placement.and_then(|p| p.availability_zone).as_deref(),
        Some("zone1")
    );
    assert_eq!(
        (run.kernel_id.as_deref(), run.ramdisk_id.as_deref()),
        (Some("eki-11111111"), Some("eri-22222222"))
    );

    // The flat rule of the API before 2008: one rule with ports, one grant to a group.
    let R::AuthorizeSecurityGroupIngress(ports) =
        parsed(&recorded, "AuthorizeSecurityGroupIngress", "IpProtocol")
    else {
        panic!("AuthorizeSecurityGroupIngress");
    };
    let rule = &ports.ip_permissions.item[0];
    assert_eq!(
        (rule.ip_protocol.as_str(), rule.from_port, rule.to_port),
        ("tcp", 22, 22)
    );
    assert_eq!(
        (ports.group_name.as_str(), ports.user_id.as_str()),
        ("g1", "")
    );
    let R::AuthorizeSecurityGroupIngress(group) = parsed(
        &recorded,
        "AuthorizeSecurityGroupIngress",
        "SourceSecurityGroupName",
    ) else {
        panic!("AuthorizeSecurityGroupIngress");
    };
    let protocols: Vec<(&str, i32, i32)> = group
        .ip_permissions
        .item
        .iter()
        .map(|r| (r.ip_protocol.as_str(), r.from_port, r.to_port))
        .collect();
    assert_eq!(
        protocols,
        [("tcp", 1, 65535), ("udp", 1, 65535), ("icmp", -1, -1)]
    );
    for rule in &group.ip_permissions.item {
        assert_eq!(rule.groups.item.len(), 1);
        assert_eq!(rule.groups.item[0].group_name, "g2");
        assert_eq!(rule.groups.item[0].user_id, "000100729354");
    }

    let R::TerminateInstances(terminate) = parsed(&recorded, "TerminateInstances", "InstanceId.2")
    else {
        panic!("TerminateInstances");
    };
    let ids: Vec<&str> = terminate
        .instances_set
        .item
        .iter()
        .map(|i| i.instance_id.as_str())
        .collect();
    assert_eq!(ids, ["i-12345678", "i-87654321"]);

    let R::GetConsoleOutput(console) = parsed(&recorded, "GetConsoleOutput", "InstanceId.1") else {
        panic!("GetConsoleOutput");
    };
    assert_eq!(console.instance_id, "i-12345678");

    let R::DescribeImages(images) = parsed(&recorded, "DescribeImages", "ExecutableBy.1") else {
        panic!("DescribeImages");
    };
    let by: Vec<String> = images
        .executable_by_set
        .map(|s| s.item.into_iter().map(|i| i.user).collect())
        .unwrap_or_default();
    assert_eq!(by, ["self", "all"]);

    let R::DescribeAvailabilityZones(zones) =
        parsed(&recorded, "DescribeAvailabilityZones", "ZoneName.1")
    else {
        panic!("DescribeAvailabilityZones");
    };
    assert_eq!(zones.availability_zone_set.item[0].zone_name, "verbose");

    let R::DescribeImageAttribute(attribute) =
        parsed(&recorded, "DescribeImageAttribute", "Attribute")
    else {
        panic!("DescribeImageAttribute");
    };
    assert!(matches!(
        attribute.describe_image_attributes_group,
        ec2::DescribeImageAttributesGroup::LaunchPermission(_)
    ));
}

#[test]
fn euca2ools_3_requests_carry_their_values() {
    let Some(recorded) = captured("euca2ools-3.4.1_requestbuilder-0.7.1.jsonl") else {
        return;
    };
    let R::AuthorizeSecurityGroupIngress(ingress) = parsed(
        &recorded,
        "AuthorizeSecurityGroupIngress",
        "IpPermissions.1.IpProtocol",
    ) else {
        panic!("AuthorizeSecurityGroupIngress");
    };
    let rule = &ingress.ip_permissions.item[0];
    assert_eq!(rule.ip_ranges.item[0].cidr_ip, "0.0.0.0/0");
    assert_eq!((rule.from_port, rule.to_port), (22, 22));

    let R::ModifyImageAttribute(modify) = parsed(
        &recorded,
        "ModifyImageAttribute",
        "LaunchPermission.Add.1.Group",
    ) else {
        panic!("ModifyImageAttribute");
    };
    assert_eq!(
        modify.choice,
        ec2::ModifyImageAttributeTypeChoice::LaunchPermission(
            ec2::LaunchPermissionOperationType::Add(ec2::LaunchPermissionListType {
                item: vec![ec2::LaunchPermissionItemType::Group("all".into())]
            })
        )
    );

    let R::DetachVolume(detach) = parsed(&recorded, "DetachVolume", "Force") else {
        panic!("DetachVolume");
    };
    assert_eq!(detach.force, Some(false));

    let snapshots = find(&recorded, "DescribeSnapshots", "RestorableBy.1")
        .parse()
        .expect("DescribeSnapshots");
    assert_eq!(
        snapshots.filters,
        [Filter {
            name: "restorable-by".into(),
            values: vec!["self".into()]
        }]
    );
}

/// Every operation of the contract, as botocore serializes it, reads into its request.
#[test]
fn botocore_requests_of_every_operation_parse() {
    let recorded = requests(&["botocore"]);
    for request in &recorded {
        let parsed = request
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e} ({:?})", request.action, request.params));
        let operation = match &parsed.request {
            Ec2Request::Ec2(r) => r.operation().name,
            Ec2Request::Additions(r) => r.operation().name,
        };
        assert_eq!(operation, request.action);
    }
    for operation in &ec2::AMAZON_EC2_PORT_TYPE_OPERATIONS {
        assert!(
            recorded.iter().any(|r| r.action == operation.name),
            "no botocore request of {}",
            operation.name
        );
    }
    let parse_one = |action: &str, key: &str| {
        find(&recorded, action, key)
            .parse()
            .unwrap_or_else(|e| panic!("{action}: {e}"))
    };

    let register = parse_one("RegisterImage", "Name");
    assert_eq!(
        register.later.get("Name").map(String::as_str),
        Some("image")
    );
    let R::RegisterImage(register) = ec2(register) else {
        panic!("RegisterImage");
    };
    assert_eq!(register.image_location, "bucket/image.manifest.xml");

    let R::ModifyImageAttribute(remove) = ec2(parse_one(
        "ModifyImageAttribute",
        "LaunchPermission.Remove.1.UserId",
    )) else {
        panic!("ModifyImageAttribute");
    };
    assert_eq!(
        remove.choice,
        ec2::ModifyImageAttributeTypeChoice::LaunchPermission(
            ec2::LaunchPermissionOperationType::Remove(ec2::LaunchPermissionListType {
                item: vec![ec2::LaunchPermissionItemType::UserId("000100729354".into())]
            })
        )
    );
    let R::ModifyImageAttribute(codes) = ec2(parse_one("ModifyImageAttribute", "ProductCode.1"))
    else {
        panic!("ModifyImageAttribute");
    };
    assert_eq!(
        codes.choice,
        ec2::ModifyImageAttributeTypeChoice::ProductCodes(ec2::ProductCodeListType {
            item: vec![ec2::ProductCodeItemType::ProductCode("774F4FF8".into())]
        })
    );

    let R::DescribeImageAttribute(kernel) = ec2(parse_one("DescribeImageAttribute", "Attribute"))
    else {
        panic!("DescribeImageAttribute");
    };
    assert!(matches!(
        kernel.describe_image_attributes_group,
        ec2::DescribeImageAttributesGroup::Kernel(_)
    ));

    let R::CreateVolume(volume) = ec2(parse_one("CreateVolume", "Size")) else {
        panic!("CreateVolume");
    };
    assert_eq!(
        (volume.size.as_deref(), volume.availability_zone.as_str()),
        (Some("1"), "zone1")
    );

    let R::DeleteSecurityGroup(delete) = ec2(parse_one("DeleteSecurityGroup", "GroupId")) else {
        panic!("DeleteSecurityGroup");
    };
    assert_eq!(delete.group_name, "sg-11111111");

    let R::RevokeSecurityGroupIngress(revoke) =
        ec2(parse_one("RevokeSecurityGroupIngress", "GroupId"))
    else {
        panic!("RevokeSecurityGroupIngress");
    };
    assert_eq!(revoke.group_name, "sg-11111111");
    let pair = &revoke.ip_permissions.item[0].groups.item[0];
    assert_eq!(
        (pair.user_id.as_str(), pair.group_name.as_str()),
        ("000100729354", "g2")
    );

    let snapshots = parse_one("DescribeSnapshots", "Owner.1");
    assert_eq!(
        snapshots.filters,
        [Filter {
            name: "owner-id".into(),
            values: vec!["self".into()]
        }]
    );
}

#[test]
fn botocore_requests_parse_with_their_filters() {
    let recorded = requests(&["botocore"]);
    let [run, ingress, describe, account, groups, ..] = recorded.as_slice() else {
        panic!("five botocore requests expected");
    };

    let R::RunInstances(run) = ec2(run.parse().expect("RunInstances")) else {
        panic!("RunInstances");
    };
    let groups_named: Vec<&str> = run
        .group_set
        .item
        .iter()
        .map(|g| g.group_id.as_str())
        .collect();
    assert_eq!(groups_named, ["default", "web", "sg-11111111"]);
    let mapping = run.block_device_mapping.expect("block device mapping");
    assert_eq!(mapping.item[0].device_name, "/dev/sdb");
    assert_eq!(mapping.item[0].virtual_name, "ephemeral0");
    assert_eq!(run.monitoring.and_then(|m| m.enabled), Some(false));

    let R::AuthorizeSecurityGroupIngress(ingress) = ec2(ingress.parse().expect("ingress")) else {
        panic!("AuthorizeSecurityGroupIngress");
    };
    let cidrs: Vec<&str> = ingress.ip_permissions.item[0]
        .ip_ranges
        .item
        .iter()
        .map(|r| r.cidr_ip.as_str())
        .collect();
    assert_eq!(cidrs, ["10.0.0.0/8", "192.168.0.0/16"]);
    let all = &ingress.ip_permissions.item[1];
    assert_eq!(
        (all.ip_protocol.as_str(), all.from_port, all.to_port),
        ("-1", -1, -1)
    );
    assert_eq!(all.groups.item[0].group_name, "sg-22222222");

    let describe = describe.parse().expect("DescribeInstances");
    assert_eq!(
        describe.filters,
        [Filter {
            name: "instance-state-name".into(),
            values: vec!["running".into(), "pending".into()]
        }]
    );
    let R::DescribeInstances(describe) = ec2(describe) else {
        panic!("DescribeInstances");
    };
    assert_eq!(describe.instances_set.item[0].instance_id, "i-12345678");

    let Ec2Request::Additions(A::DescribeAccountAttributes(account)) =
        account.parse().expect("DescribeAccountAttributes").request
    else {
        panic!("DescribeAccountAttributes");
    };
    let names: Vec<String> = account
        .account_attribute_name_set
        .map(|s| s.item.into_iter().map(|i| i.attribute_name).collect())
        .unwrap_or_default();
    assert_eq!(names, ["supported-platforms"]);

    let R::DescribeSecurityGroups(groups) = ec2(groups.parse().expect("groups")) else {
        panic!("DescribeSecurityGroups");
    };
    let named: Vec<&str> = groups
        .security_group_set
        .item
        .iter()
        .map(|g| g.group_name.as_str())
        .collect();
    assert_eq!(named, ["default", "sg-11111111"]);
}

/// An action, its parameters, and the error they must give.
type BadRequest = (
    &'static str,
    &'static [(&'static str, &'static str)],
    QueryError,
);

fn query(action: &str, pairs: &[(&str, &str)]) -> Result<Ec2QueryRequest, QueryError> {
    parse(action, QueryParams::new(pairs.iter().copied())?)
}

#[test]
fn bad_requests_get_ec2_error_codes() {
    let cases: [BadRequest; 5] = [
        (
            "DescribeInstances",
            &[("InstanceId.1", "i-1"), ("Bogus", "x")],
            QueryError::UnknownParameter("Bogus".into()),
        ),
        (
            "RunInstances",
            &[
                ("ImageId", "emi-1"),
                ("MaxCount", "1"),
                ("InstanceType", "m1.small"),
            ],
            QueryError::MissingParameter("MinCount".into()),
        ),
        (
            "RunInstances",
            &[
                ("ImageId", "emi-1"),
                ("MinCount", "one"),
                ("MaxCount", "1"),
                ("InstanceType", "m1.small"),
            ],
            QueryError::InvalidParameterValue {
                parameter: "MinCount".into(),
                value: "one".into(),
                reason: String::new(),
            },
        ),
        (
            "LaunchMissiles",
            &[],
            QueryError::InvalidAction("LaunchMissiles".into()),
        ),
        (
            "DescribeImageAttribute",
            &[("ImageId", "emi-1"), ("Attribute", "colour")],
            QueryError::InvalidParameterValue {
                parameter: "Attribute".into(),
                value: "colour".into(),
                reason: String::new(),
            },
        ),
    ];
    for (action, pairs, expected) in cases {
        let error = query(action, pairs).expect_err(action);
        assert_eq!(error.code(), expected.code(), "{action}: {error}");
        match (&error, &expected) {
            (
                QueryError::InvalidParameterValue {
                    parameter, value, ..
                },
                QueryError::InvalidParameterValue {
                    parameter: p,
                    value: v,
                    ..
                },
            ) => assert_eq!((parameter, value), (p, v)),
            _ => assert_eq!(error, expected),
        }
    }
}

/// Regression guard: an item list with a gap or out of order keeps the clients' order by
/// index, and a request that takes no parameters refuses any.
#[test]
fn lists_follow_their_indices_and_empty_requests_take_nothing() {
    let R::DescribeInstances(described) = ec2(query(
        "DescribeInstances",
        &[
            ("InstanceId.10", "i-c"),
            ("InstanceId.2", "i-b"),
            ("InstanceId.1", "i-a"),
        ],
    )
    .expect("DescribeInstances")) else {
        panic!("DescribeInstances");
    };
    let ids: Vec<&str> = described
        .instances_set
        .item
        .iter()
        .map(|i| i.instance_id.as_str())
        .collect();
    assert_eq!(ids, ["i-a", "i-b", "i-c"]);
    assert_eq!(
        query("AllocateAddress", &[("Domain", "vpc")]).expect_err("no Domain in 2009-04-04"),
        QueryError::UnknownParameter("Domain".into())
    );
}

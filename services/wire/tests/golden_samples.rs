//! The code of the generator's golden tests (`codegen/tests/golden/<case>/expected.rs`)
//! compiles, reads each case's `sample.xml` into the values it describes, writes them back
//! and reads the result to equal values. With the `sample` feature, every case's sample
//! value round-trips too.

#![allow(clippy::unwrap_used)]

use std::fmt::Debug;
use std::path::Path;

use xmlbind::{ErrorKind, FromXml, Limits, ToXml, XmlWriter};

macro_rules! golden_case {
    ($($case:ident),* $(,)?) => {$(
        #[allow(dead_code, reason = "each case's code is compiled whole; tests use parts")]
        mod $case {
            include!(concat!("../../../codegen/tests/golden/", stringify!($case), "/expected.rs"));
        }
    )*};
}

golden_case!(
    sequence,
    extension_abstract_base,
    optional,
    repeated,
    nillable,
    enumeration,
    choice,
    polymorphic,
    attributes,
    include,
    recursion,
    query,
    query_aws,
    catalog,
);

fn parse(xml: &str) -> xmlbind::Document {
    xmlbind::Document::parse(xml.as_bytes(), &Limits::default()).unwrap()
}

/// Writes `value` as the element `root` names, reads it back and checks it is unchanged.
fn round_trip<T: FromXml + ToXml + PartialEq + Debug>(value: &T, root: &xmlbind::Name) -> String {
    let mut w = XmlWriter::new();
    value.to_xml(&mut w, root.namespace.as_deref(), &root.local);
    let xml = w.finish();
    let back = T::from_xml(parse(&xml).root()).unwrap_or_else(|e| panic!("{e} in {xml}"));
    assert_eq!(&back, value, "changed by a round trip through {xml}");
    xml
}

/// Reads the case's sample.xml and checks that it survives a round trip.
fn sample<T: FromXml + ToXml + PartialEq + Debug>(case: &str) -> (T, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../codegen/tests/golden")
        .join(case)
        .join("sample.xml");
    let root = parse(&std::fs::read_to_string(&path).unwrap());
    let value = T::from_xml(root.root()).unwrap_or_else(|e| panic!("{case}: {e}"));
    let written = round_trip(&value, root.root().name());
    (value, written)
}

fn error<T: FromXml + Debug>(xml: &str) -> ErrorKind {
    T::from_xml(parse(xml).root()).unwrap_err().kind
}

#[test]
fn sequence_reads_every_builtin_type() {
    let (order, _) = sample::<sequence::OrderType>("sequence");
    assert_eq!(order.id, 17);
    assert_eq!(order.customer_name, "Ada & Co");
    assert_eq!(order.total, 12.5);
    assert_eq!(order.weight, -0.25);
    assert_eq!(order.placed.as_str(), "2009-11-12T04:26:40Z");
    assert!(order.paid);
    assert_eq!(order.reference, -9_000_000_000);
    assert_eq!(order.count, u32::MAX);
    assert_eq!(order.bytes, u64::MAX);
    assert_eq!(order.signature.0, b"hello");
    assert_eq!(order.kind, "s:thing");
    assert_eq!(order.r#type, "t");
    assert!(!order.r#return);
    assert_eq!(sequence::NAMESPACE, "urn:golden:sequence");
    assert!(sequence::WSDL.contains("Shop#PlaceOrder"));
}

#[test]
fn extension_puts_inherited_fields_first() {
    let (run, written) =
        sample::<extension_abstract_base::RunInstanceWithKernelType>("extension_abstract_base");
    assert_eq!(run.correlation_id.as_deref(), Some("c-1"));
    assert_eq!(run.user_id, None);
    assert_eq!(run.r#return, Some(true));
    assert_eq!(
        (run.image_id.as_str(), run.vlan, run.kernel_id.as_str()),
        ("emi-12345678", 10, "eki-87654321")
    );
    let order = ["correlationId", "return", "imageId", "vlan", "kernelId"]
        .map(|name| written.find(name).unwrap());
    assert!(order.is_sorted(), "{written}");
    // Base fields after the extension's own are out of schema order.
    let late = r#"<r xmlns="urn:golden:ext"><imageId>e</imageId><vlan>1</vlan><kernelId>k</kernelId><userId>u</userId></r>"#;
    assert!(matches!(
        error::<extension_abstract_base::RunInstanceWithKernelType>(late),
        ErrorKind::UnexpectedElement { .. }
    ));
}

#[test]
fn optional_elements_may_be_left_out_and_unqualified_ones_have_no_namespace() {
    let (profile, _) = sample::<optional::ProfileType>("optional");
    assert_eq!(profile.name, "Grace");
    assert_eq!(profile.nickname, None);
    assert_eq!(profile.age, Some(85));
    let address = profile.address.unwrap();
    assert_eq!(
        (address.street.as_str(), address.city),
        ("Main Street 1", None)
    );
    assert_eq!(profile.born, None);
    assert_eq!(profile.qualified.as_deref(), Some("yes"));
    // A local element in the target namespace is not the unqualified `name`.
    let qualified = r#"<p xmlns="urn:golden:optional"><name>x</name></p>"#;
    assert!(matches!(
        error::<optional::ProfileType>(qualified),
        ErrorKind::UnexpectedElement { .. }
    ));
}

#[test]
fn repeated_elements_respect_their_bounds() {
    let (run, _) = sample::<repeated::RunInstancesType>("repeated");
    assert_eq!(run.instance_ids, ["i-00000001", "i-00000002", "i-00000003"]);
    assert!(run.group_names.is_empty());
    assert_eq!(run.network_index_list, [2, 3]);
    assert_eq!(
        run.volumes
            .iter()
            .map(|v| v.volume_id.as_str())
            .collect::<Vec<_>>(),
        ["vol-1", "vol-2"]
    );
    let volume = "<v:volumes><v:volumeId>x</v:volumeId></v:volumes>";
    let with = |volumes: usize| {
        format!(
            r#"<v:r xmlns:v="urn:golden:repeated"><v:instanceIds>i</v:instanceIds>{}</v:r>"#,
            volume.repeat(volumes)
        )
    };
    assert!(matches!(
        error::<repeated::RunInstancesType>(&with(1)),
        ErrorKind::TooFewOccurrences {
            min: 2,
            found: 1,
            ..
        }
    ));
    assert!(matches!(
        error::<repeated::RunInstancesType>(&with(4)),
        ErrorKind::TooManyOccurrences { max: 3, .. }
    ));
    assert!(repeated::RunInstancesType::from_xml(parse(&with(3)).root()).is_ok());
}

#[test]
fn nil_values_read_as_none_and_required_ones_are_written_as_nil() {
    let (reply, written) = sample::<nillable::ReplyType>("nillable");
    assert_eq!(reply.message, None);
    assert_eq!(reply.status.map(|s| s.code), Some(3));
    assert_eq!(reply.status_message, None);
    assert_eq!(reply.instance_ids, ["i-1", "i-3"]);
    assert!(
        written.contains(r#"message xsi:nil="true""#) || written.contains(r#":nil="true""#),
        "{written}"
    );
    // Nillable is not optional: the element must be there.
    let missing = r#"<r xmlns="urn:golden:nillable"><status><code>1</code></status></r>"#;
    assert!(matches!(
        error::<nillable::ReplyType>(missing),
        ErrorKind::UnexpectedElement { .. }
    ));
}

#[test]
fn enumerations_keep_their_lexical_values() {
    use enumeration::{GrantTypeSize, Permission, StateName};
    let (grant, written) = sample::<enumeration::GrantType>("enumeration");
    assert_eq!(grant.state, StateName::Extant);
    assert_eq!(grant.bucket, "photos");
    assert_eq!(grant.permission, Permission::ReadAcp);
    assert_eq!(grant.more, [Permission::FullControl, Permission::Write]);
    assert_eq!(grant.size, GrantTypeSize::Large);
    assert!(
        written.contains(">READ_ACP<") && written.contains(r#"state="Extant""#),
        "{written}"
    );
    let wrong = r#"<g xmlns="urn:golden:enumeration" state="Extant"><bucket>b</bucket><permission>read</permission><size>small</size></g>"#;
    assert!(matches!(
        error::<enumeration::GrantType>(wrong),
        ErrorKind::InvalidValue {
            kind: "Permission",
            ..
        }
    ));
}

#[test]
fn choices_read_the_alternative_present() {
    use choice::{
        AttributeGroup, EmptyElementType, LaunchPermissionOperationType,
        ModifyImageAttributeTypeChoice, ModifyImageAttributeTypeChoice3,
    };
    let (modify, _) = sample::<choice::ModifyImageAttributeType>("choice");
    assert_eq!(modify.request_id, "r-1");
    assert_eq!(
        modify.choice,
        ModifyImageAttributeTypeChoice::LaunchPermission(LaunchPermissionOperationType::Remove(
            "all".into()
        ))
    );
    assert_eq!(modify.choice2, None);
    assert_eq!(
        modify.choice3,
        [
            ModifyImageAttributeTypeChoice3::Tag("a".into()),
            ModifyImageAttributeTypeChoice3::Flag(2),
            ModifyImageAttributeTypeChoice3::Tag("b".into())
        ]
    );
    assert_eq!(
        modify.attribute_group,
        AttributeGroup::Ramdisk(EmptyElementType {})
    );
    let missing =
        r#"<m xmlns="urn:golden:choice"><requestId>r</requestId><imageId>i</imageId><kernel/></m>"#;
    match error::<choice::ModifyImageAttributeType>(missing) {
        ErrorKind::UnexpectedElement { expected, .. } => {
            assert!(expected.starts_with("one of"), "{expected}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn derived_types_are_chosen_by_xsi_type_whatever_the_prefix() {
    use polymorphic::{AnyShape, Grantee};
    let (acl, written) = sample::<polymorphic::AccessControlList>("polymorphic");
    let grantees: Vec<&Grantee> = acl.grant.iter().map(|g| &g.grantee).collect();
    assert!(
        matches!(grantees[0], Grantee::CanonicalUser(u) if u.id == "a1b2" && u.display_name.as_deref() == Some("owner"))
    );
    assert!(matches!(grantees[1], Grantee::Group(g) if g.uri.ends_with("AllUsers")));
    assert!(
        matches!(grantees[2], Grantee::AmazonCustomerByEmail(c) if c.email_address == "ada@example.com")
    );
    assert!(matches!(&acl.shape[0], AnyShape::Shape(s) if s.name == "plain"));
    assert!(matches!(&acl.shape[1], AnyShape::Circle(c) if c.radius == 2.5));
    assert_eq!(
        written.matches(":type=").count(),
        4,
        "xsi:type on each grantee and the circle only: {written}"
    );
    let unknown = r#"<g xmlns="urn:golden:polymorphic" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Grantee xsi:type="Robot"/><Permission>p</Permission></g>"#;
    assert_eq!(
        error::<polymorphic::Grant>(unknown),
        ErrorKind::UnknownType("{urn:golden:polymorphic}Robot".into())
    );
    // The base is abstract: without xsi:type nothing can be read.
    let untyped = r#"<g xmlns="urn:golden:polymorphic"><Grantee/><Permission>p</Permission></g>"#;
    assert!(matches!(
        error::<polymorphic::Grant>(untyped),
        ErrorKind::MissingAttribute(_)
    ));
}

#[test]
fn attributes_simple_content_and_mixed_content() {
    let (item, written) = sample::<attributes::ItemType>("attributes");
    assert_eq!(
        (item.id, item.note.as_deref(), item.lang.as_deref()),
        (7, None, Some("en"))
    );
    assert_eq!(
        (
            item.price.value,
            item.price.currency.as_str(),
            item.price.approximate
        ),
        (19.99, "EUR", None)
    );
    assert_eq!(item.location, None);
    assert_eq!(item.user_data.data, "aGVsbG8=");
    assert!(
        written.contains(r#"version="1.0""#) && written.contains(r#"encoding="base64""#),
        "{written}"
    );
    let wrong_version =
        r#"<u xmlns="urn:golden:attributes" version="2.0" encoding="base64"><data>d</data></u>"#;
    assert!(matches!(
        error::<attributes::UserDataType>(wrong_version),
        ErrorKind::InvalidValue { .. }
    ));
    let no_currency = r#"<p xmlns="urn:golden:attributes">1</p>"#;
    assert!(matches!(
        error::<attributes::PriceType>(no_currency),
        ErrorKind::MissingAttribute(_)
    ));
}

#[test]
fn included_schema_types_and_anonymous_types() {
    let (list, _) = sample::<include::ListBucket>("include");
    assert_eq!(list.bucket, "photos");
    let entries: Vec<_> = list
        .entry
        .iter()
        .map(|e| (e.key.as_str(), e.status.code))
        .collect();
    assert_eq!(entries, [("a.jpg", 200), ("b.jpg", 404)]);
}

#[test]
fn recursive_types_nest() {
    let (folder, _) = sample::<recursion::FolderType>("recursion");
    assert_eq!(folder.name, "home");
    assert_eq!(
        folder.parent.as_ref().map(|p| p.name.as_str()),
        Some("root")
    );
    assert_eq!(folder.children.len(), 2);
    let link = folder.children[1].link.as_ref().unwrap();
    assert_eq!(link.target.name, "shared");
}

/// A form of the catalog's request, filled as the sample, builds the sample: a fixed and a
/// plain attribute, an enumeration, a nil-able value, a choice, a derived type's variant
/// (`xsi:type`) and a recursive type's rows.
#[test]
fn a_catalog_form_builds_the_sample() {
    use std::collections::HashMap;
    use wire::catalog::form;

    let (expected, _) = sample::<catalog::PlantType>("catalog");
    let operation = catalog::GARDEN_PORT_CATALOG.operation("Plant").unwrap();
    let form = form::layout(operation, &|_| None);
    let values: HashMap<&str, &str> = [
        ("@tag", "rose"),
        ("colour", "red"),
        ("height", "3"),
        ("seed", "s1"),
        ("shape/(circle)/name", "c"),
        ("shape/(circle)/radius", "1.5"),
        ("root/label", "a"),
        ("root/child[1]/label", "b"),
    ]
    .into();
    let paths: Vec<&str> = form.inputs().into_iter().map(form::Input::path).collect();
    for path in values.keys() {
        assert!(paths.contains(path), "{path} not in {paths:?}");
    }
    let request = form::build(&form, &|path| values.get(path).copied()).unwrap();
    let mut w = XmlWriter::new();
    request.to_xml(&mut w, request.namespace, request.name);
    let built = catalog::PlantType::from_xml(parse(&w.finish()).root()).unwrap();
    assert_eq!(built, expected);
}

/// Every field of every case's root type filled, written and read back.
#[cfg(feature = "sample")]
#[test]
fn samples_round_trip() {
    use xmlbind::{Name, Sample};
    fn check<T: Sample + FromXml + ToXml + PartialEq + Debug>(namespace: &str) {
        round_trip(
            &T::sample(),
            &Name {
                namespace: Some(namespace.into()),
                local: "root".into(),
                prefix: None,
            },
        );
    }
    check::<sequence::OrderType>(sequence::NAMESPACE);
    check::<extension_abstract_base::RunInstanceWithKernelType>(extension_abstract_base::NAMESPACE);
    check::<optional::ProfileType>(optional::NAMESPACE);
    check::<repeated::RunInstancesType>(repeated::NAMESPACE);
    check::<nillable::ReplyType>(nillable::NAMESPACE);
    check::<enumeration::GrantType>(enumeration::NAMESPACE);
    check::<choice::ModifyImageAttributeType>(choice::NAMESPACE);
    check::<polymorphic::AccessControlList>(polymorphic::NAMESPACE);
    check::<attributes::ItemType>(attributes::NAMESPACE);
    check::<include::ListBucket>(include::NAMESPACE);
    check::<recursion::FolderType>(recursion::NAMESPACE);
    let full = sequence::OrderType::sample();
    assert_eq!(full.placed.as_str(), "2009-11-12T04:26:40Z");
    assert!(optional::ProfileType::sample()
        .address
        .is_some_and(|a| a.city.is_some()));
    assert_eq!(repeated::RunInstancesType::sample().volumes.len(), 2);
}

/// The Query binding reads the same value from parameters as the XML binding from
/// `sample.xml`: renamed list and single value, `Name.N.Field` items with lists of their own,
/// a choice, a named group of empty elements; nothing is left over.
#[test]
fn query_parameters_read_as_the_xml_does() {
    use wire::query::{FromQuery, QueryError, QueryParams};
    let (from_xml, _) = sample::<query::LaunchType>("query");
    let mut params = QueryParams::new([
        ("ImageId", "emi-1"),
        ("Count", "2"),
        ("SecurityGroup.1", "default"),
        ("UserData", "eA=="),
        ("Rules.1.Protocol", "tcp"),
        ("Rules.1.Port", "22"),
        ("Rules.1.Ranges.1.Cidr", "10.0.0.0/8"),
        ("ById", "7"),
        ("Ramdisk", ""),
    ])
    .unwrap();
    let from_query = query::LaunchType::from_query(&mut params, "").unwrap();
    assert_eq!(from_query, from_xml);
    assert_eq!(params.finish(), Ok(()));

    let mut nested = QueryParams::new([
        ("ImageId", "emi-1"),
        ("Count", "1"),
        ("Id.2", "b"),
        ("Id.1", "a"),
        ("Placement.Zone", "z"),
        ("ByName.Spread", "true"),
        ("Kernel", ""),
        ("Debug", ""),
    ])
    .unwrap();
    let launch = query::LaunchType::from_query(&mut nested, "").unwrap();
    let ids: Vec<String> = launch
        .ids_set
        .unwrap()
        .item
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(launch.placement.unwrap().zone.as_deref(), Some("z"));
    assert_eq!(
        launch.choice,
        query::LaunchTypeChoice::ByName(query::PlacementType {
            zone: None,
            spread: Some(true)
        })
    );
    assert!(launch.debug.is_some());
    assert!(matches!(
        launch.attribute_group,
        query::AttributeGroup::Kernel(_)
    ));
    assert_eq!(nested.finish(), Ok(()));

    let mut neither =
        QueryParams::new([("ImageId", "emi-1"), ("Count", "1"), ("Kernel", "")]).unwrap();
    assert_eq!(
        query::LaunchType::from_query(&mut neither, ""),
        Err(QueryError::MissingParameter("ByName|ById".into()))
    );
}

/// The AWS Query binding reads `Name.member.N` lists (of values and of structures) and
/// nested structures into what the XML reads.
#[test]
fn aws_query_parameters_read_as_the_xml_does() {
    use wire::query::{FromQuery, QueryError, QueryParams};
    let (from_xml, _) = sample::<query_aws::TagUserType>("query_aws");
    let mut params = QueryParams::new([
        ("UserName", "alice"),
        ("MaxItems", "10"),
        ("Status", "Inactive"),
        ("Owner.Key", "team"),
        ("Tags.member.2.Key", "b"),
        ("Tags.member.1.Key", "a"),
        ("Tags.member.1.Value", "1"),
        ("PolicyNames.member.1", "p1"),
        ("PolicyNames.member.2", "p2"),
    ])
    .unwrap();
    let from_query = query_aws::TagUserType::from_query(&mut params, "").unwrap();
    assert_eq!(from_query, from_xml);
    assert_eq!(params.finish(), Ok(()));

    // Empty lists as botocore sends them (the bare name), optional parts left out.
    let mut sparse = QueryParams::new([("UserName", "bob"), ("Tags", "")]).unwrap();
    let read = query_aws::TagUserType::from_query(&mut sparse, "").unwrap();
    assert!(read.tags.member.is_empty() && read.policy_names.is_none() && read.owner.is_none());
    assert_eq!(sparse.finish(), Ok(()));

    let mut bad = QueryParams::new([("UserName", "c"), ("Status", "Paused")]).unwrap();
    assert!(matches!(
        query_aws::TagUserType::from_query(&mut bad, ""),
        Err(QueryError::InvalidParameterValue { .. })
    ));
}

/// A request read from Query parameters reaches the handler's method, and its reply is the
/// operation's response element, as over SOAP.
#[tokio::test]
async fn a_query_request_calls_its_handler_method() {
    struct Echo;
    impl query::Launcher for Echo {
        async fn launch(
            &self,
            request: query::LaunchType,
            _: soap::RequestContext,
        ) -> Result<query::LaunchResponseType, soap::Fault> {
            Ok(query::LaunchResponseType {
                request_id: request.image_id,
            })
        }
        async fn ping(
            &self,
            _: query::PingType,
            _: soap::RequestContext,
        ) -> Result<query::LaunchResponseType, soap::Fault> {
            Err(soap::Fault::server("not here"))
        }
    }
    let mut params = wire::query::QueryParams::new([
        ("ImageId", "emi-9"),
        ("Count", "1"),
        ("ById", "1"),
        ("Kernel", ""),
    ])
    .unwrap();
    let request = query::LauncherRequest::from_query("Launch", &mut params).unwrap();
    assert_eq!(request.operation().name, "Launch");
    let reply = request
        .call(&Echo, soap::RequestContext::default())
        .await
        .unwrap();
    assert_eq!(
        (reply.namespace, reply.local),
        (query::NAMESPACE, "LaunchResponse")
    );
    let mut w = XmlWriter::new();
    reply
        .body
        .to_xml(&mut w, Some(reply.namespace), reply.local);
    let written = parse(&w.finish());
    let back = query::LaunchResponseType::from_xml(written.root()).unwrap();
    assert_eq!(back.request_id, "emi-9");
    assert_eq!(
        query::LauncherRequest::from_query("Launch2", &mut params),
        Err(wire::query::QueryError::InvalidAction("Launch2".into()))
    );
}

//! The CLC's EC2 Query requests: one entry point, [`parse`], from an action and its
//! parameters to a typed request of [`crate::ec2`] or [`crate::ec2_additions`], with the
//! `Filter.N` parameters beside it.
//!
//! The generated binding reads the parameters as the 2009-04-04 API names them. Before it,
//! [`parse`] rewrites the spellings real clients send that name no 2009-04-04 field:
//! - the flat ingress rule of the API before 2008 (euca2ools 1.x: `IpProtocol`, `FromPort`,
//!   `ToPort`, `CidrIp`, `SourceSecurityGroupName`, `SourceSecurityGroupOwnerId`) becomes
//!   `IpPermissions.1.…`; a grant to a group without a protocol becomes tcp and udp 1-65535
//!   and icmp -1, as EC2 itself listed such a grant;
//! - `GroupId` (later APIs: groups by id) is carried in the group name fields (`GroupName`,
//!   `GroupName.N`, `…Groups.N.GroupName`, RunInstances' `SecurityGroup.N`); the CLC tells
//!   `sg-` ids from names;
//! - an ingress rule's `UserId` left out (every client but the oldest) is empty, meaning the
//!   requester, and so are the ports of a rule that gives none (all ports);
//! - `Attribute=…` (image attributes) names the choice's element: `Attribute=kernel` is
//!   `Kernel`; ModifyImageAttribute's `OperationType` with `UserId.N`/`UserGroup.N` is
//!   `LaunchPermission.Add.N.UserId`/`.Group`, and `ProductCode.N` is
//!   `ProductCodes.N.ProductCode`;
//! - GetConsoleOutput's `InstanceId.1` (euca2ools 1.x) is `InstanceId`;
//! - DescribeSnapshots' `Owner.N` and `RestorableBy.N` (from 2009-10-31) become the filters
//!   `owner-id` and `restorable-by`.
//!
//! A few parameters of later versions that current clients send and that no 2009-04-04 field
//! holds ([`LATER_PARAMETERS`], e.g. the `Name` boto3 requires for RegisterImage) are handed
//! over as they are in [`Ec2QueryRequest::later`]; any other unused parameter is an error.

use std::collections::BTreeMap;

use xmlbind::{ElementRef, XmlError};

use crate::query::{Filter, QueryError, QueryParams};
use crate::{ec2, ec2_additions};

/// A request of either EC2 portType.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per request, built once and moved into its handler"
)]
pub enum Ec2Request {
    Ec2(ec2::AmazonEc2PortTypeRequest),
    Additions(ec2_additions::AmazonEc2AdditionsPortTypeRequest),
}

impl Ec2Request {
    /// Reads the request of `operation`, of either portType, from its SOAP Body element (in
    /// 2009-04-04's namespace); `None` when neither portType has the operation.
    pub fn from_body(operation: &str, body: ElementRef<'_>) -> Option<Result<Self, XmlError>> {
        ec2::AmazonEc2PortTypeRequest::from_body(operation, body)
            .map(|read| read.map(Self::Ec2))
            .or_else(|| {
                ec2_additions::AmazonEc2AdditionsPortTypeRequest::from_body(operation, body)
                    .map(|read| read.map(Self::Additions))
            })
    }

    /// The operation this request is for.
    pub fn operation(&self) -> &'static soap::Operation {
        match self {
            Self::Ec2(request) => request.operation(),
            Self::Additions(request) => request.operation(),
        }
    }
}

/// What one request asks: the typed request, its filters, and the later-version
/// parameters of [`LATER_PARAMETERS`] it carries (a SOAP request, in 2009-04-04's API, has
/// neither filters nor later parameters: [`Ec2QueryRequest::plain`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Ec2QueryRequest {
    pub request: Ec2Request,
    pub filters: Vec<Filter>,
    pub later: BTreeMap<String, String>,
}

impl Ec2QueryRequest {
    /// `request` alone, without filters or later-version parameters.
    pub fn plain(request: Ec2Request) -> Self {
        Self {
            request,
            filters: Vec::new(),
            later: BTreeMap::new(),
        }
    }
}

/// Per action, parameters of EC2 versions after 2009-04-04 that current clients send and
/// the CLC may honour; they reach it in [`Ec2QueryRequest::later`].
pub const LATER_PARAMETERS: [(&str, &[&str]); 5] = [
    (
        "RegisterImage",
        &[
            "Name",
            "Description",
            "Architecture",
            "KernelId",
            "RamdiskId",
            "RootDeviceName",
        ],
    ),
    ("CreateSnapshot", &["Description"]),
    ("GetConsoleOutput", &["Latest"]),
    // Idempotency (2010-11-15); boto3 fills CreateVolume's in by itself.
    ("RunInstances", &["ClientToken"]),
    ("CreateVolume", &["ClientToken"]),
];

/// Reads the request of `action` from `params` (built with [`QueryParams::new`], which
/// leaves the protocol's own parameters out). Every parameter must be used: one left over is
/// [`QueryError::UnknownParameter`].
pub fn parse(action: &str, mut params: QueryParams) -> Result<Ec2QueryRequest, QueryError> {
    let mut filters = params.take_filters()?;
    match action {
        "AuthorizeSecurityGroupIngress" | "RevokeSecurityGroupIngress" => {
            flat_ingress_rule(&mut params)?;
            groups_by_id(&mut params);
            ingress_defaults(&mut params);
        }
        "DeleteSecurityGroup" | "DescribeSecurityGroups" => groups_by_id(&mut params),
        "RunInstances" => append(&mut params, "SecurityGroupId", "SecurityGroup"),
        "DescribeImageAttribute" | "ResetImageAttribute" => attribute_element(&mut params)?,
        "ModifyImageAttribute" => modify_image_attribute(&mut params)?,
        "GetConsoleOutput" => {
            if let Some(id) = params.take("InstanceId.1") {
                params.insert("InstanceId", id);
            }
        }
        "DescribeSnapshots" => {
            for (parameter, filter) in [("Owner", "owner-id"), ("RestorableBy", "restorable-by")] {
                let values: Vec<String> = params.values(parameter)?;
                if !values.is_empty() {
                    filters.push(Filter {
                        name: filter.to_owned(),
                        values,
                    });
                }
            }
        }
        _ => {}
    }
    let mut later = BTreeMap::new();
    for (_, names) in LATER_PARAMETERS.iter().filter(|(a, _)| *a == action) {
        for name in *names {
            if let Some(value) = params.take(name) {
                later.insert((*name).to_owned(), value);
            }
        }
    }
    let request = match ec2::AmazonEc2PortTypeRequest::from_query(action, &mut params) {
        Ok(request) => Ec2Request::Ec2(request),
        Err(QueryError::InvalidAction(_)) => Ec2Request::Additions(
            ec2_additions::AmazonEc2AdditionsPortTypeRequest::from_query(action, &mut params)?,
        ),
        Err(error) => return Err(error),
    };
    params.finish()?;
    Ok(Ec2QueryRequest {
        request,
        filters,
        later,
    })
}

/// Moves `from.N` after the `to.M` already there.
fn append(params: &mut QueryParams, from: &str, to: &str) {
    let Ok(values) = params.values::<String>(from) else {
        return;
    };
    let mut next = params.values::<String>(to).unwrap_or_default();
    next.extend(values);
    for (index, value) in next.into_iter().enumerate() {
        params.insert(format!("{to}.{}", index + 1), value);
    }
}

/// The pre-2008 single rule, when no `IpPermissions.N` is given.
fn flat_ingress_rule(params: &mut QueryParams) -> Result<(), QueryError> {
    if params.has("IpPermissions") {
        return Ok(());
    }
    let protocol = params.take("IpProtocol");
    let from = params.take("FromPort");
    let to = params.take("ToPort");
    let cidr = params.take("CidrIp");
    let group = params.take("SourceSecurityGroupName");
    let owner = params.take("SourceSecurityGroupOwnerId");
    let rules: Vec<(String, String, String)> = match (protocol, from, to) {
        (Some(protocol), from, to) => vec![(
            protocol,
            from.unwrap_or_else(|| "-1".into()),
            to.unwrap_or_else(|| "-1".into()),
        )],
        (None, None, None) if group.is_some() => vec![
            ("tcp".into(), "1".into(), "65535".into()),
            ("udp".into(), "1".into(), "65535".into()),
            ("icmp".into(), "-1".into(), "-1".into()),
        ],
        (None, None, None) if cidr.is_none() => return Ok(()),
        // Ports or a range without a protocol.
        (None, _, _) => return Err(QueryError::MissingParameter("IpProtocol".to_owned())),
    };
    for (index, (protocol, from, to)) in rules.into_iter().enumerate() {
        let rule = format!("IpPermissions.{}", index + 1);
        params.insert(format!("{rule}.IpProtocol"), protocol);
        params.insert(format!("{rule}.FromPort"), from);
        params.insert(format!("{rule}.ToPort"), to);
        if let Some(cidr) = &cidr {
            params.insert(format!("{rule}.IpRanges.1.CidrIp"), cidr.clone());
        }
        if let Some(group) = &group {
            params.insert(format!("{rule}.Groups.1.GroupName"), group.clone());
            params.insert(
                format!("{rule}.Groups.1.UserId"),
                owner.clone().unwrap_or_default(),
            );
        }
    }
    Ok(())
}

/// `GroupId` and `GroupId.N`, and each rule's `Groups.M.GroupId`, into the name fields.
fn groups_by_id(params: &mut QueryParams) {
    if let Some(id) = params.take("GroupId") {
        params.insert("GroupName", id);
    }
    append(params, "GroupId", "GroupName");
    for rule in params.indices("IpPermissions") {
        for pair in params.indices(&format!("IpPermissions.{rule}.Groups")) {
            let pair = format!("IpPermissions.{rule}.Groups.{pair}");
            if let Some(id) = params.take(&format!("{pair}.GroupId")) {
                params.insert(format!("{pair}.GroupName"), id);
            }
        }
    }
}

/// An empty `UserId` (the requester) where clients leave it out, and all ports where a
/// rule gives none.
fn ingress_defaults(params: &mut QueryParams) {
    if !params.has("UserId") {
        params.insert("UserId", "");
    }
    for rule in params.indices("IpPermissions") {
        let rule = format!("IpPermissions.{rule}");
        for port in ["FromPort", "ToPort"] {
            let key = format!("{rule}.{port}");
            if !params.has(&key) {
                params.insert(key, "-1");
            }
        }
        for pair in params.indices(&format!("{rule}.Groups")) {
            let key = format!("{rule}.Groups.{pair}.UserId");
            if !params.has(&key) {
                params.insert(key, "");
            }
        }
    }
}

/// The image attributes of 2009-04-04, as `Attribute` names them.
const IMAGE_ATTRIBUTES: [&str; 5] = [
    "launchPermission",
    "productCodes",
    "kernel",
    "ramdisk",
    "blockDeviceMapping",
];

/// `Attribute=kernel` → the empty element `Kernel`.
fn attribute_element(params: &mut QueryParams) -> Result<(), QueryError> {
    let Some(attribute) = params.take("Attribute") else {
        return Ok(());
    };
    if !IMAGE_ATTRIBUTES.contains(&attribute.as_str()) {
        return Err(QueryError::InvalidParameterValue {
            parameter: "Attribute".into(),
            reason: format!("It must be one of {}.", IMAGE_ATTRIBUTES.join(", ")),
            value: attribute,
        });
    }
    params.insert(capitalized(&attribute), "");
    Ok(())
}

fn modify_image_attribute(params: &mut QueryParams) -> Result<(), QueryError> {
    let codes: Vec<String> = params.values("ProductCode")?;
    for (index, code) in codes.into_iter().enumerate() {
        params.insert(format!("ProductCodes.{}.ProductCode", index + 1), code);
    }
    let attribute = params.take("Attribute");
    let Some(operation) = params.take("OperationType") else {
        return Ok(());
    };
    let list = match operation.as_str() {
        "add" => "LaunchPermission.Add",
        "remove" => "LaunchPermission.Remove",
        _ => {
            return Err(QueryError::InvalidParameterValue {
                parameter: "OperationType".into(),
                value: operation,
                reason: "It must be add or remove.".into(),
            })
        }
    };
    if let Some(attribute) = attribute.filter(|a| a != "launchPermission") {
        return Err(QueryError::InvalidParameterValue {
            parameter: "Attribute".into(),
            value: attribute,
            reason: "OperationType goes with launchPermission.".into(),
        });
    }
    let users: Vec<String> = params.values("UserId")?;
    let groups: Vec<String> = params.values("UserGroup")?;
    let items = users
        .into_iter()
        .map(|user| ("UserId", user))
        .chain(groups.into_iter().map(|group| ("Group", group)));
    for (index, (field, value)) in items.enumerate() {
        params.insert(format!("{list}.{}.{field}", index + 1), value);
    }
    Ok(())
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn body(xml: &str) -> xmlbind::Document {
        xmlbind::Document::parse(xml.as_bytes(), &xmlbind::Limits::default()).unwrap()
    }

    #[test]
    fn soap_bodies_of_either_port_type_read_as_their_requests() {
        let keys = body(
            r#"<e:DescribeKeyPairs xmlns:e="http://ec2.amazonaws.com/doc/2009-04-04/">
                 <e:keySet><e:item><e:keyName>k</e:keyName></e:item></e:keySet>
               </e:DescribeKeyPairs>"#,
        );
        let Some(Ok(Ec2Request::Ec2(ec2::AmazonEc2PortTypeRequest::DescribeKeyPairs(read)))) =
            Ec2Request::from_body("DescribeKeyPairs", keys.root())
        else {
            panic!("not read as DescribeKeyPairs");
        };
        assert_eq!(read.key_set.item[0].key_name, "k");
        let attributes = body(
            r#"<DescribeAccountAttributes xmlns="http://ec2.amazonaws.com/doc/2009-04-04/"/>"#,
        );
        let read = Ec2Request::from_body("DescribeAccountAttributes", attributes.root());
        assert!(
            matches!(read, Some(Ok(Ec2Request::Additions(_)))),
            "{read:?}"
        );
        assert_eq!(
            read.unwrap().unwrap().operation().name,
            "DescribeAccountAttributes"
        );
        assert!(Ec2Request::from_body("Frobnicate", keys.root()).is_none());
        // A Body that is not the operation's request is refused by the generated reader.
        assert!(matches!(
            Ec2Request::from_body("DescribeKeyPairs", attributes.root()),
            Some(Err(_))
        ));
    }
}

//! Security groups: create, delete, describe, and ingress rules by address block or by group.
//! Every user has a `default` group, made when first needed; group names and ids are per
//! user. Owners are named by user name, as the original's `ownerId`.

use std::net::Ipv4Addr;

use ring::rand::{SecureRandom, SystemRandom};

use wire::ec2::{
    AuthorizeSecurityGroupIngressResponseType, CreateSecurityGroupResponseType,
    DeleteSecurityGroupResponseType, DescribeSecurityGroupsResponseType, IpPermissionSetType,
    IpPermissionType, IpRangeItemType, IpRangeSetType, RevokeSecurityGroupIngressResponseType,
    SecurityGroupItemType, SecurityGroupSetType, UserIdGroupPairSetType, UserIdGroupPairType,
};

use super::Call;
use crate::error::Ec2Error;
use crate::store::{Rule, SecurityGroup, Source, StoreError};

/// The group every user has, which cannot be deleted.
pub const DEFAULT_GROUP: &str = "default";

pub(super) async fn create(call: &Call<'_>) -> Result<CreateSecurityGroupResponseType, Ec2Error> {
    ensure_default(call).await?;
    let name = call.required("GroupName")?;
    let description = call.required("GroupDescription")?;
    if name.len() > 255 || description.len() > 255 {
        return Err(Ec2Error::InvalidParameterValue(
            "GroupName and GroupDescription take at most 255 characters".into(),
        ));
    }
    add(call, name, description).await.map_err(|e| match e {
        StoreError::Exists { .. } => Ec2Error::GroupDuplicate(name.to_owned()),
        other => other.into(),
    })?;
    Ok(CreateSecurityGroupResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

pub(super) async fn delete(call: &Call<'_>) -> Result<DeleteSecurityGroupResponseType, Ec2Error> {
    let name = target(call).await?;
    if name == DEFAULT_GROUP {
        return Err(Ec2Error::GroupReserved(name));
    }
    call.cloud
        .store
        .delete_group(&call.user.name, &name)
        .await
        .map_err(|e| match e {
            StoreError::NotFound { .. } => Ec2Error::GroupNotFound(name.clone()),
            other => other.into(),
        })?;
    Ok(DeleteSecurityGroupResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

pub(super) async fn describe(
    call: &Call<'_>,
) -> Result<DescribeSecurityGroupsResponseType, Ec2Error> {
    ensure_default(call).await?;
    let names = call.list("GroupName");
    let ids = call.list("GroupId");
    let owner = call.owner_filter(&names);
    let names: Vec<&str> = if owner.is_none() { Vec::new() } else { names };
    let groups = call.cloud.store.groups(owner).await?;
    let missing = names
        .iter()
        .find(|n| !groups.iter().any(|g| &g.name == *n))
        .or_else(|| ids.iter().find(|i| !groups.iter().any(|g| &g.id == *i)));
    if let Some(missing) = missing {
        return Err(Ec2Error::GroupNotFound((*missing).to_owned()));
    }
    let item = groups
        .into_iter()
        .filter(|g| names.is_empty() || names.contains(&g.name.as_str()))
        .filter(|g| ids.is_empty() || ids.contains(&g.id.as_str()))
        .map(|g| SecurityGroupItemType {
            ip_permissions: permissions(&g.rules),
            owner_id: g.owner,
            group_name: g.name,
            group_description: g.description,
        })
        .collect();
    Ok(DescribeSecurityGroupsResponseType {
        request_id: call.request_id.to_owned(),
        security_group_info: SecurityGroupSetType { item },
    })
}

pub(super) async fn authorize(
    call: &Call<'_>,
) -> Result<AuthorizeSecurityGroupIngressResponseType, Ec2Error> {
    ensure_default(call).await?;
    let (name, rules) = (target(call).await?, rules(call).await?);
    call.cloud
        .store
        .authorize(&call.user.name, &name, &rules)
        .await
        .map_err(|e| match e {
            StoreError::Exists { .. } => Ec2Error::PermissionDuplicate(name.clone()),
            StoreError::NotFound { .. } => Ec2Error::GroupNotFound(name.clone()),
            other => other.into(),
        })?;
    Ok(AuthorizeSecurityGroupIngressResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

pub(super) async fn revoke(
    call: &Call<'_>,
) -> Result<RevokeSecurityGroupIngressResponseType, Ec2Error> {
    ensure_default(call).await?;
    let (name, rules) = (target(call).await?, rules(call).await?);
    call.cloud
        .store
        .revoke(&call.user.name, &name, &rules)
        .await
        .map_err(|e| match e {
            StoreError::NotFound {
                what: "security group",
                ..
            } => Ec2Error::GroupNotFound(name.clone()),
            StoreError::NotFound { .. } => Ec2Error::PermissionNotFound(name.clone()),
            other => other.into(),
        })?;
    Ok(RevokeSecurityGroupIngressResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

/// Gives the caller their `default` group if they have none yet.
async fn ensure_default(call: &Call<'_>) -> Result<(), Ec2Error> {
    match add(call, DEFAULT_GROUP, "default group").await {
        Ok(()) | Err(StoreError::Exists { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn add(call: &Call<'_>, name: &str, description: &str) -> Result<(), StoreError> {
    let group = SecurityGroup {
        owner: call.user.name.clone(),
        name: name.to_owned(),
        id: group_id(),
        description: description.to_owned(),
        rules: Vec::new(),
    };
    call.cloud.store.add_group(&group).await
}

/// `sg-` and 8 random hex digits.
fn group_id() -> String {
    let mut b = [0u8; 4];
    // A failed draw leaves zeros: the store refuses a duplicate id rather than reuse one.
    let _ = SystemRandom::new().fill(&mut b);
    format!("sg-{:08x}", u32::from_be_bytes(b))
}

/// The caller's group a request names, by `GroupName` or `GroupId`.
async fn target(call: &Call<'_>) -> Result<String, Ec2Error> {
    if let Some(name) = call.params.get("GroupName").filter(|n| !n.is_empty()) {
        return Ok(name.to_owned());
    }
    let id = call
        .required("GroupId")
        .map_err(|_| Ec2Error::MissingParameter("GroupName".into()))?;
    let groups = call.cloud.store.groups(Some(&call.user.name)).await?;
    groups
        .into_iter()
        .find(|g| g.id == id)
        .map(|g| g.name)
        .ok_or_else(|| Ec2Error::GroupNotFound(id.to_owned()))
}

/// The rules a request names: `IpPermissions.N.*` (2009-04-04 and later), or the flat
/// `IpProtocol`, `FromPort`, `ToPort`, `CidrIp`, `SourceSecurityGroupName`,
/// `SourceSecurityGroupOwnerId` of earlier versions and the AWS CLI's shorthand (a source
/// group without a protocol meaning all of them).
async fn rules(call: &Call<'_>) -> Result<Vec<Rule>, Ec2Error> {
    let p = call.params;
    let mut rules = Vec::new();
    let mut add =
        |protocol: Option<&str>, from: Option<&str>, to: Option<&str>, sources: Vec<Source>| {
            let (protocol, from_port, to_port) = ports(protocol, from, to)?;
            for source in sources {
                rules.push(Rule {
                    protocol: protocol.clone(),
                    from_port,
                    to_port,
                    source,
                });
            }
            Ok::<_, Ec2Error>(())
        };
    let mut n = 1;
    while p
        .iter()
        .any(|(k, _)| k.starts_with(&format!("IpPermissions.{n}.")))
    {
        let field = |name: &str| p.get(&format!("IpPermissions.{n}.{name}"));
        let mut sources = Vec::new();
        let mut m = 1;
        while let Some(cidr) = field(&format!("IpRanges.{m}.CidrIp")) {
            sources.push(Source::Cidr(cidr_block(cidr)?));
            m += 1;
        }
        let mut m = 1;
        loop {
            let group = field(&format!("Groups.{m}.GroupName"));
            let id = field(&format!("Groups.{m}.GroupId"));
            if group.is_none() && id.is_none() {
                break;
            }
            let owner = field(&format!("Groups.{m}.UserId"));
            sources.push(source_group(call, owner, group, id).await?);
            m += 1;
        }
        if sources.is_empty() {
            sources.push(Source::Cidr("0.0.0.0/0".into()));
        }
        add(
            field("IpProtocol"),
            field("FromPort"),
            field("ToPort"),
            sources,
        )?;
        n += 1;
    }
    if n == 1 {
        let group = p.get("SourceSecurityGroupName");
        let source = match (p.get("CidrIp"), group) {
            (Some(cidr), _) => Source::Cidr(cidr_block(cidr)?),
            (None, Some(_)) => {
                source_group(call, p.get("SourceSecurityGroupOwnerId"), group, None).await?
            }
            (None, None) => Source::Cidr("0.0.0.0/0".into()),
        };
        if group.is_some() && p.get("IpProtocol").is_none() {
            // A user/group pair alone (EC2 before 2009-04-04, euca2ools 1.x's `-o`/`-u`):
            // every protocol and port from that group.
            for (protocol, from, to) in [
                ("tcp", "0", "65535"),
                ("udp", "0", "65535"),
                ("icmp", "-1", "-1"),
            ] {
                add(Some(protocol), Some(from), Some(to), vec![source.clone()])?;
            }
        } else {
            add(
                p.get("IpProtocol"),
                p.get("FromPort"),
                p.get("ToPort"),
                vec![source],
            )?;
        }
    }
    Ok(rules)
}

/// A group rules may name as a source: by name (of `owner`, else the caller) or by id.
async fn source_group(
    call: &Call<'_>,
    owner: Option<&str>,
    name: Option<&str>,
    id: Option<&str>,
) -> Result<Source, Ec2Error> {
    let owner = owner.filter(|o| !o.is_empty()).unwrap_or(&call.user.name);
    let groups = call.cloud.store.groups(None).await?;
    let found = groups.into_iter().find(|g| match (name, id) {
        (Some(name), _) => g.owner == owner && g.name == name,
        (None, Some(id)) => g.id == id,
        (None, None) => false,
    });
    match found {
        Some(g) => Ok(Source::Group {
            owner: g.owner,
            name: g.name,
        }),
        None => Err(Ec2Error::GroupNotFound(
            name.or(id).unwrap_or_default().to_owned(),
        )),
    }
}

/// The protocol and port range of a rule: tcp and udp take ports 0-65535 (from ≤ to), icmp
/// a type and code from -1 (any) to 255.
fn ports(
    protocol: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(String, i32, i32), Ec2Error> {
    let protocol = match protocol.ok_or_else(|| Ec2Error::MissingParameter("IpProtocol".into()))? {
        "tcp" | "6" => "tcp",
        "udp" | "17" => "udp",
        "icmp" | "1" => "icmp",
        other => {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "Invalid IP protocol {other:?}: use tcp, udp or icmp"
            )))
        }
    };
    let number = |text: Option<&str>, name: &str| -> Result<i32, Ec2Error> {
        let text = text.ok_or_else(|| Ec2Error::MissingParameter(name.to_owned()))?;
        text.parse()
            .map_err(|_| Ec2Error::InvalidParameterValue(format!("Invalid {name} {text:?}")))
    };
    let (from, to) = (number(from, "FromPort")?, number(to, "ToPort")?);
    let valid = if protocol == "icmp" {
        (-1..=255).contains(&from) && (-1..=255).contains(&to)
    } else {
        (0..=65535).contains(&from) && (0..=65535).contains(&to) && from <= to
    };
    if !valid {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Invalid port range {from}-{to} for {protocol}"
        )));
    }
    Ok((protocol.to_owned(), from, to))
}

/// An IPv4 address block `a.b.c.d/n`, as given.
fn cidr_block(text: &str) -> Result<String, Ec2Error> {
    let valid = text.split_once('/').is_some_and(|(addr, bits)| {
        addr.parse::<Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 32)
    });
    if valid {
        Ok(text.to_owned())
    } else {
        Err(Ec2Error::InvalidParameterValue(format!(
            "Invalid CIDR block {text:?}: use a.b.c.d/n"
        )))
    }
}

/// The rules as EC2's `ipPermissions`: one item per protocol and port range, holding its
/// source groups and address blocks.
fn permissions(rules: &[Rule]) -> IpPermissionSetType {
    let mut item: Vec<IpPermissionType> = Vec::new();
    for rule in rules {
        let same = |p: &&mut IpPermissionType| {
            (p.ip_protocol.as_str(), p.from_port, p.to_port)
                == (rule.protocol.as_str(), rule.from_port, rule.to_port)
        };
        let permission = match item.iter_mut().find(same) {
            Some(p) => p,
            None => {
                item.push(IpPermissionType {
                    ip_protocol: rule.protocol.clone(),
                    from_port: rule.from_port,
                    to_port: rule.to_port,
                    groups: UserIdGroupPairSetType::default(),
                    ip_ranges: IpRangeSetType::default(),
                });
                let last = item.len() - 1;
                &mut item[last]
            }
        };
        match &rule.source {
            Source::Cidr(cidr) => permission.ip_ranges.item.push(IpRangeItemType {
                cidr_ip: cidr.clone(),
            }),
            Source::Group { owner, name } => permission.groups.item.push(UserIdGroupPairType {
                user_id: owner.clone(),
                group_name: name.clone(),
            }),
        }
    }
    IpPermissionSetType { item }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_blocks_are_checked() {
        assert_eq!(
            ports(Some("6"), Some("22"), Some("22")).ok(),
            Some(("tcp".into(), 22, 22))
        );
        assert_eq!(
            ports(Some("icmp"), Some("-1"), Some("-1")).ok(),
            Some(("icmp".into(), -1, -1))
        );
        assert!(ports(Some("tcp"), Some("90"), Some("80")).is_err());
        assert!(ports(Some("tcp"), Some("-1"), Some("80")).is_err());
        assert!(ports(Some("gre"), Some("1"), Some("1")).is_err());
        assert!(ports(None, Some("1"), Some("1")).is_err());
        assert!(cidr_block("10.0.0.0/8").is_ok());
        assert!(cidr_block("10.0.0.0/33").is_err());
        assert!(cidr_block("10.0.0/8").is_err());
        assert!(cidr_block("10.0.0.0").is_err());
    }
}

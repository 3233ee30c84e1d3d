//! Security groups: create, delete, describe, and ingress rules by address block or by group.
//! Every user has a `default` group, made when first needed; group names and ids are per
//! user, and a name of the form `sg-…` that is one of the user's group ids names that group
//! (the Query binding carries `GroupId` in the name fields). Owners are named by user name,
//! as the original's `ownerId`.

use std::net::Ipv4Addr;

use wire::ec2::{
    AuthorizeSecurityGroupIngressResponseType, AuthorizeSecurityGroupIngressType,
    CreateSecurityGroupResponseType, CreateSecurityGroupType, DeleteSecurityGroupResponseType,
    DeleteSecurityGroupType, DescribeSecurityGroupsResponseType, DescribeSecurityGroupsType,
    IpPermissionSetType, IpPermissionType, IpRangeItemType, IpRangeSetType,
    RevokeSecurityGroupIngressResponseType, RevokeSecurityGroupIngressType, SecurityGroupItemType,
    SecurityGroupSetType, UserIdGroupPairSetType, UserIdGroupPairType,
};

use wire::query::Filter;

use super::filters::Filters;
use super::ids::random_id;
use super::Call;
use crate::error::Ec2Error;
use crate::store::{Rule, SecurityGroup, Source, StoreError};

/// The group every user has, which cannot be deleted.
pub const DEFAULT_GROUP: &str = "default";

pub(super) async fn create(
    call: &Call<'_>,
    request: CreateSecurityGroupType,
) -> Result<CreateSecurityGroupResponseType, Ec2Error> {
    ensure_default(call).await?;
    let (name, description) = (request.group_name, request.group_description);
    if name.is_empty() || name.len() > 255 || description.len() > 255 {
        return Err(Ec2Error::InvalidParameterValue(
            "GroupName takes 1 to 255 characters, GroupDescription at most 255".into(),
        ));
    }
    add(call, &name, &description).await.map_err(|e| match e {
        StoreError::Exists { .. } => Ec2Error::GroupDuplicate(name.clone()),
        other => other.into(),
    })?;
    Ok(CreateSecurityGroupResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

pub(super) async fn delete(
    call: &Call<'_>,
    request: DeleteSecurityGroupType,
) -> Result<DeleteSecurityGroupResponseType, Ec2Error> {
    let name = own_group(call, &request.group_name).await?;
    if name == DEFAULT_GROUP {
        return Err(Ec2Error::GroupReserved(name));
    }
    call.cloud
        .store
        .delete_group(&call.user.account, &name)
        .await
        .map_err(|e| match e {
            StoreError::NotFound { .. } => Ec2Error::GroupNotFound(name.clone()),
            StoreError::InUse { by, .. } => Ec2Error::GroupInUse(name.clone(), by),
            other => other.into(),
        })?;
    Ok(DeleteSecurityGroupResponseType {
        request_id: call.request_id.to_owned(),
        r#return: true,
    })
}

pub(super) async fn describe(
    call: &Call<'_>,
    request: DescribeSecurityGroupsType,
    filters: &[Filter],
) -> Result<DescribeSecurityGroupsResponseType, Ec2Error> {
    let filters = Filters::new(
        filters,
        &["group-name", "group-id", "description", "owner-id"],
    )?;
    ensure_default(call).await?;
    let asked: Vec<&str> = request
        .security_group_set
        .item
        .iter()
        .map(|g| g.group_name.as_str())
        .collect();
    let owner = call.owner_filter(&asked);
    let asked: Vec<&str> = if owner.is_none() { Vec::new() } else { asked };
    let groups = call.cloud.store.groups(owner).await?;
    let names = |g: &SecurityGroup, n: &str| g.name == n || g.id == n;
    if let Some(missing) = asked.iter().find(|n| !groups.iter().any(|g| names(g, n))) {
        return Err(Ec2Error::GroupNotFound((*missing).to_owned()));
    }
    let item = groups
        .into_iter()
        .filter(|g| asked.is_empty() || asked.iter().any(|n| names(g, n)))
        .filter(|g| {
            filters.pass(|name| match name {
                "group-name" => vec![g.name.as_str()],
                "group-id" => vec![g.id.as_str()],
                "description" => vec![g.description.as_str()],
                _ => vec![g.owner.as_str()],
            })
        })
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
    request: AuthorizeSecurityGroupIngressType,
) -> Result<AuthorizeSecurityGroupIngressResponseType, Ec2Error> {
    ensure_default(call).await?;
    let name = own_group(call, &request.group_name).await?;
    let rules = rules(call, &request.ip_permissions).await?;
    call.cloud
        .store
        .authorize(&call.user.account, &name, &rules)
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
    request: RevokeSecurityGroupIngressType,
) -> Result<RevokeSecurityGroupIngressResponseType, Ec2Error> {
    ensure_default(call).await?;
    let name = own_group(call, &request.group_name).await?;
    let rules = rules(call, &request.ip_permissions).await?;
    call.cloud
        .store
        .revoke(&call.user.account, &name, &rules)
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
pub(super) async fn ensure_default(call: &Call<'_>) -> Result<(), Ec2Error> {
    match add(call, DEFAULT_GROUP, "default group").await {
        Ok(()) | Err(StoreError::Exists { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn add(call: &Call<'_>, name: &str, description: &str) -> Result<(), StoreError> {
    let group = SecurityGroup {
        owner: call.user.account.clone(),
        name: name.to_owned(),
        id: random_id("sg"),
        description: description.to_owned(),
        rules: Vec::new(),
    };
    call.cloud.store.add_group(&group).await
}

/// The name of the caller's group that `name_or_id` names.
async fn own_group(call: &Call<'_>, name_or_id: &str) -> Result<String, Ec2Error> {
    if name_or_id.is_empty() {
        return Err(Ec2Error::MissingParameter("GroupName".into()));
    }
    if !name_or_id.starts_with("sg-") {
        return Ok(name_or_id.to_owned());
    }
    let groups = call.cloud.store.groups(Some(&call.user.account)).await?;
    Ok(groups
        .into_iter()
        .find(|g| g.id == name_or_id)
        .map_or_else(|| name_or_id.to_owned(), |g| g.name))
}

/// The store's rules for a request's permissions. A permission without a source is open to
/// every address (`0.0.0.0/0`); a source group's owner left empty is the caller.
async fn rules(call: &Call<'_>, permissions: &IpPermissionSetType) -> Result<Vec<Rule>, Ec2Error> {
    let mut rules = Vec::new();
    for permission in &permissions.item {
        let (protocol, from_port, to_port) = ports(
            &permission.ip_protocol,
            permission.from_port,
            permission.to_port,
        )?;
        let mut sources = Vec::new();
        for range in &permission.ip_ranges.item {
            sources.push(Source::Cidr(cidr_block(&range.cidr_ip)?));
        }
        for pair in &permission.groups.item {
            sources.push(source_group(call, &pair.user_id, &pair.group_name).await?);
        }
        if sources.is_empty() {
            sources.push(Source::Cidr("0.0.0.0/0".into()));
        }
        rules.extend(sources.into_iter().map(|source| Rule {
            protocol: protocol.clone(),
            from_port,
            to_port,
            source,
        }));
    }
    if rules.is_empty() {
        return Err(Ec2Error::MissingParameter("IpPermissions".into()));
    }
    Ok(rules)
}

/// A group rules may name as a source: a name of `owner`'s (the caller when empty), or a
/// group id.
async fn source_group(call: &Call<'_>, owner: &str, name_or_id: &str) -> Result<Source, Ec2Error> {
    let owner = if owner.is_empty() {
        call.user.account.as_str()
    } else {
        owner
    };
    let groups = call.cloud.store.groups(None).await?;
    groups
        .into_iter()
        .find(|g| (g.owner == owner && g.name == name_or_id) || g.id == name_or_id)
        .map(|g| Source::Group {
            owner: g.owner,
            name: g.name,
        })
        .ok_or_else(|| Ec2Error::GroupNotFound(name_or_id.to_owned()))
}

/// The protocol and port range of a rule: tcp and udp take ports 0-65535 (from ≤ to; -1 for
/// both, as the Query binding writes a rule without ports, is all of them), icmp a type and
/// code from -1 (any) to 255.
fn ports(protocol: &str, from: i32, to: i32) -> Result<(String, i32, i32), Ec2Error> {
    let protocol = match protocol {
        "tcp" | "6" => "tcp",
        "udp" | "17" => "udp",
        "icmp" | "1" => "icmp",
        other => {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "Invalid IP protocol {other:?}: use tcp, udp or icmp"
            )))
        }
    };
    let (from, to) = match (protocol, from, to) {
        ("tcp" | "udp", -1, -1) => (0, 65535),
        _ => (from, to),
    };
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
        assert_eq!(ports("6", 22, 22).ok(), Some(("tcp".into(), 22, 22)));
        assert_eq!(ports("icmp", -1, -1).ok(), Some(("icmp".into(), -1, -1)));
        assert_eq!(ports("udp", -1, -1).ok(), Some(("udp".into(), 0, 65535)));
        assert!(ports("tcp", 90, 80).is_err());
        assert!(ports("tcp", -1, 80).is_err());
        assert!(ports("gre", 1, 1).is_err());
        assert!(cidr_block("10.0.0.0/8").is_ok());
        assert!(cidr_block("10.0.0.0/33").is_err());
        assert!(cidr_block("10.0.0/8").is_err());
        assert!(cidr_block("10.0.0.0").is_err());
    }
}

//! CreateGroup, GetGroup (with its members), ListGroups, DeleteGroup, and memberships:
//! AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser.

use users::Group;
use wire::iam::{
    AddUserToGroupResponseType, AddUserToGroupType, CreateGroupResponseType, CreateGroupResultType,
    CreateGroupType, DeleteGroupResponseType, DeleteGroupType, GetGroupResponseType,
    GetGroupResultType, GetGroupType, GroupListType, GroupType, ListGroupsForUserResponseType,
    ListGroupsForUserResultType, ListGroupsForUserType, ListGroupsResponseType,
    ListGroupsResultType, ListGroupsType, RemoveUserFromGroupResponseType, RemoveUserFromGroupType,
    UserListType,
};
use xmlbind::DateTime;

use super::users::{user_type, ROOT_PATH};
use super::{page, Call, IamError};

fn group_type(call: &Call<'_>, group: &Group) -> GroupType {
    GroupType {
        path: group.path.clone(),
        group_name: group.name.clone(),
        group_id: group.id.clone(),
        arn: group.arn(&call.account.id),
        create_date: DateTime::from_unix(group.created),
    }
}

/// A page of groups as IAM lists them.
fn group_list(call: &Call<'_>, groups: &[Group]) -> GroupListType {
    GroupListType {
        member: groups.iter().map(|g| group_type(call, g)).collect(),
    }
}

pub(super) async fn create(
    call: &Call<'_>,
    request: CreateGroupType,
) -> Result<CreateGroupResponseType, IamError> {
    let path = request.path.as_deref().unwrap_or(ROOT_PATH);
    let group = call
        .directory
        .create_group(&call.account.name, &request.group_name, path)
        .await?;
    Ok(CreateGroupResponseType {
        create_group_result: CreateGroupResultType {
            group: group_type(call, &group),
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn get(
    call: &Call<'_>,
    request: GetGroupType,
) -> Result<GetGroupResponseType, IamError> {
    let account = &call.account.name;
    let group = call.group(&request.group_name).await?;
    let names = call.directory.users_in_group(account, &group.name).await?;
    let page = page::of(names, String::as_str, request.marker, request.max_items)?;
    let mut members = Vec::with_capacity(page.items.len());
    for name in &page.items {
        // A member deleted since the listing is no longer one.
        if let Some(user) = call.directory.user(account, name).await? {
            members.push(user_type(&user));
        }
    }
    Ok(GetGroupResponseType {
        get_group_result: GetGroupResultType {
            group: group_type(call, &group),
            users: UserListType { member: members },
            is_truncated: page.truncated,
            marker: page.marker,
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn list(
    call: &Call<'_>,
    request: ListGroupsType,
) -> Result<ListGroupsResponseType, IamError> {
    let prefix = request.path_prefix.as_deref().unwrap_or(ROOT_PATH);
    let groups = call.directory.groups(&call.account.name, prefix).await?;
    let page = page::of(groups, |g| &g.name, request.marker, request.max_items)?;
    Ok(ListGroupsResponseType {
        list_groups_result: ListGroupsResultType {
            groups: group_list(call, &page.items),
            is_truncated: page.truncated,
            marker: page.marker,
        },
        response_metadata: call.metadata(),
    })
}

/// Deletes a group without members or policies (the directory refuses one with either:
/// DeleteConflict).
pub(super) async fn delete(
    call: &Call<'_>,
    request: DeleteGroupType,
) -> Result<DeleteGroupResponseType, IamError> {
    call.directory
        .delete_group(&call.account.name, &request.group_name)
        .await?;
    Ok(DeleteGroupResponseType {
        response_metadata: call.metadata(),
    })
}

pub(super) async fn add_user(
    call: &Call<'_>,
    request: AddUserToGroupType,
) -> Result<AddUserToGroupResponseType, IamError> {
    call.directory
        .add_user_to_group(&call.account.name, &request.group_name, &request.user_name)
        .await?;
    Ok(AddUserToGroupResponseType {
        response_metadata: call.metadata(),
    })
}

pub(super) async fn remove_user(
    call: &Call<'_>,
    request: RemoveUserFromGroupType,
) -> Result<RemoveUserFromGroupResponseType, IamError> {
    call.directory
        .remove_user_from_group(&call.account.name, &request.group_name, &request.user_name)
        .await?;
    Ok(RemoveUserFromGroupResponseType {
        response_metadata: call.metadata(),
    })
}

pub(super) async fn of_user(
    call: &Call<'_>,
    request: ListGroupsForUserType,
) -> Result<ListGroupsForUserResponseType, IamError> {
    let user = call.user(Some(&request.user_name)).await?;
    let groups = call
        .directory
        .groups_of_user(&call.account.name, &user.name)
        .await?;
    let page = page::of(groups, |g| &g.name, request.marker, request.max_items)?;
    Ok(ListGroupsForUserResponseType {
        list_groups_for_user_result: ListGroupsForUserResultType {
            groups: group_list(call, &page.items),
            is_truncated: page.truncated,
            marker: page.marker,
        },
        response_metadata: call.metadata(),
    })
}

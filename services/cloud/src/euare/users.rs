//! CreateUser, GetUser, ListUsers and DeleteUser, in the account a request acts in.

use users::User;
use wire::iam::{
    CreateUserResponseType, CreateUserResultType, CreateUserType, DeleteUserResponseType,
    DeleteUserType, GetUserResponseType, GetUserResultType, GetUserType, ListUsersResponseType,
    ListUsersResultType, ListUsersType, UserListType, UserType,
};
use xmlbind::DateTime;

use super::{page, Call, IamError};

/// IAM's path of everything made without one.
pub(super) const ROOT_PATH: &str = "/";

/// A user as IAM shows it.
pub(super) fn user_type(user: &User) -> UserType {
    UserType {
        path: user.path.clone(),
        user_name: user.name.clone(),
        user_id: user.id.clone(),
        arn: user.arn(),
        create_date: DateTime::from_unix(user.created),
    }
}

pub(super) async fn create(
    call: &Call<'_>,
    request: CreateUserType,
) -> Result<CreateUserResponseType, IamError> {
    let path = request.path.as_deref().unwrap_or(ROOT_PATH);
    let user = call
        .directory
        .create_user(&call.account.name, &request.user_name, path)
        .await?;
    Ok(CreateUserResponseType {
        create_user_result: CreateUserResultType {
            user: user_type(&user),
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn get(
    call: &Call<'_>,
    request: GetUserType,
) -> Result<GetUserResponseType, IamError> {
    let user = call.user(request.user_name.as_deref()).await?;
    Ok(GetUserResponseType {
        get_user_result: GetUserResultType {
            user: user_type(&user),
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn list(
    call: &Call<'_>,
    request: ListUsersType,
) -> Result<ListUsersResponseType, IamError> {
    let prefix = request.path_prefix.as_deref().unwrap_or(ROOT_PATH);
    let users = call.directory.users(&call.account.name, prefix).await?;
    let page = page::of(users, |u| &u.name, request.marker, request.max_items)?;
    Ok(ListUsersResponseType {
        list_users_result: ListUsersResultType {
            users: UserListType {
                member: page.items.iter().map(user_type).collect(),
            },
            is_truncated: page.truncated,
            marker: page.marker,
        },
        response_metadata: call.metadata(),
    })
}

/// Deletes a user who holds nothing more: IAM's DeleteConflict names what remains (access
/// keys, policies, group memberships), which the client removes first.
pub(super) async fn delete(
    call: &Call<'_>,
    request: DeleteUserType,
) -> Result<DeleteUserResponseType, IamError> {
    let account = &call.account.name;
    let name = &request.user_name;
    let user = call.user(Some(name)).await?;
    if user.is_root() {
        return Err(IamError::DeleteConflict(format!(
            "The root user {name} goes only with its account."
        )));
    }
    let directory = call.directory;
    let remaining = [
        ("access keys", directory.keys(account, name).await?.len()),
        (
            "policies",
            directory.user_policies(account, name).await?.len(),
        ),
        (
            "groups",
            directory.groups_of_user(account, name).await?.len(),
        ),
        (
            "login profile",
            usize::from(directory.login_profile(account, name).await?.is_some()),
        ),
    ];
    if let Some((what, _)) = remaining.iter().find(|(_, count)| *count > 0) {
        return Err(IamError::DeleteConflict(format!(
            "Cannot delete entity, must remove {what} first."
        )));
    }
    call.store.delete_user(account, name).await?;
    Ok(DeleteUserResponseType {
        response_metadata: call.metadata(),
    })
}

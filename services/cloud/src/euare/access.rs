//! Who may call what, as Euare decides it: the cloud administrator anything, in any account
//! (naming it with `DelegateAccount`); an account's root user anything in its own account
//! but the account operations; any other user what its own and its groups' policies allow
//! for `iam:<Action>` on the user or group the request names (its ARN), an explicit Deny
//! winning.

use std::net::IpAddr;

use policy::{Context, Request};
use tracing::{debug, warn};
use users::{Account, Directory, User};
use wire::iam::IamPortTypeRequest as R;

use super::IamError;

/// The account a request acts in, once its caller may make it there.
pub(super) async fn authorize(
    directory: &Directory,
    caller: &User,
    request: &R,
    delegate_account: Option<&str>,
    source: IpAddr,
) -> Result<Account, IamError> {
    let operation = request.operation().name;
    let account_operation = matches!(
        request,
        R::CreateAccount(_) | R::ListAccounts(_) | R::DeleteAccount(_)
    );
    if (account_operation || delegate_account.is_some()) && !caller.admin {
        let what = if account_operation {
            format!("{operation} is the cloud administrator's")
        } else {
            "Only the cloud administrator acts in another account (DelegateAccount)".to_owned()
        };
        return Err(IamError::AccessDenied(what));
    }
    let name = delegate_account.unwrap_or(&caller.account);
    let account = directory
        .account(name)
        .await?
        .ok_or_else(|| IamError::NoSuchEntity(format!("The account {name} does not exist.")))?;
    if !users::evaluated(caller) {
        return Ok(account);
    }
    let action = format!("iam:{operation}");
    let resource = resource(directory, &account, caller, request).await?;
    let policies = directory.policies_of(caller).await?;
    let context = Context::of_request(&caller.name, &caller.id, Some(source), kit::time::now());
    let decision = users::decide(
        &policies,
        &Request {
            action: &action,
            resource: &resource,
            context: &context,
        },
    );
    if decision.allowed() {
        debug!(%action, %resource, %decision, "allowed");
        return Ok(account);
    }
    warn!(user = %caller.name, account = %caller.account, %action, %resource, %decision, "request denied by policy");
    Err(IamError::AccessDenied(format!(
        "User: {} is not authorized to perform: {action} on resource: {resource}",
        caller.arn()
    )))
}

/// What a request names, as IAM's resource-level permissions see it.
enum Target<'r> {
    /// A user by name; none: the caller.
    User(Option<&'r str>),
    Group(&'r str),
    /// The account's whole directory.
    Account,
}

/// The ARN of what `request` acts on (a user's or group's, with its path when it exists),
/// `*` when it names neither.
async fn resource(
    directory: &Directory,
    account: &Account,
    caller: &User,
    request: &R,
) -> Result<String, IamError> {
    let target = match request {
        R::CreateUser(r) => Target::User(Some(&r.user_name)),
        R::GetUser(r) => Target::User(r.user_name.as_deref()),
        R::DeleteUser(r) => Target::User(Some(&r.user_name)),
        R::ListGroupsForUser(r) => Target::User(Some(&r.user_name)),
        R::CreateAccessKey(r) => Target::User(r.user_name.as_deref()),
        R::ListAccessKeys(r) => Target::User(r.user_name.as_deref()),
        R::UpdateAccessKey(r) => Target::User(r.user_name.as_deref()),
        R::DeleteAccessKey(r) => Target::User(r.user_name.as_deref()),
        R::CreateLoginProfile(r) => Target::User(r.user_name.as_deref()),
        R::GetLoginProfile(r) => Target::User(r.user_name.as_deref()),
        R::UpdateLoginProfile(r) => Target::User(r.user_name.as_deref()),
        R::DeleteLoginProfile(r) => Target::User(r.user_name.as_deref()),
        R::UploadSigningCertificate(r) => Target::User(r.user_name.as_deref()),
        R::ListSigningCertificates(r) => Target::User(r.user_name.as_deref()),
        R::DeleteSigningCertificate(r) => Target::User(r.user_name.as_deref()),
        R::PutUserPolicy(r) => Target::User(Some(&r.user_name)),
        R::GetUserPolicy(r) => Target::User(Some(&r.user_name)),
        R::ListUserPolicies(r) => Target::User(Some(&r.user_name)),
        R::DeleteUserPolicy(r) => Target::User(Some(&r.user_name)),
        R::CreateGroup(r) => Target::Group(&r.group_name),
        R::GetGroup(r) => Target::Group(&r.group_name),
        R::DeleteGroup(r) => Target::Group(&r.group_name),
        R::AddUserToGroup(r) => Target::Group(&r.group_name),
        R::RemoveUserFromGroup(r) => Target::Group(&r.group_name),
        R::PutGroupPolicy(r) => Target::Group(&r.group_name),
        R::GetGroupPolicy(r) => Target::Group(&r.group_name),
        R::ListGroupPolicies(r) => Target::Group(&r.group_name),
        R::DeleteGroupPolicy(r) => Target::Group(&r.group_name),
        R::ListUsers(_)
        | R::ListGroups(_)
        | R::CreateAccount(_)
        | R::ListAccounts(_)
        | R::DeleteAccount(_) => Target::Account,
    };
    Ok(match target {
        Target::User(None) => caller.arn(),
        Target::User(Some(name)) => match directory.user(&account.name, name).await? {
            Some(user) => user.arn(),
            None => format!("arn:aws:iam::{}:user/{name}", account.id),
        },
        Target::Group(name) => match directory.group(&account.name, name).await? {
            Some(group) => group.arn(&account.id),
            None => format!("arn:aws:iam::{}:group/{name}", account.id),
        },
        Target::Account => "*".to_owned(),
    })
}

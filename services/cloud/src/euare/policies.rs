//! The policies of users and groups: Put (the directory checks the document: IAM's
//! MalformedPolicyDocument, or LimitExceeded when too large), Get (the document
//! URL-encoded, as IAM answers it), List (names) and Delete.

use walrus::uri::aws_encode;
use wire::iam::{
    DeleteGroupPolicyResponseType, DeleteGroupPolicyType, DeleteUserPolicyResponseType,
    DeleteUserPolicyType, GetGroupPolicyResponseType, GetGroupPolicyResultType, GetGroupPolicyType,
    GetUserPolicyResponseType, GetUserPolicyResultType, GetUserPolicyType,
    ListGroupPoliciesResponseType, ListGroupPoliciesResultType, ListGroupPoliciesType,
    ListUserPoliciesResponseType, ListUserPoliciesResultType, ListUserPoliciesType,
    PolicyNameListType, PutGroupPolicyResponseType, PutGroupPolicyType, PutUserPolicyResponseType,
    PutUserPolicyType,
};

use super::{page, Call, IamError};

/// The document as IAM's Get answers carry it (botocore decodes it).
fn encoded(document: &str) -> String {
    aws_encode(document.as_bytes(), false)
}

fn missing(policy: &str, of: &str) -> IamError {
    IamError::NoSuchEntity(format!("The policy {policy} of {of} does not exist."))
}

pub(super) async fn put_user(
    call: &Call<'_>,
    request: PutUserPolicyType,
) -> Result<PutUserPolicyResponseType, IamError> {
    call.directory
        .put_user_policy(
            &call.account.name,
            &request.user_name,
            &request.policy_name,
            &request.policy_document,
        )
        .await?;
    Ok(PutUserPolicyResponseType {
        response_metadata: call.metadata(),
    })
}

pub(super) async fn get_user(
    call: &Call<'_>,
    request: GetUserPolicyType,
) -> Result<GetUserPolicyResponseType, IamError> {
    let policy = call
        .directory
        .user_policy(&call.account.name, &request.user_name, &request.policy_name)
        .await?
        .ok_or_else(|| missing(&request.policy_name, &request.user_name))?;
    Ok(GetUserPolicyResponseType {
        get_user_policy_result: GetUserPolicyResultType {
            user_name: request.user_name,
            policy_name: policy.name,
            policy_document: encoded(&policy.document),
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn list_user(
    call: &Call<'_>,
    request: ListUserPoliciesType,
) -> Result<ListUserPoliciesResponseType, IamError> {
    let all = call
        .directory
        .user_policies(&call.account.name, &request.user_name)
        .await?;
    let page = page::of(all, String::as_str, request.marker, request.max_items)?;
    Ok(ListUserPoliciesResponseType {
        list_user_policies_result: ListUserPoliciesResultType {
            policy_names: PolicyNameListType { member: page.items },
            is_truncated: page.truncated,
            marker: page.marker,
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn delete_user(
    call: &Call<'_>,
    request: DeleteUserPolicyType,
) -> Result<DeleteUserPolicyResponseType, IamError> {
    call.directory
        .delete_user_policy(&call.account.name, &request.user_name, &request.policy_name)
        .await?;
    Ok(DeleteUserPolicyResponseType {
        response_metadata: call.metadata(),
    })
}

pub(super) async fn put_group(
    call: &Call<'_>,
    request: PutGroupPolicyType,
) -> Result<PutGroupPolicyResponseType, IamError> {
    call.directory
        .put_group_policy(
            &call.account.name,
            &request.group_name,
            &request.policy_name,
            &request.policy_document,
        )
        .await?;
    Ok(PutGroupPolicyResponseType {
        response_metadata: call.metadata(),
    })
}

pub(super) async fn get_group(
    call: &Call<'_>,
    request: GetGroupPolicyType,
) -> Result<GetGroupPolicyResponseType, IamError> {
    let policy = call
        .directory
        .group_policy(
            &call.account.name,
            &request.group_name,
            &request.policy_name,
        )
        .await?
        .ok_or_else(|| missing(&request.policy_name, &request.group_name))?;
    Ok(GetGroupPolicyResponseType {
        get_group_policy_result: GetGroupPolicyResultType {
            group_name: request.group_name,
            policy_name: policy.name,
            policy_document: encoded(&policy.document),
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn list_group(
    call: &Call<'_>,
    request: ListGroupPoliciesType,
) -> Result<ListGroupPoliciesResponseType, IamError> {
    let all = call
        .directory
        .group_policies(&call.account.name, &request.group_name)
        .await?;
    let page = page::of(all, String::as_str, request.marker, request.max_items)?;
    Ok(ListGroupPoliciesResponseType {
        list_group_policies_result: ListGroupPoliciesResultType {
            policy_names: PolicyNameListType { member: page.items },
            is_truncated: page.truncated,
            marker: page.marker,
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn delete_group(
    call: &Call<'_>,
    request: DeleteGroupPolicyType,
) -> Result<DeleteGroupPolicyResponseType, IamError> {
    call.directory
        .delete_group_policy(
            &call.account.name,
            &request.group_name,
            &request.policy_name,
        )
        .await?;
    Ok(DeleteGroupPolicyResponseType {
        response_metadata: call.metadata(),
    })
}

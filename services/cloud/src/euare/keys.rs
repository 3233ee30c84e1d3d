//! CreateAccessKey, ListAccessKeys, UpdateAccessKey and DeleteAccessKey: a user's (the
//! caller's when the request names none) up to two keys.

use users::AccessKey;
use wire::iam::{
    AccessKeyMetadataListType, AccessKeyMetadataType, AccessKeyType, CreateAccessKeyResponseType,
    CreateAccessKeyResultType, CreateAccessKeyType, DeleteAccessKeyResponseType,
    DeleteAccessKeyType, ListAccessKeysResponseType, ListAccessKeysResultType, ListAccessKeysType,
    StatusType, UpdateAccessKeyResponseType, UpdateAccessKeyType,
};
use xmlbind::DateTime;

use super::{page, Call, IamError};

fn status(key: &AccessKey) -> StatusType {
    if key.active {
        StatusType::Active
    } else {
        StatusType::Inactive
    }
}

pub(super) async fn create(
    call: &Call<'_>,
    request: CreateAccessKeyType,
) -> Result<CreateAccessKeyResponseType, IamError> {
    let user = call.user(request.user_name.as_deref()).await?;
    let key = call
        .directory
        .create_key(&call.account.name, &user.name)
        .await?;
    Ok(CreateAccessKeyResponseType {
        create_access_key_result: CreateAccessKeyResultType {
            access_key: AccessKeyType {
                user_name: key.user.clone(),
                access_key_id: key.access_key.clone(),
                status: status(&key),
                secret_access_key: key.secret_key.clone(),
                create_date: Some(DateTime::from_unix(key.created)),
            },
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn list(
    call: &Call<'_>,
    request: ListAccessKeysType,
) -> Result<ListAccessKeysResponseType, IamError> {
    let user = call.user(request.user_name.as_deref()).await?;
    let keys = call.directory.keys(&call.account.name, &user.name).await?;
    let page = page::of(keys, |k| &k.access_key, request.marker, request.max_items)?;
    Ok(ListAccessKeysResponseType {
        list_access_keys_result: ListAccessKeysResultType {
            access_key_metadata: AccessKeyMetadataListType {
                member: page
                    .items
                    .iter()
                    .map(|key| AccessKeyMetadataType {
                        user_name: key.user.clone(),
                        access_key_id: key.access_key.clone(),
                        status: status(key),
                        create_date: Some(DateTime::from_unix(key.created)),
                    })
                    .collect(),
            },
            is_truncated: page.truncated,
            marker: page.marker,
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn update(
    call: &Call<'_>,
    request: UpdateAccessKeyType,
) -> Result<UpdateAccessKeyResponseType, IamError> {
    let user = call.user(request.user_name.as_deref()).await?;
    let active = request.status == StatusType::Active;
    call.directory
        .set_key_active(
            &call.account.name,
            &user.name,
            &request.access_key_id,
            active,
        )
        .await?;
    Ok(UpdateAccessKeyResponseType {
        response_metadata: call.metadata(),
    })
}

pub(super) async fn delete(
    call: &Call<'_>,
    request: DeleteAccessKeyType,
) -> Result<DeleteAccessKeyResponseType, IamError> {
    let user = call.user(request.user_name.as_deref()).await?;
    call.directory
        .delete_key(&call.account.name, &user.name, &request.access_key_id)
        .await?;
    Ok(DeleteAccessKeyResponseType {
        response_metadata: call.metadata(),
    })
}

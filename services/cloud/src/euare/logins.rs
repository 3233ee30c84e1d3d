//! CreateLoginProfile, GetLoginProfile, UpdateLoginProfile and DeleteLoginProfile: a user's
//! (the caller's when the request names none) console password. The password is never
//! answered; a forced reset at the next sign-in is not supported.

use users::{LoginProfile, PasswordChange};
use wire::iam::{
    CreateLoginProfileResponseType, CreateLoginProfileResultType, CreateLoginProfileType,
    DeleteLoginProfileResponseType, DeleteLoginProfileType, GetLoginProfileResponseType,
    GetLoginProfileResultType, GetLoginProfileType, LoginProfileType,
    UpdateLoginProfileResponseType, UpdateLoginProfileType,
};
use xmlbind::DateTime;

use super::{Call, IamError};

fn profile_type(profile: &LoginProfile) -> LoginProfileType {
    LoginProfileType {
        user_name: profile.user.clone(),
        create_date: DateTime::from_unix(profile.created),
        password_reset_required: Some(false),
    }
}

/// Refuses PasswordResetRequired=true, which the console cannot enforce.
fn no_reset(required: Option<bool>) -> Result<(), IamError> {
    if required == Some(true) {
        return Err(IamError::Validation(
            "PasswordResetRequired=true is not supported: the console has no forced reset.".into(),
        ));
    }
    Ok(())
}

pub(super) async fn create(
    call: &Call<'_>,
    request: CreateLoginProfileType,
) -> Result<CreateLoginProfileResponseType, IamError> {
    no_reset(request.password_reset_required)?;
    let user = call.user(request.user_name.as_deref()).await?;
    let profile = call
        .directory
        .set_password(
            &call.account.name,
            &user.name,
            &request.password,
            PasswordChange::Create,
        )
        .await?;
    Ok(CreateLoginProfileResponseType {
        create_login_profile_result: CreateLoginProfileResultType {
            login_profile: profile_type(&profile),
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn get(
    call: &Call<'_>,
    request: GetLoginProfileType,
) -> Result<GetLoginProfileResponseType, IamError> {
    let user = call.user(request.user_name.as_deref()).await?;
    let profile = call
        .directory
        .login_profile(&call.account.name, &user.name)
        .await?
        .ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "The user with name {} has no login profile.",
                user.name
            ))
        })?;
    Ok(GetLoginProfileResponseType {
        get_login_profile_result: GetLoginProfileResultType {
            login_profile: profile_type(&profile),
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn update(
    call: &Call<'_>,
    request: UpdateLoginProfileType,
) -> Result<UpdateLoginProfileResponseType, IamError> {
    no_reset(request.password_reset_required)?;
    let user = call.user(request.user_name.as_deref()).await?;
    let account = &call.account.name;
    match &request.password {
        Some(password) => {
            call.directory
                .set_password(account, &user.name, password, PasswordChange::Update)
                .await?;
        }
        // Nothing to change but the profile must exist, as IAM answers.
        None => {
            if call
                .directory
                .login_profile(account, &user.name)
                .await?
                .is_none()
            {
                return Err(IamError::NoSuchEntity(format!(
                    "The user with name {} has no login profile.",
                    user.name
                )));
            }
        }
    }
    Ok(UpdateLoginProfileResponseType {
        response_metadata: call.metadata(),
    })
}

pub(super) async fn delete(
    call: &Call<'_>,
    request: DeleteLoginProfileType,
) -> Result<DeleteLoginProfileResponseType, IamError> {
    let user = call.user(request.user_name.as_deref()).await?;
    call.directory
        .delete_login_profile(&call.account.name, &user.name)
        .await?;
    Ok(DeleteLoginProfileResponseType {
        response_metadata: call.metadata(),
    })
}

//! Eucalyptus's account operations, the cloud administrator's alone ([`super::access`]):
//! CreateAccount (with its root user), ListAccounts, DeleteAccount (of an account holding
//! no IAM users, unless `Recursive`: then with its users and everything it owns).

use users::Account;
use wire::iam::{
    AccountListType, AccountType, CreateAccountResponseType, CreateAccountResultType,
    CreateAccountType, DeleteAccountResponseType, DeleteAccountType, ListAccountsResponseType,
    ListAccountsResultType,
};

use super::users::ROOT_PATH;
use super::{Call, IamError};

fn account_type(account: &Account) -> AccountType {
    AccountType {
        account_name: account.name.clone(),
        account_id: account.id.clone(),
    }
}

pub(super) async fn create(
    call: &Call<'_>,
    request: CreateAccountType,
) -> Result<CreateAccountResponseType, IamError> {
    let (account, _root) = call
        .directory
        .create_account(&request.account_name, None)
        .await?;
    Ok(CreateAccountResponseType {
        create_account_result: CreateAccountResultType {
            account: account_type(&account),
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn list(call: &Call<'_>) -> Result<ListAccountsResponseType, IamError> {
    let accounts = call.directory.accounts().await?;
    Ok(ListAccountsResponseType {
        list_accounts_result: ListAccountsResultType {
            accounts: AccountListType {
                member: accounts.iter().map(account_type).collect(),
            },
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn delete(
    call: &Call<'_>,
    request: DeleteAccountType,
) -> Result<DeleteAccountResponseType, IamError> {
    let name = &request.account_name;
    if *name == users::ADMIN_NAME {
        return Err(IamError::DeleteConflict(
            "The cloud administrator's account cannot be deleted.".into(),
        ));
    }
    if call.directory.account(name).await?.is_none() {
        return Err(IamError::NoSuchEntity(format!(
            "The account {name} does not exist."
        )));
    }
    let users = call.directory.users(name, ROOT_PATH).await?;
    if !request.recursive.unwrap_or(false) && users.iter().any(|u| !u.is_root()) {
        return Err(IamError::DeleteConflict(format!(
            "The account {name} has users: delete them first, or delete it with Recursive=true."
        )));
    }
    call.store.delete_account(name).await?;
    Ok(DeleteAccountResponseType {
        response_metadata: call.metadata(),
    })
}

//! Owner ids as EC2 shows them: resources are owned by account names in the store, and
//! replies name their owner by the account's 12-digit id, as AWS does. Requests may name an
//! owner either way: by id, as later clients do, or by name, as Eucalyptus 1.6's clients
//! (which showed user names) do.

use std::collections::HashMap;

use super::Call;
use crate::error::Ec2Error;

/// The cloud's accounts, by name and by id, as one request read them.
#[derive(Debug, Default)]
pub(super) struct Owners {
    ids: HashMap<String, String>,
    names: HashMap<String, String>,
}

impl Owners {
    /// Every account.
    pub(super) async fn load(call: &Call<'_>) -> Result<Self, Ec2Error> {
        let mut owners = Self::default();
        for account in call.cloud.store.directory().accounts().await? {
            owners
                .names
                .insert(account.id.clone(), account.name.clone());
            owners.ids.insert(account.name, account.id);
        }
        Ok(owners)
    }

    /// What a listing of `owner`'s things needs (see [`Call::owner_filter`]): the caller's
    /// account alone, without reading the store, or every account (`None`).
    pub(super) async fn listing(call: &Call<'_>, owner: Option<&str>) -> Result<Self, Ec2Error> {
        if owner.is_none() {
            return Self::load(call).await;
        }
        let (name, id) = (&call.user.account, &call.user.account_id);
        Ok(Self {
            ids: HashMap::from([(name.clone(), id.clone())]),
            names: HashMap::from([(id.clone(), name.clone())]),
        })
    }

    /// The id EC2 shows for `account`'s resources (its name, for an account deleted since).
    pub(super) fn id<'a>(&'a self, account: &'a str) -> &'a str {
        self.ids.get(account).map_or(account, String::as_str)
    }

    /// The account a request's owner names: by id, or by name.
    pub(super) fn account<'a>(&'a self, named: &'a str) -> &'a str {
        self.names.get(named).map_or(named, String::as_str)
    }
}

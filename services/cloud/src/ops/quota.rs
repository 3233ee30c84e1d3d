//! Quotas at the API: before RunInstances, CreateVolume, CreateSnapshot or AllocateAddress
//! start any work, the limits of the caller's account and of the caller (`users::quotas`)
//! are checked against what they hold at that moment ([`crate::store::Store::in_use`]).
//! A request that passes holds its account's turn until what it adds is recorded, so two
//! requests of one account never both pass the last unit; what a refused request asked for
//! is never recorded, and a terminate or delete makes room at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use users::{Quota, Resource};

use super::Call;
use crate::error::Ec2Error;
use crate::store::StoreError;

/// Each account's turn to check its quotas and record what it adds.
#[derive(Debug, Default)]
pub struct QuotaTurns(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl QuotaTurns {
    /// Waits for `account`'s turn.
    async fn take(&self, account: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let turn = Arc::clone(
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(account.to_owned())
                .or_default(),
        );
        turn.lock_owned().await
    }
}

/// The limits on the caller, each with its use when they were read; holds the account's
/// turn while it lives.
#[derive(Debug)]
pub(super) struct Limits {
    checks: Vec<(Quota, u64)>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl Limits {
    /// Takes the caller's account's turn and reads its limits and their use.
    pub(super) async fn of(call: &Call<'_>) -> Result<Self, Ec2Error> {
        let (account, user) = (call.user.account.as_str(), call.user.name.as_str());
        let turn = call.cloud.quota_turns.take(account).await;
        let store = &call.cloud.store;
        let quotas = store
            .directory()
            .quotas(Some(account))
            .await
            .map_err(StoreError::from)?;
        let mut held = HashMap::new();
        let mut checks = Vec::new();
        for quota in quotas.into_iter().filter(|q| q.applies_to(Some(user))) {
            let creator = quota.user.clone();
            let in_use = match held.get(&creator) {
                Some(in_use) => *in_use,
                None => {
                    let in_use = store.in_use(account, creator.as_deref()).await?;
                    *held.entry(creator).or_insert(in_use)
                }
            };
            if let Some(used) = in_use.of(quota.resource) {
                checks.push((quota, used));
            }
        }
        Ok(Self {
            checks,
            _turn: turn,
        })
    }

    /// Whether `asked` more of each resource fit every limit; the first it passes is the
    /// error, with EC2's code for the resource.
    pub(super) fn admit(&self, asked: &[(Resource, u64)]) -> Result<(), Ec2Error> {
        for (quota, used) in &self.checks {
            if let Some((resource, amount)) = asked.iter().find(|(r, _)| *r == quota.resource) {
                quota
                    .admits(*used, *amount)
                    .map_err(|message| refusal(*resource, message))?;
            }
        }
        Ok(())
    }
}

/// EC2's error for a quota of `resource` passed.
fn refusal(resource: Resource, message: String) -> Ec2Error {
    match resource {
        Resource::Volumes | Resource::VolumeGb => Ec2Error::VolumeLimitExceeded(message),
        Resource::Snapshots => Ec2Error::SnapshotLimitExceeded(message),
        Resource::Addresses => Ec2Error::AddressLimitExceeded(message),
        _ => Ec2Error::InstanceLimitExceeded(message),
    }
}

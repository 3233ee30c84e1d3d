//! `euca admin quota show|set`: the limits of accounts and their users, beside what each
//! holds now — the CLC's store for instances, cores, memory, volumes, snapshots and
//! addresses, Walrus's metadata for buckets and their bytes.

use std::path::{Path, PathBuf};

use super::AdminError;
use users::{Quota, Resource};

use crate::store::{InUse, Store};

#[derive(Debug, clap::Subcommand)]
pub enum QuotaCommand {
    /// Every resource of an account (or of one of its users) with its limit and what is in
    /// use; without --account, every limit set.
    Show {
        #[arg(long)]
        account: Option<String>,
        /// A user of the account: its own limits, and what it made.
        #[arg(long, requires = "account")]
        user: Option<String>,
        /// Walrus's data folder, where the buckets' use is read (default DATA/walrus, as
        /// `euca up` lays a cloud out).
        #[arg(long, value_name = "WALRUS_DATA")]
        walrus: Option<PathBuf>,
    },
    /// Set limits, RESOURCE=N each: instances, cores, memory (MiB), volumes, volume-gb,
    /// snapshots, addresses, buckets, bucket-gb (GiB, a fraction to the MiB: 0.5);
    /// N `none` clears the limit.
    Set {
        #[arg(long)]
        account: String,
        /// A user of the account, whose limits apply to what it makes.
        #[arg(long)]
        user: Option<String>,
        #[arg(required = true, value_name = "RESOURCE=N")]
        limits: Vec<String>,
    },
}

/// What `quota set` does with one resource.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    Set(u64),
    Clear,
}

/// Reads `RESOURCE=N` (N `none` clears).
fn change(text: &str) -> Result<(Resource, Change), AdminError> {
    let invalid = |why: String| AdminError::Quota(format!("{text:?}: {why}"));
    let (name, amount) = text
        .split_once('=')
        .ok_or_else(|| invalid("write RESOURCE=N".into()))?;
    let resource = Resource::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Resource::ALL.iter().map(|r| r.name()).collect();
        invalid(format!("the resources are {}", names.join(", ")))
    })?;
    if amount == "none" {
        return Ok((resource, Change::Clear));
    }
    let amount = resource
        .parse_amount(amount)
        .map_err(|e| invalid(e.to_string()))?;
    Ok((resource, Change::Set(amount)))
}

pub(super) async fn run(
    store: &dyn Store,
    data: &Path,
    command: QuotaCommand,
) -> Result<(), AdminError> {
    match command {
        QuotaCommand::Set {
            account,
            user,
            limits,
        } => {
            // All read before any is applied: a typo changes nothing.
            let changes = limits
                .iter()
                .map(|l| change(l))
                .collect::<Result<Vec<_>, _>>()?;
            holder(store, &account, user.as_deref()).await?;
            let directory = store.directory();
            for (resource, change) in changes {
                match change {
                    Change::Set(limit) => {
                        directory
                            .set_quota(&Quota {
                                account: account.clone(),
                                user: user.clone(),
                                resource,
                                limit,
                            })
                            .await?;
                    }
                    Change::Clear => {
                        directory
                            .clear_quota(&account, user.as_deref(), resource)
                            .await?;
                    }
                }
            }
        }
        QuotaCommand::Show {
            account,
            user,
            walrus,
        } => {
            let walrus = walrus.unwrap_or_else(|| crate::config::walrus_data(data));
            match account {
                Some(account) => show(store, &walrus, &account, user.as_deref()).await?,
                None => show_all(store, &walrus).await?,
            }
        }
    }
    Ok(())
}

/// The canonical id of account `account` (its buckets' owner), when it has user `user`;
/// an unknown account or user is an error.
async fn holder(
    store: &dyn Store,
    account: &str,
    user: Option<&str>,
) -> Result<String, AdminError> {
    let directory = store.directory();
    let found = directory
        .account(account)
        .await?
        .ok_or_else(|| AdminError::Quota(format!("there is no account {account:?}")))?;
    if let Some(user) = user {
        if directory.user(account, user).await?.is_none() {
            return Err(AdminError::Quota(format!(
                "account {account:?} has no user {user:?}"
            )));
        }
    }
    Ok(found.canonical_id)
}

/// What `account` (or of it what `user` made) holds; its buckets are not known without
/// Walrus's metadata.
struct Held {
    cloud: InUse,
    walrus: Option<walrus::Holdings>,
}

impl Held {
    async fn of(
        store: &dyn Store,
        walrus_data: &Path,
        account: &str,
        user: Option<&str>,
    ) -> Result<Self, AdminError> {
        let owner = holder(store, account, user).await?;
        let (data, creator) = (walrus_data.to_owned(), user.map(str::to_owned));
        let walrus = kit::blocking(move || walrus::holdings(&data, &owner, creator.as_deref()))
            .await
            .map_err(|e| AdminError::Quota(format!("Walrus's metadata: {e}")))?;
        Ok(Self {
            cloud: store.in_use(account, user).await?,
            walrus,
        })
    }

    fn of_resource(&self, resource: Resource) -> Option<u64> {
        match resource {
            Resource::Buckets => self.walrus.map(|w| w.buckets),
            Resource::BucketGb => self.walrus.map(|w| w.bytes),
            other => self.cloud.of(other),
        }
    }
}

/// A table row: limit and use as the command line writes them, `-` for none or unknown.
fn cells(resource: Resource, limit: Option<u64>, used: Option<u64>) -> [String; 3] {
    let text = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| resource.amount_text(n));
    [resource.name().to_owned(), text(limit), text(used)]
}

fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

async fn show(
    store: &dyn Store,
    walrus: &Path,
    account: &str,
    user: Option<&str>,
) -> Result<(), AdminError> {
    let quotas = store.directory().quotas(Some(account)).await?;
    let held = Held::of(store, walrus, account, user).await?;
    let rows: Vec<Vec<String>> = Resource::ALL
        .into_iter()
        .map(|resource| {
            let limit = quotas
                .iter()
                .find(|q| q.resource == resource && q.user.as_deref() == user)
                .map(|q| q.limit);
            cells(resource, limit, held.of_resource(resource)).to_vec()
        })
        .collect();
    print_table(&["RESOURCE", "LIMIT", "IN USE"], &rows);
    Ok(())
}

async fn show_all(store: &dyn Store, walrus: &Path) -> Result<(), AdminError> {
    let mut rows = Vec::new();
    let mut held: Vec<((String, Option<String>), Held)> = Vec::new();
    for quota in store.directory().quotas(None).await? {
        let holder = (quota.account.clone(), quota.user.clone());
        let index = match held.iter().position(|(h, _)| *h == holder) {
            Some(index) => index,
            None => {
                let of = Held::of(store, walrus, &quota.account, quota.user.as_deref()).await?;
                held.push((holder, of));
                held.len() - 1
            }
        };
        let used = held[index].1.of_resource(quota.resource);
        let mut row = vec![quota.account, quota.user.unwrap_or_else(|| "-".into())];
        row.extend(cells(quota.resource, Some(quota.limit), used));
        rows.push(row);
    }
    print_table(&["ACCOUNT", "USER", "RESOURCE", "LIMIT", "IN USE"], &rows);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn limits_are_read_as_resource_equals_amount_or_none() {
        assert_eq!(
            change("instances=2").unwrap(),
            (Resource::Instances, Change::Set(2))
        );
        assert_eq!(
            change("bucket-gb=0.5").unwrap(),
            (Resource::BucketGb, Change::Set(512 << 20))
        );
        assert_eq!(
            change("cores=none").unwrap(),
            (Resource::Cores, Change::Clear)
        );
        for bad in ["instances", "gpus=1", "memory=lots", "volumes=-1"] {
            assert!(change(bad).is_err(), "{bad}");
        }
    }
}

//! `euca admin burst add|list|remove`: the other EC2 clouds RunInstances bursts to. The
//! secret key is sealed with the cloud's key before it reaches the store, and never shown.

use std::path::Path;

use super::{cloud_keys, AdminError};
use crate::burst::client::check_endpoint;
use crate::burst::seal::Sealer;
use crate::store::{BurstTarget, Store};

#[derive(Debug, clap::Subcommand)]
pub enum BurstCommand {
    /// Register another EC2 cloud: RunInstances runs there what the local zones cannot place
    /// (zone burst-NAME), for the accounts allowed, with the images mapped.
    Add {
        /// The target's name (letters, digits, '.', '_', '-'); its zone is burst-NAME.
        name: String,
        /// Its EC2 Query endpoint (http://HOST:PORT/).
        #[arg(long)]
        endpoint: String,
        /// The access key of the target's account the instances run in.
        #[arg(long)]
        access_key: String,
        /// Kept sealed with the cloud's key; never shown again.
        #[arg(long)]
        secret_key: String,
        /// The region its signatures are scoped to.
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// A local machine image and the target's image run for it; repeat for each.
        #[arg(long = "image-map", value_name = "EMI=AMI", required = true)]
        image_map: Vec<String>,
        /// The most instances it runs for this cloud at once (default: no limit).
        #[arg(long, value_name = "N")]
        max_instances: Option<u32>,
        /// The accounts that may burst to it (default: every account).
        #[arg(long, value_name = "A,B", value_delimiter = ',')]
        accounts: Option<Vec<String>>,
    },
    /// List the targets: name, endpoint, region, access key, images, most instances,
    /// accounts (never the secret key).
    List,
    /// Forget a target; refused while it runs instances of this cloud.
    Remove { name: String },
}

pub(super) async fn run(
    store: &dyn Store,
    data: &Path,
    command: BurstCommand,
) -> Result<(), AdminError> {
    match command {
        BurstCommand::Add {
            name,
            endpoint,
            access_key,
            secret_key,
            region,
            image_map,
            max_instances,
            accounts,
        } => {
            check_name(&name)?;
            check_endpoint(&endpoint).map_err(|e| AdminError::Burst(e.to_string()))?;
            let image_map = image_map
                .iter()
                .map(|pair| image_pair(pair))
                .collect::<Result<Vec<_>, _>>()?;
            let (_, cloud_key) = cloud_keys(store, data).await?;
            let sealed_secret = Sealer::new(&cloud_key.private_key)?.seal(&secret_key)?;
            store
                .add_burst_target(&BurstTarget {
                    name,
                    endpoint,
                    region,
                    access_key,
                    sealed_secret,
                    image_map,
                    max_instances,
                    accounts,
                })
                .await?;
        }
        BurstCommand::List => {
            for t in store.burst_targets().await? {
                println!("{}", line(&t));
            }
        }
        BurstCommand::Remove { name } => {
            let running = store
                .live_instances(&crate::store::burst_zone(&name))
                .await?;
            if !running.is_empty() {
                return Err(AdminError::Burst(format!(
                    "burst target {name} still runs {} instances of this cloud: terminate them first",
                    running.len()
                )));
            }
            store.remove_burst_target(&name).await?;
        }
    }
    Ok(())
}

/// A target's name: letters, digits, `.`, `_` and `-`, as it names a zone.
fn check_name(name: &str) -> Result<(), AdminError> {
    let fits = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > 64 || !name.chars().all(fits) {
        return Err(AdminError::Burst(format!(
            "{name:?}: a burst target's name is 1 to 64 letters, digits, '.', '_' or '-'"
        )));
    }
    Ok(())
}

/// `emi-…=ami-…`: a local machine image and the target's.
fn image_pair(text: &str) -> Result<(String, String), AdminError> {
    match text.split_once('=') {
        Some((local, remote))
            if local.starts_with("emi-") && !remote.is_empty() && !remote.contains('\n') =>
        {
            Ok((local.to_owned(), remote.to_owned()))
        }
        _ => Err(AdminError::Burst(format!(
            "--image-map {text:?}: write emi-LOCAL=REMOTE (a local machine image and the target's)"
        ))),
    }
}

/// A line of `burst list`.
fn line(t: &BurstTarget) -> String {
    let images: Vec<String> = t
        .image_map
        .iter()
        .map(|(l, r)| format!("{l}={r}"))
        .collect();
    let max = t
        .max_instances
        .map_or_else(|| "-".to_owned(), |m| m.to_string());
    let accounts = t
        .accounts
        .as_ref()
        .map_or_else(|| "all".to_owned(), |a| a.join(","));
    format!(
        "{}\t{}\t{}\t{}\t{}\t{max}\t{accounts}",
        t.name,
        t.endpoint,
        t.region,
        t.access_key,
        images.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_image_maps_are_checked() {
        assert!(check_name("moto-1.a_b").is_ok());
        for bad in ["", "a b", "a/b", "é"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            image_pair("emi-0123abcd=ami-12c6146b").ok(),
            Some(("emi-0123abcd".into(), "ami-12c6146b".into()))
        );
        for bad in ["emi-1", "ami-1=ami-2", "emi-1=", "=ami-1"] {
            assert!(image_pair(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_listed_target_never_shows_its_secret() {
        let target = BurstTarget {
            name: "moto".into(),
            endpoint: "http://127.0.0.1:5000/".into(),
            region: "us-east-1".into(),
            access_key: "AKID".into(),
            sealed_secret: "SEALED".into(),
            image_map: vec![("emi-0123abcd".into(), "ami-1".into())],
            max_instances: None,
            accounts: Some(vec!["a".into(), "b".into()]),
        };
        let listed = line(&target);
        assert_eq!(
            listed,
            "moto\thttp://127.0.0.1:5000/\tus-east-1\tAKID\temi-0123abcd=ami-1\t-\ta,b"
        );
        assert!(!listed.contains("SEALED"));
    }
}

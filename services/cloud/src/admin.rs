//! `euca admin --data DATA ...`: the administrator's tool over the cloud's store, as the
//! original's `euca_conf` and web console managed users, clusters and VM types (and as
//! later Eucalyptus's `euare-*` tools manage accounts, users and access keys). It works
//! on the files a running `euca cloud` uses (SQLite in WAL mode shares them safely), and
//! issues credentials as the cloud does, with the keys the cloud recorded on its start.

mod iam;
mod quota;
mod usage;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use soap::keys::{KeyError, KeyPair};

use crate::credentials::{self, CredentialsError};
use crate::default_image::{self, DefaultImageError, Sources};
use crate::store::{self, Cluster, Store, StoreError, User, VmType};

/// Manage the cloud's accounts, users, keys, clusters and VM types (in DATA, the cloud controller's data
/// folder; `euca cloud` must have started on it once).
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// The cloud controller's data folder.
    #[arg(long, value_name = "DATA")]
    pub data: PathBuf,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Accounts: the tenants that own resources, each with a root user.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Users and their credentials.
    #[command(subcommand)]
    User(UserCommand),
    /// Users' access keys (at most two each).
    #[command(subcommand)]
    Key(KeyCommand),
    /// The cluster controllers, one availability zone each.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// The VM types instances are run as.
    #[command(subcommand)]
    Vmtype(VmTypeCommand),
    /// Images on the running cloud.
    #[command(subcommand)]
    Image(ImageCommand),
    /// An account's IAM groups and their members.
    #[command(subcommand)]
    Group(iam::GroupCommand),
    /// The IAM policies of users and groups.
    #[command(subcommand)]
    Policy(iam::PolicyCommand),
    /// Quotas of accounts and users, and what they hold.
    #[command(subcommand)]
    Quota(quota::QuotaCommand),
    /// Usage per account and user over a range of time: instance-hours by VM type, volume
    /// GB-hours, GB-hours of each bucket, requests by component.
    Usage(usage::Range),
    /// The audit trail over a range of time: every request (who, from where, what, with
    /// what outcome) and every billed change.
    Events(usage::Range),
}

#[derive(Debug, clap::Subcommand)]
pub enum ImageCommand {
    /// Bundle, upload and register (as the administrator, through the running cloud) a small
    /// bootable image, so that RunInstances works on a fresh cloud; prints the eki-, eri- and
    /// emi- ids. Run again, it prints the ids it registered before.
    AddDefault {
        /// The kernel (`vmlinuz` of scripts/guest-image.sh); without it and --ramdisk,
        /// stand-ins the test hypervisor runs.
        #[arg(long, requires = "ramdisk")]
        kernel: Option<PathBuf>,
        /// The ramdisk (`initramfs.gz` of scripts/guest-image.sh).
        #[arg(long, requires = "kernel")]
        ramdisk: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Add an account with its root user, and write the root user's credentials:
    /// DATA/credentials/NAME/eucarc (with certificate and keys) and DATA/credentials/NAME.zip.
    Add { name: String },
    /// List the accounts: name, account id, canonical id, state.
    List,
    /// Refuse the requests of every user of an account from now on.
    Disable { name: String },
    /// Accept an account's requests again.
    Enable { name: String },
    /// Delete an account, its users, what it owns and its credentials files.
    Delete { name: String },
}

/// Without `--account`, a user verb acts on the account NAME (and its root user), as the
/// cloud's users were before accounts; with it, on the IAM user NAME of that account.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add account NAME with its root user and credentials (as `account add`), or, with
    /// --account, the IAM user NAME of that account, without keys (see `key add`).
    Add {
        name: String,
        #[arg(long)]
        account: Option<String>,
        /// The IAM user's path.
        #[arg(long, default_value = "/", requires = "account")]
        path: String,
    },
    /// List the users (of one account with --account): account, name, access key, state,
    /// role.
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Refuse a user's requests from now on.
    Disable {
        name: String,
        #[arg(long)]
        account: Option<String>,
    },
    /// Accept a disabled user's requests again.
    Enable {
        name: String,
        #[arg(long)]
        account: Option<String>,
    },
    /// Delete a user with its keys (without --account: the account, as `account delete`).
    Delete {
        name: String,
        #[arg(long)]
        account: Option<String>,
    },
    /// Issue the user NAME of an account a certificate (replacing its earlier one) with a
    /// fresh key, and write its credentials: DATA/credentials/ACCOUNT/NAME/ (certificate, key,
    /// the cloud's certificate, an eucarc with the user's first active access key) and
    /// DATA/credentials/ACCOUNT/NAME.zip. Prints the folder.
    Cert {
        name: String,
        #[arg(long)]
        account: String,
    },
    /// Set the console password of the user NAME of an account (its root user is `admin`),
    /// read as the first line of standard input: 8 to 128 characters.
    Password {
        name: String,
        #[arg(long)]
        account: String,
    },
}

/// Which user's keys: `--account A --user U` (the user defaults to the root user).
#[derive(Debug, clap::Args)]
pub struct KeyOwner {
    #[arg(long)]
    pub account: String,
    #[arg(long, default_value = users::ROOT_NAME)]
    pub user: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Give a user a fresh access key; prints the key id and its secret.
    Add {
        #[command(flatten)]
        owner: KeyOwner,
    },
    /// List a user's keys: key id, state, created (seconds since the epoch).
    List {
        #[command(flatten)]
        owner: KeyOwner,
    },
    /// Make a key inactive: its requests are refused.
    Disable {
        #[command(flatten)]
        owner: KeyOwner,
        key: String,
    },
    /// Make a key active again.
    Enable {
        #[command(flatten)]
        owner: KeyOwner,
        key: String,
    },
    /// Delete a key.
    Delete {
        #[command(flatten)]
        owner: KeyOwner,
        key: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Register a cluster: NAME (its zone) and the URL of its EucalyptusCC service.
    Add { name: String, url: String },
    /// List the clusters: name and URL.
    List,
    /// Deregister a cluster (the URL may be given, as it was added; the name decides).
    Remove { name: String, url: Option<String> },
}

#[derive(Debug, clap::Subcommand)]
pub enum VmTypeCommand {
    /// List the VM types: name, cores, memory (MB), disk (GB).
    List,
    /// Set (or add) a VM type.
    Set {
        name: String,
        cores: u32,
        mem_mb: u32,
        disk_gb: u32,
    },
}

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Users(#[from] users::UserError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("the cloud's keys: {0}")]
    Keys(#[from] KeyError),
    #[error("{0} holds no cloud yet: start `euca cloud --data {0}` once first")]
    NoCloud(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    DefaultImage(#[from] DefaultImageError),
    #[error("{0}")]
    Quota(String),
    #[error("{0}")]
    Usage(String),
}

/// `euca admin`.
pub fn main(args: AdminArgs) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AdminError::Runtime)
        .and_then(|runtime| runtime.block_on(run(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("euca admin: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: AdminArgs) -> Result<(), AdminError> {
    let data = args.data;
    let store = open(&data).await?;
    match args.command {
        AdminCommand::Account(command) => account(&*store, &data, command).await,
        AdminCommand::User(command) => user(&*store, &data, command).await,
        AdminCommand::Key(command) => key(&*store, command).await,
        AdminCommand::Cluster(command) => cluster(&*store, command).await,
        AdminCommand::Vmtype(command) => vm_type(&*store, command).await,
        AdminCommand::Image(command) => image(&*store, &data, command).await,
        AdminCommand::Group(command) => iam::group(store.directory(), command).await,
        AdminCommand::Policy(command) => iam::policy(store.directory(), command).await,
        AdminCommand::Quota(command) => quota::run(&*store, &data, command).await,
        AdminCommand::Usage(range) => usage::usage(&data, &range).await,
        AdminCommand::Events(range) => usage::audit(&data, &range).await,
    }
}

/// Opens the store of an existing cloud (SQLite files in DATA, or the PostgreSQL database
/// DATA names), keeping what it writes its owner's only.
async fn open(data: &Path) -> Result<std::sync::Arc<dyn Store>, AdminError> {
    let check = {
        let data = data.to_owned();
        kit::blocking(move || {
            let started =
                data.join("cloud.sqlite").exists() || data.join(users::DATABASE_URL_FILE).exists();
            if !started {
                return Err(AdminError::NoCloud(data.display().to_string()));
            }
            kit::private::own_only(&[&data]).map_err(|e| AdminError::Io {
                path: e.path,
                source: e.source,
            })
        })
    };
    check.await?;
    Ok(store::open(data, None).await?)
}

async fn account(
    store: &dyn Store,
    data: &Path,
    command: AccountCommand,
) -> Result<(), AdminError> {
    let directory = store.directory();
    match command {
        AccountCommand::Add { name } => {
            credentials::places(data, &name, users::ROOT_NAME)?;
            let (facts, cloud_key) = cloud_keys(store, data).await?;
            let (_, root) = directory.create_account(&name, None).await?;
            let eucarc = credentials::hand_out(store, data, &facts, &cloud_key, &root).await?;
            println!("{}", eucarc.display());
        }
        AccountCommand::List => {
            for a in directory.accounts().await? {
                let state = if a.enabled { "enabled" } else { "disabled" };
                println!("{}\t{}\t{}\t{state}", a.name, a.id, a.canonical_id);
            }
        }
        AccountCommand::Disable { name } => directory.set_account_enabled(&name, false).await?,
        AccountCommand::Enable { name } => directory.set_account_enabled(&name, true).await?,
        AccountCommand::Delete { name } => {
            let places = credentials::places(data, &name, users::ROOT_NAME)?;
            store.delete_account(&name).await?;
            remove_credentials(places).await?;
        }
    }
    Ok(())
}

/// The cloud's facts and its key pair, which issues users' certificates.
async fn cloud_keys(
    store: &dyn Store,
    data: &Path,
) -> Result<(store::CloudFacts, KeyPair), AdminError> {
    let facts = store
        .facts()
        .await?
        .ok_or_else(|| AdminError::NoCloud(data.display().to_string()))?;
    let keys = facts.keys.clone();
    let cloud_key = kit::blocking(move || KeyPair::load(&keys, "cloud")).await?;
    Ok((facts, cloud_key))
}

/// Removes a user's credentials folder and zip ([`credentials::places`]).
async fn remove_credentials((folder, zip): (PathBuf, PathBuf)) -> Result<(), AdminError> {
    kit::blocking(move || {
        remove(|p| std::fs::remove_dir_all(p), &folder)?;
        remove(|p| std::fs::remove_file(p), &zip)
    })
    .await
}

async fn user(store: &dyn Store, data: &Path, command: UserCommand) -> Result<(), AdminError> {
    let directory = store.directory();
    let as_account = |name| account(store, data, name);
    match command {
        UserCommand::Add {
            name,
            account: Some(account),
            path,
        } => {
            let user = directory.create_user(&account, &name, &path).await?;
            println!("{}\t{}", user.arn(), user.id);
        }
        UserCommand::Add { name, .. } => as_account(AccountCommand::Add { name }).await?,
        UserCommand::List { account } => {
            let accounts = match account {
                Some(name) => vec![name],
                None => directory
                    .accounts()
                    .await?
                    .into_iter()
                    .map(|a| a.name)
                    .collect(),
            };
            for account in accounts {
                for u in directory.users(&account, "/").await? {
                    println!("{}", user_line(&u));
                }
            }
        }
        UserCommand::Disable {
            name,
            account: Some(account),
        } => directory.set_user_enabled(&account, &name, false).await?,
        UserCommand::Disable { name, .. } => as_account(AccountCommand::Disable { name }).await?,
        UserCommand::Enable {
            name,
            account: Some(account),
        } => directory.set_user_enabled(&account, &name, true).await?,
        UserCommand::Enable { name, .. } => as_account(AccountCommand::Enable { name }).await?,
        UserCommand::Delete {
            name,
            account: Some(account),
        } => {
            let places = credentials::places(data, &account, &name)?;
            store.delete_user(&account, &name).await?;
            remove_credentials(places).await?;
        }
        UserCommand::Delete { name, .. } => as_account(AccountCommand::Delete { name }).await?,
        UserCommand::Cert { name, account } => {
            credentials::places(data, &account, &name)?;
            let user = directory.user(&account, &name).await?.ok_or_else(|| {
                users::UserError::NotFound {
                    kind: "user",
                    name: format!("{account}/{name}"),
                }
            })?;
            let (facts, cloud_key) = cloud_keys(store, data).await?;
            let eucarc = credentials::hand_out(store, data, &facts, &cloud_key, &user).await?;
            if let Some(folder) = eucarc.parent() {
                println!("{}", folder.display());
            }
        }
        UserCommand::Password { name, account } => {
            let password = kit::blocking(|| {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map(|_| line)
            })
            .await
            .map_err(|source| AdminError::Io {
                path: "standard input".into(),
                source,
            })?;
            let password = password.trim_end_matches(['\n', '\r']);
            directory
                .set_password(&account, &name, password, users::PasswordChange::Either)
                .await?;
        }
    }
    Ok(())
}

/// A line of `user list`: account, name, access key, state, role.
fn user_line(u: &User) -> String {
    let state = if u.enabled { "enabled" } else { "disabled" };
    let role = match (u.admin, u.is_root()) {
        (true, _) => "admin",
        (false, true) => "root",
        (false, false) => "user",
    };
    format!(
        "{}\t{}\t{}\t{state}\t{role}",
        u.account, u.name, u.access_key
    )
}

async fn key(store: &dyn Store, command: KeyCommand) -> Result<(), AdminError> {
    let directory = store.directory();
    match command {
        KeyCommand::Add { owner } => {
            let key = directory.create_key(&owner.account, &owner.user).await?;
            println!("{}\t{}", key.access_key, key.secret_key);
        }
        KeyCommand::List { owner } => {
            for k in directory.keys(&owner.account, &owner.user).await? {
                let state = if k.active { "active" } else { "inactive" };
                println!("{}\t{state}\t{}", k.access_key, k.created);
            }
        }
        KeyCommand::Disable { owner, key } => {
            directory
                .set_key_active(&owner.account, &owner.user, &key, false)
                .await?
        }
        KeyCommand::Enable { owner, key } => {
            directory
                .set_key_active(&owner.account, &owner.user, &key, true)
                .await?
        }
        KeyCommand::Delete { owner, key } => {
            directory
                .delete_key(&owner.account, &owner.user, &key)
                .await?
        }
    }
    Ok(())
}

/// Removes `path` with `how`; one already gone is fine.
fn remove(how: impl Fn(&Path) -> std::io::Result<()>, path: &Path) -> Result<(), AdminError> {
    match how(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(AdminError::Io {
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

async fn cluster(store: &dyn Store, command: ClusterCommand) -> Result<(), AdminError> {
    match command {
        ClusterCommand::Add { name, url } => store.add_cluster(&Cluster { name, url }).await?,
        ClusterCommand::List => {
            for c in store.clusters().await? {
                println!("{}\t{}", c.name, c.url);
            }
        }
        ClusterCommand::Remove { name, .. } => store.remove_cluster(&name).await?,
    }
    Ok(())
}

async fn vm_type(store: &dyn Store, command: VmTypeCommand) -> Result<(), AdminError> {
    match command {
        VmTypeCommand::List => {
            for t in store.vm_types().await? {
                println!("{}\t{}\t{}\t{}", t.name, t.cores, t.memory_mb, t.disk_gb);
            }
        }
        VmTypeCommand::Set {
            name,
            cores,
            mem_mb,
            disk_gb,
        } => {
            store
                .set_vm_type(&VmType {
                    name,
                    cores,
                    memory_mb: mem_mb,
                    disk_gb,
                })
                .await?
        }
    }
    Ok(())
}

async fn image(store: &dyn Store, data: &Path, command: ImageCommand) -> Result<(), AdminError> {
    let ImageCommand::AddDefault { kernel, ramdisk } = command;
    let facts = store
        .facts()
        .await?
        .ok_or_else(|| AdminError::NoCloud(data.display().to_string()))?;
    let sources = Sources { kernel, ramdisk };
    let image = default_image::add_default(data, &facts.keys, &sources, |step| {
        println!("{step}");
    })
    .await?;
    let how = if image.registered {
        "registered"
    } else {
        "already registered"
    };
    println!("IMAGE\t{}\t{how}", image.machine);
    println!("KERNEL\t{}", image.kernel);
    println!("RAMDISK\t{}", image.ramdisk);
    Ok(())
}

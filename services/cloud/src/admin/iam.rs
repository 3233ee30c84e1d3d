//! `euca admin group ...` and `euca admin policy ...`: an account's IAM groups, their
//! members, and the policies of users and groups, as the IAM API keeps them.

use std::io::Read as _;
use std::path::PathBuf;

use users::Directory;

use super::AdminError;
use crate::store::StoreError;

#[derive(Debug, clap::Subcommand)]
pub enum GroupCommand {
    /// Create a group in an account.
    Add {
        #[arg(long)]
        account: String,
        /// IAM's path of the group.
        #[arg(long, default_value = "/")]
        path: String,
        name: String,
    },
    /// List an account's groups: name, id, path, members.
    List {
        #[arg(long)]
        account: String,
    },
    /// Delete a group that has no members and no policies left.
    Delete {
        #[arg(long)]
        account: String,
        name: String,
    },
    /// Add a user of the account to a group.
    AddUser {
        #[arg(long)]
        account: String,
        group: String,
        user: String,
    },
    /// Take a user out of a group.
    RemoveUser {
        #[arg(long)]
        account: String,
        group: String,
        user: String,
    },
}

/// Whose policy: a user's or a group's.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Holder {
    #[arg(long)]
    user: Option<String>,
    #[arg(long)]
    group: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Create or replace a policy from a JSON document (FILE, else standard input),
    /// checked first.
    Put {
        #[command(flatten)]
        holder: Holder,
        #[arg(long)]
        account: String,
        name: String,
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// List the names of a user's or group's policies.
    List {
        #[command(flatten)]
        holder: Holder,
        #[arg(long)]
        account: String,
    },
    /// Print a policy's document.
    Show {
        #[command(flatten)]
        holder: Holder,
        #[arg(long)]
        account: String,
        name: String,
    },
    /// Delete a policy.
    Delete {
        #[command(flatten)]
        holder: Holder,
        #[arg(long)]
        account: String,
        name: String,
    },
}

fn users_error(e: users::UserError) -> AdminError {
    AdminError::Store(StoreError::from(e))
}

pub async fn group(directory: &Directory, command: GroupCommand) -> Result<(), AdminError> {
    match command {
        GroupCommand::Add {
            account,
            path,
            name,
        } => {
            let group = directory
                .create_group(&account, &name, &path)
                .await
                .map_err(users_error)?;
            println!("{}\t{}", group.name, group.id);
        }
        GroupCommand::List { account } => {
            for g in directory.groups(&account, "/").await.map_err(users_error)? {
                let members = directory
                    .users_in_group(&account, &g.name)
                    .await
                    .map_err(users_error)?;
                println!("{}\t{}\t{}\t{}", g.name, g.id, g.path, members.join(","));
            }
        }
        GroupCommand::Delete { account, name } => directory
            .delete_group(&account, &name)
            .await
            .map_err(users_error)?,
        GroupCommand::AddUser {
            account,
            group,
            user,
        } => directory
            .add_user_to_group(&account, &group, &user)
            .await
            .map_err(users_error)?,
        GroupCommand::RemoveUser {
            account,
            group,
            user,
        } => directory
            .remove_user_from_group(&account, &group, &user)
            .await
            .map_err(users_error)?,
    }
    Ok(())
}

/// A policy's holder, as [`Holder`] names it.
#[derive(Debug)]
enum Of {
    User(String),
    Group(String),
}

impl Holder {
    fn of(self) -> Result<Of, AdminError> {
        match (self.user, self.group) {
            (Some(user), None) => Ok(Of::User(user)),
            (None, Some(group)) => Ok(Of::Group(group)),
            _ => Err(users_error(users::UserError::Invalid(
                "name the policy's holder: --user USER or --group GROUP".into(),
            ))),
        }
    }
}

/// The document in `file`, else on standard input.
async fn read_document(file: Option<PathBuf>) -> Result<String, AdminError> {
    kit::blocking(move || {
        let mut text = String::new();
        let read = match &file {
            Some(path) => std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)),
            None => std::io::stdin().read_to_string(&mut text),
        };
        read.map(|_| text).map_err(|source| AdminError::Io {
            path: file.clone().unwrap_or_else(|| PathBuf::from("-")),
            source,
        })
    })
    .await
}

pub async fn policy(directory: &Directory, command: PolicyCommand) -> Result<(), AdminError> {
    match command {
        PolicyCommand::Put {
            holder,
            account,
            name,
            file,
        } => {
            let document = read_document(file).await?;
            match holder.of()? {
                Of::User(user) => {
                    directory
                        .put_user_policy(&account, &user, &name, &document)
                        .await
                }
                Of::Group(group) => {
                    directory
                        .put_group_policy(&account, &group, &name, &document)
                        .await
                }
            }
            .map_err(users_error)?;
        }
        PolicyCommand::List { holder, account } => {
            let names = match holder.of()? {
                Of::User(user) => directory.user_policies(&account, &user).await,
                Of::Group(group) => directory.group_policies(&account, &group).await,
            }
            .map_err(users_error)?;
            for name in names {
                println!("{name}");
            }
        }
        PolicyCommand::Show {
            holder,
            account,
            name,
        } => {
            let (policy, of) = match holder.of()? {
                Of::User(user) => (directory.user_policy(&account, &user, &name).await, user),
                Of::Group(group) => (directory.group_policy(&account, &group, &name).await, group),
            };
            let policy = policy.map_err(users_error)?.ok_or_else(|| {
                users_error(users::UserError::NotFound {
                    kind: "policy",
                    name: format!("{of}/{name}"),
                })
            })?;
            println!("{}", policy.document);
        }
        PolicyCommand::Delete {
            holder,
            account,
            name,
        } => match holder.of()? {
            Of::User(user) => directory.delete_user_policy(&account, &user, &name).await,
            Of::Group(group) => directory.delete_group_policy(&account, &group, &name).await,
        }
        .map_err(users_error)?,
    }
    Ok(())
}

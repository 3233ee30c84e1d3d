//! Command line of the `euca` binary: one subcommand per component or tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Eucalyptus 1.6 private cloud, reimplemented in Rust: one binary for every component.
#[derive(Debug, Parser)]
#[command(name = "euca", version, arg_required_else_help = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to run. Components add their subcommand here once it does real work.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the cloud's key pairs and certificates.
    #[command(subcommand)]
    Keys(KeysCommand),
    // The help text is NodeArgs' own.
    Node(node::NodeArgs),
    // The help text is BundleImageArgs' own.
    BundleImage(walrus::bundle::cli::BundleImageArgs),
    // The help text is UploadBundleArgs' own.
    UploadBundle(walrus::bundle::cli::UploadBundleArgs),
    // The help text is WalrusArgs' own.
    Walrus(walrus::WalrusArgs),
    // The help text is ClusterArgs' own.
    Cluster(cluster::ClusterArgs),
    // The help text is CloudArgs' own.
    Cloud(cloud::CloudArgs),
    // The help text is AdminArgs' own.
    Admin(cloud::admin::AdminArgs),
    // The help text is StorageArgs' own.
    Storage(storage::StorageArgs),
    // The help text is UpArgs' own.
    Up(up::UpArgs),
    // The help text is StatusArgs' own.
    Status(up::StatusArgs),
}

impl Command {
    /// Runs the chosen subcommand to completion.
    pub fn run(self) -> ExitCode {
        match self {
            Self::Keys(command) => command.run(),
            Self::Node(args) => node::main(args),
            Self::BundleImage(args) => walrus::bundle::cli::main(args),
            Self::UploadBundle(args) => walrus::bundle::cli::upload_main(args),
            Self::Walrus(args) => walrus::main(args),
            Self::Cluster(args) => cluster::main(args),
            Self::Cloud(args) => cloud::main(args),
            Self::Admin(args) => cloud::admin::main(args),
            Self::Storage(args) => storage::main(args),
            Self::Up(args) => up::main(args),
            Self::Status(args) => up::status(args),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create the cloud, cluster and node key pairs in DIR; existing pairs are kept, never overwritten.
    Init {
        /// Key directory, such as var/lib/eucalyptus/keys.
        dir: std::path::PathBuf,
    },
}

impl KeysCommand {
    fn run(self) -> ExitCode {
        let Self::Init { dir } = self;
        match soap::keys::init(&dir) {
            Ok(outcomes) => {
                for o in outcomes {
                    let done = if o.created {
                        "created"
                    } else {
                        "kept existing"
                    };
                    println!(
                        "{done} {} key pair: {} {}",
                        o.role,
                        o.certificate.display(),
                        o.private_key.display()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("euca keys init: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

//! `euca`: the single binary that runs every component of the cloud and its tools.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    cli.command.run()
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`), coloured only on a terminal so
/// that log files and scripts reading them see plain `key=value` fields.
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

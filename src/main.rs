//! `euca`: the single binary that runs every component of the cloud and its tools.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    up::follow_supervisor();
    kit::init_tracing();
    cli.command.run()
}

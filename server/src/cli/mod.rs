//! The `orgstore` command line: one sub-command per file in this folder.

pub mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `orgstore`: OrgStore's server and tools.
#[derive(Debug, Parser)]
#[command(
    name = "orgstore",
    version,
    about = "OrgStore: a local Scalekit organization store and server"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Scalekit's organization API (gRPC and REST) over a store file.
    Serve(serve::ServeArgs),
}

/// Runs the command line; the exit code is 0 on success.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve::run(&args),
    }
}

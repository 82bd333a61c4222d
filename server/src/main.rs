//! The `orgstore` binary: see [`orgstore_server::cli`].

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    orgstore_server::cli::run(orgstore_server::cli::Cli::parse())
}

//! The `kmirror` binary: argument parsing, logging setup and signals; the work happens in the `kmirror` crate.

mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Cross-cluster replication, disaster recovery and migration for Apache Kafka.
///
/// kmirror reads MirrorMaker 2's `mm2.properties` and writes MirrorMaker 2's internal topics.
#[derive(Debug, Parser)]
#[command(name = "kmirror", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load and check a config file, then print the resolved plan (exit 0 if valid, 2 if not).
    Validate(validate::Args),
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => validate::run(&args),
    }
}

//! The `kmirror` binary: argument parsing, logging setup and signals; the work happens in the `kmirror` crate.

use clap::Parser;

/// Cross-cluster replication, disaster recovery and migration for Apache Kafka.
///
/// kmirror reads MirrorMaker 2's `mm2.properties` and writes MirrorMaker 2's internal topics.
#[derive(Debug, Parser)]
#[command(name = "kmirror", version, about, long_about = None)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}

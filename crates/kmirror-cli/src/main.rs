//! The `kmirror` binary: argument parsing, logging setup and signals; the work happens in the `kmirror` crate.

mod failback;
mod fence;
mod offsets;
mod run;
mod status;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Cross-cluster replication, disaster recovery and migration for Apache Kafka.
///
/// kmirror reads MirrorMaker 2's `mm2.properties` and writes MirrorMaker 2's internal topics.
#[derive(Debug, Parser)]
#[command(name = "kmirror", version, about, long_about = None)]
struct Cli {
    /// Log lines as plain text or as one JSON object per line (for log shippers).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "KMIRROR_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replicate as configured until Ctrl-C / SIGTERM (then drain in-flight data and commit progress).
    Run(run::Args),
    /// Load and check a config file, then print the resolved plan (exit 0 if valid, 2 if not).
    Validate(validate::Args),
    /// Where a consumer group stands on a flow's target: its source offsets translated, and how.
    Translate(offsets::TranslateArgs),
    /// Move consumer groups to a flow's target: last checkpoint, translated offsets committed there, a report.
    Failover(offsets::FailoverArgs),
    /// End a migration: wait until the copy is complete, move the groups, say when it is safe to switch.
    Cutover(offsets::CutoverArgs),
    /// Lift the fence `failover` recorded, so `kmirror run` writes into the flow's target again.
    Unfence(fence::UnfenceArgs),
    /// After a failover: rebuild the old primary from the new one, move the groups back, re-protect.
    Failback(failback::FailbackArgs),
    /// Move a flow's stored progress (start over, or skip ahead), confirmed and logged.
    Reset(failback::ResetArgs),
    /// Write records a failback exported back into a cluster.
    Replay(failback::ReplayArgs),
    /// How every enabled flow stands, from the clusters alone: state, lag, heartbeats, groups, problems
    /// (exit 0 when every flow is replicating and reachable, 1 otherwise).
    Status(status::StatusArgs),
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Translate(args) => offsets::translate(&args),
        Command::Failover(args) => offsets::failover_cmd(&args),
        Command::Cutover(args) => offsets::cutover_cmd(&args),
        Command::Unfence(args) => fence::unfence_cmd(&args),
        Command::Failback(args) => failback::failback_cmd(&args),
        Command::Reset(args) => failback::reset_cmd(&args),
        Command::Replay(args) => failback::replay_cmd(&args),
        Command::Status(args) => status::status_cmd(&args),
    }
}

/// Logs to stderr. The filter comes from `KMIRROR_LOG`, else `RUST_LOG` (e.g. `kmirror=debug`), else `info`.
/// Colours only on a terminal: a log file or a log shipper gets plain text (or JSON with `--log-format json`).
fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal as _;
    let filter = ["KMIRROR_LOG", "RUST_LOG"]
        .iter()
        .find_map(|var| {
            std::env::var(var)
                .ok()
                .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        })
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

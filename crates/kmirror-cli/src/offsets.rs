//! `kmirror translate`, `kmirror failover` and `kmirror cutover`: consumer-group positions on a flow's target,
//! computed beside the replicating process from the offset-syncs, the stored progress and the checkpoints.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use kmirror::config::Config;
use kmirror::ops::{
    CutoverReport, FailoverOptions, FailoverReport, GroupTranslation, OffsetsView, OpsClients,
    cutover, failover, translate_group,
};

/// Exit code for an invalid config (as `kmirror validate`).
pub(crate) const INVALID: u8 = 2;

/// Arguments of `kmirror translate`.
#[derive(Debug, clap::Args)]
pub struct TranslateArgs {
    /// The config file (`mm2.properties` or `kmirror.toml`).
    #[arg(long, short)]
    config: PathBuf,
    /// The flow, `SOURCE->TARGET`.
    #[arg(long)]
    flow: String,
    /// The consumer group.
    #[arg(long)]
    group: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `kmirror failover`.
#[derive(Debug, clap::Args)]
pub struct FailoverArgs {
    /// The config file (`mm2.properties` or `kmirror.toml`).
    #[arg(long, short)]
    config: PathBuf,
    /// The flow whose target the groups move to, `SOURCE->TARGET`.
    #[arg(long)]
    flow: String,
    /// Only groups matching this regex (full match), within the flow's `groups` / `groups.exclude`.
    #[arg(long)]
    groups: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Show what would happen (translations, which groups would be written) and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not record the failover in the target cluster (kmirror would go on replicating into it).
    #[arg(long)]
    no_fence: bool,
}

/// Arguments of `kmirror cutover`: those of `failover`, and how long to wait for the copy.
#[derive(Debug, clap::Args)]
pub struct CutoverArgs {
    #[command(flatten)]
    failover: FailoverArgs,
    /// Give up (exit 1) if the copy is not complete after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

pub(crate) fn load(path: &Path) -> Option<Config> {
    match Config::load(path) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn translate(args: &TranslateArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = load(&args.config) else {
        return Ok(ExitCode::from(INVALID));
    };
    let result = runtime()?.block_on(async {
        let clients = OpsClients::connect(&config, &args.flow).await?;
        let view = OffsetsView::read(&clients).await?;
        translate_group(&clients, &view, &args.group).await
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", render_translation(&result));
    }
    Ok(ExitCode::SUCCESS)
}

fn groups_regex(groups: Option<&str>) -> anyhow::Result<Option<regex::Regex>> {
    groups
        .map(|g| regex::Regex::new(&format!("^(?:{g})$")))
        .transpose()
        .context("--groups is not a valid regex")
}

pub fn cutover_cmd(cutover_args: &CutoverArgs) -> anyhow::Result<ExitCode> {
    let args = &cutover_args.failover;
    let Some(config) = load(&args.config) else {
        return Ok(ExitCode::from(INVALID));
    };
    let groups = groups_regex(args.groups.as_deref())?;
    let timeout = std::time::Duration::from_secs(cutover_args.timeout);
    let mut last_said = std::time::Instant::now() - std::time::Duration::from_secs(60);
    let result = runtime()?.block_on(async {
        let clients = OpsClients::connect(&config, &args.flow).await?;
        cutover(
            &clients,
            groups.as_ref(),
            timeout,
            &command_line(),
            |state| {
                if !state.behind.is_empty() && last_said.elapsed().as_secs() >= 5 {
                    last_said = std::time::Instant::now();
                    eprintln!(
                        "waiting: {} records still to copy on {} of {} partitions",
                        state.total_lag_records,
                        state.behind.len(),
                        state.partitions
                    );
                }
            },
        )
        .await
        .map_err(anyhow::Error::from)
    });
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_cutover(&report));
    }
    Ok(if report.safe_to_switch {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn render_cutover(r: &CutoverReport) -> String {
    let mut out = format!(
        "cut-over of flow {}: the copy was complete after {} s\n",
        r.flow, r.waited_seconds
    );
    out.push_str(&render_failover(&r.failover));
    if r.safe_to_switch {
        out.push_str(
            "\nsafe to switch: every record is on the target and every group is positioned there\n",
        );
    } else {
        out.push_str("\nNOT safe to switch yet:\n");
        for reason in &r.reasons {
            let _ = writeln!(out, "- {reason}");
        }
    }
    out
}

pub fn failover_cmd(args: &FailoverArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = load(&args.config) else {
        return Ok(ExitCode::from(INVALID));
    };
    let groups = groups_regex(args.groups.as_deref())?;
    let options = FailoverOptions {
        dry_run: args.dry_run,
        fence: !args.no_fence,
        command: command_line(),
    };
    let report = runtime()?.block_on(async {
        let clients = OpsClients::connect(&config, &args.flow).await?;
        failover(&clients, groups.as_ref(), &options).await
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_failover(&report));
    }
    let failed = report.groups.iter().any(|g| {
        !matches!(
            g.outcome.as_str(),
            "synced" | "already_ahead" | "would_sync"
        )
    });
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Left-aligned columns.
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s:<w$}", w = widths[i]))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

pub(crate) fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn translation_rows(t: &GroupTranslation) -> Vec<Vec<String>> {
    let mut rows = vec![
        [
            "SOURCE-TOPIC",
            "PARTITION",
            "SOURCE-OFFSET",
            "TARGET-TOPIC",
            "TARGET-OFFSET",
            "COMMITTED-ON-TARGET",
            "CHECKPOINT",
            "DERIVED-FROM",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for p in &t.partitions {
        rows.push(vec![
            p.source_topic.clone(),
            p.partition.to_string(),
            p.source_offset.to_string(),
            p.target_topic.clone(),
            opt(p.target_offset),
            opt(p.target_committed),
            p.checkpoint.map_or_else(
                || "-".into(),
                |c| format!("{}->{}", c.upstream, c.downstream),
            ),
            p.derived_from.to_string(),
        ]);
    }
    rows
}

fn render_translation(t: &GroupTranslation) -> String {
    let mut out = format!("flow {}, group {}\n", t.flow, t.group);
    if let Some(e) = &t.source_error {
        let _ = writeln!(
            out,
            "the source did not answer ({e}): showing the group's last checkpoints"
        );
    }
    if t.partitions.is_empty() {
        out.push_str("the group has no committed offsets on topics this flow mirrors\n");
        return out;
    }
    out.push_str(&table(&translation_rows(t)));
    out
}

/// The command as typed, recorded with a fence.
pub(crate) fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut line = String::from("kmirror");
    for a in args.iter().skip(1) {
        line.push(' ');
        line.push_str(a);
    }
    line
}

fn render_failover(r: &FailoverReport) -> String {
    let mut out = format!(
        "{}failover of flow {}: source {}\n",
        if r.dry_run {
            "DRY RUN (nothing written): "
        } else {
            ""
        },
        r.flow,
        if r.source_reachable {
            "reachable: offsets translated now"
        } else {
            "NOT reachable: using the last checkpoints"
        }
    );
    let _ = writeln!(out, "checkpoints written: {}", r.checkpoints_written);
    for g in &r.groups {
        let _ = writeln!(
            out,
            "\ngroup {}: {} (state on target: {}{})",
            g.translation.group,
            g.outcome,
            g.target_state.as_deref().unwrap_or("?"),
            g.source_state
                .as_deref()
                .filter(|s| *s != "Empty" && *s != "Dead")
                .map_or_else(String::new, |s| format!(
                    "; still {s} on the source: its consumers there keep moving"
                ))
        );
        out.push_str(&table(&translation_rows(&g.translation)));
    }
    match r.total_lag_records {
        Some(lag) => {
            let _ = writeln!(
                out,
                "\nreplication lag: {lag} records on the source not on the target at the last progress commit"
            );
        }
        None => out.push_str("\nreplication lag: unknown (the source did not answer)\n"),
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    if let Some(at) = r.last_progress_ms {
        let _ = writeln!(out, "last progress commit: {} s ago", (now - at) / 1000);
    }
    match r.last_source_heartbeat_ms {
        Some(at) => {
            let _ = writeln!(
                out,
                "newest source heartbeat on the target: {} s ago (data written on the source after it may be missing)",
                (now - at) / 1000
            );
        }
        None => out.push_str("no source heartbeats on the target\n"),
    }
    match &r.fence {
        Some(f) => {
            let _ = writeln!(
                out,
                "fenced: flow {} is recorded as failed over in cluster {}'s {}; no kmirror process writes into \
                 it any more (lift with `kmirror unfence --config FILE --flow {} --yes`)",
                f.flow,
                r.flow.split("->").nth(1).unwrap_or("?"),
                kmirror::flow_state::FLOW_STATE_TOPIC,
                f.flow
            );
        }
        None if r.dry_run => out.push_str(
            "would record the flow as failed over in its target cluster (kmirror run stops writing into it)\n",
        ),
        None => {}
    }
    let behind: Vec<Vec<String>> = r
        .lag
        .iter()
        .filter(|l| l.lag_records.is_some_and(|lag| lag > 0))
        .map(|l| {
            vec![
                l.source_topic.clone(),
                l.partition.to_string(),
                l.copied_up_to.to_string(),
                opt(l.source_end),
                opt(l.lag_records),
            ]
        })
        .collect();
    if !behind.is_empty() {
        let mut rows = vec![
            [
                "SOURCE-TOPIC",
                "PARTITION",
                "COPIED-UP-TO",
                "SOURCE-END",
                "LAG",
            ]
            .map(String::from)
            .to_vec(),
        ];
        rows.extend(behind);
        out.push_str(&table(&rows));
    }
    out
}

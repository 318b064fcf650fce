//! `kmirror status`: how every enabled flow stands, read from the clusters alone (no running kmirror needed).
//! Exit code 0 when every flow shown is replicating (not fenced) and both its clusters answer, 1 otherwise,
//! 2 for an invalid config or an unknown `--flow`: usable from monitoring as it is.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use kmirror::flow_state::format_time;
use kmirror::ops::{FlowStatus, StatusReport, status};

use crate::offsets::{INVALID, load, opt, runtime, table};

/// Arguments of `kmirror status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The config file (`mm2.properties` or `kmirror.toml`).
    #[arg(long, short)]
    config: PathBuf,
    /// Only this flow, `SOURCE->TARGET` (also one that is not enabled).
    #[arg(long)]
    flow: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn status_cmd(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = load(&args.config) else {
        return Ok(ExitCode::from(INVALID));
    };
    let report = match runtime()?.block_on(status(&config, args.flow.as_deref())) {
        Ok(r) => r,
        // The only error: --flow names no flow of the config.
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(INVALID));
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Seconds as shown in tables: `-` when unknown.
fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v} s"))
}

fn render(r: &StatusReport) -> String {
    let mut out = String::new();
    if r.flows.is_empty() {
        out.push_str("no flow is enabled in the configuration\n");
        return out;
    }
    let mut rows = vec![
        [
            "FLOW",
            "STATE",
            "SOURCE",
            "TARGET",
            "LAG-RECORDS",
            "LAG-TIME",
            "HEARTBEAT-AGE",
            "CHECKPOINT-AGE",
            "GROUPS-SYNCED",
            "PROBLEMS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for f in &r.flows {
        rows.push(vec![
            f.flow.clone(),
            f.state.clone(),
            reachable(f.source_reachable),
            reachable(Some(f.target_reachable)),
            opt(f.lag_records),
            secs(f.lag_seconds),
            secs(f.heartbeat_age_seconds),
            secs(f.checkpoint_age_seconds),
            format!(
                "{}/{}",
                f.groups.iter().filter(|g| g.state == "synced").count(),
                f.groups.len()
            ),
            f.problems.len().to_string(),
        ]);
    }
    out.push_str(&table(&rows));
    for f in &r.flows {
        out.push_str(&render_flow(f));
    }
    out
}

fn reachable(ok: Option<bool>) -> String {
    match ok {
        Some(true) => "ok",
        Some(false) => "UNREACHABLE",
        None => "-",
    }
    .into()
}

fn render_flow(f: &FlowStatus) -> String {
    let mut out = format!("\nflow {}: {}", f.flow, f.state);
    if let Some(d) = &f.decision {
        let _ = write!(
            out,
            " (recorded by {} at {}: `{}`)",
            d.by,
            format_time(d.at_ms),
            d.command
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "age of the last progress commit: {}; of the newest {} heartbeat copied to {}: {}",
        secs(f.last_progress_age_seconds),
        f.source,
        f.target,
        secs(f.source_heartbeat_age_seconds)
    );
    if !f.topics.is_empty() {
        let mut rows = vec![
            [
                "SOURCE-TOPIC",
                "TARGET-TOPIC",
                "PARTITIONS",
                "LAG-RECORDS",
                "LAG-TIME",
                "BEHIND",
                "REFUSED",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for t in &f.topics {
            rows.push(vec![
                t.source_topic.clone(),
                t.target_topic.clone(),
                t.partitions.to_string(),
                opt(t.lag_records),
                secs(t.lag_seconds),
                t.partitions_behind.to_string(),
                t.partitions_refused.to_string(),
            ]);
        }
        out.push_str(&table(&rows));
    }
    if !f.groups.is_empty() {
        let mut rows = vec![
            [
                "GROUP",
                "STATE",
                "PARTITIONS",
                "SYNCED",
                "BEHIND",
                "BEHIND-RECORDS",
                "AHEAD",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for g in &f.groups {
            rows.push(vec![
                g.group.clone(),
                g.state.clone(),
                g.partitions.to_string(),
                g.synced.to_string(),
                g.behind.to_string(),
                g.behind_records.to_string(),
                g.ahead.to_string(),
            ]);
        }
        out.push_str(&table(&rows));
        if f.groups_truncated {
            let _ = writeln!(
                out,
                "(only the first {} groups are shown)",
                kmirror::ops::MAX_GROUPS
            );
        }
    }
    if f.problems.is_empty() {
        out.push_str("problems: none\n");
    } else {
        out.push_str("problems:\n");
        for p in &f.problems {
            let _ = writeln!(out, "- {p}");
        }
    }
    out
}

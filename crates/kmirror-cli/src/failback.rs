//! `kmirror failback`, `kmirror reset` and `kmirror replay`: the DR lifecycle after a failover.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use kmirror::config::FlowConfig;
use kmirror::flow_state::{FailbackStep, FlowState};
use kmirror::ops::{
    ExportSummary, Failback, FailbackPlan, OpsClients, ResetPlan, ResetTo, apply_reset, plan_reset,
    replay_export,
};
use kmirror::telemetry::{Metrics, StatusBoard};
use tokio_util::sync::CancellationToken;

use crate::offsets::{INVALID, command_line, load, runtime};

/// Arguments of `kmirror failback`.
#[derive(Debug, clap::Args)]
pub struct FailbackArgs {
    /// The config file (`mm2.properties` or `kmirror.toml`).
    #[arg(long, short)]
    config: PathBuf,
    /// The flow that was failed over, `OLD_PRIMARY->NEW_PRIMARY`.
    #[arg(long)]
    flow: String,
    /// Show the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Carry it out (without, the plan is shown and nothing changes).
    #[arg(long)]
    yes: bool,
    /// Where records that reached the old primary but never the new one are exported.
    #[arg(long, default_value = "kmirror-failback")]
    export_dir: PathBuf,
    /// Give up (exit 1; running the command again resumes) if the old primary has not caught up and the new
    /// primary's producers have not stopped after this many seconds.
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
    /// Serve /status, /metrics and the status page of the reverse copy here (e.g. 127.0.0.1:9465).
    #[arg(long)]
    http: Option<std::net::SocketAddr>,
}

/// Arguments of `kmirror reset`.
#[derive(Debug, clap::Args)]
pub struct ResetArgs {
    /// The config file (`mm2.properties` or `kmirror.toml`).
    #[arg(long, short)]
    config: PathBuf,
    /// The flow, `SOURCE->TARGET`.
    #[arg(long)]
    flow: String,
    /// `earliest` (copy everything again), `end` (only what is written from now on) or a time in epoch ms.
    #[arg(long)]
    to: String,
    /// Carry it out (without, the plan is shown and nothing changes).
    #[arg(long)]
    yes: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `kmirror replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The config file (`mm2.properties` or `kmirror.toml`).
    #[arg(long, short)]
    config: PathBuf,
    /// The cluster alias to write the records into.
    #[arg(long)]
    cluster: String,
    /// A failback export folder (with EXPORT-COMPLETE.json).
    #[arg(long)]
    dir: PathBuf,
    /// Carry it out (without, the export is only described).
    #[arg(long)]
    yes: bool,
}

pub fn failback_cmd(args: &FailbackArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = load(&args.config) else {
        return Ok(ExitCode::from(INVALID));
    };
    let command = command_line();
    runtime()?.block_on(async move {
        let fb = Failback::connect(&config, &args.flow).await?;
        let state = fb.state().await?;
        let step = state.failback.as_ref().map(|f| f.step);
        if step != Some(FailbackStep::Switched) {
            let plan = fb.plan().await?;
            print!("{}", render_plan(&plan, &fb));
            if args.dry_run {
                println!("\ndry run: nothing changed");
                return Ok(if plan.written_meanwhile.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
            if !args.yes {
                println!("\nnothing changed: run again with --yes to fail back");
                return Ok(ExitCode::from(1));
            }
            if step.is_none() {
                fb.check_quiet(&plan)?;
                let export = fb.export(&plan, &args.export_dir).await?;
                println!("{}", render_export(&export, &args.export_dir));
                fb.wipe_and_prepare(&export, &args.export_dir, &command).await?;
                println!(
                    "emptied {} records from {} topics on {} (topics, configs, ACLs and group offsets kept)",
                    plan.records_to_wipe,
                    plan.topics.len(),
                    fb.forward.source
                );
            } else {
                println!("\nresuming an interrupted failback: the reverse copy goes on");
            }
            let switched = copy_back_and_switch(&fb, &config, args, plan.records_to_copy, &command).await?;
            if !switched {
                return Ok(ExitCode::from(1));
            }
        } else if args.dry_run || !args.yes {
            println!(
                "the groups are back on {}; left to do: re-protection (run again with --yes)",
                fb.forward.source
            );
            return Ok(if args.dry_run {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        let state = fb.state().await?;
        let Some(failback) = state.failback.clone().filter(|f| f.step == FailbackStep::Switched) else {
            anyhow::bail!("the flow's state changed meanwhile: {}", state.describe());
        };
        fb.reprotect(&failback, &command).await?;
        println!(
            "re-protected: flow {} resumes from the current ends of {} and {} (nothing is copied twice) once \
             `kmirror run` sees the lifted fence",
            fb.forward.name(),
            fb.forward.source,
            fb.forward.target
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs the reverse copy until the old primary caught up and the new one is quiet, then moves the groups.
/// False when it was not safe to switch back (the reasons are printed).
async fn copy_back_and_switch(
    fb: &Failback,
    config: &kmirror::config::Config,
    args: &FailbackArgs,
    total: i64,
    command: &str,
) -> anyhow::Result<bool> {
    let metrics = Arc::new(Metrics::new());
    let status = Arc::new(StatusBoard::default());
    let stop = CancellationToken::new();
    if let Some(addr) = args.http {
        let state = kmirror::api::ApiState {
            metrics: metrics.clone(),
            status: status.clone(),
        };
        let (bound, _) = kmirror::api::serve(addr, state, stop.clone())
            .await
            .with_context(|| format!("serving HTTP on {addr}"))?;
        eprintln!("reverse copy status: http://{bound}/");
    }
    status.add_flow(&fb.reverse.name());
    let mut copy = fb.start_copy(Arc::new(config.clone()), metrics, status, stop.clone());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout);
    let mut last: Option<(Instant, i64)> = None;
    let mut said_waiting = false;
    let outcome = loop {
        tokio::select! {
            done = &mut copy => {
                let message = match done {
                    Ok(Ok(())) => "it stopped".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                };
                anyhow::bail!("the reverse copy {} stopped: {message}; run the failback again to resume", fb.reverse.name());
            }
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
        let state = fb.copy_state().await?;
        let lag = state.total_lag_records;
        let done = (total - lag).max(0);
        let rate = last.map_or(0.0, |(at, prev_lag)| {
            (prev_lag - lag).max(0) as f64 / at.elapsed().as_secs_f64().max(0.001)
        });
        last = Some((Instant::now(), lag));
        eprintln!("{}", progress_line(done, total, lag, rate));
        if lag == 0 {
            match fb.caught_up_and_quiet().await? {
                Some(moved) if moved.is_empty() => break Ok(()),
                Some(moved) if !said_waiting => {
                    eprintln!(
                        "{} has caught up; waiting for the producers on {} to stop (still written: {})",
                        fb.forward.source,
                        fb.forward.target,
                        moved.join(", ")
                    );
                    said_waiting = true;
                }
                _ => {}
            }
        }
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!(
                "after {} s the failback has not finished ({lag} records still to copy back to {}, or the \
                 producers on {} have not stopped); run it again to resume",
                args.timeout,
                fb.forward.source,
                fb.forward.target
            ));
        }
    };
    outcome?;
    let state = fb.state().await?;
    let report = fb.switch(command, &state).await;
    stop.cancel();
    let _ = copy.await;
    let report = report?;
    println!(
        "copied back in {:.1} s; consumer groups moved to {}:",
        started.elapsed().as_secs_f64(),
        fb.forward.source
    );
    for g in &report.failover.groups {
        println!("  group {}: {}", g.translation.group, g.outcome);
    }
    if report.safe_to_switch {
        println!(
            "safe to switch back: every record of {} is on {} and every group is positioned there",
            fb.forward.target, fb.forward.source
        );
        Ok(true)
    } else {
        println!("NOT safe to switch back yet:");
        for r in &report.reasons {
            println!("- {r}");
        }
        println!("fix that and run the failback again (the copy resumes where it is)");
        Ok(false)
    }
}

fn progress_line(done: i64, total: i64, lag: i64, rate: f64) -> String {
    let pct = if total > 0 {
        (done as f64 * 100.0 / total as f64).min(100.0)
    } else {
        100.0
    };
    let width = 30usize;
    let filled = ((pct / 100.0) * width as f64).round() as usize;
    let eta = if lag == 0 {
        "caught up".to_string()
    } else if rate > 0.0 {
        format!("ETA {:.0} s", lag as f64 / rate)
    } else {
        "ETA -".to_string()
    };
    format!(
        "[{}{}] {pct:5.1}%  {done}/{total} records  {rate:.0} records/s  {eta}",
        "#".repeat(filled.min(width)),
        "-".repeat(width - filled.min(width))
    )
}

fn render_plan(plan: &FailbackPlan, fb: &Failback) -> String {
    let (a, b) = (&fb.forward.source, &fb.forward.target);
    let mut out = format!(
        "failback of flow {}: rebuild {a} from {b}, then move the consumer groups back to {a}\n{}\n\n",
        plan.flow,
        plan.state.describe()
    );
    let mut rows = vec![vec![
        format!("TOPIC ON {a}"),
        format!("TOPIC ON {b}"),
        "PARTITIONS".into(),
        format!("WIPE ON {a}"),
        "EXPORT (ORPHANS)".into(),
        format!("COPY {b}->{a}"),
    ]];
    for t in &plan.topics {
        rows.push(vec![
            t.a_topic.clone(),
            t.b_topic.clone(),
            t.partitions.to_string(),
            t.wipe.to_string(),
            t.orphans.to_string(),
            t.copy.to_string(),
        ]);
    }
    out.push_str(&crate::offsets::table(&rows));
    let _ = writeln!(
        out,
        "\ntotal: {} records removed from {a} (topics, configs, ACLs and committed group offsets kept), {} \
         exported (they reached {a} but never {b}), {} copied back",
        plan.records_to_wipe, plan.orphans, plan.records_to_copy
    );
    let _ = writeln!(
        out,
        "consumer groups to move back to {a} at the switch: {}",
        if plan.groups.is_empty() {
            "none".to_string()
        } else {
            plan.groups.join(", ")
        }
    );
    if !plan.left_alone.is_empty() {
        let _ = writeln!(
            out,
            "left alone (no copy on {b}): {}",
            plan.left_alone.join(", ")
        );
    }
    if !plan.written_meanwhile.is_empty() {
        let _ = writeln!(
            out,
            "REFUSED: {a} is still being written ({}): stop its producers first",
            plan.written_meanwhile.join(", ")
        );
    }
    out
}

fn render_export(export: &ExportSummary, dir: &std::path::Path) -> String {
    let mut out = format!(
        "exported {} orphan records to {} (replay them with `kmirror replay --config F --cluster ALIAS --dir {} --yes`)",
        export.records,
        dir.display(),
        dir.display()
    );
    for f in export.files.iter().filter(|f| f.records > 0) {
        let _ = write!(
            out,
            "\n  {}-{}: {} records (offsets {}..{}) in {}",
            f.topic, f.partition, f.records, f.from, f.to, f.file
        );
    }
    out
}

pub fn reset_cmd(args: &ResetArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = load(&args.config) else {
        return Ok(ExitCode::from(INVALID));
    };
    let to: ResetTo = args
        .to
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--to: {e}"))?;
    runtime()?.block_on(async {
        let clients = OpsClients::connect(&config, &args.flow).await?;
        let plan = plan_reset(&clients, to).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            print!("{}", render_reset(&plan));
        }
        if !args.yes {
            println!("nothing changed: run again with --yes to reset the progress");
            return Ok(ExitCode::from(1));
        }
        apply_reset(&clients, &plan).await?;
        tracing::warn!(flow = %plan.flow, to = %args.to, by = %FlowState::new(&plan.flow, kmirror::flow_state::FlowPhase::Replicating, "").by,
            partitions = plan.partitions.len(), "replication progress reset by an operator");
        println!(
            "progress of {} partitions reset in {}; the next `kmirror run` copies from there",
            plan.partitions.len(),
            plan.progress_topic
        );
        Ok(ExitCode::SUCCESS)
    })
}

fn render_reset(plan: &ResetPlan) -> String {
    let mut rows = vec![
        [
            "SOURCE-TOPIC",
            "PARTITION",
            "NEXT-BEFORE",
            "NEXT-AFTER",
            "TARGET-NEXT",
            "COPIED-AGAIN",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for p in &plan.partitions {
        rows.push(vec![
            p.source_topic.clone(),
            p.partition.to_string(),
            p.before.map_or_else(|| "-".into(), |b| b.to_string()),
            p.after.to_string(),
            p.target_next.to_string(),
            p.copied_again.to_string(),
        ]);
    }
    let again: i64 = plan.partitions.iter().map(|p| p.copied_again).sum();
    let mut out = format!("reset of flow {} ({})\n", plan.flow, plan.progress_topic);
    out.push_str(&crate::offsets::table(&rows));
    if again > 0 {
        let _ = writeln!(
            out,
            "{again} records already on the target will be copied again (duplicates on the target)"
        );
    }
    out
}

pub fn replay_cmd(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = load(&args.config) else {
        return Ok(ExitCode::from(INVALID));
    };
    let export = kmirror::ops::read_export(&args.dir)?;
    println!(
        "{} records of flow {} in {}",
        export.records,
        export.flow,
        args.dir.display()
    );
    if !args.yes {
        println!(
            "nothing written: run again with --yes to write them into cluster {}",
            args.cluster
        );
        return Ok(ExitCode::from(1));
    }
    let Some(flow) = config
        .flows
        .iter()
        .find(|f| f.source == args.cluster || f.target == args.cluster)
        .map(FlowConfig::name)
    else {
        anyhow::bail!("no flow in the configuration uses cluster {}", args.cluster);
    };
    runtime()?.block_on(async {
        let clients = OpsClients::connect(&config, &flow).await?;
        let client = if clients.flow.target == args.cluster {
            clients.target.clone()
        } else {
            clients
                .source
                .clone()
                .map_err(|e| anyhow::anyhow!("cannot connect to cluster {}: {e}", args.cluster))?
        };
        let replayed = replay_export(&client, &args.dir).await?;
        for r in &replayed {
            println!(
                "  {}-{}: {} records written",
                r.topic, r.partition, r.records
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

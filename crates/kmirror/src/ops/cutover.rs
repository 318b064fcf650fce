//! `kmirror cutover`: the end of a migration (S5). Producers have stopped on the source; while `kmirror run`
//! keeps copying, this waits until every selected source partition is copied to its end, takes a last
//! checkpoint and commits the groups' translated offsets on the target (as a planned failover), then checks that
//! nothing was written to the source meanwhile. Only then is it safe to switch clients to the target.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kmirror_kafka::{OffsetSpec, TopicPartition};
use regex::Regex;
use serde::Serialize;

use super::clients::{OpsClients, OpsError};
use super::failover::{FailoverOptions, FailoverReport, failover};
use crate::flow_state::{FlowPhase, FlowState, write_flow_state};
use crate::policy::should_replicate_topic;
use crate::progress::read_progress_timed;

/// How often the copy is looked at while waiting.
const POLL: Duration = Duration::from_secs(1);

/// One source partition that is not copied to its end yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Behind {
    pub source_topic: String,
    pub partition: i32,
    /// Next source offset to copy per the stored progress; absent when the flow never copied from it.
    pub copied_up_to: Option<i64>,
    pub source_end: i64,
    pub lag_records: i64,
}

/// The copy of every selected source partition, measured once.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CopyState {
    pub partitions: usize,
    pub total_lag_records: i64,
    pub behind: Vec<Behind>,
    /// Why the stored progress could not be read (e.g. `kmirror run` has not created its topic yet).
    pub progress_error: Option<String>,
    /// Source end offsets, to notice writes after the copy was complete.
    #[serde(skip)]
    pub(crate) ends: BTreeMap<TopicPartition, i64>,
}

impl CopyState {
    /// The source end offset of every selected partition, as measured.
    pub fn source_ends(&self) -> &BTreeMap<TopicPartition, i64> {
        &self.ends
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CutoverReport {
    pub flow: String,
    /// True when the copy was complete, every group synced and nothing was written to the source since.
    pub safe_to_switch: bool,
    /// Why it is not safe, when it is not.
    pub reasons: Vec<String>,
    pub waited_seconds: f64,
    pub failover: FailoverReport,
}

/// Why the cut-over stopped before its groups were moved.
#[derive(Debug, thiserror::Error)]
pub enum CutoverError {
    #[error(transparent)]
    Ops(#[from] OpsError),
    #[error(
        "the cut-over needs the source cluster {alias}, which did not answer ({message}); for a source that is \
         gone use `kmirror failover`"
    )]
    SourceDown { alias: String, message: String },
    #[error(
        "after {waited_seconds} s, {lag} records are still to copy on {partitions} partitions (first: {first}); \
         is `kmirror run` running for flow {flow}, and have the producers on the source stopped?{progress_note}"
    )]
    NotCaughtUp {
        flow: String,
        waited_seconds: u64,
        lag: i64,
        partitions: usize,
        first: String,
        /// Why the stored progress could not be read, if so.
        progress_note: String,
    },
}

/// Measures how far the copy of every selected source partition is behind the source's end.
pub async fn copy_state(clients: &OpsClients) -> Result<CopyState, CutoverError> {
    let flow = &clients.flow;
    let source = clients
        .source
        .as_ref()
        .map_err(|message| CutoverError::SourceDown {
            alias: flow.source.clone(),
            message: message.clone(),
        })?;
    let source_err = |what: &str, e: kmirror_kafka::Error| OpsError::Cluster {
        what: what.to_string(),
        alias: flow.source.clone(),
        message: e.to_string(),
    };
    let metadata = source
        .metadata(None)
        .await
        .map_err(|e| source_err("listing topics", e))?;
    let partitions: Vec<TopicPartition> = metadata
        .topics
        .values()
        .filter(|t| should_replicate_topic(flow, &t.name).is_replicate())
        .flat_map(|t| {
            t.partitions
                .keys()
                .map(|p| TopicPartition::new(t.name.clone(), *p))
        })
        .collect();
    let ends = offsets_of(source, &partitions, OffsetSpec::Latest)
        .await
        .map_err(|e| source_err("listing end offsets", e))?;
    let starts = offsets_of(source, &partitions, OffsetSpec::Earliest)
        .await
        .map_err(|e| source_err("listing start offsets", e))?;
    let (progress, progress_error) = match read_progress_timed(&clients.target, &flow.source).await
    {
        Ok(p) => (p, None),
        Err(e) => (Default::default(), Some(e.to_string())),
    };
    let mut state = CopyState {
        partitions: partitions.len(),
        progress_error,
        ..CopyState::default()
    };
    for tp in &partitions {
        let Some(&end) = ends.get(tp) else { continue };
        let copied_up_to = progress.get(tp).map(|(p, _)| p.next_offset());
        let from = copied_up_to.unwrap_or_else(|| starts.get(tp).copied().unwrap_or(0));
        let lag = (end - from).max(0);
        if lag > 0 {
            state.behind.push(Behind {
                source_topic: tp.topic.clone(),
                partition: tp.partition,
                copied_up_to,
                source_end: end,
                lag_records: lag,
            });
            state.total_lag_records += lag;
        }
    }
    state.ends = ends;
    Ok(state)
}

async fn offsets_of(
    source: &kmirror_kafka::Client,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
) -> Result<BTreeMap<TopicPartition, i64>, kmirror_kafka::Error> {
    Ok(source
        .list_offsets(partitions, spec)
        .await?
        .into_iter()
        .filter_map(|(tp, r)| r.ok().map(|o| (tp, o.offset)))
        .collect())
}

/// Waits (at most `timeout`) until the copy is complete, calling `progress` after every look, then moves the
/// selected groups and says whether it is safe to switch.
pub async fn cutover(
    clients: &OpsClients,
    groups: Option<&Regex>,
    timeout: Duration,
    command: &str,
    mut progress: impl FnMut(&CopyState),
) -> Result<CutoverReport, CutoverError> {
    let started = Instant::now();
    let complete = loop {
        let state = copy_state(clients).await?;
        progress(&state);
        if state.behind.is_empty() {
            break state;
        }
        if started.elapsed() >= timeout {
            let first = state
                .behind
                .first()
                .map(|b| {
                    format!(
                        "{}-{} ({} records)",
                        b.source_topic, b.partition, b.lag_records
                    )
                })
                .unwrap_or_default();
            return Err(CutoverError::NotCaughtUp {
                flow: clients.flow.name(),
                waited_seconds: started.elapsed().as_secs(),
                progress_note: state
                    .progress_error
                    .as_ref()
                    .map(|e| format!(" (the stored progress could not be read: {e})"))
                    .unwrap_or_default(),
                lag: state.total_lag_records,
                partitions: state.behind.len(),
                first,
            });
        }
        tokio::time::sleep(POLL).await;
    };
    // Fenced only once it is safe to switch: otherwise the operator fixes what is wrong and runs it again,
    // which needs the flow still copying.
    let options = FailoverOptions {
        dry_run: false,
        fence: false,
        command: command.to_string(),
    };
    let mut report = failover(clients, groups, &options).await?;
    let after = copy_state(clients).await?;
    let mut reasons = Vec::new();
    let written: Vec<String> = after
        .ends
        .iter()
        .filter(|(tp, end)| complete.ends.get(*tp).is_none_or(|e| e != *end))
        .map(|(tp, _)| tp.to_string())
        .collect();
    if !written.is_empty() {
        reasons.push(format!(
            "the source was written to during the cut-over ({}): stop the producers and run it again",
            written.join(", ")
        ));
    }
    for g in &report.groups {
        if g.outcome != "synced" && g.outcome != "already_ahead" {
            reasons.push(format!(
                "group {}: {} on the target",
                g.translation.group, g.outcome
            ));
        }
        if let Some(state) = g
            .source_state
            .as_deref()
            .filter(|s| *s != "Empty" && *s != "Dead")
        {
            reasons.push(format!(
                "group {} is still {state} on the source: stop its consumers there and run the cut-over again, \
                 or they re-read on the target what they consume meanwhile",
                g.translation.group
            ));
        }
    }
    if reasons.is_empty() {
        // The migration is over: the target is the primary now, and no kmirror process writes into it.
        let mut fence = FlowState::new(&clients.flow.name(), FlowPhase::FailedOver, command);
        fence.positions = after
            .ends
            .iter()
            .map(|(tp, end)| (tp.to_string(), (*end, -1)))
            .collect();
        write_flow_state(&clients.target, &fence)
            .await
            .map_err(|e| {
                CutoverError::Ops(OpsError::Cluster {
                    what: "recording the cut-over".into(),
                    alias: clients.flow.target.clone(),
                    message: e.to_string(),
                })
            })?;
        report.fence = Some(fence);
    }
    Ok(CutoverReport {
        flow: clients.flow.name(),
        safe_to_switch: reasons.is_empty(),
        reasons,
        waited_seconds: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        failover: report,
    })
}

//! `kmirror reset`: move a flow's stored progress, an explicit operator action (starting a flow over, or
//! re-protecting after a failback). The next `kmirror run` copies from there.
//!
//! Refused while a `kmirror run` is copying the flow (it would overwrite the reset with its own commits):
//! stop it, or fence the flow, first.

use std::collections::BTreeMap;

use kmirror_kafka::admin::Admin;
use kmirror_kafka::{Client, OffsetSpec, TopicPartition};
use serde::Serialize;

use super::clients::{OpsClients, OpsError};
use crate::discovery::{CONNECT_OFFSETS_PARTITIONS, ensure_internal_topic};
use crate::flow_state::read_flow_state;
use crate::pipeline::forwarder::now_ms;
use crate::policy::should_replicate_topic;
use crate::progress::{ProgressStore, SourceProgress, progress_topic, read_progress_timed};

/// Progress committed more recently than this means a `kmirror run` is probably copying the flow.
const RUNNING_WINDOW_MS: i64 = 10_000;

/// Where the progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTo {
    /// Copy everything the source holds again.
    Earliest,
    /// Copy only what is written from now on.
    End,
    /// Copy from the first record at or after this time (epoch ms).
    Timestamp(i64),
}

impl std::str::FromStr for ResetTo {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "earliest" => Ok(Self::Earliest),
            "end" | "latest" => Ok(Self::End),
            other => other.parse::<i64>().map(Self::Timestamp).map_err(|_| {
                format!("`{other}` is not earliest, end or a timestamp in epoch milliseconds")
            }),
        }
    }
}

/// One partition's progress before and after.
#[derive(Debug, Clone, Serialize)]
pub struct ResetPartition {
    pub source_topic: String,
    pub partition: i32,
    /// The next source offset to copy before the reset (`None`: never copied).
    pub before: Option<i64>,
    /// The next source offset to copy after it.
    pub after: i64,
    /// Where the next copied record lands on the target (its end now).
    pub target_next: i64,
    /// Records already on the target that will be copied again (an earlier position than before).
    pub copied_again: i64,
    #[serde(skip)]
    progress: Option<SourceProgress>,
}

/// What a reset does.
#[derive(Debug, Clone, Serialize)]
pub struct ResetPlan {
    pub flow: String,
    pub progress_topic: String,
    pub partitions: Vec<ResetPartition>,
}

/// Works out the new progress of every source partition the flow selects. Needs both clusters.
pub async fn plan_reset(clients: &OpsClients, to: ResetTo) -> Result<ResetPlan, OpsError> {
    let flow = &clients.flow;
    let source = clients.source.as_ref().map_err(|e| OpsError::Connect {
        alias: flow.source.clone(),
        message: e.clone(),
    })?;
    let source_err = |what: &str, message: String| OpsError::Cluster {
        what: what.to_string(),
        alias: flow.source.clone(),
        message,
    };
    let target_err = |what: &str, message: String| OpsError::Cluster {
        what: what.to_string(),
        alias: flow.target.clone(),
        message,
    };
    refuse_while_running(clients).await?;
    let stored = read_progress_timed(&clients.target, &flow.source)
        .await
        .map_err(|e| target_err("reading the progress", e.to_string()))?;
    let metadata = source
        .metadata(None)
        .await
        .map_err(|e| source_err("listing topics", e.to_string()))?;
    let mut sources: Vec<TopicPartition> = metadata
        .topics
        .iter()
        .filter(|(name, _)| should_replicate_topic(flow, name).is_replicate())
        .flat_map(|(name, t)| {
            t.partitions
                .keys()
                .map(|p| TopicPartition::new(name.clone(), *p))
        })
        .collect();
    sources.sort();
    let spec = match to {
        ResetTo::Earliest => OffsetSpec::Earliest,
        ResetTo::End => OffsetSpec::Latest,
        ResetTo::Timestamp(ms) => OffsetSpec::Timestamp(ms),
    };
    let positions = offsets(source, &sources, spec)
        .await
        .map_err(|e| source_err("listing offsets", e))?;
    let targets: Vec<TopicPartition> = sources
        .iter()
        .map(|tp| {
            TopicPartition::new(
                flow.policy.format_remote_topic(&flow.source, &tp.topic),
                tp.partition,
            )
        })
        .collect();
    let target_ends = offsets(&clients.target, &targets, OffsetSpec::Latest)
        .await
        .unwrap_or_default();
    let mut partitions = Vec::new();
    for (tp, target) in sources.iter().zip(&targets) {
        let Some(after) = positions.get(tp).copied() else {
            continue;
        };
        let target_next = target_ends.get(target).copied().unwrap_or(0);
        let before = stored.get(tp).map(|(p, _)| p.next_offset());
        partitions.push(ResetPartition {
            source_topic: tp.topic.clone(),
            partition: tp.partition,
            before,
            after,
            target_next,
            copied_again: before.map_or(0, |b| (b - after).max(0)),
            progress: Some(SourceProgress::set_by_operator(after - 1, target_next - 1)),
        });
    }
    Ok(ResetPlan {
        flow: flow.name(),
        progress_topic: progress_topic(&flow.source),
        partitions,
    })
}

/// Offsets per partition for `spec`; a partition without an answer (e.g. no record after a timestamp) takes
/// the partition's end.
async fn offsets(
    client: &Client,
    tps: &[TopicPartition],
    spec: OffsetSpec,
) -> Result<BTreeMap<TopicPartition, i64>, String> {
    if tps.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut out = BTreeMap::new();
    let listed = client
        .list_offsets(tps, spec)
        .await
        .map_err(|e| e.to_string())?;
    let mut missing = Vec::new();
    for (tp, r) in listed {
        match r {
            Ok(o) if o.offset >= 0 => {
                out.insert(tp, o.offset);
            }
            _ => missing.push(tp),
        }
    }
    if !missing.is_empty()
        && spec != OffsetSpec::Latest
        && let Ok(ends) = client.list_offsets(&missing, OffsetSpec::Latest).await
    {
        for (tp, r) in ends {
            if let Ok(o) = r {
                out.insert(tp, o.offset);
            }
        }
    }
    Ok(out)
}

/// Refuses while the flow is copying: recent progress commits and no fence.
async fn refuse_while_running(clients: &OpsClients) -> Result<(), OpsError> {
    let flow = &clients.flow;
    let fenced = read_flow_state(&clients.target, &flow.name())
        .await
        .is_ok_and(|s| s.is_fenced());
    if fenced {
        return Ok(());
    }
    let stored = read_progress_timed(&clients.target, &flow.source)
        .await
        .unwrap_or_default();
    let newest = stored.values().map(|(_, at)| *at).max().unwrap_or(0);
    let age = now_ms() - newest;
    if age < RUNNING_WINDOW_MS {
        return Err(OpsError::Cluster {
            what: format!("resetting the progress of flow {}", flow.name()),
            alias: flow.target.clone(),
            message: format!(
                "a kmirror run seems to be copying this flow (progress committed {} ms ago): stop it first, \
                 or it overwrites the reset",
                age.max(0)
            ),
        });
    }
    Ok(())
}

/// Writes the planned progress.
pub async fn apply_reset(clients: &OpsClients, plan: &ResetPlan) -> Result<(), OpsError> {
    let entries: Vec<(TopicPartition, SourceProgress)> = plan
        .partitions
        .iter()
        .filter_map(|p| {
            p.progress.clone().map(|progress| {
                (
                    TopicPartition::new(p.source_topic.clone(), p.partition),
                    progress,
                )
            })
        })
        .collect();
    write_progress(&clients.target, &clients.flow.source, &entries)
        .await
        .map_err(|message| OpsError::Cluster {
            what: format!("writing the progress of flow {}", plan.flow),
            alias: clients.flow.target.clone(),
            message,
        })
}

/// Stores `entries` as the progress of source cluster `source_alias` in `target`'s progress topic.
pub(crate) async fn write_progress(
    target: &Client,
    source_alias: &str,
    entries: &[(TopicPartition, SourceProgress)],
) -> Result<(), String> {
    if entries.is_empty() {
        return Ok(());
    }
    let topic = progress_topic(source_alias);
    let admin = Admin::new(target.clone());
    ensure_internal_topic(&admin, &topic, CONNECT_OFFSETS_PARTITIONS, true, None)
        .await
        .map_err(|e| e.to_string())?;
    let partitions = target
        .metadata(Some(std::slice::from_ref(&topic)))
        .await
        .map_err(|e| e.to_string())?
        .topics
        .get(&topic)
        .map_or(0, |t| t.partitions.len() as i32);
    let producer = target
        .idempotent_producer()
        .await
        .map_err(|e| e.to_string())?;
    ProgressStore::new(target.clone(), producer, source_alias, partitions)
        .commit(entries)
        .await
        .map_err(|e| e.to_string())
}

//! `kmirror failover`: move consumer groups to the target in one step (S2). With the source reachable
//! (planned), every selected group's committed offsets are translated now, written as a last checkpoint and
//! committed into the target group; without it (unplanned), the latest checkpoints are committed. Either way the
//! report says per group and partition where the group now stands, and how much data may not have reached the
//! target (replication lag at the last progress commit and the source's last heartbeat seen on the target).

use std::collections::BTreeMap;

use bytes::Bytes;
use kmirror_kafka::admin::{Admin, is_group_active};
use kmirror_kafka::{OffsetSpec, TopicPartition};
use regex::Regex;
use serde::Serialize;

use super::clients::{OpsClients, OpsError};
use super::translate::{DerivedFrom, GroupTranslation, OffsetsView, translate_group};
use crate::discovery::{SINGLE_PARTITION, ensure_internal_topic};
use crate::flow_state::{FlowPhase, FlowState, write_flow_state};
use crate::internal_records::{OutRecord, encode_batch};
use crate::internal_topics::newest_timestamp;
use crate::mm2::Checkpoint;
use crate::offsets::offsets_to_write;
use crate::pipeline::forwarder::now_ms;
use crate::policy::{should_replicate_group, should_replicate_topic};

/// What happened to one group.
#[derive(Debug, Clone, Serialize)]
pub struct FailoverGroup {
    #[serde(flatten)]
    pub translation: GroupTranslation,
    /// The group's state on the source when it could be asked; consumers still running there keep moving
    /// after the failover.
    pub source_state: Option<String>,
    pub target_state: Option<String>,
    /// `synced`, `already_ahead`, `active_on_target` or `failed: ...`.
    pub outcome: String,
    /// Target partitions (`topic-N`) whose offset was written.
    pub written: Vec<String>,
}

/// How far one partition's copy is behind.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionLag {
    pub source_topic: String,
    pub partition: i32,
    /// The next source offset to copy, per the stored progress.
    pub copied_up_to: i64,
    /// The source's end offset, when the source answered.
    pub source_end: Option<i64>,
    /// Records on the source not on the target at the last progress commit.
    pub lag_records: Option<i64>,
    /// When that progress was committed (epoch ms).
    pub progress_at_ms: i64,
}

/// How a failover is carried out.
#[derive(Debug, Clone)]
pub struct FailoverOptions {
    /// Only say what would happen: nothing is written anywhere.
    pub dry_run: bool,
    /// Record in the target cluster that the flow failed over, so no kmirror process writes into the target
    /// any more (see [`crate::flow_state`]).
    pub fence: bool,
    /// The command line, recorded with the fence.
    pub command: String,
}

/// A running flow sees a fence within [`crate::flow_state`]'s check interval and then commits its progress:
/// the positions are read after this long.
const FENCE_SETTLE: std::time::Duration = std::time::Duration::from_secs(4);

#[derive(Debug, Clone, Serialize)]
pub struct FailoverReport {
    pub flow: String,
    pub dry_run: bool,
    /// The fence recorded in the target cluster, if any.
    pub fence: Option<FlowState>,
    pub source_reachable: bool,
    pub groups: Vec<FailoverGroup>,
    pub checkpoints_written: usize,
    pub lag: Vec<PartitionLag>,
    pub total_lag_records: Option<i64>,
    /// The latest progress commit (epoch ms).
    pub last_progress_ms: Option<i64>,
    /// The newest heartbeat of the source cluster that reached the target (epoch ms): data written on the
    /// source after it may be missing.
    pub last_source_heartbeat_ms: Option<i64>,
}

/// Fails the selected groups (`groups`, within the flow's group filter) over to the flow's target.
pub async fn failover(
    clients: &OpsClients,
    groups: Option<&Regex>,
    options: &FailoverOptions,
) -> Result<FailoverReport, OpsError> {
    let flow = &clients.flow;
    let target_err = |what: String, message: String| OpsError::Cluster {
        what,
        alias: flow.target.clone(),
        message,
    };
    let fencing = options.fence && !options.dry_run;
    if fencing {
        // Fence first: a running flow stops copying, so the positions below do not move any more.
        let fence = FlowState::new(&flow.name(), FlowPhase::FailedOver, &options.command);
        write_flow_state(&clients.target, &fence)
            .await
            .map_err(|e| target_err("recording the failover".into(), e.to_string()))?;
        if clients.source.is_ok() {
            tokio::time::sleep(FENCE_SETTLE).await;
        }
    }
    let view = OffsetsView::read(clients).await?;
    let selected =
        |g: &str| should_replicate_group(flow, g).is_ok() && groups.is_none_or(|r| r.is_match(g));
    let source_admin = clients.source.as_ref().ok().map(|c| Admin::new(c.clone()));
    let mut source_states: BTreeMap<String, String> = BTreeMap::new();
    let listed = match &source_admin {
        Some(admin) => admin.list_groups().await.ok(),
        None => None,
    };
    let names: Vec<String> = match &listed {
        Some(listed) => {
            for g in listed {
                if let Some(state) = &g.state {
                    source_states.insert(g.group_id.clone(), state.to_string());
                }
            }
            let mut names: Vec<String> = listed.iter().map(|g| g.group_id.clone()).collect();
            names.extend(view.checkpoints.groups());
            names.sort();
            names.dedup();
            names
        }
        None => view.checkpoints.groups(),
    };
    let target = Admin::new(clients.target.clone());
    let mut translations = Vec::new();
    for name in names.iter().filter(|g| selected(g)) {
        let t = translate_group(clients, &view, name).await?;
        if !t.partitions.is_empty() {
            translations.push(t);
        }
    }

    // The last checkpoint: everything translated now that moves a checkpoint forward.
    let fresh: Vec<Checkpoint> = translations
        .iter()
        .flat_map(|t| {
            t.partitions.iter().filter_map(|p| {
                (p.derived_from != DerivedFrom::LastCheckpoint)
                    .then_some(())
                    .and(p.target_offset)
                    .map(|downstream| Checkpoint {
                        group: t.group.clone(),
                        topic: p.target_topic.clone(),
                        partition: p.partition,
                        upstream_offset: p.source_offset,
                        downstream_offset: downstream,
                        metadata: p.metadata.clone(),
                    })
            })
        })
        .filter(|c| view.checkpoints.should_emit(c))
        .collect();
    if !fresh.is_empty() && !options.dry_run {
        write_checkpoints(clients, &fresh)
            .await
            .map_err(|e| target_err("writing the last checkpoints".into(), e))?;
    }

    let mut groups_out = Vec::new();
    for t in translations {
        let wanted: Vec<Checkpoint> = t
            .partitions
            .iter()
            .filter_map(|p| {
                p.target_offset.map(|downstream| Checkpoint {
                    group: t.group.clone(),
                    topic: p.target_topic.clone(),
                    partition: p.partition,
                    upstream_offset: p.source_offset,
                    downstream_offset: downstream,
                    metadata: p.metadata.clone(),
                })
            })
            .collect();
        let (target_state, outcome, written) =
            sync_group(&target, &t.group, &wanted, options.dry_run).await;
        groups_out.push(FailoverGroup {
            source_state: source_states.get(&t.group).cloned(),
            target_state,
            outcome,
            written,
            translation: t,
        });
    }

    let lag = replication_lag(clients, &view).await;
    let fence = if fencing {
        let mut fence = FlowState::new(&flow.name(), FlowPhase::FailedOver, &options.command);
        fence.positions = view
            .progress
            .iter()
            .map(|(tp, (p, _))| {
                (
                    tp.to_string(),
                    (p.next_offset(), p.downstream.map_or(-1, |d| d + 1)),
                )
            })
            .collect();
        write_flow_state(&clients.target, &fence)
            .await
            .map_err(|e| target_err("recording the failover".into(), e.to_string()))?;
        Some(fence)
    } else {
        None
    };
    let total_lag_records = lag
        .iter()
        .map(|l| l.lag_records)
        .sum::<Option<i64>>()
        .filter(|_| !lag.is_empty());
    Ok(FailoverReport {
        flow: flow.name(),
        dry_run: options.dry_run,
        fence,
        source_reachable: listed.is_some(),
        groups: groups_out,
        checkpoints_written: fresh.len(),
        total_lag_records,
        last_progress_ms: view.progress.values().map(|(_, at)| *at).max(),
        last_source_heartbeat_ms: last_heartbeat(clients).await,
        lag,
    })
}

async fn write_checkpoints(clients: &OpsClients, checkpoints: &[Checkpoint]) -> Result<(), String> {
    let flow = &clients.flow;
    let topic = flow.checkpoints_topic();
    let admin = Admin::new(clients.target.clone());
    ensure_internal_topic(
        &admin,
        &topic,
        SINGLE_PARTITION,
        true,
        flow.checkpoints_topic_replication_factor,
    )
    .await
    .map_err(|e| e.to_string())?;
    let producer = clients
        .target
        .idempotent_producer()
        .await
        .map_err(|e| e.to_string())?;
    let now = now_ms();
    for chunk in checkpoints.chunks(500) {
        let mut records = Vec::with_capacity(chunk.len());
        for c in chunk {
            records.push(OutRecord {
                key: Some(Bytes::from(c.encode_key().map_err(|e| e.to_string())?)),
                value: Some(Bytes::from(c.encode_value().map_err(|e| e.to_string())?)),
                timestamp: now,
            });
        }
        let batch = encode_batch(&records).map_err(|e| e.to_string())?;
        producer
            .send(TopicPartition::new(topic.clone(), 0), batch)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Commits `wanted` into the target group if it has no members; returns (state, outcome, written).
async fn sync_group(
    target: &Admin,
    group: &str,
    wanted: &[Checkpoint],
    dry_run: bool,
) -> (Option<String>, String, Vec<String>) {
    let described = match target.describe_group(group).await {
        Ok(d) => d,
        Err(e) => return (None, format!("failed: {e}"), Vec::new()),
    };
    let state = Some(described.state.to_string());
    if !described.state.is_empty_or_dead() {
        return (state, "active_on_target".into(), Vec::new());
    }
    let current = match target.offset_fetch(group, None).await {
        Ok(c) => c,
        Err(e) => return (state, format!("failed: {e}"), Vec::new()),
    };
    let writes = offsets_to_write(wanted, &current);
    if writes.is_empty() {
        return (state, "already_ahead".into(), Vec::new());
    }
    if dry_run {
        let would: Vec<String> = writes.keys().map(ToString::to_string).collect();
        return (state, "would_sync".into(), would);
    }
    match target.offset_commit(group, &writes).await {
        Ok(results) => {
            let failed: Vec<String> = results
                .iter()
                .filter_map(|(tp, r)| r.as_ref().err().map(|e| format!("{tp}: {e}")))
                .collect();
            let written = results
                .into_iter()
                .filter(|(_, r)| r.is_ok())
                .map(|(tp, _)| tp.to_string())
                .collect();
            if failed.is_empty() {
                (state, "synced".into(), written)
            } else {
                (state, format!("failed: {}", failed.join("; ")), written)
            }
        }
        Err(e) if is_group_active(&e) => (state, "active_on_target".into(), Vec::new()),
        Err(e) => (state, format!("failed: {e}"), Vec::new()),
    }
}

pub(crate) async fn replication_lag(clients: &OpsClients, view: &OffsetsView) -> Vec<PartitionLag> {
    let mut partitions: Vec<(&TopicPartition, i64, i64)> = view
        .progress
        .iter()
        .filter(|(tp, _)| should_replicate_topic(&clients.flow, &tp.topic).is_replicate())
        .map(|(tp, (p, at))| (tp, p.next_offset(), *at))
        .collect();
    partitions.sort();
    let mut ends: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    if let Ok(source) = &clients.source {
        let tps: Vec<TopicPartition> = partitions.iter().map(|(tp, _, _)| (*tp).clone()).collect();
        if let Ok(listed) = source.list_offsets(&tps, OffsetSpec::Latest).await {
            for (tp, r) in listed {
                if let Ok(o) = r {
                    ends.insert(tp, o.offset);
                }
            }
        }
    }
    partitions
        .into_iter()
        .map(|(tp, copied_up_to, at)| {
            let source_end = ends.get(tp).copied();
            PartitionLag {
                source_topic: tp.topic.clone(),
                partition: tp.partition,
                copied_up_to,
                source_end,
                lag_records: source_end.map(|e| (e - copied_up_to).max(0)),
                progress_at_ms: at,
            }
        })
        .collect()
}

/// The newest timestamp in the target's copy of the source's heartbeats (`<source>.heartbeats`).
pub(crate) async fn last_heartbeat(clients: &OpsClients) -> Option<i64> {
    let flow = &clients.flow;
    let topic = flow
        .policy
        .format_remote_topic(&flow.source, flow.policy.heartbeats_topic());
    newest_timestamp(
        &clients.target,
        &topic,
        std::time::Duration::from_secs(60),
        |_| true,
    )
    .await
    .ok()
    .flatten()
}

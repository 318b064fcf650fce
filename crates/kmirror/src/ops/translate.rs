//! `kmirror translate`: where a consumer group stands on the target, computed outside the replicating process
//! from what the clusters hold — the offset-syncs (kmirror writes both ends of every run, so exactness can be
//! recovered from them), the stored progress (the last copied record of every partition) and the latest
//! checkpoints.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kmirror_kafka::admin::{Admin, GroupOffset};
use kmirror_kafka::{Client, FetchPartition, FetchRequest, Isolation, TopicPartition};
use serde::Serialize;

use super::clients::{OpsClients, OpsError};
use crate::config::{FlowConfig, IsolationLevel};
use crate::internal_topics::read_to_end;
use crate::mm2::Checkpoint;
use crate::offsets::{
    CheckpointStore, Derivation, SyncHistories, SyncPoint, Untranslatable, load_sync_histories,
};
use crate::policy::{Decision, should_replicate_topic};
use crate::progress::{SourceProgress, read_progress_timed};

const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// What the clusters say about a flow's offsets, read once.
#[derive(Debug)]
pub struct OffsetsView {
    /// Offset-syncs, each partition ending with its stored progress point.
    pub histories: SyncHistories,
    pub checkpoints: CheckpointStore,
    /// Stored progress per source partition, with when it was committed (epoch ms).
    pub progress: HashMap<TopicPartition, (SourceProgress, i64)>,
    /// Why the offset-syncs could not be read, if they could not.
    pub syncs_error: Option<String>,
}

impl OffsetsView {
    pub async fn read(clients: &OpsClients) -> Result<Self, OpsError> {
        let flow = &clients.flow;
        let target_err = |what: &str, e: String| OpsError::Cluster {
            what: what.to_string(),
            alias: flow.target.clone(),
            message: e,
        };
        let (histories, syncs_error) = match &clients.offset_syncs {
            Ok(client) => {
                match load_sync_histories(client, &flow.offset_syncs_topic(), READ_TIMEOUT).await {
                    Ok((h, _)) => (h, None),
                    Err(e) => (SyncHistories::default(), Some(e.to_string())),
                }
            }
            Err(e) => (SyncHistories::default(), Some(e.clone())),
        };
        let progress = read_progress_timed(&clients.target, &flow.source)
            .await
            .map_err(|e| target_err("reading replication progress", e.to_string()))?;
        for (tp, (p, _)) in &progress {
            if let Some(downstream) = p.downstream {
                histories.push_if_newer(
                    tp,
                    SyncPoint {
                        source: p.offset,
                        target: downstream,
                    },
                );
            }
        }
        let records = read_to_end(&clients.target, &flow.checkpoints_topic(), READ_TIMEOUT)
            .await
            .map_err(|e| target_err("reading checkpoints", e.to_string()))?;
        let (checkpoints, _) = CheckpointStore::from_records(records.get(&0).into_iter().flatten());
        Ok(Self {
            histories,
            checkpoints,
            progress,
            syncs_error,
        })
    }
}

/// How a target offset was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DerivedFrom {
    /// Exact: from runs proven by consecutive offset-syncs, or the stored progress.
    Exact,
    /// MM2's rule from the latest sync at or below the offset: never skips, may re-read this many records.
    Mm2Rule { may_reread: i64 },
    /// The group consumed records not copied yet: it continues at the copy's end and re-reads at most this many.
    AheadOfCopy { uncopied: i64 },
    /// The source did not answer: the latest checkpoint (may re-read what the group consumed since).
    LastCheckpoint,
    /// No offset-sync covers the position (nothing copied yet, or older than the kept history).
    NoHistory { oldest: Option<i64> },
}

impl std::fmt::Display for DerivedFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact => f.write_str("exact (offset-sync runs)"),
            Self::Mm2Rule { may_reread } => write!(f, "MM2 rule (may re-read {may_reread})"),
            Self::AheadOfCopy { uncopied } => {
                write!(f, "ahead of the copy ({uncopied} not copied yet)")
            }
            Self::LastCheckpoint => f.write_str("last checkpoint (source unreachable)"),
            Self::NoHistory { oldest: Some(o) } => write!(f, "no history (oldest sync at {o})"),
            Self::NoHistory { oldest: None } => f.write_str("no history"),
        }
    }
}

impl From<Derivation> for DerivedFrom {
    fn from(d: Derivation) -> Self {
        match d {
            Derivation::Exact => Self::Exact,
            Derivation::Mm2Rule { may_reread } => Self::Mm2Rule { may_reread },
            Derivation::AheadOfCopy { uncopied } => Self::AheadOfCopy { uncopied },
        }
    }
}

/// A checkpoint's two offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckpointPosition {
    pub upstream: i64,
    pub downstream: i64,
}

/// One partition of a group.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionTranslation {
    pub source_topic: String,
    pub partition: i32,
    /// The group's committed offset on the source (from the checkpoint when the source did not answer).
    pub source_offset: i64,
    pub target_topic: String,
    pub target_offset: Option<i64>,
    pub derived_from: DerivedFrom,
    /// The commit metadata on the source.
    #[serde(skip)]
    pub metadata: String,
    pub checkpoint: Option<CheckpointPosition>,
    /// What the group has committed on the target now.
    pub target_committed: Option<i64>,
}

/// A group's translation.
#[derive(Debug, Clone, Serialize)]
pub struct GroupTranslation {
    pub flow: String,
    pub group: String,
    /// Why the source's committed offsets could not be read (then checkpoints are used).
    pub source_error: Option<String>,
    pub partitions: Vec<PartitionTranslation>,
}

/// Translates `group`'s committed source offsets (or, if the source does not answer, its last checkpoints).
pub async fn translate_group(
    clients: &OpsClients,
    view: &OffsetsView,
    group: &str,
) -> Result<GroupTranslation, OpsError> {
    let flow = &clients.flow;
    let source_offsets = match &clients.source {
        Ok(source) => Admin::new(source.clone())
            .offset_fetch(group, None)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    let target_committed = Admin::new(clients.target.clone())
        .offset_fetch(group, None)
        .await
        .map_err(|e| OpsError::Cluster {
            what: format!("reading the committed offsets of group '{group}'"),
            alias: flow.target.clone(),
            message: e.to_string(),
        })?;
    let checkpoints: Vec<&Checkpoint> = view.checkpoints.group(group).collect();
    let mut partitions = match &source_offsets {
        Ok(offsets) => from_source(clients, view, offsets, &checkpoints).await,
        Err(_) => from_checkpoints(flow, &checkpoints),
    };
    for p in &mut partitions {
        p.target_committed = target_committed
            .get(&TopicPartition::new(p.target_topic.clone(), p.partition))
            .map(|o| o.offset);
    }
    Ok(GroupTranslation {
        flow: flow.name(),
        group: group.to_string(),
        source_error: source_offsets.err(),
        partitions,
    })
}

fn checkpoint_of(
    checkpoints: &[&Checkpoint],
    topic: &str,
    partition: i32,
) -> Option<CheckpointPosition> {
    checkpoints
        .iter()
        .find(|c| c.topic == topic && c.partition == partition)
        .map(|c| CheckpointPosition {
            upstream: c.upstream_offset,
            downstream: c.downstream_offset,
        })
}

async fn from_source(
    clients: &OpsClients,
    view: &OffsetsView,
    offsets: &BTreeMap<TopicPartition, GroupOffset>,
    checkpoints: &[&Checkpoint],
) -> Vec<PartitionTranslation> {
    let flow = &clients.flow;
    let mut out = Vec::new();
    for (tp, committed) in offsets {
        let Decision::Replicate { target_name } = should_replicate_topic(flow, &tp.topic) else {
            continue;
        };
        let (target_offset, mut derived_from) = match view.histories.translate(tp, committed.offset)
        {
            Ok(t) => (Some(t.offset), t.derivation.into()),
            Err(Untranslatable::NoSyncs) => (None, DerivedFrom::NoHistory { oldest: None }),
            Err(Untranslatable::OlderThanHistory { oldest }) => (
                None,
                DerivedFrom::NoHistory {
                    oldest: Some(oldest),
                },
            ),
        };
        // Past the last copied record: the group is ahead of the copy, unless all it read since are records
        // the flow does not copy (transaction markers, aborted records; known from the progress record, or
        // asked of the source): then the copy's end is exact.
        if let Some((progress, _)) = view.progress.get(tp)
            && let Some(downstream) = progress.downstream
            && committed.offset > progress.offset + 1
            && target_offset == Some(downstream + 1)
        {
            derived_from = DerivedFrom::AheadOfCopy {
                uncopied: committed.offset - progress.offset - 1,
            };
            if committed.offset <= progress.next_offset() {
                // The flow itself recorded that nothing copyable follows the last copied record.
                derived_from = DerivedFrom::Exact;
            } else if let Ok(source) = &clients.source
                && let Ok(false) =
                    copyable_between(source, flow, tp, progress.offset + 1, committed.offset).await
            {
                derived_from = DerivedFrom::Exact;
            }
        }
        out.push(PartitionTranslation {
            source_topic: tp.topic.clone(),
            partition: tp.partition,
            source_offset: committed.offset,
            checkpoint: checkpoint_of(checkpoints, &target_name, tp.partition),
            target_topic: target_name,
            target_offset,
            derived_from,
            metadata: committed.metadata.clone().unwrap_or_default(),
            target_committed: None,
        });
    }
    out
}

/// How the flow reads its source (`isolation.level`).
pub(super) fn source_isolation(flow: &FlowConfig) -> Isolation {
    match flow.isolation_level {
        IsolationLevel::ReadCommitted => Isolation::ReadCommitted,
        IsolationLevel::ReadUncommitted => Isolation::ReadUncommitted,
    }
}

/// Whether the source holds a record the flow would copy at an offset in `[from, until)`. A batch overlapping
/// the range counts (a compacted batch may hold none there); when the answer is unclear, it is yes.
async fn copyable_between(
    source: &Client,
    flow: &FlowConfig,
    tp: &TopicPartition,
    from: i64,
    until: i64,
) -> Result<bool, kmirror_kafka::Error> {
    let isolation = source_isolation(flow);
    let mut at = from;
    for _ in 0..16 {
        if at >= until {
            return Ok(false);
        }
        let mut req = FetchRequest::new(vec![FetchPartition {
            tp: tp.clone(),
            offset: at,
            max_bytes: 1 << 20,
        }]);
        req.isolation = isolation;
        req.max_wait = Duration::from_millis(100);
        let Some(fetched) = source.fetch(&req).await?.into_iter().next() else {
            return Ok(true);
        };
        let data = fetched.result?;
        // Aborted transactions come only with read_committed fetches; the filter is per response.
        let mut aborted = kmirror_kafka::AbortedFilter::new(&data.aborted_transactions);
        let mut moved = false;
        for item in data.batches() {
            let Ok((header, bytes)) = item else {
                break;
            };
            if header.next_offset() <= at {
                continue;
            }
            if header.base_offset >= until {
                return Ok(false);
            }
            let skipped = aborted.classify(&header, &bytes) != kmirror_kafka::BatchKind::Data;
            if !skipped {
                return Ok(true);
            }
            at = header.next_offset();
            moved = true;
        }
        if !moved {
            return Ok(true);
        }
    }
    Ok(true)
}

fn from_checkpoints(flow: &FlowConfig, checkpoints: &[&Checkpoint]) -> Vec<PartitionTranslation> {
    checkpoints
        .iter()
        .map(|c| PartitionTranslation {
            source_topic: flow
                .policy
                .upstream_topic(&c.topic)
                .unwrap_or(&c.topic)
                .to_string(),
            partition: c.partition,
            source_offset: c.upstream_offset,
            target_topic: c.topic.clone(),
            target_offset: Some(c.downstream_offset),
            derived_from: DerivedFrom::LastCheckpoint,
            metadata: c.metadata.clone(),
            checkpoint: Some(CheckpointPosition {
                upstream: c.upstream_offset,
                downstream: c.downstream_offset,
            }),
            target_committed: None,
        })
        .collect()
}

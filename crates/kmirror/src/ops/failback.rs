//! `kmirror failback`: after `kmirror failover` made the target B the primary of flow `A->B`, rebuild the old
//! primary A from B and move back (the seed's failback; scenario S3), in steps that survive a crash:
//!
//! 1. **Plan** (preflight): A reachable, the flow failed over, A quiet (producers still writing to A would be
//!    lost), per topic what is wiped, exported and copied back.
//! 2. **Export** the orphans: records that reached A after the last one copied to B (per the stored progress)
//!    go to one JSON Lines file per partition (`kmirror replay` writes them back), with a completion marker,
//!    so a rerun reuses the export instead of reading a wiped A.
//! 3. **Wipe** A's mirrored topics with DeleteRecords up to their end: the topics, their configs and ACLs and
//!    the consumer groups' committed offsets stay (deleting the topics would drop the groups' offsets and the
//!    configs). Compacted topics get `compact,delete` for the moment of the deletion.
//! 4. **Reverse copy** B→A with identity naming, from B's start (A's old progress of a previous failback is
//!    reset), as an ordinary flow `B->A` run inside the command; its progress lives in A as any flow's.
//! 5. **Switch**: once A has caught up and B is quiet, B's consumer groups move to A with `cutover`'s
//!    semantics (exact translation, "safe to switch back" or why not); `B->A` is fenced.
//! 6. **Re-protect**: `A->B` resumes from the current ends of both sides (nothing copied twice) and its fence
//!    is lifted.
//!
//! The flow's state in B ([`crate::flow_state`]) records the step reached: `failing-back`/`rebuilding` once A
//! was wiped (a rerun never exports or wipes again), `switched` with the re-protection positions once the
//! groups moved (a rerun only re-protects, from the positions taken at the switch).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use kmirror_kafka::admin::{Admin, AlterConfigOp, ConfigResource, DELETE_TO_HIGH_WATERMARK};
use kmirror_kafka::batch::{Batches, decode_batch};
use kmirror_kafka::{
    AbortedFilter, BatchKind, Client, FetchPartition, FetchRequest, Isolation, OffsetSpec,
    TopicPartition,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::clients::{OpsClients, OpsError};
use super::cutover::{CopyState, CutoverError, CutoverReport, copy_state, cutover};
use super::reset::write_progress;
use crate::config::{Config, FlowConfig, OffsetSyncsTopicLocation};
use crate::discovery::{SINGLE_PARTITION, ensure_internal_topic};
use crate::flow::{FlowClients, FlowError, run_flow};
use crate::flow_state::{
    FailbackState, FailbackStep, FlowPhase, FlowState, read_flow_state, write_flow_state,
};
use crate::internal_records::{OutRecord, encode_batch};
use crate::internal_topics::read_each;
use crate::mm2::OffsetSync;
use crate::pipeline::forwarder::now_ms;
use crate::policy::{
    PatternList, PolicyKind, TopicFilter, should_replicate_group, should_replicate_topic,
};
use crate::progress::{SourceProgress, read_progress};
use crate::telemetry::{Metrics, StatusBoard};

/// Written last into the export folder: the export is complete and describes it.
pub const EXPORT_COMPLETE: &str = "EXPORT-COMPLETE.json";
/// How long A's and B's end offsets must stay still to count as quiet.
const QUIET_WINDOW: Duration = Duration::from_secs(3);
/// Largest decompressed batch read while exporting.
const MAX_BATCH_BYTES: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FailbackError {
    #[error(transparent)]
    Ops(#[from] OpsError),
    #[error(transparent)]
    Cutover(#[from] CutoverError),
    #[error(
        "flow {flow} uses the default (prefix) replication policy: its target holds `{origin}.<topic>` copies, \
         which is an active-active layout. Failback rebuilds the old primary with identity naming; for \
         active-active, run the reverse flow {target}->{origin} instead"
    )]
    NotIdentity {
        flow: String,
        origin: String,
        target: String,
    },
    #[error(
        "flow {flow} has not failed over (its state in cluster {target} is `{phase}`): there is nothing to fail \
         back. Run `kmirror failover --config FILE --flow {flow}` first"
    )]
    NotFailedOver {
        flow: String,
        target: String,
        phase: String,
    },
    #[error(
        "the old primary {alias} does not answer ({message}): bring it back (its brokers running and \
         reachable) and run the failback again"
    )]
    OldPrimaryDown { alias: String, message: String },
    #[error(
        "producers are still writing to {alias} ({topics}): stop them first. Failback rebuilds {alias} from \
         {primary}, so records written to {alias} now would be lost"
    )]
    OldPrimaryWritten {
        alias: String,
        primary: String,
        topics: String,
    },
    #[error("exporting the orphans to {dir}: {message}")]
    Export { dir: String, message: String },
    #[error("{what} on cluster {alias}: {message}")]
    Cluster {
        what: String,
        alias: String,
        message: String,
    },
    #[error("the reverse copy {flow} stopped: {source}")]
    Copy {
        flow: String,
        #[source]
        source: FlowError,
    },
}

/// A flow being failed back, with both clusters connected.
#[derive(Debug, Clone)]
pub struct Failback {
    /// The flow that failed over, `A->B`.
    pub forward: FlowConfig,
    /// The reverse copy `B->A`: identity naming, exactly the topics of `pairs`.
    pub reverse: FlowConfig,
    /// The old primary (the forward flow's source).
    pub a: Client,
    /// The new primary (the forward flow's target).
    pub b: Client,
    /// (topic on A, its copy on B) for every mirrored topic that exists on both.
    pub pairs: Vec<(String, String)>,
}

/// What a failback does, per topic.
#[derive(Debug, Clone, Serialize)]
pub struct FailbackPlan {
    pub flow: String,
    pub state: FlowState,
    pub topics: Vec<TopicPlan>,
    /// Mirrored topics on A with no copy on B: left as they are.
    pub left_alone: Vec<String>,
    /// Consumer groups on B (within the flow's group filter) that move back to A at the switch.
    pub groups: Vec<String>,
    pub orphans: i64,
    pub records_to_copy: i64,
    pub records_to_wipe: i64,
    /// Topics of A whose end moved during the preflight (producers still writing).
    pub written_meanwhile: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TopicPlan {
    pub a_topic: String,
    pub b_topic: String,
    pub partitions: usize,
    /// Records on A now (to be removed).
    pub wipe: i64,
    /// Records on A never copied to B (to be exported).
    pub orphans: i64,
    /// Records on B (to be copied back).
    pub copy: i64,
    #[serde(skip)]
    orphan_ranges: Vec<(i32, i64, i64)>,
}

/// One exported partition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedFile {
    pub topic: String,
    pub partition: i32,
    /// Source offsets `[from, to)` that were looked at on A.
    pub from: i64,
    pub to: i64,
    pub records: i64,
    pub file: String,
}

/// The export, as recorded in [`EXPORT_COMPLETE`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportSummary {
    pub flow: String,
    pub at_ms: i64,
    pub records: i64,
    pub files: Vec<ExportedFile>,
}

/// One exported record, a line of a `.jsonl` file: bytes in standard base64 (`null` for a null key, value
/// or header value), the timestamp in epoch ms as the source had it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<String>,
    pub value: Option<String>,
    /// (key, value) pairs in order, both base64.
    pub headers: Vec<(String, Option<String>)>,
}

impl Failback {
    /// Connects both clusters of flow `name` (`A->B`) and works out the topics.
    pub async fn connect(config: &Config, name: &str) -> Result<Self, FailbackError> {
        let clients = OpsClients::connect(config, name).await?;
        let forward = clients.flow.clone();
        if forward.policy.kind() != PolicyKind::Identity {
            return Err(FailbackError::NotIdentity {
                flow: forward.name(),
                origin: forward.source.clone(),
                target: forward.target.clone(),
            });
        }
        let a = clients
            .source
            .clone()
            .map_err(|message| FailbackError::OldPrimaryDown {
                alias: forward.source.clone(),
                message,
            })?;
        let b = clients.target.clone();
        let a_topics = a
            .metadata(None)
            .await
            .map_err(|e| cluster_err("listing topics", &forward.source, e))?;
        let b_topics = b
            .metadata(None)
            .await
            .map_err(|e| cluster_err("listing topics", &forward.target, e))?;
        let mut pairs = Vec::new();
        for name in a_topics.topics.keys() {
            if !should_replicate_topic(&forward, name).is_replicate()
                || forward.policy.is_heartbeats_topic(name)
            {
                continue;
            }
            let remote = forward.policy.format_remote_topic(&forward.source, name);
            pairs.push((name.clone(), remote));
        }
        pairs.retain(|(_, remote)| b_topics.topics.contains_key(remote));
        pairs.sort();
        let reverse = reverse_flow(&forward, &pairs);
        Ok(Self {
            forward,
            reverse,
            a,
            b,
            pairs,
        })
    }

    fn ops(&self) -> OpsClients {
        OpsClients {
            flow: self.reverse.clone(),
            source: Ok(self.b.clone()),
            target: self.a.clone(),
            offset_syncs: Ok(self.b.clone()),
        }
    }

    fn a_alias(&self) -> &str {
        &self.forward.source
    }

    fn b_alias(&self) -> &str {
        &self.forward.target
    }

    /// The flow's state in B: it must have failed over (or be failing back already).
    pub async fn state(&self) -> Result<FlowState, FailbackError> {
        let state = read_flow_state(&self.b, &self.forward.name())
            .await
            .map_err(|e| FailbackError::Cluster {
                what: "reading the flow's state".into(),
                alias: self.b_alias().to_string(),
                message: e.to_string(),
            })?;
        if !state.is_fenced() {
            return Err(FailbackError::NotFailedOver {
                flow: self.forward.name(),
                target: self.b_alias().to_string(),
                phase: "replicating".into(),
            });
        }
        Ok(state)
    }

    /// Preflight: what each step will do, and whether A is still being written.
    pub async fn plan(&self) -> Result<FailbackPlan, FailbackError> {
        let state = self.state().await?;
        let progress =
            read_progress(&self.b, self.a_alias())
                .await
                .map_err(|e| FailbackError::Cluster {
                    what: "reading the progress".into(),
                    alias: self.b_alias().to_string(),
                    message: e.to_string(),
                })?;
        let a_parts = self
            .partitions(&self.a, self.pairs.iter().map(|p| &p.0))
            .await?;
        let b_bounds = self.bounds_of(Side::New).await?;
        let a_bounds = bounds(&self.a, &a_parts)
            .await
            .map_err(|e| cluster_err("listing offsets", self.a_alias(), e))?;
        let mut topics = Vec::new();
        for (a_topic, b_topic) in &self.pairs {
            let mut t = TopicPlan {
                a_topic: a_topic.clone(),
                b_topic: b_topic.clone(),
                partitions: 0,
                wipe: 0,
                orphans: 0,
                copy: 0,
                orphan_ranges: Vec::new(),
            };
            for (tp, (start, end)) in a_bounds.iter().filter(|(tp, _)| &tp.topic == a_topic) {
                t.partitions += 1;
                t.wipe += end - start;
                let copied = progress.get(tp).map_or(*start, SourceProgress::next_offset);
                let from = copied.max(*start);
                if *end > from {
                    t.orphans += end - from;
                    t.orphan_ranges.push((tp.partition, from, *end));
                }
            }
            for (_, (start, end)) in b_bounds.iter().filter(|(tp, _)| &tp.topic == b_topic) {
                t.copy += end - start;
            }
            topics.push(t);
        }
        let mut written_meanwhile = Vec::new();
        if state.failback.is_none() {
            tokio::time::sleep(QUIET_WINDOW).await;
            let again = bounds(&self.a, &a_parts)
                .await
                .map_err(|e| cluster_err("listing offsets", self.a_alias(), e))?;
            for (tp, (_, end)) in &again {
                if a_bounds.get(tp).is_some_and(|(_, e)| e != end) {
                    written_meanwhile.push(tp.topic.clone());
                }
            }
            written_meanwhile.sort();
            written_meanwhile.dedup();
        }
        let left_alone = self.left_alone().await;
        let groups = Admin::new(self.b.clone())
            .list_groups()
            .await
            .map(|listed| {
                let mut names: Vec<String> = listed
                    .into_iter()
                    .map(|g| g.group_id)
                    .filter(|g| should_replicate_group(&self.forward, g).is_ok())
                    .collect();
                names.sort();
                names
            })
            .map_err(|e| cluster_err("listing consumer groups", self.b_alias(), e))?;
        Ok(FailbackPlan {
            groups,
            flow: self.forward.name(),
            orphans: topics.iter().map(|t| t.orphans).sum(),
            records_to_copy: topics.iter().map(|t| t.copy).sum(),
            records_to_wipe: topics.iter().map(|t| t.wipe).sum(),
            state,
            topics,
            left_alone,
            written_meanwhile,
        })
    }

    async fn left_alone(&self) -> Vec<String> {
        let Ok(meta) = self.a.metadata(None).await else {
            return Vec::new();
        };
        meta.topics
            .keys()
            .filter(|t| {
                should_replicate_topic(&self.forward, t).is_replicate()
                    && !self.forward.policy.is_heartbeats_topic(t)
                    && !self.pairs.iter().any(|(a, _)| a == *t)
            })
            .cloned()
            .collect()
    }

    async fn partitions<'a>(
        &self,
        client: &Client,
        topics: impl Iterator<Item = &'a String>,
    ) -> Result<Vec<TopicPartition>, FailbackError> {
        let names: Vec<String> = topics.cloned().collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let meta = client
            .metadata(Some(&names))
            .await
            .map_err(|e| FailbackError::Cluster {
                what: "describing topics".into(),
                alias: String::new(),
                message: e.to_string(),
            })?;
        Ok(meta
            .topics
            .values()
            .flat_map(|t| {
                t.partitions
                    .keys()
                    .map(|p| TopicPartition::new(t.name.clone(), *p))
            })
            .collect())
    }

    /// (start, end) of every partition of the mirrored topics on one side.
    async fn bounds_of(
        &self,
        side: Side,
    ) -> Result<BTreeMap<TopicPartition, (i64, i64)>, FailbackError> {
        let (client, alias) = match side {
            Side::Old => (&self.a, self.a_alias()),
            Side::New => (&self.b, self.b_alias()),
        };
        let parts = match side {
            Side::Old => {
                self.partitions(client, self.pairs.iter().map(|p| &p.0))
                    .await?
            }
            Side::New => {
                self.partitions(client, self.pairs.iter().map(|p| &p.1))
                    .await?
            }
        };
        bounds(client, &parts)
            .await
            .map_err(|e| cluster_err("listing offsets", alias, e))
    }

    /// Refuses to go on while A is being written (only before anything was changed).
    pub fn check_quiet(&self, plan: &FailbackPlan) -> Result<(), FailbackError> {
        if plan.written_meanwhile.is_empty() {
            return Ok(());
        }
        Err(FailbackError::OldPrimaryWritten {
            alias: self.a_alias().to_string(),
            primary: self.b_alias().to_string(),
            topics: plan.written_meanwhile.join(", "),
        })
    }

    /// Step 2: the orphans to `dir`, or the export already there.
    pub async fn export(
        &self,
        plan: &FailbackPlan,
        dir: &Path,
    ) -> Result<ExportSummary, FailbackError> {
        let err = |message: String| FailbackError::Export {
            dir: dir.display().to_string(),
            message,
        };
        let marker = dir.join(EXPORT_COMPLETE);
        if let Ok(text) = std::fs::read_to_string(&marker) {
            let summary: ExportSummary = serde_json::from_str(&text)
                .map_err(|e| err(format!("{} does not decode: {e}", marker.display())))?;
            // Only an export of this failback (made after this failover) may stand for this one's orphans.
            if summary.flow != self.forward.name() || summary.at_ms < plan.state.at_ms {
                return Err(err(format!(
                    "it holds an earlier export (flow {}, {}); choose a new --export-dir",
                    summary.flow,
                    crate::flow_state::format_time(summary.at_ms)
                )));
            }
            return Ok(summary);
        }
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        let mut files = Vec::new();
        for t in &plan.topics {
            for &(partition, from, to) in &t.orphan_ranges {
                let tp = TopicPartition::new(t.a_topic.clone(), partition);
                let records = read_committed_records(&self.a, &tp, from, to)
                    .await
                    .map_err(|e| err(format!("reading {tp} on {}: {e}", self.a_alias())))?;
                let file = format!("{}-{partition}.jsonl", t.a_topic);
                write_jsonl(&dir.join(&file), &records).map_err(|e| err(e.to_string()))?;
                files.push(ExportedFile {
                    topic: t.a_topic.clone(),
                    partition,
                    from,
                    to,
                    records: records.len() as i64,
                    file,
                });
            }
        }
        let summary = ExportSummary {
            flow: self.forward.name(),
            at_ms: now_ms(),
            records: files.iter().map(|f| f.records).sum(),
            files,
        };
        let text = serde_json::to_string_pretty(&summary).map_err(|e| err(e.to_string()))?;
        let tmp = dir.join(format!("{EXPORT_COMPLETE}.tmp"));
        std::fs::write(&tmp, text).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, &marker).map_err(|e| err(e.to_string()))?;
        Ok(summary)
    }

    /// Steps 3 and the start of 4: A's mirrored topics emptied, the reverse copy's progress set to B's start,
    /// and the state `rebuilding` recorded (after which nothing is exported or wiped again).
    pub async fn wipe_and_prepare(
        &self,
        export: &ExportSummary,
        dir: &Path,
        command: &str,
    ) -> Result<(), FailbackError> {
        let admin = Admin::new(self.a.clone());
        let a_parts = self
            .partitions(&self.a, self.pairs.iter().map(|p| &p.0))
            .await?;
        let compacted = compact_only(&admin, &self.pairs).await;
        let set = |policy: &str| -> Vec<(ConfigResource, Vec<AlterConfigOp>)> {
            compacted
                .iter()
                .map(|t| {
                    (
                        ConfigResource::Topic(t.clone()),
                        vec![AlterConfigOp::set("cleanup.policy", policy)],
                    )
                })
                .collect()
        };
        if !compacted.is_empty() {
            alter(&admin, &set("compact,delete"), self.a_alias()).await?;
        }
        let before: Vec<(TopicPartition, i64)> = a_parts
            .iter()
            .map(|tp| (tp.clone(), DELETE_TO_HIGH_WATERMARK))
            .collect();
        let deleted = admin.delete_records(&before).await;
        if !compacted.is_empty() {
            alter(&admin, &set("compact"), self.a_alias()).await?;
        }
        let deleted = deleted.map_err(|e| cluster_err("deleting records", self.a_alias(), e))?;
        if let Some((tp, Err(e))) = deleted.iter().find(|(_, r)| r.is_err()) {
            return Err(FailbackError::Cluster {
                what: format!("deleting the records of {tp}"),
                alias: self.a_alias().to_string(),
                message: e.to_string(),
            });
        }
        // The reverse copy starts at B's start, landing after A's (now empty) end.
        let b_bounds = self.bounds_of(Side::New).await?;
        let a_bounds = self.bounds_of(Side::Old).await?;
        let entries: Vec<(TopicPartition, SourceProgress)> = b_bounds
            .iter()
            .map(|(tp, (start, _))| {
                let a_end = a_bounds
                    .get(&TopicPartition::new(tp.topic.clone(), tp.partition))
                    .map_or(0, |(_, e)| *e);
                (
                    tp.clone(),
                    SourceProgress::set_by_operator(start - 1, a_end - 1),
                )
            })
            .collect();
        write_progress(&self.a, self.b_alias(), &entries)
            .await
            .map_err(|message| FailbackError::Cluster {
                what: "resetting the reverse copy's progress".into(),
                alias: self.a_alias().to_string(),
                message,
            })?;
        self.record(
            FailbackState {
                step: FailbackStep::Rebuilding,
                export_dir: dir.display().to_string(),
                exported_records: export.records,
                reprotect: BTreeMap::new(),
            },
            command,
        )
        .await
    }

    async fn record(&self, failback: FailbackState, command: &str) -> Result<(), FailbackError> {
        let mut state = FlowState::new(&self.forward.name(), FlowPhase::FailingBack, command);
        state.failback = Some(failback);
        write_flow_state(&self.b, &state)
            .await
            .map_err(|e| FailbackError::Cluster {
                what: "recording the failback's progress".into(),
                alias: self.b_alias().to_string(),
                message: e.to_string(),
            })
    }

    /// Step 4: runs the reverse copy `B->A` until `stop`.
    pub fn start_copy(
        &self,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
        status: Arc<StatusBoard>,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<Result<(), FlowError>> {
        let clients = FlowClients {
            source: self.b.clone(),
            target: self.a.clone(),
            offset_syncs: self.b.clone(),
        };
        tokio::spawn(run_flow(
            config,
            self.reverse.clone(),
            clients,
            metrics,
            status,
            stop,
        ))
    }

    /// How far the reverse copy is.
    pub async fn copy_state(&self) -> Result<CopyState, FailbackError> {
        Ok(copy_state(&self.ops()).await?)
    }

    /// Whether the reverse copy is complete and B's ends stayed put for a moment (B's producers stopped).
    pub async fn caught_up_and_quiet(&self) -> Result<Option<Vec<String>>, FailbackError> {
        let first = self.copy_state().await?;
        if !first.behind.is_empty() {
            return Ok(None);
        }
        tokio::time::sleep(QUIET_WINDOW).await;
        let second = self.copy_state().await?;
        let mut moved: Vec<String> = second
            .ends
            .iter()
            .filter(|(tp, end)| first.ends.get(*tp).is_some_and(|e| e != *end))
            .map(|(tp, _)| tp.topic.clone())
            .collect();
        moved.dedup();
        if second.behind.is_empty() && moved.is_empty() {
            Ok(Some(Vec::new()))
        } else {
            Ok(Some(moved))
        }
    }

    /// Step 5: B's groups move to A (cut-over semantics); on success the re-protection positions are recorded.
    pub async fn switch(
        &self,
        command: &str,
        state: &FlowState,
    ) -> Result<CutoverReport, FailbackError> {
        let report = cutover(&self.ops(), None, Duration::from_secs(60), command, |_| {}).await?;
        if report.safe_to_switch {
            let a_bounds = self.bounds_of(Side::Old).await?;
            let b_bounds = self.bounds_of(Side::New).await?;
            let mut reprotect = BTreeMap::new();
            for (a_topic, b_topic) in &self.pairs {
                for (tp, (_, a_end)) in a_bounds.iter().filter(|(tp, _)| &tp.topic == a_topic) {
                    let b_end = b_bounds
                        .get(&TopicPartition::new(b_topic.clone(), tp.partition))
                        .map_or(0, |(_, e)| *e);
                    reprotect.insert(tp.to_string(), (a_end - 1, b_end - 1));
                }
            }
            let previous = state.failback.clone();
            self.record(
                FailbackState {
                    step: FailbackStep::Switched,
                    export_dir: previous
                        .as_ref()
                        .map(|f| f.export_dir.clone())
                        .unwrap_or_default(),
                    exported_records: previous.map_or(0, |f| f.exported_records),
                    reprotect,
                },
                command,
            )
            .await?;
        }
        Ok(report)
    }

    /// Step 6: `A->B` resumes from the positions taken at the switch, and its fence is lifted. Before that,
    /// the reverse copy's offset-syncs are written inverted as `A->B` syncs: A's rebuilt records are B's
    /// records, so a group position on A translates back to B exactly (what the periodic group sync and
    /// the next failover need).
    pub async fn reprotect(
        &self,
        failback: &FailbackState,
        command: &str,
    ) -> Result<(), FailbackError> {
        self.write_inverted_syncs(&failback.reprotect).await?;
        let entries: Vec<(TopicPartition, SourceProgress)> = failback
            .reprotect
            .iter()
            .filter_map(|(tp, (source, target))| {
                Some((
                    parse_partition(tp)?,
                    SourceProgress::set_by_operator(*source, *target),
                ))
            })
            .collect();
        write_progress(&self.b, self.a_alias(), &entries)
            .await
            .map_err(|message| FailbackError::Cluster {
                what: "setting the flow's progress for re-protection".into(),
                alias: self.b_alias().to_string(),
                message,
            })?;
        let lifted = FlowState::new(&self.forward.name(), FlowPhase::Replicating, command);
        write_flow_state(&self.b, &lifted)
            .await
            .map_err(|e| FailbackError::Cluster {
                what: "lifting the fence".into(),
                alias: self.b_alias().to_string(),
                message: e.to_string(),
            })
    }
}

impl Failback {
    /// The reverse copy's syncs (B offset → A offset) of this rebuild, inverted, then the re-protection
    /// point, appended to the forward flow's offset-syncs topic.
    async fn write_inverted_syncs(
        &self,
        reprotect: &BTreeMap<String, (i64, i64)>,
    ) -> Result<(), FailbackError> {
        if !self.forward.emit_offset_syncs {
            return Ok(());
        }
        let syncs_client = if self.forward.offset_syncs_cluster() == self.a_alias() {
            &self.a
        } else {
            &self.b
        };
        let a_bounds = self.bounds_of(Side::Old).await?;
        let to_a: BTreeMap<&str, &str> = self
            .pairs
            .iter()
            .map(|(a, b)| (b.as_str(), a.as_str()))
            .collect();
        let mut syncs: Vec<OffsetSync> = Vec::new();
        let reverse_topic = self.reverse.offset_syncs_topic();
        let read = read_each(&self.b, &reverse_topic, Duration::from_secs(120), |_, r| {
            let (Some(key), Some(value)) = (r.key.as_deref(), r.value.as_deref()) else {
                return;
            };
            let Ok(sync) = OffsetSync::decode(key, value) else {
                return;
            };
            let Some(a_topic) = to_a.get(sync.topic.as_str()) else {
                return;
            };
            // Only this rebuild's syncs: they land at or after A's log start (earlier rebuilds were wiped).
            let start = a_bounds
                .get(&TopicPartition::new(*a_topic, sync.partition))
                .map_or(i64::MAX, |(start, _)| *start);
            if sync.downstream_offset >= start {
                syncs.push(OffsetSync {
                    topic: (*a_topic).to_string(),
                    partition: sync.partition,
                    upstream_offset: sync.downstream_offset,
                    downstream_offset: sync.upstream_offset,
                });
            }
        })
        .await;
        read.map_err(|e| FailbackError::Cluster {
            what: format!("reading {reverse_topic}"),
            alias: self.b_alias().to_string(),
            message: e.to_string(),
        })?;
        for (tp, (source, target)) in reprotect {
            if let Some(tp) = parse_partition(tp)
                && *source >= 0
                && *target >= 0
            {
                syncs.push(OffsetSync {
                    topic: tp.topic,
                    partition: tp.partition,
                    upstream_offset: *source,
                    downstream_offset: *target,
                });
            }
        }
        let topic = self.forward.offset_syncs_topic();
        let alias = self.forward.offset_syncs_cluster().to_string();
        let err = |message: String| FailbackError::Cluster {
            what: format!("writing {topic}"),
            alias: alias.clone(),
            message,
        };
        let admin = Admin::new(syncs_client.clone());
        ensure_internal_topic(
            &admin,
            &topic,
            SINGLE_PARTITION,
            true,
            self.forward.offset_syncs_topic_replication_factor,
        )
        .await
        .map_err(|e| err(e.to_string()))?;
        let producer = syncs_client
            .idempotent_producer()
            .await
            .map_err(|e| err(e.to_string()))?;
        let now = now_ms();
        for chunk in syncs.chunks(1000) {
            let mut records = Vec::with_capacity(chunk.len());
            for sync in chunk {
                records.push(OutRecord {
                    key: Some(Bytes::from(
                        sync.encode_key().map_err(|e| err(e.to_string()))?,
                    )),
                    value: Some(Bytes::from(sync.encode_value())),
                    timestamp: now,
                });
            }
            let batch = encode_batch(&records).map_err(|e| err(e.to_string()))?;
            producer
                .send(TopicPartition::new(topic.clone(), 0), batch)
                .await
                .map_err(|e| err(e.to_string()))?;
        }
        Ok(())
    }
}

/// The old primary (the flow's source) or the new one (its target).
#[derive(Debug, Clone, Copy)]
enum Side {
    Old,
    New,
}

/// `topic-N` (as [`TopicPartition`] displays) back into a partition.
fn parse_partition(text: &str) -> Option<TopicPartition> {
    let (topic, partition) = text.rsplit_once('-')?;
    Some(TopicPartition::new(topic, partition.parse().ok()?))
}

fn cluster_err(what: &str, alias: &str, e: kmirror_kafka::Error) -> FailbackError {
    FailbackError::Cluster {
        what: what.to_string(),
        alias: alias.to_string(),
        message: e.to_string(),
    }
}

/// `B->A` for the failback of `A->B`: identity naming, exactly `pairs`' topics, no heartbeats, no config or ACL
/// sync (A keeps its own), no periodic group sync (the switch moves the groups once, exactly).
fn reverse_flow(forward: &FlowConfig, pairs: &[(String, String)]) -> FlowConfig {
    let mut reverse = forward.clone();
    reverse.source = forward.target.clone();
    reverse.target = forward.source.clone();
    reverse.enabled = true;
    let names: Vec<String> = pairs.iter().map(|(_, b)| regex::escape(b)).collect();
    let none: [&str; 0] = [];
    reverse.topics = match (PatternList::new(&names), PatternList::new(&none)) {
        (Ok(include), Ok(exclude)) if !names.is_empty() => TopicFilter::new(include, exclude),
        // No topic to copy back (or an unexpected pattern error): a filter matching nothing.
        _ => TopicFilter::from_lists(&["(?!)"], &none).unwrap_or_else(|_| forward.topics.clone()),
    };
    reverse.policy = forward
        .policy
        .clone()
        .with_source_alias(forward.target.clone());
    reverse.emit_heartbeats.enabled = false;
    reverse.sync_topic_configs.enabled = false;
    reverse.sync_topic_acls.enabled = false;
    reverse.sync_group_offsets.enabled = false;
    reverse.refresh_topics.interval = Duration::from_secs(1);
    reverse.offset_syncs_topic_location = OffsetSyncsTopicLocation::Source;
    std::mem::swap(
        &mut reverse.client_overrides.source,
        &mut reverse.client_overrides.target,
    );
    reverse
}

/// (start, end) of each partition.
async fn bounds(
    client: &Client,
    tps: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, (i64, i64)>, kmirror_kafka::Error> {
    let mut out = BTreeMap::new();
    if tps.is_empty() {
        return Ok(out);
    }
    let starts = client.list_offsets(tps, OffsetSpec::Earliest).await?;
    let ends = client.list_offsets(tps, OffsetSpec::Latest).await?;
    let mut start_of = BTreeMap::new();
    for (tp, r) in starts {
        start_of.insert(tp, r?.offset);
    }
    for (tp, r) in ends {
        let end = r?.offset;
        let start = start_of.get(&tp).copied().unwrap_or(0);
        out.insert(tp, (start, end));
    }
    Ok(out)
}

/// Topics whose cleanup policy is `compact` alone (DeleteRecords refuses them).
async fn compact_only(admin: &Admin, pairs: &[(String, String)]) -> Vec<String> {
    let resources: Vec<ConfigResource> = pairs
        .iter()
        .map(|(a, _)| ConfigResource::Topic(a.clone()))
        .collect();
    let Ok(results) = admin.describe_configs(&resources).await else {
        return Vec::new();
    };
    results
        .into_iter()
        .filter_map(|(r, configs)| {
            let configs = configs.ok()?;
            let policy = configs.get("cleanup.policy")?.value.clone()?;
            let compact_only = policy.contains("compact") && !policy.contains("delete");
            match r {
                ConfigResource::Topic(t) if compact_only => Some(t),
                _ => None,
            }
        })
        .collect()
}

async fn alter(
    admin: &Admin,
    changes: &[(ConfigResource, Vec<AlterConfigOp>)],
    alias: &str,
) -> Result<(), FailbackError> {
    let results = admin
        .incremental_alter_configs(changes)
        .await
        .map_err(|e| cluster_err("changing cleanup.policy", alias, e))?;
    if let Some((r, Err(e))) = results.into_iter().find(|(_, r)| r.is_err()) {
        return Err(FailbackError::Cluster {
            what: format!("changing cleanup.policy of {r:?}"),
            alias: alias.to_string(),
            message: e.to_string(),
        });
    }
    Ok(())
}

/// The committed records of `tp` with offsets in `[from, to)`, in order (transaction markers and aborted
/// records left out, as a read_committed consumer sees them).
async fn read_committed_records(
    client: &Client,
    tp: &TopicPartition,
    from: i64,
    to: i64,
) -> Result<Vec<ExportedRecord>, String> {
    let mut out = Vec::new();
    let mut offset = from;
    let mut idle = 0;
    while offset < to && idle < 50 {
        let mut req = FetchRequest::new(vec![FetchPartition {
            tp: tp.clone(),
            offset,
            max_bytes: 8 << 20,
        }]);
        req.isolation = Isolation::ReadCommitted;
        req.max_wait = Duration::from_millis(100);
        let fetched = client
            .fetch(&req)
            .await
            .map_err(|e| e.to_string())?
            .pop()
            .ok_or_else(|| "no answer".to_string())?
            .result
            .map_err(|e| e.to_string())?;
        let before = offset;
        let mut aborted = AbortedFilter::new(&fetched.aborted_transactions);
        for item in Batches::new(fetched.records.clone()) {
            let (header, bytes) = item.map_err(|e| e.to_string())?;
            if header.next_offset() <= offset {
                continue;
            }
            if header.base_offset >= to {
                offset = to;
                break;
            }
            if aborted.classify(&header, &bytes) == BatchKind::Data {
                let decoded = decode_batch(&bytes, MAX_BATCH_BYTES).map_err(|e| e.to_string())?;
                for r in decoded.records {
                    if r.offset < offset || r.offset >= to {
                        continue;
                    }
                    out.push(ExportedRecord {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        offset: r.offset,
                        timestamp: r.timestamp,
                        key: r.key.as_ref().map(|k| B64.encode(k)),
                        value: r.value.as_ref().map(|v| B64.encode(v)),
                        headers: r
                            .headers
                            .iter()
                            .map(|h| (B64.encode(&h.key), h.value.as_ref().map(|v| B64.encode(v))))
                            .collect(),
                    });
                }
            }
            offset = header.next_offset();
        }
        if offset == before {
            // Nothing readable yet (e.g. an open transaction below the last stable offset).
            idle += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        } else {
            idle = 0;
        }
    }
    Ok(out)
}

fn write_jsonl(path: &Path, records: &[ExportedRecord]) -> std::io::Result<()> {
    let tmp: PathBuf = path.with_extension("jsonl.tmp");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    for r in records {
        serde_json::to_writer(&mut f, r)?;
        f.write_all(b"\n")?;
    }
    f.flush()?;
    drop(f);
    std::fs::rename(tmp, path)
}

/// Reads an export file back (for `kmirror replay`).
pub fn read_jsonl(path: &Path) -> std::io::Result<Vec<ExportedRecord>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_records_round_trip_through_jsonl() {
        let dir = std::env::temp_dir().join(format!("kmirror-export-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("orders-0.jsonl");
        let records = vec![
            ExportedRecord {
                topic: "orders".into(),
                partition: 0,
                offset: 41,
                timestamp: 1_700_000_000_000,
                key: Some(B64.encode(b"k")),
                value: None,
                headers: vec![
                    (B64.encode(b"h"), Some(B64.encode([0u8, 255]))),
                    (B64.encode(b"n"), None),
                ],
            },
            ExportedRecord {
                topic: "orders".into(),
                partition: 0,
                offset: 42,
                timestamp: 1_700_000_000_001,
                key: None,
                value: Some(B64.encode(b"v")),
                headers: Vec::new(),
            },
        ];
        write_jsonl(&path, &records).unwrap();
        assert_eq!(read_jsonl(&path).unwrap(), records);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

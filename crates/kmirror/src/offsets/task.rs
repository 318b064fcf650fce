//! One flow's consumer-group work, on its own task: every `emit.checkpoints.interval` the selected groups'
//! committed source offsets are translated and written as MM2 checkpoints; every
//! `sync.group.offsets.interval` the latest checkpoints are committed into the target's groups that have no
//! members there.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use kmirror_kafka::admin::{Admin, GroupOffset, is_group_active};
use kmirror_kafka::{Client, TopicPartition};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::checkpoints::CheckpointStore;
use super::group_sync::offsets_to_write;
use super::translate::translate_position;
use crate::config::FlowConfig;
use crate::discovery::{SINGLE_PARTITION, ensure_internal_topic};
use crate::internal_records::{OutRecord, encode_batch};
use crate::internal_topics::read_to_end;
use crate::mm2::Checkpoint;
use crate::pipeline::context::FlowContext;
use crate::pipeline::forwarder::now_ms;
use crate::policy::{Decision, should_replicate_group, should_replicate_topic};

/// Groups whose offsets are fetched at once.
const FETCH_CONCURRENCY: usize = 8;
/// Checkpoints per produced batch (each is well under 100 bytes unless its metadata is long).
const CHECKPOINTS_PER_BATCH: usize = 500;
const LOAD_TIMEOUT: Duration = Duration::from_secs(60);
const SUBJECT: &str = "checkpoints";
const GROUPS_SUBJECT: &str = "consumer groups";

/// Checkpoints and group-offset sync for one flow.
#[derive(Debug)]
pub struct GroupOffsetsTask {
    ctx: Arc<FlowContext>,
    flow: FlowConfig,
    source: Admin,
    target: Admin,
    topic: String,
    /// `None` until the checkpoints topic has been read back (nothing is written before that).
    store: Option<CheckpointStore>,
    topic_ready: bool,
    groups: Vec<String>,
    groups_listed_at: Option<Instant>,
    /// Groups found active on the target, reported once until they become empty.
    active: BTreeSet<String>,
    /// Groups whose sync last failed, with the failure, so a repeated failure is logged once.
    failing: BTreeMap<String, String>,
    /// Open problems of this task by subject (checkpoints topic, listing groups), each logged once until it
    /// changes or is resolved.
    problems: BTreeMap<&'static str, String>,
}

impl GroupOffsetsTask {
    /// `source` and `target` are the flow's clients; checkpoints are written with the flow's target producer.
    pub fn new(ctx: Arc<FlowContext>, flow: FlowConfig, source: Client, target: Client) -> Self {
        let topic = flow.checkpoints_topic();
        Self {
            ctx,
            flow,
            source: Admin::new(source),
            target: Admin::new(target),
            topic,
            store: None,
            topic_ready: false,
            groups: Vec::new(),
            groups_listed_at: None,
            active: BTreeSet::new(),
            failing: BTreeMap::new(),
            problems: BTreeMap::new(),
        }
    }

    /// Runs until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let checkpoints_on = self.flow.emit_checkpoints.enabled;
        let sync_on = self.flow.sync_group_offsets.enabled;
        if !checkpoints_on && !sync_on {
            return;
        }
        let mut checkpoint_tick = every(self.flow.emit_checkpoints.interval);
        let mut sync_tick = every(self.flow.sync_group_offsets.interval);
        loop {
            let round = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = checkpoint_tick.tick(), if checkpoints_on => Round::Checkpoints,
                _ = sync_tick.tick(), if sync_on => Round::GroupSync,
            };
            // A round waiting on a slow cluster must not hold up shutdown.
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.round(round, checkpoints_on) => {}
            }
        }
    }

    async fn round(&mut self, round: Round, checkpoints_on: bool) {
        match round {
            Round::Checkpoints => self.checkpoint_round().await,
            Round::GroupSync => {
                if !checkpoints_on {
                    self.checkpoint_round().await;
                }
                self.sync_round().await;
            }
        }
    }

    /// Translates the selected groups' source offsets and records (and, if enabled, writes) the checkpoints
    /// that move forward.
    pub async fn checkpoint_round(&mut self) {
        if let Err(message) = self.prepare().await {
            self.report(SUBJECT, message);
            return;
        }
        self.refresh_groups().await;
        let fetched: Vec<(String, Result<BTreeMap<TopicPartition, GroupOffset>, _>)> =
            futures_util::stream::iter(self.groups.clone().into_iter().map(|g| {
                let source = self.source.clone();
                async move {
                    let r = source.offset_fetch(&g, None).await;
                    (g, r)
                }
            }))
            .buffered(FETCH_CONCURRENCY)
            .collect()
            .await;
        let Some(store) = self.store.as_ref() else {
            return;
        };
        let mut due = Vec::new();
        for (group, offsets) in fetched {
            let offsets = match offsets {
                Ok(o) => o,
                Err(e) => {
                    tracing::debug!(flow = %self.ctx.flow, group, error = %e, "cannot fetch the group's offsets");
                    continue;
                }
            };
            for (tp, committed) in offsets {
                if let Some(c) = self.checkpoint_for(&group, &tp, &committed)
                    && store.should_emit(&c)
                {
                    due.push(c);
                }
            }
        }
        if due.is_empty() {
            self.resolve(SUBJECT);
            return;
        }
        if self.flow.emit_checkpoints.enabled
            && let Err(message) = self.write(&due).await
        {
            self.report(SUBJECT, message);
            return;
        }
        self.resolve(SUBJECT);
        tracing::debug!(flow = %self.ctx.flow, checkpoints = due.len(), "checkpoints emitted");
        if self.flow.emit_checkpoints.enabled {
            self.ctx
                .metrics
                .checkpoints
                .get_or_create(&self.flow_labels())
                .inc_by(due.len() as u64);
        }
        if let Some(store) = self.store.as_mut() {
            for c in due {
                store.insert(c);
            }
        }
    }

    fn flow_labels(&self) -> crate::telemetry::FlowLabels {
        crate::telemetry::Metrics::flow_labels(&self.flow.source, &self.flow.target)
    }

    /// Logs a problem once (until it changes or is resolved) and shows it on the status board.
    fn report(&mut self, subject: &'static str, message: String) {
        if self.problems.get(subject) != Some(&message) {
            tracing::warn!(flow = %self.ctx.flow, topic = %self.topic, "{message}; retrying");
        }
        self.ctx
            .status
            .problem(&self.ctx.flow, subject, message.clone());
        self.problems.insert(subject, message);
    }

    fn resolve(&mut self, subject: &'static str) {
        if self.problems.remove(subject).is_some() {
            self.ctx.status.resolve(&self.ctx.flow, subject);
            tracing::info!(flow = %self.ctx.flow, topic = %self.topic, "{subject}: working again");
        }
    }

    /// The checkpoint for one committed position, if the partition is mirrored and can be translated.
    fn checkpoint_for(
        &self,
        group: &str,
        tp: &TopicPartition,
        committed: &GroupOffset,
    ) -> Option<Checkpoint> {
        let Decision::Replicate { target_name } = should_replicate_topic(&self.flow, &tp.topic)
        else {
            return None;
        };
        let translated = translate_position(
            &self.ctx.offset_maps,
            &self.ctx.sync_history,
            tp,
            committed.offset,
        )
        .ok()
        .filter(|t| t.offset >= 0)?;
        Some(Checkpoint {
            group: group.to_string(),
            topic: target_name,
            partition: tp.partition,
            upstream_offset: committed.offset,
            downstream_offset: translated.offset,
            metadata: committed.metadata.clone().unwrap_or_default(),
        })
    }

    /// Creates the checkpoints topic (when writing) and reads it back, once.
    async fn prepare(&mut self) -> Result<(), String> {
        if self.flow.emit_checkpoints.enabled && !self.topic_ready {
            ensure_internal_topic(
                &self.target,
                &self.topic,
                SINGLE_PARTITION,
                true,
                self.flow.checkpoints_topic_replication_factor,
            )
            .await
            .map_err(|e| format!("cannot create the checkpoints topic: {e}"))?;
            self.topic_ready = true;
        }
        if self.store.is_none() {
            let records = read_to_end(self.target.client(), &self.topic, LOAD_TIMEOUT)
                .await
                .map_err(|e| format!("cannot read back earlier checkpoints: {e}"))?;
            let (store, malformed) =
                CheckpointStore::from_records(records.get(&0).into_iter().flatten());
            if malformed > 0 {
                tracing::warn!(flow = %self.ctx.flow, topic = %self.topic, malformed, "skipped checkpoint records that do not decode");
            }
            tracing::info!(flow = %self.ctx.flow, topic = %self.topic, checkpoints = store.len(), "loaded checkpoints");
            self.store = Some(store);
        }
        Ok(())
    }

    async fn refresh_groups(&mut self) {
        let due = match self.groups_listed_at {
            None => true,
            Some(at) => {
                self.flow.refresh_groups.enabled
                    && at.elapsed() >= self.flow.refresh_groups.interval
            }
        };
        if !due {
            return;
        }
        match self.source.list_groups().await {
            Ok(listed) => {
                self.groups = listed
                    .into_iter()
                    .map(|g| g.group_id)
                    .filter(|g| should_replicate_group(&self.flow, g).is_ok())
                    .collect();
                self.groups_listed_at = Some(Instant::now());
                self.resolve(GROUPS_SUBJECT);
            }
            Err(e) => {
                let message = format!("cannot list consumer groups on {}: {e}", self.flow.source);
                self.report(GROUPS_SUBJECT, message);
            }
        }
    }

    async fn write(&self, checkpoints: &[Checkpoint]) -> Result<(), String> {
        let now = now_ms();
        let tp = TopicPartition::new(self.topic.clone(), 0);
        for chunk in checkpoints.chunks(CHECKPOINTS_PER_BATCH) {
            let records = chunk
                .iter()
                .map(|c| {
                    Ok(OutRecord {
                        key: Some(Bytes::from(c.encode_key()?)),
                        value: Some(Bytes::from(c.encode_value()?)),
                        timestamp: now,
                    })
                })
                .collect::<Result<Vec<_>, crate::mm2::Mm2CodecError>>()
                .map_err(|e| format!("cannot encode a checkpoint: {e}"))?;
            let batch = encode_batch(&records).map_err(|e| e.to_string())?;
            self.ctx
                .producer
                .send(tp.clone(), batch)
                .await
                .map_err(|e| format!("writing checkpoints failed: {e}"))?;
        }
        Ok(())
    }

    /// Commits the latest checkpoints into the target's groups that have no members, never rewinding one.
    pub async fn sync_round(&mut self) {
        let Some(store) = self.store.as_ref() else {
            return;
        };
        let groups: Vec<String> = store
            .groups()
            .into_iter()
            .filter(|g| should_replicate_group(&self.flow, g).is_ok())
            .collect();
        for group in groups {
            let Some(store) = self.store.as_ref() else {
                return;
            };
            let checkpoints: Vec<Checkpoint> = store.group(&group).cloned().collect();
            let result = self.sync_group(&group, &checkpoints).await;
            if !matches!(result, Err(SyncError::Failed(_))) && self.failing.remove(&group).is_some()
            {
                self.ctx
                    .status
                    .resolve(&self.ctx.flow, &group_subject(&group));
            }
            match result {
                Ok(()) => {
                    if self.active.remove(&group) {
                        tracing::info!(flow = %self.ctx.flow, group, "consumer group has no members on the target any more; syncing its offsets again");
                        self.ctx
                            .status
                            .resolve(&self.ctx.flow, &group_subject(&group));
                    }
                }
                Err(SyncError::Active(state)) => {
                    if self.active.insert(group.clone()) {
                        let message = format!(
                            "consumer group '{group}' is active on {} ({state}): its offsets are not synced while \
                             it has members there; its translated offsets stay in {}",
                            self.flow.target, self.topic
                        );
                        tracing::warn!(flow = %self.ctx.flow, group, "{message}");
                        self.ctx
                            .status
                            .problem(&self.ctx.flow, &group_subject(&group), message);
                    }
                }
                Err(SyncError::Failed(message)) => {
                    if self.failing.get(&group) != Some(&message) {
                        tracing::warn!(flow = %self.ctx.flow, group, "syncing the group's offsets failed: {message}; retrying");
                        self.ctx.status.problem(
                            &self.ctx.flow,
                            &group_subject(&group),
                            format!(
                                "syncing the offsets of consumer group '{group}' failed: {message}"
                            ),
                        );
                        self.failing.insert(group, message);
                    }
                }
            }
        }
        self.ctx
            .metrics
            .groups_active_on_target
            .get_or_create(&self.flow_labels())
            .set(self.active.len() as i64);
    }

    async fn sync_group(&self, group: &str, checkpoints: &[Checkpoint]) -> Result<(), SyncError> {
        let described = self
            .target
            .describe_group(group)
            .await
            .map_err(|e| SyncError::Failed(e.to_string()))?;
        if !described.state.is_empty_or_dead() {
            return Err(SyncError::Active(described.state.to_string()));
        }
        let current = self
            .target
            .offset_fetch(group, None)
            .await
            .map_err(|e| SyncError::Failed(e.to_string()))?;
        let writes = offsets_to_write(checkpoints, &current);
        if writes.is_empty() {
            return Ok(());
        }
        let results = self
            .target
            .offset_commit(group, &writes)
            .await
            .map_err(|e| {
                if is_group_active(&e) {
                    SyncError::Active("members joined".to_string())
                } else {
                    SyncError::Failed(e.to_string())
                }
            })?;
        let mut committed = 0;
        for (tp, r) in results {
            match r {
                Ok(()) => committed += 1,
                Err(e) => {
                    tracing::warn!(flow = %self.ctx.flow, group, partition = %tp, error = %e, "committing the translated offset failed");
                }
            }
        }
        self.ctx
            .metrics
            .group_offsets_synced
            .get_or_create(&self.flow_labels())
            .inc_by(committed);
        tracing::debug!(flow = %self.ctx.flow, group, partitions = writes.len(), "synced group offsets to the target");
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Round {
    Checkpoints,
    GroupSync,
}

enum SyncError {
    /// The group has members on the target; carries its state.
    Active(String),
    Failed(String),
}

fn group_subject(group: &str) -> String {
    format!("consumer group {group}")
}

fn every(period: Duration) -> tokio::time::Interval {
    let mut i = tokio::time::interval(period.max(Duration::from_secs(1)));
    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    i
}

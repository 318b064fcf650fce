//! One replication flow `A->B`: discovery keeps the target topics right and says which partitions to copy;
//! the fetcher and one forwarder per partition copy them; progress and offset-syncs are committed every
//! second, after the target acknowledged the data they cover.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::join_all;
use kmirror_kafka::admin::Admin;
use kmirror_kafka::{Client, Isolation, OffsetSpec, Producer, TopicPartition};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{AutoOffsetReset, Config, FlowConfig, IsolationLevel};
use crate::discovery::{MirroredTopic, TopicSync, ensure_internal_topic};
use crate::internal_records::{OutRecord, encode_batch};
use crate::mm2::OffsetSync;
use crate::offsets::{GroupOffsetsTask, SyncHistories, SyncPoint, load_sync_histories};
use crate::pipeline::budget::Budget;
use crate::pipeline::context::{FlowContext, OffsetMaps, ProgressBook, SyncBook};
use crate::pipeline::fetcher::{FetchEvent, FetchSettings, FetcherCmd, run_fetcher};
use crate::pipeline::forwarder::{ForwardError, Forwarder, lock, now_ms};
use crate::pipeline::ownership::{classify, read_target_batches};
use crate::pipeline::start::{
    ExistingTargetData, Observed, Refusal, ResetPolicy, StartDecision, decide_start,
};
use crate::progress::{ProgressStore, SourceProgress, progress_topic};
use crate::telemetry::{Metrics, PartitionState, PartitionStatus, StatusBoard};

/// The clients a flow works with.
#[derive(Debug, Clone)]
pub struct FlowClients {
    pub source: Client,
    pub target: Client,
    /// Where the offset-syncs topic lives (the source cluster by default, as in MM2).
    pub offset_syncs: Client,
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("flow {flow}: {message}")]
    Setup { flow: String, message: String },
}

/// Bytes fetched but not yet acknowledged, per partition: the memory bound of the data path.
const PARTITION_BUFFER_BYTES: usize = 2 << 20;
const FLOW_BUFFER_BYTES: usize = 24 << 20;
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);
const RESTART_BACKOFF: Duration = Duration::from_secs(10);
/// On stop, how long to wait for a target that acknowledges nothing before giving up on what is in flight.
const STOP_STALL: Duration = Duration::from_secs(5);
/// A partition refused because of foreign target records is looked at again this often.
const REFUSED_BACKOFF: Duration = Duration::from_secs(60);
const SYNC_HISTORY_READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Offset-syncs per produced batch (about 40 bytes each).
const SYNCS_PER_BATCH: usize = 2000;
/// Kafka's default `max.message.bytes`, used when the target did not say.
const DEFAULT_MAX_MESSAGE_BYTES: i32 = 1_048_588;

struct Running {
    target: TopicPartition,
    cancel: CancellationToken,
}

/// Runs the flow until `shutdown`; returns after in-flight data is acknowledged and progress committed.
pub async fn run_flow(
    config: Arc<Config>,
    flow: FlowConfig,
    clients: FlowClients,
    metrics: Arc<Metrics>,
    status: Arc<StatusBoard>,
    shutdown: CancellationToken,
) -> Result<(), FlowError> {
    let name = flow.name();
    let setup = |message: String| FlowError::Setup {
        flow: name.clone(),
        message,
    };
    let target_admin = Admin::new(clients.target.clone());
    let source_admin = Admin::new(clients.source.clone());
    let producer = clients
        .target
        .idempotent_producer()
        .await
        .map_err(|e| setup(e.to_string()))?;

    let progress_name = progress_topic(&flow.source);
    ensure_internal_topic(&target_admin, &progress_name, 25, true, None)
        .await
        .map_err(|e| setup(format!("progress topic {progress_name}: {e}")))?;
    let progress_partitions = clients
        .target
        .metadata(Some(std::slice::from_ref(&progress_name)))
        .await
        .map_err(|e| setup(format!("progress topic {progress_name}: {e}")))?
        .topics
        .get(&progress_name)
        .map_or(0, |t| t.partitions.len() as i32);
    if progress_partitions == 0 {
        return Err(setup(format!(
            "progress topic {progress_name} has no partitions on the target"
        )));
    }
    let store = ProgressStore::new(
        clients.target.clone(),
        producer.clone(),
        &flow.source,
        progress_partitions,
    );
    let stored = store.load().await.map_err(|e| setup(e.to_string()))?;
    tracing::info!(flow = %name, partitions = stored.len(), topic = store.topic(), "loaded replication progress");

    let ctx = Arc::new(FlowContext {
        flow: name.clone(),
        source_alias: flow.source.clone(),
        target_alias: flow.target.clone(),
        producer: producer.clone(),
        metrics: metrics.clone(),
        status: status.clone(),
        progress: ProgressBook::default(),
        offset_syncs: SyncBook::default(),
        offset_maps: OffsetMaps::new(flow.offset_lag_max),
        sync_history: read_sync_history(&flow, &clients).await,
    });
    ctx.progress.set_writers(producer.producer_ids());
    for (tp, p) in &stored {
        ctx.progress.load(tp, p.clone());
        if let Some(downstream) = p.downstream {
            // Rebuild the exact map from the syncs kmirror wrote (both ends of every run) up to the stored
            // progress, so positions copied before the restart still translate exactly.
            let end = SyncPoint {
                source: p.offset,
                target: downstream,
            };
            let runs = ctx.sync_history.exact_runs_ending_at(tp, end);
            lock(&ctx.offset_maps.get_or_create(tp)).seed_runs(runs);
            ctx.sync_history.push_if_newer(tp, end);
        }
    }
    // Stopped with the flow, whichever way it returns.
    let group_offsets_stop = shutdown.child_token();
    let _stop_group_offsets = group_offsets_stop.clone().drop_guard();
    let group_offsets = tokio::spawn(
        GroupOffsetsTask::new(
            ctx.clone(),
            flow.clone(),
            clients.source.clone(),
            clients.target.clone(),
        )
        .run(group_offsets_stop),
    );

    let syncs = OffsetSyncWriter::open(&flow, &clients).await;
    let mut topic_sync = TopicSync::new(
        flow.clone(),
        source_admin,
        target_admin,
        status.clone(),
        metrics.clone(),
    );

    let wake = Arc::new(Notify::new());
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (event_tx, mut event_rx) = mpsc::unbounded_channel();
    let fetch_stop = CancellationToken::new();
    let settings = FetchSettings {
        isolation: match flow.isolation_level {
            IsolationLevel::ReadCommitted => Isolation::ReadCommitted,
            IsolationLevel::ReadUncommitted => Isolation::ReadUncommitted,
        },
        ..FetchSettings::default()
    };
    // A broker answers one connection's requests one at a time, so a long-polling fetch would hold every other
    // source request (list offsets when partitions start, group offsets) behind it: the fetcher gets
    // connections of its own.
    let fetch_client = Client::connect(clients.source.config().clone())
        .await
        .map_err(|e| setup(format!("connecting the fetcher: {e}")))?;
    let fetcher = tokio::spawn(run_fetcher(
        fetch_client,
        settings,
        ctx.clone(),
        cmd_rx,
        event_tx,
        wake.clone(),
        fetch_stop.clone(),
    ));

    let reset = match flow.auto_offset_reset {
        AutoOffsetReset::Latest => ResetPolicy::Latest,
        _ => ResetPolicy::Earliest,
    };
    let existing = if config.existing_target_data_append {
        ExistingTargetData::Append
    } else {
        ExistingTargetData::Refuse
    };
    let flow_budget = Arc::new(Budget::new(FLOW_BUFFER_BYTES, wake.clone()));
    let starter = Starter {
        flow_budget,
        ctx: ctx.clone(),
        clients: clients.clone(),
        store: store.clone(),
        reset,
        existing,
    };

    let mut running: HashMap<TopicPartition, Running> = HashMap::new();
    let mut retry_at: HashMap<TopicPartition, Instant> = HashMap::new();
    let mut tasks: JoinSet<(TopicPartition, Result<(), ForwardError>)> = JoinSet::new();
    let mut refresh =
        tokio::time::interval(flow.refresh_topics.interval.max(Duration::from_secs(1)));
    let mut config_sync =
        tokio::time::interval(flow.sync_topic_configs.interval.max(Duration::from_secs(1)));
    let mut acl_sync =
        tokio::time::interval(flow.sync_topic_acls.interval.max(Duration::from_secs(1)));
    let mut commit = tokio::time::interval(COMMIT_INTERVAL);
    let mut discovered: Option<Vec<MirroredTopic>> = None;
    status.add_flow(&name);

    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = refresh.tick() => {
                // `refresh.topics.enabled = false` (MM2): the topics found at start are the flow's for good;
                // the tick still retries partitions that failed.
                let refreshed = match &discovered {
                    Some(known) if !flow.refresh_topics.enabled => Ok(known.clone()),
                    _ => tokio::select! {
                        _ = shutdown.cancelled() => break,
                        refreshed = topic_sync.refresh() => refreshed.map(|found| found.mirrored),
                    },
                };
                let mirrored: Vec<MirroredTopic> = match refreshed {
                    Ok(found) => {
                        status.resolve(&name, "discovery");
                        discovered = Some(found.clone());
                        found
                    }
                    Err(e) => {
                        tracing::warn!(flow = %name, error = %e, "topic discovery failed; retrying");
                        status.problem(&name, "discovery", e.to_string());
                        continue;
                    }
                };
                let now = Instant::now();
                let wanted: Vec<Wanted> = mirrored
                    .iter()
                    .flat_map(|topic| {
                        let max_message_bytes = topic
                            .target_max_message_bytes
                            .map_or(DEFAULT_MAX_MESSAGE_BYTES, |m| i32::try_from(m).unwrap_or(i32::MAX));
                        (0..topic.partitions).map(move |p| {
                            (
                                TopicPartition::new(topic.source_topic.clone(), p),
                                TopicPartition::new(topic.target_topic.clone(), p),
                                max_message_bytes,
                            )
                        })
                    })
                    .filter(|(source, _, _)| {
                        !running.contains_key(source) && retry_at.get(source).is_none_or(|t| *t <= now)
                    })
                    .collect();
                if wanted.is_empty() {
                    continue;
                }
                let started = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    started = starter.start_many(wanted) => started,
                };
                for (source, target, result) in started {
                    match result {
                        Ok(forwarder) => {
                            retry_at.remove(&source);
                            let cancel = forwarder.shutdown.clone();
                            let budget = forwarder.budget.clone();
                            let from = forwarder.next_needed;
                            let (tx, rx) = mpsc::unbounded_channel();
                            let forwarder = Forwarder { rx, ..forwarder };
                            let _ = cmd_tx.send(FetcherCmd::Add { source: source.clone(), from, budget, tx });
                            let tp = source.clone();
                            tasks.spawn(async move { (tp, forwarder.run().await) });
                            running.insert(source, Running { target, cancel });
                        }
                        Err(failure) => {
                            let message = failure.message();
                            if starter.mark_failed(&source, &target, message) {
                                tracing::error!(flow = %name, partition = %source, "{message}");
                            }
                            if matches!(failure, StartFailure::Refused(_)) {
                                metrics.error(&flow.source, &flow.target, "foreign_target_records");
                            }
                            retry_at.insert(source, Instant::now() + failure.retry_after());
                        }
                    }
                }
            }
            // Every step below gives way to a stop: a cluster that stopped answering must not hold it up.
            _ = config_sync.tick(), if flow.sync_topic_configs.enabled => {
                let synced = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    synced = topic_sync.sync_configs() => synced,
                };
                if let Err(e) = synced {
                    tracing::warn!(flow = %name, error = %e, "topic config sync failed; retrying");
                }
            }
            _ = acl_sync.tick(), if flow.sync_topic_acls.enabled => {
                let synced = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    synced = topic_sync.sync_acls() => synced,
                };
                if let Err(e) = synced {
                    tracing::warn!(flow = %name, error = %e, "topic ACL sync failed; retrying");
                }
            }
            _ = commit.tick() => {
                // A partition that had to get a new producer id writes with it from now on.
                ctx.progress.set_writers(ctx.producer.producer_ids());
                ctx.status.sample_rates(&ctx.flow);
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = async {
                        commit_progress(&ctx, &store).await;
                        syncs.write(&ctx).await;
                    } => {}
                }
            }
            Some(event) = event_rx.recv() => match event {
                FetchEvent::SourceDeleted(tp) => {
                    if let Some(r) = running.remove(&tp) {
                        r.cancel.cancel();
                    }
                }
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let Ok((tp, result)) = done else { continue };
                let _ = cmd_tx.send(FetcherCmd::Remove(tp.clone()));
                let Some(r) = running.remove(&tp) else { continue };
                if let Err(e) = result {
                    let message = e.to_string();
                    let backoff = if matches!(e, ForwardError::ForeignRecords { .. }) {
                        metrics.error(&flow.source, &flow.target, "foreign_target_records");
                        REFUSED_BACKOFF
                    } else {
                        metrics.error(&flow.source, &flow.target, "partition");
                        RESTART_BACKOFF
                    };
                    tracing::error!(flow = %name, partition = %tp, "{message}; retrying in {backoff:?}");
                    starter.mark_failed(&tp, &r.target, &message);
                    retry_at.insert(tp, Instant::now() + backoff);
                }
            }
        }
    }

    // Graceful stop: stop fetching, let forwarders produce what they hold, then commit.
    fetch_stop.cancel();
    for r in running.values() {
        r.cancel.cancel();
    }
    // Wait while acknowledgements keep coming; a target that answers nothing for a while (gone, or
    // unreachable) does not hold the stop up: what it did not acknowledge is not committed, and a restart
    // finds it (on the target, proven by its producer id) or copies it again.
    let mut stuck = 0;
    loop {
        tokio::select! {
            done = tasks.join_next() => if done.is_none() { break },
            _ = tokio::time::sleep(STOP_STALL) => {
                stuck = tasks.len();
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
        }
    }
    fetcher.abort();
    let _ = fetcher.await;
    let _ = tokio::time::timeout(STOP_STALL, group_offsets).await;
    let committed = tokio::time::timeout(STOP_STALL, async {
        commit_progress(&ctx, &store).await;
        syncs.write(&ctx).await;
    })
    .await;
    match (stuck, committed) {
        (0, Ok(())) => tracing::info!(flow = %name, "flow stopped; progress committed"),
        (stuck, committed) => tracing::warn!(
            flow = %name,
            "flow stopped without waiting for the target any longer: {stuck} partitions had records in flight \
             that were not acknowledged within {STOP_STALL:?}{}; nothing is lost: the next start copies what the \
             target does not hold",
            if committed.is_err() { ", and the last progress could not be committed" } else { "" }
        ),
    }
    Ok(())
}

/// The offset-syncs written so far (by kmirror or MM2). Without them checkpoints are still exact for what this
/// run copies; older positions are then not translated.
async fn read_sync_history(flow: &FlowConfig, clients: &FlowClients) -> SyncHistories {
    let topic = flow.offset_syncs_topic();
    match load_sync_histories(&clients.offset_syncs, &topic, SYNC_HISTORY_READ_TIMEOUT).await {
        Ok((history, malformed)) => {
            if malformed > 0 {
                tracing::warn!(flow = %flow.name(), topic, malformed, "skipped offset-sync records that do not decode");
            }
            history
        }
        Err(e) => {
            tracing::warn!(flow = %flow.name(), topic, error = %e, "cannot read the offset-syncs back; \
                positions copied before this start may not be translated");
            SyncHistories::default()
        }
    }
}

/// Cancel-safe: positions whose commit did not finish (failed, or the future was dropped at shutdown) are
/// committed again next time.
async fn commit_progress(ctx: &FlowContext, store: &ProgressStore) {
    let dirty = ctx.progress.take_dirty();
    if dirty.is_empty() {
        return;
    }
    let mut retry = RetryUnlessCommitted {
        ctx,
        tps: dirty.iter().map(|(tp, _)| tp.clone()).collect(),
        committed: false,
    };
    if let Err(e) = store.commit(&dirty).await {
        tracing::warn!(flow = %ctx.flow, error = %e, "committing progress failed; will retry");
        ctx.status.problem(&ctx.flow, "progress", e.to_string());
    } else {
        retry.committed = true;
        ctx.status.resolve(&ctx.flow, "progress");
    }
}

/// Marks positions dirty again unless their commit completed.
struct RetryUnlessCommitted<'a> {
    ctx: &'a FlowContext,
    tps: Vec<TopicPartition>,
    committed: bool,
}

impl Drop for RetryUnlessCommitted<'_> {
    fn drop(&mut self) {
        if !self.committed {
            for tp in &self.tps {
                self.ctx.progress.retry(tp);
            }
        }
    }
}

/// Starts partitions: reads offsets on both sides, decides where to resume, and builds the forwarder.
struct Starter {
    flow_budget: Arc<Budget>,
    ctx: Arc<FlowContext>,
    clients: FlowClients,
    store: ProgressStore,
    reset: ResetPolicy,
    existing: ExistingTargetData,
}

/// A partition to start: source, target, and the target topic's `max.message.bytes`.
type Wanted = (TopicPartition, TopicPartition, i32);

/// Where a started partition resumes (see [`StartDecision::Resume`]).
struct Plan {
    from: i64,
    skip: Vec<(i64, i64)>,
    target_next: i64,
    source_end: i64,
    max_message_bytes: i32,
}

/// Why a partition did not start.
#[derive(Debug, Clone)]
enum StartFailure {
    /// Offsets could not be read or progress not committed: tried again soon.
    Transient(String),
    /// The target holds records kmirror did not write: tried again rarely (nothing changes by itself).
    Refused(String),
}

impl StartFailure {
    fn message(&self) -> &str {
        match self {
            Self::Transient(m) | Self::Refused(m) => m,
        }
    }

    fn retry_after(&self) -> Duration {
        match self {
            Self::Transient(_) => RESTART_BACKOFF,
            Self::Refused(_) => REFUSED_BACKOFF,
        }
    }
}

impl Starter {
    /// (earliest, latest) of many partitions in two requests per leader, however many partitions there are.
    async fn offsets_many(
        client: &Client,
        tps: &[TopicPartition],
    ) -> HashMap<TopicPartition, Result<(i64, i64), String>> {
        let mut out = HashMap::new();
        let listed = async {
            let earliest = client.list_offsets(tps, OffsetSpec::Earliest).await?;
            let latest = client.list_offsets(tps, OffsetSpec::Latest).await?;
            Ok::<_, kmirror_kafka::Error>((earliest, latest))
        };
        match listed.await {
            Ok((earliest, latest)) => {
                let mut starts: HashMap<TopicPartition, Result<i64, String>> = earliest
                    .into_iter()
                    .map(|(tp, o)| (tp, o.map(|o| o.offset).map_err(|e| e.to_string())))
                    .collect();
                for (tp, end) in latest {
                    let start = starts
                        .remove(&tp)
                        .unwrap_or_else(|| Err(format!("no earliest offset for {tp}")));
                    let pair =
                        start.and_then(|s| end.map(|e| (s, e.offset)).map_err(|e| e.to_string()));
                    out.insert(tp, pair);
                }
            }
            Err(e) => {
                for tp in tps {
                    out.insert(tp.clone(), Err(e.to_string()));
                }
            }
        }
        out
    }

    /// Starts partitions together: reads offsets on both sides, proves which target records past the stored
    /// progress are kmirror's own, decides where each resumes, records (before anything is copied) the
    /// starting point of new ones and the producer id every started one will be written with, and builds
    /// their forwarders.
    async fn start_many(
        &self,
        wanted: Vec<Wanted>,
    ) -> Vec<(
        TopicPartition,
        TopicPartition,
        Result<Forwarder, StartFailure>,
    )> {
        let sources: Vec<TopicPartition> = wanted.iter().map(|w| w.0.clone()).collect();
        let targets: Vec<TopicPartition> = wanted.iter().map(|w| w.1.clone()).collect();
        let source_offsets = Self::offsets_many(&self.clients.source, &sources).await;
        let target_offsets = Self::offsets_many(&self.clients.target, &targets).await;
        let missing = || Err("no offsets returned".to_string());

        let mut observed = Vec::with_capacity(wanted.len());
        for (source, target, max_message_bytes) in wanted {
            let seen = match (
                source_offsets.get(&source).cloned().unwrap_or_else(missing),
                target_offsets.get(&target).cloned().unwrap_or_else(missing),
            ) {
                (Ok((source_start, source_end)), Ok((target_start, target_end))) => Ok(Observed {
                    source_start,
                    source_end,
                    target_start,
                    target_end,
                }),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
            let stored = self.ctx.progress.get(&source);
            observed.push((source, target, max_message_bytes, stored, seen));
        }
        // Who wrote the target records past the stored progress, read from their batch headers.
        let surpluses = join_all(
            observed
                .iter()
                .map(|(_, target, _, stored, seen)| async move {
                    let seen = seen.as_ref().ok()?;
                    let stored = stored.as_ref()?;
                    let (from, end) = seen.surplus_range(Some(stored))?;
                    Some(
                        read_target_batches(&self.clients.target, target, from, end)
                            .await
                            .map(|batches| classify(&batches, from, end, &stored.writers))
                            .map_err(|e| {
                                format!(
                                    "reading target partition {target} past the last commit: {e}"
                                )
                            }),
                    )
                }),
        )
        .await;

        let writers = self.ctx.progress.writers();
        let mut decided = Vec::with_capacity(observed.len());
        let mut recorded = Vec::new();
        for ((source, target, max_message_bytes, stored, seen), surplus) in
            observed.into_iter().zip(surpluses)
        {
            let seen = match seen {
                Ok(seen) => seen,
                Err(e) => {
                    decided.push((source, target, Err(StartFailure::Transient(e))));
                    continue;
                }
            };
            let surplus = match surplus.transpose() {
                Ok(s) => s,
                Err(e) => {
                    decided.push((source, target, Err(StartFailure::Transient(e))));
                    continue;
                }
            };
            let decision = decide_start(
                stored.as_ref(),
                seen,
                surplus.as_ref(),
                self.reset,
                self.existing,
            );
            let skipped = decision.skipped_records();
            match decision {
                StartDecision::Resume {
                    from,
                    skip,
                    target_next,
                    fresh,
                    warnings,
                } => {
                    for w in &warnings {
                        tracing::warn!(flow = %self.ctx.flow, partition = %source, "{w}");
                        self.ctx
                            .status
                            .problem(&self.ctx.flow, &source.to_string(), w.clone());
                    }
                    // Record the starting point of a new partition, and the producer id this run writes with,
                    // before copying: a crash right after the first produce still knows which target records
                    // are kmirror's.
                    let mut p = match (&stored, fresh) {
                        (Some(p), false) => p.clone(),
                        _ => SourceProgress {
                            offset: from - 1,
                            downstream: Some(target_next - 1),
                            next: None,
                            writers: Vec::new(),
                        },
                    };
                    if writers.iter().any(|w| !p.writers.contains(w)) {
                        // Earlier producers stay while their records past the progress are still to skip.
                        if skipped == 0 {
                            p.writers.clear();
                        }
                        for w in &writers {
                            if !p.writers.contains(w) {
                                p.writers.push(*w);
                            }
                        }
                        recorded.push((source.clone(), p, fresh));
                    } else if fresh {
                        recorded.push((source.clone(), p, fresh));
                    }
                    let plan = Plan {
                        from,
                        skip,
                        target_next,
                        source_end: seen.source_end,
                        max_message_bytes,
                    };
                    decided.push((source, target, Ok(plan)));
                }
                StartDecision::Refuse(refusal) => {
                    let message = self.refusal_message(&source, &target, &refusal);
                    decided.push((source, target, Err(StartFailure::Refused(message))));
                }
            }
        }
        let committed = if recorded.is_empty() {
            Ok(())
        } else {
            let records: Vec<(TopicPartition, SourceProgress)> = recorded
                .iter()
                .map(|(tp, p, _)| (tp.clone(), p.clone()))
                .collect();
            self.store.commit(&records).await.map_err(|e| e.to_string())
        };
        if committed.is_ok() {
            for (tp, p, fresh) in recorded {
                // Everything after `p.offset` is copied: a group positioned at or before the first copied
                // record (e.g. on a gap at the start) translates to where the copy begins.
                if fresh && let Some(downstream) = p.downstream {
                    lock(&self.ctx.offset_maps.get_or_create(&tp)).seed(p.offset, downstream);
                }
                self.ctx.progress.load(&tp, p);
            }
        }
        decided
            .into_iter()
            .map(|(source, target, plan)| {
                let result = plan.and_then(|plan| {
                    committed.clone().map_err(StartFailure::Transient)?;
                    Ok(self.forwarder(&source, &target, plan))
                });
                (source, target, result)
            })
            .collect()
    }

    fn refusal_message(
        &self,
        source: &TopicPartition,
        target: &TopicPartition,
        refusal: &Refusal,
    ) -> String {
        let target_alias = &self.ctx.target_alias;
        match refusal {
            Refusal::NoProgress { records } => format!(
                "target partition {target_alias}:{target} already holds {records} records that kmirror did not \
                 write (no progress for {source} in {}); refusing to mix mirrored records with them. Delete the \
                 target topic, or set kmirror.existing.target.data = append to copy after them",
                self.store.topic()
            ),
            Refusal::Foreign { after, surplus } => format!(
                "target partition {target_alias}:{target} holds {} records kmirror did not write after its last \
                 copied record (target offset {after}), at offsets {}; someone else writes into this mirrored \
                 topic (an application that failed over early?). The partition is stopped and no source record \
                 is skipped{}. Stop that writer, then set kmirror.existing.target.data = append to copy after \
                 its records, delete the target topic to copy it afresh, or move the flow's progress with \
                 `kmirror reset`",
                surplus.foreign_count(),
                surplus.foreign_ranges(),
                match surplus.ours_count() {
                    0 => String::new(),
                    n => format!(
                        " ({n} records past the last commit are kmirror's own and are kept)"
                    ),
                },
            ),
        }
    }

    fn forwarder(&self, source: &TopicPartition, target: &TopicPartition, plan: Plan) -> Forwarder {
        let Plan {
            from,
            skip,
            target_next,
            source_end,
            max_message_bytes,
        } = plan;
        let skip_records: i64 = skip.iter().map(|(_, n)| n).sum();
        if skip_records > 0 {
            tracing::info!(flow = %self.ctx.flow, partition = %source, skip_records,
                "records written before the last stop are already on the target (proven by their producer id); \
                skipping them");
        }
        self.ctx.status.update_partition(PartitionStatus {
            flow: self.ctx.flow.clone(),
            source_topic: source.topic.clone(),
            target_topic: target.topic.clone(),
            partition: source.partition,
            state: PartitionState::Starting,
            next_source_offset: from,
            source_end_offset: source_end,
            lag_records: (source_end - from).max(0),
            records_copied: 0,
            error: None,
        });
        let (_, rx) = mpsc::unbounded_channel();
        Forwarder {
            ctx: self.ctx.clone(),
            source: source.clone(),
            target: target.clone(),
            rx,
            budget: Arc::new(Budget::within(
                PARTITION_BUFFER_BYTES,
                self.flow_budget.clone(),
            )),
            next_needed: from,
            skip: skip.into(),
            expected_target: target_next,
            existing: self.existing,
            halted: false,
            max_message_bytes,
            runs: self.ctx.offset_maps.get_or_create(source),
            last_acked_timestamp: 0,
            shutdown: CancellationToken::new(),
        }
    }

    /// Shows the partition as failed; true when the message is new for it (so it is worth logging).
    fn mark_failed(&self, source: &TopicPartition, target: &TopicPartition, message: &str) -> bool {
        let mut exists = false;
        let mut new = true;
        self.ctx
            .status
            .modify_partition(&self.ctx.flow, &source.topic, source.partition, |p| {
                exists = true;
                new = p.error.as_deref() != Some(message);
                p.state = PartitionState::Failed;
                p.error = Some(message.to_string());
            });
        if !exists {
            self.ctx.status.update_partition(PartitionStatus {
                flow: self.ctx.flow.clone(),
                source_topic: source.topic.clone(),
                target_topic: target.topic.clone(),
                partition: source.partition,
                state: PartitionState::Failed,
                next_source_offset: -1,
                source_end_offset: -1,
                lag_records: 0,
                records_copied: 0,
                error: Some(message.to_string()),
            });
        }
        new
    }
}

/// Writes MM2 offset-syncs (exact run boundaries) to the flow's offset-syncs topic.
struct OffsetSyncWriter {
    topic: String,
    producer: Option<Producer>,
}

impl OffsetSyncWriter {
    async fn open(flow: &FlowConfig, clients: &FlowClients) -> Self {
        let topic = flow.offset_syncs_topic();
        if !flow.emit_offset_syncs {
            return Self {
                topic,
                producer: None,
            };
        }
        let admin = Admin::new(clients.offset_syncs.clone());
        if let Err(e) = ensure_internal_topic(
            &admin,
            &topic,
            1,
            true,
            flow.offset_syncs_topic_replication_factor,
        )
        .await
        {
            tracing::warn!(flow = %flow.name(), topic, error = %e, "cannot create the offset-syncs topic; \
                offset-syncs are not written (checkpoints are still exact)");
            return Self {
                topic,
                producer: None,
            };
        }
        match clients.offset_syncs.idempotent_producer().await {
            Ok(p) => Self {
                topic,
                producer: Some(p),
            },
            Err(e) => {
                tracing::warn!(flow = %flow.name(), topic, error = %e, "cannot write offset-syncs");
                Self {
                    topic,
                    producer: None,
                }
            }
        }
    }

    /// Cancel-safe: syncs not written when the future is dropped (shutdown) are put back.
    async fn write(&self, ctx: &FlowContext) {
        let Some(producer) = &self.producer else {
            remember(ctx, &ctx.offset_syncs.take());
            return;
        };
        let mut unwritten = Unwritten {
            ctx,
            pending: ctx.offset_syncs.take(),
            written: 0,
        };
        let now = now_ms();
        // One produce request per chunk: a backlog of syncs must not exceed the broker's batch size limit.
        while unwritten.written < unwritten.pending.len() {
            let end = (unwritten.written + SYNCS_PER_BATCH).min(unwritten.pending.len());
            let chunk = &unwritten.pending[unwritten.written..end];
            let records: Vec<OutRecord> = chunk
                .iter()
                // The point before a fresh start (offset -1 on a side) is no record: MM2 readers never see it.
                .filter(|(_, s)| s.source >= 0 && s.target >= 0)
                .filter_map(|(tp, s)| {
                    let sync = OffsetSync {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        upstream_offset: s.source,
                        downstream_offset: s.target,
                    };
                    let key = sync.encode_key().ok()?;
                    Some(OutRecord {
                        key: Some(Bytes::from(key)),
                        value: Some(Bytes::from(sync.encode_value())),
                        timestamp: now,
                    })
                })
                .collect();
            if !records.is_empty() {
                let sent = match encode_batch(&records) {
                    Ok(batch) => producer
                        .send(TopicPartition::new(self.topic.clone(), 0), batch)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = sent {
                    tracing::warn!(flow = %ctx.flow, topic = %self.topic, error = %e, "writing offset-syncs failed");
                    break;
                }
            }
            remember(ctx, &unwritten.pending[unwritten.written..end]);
            ctx.metrics
                .offset_syncs
                .get_or_create(&Metrics::flow_labels(&ctx.source_alias, &ctx.target_alias))
                .inc_by((end - unwritten.written) as u64);
            unwritten.written = end;
        }
    }
}

/// Offset-syncs taken for writing; whatever was not written goes back when this is dropped.
struct Unwritten<'a> {
    ctx: &'a FlowContext,
    pending: Vec<(TopicPartition, SyncPoint)>,
    written: usize,
}

impl Drop for Unwritten<'_> {
    fn drop(&mut self) {
        if self.written < self.pending.len() {
            self.ctx
                .offset_syncs
                .push_front(self.pending[self.written..].to_vec());
        }
    }
}

/// Adds written syncs to the flow's history, in the order they were written.
fn remember(ctx: &FlowContext, syncs: &[(TopicPartition, SyncPoint)]) {
    for (tp, s) in syncs {
        ctx.sync_history.push(tp, *s);
    }
}

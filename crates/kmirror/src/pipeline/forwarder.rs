//! One source partition's forwarder: turns fetched batches into produce calls on the target, in order, and
//! turns acknowledgements into progress, exact offset runs and metrics.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::stream::{FuturesOrdered, StreamExt};
use kmirror_kafka::batch::Batches;
use kmirror_kafka::{AbortedFilter, AbortedTransaction, BatchKind, ProduceAck, TopicPartition};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::budget::Budget;
use super::context::FlowContext;
use super::plan::{Step, Unusable, plan_batch, trim_batch};
use super::start::ExistingTargetData;
use crate::offsets::{OffsetRuns, SyncPoint};
use crate::telemetry::{PartitionLabels, PartitionState, PartitionStatus};

/// Fetched bytes handed from the fetcher to a forwarder.
#[derive(Debug)]
pub struct Chunk {
    pub records: Bytes,
    pub high_watermark: i64,
    /// Aborted transactions in the fetched range (read_committed fetches only).
    pub aborted: Vec<AbortedTransaction>,
    /// When it was fetched (epoch ms), for MM2's record-age metric.
    pub fetched_at_ms: i64,
}

/// Why a forwarder stopped.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("producing to {target} failed: {source}")]
    Produce {
        target: TopicPartition,
        #[source]
        source: kmirror_kafka::Error,
    },
    #[error(
        "{count} records kmirror did not write appeared on target partition {alias}:{target} at offsets {first}..={last} \
         while kmirror was copying into it; the partition is stopped so nothing is mixed silently (no source \
         record was skipped). Find out who writes into the mirrored topic and stop it; then set \
         kmirror.existing.target.data = append to copy after those records, delete the target topic to copy \
         it afresh, or move the flow's progress with `kmirror reset`"
    )]
    ForeignRecords {
        alias: String,
        target: TopicPartition,
        first: i64,
        last: i64,
        count: i64,
    },
    #[error("source batch at {tp} offset {offset} is unusable: {message}")]
    Batch {
        tp: TopicPartition,
        offset: i64,
        message: String,
    },
}

/// A produce call waiting for its acknowledgement.
struct Pending {
    /// Source offsets of the records in the produced batch, ascending.
    source_offsets: SourceOffsets,
    bytes: usize,
    max_timestamp: i64,
}

enum SourceOffsets {
    Dense { first: i64, count: i64 },
    Listed(Vec<i64>),
}

impl SourceOffsets {
    fn count(&self) -> i64 {
        match self {
            Self::Dense { count, .. } => *count,
            Self::Listed(v) => v.len() as i64,
        }
    }
    fn last(&self) -> Option<i64> {
        match self {
            Self::Dense { first, count } => (*count > 0).then(|| first + count - 1),
            Self::Listed(v) => v.last().copied(),
        }
    }
    fn record_into(&self, runs: &mut OffsetRuns, target_base: i64) -> Vec<SyncPoint> {
        match self {
            Self::Dense { first, count } => runs.record_dense(*first, *count, target_base),
            Self::Listed(v) => runs.record(v.iter().copied(), target_base),
        }
    }
}

type AckFuture =
    futures_util::future::BoxFuture<'static, (Result<ProduceAck, kmirror_kafka::Error>, Pending)>;

/// Everything a forwarder owns.
#[derive(Debug)]
pub struct Forwarder {
    pub ctx: Arc<FlowContext>,
    pub source: TopicPartition,
    pub target: TopicPartition,
    pub rx: mpsc::UnboundedReceiver<Chunk>,
    pub budget: Arc<Budget>,
    /// Next source offset not yet handled (batches wholly below it are dropped, a straddling one trimmed).
    pub next_needed: i64,
    /// Records at the start that are already on the target (reconciled after a crash): their target offset
    /// spans (first offset, count), in order.
    pub skip: VecDeque<(i64, i64)>,
    /// Where the next record written should land; an acknowledgement further on means someone else wrote
    /// into the partition.
    pub expected_target: i64,
    /// What to do about records someone else wrote into the target partition.
    pub existing: ExistingTargetData,
    /// Stopped because of foreign records: later acknowledgements are not recorded as progress, so a restart
    /// sees the foreign records too (kmirror's own are proven by their producer id).
    pub halted: bool,
    pub max_message_bytes: i32,
    /// Shared with checkpointing, which translates group offsets through it.
    pub runs: Arc<Mutex<OffsetRuns>>,
    /// Source timestamp of the newest acknowledged batch, for the lag in seconds.
    pub last_acked_timestamp: i64,
    pub shutdown: CancellationToken,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Forwarder {
    fn labels(&self) -> PartitionLabels {
        PartitionLabels {
            source: self.ctx.source_alias.clone(),
            target: self.ctx.target_alias.clone(),
            topic: self.target.topic.clone(),
            partition: self.target.partition,
        }
    }

    /// Runs until shutdown (draining in-flight produces first) or a fatal error.
    pub async fn run(mut self) -> Result<(), ForwardError> {
        let labels = self.labels();
        let mut inflight: FuturesOrdered<AckFuture> = FuturesOrdered::new();
        let mut queued: VecDeque<(Bytes, Pending)> = VecDeque::new();
        let mut result = Ok(());
        let mut accepting = true;
        // The position last reported as handled while nothing was in flight.
        let mut settled = self.next_needed;
        loop {
            // Keep produce calls flowing: the producer pipelines up to 5 per partition itself, more just wait.
            while inflight.len() < 8 {
                let Some((bytes, pending)) = queued.pop_front() else {
                    break;
                };
                // Small batches may be merged by the producer; each still gets its own exact ack.
                let limit = usize::try_from(self.max_message_bytes).unwrap_or(0);
                let send = self
                    .ctx
                    .producer
                    .send_mergeable(self.target.clone(), bytes, limit);
                inflight.push_back(Box::pin(async move { (send.await, pending) }));
            }
            if !accepting && inflight.is_empty() && queued.is_empty() {
                break;
            }
            if inflight.is_empty()
                && queued.is_empty()
                && result.is_ok()
                && self.next_needed > settled
            {
                settled = self.next_needed;
                self.settle_idle(&labels);
            }
            tokio::select! {
                biased;
                Some((ack, pending)) = inflight.next(), if !inflight.is_empty() => {
                    match ack {
                        Ok(ack) => {
                            if let Err(e) = self.on_ack(&labels, ack, pending) {
                                result = Err(e);
                                for (_, p) in queued.drain(..) {
                                    self.budget.release(p.bytes);
                                }
                                accepting = false;
                            }
                        }
                        Err(e) => {
                            self.budget.release(pending.bytes);
                            if result.is_ok() {
                                result = Err(ForwardError::Produce { target: self.target.clone(), source: e });
                            }
                            // Later batches cannot be written before this one: drop them, stop accepting.
                            for (_, p) in queued.drain(..) {
                                self.budget.release(p.bytes);
                            }
                            accepting = false;
                        }
                    }
                }
                chunk = self.rx.recv(), if accepting => {
                    match chunk {
                        Some(chunk) => {
                            if let Err(e) = self.on_chunk(&labels, chunk, &mut queued) {
                                result = Err(e);
                                accepting = false;
                            }
                        }
                        None => accepting = false,
                    }
                }
                _ = self.shutdown.cancelled(), if accepting => {
                    // Stop taking new data; what was queued is still produced and acknowledged.
                    accepting = false;
                }
            }
        }
        // Whatever this partition still holds (fetched, never produced) no longer counts against the flow.
        self.budget.release(self.budget.buffered());
        result
    }

    /// Nothing is queued or in flight: every source offset below `next_needed` is handled, including skipped
    /// transaction markers and aborted data after the last copied record, so the partition is not behind.
    fn settle_idle(&self, labels: &PartitionLabels) {
        self.ctx
            .progress
            .handled_through(&self.source, self.next_needed);
        let next = self.next_needed;
        self.update_status(labels, |p| {
            (next > p.next_source_offset).then(|| {
                p.next_source_offset = next;
                p.lag_records = (p.source_end_offset - p.next_source_offset).max(0);
                p.lag_records
            })
        });
    }

    /// Changes this partition's status entry; `change` returns the new lag when it changed, to publish.
    fn update_status(
        &self,
        labels: &PartitionLabels,
        change: impl FnOnce(&mut PartitionStatus) -> Option<i64>,
    ) {
        let mut lag = None;
        self.ctx.status.modify_partition(
            &self.ctx.flow,
            &self.source.topic,
            self.source.partition,
            |p| lag = change(p),
        );
        if let Some(lag) = lag {
            self.publish_lag(labels, lag);
        }
    }

    fn on_chunk(
        &mut self,
        labels: &PartitionLabels,
        chunk: Chunk,
        queued: &mut VecDeque<(Bytes, Pending)>,
    ) -> Result<(), ForwardError> {
        let total = chunk.records.len();
        let mut kept = 0usize;
        let mut aborted = AbortedFilter::new(&chunk.aborted);
        let metrics = Arc::clone(&self.ctx.metrics);
        for item in Batches::new(chunk.records) {
            let (header, bytes) = item.map_err(|e| ForwardError::Batch {
                tp: self.source.clone(),
                offset: self.next_needed,
                message: e.to_string(),
            })?;
            if header.next_offset() <= self.next_needed {
                continue;
            }
            let step = if aborted.classify(&header, &bytes) != BatchKind::Data {
                Step::Skip
            } else {
                match plan_batch(&header, &bytes, self.next_needed, self.max_message_bytes) {
                    Ok(step) => step,
                    Err(unusable) => return Err(self.stop_at(unusable, queued, &header)),
                }
            };
            self.next_needed = header.next_offset();
            metrics
                .record_age_ms
                .get_or_create(labels)
                .observe((chunk.fetched_at_ms - header.max_timestamp).max(0) as f64);
            let outputs: Vec<(Bytes, SourceOffsets)> = match step {
                Step::Skip => continue,
                Step::Forward {
                    batch,
                    first,
                    count,
                } => {
                    metrics.batches_forwarded.get_or_create(labels).inc();
                    vec![(batch, SourceOffsets::Dense { first, count })]
                }
                Step::Rebuilt(batches) => {
                    metrics.batches_rebuilt.get_or_create(labels).inc();
                    batches
                        .into_iter()
                        .map(|(b, offsets)| (b, SourceOffsets::Listed(offsets)))
                        .collect()
                }
            };
            for (batch, offsets) in outputs {
                for (batch, offsets) in self.skip_already_written(batch, offsets)? {
                    kept += batch.len();
                    queued.push_back((
                        batch.clone(),
                        Pending {
                            source_offsets: offsets,
                            bytes: batch.len(),
                            max_timestamp: header.max_timestamp,
                        },
                    ));
                }
            }
        }
        // Bytes not handed to the producer (filtered, skipped, truncated tail) are free now.
        self.budget.release(total.saturating_sub(kept));
        let high_watermark = chunk.high_watermark;
        self.update_status(labels, |p| {
            p.state = PartitionState::Running;
            p.error = None;
            (high_watermark >= 0).then(|| {
                p.source_end_offset = high_watermark;
                p.lag_records = (high_watermark - p.next_source_offset).max(0);
                p.lag_records
            })
        });
        Ok(())
    }

    /// After a crash the first records are on the target already (at the offsets in `skip`): account for them
    /// in the offset map and drop them, trimming a batch that is only partly written.
    fn skip_already_written(
        &mut self,
        batch: Bytes,
        offsets: SourceOffsets,
    ) -> Result<Vec<(Bytes, SourceOffsets)>, ForwardError> {
        let remaining: i64 = self.skip.iter().map(|(_, n)| n).sum();
        if remaining <= 0 {
            return Ok(vec![(batch, offsets)]);
        }
        let count = offsets.count();
        let listed: Vec<i64> = match &offsets {
            SourceOffsets::Dense { first, count } => (*first..first + count).collect(),
            SourceOffsets::Listed(v) => v.clone(),
        };
        let skip = remaining.min(count) as usize;
        if skip == 0 {
            return Ok(vec![(batch, offsets)]);
        }
        let mut done = 0usize;
        let mut last_target = -1;
        while done < skip {
            let Some(span) = self.skip.front_mut() else {
                break;
            };
            let take = usize::try_from(span.1).unwrap_or(0).min(skip - done);
            let syncs = lock(&self.runs).record(listed[done..done + take].iter().copied(), span.0);
            self.ctx.offset_syncs.push(&self.source, &syncs);
            span.0 += take as i64;
            span.1 -= take as i64;
            last_target = span.0 - 1;
            if span.1 <= 0 {
                self.skip.pop_front();
            }
            done += take;
        }
        self.ctx
            .progress
            .skipped(&self.source, listed[skip - 1], last_target);
        if skip as i64 == count {
            return Ok(Vec::new());
        }
        let keep_from = listed[skip];
        let trimmed = trim_batch(&batch, keep_from, self.max_message_bytes).map_err(|u| {
            ForwardError::Batch {
                tp: self.source.clone(),
                offset: u.offset,
                message: u.message,
            }
        })?;
        // A produce request carries one batch per partition: each trimmed batch is its own produce call.
        Ok(trimmed
            .into_iter()
            .map(|(b, offs)| (b, SourceOffsets::Listed(offs)))
            .collect())
    }

    /// A batch that cannot be copied whole: queue the records before the problem, then stop the partition
    /// there (it is retried later, from the last acknowledged record).
    fn stop_at(
        &mut self,
        unusable: Unusable,
        queued: &mut VecDeque<(Bytes, Pending)>,
        header: &kmirror_kafka::batch::BatchHeader,
    ) -> ForwardError {
        for (batch, offsets) in unusable.before {
            let pending = Pending {
                source_offsets: SourceOffsets::Listed(offsets),
                bytes: batch.len(),
                max_timestamp: header.max_timestamp,
            };
            queued.push_back((batch, pending));
        }
        ForwardError::Batch {
            tp: self.source.clone(),
            offset: unusable.offset,
            message: unusable.message,
        }
    }

    fn on_ack(
        &mut self,
        labels: &PartitionLabels,
        ack: ProduceAck,
        pending: Pending,
    ) -> Result<(), ForwardError> {
        self.budget.release(pending.bytes);
        if self.halted {
            return Ok(());
        }
        let count = pending.source_offsets.count();
        // A negative base offset (a broker answering a duplicate without its offset) says nothing.
        if ack.base_offset >= 0 {
            if self.expected_target >= 0 && ack.base_offset > self.expected_target {
                self.foreign_records(labels, self.expected_target, ack.base_offset)?;
            }
            self.expected_target = ack.base_offset + count;
        }
        let syncs = pending
            .source_offsets
            .record_into(&mut lock(&self.runs), ack.base_offset);
        self.ctx.offset_syncs.push(&self.source, &syncs);
        if let Some(last) = pending.source_offsets.last() {
            self.ctx
                .progress
                .acked(&self.source, last, ack.base_offset + count - 1);
        }
        let m = &self.ctx.metrics;
        m.records.get_or_create(labels).inc_by(count as u64);
        m.bytes.get_or_create(labels).inc_by(pending.bytes as u64);
        m.replication_latency_ms
            .get_or_create(labels)
            .observe((now_ms() - pending.max_timestamp).max(0) as f64);
        self.last_acked_timestamp = pending.max_timestamp;
        let last = pending.source_offsets.last();
        self.update_status(labels, |p| {
            p.records_copied += count as u64;
            p.next_source_offset = last.map_or(p.next_source_offset, |l| l + 1);
            p.lag_records = (p.source_end_offset - p.next_source_offset).max(0);
            Some(p.lag_records)
        });
        Ok(())
    }

    /// Target offsets `first..next` were written by someone else while this partition was being copied.
    fn foreign_records(
        &mut self,
        labels: &PartitionLabels,
        first: i64,
        next: i64,
    ) -> Result<(), ForwardError> {
        let count = next - first;
        self.ctx
            .metrics
            .foreign_target_records
            .get_or_create(labels)
            .inc_by(count as u64);
        let subject = format!("{}:{}", self.ctx.target_alias, self.target);
        if self.existing == ExistingTargetData::Refuse {
            self.halted = true;
            return Err(ForwardError::ForeignRecords {
                alias: self.ctx.target_alias.clone(),
                target: self.target.clone(),
                first,
                last: next - 1,
                count,
            });
        }
        let message = format!(
            "{count} records kmirror did not write appeared on target partition {subject} at offsets \
             {first}..={}; copying goes on after them (kmirror.existing.target.data = append)",
            next - 1
        );
        tracing::warn!(flow = %self.ctx.flow, partition = %self.source, "{message}");
        self.ctx.status.problem(&self.ctx.flow, &subject, message);
        Ok(())
    }

    /// Lag in records, and in seconds: how old the newest copied record is while the source is ahead (0 when
    /// caught up) — what an operator needs to know how much a failover right now would miss.
    fn publish_lag(&self, labels: &PartitionLabels, lag_records: i64) {
        let m = &self.ctx.metrics;
        m.lag_records.get_or_create(labels).set(lag_records);
        let seconds = if lag_records > 0 && self.last_acked_timestamp > 0 {
            (now_ms() - self.last_acked_timestamp).max(0) as f64 / 1000.0
        } else {
            0.0
        };
        m.lag_seconds.get_or_create(labels).set(seconds);
        self.ctx.status.set_lag_seconds(
            &self.ctx.flow,
            &self.source.topic,
            self.source.partition,
            seconds,
        );
    }
}

//! The idempotent producer: forwards whole record batches, keeps per-partition order, retries without
//! duplicating, and reports exactly where each batch landed.
//!
//! # What is guaranteed
//!
//! For each partition, batches are written in the order [`Producer::send`] was called. Each send
//! resolves to exactly one of:
//! - `Ok(ack)`: the batch is in the log exactly once, at `ack.base_offset ..= base_offset+count-1`.
//! - `Err(e)` with `e` not "maybe written" ([`Error::ProduceCancelled`] / [`Error::DeliveryTimeout`] with
//!   `maybe_written: false`, or any other error): the batch is not in the log.
//! - `Err(e)` "maybe written" (`maybe_written: true`): the outcome is unknown; the batch is in the log at
//!   most once.
//!
//! When a batch fails, every batch of that partition that was sent before the failure and not yet
//! acknowledged fails too ([`Error::ProduceCancelled`]), so nothing sent later lands after a gap: a
//! caller that resumes from the failed batch never duplicates or reorders. Sends made after the
//! failure start afresh (new producer epoch for that partition).
//!
//! # How
//!
//! One task per partition owns its queue. Up to [`MAX_IN_FLIGHT`] batches are in flight, stamped with our
//! producer id, epoch and consecutive sequence numbers. They go to the leader's *lane* (see `lane`), which
//! puts the batches of many partitions into one Produce request (one batch per partition, the broker's
//! rule) and keeps a few requests outstanding on the leader's pipelined connection. A partition hands the
//! lane one batch at a time: while it waits to be sent, small batches sent after it (see
//! [`Producer::send_mergeable`]) are merged into one batch (see `merge`); each part is still acknowledged
//! with its own exact offsets. Responses are handled in order. On the first failure the window is drained
//! and then:
//! - retriable errors (leader moved, broker down, timeouts, not enough replicas): after a jittered
//!   backoff, the unacknowledged batches are sent again with *identical bytes*; the broker recognises
//!   any it already has (same producer, epoch and sequence) and answers with their original offsets;
//! - OUT_OF_ORDER_SEQUENCE for the first unacknowledged batch: typically some of the batches in flight
//!   were written but their answers lost, and the broker restarted cleanly, remembering only its last
//!   batch per producer (so it no longer recognises the earlier ones as duplicates). The later
//!   batches that were sent are tried again one by one until the broker accepts one or recognises it
//!   as its last; the batches before it are then in the log, and are located there by producer id,
//!   epoch and sequence so their acks carry their real offsets;
//! - if no batch of ours explains the broker's state (it lost acknowledged data), or on
//!   UNKNOWN_PRODUCER_ID: the partition's producer epoch is bumped and the unacknowledged batches are
//!   sent again from sequence 0 (the only case where a batch could be written twice; it needs the
//!   broker to have lost data first);
//! - INVALID_PRODUCER_EPOCH / PRODUCER_FENCED: a new producer id, then the same;
//! - anything else (record too large, invalid timestamp, not authorized...) and the delivery timeout:
//!   the batch fails as described above.
//!
//! Epochs are per partition: the broker checks producer epochs and sequences per partition, so a bump
//! on one partition does not disturb the others.

mod lane;
mod merge;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::future::join_all;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, ProducerId};
use tokio::sync::{mpsc, oneshot};

use crate::batch::{BatchHeader, ProducerStamp, stamp_for_produce};
use crate::cluster::{Client, Route, backoff};
use crate::error::Error;
use crate::fetch::{FetchPartition, FetchRequest};
use crate::types::TopicPartition;

/// Batches in flight per partition: the most the broker's duplicate detection covers.
pub const MAX_IN_FLIGHT: usize = 5;

/// Where a produced batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceAck {
    /// Offset of the batch's first record; record `i` is at `base_offset + i`.
    pub base_offset: i64,
    pub record_count: i32,
    /// Broker time for topics with `message.timestamp.type=LogAppendTime`, else -1.
    pub log_append_time: i64,
}

type Reply = oneshot::Sender<Result<ProduceAck, Error>>;

struct Job {
    raw: Bytes,
    count: i32,
    reply: Reply,
    created: Instant,
    /// Set when this batch may be merged with its neighbours.
    merge: Option<merge::MergeKey>,
}

/// The producer identity every partition starts from, the way to get new ones, and the lanes to brokers.
struct Identity {
    client: Client,
    base: Mutex<(i64, i16)>,
    /// Every producer id batches were stamped with: the base one, then any a partition had to get.
    used: Mutex<Vec<i64>>,
    lanes: Mutex<HashMap<i32, mpsc::UnboundedSender<lane::Outgoing>>>,
}

impl Identity {
    /// The lane to broker `node`, started on first use.
    fn lane(&self, node: i32) -> mpsc::UnboundedSender<lane::Outgoing> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes
            .entry(node)
            .and_modify(|tx| {
                if tx.is_closed() {
                    *tx = lane::spawn(self.client.clone(), node);
                }
            })
            .or_insert_with(|| lane::spawn(self.client.clone(), node))
            .clone()
    }

    async fn init_producer_id(client: &Client) -> Result<(i64, i16), Error> {
        client
            .with_retries("InitProducerId", || async {
                let req = InitProducerIdRequest::default()
                    .with_transactional_id(None)
                    .with_transaction_timeout_ms(i32::MAX)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1);
                let resp = client.send_to(Route::Any, req).await?;
                if let Some(e) = Error::from_code(
                    resp.error_code,
                    || "getting an idempotent producer id (InitProducerId)".into(),
                    None,
                ) {
                    return Err(e);
                }
                Ok((resp.producer_id.0, resp.producer_epoch))
            })
            .await
    }
}

/// An idempotent producer of pre-built batches. Cheap to clone; dropping the last clone lets queued
/// batches finish, then stops the partition tasks.
#[derive(Clone)]
pub struct Producer {
    identity: Arc<Identity>,
    partitions: Arc<Mutex<HashMap<TopicPartition, mpsc::UnboundedSender<Job>>>>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("producer_id", &self.producer_id())
            .finish()
    }
}

impl Client {
    /// One idempotent producer (InitProducerId on this cluster, no transactional id).
    pub async fn idempotent_producer(&self) -> Result<Producer, Error> {
        let base = Identity::init_producer_id(self).await?;
        Ok(Producer {
            identity: Arc::new(Identity {
                client: self.clone(),
                base: Mutex::new(base),
                used: Mutex::new(vec![base.0]),
                lanes: Mutex::new(HashMap::new()),
            }),
            partitions: Arc::new(Mutex::new(HashMap::new())),
        })
    }
}

impl Producer {
    /// Sends one complete v2 batch (as fetched) to `tp` with acks=all. This call stamps a copy with our
    /// producer id, epoch and sequence (see [`crate::batch::stamp_for_produce`]); the order of calls is
    /// the order on the partition (see the module docs for the full guarantee). Batches beyond
    /// [`MAX_IN_FLIGHT`] wait in an unbounded queue: bound memory by bounding unacknowledged sends.
    ///
    /// The batch must be whole, not a control batch, and have `count == lastOffsetDelta + 1` (dense);
    /// otherwise the future fails at once with [`Error::InvalidBatch`]. Call it from within a tokio
    /// runtime (the first send to a partition starts that partition's task).
    pub fn send(
        &self,
        tp: TopicPartition,
        batch: Bytes,
    ) -> impl Future<Output = Result<ProduceAck, Error>> + Send + 'static {
        self.send_mergeable(tp, batch, 0)
    }

    /// [`Producer::send`], and a small batch may be merged with small batches of the same partition sent
    /// right before or after it into one batch of at most `max_merged_bytes` (the target topic's
    /// `max.message.bytes`; 0 never merges). The ack is this batch's own: its records sit at
    /// `base_offset..base_offset+count` in its order, whether merged or not; a merged batch is written or
    /// fails as a whole.
    pub fn send_mergeable(
        &self,
        tp: TopicPartition,
        batch: Bytes,
        max_merged_bytes: usize,
    ) -> impl Future<Output = Result<ProduceAck, Error>> + Send + 'static {
        let queued = self.enqueue(tp.clone(), batch, max_merged_bytes);
        async move {
            let rx = queued?;
            rx.await.unwrap_or(Err(Error::ProducerClosed { tp }))
        }
    }

    fn enqueue(
        &self,
        tp: TopicPartition,
        batch: Bytes,
        max_merged_bytes: usize,
    ) -> Result<oneshot::Receiver<Result<ProduceAck, Error>>, Error> {
        let invalid = |source| Error::InvalidBatch {
            tp: tp.clone(),
            source,
        };
        let header = BatchHeader::parse(&batch).map_err(invalid)?;
        if header.total_len() != batch.len() {
            return Err(invalid(crate::batch::BatchError::Truncated {
                available: batch.len(),
                needed: header.total_len(),
            }));
        }
        if header.is_control() || !header.is_dense() {
            return Err(invalid(crate::batch::BatchError::InvalidLength(
                header.record_count,
            )));
        }
        let (reply, rx) = oneshot::channel();
        let job = Job {
            merge: merge::MergeKey::of(&header, batch.len(), max_merged_bytes),
            raw: batch,
            count: header.record_count,
            reply,
            created: Instant::now(),
        };
        let mut parts = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        let tx = parts.entry(tp.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let base = *self.identity.base.lock().unwrap_or_else(|p| p.into_inner());
            tokio::spawn(PartitionTask::new(tp.clone(), self.identity.clone(), base, rx).run());
            tx
        });
        if let Err(mpsc::error::SendError(job)) = tx.send(job) {
            // The task ended (it cannot, while we hold its sender); fail rather than lose the batch.
            let _ = job
                .reply
                .send(Err(Error::ProducerClosed { tp: tp.clone() }));
            parts.remove(&tp);
        }
        Ok(rx)
    }

    /// The producer id and epoch from InitProducerId. A partition that had to recover from a sequence
    /// error runs on a higher epoch (or a new id) of its own.
    pub fn producer_id(&self) -> (i64, i16) {
        *self.identity.base.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every producer id this producer has stamped batches with (the base one first): whoever must recognise
    /// its records on the target needs all of them.
    pub fn producer_ids(&self) -> Vec<i64> {
        self.identity
            .used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

struct Stamped {
    bytes: Bytes,
    producer_id: i64,
    epoch: i16,
    sequence: i32,
}

/// One batch as produced: one job's, or several small jobs' merged.
struct Entry {
    /// The jobs it carries, in order; job `i` starts `sum(count of jobs before i)` records in.
    jobs: Vec<Job>,
    /// The unstamped batch: the job's own bytes, or the merged batch.
    raw: Bytes,
    count: i32,
    stamped: Option<Stamped>,
    /// Some attempt may have reached the log (its outcome was never learned, or it succeeded).
    maybe_written: bool,
    /// Handed to a lane at least once: its bytes are fixed from then on.
    dispatched: bool,
}

impl Entry {
    fn new(job: Job) -> Self {
        Self {
            raw: job.raw.clone(),
            count: job.count,
            jobs: vec![job],
            stamped: None,
            maybe_written: false,
            dispatched: false,
        }
    }

    fn created(&self) -> Instant {
        self.jobs.first().map_or_else(Instant::now, |j| j.created)
    }

    /// Answers every job: the batch landed at `base_offset`.
    fn acknowledge(self, base_offset: i64, log_append_time: i64) {
        let mut at = base_offset;
        for job in self.jobs {
            let _ = job.reply.send(Ok(ProduceAck {
                base_offset: at,
                record_count: job.count,
                log_append_time,
            }));
            at += i64::from(job.count);
        }
    }

    /// Fails every job with `err`: a batch fails as a whole.
    fn fail(self, err: Error) {
        for job in self.jobs {
            let _ = job.reply.send(Err(err.clone()));
        }
    }
}

type InFlight = Pin<Box<dyn Future<Output = Result<ProduceAck, Error>> + Send>>;

enum Event {
    Response(Result<ProduceAck, Error>),
    Job(Option<Job>),
    RetryDue,
    Sent,
}

struct PartitionTask {
    tp: TopicPartition,
    client: Client,
    identity: Arc<Identity>,
    /// The batch handed to the lane and not yet put into a request: the next waits for it (and meanwhile
    /// small batches queue up to be merged).
    unsent: Option<oneshot::Receiver<()>>,
    producer_id: i64,
    epoch: i16,
    next_sequence: i32,
    queue: VecDeque<Entry>,
    inflight: VecDeque<InFlight>,
    rx: mpsc::UnboundedReceiver<Job>,
    rx_closed: bool,
    retry_at: Option<Instant>,
    attempts: u32,
    /// Resets of the sequence since the last acknowledgement; guards against resetting forever.
    resets: u32,
    /// Offset after the last acknowledged batch, to locate batches when resolving after a restart.
    acked_end: Option<i64>,
    /// The epoch is exhausted: get a new producer id before sending again.
    need_new_pid: bool,
}

/// Sequences wrap to 0 after `i32::MAX`, as the broker expects.
fn add_sequence(seq: i32, count: i32) -> i32 {
    ((seq as i64 + count as i64) % (i32::MAX as i64 + 1)) as i32
}

impl PartitionTask {
    fn new(
        tp: TopicPartition,
        identity: Arc<Identity>,
        (producer_id, epoch): (i64, i16),
        rx: mpsc::UnboundedReceiver<Job>,
    ) -> Self {
        Self {
            tp,
            client: identity.client.clone(),
            identity,
            unsent: None,
            producer_id,
            epoch,
            next_sequence: 0,
            queue: VecDeque::new(),
            inflight: VecDeque::new(),
            rx,
            rx_closed: false,
            retry_at: None,
            attempts: 0,
            resets: 0,
            acked_end: None,
            need_new_pid: false,
        }
    }

    async fn run(mut self) {
        loop {
            self.fill().await;
            if self.rx_closed && self.queue.is_empty() {
                return;
            }
            let retry_at = self.retry_at;
            let inflight = &mut self.inflight;
            let rx = &mut self.rx;
            let rx_closed = self.rx_closed;
            let unsent = &mut self.unsent;
            let event = tokio::select! {
                biased;
                r = async {
                    match inflight.front_mut() {
                        Some(f) => f.await,
                        None => std::future::pending().await,
                    }
                } => Event::Response(r),
                _ = async {
                    match unsent.as_mut() {
                        Some(sent) => {
                            let _ = sent.await;
                        }
                        None => std::future::pending().await,
                    }
                } => Event::Sent,
                j = rx.recv(), if !rx_closed => Event::Job(j),
                _ = async {
                    match retry_at {
                        Some(t) => tokio::time::sleep_until(t.into()).await,
                        None => std::future::pending().await,
                    }
                } => Event::RetryDue,
            };
            match event {
                Event::Response(r) => {
                    self.inflight.pop_front();
                    self.on_response(r).await;
                }
                Event::Job(Some(job)) => {
                    self.queue.push_back(Entry::new(job));
                    // Take whatever else is waiting now, so it can be merged before the next dispatch.
                    while let Ok(job) = self.rx.try_recv() {
                        self.queue.push_back(Entry::new(job));
                    }
                }
                Event::Job(None) => self.rx_closed = true,
                Event::RetryDue => self.retry_at = None,
                Event::Sent => self.unsent = None,
            }
        }
    }

    /// Sends queued batches until the window is full.
    async fn fill(&mut self) {
        if self.retry_at.is_some_and(|t| t > Instant::now()) {
            return;
        }
        self.retry_at = None;
        if self.need_new_pid && !self.queue.is_empty() {
            match Identity::init_producer_id(&self.client).await {
                Ok((pid, epoch)) => {
                    tracing::info!(tp = %self.tp, pid, epoch, "new producer id for partition");
                    self.identity
                        .used
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(pid);
                    self.producer_id = pid;
                    self.epoch = epoch;
                    self.need_new_pid = false;
                    self.restart_sequences();
                }
                Err(e) => {
                    self.retry_later(e);
                    return;
                }
            }
        }
        while self.inflight.len() < MAX_IN_FLIGHT
            && self.inflight.len() < self.queue.len()
            && self.unsent.is_none()
        {
            let idx = self.inflight.len();
            self.merge_from(idx);
            match self.dispatch(idx).await {
                Ok((f, sent)) => {
                    self.inflight.push_back(f);
                    self.unsent = Some(sent);
                }
                Err(e) => {
                    if idx == 0 {
                        self.handle_failure(e).await;
                    }
                    // Otherwise the batches in flight answer first; their outcome decides.
                    return;
                }
            }
        }
    }

    /// Merges the small, never-sent batches after entry `idx` into it (when `idx` was never sent either).
    fn merge_from(&mut self, idx: usize) {
        let Some(first) = self.queue.get(idx) else {
            return;
        };
        let Some(key) = first.jobs.first().and_then(|j| j.merge) else {
            return;
        };
        // Stamped means its sequence numbers are taken (a dispatch that failed before reaching a lane).
        if first.dispatched || first.stamped.is_some() || first.jobs.len() != 1 {
            return;
        }
        let mut limit = key.limit;
        let mut size = first.raw.len();
        let mut end = idx + 1;
        while let Some(next) = self.queue.get(end) {
            let Some(k) = next.jobs.first().and_then(|j| j.merge) else {
                break;
            };
            let next_limit = limit.min(k.limit);
            if next.dispatched
                || next.stamped.is_some()
                || next.jobs.len() != 1
                || !key.fits_with(&k)
                || size + next.raw.len() > next_limit
            {
                break;
            }
            limit = next_limit;
            size += next.raw.len();
            end += 1;
        }
        if end == idx + 1 {
            return;
        }
        let parts: Vec<&Bytes> = self.queue.range(idx..end).map(|e| &e.raw).collect();
        let Some(merged) = merge::merge(&parts, key.codec(), limit) else {
            return;
        };
        let absorbed: Vec<Entry> = self.queue.drain(idx + 1..end).collect();
        let Some(entry) = self.queue.get_mut(idx) else {
            return;
        };
        for e in absorbed {
            entry.count += e.count;
            entry.jobs.extend(e.jobs);
        }
        entry.raw = merged;
    }

    fn stamp(&mut self, idx: usize) -> Result<(), Error> {
        let (pid, epoch, seq) = (self.producer_id, self.epoch, self.next_sequence);
        let entry = &mut self.queue[idx];
        if entry.stamped.is_some() {
            return Ok(());
        }
        let mut buf = BytesMut::from(&entry.raw[..]);
        stamp_for_produce(
            &mut buf,
            ProducerStamp {
                producer_id: pid,
                producer_epoch: epoch,
                base_sequence: seq,
            },
        )
        .map_err(|source| Error::InvalidBatch {
            tp: self.tp.clone(),
            source,
        })?;
        entry.stamped = Some(Stamped {
            bytes: buf.freeze(),
            producer_id: pid,
            epoch,
            sequence: seq,
        });
        self.next_sequence = add_sequence(seq, entry.count);
        Ok(())
    }

    /// Hands entry `idx` to its leader's lane; returns its answer and the signal that it was put into a
    /// request.
    async fn dispatch(&mut self, idx: usize) -> Result<(InFlight, oneshot::Receiver<()>), Error> {
        self.stamp(idx)?;
        let client = &self.client;
        // After NOT_LEADER_OR_FOLLOWER and the like, find the new leader before sending again.
        client.refresh_if_stale().await?;
        let (leader, _) = client.leader_of(&self.tp).await?;
        let Some(entry) = self.queue.get_mut(idx) else {
            return Err(Error::ProducerClosed {
                tp: self.tp.clone(),
            });
        };
        let Some(stamped) = &entry.stamped else {
            return Err(Error::ProducerClosed {
                tp: self.tp.clone(),
            });
        };
        entry.dispatched = true;
        let (sent, sent_rx) = oneshot::channel();
        let (reply, reply_rx) = oneshot::channel();
        let outgoing = lane::Outgoing {
            tp: self.tp.clone(),
            bytes: stamped.bytes.clone(),
            sent,
            reply,
        };
        if self.identity.lane(leader).send(outgoing).is_err() {
            return Err(Error::ProducerClosed {
                tp: self.tp.clone(),
            });
        }
        let broker = format!("node {leader}");
        Ok((
            Box::pin(async move {
                // The lane ended without answering: the request may have gone out.
                reply_rx.await.unwrap_or(Err(Error::Disconnected {
                    broker,
                    in_flight: true,
                }))
            }),
            sent_rx,
        ))
    }

    fn ack_front(&mut self, ack: ProduceAck) {
        if let Some(entry) = self.queue.pop_front() {
            self.acked_end = Some(ack.base_offset + i64::from(entry.count));
            entry.acknowledge(ack.base_offset, ack.log_append_time);
        }
        self.attempts = 0;
        self.resets = 0;
    }

    async fn on_response(&mut self, r: Result<ProduceAck, Error>) {
        match r {
            Ok(ack) => self.ack_front(ack),
            Err(err) => {
                // The rest of the window is resent (identical bytes) or re-stamped; only learn whether
                // each may have landed.
                let rest: Vec<InFlight> = self.inflight.drain(..).collect();
                let results = join_all(rest).await;
                for (i, r) in results.iter().enumerate() {
                    if let Some(e) = self.queue.get_mut(i + 1) {
                        e.maybe_written |= match r {
                            Ok(_) => true,
                            Err(e) => e.outcome_unknown(),
                        };
                    }
                }
                self.handle_failure(err).await;
            }
        }
    }

    /// Decides what to do when the front batch failed; the window is empty.
    async fn handle_failure(&mut self, err: Error) {
        if let Some(front) = self.queue.front_mut() {
            front.maybe_written |= err.outcome_unknown();
        } else {
            return;
        }
        use ResponseError as E;
        match err.code() {
            Some(E::OutOfOrderSequenceNumber) => match self.resolve_after_restart().await {
                Ok(true) => {}
                Ok(false) => self.reset_or_fail(err),
                Err(e) => self.retry_later(e),
            },
            Some(E::UnknownProducerId) => self.reset_or_fail(err),
            Some(E::InvalidProducerEpoch | E::ProducerFenced) => {
                tracing::warn!(tp = %self.tp, error = %err, "producer epoch refused; getting a new producer id");
                self.need_new_pid = true;
                self.restart_sequences();
            }
            _ if err.is_retriable() || matches!(err, Error::UnknownTopicOrPartition { .. }) => {
                self.retry_later(err)
            }
            _ => self.fail_all(err),
        }
    }

    fn retry_later(&mut self, err: Error) {
        let Some(front) = self.queue.front() else {
            return;
        };
        let delivery_timeout = self.client.config().delivery_timeout;
        if front.created().elapsed() >= delivery_timeout {
            let maybe_written = front.maybe_written;
            let expired = Error::DeliveryTimeout {
                tp: self.tp.clone(),
                after: delivery_timeout,
                last_error: err.to_string(),
                maybe_written,
            };
            self.fail_all(expired);
            return;
        }
        self.client
            .note_error(&Route::Leader(self.tp.clone()), &err);
        self.attempts += 1;
        let cfg = self.client.config();
        let wait = backoff(cfg.reconnect_backoff, Duration::from_secs(1), self.attempts);
        tracing::debug!(tp = %self.tp, error = %err, attempt = self.attempts, ?wait, "produce retry");
        self.retry_at = Some(Instant::now() + wait);
    }

    fn reset_or_fail(&mut self, err: Error) {
        self.resets += 1;
        if self.resets > 3 {
            self.fail_all(err);
            return;
        }
        tracing::warn!(tp = %self.tp, error = %err, "the broker lost this producer's sequence; bumping the epoch");
        self.bump_epoch();
    }

    /// A new epoch for this partition (a new producer id once the epoch is exhausted), sequences from 0.
    fn bump_epoch(&mut self) {
        if self.epoch < i16::MAX {
            self.epoch += 1;
        } else {
            self.need_new_pid = true;
        }
        self.restart_sequences();
    }

    fn restart_sequences(&mut self) {
        self.next_sequence = 0;
        for e in &mut self.queue {
            e.stamped = None;
        }
    }

    /// Fails the front batch with `err` and every other batch sent before now as cancelled, then moves
    /// to a new epoch so nothing that may have landed under the old stamps is mistaken for what follows.
    fn fail_all(&mut self, err: Error) {
        let cause = err.to_string();
        if let Some(front) = self.queue.pop_front() {
            front.fail(err);
        }
        for e in self.queue.drain(..) {
            let cancelled = Error::ProduceCancelled {
                tp: self.tp.clone(),
                cause: cause.clone(),
                maybe_written: e.maybe_written,
            };
            e.fail(cancelled);
        }
        while let Ok(job) = self.rx.try_recv() {
            let _ = job.reply.send(Err(Error::ProduceCancelled {
                tp: self.tp.clone(),
                cause: cause.clone(),
                maybe_written: false,
            }));
        }
        self.attempts = 0;
        self.resets = 0;
        self.retry_at = None;
        self.bump_epoch();
    }

    /// After OUT_OF_ORDER_SEQUENCE for the front batch: finds the last batch the
    /// broker has by resending the later ones (same bytes) one at a time; the broker accepts the one
    /// right after its last, or recognises its last as a duplicate. Everything before it is in the log;
    /// those batches are located by producer id, epoch and sequence so they are acknowledged with their
    /// real offsets. `Ok(false)` when no batch of ours explains the broker's state.
    async fn resolve_after_restart(&mut self) -> Result<bool, Error> {
        for i in 1..self.queue.len() {
            if self.queue[i].stamped.is_none() {
                break;
            }
            let answer = self.dispatch(i).await?.0.await;
            match answer {
                Ok(ack) => {
                    let counts: i64 = self.queue.iter().take(i).map(|e| i64::from(e.count)).sum();
                    let lower = self.acked_end.unwrap_or(ack.base_offset - counts).max(0);
                    let wanted: Vec<Option<(i64, i16, i32)>> = self
                        .queue
                        .iter()
                        .take(i)
                        .map(|e| {
                            e.stamped
                                .as_ref()
                                .map(|s| (s.producer_id, s.epoch, s.sequence))
                        })
                        .collect();
                    let located =
                        locate(&self.client, &self.tp, &wanted, lower, ack.base_offset).await;
                    tracing::info!(
                        tp = %self.tp, resolved = i, located = located.iter().flatten().count(),
                        "resolved batches written before a broker restart"
                    );
                    for offset in located {
                        let Some(entry) = self.queue.pop_front() else {
                            break;
                        };
                        match offset {
                            Some(base_offset) => {
                                self.acked_end = Some(base_offset + i64::from(entry.count));
                                entry.acknowledge(base_offset, -1);
                            }
                            None => entry.fail(Error::ProduceCancelled {
                                tp: self.tp.clone(),
                                cause: "the batch was written but its offset could not be found in the log".into(),
                                maybe_written: true,
                            }),
                        }
                    }
                    self.ack_front(ack);
                    return Ok(true);
                }
                Err(e) if e.code() == Some(ResponseError::OutOfOrderSequenceNumber) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }
}

/// Base offsets of the batches stamped `wanted` (producer id, epoch, base sequence), found by reading the
/// log of `tp` between `lower` and `upper`.
async fn locate(
    client: &Client,
    tp: &TopicPartition,
    wanted: &[Option<(i64, i16, i32)>],
    lower: i64,
    upper: i64,
) -> Vec<Option<i64>> {
    {
        let mut found: Vec<Option<i64>> = vec![None; wanted.len()];
        let mut offset = lower;
        let mut tries = 0;
        while offset < upper && found.iter().any(Option::is_none) && tries < 100 {
            tries += 1;
            let mut req = FetchRequest::new(vec![FetchPartition {
                tp: tp.clone(),
                offset,
                max_bytes: 4 * 1024 * 1024,
            }]);
            req.max_wait = Duration::ZERO;
            req.min_bytes = 0;
            let data = match client.fetch(&req).await {
                Ok(mut r) => match r.pop().map(|p| p.result) {
                    Some(Ok(d)) => d,
                    _ => break,
                },
                Err(_) => break,
            };
            if data.records.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            for batch in data.batches() {
                let Ok((h, _)) = batch else { break };
                if h.base_offset >= upper {
                    break;
                }
                let key = Some((h.producer_id, h.producer_epoch, h.base_sequence));
                if let Some(j) = wanted.iter().position(|w| *w == key) {
                    found[j] = Some(h.base_offset);
                }
                offset = offset.max(h.next_offset());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_wrap_like_the_broker() {
        assert_eq!(add_sequence(0, 5), 5);
        assert_eq!(add_sequence(i32::MAX, 1), 0);
        assert_eq!(add_sequence(i32::MAX - 1, 5), 3);
    }
}

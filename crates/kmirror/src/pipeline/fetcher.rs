//! The fetcher of one flow: one fetch loop over every assigned source partition that has room in its byte
//! budget; the client splits each request by partition leader. Fetched bytes go to the partition's forwarder.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kmirror_kafka::batch::Batches;
use kmirror_kafka::{
    Client, Error as KafkaError, FetchPartition, FetchRequest, Isolation, TopicPartition,
};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::budget::Budget;
use super::context::FlowContext;
use super::forwarder::{Chunk, now_ms};
use crate::telemetry::PartitionState;

/// Fetch sizes; defaults follow the Java consumer's where they exist.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub partition_max_bytes: i32,
    pub max_bytes: i32,
    pub max_wait: Duration,
    pub isolation: Isolation,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            partition_max_bytes: 1 << 20,
            max_bytes: 8 << 20,
            max_wait: Duration::from_millis(500),
            isolation: Isolation::ReadCommitted,
        }
    }
}

#[derive(Debug)]
pub enum FetcherCmd {
    Add {
        source: TopicPartition,
        from: i64,
        budget: Arc<Budget>,
        tx: mpsc::UnboundedSender<Chunk>,
    },
    Remove(TopicPartition),
}

struct FetchState {
    offset: i64,
    max_bytes: i32,
    budget: Arc<Budget>,
    tx: mpsc::UnboundedSender<Chunk>,
}

/// What the fetcher tells the flow about partitions it had to drop.
#[derive(Debug)]
pub enum FetchEvent {
    SourceDeleted(TopicPartition),
}

pub async fn run_fetcher(
    client: Client,
    settings: FetchSettings,
    ctx: Arc<FlowContext>,
    mut cmds: mpsc::UnboundedReceiver<FetcherCmd>,
    events: mpsc::UnboundedSender<FetchEvent>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut parts: BTreeMap<TopicPartition, FetchState> = BTreeMap::new();
    let mut failures = 0u32;
    loop {
        while let Ok(cmd) = cmds.try_recv() {
            apply(&mut parts, cmd, &settings);
        }
        let eligible: Vec<FetchPartition> = parts
            .iter()
            .filter(|(_, s)| s.budget.has_room() && !s.tx.is_closed())
            .map(|(tp, s)| FetchPartition {
                tp: tp.clone(),
                offset: s.offset,
                max_bytes: s.max_bytes,
            })
            .collect();
        parts.retain(|_, s| !s.tx.is_closed());
        if eligible.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wake.notified() => {}
                cmd = cmds.recv() => match cmd {
                    Some(cmd) => apply(&mut parts, cmd, &settings),
                    None => return,
                },
            }
            continue;
        }
        let request = FetchRequest {
            partitions: eligible,
            max_wait: settings.max_wait,
            min_bytes: 1,
            max_bytes: settings.max_bytes,
            isolation: settings.isolation,
        };
        let results = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = client.fetch(&request) => r,
        };
        let results = match results {
            Ok(r) => {
                if failures > 0 {
                    ctx.status.resolve(&ctx.flow, "source cluster");
                }
                failures = 0;
                r
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(flow = %ctx.flow, error = %e, "fetching from the source cluster failed; retrying");
                ctx.metrics
                    .error(&ctx.source_alias, &ctx.target_alias, "fetch");
                ctx.status
                    .problem(&ctx.flow, "source cluster", format!("fetch failed: {e}"));
                let backoff = Duration::from_millis(200 * u64::from(failures.min(25)));
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                continue;
            }
        };
        let fetched_at_ms = now_ms();
        for pf in results {
            let Some(state) = parts.get_mut(&pf.tp) else {
                continue;
            };
            match pf.result {
                Ok(data) => {
                    let mut next = state.offset;
                    let mut batches = Batches::new(data.records.clone());
                    for (header, _) in batches.by_ref().flatten() {
                        next = next.max(header.next_offset());
                    }
                    if next == state.offset && batches.truncated_tail() {
                        // One batch is larger than what we asked for: ask for more next time.
                        state.max_bytes = state
                            .max_bytes
                            .saturating_mul(2)
                            .min(settings.max_bytes.max(1 << 20));
                    }
                    state.offset = next;
                    let size = data.records.len();
                    state.budget.take(size);
                    let chunk = Chunk {
                        // A copy: a slice would keep the whole multi-partition response alive until the slowest
                        // partition is acknowledged, outside any budget.
                        records: bytes::Bytes::copy_from_slice(&data.records),
                        high_watermark: data.high_watermark,
                        aborted: data.aborted_transactions,
                        fetched_at_ms,
                    };
                    if state.tx.send(chunk).is_err() {
                        state.budget.release(size);
                    }
                }
                Err(KafkaError::OffsetOutOfRange {
                    log_start, log_end, ..
                }) => {
                    let from = state.offset;
                    let to = if from < log_start { log_start } else { log_end };
                    let message = if from < log_start {
                        format!(
                            "source records {from}..{} of {} were deleted (retention) before kmirror copied them; \
                             continuing at {log_start}",
                            log_start - 1,
                            pf.tp
                        )
                    } else {
                        format!(
                            "source partition {} was truncated to {log_end} (below {from}); continuing there",
                            pf.tp
                        )
                    };
                    tracing::error!(flow = %ctx.flow, "{message}");
                    ctx.status.problem(&ctx.flow, &pf.tp.to_string(), message);
                    ctx.metrics
                        .error(&ctx.source_alias, &ctx.target_alias, "offset_out_of_range");
                    state.offset = to;
                }
                Err(KafkaError::UnknownTopicOrPartition { .. }) => {
                    tracing::warn!(flow = %ctx.flow, partition = %pf.tp, "source partition no longer exists; \
                        stopping its replication (what was copied stays on the target)");
                    ctx.status
                        .modify_partition(&ctx.flow, &pf.tp.topic, pf.tp.partition, |p| {
                            p.state = PartitionState::SourceDeleted;
                            p.error = Some(
                                "the source topic was deleted; the copy on the target is kept"
                                    .into(),
                            );
                        });
                    parts.remove(&pf.tp);
                    let _ = events.send(FetchEvent::SourceDeleted(pf.tp));
                }
                Err(e) => {
                    tracing::warn!(flow = %ctx.flow, partition = %pf.tp, error = %e, "fetch error; retrying");
                    ctx.metrics
                        .error(&ctx.source_alias, &ctx.target_alias, "fetch_partition");
                    ctx.status
                        .modify_partition(&ctx.flow, &pf.tp.topic, pf.tp.partition, |p| {
                            p.error = Some(e.to_string());
                        });
                }
            }
        }
    }
}

fn apply(
    parts: &mut BTreeMap<TopicPartition, FetchState>,
    cmd: FetcherCmd,
    settings: &FetchSettings,
) {
    match cmd {
        FetcherCmd::Add {
            source,
            from,
            budget,
            tx,
        } => {
            parts.insert(
                source,
                FetchState {
                    offset: from,
                    max_bytes: settings.partition_max_bytes,
                    budget,
                    tx,
                },
            );
        }
        FetcherCmd::Remove(tp) => {
            parts.remove(&tp);
        }
    }
}

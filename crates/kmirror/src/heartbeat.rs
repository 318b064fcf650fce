//! MM2 heartbeats: one record per `emit.heartbeats.interval` in the target's `heartbeats` topic, so that MM2
//! tooling (`MirrorClient`, `RemoteClusterUtils`) and monitoring see the flow alive and can derive the
//! replication topology from `<alias>.heartbeats` topic names. Replicating the *source's* heartbeats topic
//! (written by the reverse flow) is ordinary mirroring, not done here.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kmirror_kafka::admin::Admin;
use kmirror_kafka::{Producer, TopicPartition};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::FlowConfig;
use crate::discovery::{SINGLE_PARTITION, ensure_internal_topic};
use crate::internal_records::{OutRecord, RecordsError, encode_batch};
use crate::mm2::{Heartbeat, Mm2CodecError};
use crate::telemetry::{Metrics, StatusBoard};

const SUBJECT: &str = "heartbeats";
/// Pause between attempts to set up (create the topic, get a producer id) while the target refuses.
const SETUP_RETRY: Duration = Duration::from_secs(5);
/// The least time one heartbeat may take to be acknowledged before the emitter starts over.
const MIN_SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A heartbeat that cannot be encoded (an alias longer than MM2's 32767-byte string limit).
#[derive(Debug, thiserror::Error)]
pub enum HeartbeatError {
    /// The MM2 codec refused the key.
    #[error("cannot encode the heartbeat key: {0}")]
    Key(#[from] Mm2CodecError),
    /// The record batch could not be built.
    #[error("cannot encode the heartbeat record: {0}")]
    Batch(#[from] RecordsError),
}

/// One heartbeat record (key/value per MM2's `Heartbeat`, record timestamp = heartbeat timestamp) as a batch
/// ready for [`Producer::send`].
pub fn heartbeat_batch(
    source: &str,
    target: &str,
    timestamp: i64,
) -> Result<Bytes, HeartbeatError> {
    let hb = Heartbeat {
        source_cluster_alias: source.to_string(),
        target_cluster_alias: target.to_string(),
        timestamp,
    };
    let record = OutRecord {
        key: Some(Bytes::from(hb.encode_key()?)),
        value: Some(Bytes::from(hb.encode_value())),
        timestamp,
    };
    Ok(encode_batch(&[record])?)
}

/// Writes a flow's heartbeats until cancelled.
#[derive(Debug)]
pub struct HeartbeatEmitter {
    flow: String,
    source: String,
    target_alias: String,
    topic: String,
    enabled: bool,
    interval: Duration,
    replication_factor: Option<i32>,
    target: Admin,
    status: Arc<StatusBoard>,
    metrics: Arc<Metrics>,
    open_problem: Option<String>,
}

impl HeartbeatEmitter {
    /// An emitter for `flow`, writing through `target` (the flow's target cluster).
    pub fn new(
        flow: &FlowConfig,
        target: Admin,
        status: Arc<StatusBoard>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            flow: flow.name(),
            source: flow.source.clone(),
            target_alias: flow.target.clone(),
            topic: flow.heartbeats_topic().to_string(),
            enabled: flow.emit_heartbeats.enabled,
            interval: flow.emit_heartbeats.interval.max(Duration::from_millis(1)),
            replication_factor: flow.heartbeats_topic_replication_factor,
            target,
            status,
            metrics,
            open_problem: None,
        }
    }

    /// Creates the heartbeats topic if needed (1 compacted partition), then writes one heartbeat per interval
    /// until `cancel` fires. A target that refuses is retried (and shown on the status board) rather than
    /// ending the task; returns at once when `emit.heartbeats.enabled` is false.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), HeartbeatError> {
        if !self.enabled {
            info!(flow = %self.flow, "heartbeats are off (emit.heartbeats.enabled = false)");
            return Ok(());
        }
        // Fail on an alias MM2 could not encode before touching the cluster.
        heartbeat_batch(&self.source, &self.target_alias, 0)?;
        if !self.ensure_topic(&cancel).await {
            return Ok(());
        }
        let tp = TopicPartition {
            topic: self.topic.clone(),
            partition: 0,
        };
        let mut producer: Option<Producer> = None;
        let mut check_topic = false;
        let send_timeout = self.interval.saturating_mul(5).max(MIN_SEND_TIMEOUT);
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        info!(flow = %self.flow, topic = %self.topic, interval = ?self.interval, "emitting heartbeats");
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = ticks.tick() => {}
            }
            // After a failed write: the topic may have been deleted; make it exist again.
            if check_topic {
                let ensured = tokio::select! {
                    () = cancel.cancelled() => break,
                    r = self.ensure_once() => r,
                };
                match ensured {
                    Ok(()) => check_topic = false,
                    Err(message) => {
                        self.problem(message);
                        continue;
                    }
                }
            }
            let p = match &producer {
                Some(p) => p.clone(),
                None => match tokio::select! {
                    () = cancel.cancelled() => break,
                    r = self.target.client().idempotent_producer() => r,
                } {
                    Ok(p) => {
                        producer = Some(p.clone());
                        p
                    }
                    Err(e) => {
                        self.problem(format!(
                            "cannot start the heartbeat producer on target cluster '{}': {e}",
                            self.target_alias
                        ));
                        continue;
                    }
                },
            };
            let now = now_ms();
            let batch = heartbeat_batch(&self.source, &self.target_alias, now)?;
            let sent = tokio::select! {
                () = cancel.cancelled() => break,
                r = tokio::time::timeout(send_timeout, p.send(tp.clone(), batch)) => r,
            };
            let error = match sent {
                Ok(Ok(ack)) => {
                    debug!(flow = %self.flow, offset = ack.base_offset, timestamp = now, "heartbeat");
                    self.resolve();
                    continue;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no acknowledgement within {send_timeout:?}"),
            };
            // A fresh producer id starts clean whatever state the failure left behind.
            producer = None;
            check_topic = true;
            self.problem(format!(
                "cannot write a heartbeat to '{}' on target cluster '{}': {error}",
                self.topic, self.target_alias
            ));
        }
        info!(flow = %self.flow, "heartbeats stopped");
        Ok(())
    }

    /// Retries until the topic exists (or is assumed to); false when cancelled first.
    async fn ensure_topic(&mut self, cancel: &CancellationToken) -> bool {
        loop {
            let result = tokio::select! {
                () = cancel.cancelled() => return false,
                r = self.ensure_once() => r,
            };
            match result {
                Ok(()) => return true,
                Err(message) => self.problem(message),
            }
            tokio::select! {
                () = cancel.cancelled() => return false,
                () = tokio::time::sleep(SETUP_RETRY) => {}
            }
        }
    }

    async fn ensure_once(&self) -> Result<(), String> {
        ensure_internal_topic(
            &self.target,
            &self.topic,
            SINGLE_PARTITION,
            true,
            self.replication_factor,
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "heartbeats of {} on target cluster '{}': {e}",
                self.flow, self.target_alias
            )
        })
    }

    fn problem(&mut self, message: String) {
        self.metrics
            .error(&self.source, &self.target_alias, "heartbeat");
        self.status.problem(&self.flow, SUBJECT, message.clone());
        if self.open_problem.as_ref() != Some(&message) {
            warn!(flow = %self.flow, "{message}");
            self.open_problem = Some(message);
        }
    }

    fn resolve(&mut self) {
        if self.open_problem.take().is_some() {
            self.status.resolve(&self.flow, SUBJECT);
            info!(flow = %self.flow, "heartbeats flow again");
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::internal_records::decode_records;

    #[test]
    fn batch_holds_one_mm2_heartbeat_timestamped_like_it() {
        let batch = heartbeat_batch("A", "B", 1_700_000_000_123).unwrap();
        let records = decode_records(batch, 0).unwrap();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.timestamp, 1_700_000_000_123);
        assert_eq!(r.key.as_deref(), Some(&[0, 1, b'A', 0, 1, b'B'][..]));
        let hb = Heartbeat::decode(r.key.as_deref().unwrap(), r.value.as_deref().unwrap()).unwrap();
        assert_eq!(
            hb,
            Heartbeat {
                source_cluster_alias: "A".into(),
                target_cluster_alias: "B".into(),
                timestamp: 1_700_000_000_123
            }
        );
    }

    #[test]
    fn alias_too_long_for_mm2_is_an_error() {
        let long = "x".repeat(40_000);
        assert!(matches!(
            heartbeat_batch(&long, "B", 0),
            Err(HeartbeatError::Key(_))
        ));
    }
}

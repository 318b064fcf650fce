//! The status board: what every flow and partition is doing, and every problem an operator must see.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionState {
    Starting,
    Running,
    /// Stopped by an error kmirror cannot fix alone; `error` says what to do. Retried periodically.
    Failed,
    /// The source topic is gone.
    SourceDeleted,
}

/// One mirrored partition as shown on `/status`.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionStatus {
    pub flow: String,
    pub source_topic: String,
    pub target_topic: String,
    pub partition: i32,
    pub state: PartitionState,
    /// Next source offset to copy.
    pub next_source_offset: i64,
    /// Source high watermark at the last fetch.
    pub source_end_offset: i64,
    pub lag_records: i64,
    pub records_copied: u64,
    pub error: Option<String>,
}

/// Something wrong that is not tied to one partition (a cluster unreachable, a topic refused...).
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub flow: String,
    pub subject: String,
    pub message: String,
    pub since_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusSnapshot {
    pub version: &'static str,
    pub flows: Vec<String>,
    pub partitions: Vec<PartitionStatus>,
    pub problems: Vec<Problem>,
    pub total_lag_records: i64,
}

#[derive(Debug, Default)]
struct Inner {
    flows: Vec<String>,
    partitions: BTreeMap<(String, String, i32), PartitionStatus>,
    problems: BTreeMap<(String, String), Problem>,
}

/// Shared, lock-protected; updates are small and rare compared to the data path.
#[derive(Debug, Default)]
pub struct StatusBoard {
    inner: Mutex<Inner>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl StatusBoard {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    pub fn add_flow(&self, flow: &str) {
        self.with(|i| {
            if !i.flows.iter().any(|f| f == flow) {
                i.flows.push(flow.to_string());
            }
        });
    }

    pub fn update_partition(&self, status: PartitionStatus) {
        self.with(|i| {
            i.partitions.insert(
                (
                    status.flow.clone(),
                    status.source_topic.clone(),
                    status.partition,
                ),
                status,
            );
        });
    }

    /// Applies `f` to a known partition's status.
    pub fn modify_partition(
        &self,
        flow: &str,
        topic: &str,
        partition: i32,
        f: impl FnOnce(&mut PartitionStatus),
    ) {
        self.with(|i| {
            if let Some(p) = i
                .partitions
                .get_mut(&(flow.to_string(), topic.to_string(), partition))
            {
                f(p);
            }
        });
    }

    pub fn remove_topic(&self, flow: &str, topic: &str) {
        self.with(|i| {
            i.partitions
                .retain(|(f, t, _), _| !(f == flow && t == topic))
        });
    }

    /// Records a problem (replacing an older one about the same subject).
    pub fn problem(&self, flow: &str, subject: &str, message: impl Into<String>) {
        let message = message.into();
        self.with(|i| {
            let key = (flow.to_string(), subject.to_string());
            let since_ms = i.problems.get(&key).map_or_else(now_ms, |p| p.since_ms);
            i.problems.insert(
                key,
                Problem {
                    flow: flow.into(),
                    subject: subject.into(),
                    message,
                    since_ms,
                },
            );
        });
    }

    pub fn resolve(&self, flow: &str, subject: &str) {
        self.with(|i| i.problems.remove(&(flow.to_string(), subject.to_string())));
    }

    pub fn snapshot(&self) -> StatusSnapshot {
        self.with(|i| {
            let partitions: Vec<PartitionStatus> = i.partitions.values().cloned().collect();
            StatusSnapshot {
                version: env!("CARGO_PKG_VERSION"),
                flows: i.flows.clone(),
                total_lag_records: partitions.iter().map(|p| p.lag_records.max(0)).sum(),
                partitions,
                problems: i.problems.values().cloned().collect(),
            }
        })
    }
}

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

/// One mirrored topic: how much is copied, how fast, and when the copy will have caught up.
#[derive(Debug, Clone, Serialize)]
pub struct TopicStatus {
    pub flow: String,
    pub source_topic: String,
    pub target_topic: String,
    pub partitions: usize,
    pub failed_partitions: usize,
    /// Records copied since kmirror started.
    pub records_copied: u64,
    pub lag_records: i64,
    /// Share of what this run had to copy that is done: copied / (copied + lag), 100 when nothing is left.
    pub percent_copied: f64,
    /// Records per second, smoothed over the last several seconds.
    pub records_per_second: f64,
    /// Seconds until the lag is gone at the current rate (0 when caught up; absent while nothing moves).
    pub eta_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusSnapshot {
    pub version: &'static str,
    pub flows: Vec<String>,
    pub topics: Vec<TopicStatus>,
    pub partitions: Vec<PartitionStatus>,
    pub problems: Vec<Problem>,
    pub total_lag_records: i64,
    /// End-to-end lag per flow: what a failover right now would miss.
    pub flow_lag: Vec<FlowLag>,
}

/// How far a flow's target is behind its source, in time: the largest of its partitions' lags, each the age
/// of the newest copied record while the source holds more (0 when caught up).
#[derive(Debug, Clone, Serialize)]
pub struct FlowLag {
    pub flow: String,
    pub lag_seconds: f64,
}

#[derive(Debug, Default)]
struct Inner {
    flows: Vec<String>,
    partitions: BTreeMap<(String, String, i32), PartitionStatus>,
    problems: BTreeMap<(String, String), Problem>,
    /// Copy rate per (flow, source topic).
    rates: BTreeMap<(String, String), Rate>,
    /// Lag in seconds per (flow, source topic, partition).
    lag_seconds: BTreeMap<(String, String, i32), f64>,
}

/// A smoothed records-per-second rate, from the copied count sampled about once a second.
#[derive(Debug, Clone, Copy)]
struct Rate {
    at_ms: i64,
    copied: u64,
    per_second: f64,
}

impl Rate {
    /// Weight of the newest sample: about the last five samples count.
    const SMOOTHING: f64 = 0.3;
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
                .retain(|(f, t, _), _| !(f == flow && t == topic));
            i.rates.remove(&(flow.to_string(), topic.to_string()));
            i.lag_seconds
                .retain(|(f, t, _), _| !(f == flow && t == topic));
        });
    }

    /// A partition's lag in seconds (see [`FlowLag`]).
    pub fn set_lag_seconds(&self, flow: &str, topic: &str, partition: i32, seconds: f64) {
        self.with(|i| {
            i.lag_seconds
                .insert((flow.to_string(), topic.to_string(), partition), seconds);
        });
    }

    /// Samples the copied counts of `flow`'s topics for their rates; called about once a second.
    pub fn sample_rates(&self, flow: &str) {
        self.sample_rates_at(flow, now_ms());
    }

    fn sample_rates_at(&self, flow: &str, now: i64) {
        self.with(|i| {
            let mut copied: BTreeMap<String, u64> = BTreeMap::new();
            for ((f, topic, _), p) in &i.partitions {
                if f == flow {
                    *copied.entry(topic.clone()).or_default() += p.records_copied;
                }
            }
            for (topic, copied) in copied {
                let key = (flow.to_string(), topic);
                let rate = match i.rates.get(&key) {
                    Some(old) if now - old.at_ms >= 500 => {
                        let delta = copied.saturating_sub(old.copied) as f64;
                        let current = delta * 1000.0 / (now - old.at_ms) as f64;
                        Rate {
                            at_ms: now,
                            copied,
                            per_second: old.per_second
                                + Rate::SMOOTHING * (current - old.per_second),
                        }
                    }
                    Some(old) => *old,
                    None => Rate {
                        at_ms: now,
                        copied,
                        per_second: 0.0,
                    },
                };
                i.rates.insert(key, rate);
            }
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
                topics: topic_statuses(&partitions, &i.rates),
                total_lag_records: partitions.iter().map(|p| p.lag_records.max(0)).sum(),
                flow_lag: flow_lags(&i.flows, &i.lag_seconds),
                partitions,
                problems: i.problems.values().cloned().collect(),
            }
        })
    }
}

fn flow_lags(flows: &[String], lags: &BTreeMap<(String, String, i32), f64>) -> Vec<FlowLag> {
    flows
        .iter()
        .map(|flow| FlowLag {
            flow: flow.clone(),
            lag_seconds: lags
                .iter()
                .filter(|((f, _, _), _)| f == flow)
                .map(|(_, s)| *s)
                .fold(0.0, f64::max),
        })
        .collect()
}

/// Per-topic sums of the partitions (which are ordered by flow and topic).
fn topic_statuses(
    partitions: &[PartitionStatus],
    rates: &BTreeMap<(String, String), Rate>,
) -> Vec<TopicStatus> {
    let mut topics: Vec<TopicStatus> = Vec::new();
    for p in partitions {
        let same = topics
            .last()
            .is_some_and(|t| t.flow == p.flow && t.source_topic == p.source_topic);
        if !same {
            topics.push(TopicStatus {
                flow: p.flow.clone(),
                source_topic: p.source_topic.clone(),
                target_topic: p.target_topic.clone(),
                partitions: 0,
                failed_partitions: 0,
                records_copied: 0,
                lag_records: 0,
                percent_copied: 100.0,
                records_per_second: 0.0,
                eta_seconds: None,
            });
        }
        if let Some(t) = topics.last_mut() {
            t.partitions += 1;
            t.failed_partitions += usize::from(p.state == PartitionState::Failed);
            t.records_copied += p.records_copied;
            t.lag_records += p.lag_records.max(0);
        }
    }
    for t in &mut topics {
        let rate = rates
            .get(&(t.flow.clone(), t.source_topic.clone()))
            .map_or(0.0, |r| r.per_second);
        t.records_per_second = (rate * 10.0).round() / 10.0;
        let lag = t.lag_records as f64;
        let total = t.records_copied as f64 + lag;
        if total > 0.0 {
            t.percent_copied = (1000.0 * t.records_copied as f64 / total).floor() / 10.0;
        }
        t.eta_seconds = if t.lag_records == 0 {
            Some(0.0)
        } else if rate >= 0.1 {
            Some((lag / rate).ceil())
        } else {
            None
        };
    }
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(topic: &str, partition: i32, copied: u64, lag: i64) -> PartitionStatus {
        PartitionStatus {
            flow: "A->B".into(),
            source_topic: topic.into(),
            target_topic: format!("A.{topic}"),
            partition,
            state: PartitionState::Running,
            next_source_offset: copied as i64,
            source_end_offset: copied as i64 + lag,
            lag_records: lag,
            records_copied: copied,
            error: None,
        }
    }

    #[test]
    fn topics_sum_their_partitions_with_rate_and_eta() {
        let board = StatusBoard::default();
        board.update_partition(partition("orders", 0, 0, 1_000));
        board.update_partition(partition("orders", 1, 0, 1_000));
        board.update_partition(partition("idle", 0, 50, 0));
        board.sample_rates_at("A->B", 10_000);
        board.update_partition(partition("orders", 0, 500, 500));
        board.update_partition(partition("orders", 1, 500, 500));
        board.sample_rates_at("A->B", 11_000);
        let topics = board.snapshot().topics;
        assert_eq!(topics.len(), 2);
        let idle = &topics[0];
        assert_eq!(
            (
                idle.source_topic.as_str(),
                idle.percent_copied,
                idle.eta_seconds
            ),
            ("idle", 100.0, Some(0.0))
        );
        let orders = &topics[1];
        assert_eq!(orders.partitions, 2);
        assert_eq!(orders.records_copied, 1_000);
        assert_eq!(orders.lag_records, 1_000);
        assert_eq!(orders.percent_copied, 50.0);
        // 1,000 records in a second, smoothed from 0: 300/s; 1,000 left.
        assert_eq!(orders.records_per_second, 300.0);
        assert_eq!(orders.eta_seconds, Some(4.0));
    }

    #[test]
    fn a_flow_is_as_far_behind_as_its_furthest_partition() {
        let board = StatusBoard::default();
        board.add_flow("A->B");
        board.add_flow("C->B");
        board.set_lag_seconds("A->B", "orders", 0, 0.2);
        board.set_lag_seconds("A->B", "orders", 1, 3.5);
        board.set_lag_seconds("A->B", "audit", 0, 1.0);
        let lag = |b: &StatusBoard, flow: &str| {
            b.snapshot()
                .flow_lag
                .iter()
                .find(|l| l.flow == flow)
                .map(|l| l.lag_seconds)
        };
        assert_eq!(lag(&board, "A->B"), Some(3.5));
        assert_eq!(
            lag(&board, "C->B"),
            Some(0.0),
            "nothing copied yet: not behind"
        );
        board.remove_topic("A->B", "orders");
        assert_eq!(lag(&board, "A->B"), Some(1.0));
    }

    #[test]
    fn no_eta_while_nothing_moves() {
        let board = StatusBoard::default();
        board.update_partition(partition("stuck", 0, 0, 10));
        board.sample_rates_at("A->B", 0);
        board.sample_rates_at("A->B", 1_000);
        let t = &board.snapshot().topics[0];
        assert_eq!((t.percent_copied, t.eta_seconds), (0.0, None));
    }
}

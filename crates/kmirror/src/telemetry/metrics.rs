//! Prometheus metrics, named after MirrorMaker 2's where a counterpart exists (record count, byte count,
//! replication latency, record age), plus the lag MM2 never had.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// MM2's tags for per-partition metrics: source and target alias, the remote topic name, the partition.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub source: String,
    pub target: String,
    pub topic: String,
    pub partition: i32,
}

/// A flow: source and target alias.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FlowLabels {
    pub source: String,
    pub target: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub source: String,
    pub target: String,
    pub kind: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 24))
}

/// Every metric kmirror exports. Cheap to clone-share behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub records: Family<PartitionLabels, Counter>,
    pub bytes: Family<PartitionLabels, Counter>,
    pub batches_forwarded: Family<PartitionLabels, Counter>,
    pub batches_rebuilt: Family<PartitionLabels, Counter>,
    pub lag_records: Family<PartitionLabels, Gauge>,
    pub lag_seconds: Family<PartitionLabels, Gauge<f64, AtomicU64>>,
    pub replication_latency_ms: Family<PartitionLabels, Histogram, fn() -> Histogram>,
    pub record_age_ms: Family<PartitionLabels, Histogram, fn() -> Histogram>,
    pub errors: Family<ErrorLabels, Counter>,
    pub foreign_target_records: Family<PartitionLabels, Counter>,
    pub offset_syncs: Family<FlowLabels, Counter>,
    pub checkpoints: Family<FlowLabels, Counter>,
    pub group_offsets_synced: Family<FlowLabels, Counter>,
    pub groups_active_on_target: Family<FlowLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kmirror");
        let m = Self {
            records: Family::default(),
            bytes: Family::default(),
            batches_forwarded: Family::default(),
            batches_rebuilt: Family::default(),
            lag_records: Family::default(),
            lag_seconds: Family::default(),
            replication_latency_ms: Family::new_with_constructor(latency_histogram),
            record_age_ms: Family::new_with_constructor(latency_histogram),
            errors: Family::default(),
            foreign_target_records: Family::default(),
            offset_syncs: Family::default(),
            checkpoints: Family::default(),
            group_offsets_synced: Family::default(),
            groups_active_on_target: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "records",
            "Records replicated (MM2: record-count)",
            m.records.clone(),
        );
        registry.register(
            "bytes",
            "Record batch bytes replicated (MM2: byte-count)",
            m.bytes.clone(),
        );
        registry.register(
            "batches_forwarded",
            "Batches forwarded as bytes (fast path)",
            m.batches_forwarded.clone(),
        );
        registry.register(
            "batches_rebuilt",
            "Batches decoded and re-encoded (slow path)",
            m.batches_rebuilt.clone(),
        );
        registry.register(
            "lag_records",
            "Source records not yet on the target",
            m.lag_records.clone(),
        );
        registry.register(
            "lag_seconds",
            "Age of the oldest source record not yet on the target (0 when caught up)",
            m.lag_seconds.clone(),
        );
        registry.register(
            "replication_latency_ms",
            "Target acknowledgement time minus source record timestamp (MM2: replication-latency-ms)",
            m.replication_latency_ms.clone(),
        );
        registry.register(
            "record_age_ms",
            "Fetch time minus source record timestamp (MM2: record-age-ms)",
            m.record_age_ms.clone(),
        );
        registry.register("errors", "Errors by kind", m.errors.clone());
        registry.register(
            "foreign_target_records",
            "Records found on a mirrored target partition that kmirror did not write",
            m.foreign_target_records.clone(),
        );
        registry.register(
            "offset_syncs",
            "Offset-syncs written (MM2's mm2-offset-syncs topic)",
            m.offset_syncs.clone(),
        );
        registry.register(
            "checkpoints",
            "Checkpoints written (MM2's <source>.checkpoints.internal)",
            m.checkpoints.clone(),
        );
        registry.register(
            "group_offsets_synced",
            "Consumer-group partition offsets committed on the target",
            m.group_offsets_synced.clone(),
        );
        registry.register(
            "groups_active_on_target",
            "Selected consumer groups left alone because they have members on the target",
            m.groups_active_on_target.clone(),
        );
        Self { registry, ..m }
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The counters and gauges of one flow.
    pub fn flow_labels(source: &str, target: &str) -> FlowLabels {
        FlowLabels {
            source: source.into(),
            target: target.into(),
        }
    }

    pub fn error(&self, source: &str, target: &str, kind: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                source: source.into(),
                target: target.into(),
                kind: kind.into(),
            })
            .inc();
    }
}

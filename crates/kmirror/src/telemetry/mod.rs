//! Telemetry: Prometheus metrics and the status board, updated from one place per event so logs, metrics
//! and `/status` never disagree.

mod metrics;
mod status;

pub use metrics::{FlowLabels, Metrics, PartitionLabels};
pub use status::{
    PartitionState, PartitionStatus, Problem, StatusBoard, StatusSnapshot, TopicStatus,
};

//! kmirror: cross-cluster replication for Apache Kafka.
//!
//! Data flow: config → cluster clients → discovery (topics, groups, configs, ACLs) → per-partition
//! pipelines (fetch raw batches → rewrite → produce) → acknowledged progress → offset-syncs → checkpoints →
//! group-offset sync → operations (failover, failback, migrate), with telemetry and the HTTP API watching.

pub mod api;
pub mod internal_records;
pub mod mm2;
pub mod offsets;
pub mod pipeline;
pub mod progress;
pub mod telemetry;

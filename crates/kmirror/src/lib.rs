//! kmirror: cross-cluster replication for Apache Kafka.
//!
//! Data flow: config → cluster clients → discovery (topics, groups, configs, ACLs) → per-partition
//! pipelines (fetch raw batches → rewrite → produce) → acknowledged progress → offset-syncs → checkpoints →
//! group-offset sync → operations (failover, failback, migrate), with telemetry and the HTTP API watching.
//!
//! Modules so far: [`config`] (the validated model, from `mm2.properties` or `kmirror.toml`) and [`policy`]
//! (naming, filters and the per-topic replicate/skip decision).

pub mod config;
pub mod policy;

//! kmirror: cross-cluster replication for Apache Kafka.
//!
//! Data flow: config → cluster clients → discovery (topics, groups, configs, ACLs) → per-partition
//! pipelines (fetch raw batches → rewrite → produce) → acknowledged progress → offset-syncs → checkpoints →
//! group-offset sync → operations (failover, failback, migrate), with telemetry and the HTTP API watching.
//!
//! - [`config`]: the validated model, from an unchanged MM2 `mm2.properties` or a native `kmirror.toml`
//! - [`policy`]: naming (prefix, identity), filters and the per-topic replicate/skip decision — pure
//! - [`discovery`]: which topics a flow mirrors; remote topics created, grown and kept in line (configs, ACLs);
//!   MM2's internal topics
//! - [`heartbeat`]: MM2 heartbeats in the target's `heartbeats` topic
//! - [`mm2`]: byte-compatible codecs for heartbeats, checkpoints and offset-syncs — pure
//! - [`pipeline`]: fetcher and per-partition forwarders, resume decisions (target records past the progress
//!   proven kmirror's own by their producer id), read_committed filtering
//! - [`offsets`]: the exact source→target offset map built from produce acknowledgements, offset-syncs read
//!   back, translation, MM2 checkpoints and consumer-group offset sync
//! - [`flow_state`]: operator decisions about a flow kept in its target cluster (fenced after a failover,
//!   failing back), which every `kmirror run` obeys
//! - [`ops`]: operator commands beside the service: translate, failover, cutover, failback, reset, replay,
//!   status
//! - [`progress`]: replication progress in MM2's Connect offset format
//! - [`telemetry`], [`api`]: metrics, the status board and the HTTP endpoints

pub mod api;
pub mod config;
pub mod discovery;
pub mod flow;
pub mod flow_state;
pub mod heartbeat;
pub mod internal_records;
pub mod internal_topics;
pub mod mm2;
pub mod offsets;
pub mod ops;
pub mod pipeline;
pub mod policy;
pub mod progress;
pub mod service;
pub mod telemetry;

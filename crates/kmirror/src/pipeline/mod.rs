//! Per-flow replication pipeline: a fetcher feeding one forwarder per source partition.

pub mod budget;
pub mod context;
pub mod fetcher;
pub mod forwarder;
pub mod ownership;
pub mod plan;
pub mod start;

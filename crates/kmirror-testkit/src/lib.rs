//! Test support for kmirror's integration tests.
//!
//! The clusters are real Apache Kafka brokers started once per test run by `scripts/test` (through
//! `scripts/kafka-local`), which passes their addresses in the environment. Records are written and read
//! back with clients that are *not* kmirror's own code — librdkafka (through `rdkafka`) and Kafka's own Java
//! tools — so a test never grades kmirror with kmirror's reader.

mod cluster;
mod java;
mod names;
mod records;
mod transactions;
mod wait;

pub use cluster::{Cluster, SaslCredentials, TlsFiles, cluster, repo_root};
pub use java::{JavaOutput, kafka_tool};
pub use names::{recent_timestamp, unique_group, unique_name, unique_topic};
pub use records::{
    Compression, ProducedRecord, ReadRecord, RecordContent, TopicSpec, create_topic, produce,
    read_all, topic_end_offsets,
};
pub use transactions::{Transaction, produce_transactions};
pub use wait::{wait_until, wait_until_async};

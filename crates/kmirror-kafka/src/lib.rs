//! kmirror-kafka: a small, sharp Kafka client built on the `kafka-protocol` codecs.
//!
//! It exists because no Rust client hands out record batches as bytes: kmirror forwards fetched batches to
//! the target without decompressing them, and learns from each produce response exactly where a batch
//! landed. This crate knows nothing about mirroring.

pub mod batch;
pub mod config;
pub mod conn;
pub mod error;
pub mod types;

pub use config::{
    ClientConfig, ConfigError, SaslConfig, SaslMechanism, SecurityProtocol, TlsConfig,
};
pub use error::Error;
pub use types::TopicPartition;
pub mod cluster;

pub use cluster::{BrokerInfo, Client, Metadata, PartitionMetadata, Route, TopicMetadata};
pub use conn::{KafkaRequest, KafkaResponse};
/// The protocol codecs this crate is built on, re-exported so callers of [`Client::send_to`] use the
/// same version.
pub use kafka_protocol as protocol;
pub mod fetch;
pub mod offsets;
pub mod txn;

pub use fetch::{
    AbortedTransaction, FetchPartition, FetchRequest, FetchedData, Isolation, PartitionFetch,
};
pub use offsets::{ListedOffset, OffsetSpec};
pub use txn::{AbortedFilter, BatchKind};
pub mod produce;

pub use produce::{MAX_IN_FLIGHT, ProduceAck, Producer};
pub mod admin;
pub mod membership;

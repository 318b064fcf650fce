//! kmirror-kafka: a small, sharp Kafka client built on the `kafka-protocol` codecs.
//!
//! It exists because no Rust client hands out record batches as bytes: kmirror forwards fetched batches to
//! the target without decompressing them, and learns from each produce response exactly where a batch
//! landed. This crate knows nothing about mirroring.
//!
//! # Layout
//!
//! | module | job |
//! | --- | --- |
//! | [`config`] | [`ClientConfig`], also from Kafka's own property names ([`ClientConfig::from_properties`]) |
//! | [`conn`] | one pipelined connection per broker: TLS (rustls), ApiVersions, SASL PLAIN / SCRAM-SHA-256/512 |
//! | [`cluster`] | [`Client`]: metadata cache, routing ([`Route`]), [`Client::send_to`] for any request, retries |
//! | [`fetch`] | [`Client::fetch`]: raw batches from many partitions at once |
//! | [`txn`] | [`AbortedFilter`]: which fetched batches belong to aborted transactions (read_committed) |
//! | [`produce`] | [`Producer`]: idempotent, ordered forwarding of whole batches, with exact offsets |
//! | [`offsets`] | [`Client::list_offsets`]: earliest, latest, by timestamp |
//! | [`batch`] | v2 batch headers, walking fetched bytes, stamping a batch for produce (pure) |
//! | [`error`] | [`Error`]: one error type with context and [`Error::is_retriable`] |
//!
//! # Forwarding a partition
//!
//! ```no_run
//! use kmirror_kafka::{Client, ClientConfig, FetchPartition, FetchRequest, TopicPartition};
//!
//! # async fn run() -> Result<(), kmirror_kafka::Error> {
//! let source = Client::connect(ClientConfig::new("a1:9092,a2:9092")).await?;
//! let target = Client::connect(ClientConfig::new("b1:9092")).await?;
//! let producer = target.idempotent_producer().await?;
//! let tp = TopicPartition::new("orders", 0);
//! let mut next = 0;
//! loop {
//!     let req = FetchRequest::new(vec![FetchPartition { tp: tp.clone(), offset: next, max_bytes: 1 << 20 }]);
//!     let data = source.fetch(&req).await?.remove(0).result?; // OffsetOutOfRange etc. surface here
//!     let mut acks = Vec::new();
//!     for batch in data.batches() {
//!         let (header, bytes) = batch.expect("v2 batch");
//!         if header.is_control() || header.base_offset < next || !header.is_dense() {
//!             next = next.max(header.next_offset());
//!             continue; // control markers; partial first batch or compacted batch: slow path
//!         }
//!         next = header.next_offset();
//!         acks.push((header.base_offset, producer.send(tp.clone(), bytes))); // order = call order
//!     }
//!     for (source_offset, ack) in acks {
//!         let ack = ack.await?; // record i of the batch is at ack.base_offset + i on the target
//!         println!("{source_offset} -> {}", ack.base_offset);
//!     }
//! }
//! # }
//! ```
//!
//! # Guarantees worth knowing
//!
//! - **Fetch** returns batches exactly as the broker stored them. Transient trouble (leader moved,
//!   broker restarting) comes back as empty data, never as an error; see [`Client::fetch`].
//! - **Produce** is idempotent per partition, ordered by call, with the exact landing offset in each
//!   [`ProduceAck`]; a failure cancels the batches sent after it, so resuming from the failed batch never
//!   duplicates. The full statement is in the [`produce`] module docs.
//! - **Every request has a timeout** ([`ClientConfig::request_timeout`]); a timed-out connection is
//!   closed and reopened (with jittered exponential backoff) on next use. Broker throttling
//!   (`throttle_time_ms`) delays further requests to that broker.
//!
//! # Building other APIs (admin, groups)
//!
//! [`Client::send_to`] sends any `kafka-protocol` request (re-exported as [`protocol`]) to a [`Route`]:
//! any broker, a given broker, the controller, a partition leader or a group coordinator, at the
//! highest version both sides speak. Pair it with [`Client::note_error`] (forgets a coordinator or
//! marks metadata stale, as the error calls for) inside [`Client::with_retries`].

pub mod batch;
pub mod cluster;
pub mod config;
pub mod conn;
pub mod error;
pub mod fetch;
pub mod offsets;
pub mod produce;
pub mod txn;
pub mod types;

pub use cluster::{BrokerInfo, Client, Metadata, PartitionMetadata, Route, TopicMetadata};
pub use config::{
    ClientConfig, ConfigError, SaslConfig, SaslMechanism, SecurityProtocol, TlsConfig, TlsProtocol,
};
pub use conn::{KafkaRequest, KafkaResponse};
pub use error::Error;
pub use fetch::{
    AbortedTransaction, FetchPartition, FetchRequest, FetchedData, Isolation, PartitionFetch,
};
/// The protocol codecs this crate is built on, re-exported so callers of [`Client::send_to`] use the
/// same version.
pub use kafka_protocol as protocol;
pub use offsets::{ListedOffset, OffsetSpec};
pub use produce::{MAX_IN_FLIGHT, ProduceAck, Producer};
pub mod admin;
pub mod membership;
pub use txn::{AbortedFilter, BatchKind};
pub use types::TopicPartition;

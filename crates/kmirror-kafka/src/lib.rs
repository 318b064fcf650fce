//! kmirror-kafka: a small, sharp Kafka client built on the `kafka-protocol` codecs.
//!
//! It exists because no Rust client hands out record batches as bytes: kmirror forwards fetched batches to
//! the target without decompressing them, and learns from each produce response exactly where a batch
//! landed. This crate knows nothing about mirroring.

pub mod batch;

//! Replication progress, stored in the target cluster in Kafka Connect's offset format — the same records
//! MirrorMaker 2 keeps in `mm2-offsets.<source>.internal` — so either tool can pick up where the other stopped.

mod connect_format;
mod store;

pub use connect_format::{
    NO_WRITER, SOURCE_CONNECTOR, SourceProgress, decode_progress_key, decode_progress_value,
    encode_progress_key, encode_progress_value, murmur2, partition_for_key,
};
pub use store::{ProgressError, ProgressStore, progress_topic, read_progress, read_progress_timed};

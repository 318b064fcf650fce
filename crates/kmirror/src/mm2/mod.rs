//! MirrorMaker 2's internal-topic records, byte-exact, so kmirror can share state with MM2 and its tooling.
//!
//! MM2 writes these with Kafka's RPC `Schema`/`Struct` encoding (not Connect JSON): big-endian INT16/32/64 and
//! STRING = INT16 length + UTF-8 bytes. Only the heartbeat and checkpoint *values* start with an INT16
//! version (always 0); keys and offset-sync values have none. Like Kafka's `Schema.read`, decoders ignore
//! trailing bytes, so a newer MM2 that appends fields stays readable.
//!
//! Golden vectors captured from a real MirrorMaker 2 (Kafka 4.1.1) live in `testdata/`.

mod checkpoint;
mod heartbeat;
mod offset_sync;
mod wire;

pub use checkpoint::Checkpoint;
pub use heartbeat::Heartbeat;
pub use offset_sync::OffsetSync;
pub use wire::{MAX_STRING_LEN, Mm2CodecError};

#[cfg(test)]
mod golden;

//! Record batches (magic v2) as bytes: read their headers without decompressing, walk a fetched buffer
//! batch by batch, decide per batch between forwarding its bytes and re-encoding it, and stamp a batch for
//! producing. Pure functions, no I/O.
//!
//! Layout (offsets in bytes): baseOffset@0 i64, batchLength@8 i32, partitionLeaderEpoch@12 i32, magic@16 i8,
//! crc@17 u32 (CRC-32C over 21..end), attributes@21 i16, lastOffsetDelta@23 i32, baseTimestamp@27 i64,
//! maxTimestamp@35 i64, producerId@43 i64, producerEpoch@51 i16, baseSequence@53 i32, recordCount@57 i32,
//! records@61.
//!
//! Per fetched batch: [`plan`] it; on [`Plan::Forward`] stamp the bytes with [`stamp_for_produce`]; on
//! [`Plan::Rebuild`] call [`rebuild`] and stamp each [`RebuiltBatch`]; on [`Plan::Skip`] move on.

mod codec;
mod header;
mod iter;
mod plan;
mod rebuild;
mod record;
mod varint;

pub use header::{
    BatchError, BatchHeader, Compression, HEADER_LEN, ProducerStamp, stamp_for_produce, verify_crc,
};
pub use iter::Batches;
pub use plan::{Plan, RebuildReason, SkipReason, plan};
pub use rebuild::{
    DecodedBatch, RebuildOptions, RebuiltBatch, decode_batch, encode_batch, rebuild,
};
pub use record::{Record, RecordHeader, RecordsError};

#[cfg(test)]
mod tests;

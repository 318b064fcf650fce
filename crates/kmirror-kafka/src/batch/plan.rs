//! Deciding, per fetched batch, whether its bytes can be forwarded as they are.

use super::header::{BatchHeader, Compression, HEADER_LEN, verify_crc};
use super::record::{RecordsError, offset_deltas_consecutive};

/// What to do with one fetched batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to produce; continue after the batch ([`BatchHeader::next_offset`]).
    Skip(SkipReason),
    /// Fast path: produce the bytes unchanged after [`super::stamp_for_produce`]. The target will give its
    /// records offsets `BaseOffset + i` for source offsets `base_offset + i`, i in `0..record_count`.
    /// (A compressed batch is not walked: the target broker numbers its records in order whatever their
    /// deltas, and a source broker only ever stores compressed batches whose deltas are 0..n-1.)
    Forward,
    /// Slow path: decode and re-encode with [`super::rebuild`].
    Rebuild(RebuildReason),
}

/// Why a batch produces nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Transaction markers: brokers refuse them from clients, and the target writes its own.
    Control,
    /// Data of an aborted transaction (per the fetch response's `AbortedTransactions`).
    Aborted,
    /// No records (compaction can leave those); brokers refuse empty batches.
    Empty,
    /// Every offset it covers is below the next offset still needed (already mirrored).
    AlreadyMirrored,
}

/// Why a batch's bytes cannot be produced as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebuildReason {
    /// It starts before the next offset needed (a fetch resumed mid-batch returns the whole batch):
    /// forwarding would duplicate the records already mirrored.
    StraddlesResumeOffset,
    /// `record_count != lastOffsetDelta + 1` (compaction removed records): brokers reject it.
    NotDense,
    /// Larger than the target's `max.message.bytes`: brokers reject it; it must be split.
    TooLarge,
    /// Uncompressed, with a consistent header but offset deltas other than 0..n-1. The broker accepts such a
    /// batch without looking at the deltas and consumers then read wrong, overlapping offsets, so it must
    /// never be forwarded as is. (Compressed batches are safe: the broker re-numbers them itself.)
    OffsetDeltasNotConsecutive,
    /// Written to a LogAppendTime topic: its consumers see the batch's maxTimestamp (the source broker's
    /// append time) as every record's timestamp, while the records still carry their create times. The
    /// target topic is CreateTime (MM2's config filter drops `message.timestamp.type`), so forwarding the
    /// bytes would show the create times there; the records are re-encoded with the time source consumers see.
    LogAppendTime,
}

/// Plans one complete fetched batch (`batch` is exactly its bytes, `header` its parsed header).
///
/// `next_offset` is the next source offset still to mirror, `max_message_bytes` the target topic's limit,
/// `aborted` whether the batch belongs to an aborted transaction. Follows the fast-path conditions of
/// batch-forwarding.md §6; every batch that is not skipped has its CRC checked, because stamping
/// recomputes the CRC and would otherwise turn corrupted bytes into a valid batch on the target.
pub fn plan(
    header: &BatchHeader,
    batch: &[u8],
    next_offset: i64,
    max_message_bytes: usize,
    aborted: bool,
) -> Result<Plan, RecordsError> {
    if batch.len() != header.total_len() {
        return Err(RecordsError::Batch(super::BatchError::Truncated {
            available: batch.len(),
            needed: header.total_len(),
        }));
    }
    if header.is_control() {
        return Ok(Plan::Skip(SkipReason::Control));
    }
    if aborted {
        return Ok(Plan::Skip(SkipReason::Aborted));
    }
    if header.record_count < 0 {
        return Err(RecordsError::Malformed {
            base_offset: header.base_offset,
            index: header.record_count,
            reason: "negative record count",
        });
    }
    if header.record_count == 0 {
        return Ok(Plan::Skip(SkipReason::Empty));
    }
    if header.next_offset() <= next_offset {
        return Ok(Plan::Skip(SkipReason::AlreadyMirrored));
    }
    verify_crc(batch, header)?;
    let compression = header.compression();
    if let Compression::Unknown(codec) = compression {
        return Err(RecordsError::UnsupportedCompression {
            base_offset: header.base_offset,
            codec,
        });
    }
    if header.base_offset < next_offset {
        return Ok(Plan::Rebuild(RebuildReason::StraddlesResumeOffset));
    }
    if !header.is_dense() {
        return Ok(Plan::Rebuild(RebuildReason::NotDense));
    }
    if header.total_len() > max_message_bytes {
        return Ok(Plan::Rebuild(RebuildReason::TooLarge));
    }
    if compression == Compression::None
        && !offset_deltas_consecutive(
            &batch[HEADER_LEN..],
            header.record_count,
            header.base_offset,
        )?
    {
        return Ok(Plan::Rebuild(RebuildReason::OffsetDeltasNotConsecutive));
    }
    if header.is_log_append_time() {
        return Ok(Plan::Rebuild(RebuildReason::LogAppendTime));
    }
    Ok(Plan::Forward)
}

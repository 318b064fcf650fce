//! The forwarder's per-batch choice, on top of `kmirror_kafka::batch`: forward the bytes, re-encode, or skip.

use bytes::Bytes;
use kmirror_kafka::batch::{self, BatchHeader, Plan, RebuildOptions};

/// What to produce for one fetched batch.
#[derive(Debug)]
pub enum Step {
    Skip,
    /// The batch's bytes as they are; source offsets `first..first + count` in order.
    Forward {
        batch: Bytes,
        first: i64,
        count: i64,
    },
    /// Re-encoded batches, each with the source offsets of its records.
    Rebuilt(Vec<(Bytes, Vec<i64>)>),
}

/// Plans a complete, non-control, non-aborted batch. `next_needed` is the first source offset not yet
/// mirrored.
pub fn plan_batch(
    header: &BatchHeader,
    bytes: &Bytes,
    next_needed: i64,
    max_message_bytes: i32,
) -> Result<Step, String> {
    let max = usize::try_from(max_message_bytes).unwrap_or(usize::MAX);
    match batch::plan(header, bytes, next_needed, max, false).map_err(|e| e.to_string())? {
        Plan::Skip(_) => Ok(Step::Skip),
        Plan::Forward => Ok(Step::Forward {
            batch: bytes.clone(),
            first: header.base_offset,
            count: i64::from(header.record_count),
        }),
        Plan::Rebuild(_) => Ok(Step::Rebuilt(trim_batch(
            bytes,
            next_needed,
            max_message_bytes,
        )?)),
    }
}

/// Re-encodes a batch keeping records at or after `keep_from`, split to fit `max_message_bytes`.
pub fn trim_batch(
    bytes: &Bytes,
    keep_from: i64,
    max_message_bytes: i32,
) -> Result<Vec<(Bytes, Vec<i64>)>, String> {
    let max = usize::try_from(max_message_bytes).unwrap_or(usize::MAX);
    let rebuilt =
        batch::rebuild(bytes, keep_from, &RebuildOptions::new(max)).map_err(|e| e.to_string())?;
    Ok(rebuilt
        .into_iter()
        .map(|b| (Bytes::from(b.bytes), b.source_offsets))
        .collect())
}

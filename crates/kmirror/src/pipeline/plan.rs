//! The forwarder's per-batch choice, on top of `kmirror_kafka::batch`: forward the bytes, re-encode, or skip.

use bytes::Bytes;
use kmirror_kafka::batch::{self, BatchHeader, Plan, RebuildOptions, RecordsError};

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

/// A batch kmirror cannot copy whole. `before` holds the records ahead of the problem, re-encoded, so they
/// are still copied before the partition stops at `offset`.
#[derive(Debug)]
pub struct Unusable {
    pub offset: i64,
    pub message: String,
    pub before: Vec<(Bytes, Vec<i64>)>,
}

/// Plans a complete, non-control, non-aborted batch. `next_needed` is the first source offset not yet
/// mirrored.
pub fn plan_batch(
    header: &BatchHeader,
    bytes: &Bytes,
    next_needed: i64,
    max_message_bytes: i32,
) -> Result<Step, Unusable> {
    let max = usize::try_from(max_message_bytes).unwrap_or(usize::MAX);
    let plan = batch::plan(header, bytes, next_needed, max, false).map_err(|e| Unusable {
        offset: header.base_offset,
        message: e.to_string(),
        before: Vec::new(),
    })?;
    match plan {
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
) -> Result<Vec<(Bytes, Vec<i64>)>, Unusable> {
    let max = usize::try_from(max_message_bytes).unwrap_or(usize::MAX);
    let options = RebuildOptions::new(max);
    match batch::rebuild(bytes, keep_from, &options) {
        Ok(rebuilt) => Ok(rebuilt
            .into_iter()
            .map(|b| (Bytes::from(b.bytes), b.source_offsets))
            .collect()),
        Err(RecordsError::RecordTooLarge {
            offset,
            size,
            limit,
        }) => Err(Unusable {
            offset,
            message: format!(
                "the record at source offset {offset} needs a {size}-byte batch, over the target topic's \
                 max.message.bytes ({limit}); raise max.message.bytes on the target topic (and leave it to \
                 config sync or exclude it with config.properties.exclude)"
            ),
            before: records_before(bytes, keep_from, offset, &options).unwrap_or_default(),
        }),
        Err(e) => Err(Unusable {
            offset: keep_from,
            message: e.to_string(),
            before: Vec::new(),
        }),
    }
}

/// The records of `bytes` in `[from, until)`, re-encoded to fit, with their source offsets.
fn records_before(
    bytes: &Bytes,
    from: i64,
    until: i64,
    options: &RebuildOptions,
) -> Result<Vec<(Bytes, Vec<i64>)>, RecordsError> {
    let decoded = batch::decode_batch(bytes, options.max_decompressed_bytes)?;
    let kept: Vec<batch::Record> = decoded
        .records
        .into_iter()
        .filter(|r| r.offset >= from && r.offset < until)
        .collect();
    if kept.is_empty() {
        return Ok(Vec::new());
    }
    // Encode the prefix as one batch (offsets renumbered from 0), let rebuild split it to fit, then map the
    // positions back to source offsets.
    let prefix = Bytes::from(batch::encode_batch(&kept, decoded.header.compression())?);
    let rebuilt = batch::rebuild(&prefix, 0, options)?;
    Ok(rebuilt
        .into_iter()
        .map(|b| {
            let offsets = b
                .source_offsets
                .iter()
                .filter_map(|i| {
                    usize::try_from(*i)
                        .ok()
                        .and_then(|i| kept.get(i))
                        .map(|r| r.offset)
                })
                .collect();
            (Bytes::from(b.bytes), offsets)
        })
        .collect())
}

//! The slow path: decode a batch and re-encode the records still needed as fresh, dense batches.

use bytes::Bytes;

use super::codec::{compress, decompress};
use super::header::{BatchHeader, Compression, HEADER_LEN, LOG_OVERHEAD, verify_crc};
use super::record::{Record, RecordsError, decode_records, encode_record, encoded_len};

/// A batch's header and its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBatch {
    pub header: BatchHeader,
    pub records: Vec<Record>,
}

/// Options for [`rebuild`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildOptions {
    /// Codec of the new batches; `None` keeps the source batch's.
    pub compression: Option<Compression>,
    /// Largest batch to emit, header included: the target topic's `max.message.bytes`.
    pub max_batch_bytes: usize,
    /// Refuse source batches whose records decompress to more than this (bounded memory).
    pub max_decompressed_bytes: usize,
}

impl RebuildOptions {
    /// Default decompression bound: far above any real batch, far below what a forged one could claim.
    pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 256 << 20;

    /// Same codec as the source, the default decompression bound.
    pub fn new(max_batch_bytes: usize) -> Self {
        Self {
            compression: None,
            max_batch_bytes,
            max_decompressed_bytes: Self::DEFAULT_MAX_DECOMPRESSED_BYTES,
        }
    }
}

/// One re-encoded batch, ready for [`super::stamp_for_produce`], and the source offset of each of its
/// records in order: the target gives record `i` the offset `BaseOffset + i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuiltBatch {
    pub bytes: Vec<u8>,
    pub source_offsets: Vec<i64>,
}

fn codec_id(codec: Compression) -> Option<i16> {
    match codec {
        Compression::None => Some(0),
        Compression::Gzip => Some(1),
        Compression::Snappy => Some(2),
        Compression::Lz4 => Some(3),
        Compression::Zstd => Some(4),
        Compression::Unknown(_) => None,
    }
}

/// Decodes one complete batch (`batch` is exactly its bytes), after checking its CRC.
///
/// Record timestamps are those a consumer of the source sees: `baseTimestamp + delta` (the create time), or
/// for a LogAppendTime batch its maxTimestamp, the broker's append time, for every record. The
/// delete-horizon bit needs no care here: while it is set, baseTimestamp holds the horizon yet records are
/// still `baseTimestamp + delta`.
pub fn decode_batch(
    batch: &Bytes,
    max_decompressed_bytes: usize,
) -> Result<DecodedBatch, RecordsError> {
    let header = BatchHeader::parse(batch)?;
    if batch.len() != header.total_len() {
        return Err(RecordsError::Batch(super::BatchError::Truncated {
            available: batch.len(),
            needed: header.total_len(),
        }));
    }
    verify_crc(batch, &header)?;
    if header.record_count < 0 {
        return Err(RecordsError::Malformed {
            base_offset: header.base_offset,
            index: header.record_count,
            reason: "negative record count",
        });
    }
    let payload = batch.slice(HEADER_LEN..);
    let raw = decompress(
        header.compression(),
        &payload,
        max_decompressed_bytes,
        header.base_offset,
    )?;
    let mut records = decode_records(
        &raw,
        header.record_count,
        header.base_offset,
        header.base_timestamp,
    )?;
    if header.is_log_append_time() {
        for record in &mut records {
            record.timestamp = header.max_timestamp;
        }
    }
    Ok(DecodedBatch { header, records })
}

/// Encodes `records` as one batch for producing: offset deltas 0..n-1 in the given order (the records'
/// own offsets are ignored), baseOffset 0, baseTimestamp the first record's, CreateTime, no producer
/// identity (pid/epoch/sequence -1, for [`super::stamp_for_produce`] to fill), no transactional,
/// control or delete-horizon bit.
pub fn encode_batch(records: &[Record], codec: Compression) -> Result<Vec<u8>, RecordsError> {
    let Some(attributes) = codec_id(codec) else {
        return Err(RecordsError::Compress {
            codec,
            reason: "unknown codec".into(),
        });
    };
    let (Some(first), Ok(count)) = (records.first(), i32::try_from(records.len())) else {
        return Err(RecordsError::Compress {
            codec,
            reason: format!("a batch needs 1..=i32::MAX records, got {}", records.len()),
        });
    };
    let base_ts = first.timestamp;
    let max_ts = records.iter().map(|r| r.timestamp).max().unwrap_or(base_ts);
    let raw_len: usize = records
        .iter()
        .enumerate()
        .map(|(i, r)| encoded_len(r, i as i32, r.timestamp.wrapping_sub(base_ts)))
        .sum();
    let mut raw = Vec::with_capacity(raw_len);
    for (i, r) in records.iter().enumerate() {
        encode_record(&mut raw, r, i as i32, r.timestamp.wrapping_sub(base_ts));
    }
    let payload = compress(codec, &raw)?;
    let Ok(length) = i32::try_from(HEADER_LEN - LOG_OVERHEAD + payload.len()) else {
        return Err(RecordsError::RecordTooLarge {
            offset: first.offset,
            size: HEADER_LEN + payload.len(),
            limit: i32::MAX as usize,
        });
    };
    let mut b = Vec::with_capacity(HEADER_LEN + payload.len());
    b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&length.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.push(2);
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&(count - 1).to_be_bytes());
    b.extend_from_slice(&base_ts.to_be_bytes());
    b.extend_from_slice(&max_ts.to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes());
    b.extend_from_slice(&(-1i16).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&count.to_be_bytes());
    debug_assert_eq!(b.len(), HEADER_LEN);
    b.extend_from_slice(&payload);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(b)
}

/// Re-encodes the records of `batch` with offset `>= next_offset` as one or more dense batches, each at
/// most `options.max_batch_bytes`. Covers every [`super::RebuildReason`]: mid-batch resume, compacted
/// (gapped) batches, oversized batches and bad offset deltas. Returns no batch when nothing is left.
///
/// Keys, values, headers (order and repeats included) and the timestamps source consumers see (see
/// [`decode_batch`]) are kept; the output is CreateTime. It never carries the delete-horizon bit, so the
/// target's own `delete.retention.ms` governs tombstones (a broker rebuild drops the bit too).
pub fn rebuild(
    batch: &Bytes,
    next_offset: i64,
    options: &RebuildOptions,
) -> Result<Vec<RebuiltBatch>, RecordsError> {
    let decoded = decode_batch(batch, options.max_decompressed_bytes)?;
    if decoded.header.is_control() {
        return Err(RecordsError::ControlBatch {
            base_offset: decoded.header.base_offset,
        });
    }
    let codec = options
        .compression
        .unwrap_or_else(|| decoded.header.compression());
    let keep: Vec<Record> = decoded
        .records
        .into_iter()
        .filter(|r| r.offset >= next_offset)
        .collect();
    let mut out = Vec::new();
    if codec == Compression::None {
        split_exact(&keep, options.max_batch_bytes, &mut out)?;
    } else {
        split_halving(&keep, codec, options.max_batch_bytes, &mut out)?;
    }
    Ok(out)
}

fn rebuilt(records: &[Record], bytes: Vec<u8>) -> RebuiltBatch {
    RebuiltBatch {
        bytes,
        source_offsets: records.iter().map(|r| r.offset).collect(),
    }
}

/// Uncompressed sizes are known in advance: fill each batch greedily up to the limit.
fn split_exact(
    records: &[Record],
    limit: usize,
    out: &mut Vec<RebuiltBatch>,
) -> Result<(), RecordsError> {
    let mut start = 0;
    while start < records.len() {
        let base_ts = records[start].timestamp;
        let mut size = HEADER_LEN;
        let mut end = start;
        while let Some(r) = records.get(end) {
            let add = encoded_len(r, (end - start) as i32, r.timestamp.wrapping_sub(base_ts));
            if end > start && size + add > limit {
                break;
            }
            size += add;
            end += 1;
        }
        if size > limit {
            return Err(RecordsError::RecordTooLarge {
                offset: records[start].offset,
                size,
                limit,
            });
        }
        let bytes = encode_batch(&records[start..end], Compression::None)?;
        debug_assert_eq!(bytes.len(), size);
        out.push(rebuilt(&records[start..end], bytes));
        start = end;
    }
    Ok(())
}

/// Compressed sizes are only known after compressing: try all, and halve what does not fit.
fn split_halving(
    records: &[Record],
    codec: Compression,
    limit: usize,
    out: &mut Vec<RebuiltBatch>,
) -> Result<(), RecordsError> {
    if records.is_empty() {
        return Ok(());
    }
    let bytes = encode_batch(records, codec)?;
    if bytes.len() <= limit {
        out.push(rebuilt(records, bytes));
        return Ok(());
    }
    if let [only] = records {
        return Err(RecordsError::RecordTooLarge {
            offset: only.offset,
            size: bytes.len(),
            limit,
        });
    }
    let (left, right) = records.split_at(records.len() / 2);
    split_halving(left, codec, limit, out)?;
    split_halving(right, codec, limit, out)
}

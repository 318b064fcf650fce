//! The records inside a v2 batch (after decompression): decoding, encoding, and the cheap offset-delta walk.
//!
//! kmirror decodes records itself rather than through `kafka_protocol::records::Record` because that type
//! keeps headers in a map, which silently merges repeated header keys; Kafka allows them, and a mirror
//! must keep every header in order.
//!
//! Record layout: length varint, attributes i8, timestampDelta varlong, offsetDelta varint,
//! keyLength varint + key, valueLength varint + value, headerCount varint, then per header
//! keyLength varint + key, valueLength varint + value. A negative key/value length means null.

use bytes::Bytes;

use super::header::{BatchError, Compression};
use super::varint::{
    read_varint, read_varlong, varint_len, varlong_len, write_varint, write_varlong,
};

/// One record of a batch, with its absolute offset and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Source offset: the batch's baseOffset plus the record's offset delta.
    pub offset: i64,
    /// baseTimestamp plus the record's timestamp delta: the create time (see [`super::decode_batch`]).
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    /// In wire order; keys may repeat.
    pub headers: Vec<RecordHeader>,
}

/// A record header. Keys are bytes, not `String`, so that nothing is lost or rejected on the way through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    pub key: Bytes,
    pub value: Option<Bytes>,
}

/// Why a batch could not be planned, decoded or re-encoded. `base_offset` is the source batch's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordsError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("batch at offset {base_offset}: compression codec id {codec} is unknown")]
    UnsupportedCompression { base_offset: i64, codec: u8 },
    #[error("batch at offset {base_offset}: {codec:?} decompression failed: {reason}")]
    Decompress {
        base_offset: i64,
        codec: Compression,
        reason: String,
    },
    #[error(
        "batch at offset {base_offset}: records decompress to more than the {limit}-byte limit"
    )]
    DecompressedTooLarge { base_offset: i64, limit: usize },
    #[error("{codec:?} compression failed: {reason}")]
    Compress { codec: Compression, reason: String },
    #[error("batch at offset {base_offset}: record {index} is malformed: {reason}")]
    Malformed {
        base_offset: i64,
        index: i32,
        reason: &'static str,
    },
    #[error("batch at offset {base_offset} is a control batch (transaction markers), not data")]
    ControlBatch { base_offset: i64 },
    #[error(
        "record at source offset {offset} alone makes a {size}-byte batch, over the {limit}-byte limit"
    )]
    RecordTooLarge {
        offset: i64,
        size: usize,
        limit: usize,
    },
}

/// Walks `count` records in `payload` (uncompressed), calling `visit(index, offset_delta, record_body)` for
/// each, and checks that the records end exactly where the payload does (as the broker does).
fn walk(
    payload: &[u8],
    count: i32,
    base_offset: i64,
    mut visit: impl FnMut(i32, &[u8], usize) -> Result<(), RecordsError>,
) -> Result<(), RecordsError> {
    let malformed = |index, reason| RecordsError::Malformed {
        base_offset,
        index,
        reason,
    };
    let mut pos = 0usize;
    for index in 0..count {
        let len = read_varint(payload, &mut pos).ok_or(malformed(index, "bad length varint"))?;
        let len = usize::try_from(len).map_err(|_| malformed(index, "negative length"))?;
        let end = pos
            .checked_add(len)
            .filter(|&end| end <= payload.len())
            .ok_or(malformed(index, "length runs past the batch"))?;
        visit(index, &payload[..end], pos)?;
        pos = end;
    }
    if pos != payload.len() {
        return Err(malformed(count, "bytes left after the last record"));
    }
    Ok(())
}

/// Reads attributes, timestamp delta and offset delta at the start of a record body.
fn record_prefix(body: &[u8], pos: &mut usize) -> Option<(i64, i32)> {
    body.get(*pos)?;
    *pos += 1;
    let ts_delta = read_varlong(body, pos)?;
    let offset_delta = read_varint(body, pos)?;
    Some((ts_delta, offset_delta))
}

/// True when the uncompressed records' offset deltas are exactly 0, 1, ..., count-1: the only case where a
/// broker's offsets for an uncompressed batch match its records (it never checks them, see §1 of
/// batch-forwarding.md). Reads three varints per record and skips the rest.
pub(crate) fn offset_deltas_consecutive(
    payload: &[u8],
    count: i32,
    base_offset: i64,
) -> Result<bool, RecordsError> {
    let mut consecutive = true;
    walk(payload, count, base_offset, |index, record, start| {
        let mut pos = start;
        let (_, offset_delta) = record_prefix(record, &mut pos).ok_or(RecordsError::Malformed {
            base_offset,
            index,
            reason: "record header cut short",
        })?;
        consecutive &= offset_delta == index;
        Ok(())
    })?;
    Ok(consecutive)
}

/// Decodes `count` uncompressed records, as zero-copy slices of `payload`.
pub(crate) fn decode_records(
    payload: &Bytes,
    count: i32,
    base_offset: i64,
    base_timestamp: i64,
) -> Result<Vec<Record>, RecordsError> {
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(payload.len()));
    walk(payload, count, base_offset, |index, record, start| {
        let malformed = |reason| RecordsError::Malformed {
            base_offset,
            index,
            reason,
        };
        let end = record.len();
        let mut pos = start;
        let (ts_delta, offset_delta) =
            record_prefix(record, &mut pos).ok_or(malformed("record header cut short"))?;
        let bytes_field = |pos: &mut usize, what| -> Result<Option<Bytes>, RecordsError> {
            let len = read_varint(record, pos).ok_or(malformed(what))?;
            let Ok(len) = usize::try_from(len) else {
                return Ok(None);
            };
            let stop = pos
                .checked_add(len)
                .filter(|&s| s <= end)
                .ok_or(malformed(what))?;
            let slice = payload.slice(*pos..stop);
            *pos = stop;
            Ok(Some(slice))
        };
        let key = bytes_field(&mut pos, "key runs past the record")?;
        let value = bytes_field(&mut pos, "value runs past the record")?;
        let n_headers = read_varint(record, &mut pos).ok_or(malformed("bad header count"))?;
        let n_headers =
            usize::try_from(n_headers).map_err(|_| malformed("negative header count"))?;
        let mut headers = Vec::with_capacity(n_headers.min(end - pos));
        for _ in 0..n_headers {
            let hkey = bytes_field(&mut pos, "header key runs past the record")?
                .ok_or(malformed("negative header key length"))?;
            let hvalue = bytes_field(&mut pos, "header value runs past the record")?;
            headers.push(RecordHeader {
                key: hkey,
                value: hvalue,
            });
        }
        if pos != end {
            return Err(malformed("record length does not match its fields"));
        }
        out.push(Record {
            offset: base_offset.wrapping_add(i64::from(offset_delta)),
            timestamp: base_timestamp.wrapping_add(ts_delta),
            key,
            value,
            headers,
        });
        Ok(())
    })?;
    Ok(out)
}

fn opt_len(b: &Option<Bytes>) -> usize {
    match b {
        Some(b) => varint_len(b.len() as i32) + b.len(),
        None => varint_len(-1),
    }
}

fn body_len(r: &Record, offset_delta: i32, ts_delta: i64) -> usize {
    1 + varlong_len(ts_delta)
        + varint_len(offset_delta)
        + opt_len(&r.key)
        + opt_len(&r.value)
        + varint_len(r.headers.len() as i32)
        + r.headers
            .iter()
            .map(|h| varint_len(h.key.len() as i32) + h.key.len() + opt_len(&h.value))
            .sum::<usize>()
}

/// Bytes `r` takes in a batch at `offset_delta` with `ts_delta`, length prefix included.
pub(crate) fn encoded_len(r: &Record, offset_delta: i32, ts_delta: i64) -> usize {
    let body = body_len(r, offset_delta, ts_delta);
    varint_len(body as i32) + body
}

fn put_opt(out: &mut Vec<u8>, b: &Option<Bytes>) {
    match b {
        Some(b) => {
            write_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
        None => write_varint(out, -1),
    }
}

/// Appends `r` with the given deltas (record attributes are unused by Kafka and written as 0).
pub(crate) fn encode_record(out: &mut Vec<u8>, r: &Record, offset_delta: i32, ts_delta: i64) {
    write_varint(out, body_len(r, offset_delta, ts_delta) as i32);
    out.push(0);
    write_varlong(out, ts_delta);
    write_varint(out, offset_delta);
    put_opt(out, &r.key);
    put_opt(out, &r.value);
    write_varint(out, r.headers.len() as i32);
    for h in &r.headers {
        write_varint(out, h.key.len() as i32);
        out.extend_from_slice(&h.key);
        put_opt(out, &h.value);
    }
}

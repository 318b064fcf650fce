//! Merging small consecutive batches of one partition into one batch while they wait for the producer's
//! window: a stream of one-record batches then costs one batch (and one slot in a request) per round
//! instead of one per record. Only small batches are merged (decoding and re-encoding them is cheap);
//! large ones keep the byte-forwarding fast path.
//!
//! The merged batch holds the records of its parts in order, with their keys, values, headers and
//! timestamps, so the target assigns them consecutive offsets: part `i` lands at the merged base offset
//! plus the record counts of the parts before it, which is how every part is acknowledged exactly.

use bytes::Bytes;

use crate::batch::{BatchHeader, Compression, RebuildOptions, decode_batch, encode_batch};

/// Batches at most this large are merged.
pub(super) const SMALL_BATCH_BYTES: usize = 16 << 10;
/// A merged batch stays below this (and below the limit each part was sent with).
pub(super) const MAX_MERGED_BYTES: usize = 256 << 10;

/// How a batch may be merged with its neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MergeKey {
    codec: Compression,
    /// Largest merged batch this part may end up in.
    pub limit: usize,
}

impl MergeKey {
    /// `None` when the batch keeps its own bytes: large, LogAppendTime (the append time must survive as the
    /// forwarder arranged), delete horizon set, or an unknown codec.
    pub(super) fn of(header: &BatchHeader, len: usize, limit: usize) -> Option<Self> {
        let limit = limit.min(MAX_MERGED_BYTES);
        let mergeable = len <= SMALL_BATCH_BYTES
            && len < limit
            && !header.is_log_append_time()
            && !header.has_delete_horizon()
            && !header.is_control()
            && !matches!(header.compression(), Compression::Unknown(_));
        mergeable.then(|| Self {
            codec: header.compression(),
            limit,
        })
    }

    pub(super) fn fits_with(&self, other: &Self) -> bool {
        self.codec == other.codec
    }

    pub(super) fn codec(&self) -> Compression {
        self.codec
    }
}

/// One batch made of `parts` (each a whole batch, in order), or `None` when they cannot be decoded or the
/// result would exceed `limit` bytes: the parts then go as they are.
pub(super) fn merge(parts: &[&Bytes], codec: Compression, limit: usize) -> Option<Bytes> {
    let mut records = Vec::new();
    for part in parts {
        let decoded = decode_batch(part, RebuildOptions::DEFAULT_MAX_DECOMPRESSED_BYTES).ok()?;
        records.extend(decoded.records);
    }
    let merged = encode_batch(&records, codec).ok()?;
    (merged.len() <= limit).then(|| Bytes::from(merged))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::batch::{Record, RecordHeader};

    fn record(i: i64, ts: i64) -> Record {
        Record {
            offset: 0,
            timestamp: ts,
            key: (i % 3 != 0).then(|| Bytes::from(format!("k{i}"))),
            value: (i % 4 != 0).then(|| Bytes::from(format!("value {i}"))),
            headers: vec![
                RecordHeader {
                    key: Bytes::from_static(b"h"),
                    value: Some(Bytes::from(format!("{i}"))),
                },
                RecordHeader {
                    key: Bytes::from_static(b"h"),
                    value: None,
                },
            ],
        }
    }

    /// Merging keeps every record (key, value, headers, timestamp) in order, whatever the codec, and the
    /// timestamps may go backwards between parts.
    #[test]
    fn merged_batch_keeps_every_record_in_order() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let groups: Vec<Vec<Record>> = vec![
                vec![record(0, 1_000)],
                vec![record(1, 900), record(2, 2_000)],
                vec![record(3, 1_500)],
            ];
            let parts: Vec<Bytes> = groups
                .iter()
                .map(|g| Bytes::from(encode_batch(g, codec).unwrap()))
                .collect();
            let refs: Vec<&Bytes> = parts.iter().collect();
            let merged = merge(&refs, codec, MAX_MERGED_BYTES).unwrap();
            let header = BatchHeader::parse(&merged).unwrap();
            assert_eq!(header.record_count, 4);
            assert!(header.is_dense());
            assert_eq!(header.compression(), codec);
            assert_eq!(header.max_timestamp, 2_000);
            let decoded = decode_batch(&merged, 1 << 20).unwrap();
            let want: Vec<Record> = groups.into_iter().flatten().collect();
            assert_eq!(decoded.records.len(), want.len());
            for (i, (got, want)) in decoded.records.iter().zip(&want).enumerate() {
                assert_eq!(got.offset, i as i64, "offsets are consecutive from 0");
                assert_eq!(got.timestamp, want.timestamp);
                assert_eq!(got.key, want.key);
                assert_eq!(got.value, want.value);
                assert_eq!(got.headers, want.headers);
            }
        }
    }

    #[test]
    fn too_large_a_result_is_not_merged() {
        let parts: Vec<Bytes> = (0..3)
            .map(|i| Bytes::from(encode_batch(&[record(i, 5)], Compression::None).unwrap()))
            .collect();
        let refs: Vec<&Bytes> = parts.iter().collect();
        let merged = merge(&refs, Compression::None, usize::MAX).unwrap();
        let total: usize = parts.iter().map(Bytes::len).sum();
        assert!(merged.len() < total, "one header instead of three");
        assert!(merge(&refs, Compression::None, merged.len() - 1).is_none());
        assert!(merge(&refs, Compression::None, merged.len()).is_some());
    }

    #[test]
    fn large_and_log_append_time_batches_keep_their_bytes() {
        let small = Bytes::from(encode_batch(&[record(1, 5)], Compression::None).unwrap());
        let h = BatchHeader::parse(&small).unwrap();
        assert!(MergeKey::of(&h, small.len(), 1 << 20).is_some());
        assert!(MergeKey::of(&h, SMALL_BATCH_BYTES + 1, 1 << 20).is_none());
        assert!(
            MergeKey::of(&h, small.len(), 0).is_none(),
            "limit 0: never merged"
        );
        let mut lat = small.to_vec();
        lat[22] |= 0x08; // attributes bit 3: LogAppendTime
        let h = BatchHeader::parse(&lat).unwrap();
        assert!(MergeKey::of(&h, lat.len(), 1 << 20).is_none());
    }
}

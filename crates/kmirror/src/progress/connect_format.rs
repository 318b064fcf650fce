//! Connect's JSON offset records for MirrorSourceConnector.
//!
//! Key: `["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"orders"}]` (the field order is what
//! Java's HashMap gives for these three names, which makes kmirror's keys byte-identical to MM2's, so the
//! compacted topic keeps one record per partition whoever wrote it).
//! Value: `{"offset":N}` where N is the last copied source offset; kmirror adds `"kmirror.downstream"`, the
//! target offset that record landed at, and `"kmirror.next"` when nothing to copy (transaction markers,
//! aborted data) followed that record, and `"kmirror.producers"`, the producer ids kmirror writes the target
//! partition with (MM2 ignores fields it does not know).

use serde_json::{Value, json};

/// Connect's name for MM2's source connector; part of every progress key.
pub const SOURCE_CONNECTOR: &str = "MirrorSourceConnector";

/// One partition's committed progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProgress {
    /// Last source offset copied (the next fetch starts at `offset + 1`).
    pub offset: i64,
    /// Target offset of that record, when kmirror wrote it (absent in MM2's records).
    pub downstream: Option<i64>,
    /// The first source offset not yet handled, when it is beyond `offset + 1`: what followed the last
    /// copied record was nothing to copy (transaction markers, aborted data), so the partition is not behind.
    pub next: Option<i64>,
    /// The producer ids kmirror may have written this partition's target records with after `downstream`:
    /// each is recorded before the first record with it is produced, so a restart can prove which target
    /// records are its own (empty in MM2's records and kmirror's older ones).
    pub writers: Vec<i64>,
}

/// A `writers` entry that no batch carries: progress set by an operator command (reset, failback) says that
/// nothing past it was written by kmirror, so any record found there is foreign.
pub const NO_WRITER: i64 = -1;

impl SourceProgress {
    /// A position an operator command sets (reset, failback): the last source offset taken as copied and where
    /// it sits on the target, with no kmirror writer named, so any target record found past it is foreign.
    pub fn set_by_operator(last_source: i64, last_target: i64) -> Self {
        Self {
            offset: last_source,
            downstream: Some(last_target),
            next: None,
            writers: vec![NO_WRITER],
        }
    }

    /// The first source offset not yet handled.
    pub fn next_offset(&self) -> i64 {
        self.next.unwrap_or(self.offset + 1).max(self.offset + 1)
    }
}

pub fn encode_progress_key(cluster: &str, topic: &str, partition: i32) -> Vec<u8> {
    // Built by hand to fix the field order; serde_json escapes the strings.
    format!(
        "[{},{{\"cluster\":{},\"partition\":{partition},\"topic\":{}}}]",
        Value::from(SOURCE_CONNECTOR),
        Value::from(cluster),
        Value::from(topic)
    )
    .into_bytes()
}

/// (cluster, topic, partition) from a progress key, or None for records of other connectors.
pub fn decode_progress_key(key: &[u8]) -> Option<(String, String, i32)> {
    let v: Value = serde_json::from_slice(key).ok()?;
    let arr = v.as_array()?;
    if arr.len() != 2 || arr[0].as_str()? != SOURCE_CONNECTOR {
        return None;
    }
    let m = arr[1].as_object()?;
    let partition = i32::try_from(m.get("partition")?.as_i64()?).ok()?;
    Some((
        m.get("cluster")?.as_str()?.to_string(),
        m.get("topic")?.as_str()?.to_string(),
        partition,
    ))
}

pub fn encode_progress_value(progress: &SourceProgress) -> Vec<u8> {
    let mut v = json!({"offset": progress.offset});
    if let Some(d) = progress.downstream {
        v["kmirror.downstream"] = json!(d);
    }
    if let Some(n) = progress.next.filter(|n| *n > progress.offset + 1) {
        v["kmirror.next"] = json!(n);
    }
    if !progress.writers.is_empty() {
        // A string: Connect refuses offsets whose values are not primitive (MM2 would then start over).
        let ids: Vec<String> = progress.writers.iter().map(i64::to_string).collect();
        v["kmirror.producers"] = json!(ids.join(","));
    }
    v.to_string().into_bytes()
}

/// Decodes a progress value; `None` for a tombstone or a value without an offset (Connect's "reset").
pub fn decode_progress_value(value: Option<&[u8]>) -> Option<SourceProgress> {
    let v: Value = serde_json::from_slice(value?).ok()?;
    Some(SourceProgress {
        offset: v.get("offset")?.as_i64()?,
        downstream: v.get("kmirror.downstream").and_then(Value::as_i64),
        next: v.get("kmirror.next").and_then(Value::as_i64),
        writers: v
            .get("kmirror.producers")
            .and_then(Value::as_str)
            .map(|ids| {
                ids.split(',')
                    .filter_map(|id| id.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Kafka's murmur2 hash (the Java client's default partitioner), so progress keys land on the partition
/// Connect would choose.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let chunks = data.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    match rest.len() {
        3 => {
            h ^= u32::from(rest[2]) << 16;
            h ^= u32::from(rest[1]) << 8;
            h ^= u32::from(rest[0]);
            h = h.wrapping_mul(M);
        }
        2 => {
            h ^= u32::from(rest[1]) << 8;
            h ^= u32::from(rest[0]);
            h = h.wrapping_mul(M);
        }
        1 => {
            h ^= u32::from(rest[0]);
            h = h.wrapping_mul(M);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition the Java producer's default partitioner picks for a keyed record.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_matches_mm2_layout_and_round_trips() {
        let k = encode_progress_key("A", "orders", 3);
        assert_eq!(
            std::str::from_utf8(&k).unwrap(),
            r#"["MirrorSourceConnector",{"cluster":"A","partition":3,"topic":"orders"}]"#
        );
        assert_eq!(
            decode_progress_key(&k),
            Some(("A".into(), "orders".into(), 3))
        );
        let quoted = encode_progress_key("A", "we\"ird", 0);
        assert_eq!(
            decode_progress_key(&quoted).map(|k| k.1),
            Some("we\"ird".to_string())
        );
        assert_eq!(
            decode_progress_key(br#"["MirrorCheckpointConnector",{}]"#),
            None
        );
    }

    #[test]
    fn value_round_trips_and_reads_mm2_values() {
        let p = SourceProgress {
            offset: 41,
            downstream: Some(40),
            next: None,
            writers: Vec::new(),
        };
        assert_eq!(p.next_offset(), 42);
        assert_eq!(
            decode_progress_value(Some(&encode_progress_value(&p))),
            Some(p)
        );
        assert_eq!(
            decode_progress_value(Some(br#"{"offset":7}"#)),
            Some(SourceProgress {
                offset: 7,
                downstream: None,
                next: None,
                writers: Vec::new(),
            })
        );
        assert_eq!(decode_progress_value(None), None);
        let after_markers = SourceProgress {
            offset: 41,
            downstream: Some(40),
            next: Some(43),
            writers: Vec::new(),
        };
        let owned = SourceProgress {
            writers: vec![4001, 4002],
            ..after_markers.clone()
        };
        assert_eq!(
            std::str::from_utf8(&encode_progress_value(&owned)).unwrap(),
            r#"{"kmirror.downstream":40,"kmirror.next":43,"kmirror.producers":"4001,4002","offset":41}"#
        );
        assert_eq!(
            decode_progress_value(Some(&encode_progress_value(&owned))),
            Some(owned)
        );
        let encoded = encode_progress_value(&after_markers);
        assert_eq!(
            std::str::from_utf8(&encoded).unwrap(),
            r#"{"kmirror.downstream":40,"kmirror.next":43,"offset":41}"#
        );
        assert_eq!(
            decode_progress_value(Some(&encoded)),
            Some(after_markers.clone())
        );
        assert_eq!(after_markers.next_offset(), 43);
    }

    #[test]
    fn murmur2_matches_kafka_test_vectors() {
        // Vectors from Kafka's UtilsTest.testMurmur2 (public test data of the Java client).
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
        ];
        for (input, expected) in cases {
            assert_eq!(
                murmur2(input),
                expected,
                "murmur2({:?})",
                std::str::from_utf8(input)
            );
        }
    }
}

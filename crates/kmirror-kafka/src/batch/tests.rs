//! Tests of planning, rebuilding and stamping together. Source batches are written two ways: with
//! `kafka_protocol`'s encoder (an independent implementation) and, where that one cannot express the case
//! (repeated header keys, a delete horizon, hand-picked offset deltas), byte by byte below. Outputs are
//! read back with `kafka_protocol`'s decoder as well as ours.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    self as kp, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use proptest::prelude::*;

use super::record::encode_record;
use super::*;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

const ATTR_LOG_APPEND_TIME: i16 = 0x08;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;
const ATTR_DELETE_HORIZON: i16 = 0x40;

fn kp_codec(c: Compression) -> kp::Compression {
    match c {
        Compression::None => kp::Compression::None,
        Compression::Gzip => kp::Compression::Gzip,
        Compression::Snappy => kp::Compression::Snappy,
        Compression::Lz4 => kp::Compression::Lz4,
        Compression::Zstd => kp::Compression::Zstd,
        Compression::Unknown(_) => unreachable!("tests use known codecs"),
    }
}

fn rec(offset: i64, timestamp: i64, key: &str, value: &str, headers: &[(&str, &str)]) -> Record {
    Record {
        offset,
        timestamp,
        key: Some(Bytes::copy_from_slice(key.as_bytes())),
        value: Some(Bytes::copy_from_slice(value.as_bytes())),
        headers: headers
            .iter()
            .map(|(k, v)| RecordHeader {
                key: Bytes::copy_from_slice(k.as_bytes()),
                value: Some(Bytes::copy_from_slice(v.as_bytes())),
            })
            .collect(),
    }
}

/// A source batch written by `kafka_protocol` (base offset and base timestamp are the minimums; the
/// offset deltas follow the records' offsets, so gaps give a compacted-style batch). Header keys must be
/// unique UTF-8.
fn kp_batch(records: &[Record], codec: Compression) -> Bytes {
    let kp_records: Vec<kp::Record> = records
        .iter()
        .map(|r| kp::Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 5,
            producer_id: 77,
            producer_epoch: 2,
            sequence: r.offset as i32,
            timestamp_type: TimestampType::Creation,
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r
                .headers
                .iter()
                .map(|h| {
                    (
                        StrBytes::from_utf8(h.key.clone()).expect("utf-8 header key"),
                        h.value.clone(),
                    )
                })
                .collect::<IndexMap<_, _>>(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &kp_records,
        &RecordEncodeOptions {
            version: 2,
            compression: kp_codec(codec),
        },
    )
    .expect("kafka-protocol encodes");
    buf.freeze()
}

/// A source batch written byte by byte: record offset deltas are `record.offset - base_offset` and
/// timestamp deltas `record.timestamp - base_timestamp`, whatever they are; `last_offset_delta` and the
/// attributes are as given.
fn raw_batch(
    base_offset: i64,
    base_timestamp: i64,
    last_offset_delta: i32,
    attributes: i16,
    records: &[Record],
) -> Bytes {
    let mut raw = Vec::new();
    for r in records {
        encode_record(
            &mut raw,
            r,
            (r.offset - base_offset) as i32,
            r.timestamp.wrapping_sub(base_timestamp),
        );
    }
    let codec = match attributes & 7 {
        0 => Compression::None,
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        other => Compression::Unknown(other as u8),
    };
    let payload = if let Compression::Unknown(_) = codec {
        raw
    } else {
        super::codec::compress(codec, &raw).expect("compress")
    };
    let mut b = Vec::new();
    b.extend_from_slice(&base_offset.to_be_bytes());
    b.extend_from_slice(&((HEADER_LEN - 12 + payload.len()) as i32).to_be_bytes());
    b.extend_from_slice(&9i32.to_be_bytes());
    b.push(2);
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&last_offset_delta.to_be_bytes());
    b.extend_from_slice(&base_timestamp.to_be_bytes());
    let max_ts = records.iter().map(|r| r.timestamp).max().unwrap_or(-1);
    b.extend_from_slice(&max_ts.to_be_bytes());
    b.extend_from_slice(&55i64.to_be_bytes());
    b.extend_from_slice(&1i16.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&(records.len() as i32).to_be_bytes());
    b.extend_from_slice(&payload);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

fn plan_of(batch: &Bytes, next: i64, max: usize, aborted: bool) -> Result<Plan, RecordsError> {
    let h = BatchHeader::parse(batch).expect("header");
    plan(&h, batch, next, max, aborted)
}

/// Reads a produced-ready batch with `kafka_protocol`'s decoder (which also checks the CRC) and checks
/// it is what a broker keeps offsets for: dense, deltas 0..n-1.
fn kp_read(batch: &[u8]) -> Vec<kp::Record> {
    let mut buf = Bytes::copy_from_slice(batch);
    let set = RecordBatchDecoder::decode(&mut buf).expect("kafka-protocol decodes our batch");
    assert!(buf.is_empty(), "exactly one batch");
    for (i, r) in set.records.iter().enumerate() {
        assert_eq!(r.offset, i as i64, "offset deltas must be 0..n-1");
    }
    let h = BatchHeader::parse(batch).expect("header");
    assert!(h.is_dense());
    assert_eq!(h.record_count as usize, set.records.len());
    set.records
}

/// A record without its offset.
type Content = (i64, Option<Bytes>, Option<Bytes>, Vec<RecordHeader>);

/// Record content, offsets aside.
fn content(records: &[Record]) -> Vec<Content> {
    records
        .iter()
        .map(|r| {
            (
                r.timestamp,
                r.key.clone(),
                r.value.clone(),
                r.headers.clone(),
            )
        })
        .collect()
}

fn decoded(batch: &[u8]) -> Vec<Record> {
    decode_batch(&Bytes::copy_from_slice(batch), 1 << 26)
        .expect("decodes")
        .records
}

fn stamp() -> ProducerStamp {
    ProducerStamp {
        producer_id: 4242,
        producer_epoch: 3,
        base_sequence: 17,
    }
}

fn three(base: i64) -> Vec<Record> {
    vec![
        rec(base, 1_000, "k0", "v0", &[("h", "0")]),
        rec(base + 1, 1_005, "k1", "v1", &[]),
        rec(base + 2, 999, "k2", "v2", &[("a", "1"), ("b", "2")]),
    ]
}

#[test]
fn plain_batches_are_forwarded_in_every_codec() {
    for codec in CODECS {
        let batch = kp_batch(&three(100), codec);
        assert_eq!(
            plan_of(&batch, 100, 1 << 20, false),
            Ok(Plan::Forward),
            "{codec:?}"
        );
        assert_eq!(
            plan_of(&batch, 50, 1 << 20, false),
            Ok(Plan::Forward),
            "gap before"
        );
        let mut out = batch.to_vec();
        stamp_for_produce(&mut out, stamp()).expect("stamp");
        let kp_records = kp_read(&out);
        assert_eq!(kp_records[2].headers.len(), 2);
        assert_eq!(content(&decoded(&out)), content(&three(100)));
        let h = BatchHeader::parse(&out).expect("header");
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (4242, 3, 17)
        );
    }
}

#[test]
fn skips_control_aborted_empty_and_already_mirrored() {
    let control = raw_batch(10, 0, 0, ATTR_CONTROL | ATTR_TRANSACTIONAL, &three(10)[..1]);
    assert_eq!(
        plan_of(&control, 0, 1 << 20, false),
        Ok(Plan::Skip(SkipReason::Control))
    );
    let batch = kp_batch(&three(10), Compression::Lz4);
    assert_eq!(
        plan_of(&batch, 0, 1 << 20, true),
        Ok(Plan::Skip(SkipReason::Aborted))
    );
    assert_eq!(
        plan_of(&batch, 13, 1 << 20, false),
        Ok(Plan::Skip(SkipReason::AlreadyMirrored))
    );
    // Compaction can leave a batch with no records at all (count 0, lastOffsetDelta kept).
    let empty = raw_batch(20, 0, 4, 0, &[]);
    assert_eq!(
        plan_of(&empty, 0, 1 << 20, false),
        Ok(Plan::Skip(SkipReason::Empty))
    );
    assert_eq!(
        BatchHeader::parse(&empty).expect("header").next_offset(),
        25
    );
}

#[test]
fn rebuild_reasons() {
    for codec in CODECS {
        let batch = kp_batch(&three(100), codec);
        assert_eq!(
            plan_of(&batch, 101, 1 << 20, false),
            Ok(Plan::Rebuild(RebuildReason::StraddlesResumeOffset))
        );
        assert_eq!(
            plan_of(&batch, 100, batch.len() - 1, false),
            Ok(Plan::Rebuild(RebuildReason::TooLarge))
        );
        assert_eq!(plan_of(&batch, 100, batch.len(), false), Ok(Plan::Forward));
        let compacted = kp_batch(
            &[
                rec(100, 1, "a", "1", &[]),
                rec(102, 2, "b", "2", &[]),
                rec(104, 3, "c", "3", &[]),
            ],
            codec,
        );
        let h = BatchHeader::parse(&compacted).expect("header");
        assert_eq!((h.record_count, h.last_offset_delta), (3, 4));
        assert_eq!(
            plan_of(&compacted, 0, 1 << 20, false),
            Ok(Plan::Rebuild(RebuildReason::NotDense))
        );
    }
}

/// §1 of batch-forwarding.md: an uncompressed batch whose header is consistent (count ==
/// lastOffsetDelta + 1) but whose record deltas are not 0..n-1 is accepted by the broker and read back at
/// the wrong offsets. Only the varint walk catches it; for compressed batches the broker re-numbers.
#[test]
fn uncompressed_batch_with_a_consistent_header_but_bad_deltas_is_rebuilt() {
    // Deltas {0, 2, 4} with lastOffsetDelta patched to count-1 = 2.
    let records = [
        rec(100, 1, "a", "1", &[]),
        rec(102, 2, "b", "2", &[]),
        rec(104, 3, "c", "3", &[]),
    ];
    let patched = raw_batch(100, 0, 2, 0, &records);
    let h = BatchHeader::parse(&patched).expect("header");
    assert!(h.is_dense(), "the header alone looks fine");
    assert_eq!(
        plan_of(&patched, 0, 1 << 20, false),
        Ok(Plan::Rebuild(RebuildReason::OffsetDeltasNotConsecutive))
    );
    // Deltas out of order {0, 2, 1}.
    let shuffled = raw_batch(
        100,
        0,
        2,
        0,
        &[
            rec(100, 1, "a", "1", &[]),
            rec(102, 2, "b", "2", &[]),
            rec(101, 3, "c", "3", &[]),
        ],
    );
    assert_eq!(
        plan_of(&shuffled, 0, 1 << 20, false),
        Ok(Plan::Rebuild(RebuildReason::OffsetDeltasNotConsecutive))
    );
    // The same shape compressed: the broker rebuilds it itself, so forwarding is safe.
    let compressed = raw_batch(100, 0, 2, 4, &records);
    assert_eq!(plan_of(&compressed, 0, 1 << 20, false), Ok(Plan::Forward));
    // Rebuilding the uncompressed one gives deltas 0..n-1 and keeps the source offsets for the map.
    let out = rebuild(&patched, 0, &RebuildOptions::new(1 << 20)).expect("rebuild");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].source_offsets, vec![100, 102, 104]);
    kp_read(&out[0].bytes);
}

#[test]
fn corrupt_truncated_and_unknown_codec_batches_are_errors() {
    let batch = kp_batch(&three(0), Compression::Gzip);
    let mut bad = batch.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let bad = Bytes::from(bad);
    assert!(matches!(
        plan_of(&bad, 0, 1 << 20, false),
        Err(RecordsError::Batch(BatchError::CrcMismatch { .. }))
    ));
    assert!(matches!(
        rebuild(&bad, 0, &RebuildOptions::new(1 << 20)),
        Err(RecordsError::Batch(BatchError::CrcMismatch { .. }))
    ));
    let h = BatchHeader::parse(&batch).expect("header");
    assert!(matches!(
        plan(&h, &batch[..batch.len() - 1], 0, 1 << 20, false),
        Err(RecordsError::Batch(BatchError::Truncated { .. }))
    ));
    let unknown = raw_batch(0, 0, 0, 6, &three(0)[..1]);
    assert_eq!(
        plan_of(&unknown, 0, 1 << 20, false),
        Err(RecordsError::UnsupportedCompression {
            base_offset: 0,
            codec: 6
        })
    );
    let control = raw_batch(10, 0, 0, ATTR_CONTROL, &three(10)[..1]);
    assert_eq!(
        rebuild(&control, 0, &RebuildOptions::new(1 << 20)),
        Err(RecordsError::ControlBatch { base_offset: 10 })
    );
}

#[test]
fn uncompressed_record_count_must_match_the_records() {
    let records = three(0);
    let mut b = raw_batch(0, 0, 2, 0, &records).to_vec();
    // Claim 2 records: bytes are left over after the second.
    b[57..61].copy_from_slice(&2i32.to_be_bytes());
    b[23..27].copy_from_slice(&1i32.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    let b = Bytes::from(b);
    assert!(matches!(
        plan_of(&b, 0, 1 << 20, false),
        Err(RecordsError::Malformed { .. })
    ));
    assert!(matches!(
        decode_batch(&b, 1 << 20),
        Err(RecordsError::Malformed { .. })
    ));
}

#[test]
fn straddling_batch_is_trimmed_to_the_records_still_needed() {
    for codec in CODECS {
        let batch = kp_batch(&three(100), codec);
        let out = rebuild(&batch, 101, &RebuildOptions::new(1 << 20)).expect("rebuild");
        assert_eq!(out.len(), 1, "{codec:?}");
        assert_eq!(out[0].source_offsets, vec![101, 102]);
        assert_eq!(content(&decoded(&out[0].bytes)), content(&three(100)[1..]));
        let h = BatchHeader::parse(&out[0].bytes).expect("header");
        assert_eq!(h.compression(), codec, "keeps the source codec");
        assert_eq!(
            (h.base_offset, h.partition_leader_epoch, h.producer_id),
            (0, -1, -1)
        );
        assert_eq!(h.base_timestamp, 1_005, "first kept record's timestamp");
        assert_eq!(h.max_timestamp, 1_005);
        let mut stamped = out[0].bytes.clone();
        stamp_for_produce(&mut stamped, stamp()).expect("stamp");
        kp_read(&stamped);
        assert_eq!(
            rebuild(&batch, 103, &RebuildOptions::new(1 << 20)),
            Ok(vec![])
        );
    }
}

#[test]
fn rebuild_can_change_codec() {
    let batch = kp_batch(&three(0), Compression::Snappy);
    let options = RebuildOptions {
        compression: Some(Compression::Zstd),
        ..RebuildOptions::new(1 << 20)
    };
    let out = rebuild(&batch, 0, &options).expect("rebuild");
    let h = BatchHeader::parse(&out[0].bytes).expect("header");
    assert_eq!(h.compression(), Compression::Zstd);
    assert_eq!(content(&decoded(&out[0].bytes)), content(&three(0)));
}

#[test]
fn repeated_header_keys_survive_in_order() {
    let r = rec(
        7,
        50,
        "k",
        "v",
        &[("trace", "1"), ("x", "2"), ("trace", "3")],
    );
    for codec in CODECS {
        let attrs = match codec {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            _ => 4,
        };
        let batch = raw_batch(7, 50, 0, attrs, std::slice::from_ref(&r));
        let out = rebuild(&batch, 0, &RebuildOptions::new(1 << 20)).expect("rebuild");
        assert_eq!(decoded(&out[0].bytes)[0].headers, r.headers, "{codec:?}");
    }
}

#[test]
fn delete_horizon_batch_keeps_record_timestamps_and_loses_the_bit() {
    // After cleaning, baseTimestamp holds the delete horizon and deltas are relative to it.
    let horizon = 1_700_000_900_000;
    let records = [
        rec(40, 1_700_000_000_000, "a", "1", &[]),
        Record {
            value: None,
            ..rec(41, 1_700_000_000_500, "b", "", &[])
        },
    ];
    for attrs in [0, 3] {
        let batch = raw_batch(40, horizon, 1, attrs | ATTR_DELETE_HORIZON, &records);
        let src = decode_batch(&batch, 1 << 20).expect("decode");
        assert!(src.header.has_delete_horizon());
        assert_eq!(content(&src.records), content(&records));
        let out = rebuild(&batch, 41, &RebuildOptions::new(1 << 20)).expect("rebuild");
        let h = BatchHeader::parse(&out[0].bytes).expect("header");
        assert!(!h.has_delete_horizon());
        assert_eq!(h.base_timestamp, 1_700_000_000_500);
        assert_eq!(
            content(&decoded(&out[0].bytes)),
            content(&records[1..]),
            "tombstone kept"
        );
        assert_eq!(plan_of(&batch, 40, 1 << 20, false), Ok(Plan::Forward));
        let mut forwarded = batch.to_vec();
        stamp_for_produce(&mut forwarded, stamp()).expect("stamp");
        assert!(
            !BatchHeader::parse(&forwarded)
                .expect("header")
                .has_delete_horizon()
        );
        assert_eq!(content(&decoded(&forwarded)), content(&records));
    }
}

/// A LogAppendTime batch as a broker stores it: the records keep their create times, maxTimestamp holds
/// the append time that consumers see for every record.
fn log_append_time_batch(records: &[Record], codec_attr: i16, append_time: i64) -> Bytes {
    let mut b = raw_batch(0, 1_000, 2, codec_attr | ATTR_LOG_APPEND_TIME, records).to_vec();
    b[35..43].copy_from_slice(&append_time.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

#[test]
fn log_append_time_batches_are_rebuilt_with_the_append_time_consumers_see() {
    for codec_attr in [0, 3] {
        let batch = log_append_time_batch(&three(0), codec_attr, 7_777);
        assert_eq!(
            plan_of(&batch, 0, 1 << 20, false),
            Ok(Plan::Rebuild(RebuildReason::LogAppendTime))
        );
        let out = rebuild(&batch, 1, &RebuildOptions::new(1 << 20)).expect("rebuild");
        let h = BatchHeader::parse(&out[0].bytes).expect("header");
        assert!(!h.is_log_append_time(), "the target batch is CreateTime");
        let mut expected = three(0)[1..].to_vec();
        for r in &mut expected {
            r.timestamp = 7_777;
        }
        assert_eq!(content(&decoded(&out[0].bytes)), content(&expected));
        assert_eq!(out[0].source_offsets, vec![1, 2]);
    }
}

#[test]
fn oversized_batches_are_split_under_the_limit() {
    let records: Vec<Record> = (0..200)
        .map(|i| {
            rec(
                1_000 + i,
                5_000 + i,
                &format!("key-{i}"),
                &"x".repeat(100 + i as usize),
                &[("n", "v")],
            )
        })
        .collect();
    for codec in CODECS {
        let batch = kp_batch(&records, codec);
        let limit = 2_000;
        let out = rebuild(&batch, 1_010, &RebuildOptions::new(limit)).expect("rebuild");
        assert!(out.len() > 1, "{codec:?} needs several batches");
        let mut all = Vec::new();
        let mut offsets: Vec<i64> = Vec::new();
        for b in &out {
            assert!(
                b.bytes.len() <= limit,
                "{codec:?}: {} > {limit}",
                b.bytes.len()
            );
            assert_eq!(
                BatchHeader::parse(&b.bytes).expect("header").compression(),
                codec
            );
            kp_read(&b.bytes);
            all.extend(decoded(&b.bytes));
            offsets.extend(&b.source_offsets);
        }
        assert_eq!(offsets, (1_010..1_200).collect::<Vec<i64>>());
        assert_eq!(content(&all), content(&records[10..]));
    }
}

#[test]
fn uncompressed_split_fills_batches_exactly() {
    let records: Vec<Record> = (0..50)
        .map(|i| rec(i, i, "k", &"y".repeat(30), &[]))
        .collect();
    let one = encode_batch(&records[..1], Compression::None)
        .expect("encode")
        .len();
    let two = encode_batch(&records[..2], Compression::None)
        .expect("encode")
        .len();
    let out = rebuild(
        &kp_batch(&records, Compression::None),
        0,
        &RebuildOptions::new(two),
    )
    .expect("rebuild");
    assert_eq!(out.len(), 25);
    assert!(
        out.iter()
            .all(|b| b.bytes.len() == two && b.source_offsets.len() == 2)
    );
    assert!(one < two);
}

#[test]
fn a_record_larger_than_the_limit_is_an_error() {
    let records = [rec(5, 0, "k", &"z".repeat(5_000), &[])];
    for codec in [Compression::None, Compression::Gzip] {
        let batch = raw_batch(
            5,
            0,
            0,
            if codec == Compression::None { 0 } else { 1 },
            &records,
        );
        let options = RebuildOptions {
            compression: Some(Compression::None),
            ..RebuildOptions::new(1_000)
        };
        assert!(matches!(
            rebuild(&batch, 0, &options),
            Err(RecordsError::RecordTooLarge {
                offset: 5,
                limit: 1_000,
                ..
            })
        ));
        // Compressed, the same record fits.
        let options = RebuildOptions {
            compression: Some(Compression::Gzip),
            ..RebuildOptions::new(1_000)
        };
        assert_eq!(
            rebuild(&batch, 0, &options).expect("fits compressed").len(),
            1
        );
    }
}

#[test]
fn decompression_is_bounded() {
    let records = [rec(0, 0, "k", &"0".repeat(100_000), &[])];
    let batch = raw_batch(0, 0, 0, 4, &records);
    assert!(batch.len() < 1_000);
    let options = RebuildOptions {
        max_decompressed_bytes: 50_000,
        ..RebuildOptions::new(1 << 20)
    };
    assert_eq!(
        rebuild(&batch, 0, &options),
        Err(RecordsError::DecompressedTooLarge {
            base_offset: 0,
            limit: 50_000
        })
    );
}

// ---- properties ----

fn opt_bytes(max: usize) -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::weighted(
        0.85,
        proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from),
    )
}

fn header_strategy(unique_utf8: bool) -> impl Strategy<Value = Vec<RecordHeader>> {
    let key = if unique_utf8 {
        "[a-c]{1,2}"
            .prop_map(|k: String| Bytes::from(k.into_bytes()))
            .boxed()
    } else {
        proptest::collection::vec(any::<u8>(), 0..4)
            .prop_map(Bytes::from)
            .boxed()
    };
    proptest::collection::vec((key, opt_bytes(12)), 0..4).prop_map(move |hs| {
        let mut seen = std::collections::HashSet::new();
        hs.into_iter()
            .filter(|(k, _)| !unique_utf8 || seen.insert(k.clone()))
            .map(|(key, value)| RecordHeader { key, value })
            .collect()
    })
}

/// Records with increasing offsets from `base` (gaps of 1..=3 make some batches compacted-style) and
/// timestamps scattered around a base.
fn records_strategy(unique_utf8: bool) -> impl Strategy<Value = Vec<Record>> {
    (
        0i64..1 << 40,
        proptest::collection::vec(
            (
                1i64..=3,
                -5_000i64..5_000,
                opt_bytes(40),
                opt_bytes(300),
                header_strategy(unique_utf8),
            ),
            1..25,
        ),
    )
        .prop_map(|(base, items)| {
            let mut offset = base;
            let mut out = Vec::new();
            for (i, (gap, ts, key, value, headers)) in items.into_iter().enumerate() {
                if i > 0 {
                    offset += gap;
                }
                out.push(Record {
                    offset,
                    timestamp: 1_700_000_000_000 + ts,
                    key,
                    value,
                    headers,
                });
            }
            out
        })
}

fn codec_strategy() -> impl Strategy<Value = Compression> {
    proptest::sample::select(CODECS.to_vec())
}

/// What mirroring one source batch produced, by whichever path `plan` chose.
fn mirror(batch: &Bytes, next: i64, limit: usize) -> Result<Vec<RebuiltBatch>, RecordsError> {
    let h = BatchHeader::parse(batch)?;
    match plan(&h, batch, next, limit, false)? {
        Plan::Skip(_) => Ok(vec![]),
        Plan::Forward => Ok(vec![RebuiltBatch {
            bytes: batch.to_vec(),
            source_offsets: (h.base_offset..=h.last_offset()).collect(),
        }]),
        Plan::Rebuild(_) => rebuild(batch, next, &RebuildOptions::new(limit)),
    }
}

fn check_mirrored(
    source: &[Record],
    out: Result<Vec<RebuiltBatch>, RecordsError>,
    next: i64,
    limit: usize,
) -> Result<(), TestCaseError> {
    let wanted: Vec<&Record> = source.iter().filter(|r| r.offset >= next).collect();
    let out = match out {
        Err(RecordsError::RecordTooLarge { offset, size, .. }) => {
            // Only legitimate when that record alone cannot fit.
            let r = source
                .iter()
                .find(|r| r.offset == offset)
                .expect("offset of a source record");
            prop_assert!(size > limit);
            prop_assert!(r.offset >= next);
            return Ok(());
        }
        other => other.expect("mirroring succeeds"),
    };
    let mut got = Vec::new();
    let mut offsets = Vec::new();
    for b in out {
        prop_assert!(b.bytes.len() <= limit);
        let mut bytes = b.bytes.clone();
        stamp_for_produce(&mut bytes, stamp()).expect("stamp");
        let h = BatchHeader::parse(&bytes).expect("header");
        verify_crc(&bytes, &h).expect("stamped CRC valid");
        prop_assert!(h.is_dense());
        prop_assert_eq!(h.record_count as usize, b.source_offsets.len());
        let mine = decoded(&bytes);
        let theirs = kp_read(&bytes);
        prop_assert_eq!(mine.len(), theirs.len());
        for (m, t) in mine.iter().zip(&theirs) {
            prop_assert_eq!(&m.key, &t.key);
            prop_assert_eq!(&m.value, &t.value);
            prop_assert_eq!(m.timestamp, t.timestamp);
        }
        got.extend(mine);
        offsets.extend(b.source_offsets);
    }
    prop_assert_eq!(offsets, wanted.iter().map(|r| r.offset).collect::<Vec<_>>());
    let wanted: Vec<Record> = wanted.into_iter().cloned().collect();
    prop_assert_eq!(content(&got), content(&wanted));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any batch written by kafka-protocol, resumed anywhere, into any size limit: plan + (forward or
    /// rebuild) + stamp yields exactly the records at or after the resume offset, in dense batches under
    /// the limit, with the right source offsets.
    #[test]
    fn mirroring_preserves_content(records in records_strategy(true), codec in codec_strategy(),
                                   resume in 0usize..30, limit in prop_oneof![200usize..2_000, Just(1usize << 20)]) {
        let batch = kp_batch(&records, codec);
        let next = records.get(resume).map_or(records[records.len() - 1].offset + 1, |r| r.offset);
        check_mirrored(&records, mirror(&batch, next, limit), next, limit)?;
    }

    /// The same with repeated, non-UTF-8 header keys and arbitrary (even shuffled) offset deltas,
    /// written byte by byte.
    #[test]
    fn mirroring_preserves_odd_batches(records in records_strategy(false), codec in codec_strategy(),
                                       shuffle in any::<proptest::sample::Index>(), resume in 0usize..30,
                                       limit in prop_oneof![300usize..3_000, Just(1usize << 20)]) {
        let mut records = records;
        let n = records.len();
        let j = shuffle.index(n);
        let (a, b) = (records[0].offset, records[j].offset);
        records[0].offset = b;
        records[j].offset = a;
        let base = records.iter().map(|r| r.offset).min().expect("non-empty");
        let last = records.iter().map(|r| r.offset).max().expect("non-empty") - base;
        let attrs = match codec { Compression::None => 0, Compression::Gzip => 1, Compression::Snappy => 2, Compression::Lz4 => 3, _ => 4 };
        let batch = raw_batch(base, records[0].timestamp, last as i32, attrs, &records);
        let mut sorted: Vec<i64> = records.iter().map(|r| r.offset).collect();
        sorted.sort();
        let next = sorted.get(resume).copied().unwrap_or(base + last + 1);
        let out = mirror(&batch, next, limit);
        // Forwarding is only allowed when record i really is at base + i.
        let forwarded = matches!(plan_of(&batch, next, limit, false), Ok(Plan::Forward));
        if forwarded && codec == Compression::None {
            for (i, r) in records.iter().enumerate() {
                prop_assert_eq!(r.offset, base + i as i64);
            }
        }
        let wanted: Vec<Record> = records.iter().filter(|r| r.offset >= next).cloned().collect();
        match out {
            Ok(batches) => {
                let got: Vec<Record> = batches.iter().flat_map(|b| decoded(&b.bytes)).collect();
                prop_assert_eq!(content(&got), content(&wanted));
                let mut offsets: Vec<i64> = batches.iter().flat_map(|b| b.source_offsets.clone()).collect();
                let mut wanted_offsets: Vec<i64> = wanted.iter().map(|r| r.offset).collect();
                if forwarded {
                    // A forwarded compressed batch is re-numbered by the broker in record order; a
                    // real source broker never stores one whose deltas are not 0..n-1 anyway.
                    offsets.sort();
                    wanted_offsets.sort();
                }
                prop_assert_eq!(offsets, wanted_offsets);
                for b in &batches {
                    prop_assert!(b.bytes.len() <= limit);
                    let h = BatchHeader::parse(&b.bytes).expect("header");
                    let deltas_ok = super::record::offset_deltas_consecutive(
                        &decode_payload(&b.bytes), h.record_count, 0).expect("walk");
                    prop_assert!(h.is_dense());
                    // (a forwarded compressed batch may keep odd deltas: the broker re-numbers it)
                    prop_assert!(deltas_ok || (forwarded && codec != Compression::None));
                }
            }
            Err(RecordsError::RecordTooLarge { size, .. }) => prop_assert!(size > limit),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    /// Stamping any valid batch keeps its CRC valid and its records untouched.
    #[test]
    fn stamping_keeps_crc_valid(records in records_strategy(true), codec in codec_strategy(),
                                pid in any::<i64>(), epoch in any::<i16>(), seq in any::<i32>(),
                                flags in proptest::sample::subsequence(vec![ATTR_LOG_APPEND_TIME, ATTR_TRANSACTIONAL, ATTR_DELETE_HORIZON], 0..=3)) {
        let mut batch = kp_batch(&records, codec).to_vec();
        let extra: i16 = flags.iter().fold(0, |a, f| a | f);
        let attrs = i16::from_be_bytes([batch[21], batch[22]]) | extra;
        batch[21..23].copy_from_slice(&attrs.to_be_bytes());
        let before = batch[HEADER_LEN..].to_vec();
        let stamp = ProducerStamp { producer_id: pid, producer_epoch: epoch, base_sequence: seq };
        stamp_for_produce(&mut batch, stamp).expect("stamp");
        let h = BatchHeader::parse(&batch).expect("header");
        verify_crc(&batch, &h).expect("CRC valid after stamping");
        prop_assert_eq!(&batch[HEADER_LEN..], &before[..]);
        prop_assert_eq!((h.producer_id, h.producer_epoch, h.base_sequence), (pid, epoch, seq));
        prop_assert_eq!((h.base_offset, h.partition_leader_epoch), (0, -1));
        prop_assert!(!h.is_transactional() && !h.is_log_append_time() && !h.has_delete_horizon());
        prop_assert_eq!(h.compression(), codec);
    }

    /// Arbitrary bytes never panic the iterator, the planner or the decoder.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400),
                                   next in any::<i64>(), limit in any::<usize>()) {
        poke(Bytes::from(bytes), next, limit);
    }

    /// Valid batches with a few bytes changed (CRC fixed up, so the damage reaches the decoders) never
    /// panic either.
    #[test]
    fn damaged_batches_never_panic(records in records_strategy(false), codec in codec_strategy(),
                                   edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..6),
                                   next in 0i64..1 << 41, limit in 100usize..5_000) {
        let mut b = kp_batch(&records.iter().map(|r| Record { headers: vec![], ..r.clone() }).collect::<Vec<_>>(), codec).to_vec();
        for (i, v) in edits {
            let at = 21 + i.index(b.len() - 21);
            b[at] = v;
        }
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        poke(Bytes::from(b), next, limit);
    }
}

/// The uncompressed record section of one of our uncompressed output batches.
fn decode_payload(batch: &[u8]) -> Vec<u8> {
    let h = BatchHeader::parse(batch).expect("header");
    let payload = Bytes::copy_from_slice(&batch[HEADER_LEN..]);
    super::codec::decompress(h.compression(), &payload, 1 << 26, 0)
        .expect("decompress")
        .to_vec()
}

/// Runs everything a fetched buffer goes through; only checks that nothing panics.
fn poke(buf: Bytes, next: i64, limit: usize) {
    let mut it = Batches::new(buf);
    for item in it.by_ref() {
        let Ok((h, bytes)) = item else { continue };
        let _ = plan(&h, &bytes, next, limit, false);
        let options = RebuildOptions {
            max_decompressed_bytes: 1 << 20,
            ..RebuildOptions::new(limit.clamp(1, 1 << 20))
        };
        if let Ok(out) = rebuild(&bytes, next, &options) {
            for b in out {
                let mut bytes = b.bytes;
                let _ = stamp_for_produce(&mut bytes, stamp());
            }
        }
    }
    let _ = it.truncated_tail();
}

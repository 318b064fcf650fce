//! Records written by a real MirrorMaker 2 (Kafka 4.1.1), decoded and re-encoded byte for byte.
//! See `testdata/README.md` for how they were captured.

use super::{Checkpoint, Heartbeat, OffsetSync};

const GOLDEN: &str = include_str!("testdata/golden-kafka-4.1.1.txt");

/// One captured record: `cluster topic partition offset timestamp key-hex value-hex`.
struct Captured<'a> {
    topic: &'a str,
    timestamp: i64,
    key: Vec<u8>,
    value: Vec<u8>,
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length in {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn captured() -> Vec<Captured<'static>> {
    GOLDEN
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 7, "malformed golden line: {line}");
            Captured {
                topic: f[1],
                timestamp: f[4].parse().expect("timestamp"),
                key: unhex(f[5]),
                value: unhex(f[6]),
            }
        })
        .collect()
}

fn of_topic(pred: impl Fn(&str) -> bool) -> Vec<Captured<'static>> {
    captured().into_iter().filter(|c| pred(c.topic)).collect()
}

#[test]
fn heartbeats_decode_and_reencode_identically() {
    let records = of_topic(|t| t.ends_with("heartbeats"));
    assert_eq!(records.len(), 9);
    for r in &records {
        let hb = Heartbeat::decode(&r.key, &r.value).expect("golden heartbeat decodes");
        assert_eq!(hb.encode_key().expect("fits"), r.key);
        assert_eq!(hb.encode_value(), r.value);
        assert_eq!(
            hb.timestamp, r.timestamp,
            "MM2 stamps the record with the heartbeat time"
        );
        assert_eq!(r.value.len(), 10);
    }
    let first = Heartbeat::decode(&records[0].key, &records[0].value).expect("decodes");
    assert_eq!(
        first,
        Heartbeat {
            source_cluster_alias: "B".into(),
            target_cluster_alias: "A".into(),
            timestamp: 1_795_684_978_632,
        }
    );
    let b_local = records
        .iter()
        .map(|r| Heartbeat::decode(&r.key, &r.value).expect("decodes"))
        .filter(|h| h.source_cluster_alias == "A")
        .count();
    assert_eq!(
        b_local, 3,
        "the A->B heartbeats written to B's `heartbeats`"
    );
}

#[test]
fn checkpoints_decode_and_reencode_identically() {
    let records = of_topic(|t| t == "A.checkpoints.internal");
    assert_eq!(records.len(), 5);
    let mut decoded = Vec::new();
    for r in &records {
        let c = Checkpoint::decode(&r.key, &r.value).expect("golden checkpoint decodes");
        assert_eq!(c.encode_key().expect("fits"), r.key);
        assert_eq!(c.encode_value().expect("fits"), r.value);
        decoded.push(c);
    }
    assert_eq!(
        decoded[0],
        Checkpoint {
            group: "golden-app".into(),
            topic: "A.golden.orders".into(),
            partition: 1,
            upstream_offset: 17,
            downstream_offset: 1,
            metadata: String::new(),
        },
        "only the 0->0 offset sync existed, so 17 translated to sync.down + 1"
    );
    assert_eq!(decoded[3].group, "golden-meta");
    assert_eq!(
        decoded[3].metadata, "meta-ü-7",
        "source commit metadata, UTF-8"
    );
    assert_eq!(
        (decoded[3].upstream_offset, decoded[3].downstream_offset),
        (7, 1)
    );
    assert_eq!(
        (decoded[4].upstream_offset, decoded[4].downstream_offset),
        (219, 219)
    );
}

#[test]
fn offset_syncs_decode_and_reencode_identically() {
    let records = of_topic(|t| t == "mm2-offset-syncs.B.internal");
    assert_eq!(records.len(), 10);
    let mut decoded = Vec::new();
    for r in &records {
        let s = OffsetSync::decode(&r.key, &r.value).expect("golden offset sync decodes");
        assert_eq!(s.encode_key().expect("fits"), r.key);
        assert_eq!(s.encode_value(), r.value);
        assert_eq!(r.value.len(), 16);
        decoded.push(s);
    }
    assert_eq!(
        decoded[2],
        OffsetSync {
            topic: "heartbeats".into(),
            partition: 0,
            upstream_offset: 0,
            downstream_offset: 0,
        },
        "the upstream topic name, not A.heartbeats"
    );
    assert_eq!(
        decoded[5],
        OffsetSync {
            topic: "golden.orders".into(),
            partition: 1,
            upstream_offset: 202,
            downstream_offset: 202,
        }
    );
}

/// MM2's own offset-syncs, read back into kmirror's history, translate MM2's own checkpoints: on this plain
/// topic (target offsets equal source offsets) consecutive MM2 syncs with equal differences prove exactness,
/// so every checkpointed position lands exactly where MM2's coarser answer only approached.
#[test]
fn mm2_offset_syncs_translate_mm2_checkpoints_exactly() {
    use crate::internal_records::InRecord;
    use crate::offsets::{CheckpointStore, Derivation, SyncHistories, SyncPoint};
    use kmirror_kafka::TopicPartition;

    let histories = SyncHistories::default();
    for r in of_topic(|t| t == "mm2-offset-syncs.B.internal") {
        let s = OffsetSync::decode(&r.key, &r.value).expect("decodes");
        histories.push(
            &TopicPartition::new(s.topic, s.partition),
            SyncPoint {
                source: s.upstream_offset,
                target: s.downstream_offset,
            },
        );
    }
    let records: Vec<InRecord> = of_topic(|t| t == "A.checkpoints.internal")
        .into_iter()
        .enumerate()
        .map(|(i, r)| InRecord {
            offset: i as i64,
            key: Some(r.key.into()),
            value: Some(r.value.into()),
            timestamp: r.timestamp,
        })
        .collect();
    let (store, malformed) = CheckpointStore::from_records(&records);
    assert_eq!(malformed, 0);
    assert_eq!(
        store.len(),
        4,
        "the latest checkpoint per (group, partition)"
    );
    for group in store.groups() {
        for c in store.group(&group) {
            let upstream = TopicPartition::new("golden.orders", c.partition);
            let t = histories
                .translate(&upstream, c.upstream_offset)
                .expect("covered by MM2's syncs");
            assert_eq!(
                (t.offset, t.derivation),
                (c.upstream_offset, Derivation::Exact),
                "{c:?}"
            );
            assert!(t.offset >= c.downstream_offset, "never behind MM2: {c:?}");
        }
    }
}

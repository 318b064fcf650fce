//! Many one-record batches sent at once to several partitions: the producer merges consecutive small batches
//! of a partition and puts several partitions into one request, yet every batch is acknowledged at the exact
//! offsets its records got, and the target holds every record (key, value, headers, timestamp) in order.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::future::join_all;
use kmirror_kafka::TopicPartition;
use kmirror_kafka::batch::{Compression as Codec, Record, RecordHeader, encode_batch};
use kmirror_testkit::{TopicSpec, cluster, create_topic, read_all, unique_topic};

use common::{connect, fetch_batches};

const PARTITIONS: i32 = 3;
const PER_PARTITION: i64 = 200;

fn record(p: i32, i: i64, now: i64) -> Record {
    Record {
        offset: 0,
        // Not monotonic: a merged batch must keep each record's own create time.
        timestamp: now - 60_000 + (i % 17) * 13,
        key: (i % 5 != 0).then(|| Bytes::from(format!("k-{p}-{i}"))),
        value: (i % 7 != 3)
            .then(|| Bytes::from(format!("v-{p}-{i}-{}", "x".repeat((i % 40) as usize)))),
        headers: vec![
            RecordHeader {
                key: Bytes::from_static(b"i"),
                value: Some(Bytes::from(i.to_string())),
            },
            RecordHeader {
                key: Bytes::from_static(b"i"),
                value: None,
            },
        ],
    }
}

#[tokio::test]
async fn small_batches_are_merged_and_acknowledged_exactly() {
    let b = cluster("B");
    let topic = unique_topic("small-batches");
    create_topic(&b.bootstrap, &TopicSpec::new(&topic, PARTITIONS)).await;
    let target = connect(&b).await;
    let producer = target.idempotent_producer().await.expect("producer");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;

    // Interleaved over the partitions, in two codecs (a codec change ends a merge), one record per batch
    // except every 10th batch of three records.
    let mut sent: Vec<(TopicPartition, i64, Vec<Record>)> = Vec::new();
    let mut sends = Vec::new();
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for i in 0..PER_PARTITION {
        for p in 0..PARTITIONS {
            let tp = TopicPartition::new(&topic, p);
            let n = if i % 10 == 9 { 3 } else { 1 };
            let records: Vec<Record> = (0..n).map(|k| record(p, i * 10 + k, now)).collect();
            let codec = if (i / 25) % 2 == 0 {
                Codec::None
            } else {
                Codec::Lz4
            };
            let batch = Bytes::from(encode_batch(&records, codec).expect("encode"));
            let at = next.entry(p).or_default();
            sent.push((tp.clone(), *at, records));
            *at += n;
            sends.push(producer.send_mergeable(tp, batch, 1 << 20));
        }
    }
    let acks = join_all(sends).await;
    for ((tp, expected_base, records), ack) in sent.iter().zip(&acks) {
        let ack = ack.as_ref().unwrap_or_else(|e| panic!("{tp}: {e}"));
        assert_eq!(
            ack.base_offset, *expected_base,
            "{tp}: exact offset of each batch"
        );
        assert_eq!(ack.record_count as usize, records.len());
    }

    // Merged: fewer batches on the target than were sent.
    let sent_batches = PER_PARTITION as usize;
    for p in 0..PARTITIONS {
        let on_target = fetch_batches(&target, &TopicPartition::new(&topic, p), 0).await;
        assert!(
            on_target.len() < sent_batches,
            "partition {p}: {} batches on the target for {sent_batches} sent: nothing was merged",
            on_target.len()
        );
    }

    // Read back with librdkafka: every record at the offset its ack promised, content unchanged.
    let read = read_all(&b.bootstrap, &topic).await;
    let by_position: BTreeMap<(i32, i64), _> =
        read.iter().map(|r| ((r.partition, r.offset), r)).collect();
    assert_eq!(read.len() as i64, next.values().sum::<i64>());
    for (tp, base, records) in &sent {
        for (k, want) in records.iter().enumerate() {
            let got = by_position
                .get(&(tp.partition, base + k as i64))
                .unwrap_or_else(|| panic!("{tp} offset {} missing", base + k as i64));
            assert_eq!(got.key.as_deref(), want.key.as_deref());
            assert_eq!(got.value.as_deref(), want.value.as_deref());
            assert_eq!(got.timestamp, Some(want.timestamp));
            let headers: Vec<(String, Option<Vec<u8>>)> = want
                .headers
                .iter()
                .map(|h| {
                    (
                        String::from_utf8_lossy(&h.key).into_owned(),
                        h.value.as_ref().map(|v| v.to_vec()),
                    )
                })
                .collect();
            assert_eq!(got.headers, headers);
        }
    }
}

//! Batches written by librdkafka on cluster A, fetched raw by this crate and forwarded through
//! `Producer::send` to cluster B, must read back from B (with librdkafka) exactly as on A, at the
//! offsets the acks name.

mod common;

use futures_util::future::join_all;
use kmirror_kafka::TopicPartition;
use kmirror_testkit::{
    Compression, TopicSpec, cluster, create_topic, produce, read_all, unique_topic,
};

use common::{by_partition, connect, fetch_batches, sample_records};

const PARTITIONS: i32 = 3;

async fn forward_one_codec(codec: Compression) {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic(&format!("fwd-{codec:?}").to_lowercase());
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, PARTITIONS)).await;
    create_topic(&b.bootstrap, &TopicSpec::new(&topic, PARTITIONS)).await;
    // Several produce calls, so each partition has several batches.
    for round in 0..4 {
        produce(
            &a.bootstrap,
            &topic,
            &sample_records(PARTITIONS, 60, &format!("r{round}")),
            codec,
        )
        .await;
    }
    let source = connect(&a).await;
    let target = connect(&b).await;
    let producer = target
        .idempotent_producer()
        .await
        .expect("idempotent producer");

    let mut sends = Vec::new();
    let mut batches = Vec::new();
    for p in 0..PARTITIONS {
        let tp = TopicPartition::new(&topic, p);
        let fetched = fetch_batches(&source, &tp, 0).await;
        assert!(
            fetched.len() >= 4,
            "{codec:?}: expected several batches in {tp}, got {}",
            fetched.len()
        );
        for (base, count, bytes) in fetched {
            // All sends are issued before any is awaited: up to 5 in flight per partition, rest queued.
            sends.push(producer.send(tp.clone(), bytes));
            batches.push((p, base, count));
        }
    }
    let acks = join_all(sends).await;

    let a_records = read_all(&a.bootstrap, &topic).await;
    let b_records = read_all(&b.bootstrap, &topic).await;
    let a_parts = by_partition(&a_records);
    let b_parts = by_partition(&b_records);
    assert_eq!(
        a_records.len(),
        b_records.len(),
        "{codec:?}: record count differs"
    );
    for (p, a_list) in &a_parts {
        let b_list = b_parts
            .get(p)
            .unwrap_or_else(|| panic!("{codec:?}: partition {p} empty on B"));
        let a_content: Vec<_> = a_list.iter().map(|r| r.content()).collect();
        let b_content: Vec<_> = b_list.iter().map(|r| r.content()).collect();
        assert_eq!(a_content, b_content, "{codec:?}: partition {p} differs");
    }

    // Each ack names where its batch landed: record i of the batch is at base_offset + i on B.
    let mut last_base = std::collections::HashMap::new();
    for ((p, src_base, count), ack) in batches.iter().zip(acks) {
        let ack = ack.unwrap_or_else(|e| panic!("{codec:?}: send failed: {e}"));
        assert_eq!(ack.record_count, *count);
        if let Some(prev) = last_base.insert(*p, ack.base_offset) {
            assert!(
                ack.base_offset > prev,
                "{codec:?}: acks out of call order in partition {p}"
            );
        }
        let a_list = &a_parts[p];
        let b_list = &b_parts[p];
        for i in 0..*count as i64 {
            let src = a_list
                .iter()
                .find(|r| r.offset == src_base + i)
                .expect("source record");
            let dst = b_list
                .iter()
                .find(|r| r.offset == ack.base_offset + i)
                .unwrap_or_else(|| panic!("{codec:?}: no record at {} on B", ack.base_offset + i));
            assert_eq!(
                src.content(),
                dst.content(),
                "{codec:?}: ack offset of batch {src_base} in {p} is wrong"
            );
        }
    }
}

#[tokio::test]
async fn forward_uncompressed() {
    forward_one_codec(Compression::None).await;
}

#[tokio::test]
async fn forward_gzip() {
    forward_one_codec(Compression::Gzip).await;
}

#[tokio::test]
async fn forward_snappy() {
    forward_one_codec(Compression::Snappy).await;
}

#[tokio::test]
async fn forward_lz4() {
    forward_one_codec(Compression::Lz4).await;
}

#[tokio::test]
async fn forward_zstd() {
    forward_one_codec(Compression::Zstd).await;
}

//! Restarting the target broker in the middle of a long forwarding run loses nothing and duplicates
//! nothing: every send is acknowledged once, at the offset where its records really are.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::future::join_all;
use kmirror_kafka::batch::{ProducerStamp, stamp_for_produce};
use kmirror_kafka::protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kmirror_kafka::protocol::messages::{ProduceRequest, TopicName};
use kmirror_kafka::protocol::protocol::StrBytes;
use kmirror_kafka::{Client, Route, TopicPartition};
use kmirror_testkit::{
    Compression, TopicSpec, cluster, create_topic, produce, read_all, unique_topic,
};

use common::{by_partition, connect, fetch_batches, init_tracing, sample_records};

const PARTITIONS: i32 = 2;
const ROUNDS: usize = 60;

/// Both restarts in one test: they must not overlap, and each has its own topic.
#[tokio::test]
async fn target_restart_mid_produce_loses_and_duplicates_nothing() {
    init_tracing();
    // A clean stop: the broker answers what it can, then snapshots producer state (last batch only).
    forward_across_restart(false).await;
    // SIGKILL: in-flight requests end with unknown outcome; the broker recovers its log on start.
    forward_across_restart(true).await;
    // Batches written but never acknowledged, then a clean restart that makes the broker forget all but
    // the last of them.
    resolve_batches_written_before_a_clean_restart().await;
}

/// Writes `batch` stamped exactly as the producer will stamp it, as if the producer had sent it and the
/// answer had been lost.
async fn write_as_producer(
    target: &Client,
    tp: &TopicPartition,
    batch: &Bytes,
    stamp: ProducerStamp,
) -> i64 {
    let mut bytes = BytesMut::from(&batch[..]);
    stamp_for_produce(&mut bytes, stamp).expect("stamp");
    let route = Route::Leader(tp.clone());
    let version = target
        .version_for::<ProduceRequest>(&route)
        .await
        .expect("version");
    let mut topic = TopicProduceData::default();
    if version >= 13 {
        topic.topic_id = target.cached_metadata().topics[&tp.topic].topic_id;
    } else {
        topic.name = TopicName(StrBytes::from_string(tp.topic.clone()));
    }
    topic.partition_data = vec![
        PartitionProduceData::default()
            .with_index(tp.partition)
            .with_records(Some(bytes.freeze())),
    ];
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![topic]);
    let resp = target.send_to(route, req).await.expect("produce");
    let part = &resp.responses[0].partition_responses[0];
    assert_eq!(part.error_code, 0, "writing a stamped batch");
    part.base_offset
}

async fn resolve_batches_written_before_a_clean_restart() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("restart-resolve");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 1)).await;
    create_topic(&b.bootstrap, &TopicSpec::new(&topic, 1)).await;
    for round in 0..6 {
        produce(
            &a.bootstrap,
            &topic,
            &sample_records(1, 30, &format!("r{round}")),
            Compression::Zstd,
        )
        .await;
    }
    let tp = TopicPartition::new(&topic, 0);
    let source = connect(&a).await;
    let batches = fetch_batches(&source, &tp, 0).await;
    assert!(
        batches.len() >= 5,
        "need several batches, got {}",
        batches.len()
    );
    let target = connect(&b).await;
    let producer = target.idempotent_producer().await.expect("producer");
    let (pid, epoch) = producer.producer_id();

    // The first three batches land, stamped with sequences 0, c0, c0+c1, but "their answers are lost".
    let mut sequence = 0;
    let mut landed = Vec::new();
    for (_, count, bytes) in batches.iter().take(3) {
        let stamp = ProducerStamp {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: sequence,
        };
        landed.push(write_as_producer(&target, &tp, bytes, stamp).await);
        sequence += count;
    }
    b.stop();
    b.start();

    // The producer now sends everything; its first batches hit OUT_OF_ORDER_SEQUENCE, because the
    // restarted broker remembers only the third.
    let sends: Vec<_> = batches
        .iter()
        .map(|(_, _, bytes)| producer.send(tp.clone(), bytes.clone()))
        .collect();
    let acks: Vec<_> = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("send failed: {e}")))
        .collect();
    for (i, offset) in landed.iter().enumerate() {
        assert_eq!(
            acks[i].base_offset, *offset,
            "batch {i} acknowledged at the wrong offset"
        );
    }
    let a_records = read_all(&a.bootstrap, &topic).await;
    let b_records = read_all(&b.bootstrap, &topic).await;
    let a_content: Vec<_> = a_records.iter().map(|r| r.content()).collect();
    let b_content: Vec<_> = b_records.iter().map(|r| r.content()).collect();
    assert_eq!(b_content, a_content, "records lost or duplicated");
    for (ack, (src_base, count, _)) in acks.iter().zip(&batches) {
        for i in 0..*count as i64 {
            let src = a_records
                .iter()
                .find(|r| r.offset == src_base + i)
                .expect("source");
            let dst = b_records
                .iter()
                .find(|r| r.offset == ack.base_offset + i)
                .expect("target");
            assert_eq!(src.content(), dst.content());
        }
    }
}

async fn forward_across_restart(kill: bool) {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic(if kill { "restart-kill" } else { "restart-stop" });
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, PARTITIONS)).await;
    create_topic(&b.bootstrap, &TopicSpec::new(&topic, PARTITIONS)).await;
    for round in 0..5 {
        produce(
            &a.bootstrap,
            &topic,
            &sample_records(PARTITIONS, 40, &format!("r{round}")),
            Compression::Lz4,
        )
        .await;
    }
    let source = connect(&a).await;
    let mut per_partition = Vec::new();
    for p in 0..PARTITIONS {
        let tp = TopicPartition::new(&topic, p);
        per_partition.push((tp.clone(), fetch_batches(&source, &tp, 0).await));
    }
    let target = connect(&b).await;
    let producer = target.idempotent_producer().await.expect("producer");

    // The same source batches are forwarded ROUNDS times, in bursts, so B must end up holding A's
    // partition content ROUNDS times over, in order.
    let acked = Arc::new(AtomicUsize::new(0));
    let total: usize = ROUNDS * per_partition.iter().map(|(_, b)| b.len()).sum::<usize>();
    let forwarder = {
        let acked = acked.clone();
        let per_partition = per_partition.clone();
        tokio::spawn(async move {
            let mut pending = Vec::new();
            for _ in 0..ROUNDS {
                for (tp, batches) in &per_partition {
                    for (_, count, bytes) in batches {
                        let acked = acked.clone();
                        let send = producer.send(tp.clone(), bytes.clone());
                        let count = *count;
                        pending.push(tokio::spawn(async move {
                            let r = send.await;
                            acked.fetch_add(1, Ordering::SeqCst);
                            r.map(|ack| (ack, count))
                        }));
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            join_all(pending).await
        })
    };
    while acked.load(Ordering::SeqCst) < total / 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let b2 = b.clone();
    tokio::task::spawn_blocking(move || if kill { b2.kill() } else { b2.stop() })
        .await
        .expect("stop B");
    let acked_while_down = acked.load(Ordering::SeqCst);
    assert!(
        acked_while_down < total,
        "the forwarding run ended before broker B went down; the test proves nothing"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let b2 = b.clone();
    tokio::task::spawn_blocking(move || b2.start())
        .await
        .expect("start B");

    let results = forwarder.await.expect("forwarder");
    let mut acks = Vec::new();
    for r in results {
        let r = r.expect("send task");
        acks.push(r.unwrap_or_else(|e| panic!("a send failed across the restart: {e}")));
    }
    assert_eq!(acks.len(), total);

    let a_parts_owned = read_all(&a.bootstrap, &topic).await;
    let b_records = read_all(&b.bootstrap, &topic).await;
    let a_parts = by_partition(&a_parts_owned);
    let b_parts = by_partition(&b_records);
    for (p, a_list) in &a_parts {
        let b_list = &b_parts[p];
        assert_eq!(
            b_list.len(),
            a_list.len() * ROUNDS,
            "partition {p}: records lost or duplicated"
        );
        for (i, rec) in b_list.iter().enumerate() {
            assert_eq!(
                rec.content(),
                a_list[i % a_list.len()].content(),
                "partition {p}, B record {i}"
            );
        }
    }
    // Every ack's base offset is where its batch really is, and no two acks overlap.
    let mut seen = std::collections::HashSet::new();
    let mut idx = 0;
    for _ in 0..ROUNDS {
        for (tp, batches) in &per_partition {
            for (src_base, count, _) in batches {
                let (ack, acked_count) = &acks[idx];
                idx += 1;
                assert_eq!((ack.record_count, *acked_count), (*count, *count));
                for i in 0..*count as i64 {
                    assert!(
                        seen.insert((tp.partition, ack.base_offset + i)),
                        "{tp} offset {} acked twice",
                        ack.base_offset + i
                    );
                }
                let a_list = &a_parts[&tp.partition];
                let b_list = &b_parts[&tp.partition];
                for i in 0..*count as i64 {
                    let src = a_list
                        .iter()
                        .find(|r| r.offset == src_base + i)
                        .expect("source record");
                    let dst = b_list
                        .iter()
                        .find(|r| r.offset == ack.base_offset + i)
                        .unwrap_or_else(|| {
                            panic!("no record at {} in {tp} on B", ack.base_offset + i)
                        });
                    assert_eq!(
                        src.content(),
                        dst.content(),
                        "ack for batch {src_base} of {tp} names the wrong offset"
                    );
                }
            }
        }
    }
}

//! Restarting the target broker in the middle of a long forwarding run loses nothing and duplicates
//! nothing: every send is acknowledged once, at the offset where its records really are.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use kmirror_kafka::TopicPartition;
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

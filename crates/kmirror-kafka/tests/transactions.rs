//! read_committed filtering against real transactions: librdkafka writes committed and aborted
//! transactions on A; this crate fetches read_committed (bytes plus the aborted list), drops what `AbortedFilter` says is aborted or
//! a marker, forwards the rest to B, and B must hold exactly what a read_committed reader sees on A.

mod common;

use std::time::Duration;

use kmirror_kafka::{
    AbortedFilter, BatchKind, FetchPartition, FetchRequest, Isolation, TopicPartition,
};
use kmirror_testkit::{
    Compression, ProducedRecord, TopicSpec, cluster, create_topic, produce, read_all, unique_name,
    unique_topic,
};
use rdkafka::ClientConfig as RdConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

use common::{by_partition, connect};

fn write_transactions(bootstrap: &str, topic: &str) {
    let producer: BaseProducer = RdConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", unique_name("kmirror-txn-test"))
        .set("linger.ms", "1")
        .create()
        .expect("transactional producer");
    let t = Duration::from_secs(30);
    producer.init_transactions(t).expect("init transactions");
    for (i, outcome) in ["commit", "abort", "commit", "abort", "abort", "commit"]
        .iter()
        .enumerate()
    {
        producer.begin_transaction().expect("begin");
        for j in 0..5 {
            let value = format!("{outcome}-{i}-{j}");
            let key = format!("k{j}");
            producer
                .send(BaseRecord::to(topic).partition(0).key(&key).payload(&value))
                .map_err(|(e, _)| e)
                .expect("send");
            producer.flush(t).expect("flush");
        }
        if *outcome == "commit" {
            producer.commit_transaction(t).expect("commit");
        } else {
            producer.abort_transaction(t).expect("abort");
        }
    }
}

#[tokio::test]
async fn aborted_transactions_are_filtered_like_a_read_committed_consumer() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("txn");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 1)).await;
    create_topic(&b.bootstrap, &TopicSpec::new(&topic, 1)).await;
    let (bootstrap, t) = (a.bootstrap.clone(), topic.clone());
    tokio::task::spawn_blocking(move || write_transactions(&bootstrap, &t))
        .await
        .expect("writer");
    // A plain record last: the testkit reader stops at the last offset below the end, which must not
    // be a transaction marker.
    let tail = ProducedRecord {
        value: Some(b"tail".to_vec()),
        ..Default::default()
    };
    produce(&a.bootstrap, &topic, &[tail], Compression::None).await;

    let source = connect(&a).await;
    let target = connect(&b).await;
    let producer = target.idempotent_producer().await.expect("producer");
    let tp = TopicPartition::new(&topic, 0);
    let (mut offset, mut kinds, mut aborted_seen) = (0, Vec::new(), 0);
    loop {
        let mut req = FetchRequest::new(vec![FetchPartition {
            tp: tp.clone(),
            offset,
            max_bytes: 64 * 1024,
        }]);
        req.isolation = Isolation::ReadCommitted;
        let data = source
            .fetch(&req)
            .await
            .expect("fetch")
            .remove(0)
            .result
            .expect("data");
        aborted_seen += data.aborted_transactions.len();
        let mut filter = AbortedFilter::new(&data.aborted_transactions);
        for batch in data.batches() {
            let (h, bytes) = batch.expect("batch");
            offset = h.next_offset();
            let kind = filter.classify(&h, &bytes);
            kinds.push(kind);
            if kind == BatchKind::Data {
                producer.send(tp.clone(), bytes).await.expect("forward");
            }
        }
        assert_eq!(
            data.last_stable_offset, data.high_watermark,
            "no transaction is open"
        );
        if data.high_watermark >= 0 && offset >= data.high_watermark {
            break;
        }
    }
    assert!(
        aborted_seen >= 3,
        "the broker should list the aborted transactions, saw {aborted_seen}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == BatchKind::Control).count(),
        6,
        "{kinds:?}"
    );
    assert!(kinds.contains(&BatchKind::Aborted), "{kinds:?}");

    let committed = read_all(&a.bootstrap, &topic).await;
    let forwarded = read_all(&b.bootstrap, &topic).await;
    let values = |r: &[kmirror_testkit::ReadRecord]| -> Vec<String> {
        r.iter()
            .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
            .collect()
    };
    assert_eq!(
        values(&committed).len(),
        16,
        "librdkafka reader sees the three committed transactions"
    );
    assert!(
        values(&committed)
            .iter()
            .all(|v| v.starts_with("commit") || v == "tail")
    );
    assert_eq!(values(&forwarded), values(&committed));
    let (a_parts, b_parts) = (by_partition(&committed), by_partition(&forwarded));
    let content = |v: &Vec<&kmirror_testkit::ReadRecord>| {
        v.iter()
            .map(|r| (r.key.clone(), r.value.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(content(&a_parts[&0]), content(&b_parts[&0]));
}

//! A batch the target refuses fails alone with a clear error, the batches sent after it are cancelled
//! (not written), and the producer carries on with new sends.

mod common;

use bytes::Bytes;
use futures_util::future::join_all;
use kmirror_kafka::protocol::error::ResponseError;
use kmirror_kafka::{Error, TopicPartition};
use kmirror_testkit::{
    Compression, ProducedRecord, TopicSpec, cluster, create_topic, produce, read_all, unique_topic,
};

use common::{connect, fetch_batches};

fn record(value_len: usize, tag: &str) -> ProducedRecord {
    ProducedRecord {
        key: Some(tag.as_bytes().to_vec()),
        value: Some(vec![b'v'; value_len]),
        ..Default::default()
    }
}

#[tokio::test]
async fn refused_batch_fails_alone_and_cancels_the_ones_after_it() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("refused");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 1)).await;
    create_topic(
        &b.bootstrap,
        &TopicSpec::new(&topic, 1).config("max.message.bytes", "2000"),
    )
    .await;
    for (len, tag) in [
        (10, "small0"),
        (6000, "big"),
        (10, "small1"),
        (10, "small2"),
    ] {
        produce(&a.bootstrap, &topic, &[record(len, tag)], Compression::None).await;
    }
    let tp = TopicPartition::new(&topic, 0);
    let source = connect(&a).await;
    let batches: Vec<Bytes> = fetch_batches(&source, &tp, 0)
        .await
        .into_iter()
        .map(|(_, _, b)| b)
        .collect();
    assert_eq!(batches.len(), 4);
    let target = connect(&b).await;
    let producer = target.idempotent_producer().await.expect("producer");

    let results = join_all(batches.iter().map(|b| producer.send(tp.clone(), b.clone()))).await;
    let first = results[0].as_ref().expect("small0 is written");
    assert_eq!(first.base_offset, 0);
    match &results[1] {
        Err(
            e @ Error::Kafka {
                code: ResponseError::MessageTooLarge,
                ..
            },
        ) => {
            assert!(!e.is_retriable());
            let text = e.to_string();
            assert!(
                text.contains(&tp.to_string()) && text.contains("max.message.bytes"),
                "{text}"
            );
        }
        other => panic!("the big batch must be refused as too large, got {other:?}"),
    }
    for r in &results[2..] {
        assert!(
            matches!(
                r,
                Err(Error::ProduceCancelled {
                    maybe_written: false,
                    ..
                })
            ),
            "batches after the refused one are cancelled, got {r:?}"
        );
    }
    // New sends work, and land right after the last written batch.
    let again = producer
        .send(tp.clone(), batches[2].clone())
        .await
        .expect("small1 again");
    assert_eq!(again.base_offset, 1);
    let keys: Vec<_> = read_all(&b.bootstrap, &topic)
        .await
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(
        keys,
        vec![Some(b"small0".to_vec()), Some(b"small1".to_vec())]
    );

    // Bytes that are not one whole batch are refused before anything is sent.
    let cut = batches[0].slice(..batches[0].len() - 3);
    let err = producer
        .send(tp.clone(), cut)
        .await
        .expect_err("truncated batch");
    assert!(matches!(err, Error::InvalidBatch { .. }), "{err:?}");
}

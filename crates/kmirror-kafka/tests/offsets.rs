//! ListOffsets, out-of-range fetches and unknown topics.

mod common;

use kmirror_kafka::{Error, FetchPartition, FetchRequest, OffsetSpec, TopicPartition};
use kmirror_testkit::{
    Compression, ProducedRecord, TopicSpec, cluster, create_topic, kafka_tool, produce,
    unique_topic,
};

use common::connect;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

#[tokio::test]
async fn list_offsets_earliest_latest_and_by_timestamp() {
    let a = cluster("A");
    let topic = unique_topic("offsets");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    let t0 = now_ms() - 100_000;
    let records: Vec<ProducedRecord> = (0..10)
        .map(|i| ProducedRecord {
            partition: 0,
            value: Some(format!("v{i}").into_bytes()),
            timestamp: Some(t0 + i * 1000),
            ..Default::default()
        })
        .collect();
    produce(&a.bootstrap, &topic, &records, Compression::None).await;
    let client = connect(&a).await;
    let p0 = TopicPartition::new(&topic, 0);
    let p1 = TopicPartition::new(&topic, 1);
    let both = [p0.clone(), p1.clone()];

    let earliest = client
        .list_offsets(&both, OffsetSpec::Earliest)
        .await
        .expect("earliest");
    let latest = client
        .list_offsets(&both, OffsetSpec::Latest)
        .await
        .expect("latest");
    let offsets = |r: &[(TopicPartition, Result<kmirror_kafka::ListedOffset, Error>)]| -> Vec<i64> {
        r.iter()
            .map(|(_, o)| o.as_ref().expect("listed").offset)
            .collect()
    };
    assert_eq!(offsets(&earliest), vec![0, 0]);
    assert_eq!(offsets(&latest), vec![10, 0]);
    assert_eq!(earliest[0].0, p0, "results keep the order asked for");

    let at = client
        .list_offsets(std::slice::from_ref(&p0), OffsetSpec::Timestamp(t0 + 5000))
        .await
        .expect("by time");
    let listed = at[0].1.as_ref().expect("listed");
    assert_eq!((listed.offset, listed.timestamp), (5, t0 + 5000));
    let between = client
        .list_offsets(std::slice::from_ref(&p0), OffsetSpec::Timestamp(t0 + 4500))
        .await
        .expect("by time");
    assert_eq!(between[0].1.as_ref().expect("listed").offset, 5);
    let future = client
        .list_offsets(
            std::slice::from_ref(&p0),
            OffsetSpec::Timestamp(now_ms() + 3_600_000),
        )
        .await
        .expect("future");
    assert_eq!(future[0].1.as_ref().expect("listed").offset, -1);

    // Raise the log start, then fetch below it and past the end.
    let offsets_json =
        format!(r#"{{"partitions":[{{"topic":"{topic}","partition":0,"offset":3}}],"version":1}}"#);
    let file = std::env::temp_dir().join(format!("{topic}-delete.json"));
    std::fs::write(&file, offsets_json).expect("write json");
    let out = kafka_tool(
        "org.apache.kafka.tools.DeleteRecordsCommand",
        &[
            "--bootstrap-server",
            &a.bootstrap,
            "--offset-json-file",
            file.to_str().expect("utf8"),
        ],
    );
    assert!(out.success, "delete-records: {}", out.stderr);
    let earliest = client
        .list_offsets(std::slice::from_ref(&p0), OffsetSpec::Earliest)
        .await
        .expect("earliest");
    assert_eq!(earliest[0].1.as_ref().expect("listed").offset, 3);

    for offset in [1, 11] {
        let req = FetchRequest::new(vec![FetchPartition {
            tp: p0.clone(),
            offset,
            max_bytes: 1 << 20,
        }]);
        let res = client.fetch(&req).await.expect("fetch");
        match &res[0].result {
            Err(Error::OffsetOutOfRange {
                tp,
                offset: o,
                log_start,
                log_end,
            }) => {
                assert_eq!((tp, *o, *log_start, *log_end), (&p0, offset, 3, 10));
            }
            other => panic!("offset {offset}: expected OffsetOutOfRange, got {other:?}"),
        }
    }
    // A fetch in range still works, and returns log start and high watermark.
    let req = FetchRequest::new(vec![FetchPartition {
        tp: p0.clone(),
        offset: 3,
        max_bytes: 1 << 20,
    }]);
    let data = client
        .fetch(&req)
        .await
        .expect("fetch")
        .remove(0)
        .result
        .expect("data");
    assert_eq!(
        (
            data.log_start_offset,
            data.high_watermark,
            data.last_stable_offset
        ),
        (3, 10, 10)
    );
    assert!(!data.records.is_empty());
}

#[tokio::test]
async fn unknown_topic_and_partition_are_reported() {
    let a = cluster("A");
    let topic = unique_topic("known");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 1)).await;
    let client = connect(&a).await;
    let missing = TopicPartition::new(unique_topic("never-created"), 0);
    let no_such_partition = TopicPartition::new(&topic, 5);
    for tp in [&missing, &no_such_partition] {
        let req = FetchRequest::new(vec![FetchPartition {
            tp: tp.clone(),
            offset: 0,
            max_bytes: 1024,
        }]);
        let res = client.fetch(&req).await.expect("fetch");
        assert!(
            matches!(&res[0].result, Err(Error::UnknownTopicOrPartition { tp: t }) if t == tp),
            "{tp}: {:?}",
            res[0].result
        );
        let listed = client
            .list_offsets(std::slice::from_ref(tp), OffsetSpec::Latest)
            .await
            .expect("list");
        let err = listed[0].1.as_ref().expect_err("unknown");
        assert!(
            matches!(err, Error::UnknownTopicOrPartition { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(&tp.to_string()), "{err}");
    }
    // Mixed requests: the known partition is served, the unknown one reported.
    let req = FetchRequest::new(vec![
        FetchPartition {
            tp: TopicPartition::new(&topic, 0),
            offset: 0,
            max_bytes: 1024,
        },
        FetchPartition {
            tp: missing.clone(),
            offset: 0,
            max_bytes: 1024,
        },
    ]);
    let res = client.fetch(&req).await.expect("fetch");
    assert!(res[0].result.is_ok(), "{:?}", res[0].result);
    assert!(res[1].result.is_err());
}

//! S8: the target broker restarts in the middle of a copy. A test binary of its own, so that stopping the
//! broker cannot disturb other tests (cargo runs test binaries one after another).

mod support;

use std::time::Duration;

use kmirror_testkit::{
    Compression, ProducedRecord, TopicSpec, cluster, create_topic, produce, recent_timestamp,
    unique_name, unique_topic,
};
use support::{Mirror, assert_same_records, mm2_properties, record_total, tail, wait_for_records};

#[tokio::test(flavor = "multi_thread")]
async fn target_broker_restart_mid_copy_loses_and_duplicates_nothing() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("brokerbounce");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 3)).await;
    let total = 150_000usize;
    let records: Vec<ProducedRecord> = (0..total)
        .map(|i| ProducedRecord {
            partition: (i % 3) as i32,
            key: Some(format!("k{i}").into_bytes()),
            value: Some(format!("value-{i}-{}", "x".repeat(200)).into_bytes()),
            headers: vec![("i".into(), Some(i.to_string().into_bytes()))],
            timestamp: Some(recent_timestamp() + i as i64),
        })
        .collect();
    for chunk in records.chunks(25_000) {
        produce(&a.bootstrap, &topic, chunk, Compression::Lz4).await;
    }
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let props = mm2_properties(
        &src,
        &dst,
        &format!(
            "{src}->{dst}.enabled = true\n{src}->{dst}.topics = {topic}\n\
             replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n"
        ),
    );
    let mirror = Mirror::start(&props);
    // Wait for the copy to be under way, then restart the target broker under it.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while record_total(&b.bootstrap, &topic).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the copy never started:\n{}",
            mirror.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bounced = b.clone();
    tokio::task::spawn_blocking(move || {
        bounced.stop();
        std::thread::sleep(Duration::from_secs(2));
        bounced.start();
    })
    .await
    .expect("broker restarted");
    wait_for_records(
        &mirror,
        &b.bootstrap,
        &topic,
        total as i64,
        Duration::from_secs(180),
    )
    .await;
    assert_same_records(&a.bootstrap, &topic, &b.bootstrap, &topic).await;

    // SIGTERM while the target is gone: kmirror stops without waiting out its whole grace period for
    // acknowledgements that cannot come, says so, and a restart (target back) copies the rest exactly.
    b.kill();
    // Whatever happens below, later test binaries need B running again.
    let mut restart_b = support::StartOnDrop(Some(b.clone()));
    let more: Vec<ProducedRecord> = (0..5_000i32)
        .map(|i| ProducedRecord {
            partition: i % 3,
            key: Some(format!("late{i}").into_bytes()),
            value: Some(format!("late-{i}").into_bytes()),
            headers: Vec::new(),
            timestamp: Some(recent_timestamp() + i as i64),
        })
        .collect();
    produce(&a.bootstrap, &topic, &more, Compression::Lz4).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut mirror = mirror;
    assert_eq!(mirror.stop(), Some(0), "{}", tail(&mirror.log_text(), 20));
    assert!(
        mirror
            .log_text()
            .contains("flow stopped without waiting for the target any longer"),
        "the stop says what was not acknowledged:\n{}",
        tail(&mirror.log_text(), 20)
    );
    let back = restart_b.0.take();
    tokio::task::spawn_blocking(move || back.map(|c| c.start()))
        .await
        .expect("broker started");
    mirror.restart();
    wait_for_records(
        &mirror,
        &b.bootstrap,
        &topic,
        (total + 5_000) as i64,
        Duration::from_secs(180),
    )
    .await;
    assert_same_records(&a.bootstrap, &topic, &b.bootstrap, &topic).await;
}

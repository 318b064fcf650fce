//! End to end: the `kmirror` binary replicating between the two local clusters, checked with librdkafka and
//! Kafka's Java tools (never with kmirror's own reader). Scenarios S1, S4, S6, S7 and S8 of the design notes.

mod support;

use std::time::Duration;

use kmirror_testkit::{
    Compression, ProducedRecord, TopicSpec, cluster, create_topic, kafka_tool, produce, read_all,
    recent_timestamp, unique_name, unique_topic,
};
use support::{
    Mirror, assert_same_records, free_port, http_get, mm2_properties, plain_records, record_total,
    tail, wait_for_records,
};

const WAIT: Duration = Duration::from_secs(120);

fn records(n: usize, partitions: i32, tag: &str) -> Vec<ProducedRecord> {
    (0..n)
        .map(|i| ProducedRecord {
            partition: (i % partitions as usize) as i32,
            key: (i % 11 != 0).then(|| format!("{tag}-key-{i}").into_bytes()),
            value: (i % 13 != 0)
                .then(|| format!("{tag}-value-{i}-{}", "v".repeat(i % 300)).into_bytes()),
            headers: vec![
                ("n".to_string(), Some(i.to_string().into_bytes())),
                ("tag".to_string(), Some(tag.as_bytes().to_vec())),
                ("nothing".to_string(), None),
            ],
            timestamp: Some(recent_timestamp() + (i as i64) * 7),
        })
        .collect()
}

fn topic_config(bootstrap: &str, topic: &str) -> String {
    let out = kafka_tool(
        "configs",
        &[
            "--bootstrap-server",
            bootstrap,
            "--entity-type",
            "topics",
            "--entity-name",
            topic,
            "--describe",
        ],
    );
    assert!(out.success, "describing {topic}: {}", out.stderr);
    out.stdout
}

/// S1: identity naming, every codec, headers, null keys and values, timestamps (LogAppendTime topics
/// included), partition count and topic configs; internal topics never copied even when the filter names them.
#[tokio::test(flavor = "multi_thread")]
async fn identity_flow_copies_records_partitions_and_configs_in_every_codec() {
    let (a, b) = (cluster("A"), cluster("B"));
    let prefix = unique_name("s1x");
    let mut topics = Vec::new();
    for codec in Compression::ALL {
        let topic = format!("{prefix}-{codec:?}").to_lowercase();
        let spec = TopicSpec::new(&topic, 3)
            .config("retention.ms", "987654321")
            .config("min.insync.replicas", "1");
        create_topic(&a.bootstrap, &spec).await;
        produce(&a.bootstrap, &topic, &records(600, 3, &topic), codec).await;
        topics.push(topic);
    }
    // On a LogAppendTime topic consumers see the broker's append time, not the producer's create time;
    // the target (CreateTime, as MM2's config filter leaves it) must show the same times.
    let log_append = format!("{prefix}-logappendtime");
    create_topic(
        &a.bootstrap,
        &TopicSpec::new(&log_append, 2)
            .config("message.timestamp.type", "LogAppendTime")
            .config("retention.ms", "987654321")
            .config("min.insync.replicas", "1"),
    )
    .await;
    let produced = records(400, 2, &log_append);
    produce(&a.bootstrap, &log_append, &produced, Compression::Lz4).await;
    let seen = read_all(&a.bootstrap, &log_append).await;
    let create_times: std::collections::HashSet<_> = produced.iter().map(|r| r.timestamp).collect();
    assert!(
        seen.iter()
            .filter(|r| create_times.contains(&r.timestamp))
            .count()
            < seen.len() / 2,
        "{log_append}: the source should show append times, not the produced create times"
    );
    topics.push(log_append);
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let props = mm2_properties(
        &src,
        &dst,
        &format!(
            "{src}->{dst}.enabled = true\n{src}->{dst}.topics = {prefix}.*, __consumer_offsets, __transaction_state\n\
             replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n\
             kmirror.http.listen = 127.0.0.1:0\n"
        ),
    );
    let mirror = Mirror::start(&props);
    for topic in &topics {
        let expected = if topic.ends_with("logappendtime") {
            400
        } else {
            600
        };
        wait_for_records(&mirror, &b.bootstrap, topic, expected, WAIT).await;
        assert_same_records(&a.bootstrap, topic, &b.bootstrap, topic).await;
        let config = topic_config(&b.bootstrap, topic);
        assert!(
            config.contains("retention.ms=987654321"),
            "{topic} configs on the target:\n{config}"
        );
        assert!(
            config.contains("min.insync.replicas=1"),
            "{topic} configs on the target:\n{config}"
        );
    }
    let log = mirror.log_text();
    assert!(
        !log.contains("__consumer_offsets-0"),
        "internal topics must never be copied:\n{}",
        tail(&log, 40)
    );
}

/// S1/S6: topics created and partitions added on the source while kmirror runs are followed, and new records
/// keep flowing; default naming prefixes the source alias.
/// A fresh flow (its internal topics and remote topics created just now) and topics and partitions added while
/// it runs are used once they exist, never mistaken for missing: no restart backoff, no error in the log.
#[tokio::test(flavor = "multi_thread")]
async fn new_topics_and_added_partitions_are_followed() {
    let (a, b) = (cluster("A"), cluster("B"));
    let prefix = unique_name("grow");
    let first = format!("{prefix}-first");
    create_topic(&a.bootstrap, &TopicSpec::new(&first, 2)).await;
    produce(
        &a.bootstrap,
        &first,
        &records(100, 2, "first"),
        Compression::Lz4,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let props = mm2_properties(
        &src,
        &dst,
        &format!(
            "{src}->{dst}.enabled = true\n{src}->{dst}.topics = {prefix}.*\nrefresh.topics.interval.seconds = 2\n"
        ),
    );
    let mirror = Mirror::start(&props);
    let remote_first = format!("{src}.{first}");
    wait_for_records(&mirror, &b.bootstrap, &remote_first, 100, WAIT).await;

    let second = format!("{prefix}-second");
    create_topic(&a.bootstrap, &TopicSpec::new(&second, 1)).await;
    produce(
        &a.bootstrap,
        &second,
        &records(50, 1, "second"),
        Compression::Zstd,
    )
    .await;
    let grown = kafka_tool(
        "topics",
        &[
            "--bootstrap-server",
            &a.bootstrap,
            "--alter",
            "--topic",
            &first,
            "--partitions",
            "4",
        ],
    );
    assert!(grown.success, "{}", grown.stderr);
    produce(
        &a.bootstrap,
        &first,
        &records(80, 4, "after-growth"),
        Compression::Snappy,
    )
    .await;

    wait_for_records(&mirror, &b.bootstrap, &format!("{src}.{second}"), 50, WAIT).await;
    wait_for_records(&mirror, &b.bootstrap, &remote_first, 180, WAIT).await;
    assert_no_startup_race(&mirror.log_text());
    assert_same_records(&a.bootstrap, &first, &b.bootstrap, &remote_first).await;
    assert_same_records(
        &a.bootstrap,
        &second,
        &b.bootstrap,
        &format!("{src}.{second}"),
    )
    .await;
}

/// A fresh flow over many new topics: kmirror creates its internal topics and 300 remote topics (three
/// CreateTopics requests) and starts every partition at once; each is used only once the brokers' metadata
/// shows it. Before kmirror waited for that, partitions of this flow failed as "does not exist" and sat out a
/// 10 s restart backoff.
#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_flow_over_many_new_topics_starts_without_errors_or_restarts() {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    const TOPICS: usize = 300;
    let (a, b) = (cluster("A"), cluster("B"));
    let prefix = unique_name("many");
    let names: Vec<String> = (0..TOPICS).map(|i| format!("{prefix}-{i}")).collect();
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &a.bootstrap)
        .create()
        .expect("admin client");
    let new: Vec<NewTopic> = names
        .iter()
        .map(|n| NewTopic::new(n, 1, TopicReplication::Fixed(1)))
        .collect();
    let created = admin
        .create_topics(&new, &AdminOptions::new().operation_timeout(Some(WAIT)))
        .await
        .expect("create topics");
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    let (first, last) = (&names[0], &names[TOPICS - 1]);
    for topic in [first, last] {
        produce(
            &a.bootstrap,
            topic,
            &plain_records(3, 1, topic),
            Compression::None,
        )
        .await;
    }
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let props = mm2_properties(
        &src,
        &dst,
        &format!("{src}->{dst}.enabled = true\n{src}->{dst}.topics = {prefix}-.*\n"),
    );
    let mirror = Mirror::start(&props);
    for topic in [first, last] {
        wait_for_records(&mirror, &b.bootstrap, &format!("{src}.{topic}"), 3, WAIT).await;
    }
    assert_no_startup_race(&mirror.log_text());
}

/// Nothing kmirror created was taken for missing: no error, no restart, no "gone" topic.
fn assert_no_startup_race(log: &str) {
    let raced: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("ERROR")
                || l.contains("retrying in")
                || l.contains("restarting in")
                || l.contains("does not exist")
                || l.contains("is gone from the target")
                || l.contains("has no partitions")
        })
        .collect();
    assert!(
        raced.is_empty(),
        "a topic kmirror created was used before it appeared:\n{}",
        raced.join("\n")
    );
}

/// S4: A->B and B->A with the default policy: each side gets the other's records under the prefixed name,
/// nothing ever cycles back (no `x.y.topic`), heartbeats flow both ways.
#[tokio::test(flavor = "multi_thread")]
async fn active_active_replicates_both_ways_without_cycles() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("orders");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    create_topic(&b.bootstrap, &TopicSpec::new(&topic, 2)).await;
    produce(
        &a.bootstrap,
        &topic,
        &records(120, 2, "from-a"),
        Compression::Lz4,
    )
    .await;
    produce(
        &b.bootstrap,
        &topic,
        &records(90, 2, "from-b"),
        Compression::Gzip,
    )
    .await;
    let (x, y) = (unique_name("x"), unique_name("y"));
    let props = mm2_properties(
        &x,
        &y,
        &format!(
            "{x}->{y}.enabled = true\n{x}->{y}.topics = {topic}, .*{topic}, heartbeats\n\
             {y}->{x}.enabled = true\n{y}->{x}.topics = {topic}, .*{topic}, heartbeats\n\
             refresh.topics.interval.seconds = 2\n"
        ),
    );
    let mirror = Mirror::start(&props);
    wait_for_records(&mirror, &b.bootstrap, &format!("{x}.{topic}"), 120, WAIT).await;
    wait_for_records(&mirror, &a.bootstrap, &format!("{y}.{topic}"), 90, WAIT).await;
    assert_same_records(&a.bootstrap, &topic, &b.bootstrap, &format!("{x}.{topic}")).await;
    assert_same_records(&b.bootstrap, &topic, &a.bootstrap, &format!("{y}.{topic}")).await;
    // Give a cycle every chance to appear, then look for one on both clusters.
    tokio::time::sleep(Duration::from_secs(6)).await;
    for c in [&a, &b] {
        let listing = kafka_tool("topics", &["--bootstrap-server", &c.bootstrap, "--list"]);
        let cycled: Vec<&str> = listing
            .stdout
            .lines()
            .filter(|t| t.contains(&format!("{x}.{y}.")) || t.contains(&format!("{y}.{x}.")))
            .collect();
        assert!(cycled.is_empty(), "cycle on {}: {cycled:?}", c.name);
    }
    assert!(
        record_total(&b.bootstrap, &format!("{x}.heartbeats")).await > 0,
        "A's heartbeats reach B"
    );
    assert!(
        record_total(&a.bootstrap, &format!("{y}.heartbeats")).await > 0,
        "B's heartbeats reach A"
    );
}

/// S7: kill -9 in the middle of a large copy, restart: every record exactly once, in order.
#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_copy_then_restart_loses_and_duplicates_nothing() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("crash");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 4)).await;
    let total = 120_000;
    for chunk in incompressible_records(total, 4, "crash").chunks(20_000) {
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
    // Kill at growing delays after each start (kmirror copies this backlog in well under a second, too fast
    // to catch by watching the target); whenever a round finished the copy first, add more backlog.
    let mut total = total as i64;
    let mut mirror = Mirror::start(&props);
    let mut mid_copy_kills = 0;
    for round in 0..10u64 {
        tokio::time::sleep(Duration::from_millis(150 + 150 * round)).await;
        mirror.kill();
        let n = record_total(&b.bootstrap, &topic).await;
        if n > 0 && n < total {
            mid_copy_kills += 1;
            if mid_copy_kills >= 2 {
                break;
            }
        } else if n >= total {
            let more = incompressible_records(60_000, 4, &format!("crash-more-{round}"));
            produce(&a.bootstrap, &topic, &more, Compression::Lz4).await;
            total += 60_000;
        }
        mirror.restart();
    }
    if !mirror.is_running() {
        mirror.restart();
    }
    assert!(mid_copy_kills > 0, "no kill landed in the middle of a copy");
    wait_for_records(&mirror, &b.bootstrap, &topic, total, WAIT).await;
    assert_same_records(&a.bootstrap, &topic, &b.bootstrap, &topic).await;
}

/// Records with 1 KiB of pseudo-random value each: compression cannot shrink them, so copying takes long
/// enough to be interrupted.
fn incompressible_records(n: usize, partitions: i32, tag: &str) -> Vec<ProducedRecord> {
    incompressible_records_of(n, partitions, tag, 1024)
}

/// `records` with values of `size` pseudo-random bytes, which no codec can shrink.
fn incompressible_records_of(
    n: usize,
    partitions: i32,
    tag: &str,
    size: usize,
) -> Vec<ProducedRecord> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ tag.len() as u64;
    records(n, partitions, tag)
        .into_iter()
        .map(|mut r| {
            let value: Vec<u8> = (0..size)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    (state >> 56) as u8
                })
                .collect();
            r.value = Some(value);
            r
        })
        .collect()
}

/// SIGTERM drains and commits; a restart copies only what is new.
#[tokio::test(flavor = "multi_thread")]
async fn graceful_stop_commits_progress_and_restart_copies_only_new_records() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("graceful");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    produce(
        &a.bootstrap,
        &topic,
        &records(500, 2, "one"),
        Compression::None,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let props = mm2_properties(
        &src,
        &dst,
        &format!("{src}->{dst}.enabled = true\n{src}->{dst}.topics = {topic}\n"),
    );
    let mut mirror = Mirror::start(&props);
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 500, WAIT).await;
    assert_eq!(
        mirror.stop(),
        Some(0),
        "graceful stop exits 0; log:\n{}",
        tail(&mirror.log_text(), 30)
    );
    produce(
        &a.bootstrap,
        &topic,
        &records(300, 2, "two"),
        Compression::Zstd,
    )
    .await;
    mirror.restart();
    wait_for_records(&mirror, &b.bootstrap, &remote, 800, WAIT).await;
    assert_same_records(&a.bootstrap, &topic, &b.bootstrap, &remote).await;
}

/// S8: a target topic holding records kmirror did not write is refused with a message naming it and the
/// remedy; the status view shows it; a source topic deleted mid-flight stops only its own partitions; the
/// other topics keep replicating.
#[tokio::test(flavor = "multi_thread")]
async fn foreign_target_data_and_deleted_source_topics_do_not_stop_other_topics() {
    let (a, b) = (cluster("A"), cluster("B"));
    let prefix = unique_name("s8x");
    let (good, foreign, doomed) = (
        format!("{prefix}-good"),
        format!("{prefix}-foreign"),
        format!("{prefix}-doomed"),
    );
    for t in [&good, &foreign, &doomed] {
        create_topic(&a.bootstrap, &TopicSpec::new(t, 1)).await;
        produce(&a.bootstrap, t, &records(200, 1, t), Compression::Lz4).await;
    }
    // The target already has a same-named topic with data of its own (identity naming).
    create_topic(&b.bootstrap, &TopicSpec::new(&foreign, 1)).await;
    produce(
        &b.bootstrap,
        &foreign,
        &records(7, 1, "someone-else"),
        Compression::None,
    )
    .await;

    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let port = 20000 + (std::process::id() % 20000) as u16;
    let props = mm2_properties(
        &src,
        &dst,
        &format!(
            "{src}->{dst}.enabled = true\n{src}->{dst}.topics = {prefix}.*\nrefresh.topics.interval.seconds = 2\n\
             replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n\
             kmirror.http.listen = 127.0.0.1:{port}\n"
        ),
    );
    let mirror = Mirror::start(&props);
    wait_for_records(&mirror, &b.bootstrap, &good, 200, WAIT).await;
    wait_for_records(&mirror, &b.bootstrap, &doomed, 200, WAIT).await;

    let deleted = kafka_tool(
        "topics",
        &[
            "--bootstrap-server",
            &a.bootstrap,
            "--delete",
            "--topic",
            &doomed,
        ],
    );
    assert!(deleted.success, "{}", deleted.stderr);
    produce(
        &a.bootstrap,
        &good,
        &records(100, 1, "more"),
        Compression::Lz4,
    )
    .await;
    wait_for_records(&mirror, &b.bootstrap, &good, 300, WAIT).await;
    assert_same_records(&a.bootstrap, &good, &b.bootstrap, &good).await;
    assert_eq!(
        record_total(&b.bootstrap, &doomed).await,
        200,
        "the copy of a deleted source topic is kept"
    );

    let foreign_on_b = read_all(&b.bootstrap, &foreign).await;
    assert_eq!(
        foreign_on_b.len(),
        7,
        "nothing is mixed into a topic with foreign data"
    );
    let log = mirror.log_text();
    assert!(
        log.contains(&foreign) && log.contains("kmirror.existing.target.data"),
        "the refusal names the topic and the remedy:\n{}",
        tail(&log, 40)
    );
    let status = http_get(port, "/status");
    assert!(
        status.contains(&foreign) && status.contains("did not write"),
        "status shows the refusal: {status}"
    );
    let metrics = http_get(port, "/metrics");
    for name in [
        "kmirror_records_total",
        "kmirror_bytes_total",
        "kmirror_lag_records",
        "kmirror_replication_latency_ms",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }
    assert!(
        metrics.contains(&format!("topic=\"{good}\"")),
        "per-partition metrics name the topic:\n{metrics}"
    );
}

/// S8: an unreachable cluster and a wrong password are reported clearly, by name, while the healthy flow runs.
#[tokio::test(flavor = "multi_thread")]
async fn unreachable_cluster_and_wrong_password_do_not_stop_the_healthy_flow() {
    let (a, b) = (cluster("A"), cluster("B"));
    let sasl_port = a
        .sasl_bootstrap
        .clone()
        .expect("scripts/test starts the clusters with --auth scram");
    let user = a.sasl.clone().expect("SASL user").username;
    let topic = unique_topic("healthy");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    produce(
        &a.bootstrap,
        &topic,
        &records(300, 2, "healthy"),
        Compression::Lz4,
    )
    .await;
    let (src, dst, gone, locked) = (
        unique_name("src"),
        unique_name("dst"),
        unique_name("gone"),
        unique_name("locked"),
    );
    let props = format!(
        "clusters = {src}, {dst}, {gone}, {locked}\n{src}.bootstrap.servers = {}\n{dst}.bootstrap.servers = {}\n\
         {gone}.bootstrap.servers = 127.0.0.1:9\n{locked}.bootstrap.servers = {sasl_port}\n\
         {locked}.security.protocol = SASL_PLAINTEXT\n{locked}.sasl.mechanism = SCRAM-SHA-512\n\
         {locked}.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required \
         username=\"{user}\" password=\"not-the-password\";\n\
         {src}->{dst}.enabled = true\n{src}->{dst}.topics = {topic}\n\
         {src}->{gone}.enabled = true\n{src}->{gone}.topics = {topic}\n\
         {src}->{locked}.enabled = true\n{src}->{locked}.topics = {topic}\n\
         emit.heartbeats.enabled = false\nreplication.factor = 1\n",
        a.bootstrap, b.bootstrap
    );
    let mut mirror = Mirror::start(&props);
    wait_for_records(&mirror, &b.bootstrap, &format!("{src}.{topic}"), 300, WAIT).await;
    assert_same_records(
        &a.bootstrap,
        &topic,
        &b.bootstrap,
        &format!("{src}.{topic}"),
    )
    .await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let log = mirror.log_text();
        let unreachable =
            log.contains(&gone) && log.contains("127.0.0.1:9") && log.contains("bootstrap.servers");
        let refused = log.contains(&locked)
            && log.contains("authentication failed")
            && log.contains(&user)
            && log.contains("SCRAM-SHA-512");
        if unreachable && refused {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected clear errors for the unreachable cluster and the wrong password:\n{}",
            tail(&log, 40)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        mirror.is_running(),
        "kmirror keeps running with a broken flow"
    );
    assert_eq!(mirror.stop(), Some(0));
}

/// Writes transactions to `topic` with librdkafka's transactional producer: `outcomes[i]` says whether
/// transaction i (5 records over 2 partitions) commits. Returns how many records were committed.
fn write_transactions(bootstrap: &str, topic: &str, outcomes: &[bool]) -> usize {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", unique_name("kmirror-e2e-txn"))
        .set("linger.ms", "1")
        .create()
        .expect("transactional producer");
    let t = Duration::from_secs(30);
    producer.init_transactions(t).expect("init transactions");
    let mut committed = 0;
    for (i, commit) in outcomes.iter().enumerate() {
        producer.begin_transaction().expect("begin");
        for j in 0..5 {
            let value = format!(
                "txn-{i}-{j}-{}",
                if *commit { "committed" } else { "aborted" }
            );
            producer
                .send(
                    BaseRecord::to(topic)
                        .partition(j % 2)
                        .key("k")
                        .payload(&value),
                )
                .map_err(|(e, _)| e)
                .expect("send");
        }
        producer.flush(t).expect("flush");
        if *commit {
            producer.commit_transaction(t).expect("commit");
            committed += 5;
        } else {
            producer.abort_transaction(t).expect("abort");
        }
    }
    committed
}

/// Transactions on the source: committed records arrive, aborted ones and transaction markers never do, so
/// every reader of the target (read_committed or not) sees what a read_committed reader of the source sees.
#[tokio::test(flavor = "multi_thread")]
async fn aborted_transactions_and_markers_are_not_copied() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("txn");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    let outcomes = [true, false, true, true, false, false, true];
    let bootstrap = a.bootstrap.clone();
    let t = topic.clone();
    let committed =
        tokio::task::spawn_blocking(move || write_transactions(&bootstrap, &t, &outcomes))
            .await
            .expect("transactions written");
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let port = free_port();
    let props = mm2_properties(
        &src,
        &dst,
        &format!(
            "{src}->{dst}.enabled = true\n{src}->{dst}.topics = {topic}\n\
             kmirror.http.listen = 127.0.0.1:{port}\n"
        ),
    );
    let mirror = Mirror::start(&props);
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, committed as i64, WAIT).await;
    let on_b = read_all(&b.bootstrap, &remote).await;
    assert_eq!(on_b.len(), committed, "exactly the committed records");
    assert!(
        on_b.iter().all(|r| r
            .value
            .as_deref()
            .is_some_and(|v| v.ends_with(b"committed"))),
        "no aborted record on the target"
    );
    assert_same_records(&a.bootstrap, &topic, &b.bootstrap, &remote).await;
    // Each partition ends with a transaction marker, which is not copied: the copy is still complete, and
    // /status must not show the partitions a record behind.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let body = http_get(port, "/status");
        let json: serde_json::Value = body
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or_default();
        let lags: Vec<(i64, i64, i64)> = json["partitions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["source_topic"] == topic.as_str())
            .map(|p| {
                let n = |k: &str| p[k].as_i64().unwrap_or(-1);
                (
                    n("lag_records"),
                    n("next_source_offset"),
                    n("source_end_offset"),
                )
            })
            .collect();
        let summary = json["topics"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["source_topic"] == topic.as_str())
            .map(|t| {
                (
                    t["lag_records"].as_i64(),
                    t["percent_copied"].as_f64(),
                    t["eta_seconds"].as_f64(),
                )
            });
        // The flow is not behind in time either (the end-to-end lag operators are asked about).
        let behind: Vec<f64> = json["flow_lag"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["lag_seconds"].as_f64())
            .collect();
        if lags.len() == 2
            && lags.iter().all(|(lag, next, end)| *lag == 0 && next == end)
            && summary == Some((Some(0), Some(100.0), Some(0.0)))
            && behind == [0.0]
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "partitions of {topic} on /status (lag, next, end): {lags:?}, topic: {summary:?}, \
             flow lag (s): {behind:?}\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// S8: a record larger than the target topic accepts stops only its partition, with a message naming the
/// topic, the offset and the setting to change; everything before it is copied, other partitions go on.
#[tokio::test(flavor = "multi_thread")]
async fn a_record_larger_than_the_target_allows_stops_only_its_partition_with_a_clear_error() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("toolarge");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    // The target topic exists already (empty) with a much smaller limit.
    create_topic(
        &b.bootstrap,
        &TopicSpec::new(&topic, 2).config("max.message.bytes", "20000"),
    )
    .await;
    let mut recs = records(40, 2, "small");
    recs.push(ProducedRecord {
        partition: 0,
        key: Some(b"big".to_vec()),
        value: Some(vec![b'x'; 100_000]),
        headers: vec![],
        timestamp: Some(recent_timestamp()),
    });
    recs.extend(
        records(10, 1, "after")
            .into_iter()
            .map(|r| ProducedRecord { partition: 1, ..r }),
    );
    produce(&a.bootstrap, &topic, &recs, Compression::None).await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let props = mm2_properties(
        &src,
        &dst,
        &format!(
            "{src}->{dst}.enabled = true\n{src}->{dst}.topics = {topic}\n\
             config.properties.exclude = max\\.message\\.bytes\n\
             replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n"
        ),
    );
    let mirror = Mirror::start(&props);
    // Partition 1 (30 records) completes; partition 0 gets its 20 small records and stops at the big one.
    wait_for_records(&mirror, &b.bootstrap, &topic, 50, WAIT).await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let log = mirror.log_text();
        if log.contains(&format!("{topic}-0")) && log.contains("max.message.bytes") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no clear error for the oversized record:\n{}",
            tail(&log, 30)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let on_b = read_all(&b.bootstrap, &topic).await;
    let on_a = read_all(&a.bootstrap, &topic).await;
    let expected: Vec<_> = on_a
        .iter()
        .filter(|r| r.key.as_deref() != Some(b"big".as_slice()))
        .collect();
    assert_eq!(
        on_b.len(),
        expected.len(),
        "everything but the oversized record is copied, nothing twice"
    );
    for (x, y) in expected.iter().zip(&on_b) {
        assert_eq!(x.content(), y.content());
    }
}

/// MM2 suite item 54 and S5: the source reached over SASL_SSL with SCRAM-SHA-512 as a non-super user and the
/// target over its TLS-only listener, both configured the way an `mm2.properties` does (PEM truststore).
#[tokio::test(flavor = "multi_thread")]
async fn scram_over_tls_source_and_tls_target_from_mm2_properties() {
    let (a, b) = (cluster("A"), cluster("B"));
    let creds = a
        .sasl
        .clone()
        .expect("scripts/test starts the clusters with --auth scram");
    let tls = a
        .tls
        .clone()
        .expect("scripts/test starts the clusters with --tls");
    let source_listener = a
        .sasl_tls_bootstrap
        .clone()
        .expect("SASL_SSL listener on A");
    let target_listener = b.tls_bootstrap.clone().expect("SSL listener on B");
    let topic = unique_topic("secured");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 3)).await;
    produce(
        &a.bootstrap,
        &topic,
        &records(900, 3, &topic),
        Compression::Zstd,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let ca = tls.ca.display();
    let props = format!(
        "clusters = {src}, {dst}\n\
         {src}.bootstrap.servers = {source_listener}\n{src}.security.protocol = SASL_SSL\n\
         {src}.sasl.mechanism = SCRAM-SHA-512\n\
         {src}.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required \
         username=\"{}\" password=\"{}\";\n\
         {src}.ssl.truststore.location = {ca}\n{src}.ssl.truststore.type = PEM\n\
         {dst}.bootstrap.servers = {target_listener}\n{dst}.security.protocol = SSL\n\
         {dst}.ssl.truststore.location = {ca}\n{dst}.ssl.truststore.type = PEM\n\
         {src}->{dst}.enabled = true\n{src}->{dst}.topics = {topic}\n\
         heartbeats.replication.enabled = false\nreplication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\noffset.storage.replication.factor = 1\n",
        creds.username, creds.password
    );
    let mirror = Mirror::start_with_env(&props, &[("KMIRROR_LOG_FORMAT", "json")]);
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 900, WAIT).await;
    assert_same_records(&a.bootstrap, &topic, &b.bootstrap, &remote).await;
    // The log (JSON lines, debug level) never shows the password.
    let log = mirror.log_text();
    assert!(
        !log.contains(&creds.password),
        "the SASL password is in the log"
    );
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not a JSON log line: {line}");
    }
}

/// MM2 suite item 9: with the source consumer's `auto.offset.reset = latest`, a partition kmirror has never
/// copied starts at the source's end: the records written before the start never reach the target, every
/// record written afterwards does, in order.
#[tokio::test(flavor = "multi_thread")]
async fn auto_offset_reset_latest_copies_only_records_written_after_the_start() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("latest");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 1)).await;
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(200, 1, "old"),
        Compression::Lz4,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let props = mm2_properties(
        &src,
        &dst,
        &format!(
            "{src}->{dst}.enabled = true\n{src}->{dst}.topics = {topic}\n\
             {src}.consumer.auto.offset.reset = latest\nrefresh.topics.interval.seconds = 1\n"
        ),
    );
    let mirror = Mirror::start(&props);
    let remote = format!("{src}.{topic}");
    // Once the partition has started, records written now are copied: write markers until one arrives.
    let deadline = std::time::Instant::now() + WAIT;
    let mut markers = 0;
    while record_total(&b.bootstrap, &remote).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing reached {remote}; kmirror log:\n{}",
            tail(&mirror.log_text(), 40)
        );
        let marker = plain_records(1, 1, &format!("marker{markers}"));
        produce(&a.bootstrap, &topic, &marker, Compression::None).await;
        markers += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(300, 1, "new"),
        Compression::Lz4,
    )
    .await;
    let source = read_all(&a.bootstrap, &topic).await;
    assert_eq!(source.len(), 200 + markers + 300);
    let newest = source.last().map(|r| r.value.clone());
    let deadline = std::time::Instant::now() + WAIT;
    let target = loop {
        let target = read_all(&b.bootstrap, &remote).await;
        if target.last().map(|r| r.value.clone()) == newest {
            break target;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the last record never reached {remote}; kmirror log:\n{}",
            tail(&mirror.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // The target is exactly the source's tail, starting at one of the markers: no record written before
    // the start, every one written after it.
    let copied_from = source.len() - target.len().min(source.len());
    assert!(
        (200..200 + markers).contains(&copied_from),
        "{remote} holds {} records; the copy must start at one of the {markers} markers (source offsets 200..)",
        target.len()
    );
    support::compare(&source[copied_from..], &target, &topic, &remote);
}

/// MM2 suite notes §4 (large records are never tested there): records of 900 KB, close to the default 1 MB
/// limit of the brokers, are copied in every codec, each one its own batch.
#[tokio::test(flavor = "multi_thread")]
async fn records_close_to_the_default_size_limit_are_copied_in_every_codec() {
    let (a, b) = (cluster("A"), cluster("B"));
    let prefix = unique_name("big");
    let mut topics = Vec::new();
    for codec in Compression::ALL {
        let topic = format!("{prefix}-{codec:?}").to_lowercase();
        create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
        let big = incompressible_records_of(6, 2, &topic, 900_000);
        produce(&a.bootstrap, &topic, &big, codec).await;
        topics.push(topic);
    }
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let props = mm2_properties(
        &src,
        &dst,
        &format!("{src}->{dst}.enabled = true\n{src}->{dst}.topics = {prefix}.*\n"),
    );
    let mirror = Mirror::start(&props);
    for topic in &topics {
        let remote = format!("{src}.{topic}");
        wait_for_records(&mirror, &b.bootstrap, &remote, 6, WAIT).await;
        assert_same_records(&a.bootstrap, topic, &b.bootstrap, &remote).await;
    }
}

/// MM2 suite item 20 through `kmirror run`: heartbeats are on by default and follow `emit.heartbeats.enabled`
/// per flow: of two flows in one file, the one switched off writes none. Read with MM2's HeartbeatFormatter.
#[tokio::test(flavor = "multi_thread")]
async fn heartbeats_follow_emit_heartbeats_enabled_per_flow() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("hb");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 1)).await;
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(50, 1, "hb"),
        Compression::None,
    )
    .await;
    let (on, off, dst) = (
        unique_name("hbon"),
        unique_name("hboff"),
        unique_name("dst"),
    );
    let props = format!(
        "clusters = {on}, {off}, {dst}\n{on}.bootstrap.servers = {a}\n{off}.bootstrap.servers = {a}\n\
         {dst}.bootstrap.servers = {b}\n\
         {on}->{dst}.enabled = true\n{on}->{dst}.topics = {topic}\n\
         {off}->{dst}.enabled = true\n{off}->{dst}.topics = {topic}\n{off}->{dst}.emit.heartbeats.enabled = false\n\
         emit.heartbeats.interval.seconds = 1\nheartbeats.replication.enabled = false\nreplication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\noffset.storage.replication.factor = 1\n",
        a = a.bootstrap,
        b = b.bootstrap
    );
    let mirror = Mirror::start(&props);
    wait_for_records(&mirror, &b.bootstrap, &format!("{on}.{topic}"), 50, WAIT).await;
    wait_for_records(&mirror, &b.bootstrap, &format!("{off}.{topic}"), 50, WAIT).await;
    // Heartbeats keep arriving, so the console consumer would never go idle: read exactly what is there.
    let heartbeats = |count: i64| {
        let count = count.to_string();
        kafka_tool(
            "console-consumer",
            &[
                "--bootstrap-server",
                &b.bootstrap,
                "--topic",
                "heartbeats",
                "--partition",
                "0",
                "--offset",
                "earliest",
                "--max-messages",
                &count,
                "--timeout-ms",
                "10000",
                "--formatter",
                "org.apache.kafka.connect.mirror.formatters.HeartbeatFormatter",
            ],
        )
        .stdout
    };
    let from = |alias: &str| format!("sourceClusterAlias={alias}, targetClusterAlias={dst}");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let seen = heartbeats(record_total(&b.bootstrap, "heartbeats").await);
        if seen.matches(&from(&on)).count() >= 3 {
            assert!(
                !seen.contains(&from(&off)),
                "the flow with emit.heartbeats.enabled = false wrote heartbeats"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no heartbeats from {on} on B; kmirror log:\n{}",
            tail(&mirror.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `records` all on one partition.
fn records_on(n: usize, partition: i32, tag: &str) -> Vec<ProducedRecord> {
    records(n, 1, tag)
        .into_iter()
        .map(|r| ProducedRecord { partition, ..r })
        .collect()
}

/// End offset of one partition (0 while the topic does not exist).
async fn partition_end(bootstrap: &str, topic: &str, partition: i32) -> i64 {
    let b = bootstrap.to_string();
    let t = topic.to_string();
    match tokio::spawn(async move { kmirror_testkit::topic_end_offsets(&b, &t).await }).await {
        Ok(parts) => parts
            .iter()
            .find(|(p, _, _)| *p == partition)
            .map_or(0, |(_, _, hi)| *hi),
        Err(_) => 0,
    }
}

/// Polls `check` every 500 ms until it holds, failing with kmirror's log after `WAIT`.
async fn wait_until<F, Fut>(mirror: &Mirror, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; kmirror log:\n{}",
            tail(&mirror.log_text(), 60)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn is_foreign(r: &kmirror_testkit::ReadRecord) -> bool {
    r.headers
        .iter()
        .any(|(k, v)| k == "tag" && v.as_deref().is_some_and(|v| v.starts_with(b"foreign")))
}

/// S9: an application writes into a mirrored target partition while kmirror is stopped, and again while it
/// runs. kmirror never skips a source record because of it: each time the partition stops with an error naming
/// it (log, /status, metrics) while the other partition keeps flowing, and once told to append, every source
/// record reaches the target exactly once, in order, around the foreign ones (kmirror's own records written
/// after its last commit are recognised by their producer id, not counted).
#[tokio::test(flavor = "multi_thread")]
async fn foreign_writes_into_the_target_stop_the_partition_and_never_skip_a_source_record() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("s9");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    produce(
        &a.bootstrap,
        &topic,
        &records(300, 2, "first"),
        Compression::Lz4,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let port = free_port();
    let flow = format!(
        "{src}->{dst}.enabled = true\n{src}->{dst}.topics = {topic}\nrefresh.topics.interval.seconds = 1\n\
         replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n\
         kmirror.http.listen = 127.0.0.1:{port}\n"
    );
    let mut mirror = Mirror::start(&mm2_properties(&src, &dst, &flow));
    wait_for_records(&mirror, &b.bootstrap, &topic, 300, WAIT).await;
    assert_eq!(mirror.stop(), Some(0), "{}", tail(&mirror.log_text(), 30));

    // While kmirror is stopped, an application that failed over early writes into partition 0 on B, and the
    // source moves on.
    produce(
        &b.bootstrap,
        &topic,
        &records_on(40, 0, "foreign-stopped"),
        Compression::None,
    )
    .await;
    produce(
        &a.bootstrap,
        &topic,
        &records(200, 2, "second"),
        Compression::Lz4,
    )
    .await;
    mirror.restart();
    wait_until(&mirror, "partition 1 to catch up", || {
        let (bootstrap, topic) = (b.bootstrap.clone(), topic.clone());
        async move { partition_end(&bootstrap, &topic, 1).await == 250 }
    })
    .await;
    wait_until(&mirror, "partition 0 to be refused", || {
        let log = mirror.log_text();
        async move { log.contains("kmirror did not write after its last copied record") }
    })
    .await;
    assert_eq!(
        partition_end(&b.bootstrap, &topic, 0).await,
        190,
        "nothing is copied after the foreign records (150 mirrored + 40 foreign)"
    );
    let log = mirror.log_text();
    assert!(
        log.contains(&format!("{topic}-0"))
            && log.contains("offsets 150..=189")
            && log.contains("kmirror.existing.target.data = append"),
        "the error names the partition, the foreign offsets and the remedy:\n{}",
        tail(&log, 40)
    );
    assert!(
        !log.contains('\x1b'),
        "a log written to a file has no colour escape codes"
    );
    let status = http_get(port, "/status");
    assert!(
        status.contains("did not write"),
        "status shows the refusal: {status}"
    );
    let metrics = http_get(port, "/metrics");
    assert!(
        support::metric_value(
            &metrics,
            "kmirror_errors_total",
            &["foreign_target_records"]
        )
        .is_some_and(|v| v >= 1.0),
        "the refusal is counted:\n{metrics}"
    );

    // While kmirror runs, someone writes into partition 1 on B; the next source records show the gap.
    produce(
        &b.bootstrap,
        &topic,
        &records_on(5, 1, "foreign-running"),
        Compression::None,
    )
    .await;
    produce(
        &a.bootstrap,
        &topic,
        &records_on(100, 1, "third"),
        Compression::Lz4,
    )
    .await;
    wait_until(
        &mirror,
        "the foreign records on partition 1 to be noticed",
        || {
            let log = mirror.log_text();
            async move { log.contains("appeared on target partition") }
        },
    )
    .await;
    let metrics = http_get(port, "/metrics");
    assert!(
        support::metric_value(
            &metrics,
            "kmirror_foreign_target_records_total",
            &[&format!("topic=\"{topic}\""), "partition=\"1\""]
        ) == Some(5.0),
        "the 5 foreign records are counted:\n{metrics}"
    );
    let source = read_all(&a.bootstrap, &topic).await;
    let target = read_all(&b.bootstrap, &topic).await;
    for p in 0..2 {
        let mirrored: Vec<_> = target
            .iter()
            .filter(|r| r.partition == p && !is_foreign(r))
            .collect();
        let on_source: Vec<_> = source.iter().filter(|r| r.partition == p).collect();
        assert!(mirrored.len() <= on_source.len());
        for (x, y) in on_source.iter().zip(&mirrored) {
            assert_eq!(
                x.content(),
                y.content(),
                "partition {p}: the target is a prefix of the source, nothing skipped"
            );
        }
    }

    // Told to append after foreign data, kmirror copies the rest: every source record exactly once, in order.
    assert_eq!(mirror.stop(), Some(0), "{}", tail(&mirror.log_text(), 30));
    let appended = format!("{flow}kmirror.existing.target.data = append\n");
    std::fs::write(&mirror.config, mm2_properties(&src, &dst, &appended)).expect("rewrite config");
    mirror.restart();
    wait_for_records(&mirror, &b.bootstrap, &topic, 600 + 45, WAIT).await;
    let source = read_all(&a.bootstrap, &topic).await;
    let target = read_all(&b.bootstrap, &topic).await;
    assert_eq!(target.iter().filter(|r| is_foreign(r)).count(), 45);
    let mirrored: Vec<_> = target.into_iter().filter(|r| !is_foreign(r)).collect();
    support::compare(&source, &mirrored, &topic, &topic);
}

/// MM2's `refresh.topics.enabled = false` in the path that runs: the topics found at start keep being copied (new
/// records included), a topic created later is not picked up.
#[tokio::test(flavor = "multi_thread")]
async fn refresh_topics_disabled_copies_only_the_topics_found_at_start() {
    let (a, b) = (cluster("A"), cluster("B"));
    let prefix = unique_name("norefresh");
    let (first, later) = (format!("{prefix}-first"), format!("{prefix}-later"));
    create_topic(&a.bootstrap, &TopicSpec::new(&first, 1)).await;
    produce(
        &a.bootstrap,
        &first,
        &records(100, 1, "n1"),
        Compression::Lz4,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let props = mm2_properties(
        &src,
        &dst,
        &format!(
            "{src}->{dst}.enabled = true\n{src}->{dst}.topics = {prefix}-.*\n\
             refresh.topics.enabled = false\nrefresh.topics.interval.seconds = 1\n\
             replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n"
        ),
    );
    let mirror = Mirror::start(&props);
    wait_for_records(&mirror, &b.bootstrap, &first, 100, WAIT).await;
    create_topic(&a.bootstrap, &TopicSpec::new(&later, 1)).await;
    produce(
        &a.bootstrap,
        &later,
        &records(50, 1, "n2"),
        Compression::Lz4,
    )
    .await;
    produce(
        &a.bootstrap,
        &first,
        &records(50, 1, "n3"),
        Compression::Lz4,
    )
    .await;
    wait_for_records(&mirror, &b.bootstrap, &first, 150, WAIT).await;
    // With refreshing on, the new topic would be found within a second.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        record_total(&b.bootstrap, &later).await,
        0,
        "a topic created after the start is not copied when refreshing is off"
    );
}

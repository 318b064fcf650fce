//! End to end: consumer groups moving from A to B through kmirror's checkpoints and group-offset sync, checked
//! only with Kafka's Java tools (console consumer, consumer-groups) and librdkafka. A group that consumed part
//! of a topic on A must, on B, read exactly the records it had not consumed: none skipped, none repeated —
//! on plain topics, compacted topics with gaps, and topics with transaction markers and aborted transactions.
//! Scenarios S1, S2 and S6 of the design notes; MM2 test-suite items 31-42.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kmirror_testkit::{
    Compression, ProducedRecord, ReadRecord, TopicSpec, Transaction, cluster, create_topic,
    kafka_tool, produce, produce_transactions, read_all, unique_name, unique_topic,
};
use support::checkpoints::checkpoints_via_java;
use support::groups::{Consumed, committed, consume, state};
use support::{
    Mirror, free_port, http_get, metric_value, mm2_properties, plain_records, record_total,
    run_kmirror, tail, wait_for_records,
};

const WAIT: Duration = Duration::from_secs(180);

fn text(b: &Option<Vec<u8>>) -> String {
    b.as_deref()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| "null".into())
}

/// Properties of a flow `src->dst` copying `topics` and syncing groups matching `groups` every second.
fn flow_properties(src: &str, dst: &str, topics: &str, groups: &str, extra: &str) -> String {
    mm2_properties(
        src,
        dst,
        &format!(
            "{src}->{dst}.enabled = true\n{src}->{dst}.topics = {topics}\n{src}->{dst}.groups = {groups}\n\
             emit.checkpoints.interval.seconds = 1\nsync.group.offsets.interval.seconds = 1\n\
             refresh.groups.interval.seconds = 1\nrefresh.topics.interval.seconds = 1\n{extra}"
        ),
    )
}

/// What a group moved from A to B reads on B, compared with what it had left on A.
#[derive(Debug, Default)]
struct Moved {
    consumed_on_source: usize,
    remaining_on_source: usize,
    read_on_target: usize,
    skipped: usize,
    repeated: usize,
}

/// The group has consumed part of `topic` on A and committed. Waits until its offsets on B are exactly where
/// an independent count says they must be (the number of A's readable records below its A offset, per
/// partition), then reads on B with the same group and compares with what remained on A.
async fn check_moved_group(
    mirror: &Mirror,
    topic: &str,
    remote: &str,
    group: &str,
    partitions: i32,
) -> Moved {
    let (a, b) = (cluster("A"), cluster("B"));
    let on_a = committed(&a.bootstrap, group, topic);
    assert_eq!(
        on_a.len(),
        partitions as usize,
        "the group must have committed on every partition of {topic} on A: {on_a:?}"
    );
    let records: Vec<ReadRecord> = read_all(&a.bootstrap, topic).await;
    let mut expected: BTreeMap<i32, i64> = (0..partitions).map(|p| (p, 0)).collect();
    let mut remaining: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let mut consumed = 0;
    for r in &records {
        if r.offset < on_a[&r.partition] {
            *expected.entry(r.partition).or_default() += 1;
            consumed += 1;
        } else {
            remaining
                .entry(r.partition)
                .or_default()
                .push(text(&r.value));
        }
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let on_b = committed(&b.bootstrap, group, remote);
        if on_b == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "group {group} on B: {on_b:?}, expected {expected:?} (A: {on_a:?}); kmirror log:\n{}",
            tail(&mirror.log_text(), 60)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let read: Vec<Consumed> = consume(&b.bootstrap, remote, group, None, 8000, &[]);
    let mut read_by_partition: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for c in &read {
        read_by_partition
            .entry(c.partition)
            .or_default()
            .push(c.value.clone());
    }
    let remaining_set: BTreeSet<&String> = remaining.values().flatten().collect();
    let read_set: BTreeSet<&String> = read.iter().map(|c| &c.value).collect();
    let moved = Moved {
        consumed_on_source: consumed,
        remaining_on_source: remaining_set.len(),
        read_on_target: read.len(),
        skipped: remaining_set.difference(&read_set).count(),
        repeated: read.len() - read_set.intersection(&remaining_set).count(),
    };
    println!("group {group} moved A->B on {topic}: {moved:?}");
    assert_eq!(
        (moved.skipped, moved.repeated, moved.read_on_target),
        (0, 0, moved.remaining_on_source),
        "{moved:?}; kmirror log:\n{}",
        tail(&mirror.log_text(), 40)
    );
    assert_eq!(
        read_by_partition, remaining,
        "per partition, B's records in order are exactly the ones the group had not consumed on A"
    );
    moved
}

/// S1/S2, items 31, 37, 38: 7,000 of 20,000 records on 6 partitions consumed on A; on B the group reads the
/// other 13,000, none skipped, none repeated; `kmirror translate` says the same, exactly.
#[tokio::test(flavor = "multi_thread")]
async fn group_moved_to_the_target_reads_exactly_what_it_had_not_consumed() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("moved");
    let group = unique_name("grp-moved");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 6)).await;
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(20_000, 6, "moved"),
        Compression::Lz4,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let mirror = Mirror::start(&flow_properties(&src, &dst, &topic, &group, ""));
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 20_000, WAIT).await;
    let first = consume(
        &a.bootstrap,
        &topic,
        &group,
        Some(7_000),
        30_000,
        &["--from-beginning"],
    );
    assert_eq!(first.len(), 7_000);
    let moved = check_moved_group(&mirror, &topic, &remote, &group, 6).await;
    assert_eq!(moved.consumed_on_source + moved.remaining_on_source, 20_000);

    let (ok, stdout, stderr) = run_kmirror(&[
        "translate",
        "--config",
        mirror.config.to_str().expect("utf-8 path"),
        "--flow",
        &format!("{src}->{dst}"),
        "--group",
        &group,
        "--json",
    ]);
    assert!(ok, "kmirror translate failed: {stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("translate --json");
    let on_a = committed(&a.bootstrap, &group, &topic);
    let partitions = json["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 6, "{stdout}");
    for p in partitions {
        let partition = p["partition"].as_i64().expect("partition") as i32;
        assert_eq!(p["target_topic"], remote.as_str());
        assert_eq!(
            p["target_offset"].as_i64(),
            Some(on_a[&partition]),
            "plain topic copied from its start: same offsets ({stdout})"
        );
        assert_eq!(p["derived_from"]["kind"], "exact", "{stdout}");
        assert_eq!(
            p["checkpoint"]["downstream"].as_i64(),
            Some(on_a[&partition])
        );
    }
}

/// S6, items 26 and 38 done exactly: a compacted source (every other record of the first round removed by the
/// cleaner) has offset gaps the copy does not; a group positioned anywhere still lands exactly.
#[tokio::test(flavor = "multi_thread")]
async fn compacted_topic_with_gaps_translates_exactly() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("compacted");
    let group = unique_name("grp-compacted");
    create_topic(
        &a.bootstrap,
        &TopicSpec::new(&topic, 3)
            .config("cleanup.policy", "compact")
            .config("segment.ms", "100")
            .config("min.cleanable.dirty.ratio", "0.001"),
    )
    .await;
    let n = 3_000;
    let round = |range: std::ops::Range<usize>, tag: &str, key: &dyn Fn(usize) -> String| {
        range
            .map(|i| ProducedRecord {
                partition: (i % 3) as i32,
                key: Some(key(i).into_bytes()),
                value: Some(format!("v-{tag}-{i}").into_bytes()),
                headers: Vec::new(),
                timestamp: None,
            })
            .collect::<Vec<_>>()
    };
    // Round 1: keys 0..n; round 2 rewrites every other one of them; round 3: new keys. Each round goes to a
    // new segment (segment.ms = 100), so the cleaner removes round 1's rewritten keys: gaps all over round 1.
    produce(
        &a.bootstrap,
        &topic,
        &round(0..n, "one", &|i| format!("k{i}")),
        Compression::None,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let rewritten: Vec<ProducedRecord> = round(0..n, "two", &|i| format!("k{i}"))
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (i / 3) % 2 == 0)
        .map(|(_, r)| r)
        .collect();
    let rewritten_count = rewritten.len();
    produce(&a.bootstrap, &topic, &rewritten, Compression::None).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    produce(
        &a.bootstrap,
        &topic,
        &round(0..n, "three", &|i| format!("u{i}")),
        Compression::None,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    produce(
        &a.bootstrap,
        &topic,
        &round(0..3, "roll", &|i| format!("r{i}")),
        Compression::None,
    )
    .await;
    let compacted = n + n + 3;
    let deadline = Instant::now() + WAIT;
    loop {
        let left = read_all(&a.bootstrap, &topic).await.len();
        if left == compacted {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cleaner did not compact {topic}: {left} records, expected {compacted} (rewrote {rewritten_count})"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let mirror = Mirror::start(&flow_properties(&src, &dst, &topic, &group, ""));
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, compacted as i64, WAIT).await;
    // Positioned inside the gappy first round.
    let first = consume(
        &a.bootstrap,
        &topic,
        &group,
        Some(700),
        30_000,
        &["--from-beginning"],
    );
    assert_eq!(first.len(), 700);
    check_moved_group(&mirror, &topic, &remote, &group, 3).await;
}

/// Item 3 and S6: transaction markers and aborted transactions on the source (copied read_committed) leave
/// gaps; groups consuming read_committed on A land exactly on B.
#[tokio::test(flavor = "multi_thread")]
async fn transactional_topic_with_aborts_translates_exactly() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("txn");
    let group = unique_name("grp-txn");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 3)).await;
    let transactions: Vec<Transaction> = (0..60)
        .map(|t| Transaction {
            records: plain_records(50, 3, &format!("t{t}")),
            commit: t % 3 != 1,
        })
        .collect();
    produce_transactions(&a.bootstrap, &topic, transactions).await;
    let committed_records = 40 * 50;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let mirror = Mirror::start(&flow_properties(
        &src,
        &dst,
        &topic,
        &group,
        &format!("{src}.consumer.isolation.level = read_committed\n"),
    ));
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, committed_records, WAIT).await;
    let first = consume(
        &a.bootstrap,
        &topic,
        &group,
        Some(777),
        30_000,
        &["--from-beginning", "--isolation-level", "read_committed"],
    );
    assert_eq!(first.len(), 777);
    check_moved_group(&mirror, &topic, &remote, &group, 3).await;
}

/// Item 37 and §4: a group with members on B is left alone — reported once (log and /status), not retried in a
/// storm — and once it is empty there, its offsets (ahead of the translation) are never rewound.
#[tokio::test(flavor = "multi_thread")]
async fn group_active_on_the_target_is_left_alone_and_never_rewound() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("busy");
    let group = unique_name("grp-busy");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(2_000, 2, "busy"),
        Compression::None,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let port = 21000 + (std::process::id() % 20000) as u16;
    let mirror = Mirror::start(&flow_properties(
        &src,
        &dst,
        &topic,
        &group,
        &format!("kmirror.http.listen = 127.0.0.1:{port}\n"),
    ));
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 2_000, WAIT).await;

    // A member of the group on B, reading everything there (it commits its own positions: the end).
    let b_bootstrap = b.bootstrap.clone();
    let (remote2, group2) = (remote.clone(), group.clone());
    let member = std::thread::spawn(move || {
        consume(
            &b_bootstrap,
            &remote2,
            &group2,
            None,
            40_000,
            &["--from-beginning"],
        )
    });
    let deadline = Instant::now() + WAIT;
    while state(&b.bootstrap, &group) != "Stable" {
        assert!(Instant::now() < deadline, "the member never joined on B");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Now the group commits on A, and kmirror would like to sync it.
    let part = consume(
        &a.bootstrap,
        &topic,
        &group,
        Some(500),
        30_000,
        &["--from-beginning"],
    );
    assert_eq!(part.len(), 500);
    let deadline = Instant::now() + WAIT;
    let needle = format!("consumer group '{group}' is active");
    while !mirror.log_text().contains(&needle) {
        assert!(
            Instant::now() < deadline,
            "kmirror never reported the active group; log:\n{}",
            tail(&mirror.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let status = http_get(port, "/status");
    assert!(
        status.contains(&needle),
        "the status view shows the active group: {status}"
    );
    // Several sync rounds later (1 s apart) it was still reported only once.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        mirror.log_text().matches(&needle).count(),
        1,
        "reported once, not at every round"
    );
    let read = member.join().expect("member thread");
    assert_eq!(read.len(), 2_000, "the B member read all of B");
    let own = committed(&b.bootstrap, &group, &remote);
    assert_eq!(own.values().sum::<i64>(), 2_000, "{own:?}");
    // Empty now, with offsets ahead of the translated ones (~250 per partition): never rewound.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(committed(&b.bootstrap, &group, &remote), own);
    let deadline = Instant::now() + WAIT;
    while http_get(port, "/status").contains(&needle) {
        assert!(
            Instant::now() < deadline,
            "the problem stays on /status after the group emptied"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Item 41 and restart exactness: after a restart, positions copied before it (rebuilt from the offset-syncs
/// kmirror wrote at both ends of every run) and at the copied end translate exactly.
#[tokio::test(flavor = "multi_thread")]
async fn after_a_restart_old_positions_and_the_copied_end_translate_exactly() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("restart");
    let (early, late) = (unique_name("grp-rs-early"), unique_name("grp-rs-late"));
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    let transactions: Vec<Transaction> = (0..20)
        .map(|t| Transaction {
            records: plain_records(40, 2, &format!("r{t}")),
            commit: t % 4 != 3,
        })
        .collect();
    produce_transactions(&a.bootstrap, &topic, transactions).await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let props = flow_properties(
        &src,
        &dst,
        &topic,
        "grp-rs-.*",
        &format!("{src}.consumer.isolation.level = read_committed\n"),
    );
    let mut mirror = Mirror::start(&props);
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 15 * 40, WAIT).await;
    assert_eq!(mirror.stop(), Some(0));

    // While kmirror is down: one group reads a little, the other everything.
    let isolation = ["--from-beginning", "--isolation-level", "read_committed"];
    assert_eq!(
        consume(&a.bootstrap, &topic, &early, Some(123), 30_000, &isolation).len(),
        123
    );
    assert_eq!(
        consume(&a.bootstrap, &topic, &late, None, 8_000, &isolation).len(),
        600
    );
    mirror.restart();
    check_moved_group(&mirror, &topic, &remote, &early, 2).await;
    check_moved_group(&mirror, &topic, &remote, &late, 2).await;

    // Outside the process too: positions from the start to past the last commit marker are exact.
    for group in [&early, &late] {
        let (ok, stdout, stderr) = run_kmirror(&[
            "translate",
            "--config",
            mirror.config.to_str().expect("utf-8 path"),
            "--flow",
            &format!("{src}->{dst}"),
            "--group",
            group,
            "--json",
        ]);
        assert!(ok, "{stderr}");
        let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
        for p in json["partitions"].as_array().expect("partitions") {
            assert_eq!(p["derived_from"]["kind"], "exact", "{stdout}");
            assert_eq!(
                p["target_offset"], p["checkpoint"]["downstream"],
                "{stdout}"
            );
        }
    }
}

/// S2: `kmirror failover` with periodic group sync off. Planned (source reachable): the group's offsets are
/// translated now, written as a last checkpoint and committed on B. Unplanned (source address dead): the last
/// checkpoints are committed. Either way the group then reads on B exactly what it had not read on A.
#[tokio::test(flavor = "multi_thread")]
async fn failover_command_moves_groups_planned_and_unplanned() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("failover");
    let prefix = unique_name("grp-fo");
    let (planned, unplanned) = (format!("{prefix}-planned"), format!("{prefix}-unplanned"));
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 3)).await;
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(3_000, 3, "fo"),
        Compression::Gzip,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let flow = format!("{src}->{dst}");
    let mut mirror = Mirror::start(&flow_properties(
        &src,
        &dst,
        &topic,
        &format!("{prefix}-.*"),
        "sync.group.offsets.enabled = false\n",
    ));
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 3_000, WAIT).await;
    let config = mirror.config.to_str().expect("utf-8 path").to_string();

    // The unplanned group's last checkpoint is where it stands (it does not move afterwards).
    assert_eq!(
        consume(
            &a.bootstrap,
            &topic,
            &unplanned,
            Some(900),
            30_000,
            &["--from-beginning"]
        )
        .len(),
        900
    );
    let on_a = committed(&a.bootstrap, &unplanned, &topic);
    let deadline = Instant::now() + WAIT;
    loop {
        let (ok, stdout, stderr) = run_kmirror(&[
            "translate",
            "--config",
            &config,
            "--flow",
            &flow,
            "--group",
            &unplanned,
            "--json",
        ]);
        assert!(ok, "{stderr}");
        let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
        let checkpointed = json["partitions"]
            .as_array()
            .expect("partitions")
            .iter()
            .filter(|p| {
                let partition = p["partition"].as_i64().unwrap_or(-1) as i32;
                p["checkpoint"]["upstream"].as_i64() == on_a.get(&partition).copied()
            })
            .count();
        if checkpointed == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoints for {unplanned}: {stdout}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        consume(
            &a.bootstrap,
            &topic,
            &planned,
            Some(1_200),
            30_000,
            &["--from-beginning"]
        )
        .len(),
        1_200
    );
    assert_eq!(mirror.stop(), Some(0));
    assert!(
        committed(&b.bootstrap, &planned, &remote).is_empty(),
        "periodic group sync is off"
    );

    let (ok, stdout, stderr) = run_kmirror(&[
        "failover", "--config", &config, "--flow", &flow, "--groups", &planned, "--json",
    ]);
    assert!(ok, "planned failover failed: {stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("failover --json");
    assert_eq!(report["source_reachable"], true, "{stdout}");
    let lag: Vec<i64> = report["lag"]
        .as_array()
        .expect("lag")
        .iter()
        .filter(|l| l["source_topic"] == topic.as_str())
        .map(|l| l["lag_records"].as_i64().expect("lag known"))
        .collect();
    assert_eq!(
        lag,
        vec![0, 0, 0],
        "everything of {topic} was copied: {stdout}"
    );
    assert_eq!(
        report["groups"].as_array().map(Vec::len),
        Some(1),
        "{stdout}"
    );
    assert_eq!(report["groups"][0]["outcome"], "synced", "{stdout}");
    // The last checkpoint is on B: written by the failover, or already by kmirror before it stopped (the
    // group's commits were a second old by then); either way it holds the group's final position on A.
    let planned_on_a = committed(&a.bootstrap, &planned, &topic);
    let mut latest: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for c in checkpoints_via_java(&b.bootstrap, &format!("{src}.checkpoints.internal")) {
        if c.group == planned {
            latest.insert(c.topic_partition, (c.upstream, c.downstream));
        }
    }
    let wanted: BTreeMap<String, (i64, i64)> = planned_on_a
        .iter()
        .map(|(p, o)| (format!("{remote}-{p}"), (*o, *o)))
        .collect();
    assert_eq!(
        latest, wanted,
        "last checkpoints of {planned}; failover said: {stdout}"
    );
    check_moved_group(&mirror, &topic, &remote, &planned, 3).await;

    // Unplanned: the source is gone (its address no longer answers); only B's records remain.
    let dead = std::fs::read_to_string(&config)
        .expect("config")
        .replace(&a.bootstrap, "127.0.0.1:1");
    let dead_config = mirror.config.with_file_name("dead-source.properties");
    std::fs::write(&dead_config, dead).expect("write config");
    let (ok, stdout, stderr) = run_kmirror(&[
        "failover",
        "--config",
        dead_config.to_str().expect("utf-8 path"),
        "--flow",
        &flow,
        "--groups",
        &unplanned,
        "--json",
    ]);
    assert!(ok, "unplanned failover failed: {stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("failover --json");
    assert_eq!(report["source_reachable"], false, "{stdout}");
    assert_eq!(report["groups"][0]["outcome"], "synced", "{stdout}");
    assert!(
        report["last_progress_ms"].as_i64().is_some(),
        "the report says when the copy was last known to be complete: {stdout}"
    );
    for p in report["groups"][0]["partitions"]
        .as_array()
        .expect("partitions")
    {
        assert_eq!(p["derived_from"]["kind"], "last_checkpoint", "{stdout}");
    }
    check_moved_group(&mirror, &topic, &remote, &unplanned, 3).await;
}

/// Topic names on `bootstrap`, from `kafka-topics --list`.
fn topic_names(bootstrap: &str) -> BTreeSet<String> {
    let out = kafka_tool("topics", &["--bootstrap-server", bootstrap, "--list"]);
    assert!(out.success, "kafka-topics --list: {}", out.stderr);
    out.stdout.lines().map(|l| l.trim().to_string()).collect()
}

/// Commits `offset` for `group` on every partition of `topic` without ever joining it (a "simple" group, as
/// `kafka-consumer-groups --reset-offsets` leaves it).
fn commit_without_joining(bootstrap: &str, group: &str, topic: &str, offset: i64) {
    let offset = offset.to_string();
    let out = kafka_tool(
        "consumer-groups",
        &[
            "--bootstrap-server",
            bootstrap,
            "--group",
            group,
            "--topic",
            topic,
            "--reset-offsets",
            "--to-offset",
            &offset,
            "--execute",
        ],
    );
    assert!(
        out.success,
        "reset-offsets for {group}: {}{}",
        out.stdout, out.stderr
    );
}

/// MM2 suite items 16 and 24: identity naming with the offset-syncs topic on the target. The syncs live on B
/// under the source's alias (none on A), and a group still lands exactly.
#[tokio::test(flavor = "multi_thread")]
async fn identity_names_with_offset_syncs_on_the_target_land_groups_exactly() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("idsyncs");
    let group = unique_name("grp-idsyncs");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 3)).await;
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(3_000, 3, "idsyncs"),
        Compression::Lz4,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let mirror = Mirror::start(&flow_properties(
        &src,
        &dst,
        &topic,
        &group,
        "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n\
         offset-syncs.topic.location = target\n",
    ));
    wait_for_records(&mirror, &b.bootstrap, &topic, 3_000, WAIT).await;
    let first = consume(
        &a.bootstrap,
        &topic,
        &group,
        Some(1_234),
        30_000,
        &["--from-beginning"],
    );
    assert_eq!(first.len(), 1_234);
    check_moved_group(&mirror, &topic, &topic, &group, 3).await;
    let syncs = format!("mm2-offset-syncs.{src}.internal");
    assert!(
        topic_names(&b.bootstrap).contains(&syncs),
        "{syncs} must be on the target"
    );
    assert!(
        record_total(&b.bootstrap, &syncs).await > 0,
        "{syncs} holds the flow's syncs"
    );
    let on_a = topic_names(&a.bootstrap);
    for name in [syncs, format!("mm2-offset-syncs.{dst}.internal")] {
        assert!(!on_a.contains(&name), "{name} must not be on the source");
    }
}

/// MM2 suite item 25: `emit.offset-syncs.enabled = false` copies the records and writes no offset-syncs (nor
/// checkpoints, which depend on them), even with a group committing on a mirrored topic.
#[tokio::test(flavor = "multi_thread")]
async fn switching_offset_syncs_off_still_copies_and_writes_no_offset_topics() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("nosyncs");
    let group = unique_name("grp-nosyncs");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(1_000, 2, "nosyncs"),
        Compression::Snappy,
    )
    .await;
    let first = consume(
        &a.bootstrap,
        &topic,
        &group,
        Some(300),
        30_000,
        &["--from-beginning"],
    );
    assert_eq!(first.len(), 300);
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let mirror = Mirror::start(&mm2_properties(
        &src,
        &dst,
        &format!(
            "{src}->{dst}.enabled = true\n{src}->{dst}.topics = {topic}\n{src}->{dst}.groups = {group}\n\
             emit.offset-syncs.enabled = false\nemit.checkpoints.interval.seconds = 1\n\
             sync.group.offsets.interval.seconds = 1\nrefresh.groups.interval.seconds = 1\n"
        ),
    ));
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 1_000, WAIT).await;
    support::assert_same_records(&a.bootstrap, &topic, &b.bootstrap, &remote).await;
    // Several checkpoint and sync intervals pass with the group's commits in place.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let on_a = topic_names(&a.bootstrap);
    let on_b = topic_names(&b.bootstrap);
    for name in [
        format!("mm2-offset-syncs.{dst}.internal"),
        format!("mm2-offset-syncs.{src}.internal"),
    ] {
        assert!(
            !on_a.contains(&name) && !on_b.contains(&name),
            "{name} must not exist"
        );
    }
    assert!(
        !on_b.contains(&format!("{src}.checkpoints.internal")),
        "no checkpoints without offset-syncs"
    );
    assert!(
        committed(&b.bootstrap, &group, &remote).is_empty(),
        "no group offsets synced without offset-syncs"
    );
}

/// MM2 suite items 31, 34 and 42: checkpoints go to the selected groups with positions on mirrored topics —
/// a group that consumed, a group that only committed without ever joining, and a group positioned on a
/// mirrored topic that is still empty — and to no other: not to a group excluded by `groups.exclude`, nor to
/// one whose commits are all on topics outside the flow. (Stricter than MM2, which writes no checkpoint until a
/// record was copied: kmirror knows the empty partition maps 0 to 0, so a group moved early still lands
/// where it reads every record written later, instead of having no offset on the target at all.)
#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_only_for_selected_groups_with_copied_positions() {
    let (a, b) = (cluster("A"), cluster("B"));
    let prefix = unique_name("sel");
    let (copied, empty, outside) = (
        format!("{prefix}-copied"),
        format!("{prefix}-empty"),
        format!("{prefix}-outside"),
    );
    create_topic(&a.bootstrap, &TopicSpec::new(&copied, 2)).await;
    create_topic(&a.bootstrap, &TopicSpec::new(&empty, 1)).await;
    create_topic(&a.bootstrap, &TopicSpec::new(&outside, 1)).await;
    produce(
        &a.bootstrap,
        &copied,
        &plain_records(1_000, 2, "c"),
        Compression::Lz4,
    )
    .await;
    produce(
        &a.bootstrap,
        &outside,
        &plain_records(100, 1, "o"),
        Compression::Lz4,
    )
    .await;
    let g = |name: &str| format!("{prefix}-{name}");
    let (consumer, excluded, elsewhere, simple, waiting) = (
        g("consumer"),
        g("excluded"),
        g("elsewhere"),
        g("simple"),
        g("waiting"),
    );
    let args = ["--from-beginning"];
    assert_eq!(
        consume(&a.bootstrap, &copied, &consumer, Some(300), 30_000, &args).len(),
        300
    );
    assert_eq!(
        consume(&a.bootstrap, &copied, &excluded, Some(200), 30_000, &args).len(),
        200
    );
    assert_eq!(
        consume(&a.bootstrap, &outside, &elsewhere, Some(50), 30_000, &args).len(),
        50
    );
    commit_without_joining(&a.bootstrap, &simple, &copied, 5);
    commit_without_joining(&a.bootstrap, &waiting, &empty, 0);

    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let port = free_port();
    let mirror = Mirror::start(&flow_properties(
        &src,
        &dst,
        &format!("{copied}, {empty}"),
        &format!("{prefix}-.*"),
        &format!(
            "{src}->{dst}.groups.exclude = {excluded}\nkmirror.http.listen = 127.0.0.1:{port}\n"
        ),
    ));
    let remote = format!("{src}.{copied}");
    let remote_empty = format!("{src}.{empty}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 1_000, WAIT).await;
    let checkpoints_topic = format!("{src}.checkpoints.internal");
    let groups_checkpointed = || {
        checkpoints_via_java(&b.bootstrap, &checkpoints_topic)
            .into_iter()
            .map(|c| c.group)
            .collect::<BTreeSet<String>>()
    };
    let deadline = Instant::now() + WAIT;
    loop {
        let seen = groups_checkpointed();
        if seen.contains(&consumer) && seen.contains(&simple) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "checkpoints for {consumer} and {simple} expected, got {seen:?}; kmirror log:\n{}",
            tail(&mirror.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // A few more checkpoint rounds (1 s each) for anything that should not be there to show up.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let checkpoints = checkpoints_via_java(&b.bootstrap, &checkpoints_topic);
    let seen: BTreeSet<String> = checkpoints.iter().map(|c| c.group.clone()).collect();
    let expected: BTreeSet<String> = [consumer.clone(), simple.clone(), waiting.clone()].into();
    assert_eq!(seen, expected, "checkpointed groups");
    assert!(
        checkpoints
            .iter()
            .filter(|c| c.group == waiting)
            .all(|c| (c.upstream, c.downstream) == (0, 0)),
        "{checkpoints:?}"
    );
    assert_eq!(
        committed(&b.bootstrap, &simple, &remote),
        BTreeMap::from([(0, 5), (1, 5)]),
        "the simple group's offsets are synced too"
    );
    assert!(committed(&b.bootstrap, &excluded, &remote).is_empty());
    assert!(committed(&b.bootstrap, &elsewhere, &format!("{src}.{outside}")).is_empty());
    // The offset machinery is visible in /metrics, per flow.
    let metrics = http_get(port, "/metrics");
    let flow = [format!("source=\"{src}\""), format!("target=\"{dst}\"")];
    let flow: Vec<&str> = flow.iter().map(String::as_str).collect();
    for name in [
        "kmirror_offset_syncs_total",
        "kmirror_checkpoints_total",
        "kmirror_group_offsets_synced_total",
    ] {
        assert!(
            metric_value(&metrics, name, &flow).is_some_and(|v| v > 0.0),
            "{name} for the flow in /metrics:\n{metrics}"
        );
    }
    assert_eq!(
        metric_value(&metrics, "kmirror_groups_active_on_target", &flow),
        Some(0.0),
        "{metrics}"
    );

    // The group waiting on the empty topic, moved to B, reads every record written there later.
    let deadline = Instant::now() + WAIT;
    while committed(&b.bootstrap, &waiting, &remote_empty) != BTreeMap::from([(0, 0)]) {
        assert!(
            Instant::now() < deadline,
            "{waiting} never got offset 0 on {remote_empty}; kmirror log:\n{}",
            tail(&mirror.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    produce(
        &a.bootstrap,
        &empty,
        &plain_records(10, 1, "e"),
        Compression::None,
    )
    .await;
    wait_for_records(&mirror, &b.bootstrap, &remote_empty, 10, WAIT).await;
    let read = consume(&b.bootstrap, &remote_empty, &waiting, None, 8_000, &[]);
    let values: Vec<String> = read.iter().map(|c| c.value.clone()).collect();
    let written: Vec<String> = (0..10).map(|i| format!("v-e-{i}")).collect();
    assert_eq!(values, written);
}

/// S5, the cut-over at the end of a migration. Without `kmirror run` copying it gives up after its timeout,
/// naming what is left; with it, it waits until everything is copied (a topic ending in transaction markers
/// included), moves the group — which then reads on B exactly what it had not consumed on A — and says it is
/// safe to switch.
#[tokio::test(flavor = "multi_thread")]
async fn cutover_waits_for_the_copy_then_moves_groups_and_says_safe_to_switch() {
    let (a, b) = (cluster("A"), cluster("B"));
    let prefix = unique_name("cut");
    let (plain, txn) = (format!("{prefix}-plain"), format!("{prefix}-txn"));
    let group = format!("{prefix}-group");
    create_topic(&a.bootstrap, &TopicSpec::new(&plain, 3)).await;
    create_topic(&a.bootstrap, &TopicSpec::new(&txn, 2)).await;
    produce(
        &a.bootstrap,
        &plain,
        &plain_records(3_000, 3, "cut"),
        Compression::Lz4,
    )
    .await;
    let transactions: Vec<Transaction> = (0..6)
        .map(|t| Transaction {
            records: plain_records(20, 2, &format!("t{t}")),
            commit: t != 2,
        })
        .collect();
    produce_transactions(&a.bootstrap, &txn, transactions).await;
    assert_eq!(
        consume(
            &a.bootstrap,
            &plain,
            &group,
            Some(1_100),
            30_000,
            &["--from-beginning"]
        )
        .len(),
        1_100
    );
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let flow = format!("{src}->{dst}");
    let props = flow_properties(
        &src,
        &dst,
        &format!("{prefix}-.*"),
        &group,
        "sync.group.offsets.enabled = false\n",
    );
    let idle_config = std::env::temp_dir().join(format!("{}.properties", unique_name("cutover")));
    std::fs::write(&idle_config, &props).expect("write config");
    let (ok, stdout, stderr) = run_kmirror(&[
        "cutover",
        "--config",
        idle_config.to_str().expect("utf-8 path"),
        "--flow",
        &flow,
        "--timeout",
        "2",
    ]);
    assert!(
        !ok,
        "nothing is copying: the cut-over must give up: {stdout}"
    );
    assert!(
        stderr.contains("still to copy") && stderr.contains("kmirror run"),
        "the message says what is left and what to check: {stderr}"
    );

    let mirror = Mirror::start(&props);
    let config = mirror.config.to_str().expect("utf-8 path").to_string();
    let (ok, stdout, stderr) = run_kmirror(&[
        "cutover",
        "--config",
        &config,
        "--flow",
        &flow,
        "--timeout",
        "180",
        "--json",
    ]);
    assert!(
        ok,
        "cut-over failed: {stdout}\n{stderr}\nkmirror log:\n{}",
        tail(&mirror.log_text(), 40)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("cutover --json");
    assert_eq!(report["safe_to_switch"], true, "{stdout}");
    assert_eq!(
        report["failover"]["groups"][0]["outcome"], "synced",
        "{stdout}"
    );
    // Everything was on B when it said so.
    assert_eq!(
        record_total(&b.bootstrap, &format!("{src}.{plain}")).await,
        3_000
    );
    let committed_txn: usize = read_all(&a.bootstrap, &txn).await.len();
    assert_eq!(
        read_all(&b.bootstrap, &format!("{src}.{txn}")).await.len(),
        committed_txn
    );
    check_moved_group(&mirror, &plain, &format!("{src}.{plain}"), &group, 3).await;
}

/// MM2 suite item 40: a group reset back on A (to reprocess) gets the lower checkpoint on B, as MM2 writes it;
/// the group's offsets on B are not rewound by the periodic sync (never rewinding a group on the target).
#[tokio::test(flavor = "multi_thread")]
async fn a_group_reset_back_on_the_source_gets_a_lower_checkpoint_but_is_not_rewound_on_the_target()
{
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("rewind");
    let group = unique_name("grp-rewind");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(1_000, 2, "rw"),
        Compression::Lz4,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let mirror = Mirror::start(&flow_properties(&src, &dst, &topic, &group, ""));
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 1_000, WAIT).await;
    assert_eq!(
        consume(
            &a.bootstrap,
            &topic,
            &group,
            Some(900),
            30_000,
            &["--from-beginning"]
        )
        .len(),
        900
    );
    let ahead = committed(&a.bootstrap, &group, &topic);
    let checkpoints_topic = format!("{src}.checkpoints.internal");
    let latest = || {
        let mut latest: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for c in checkpoints_via_java(&b.bootstrap, &checkpoints_topic) {
            if c.group == group {
                latest.insert(c.topic_partition, (c.upstream, c.downstream));
            }
        }
        latest
    };
    let wanted = |offsets: &BTreeMap<i32, i64>| -> BTreeMap<String, (i64, i64)> {
        offsets
            .iter()
            .map(|(p, o)| (format!("{remote}-{p}"), (*o, *o)))
            .collect()
    };
    let deadline = Instant::now() + WAIT;
    while latest() != wanted(&ahead) || committed(&b.bootstrap, &group, &remote) != ahead {
        assert!(
            Instant::now() < deadline,
            "checkpoints {:?} and B's group {:?} never reached {ahead:?}",
            latest(),
            committed(&b.bootstrap, &group, &remote)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    commit_without_joining(&a.bootstrap, &group, &topic, 100);
    let back = committed(&a.bootstrap, &group, &topic);
    assert!(back.values().all(|o| *o == 100), "{back:?}");
    let deadline = Instant::now() + WAIT;
    while latest() != wanted(&back) {
        assert!(
            Instant::now() < deadline,
            "no lower checkpoint after the group went back: {:?}; kmirror log:\n{}",
            latest(),
            tail(&mirror.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Several sync rounds (1 s each) later, B's group still stands where it was.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(committed(&b.bootstrap, &group, &remote), ahead);
}

/// How often `text` contains `needle`.
fn occurrences(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// Waits until kmirror's log holds `needle` at least `times` times.
async fn wait_for_log(mirror: &Mirror, needle: &str, times: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while occurrences(&mirror.log_text(), needle) < times {
        assert!(
            Instant::now() < deadline,
            "kmirror never logged {needle:?} ({times} times):\n{}",
            tail(&mirror.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Fencing (S2, S3): `kmirror failover --dry-run` writes nothing; `kmirror failover` records in the target that the
/// flow failed over, and the running `kmirror run` stops writing into the target within seconds, saying why and
/// what to run next; a `kmirror run` started later does not start the flow either; `kmirror unfence` asks for
/// confirmation, and once lifted the flow resumes from its progress, copying nothing twice.
#[tokio::test(flavor = "multi_thread")]
async fn failover_fences_the_flow_until_the_fence_is_lifted() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("fence");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(400, 2, "f1"),
        Compression::Lz4,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let flow = format!("{src}->{dst}");
    let port = free_port();
    let props = flow_properties(
        &src,
        &dst,
        &topic,
        &unique_name("nogroup"),
        &format!("kmirror.http.listen = 127.0.0.1:{port}\n"),
    );
    let mut mirror = Mirror::start(&props);
    let config = mirror.config.to_str().expect("utf-8 path").to_string();
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 400, WAIT).await;

    let (ok, stdout, stderr) = run_kmirror(&[
        "failover",
        "--config",
        &config,
        "--flow",
        &flow,
        "--dry-run",
    ]);
    assert!(ok, "dry run: {stdout}\n{stderr}");
    assert!(
        stdout.contains("DRY RUN") && stdout.contains("would record"),
        "{stdout}"
    );
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(100, 2, "f2"),
        Compression::Lz4,
    )
    .await;
    wait_for_records(&mirror, &b.bootstrap, &remote, 500, WAIT).await;

    let (ok, stdout, stderr) =
        run_kmirror(&["failover", "--config", &config, "--flow", &flow, "--json"]);
    assert!(ok, "failover: {stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("failover --json");
    assert_eq!(report["fence"]["phase"], "failed-over", "{stdout}");
    assert!(
        report["fence"]["positions"][format!("{topic}-0")].is_array(),
        "the fence records the copy's positions: {stdout}"
    );
    // The running process stops copying, says why and what to run next.
    wait_for_log(&mirror, "stopping: flow", 1).await;
    wait_for_log(&mirror, "flow stopped; progress committed", 1).await;
    let log = mirror.log_text();
    assert!(
        log.contains("kmirror unfence --config FILE --flow") && log.contains("was failed over"),
        "{}",
        tail(&log, 20)
    );
    let status = http_get(port, "/status");
    assert!(
        status.contains("was failed over"),
        "/status shows the fence: {status}"
    );
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(100, 2, "f3"),
        Compression::Lz4,
    )
    .await;
    // Topics are refreshed every second: a flow still copying would have copied these by now.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        record_total(&b.bootstrap, &remote).await,
        500,
        "nothing written after the fence"
    );

    // A process started later does not start the flow.
    mirror.restart();
    wait_for_log(&mirror, "not replicating: flow", 1).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        record_total(&b.bootstrap, &remote).await,
        500,
        "a new process honours the fence"
    );

    let (ok, stdout, _) = run_kmirror(&["unfence", "--config", &config, "--flow", &flow]);
    assert!(
        !ok && stdout.contains("--yes"),
        "unfence asks for confirmation: {stdout}"
    );
    let (ok, stdout, stderr) =
        run_kmirror(&["unfence", "--config", &config, "--flow", &flow, "--yes"]);
    assert!(ok, "unfence: {stdout}\n{stderr}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 600, WAIT).await;
    support::assert_same_records(&a.bootstrap, &topic, &b.bootstrap, &remote).await;
}

/// `kmirror reset`: refused while `kmirror run` copies the flow; without `--yes` only the plan is shown; with it,
/// the flow resumes where it was told to (here: the source's end, skipping what was written while it was
/// stopped) and copies nothing twice.
#[tokio::test(flavor = "multi_thread")]
async fn reset_moves_the_stored_progress_only_when_confirmed_and_the_flow_is_stopped() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("reset");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(300, 2, "r1"),
        Compression::Lz4,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let flow = format!("{src}->{dst}");
    let props = flow_properties(&src, &dst, &topic, &unique_name("nogroup"), "");
    let mut mirror = Mirror::start(&props);
    let config = mirror.config.to_str().expect("utf-8 path").to_string();
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 300, WAIT).await;

    let reset = ["reset", "--config", &config, "--flow", &flow, "--to", "end"];
    let (ok, stdout, stderr) = run_kmirror(&[&reset[..], &["--yes"]].concat());
    assert!(
        !ok && stderr.contains("stop it first"),
        "refused while running: {stdout}\n{stderr}"
    );

    assert_eq!(mirror.stop(), Some(0));
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(100, 2, "skipped"),
        Compression::Lz4,
    )
    .await;
    // Progress commits are a second apart; the refusal looks at the last 10 s.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (ok, stdout, _) = run_kmirror(&reset);
    assert!(
        !ok && stdout.contains("--yes") && stdout.contains("NEXT-AFTER"),
        "plan only: {stdout}"
    );
    let (ok, stdout, stderr) = run_kmirror(&[&reset[..], &["--yes"]].concat());
    assert!(ok, "reset: {stdout}\n{stderr}");
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(50, 2, "after"),
        Compression::Lz4,
    )
    .await;
    mirror.restart();
    wait_for_records(&mirror, &b.bootstrap, &remote, 350, WAIT).await;
    let on_a = read_all(&a.bootstrap, &topic).await;
    let on_b = read_all(&b.bootstrap, &remote).await;
    let wanted: Vec<&ReadRecord> = on_a
        .iter()
        .filter(|r| {
            !r.value
                .as_deref()
                .is_some_and(|v| v.starts_with(b"v-skipped"))
        })
        .collect();
    assert_eq!(wanted.len(), on_b.len());
    for (x, y) in wanted.iter().zip(&on_b) {
        assert_eq!(
            x.content(),
            y.content(),
            "B holds A's records except the skipped ones, in order"
        );
    }
}

/// `kmirror status --config F [--json]` as an operator runs it: (exit code 0, JSON).
fn status_json(config: &str, flow: &str) -> (bool, serde_json::Value) {
    let (ok, stdout, stderr) =
        run_kmirror(&["status", "--config", config, "--flow", flow, "--json"]);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("status --json ({e}): {stdout}\n{stderr}"));
    (ok, json)
}

/// `kmirror status` from the clusters alone: a running, caught-up flow is replicating with no lag and fresh
/// heartbeat and checkpoint ages, its group synced; with kmirror stopped and records produced on the source it
/// shows the lag in records and in time (still replicating: exit 0); after `kmirror failover` it shows the
/// flow failed over, by whom and when, and exits 1.
#[tokio::test(flavor = "multi_thread")]
async fn status_shows_replicating_lagging_and_failed_over_flows() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("status");
    let group = unique_name("grp-status");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(400, 2, "s1"),
        Compression::Lz4,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let flow = format!("{src}->{dst}");
    let mut mirror = Mirror::start(&flow_properties(&src, &dst, &topic, &group, ""));
    let config = mirror.config.to_str().expect("utf-8 path").to_string();
    let remote = format!("{src}.{topic}");
    wait_for_records(&mirror, &b.bootstrap, &remote, 400, WAIT).await;
    assert_eq!(
        consume(
            &a.bootstrap,
            &topic,
            &group,
            Some(150),
            30_000,
            &["--from-beginning"]
        )
        .len(),
        150
    );

    // Caught up: replicating, no lag, heartbeat and checkpoint written, the group synced on B.
    let deadline = Instant::now() + WAIT;
    let flow_json = loop {
        let (ok, json) = status_json(&config, &flow);
        let f = json["flows"][0].clone();
        let synced = f["groups"]
            .as_array()
            .is_some_and(|g| g.len() == 1 && g[0]["state"] == "synced");
        if ok && f["lag_records"] == 0 && f["checkpoint_age_seconds"].is_number() && synced {
            break f;
        }
        assert!(
            Instant::now() < deadline,
            "status never caught up: {json:#}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(flow_json["state"], "replicating", "{flow_json:#}");
    assert_eq!(flow_json["fenced"], false);
    assert!(
        flow_json["heartbeat_age_seconds"].is_number(),
        "{flow_json:#}"
    );
    assert_eq!(flow_json["topics"][0]["source_topic"], topic.as_str());
    assert_eq!(flow_json["topics"][0]["target_topic"], remote.as_str());
    assert_eq!(flow_json["topics"][0]["lag_records"], 0);

    // kmirror stopped, 300 more records on A: behind by exactly those, with a lag in time. Someone writes
    // into B's copy of partition 0: `kmirror run` would refuse that partition, and status says so.
    mirror.stop();
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(300, 2, "s2"),
        Compression::Lz4,
    )
    .await;
    produce(
        &b.bootstrap,
        &remote,
        &plain_records(5, 1, "foreign"),
        Compression::None,
    )
    .await;
    let (ok, json) = status_json(&config, &flow);
    let f = &json["flows"][0];
    assert!(
        ok,
        "behind but replicating and reachable: exit 0 ({json:#})"
    );
    assert_eq!(f["lag_records"], 300, "{json:#}");
    assert_eq!(f["partitions_behind"], 2, "{json:#}");
    assert!(f["lag_seconds"].is_number(), "{json:#}");
    let details = f["topics"][0]["details"].as_array().expect("details");
    assert!(
        details
            .iter()
            .all(|d| d["lag_basis"] == "oldest-uncopied-record" && d["lag_seconds"].is_number()),
        "the age of the oldest uncopied record is measured on the source: {json:#}"
    );
    let problems = f["problems"].to_string();
    assert!(problems.contains("2 of 2 partitions behind"), "{json:#}");
    assert_eq!(f["topics"][0]["partitions_refused"], 1, "{json:#}");
    assert!(
        details[0]["refused"]
            .as_str()
            .is_some_and(|r| r.contains("did not write")),
        "partition 0 holds foreign records past the progress: {json:#}"
    );
    assert!(
        problems.contains(&format!("{topic}-0: refused")),
        "{json:#}"
    );

    // Failed over: fenced, who and when, exit 1; the table says so too.
    let (ok, stdout, stderr) = run_kmirror(&["failover", "--config", &config, "--flow", &flow]);
    assert!(ok, "failover: {stdout}\n{stderr}");
    let (ok, json) = status_json(&config, &flow);
    let f = &json["flows"][0];
    assert!(!ok, "a failed-over flow exits 1: {json:#}");
    assert_eq!(f["state"], "failed-over", "{json:#}");
    assert_eq!(f["fenced"], true);
    assert!(
        f["decision"]["by"]
            .as_str()
            .is_some_and(|b| b.contains('@')),
        "{json:#}"
    );
    assert!(
        f["decision"]["at_ms"].as_i64().is_some_and(|at| at > 0),
        "{json:#}"
    );
    let (ok, table, _) = run_kmirror(&["status", "--config", &config, "--flow", &flow]);
    println!("{table}");
    assert!(
        !ok && table.contains("failed-over") && table.contains("was failed over by"),
        "{table}"
    );
}

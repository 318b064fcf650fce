//! S3, the whole DR lifecycle: replication A->B with consumers on A; A is lost with records that never reached
//! B; unplanned failover; applications go on on B; A comes back; `kmirror failback` (interrupted with
//! `kill -9` right after it emptied A, then run again) exports the orphans, rebuilds A from B, moves the group
//! back and re-protects. A test binary of its own: it kills cluster A, which must not disturb other tests.

mod support;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use kmirror_testkit::{
    Compression, ReadRecord, TopicSpec, cluster, create_topic, produce, read_all, unique_name,
    unique_topic,
};
use support::groups::{committed, consume};
use support::{
    Mirror, compare, mm2_properties, plain_records, run_kmirror, tail, wait_for_records,
};

const WAIT: Duration = Duration::from_secs(180);

/// `kmirror status --json` for one flow: (exit code 0, the flow's state, its lag in records).
fn status(config: &str, flow: &str) -> (bool, String, Option<i64>) {
    let (ok, stdout, stderr) =
        run_kmirror(&["status", "--config", config, "--flow", flow, "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("status --json ({e}): {stdout}\n{stderr}"));
    let f = &json["flows"][0];
    (
        ok,
        f["state"].as_str().unwrap_or_default().to_string(),
        f["lag_records"].as_i64(),
    )
}

/// Starts `kmirror` with `args` and kills it (`kill -9`) as soon as its output (stdout or stderr) shows a
/// line starting with `marker`; returns what it printed.
fn kill_when(args: &[&str], marker: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kmirror"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kmirror");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let outputs: [Box<dyn std::io::Read + Send>; 2] = [
        Box::new(child.stdout.take().expect("stdout")),
        Box::new(child.stderr.take().expect("stderr")),
    ];
    for out in outputs {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut printed = String::new();
    for line in rx {
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with(marker) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    printed
}

async fn wait_for(what: &str, mirror: &Mirror, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; kmirror log:\n{}",
            tail(&mirror.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// (partition, key, value) of records, for comparing what a group read with what it should have read.
fn kv(records: &[ReadRecord]) -> Vec<(i32, String, String)> {
    records
        .iter()
        .map(|r| {
            (
                r.partition,
                String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned(),
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_then_failback_rebuilds_the_old_primary_moves_the_group_back_and_reprotects() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("s3");
    let group = unique_name("grp-s3");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 3)).await;
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(3_000, 3, "a1"),
        Compression::Lz4,
    )
    .await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let flow = format!("{src}->{dst}");
    let props = mm2_properties(
        &src,
        &dst,
        &format!(
            "{flow}.enabled = true\n{flow}.topics = {topic}\n{flow}.groups = {group}\n\
             replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n\
             emit.checkpoints.interval.seconds = 1\nsync.group.offsets.interval.seconds = 1\n\
             refresh.groups.interval.seconds = 1\nrefresh.topics.interval.seconds = 1\n"
        ),
    );
    let mut mirror = Mirror::start(&props);
    let config = mirror.config.to_str().expect("utf-8 path").to_string();

    // Consumers on A; everything copied, the group's position synced to B.
    let read_on_a = consume(
        &a.bootstrap,
        &topic,
        &group,
        Some(1_200),
        30_000,
        &["--from-beginning"],
    );
    assert_eq!(read_on_a.len(), 1_200);
    wait_for_records(&mirror, &b.bootstrap, &topic, 3_000, WAIT).await;
    let on_a = committed(&a.bootstrap, &group, &topic);
    wait_for("the group's offsets on B", &mirror, || {
        committed(&b.bootstrap, &group, &topic) == on_a
    })
    .await;

    // Records that reach A but never B (replication stopped, then A is lost).
    mirror.kill();
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(90, 3, "orphan"),
        Compression::Lz4,
    )
    .await;
    let orphans: Vec<ReadRecord> = read_all(&a.bootstrap, &topic)
        .await
        .into_iter()
        .filter(|r| {
            r.value
                .as_deref()
                .is_some_and(|v| v.starts_with(b"v-orphan"))
        })
        .collect();
    assert_eq!(orphans.len(), 90);
    a.kill();
    let mut restart_a = support::StartOnDrop(Some(a.clone()));

    // Unplanned failover; the applications go on on B.
    let (ok, stdout, stderr) =
        run_kmirror(&["failover", "--config", &config, "--flow", &flow, "--json"]);
    assert!(ok, "failover: {stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("failover --json");
    assert_eq!(report["source_reachable"], false, "{stdout}");
    assert_eq!(report["fence"]["phase"], "failed-over", "{stdout}");
    let (ok, state, _) = status(&config, &flow);
    assert!(
        !ok && state == "failed-over",
        "status after the failover: {state}"
    );
    produce(
        &b.bootstrap,
        &topic,
        &plain_records(600, 3, "b1"),
        Compression::Lz4,
    )
    .await;
    assert_eq!(
        consume(&b.bootstrap, &topic, &group, Some(500), 30_000, &[]).len(),
        500
    );

    // A comes back; kmirror run, started again, honours the fence.
    if let Some(a) = restart_a.0.take() {
        a.start();
    }
    mirror.restart();
    wait_for("kmirror run to report the fence", &mirror, || {
        mirror.log_text().contains("not replicating: flow")
    })
    .await;

    let export = std::env::temp_dir().join(unique_name("failback-export"));
    let export_dir = export.to_str().expect("utf-8 path").to_string();
    let failback = [
        "failback",
        "--config",
        &config,
        "--flow",
        &flow,
        "--export-dir",
        &export_dir,
    ];
    let (ok, stdout, stderr) = run_kmirror(&[&failback[..], &["--dry-run"]].concat());
    assert!(ok, "dry run: {stdout}\n{stderr}");
    assert!(
        stdout.contains("90 exported") && stdout.contains("dry run"),
        "{stdout}"
    );
    assert!(!export.exists(), "a dry run writes nothing");
    assert!(
        stdout.contains(&format!(
            "consumer groups to move back to {src} at the switch: {group}"
        )),
        "the plan names the groups: {stdout}"
    );

    // kill -9 right after A was emptied, then again during the reverse copy: each run after that resumes,
    // never exporting or wiping twice.
    let yes = [&failback[..], &["--yes"]].concat();
    let first_run = kill_when(&yes, "emptied");
    assert!(
        first_run.contains("emptied"),
        "the first run got as far as emptying A:\n{first_run}"
    );
    let (ok, state, _) = status(&config, &flow);
    assert!(
        !ok && state == "failing-back",
        "status while failing back: {state}"
    );
    let second_run = kill_when(&yes, "[");
    assert!(
        second_run.contains("resuming an interrupted failback"),
        "the second run resumed the copy:\n{second_run}"
    );

    let (ok, stdout, stderr) = run_kmirror(&[&failback[..], &["--yes"]].concat());
    assert!(
        ok,
        "failback: {stdout}\n{stderr}\nkmirror run log:\n{}",
        tail(&mirror.log_text(), 30)
    );
    assert!(
        stdout.contains("resuming an interrupted failback"),
        "{stdout}"
    );
    assert!(
        stdout.contains("safe to switch back") && stdout.contains("re-protected"),
        "{stdout}"
    );

    // The orphans are in the export, exactly, in order.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(export.join("EXPORT-COMPLETE.json")).expect("export marker"),
    )
    .expect("export summary");
    assert_eq!(summary["records"], 90, "{summary}");
    let mut exported = Vec::new();
    for f in summary["files"].as_array().expect("files") {
        let text = std::fs::read_to_string(export.join(f["file"].as_str().expect("file")))
            .expect("export file");
        for line in text.lines() {
            let r: serde_json::Value = serde_json::from_str(line).expect("export line");
            let bytes = |v: &serde_json::Value| {
                v.as_str().map(|s| {
                    base64::engine::general_purpose::STANDARD
                        .decode(s)
                        .expect("base64")
                })
            };
            exported.push(ReadRecord {
                partition: r["partition"].as_i64().expect("partition") as i32,
                offset: r["offset"].as_i64().expect("offset"),
                key: bytes(&r["key"]),
                value: bytes(&r["value"]),
                headers: Vec::new(),
                timestamp: r["timestamp"].as_i64(),
            });
        }
    }
    exported.sort_by_key(|r| (r.partition, r.offset));
    compare(&orphans, &exported, "orphans on A", "the export");

    // A holds exactly what B holds, in order.
    let on_b = read_all(&b.bootstrap, &topic).await;
    assert_eq!(on_b.len(), 3_600);
    compare(
        &on_b,
        &read_all(&a.bootstrap, &topic).await,
        "B",
        "A rebuilt",
    );

    // The group, back on A, reads exactly what it had not read on B: nothing skipped, nothing twice.
    let position_on_b = committed(&b.bootstrap, &group, &topic);
    let expected: Vec<ReadRecord> = on_b
        .iter()
        .filter(|r| {
            position_on_b
                .get(&r.partition)
                .is_some_and(|p| r.offset >= *p)
        })
        .cloned()
        .collect();
    let mut read_back = consume(&a.bootstrap, &topic, &group, None, 10_000, &[]);
    read_back.sort_by_key(|c| (c.partition, c.offset));
    let read_back: Vec<(i32, String, String)> = read_back
        .into_iter()
        .map(|c| (c.partition, c.key, c.value))
        .collect();
    let expected = kv(&expected);
    let position_on_a = committed(&a.bootstrap, &group, &topic);
    let context = format!(
        "group position on B: {position_on_b:?}, on A: {position_on_a:?}; A: {:?}; failback said:\n{stdout}",
        kmirror_testkit::topic_end_offsets(&a.bootstrap, &topic).await
    );
    assert_eq!(
        read_back.len(),
        expected.len(),
        "records read back on A; {context}"
    );
    if let Some(i) = (0..expected.len()).find(|i| read_back[*i] != expected[*i]) {
        panic!(
            "on A the group reads exactly what it had not read on B; first difference at {i}: read {:?}, \
             expected {:?}; {context}",
            read_back[i], expected[i]
        );
    }

    // Re-protected: new records on A reach B, nothing is copied twice.
    produce(
        &a.bootstrap,
        &topic,
        &plain_records(200, 3, "a2"),
        Compression::Lz4,
    )
    .await;
    wait_for_records(&mirror, &b.bootstrap, &topic, 3_800, WAIT).await;
    // The stored progress (what `status` reads) follows the copy within a commit interval.
    wait_for(
        "status to show the flow replicating and caught up",
        &mirror,
        || {
            let (ok, state, lag) = status(&config, &flow);
            ok && state == "replicating" && lag == Some(0)
        },
    )
    .await;
    compare(
        &read_all(&a.bootstrap, &topic).await,
        &read_all(&b.bootstrap, &topic).await,
        "A",
        "B",
    );
}

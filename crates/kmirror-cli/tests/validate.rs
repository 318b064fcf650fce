//! `kmirror validate` run as a process: exit codes, the plan on stdout, errors on stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kmirror/tests/fixtures")
}

fn kmirror(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kmirror"))
        .args(args)
        // The DR fixture's file-provider path is relative to the kmirror crate root.
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../kmirror"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run kmirror: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn valid_mm2_file_prints_the_plan() {
    let config = fixtures().join("connect-mirror-maker.properties");
    let out = kmirror(&[
        "validate",
        "--config",
        config.to_str().unwrap_or_default(),
        "--topics",
        "orders,__consumer_offsets,B.orders,_schemas,mm2-offset-syncs.B.internal",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    for expected in [
        "bootstrap.servers: A_host1:9092,A_host2:9092,A_host3:9092",
        "A->B: replicating",
        "B->A: replicating",
        "replication.factor: 1",
        "orders -> A.orders",
        "orders -> B.orders",
        "_schemas -> A._schemas",
        "__consumer_offsets: skipped: internal topic",
        "B.orders: skipped: `B.orders` came from `B`, the target of this flow",
        "B.orders -> B.B.orders",
        "mm2-offset-syncs.B.internal: skipped: internal topic",
        "offset.storage.replication.factor",
        "\nvalid\n",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

#[test]
fn valid_dr_file_hides_secrets() {
    let config = fixtures().join("dr-sasl.properties");
    let out = kmirror(&[
        "validate",
        "--offline",
        "--config",
        config.to_str().unwrap_or_default(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert!(
        !stdout.contains("kmirror-secret"),
        "secret printed:\n{stdout}"
    );
    assert!(stdout.contains("sasl.jaas.config=[redacted]"), "{stdout}");
    assert!(stdout.contains("security.protocol: SASL_SSL"), "{stdout}");
    assert!(stdout.contains("IdentityReplicationPolicy"), "{stdout}");
    assert!(
        stdout.contains("`mm2-offset-syncs.primary.internal` on backup"),
        "{stdout}"
    );
    assert!(stdout.contains("not shown: offline"), "{stdout}");
    assert!(stdout.contains("http: 127.0.0.1:9464"), "{stdout}");
}

#[test]
fn invalid_file_exits_2_with_the_problem() {
    let dir = std::env::temp_dir().join(format!("kmirror-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join("bad.properties");
    std::fs::write(
        &path,
        "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nA->C.enabled = true\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = kmirror(&["validate", "--config", path.to_str().unwrap_or_default()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("{}:4", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("`A->C.enabled`"), "{stderr}");
    assert!(
        stderr.contains("`C`, which is not in `clusters`"),
        "{stderr}"
    );
    assert!(text(&out.stdout).is_empty());

    let out = kmirror(&[
        "validate",
        "--config",
        dir.join("absent.toml").to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read"));
    std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn missing_argument_is_a_usage_error() {
    let out = kmirror(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--config"));
}

/// Without `--topics`, validate lists each flow's source cluster for real and shows the plan per topic.
#[tokio::test(flavor = "multi_thread")]
async fn validate_lists_the_source_topics_of_a_live_cluster() {
    let a = kmirror_testkit::cluster("A");
    let b = kmirror_testkit::cluster("B");
    let topic = kmirror_testkit::unique_topic("validate-live");
    kmirror_testkit::create_topic(&a.bootstrap, &kmirror_testkit::TopicSpec::new(&topic, 1)).await;
    let internal = format!("{topic}.internal");
    kmirror_testkit::create_topic(&a.bootstrap, &kmirror_testkit::TopicSpec::new(&internal, 1))
        .await;
    let dir = std::env::temp_dir().join(kmirror_testkit::unique_name("kmirror-validate-"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("mm2.properties");
    std::fs::write(
        &path,
        format!(
            "clusters = A, B\nA.bootstrap.servers = {}\nB.bootstrap.servers = {}\nA->B.enabled = true\n",
            a.bootstrap, b.bootstrap
        ),
    )
    .expect("write config");
    let out = kmirror(&["validate", "--config", path.to_str().unwrap_or_default()]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{topic} -> A.{topic}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{internal}: skipped: internal topic")),
        "{stdout}"
    );
}

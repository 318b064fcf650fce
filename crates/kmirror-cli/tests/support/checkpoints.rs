//! Checkpoints as MirrorMaker 2's own `CheckpointFormatter` (Java) decodes them: kmirror's checkpoints are
//! never judged by kmirror's own codec.

use std::collections::BTreeMap;

use kmirror_testkit::kafka_tool;

/// A checkpoint as MM2's own `CheckpointFormatter` decodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaCheckpoint {
    pub group: String,
    pub topic_partition: String,
    pub upstream: i64,
    pub downstream: i64,
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!("{name}="))? + name.len() + 1;
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// Every record of `topic` on `bootstrap`, decoded by MM2's `CheckpointFormatter` (Java), in order.
pub fn checkpoints_via_java(bootstrap: &str, topic: &str) -> Vec<JavaCheckpoint> {
    let out = kafka_tool(
        "console-consumer",
        &[
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--from-beginning",
            "--timeout-ms",
            "6000",
            "--formatter",
            "org.apache.kafka.connect.mirror.formatters.CheckpointFormatter",
        ],
    );
    out.stdout
        .lines()
        .filter(|l| l.starts_with("Checkpoint{"))
        .map(|l| JavaCheckpoint {
            group: field(l, "consumerGroupId").expect("group").to_string(),
            topic_partition: field(l, "topicPartition").expect("tp").to_string(),
            upstream: field(l, "upstreamOffset")
                .and_then(|v| v.parse().ok())
                .expect("upstream"),
            downstream: field(l, "downstreamOffset")
                .and_then(|v| v.parse().ok())
                .expect("downstream"),
        })
        .collect()
}

/// Item 33/35: per group and partition, the downstream offset never decreases unless the upstream did.
pub fn assert_monotonic(checkpoints: &[JavaCheckpoint]) {
    let mut last: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for c in checkpoints {
        let key = (c.group.clone(), c.topic_partition.clone());
        if let Some((up, down)) = last.get(&key) {
            assert!(
                c.downstream >= *down || c.upstream < *up,
                "checkpoint went backwards for {key:?}: {up}->{down} then {}->{}",
                c.upstream,
                c.downstream
            );
        }
        last.insert(key, (c.upstream, c.downstream));
    }
}

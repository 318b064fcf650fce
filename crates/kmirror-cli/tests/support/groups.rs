//! Consumer groups seen through Kafka's own Java tools: what a group has committed, and what a consumer in a
//! group reads from where it stands.

use std::collections::BTreeMap;

use kmirror_testkit::kafka_tool;

/// Committed offsets of `group` on `topic`, by partition, from `kafka-consumer-groups --describe`.
pub fn committed(bootstrap: &str, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    let out = kafka_tool(
        "consumer-groups",
        &[
            "--bootstrap-server",
            bootstrap,
            "--describe",
            "--group",
            group,
        ],
    );
    let mut offsets = BTreeMap::new();
    for line in out.stdout.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() >= 4
            && cols[0] == group
            && cols[1] == topic
            && let (Ok(p), Ok(o)) = (cols[2].parse::<i32>(), cols[3].parse::<i64>())
        {
            offsets.insert(p, o);
        }
    }
    offsets
}

/// The state column of `kafka-consumer-groups --describe --state` (e.g. `Stable`, `Empty`).
pub fn state(bootstrap: &str, group: &str) -> String {
    let out = kafka_tool(
        "consumer-groups",
        &[
            "--bootstrap-server",
            bootstrap,
            "--describe",
            "--state",
            "--group",
            group,
        ],
    );
    const STATES: [&str; 7] = [
        "Stable",
        "Empty",
        "PreparingRebalance",
        "CompletingRebalance",
        "Dead",
        "Assigning",
        "Reconciling",
    ];
    out.stdout
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(group))
        .flat_map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|w| STATES.contains(&w.as_str()))
        .unwrap_or_default()
}

/// A record as Kafka's console consumer printed it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Consumed {
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub value: String,
}

/// Runs Kafka's console consumer in `group` on `topic` (committing as it goes), for at most `max` records, or
/// until no record arrives for `idle_ms`. `extra` adds arguments (e.g. `--from-beginning`).
pub fn consume(
    bootstrap: &str,
    topic: &str,
    group: &str,
    max: Option<usize>,
    idle_ms: u64,
    extra: &[&str],
) -> Vec<Consumed> {
    let max_arg = max.map(|m| m.to_string());
    let idle = idle_ms.to_string();
    let mut args = vec![
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--timeout-ms",
        &idle,
        "--property",
        "print.partition=true",
        "--property",
        "print.offset=true",
        "--property",
        "print.key=true",
    ];
    if let Some(m) = &max_arg {
        args.extend(["--max-messages", m.as_str()]);
    }
    args.extend(extra);
    let out = kafka_tool("console-consumer", &args);
    parse_consumed(&out.stdout)
}

fn parse_consumed(stdout: &str) -> Vec<Consumed> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut cols = l.splitn(4, '\t');
            let partition = cols.next()?.strip_prefix("Partition:")?.parse().ok()?;
            let offset = cols.next()?.strip_prefix("Offset:")?.parse().ok()?;
            Some(Consumed {
                partition,
                offset,
                key: cols.next()?.to_string(),
                value: cols.next()?.to_string(),
            })
        })
        .collect()
}

//! `kmirror validate`: load a config, report every problem, and print what kmirror would do with it — clusters
//! (never secrets), each flow's effective settings, and for the given topic names where each would go or why not.
//! Unless `--offline`, it then does what `run` would: connects and authenticates every client of every active
//! flow and checks each enabled flow's permissions (`access`). Exit codes: 0 ready to run, 1 a cluster could not
//! be reached or a permission is missing, 2 the config itself is invalid.

mod access;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use std::collections::BTreeMap;

use kmirror::config::{
    ClusterConfig, Config, FlowConfig, Format, Periodic, Role, UseDefaultsFrom, redacted,
};
use kmirror::policy::{Decision, PolicyKind, should_replicate_topic};

/// Exit code for an invalid config (clap uses the same code for bad arguments).
const INVALID: u8 = 2;
/// Exit code for a valid config that `run` could not use as things stand (unreachable, refused, not permitted).
const NOT_READY: u8 = 1;

/// Arguments of `kmirror validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file: `*.properties` (MirrorMaker 2 format) or `*.toml` (kmirror format).
    #[arg(long, short)]
    config: PathBuf,
    /// Source topic names to show the plan for, comma-separated, instead of listing the source clusters.
    #[arg(long, value_delimiter = ',')]
    topics: Vec<String>,
    /// Do not connect to the clusters: check the config and its key/trust stores only (the topic plan is then
    /// shown only for `--topics`).
    #[arg(long)]
    offline: bool,
}

/// Where the topic names of the plan come from.
enum TopicNames {
    /// Not shown: offline and no `--topics`.
    None,
    /// The same names for every flow (`--topics`).
    Given(Vec<String>),
    /// Each source cluster's topics, or why they could not be listed, by alias.
    Listed(BTreeMap<String, Result<Vec<String>, String>>),
}

/// Runs the subcommand; the exit code says whether the config is valid and `run` could use it.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("{}: invalid", args.config.display());
            return Ok(ExitCode::from(INVALID));
        }
    };
    let given: Vec<String> = args
        .topics
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if args.offline {
        let names = if given.is_empty() {
            TopicNames::None
        } else {
            TopicNames::Given(given)
        };
        print!("{}", render_with(&config, &names));
        println!("\nvalid (offline: no cluster was contacted)");
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(access::check(&config));
    let names = if given.is_empty() {
        TopicNames::Listed(report.listed.clone())
    } else {
        TopicNames::Given(given)
    };
    print!("{}", render_with(&config, &names));
    print!("{}", render_report(&report));
    if report.is_ok() {
        println!("\nvalid: every cluster answered and every permission checked is granted");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "\nnot ready: {} connection problem(s), {} missing operation(s)",
            report.failures.len(),
            report.missing_ops()
        );
        Ok(ExitCode::from(NOT_READY))
    }
}

fn render_report(report: &access::Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nclusters reached:");
    if report.reached.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for (alias, principals) in &report.reached {
        let p: Vec<&str> = principals.iter().map(String::as_str).collect();
        let _ = writeln!(out, "  {alias}: as {}", p.join(", "));
    }
    if !report.failures.is_empty() {
        let _ = writeln!(out, "\nconnection problems ({}):", report.failures.len());
        for f in &report.failures {
            let _ = writeln!(out, "  - {f}");
        }
    }
    if !report.missing.is_empty() {
        let _ = writeln!(
            out,
            "\nmissing permissions ({} operations); each with the command that grants it:",
            report.missing_ops()
        );
        access::render_missing(&mut out, &report.missing);
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\nnotes:");
        for n in &report.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}

/// The plan as text.
/// The plan as text for the given topic names (`None`: not shown).
#[cfg(test)]
fn render(config: &Config, topics: Option<&[String]>) -> String {
    let names = topics.map_or(TopicNames::None, |t| TopicNames::Given(t.to_vec()));
    render_with(config, &names)
}

fn render_with(config: &Config, names: &TopicNames) -> String {
    let mut out = String::new();
    let file = config
        .file
        .as_ref()
        .map_or_else(|| "<config>".to_owned(), |f| f.display().to_string());
    let format = match config.format {
        Format::Properties => "MirrorMaker 2 properties",
        Format::Toml => "kmirror TOML",
    };
    let _ = writeln!(out, "config: {file} ({format})");
    if !config.warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings ({}):", config.warnings.len());
        for w in &config.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    let _ = writeln!(out, "\nclusters:");
    for cluster in config.clusters.values() {
        render_cluster(&mut out, cluster);
    }
    let _ = writeln!(out, "\nflows:");
    for flow in &config.flows {
        render_flow(&mut out, flow);
    }
    if config.flows.is_empty() {
        let _ = writeln!(out, "  (none: no flow replicates or emits heartbeats)");
    }
    let _ = writeln!(
        out,
        "\nhttp: {}",
        config
            .http_listen
            .map_or_else(|| "off".to_owned(), |a| a.to_string())
    );
    render_plan(&mut out, config, names);
    out
}

fn render_cluster(out: &mut String, c: &ClusterConfig) {
    let _ = writeln!(out, "  {}:", c.alias);
    let _ = writeln!(
        out,
        "    bootstrap.servers: {}",
        c.bootstrap_servers.join(",")
    );
    let _ = writeln!(out, "    security.protocol: {}", c.security_protocol);
    if let Some(mechanism) = c.admin.get("sasl.mechanism") {
        let _ = writeln!(out, "    sasl.mechanism: {mechanism}");
    }
    for role in Role::ALL {
        let props: Vec<String> = c
            .role(role)
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "bootstrap.servers" | "security.protocol" | "sasl.mechanism"
                )
            })
            .map(|(k, v)| format!("{k}={}", redacted(k, v)))
            .collect();
        if !props.is_empty() {
            let _ = writeln!(out, "    {}: {}", role.as_str(), props.join(", "));
        }
    }
}

fn periodic(p: Periodic) -> String {
    if p.enabled {
        format!("every {} s", p.interval.as_secs())
    } else {
        "off".to_owned()
    }
}

fn rf(v: Option<i32>, none: &str) -> String {
    match v {
        None => none.to_owned(),
        Some(-1) => "target broker default".to_owned(),
        Some(n) => n.to_string(),
    }
}

fn render_flow(out: &mut String, f: &FlowConfig) {
    let state = if f.enabled {
        "replicating"
    } else {
        "heartbeats only (enabled = false)"
    };
    let _ = writeln!(out, "  {}: {state}", f.name());
    let naming = match f.policy.kind() {
        PolicyKind::Default => format!(
            "DefaultReplicationPolicy, separator `{}`",
            f.policy.separator()
        ),
        PolicyKind::Identity => "IdentityReplicationPolicy (names unchanged)".to_owned(),
    };
    let rows: Vec<(&str, String)> = vec![
        ("naming", naming),
        ("topics", f.topics.include().joined()),
        ("topics.exclude", f.topics.exclude().joined()),
        ("groups", f.groups.include().joined()),
        ("groups.exclude", f.groups.exclude().joined()),
        (
            "config.properties.exclude",
            f.config_properties_exclude.exclude().joined(),
        ),
        (
            "replication.factor",
            rf(f.replication_factor, "same as the source topic"),
        ),
        ("refresh topics", periodic(f.refresh_topics)),
        ("refresh groups", periodic(f.refresh_groups)),
        (
            "sync topic configs",
            format!(
                "{} (use.defaults.from {})",
                periodic(f.sync_topic_configs),
                match f.use_defaults_from {
                    UseDefaultsFrom::Target => "target",
                    UseDefaultsFrom::Source => "source",
                }
            ),
        ),
        ("sync topic ACLs", periodic(f.sync_topic_acls)),
        (
            "heartbeats",
            format!(
                "{} into `{}` on {}",
                periodic(f.emit_heartbeats),
                f.heartbeats_topic(),
                f.target
            ),
        ),
        (
            "replicate heartbeats",
            f.heartbeats_replication_enabled.to_string(),
        ),
        (
            "checkpoints",
            format!(
                "{} into `{}` on {}",
                periodic(f.emit_checkpoints),
                f.checkpoints_topic(),
                f.target
            ),
        ),
        ("sync group offsets", periodic(f.sync_group_offsets)),
        (
            "offset syncs",
            if f.emit_offset_syncs {
                format!(
                    "`{}` on {}",
                    f.offset_syncs_topic(),
                    f.offset_syncs_cluster()
                )
            } else {
                "off".to_owned()
            },
        ),
        (
            "internal topics RF",
            format!(
                "offset-syncs {}, checkpoints {}, heartbeats {}",
                rf(f.offset_syncs_topic_replication_factor, "min(3, brokers)"),
                rf(f.checkpoints_topic_replication_factor, "min(3, brokers)"),
                rf(f.heartbeats_topic_replication_factor, "min(3, brokers)"),
            ),
        ),
        ("offset.lag.max", f.offset_lag_max.to_string()),
        (
            "source consumer",
            format!(
                "auto.offset.reset={}, isolation.level={}",
                f.auto_offset_reset.as_str(),
                f.isolation_level.as_str()
            ),
        ),
    ];
    for (name, value) in rows {
        let shown = if value.is_empty() {
            "(empty: nothing)".to_owned()
        } else {
            value
        };
        let _ = writeln!(out, "    {name}: {shown}");
    }
    if let Some(n) = f.tasks_max {
        let _ = writeln!(out, "    tasks.max: {n} (ignored)");
    }
}

fn render_plan(out: &mut String, config: &Config, names: &TopicNames) {
    let _ = writeln!(out, "\ntopic plan:");
    if matches!(names, TopicNames::None) {
        let _ = writeln!(
            out,
            "  not shown: offline; pass --topics t1,t2,... or drop --offline to list the clusters"
        );
        return;
    }
    let mut any = false;
    for flow in config.enabled_flows() {
        any = true;
        let _ = writeln!(out, "  {}:", flow.name());
        let topics: &[String] = match names {
            TopicNames::None => &[],
            TopicNames::Given(t) => t,
            TopicNames::Listed(by_alias) => match by_alias.get(&flow.source) {
                Some(Ok(t)) => t,
                Some(Err(e)) => {
                    let _ = writeln!(
                        out,
                        "    cannot list the topics of cluster {}: {e}",
                        flow.source
                    );
                    continue;
                }
                None => &[],
            },
        };
        for topic in topics {
            match should_replicate_topic(flow, topic) {
                Decision::Replicate { target_name } => {
                    let _ = writeln!(out, "    {topic} -> {target_name}");
                }
                Decision::Skip { reason } => {
                    let _ = writeln!(out, "    {topic}: skipped: {reason}");
                }
            }
        }
    }
    if !any {
        let _ = writeln!(out, "  (no enabled flow)");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plan_never_prints_secrets() {
        let config = Config::from_properties_str(
            "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\n\
             A.security.protocol = SASL_SSL\nA.sasl.mechanism = PLAIN\n\
             A.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"u\" password=\"hunter2\";\nA.ssl.truststore.password = hunter3\nA->B.enabled = true\n",
        )
        .unwrap();
        let text = render(
            &config,
            Some(&["orders".to_owned(), "__consumer_offsets".to_owned()]),
        );
        assert!(!text.contains("hunter"), "{text}");
        assert!(text.contains("sasl.jaas.config=[redacted]"), "{text}");
        assert!(text.contains("security.protocol: SASL_SSL"), "{text}");
        assert!(text.contains("sasl.mechanism: PLAIN"), "{text}");
        assert!(text.contains("orders -> A.orders"), "{text}");
        assert!(
            text.contains("__consumer_offsets: skipped: internal topic"),
            "{text}"
        );
        assert!(text.contains("B->A: heartbeats only"), "{text}");
    }
}

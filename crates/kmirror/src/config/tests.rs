//! Loader tests: MM2's own config tests (mm2-test-suite.md §3 items 12, 21, 24, 42, 47, 55–61) ported with their
//! examples, the error message of every malformed case, warnings, and the TOML format.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::policy::{Decision, PolicyKind, should_replicate_topic};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

const TWO: &str = "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\n";

fn load(extra: &str) -> Config {
    Config::from_properties_str(&format!("{TWO}{extra}\n")).unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    match Config::from_properties_str(text) {
        Ok(_) => panic!("loaded, expected an error:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn error_with(extra: &str) -> String {
    error(&format!("{TWO}{extra}\n"))
}

fn assert_contains(haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(haystack.contains(n), "expected {n:?} in:\n{haystack}");
    }
}

fn warnings_of(config: &Config, kind: WarningKind) -> Vec<String> {
    config
        .warnings
        .iter()
        .filter(|w| w.kind == kind)
        .map(|w| w.key.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// The Apache Kafka sample file loads unchanged.

#[test]
fn apache_sample_loads_unchanged() {
    let config = Config::load(&fixture("connect-mirror-maker.properties")).unwrap();
    assert_eq!(config.format, Format::Properties);
    assert_eq!(config.clusters.keys().collect::<Vec<_>>(), ["A", "B"]);
    assert_eq!(
        config.clusters["A"].bootstrap_servers,
        ["A_host1:9092", "A_host2:9092", "A_host3:9092"]
    );
    assert_eq!(
        config.clusters["B"].security_protocol,
        SecurityProtocol::Plaintext
    );
    assert_eq!(config.flows.len(), 2);
    for (s, t) in [("A", "B"), ("B", "A")] {
        let flow = config.flow(s, t).unwrap();
        assert!(flow.enabled);
        assert_eq!(flow.topics.include().patterns(), [".*"]);
        assert_eq!(flow.replication_factor, Some(1));
        assert_eq!(flow.checkpoints_topic_replication_factor, Some(1));
        assert_eq!(flow.heartbeats_topic_replication_factor, Some(1));
        assert_eq!(flow.offset_syncs_topic_replication_factor, Some(1));
        assert_eq!(flow.policy.kind(), PolicyKind::Default);
        // kmirror defaults where the file is silent.
        assert_eq!(
            flow.refresh_topics,
            Periodic {
                enabled: true,
                interval: Duration::from_secs(5)
            }
        );
        assert_eq!(flow.emit_checkpoints.interval, Duration::from_secs(5));
        assert_eq!(
            flow.sync_group_offsets,
            Periodic {
                enabled: true,
                interval: Duration::from_secs(5)
            }
        );
        assert_eq!(
            flow.emit_heartbeats,
            Periodic {
                enabled: true,
                interval: Duration::from_secs(1)
            }
        );
        assert_eq!(flow.auto_offset_reset, AutoOffsetReset::Earliest);
    }
    assert_eq!(
        should_replicate_topic(config.flow("A", "B").unwrap(), "orders"),
        Decision::Replicate {
            target_name: "A.orders".into()
        }
    );
    // The Connect-storage keys are known MM2 keys kmirror ignores; nothing is unknown.
    let ignored = warnings_of(&config, WarningKind::Ignored);
    assert_contains(
        &ignored.join(","),
        &[
            "offset.storage.replication.factor",
            "status.storage.replication.factor",
        ],
    );
    assert!(
        warnings_of(&config, WarningKind::Unknown).is_empty(),
        "{:?}",
        config.warnings
    );
    // The notes tell MM2 users where kmirror's defaults differ.
    assert!(
        warnings_of(&config, WarningKind::Note).contains(&"sync.group.offsets.enabled".to_owned())
    );
    assert_eq!(config.http_listen, None);
}

#[test]
fn dr_fixture_with_sasl_and_file_provider() {
    // The fixture's file provider path is relative to the crate root, where `cargo test` runs.
    let config = Config::load(&fixture("dr-sasl.properties")).unwrap();
    let primary = &config.clusters["primary"];
    assert_eq!(primary.security_protocol, SecurityProtocol::SaslSsl);
    assert_eq!(
        primary.bootstrap_servers,
        ["p1.example:9094", "p2.example:9094"]
    );
    let jaas = &primary.consumer["sasl.jaas.config"];
    assert_eq!(
        jaas,
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"kmirror\" \
         password=\"kmirror-secret\";"
    );
    assert_eq!(primary.consumer["isolation.level"], "read_committed");
    assert_eq!(
        config.clusters["backup"].producer["compression.type"],
        "zstd"
    );
    assert!(
        !config.clusters["backup"]
            .consumer
            .contains_key("compression.type")
    );

    let flow = config.flow("primary", "backup").unwrap();
    assert_eq!(flow.policy.kind(), PolicyKind::Identity);
    assert_eq!(flow.isolation_level, IsolationLevel::ReadCommitted);
    assert_eq!(
        flow.offset_syncs_topic_location,
        OffsetSyncsTopicLocation::Target
    );
    assert_eq!(
        flow.offset_syncs_topic(),
        "mm2-offset-syncs.primary.internal"
    );
    assert_eq!(flow.offset_syncs_cluster(), "backup");
    assert_eq!(flow.emit_checkpoints.interval, Duration::from_secs(1));
    assert_eq!(flow.tasks_max, Some(8));
    // backup->primary replicates nothing and emits no heartbeats, so it is not a pair at all.
    assert!(config.flow("backup", "primary").is_none());
    assert_eq!(config.http_listen, Some("127.0.0.1:9464".parse().unwrap()));
    assert!(warnings_of(&config, WarningKind::Note).contains(&"tasks.max".to_owned()));
}

// ---------------------------------------------------------------------------------------------------------------
// Item 55/57: client config layering.

#[test]
fn client_layering() {
    let ca = fixture("ca.pem");
    let config = load(&format!(
        "security.protocol = SSL\n\
         ssl.truststore.location = {}\n\
         A.security.protocol = PLAINTEXT\n\
         A.producer.security.protocol = SSL\n\
         consumer.max.poll.records = 10\n\
         A.consumer.max.poll.records = 20\n\
         producer.acks = all\n\
         A.client.rack = r1\n\
         A->B.enabled = true\n\
         A->B.producer.linger.ms = 5\n\
         A->B.source.producer.linger.ms = 7\n\
         A->B.target.admin.request.timeout.ms = 9\n\
         source.consumer.fetch.max.bytes = 1000",
        ca.display()
    ));
    let a = &config.clusters["A"];
    assert_eq!(a.admin["security.protocol"], "PLAINTEXT");
    assert_eq!(a.consumer["security.protocol"], "PLAINTEXT");
    assert_eq!(a.producer["security.protocol"], "SSL");
    assert_eq!(a.security_protocol, SecurityProtocol::Plaintext);
    assert_eq!(a.admin["ssl.truststore.location"], ca.display().to_string());
    assert_eq!(a.consumer["max.poll.records"], "20");
    assert_eq!(a.producer["client.rack"], "r1");
    let b = &config.clusters["B"];
    assert_eq!(b.security_protocol, SecurityProtocol::Ssl);
    assert_eq!(b.consumer["max.poll.records"], "10");
    assert_eq!(b.producer["acks"], "all");
    assert!(!b.admin.contains_key("client.rack"));

    let flow = config.flow("A", "B").unwrap();
    let sp = config.client_properties(flow, Side::Source, Role::Producer);
    assert_eq!(sp["linger.ms"], "7", "source.producer wins over producer");
    let tp = config.client_properties(flow, Side::Target, Role::Producer);
    assert_eq!(tp["linger.ms"], "5", "producer applies to both sides");
    assert_eq!(tp["acks"], "all");
    let ta = config.client_properties(flow, Side::Target, Role::Admin);
    assert_eq!(ta["request.timeout.ms"], "9");
    let sa = config.client_properties(flow, Side::Source, Role::Admin);
    assert!(!sa.contains_key("request.timeout.ms"));
    let sc = config.client_properties(flow, Side::Source, Role::Consumer);
    assert_eq!(sc["enable.auto.commit"], "false");
    assert_eq!(sc["auto.offset.reset"], "earliest");
    assert_eq!(sc["fetch.max.bytes"], "1000");
    assert_eq!(sc["bootstrap.servers"], "a:9092");
}

#[test]
fn source_consumer_auto_offset_reset_latest() {
    let config = load("A->B.enabled = true\nA.consumer.auto.offset.reset = latest");
    let flow = config.flow("A", "B").unwrap();
    assert_eq!(flow.auto_offset_reset, AutoOffsetReset::Latest);
    assert_eq!(
        config.client_properties(flow, Side::Source, Role::Consumer)["auto.offset.reset"],
        "latest"
    );
    let flow = load("A->B.enabled = true\nA->B.consumer.auto.offset.reset = latest");
    assert_eq!(
        flow.flow("A", "B").unwrap().auto_offset_reset,
        AutoOffsetReset::Latest
    );
    let e = error_with("A->B.enabled = true\nA->B.source.consumer.auto.offset.reset = none");
    assert_contains(
        &e,
        &[
            "`A->B.source.consumer.auto.offset.reset`",
            "`none`",
            "earliest",
            "latest",
        ],
    );
}

#[test]
fn isolation_level_precedence() {
    // MirrorSourceConnectorTest.testExactlyOnceSupport: source.consumer wins over consumer.
    let c = load(
        "A->B.enabled = true\nA->B.consumer.isolation.level = read_uncommitted\nA->B.source.consumer.isolation.level = read_committed",
    );
    assert_eq!(
        c.flow("A", "B").unwrap().isolation_level,
        IsolationLevel::ReadCommitted
    );
    let e = error_with("A->B.enabled = true\nA->B.consumer.isolation.level = garbage");
    assert_contains(
        &e,
        &[
            "`A->B.consumer.isolation.level`",
            "garbage",
            "read_committed",
        ],
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Item 56: `A->B.<key>` overrides top-level keys; unknown keys are reported, not used.

#[test]
fn flow_keys_override_top_level() {
    let config = load(
        "topics = a.*\ntopics.exclude = x\nA->B.enabled = true\nA->B.topics = b.*\nB->A.enabled = true\n\
         A->B.tasks.max = 123\nxxx = yyy\nA->B.sync.topic.acls.enabled = false",
    );
    let ab = config.flow("A", "B").unwrap();
    let ba = config.flow("B", "A").unwrap();
    assert_eq!(ab.topics.include().patterns(), ["b.*"]);
    assert_eq!(ba.topics.include().patterns(), ["a.*"]);
    assert_eq!(ab.topics.exclude().patterns(), ["x"]);
    assert_eq!(ab.tasks_max, Some(123));
    assert!(!ab.sync_topic_acls.enabled);
    assert!(ba.sync_topic_acls.enabled);
    assert_eq!(warnings_of(&config, WarningKind::Unknown), ["xxx"]);
}

#[test]
fn top_level_enabled_enables_every_pair_like_mm2() {
    let config = load("enabled = true\nB->A.enabled = false");
    assert!(config.flow("A", "B").unwrap().enabled);
    assert!(!config.flow("B", "A").unwrap().enabled);
}

// ---------------------------------------------------------------------------------------------------------------
// Item 21: which pairs run (MirrorMakerConfigTest.testClusterPairs*).

fn pairs(config: &Config) -> Vec<String> {
    config.flows.iter().map(FlowConfig::name).collect()
}

#[test]
fn cluster_pairs() {
    let three = "clusters = a, b, c\na.bootstrap.servers = a:1\nb.bootstrap.servers = b:1\nc.bootstrap.servers = c:1\n";
    let c = Config::from_properties_str(three).unwrap();
    assert_eq!(pairs(&c), ["a->b", "a->c", "b->a", "b->c", "c->a", "c->b"]);
    assert!(c.flows.iter().all(|f| !f.enabled));

    let c =
        Config::from_properties_str(&format!("{three}emit.heartbeats.enabled = false\n")).unwrap();
    assert!(c.flows.is_empty());

    let c = Config::from_properties_str(&format!(
        "{three}a->b.emit.heartbeats.enabled = false\na->c.emit.heartbeats.enabled = false\n"
    ))
    .unwrap();
    assert_eq!(c.flows.len(), 4);

    let six = "clusters = a, b, c, d, e, f\n\
               a.bootstrap.servers = a:1\nb.bootstrap.servers = b:1\nc.bootstrap.servers = c:1\n\
               d.bootstrap.servers = d:1\ne.bootstrap.servers = e:1\nf.bootstrap.servers = f:1\n\
               emit.heartbeats.enabled = false\na->b.enabled = true\na->c.enabled = true\na->d.enabled = true\n";
    let c = Config::from_properties_str(six).unwrap();
    assert_eq!(pairs(&c), ["a->b", "a->c", "a->d"]);
    assert!(c.flow("b", "a").is_none());
}

#[test]
fn central_and_local_clusters() {
    let text = "clusters = central, local_one, local_two, beats_emitter\n\
                central.bootstrap.servers = c:1\nlocal_one.bootstrap.servers = l1:1\n\
                local_two.bootstrap.servers = l2:1\nbeats_emitter.bootstrap.servers = be:1\n\
                emit.heartbeats.enabled = false\n\
                local_one->central.enabled = true\nlocal_two->central.enabled = true\n\
                beats_emitter->central.emit.heartbeats.enabled = true\n";
    let c = Config::from_properties_str(text).unwrap();
    assert_eq!(
        pairs(&c),
        [
            "beats_emitter->central",
            "local_one->central",
            "local_two->central"
        ]
    );
    assert!(!c.flow("beats_emitter", "central").unwrap().enabled);
}

#[test]
fn aliases_with_dots_pick_the_longest_match() {
    let text = "clusters = us, us.west\nus.bootstrap.servers = u:1\nus.west.bootstrap.servers = w:1\n\
                us.west->us.enabled = true\nus.west->us.topics = t\n";
    let c = Config::from_properties_str(text).unwrap();
    assert_eq!(c.clusters["us.west"].bootstrap_servers, ["w:1"]);
    assert_eq!(c.clusters["us"].bootstrap_servers, ["u:1"]);
    assert_eq!(
        c.flow("us.west", "us").unwrap().topics.include().patterns(),
        ["t"]
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Item 24: offset-syncs topic location.

#[test]
fn offset_syncs_topic_location() {
    let text = "clusters = source1, target2\nsource1.bootstrap.servers = s:1\ntarget2.bootstrap.servers = t:1\n\
                source1->target2.enabled = true\n";
    let c = Config::from_properties_str(text).unwrap();
    let f = c.flow("source1", "target2").unwrap();
    assert_eq!(
        f.offset_syncs_topic_location,
        OffsetSyncsTopicLocation::Source
    );
    assert_eq!(f.offset_syncs_topic(), "mm2-offset-syncs.target2.internal");
    assert_eq!(f.offset_syncs_cluster(), "source1");
    assert_eq!(f.checkpoints_topic(), "source1.checkpoints.internal");

    let c = Config::from_properties_str(&format!("{text}offset-syncs.topic.location = target\n"))
        .unwrap();
    let f = c.flow("source1", "target2").unwrap();
    assert_eq!(f.offset_syncs_topic(), "mm2-offset-syncs.source1.internal");
    assert_eq!(f.offset_syncs_cluster(), "target2");

    let e = error(&format!(
        "{text}source1->target2.offset-syncs.topic.location = something\n"
    ));
    assert_contains(
        &e,
        &[
            "<config>:5",
            "`source1->target2.offset-syncs.topic.location`",
            "`something`",
            "`source` or `target`",
        ],
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Item 59: security.protocol.

#[test]
fn security_protocol_is_checked_case_insensitively_and_kept_as_written() {
    let c = load(
        "A.security.protocol = sasl_ssl\nA.sasl.mechanism = PLAIN\n\
         A.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required \
         username=u password=p;",
    );
    assert_eq!(c.clusters["A"].security_protocol, SecurityProtocol::SaslSsl);
    assert_eq!(c.clusters["A"].admin["security.protocol"], "sasl_ssl");

    let e = error_with("A.security.protocol = SASL_TLS");
    assert_contains(
        &e,
        &[
            "`A.security.protocol`",
            "`SASL_TLS` is not a Kafka security protocol",
            "SASL_SSL",
        ],
    );
    let e = error_with("security.protocol = nope");
    assert_contains(&e, &["`security.protocol`", "nope"]);
    let e = error_with("A->B.enabled = true\nA->B.target.producer.security.protocol = nope");
    assert_contains(&e, &["`A->B.target.producer.security.protocol`"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Item 61: separators.

#[test]
fn separator_settings() {
    let c = load("A->B.enabled = true\nreplication.policy.separator = __");
    let f = c.flow("A", "B").unwrap();
    assert_eq!(f.policy.separator(), "__");
    assert_eq!(
        should_replicate_topic(f, "topic1"),
        Decision::Replicate {
            target_name: "A__topic1".into()
        }
    );
    assert_eq!(f.checkpoints_topic(), "A__checkpoints__internal");
    assert_eq!(f.offset_syncs_topic(), "mm2-offset-syncs__B__internal");
    assert_eq!(f.heartbeats_topic(), "heartbeats");

    let c = load(
        "A->B.enabled = true\nreplication.policy.separator = __\n\
         replication.policy.internal.topic.separator.enabled = false",
    );
    let f = c.flow("A", "B").unwrap();
    assert_eq!(f.checkpoints_topic(), "A.checkpoints.internal");
    assert_eq!(f.offset_syncs_topic(), "mm2-offset-syncs.B.internal");
}

// ---------------------------------------------------------------------------------------------------------------
// Items 12, 42, 47: filters from config.

#[test]
fn topic_filters_from_config() {
    let c = load("A->B.enabled = true\nA->B.topics =");
    let f = c.flow("A", "B").unwrap();
    assert!(!f.topics.accepts("topic1"));
    assert!(!f.topics.accepts(""));
    // An empty filter still lets heartbeats through.
    assert!(should_replicate_topic(f, "heartbeats").is_replicate());

    let c = load("A->B.enabled = true\nA->B.topics = topic1 , topic2");
    let f = c.flow("A", "B").unwrap();
    assert!(
        f.topics.accepts("topic1") && f.topics.accepts("topic2") && !f.topics.accepts("topic3")
    );

    let c = load("A->B.enabled = true");
    let f = c.flow("A", "B").unwrap();
    assert_eq!(
        f.topics.exclude().patterns(),
        crate::policy::DEFAULT_TOPICS_EXCLUDE
    );
    assert!(!f.topics.accepts("x.replica"));
}

#[test]
fn group_filters_from_config() {
    let c = load("A->B.enabled = true\ngroups = group1");
    let f = c.flow("A", "B").unwrap();
    assert!(f.groups.accepts("group1"));
    assert!(!f.groups.accepts("group2"));
    let c = load("A->B.enabled = true");
    let f = c.flow("A", "B").unwrap();
    assert!(!f.groups.accepts("console-consumer-1"));
    assert!(!f.groups.accepts("connect-x"));
    assert!(f.groups.accepts("orders-app"));
}

#[test]
fn config_property_exclude_replaces_defaults() {
    let c = load("A->B.enabled = true\nconfig.properties.exclude = delete\\.retention\\..*");
    let f = c.flow("A", "B").unwrap();
    assert!(
        !f.config_properties_exclude
            .should_replicate("delete.retention.ms")
    );
    assert!(
        f.config_properties_exclude
            .should_replicate("retention.bytes")
    );
    assert!(
        f.config_properties_exclude
            .should_replicate("min.insync.replicas")
    );
    // kmirror's default keeps min.insync.replicas (MM2's excludes it).
    let c = load("A->B.enabled = true");
    let f = c.flow("A", "B").unwrap();
    assert!(
        f.config_properties_exclude
            .should_replicate("min.insync.replicas")
    );
    assert!(
        !f.config_properties_exclude
            .should_replicate("message.timestamp.type")
    );
    assert!(f.config_properties_exclude.should_replicate("retention.ms"));
}

#[test]
fn deprecated_filter_names_still_work_with_a_warning() {
    let c = load("A->B.enabled = true\ntopics.whitelist = keep.*\ntopics.blacklist = keep-not");
    let f = c.flow("A", "B").unwrap();
    assert!(f.topics.accepts("keep-this"));
    assert!(!f.topics.accepts("keep-not"));
    assert!(!f.topics.accepts("other"));
    let deprecated = warnings_of(&c, WarningKind::Deprecated);
    assert_eq!(deprecated, ["topics.blacklist", "topics.whitelist"]);
    // The new name wins when both are set.
    let c = load("A->B.enabled = true\ntopics = new\ntopics.whitelist = old");
    assert!(c.flow("A", "B").unwrap().topics.accepts("new"));
}

// ---------------------------------------------------------------------------------------------------------------
// Item 16: identity policy, and the config-level cycle check.

#[test]
fn identity_policy_from_config() {
    for name in [
        "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        "IdentityReplicationPolicy",
        "identity",
    ] {
        let c = load(&format!(
            "A->B.enabled = true\nreplication.policy.class = {name}"
        ));
        let f = c.flow("A", "B").unwrap();
        assert_eq!(f.policy.kind(), PolicyKind::Identity);
        assert_eq!(
            should_replicate_topic(f, "topic1"),
            Decision::Replicate {
                target_name: "topic1".into()
            }
        );
        assert_eq!(
            should_replicate_topic(f, "heartbeats"),
            Decision::Replicate {
                target_name: "A.heartbeats".into()
            }
        );
        assert_eq!(f.policy.topic_source("topic1"), Some("A"));
    }
}

#[test]
fn identity_in_a_cycle_is_an_error() {
    let e = error_with(
        "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n\
         A->B.enabled = true\nB->A.enabled = true",
    );
    assert_contains(
        &e,
        &[
            "`replication.policy.class`",
            "A->B->A",
            "IdentityReplicationPolicy",
            "forever",
            "enabled = false",
        ],
    );

    // Only one direction enabled: fine (DR, failback).
    load(
        "replication.policy.class = IdentityReplicationPolicy\nA->B.enabled = true\nB->A.enabled = false",
    );
    // Identity one way, default the other way still loops (A.x comes back unprefixed): rejected too.
    let e = error_with(
        "A->B.enabled = true\nA->B.replication.policy.class = identity\nB->A.enabled = true",
    );
    assert_contains(&e, &["`A->B.replication.policy.class`", "A->B->A"]);
    // Default both ways: the names show the cycle, so it is allowed (active/active).
    load("A->B.enabled = true\nB->A.enabled = true");
}

#[test]
fn identity_cycle_through_three_clusters() {
    let text = "clusters = a, b, c\na.bootstrap.servers = a:1\nb.bootstrap.servers = b:1\nc.bootstrap.servers = c:1\n\
                a->b.enabled = true\nb->c.enabled = true\nc->a.enabled = true\nb->c.replication.policy.class = identity\n";
    let e = error(text);
    assert_contains(&e, &["`b->c.replication.policy.class`", "b->c->a->b"]);
}

// Item 44 and testClusterWithEmitOffsetDisabled: no offset syncs means no checkpoints.
#[test]
fn offset_syncs_off_turns_checkpoints_off() {
    let c = load("A->B.enabled = true\nemit.offset-syncs.enabled = false");
    let f = c.flow("A", "B").unwrap();
    assert!(!f.emit_offset_syncs);
    assert!(!f.emit_checkpoints.enabled);
    assert!(!f.sync_group_offsets.enabled);
    assert!(warnings_of(&c, WarningKind::Note).contains(&"emit.offset-syncs.enabled".to_owned()));

    let e = error_with(
        "A->B.enabled = true\nemit.offset-syncs.enabled = false\nA->B.emit.checkpoints.enabled = true",
    );
    assert_contains(
        &e,
        &[
            "`A->B.emit.checkpoints.enabled`",
            "needs offset syncs",
            "`emit.offset-syncs.enabled` is false",
        ],
    );
    let e = error_with(
        "A->B.emit.offset-syncs.enabled = false\nA->B.sync.group.offsets.enabled = true",
    );
    assert_contains(
        &e,
        &[
            "`A->B.sync.group.offsets.enabled`",
            "`A->B.emit.offset-syncs.enabled`",
        ],
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Errors: every malformed case names the key and says what to do.

#[test]
fn no_clusters() {
    let e = error("A.bootstrap.servers = a:1\n");
    assert_contains(
        &e,
        &["`clusters`", "no clusters are defined", "clusters = A, B"],
    );
    let e = error("clusters =\n");
    assert_contains(&e, &["<config>:1", "`clusters`", "no clusters are defined"]);
}

#[test]
fn flow_naming_an_undefined_alias() {
    let e = error_with("A->C.enabled = true");
    assert_contains(
        &e,
        &[
            "`A->C.enabled`",
            "`C`, which is not in `clusters` (A, B)",
            "add `C` to `clusters`",
        ],
    );
    let e = error_with("X->B.enabled = true");
    assert_contains(&e, &["`X->B.enabled`", "`X`, which is not in `clusters`"]);
}

#[test]
fn flow_into_itself() {
    let e = error_with("A->A.enabled = true");
    assert_contains(
        &e,
        &[
            "`A->A.enabled`",
            "`A->A` replicates a cluster into itself",
            "two different clusters",
        ],
    );
}

#[test]
fn missing_bootstrap_servers() {
    let e = error("clusters = A, B\nA.bootstrap.servers = a:1\n");
    assert_contains(
        &e,
        &[
            "`B.bootstrap.servers`",
            "cluster `B` has no bootstrap servers",
            "set `B.bootstrap.servers",
        ],
    );
    let e = error_with("A.bootstrap.servers = nohostport");
    assert_contains(
        &e,
        &["`A.bootstrap.servers`", "`nohostport` is not `host:port`"],
    );
    // A top-level bootstrap.servers is a valid default for every cluster (MM2 copies it).
    let c = Config::from_properties_str(
        "clusters = A, B\nbootstrap.servers = shared:9092\nB.bootstrap.servers = b:1\n",
    )
    .unwrap();
    assert_eq!(c.clusters["A"].bootstrap_servers, ["shared:9092"]);
    assert_eq!(c.clusters["B"].bootstrap_servers, ["b:1"]);
}

#[test]
fn bad_regex_names_the_key_and_the_regex_error() {
    let e = error_with("A->B.enabled = true\nA->B.topics = orders, pay(ments");
    assert_contains(
        &e,
        &[
            "<config>:5",
            "`A->B.topics`",
            "invalid regex `pay(ments`",
            "Java regex syntax",
        ],
    );
    let e = error_with("groups.exclude = [");
    assert_contains(&e, &["`groups.exclude`", "invalid regex `[`"]);
}

#[test]
fn bad_numbers_and_booleans() {
    let e = error_with("replication.factor = two");
    assert_contains(
        &e,
        &[
            "`replication.factor`",
            "`two` is not a replication factor",
            "-1",
        ],
    );
    let e = error_with("replication.factor = 0");
    assert_contains(&e, &["`replication.factor`", "`0`"]);
    let e = error_with("emit.checkpoints.interval.seconds = 0");
    assert_contains(&e, &["`emit.checkpoints.interval.seconds`", "seconds ≥ 1"]);
    let e = error_with("A->B.refresh.topics.interval.seconds = -5");
    assert_contains(&e, &["`A->B.refresh.topics.interval.seconds`", "`-5`"]);
    let e = error_with("offset.lag.max = -1");
    assert_contains(&e, &["`offset.lag.max`", "record count"]);
    let e = error_with("A->B.enabled = yes");
    assert_contains(
        &e,
        &[
            "`A->B.enabled`",
            "`yes` is not a boolean",
            "`true` or `false`",
        ],
    );
    let e = error_with("tasks.max = 0");
    assert_contains(&e, &["`tasks.max`"]);
    // replication.factor = -1 means the broker default.
    assert_eq!(
        load("A->B.enabled = true\nreplication.factor = -1")
            .flow("A", "B")
            .unwrap()
            .replication_factor,
        Some(-1)
    );
}

#[test]
fn unsupported_classes() {
    let e = error_with("replication.policy.class = com.example.MyPolicy");
    assert_contains(
        &e,
        &[
            "`replication.policy.class`",
            "com.example.MyPolicy",
            "cannot load Java classes",
            "IdentityReplicationPolicy",
        ],
    );
    let e = error_with("topic.filter.class = com.example.Filter");
    assert_contains(&e, &["`topic.filter.class`", "`topics` / `topics.exclude`"]);
    let e = error_with("config.property.filter.class = com.example.Filter");
    assert_contains(
        &e,
        &[
            "`config.property.filter.class`",
            "config.properties.exclude",
        ],
    );
    // Naming the default classes explicitly is fine.
    load(
        "topic.filter.class = org.apache.kafka.connect.mirror.DefaultTopicFilter\ngroup.filter.class = DefaultGroupFilter",
    );
}

#[test]
fn kmirror_keys_are_strict() {
    let e = error_with("kmirror.http.lisen = 1.2.3.4:5");
    assert_contains(
        &e,
        &[
            "`kmirror.http.lisen`",
            "unknown kmirror setting",
            "kmirror.http.listen",
        ],
    );
    let e = error_with("kmirror.http.listen = localhost");
    assert_contains(&e, &["`kmirror.http.listen`", "host:port"]);
}

#[test]
fn several_problems_are_all_reported() {
    let e = error(
        "clusters = A, B\nA.bootstrap.servers = a:1\nA->C.enabled = true\nreplication.factor = x\n",
    );
    assert_contains(
        &e,
        &[
            "3 problems",
            "`B.bootstrap.servers`",
            "`A->C.enabled`",
            "`replication.factor`",
        ],
    );
}

#[test]
fn errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("kmirror-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.properties");
    std::fs::write(
        &path,
        format!("{TWO}A->B.enabled = true\nA->B.topics = (\n"),
    )
    .unwrap();
    let e = Config::load(&path).unwrap_err().to_string();
    assert_contains(&e, &[&format!("{}:5", path.display()), "`A->B.topics`"]);

    let e = Config::load(&dir.join("missing.properties")).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e}");
    assert_contains(&e.to_string(), &["missing.properties", "cannot read"]);

    let yaml = dir.join("mm2.yaml");
    std::fs::write(&yaml, "x").unwrap();
    let e = Config::load(&yaml).unwrap_err().to_string();
    assert_contains(&e, &["mm2.yaml", "`*.properties`", "`*.toml`"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------------------------
// Warnings.

#[test]
fn warnings_for_ignored_and_unknown_keys() {
    let c = load(
        "A->B.enabled = true\nmetric.reporters = com.example.Reporter\nA.offset.flush.interval.ms = 5000\n\
         A.topics = misplaced\nA->B.frobnicate = 1\nconsumer.poll.timeout.ms = 500\ntypo.key = 1",
    );
    let ignored = warnings_of(&c, WarningKind::Ignored);
    assert_contains(
        &ignored.join(","),
        &[
            "metric.reporters",
            "A.offset.flush.interval.ms",
            "A.topics",
            "consumer.poll.timeout.ms",
        ],
    );
    let unknown = warnings_of(&c, WarningKind::Unknown);
    assert_eq!(unknown, ["A->B.frobnicate", "typo.key"]);
    // Ignored keys never reach a client.
    assert!(!c.clusters["A"].consumer.contains_key("poll.timeout.ms"));
    assert!(
        !c.clusters["A"]
            .consumer
            .contains_key("offset.flush.interval.ms")
    );
    let misplaced = c.warnings.iter().find(|w| w.key == "A.topics").unwrap();
    assert_contains(&misplaced.message, &["`A-><target>.topics`"]);
}

#[test]
fn duplicate_keys_are_noted() {
    let c = load("A->B.enabled = false\nA->B.enabled = true");
    assert!(c.flow("A", "B").unwrap().enabled);
    let dup = c.warnings.iter().find(|w| w.key == "A->B.enabled").unwrap();
    assert_eq!(dup.kind, WarningKind::Note);
    assert_contains(&dup.message, &["line 5", "line 4"]);
}

#[test]
fn placeholders() {
    // Undeclared provider: left as written, with a warning (as MM2 leaves it).
    let c = load("A.sasl.jaas.config = ${vault:secret/kafka:jaas}");
    assert_eq!(
        c.clusters["A"].admin["sasl.jaas.config"],
        "${vault:secret/kafka:jaas}"
    );
    assert_eq!(
        warnings_of(&c, WarningKind::Placeholder),
        ["A.sasl.jaas.config"]
    );

    // Declared env provider: resolved.
    let c = load(
        "config.providers = env\n\
         config.providers.env.class = org.apache.kafka.common.config.provider.EnvVarConfigProvider\n\
         A.client.rack = ${env:PATH}",
    );
    assert_eq!(
        c.clusters["A"].admin["client.rack"],
        std::env::var("PATH").unwrap()
    );

    // Declared but unresolvable: an error naming the key.
    let e = error_with(
        "config.providers = env\n\
         config.providers.env.class = org.apache.kafka.common.config.provider.EnvVarConfigProvider\n\
         A.ssl.key.password = ${env:KMIRROR_SURELY_UNSET_VARIABLE}",
    );
    assert_contains(
        &e,
        &[
            "`A.ssl.key.password`",
            "KMIRROR_SURELY_UNSET_VARIABLE",
            "is not set",
        ],
    );

    // Unsupported provider class: warned, placeholder left.
    let c = load(
        "config.providers = v\nconfig.providers.v.class = com.example.Vault\nA.client.rack = ${v:x:y}",
    );
    assert_eq!(c.clusters["A"].admin["client.rack"], "${v:x:y}");
    assert!(warnings_of(&c, WarningKind::Ignored).contains(&"config.providers.v.class".to_owned()));
}

// ---------------------------------------------------------------------------------------------------------------
// TOML.

const TOML_SAMPLE: &str = r#"
[kmirror]
http_listen = "127.0.0.1:9464"

[clusters.A]
bootstrap_servers = "A_host1:9092, A_host2:9092, A_host3:9092"

[clusters.B]
bootstrap_servers = ["B_host1:9092", "B_host2:9092", "B_host3:9092"]
security_protocol = "SASL_SSL"
client = { "sasl.mechanism" = "SCRAM-SHA-512", "sasl.jaas.config" = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p";' }
producer = { "linger.ms" = 5, "enable.idempotence" = true }

[defaults]
replication_factor = 1
checkpoints_topic_replication_factor = 1
heartbeats_topic_replication_factor = 1
offset_syncs_topic_replication_factor = 1

[[flows]]
source = "A"
target = "B"
topics = [".*"]

[[flows]]
source = "B"
target = "A"
topics = ["a{1,3}", "b"]
sync_group_offsets_enabled = false
source_consumer = { "isolation.level" = "read_committed" }
"#;

#[test]
fn toml_sample() {
    let c = Config::from_toml_str(TOML_SAMPLE).unwrap();
    assert_eq!(c.format, Format::Toml);
    assert_eq!(
        c.clusters["A"].bootstrap_servers,
        ["A_host1:9092", "A_host2:9092", "A_host3:9092"]
    );
    assert_eq!(c.clusters["B"].bootstrap_servers.len(), 3);
    assert_eq!(c.clusters["B"].security_protocol, SecurityProtocol::SaslSsl);
    assert_eq!(c.clusters["B"].consumer["sasl.mechanism"], "SCRAM-SHA-512");
    assert_eq!(c.clusters["B"].producer["linger.ms"], "5");
    assert_eq!(c.clusters["B"].producer["enable.idempotence"], "true");
    assert_eq!(c.http_listen, Some("127.0.0.1:9464".parse().unwrap()));
    assert_eq!(pairs(&c), ["A->B", "B->A"]);
    let ab = c.flow("A", "B").unwrap();
    assert!(ab.enabled, "a listed flow is enabled by default");
    assert_eq!(ab.replication_factor, Some(1));
    assert!(ab.sync_group_offsets.enabled);
    let ba = c.flow("B", "A").unwrap();
    // A TOML list element may contain a comma.
    assert_eq!(ba.topics.include().patterns(), ["a{1,3}", "b"]);
    assert!(ba.topics.accepts("aaa"));
    assert!(!ba.sync_group_offsets.enabled);
    assert_eq!(ba.isolation_level, IsolationLevel::ReadCommitted);
    assert!(
        c.warnings.iter().all(|w| w.kind != WarningKind::Unknown),
        "{:?}",
        c.warnings
    );
}

#[test]
fn toml_matches_properties() {
    let from_toml = Config::from_toml_str(TOML_SAMPLE).unwrap();
    let from_props = Config::load(&fixture("connect-mirror-maker.properties")).unwrap();
    let ab_t = from_toml.flow("A", "B").unwrap();
    let ab_p = from_props.flow("A", "B").unwrap();
    assert_eq!(ab_t.topics, ab_p.topics);
    assert_eq!(ab_t.replication_factor, ab_p.replication_factor);
    assert_eq!(ab_t.policy, ab_p.policy);
    assert_eq!(ab_t.refresh_topics, ab_p.refresh_topics);
    assert_eq!(from_toml.clusters["A"], from_props.clusters["A"]);
}

#[test]
fn toml_unlisted_pairs_emit_heartbeats_like_mm2() {
    let text = "[clusters.A]\nbootstrap_servers = \"a:1\"\n[clusters.B]\nbootstrap_servers = \"b:1\"\n\
                [[flows]]\nsource = \"A\"\ntarget = \"B\"\n";
    let c = Config::from_toml_str(text).unwrap();
    assert_eq!(pairs(&c), ["A->B", "B->A"]);
    assert!(!c.flow("B", "A").unwrap().enabled);
    let c = Config::from_toml_str(&format!(
        "{text}[defaults]\nemit_heartbeats_enabled = false\n"
    ))
    .unwrap();
    assert_eq!(
        pairs(&c),
        ["A->B"],
        "B->A neither replicates nor emits heartbeats"
    );
    let c = Config::from_toml_str(&format!("{text}enabled = false\n")).unwrap();
    assert!(c.flow("A", "B").is_some_and(|f| !f.enabled));
}

#[test]
fn toml_errors() {
    let base =
        "[clusters.A]\nbootstrap_servers = \"a:1\"\n[clusters.B]\nbootstrap_servers = \"b:1\"\n";
    let err = |extra: &str| {
        Config::from_toml_str(&format!("{base}{extra}"))
            .unwrap_err()
            .to_string()
    };
    assert_contains(
        &err("[[flows]]\nsource = \"A\"\ntarget = \"B\"\nsync_group_offset_enabled = true\n"),
        &["sync_group_offset_enabled", "unknown field"],
    );
    assert_contains(
        &err("[clusters.C]\nbootstrap_server = \"x:1\"\n"),
        &["bootstrap_server"],
    );
    assert_contains(
        &err("[[flows]]\nsource = \"A\"\n"),
        &["`flows[0]`", "both `source` and `target`"],
    );
    assert_contains(
        &err("[[flows]]\nsource = \"A\"\ntarget = \"C\"\n"),
        &["`flows[0]`", "`C`, which is not in `clusters`"],
    );
    assert_contains(
        &err(
            "[[flows]]\nsource = \"A\"\ntarget = \"B\"\n[[flows]]\nsource = \"A\"\ntarget = \"B\"\n",
        ),
        &["`flows[1]`", "listed twice"],
    );
    assert_contains(
        &err("[[flows]]\nsource = \"A\"\ntarget = \"B\"\ntopics = [\"(\"]\n"),
        &["`flows[0].topics`", "invalid regex `(`"],
    );
    assert_contains(
        &err(
            "[[flows]]\nsource = \"A\"\ntarget = \"B\"\noffset_syncs_topic_location = \"middle\"\n",
        ),
        &["`flows[0].offset_syncs_topic_location`", "`middle`"],
    );
    assert_contains(
        &err("[defaults]\nenabled = true\n"),
        &["`defaults.enabled`", "[[flows]]"],
    );
    assert_contains(
        &err("[clusters.A.client]\n\"security.protocol\" = \"TLS\"\n"),
        &["`clusters.A.client.\"security.protocol\"`", "`TLS`"],
    );
    assert_contains(
        &err(
            "[[flows]]\nsource = \"A\"\ntarget = \"B\"\nreplication_policy = \"identity\"\n[[flows]]\nsource = \"B\"\ntarget = \"A\"\n",
        ),
        &["`flows[0].replication_policy`", "A->B->A"],
    );
    let e = Config::from_toml_str("[clusters.A]\n")
        .unwrap_err()
        .to_string();
    assert_contains(&e, &["`A.bootstrap.servers`"]);
    let e = Config::from_toml_str("").unwrap_err().to_string();
    assert_contains(&e, &["`clusters`", "no clusters are defined"]);
}

#[test]
fn toml_file_by_extension() {
    let dir = std::env::temp_dir().join(format!("kmirror-toml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kmirror.toml");
    std::fs::write(&path, TOML_SAMPLE).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.format, Format::Toml);
    assert_eq!(c.file.as_deref(), Some(path.as_path()));
    std::fs::write(&path, "[[flows]]\nsorce = \"A\"\n").unwrap();
    let e = Config::load(&path).unwrap_err().to_string();
    assert_contains(&e, &["kmirror.toml", "sorce"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------------------------
// Security settings are checked at load, each problem at its line.

#[test]
fn security_problems_are_reported_at_load_each_with_its_line() {
    let text = format!(
        "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\n\
         B.security.protocol = SASL_SSL\n\
         B.sasl.mechanism = SCRAM-SHA-512\n\
         B.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username=\"mm2\";\n\
         B.ssl.truststore.location = {}/absent/truststore.jks\n\
         A->B.enabled = true\n",
        std::env::temp_dir().display()
    );
    let e = error(&text);
    assert_contains(
        &e,
        &[
            "<config>:6: `B.sasl.jaas.config`",
            "has no password",
            "<config>:7: `B.ssl.truststore.location`",
            "truststore.jks",
            "No such file",
        ],
    );
}

#[test]
fn unsupported_mechanisms_are_refused_at_load_naming_the_alternatives() {
    for (mechanism, why) in [("AWS_MSK_IAM", "AWS MSK IAM"), ("GSSAPI", "Kerberos")] {
        let e = error_with(&format!(
            "A.security.protocol = SASL_SSL\nA.sasl.mechanism = {mechanism}\n\
             A.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=u password=p;"
        ));
        assert_contains(
            &e,
            &["`A.sasl.mechanism`", why, "SCRAM-SHA-512", "mutual TLS"],
        );
    }
    let e = error_with(
        "A.security.protocol = SASL_SSL\nA.sasl.mechanism = PLAIN\n\
         A.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
    );
    assert_contains(
        &e,
        &[
            "`A.sasl.jaas.config`",
            "does not match sasl.mechanism=PLAIN",
        ],
    );
    let e = error_with(
        "A.security.protocol = SASL_SSL\nA.sasl.mechanism = OAUTHBEARER\n\
         A.sasl.login.callback.handler.class = software.amazon.msk.auth.iam.IAMOAuthBearerLoginCallbackHandler\n\
         A.sasl.oauthbearer.token.endpoint.url = https://idp.example/token\n\
         A.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
    );
    assert_contains(
        &e,
        &[
            "`A.sasl.login.callback.handler.class`",
            "IAMOAuthBearerLoginCallbackHandler",
        ],
    );
}

#[test]
fn oauthbearer_client_credentials_are_read_and_checked() {
    let jaas = "A.security.protocol = SASL_SSL\nA.sasl.mechanism = OAUTHBEARER\n\
         A.sasl.login.callback.handler.class = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler\n\
         A.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
         clientId=\"mm2\" clientSecret=\"s\" scope=\"kafka\";";
    let e = error_with(jaas);
    assert_contains(
        &e,
        &["`A.sasl.oauthbearer.token.endpoint.url`", "token endpoint"],
    );
    let c = load(&format!(
        "{jaas}\nA.sasl.oauthbearer.token.endpoint.url = https://idp.example/oauth2/token"
    ));
    assert_eq!(c.clusters["A"].admin["sasl.mechanism"], "OAUTHBEARER");
    let e = error_with(&format!(
        "{}\nA.sasl.oauthbearer.token.endpoint.url = https://idp.example/t",
        jaas.replace(" clientSecret=\"s\"", "")
    ));
    assert_contains(&e, &["`A.sasl.jaas.config`", "no clientSecret"]);
}

#[test]
fn pkcs12_truststore_needs_its_password_and_the_right_one() {
    let store = fixture("truststore.p12");
    let base = format!(
        "B.security.protocol = SSL\nB.ssl.truststore.location = {}\nA->B.enabled = true\n",
        store.display()
    );
    let e = error_with(&base);
    assert_contains(
        &e,
        &["`B.ssl.truststore.password`", "set ssl.truststore.password"],
    );
    let e = error_with(&format!("{base}B.ssl.truststore.password = wrong\n"));
    assert_contains(
        &e,
        &[
            "<config>:",
            "`B.ssl.truststore.password`",
            "check ssl.truststore.password",
        ],
    );
    let c = load(&format!("{base}B.ssl.truststore.password = fixture-pass\n"));
    assert!(c.flow("A", "B").is_some());
}

#[test]
fn host_name_check_off_and_unused_sasl_settings_are_warned_about() {
    let c = load(&format!(
        "B.security.protocol = SSL\nB.ssl.truststore.location = {}\n\
         B.ssl.endpoint.identification.algorithm =\n\
         A.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=p;\n\
         A->B.enabled = true",
        fixture("ca.pem").display()
    ));
    let notes: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("B.ssl.endpoint.identification.algorithm")
                && n.contains("not checked")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("A.sasl.jaas.config") && n.contains("security.protocol=PLAINTEXT")),
        "{notes:?}"
    );
}

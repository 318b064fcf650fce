//! Discovery against two real local Kafka clusters (A = source, B = target): remote topics created with the
//! source's partitions and configs, partition growth followed, config sync, MM2-style topic ACL sync, internal
//! topics and heartbeats. Results are checked with Kafka's own Java tools and librdkafka, not kmirror's reader.
//!
//! Each test uses its own topic names and a `topics` filter selecting only them, so tests can share clusters.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kmirror::config::{Config, FlowConfig};
use kmirror::discovery::{
    InternalTopicState, ProblemKind, TopicSet, TopicSync, ensure_internal_topic,
};
use kmirror::heartbeat::HeartbeatEmitter;
use kmirror::mm2::Heartbeat;
use kmirror::telemetry::{Metrics, StatusBoard};
use kmirror_kafka::admin::{Admin, ConfigEntry, ConfigResource, ConfigSource};
use kmirror_kafka::{Client, ClientConfig, SaslConfig, SaslMechanism, SecurityProtocol, TlsConfig};
use kmirror_testkit::{
    Cluster, JavaOutput, TopicSpec, cluster, create_topic, kafka_tool, read_all, topic_end_offsets,
    unique_name, unique_topic,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

/// A->B flow selecting only `topics` (regexes), with `extra` properties.
fn flow(topics: &str, extra: &str) -> FlowConfig {
    flow_named("A", "B", topics, extra)
}

fn flow_named(source: &str, target: &str, topics: &str, extra: &str) -> FlowConfig {
    let text = format!(
        "clusters = {source}, {target}\n{source}.bootstrap.servers = {}\n{target}.bootstrap.servers = {}\n\
         {source}->{target}.enabled = true\ntopics = {topics}\nheartbeats.replication.enabled = false\n{extra}\n",
        cluster("A").bootstrap,
        cluster("B").bootstrap
    );
    let config = Config::from_properties_str(&text).expect("valid config");
    config.flow(source, target).expect("flow is active").clone()
}

/// PLAINTEXT: User:ANONYMOUS, a super user on the local clusters.
async fn plain_admin(c: &Cluster) -> Admin {
    let client = Client::connect(ClientConfig::new(c.bootstrap.clone()))
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", c.name));
    Admin::new(client)
}

/// SASL_SSL with SCRAM-SHA-512 as User:kmirror (not a super user), the way a migration source is reached.
async fn scram_tls_admin(c: &Cluster) -> Admin {
    let creds = c.sasl.as_ref().expect("clusters started with --auth scram");
    let files = c.tls.as_ref().expect("clusters started with --tls");
    let mut config = ClientConfig::new(c.sasl_tls_bootstrap.clone().expect("SASL_SSL listener"));
    config.security_protocol = SecurityProtocol::SaslSsl;
    config.sasl = Some(SaslConfig {
        mechanism: SaslMechanism::ScramSha512,
        username: creds.username.clone(),
        password: creds.password.clone(),
    });
    config.tls = TlsConfig {
        ca_file: Some(files.ca.clone()),
        ..TlsConfig::default()
    };
    let client = Client::connect(config)
        .await
        .unwrap_or_else(|e| panic!("connect to {} over SASL_SSL: {e}", c.name));
    Admin::new(client)
}

/// SASL_PLAINTEXT as User:kmirror.
async fn scram_admin(c: &Cluster) -> Admin {
    let creds = c.sasl.as_ref().expect("clusters started with --auth scram");
    let mut config = ClientConfig::new(c.sasl_bootstrap.clone().expect("SASL listener"));
    config.security_protocol = SecurityProtocol::SaslPlaintext;
    config.sasl = Some(SaslConfig {
        mechanism: SaslMechanism::ScramSha512,
        username: creds.username.clone(),
        password: creds.password.clone(),
    });
    let client = Client::connect(config)
        .await
        .unwrap_or_else(|e| panic!("connect to {} over SASL: {e}", c.name));
    Admin::new(client)
}

async fn topic_sync(flow: FlowConfig) -> (TopicSync, Arc<StatusBoard>) {
    let status = Arc::new(StatusBoard::default());
    let sync = TopicSync::new(
        flow,
        plain_admin(&cluster("A")).await,
        plain_admin(&cluster("B")).await,
        status.clone(),
        Arc::new(Metrics::new()),
    );
    (sync, status)
}

async fn java(tool: &str, args: &[&str]) -> JavaOutput {
    let tool = tool.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kafka_tool(&tool, &args)
    })
    .await
    .expect("java tool panicked")
}

async fn java_ok(tool: &str, args: &[&str]) -> String {
    let out = java(tool, args).await;
    assert!(
        out.success,
        "kafka-tool {tool} {args:?} failed:\n{}\n{}",
        out.stdout, out.stderr
    );
    out.stdout
}

/// The topic-level overrides of `topic` on cluster `c`, as Kafka's `kafka-configs --describe` prints them.
async fn java_topic_overrides(c: &Cluster, topic: &str) -> BTreeMap<String, String> {
    let out = java_ok(
        "configs",
        &[
            "--bootstrap-server",
            &c.bootstrap,
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            topic,
        ],
    )
    .await;
    // "  retention.ms=3600000 sensitive=false synonyms={...}"
    out.lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| {
            let first = l.split_whitespace().next()?;
            let (k, v) = first.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// Partition count and replication factor from Kafka's `kafka-topics --describe`.
async fn java_topic_shape(c: &Cluster, topic: &str) -> (i32, i32) {
    let out = java_ok(
        "topics",
        &[
            "--bootstrap-server",
            &c.bootstrap,
            "--describe",
            "--topic",
            topic,
        ],
    )
    .await;
    let field = |name: &str| -> i32 {
        let at = out
            .find(name)
            .unwrap_or_else(|| panic!("no {name} in {out}"));
        out[at + name.len()..]
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad {name} in {out}"))
    };
    (field("PartitionCount:"), field("ReplicationFactor:"))
}

async fn describe(admin: &Admin, topic: &str) -> BTreeMap<String, ConfigEntry> {
    let mut r = admin
        .describe_configs(&[ConfigResource::Topic(topic.to_string())])
        .await
        .expect("describe configs");
    r.pop().expect("one result").1.expect("topic configs")
}

async fn alter_topic_configs(c: &Cluster, topic: &str, add: &str, delete: Option<&str>) {
    let mut args = vec![
        "--bootstrap-server",
        &c.bootstrap,
        "--alter",
        "--entity-type",
        "topics",
        "--entity-name",
        topic,
    ];
    if !add.is_empty() {
        args.extend(["--add-config", add]);
    }
    if let Some(d) = delete {
        args.extend(["--delete-config", d]);
    }
    java_ok("configs", &args).await;
}

/// A bounded retry loop: `again` sleeps briefly, and fails the test naming `what` and the last state once
/// [`WAIT`] has passed.
struct Waiting {
    what: &'static str,
    deadline: std::time::Instant,
}

impl Waiting {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            deadline: std::time::Instant::now() + WAIT,
        }
    }

    async fn again(&mut self, last: &impl std::fmt::Debug) {
        assert!(
            std::time::Instant::now() < self.deadline,
            "timed out after {WAIT:?} waiting for {}; last: {last:?}",
            self.what
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn mirrored<'a>(set: &'a TopicSet, source: &str) -> &'a kmirror::discovery::MirroredTopic {
    set.mirrored
        .iter()
        .find(|m| m.source_topic == source)
        .unwrap_or_else(|| panic!("{source} is not mirrored: {set:#?}"))
}

// mm2-test-suite §3 items 5, 45, 47; S1/S5: partitions, configs (excluded ones not copied), min.insync.
// The source is reached over SASL_SSL with SCRAM as a non-super user.
#[tokio::test]
async fn new_remote_topic_gets_source_partitions_and_configs() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("disc-create");
    let empty = unique_topic("disc-create-plain");
    create_topic(
        &a.bootstrap,
        &TopicSpec::new(&topic, 3)
            .config("cleanup.policy", "compact")
            .config("retention.ms", "3600000")
            .config("min.insync.replicas", "1")
            .config("max.message.bytes", "2000000")
            .config("message.timestamp.type", "LogAppendTime")
            .config("unclean.leader.election.enable", "true"),
    )
    .await;
    create_topic(&a.bootstrap, &TopicSpec::new(&empty, 1)).await;

    let status = Arc::new(StatusBoard::default());
    let mut sync = TopicSync::new(
        flow(&format!("{topic}, {empty}"), ""),
        scram_tls_admin(&a).await,
        scram_admin(&b).await,
        status.clone(),
        Arc::new(Metrics::new()),
    );
    let set = sync.refresh().await.expect("refresh");
    assert!(set.problems.is_empty(), "{:#?}", set.problems);
    let remote = format!("A.{topic}");
    let remote_empty = format!("A.{empty}");
    assert!(set.created.contains(&remote), "{set:#?}");
    assert!(set.created.contains(&remote_empty), "{set:#?}");
    let m = mirrored(&set, &topic);
    assert_eq!(m.target_topic, remote);
    assert_eq!(m.partitions, 3);
    assert_eq!(m.target_max_message_bytes, Some(2_000_000));
    assert_eq!(
        (m.source_replication_factor, m.target_replication_factor),
        (1, 1)
    );
    assert!(
        mirrored(&set, &empty).target_max_message_bytes.is_some(),
        "the broker default is reported too"
    );
    assert!(
        set.skipped
            .iter()
            .all(|s| s.topic != topic && s.topic != empty),
        "{:#?}",
        set.skipped
    );

    // Kafka's own tools see the same partitions, RF and copied overrides; excluded ones stay behind.
    assert_eq!(java_topic_shape(&b, &remote).await, (3, 1));
    let overrides = java_topic_overrides(&b, &remote).await;
    let want: BTreeMap<String, String> = [
        ("cleanup.policy", "compact"),
        ("retention.ms", "3600000"),
        ("min.insync.replicas", "1"),
        ("max.message.bytes", "2000000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(overrides, want);
    assert_eq!(
        java_topic_overrides(&b, &remote_empty).await,
        BTreeMap::new()
    );

    // The next refresh is a no-op that reports the same set.
    let again = sync.refresh().await.expect("refresh");
    assert!(
        again.created.is_empty() && again.grown.is_empty(),
        "{again:#?}"
    );
    assert_eq!(mirrored(&again, &topic), m);
    assert!(status.snapshot().problems.is_empty());
}

// S1/S6: RF and min.insync.replicas are never silently broken: an RF the target cannot hold is lowered to
// its broker count (with a warning) and min.insync.replicas to that RF; RF -1 takes the broker default and
// min.insync.replicas is fitted afterwards.
#[tokio::test]
async fn replication_factor_and_min_insync_fit_the_target() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("disc-rf");
    create_topic(
        &a.bootstrap,
        &TopicSpec::new(&topic, 2).config("min.insync.replicas", "2"),
    )
    .await;
    let (mut sync, _) = topic_sync(flow(&topic, "replication.factor = 3")).await;
    let set = sync.refresh().await.expect("refresh");
    assert!(set.problems.is_empty(), "{:#?}", set.problems);
    assert_eq!(mirrored(&set, &topic).target_replication_factor, 1);
    let remote = format!("A.{topic}");
    assert_eq!(java_topic_shape(&b, &remote).await, (2, 1));
    assert_eq!(
        java_topic_overrides(&b, &remote).await["min.insync.replicas"],
        "1"
    );

    let identity = flow(
        &topic,
        "replication.factor = -1\n\
         replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
    );
    let (mut sync, _) = topic_sync(identity).await;
    let set = sync.refresh().await.expect("refresh");
    assert!(set.problems.is_empty(), "{:#?}", set.problems);
    assert_eq!(set.created, vec![topic.clone()]);
    assert_eq!(java_topic_shape(&b, &topic).await, (2, 1));
    assert_eq!(
        java_topic_overrides(&b, &topic).await["min.insync.replicas"],
        "1"
    );
}

// mm2-test-suite items 6, 7; S1, S8: added source partitions appear on the target; a target topic that
// already exists with fewer partitions is grown; a deleted source topic is reported, its copy kept.
#[tokio::test]
async fn partitions_follow_the_source_and_removed_topics_are_reported() {
    let (a, b) = (cluster("A"), cluster("B"));
    let grows = unique_topic("disc-grow");
    let existing = unique_topic("disc-existing");
    create_topic(&a.bootstrap, &TopicSpec::new(&grows, 2)).await;
    create_topic(&a.bootstrap, &TopicSpec::new(&existing, 3)).await;
    create_topic(&b.bootstrap, &TopicSpec::new(&format!("A.{existing}"), 1)).await;

    let (mut sync, _) = topic_sync(flow(&format!("{grows}, {existing}"), "")).await;
    let set = sync.refresh().await.expect("refresh");
    assert!(set.problems.is_empty(), "{:#?}", set.problems);
    assert_eq!(set.created, vec![format!("A.{grows}")]);
    assert_eq!(set.grown.len(), 1, "{set:#?}");
    assert_eq!(set.grown[0].target_topic, format!("A.{existing}"));
    assert_eq!((set.grown[0].from, set.grown[0].to), (1, 3));
    assert_eq!(mirrored(&set, &existing).partitions, 3);
    assert_eq!(
        topic_end_offsets(&b.bootstrap, &format!("A.{existing}"))
            .await
            .len(),
        3
    );

    java_ok(
        "topics",
        &[
            "--bootstrap-server",
            &a.bootstrap,
            "--alter",
            "--topic",
            &grows,
            "--partitions",
            "5",
        ],
    )
    .await;
    let remote = format!("A.{grows}");
    let mut waiting = Waiting::new("the refresh to see 5 source partitions");
    let set = loop {
        let set = sync.refresh().await.expect("refresh");
        if mirrored(&set, &grows).partitions == 5 {
            break set;
        }
        waiting.again(&set.grown).await;
    };
    assert_eq!(set.grown.len(), 1, "{set:#?}");
    assert_eq!((set.grown[0].from, set.grown[0].to), (2, 5));
    assert_eq!(java_topic_shape(&b, &remote).await.0, 5);

    java_ok(
        "topics",
        &[
            "--bootstrap-server",
            &a.bootstrap,
            "--delete",
            "--topic",
            &grows,
        ],
    )
    .await;
    let mut waiting = Waiting::new("the refresh to notice the deleted source topic");
    let removed = loop {
        let set = sync.refresh().await.expect("refresh");
        if !set.removed.is_empty() {
            break set.removed;
        }
        waiting.again(&set.mirrored).await;
    };
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].source_topic, grows);
    assert_eq!(removed[0].target_topic, remote);
    assert_eq!(java_topic_shape(&b, &remote).await.0, 5, "the copy is kept");
}

// mm2-test-suite items 46, 48; S4: config changes on the source follow (SET, and DELETE of removed
// overrides); a target-local value of an excluded property survives; a target override of a copied property
// is reset to the source's.
#[tokio::test]
async fn config_sync_follows_the_source_and_keeps_excluded_target_values() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("disc-cfg");
    create_topic(
        &a.bootstrap,
        &TopicSpec::new(&topic, 1)
            .config("retention.ms", "3600000")
            .config("retention.bytes", "1000000"),
    )
    .await;
    let (mut sync, _) = topic_sync(flow(&topic, "")).await;
    let set = sync.refresh().await.expect("refresh");
    assert!(set.problems.is_empty(), "{:#?}", set.problems);
    let remote = format!("A.{topic}");
    assert_eq!(
        java_topic_overrides(&b, &remote).await,
        [("retention.ms", "3600000"), ("retention.bytes", "1000000")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    );
    let nothing = sync.sync_configs().await.expect("sync");
    assert!(
        nothing.altered.is_empty() && nothing.problems.is_empty(),
        "{nothing:#?}"
    );

    // On the target: a local value of an excluded property, and a drift of a copied one.
    alter_topic_configs(
        &b,
        &remote,
        "message.timestamp.type=LogAppendTime,segment.ms=3600000",
        None,
    )
    .await;
    // On the source: a change, a removal and an addition.
    alter_topic_configs(
        &a,
        &topic,
        "retention.ms=7200000,max.message.bytes=3000000",
        Some("retention.bytes"),
    )
    .await;

    let report = sync.sync_configs().await.expect("sync");
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert_eq!(report.altered.len(), 1, "{report:#?}");
    assert_eq!(report.altered[0].0, remote);
    let overrides = java_topic_overrides(&b, &remote).await;
    let want: BTreeMap<String, String> = [
        ("retention.ms", "7200000"),
        ("max.message.bytes", "3000000"),
        ("message.timestamp.type", "LogAppendTime"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(overrides, want);
    let target = describe(&plain_admin(&b).await, &remote).await;
    assert_ne!(
        target["retention.bytes"].source,
        ConfigSource::DynamicTopic,
        "removed on the source, reset to the target default"
    );

    // The pipeline learns the new limit; a second sync has nothing left to do.
    let set = sync.refresh().await.expect("refresh");
    assert_eq!(
        mirrored(&set, &topic).target_max_message_bytes,
        Some(3_000_000)
    );
    let nothing = sync.sync_configs().await.expect("sync");
    assert!(nothing.altered.is_empty(), "{nothing:#?}");

    // S8: the remote topic deleted under kmirror is noticed at the next config sync and created again.
    java_ok(
        "topics",
        &[
            "--bootstrap-server",
            &b.bootstrap,
            "--delete",
            "--topic",
            &remote,
        ],
    )
    .await;
    let mut waiting = Waiting::new("the deleted remote topic to be created again");
    loop {
        sync.sync_configs().await.expect("sync");
        let set = sync.refresh().await.expect("refresh");
        if set.created.contains(&remote) {
            break;
        }
        waiting.again(&set.created).await;
    }
    let mut recreated = want.clone();
    recreated.remove("message.timestamp.type");
    assert_eq!(java_topic_overrides(&b, &remote).await, recreated);
}

// mm2-test-suite item 49: literal topic ACLs of mirrored topics, ALLOW WRITE dropped, ALLOW ALL -> READ,
// DENY kept, renamed; prefixed ACLs and ACLs of other topics are not copied; nothing is created twice.
#[tokio::test]
async fn topic_acls_are_copied_mm2_style() {
    let (a, b) = (cluster("A"), cluster("B"));
    let topic = unique_topic("disc-acl");
    let other = unique_topic("disc-acl-other");
    let alice = format!("User:{}", unique_name("alice"));
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 1)).await;
    create_topic(&a.bootstrap, &TopicSpec::new(&other, 1)).await;
    for op in ["Read", "Write", "All"] {
        java_ok(
            "acls",
            &[
                "--bootstrap-server",
                &a.bootstrap,
                "--add",
                "--allow-principal",
                &alice,
                "--operation",
                op,
                "--topic",
                &topic,
            ],
        )
        .await;
    }
    java_ok(
        "acls",
        &[
            "--bootstrap-server",
            &a.bootstrap,
            "--add",
            "--deny-principal",
            &alice,
            "--operation",
            "Describe",
            "--topic",
            &topic,
        ],
    )
    .await;
    java_ok(
        "acls",
        &[
            "--bootstrap-server",
            &a.bootstrap,
            "--add",
            "--allow-principal",
            &alice,
            "--operation",
            "Read",
            "--topic",
            &topic,
            "--resource-pattern-type",
            "prefixed",
        ],
    )
    .await;
    java_ok(
        "acls",
        &[
            "--bootstrap-server",
            &a.bootstrap,
            "--add",
            "--allow-principal",
            &alice,
            "--operation",
            "Read",
            "--topic",
            &other,
        ],
    )
    .await;

    let (mut sync, _) = topic_sync(flow(&topic, "")).await;
    let report = sync.sync_acls().await.expect("acl sync");
    assert_eq!(report.disabled, None);
    assert!(report.problems.is_empty(), "{report:#?}");
    assert_eq!(report.created.len(), 2, "{report:#?}");

    let remote = format!("A.{topic}");
    let listed = java_ok(
        "acls",
        &[
            "--bootstrap-server",
            &b.bootstrap,
            "--list",
            "--topic",
            &remote,
        ],
    )
    .await;
    let mine: Vec<&str> = listed.lines().filter(|l| l.contains(&alice)).collect();
    assert_eq!(mine.len(), 2, "{listed}");
    assert!(
        mine.iter()
            .any(|l| l.contains("operation=READ") && l.contains("permissionType=ALLOW")),
        "{listed}"
    );
    assert!(
        mine.iter()
            .any(|l| l.contains("operation=DESCRIBE") && l.contains("permissionType=DENY")),
        "{listed}"
    );
    assert!(listed.contains("patternType=LITERAL"), "{listed}");
    for (name, pattern) in [
        (remote.as_str(), "prefixed"),
        (&format!("A.{other}"), "literal"),
    ] {
        let out = java_ok(
            "acls",
            &[
                "--bootstrap-server",
                &b.bootstrap,
                "--list",
                "--topic",
                name,
                "--resource-pattern-type",
                pattern,
            ],
        )
        .await;
        assert!(!out.contains(&alice), "{name} {pattern}: {out}");
    }

    let again = sync.sync_acls().await.expect("acl sync");
    assert!(again.created.is_empty(), "{again:#?}");
}

/// A SCRAM user of its own on `c`, so a test can deny it things without touching other tests' principals.
async fn scram_user_admin(c: &Cluster, user: &str) -> Admin {
    java_ok(
        "configs",
        &[
            "--bootstrap-server",
            &c.bootstrap,
            "--alter",
            "--add-config",
            "SCRAM-SHA-512=[password=test-secret]",
            "--entity-type",
            "users",
            "--entity-name",
            user,
        ],
    )
    .await;
    let mut config = ClientConfig::new(c.sasl_bootstrap.clone().expect("SASL listener"));
    config.security_protocol = SecurityProtocol::SaslPlaintext;
    config.sasl = Some(SaslConfig {
        mechanism: SaslMechanism::ScramSha512,
        username: user.to_string(),
        password: "test-secret".to_string(),
    });
    let mut waiting = Waiting::new("the new SCRAM user to be accepted");
    loop {
        match Client::connect(config.clone()).await {
            Ok(client) => return Admin::new(client),
            Err(e) => waiting.again(&e).await,
        }
    }
}

async fn acl(c: &Cluster, args: &[&str]) {
    let mut all = vec!["--bootstrap-server", c.bootstrap.as_str(), "--force"];
    all.extend_from_slice(args);
    java_ok("acls", &all).await;
}

// S8: a refused creation names the topic, the principal and the remedy, shows on the status board, and the
// other topics go on; once the refusal is lifted, the next refresh creates it and clears the problem. A
// remote name the target cannot hold (too long once prefixed) is reported the same way.
#[tokio::test]
async fn refused_creation_is_reported_and_others_continue() {
    let (a, b) = (cluster("A"), cluster("B"));
    let refused = unique_topic("disc-refused");
    let fine = unique_topic("disc-fine");
    // 249 characters is Kafka's limit: fine on the source, too long as `A.<name>` on the target.
    let mut long = unique_topic("disc-long");
    long.extend(std::iter::repeat_n('x', 249 - long.len()));
    create_topic(&a.bootstrap, &TopicSpec::new(&refused, 2)).await;
    create_topic(&a.bootstrap, &TopicSpec::new(&fine, 1)).await;
    create_topic(&a.bootstrap, &TopicSpec::new(&long, 1)).await;
    let hidden = unique_topic("disc-noconf");
    create_topic(&a.bootstrap, &TopicSpec::new(&hidden, 1)).await;
    let remote_refused = format!("A.{refused}");

    // CREATE on the cluster would cover every topic: deny it, so the broker decides per topic.
    let user = unique_name("disc-user");
    let principal = format!("User:{user}");
    let target = scram_user_admin(&b, &user).await;
    // On the source, the user may see `hidden` but not read its configs (mm2-test-suite item 51).
    let source = scram_user_admin(&a, &user).await;
    for (kind, op) in [
        ("--allow-principal", "Describe"),
        ("--deny-principal", "DescribeConfigs"),
    ] {
        acl(
            &a,
            &[
                "--add",
                kind,
                &principal,
                "--operation",
                op,
                "--topic",
                &hidden,
            ],
        )
        .await;
    }
    acl(
        &b,
        &[
            "--add",
            "--deny-principal",
            &principal,
            "--operation",
            "Create",
            "--cluster",
        ],
    )
    .await;
    let topic_deny = [
        "--deny-principal",
        principal.as_str(),
        "--operation",
        "Create",
        "--topic",
        remote_refused.as_str(),
    ];
    let mut add = vec!["--add"];
    add.extend_from_slice(&topic_deny);
    acl(&b, &add).await;

    let status = Arc::new(StatusBoard::default());
    let f = flow(&format!("{refused}, {fine}, {long}, {hidden}"), "");
    let flow_name = f.name();
    let mut sync = TopicSync::new(f, source, target, status.clone(), Arc::new(Metrics::new()));
    let set = sync.refresh().await.expect("refresh");
    assert_eq!(set.created, vec![format!("A.{fine}")], "{set:#?}");
    assert_eq!(set.problems.len(), 3, "{set:#?}");
    let p = set
        .problems
        .iter()
        .find(|p| p.source_topic == refused)
        .expect("refused topic reported");
    assert_eq!(p.kind, ProblemKind::CreateTopic);
    assert_eq!(p.target_topic, remote_refused);
    assert!(
        p.message.contains(&format!("'{remote_refused}'")),
        "{}",
        p.message
    );
    assert!(p.message.contains(&principal), "{}", p.message);
    assert!(p.message.contains("grant CREATE"), "{}", p.message);
    let l = set
        .problems
        .iter()
        .find(|p| p.source_topic == long)
        .expect("long topic reported");
    assert_eq!(l.kind, ProblemKind::CreateTopic);
    assert!(
        l.message.contains("not a valid topic name"),
        "{}",
        l.message
    );
    let h = set
        .problems
        .iter()
        .find(|p| p.source_topic == hidden)
        .expect("topic without readable configs reported");
    assert_eq!(h.kind, ProblemKind::DescribeSourceConfigs);
    for part in [
        format!("'{hidden}'"),
        "source cluster 'A'".to_string(),
        "TopicAuthorizationFailed".to_string(),
        "DESCRIBE_CONFIGS".to_string(),
    ] {
        assert!(h.message.contains(&part), "{part} not in {}", h.message);
    }
    // Heartbeat topics are mirrored whatever the filter says (MM2's rule); other tests may have created one.
    let mirrored: Vec<&str> = set
        .mirrored
        .iter()
        .map(|m| m.source_topic.as_str())
        .filter(|t| !t.ends_with("heartbeats"))
        .collect();
    assert_eq!(mirrored, vec![fine.as_str()], "{set:#?}");
    let board = status.snapshot();
    assert!(
        board
            .problems
            .iter()
            .any(|q| q.flow == flow_name && q.message == p.message),
        "{board:?}"
    );

    let mut remove = vec!["--remove"];
    remove.extend_from_slice(&topic_deny);
    acl(&b, &remove).await;
    let mut waiting = Waiting::new("the refused topic to be created once allowed");
    let created = loop {
        let set = sync.refresh().await.expect("refresh");
        if !set.created.is_empty() {
            break set.created;
        }
        waiting.again(&set.problems).await;
    };
    assert_eq!(created, vec![remote_refused.clone()]);
    let open: Vec<_> = status.snapshot().problems;
    assert_eq!(
        open.len(),
        2,
        "the long name and the hidden configs are left: {open:?}"
    );
    assert!(open.iter().any(|p| p.message.contains(&long)), "{open:?}");
    assert!(open.iter().any(|p| p.message.contains(&hidden)), "{open:?}");
    assert_eq!(java_topic_shape(&b, &remote_refused).await.0, 2);
    acl(
        &b,
        &[
            "--remove",
            "--deny-principal",
            &principal,
            "--operation",
            "Create",
            "--cluster",
        ],
    )
    .await;
}

// mm2-test-suite item 52 and §1.1: internal topics are compacted with the right partitions; a second call
// finds them; an RF the cluster cannot hold is an error naming the topic.
#[tokio::test]
async fn internal_topics() {
    let b = cluster("B");
    let admin = plain_admin(&b).await;
    let alias = unique_name("src");
    let checkpoints = format!("{alias}.checkpoints.internal");
    let offsets = format!("mm2-offsets.{alias}.internal");

    let state = ensure_internal_topic(&admin, &checkpoints, 1, true, None)
        .await
        .expect("create");
    assert_eq!(
        state,
        InternalTopicState::Created {
            replication_factor: 1
        }
    );
    assert_eq!(
        ensure_internal_topic(&admin, &checkpoints, 1, true, None)
            .await
            .expect("exists"),
        InternalTopicState::Existed
    );
    ensure_internal_topic(&admin, &offsets, 25, true, Some(1))
        .await
        .expect("create");
    for (topic, partitions) in [(&checkpoints, 1), (&offsets, 25)] {
        assert_eq!(java_topic_shape(&b, topic).await, (partitions, 1));
        assert_eq!(
            java_topic_overrides(&b, topic).await["cleanup.policy"],
            "compact"
        );
    }

    let too_many = format!("mm2-offset-syncs.{alias}.internal");
    let err = ensure_internal_topic(&admin, &too_many, 1, true, Some(3))
        .await
        .expect_err("1 broker cannot hold 3 replicas");
    let msg = err.to_string();
    assert!(msg.contains(&format!("'{too_many}'")), "{msg}");
    assert!(msg.contains("replication factor"), "{msg}");
}

/// Waits until B's `heartbeats` topic exists with a leader (and, given `replaced`, is a newer topic than
/// that one): the librdkafka reader needs it to exist.
async fn heartbeats_topic_ready(
    probe: &Admin,
    replaced: Option<&kmirror_kafka::TopicMetadata>,
) -> kmirror_kafka::TopicMetadata {
    let mut waiting = Waiting::new("B's heartbeats topic to exist with a leader");
    loop {
        let md = probe
            .client()
            .metadata(Some(&["heartbeats".to_string()]))
            .await
            .expect("metadata");
        if let Some(t) = md.topics.get("heartbeats")
            && !t.partitions.is_empty()
            && t.partitions.values().all(|p| p.leader >= 0)
            && replaced.is_none_or(|old| old.topic_id != t.topic_id)
        {
            return t.clone();
        }
        waiting.again(&md.topics.keys().collect::<Vec<_>>()).await;
    }
}

/// At least `n` heartbeats from `alias` in B's `heartbeats`, read with librdkafka and decoded.
async fn heartbeats_from(alias: &str, n: usize) -> Vec<(kmirror_testkit::ReadRecord, Heartbeat)> {
    let b = cluster("B");
    let mut waiting = Waiting::new("heartbeats in B's heartbeats topic");
    loop {
        let ours: Vec<_> = read_all(&b.bootstrap, "heartbeats")
            .await
            .into_iter()
            .filter_map(|r| {
                let hb = Heartbeat::decode(r.key.as_deref()?, r.value.as_deref()?).ok()?;
                (hb.source_cluster_alias == alias).then_some((r, hb))
            })
            .collect();
        if ours.len() >= n {
            return ours;
        }
        waiting.again(&ours.len()).await;
    }
}

// mm2-test-suite item 20 and §1.1: one heartbeat per interval in B's `heartbeats` (1 compacted partition),
// key/value in MM2's format with the record timestamp equal to the heartbeat's; MM2's own HeartbeatFormatter
// in the Java console consumer reads them. S8: the topic deleted under a running emitter is created again and
// heartbeats resume; the emitter stops on cancel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_reach_the_target_readable_by_mm2() {
    let b = cluster("B");
    let source_alias = unique_name("hb");
    let f = flow_named(
        &source_alias,
        "B",
        "none",
        "emit.heartbeats.interval.seconds = 1",
    );
    let status = Arc::new(StatusBoard::default());
    let emitter = HeartbeatEmitter::new(
        &f,
        plain_admin(&b).await,
        status.clone(),
        Arc::new(Metrics::new()),
    );
    let cancel = CancellationToken::new();
    let task = tokio::spawn(emitter.run(cancel.clone()));

    let probe = plain_admin(&b).await;
    let first_topic = heartbeats_topic_ready(&probe, None).await;
    let ours = heartbeats_from(&source_alias, 3).await;
    for (record, hb) in &ours {
        assert_eq!(record.partition, 0);
        assert_eq!(hb.target_cluster_alias, "B");
        assert_eq!(record.timestamp, Some(hb.timestamp));
        assert_eq!(record.value.as_ref().map(Vec::len), Some(10));
    }
    assert!(
        ours.windows(2).all(|w| w[0].1.timestamp < w[1].1.timestamp),
        "timestamps increase"
    );
    assert_eq!(java_topic_shape(&b, "heartbeats").await.0, 1);
    assert_eq!(
        java_topic_overrides(&b, "heartbeats").await["cleanup.policy"],
        "compact"
    );

    // The emitter keeps writing, so read a fixed count: everything up to the end seen now, ours included.
    let end = topic_end_offsets(&b.bootstrap, "heartbeats").await[0].2;
    let max_messages = end.to_string();
    let out = java_ok(
        "console-consumer",
        &[
            "--bootstrap-server",
            &b.bootstrap,
            "--topic",
            "heartbeats",
            "--from-beginning",
            "--max-messages",
            &max_messages,
            "--timeout-ms",
            "30000",
            "--formatter",
            "org.apache.kafka.connect.mirror.formatters.HeartbeatFormatter",
        ],
    )
    .await;
    for (_, hb) in &ours {
        let line = format!(
            "Heartbeat{{sourceClusterAlias={}, targetClusterAlias=B, timestamp={}}}",
            hb.source_cluster_alias, hb.timestamp
        );
        assert!(out.contains(&line), "{line} not in:\n{out}");
    }

    java_ok(
        "topics",
        &[
            "--bootstrap-server",
            &b.bootstrap,
            "--delete",
            "--topic",
            "heartbeats",
        ],
    )
    .await;
    heartbeats_topic_ready(&probe, Some(&first_topic)).await;
    let after = heartbeats_from(&source_alias, 2).await;
    let last_before = ours.last().map(|(_, hb)| hb.timestamp).unwrap_or_default();
    assert!(
        after.iter().all(|(_, hb)| hb.timestamp > last_before),
        "{after:?}"
    );
    assert_eq!(
        java_topic_overrides(&b, "heartbeats").await["cleanup.policy"],
        "compact"
    );

    cancel.cancel();
    task.await
        .expect("emitter task")
        .expect("emitter ended cleanly");
    assert!(
        status.snapshot().problems.is_empty(),
        "{:?}",
        status.snapshot().problems
    );
}

// S1: with `run` driving the jobs, a topic created on the source while kmirror runs appears on the target
// within the refresh interval, and `run` stops on cancel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_mirrors_topics_created_while_running() {
    let (a, b) = (cluster("A"), cluster("B"));
    let prefix = unique_topic("disc-run");
    let (sync, _) = topic_sync(flow(
        &format!("{prefix}-.*"),
        "refresh.topics.interval.seconds = 1",
    ))
    .await;
    let (publish, mut seen) = watch::channel(Arc::new(TopicSet::default()));
    let cancel = CancellationToken::new();
    let task = tokio::spawn(sync.run(cancel.clone(), publish));

    let topic = format!("{prefix}-1");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    let mut waiting = Waiting::new("run to mirror the new topic");
    loop {
        let set = seen.borrow_and_update().clone();
        if set.mirrored.iter().any(|m| m.source_topic == topic) {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), seen.changed()).await;
        waiting.again(&set.mirrored).await;
    }
    assert_eq!(java_topic_shape(&b, &format!("A.{topic}")).await, (2, 1));
    cancel.cancel();
    task.await.expect("run ended");
}

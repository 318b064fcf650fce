//! The admin surface against a real Kafka cluster, checked with Kafka's own Java tools and librdkafka.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kmirror_kafka::admin::{
    AclBinding, AclFilter, AclOperation, AclPermission, Admin, AlterConfigOp, ConfigResource,
    ConfigSource, DELETE_TO_HIGH_WATERMARK, GroupOffset, GroupState, NewPartitions, NewTopic,
    PatternType, ResourceType, is_group_active,
};
use kmirror_kafka::protocol::error::ResponseError;
use kmirror_kafka::{
    Client, ClientConfig, OffsetSpec, SaslConfig, SaslMechanism, SecurityProtocol, TopicPartition,
};
use kmirror_testkit::{
    ProducedRecord, TopicSpec, cluster, create_topic, kafka_tool, produce, repo_root,
    topic_end_offsets, unique_group, unique_topic, wait_until_async,
};

const WAIT: Duration = Duration::from_secs(60);

async fn admin() -> Admin {
    let c = cluster("A");
    let client = Client::connect(ClientConfig::new(c.bootstrap))
        .await
        .expect("connect");
    Admin::new(client)
}

fn bootstrap() -> String {
    cluster("A").bootstrap
}

fn java_ok(tool: &str, args: &[&str]) -> String {
    let out = kafka_tool(tool, args);
    assert!(
        out.success,
        "kafka-tool {tool} {args:?} failed: {}\n{}",
        out.stdout, out.stderr
    );
    out.stdout
}

fn records(n: usize, partition: i32) -> Vec<ProducedRecord> {
    (0..n)
        .map(|i| ProducedRecord {
            partition,
            value: Some(format!("v{i}").into_bytes()),
            ..Default::default()
        })
        .collect()
}

#[tokio::test]
async fn topics_configs_partitions_end_to_end() {
    let admin = admin().await;
    let b = bootstrap();
    let topic = unique_topic("admin-topic");

    // Create with configs: the broker reports them back with their sources.
    let created = admin
        .create_topics(&[NewTopic::new(&topic, 3, 1)
            .config("retention.ms", "123456")
            .config("cleanup.policy", "compact")])
        .await
        .expect("create call");
    let t = created[0].1.as_ref().expect("created");
    assert_eq!((t.partitions, t.replication_factor), (3, 1));
    assert_eq!(t.configs["retention.ms"].source, ConfigSource::DynamicTopic);
    assert_eq!(t.configs["retention.ms"].value.as_deref(), Some("123456"));
    assert_eq!(t.configs["segment.bytes"].source, ConfigSource::Default);

    // Creating it again is distinguishable.
    let again = admin
        .create_topics(&[NewTopic::new(&topic, 3, 1)])
        .await
        .expect("call");
    let e = again[0].1.as_ref().expect_err("exists");
    assert_eq!(e.code(), Some(ResponseError::TopicAlreadyExists), "{e}");
    assert!(e.to_string().contains(&topic), "{e}");

    // describe_configs: sources as Kafka's own tool sees them.
    let res = ConfigResource::Topic(topic.clone());
    let described = admin
        .describe_configs(std::slice::from_ref(&res))
        .await
        .expect("describe");
    let cfg = described[0].1.as_ref().expect("topic configs");
    assert!(cfg["retention.ms"].is_topic_override());
    assert!(cfg["cleanup.policy"].is_topic_override());
    assert_eq!(cfg["cleanup.policy"].value.as_deref(), Some("compact"));
    assert_eq!(cfg["max.message.bytes"].source, ConfigSource::Default);
    assert!(!cfg["max.message.bytes"].is_topic_override());
    let ours: Vec<&str> = cfg
        .values()
        .filter(|e| e.is_topic_override())
        .map(|e| e.name.as_str())
        .collect();
    let java = java_ok(
        "configs",
        &[
            "--bootstrap-server",
            &b,
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            &topic,
        ],
    );
    for name in &ours {
        assert!(
            java.contains(&format!("{name}=")),
            "java lacks {name}: {java}"
        );
    }
    assert!(
        java.contains("retention.ms=123456") && java.contains("cleanup.policy=compact"),
        "{java}"
    );
    assert_eq!(
        java.matches("DYNAMIC_TOPIC_CONFIG").count(),
        ours.len(),
        "{java}"
    );

    // Broker configs: static from server.properties, read-only ones, sensitive ones without values.
    let broker = admin
        .describe_configs(&[ConfigResource::Broker(1), ConfigResource::BrokerDefault])
        .await
        .expect("describe broker");
    let bcfg = broker[0].1.as_ref().expect("broker 1 configs");
    assert_eq!(
        bcfg["auto.create.topics.enable"].source,
        ConfigSource::StaticBroker
    );
    assert_eq!(
        bcfg["auto.create.topics.enable"].value.as_deref(),
        Some("false")
    );
    assert!(bcfg["log.dirs"].read_only);
    assert!(
        bcfg.values().any(|e| e.sensitive && e.value.is_none()),
        "some sensitive config"
    );
    assert!(broker[1].1.is_ok(), "{:?}", broker[1].1);

    // Incremental alter: SET one, DELETE another (falls back to the default).
    let altered = admin
        .incremental_alter_configs(&[(
            res.clone(),
            vec![
                AlterConfigOp::set("retention.ms", "999000"),
                AlterConfigOp::delete("cleanup.policy"),
            ],
        )])
        .await
        .expect("alter");
    altered[0].1.as_ref().expect("altered");
    let described = admin
        .describe_configs(std::slice::from_ref(&res))
        .await
        .expect("describe");
    let cfg = described[0].1.as_ref().expect("configs");
    assert_eq!(cfg["retention.ms"].value.as_deref(), Some("999000"));
    assert!(cfg["retention.ms"].is_topic_override());
    assert_eq!(cfg["cleanup.policy"].source, ConfigSource::Default);
    assert_eq!(cfg["cleanup.policy"].value.as_deref(), Some("delete"));
    let java = java_ok(
        "configs",
        &[
            "--bootstrap-server",
            &b,
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            &topic,
        ],
    );
    assert!(
        java.contains("retention.ms=999000") && !java.contains("cleanup.policy="),
        "{java}"
    );

    // An unknown config name is refused for that resource, naming it.
    let bad = admin
        .incremental_alter_configs(&[(
            res.clone(),
            vec![AlterConfigOp::set("no.such.config", "1")],
        )])
        .await
        .expect("call");
    let e = bad[0].1.as_ref().expect_err("invalid");
    assert!(e.to_string().contains(&topic), "{e}");

    // Grow partitions; shrinking is refused.
    let grown = admin
        .create_partitions(&[NewPartitions {
            topic: topic.clone(),
            total: 5,
        }])
        .await
        .expect("call");
    grown[0].1.as_ref().expect("grown");
    wait_until_async("5 partitions", WAIT, || async {
        java_ok(
            "topics",
            &["--bootstrap-server", &b, "--describe", "--topic", &topic],
        )
        .contains("PartitionCount: 5")
    })
    .await;
    let shrink = admin
        .create_partitions(&[NewPartitions {
            topic: topic.clone(),
            total: 4,
        }])
        .await
        .expect("call");
    let e = shrink[0].1.as_ref().expect_err("cannot shrink");
    assert_eq!(e.code(), Some(ResponseError::InvalidPartitions), "{e}");

    // Delete; deleting again says the topic is unknown.
    let deleted = admin
        .delete_topics(std::slice::from_ref(&topic))
        .await
        .expect("delete");
    deleted[0].1.as_ref().expect("deleted");
    wait_until_async("topic gone", WAIT, || async {
        !java_ok("topics", &["--bootstrap-server", &b, "--list"])
            .lines()
            .any(|l| l == topic)
    })
    .await;
    let again = admin
        .delete_topics(std::slice::from_ref(&topic))
        .await
        .expect("call");
    let e = again[0].1.as_ref().expect_err("gone");
    assert_eq!(
        e.code(),
        Some(ResponseError::UnknownTopicOrPartition),
        "{e}"
    );
}

#[tokio::test]
async fn acls_create_and_describe() {
    let admin = admin().await;
    let b = bootstrap();
    let topic = unique_topic("admin-acl");
    let principal = format!("User:{}", kmirror_testkit::unique_name("alice"));
    let literal = AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: topic.clone(),
        pattern_type: PatternType::Literal,
        principal: principal.clone(),
        host: "*".into(),
        operation: AclOperation::Read,
        permission: AclPermission::Allow,
    };
    let prefixed = AclBinding {
        resource_name: format!("{topic}-pre"),
        pattern_type: PatternType::Prefixed,
        operation: AclOperation::Write,
        permission: AclPermission::Deny,
        ..literal.clone()
    };
    let out = admin
        .create_acls(&[literal.clone(), prefixed.clone()])
        .await
        .expect("create");
    for (binding, r) in &out {
        r.as_ref().unwrap_or_else(|e| panic!("{binding}: {e}"));
    }

    let mut filter = AclFilter::any();
    filter.principal = Some(principal.clone());
    wait_until_async("ACLs visible", WAIT, || async {
        admin.describe_acls(&filter).await.expect("describe").len() == 2
    })
    .await;
    let mut found = admin.describe_acls(&filter).await.expect("describe");
    found.sort();
    let mut want = vec![literal.clone(), prefixed.clone()];
    want.sort();
    assert_eq!(found, want);

    // Filters narrow: only the prefixed one, only topic ACLs.
    let mut only_prefixed = filter.clone();
    only_prefixed.pattern_type = PatternType::Prefixed;
    assert_eq!(
        admin.describe_acls(&only_prefixed).await.expect("describe"),
        vec![prefixed.clone()]
    );
    let mut topics = AclFilter::topics();
    topics.resource_name = Some(topic.clone());
    topics.pattern_type = PatternType::Literal;
    assert_eq!(
        admin.describe_acls(&topics).await.expect("describe"),
        vec![literal.clone()]
    );

    // Kafka's own tool sees them.
    // (scripts/kafka-tool's `acls` alias names the pre-4.0 class; call the 4.x one directly.)
    let java = java_ok(
        "org.apache.kafka.tools.AclCommand",
        &[
            "--bootstrap-server",
            &b,
            "--list",
            "--principal",
            &principal,
        ],
    );
    assert!(
        java.contains(&topic) && java.contains("PREFIXED") && java.contains("LITERAL"),
        "{java}"
    );
    assert!(
        java.contains("operation=READ") && java.contains("permissionType=DENY"),
        "{java}"
    );

    // A malformed principal is refused for that binding only.
    let bad = AclBinding {
        principal: "alice-without-type".into(),
        ..literal.clone()
    };
    let out = admin.create_acls(&[bad]).await.expect("call");
    assert!(out[0].1.is_err(), "{:?}", out[0].1);
}

struct ConsoleConsumer(Child);

impl ConsoleConsumer {
    fn start(bootstrap: &str, topic: &str, group: &str) -> Self {
        let child = Command::new(repo_root().join("scripts/kafka-tool"))
            .args([
                "console-consumer",
                "--bootstrap-server",
                bootstrap,
                "--topic",
                topic,
                "--group",
                group,
                "--from-beginning",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start console consumer");
        ConsoleConsumer(child)
    }

    /// SIGTERM: the consumer closes cleanly, committing and leaving the group.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

impl Drop for ConsoleConsumer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn groups_and_offsets_with_a_java_consumer() {
    let admin = admin().await;
    let b = bootstrap();
    let topic = unique_topic("admin-groups");
    let group = unique_group("admin");
    create_topic(&b, &TopicSpec::new(&topic, 2)).await;
    produce(
        &b,
        &topic,
        &records(10, 0),
        kmirror_testkit::Compression::None,
    )
    .await;

    let mut consumer = ConsoleConsumer::start(&b, &topic, &group);
    wait_until_async("the console consumer group to be stable", WAIT, || async {
        admin
            .list_groups()
            .await
            .expect("list")
            .iter()
            .any(|g| g.group_id == group && g.state == Some(GroupState::Stable))
    })
    .await;
    let listed = admin.list_groups().await.expect("list");
    let g = listed.iter().find(|g| g.group_id == group).expect("listed");
    assert_eq!(g.protocol_type, "consumer");
    let d = admin.describe_group(&group).await.expect("describe");
    assert_eq!(d.state, GroupState::Stable);
    assert_eq!(d.protocol_type, "consumer");
    assert_eq!(d.members.len(), 1);
    assert!(
        d.members[0].client_id.contains("console-consumer"),
        "{:?}",
        d.members[0]
    );
    assert!(!d.members[0].assignment.is_empty());

    // Active group: the commit is refused with a clear error, and nothing is written.
    let tp0 = TopicPartition::new(&topic, 0);
    let mut offsets = BTreeMap::new();
    offsets.insert(tp0.clone(), GroupOffset::new(3));
    let e = admin
        .offset_commit(&group, &offsets)
        .await
        .expect_err("active group");
    assert!(is_group_active(&e), "{e}");
    let s = e.to_string();
    assert!(s.contains(&group) && s.contains("active members"), "{s}");

    // The consumer commits what it read (10 records on p0) and leaves on a clean stop.
    wait_until_async("the consumer to commit offset 10", WAIT, || async {
        admin
            .offset_fetch(&group, None)
            .await
            .expect("fetch")
            .get(&tp0)
            .map(|o| o.offset)
            == Some(10)
    })
    .await;
    consumer.stop();
    wait_until_async("the group to be empty", WAIT, || async {
        admin.describe_group(&group).await.expect("describe").state == GroupState::Empty
    })
    .await;
    let listed = admin.list_groups().await.expect("list");
    let g = listed
        .iter()
        .find(|g| g.group_id == group)
        .expect("still listed");
    assert_eq!(g.state, Some(GroupState::Empty));
    assert!(
        admin
            .describe_group(&group)
            .await
            .expect("describe")
            .members
            .is_empty()
    );

    // Empty group: the commit is accepted, and Kafka's own tool sees it.
    let tp1 = TopicPartition::new(&topic, 1);
    offsets.insert(tp1.clone(), GroupOffset::new(0));
    let results = admin
        .offset_commit(&group, &offsets)
        .await
        .expect("empty group accepts");
    for (tp, r) in &results {
        r.as_ref().unwrap_or_else(|e| panic!("{tp}: {e}"));
    }
    let fetched = admin.offset_fetch(&group, None).await.expect("fetch");
    assert_eq!(fetched[&tp0].offset, 3);
    assert_eq!(fetched[&tp1].offset, 0);
    let only_p1 = admin
        .offset_fetch(&group, Some(std::slice::from_ref(&tp1)))
        .await
        .expect("fetch");
    assert_eq!(only_p1.keys().collect::<Vec<_>>(), vec![&tp1]);
    let java = java_ok(
        "consumer-groups",
        &["--bootstrap-server", &b, "--describe", "--group", &group],
    );
    let row = java
        .lines()
        .find(|l| {
            l.split_whitespace().nth(1) == Some(&topic) && l.split_whitespace().nth(2) == Some("0")
        })
        .unwrap_or_else(|| panic!("no row for {topic} 0 in:\n{java}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        (cols[3], cols[4], cols[5]),
        ("3", "10", "7"),
        "CURRENT-OFFSET LOG-END-OFFSET LAG: {row}"
    );

    // A group that never existed: describe says Dead, commit creates it.
    let fresh = unique_group("admin-fresh");
    let both = admin.describe_groups(&[fresh.clone(), group.clone()]).await;
    assert_eq!(
        (both[0].0.as_str(), both[1].0.as_str()),
        (fresh.as_str(), group.as_str())
    );
    assert_eq!(both[0].1.as_ref().expect("fresh").state, GroupState::Dead);
    assert_eq!(both[1].1.as_ref().expect("group").state, GroupState::Empty);
    assert!(
        admin
            .offset_fetch(&fresh, None)
            .await
            .expect("fetch")
            .is_empty()
    );
    let mut one = BTreeMap::new();
    one.insert(tp0.clone(), GroupOffset::new(5));
    admin.offset_commit(&fresh, &one).await.expect("commit")[0]
        .1
        .as_ref()
        .expect("ok");
    let java = java_ok(
        "consumer-groups",
        &["--bootstrap-server", &b, "--describe", "--group", &fresh],
    );
    assert!(
        java.lines().any(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            c.len() > 3 && c[1] == topic && c[2] == "0" && c[3] == "5"
        }),
        "{java}"
    );
}

#[tokio::test]
async fn delete_records_moves_log_start() {
    let admin = admin().await;
    let b = bootstrap();
    let topic = unique_topic("admin-delrec");
    create_topic(&b, &TopicSpec::new(&topic, 2)).await;
    produce(
        &b,
        &topic,
        &records(10, 0),
        kmirror_testkit::Compression::None,
    )
    .await;
    produce(
        &b,
        &topic,
        &records(6, 1),
        kmirror_testkit::Compression::None,
    )
    .await;
    let p0 = TopicPartition::new(&topic, 0);
    let p1 = TopicPartition::new(&topic, 1);

    let out = admin
        .delete_records(&[(p0.clone(), 4), (p1.clone(), DELETE_TO_HIGH_WATERMARK)])
        .await
        .expect("delete records");
    assert_eq!(out[0].0, p0);
    assert_eq!(*out[0].1.as_ref().expect("p0"), 4);
    assert_eq!(*out[1].1.as_ref().expect("p1"), 6);
    // ListOffsets(earliest) agrees, ours and librdkafka's.
    let earliest = admin
        .list_offsets(&[p0.clone(), p1.clone()], OffsetSpec::Earliest)
        .await
        .expect("list");
    let starts: Vec<i64> = earliest
        .iter()
        .map(|(_, r)| r.as_ref().expect("offset").offset)
        .collect();
    assert_eq!(starts, vec![4, 6]);
    assert_eq!(
        topic_end_offsets(&b, &topic).await,
        vec![(0, 4, 10), (1, 6, 6)]
    );

    // Past the high watermark: refused for that partition.
    let out = admin
        .delete_records(&[(p0.clone(), 11)])
        .await
        .expect("call");
    let e = out[0].1.as_ref().expect_err("out of range");
    assert_eq!(e.code(), Some(ResponseError::OffsetOutOfRange), "{e}");
    assert!(e.to_string().contains(&p0.to_string()), "{e}");
}

#[tokio::test]
async fn authorization_failures_name_the_resource_and_the_principal() {
    let c = cluster("A");
    let sasl_bootstrap = c
        .sasl_bootstrap
        .clone()
        .expect("this test needs the SASL listener: start the clusters with --auth scram (scripts/test does)");
    let creds = c.sasl.clone().expect("SASL credentials");
    let superuser = admin().await;
    let topic = unique_topic("admin-denied");
    let group = unique_group("admin-denied");
    create_topic(&c.bootstrap, &TopicSpec::new(&topic, 1)).await;
    let principal = format!("User:{}", creds.username);
    let deny = |resource_type, name: &str| AclBinding {
        resource_type,
        resource_name: name.to_string(),
        pattern_type: PatternType::Literal,
        principal: principal.clone(),
        host: "*".into(),
        operation: AclOperation::All,
        permission: AclPermission::Deny,
    };
    let created = superuser
        .create_acls(&[
            deny(ResourceType::Topic, &topic),
            deny(ResourceType::Group, &group),
        ])
        .await
        .expect("create ACLs");
    for (b, r) in &created {
        r.as_ref().unwrap_or_else(|e| panic!("{b}: {e}"));
    }

    let mut config = ClientConfig::new(sasl_bootstrap);
    config.security_protocol = SecurityProtocol::SaslPlaintext;
    config.sasl = Some(SaslConfig {
        mechanism: SaslMechanism::ScramSha512,
        username: creds.username.clone(),
        password: creds.password.clone(),
    });
    let limited = Admin::new(
        Client::connect(config)
            .await
            .expect("connect as the SCRAM user"),
    );

    let res = ConfigResource::Topic(topic.clone());
    wait_until_async("the deny ACL to be in force", WAIT, || async {
        limited
            .describe_configs(std::slice::from_ref(&res))
            .await
            .expect("call")[0]
            .1
            .is_err()
    })
    .await;
    let out = limited
        .describe_configs(std::slice::from_ref(&res))
        .await
        .expect("call");
    let e = out[0].1.as_ref().expect_err("denied");
    assert_eq!(
        e.code(),
        Some(ResponseError::TopicAuthorizationFailed),
        "{e}"
    );
    let s = e.to_string();
    assert!(
        s.contains(&topic) && s.contains(&principal) && s.contains("ACL"),
        "{s}"
    );

    let e = limited
        .offset_fetch(&group, None)
        .await
        .expect_err("denied");
    assert_eq!(
        e.code(),
        Some(ResponseError::GroupAuthorizationFailed),
        "{e}"
    );
    let s = e.to_string();
    assert!(
        s.contains(&group) && s.contains(&principal) && s.contains("ACL"),
        "{s}"
    );
}

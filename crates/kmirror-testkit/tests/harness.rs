//! Proves the test harness itself against the real local clusters: what later tests rely on must hold here.

use kmirror_testkit::{
    Compression, ProducedRecord, TopicSpec, cluster, create_topic, kafka_tool, produce, read_all,
    recent_timestamp, topic_end_offsets, unique_topic,
};

fn sample(n: usize, partitions: i32) -> Vec<ProducedRecord> {
    (0..n)
        .map(|i| ProducedRecord {
            partition: (i as i32) % partitions,
            key: Some(format!("key-{i}").into_bytes()),
            value: if i % 17 == 0 {
                None
            } else {
                Some(format!("value-{i}-{}", "x".repeat(i % 50)).into_bytes())
            },
            headers: vec![
                ("seq".to_string(), Some(i.to_string().into_bytes())),
                ("empty".to_string(), None),
            ],
            timestamp: Some(recent_timestamp() + i as i64),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn records_written_to_a_read_back_unchanged_with_every_codec() {
    let a = cluster("A");
    for codec in Compression::ALL {
        let topic = unique_topic(&format!("harness-{codec:?}").to_lowercase());
        create_topic(&a.bootstrap, &TopicSpec::new(&topic, 3)).await;
        let written = sample(200, 3);
        let positions = produce(&a.bootstrap, &topic, &written, codec).await;
        assert_eq!(positions.len(), 200);

        let read = read_all(&a.bootstrap, &topic).await;
        assert_eq!(
            read.len(),
            written.len(),
            "{codec:?}: every record read back"
        );
        for p in 0..3 {
            let expected: Vec<_> = written.iter().filter(|r| r.partition == p).collect();
            let got: Vec<_> = read.iter().filter(|r| r.partition == p).collect();
            assert_eq!(got.len(), expected.len(), "{codec:?}: partition {p} count");
            for (offset, (w, r)) in expected.iter().zip(&got).enumerate() {
                assert_eq!(
                    r.offset, offset as i64,
                    "{codec:?}: offsets are dense from 0"
                );
                assert_eq!(
                    (&r.key, &r.value, &r.headers, r.timestamp),
                    (&w.key, &w.value, &w.headers, w.timestamp)
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn java_console_consumer_sees_what_librdkafka_wrote() {
    let a = cluster("A");
    let topic = unique_topic("harness-java");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 1)).await;
    let written = sample(20, 1);
    produce(&a.bootstrap, &topic, &written, Compression::Lz4).await;
    let out = kafka_tool(
        "console-consumer",
        &[
            "--bootstrap-server",
            &a.bootstrap,
            "--topic",
            &topic,
            "--from-beginning",
            "--max-messages",
            "20",
            "--timeout-ms",
            "30000",
            "--property",
            "print.key=true",
            "--property",
            "print.headers=true",
            "--property",
            "key.separator=|",
        ],
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        20,
        "console consumer output:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        lines[1].starts_with("seq:1,empty:null|key-1|value-1-x"),
        "line was {}",
        lines[1]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_b_is_independent_of_a() {
    let (a, b) = (cluster("A"), cluster("B"));
    assert_ne!(a.bootstrap, b.bootstrap);
    let topic = unique_topic("harness-only-on-a");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    produce(&a.bootstrap, &topic, &sample(10, 2), Compression::None).await;
    assert_eq!(
        topic_end_offsets(&a.bootstrap, &topic)
            .await
            .iter()
            .map(|p| p.2)
            .sum::<i64>(),
        10
    );
    let listing = kafka_tool("topics", &["--bootstrap-server", &b.bootstrap, "--list"]);
    assert!(listing.success, "{}", listing.stderr);
    assert!(
        !listing.stdout.lines().any(|l| l == topic),
        "topic created on A must not exist on B"
    );
}

/// Writes one record through a secured listener with the Java console producer and says whether it arrived.
fn java_produce(bootstrap: &str, topic: &str, client_props: &str, value: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(kmirror_testkit::unique_name("kmirror-props-"));
    std::fs::write(&dir, client_props).expect("write client properties");
    let script = format!(
        "echo {value} | {} console-producer --bootstrap-server {bootstrap} --topic {topic} --producer.config {} \
         --producer-property max.block.ms=15000 --producer-property delivery.timeout.ms=15000 \
         --producer-property request.timeout.ms=10000",
        kmirror_testkit::repo_root()
            .join("scripts/kafka-tool")
            .display(),
        dir.display()
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("run console producer");
    let _ = std::fs::remove_file(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (
        out.status.success() && !stderr.contains("Exception"),
        stderr,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn secured_listeners_accept_the_right_credentials_and_refuse_wrong_ones() {
    for name in ["A", "B"] {
        let c = cluster(name);
        let sasl = c
            .sasl
            .clone()
            .expect("scripts/test starts the clusters with --auth scram");
        let tls = c
            .tls
            .clone()
            .expect("scripts/test starts the clusters with --tls");
        let topic = unique_topic("harness-secure");
        create_topic(&c.bootstrap, &TopicSpec::new(&topic, 1)).await;
        let scram = |mech: &str, password: &str| {
            format!(
                "security.protocol=SASL_PLAINTEXT\nsasl.mechanism={mech}\nsasl.jaas.config=org.apache.kafka.common.\
                 security.scram.ScramLoginModule required username=\"{}\" password=\"{password}\";\n",
                sasl.username
            )
        };
        let plain = format!(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.\
             security.plain.PlainLoginModule required username=\"{}\" password=\"{}\";\n",
            sasl.username, sasl.password
        );
        let ssl_ok = format!(
            "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={}\n",
            tls.ca.display()
        );
        let sasl_port = c.sasl_bootstrap.clone().expect("SASL listener");
        let tls_port = c.tls_bootstrap.clone().expect("TLS listener");

        let accepted = [
            (
                "SCRAM-SHA-512",
                sasl_port.clone(),
                scram("SCRAM-SHA-512", &sasl.password),
            ),
            (
                "SCRAM-SHA-256",
                sasl_port.clone(),
                scram("SCRAM-SHA-256", &sasl.password),
            ),
            ("PLAIN", sasl_port.clone(), plain),
            ("TLS", tls_port.clone(), ssl_ok),
        ];
        for (what, bootstrap, props) in &accepted {
            let (ok, stderr) = java_produce(bootstrap, &topic, props, &format!("via-{what}"));
            assert!(
                ok,
                "{name}: {what} with the right credentials must be accepted:\n{stderr}"
            );
        }
        let refused = [
            (
                "SCRAM-SHA-512 wrong password",
                sasl_port.clone(),
                scram("SCRAM-SHA-512", "wrong-password"),
            ),
            (
                "TLS without the CA",
                tls_port.clone(),
                "security.protocol=SSL\n".to_string(),
            ),
        ];
        for (what, bootstrap, props) in &refused {
            let (ok, stderr) = java_produce(bootstrap, &topic, props, "must-not-arrive");
            assert!(!ok, "{name}: {what} must be refused");
            assert!(
                stderr.contains("AuthenticationException"),
                "{name}: {what} must fail authentication, got:\n{stderr}"
            );
        }
        let values: Vec<_> = read_all(&c.bootstrap, &topic)
            .await
            .into_iter()
            .filter_map(|r| r.value)
            .collect();
        let expected: Vec<Vec<u8>> = accepted
            .iter()
            .map(|(what, _, _)| format!("via-{what}").into_bytes())
            .collect();
        assert_eq!(
            values, expected,
            "{name}: exactly the accepted records arrived, in order"
        );
    }
}

//! Connecting over every security protocol the local clusters offer, and the errors a person gets when
//! something is wrong. Needs the clusters from `scripts/kafka-local up --auth scram --tls`.

use std::time::{Duration, Instant};

use kmirror_kafka::protocol::messages::{FetchRequest, ProduceRequest};
use kmirror_kafka::{
    Client, ClientConfig, Error, Route, SaslConfig, SaslMechanism, SecurityProtocol, TlsConfig,
};
use kmirror_testkit::{Cluster, cluster};

fn sasl(c: &Cluster, mechanism: SaslMechanism) -> SaslConfig {
    let creds = c.sasl.as_ref().expect("clusters started with --auth scram");
    SaslConfig {
        mechanism,
        username: creds.username.clone(),
        password: creds.password.clone(),
    }
}

fn tls(c: &Cluster) -> TlsConfig {
    let files = c.tls.as_ref().expect("clusters started with --tls");
    TlsConfig {
        ca_file: Some(files.ca.clone()),
        ..TlsConfig::default()
    }
}

async fn assert_connects(config: ClientConfig) {
    let what = format!("{:?} {:?}", config.security_protocol, config.sasl);
    let client = Client::connect(config)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let md = client
        .metadata(None)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(!md.brokers.is_empty(), "{what}: no brokers in metadata");
    assert!(md.cluster_id.is_some(), "{what}: no cluster id");
}

#[tokio::test]
async fn plaintext_and_negotiated_versions() {
    let a = cluster("A");
    assert_connects(ClientConfig::new(&a.bootstrap)).await;
    let client = Client::connect(ClientConfig::new(&a.bootstrap))
        .await
        .expect("connect");
    // Kafka 4.1 speaks Fetch 17 and Produce 12/13: the highest both sides know is chosen.
    let fetch = client
        .version_for::<FetchRequest>(&Route::Any)
        .await
        .expect("fetch version");
    let produce = client
        .version_for::<ProduceRequest>(&Route::Any)
        .await
        .expect("produce version");
    assert!(fetch >= 12, "Fetch v{fetch}");
    assert!(produce >= 7, "Produce v{produce} cannot carry zstd");
    let ours = <FetchRequest as kmirror_kafka::protocol::protocol::Message>::VERSIONS.max;
    assert!(fetch <= ours);
}

#[tokio::test]
async fn sasl_plaintext_every_mechanism() {
    let a = cluster("A");
    for m in [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
    ] {
        let mut c = ClientConfig::new(a.sasl_bootstrap.as_deref().expect("sasl listener"));
        c.security_protocol = SecurityProtocol::SaslPlaintext;
        c.sasl = Some(sasl(&a, m));
        assert_connects(c).await;
    }
}

#[tokio::test]
async fn ssl_with_ca_and_with_client_certificate() {
    let a = cluster("A");
    let mut c = ClientConfig::new(a.tls_bootstrap.as_deref().expect("tls listener"));
    c.security_protocol = SecurityProtocol::Ssl;
    c.tls = tls(&a);
    assert_connects(c.clone()).await;
    let files = a.tls.as_ref().expect("tls files");
    c.tls.cert_file = Some(files.client_cert.clone());
    c.tls.key_file = Some(files.client_key.clone());
    assert_connects(c).await;
}

#[tokio::test]
async fn sasl_ssl_scram() {
    let a = cluster("A");
    let mut c = ClientConfig::new(a.sasl_tls_bootstrap.as_deref().expect("sasl_ssl listener"));
    c.security_protocol = SecurityProtocol::SaslSsl;
    c.tls = tls(&a);
    c.sasl = Some(sasl(&a, SaslMechanism::ScramSha512));
    assert_connects(c).await;
}

#[tokio::test]
async fn properties_from_a_kafka_config_connect() {
    let a = cluster("A");
    let files = a.tls.as_ref().expect("tls files");
    let creds = a.sasl.as_ref().expect("sasl");
    let props = [
        ("bootstrap.servers", a.sasl_tls_bootstrap.clone().expect("sasl_ssl")),
        ("security.protocol", "SASL_SSL".to_string()),
        ("sasl.mechanism", "SCRAM-SHA-256".to_string()),
        (
            "sasl.jaas.config",
            format!(
                "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{}\" password=\"{}\";",
                creds.username, creds.password
            ),
        ),
        ("ssl.truststore.type", "PEM".to_string()),
        ("ssl.truststore.location", files.ca.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (config, ignored) = ClientConfig::from_properties(&props).expect("valid properties");
    assert!(ignored.is_empty());
    assert_connects(config).await;
}

#[tokio::test]
async fn wrong_password_names_mechanism_and_user() {
    let a = cluster("A");
    for m in [SaslMechanism::ScramSha512, SaslMechanism::Plain] {
        let mut c = ClientConfig::new(a.sasl_bootstrap.as_deref().expect("sasl listener"));
        c.security_protocol = SecurityProtocol::SaslPlaintext;
        let mut s = sasl(&a, m);
        s.password = "not-the-password".into();
        c.sasl = Some(s);
        let err = Client::connect(c)
            .await
            .expect_err("wrong password must fail");
        assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(m.name()), "{text}");
        assert!(text.contains("'kmirror'"), "{text}");
        assert!(!err.is_retriable());
    }
}

#[tokio::test]
async fn tls_without_the_ca_is_a_tls_error() {
    let a = cluster("A");
    let mut c = ClientConfig::new(a.tls_bootstrap.as_deref().expect("tls listener"));
    c.security_protocol = SecurityProtocol::Ssl;
    let err = Client::connect(c)
        .await
        .expect_err("untrusted certificate must fail");
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("ssl.truststore.location"), "{err}");
}

#[tokio::test]
async fn hostname_verification_can_be_switched_off_but_chain_is_still_checked() {
    let a = cluster("A");
    let port = a
        .tls_bootstrap
        .as_deref()
        .expect("tls")
        .rsplit_once(':')
        .expect("port")
        .1
        .to_string();
    // The broker certificate names 127.0.0.1 and localhost; another name for 127.0.0.1 (the machine's
    // own, from /etc/hosts) reaches the same listener under a name the certificate does not have.
    let hosts = std::fs::read_to_string("/etc/hosts").expect("/etc/hosts");
    let other_name = hosts
        .lines()
        .filter(|l| l.split_whitespace().next() == Some("127.0.0.1"))
        .flat_map(|l| l.split_whitespace().skip(1))
        .find(|n| *n != "localhost" && !n.starts_with('#'))
        .expect("this test needs a name other than localhost for 127.0.0.1 in /etc/hosts")
        .to_string();
    let mut c = ClientConfig::new(format!("{other_name}:{port}"));
    c.security_protocol = SecurityProtocol::Ssl;
    c.tls = tls(&a);
    let err = Client::connect(c.clone())
        .await
        .expect_err("name mismatch must fail");
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    c.tls.verify_hostname = false;
    let client = Client::connect(c)
        .await
        .expect("chain verified, name not checked");
    drop(client);
}

#[tokio::test]
async fn unreachable_bootstrap_fails_quickly_and_clearly() {
    // Port 1 on loopback: nothing listens there, the kernel refuses at once.
    let mut c = ClientConfig::new("127.0.0.1:1,127.0.0.1:2");
    c.request_timeout = Duration::from_secs(5);
    let start = Instant::now();
    let err = Client::connect(c).await.expect_err("nothing listens there");
    let text = err.to_string();
    assert!(matches!(err, Error::BootstrapUnreachable { .. }), "{err:?}");
    assert!(text.contains("127.0.0.1:1,127.0.0.1:2"), "{text}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn routes_to_group_coordinator_and_controller() {
    use kmirror_kafka::protocol::messages::{DescribeGroupsRequest, GroupId};
    use kmirror_kafka::protocol::protocol::StrBytes;
    let a = cluster("A");
    let client = Client::connect(ClientConfig::new(&a.bootstrap))
        .await
        .expect("connect");
    let group = kmirror_testkit::unique_group("route");
    let node = client.coordinator_of(&group).await.expect("coordinator");
    assert!(client.cached_metadata().brokers.contains_key(&node));
    let req = DescribeGroupsRequest::default()
        .with_groups(vec![GroupId(StrBytes::from_string(group.clone()))]);
    let resp = client
        .send_to(Route::GroupCoordinator(group.clone()), req)
        .await
        .expect("describe groups");
    assert_eq!(resp.groups.len(), 1);
    // Kafka 4 answers GROUP_ID_NOT_FOUND (69) for a group nobody joined; older brokers "Dead".
    let g = &resp.groups[0];
    assert!(
        g.error_code == 69 || g.group_state.as_str() == "Dead",
        "{g:?}"
    );
    let md = client
        .send_to(
            Route::Controller,
            kmirror_kafka::protocol::messages::MetadataRequest::default(),
        )
        .await
        .expect("metadata from the controller");
    assert!(!md.brokers.is_empty());
}

#[tokio::test]
async fn metadata_cache_refreshes_on_its_timer() {
    let a = cluster("A");
    let mut config = ClientConfig::new(&a.bootstrap);
    config.metadata_max_age = Duration::from_millis(500);
    let client = Client::connect(config).await.expect("connect");
    client.metadata(None).await.expect("all topics");
    let topic = kmirror_testkit::unique_topic("timer");
    assert!(!client.cached_metadata().topics.contains_key(&topic));
    kmirror_testkit::create_topic(&a.bootstrap, &kmirror_testkit::TopicSpec::new(&topic, 3)).await;
    // Nothing asks for the topic: only the background refresh can bring it into the cache.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let md = client.cached_metadata();
        if md
            .topics
            .get(&topic)
            .is_some_and(|t| t.partitions.len() == 3)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "topic {topic} never appeared in the cached metadata"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

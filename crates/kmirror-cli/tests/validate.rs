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
    // Offline: the fixture's hosts do not exist (online, that is a failure: see the tests below).
    let out = kmirror(&[
        "validate",
        "--offline",
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
        "\nvalid (offline: no cluster was contacted)\n",
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

// ---------------------------------------------------------------------------------------------------------------
// Security as MM2 users configure it, against the local clusters (started with `--auth scram --tls`).

/// A scratch folder for one test's config and stores.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(kmirror_testkit::unique_name(tag));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

/// Runs Java's keytool, as an MM2 user would to make stores.
fn keytool(args: &[&str]) {
    let out = Command::new("keytool")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run keytool (Java 17 is needed): {e}"));
    assert!(
        out.status.success(),
        "keytool {args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// `validate` on a config written to `dir`; returns (exit code, stdout, stderr).
fn validate(dir: &Path, config: &str) -> (Option<i32>, String, String) {
    let path = dir.join("mm2.properties");
    std::fs::write(&path, config).unwrap_or_else(|e| panic!("{e}"));
    let out = kmirror(&["validate", "--config", path.to_str().unwrap_or_default()]);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn scram_jaas(c: &kmirror_testkit::Cluster, password: Option<&str>) -> String {
    let creds = c.sasl.as_ref().expect("clusters started with --auth scram");
    format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{}\" password=\"{}\";",
        creds.username,
        password.unwrap_or(&creds.password)
    )
}

/// JKS and PKCS12 stores made by keytool from the clusters' CA and client certificate: cluster A over its
/// mutual-TLS listener (`ssl.client.auth=required`) with a JKS truststore and a JKS keystore (key password
/// differing from the store password), B over SASL_SSL with a PKCS12 truststore. Both are reached, each under
/// the principal the broker sees; without the keystore A refuses the connection.
#[tokio::test(flavor = "multi_thread")]
async fn jks_pkcs12_and_mutual_tls_reach_the_clusters() {
    let a = kmirror_testkit::cluster("A");
    let b = kmirror_testkit::cluster("B");
    let tls = a.tls.as_ref().expect("clusters started with --tls");
    let dir = scratch("kmirror-stores-");
    let ca = tls.ca.to_str().unwrap_or_default();
    let p12 = std::env::var("KMIRROR_TLS_CLIENT_P12").expect("KMIRROR_TLS_CLIENT_P12");
    let p12_password = std::env::var("KMIRROR_TLS_PASSWORD").expect("KMIRROR_TLS_PASSWORD");
    let trust_jks = dir.join("truststore.jks");
    let trust_p12 = dir.join("truststore.p12");
    let key_jks = dir.join("keystore.jks");
    let path = |p: &Path| p.to_str().unwrap_or_default().to_owned();
    keytool(&[
        "-importcert",
        "-noprompt",
        "-alias",
        "ca",
        "-file",
        ca,
        "-storetype",
        "JKS",
        "-keystore",
        &path(&trust_jks),
        "-storepass",
        "trust-jks",
    ]);
    keytool(&[
        "-importcert",
        "-noprompt",
        "-alias",
        "ca",
        "-file",
        ca,
        "-storetype",
        "PKCS12",
        "-keystore",
        &path(&trust_p12),
        "-storepass",
        "trust-p12",
    ]);
    keytool(&[
        "-importkeystore",
        "-noprompt",
        "-srckeystore",
        &p12,
        "-srcstoretype",
        "PKCS12",
        "-srcstorepass",
        &p12_password,
        "-srcalias",
        "client",
        "-destkeystore",
        &path(&key_jks),
        "-deststoretype",
        "JKS",
        "-deststorepass",
        "store-jks",
        "-destkeypass",
        "key-jks",
    ]);
    let topic = kmirror_testkit::unique_topic("stores");
    kmirror_testkit::create_topic(&a.bootstrap, &kmirror_testkit::TopicSpec::new(&topic, 1)).await;
    let config = format!(
        "clusters = A, B\n\
         A.bootstrap.servers = {}\n\
         A.security.protocol = SSL\n\
         A.ssl.truststore.type = JKS\n\
         A.ssl.truststore.location = {}\n\
         A.ssl.truststore.password = trust-jks\n\
         A.ssl.keystore.type = JKS\n\
         A.ssl.keystore.location = {}\n\
         A.ssl.keystore.password = store-jks\n\
         A.ssl.key.password = key-jks\n\
         A.ssl.enabled.protocols = TLSv1.3,TLSv1.2\n\
         B.bootstrap.servers = {}\n\
         B.security.protocol = SASL_SSL\n\
         B.sasl.mechanism = SCRAM-SHA-512\n\
         B.sasl.jaas.config = {}\n\
         B.ssl.truststore.type = PKCS12\n\
         B.ssl.truststore.location = {}\n\
         B.ssl.truststore.password = trust-p12\n\
         A->B.enabled = true\nA->B.topics = {topic}\n",
        std::env::var("KMIRROR_A_MTLS_BOOTSTRAP").expect(
            "KMIRROR_A_MTLS_BOOTSTRAP: start the clusters with scripts/kafka-local up --tls"
        ),
        path(&trust_jks),
        path(&key_jks),
        b.sasl_tls_bootstrap.as_deref().expect("SASL_SSL listener"),
        scram_jaas(&b, None),
        path(&trust_p12),
    );
    let (code, stdout, stderr) = validate(&dir, &config);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("A: as User:CN=kmirror-client"), "{stdout}");
    assert!(stdout.contains("B: as User:kmirror"), "{stdout}");
    assert!(
        stdout.contains(&format!("{topic} -> A.{topic}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nvalid: every cluster answered"),
        "{stdout}"
    );

    // Without a client certificate the mutual-TLS listener does not let kmirror in.
    let no_keystore: String = config
        .lines()
        .filter(|l| !l.starts_with("A.ssl.keystore") && !l.starts_with("A.ssl.key."))
        .map(|l| format!("{l}\n"))
        .collect();
    let (code, stdout, stderr) = validate(&dir, &no_keystore);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("cluster A: bootstrap"), "{stdout}");
    assert!(stdout.contains("requires a client certificate"), "{stdout}");
    assert!(stdout.contains("ssl.keystore.location"), "{stdout}");

    // A wrong store password is found at load, named by its key and line.
    let wrong = config.replace("A.ssl.key.password = key-jks", "A.ssl.key.password = nope");
    let (code, stdout, stderr) = validate(&dir, &wrong);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("mm2.properties:10: `A.ssl.key.password`"),
        "{stderr}"
    );
    assert!(stderr.contains("keystore.jks"), "{stderr}");

    // A CA that did not sign the brokers' certificates: a TLS failure naming the cluster and the truststore.
    let wrong_ca = dir.join("other-ca.jks");
    keytool(&[
        "-genkeypair",
        "-alias",
        "other",
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-dname",
        "CN=other-ca",
        "-storetype",
        "JKS",
        "-keystore",
        &path(&wrong_ca),
        "-storepass",
        "trust-jks",
        "-keypass",
        "trust-jks",
    ]);
    let (code, stdout, stderr) =
        validate(&dir, &config.replace(&path(&trust_jks), &path(&wrong_ca)));
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("cluster A: bootstrap"), "{stdout}");
    assert!(stdout.contains("TLS with broker"), "{stdout}");
    assert!(stdout.contains("ssl.truststore.location"), "{stdout}");
    assert!(
        stdout.contains("B: as User:kmirror"),
        "B is still checked: {stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
}

/// The case: cluster A unreachable, B with a wrong password: both named, non-zero exit. Then B with
/// a SCRAM line without password and a missing truststore: refused at load with file:line and key.
#[tokio::test(flavor = "multi_thread")]
async fn unreachable_cluster_and_bad_credentials_are_each_named() {
    let b = kmirror_testkit::cluster("B");
    let tls = b.tls.as_ref().expect("clusters started with --tls");
    let dir = scratch("kmirror-unreachable-");
    let config = |jaas: String, truststore: &str| {
        format!(
            "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\n\
             B.bootstrap.servers = {}\nB.security.protocol = SASL_SSL\nB.sasl.mechanism = SCRAM-SHA-256\n\
             B.sasl.jaas.config = {jaas}\nB.ssl.truststore.location = {truststore}\nA->B.enabled = true\n",
            b.sasl_tls_bootstrap.as_deref().expect("SASL_SSL listener"),
        )
    };
    let ca = tls.ca.to_str().unwrap_or_default();
    let (code, stdout, stderr) = validate(&dir, &config(scram_jaas(&b, Some("wrong")), ca));
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("cluster A: bootstrap 127.0.0.1:1"),
        "{stdout}"
    );
    assert!(stdout.contains("cluster B: bootstrap"), "{stdout}");
    assert!(
        stdout.contains("authentication failed for user 'kmirror'"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not ready: 2 connection problem(s)"),
        "{stdout}"
    );

    let no_password =
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"kmirror\";"
            .to_owned();
    let missing = dir.join("absent.jks");
    let (code, stdout, stderr) = validate(
        &dir,
        &config(no_password, missing.to_str().unwrap_or_default()),
    );
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("mm2.properties:6: `B.sasl.jaas.config`: has no password"),
        "{stderr}"
    );
    assert!(
        stderr.contains("mm2.properties:7: `B.ssl.truststore.location`"),
        "{stderr}"
    );
    assert!(stderr.contains("absent.jks"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
}

/// A principal without an ACL on a selected topic: validate names the missing operations with the
/// `kafka-acls` command; running that command (as the cluster's admin) makes validate pass.
#[tokio::test(flavor = "multi_thread")]
async fn missing_permission_is_named_with_the_command_that_grants_it() {
    let a = kmirror_testkit::cluster("A");
    let b = kmirror_testkit::cluster("B");
    let topic = kmirror_testkit::unique_topic("acl");
    kmirror_testkit::create_topic(&a.bootstrap, &kmirror_testkit::TopicSpec::new(&topic, 1)).await;
    // An ACL for someone else: from now on the topic is closed to every other (non-super) user.
    let other = kmirror_testkit::kafka_tool(
        "acls",
        &[
            "--bootstrap-server",
            &a.bootstrap,
            "--add",
            "--allow-principal",
            "User:someone-else",
            "--operation",
            "Read",
            "--topic",
            &topic,
        ],
    );
    assert!(other.success, "{}", other.stderr);
    let dir = scratch("kmirror-acl-");
    let config = format!(
        "clusters = A, B\n\
         A.bootstrap.servers = {}\nA.security.protocol = SASL_PLAINTEXT\nA.sasl.mechanism = SCRAM-SHA-512\n\
         A.sasl.jaas.config = {}\n\
         B.bootstrap.servers = {}\n\
         A->B.enabled = true\nA->B.topics = {topic}\nA->B.sync.topic.configs.enabled = false\n",
        a.sasl_bootstrap.as_deref().expect("SASL listener"),
        scram_jaas(&a, None),
        b.bootstrap,
    );
    let (code, stdout, stderr) = validate(&dir, &config);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "cluster A: User:kmirror may not Read, Describe topic {topic}"
        )),
        "{stdout}"
    );
    let command = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("kafka-acls.sh") && l.contains(&topic))
        .unwrap_or_else(|| panic!("no grant command in:\n{stdout}"));
    assert!(
        command.contains("--allow-principal 'User:kmirror'"),
        "{command}"
    );
    // Run it as printed, with the admin's connection instead of the placeholders.
    let sasl = a.sasl_bootstrap.as_deref().unwrap_or_default();
    let args: Vec<String> = command
        .replace("kafka-acls.sh ", "")
        .replace(" --command-config <admin client properties>", "")
        .replace(sasl, &a.bootstrap)
        .split_whitespace()
        .map(|w| w.trim_matches('\'').to_owned())
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let granted = kmirror_testkit::kafka_tool("acls", &args);
    assert!(granted.success, "{}", granted.stderr);
    let (code, stdout, stderr) = validate(&dir, &config);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{topic} -> A.{topic}")),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------------------------------------------------------
// SASL/OAUTHBEARER with OIDC client credentials: a token endpoint served here, signing JWTs with the key whose
// JWKS the brokers' OAuthBearerValidatorCallbackHandler checks (`scripts/kafka-local`, OAUTH listener).

#[path = "support/oidc.rs"]
mod oidc;

/// An unchanged Kafka OIDC client config (OAuthBearerLoginModule with clientId/clientSecret/scope, the login
/// callback handler, the token endpoint) reaches the OAUTHBEARER listener under the token's subject; a wrong
/// secret is named as a failed login; a missing endpoint is refused at load.
#[tokio::test(flavor = "multi_thread")]
async fn oauthbearer_with_oidc_client_credentials() {
    let a = kmirror_testkit::cluster("A");
    let b = kmirror_testkit::cluster("B");
    let oauth_a = std::env::var("KMIRROR_A_OAUTH_BOOTSTRAP").expect(
        "KMIRROR_A_OAUTH_BOOTSTRAP: start the clusters with scripts/kafka-local up --auth scram",
    );
    let endpoint = oidc::serve("mm2-client", "s3cret", 300).await;
    let topic = kmirror_testkit::unique_topic("oauth");
    kmirror_testkit::create_topic(&a.bootstrap, &kmirror_testkit::TopicSpec::new(&topic, 1)).await;
    let dir = scratch("kmirror-oauth-");
    let config = |secret: &str| {
        format!(
            "clusters = A, B\n\
             A.bootstrap.servers = {oauth_a}\n\
             A.security.protocol = SASL_PLAINTEXT\n\
             A.sasl.mechanism = OAUTHBEARER\n\
             A.sasl.login.callback.handler.class = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler\n\
             A.sasl.oauthbearer.token.endpoint.url = {}\n\
             A.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
             clientId=\"mm2-client\" clientSecret=\"{secret}\" scope=\"kafka\" \
             extension_logicalCluster=\"lkc-test\";\n\
             B.bootstrap.servers = {}\n\
             A->B.enabled = true\nA->B.topics = {topic}\n",
            endpoint.url, b.bootstrap
        )
    };
    let (code, stdout, stderr) = validate(&dir, &config("s3cret"));
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("A: as User:mm2-client"), "{stdout}");
    assert!(
        stdout.contains(&format!("{topic} -> A.{topic}")),
        "{stdout}"
    );
    assert!(
        endpoint.issued.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "no token was fetched"
    );

    let (code, stdout, stderr) = validate(&dir, &config("wrong"));
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("cluster A"), "{stdout}");
    assert!(
        stdout.contains("cannot get an OAUTHBEARER token"),
        "{stdout}"
    );
    assert!(stdout.contains("401"), "{stdout}");

    // A token the brokers' JWKS did not sign (here from a token file, Kafka's `file:` form) is refused by
    // the broker, and named as such.
    let forged = dir.join("forged.token");
    std::fs::write(
        &forged,
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImttaXJyb3ItdGVzdCJ9.eyJzdWIiOiJtbTIiLCJleHAiOjk5OTk5OTk5OTl9.c2ln",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let forged_config = config("s3cret").replace(
        &endpoint.url,
        &format!("file://{}", forged.to_str().unwrap_or_default()),
    );
    let (code, stdout, stderr) = validate(&dir, &forged_config);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("authentication failed"), "{stdout}");
    assert!(stdout.contains("OAUTHBEARER"), "{stdout}");

    let no_endpoint: String = config("s3cret")
        .lines()
        .filter(|l| !l.contains("token.endpoint.url"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (code, stdout, stderr) = validate(&dir, &no_endpoint);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("A.sasl.oauthbearer.token.endpoint.url"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
}

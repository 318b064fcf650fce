//! `kmirror run` through the security paths `validate` checks: OAUTHBEARER tokens that expire while records
//! are being copied.

mod support;

use std::time::Duration;

use kmirror_testkit::{
    Compression, TopicSpec, cluster, create_topic, produce, unique_name, unique_topic,
};
use support::{Mirror, assert_same_records, plain_records, wait_for_records};

const WAIT: Duration = Duration::from_secs(120);
/// Token lifetime: short, so the test crosses token expiries.
const LIFETIME_S: u64 = 6;

/// Tokens live 6 s and the broker ends each session when its token expires (KIP-368,
/// `connections.max.reauth.ms` on the OAUTH listener); records written over several token lifetimes are all
/// copied, each once, because kmirror fetches a new token and moves to a new connection in time.
#[tokio::test(flavor = "multi_thread")]
async fn oauthbearer_tokens_expiring_during_a_copy_do_not_interrupt_it() {
    let a = cluster("A");
    let b = cluster("B");
    let oauth_a = std::env::var("KMIRROR_A_OAUTH_BOOTSTRAP").expect(
        "KMIRROR_A_OAUTH_BOOTSTRAP: start the clusters with scripts/kafka-local up --auth scram",
    );
    let endpoint = support::oidc::serve("mm2-run", "s3cret", LIFETIME_S).await;
    let topic = unique_topic("oauth-run");
    create_topic(&a.bootstrap, &TopicSpec::new(&topic, 2)).await;
    let (src, dst) = (unique_name("src"), unique_name("dst"));
    let props = format!(
        "clusters = {src}, {dst}\n\
         {src}.bootstrap.servers = {oauth_a}\n{src}.security.protocol = SASL_PLAINTEXT\n\
         {src}.sasl.mechanism = OAUTHBEARER\n\
         {src}.sasl.login.callback.handler.class = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler\n\
         {src}.sasl.oauthbearer.token.endpoint.url = {}\n\
         {src}.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
         clientId=\"mm2-run\" clientSecret=\"s3cret\";\n\
         {dst}.bootstrap.servers = {}\n\
         {src}->{dst}.enabled = true\n{src}->{dst}.topics = {topic}\n\
         replication.factor = 1\ncheckpoints.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\nemit.heartbeats.enabled = false\n",
        endpoint.url, b.bootstrap
    );
    let mut mirror = Mirror::start(&props);
    let target = format!("{src}.{topic}");
    let mut total = 0;
    // Copy in rounds until a token was fetched more than a token lifetime after the first: an expiring
    // token was replaced while records kept flowing.
    for round in 0.. {
        let batch = plain_records(100, 2, &format!("r{round}"));
        produce(&a.bootstrap, &topic, &batch, Compression::None).await;
        total += batch.len() as i64;
        wait_for_records(&mirror, &b.bootstrap, &target, total, WAIT).await;
        if endpoint.issued_later_than(Duration::from_secs(LIFETIME_S)) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert_same_records(&a.bootstrap, &topic, &b.bootstrap, &target).await;
    let log = mirror.log_text();
    assert!(
        !log.contains("authentication failed"),
        "a login failed:\n{}",
        support::tail(&log, 40)
    );
    mirror.stop();
}

//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use bytes::Bytes;
use kmirror_kafka::{
    Client, ClientConfig, FetchPartition, FetchRequest, SaslConfig, SaslMechanism,
    SecurityProtocol, TlsConfig, TopicPartition,
};
use kmirror_testkit::{Cluster, ProducedRecord, ReadRecord};

/// A client for `c` over SASL_SSL with SCRAM-SHA-512: the most demanding listener, used for data tests.
pub fn secure_config(c: &Cluster) -> ClientConfig {
    let creds = c.sasl.as_ref().expect("clusters started with --auth scram");
    let files = c.tls.as_ref().expect("clusters started with --tls");
    let mut config = ClientConfig::new(c.sasl_tls_bootstrap.as_deref().expect("SASL_SSL listener"));
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
    config
}

pub async fn connect(c: &Cluster) -> Client {
    Client::connect(secure_config(c))
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", c.name))
}

/// Records with keys, values, headers (one with a null value) and distinct create times.
pub fn sample_records(partitions: i32, per_partition: usize, tag: &str) -> Vec<ProducedRecord> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let mut out = Vec::new();
    for i in 0..per_partition {
        for p in 0..partitions {
            out.push(ProducedRecord {
                partition: p,
                key: (i % 7 != 0).then(|| format!("key-{tag}-{p}-{i}").into_bytes()),
                value: (i % 11 != 5)
                    .then(|| format!("value-{tag}-{p}-{i}-{}", "x".repeat(i % 50)).into_bytes()),
                headers: vec![
                    ("h1".to_string(), Some(format!("{i}").into_bytes())),
                    ("nullable".to_string(), None),
                ],
                timestamp: Some(now - 60_000 + i as i64),
            });
        }
    }
    out
}

/// Every complete, non-control batch of `tp` from `from` up to the high watermark, as raw bytes with
/// its source base offset and record count.
pub async fn fetch_batches(
    client: &Client,
    tp: &TopicPartition,
    from: i64,
) -> Vec<(i64, i32, Bytes)> {
    let mut out = Vec::new();
    let mut offset = from;
    loop {
        let mut req = FetchRequest::new(vec![FetchPartition {
            tp: tp.clone(),
            offset,
            max_bytes: 256 * 1024,
        }]);
        req.max_wait = std::time::Duration::from_millis(100);
        let mut res = client.fetch(&req).await.expect("fetch");
        let data = res
            .pop()
            .expect("one partition")
            .result
            .expect("fetch result");
        for b in data.batches() {
            let (h, bytes) = b.expect("valid batch");
            offset = h.next_offset();
            if !h.is_control() {
                out.push((h.base_offset, h.record_count, bytes));
            }
        }
        if data.high_watermark >= 0 && offset >= data.high_watermark {
            return out;
        }
    }
}

/// Records per partition, in offset order.
pub fn by_partition(records: &[ReadRecord]) -> BTreeMap<i32, Vec<&ReadRecord>> {
    let mut m: BTreeMap<i32, Vec<&ReadRecord>> = BTreeMap::new();
    for r in records {
        m.entry(r.partition).or_default().push(r);
    }
    for v in m.values_mut() {
        v.sort_by_key(|r| r.offset);
    }
    m
}

/// Logs from the crate (RUST_LOG=kmirror_kafka=debug) in test output.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

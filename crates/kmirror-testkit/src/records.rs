//! Writing and reading records with librdkafka, an independent client.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Compression codec for records written by [`produce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub const ALL: [Compression; 5] = [Self::None, Self::Gzip, Self::Snappy, Self::Lz4, Self::Zstd];

    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

/// A record to write, with everything that must survive mirroring.
#[derive(Debug, Clone, Default)]
pub struct ProducedRecord {
    pub partition: i32,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Create time in epoch ms; `None` lets the producer stamp it.
    pub timestamp: Option<i64>,
}

impl ProducedRecord {
    /// The headers, in order and with repeats, as librdkafka takes them.
    pub(crate) fn rdkafka_headers(&self) -> OwnedHeaders {
        self.headers
            .iter()
            .fold(OwnedHeaders::new(), |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: value.as_deref(),
                })
            })
    }
}

/// A record as read back from a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<i64>,
}

impl ReadRecord {
    /// Everything but the offset: what must be equal between a source record and its mirror.
    pub fn content(&self) -> RecordContent<'_> {
        RecordContent {
            partition: self.partition,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers: &self.headers,
            timestamp: self.timestamp,
        }
    }
}

/// The part of a record that mirroring must preserve (everything but its offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordContent<'a> {
    pub partition: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [(String, Option<Vec<u8>>)],
    pub timestamp: Option<i64>,
}

/// A topic to create.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub configs: Vec<(String, String)>,
}

impl TopicSpec {
    pub fn new(name: &str, partitions: i32) -> Self {
        Self {
            name: name.to_string(),
            partitions,
            replication_factor: 1,
            configs: Vec::new(),
        }
    }

    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.configs.push((key.to_string(), value.to_string()));
        self
    }
}

fn base_config(bootstrap: &str, extra: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config
}

/// Creates a topic and waits until its metadata shows every partition with a leader.
pub async fn create_topic(bootstrap: &str, spec: &TopicSpec) {
    let admin: AdminClient<DefaultClientContext> = base_config(bootstrap, &[])
        .create()
        .unwrap_or_else(|e| panic!("rdkafka admin client for {bootstrap}: {e}"));
    let mut topic = NewTopic::new(
        &spec.name,
        spec.partitions,
        TopicReplication::Fixed(spec.replication_factor),
    );
    for (k, v) in &spec.configs {
        topic = topic.set(k, v);
    }
    let results = admin
        .create_topics(
            [&topic],
            &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
        )
        .await
        .unwrap_or_else(|e| panic!("creating topic {}: {e}", spec.name));
    for result in results {
        if let Err((name, code)) = result {
            panic!("creating topic {name} on {bootstrap}: {code:?}");
        }
    }
    let name = spec.name.clone();
    let bootstrap = bootstrap.to_string();
    let partitions = spec.partitions;
    tokio::task::spawn_blocking(move || {
        crate::wait_until(
            &format!("topic {name} to have {partitions} partitions with leaders"),
            TIMEOUT,
            || partition_count(&bootstrap, &name) == Some(partitions as usize),
        )
    })
    .await
    .expect("metadata wait panicked");
}

fn partition_count(bootstrap: &str, topic: &str) -> Option<usize> {
    let consumer: BaseConsumer = base_config(bootstrap, &[]).create().ok()?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .ok()?;
    let t = metadata.topics().iter().find(|t| t.name() == topic)?;
    if t.error().is_some() || t.partitions().iter().any(|p| p.leader() < 0) {
        return None;
    }
    Some(t.partitions().len())
}

/// Writes `records` in order with an idempotent librdkafka producer and returns each one's (partition, offset).
pub async fn produce(
    bootstrap: &str,
    topic: &str,
    records: &[ProducedRecord],
    compression: Compression,
) -> Vec<(i32, i64)> {
    let producer: FutureProducer = base_config(
        bootstrap,
        &[
            ("compression.type", compression.name()),
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
            ("message.timeout.ms", "60000"),
        ],
    )
    .create()
    .unwrap_or_else(|e| panic!("rdkafka producer for {bootstrap}: {e}"));
    let mut pending = Vec::with_capacity(records.len());
    for r in records {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic)
            .partition(r.partition)
            .headers(r.rdkafka_headers());
        if let Some(k) = &r.key {
            record = record.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            record = record.payload(v.as_slice());
        }
        if let Some(ts) = r.timestamp {
            record = record.timestamp(ts);
        }
        match producer.send_result(record) {
            Ok(delivery) => pending.push(delivery),
            Err((e, _)) => panic!("queueing a record for {topic}: {e}"),
        }
    }
    let mut positions = Vec::with_capacity(pending.len());
    for delivery in pending {
        match delivery.await {
            Ok(Ok(d)) => positions.push((d.partition, d.offset)),
            Ok(Err((e, _))) => panic!("producing to {topic} on {bootstrap}: {e}"),
            Err(_) => panic!("producer for {topic} was dropped"),
        }
    }
    positions
}

/// (partition, low watermark, high watermark) for every partition of `topic`.
pub async fn topic_end_offsets(bootstrap: &str, topic: &str) -> Vec<(i32, i64, i64)> {
    let bootstrap = bootstrap.to_string();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || watermarks(&bootstrap, &topic))
        .await
        .expect("watermark query panicked")
}

fn watermarks(bootstrap: &str, topic: &str) -> Vec<(i32, i64, i64)> {
    let consumer: BaseConsumer = base_config(bootstrap, &[])
        .create()
        .expect("rdkafka consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), TIMEOUT)
        .unwrap_or_else(|e| panic!("metadata of {topic} on {bootstrap}: {e}"));
    let t = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .unwrap_or_else(|| panic!("topic {topic} missing from metadata of {bootstrap}"));
    if let Some(e) = t.error() {
        panic!("topic {topic} on {bootstrap}: {e:?}");
    }
    let mut out: Vec<(i32, i64, i64)> = t
        .partitions()
        .iter()
        .map(|p| {
            let (lo, hi) = consumer
                .fetch_watermarks(topic, p.id(), TIMEOUT)
                .unwrap_or_else(|e| panic!("watermarks of {topic}-{}: {e}", p.id()));
            (p.id(), lo, hi)
        })
        .collect();
    out.sort();
    out
}

/// Reads every partition of `topic` from its start to its current end (read_committed), ordered by
/// partition then offset. No consumer group is used.
pub async fn read_all(bootstrap: &str, topic: &str) -> Vec<ReadRecord> {
    let bootstrap = bootstrap.to_string();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || read_all_blocking(&bootstrap, &topic))
        .await
        .expect("reader panicked")
}

fn read_all_blocking(bootstrap: &str, topic: &str) -> Vec<ReadRecord> {
    let marks = watermarks(bootstrap, topic);
    let consumer: BaseConsumer = base_config(
        bootstrap,
        &[
            ("group.id", "kmirror-testkit-reader"),
            ("enable.auto.commit", "false"),
            // EOF events end a partition whose last offsets are transaction markers (never delivered).
            ("enable.partition.eof", "true"),
        ],
    )
    .create()
    .expect("rdkafka consumer");
    let mut assignment = TopicPartitionList::new();
    let mut remaining: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, lo, hi) in &marks {
        if hi > lo {
            assignment
                .add_partition_offset(topic, *p, Offset::Offset(*lo))
                .expect("partition offset");
            remaining.insert(*p, *hi);
        }
    }
    if remaining.is_empty() {
        return Vec::new();
    }
    consumer.assign(&assignment).expect("assign");
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut last_record = std::time::Instant::now();
    while !remaining.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "reading {topic} from {bootstrap}: still waiting for partitions {remaining:?} after 120 s"
        );
        let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
            // The last offsets of a transactional partition are markers, never delivered: done once the
            // consumer's position has passed the end, or nothing more came for a while.
            if let Ok(positions) = consumer.position() {
                for e in positions.elements() {
                    if let Offset::Offset(at) = e.offset()
                        && remaining.get(&e.partition()).is_some_and(|end| at >= *end)
                    {
                        remaining.remove(&e.partition());
                    }
                }
            }
            if last_record.elapsed() > Duration::from_secs(5) {
                break;
            }
            continue;
        };
        last_record = std::time::Instant::now();
        let msg = match msg {
            Ok(m) => m,
            Err(rdkafka::error::KafkaError::PartitionEOF(p)) => {
                remaining.remove(&p);
                continue;
            }
            Err(e) => panic!("reading {topic} from {bootstrap}: {e}"),
        };
        let headers = msg
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        let record = ReadRecord {
            partition: msg.partition(),
            offset: msg.offset(),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
            headers,
            timestamp: msg.timestamp().to_millis(),
        };
        if let Some(end) = remaining.get(&record.partition).copied()
            && record.offset + 1 >= end
        {
            remaining.remove(&record.partition);
        }
        out.push(record);
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    out
}

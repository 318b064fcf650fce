//! Proves that real Kafka brokers accept what `batch::plan`, `batch::rebuild` and `stamp_for_produce`
//! produce, and that an independent reader (librdkafka, through the testkit) sees exactly the source
//! records at exactly the offsets the produce responses announced.
//!
//! There is no kmirror fetch/produce client yet, so this file speaks the wire protocol itself over a plain
//! TCP stream (requests and responses encoded by `kafka-protocol`, no TLS/SASL). That code lives here only.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, InitProducerIdRequest, InitProducerIdResponse,
    ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use kafka_protocol::records::{self as kp, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use kmirror_kafka::batch::{
    BatchHeader, Batches, Compression, Plan, ProducerStamp, RebuildOptions, RebuildReason, Record,
    RecordHeader, SkipReason, encode_batch, plan, rebuild, stamp_for_produce,
};
use kmirror_testkit::{
    Compression as TkCompression, ProducedRecord, ReadRecord, TopicSpec, cluster, create_topic,
    produce, read_all, topic_end_offsets, unique_topic,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---- a minimal wire client, for this test only ----

struct Raw {
    stream: TcpStream,
    next_id: i32,
}

impl Raw {
    async fn connect(addr: &str) -> Self {
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        Self { stream, next_id: 1 }
    }

    async fn call<Req: Encodable + HeaderVersion, Resp: Decodable + HeaderVersion>(
        &mut self,
        api_key: ApiKey,
        version: i16,
        request: &Req,
    ) -> Resp {
        let id = self.next_id;
        self.next_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(api_key as i16)
            .with_request_api_version(version)
            .with_correlation_id(id)
            .with_client_id(Some(StrBytes::from_static_str("kmirror-batch-test")));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, Req::header_version(version))
            .expect("encode request header");
        request.encode(&mut body, version).expect("encode request");
        self.stream
            .write_all(&(body.len() as i32).to_be_bytes())
            .await
            .expect("write");
        self.stream.write_all(&body).await.expect("write");
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).await.expect("read length");
        let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut buf).await.expect("read body");
        let mut buf = Bytes::from(buf);
        let rh = ResponseHeader::decode(&mut buf, Resp::header_version(version))
            .expect("decode response header");
        assert_eq!(rh.correlation_id, id);
        Resp::decode(&mut buf, version).expect("decode response")
    }
}

/// An idempotent producer for one target topic: our pid from InitProducerId, sequences per partition.
struct Target {
    conn: Raw,
    topic: String,
    producer_id: i64,
    producer_epoch: i16,
    sequences: HashMap<i32, i32>,
}

impl Target {
    async fn new(bootstrap: &str, topic: &str) -> Self {
        let mut conn = Raw::connect(bootstrap).await;
        let request = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(i32::MAX)
            .with_producer_id((-1).into())
            .with_producer_epoch(-1);
        // A fresh cluster may answer COORDINATOR_LOAD_IN_PROGRESS (14) or NOT_AVAILABLE (15) for a while.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let resp = loop {
            let resp: InitProducerIdResponse = conn.call(ApiKey::InitProducerId, 4, &request).await;
            if !matches!(resp.error_code, 14 | 15) || std::time::Instant::now() > deadline {
                break resp;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        assert_eq!(resp.error_code, 0, "InitProducerId");
        Self {
            conn,
            topic: topic.to_string(),
            producer_id: resp.producer_id.0,
            producer_epoch: resp.producer_epoch,
            sequences: HashMap::new(),
        }
    }

    /// Stamps and produces one batch; returns the BaseOffset the broker assigned.
    async fn send(&mut self, partition: i32, mut batch: Vec<u8>) -> i64 {
        let count = BatchHeader::parse(&batch).expect("header").record_count;
        let seq = self.sequences.entry(partition).or_insert(0);
        stamp_for_produce(
            &mut batch,
            ProducerStamp {
                producer_id: self.producer_id,
                producer_epoch: self.producer_epoch,
                base_sequence: *seq,
            },
        )
        .expect("stamp");
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_string(self.topic.clone())))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(partition)
                            .with_records(Some(Bytes::from(batch))),
                    ]),
            ]);
        let resp: ProduceResponse = self.conn.call(ApiKey::Produce, 9, &request).await;
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(
            p.error_code, 0,
            "produce to {}-{partition} failed: {:?} {:?}",
            self.topic, p.error_message, p.record_errors
        );
        *seq += count;
        p.base_offset
    }
}

/// Source offset -> target offset of every mirrored record, from the produce responses.
type OffsetMap = Vec<(i64, i64)>;

/// The pipeline in miniature: plan one fetched batch, then forward, rebuild or skip it.
async fn mirror_batch(
    target: &mut Target,
    partition: i32,
    batch: &Bytes,
    next: i64,
    max_message_bytes: usize,
    aborted: bool,
    map: &mut OffsetMap,
) -> Plan {
    let header = BatchHeader::parse(batch).expect("header");
    let decision = plan(&header, batch, next, max_message_bytes, aborted).expect("plan");
    match decision {
        Plan::Skip(_) => {}
        Plan::Forward => {
            let base = target.send(partition, batch.to_vec()).await;
            for i in 0..i64::from(header.record_count) {
                map.push((header.base_offset + i, base + i));
            }
        }
        Plan::Rebuild(_) => {
            let out =
                rebuild(batch, next, &RebuildOptions::new(max_message_bytes)).expect("rebuild");
            assert!(
                !out.is_empty(),
                "a planned rebuild keeps at least one record"
            );
            for b in out {
                assert!(b.bytes.len() <= max_message_bytes);
                let base = target.send(partition, b.bytes).await;
                for (i, s) in b.source_offsets.iter().enumerate() {
                    map.push((*s, base + i as i64));
                }
            }
        }
    }
    decision
}

// ---- source batches ----

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn rec(
    offset: i64,
    ts: i64,
    key: Option<&str>,
    value: Option<&[u8]>,
    headers: &[(&str, Option<&str>)],
) -> Record {
    Record {
        offset,
        timestamp: ts,
        key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
        value: value.map(Bytes::copy_from_slice),
        headers: headers
            .iter()
            .map(|(k, v)| RecordHeader {
                key: Bytes::copy_from_slice(k.as_bytes()),
                value: v.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            })
            .collect(),
    }
}

fn simple(offsets: impl IntoIterator<Item = i64>, ts: i64, tag: &str) -> Vec<Record> {
    offsets
        .into_iter()
        .map(|o| {
            let value = format!("{tag}-value-{o}");
            rec(
                o,
                ts + o,
                Some(&format!("{tag}-{o}")),
                Some(value.as_bytes()),
                &[("src", Some(tag))],
            )
        })
        .collect()
}

/// A batch written by kafka-protocol's encoder, as a source broker would hand it out: baseOffset and
/// deltas follow the records' offsets (gaps make it compacted-style).
fn kp_batch(
    records: &[Record],
    codec: kp::Compression,
    control: bool,
    delete_horizon: bool,
) -> Bytes {
    let kp_records: Vec<kp::Record> = records
        .iter()
        .map(|r| kp::Record {
            transactional: control,
            control,
            delete_horizon,
            partition_leader_epoch: 3,
            producer_id: 9_000,
            producer_epoch: 0,
            sequence: r.offset as i32,
            timestamp_type: TimestampType::Creation,
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r
                .headers
                .iter()
                .map(|h| {
                    (
                        StrBytes::from_utf8(h.key.clone()).expect("utf-8"),
                        h.value.clone(),
                    )
                })
                .collect::<IndexMap<_, _>>(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &kp_records,
        &RecordEncodeOptions {
            version: 2,
            compression: codec,
        },
    )
    .expect("encode");
    buf.freeze()
}

/// Rewrites header fields outside what the encoder lets us choose, and fixes the CRC.
fn patch(batch: &Bytes, base_offset: Option<i64>, last_offset_delta: Option<i32>) -> Bytes {
    let mut b = batch.to_vec();
    if let Some(o) = base_offset {
        b[0..8].copy_from_slice(&o.to_be_bytes());
    }
    if let Some(d) = last_offset_delta {
        b[23..27].copy_from_slice(&d.to_be_bytes());
    }
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

/// Incompressible-ish bytes, deterministic.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn headers_of(r: &Record) -> Vec<(String, Option<Vec<u8>>)> {
    r.headers
        .iter()
        .map(|h| {
            (
                String::from_utf8(h.key.to_vec()).expect("utf-8"),
                h.value.as_ref().map(|v| v.to_vec()),
            )
        })
        .collect()
}

/// Checks that the target holds exactly `expected` (in order) at the offsets in `map`.
fn assert_mirrored(target: &[ReadRecord], expected: &[Record], map: &OffsetMap) {
    assert_eq!(target.len(), expected.len(), "record count on the target");
    assert_eq!(map.len(), expected.len(), "offset map size");
    for ((t, e), (src, tgt)) in target.iter().zip(expected).zip(map) {
        assert_eq!(*src, e.offset, "source offset order");
        assert_eq!(
            t.offset, *tgt,
            "target offset announced by the produce response"
        );
        assert_eq!(
            t.key.as_deref(),
            e.key.as_deref(),
            "key of source offset {src}"
        );
        assert_eq!(
            t.value.as_deref(),
            e.value.as_deref(),
            "value of source offset {src}"
        );
        assert_eq!(t.headers, headers_of(e), "headers of source offset {src}");
        assert_eq!(
            t.timestamp,
            Some(e.timestamp),
            "timestamp of source offset {src}"
        );
    }
}

/// Hand-built batches covering every plan outcome, produced with our own idempotent identity, then read
/// back with librdkafka.
#[tokio::test]
async fn every_plan_outcome_is_accepted_by_the_broker_and_reads_back_exactly() {
    let b = cluster("B");
    let topic = unique_topic("batch-plan");
    let max = 4_096usize;
    create_topic(
        &b.bootstrap,
        &TopicSpec::new(&topic, 1).config("max.message.bytes", &max.to_string()),
    )
    .await;
    let mut target = Target::new(&b.bootstrap, &topic).await;
    let ts = now_ms() - 600_000;
    let mut map = OffsetMap::new();
    let mut expected: Vec<Record> = Vec::new();

    // (batch, next offset needed, aborted, expected plan, source records the batch should yield)
    let mut cases: Vec<(Bytes, i64, bool, Plan, Vec<Record>)> = Vec::new();
    let plain = simple(0..5, ts, "plain");
    cases.push((
        kp_batch(&plain, kp::Compression::None, false, false),
        0,
        false,
        Plan::Forward,
        plain.clone(),
    ));
    let lz4 = simple(5..10, ts, "lz4");
    cases.push((
        kp_batch(&lz4, kp::Compression::Lz4, false, false),
        5,
        false,
        Plan::Forward,
        lz4,
    ));
    // A transaction marker (control record key: version 0, type 1 = COMMIT).
    let marker = vec![Record {
        offset: 10,
        timestamp: ts,
        key: Some(Bytes::from_static(&[0, 0, 0, 1])),
        value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
        headers: vec![],
    }];
    cases.push((
        kp_batch(&marker, kp::Compression::None, true, false),
        10,
        false,
        Plan::Skip(SkipReason::Control),
        vec![],
    ));
    let aborted = simple(11..13, ts, "aborted");
    cases.push((
        kp_batch(&aborted, kp::Compression::Gzip, false, false),
        11,
        true,
        Plan::Skip(SkipReason::Aborted),
        vec![],
    ));
    // Compacted: offsets with gaps, count < lastOffsetDelta + 1. The broker rejects these as they are.
    let compacted_zstd = simple([13, 15, 18, 19], ts, "compacted-zstd");
    cases.push((
        kp_batch(&compacted_zstd, kp::Compression::Zstd, false, false),
        13,
        false,
        Plan::Rebuild(RebuildReason::NotDense),
        compacted_zstd,
    ));
    let compacted_plain = simple([20, 23], ts, "compacted-plain");
    cases.push((
        kp_batch(&compacted_plain, kp::Compression::None, false, false),
        20,
        false,
        Plan::Rebuild(RebuildReason::NotDense),
        compacted_plain,
    ));
    // The same with lastOffsetDelta patched to count-1: the broker would accept it and corrupt offsets.
    let patched = simple([24, 26, 28], ts, "patched");
    cases.push((
        patch(
            &kp_batch(&patched, kp::Compression::None, false, false),
            None,
            Some(2),
        ),
        24,
        false,
        Plan::Rebuild(RebuildReason::OffsetDeltasNotConsecutive),
        patched,
    ));
    // A fetch resumed at 34 gets the whole batch 30..=39.
    let straddling = simple(30..40, ts, "straddling");
    cases.push((
        kp_batch(&straddling, kp::Compression::Gzip, false, false),
        34,
        false,
        Plan::Rebuild(RebuildReason::StraddlesResumeOffset),
        straddling[4..].to_vec(),
    ));
    // Re-fetched after it was mirrored.
    cases.push((
        kp_batch(&plain, kp::Compression::None, false, false),
        40,
        false,
        Plan::Skip(SkipReason::AlreadyMirrored),
        vec![],
    ));
    // Larger than the target's max.message.bytes.
    let big: Vec<Record> = (40..60)
        .map(|o| {
            rec(
                o,
                ts + o,
                Some(&format!("big-{o}")),
                Some(&noise(o as u64, 400)),
                &[],
            )
        })
        .collect();
    cases.push((
        kp_batch(&big, kp::Compression::Snappy, false, false),
        40,
        false,
        Plan::Rebuild(RebuildReason::TooLarge),
        big,
    ));
    // Repeated header keys, null key, tombstone, null header value (kafka-protocol's encoder cannot write
    // repeated keys, so ours builds it), forwarded as bytes.
    let odd = vec![
        rec(
            60,
            ts + 60,
            None,
            Some(b"no key"),
            &[("dup", Some("1")), ("other", None), ("dup", Some("2"))],
        ),
        rec(61, ts + 61, Some("tombstone"), None, &[("dup", Some("3"))]),
    ];
    cases.push((
        patch(
            &Bytes::from(encode_batch(&odd, Compression::None).expect("encode")),
            Some(60),
            None,
        ),
        60,
        false,
        Plan::Forward,
        odd,
    ));
    // A cleaned batch with the delete-horizon bit: forwarded with the bit cleared.
    let horizon = simple(62..64, ts, "horizon");
    cases.push((
        kp_batch(&horizon, kp::Compression::Lz4, false, true),
        62,
        false,
        Plan::Forward,
        horizon,
    ));

    for (batch, next, aborted, want, yields) in cases {
        let got = mirror_batch(&mut target, 0, &batch, next, max, aborted, &mut map).await;
        assert_eq!(
            got,
            want,
            "plan of the batch at {}",
            BatchHeader::parse(&batch).expect("header").base_offset
        );
        expected.extend(yields);
    }
    let read = read_all(&b.bootstrap, &topic).await;
    assert_mirrored(&read, &expected, &map);
    let ends = topic_end_offsets(&b.bootstrap, &topic).await;
    assert_eq!(
        ends,
        vec![(0, 0, expected.len() as i64)],
        "nothing else was written"
    );
    // The oversized batch really was split.
    let big_targets: Vec<i64> = map
        .iter()
        .filter(|(s, _)| (40..60).contains(s))
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(big_targets.len(), 20);
}

/// Records written by librdkafka in every codec, fetched raw from cluster A from the middle of a batch,
/// mirrored to cluster B (whose topic limit forces splits), and compared record by record.
#[tokio::test]
async fn fetched_batches_mirror_exactly_from_a_to_b() {
    let a = cluster("A");
    let b = cluster("B");
    let source = unique_topic("batch-src");
    let dest = unique_topic("batch-dst");
    let codecs = TkCompression::ALL;
    let partitions = codecs.len() as i32;
    let max = 3_000usize;
    create_topic(&a.bootstrap, &TopicSpec::new(&source, partitions)).await;
    create_topic(
        &b.bootstrap,
        &TopicSpec::new(&dest, partitions).config("max.message.bytes", &max.to_string()),
    )
    .await;
    let ts = now_ms() - 3_600_000;
    for (p, codec) in codecs.iter().enumerate() {
        // Separate producers (one batch or more each): small chunks forward as bytes, big ones split.
        let mut n = 0u64;
        for chunk in [6usize, 3, 40, 1, 120, 8] {
            let records: Vec<ProducedRecord> = (0..chunk)
                .map(|_| {
                    n += 1;
                    let value = if n.is_multiple_of(7) {
                        None
                    } else {
                        Some(noise(n, (n as usize * 37) % 300))
                    };
                    let mut headers = vec![("n".to_string(), Some(n.to_string().into_bytes()))];
                    if n.is_multiple_of(3) {
                        headers.push(("n".to_string(), None));
                    }
                    ProducedRecord {
                        partition: p as i32,
                        key: (!n.is_multiple_of(5)).then(|| format!("key-{n}").into_bytes()),
                        value,
                        headers,
                        timestamp: Some(ts + n as i64 * 10),
                    }
                })
                .collect();
            produce(&a.bootstrap, &source, &records, *codec).await;
        }
    }

    let mut src_conn = Raw::connect(&a.bootstrap).await;
    let mut target = Target::new(&b.bootstrap, &dest).await;
    let mut all_plans: BTreeMap<String, usize> = BTreeMap::new();
    for p in 0..partitions {
        let (_, _, high) = topic_end_offsets(&a.bootstrap, &source).await[p as usize];
        // Resume inside the first batch that has at least two records.
        let first = fetch(&mut src_conn, &source, p, 0, 1 << 20).await;
        let resume = Batches::new(first)
            .map(|x| x.expect("batch").0)
            .find(|h| h.record_count >= 2)
            .map(|h| h.base_offset + 1)
            .expect("a batch with two records");
        let mut map = OffsetMap::new();
        let mut next = resume;
        let mut fetch_at = resume;
        while fetch_at < high {
            // A small per-partition limit makes the broker cut batches short at the end.
            let buf = fetch(&mut src_conn, &source, p, fetch_at, 8_192).await;
            let mut batches = Batches::new(buf);
            let mut progressed = false;
            for item in batches.by_ref() {
                let (header, bytes) = item.expect("fetched batch");
                let decided =
                    mirror_batch(&mut target, p, &bytes, next, max, false, &mut map).await;
                *all_plans.entry(format!("{decided:?}")).or_default() += 1;
                next = next.max(header.next_offset());
                fetch_at = header.next_offset();
                progressed = true;
            }
            assert!(
                progressed,
                "a fetch returned no complete batch (truncated: {})",
                batches.truncated_tail()
            );
        }
        let src: Vec<Record> = read_all(&a.bootstrap, &source)
            .await
            .into_iter()
            .filter(|r| r.partition == p && r.offset >= resume)
            .map(|r| Record {
                offset: r.offset,
                timestamp: r.timestamp.expect("timestamp"),
                key: r.key.map(Bytes::from),
                value: r.value.map(Bytes::from),
                headers: r
                    .headers
                    .into_iter()
                    .map(|(k, v)| RecordHeader {
                        key: Bytes::from(k.into_bytes()),
                        value: v.map(Bytes::from),
                    })
                    .collect(),
            })
            .collect();
        let dst: Vec<ReadRecord> = read_all(&b.bootstrap, &dest)
            .await
            .into_iter()
            .filter(|r| r.partition == p)
            .collect();
        assert_mirrored(&dst, &src, &map);
    }
    eprintln!("plans taken: {all_plans:?}");
    // The run must have taken every path it claims to test.
    let has = |prefix: &str| all_plans.keys().any(|k| k.starts_with(prefix));
    assert!(has("Forward"), "{all_plans:?}");
    assert!(has("Rebuild(StraddlesResumeOffset)"), "{all_plans:?}");
    assert!(has("Rebuild(TooLarge)"), "{all_plans:?}");
}

/// One raw Fetch (v12, read_committed) of one partition; returns its record bytes.
async fn fetch(
    conn: &mut Raw,
    topic: &str,
    partition: i32,
    offset: i64,
    partition_max_bytes: i32,
) -> Bytes {
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(100)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_isolation_level(1)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(partition)
                        .with_current_leader_epoch(-1)
                        .with_fetch_offset(offset)
                        .with_last_fetched_epoch(-1)
                        .with_log_start_offset(-1)
                        .with_partition_max_bytes(partition_max_bytes),
                ]),
        ]);
    let resp: FetchResponse = conn.call(ApiKey::Fetch, 12, &request).await;
    assert_eq!(resp.error_code, 0, "fetch");
    let part = &resp.responses[0].partitions[0];
    assert_eq!(part.error_code, 0, "fetch {topic}-{partition} at {offset}");
    part.records.clone().unwrap_or_default()
}

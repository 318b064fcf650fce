//! Forwarding throughput: N MB of lz4 batches of 1 KiB records are written to cluster A, then
//! fetched raw and forwarded to cluster B through this crate, and the forwarding phase is timed.
//!
//!   source <(scripts/kafka-local env)
//!   cargo run --release -p kmirror-kafka --example forward_bench -- [MB] [PARTITIONS]
//!
//! Uses the PLAINTEXT listeners ($KMIRROR_A_BOOTSTRAP, $KMIRROR_B_BOOTSTRAP), or SASL_SSL with SCRAM
//! when KMIRROR_BENCH_SECURE=1. Prints MB/s (record bytes and wire bytes) and this process's CPU
//! seconds (getrusage) for the forwarding phase.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kmirror_kafka::protocol::messages::create_topics_request::CreatableTopic;
use kmirror_kafka::protocol::messages::{CreateTopicsRequest, TopicName};
use kmirror_kafka::protocol::protocol::StrBytes;
use kmirror_kafka::protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kmirror_kafka::{
    Client, ClientConfig, FetchPartition, FetchRequest, ProduceAck, Producer, Route, SaslConfig,
    SaslMechanism, SecurityProtocol, TlsConfig, TopicPartition,
};
use rand::Rng;

const RECORD_BYTES: usize = 1024;
const RECORDS_PER_BATCH: usize = 256;
const WINDOW: usize = 16;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn config(name: &str) -> Result<ClientConfig, BoxError> {
    let var = |k: &str| {
        std::env::var(k).map_err(|_| format!("{k} is not set; source <(scripts/kafka-local env)"))
    };
    if std::env::var("KMIRROR_BENCH_SECURE").as_deref() == Ok("1") {
        let mut c = ClientConfig::new(var(&format!("KMIRROR_{name}_SASL_TLS_BOOTSTRAP"))?);
        c.security_protocol = SecurityProtocol::SaslSsl;
        c.sasl = Some(SaslConfig {
            mechanism: SaslMechanism::ScramSha512,
            username: var("KMIRROR_SASL_USER")?,
            password: var("KMIRROR_SASL_PASSWORD")?,
        });
        c.tls = TlsConfig {
            ca_file: Some(var("KMIRROR_TLS_CA")?.into()),
            ..TlsConfig::default()
        };
        Ok(c)
    } else {
        Ok(ClientConfig::new(var(&format!(
            "KMIRROR_{name}_BOOTSTRAP"
        ))?))
    }
}

fn cpu_seconds() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            tv(u.user_time()) + tv(u.system_time())
        }
        Err(_) => f64::NAN,
    }
}

async fn create_topic(client: &Client, name: &str, partitions: i32) -> Result<(), BoxError> {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                .with_num_partitions(partitions)
                .with_replication_factor(1),
        ]);
    let resp = client.send_to(Route::Controller, req).await?;
    for t in resp.topics {
        if t.error_code != 0 {
            return Err(format!(
                "creating {name}: error {} {:?}",
                t.error_code, t.error_message
            )
            .into());
        }
    }
    // Wait until every partition has a leader.
    for _ in 0..100 {
        let md = client.metadata(Some(&[name.to_string()])).await?;
        if md.topics.get(name).is_some_and(|t| {
            t.partitions.len() == partitions as usize
                && t.partitions.values().all(|p| p.leader >= 0)
        }) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("topic {name} has no leaders").into())
}

/// One lz4 batch of 1 KiB records whose values compress about 2:1, like typical JSON.
fn make_batch(rng: &mut impl Rng, base_ts: i64) -> Result<Bytes, BoxError> {
    let records: Vec<Record> = (0..RECORDS_PER_BATCH)
        .map(|i| {
            let value: Vec<u8> = (0..RECORD_BYTES)
                .map(|_| b"abcdefghijklmnop"[rng.random_range(0..16)])
                .collect();
            Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32,
                timestamp: base_ts + i as i64,
                key: Some(Bytes::from(format!("key-{i}"))),
                value: Some(Bytes::from(value)),
                headers: Default::default(),
            }
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::Lz4,
        },
    )
    .map_err(|e| format!("encoding a batch: {e}"))?;
    Ok(buf.freeze())
}

/// Sends batches keeping at most WINDOW unacknowledged per partition.
async fn send_all(
    producer: &Producer,
    tp: TopicPartition,
    batches: Vec<Bytes>,
) -> Result<(), BoxError> {
    let mut pending = VecDeque::new();
    for b in batches {
        if pending.len() >= WINDOW {
            let f: std::pin::Pin<
                Box<
                    dyn std::future::Future<Output = Result<ProduceAck, kmirror_kafka::Error>>
                        + Send,
                >,
            > = pending.pop_front().ok_or("empty")?;
            f.await?;
        }
        pending.push_back(Box::pin(producer.send(tp.clone(), b)));
    }
    for f in pending {
        f.await?;
    }
    Ok(())
}

/// Fetches `tp` from 0 to `end` and forwards every batch; returns (records, wire bytes).
async fn forward(
    source: Client,
    producer: Producer,
    tp: TopicPartition,
    end: i64,
) -> Result<(u64, u64), BoxError> {
    let mut offset = 0;
    let mut pending = VecDeque::new();
    let (mut records, mut bytes) = (0u64, 0u64);
    while offset < end {
        let mut req = FetchRequest::new(vec![FetchPartition {
            tp: tp.clone(),
            offset,
            max_bytes: 8 << 20,
        }]);
        req.max_wait = Duration::from_millis(100);
        let mut res = source.fetch(&req).await?;
        let data = res.pop().ok_or("no fetch result")?.result?;
        for b in data.batches() {
            let (h, batch) = b?;
            offset = h.next_offset();
            if h.is_control() {
                continue;
            }
            records += h.record_count as u64;
            bytes += batch.len() as u64;
            if pending.len() >= WINDOW {
                let f: std::pin::Pin<
                    Box<
                        dyn std::future::Future<Output = Result<ProduceAck, kmirror_kafka::Error>>
                            + Send,
                    >,
                > = pending.pop_front().ok_or("empty")?;
                f.await?;
            }
            pending.push_back(Box::pin(producer.send(tp.clone(), batch)));
        }
    }
    for f in pending {
        f.await?;
    }
    Ok((records, bytes))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let mb: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);
    let partitions: i32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4);
    let a = Client::connect(config("A")?).await?;
    let b = Client::connect(config("B")?).await?;
    let topic = format!("forward-bench-{}", rand::rng().random::<u32>());
    create_topic(&a, &topic, partitions).await?;
    create_topic(&b, &topic, partitions).await?;

    let batches_total = mb * 1024 * 1024 / (RECORD_BYTES * RECORDS_PER_BATCH);
    eprintln!(
        "writing {batches_total} lz4 batches of {RECORDS_PER_BATCH} x {RECORD_BYTES} B records to A/{topic}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let mut rng = rand::rng();
    let mut per_partition: Vec<Vec<Bytes>> = vec![Vec::new(); partitions as usize];
    for i in 0..batches_total {
        per_partition[i % partitions as usize].push(make_batch(&mut rng, now)?);
    }
    let writer = a.idempotent_producer().await?;
    let mut tasks = Vec::new();
    for (p, batches) in per_partition.into_iter().enumerate() {
        let writer = writer.clone();
        let tp = TopicPartition::new(&topic, p as i32);
        tasks.push(tokio::spawn(
            async move { send_all(&writer, tp, batches).await },
        ));
    }
    for t in tasks {
        t.await??;
    }
    let tps: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(&topic, p))
        .collect();
    let ends = a
        .list_offsets(&tps, kmirror_kafka::OffsetSpec::Latest)
        .await?;

    eprintln!("forwarding A -> B");
    let producer = b.idempotent_producer().await?;
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (tp, end) in ends {
        let end = end?.offset;
        tasks.push(tokio::spawn(forward(a.clone(), producer.clone(), tp, end)));
    }
    let (mut records, mut wire) = (0u64, 0u64);
    for t in tasks {
        let (r, w) = t.await??;
        records += r;
        wire += w;
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let record_mb = (records as f64 * RECORD_BYTES as f64) / (1024.0 * 1024.0);
    let wire_mb = wire as f64 / (1024.0 * 1024.0);
    println!(
        "forwarded {records} records ({record_mb:.1} MiB of values, {wire_mb:.1} MiB on the wire) in {secs:.2} s: \
         {:.1} MiB/s values, {:.1} MiB/s wire; CPU {cpu:.2} s ({:.2} CPU-s per 100 MiB of values)",
        record_mb / secs,
        wire_mb / secs,
        cpu * 100.0 / record_mb
    );
    Ok(())
}

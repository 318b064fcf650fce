//! Reading kmirror's and MM2's small internal topics from start to end.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kmirror_kafka::{Client, FetchPartition, FetchRequest, Isolation, OffsetSpec, TopicPartition};

use crate::internal_records::{InRecord, decode_records};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading {topic}: {source}")]
    Kafka {
        topic: String,
        #[source]
        source: kmirror_kafka::Error,
    },
    #[error("reading {topic}: {message}")]
    Decode { topic: String, message: String },
    #[error("reading {topic} did not reach its end within {0:?}", timeout)]
    Timeout { topic: String, timeout: Duration },
}

/// Every record of every partition of `topic`, up to the end offsets seen when the read started, by
/// partition. A missing topic reads as empty.
pub async fn read_to_end(
    client: &Client,
    topic: &str,
    timeout: Duration,
) -> Result<BTreeMap<i32, Vec<InRecord>>, ReadError> {
    let mut out: BTreeMap<i32, Vec<InRecord>> = BTreeMap::new();
    read_each(client, topic, timeout, |partition, record| {
        out.entry(partition).or_default().push(record);
    })
    .await?;
    Ok(out)
}

/// Like [`read_to_end`], handing each record to `each(partition, record)` as it is read (in offset order per
/// partition) instead of collecting them: for topics too large to hold (MM2's offset-syncs).
pub async fn read_each(
    client: &Client,
    topic: &str,
    timeout: Duration,
    each: impl FnMut(i32, InRecord),
) -> Result<(), ReadError> {
    read_range(client, topic, timeout, None, each).await
}

/// The newest record timestamp of `topic` among the records `keep` accepts, or `None` when there is none.
/// Looks at the last `TAIL_OFFSETS` offsets of each partition first and reads everything only when none
/// of those is kept: the topics asked about (heartbeats, checkpoints) grow by a record a second until they
/// are compacted.
pub async fn newest_timestamp(
    client: &Client,
    topic: &str,
    timeout: Duration,
    keep: impl Fn(&InRecord) -> bool,
) -> Result<Option<i64>, ReadError> {
    for tail in [Some(TAIL_OFFSETS), None] {
        let mut newest: Option<i64> = None;
        read_range(client, topic, timeout, tail, |_, r| {
            if keep(&r) {
                newest = Some(newest.map_or(r.timestamp, |n| n.max(r.timestamp)));
            }
        })
        .await?;
        if newest.is_some() {
            return Ok(newest);
        }
    }
    Ok(None)
}

/// How far back from its end [`newest_timestamp`] first looks in each partition.
const TAIL_OFFSETS: i64 = 1000;

/// [`read_each`] from `tail` offsets before each partition's end (or its start).
async fn read_range(
    client: &Client,
    topic: &str,
    timeout: Duration,
    tail: Option<i64>,
    mut each: impl FnMut(i32, InRecord),
) -> Result<(), ReadError> {
    let kafka = |source| ReadError::Kafka {
        topic: topic.to_string(),
        source,
    };
    let metadata = client
        .metadata(Some(&[topic.to_string()]))
        .await
        .map_err(kafka)?;
    let Some(t) = metadata.topics.get(topic) else {
        return Ok(());
    };
    let partitions: Vec<TopicPartition> = t
        .partitions
        .keys()
        .map(|p| TopicPartition::new(topic, *p))
        .collect();
    let ends = client
        .list_offsets(&partitions, OffsetSpec::Latest)
        .await
        .map_err(kafka)?;
    let starts = client
        .list_offsets(&partitions, OffsetSpec::Earliest)
        .await
        .map_err(kafka)?;
    let mut start_of: BTreeMap<i32, i64> = BTreeMap::new();
    for (tp, start) in starts {
        start_of.insert(tp.partition, start.map_err(kafka)?.offset);
    }
    let mut position: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    for (tp, end) in ends {
        let end = end.map_err(kafka)?.offset;
        let mut start = start_of.get(&tp.partition).copied().unwrap_or(0);
        if let Some(tail) = tail {
            start = start.max(end - tail);
        }
        if end > start {
            position.insert(tp.partition, (start, end));
        }
    }
    let deadline = Instant::now() + timeout;
    while !position.is_empty() {
        if Instant::now() > deadline {
            return Err(ReadError::Timeout {
                topic: topic.to_string(),
                timeout,
            });
        }
        let mut req = FetchRequest::new(
            position
                .iter()
                .map(|(p, (at, _))| FetchPartition {
                    tp: TopicPartition::new(topic, *p),
                    offset: *at,
                    max_bytes: 4 << 20,
                })
                .collect(),
        );
        req.isolation = Isolation::ReadUncommitted;
        req.max_wait = Duration::from_millis(100);
        for pf in client.fetch(&req).await.map_err(kafka)? {
            let data = pf.result.map_err(kafka)?;
            let Some((at, end)) = position.get(&pf.tp.partition).copied() else {
                continue;
            };
            let mut next = at;
            for batch in data.batches().flatten() {
                next = next.max(batch.0.next_offset());
            }
            let records = decode_records(data.records, at).map_err(|e| ReadError::Decode {
                topic: topic.to_string(),
                message: e.to_string(),
            })?;
            for r in records.into_iter().filter(|r| r.offset < end) {
                each(pf.tp.partition, r);
            }
            if next >= end {
                position.remove(&pf.tp.partition);
            } else {
                position.insert(pf.tp.partition, (next, end));
            }
        }
    }
    Ok(())
}

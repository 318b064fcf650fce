//! Loading and committing replication progress in `mm2-offsets.<source>.internal` on the target.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use kmirror_kafka::{Client, Producer, TopicPartition};

use super::connect_format::{
    SourceProgress, decode_progress_key, decode_progress_value, encode_progress_key,
    encode_progress_value, partition_for_key,
};
use crate::internal_records::{OutRecord, encode_batch};
use crate::internal_topics::{ReadError, read_to_end};

/// The progress topic MM2 uses for a source cluster (Connect's offset storage of the `<source>->...` herder).
pub fn progress_topic(source_alias: &str) -> String {
    format!("mm2-offsets.{source_alias}.internal")
}

#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("committing progress to {topic}: {message}")]
    Commit { topic: String, message: String },
}

/// The latest progress of every partition of source cluster `source_alias`, read from its progress topic on
/// `target` without writing anything (for tools that run beside the replicating process).
pub async fn read_progress(
    target: &Client,
    source_alias: &str,
) -> Result<HashMap<TopicPartition, SourceProgress>, ProgressError> {
    Ok(read_progress_timed(target, source_alias)
        .await?
        .into_iter()
        .map(|(tp, (p, _))| (tp, p))
        .collect())
}

/// [`read_progress`] with each entry's record timestamp (when it was committed, epoch ms).
pub async fn read_progress_timed(
    target: &Client,
    source_alias: &str,
) -> Result<HashMap<TopicPartition, (SourceProgress, i64)>, ProgressError> {
    let records = read_to_end(
        target,
        &progress_topic(source_alias),
        Duration::from_secs(120),
    )
    .await?;
    let mut out = HashMap::new();
    for (_, records) in records {
        for r in records {
            let Some(key) = r.key.as_deref() else {
                continue;
            };
            let Some((cluster, topic, partition)) = decode_progress_key(key) else {
                continue;
            };
            if cluster != source_alias {
                continue;
            }
            let tp = TopicPartition::new(topic, partition);
            match decode_progress_value(r.value.as_deref()) {
                Some(p) => {
                    out.insert(tp, (p, r.timestamp));
                }
                None => {
                    out.remove(&tp);
                }
            }
        }
    }
    Ok(out)
}

/// Progress of one flow's source partitions, kept in the target cluster.
#[derive(Debug, Clone)]
pub struct ProgressStore {
    target: Client,
    producer: Producer,
    topic: String,
    partitions: i32,
    source_alias: String,
}

impl ProgressStore {
    /// `partitions` is the progress topic's partition count (it must exist; MM2 creates it with 25).
    pub fn new(target: Client, producer: Producer, source_alias: &str, partitions: i32) -> Self {
        Self {
            target,
            producer,
            topic: progress_topic(source_alias),
            partitions: partitions.max(1),
            source_alias: source_alias.to_string(),
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The latest progress of every source partition of this source cluster, whoever wrote it (kmirror or
    /// MirrorMaker 2). Later records win; tombstones reset.
    pub async fn load(&self) -> Result<HashMap<TopicPartition, SourceProgress>, ProgressError> {
        read_progress(&self.target, &self.source_alias).await
    }

    /// Writes these positions (one batch per progress-topic partition) and waits for the target to
    /// acknowledge all of them.
    pub async fn commit(
        &self,
        entries: &[(TopicPartition, SourceProgress)],
    ) -> Result<(), ProgressError> {
        let now = crate::pipeline::forwarder::now_ms();
        let mut by_partition: BTreeMap<i32, Vec<OutRecord>> = BTreeMap::new();
        for (tp, progress) in entries {
            let key = encode_progress_key(&self.source_alias, &tp.topic, tp.partition);
            let partition = partition_for_key(&key, self.partitions);
            by_partition.entry(partition).or_default().push(OutRecord {
                key: Some(Bytes::from(key)),
                value: Some(Bytes::from(encode_progress_value(progress))),
                timestamp: now,
            });
        }
        let commit_err = |message: String| ProgressError::Commit {
            topic: self.topic.clone(),
            message,
        };
        let mut sends = Vec::new();
        for (partition, records) in by_partition {
            let batch = encode_batch(&records).map_err(|e| commit_err(e.to_string()))?;
            sends.push(
                self.producer
                    .send(TopicPartition::new(self.topic.clone(), partition), batch),
            );
        }
        for send in sends {
            send.await.map_err(|e| commit_err(e.to_string()))?;
        }
        Ok(())
    }
}

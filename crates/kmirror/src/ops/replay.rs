//! `kmirror replay`: writes the records a failback exported back into a cluster, each to its topic and
//! partition, in order, with keys, values, headers and timestamps as they were.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use kmirror_kafka::batch::{Compression, Record, RecordHeader, encode_batch};
use kmirror_kafka::{Client, TopicPartition};

use super::failback::{EXPORT_COMPLETE, ExportSummary, ExportedRecord, read_jsonl};

/// Records per produced batch.
const BATCH_RECORDS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("writing to {tp}: {message}")]
    Produce { tp: TopicPartition, message: String },
}

/// One replayed file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Replayed {
    pub topic: String,
    pub partition: i32,
    pub records: usize,
}

/// The export in `dir` (its [`EXPORT_COMPLETE`] summary and files).
pub fn read_export(dir: &Path) -> Result<ExportSummary, ReplayError> {
    let marker = dir.join(EXPORT_COMPLETE);
    let text = std::fs::read_to_string(&marker).map_err(|e| ReplayError::File {
        path: marker.display().to_string(),
        message: format!("{e} (is this a failback export folder?)"),
    })?;
    serde_json::from_str(&text).map_err(|e| ReplayError::File {
        path: marker.display().to_string(),
        message: e.to_string(),
    })
}

/// Writes every exported record into `client`'s cluster, topic by topic and partition by partition.
pub async fn replay_export(client: &Client, dir: &Path) -> Result<Vec<Replayed>, ReplayError> {
    let summary = read_export(dir)?;
    let producer = client
        .idempotent_producer()
        .await
        .map_err(|e| ReplayError::Produce {
            tp: TopicPartition::new("-", -1),
            message: e.to_string(),
        })?;
    let mut out = Vec::new();
    for f in &summary.files {
        let path = dir.join(&f.file);
        let file_err = |message: String| ReplayError::File {
            path: path.display().to_string(),
            message,
        };
        let records = read_jsonl(&path).map_err(|e| file_err(e.to_string()))?;
        let tp = TopicPartition::new(f.topic.clone(), f.partition);
        for chunk in records.chunks(BATCH_RECORDS) {
            let decoded = chunk
                .iter()
                .map(to_record)
                .collect::<Result<Vec<_>, _>>()
                .map_err(file_err)?;
            let batch =
                encode_batch(&decoded, Compression::None).map_err(|e| ReplayError::Produce {
                    tp: tp.clone(),
                    message: e.to_string(),
                })?;
            producer
                .send(tp.clone(), Bytes::from(batch))
                .await
                .map_err(|e| ReplayError::Produce {
                    tp: tp.clone(),
                    message: e.to_string(),
                })?;
        }
        out.push(Replayed {
            topic: f.topic.clone(),
            partition: f.partition,
            records: records.len(),
        });
    }
    Ok(out)
}

fn to_record(r: &ExportedRecord) -> Result<Record, String> {
    let bytes = |s: &Option<String>| -> Result<Option<Bytes>, String> {
        s.as_ref()
            .map(|v| {
                B64.decode(v)
                    .map(Bytes::from)
                    .map_err(|e| format!("offset {}: {e}", r.offset))
            })
            .transpose()
    };
    let mut headers = Vec::with_capacity(r.headers.len());
    for (k, v) in &r.headers {
        headers.push(RecordHeader {
            key: Bytes::from(
                B64.decode(k)
                    .map_err(|e| format!("offset {}: {e}", r.offset))?,
            ),
            value: bytes(v)?,
        });
    }
    Ok(Record {
        offset: r.offset,
        timestamp: r.timestamp,
        key: bytes(&r.key)?,
        value: bytes(&r.value)?,
        headers,
    })
}

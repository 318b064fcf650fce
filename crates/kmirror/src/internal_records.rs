//! Small records kmirror writes and reads itself: heartbeats, offset-syncs, checkpoints and progress.
//! Encoded as one uncompressed v2 batch per produce call; decoded fully (these topics are small).

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;
use kmirror_kafka::batch::{self, Batches};

/// A record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRecord {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub timestamp: i64,
}

/// A record read back, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InRecord {
    pub offset: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub timestamp: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RecordsError(String);

/// Encodes `records` as exactly one uncompressed batch ready for `Producer::send` (which stamps producer id
/// and sequence): a produce request carries one batch per partition.
pub fn encode_batch(records: &[OutRecord]) -> Result<Bytes, RecordsError> {
    let records: Vec<batch::Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| batch::Record {
            offset: i as i64,
            timestamp: r.timestamp,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: Vec::new(),
        })
        .collect();
    batch::encode_batch(&records, batch::Compression::None)
        .map(Bytes::from)
        .map_err(|e| RecordsError(format!("encoding a record batch: {e}")))
}

/// Decodes every complete data batch in fetched bytes (control batches and records below `from` skipped).
pub fn decode_records(fetched: Bytes, from: i64) -> Result<Vec<InRecord>, RecordsError> {
    let mut out = Vec::new();
    for item in Batches::new(fetched) {
        let (header, mut bytes) = item.map_err(|e| RecordsError(e.to_string()))?;
        if header.is_control() || header.next_offset() <= from {
            continue;
        }
        let set = RecordBatchDecoder::decode(&mut bytes).map_err(|e| {
            RecordsError(format!(
                "decoding batch at offset {}: {e}",
                header.base_offset
            ))
        })?;
        out.extend(
            set.records
                .into_iter()
                .filter(|r| r.offset >= from)
                .map(|r| InRecord {
                    offset: r.offset,
                    key: r.key,
                    value: r.value,
                    timestamp: r.timestamp,
                }),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_batches_decode_to_the_same_records() {
        let records: Vec<OutRecord> = (0..5)
            .map(|i| OutRecord {
                key: Some(Bytes::from(format!("k{i}"))),
                value: (i != 2).then(|| Bytes::from(format!("v{i}"))),
                timestamp: 1000 + i,
            })
            .collect();
        let batch = encode_batch(&records).expect("encode");
        let back = decode_records(batch.clone(), 0).expect("decode");
        assert_eq!(back.len(), 5);
        for (i, (r, w)) in back.iter().zip(&records).enumerate() {
            assert_eq!(
                (r.offset, &r.key, &r.value, r.timestamp),
                (i as i64, &w.key, &w.value, w.timestamp)
            );
        }
        assert_eq!(decode_records(batch.clone(), 3).expect("decode").len(), 2);
        let header = kmirror_kafka::batch::BatchHeader::parse(&batch).expect("header");
        assert_eq!(header.total_len(), batch.len(), "exactly one batch");
    }
}

//! DeleteRecords: move a partition's log start forward (sent to each partition's leader).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse, TopicName};

use super::failure::{check, missing, sb, st};
use super::topics::millis;
use crate::error::Error;
use crate::types::TopicPartition;

/// Delete everything before the high watermark.
pub const DELETE_TO_HIGH_WATERMARK: i64 = -1;

pub(crate) fn build_delete_records(
    before: &[(TopicPartition, i64)],
    timeout: Duration,
) -> DeleteRecordsRequest {
    let mut topics: BTreeMap<&str, Vec<DeleteRecordsPartition>> = BTreeMap::new();
    for (tp, offset) in before {
        let mut p = DeleteRecordsPartition::default();
        p.partition_index = tp.partition;
        p.offset = *offset;
        topics.entry(tp.topic.as_str()).or_default().push(p);
    }
    let mut req = DeleteRecordsRequest::default();
    req.timeout_ms = millis(timeout);
    req.topics = topics
        .into_iter()
        .map(|(t, ps)| {
            let mut x = DeleteRecordsTopic::default();
            x.name = TopicName(sb(t));
            x.partitions = ps;
            x
        })
        .collect();
    req
}

/// Per partition, in request order: the new log start offset. A partition whose leader moved fails with
/// the retriable `NotLeaderOrFollower`; an offset past the high watermark with `OffsetOutOfRange`.
pub(crate) fn interpret_delete_records(
    before: &[(TopicPartition, i64)],
    resp: DeleteRecordsResponse,
    principal: &str,
) -> Vec<(TopicPartition, Result<i64, Error>)> {
    let mut got = BTreeMap::new();
    for t in resp.topics {
        let topic = st(&t.name);
        for p in t.partitions {
            got.insert(TopicPartition::new(topic.clone(), p.partition_index), p);
        }
    }
    before
        .iter()
        .map(|(tp, offset)| {
            let r = match got.remove(tp) {
                None => Err(missing("DeleteRecords", format!("partition {tp}"))),
                Some(p) => check(p.error_code, None, principal, || {
                    format!("delete records of {tp} before offset {offset}")
                })
                .map(|()| p.low_watermark),
            };
            (tp.clone(), r)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use kafka_protocol::error::ResponseError;
    use kafka_protocol::messages::delete_records_response::{
        DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
    };
    use kafka_protocol::protocol::{Encodable, Message};

    use super::*;

    #[test]
    fn request_groups_by_topic_and_results_come_back_in_order() {
        let before = vec![
            (TopicPartition::new("a", 1), 10),
            (TopicPartition::new("b", 0), DELETE_TO_HIGH_WATERMARK),
            (TopicPartition::new("a", 0), 5),
            (TopicPartition::new("c", 0), 3),
        ];
        let req = build_delete_records(&before, Duration::from_secs(2));
        assert_eq!(req.topics.len(), 3);
        assert_eq!(req.topics[0].partitions.len(), 2);
        assert_eq!(req.topics[1].partitions[0].offset, -1);
        for v in DeleteRecordsRequest::VERSIONS.min..=DeleteRecordsRequest::VERSIONS.max {
            req.encode(&mut bytes::BytesMut::new(), v).expect("encodes");
        }

        let part = |i: i32, lw: i64, e: ResponseError| {
            let mut p = DeleteRecordsPartitionResult::default();
            p.partition_index = i;
            p.low_watermark = lw;
            p.error_code = if e == ResponseError::UnknownServerError {
                0
            } else {
                e.code()
            };
            p
        };
        let mut a = DeleteRecordsTopicResult::default();
        a.name = TopicName(sb("a"));
        a.partitions = vec![
            part(0, 5, ResponseError::UnknownServerError),
            part(1, -1, ResponseError::NotLeaderOrFollower),
        ];
        let mut b = DeleteRecordsTopicResult::default();
        b.name = TopicName(sb("b"));
        b.partitions = vec![part(0, -1, ResponseError::OffsetOutOfRange)];
        let mut resp = DeleteRecordsResponse::default();
        resp.topics = vec![b, a];

        let out = interpret_delete_records(&before, resp, "User:k");
        let e = out[0].1.as_ref().expect_err("moved");
        assert!(e.is_retriable() && e.to_string().contains("a-1"), "{e}");
        let e = out[1].1.as_ref().expect_err("range");
        assert_eq!(e.code(), Some(ResponseError::OffsetOutOfRange));
        assert_eq!(*out[2].1.as_ref().expect("ok"), 5);
        assert!(out[3].1.is_err(), "c missing from the response");
    }
}

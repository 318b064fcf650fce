//! One broker's Produce requests for one producer: batches of many partitions (one per partition, the
//! broker's rule) travel in one request.
//!
//! A broker works through one connection's requests one at a time, so a request per batch makes a steady
//! stream of small batches cost one broker round per batch. The lane keeps at most
//! [`MAX_REQUESTS_IN_FLIGHT`] requests outstanding; whatever the partitions hand it meanwhile goes out
//! together in the next request. Nothing waits when the lane has room (no linger).
//!
//! Order: a partition's batches are put into requests in the order they arrived, and requests are queued on
//! the connection in the order they were built, so the broker sees each partition's batches in order.

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::{mpsc, oneshot};

use super::ProduceAck;
use crate::cluster::Client;
use crate::error::Error;
use crate::types::TopicPartition;

/// Produce requests outstanding per broker: as many as the idempotent producer may have per partition, so
/// a partition can still keep its whole window in flight.
pub(super) const MAX_REQUESTS_IN_FLIGHT: usize = super::MAX_IN_FLIGHT;
/// Largest request the lane builds from several batches (a single larger batch still goes alone); far
/// below the broker's `socket.request.max.bytes` (100 MiB by default).
const MAX_REQUEST_BYTES: usize = 16 << 20;

/// One stamped batch for the lane.
pub(super) struct Outgoing {
    pub tp: TopicPartition,
    pub bytes: Bytes,
    /// Fires once the batch is queued on the connection (or failed): the partition may then hand over its
    /// next batch, merged from whatever queued up meanwhile.
    pub sent: oneshot::Sender<()>,
    pub reply: oneshot::Sender<Result<ProduceAck, Error>>,
}

/// Starts the lane of broker `node`; it ends when every sender is dropped and its requests are answered.
pub(super) fn spawn(client: Client, node: i32) -> mpsc::UnboundedSender<Outgoing> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(client, node, rx));
    tx
}

async fn run(client: Client, node: i32, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let mut inflight: FuturesUnordered<BoxFuture<'static, ()>> = FuturesUnordered::new();
    let mut closed = false;
    loop {
        if closed && inflight.is_empty() {
            return;
        }
        tokio::select! {
            biased;
            Some(()) = inflight.next(), if !inflight.is_empty() => {}
            item = rx.recv(), if !closed && inflight.len() < MAX_REQUESTS_IN_FLIGHT => match item {
                None => closed = true,
                Some(first) => {
                    let mut items = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        items.push(more);
                    }
                    for request in group(items) {
                        if let Some(answer) = send(&client, node, request).await {
                            inflight.push(answer);
                        }
                    }
                }
            },
        }
    }
}

/// Splits batches into requests: a request holds one batch per partition and stays under
/// [`MAX_REQUEST_BYTES`]; a batch never goes into an earlier request than one before it.
fn group(items: Vec<Outgoing>) -> Vec<Vec<Outgoing>> {
    let mut requests: Vec<Vec<Outgoing>> = Vec::new();
    let mut current: Vec<Outgoing> = Vec::new();
    let mut in_current: HashSet<TopicPartition> = HashSet::new();
    let mut bytes = 0usize;
    for item in items {
        let full = !current.is_empty() && bytes + item.bytes.len() > MAX_REQUEST_BYTES;
        if full || in_current.contains(&item.tp) {
            requests.push(std::mem::take(&mut current));
            in_current.clear();
            bytes = 0;
        }
        bytes += item.bytes.len();
        in_current.insert(item.tp.clone());
        current.push(item);
    }
    if !current.is_empty() {
        requests.push(current);
    }
    requests
}

type Waiting = Vec<(TopicPartition, oneshot::Sender<Result<ProduceAck, Error>>)>;

/// Queues one request on the broker's connection and returns the future that hands out its answers; on a
/// failure to queue, every batch gets the error at once.
async fn send(client: &Client, node: i32, items: Vec<Outgoing>) -> Option<BoxFuture<'static, ()>> {
    let mut waiting: Waiting = Vec::with_capacity(items.len());
    let mut topics: BTreeMap<String, Vec<PartitionProduceData>> = BTreeMap::new();
    for item in items {
        topics.entry(item.tp.topic.clone()).or_default().push(
            PartitionProduceData::default()
                .with_index(item.tp.partition)
                .with_records(Some(item.bytes)),
        );
        // Queued or failed, the partition can prepare its next batch either way.
        let _ = item.sent.send(());
        waiting.push((item.tp, item.reply));
    }
    let queued = async {
        let conn = client.broker_conn(node).await?;
        let version = conn.version::<ProduceRequest>()?;
        let metadata = client.cached_metadata();
        let topic_data: Vec<TopicProduceData> = topics
            .into_iter()
            .map(|(name, partition_data)| {
                let mut topic = TopicProduceData::default().with_partition_data(partition_data);
                if version >= 13 {
                    topic.topic_id = metadata
                        .topics
                        .get(&name)
                        .map(|t| t.topic_id)
                        .unwrap_or_default();
                } else {
                    topic.name = TopicName(StrBytes::from_string(name));
                }
                topic
            })
            .collect();
        let timeout = client.config().request_timeout;
        let req = ProduceRequest::default()
            .with_transactional_id(None)
            .with_acks(-1)
            .with_timeout_ms(timeout.as_millis().min(i32::MAX as u128) as i32)
            .with_topic_data(topic_data);
        conn.wait_throttle().await;
        // Boxed at once: the future is 'static, but its type would name the borrows of this block.
        let pending: BoxFuture<'static, Result<ProduceResponse, Error>> =
            Box::pin(conn.enqueue(&req, version, timeout + std::time::Duration::from_secs(5))?);
        Ok::<_, Error>((pending, conn.broker().to_string(), metadata))
    };
    match queued.await {
        Ok((pending, broker, metadata)) => Some(Box::pin(async move {
            match pending.await {
                Ok(resp) => answer(resp, waiting, &broker, &metadata),
                Err(e) => {
                    for (_, reply) in waiting {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        })),
        Err(e) => {
            for (_, reply) in waiting {
                let _ = reply.send(Err(e.clone()));
            }
            None
        }
    }
}

/// Hands each batch its partition's answer.
fn answer(
    resp: ProduceResponse,
    waiting: Waiting,
    broker: &str,
    metadata: &crate::cluster::Metadata,
) {
    let mut by_tp: BTreeMap<(String, i32), PartitionProduceResponse> = BTreeMap::new();
    for t in resp.responses {
        let name = if t.name.0.is_empty() {
            metadata
                .topic_name(t.topic_id)
                .unwrap_or_default()
                .to_string()
        } else {
            t.name.0.to_string()
        };
        for p in t.partition_responses {
            by_tp.insert((name.clone(), p.index), p);
        }
    }
    for (tp, reply) in waiting {
        let result = match by_tp.remove(&(tp.topic.clone(), tp.partition)) {
            Some(part) => interpret(&tp, broker, part),
            None => Err(Error::Protocol {
                broker: broker.to_string(),
                api: "Produce",
                message: format!("no answer for {tp}"),
            }),
        };
        let _ = reply.send(result);
    }
}

fn interpret(
    tp: &TopicPartition,
    broker: &str,
    part: PartitionProduceResponse,
) -> Result<ProduceAck, Error> {
    match ResponseError::try_from_code(part.error_code) {
        None | Some(ResponseError::DuplicateSequenceNumber) => Ok(ProduceAck {
            base_offset: part.base_offset,
            record_count: 0,
            log_append_time: part.log_append_time_ms,
        }),
        Some(code) => {
            let mut message: Vec<String> =
                part.error_message.iter().map(|m| m.to_string()).collect();
            message.extend(
                part.record_errors
                    .iter()
                    .filter_map(|r| r.batch_index_error_message.as_ref().map(|m| m.to_string())),
            );
            Err(Error::Kafka {
                code,
                context: format!("produce to {tp} at broker {broker}"),
                message: (!message.is_empty()).then(|| message.join("; ")),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(topic: &str, partition: i32, len: usize) -> Outgoing {
        let (sent, _) = oneshot::channel();
        let (reply, _) = oneshot::channel();
        Outgoing {
            tp: TopicPartition::new(topic, partition),
            bytes: Bytes::from(vec![0u8; len]),
            sent,
            reply,
        }
    }

    fn shape(requests: &[Vec<Outgoing>]) -> Vec<Vec<String>> {
        requests
            .iter()
            .map(|r| r.iter().map(|i| i.tp.to_string()).collect())
            .collect()
    }

    #[test]
    fn one_batch_per_partition_per_request_in_order() {
        let requests = group(vec![
            item("a", 0, 10),
            item("a", 1, 10),
            item("b", 0, 10),
            item("a", 0, 10),
            item("a", 1, 10),
        ]);
        assert_eq!(
            shape(&requests),
            vec![vec!["a-0", "a-1", "b-0"], vec!["a-0", "a-1"]]
        );
    }

    #[test]
    fn requests_stay_under_the_size_cap() {
        let big = MAX_REQUEST_BYTES / 2 + 1;
        let requests = group(vec![item("a", 0, big), item("a", 1, big), item("a", 2, 10)]);
        assert_eq!(shape(&requests), vec![vec!["a-0"], vec!["a-1", "a-2"]]);
        let huge = group(vec![item("a", 0, MAX_REQUEST_BYTES * 2)]);
        assert_eq!(
            huge.len(),
            1,
            "a batch larger than the cap still goes, alone"
        );
    }
}

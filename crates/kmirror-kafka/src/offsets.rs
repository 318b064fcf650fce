//! ListOffsets: log start, log end, and offset-by-timestamp per partition.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use futures_util::future::join_all;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::cluster::{Client, backoff};
use crate::error::Error;
use crate::types::TopicPartition;

/// Which offset to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (high watermark): where the next record will go.
    Latest,
    /// The first offset whose record timestamp is ≥ this (epoch ms); offset -1 when there is none.
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// An offset and the timestamp of its record (-1 for Earliest/Latest or when none matched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    pub offset: i64,
    pub timestamp: i64,
}

type Answer = Result<ListedOffset, Error>;

impl Client {
    /// Looks up `spec` for each partition, asking every leader concurrently. Retriable per-partition
    /// errors (leader moved, offsets not yet available after an election) are retried until
    /// `request_timeout`; a topic or partition that fresh metadata does not know is
    /// [`Error::UnknownTopicOrPartition`]. Results keep the order of `partitions`.
    pub async fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<Vec<(TopicPartition, Answer)>, Error> {
        let start = Instant::now();
        let mut done: HashMap<TopicPartition, Answer> = HashMap::new();
        let mut pending: Vec<TopicPartition> = partitions.to_vec();
        pending.sort();
        pending.dedup();
        let mut attempt = 0;
        while !pending.is_empty() {
            let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i32)>> = BTreeMap::new();
            let mut retry: Vec<(TopicPartition, Error)> = Vec::new();
            for tp in &pending {
                match self.leader_of(tp).await {
                    Ok((leader, epoch)) => by_leader
                        .entry(leader)
                        .or_default()
                        .push((tp.clone(), epoch)),
                    Err(e @ Error::UnknownTopicOrPartition { .. }) => {
                        done.insert(tp.clone(), Err(e));
                    }
                    Err(e) if e.is_retriable() => retry.push((tp.clone(), e)),
                    Err(e) => {
                        done.insert(tp.clone(), Err(e));
                    }
                }
            }
            let answers = join_all(
                by_leader
                    .into_iter()
                    .map(|(leader, tps)| self.list_from(leader, tps, spec)),
            )
            .await;
            for (tp, answer) in answers.into_iter().flatten() {
                match answer {
                    Err(e)
                        if e.is_retriable()
                            || e.code() == Some(ResponseError::UnknownTopicOrPartition) =>
                    {
                        self.invalidate_metadata();
                        retry.push((tp, e));
                    }
                    other => {
                        done.insert(tp, other);
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            if start.elapsed() >= self.config().request_timeout {
                for (tp, e) in retry {
                    done.insert(tp, Err(e));
                }
                break;
            }
            attempt += 1;
            let cfg = self.config();
            tokio::time::sleep(backoff(
                cfg.reconnect_backoff,
                std::time::Duration::from_secs(1),
                attempt,
            ))
            .await;
            pending = retry.into_iter().map(|(tp, _)| tp).collect();
        }
        Ok(partitions
            .iter()
            .map(|tp| {
                let answer = done
                    .get(tp)
                    .cloned()
                    .unwrap_or_else(|| Err(Error::NoLeader { tp: tp.clone() }));
                (tp.clone(), answer)
            })
            .collect())
    }

    async fn list_from(
        &self,
        leader: i32,
        tps: Vec<(TopicPartition, i32)>,
        spec: OffsetSpec,
    ) -> Vec<(TopicPartition, Answer)> {
        let fail_all = |e: Error| {
            tps.iter()
                .map(|(tp, _)| (tp.clone(), Err(e.clone())))
                .collect()
        };
        let conn = match self.broker_conn(leader).await {
            Ok(c) => c,
            Err(e) => return fail_all(e),
        };
        let mut topics: Vec<ListOffsetsTopic> = Vec::new();
        for (tp, epoch) in &tps {
            if topics.last().is_none_or(|t| t.name.0.as_str() != tp.topic) {
                topics.push(
                    ListOffsetsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(tp.topic.clone()))),
                );
            }
            if let Some(t) = topics.last_mut() {
                t.partitions.push(
                    ListOffsetsPartition::default()
                        .with_partition_index(tp.partition)
                        .with_current_leader_epoch(*epoch)
                        .with_timestamp(spec.wire()),
                );
            }
        }
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(0)
            .with_timeout_ms(
                self.config()
                    .request_timeout
                    .as_millis()
                    .min(i32::MAX as u128) as i32,
            )
            .with_topics(topics);
        let resp = match conn.send(&req).await {
            Ok(r) => r,
            Err(e) => return fail_all(e),
        };
        let mut out = Vec::with_capacity(tps.len());
        for t in resp.topics {
            for p in t.partitions {
                let tp = TopicPartition::new(t.name.0.to_string(), p.partition_index);
                let answer = match Error::from_code(
                    p.error_code,
                    || format!("list offsets of {tp} at broker {}", conn.broker()),
                    None,
                ) {
                    Some(e) => Err(e),
                    None => Ok(ListedOffset {
                        offset: p.offset,
                        timestamp: p.timestamp,
                    }),
                };
                out.push((tp, answer));
            }
        }
        out
    }
}

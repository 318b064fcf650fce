//! Fetching raw record batches: one Fetch request per partition leader, sent concurrently, bytes handed
//! back as the broker sent them.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition as WirePartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest as WireFetch, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::batch::Batches;
use crate::cluster::Client;
use crate::error::Error;
use crate::offsets::OffsetSpec;
use crate::types::TopicPartition;

/// Which records a fetch may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Up to the high watermark, everything: open and aborted transactions too, and the broker sends
    /// no aborted list, so aborted data cannot be told apart.
    #[default]
    ReadUncommitted,
    /// Up to the last stable offset (no open transactions). Aborted transactions' batches are still in
    /// the bytes, with the aborted list beside them: drop them with [`crate::AbortedFilter`].
    ReadCommitted,
}

/// One multi-partition fetch.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub partitions: Vec<FetchPartition>,
    /// How long a broker may hold the request waiting for `min_bytes`.
    pub max_wait: Duration,
    pub min_bytes: i32,
    /// Per-broker response limit (each broker gets the whole value; the first batch of the first
    /// partition is always returned whole, even above the limit).
    pub max_bytes: i32,
    pub isolation: Isolation,
}

impl FetchRequest {
    /// A fetch with the usual limits: 500 ms wait, 1 byte minimum, 50 MiB per broker.
    pub fn new(partitions: Vec<FetchPartition>) -> Self {
        Self {
            partitions,
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 50 * 1024 * 1024,
            isolation: Isolation::ReadUncommitted,
        }
    }
}

/// Where to read one partition from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartition {
    pub tp: TopicPartition,
    pub offset: i64,
    /// Limit for this partition; the response may end with one truncated batch, which
    /// [`Batches`] detects.
    pub max_bytes: i32,
}

/// The result for one partition of a fetch.
#[derive(Debug, Clone)]
pub struct PartitionFetch {
    pub tp: TopicPartition,
    pub result: Result<FetchedData, Error>,
}

/// Records of one partition, as raw v2 batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedData {
    /// Batches exactly as the broker sent them. The first may start below the requested offset (a batch
    /// is returned whole); the last may be truncated. Walk them with [`FetchedData::batches`].
    pub records: Bytes,
    /// -1 when the partition could not be read this time (leader moved; see [`crate::Client::fetch`]).
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    /// Transactions aborted within the returned range; only sent for [`Isolation::ReadCommitted`].
    pub aborted_transactions: Vec<AbortedTransaction>,
}

impl FetchedData {
    fn empty() -> Self {
        Self {
            records: Bytes::new(),
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            aborted_transactions: Vec::new(),
        }
    }

    /// The complete batches in `records`, zero-copy.
    pub fn batches(&self) -> Batches {
        Batches::new(self.records.clone())
    }
}

/// A transaction the broker says was aborted: data batches of `producer_id` from `first_offset` up to
/// its ABORT marker are not to be delivered under read_committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTransaction {
    pub producer_id: i64,
    pub first_offset: i64,
}

struct Planned {
    part: FetchPartition,
    leader_epoch: i32,
    topic_id: Uuid,
}

enum Outcome {
    Data(FetchedData),
    /// Retriable: the caller sees empty data; metadata gets refreshed.
    Retry,
    UnknownTopic,
    OutOfRange,
    Failed(Error),
}

impl Client {
    /// Fetches raw batches from many partitions at once: partitions are split by leader, every leader gets
    /// one request, all concurrently; results come back in the order of `req.partitions`.
    ///
    /// Per-partition results: transient trouble (leader moved, fenced or unknown leader epoch, leader not
    /// available, broker unreachable or disconnected) comes back as `Ok` with empty records and -1
    /// offsets, and the metadata is refreshed, so the caller simply fetches again. Errors the caller
    /// must act on: [`Error::OffsetOutOfRange`] (with the log start and end), [`Error::UnknownTopicOrPartition`]
    /// (after a metadata refresh confirmed it), authorization errors. The outer `Err` is only for a
    /// failure before any broker was asked (e.g. metadata unavailable).
    pub async fn fetch(&self, req: &FetchRequest) -> Result<Vec<PartitionFetch>, Error> {
        let mut md = self.routing_metadata().await?;
        let unknown: Vec<String> = req
            .partitions
            .iter()
            .filter(|p| md.partition(&p.tp.topic, p.tp.partition).is_none())
            .map(|p| p.tp.topic.clone())
            .collect();
        if !unknown.is_empty() {
            self.refresh_metadata(&unknown).await?;
            md = self.cached_metadata();
        }
        let mut outcomes: HashMap<TopicPartition, Outcome> = HashMap::new();
        let mut by_leader: BTreeMap<i32, Vec<Planned>> = BTreeMap::new();
        for p in &req.partitions {
            match md.partition(&p.tp.topic, p.tp.partition) {
                None => {
                    outcomes.insert(p.tp.clone(), Outcome::UnknownTopic);
                }
                Some(pm) if pm.leader < 0 => {
                    self.invalidate_metadata();
                    outcomes.insert(p.tp.clone(), Outcome::Retry);
                }
                Some(pm) => by_leader.entry(pm.leader).or_default().push(Planned {
                    part: p.clone(),
                    leader_epoch: pm.leader_epoch,
                    topic_id: md
                        .topics
                        .get(&p.tp.topic)
                        .map(|t| t.topic_id)
                        .unwrap_or_default(),
                }),
            }
        }
        let answers = join_all(
            by_leader
                .into_iter()
                .map(|(leader, parts)| self.fetch_from(leader, parts, req)),
        )
        .await;
        for answer in answers {
            outcomes.extend(answer);
        }
        let needs_refresh = outcomes
            .values()
            .any(|o| matches!(o, Outcome::Retry | Outcome::UnknownTopic));
        if needs_refresh {
            self.invalidate_metadata();
        }
        let out_of_range: Vec<TopicPartition> = outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::OutOfRange))
            .map(|(tp, _)| tp.clone())
            .collect();
        let bounds = if out_of_range.is_empty() {
            HashMap::new()
        } else {
            self.log_bounds(&out_of_range).await
        };
        let mut unknown_topics: Vec<String> = outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::UnknownTopic))
            .map(|(tp, _)| tp.topic.clone())
            .collect();
        unknown_topics.sort();
        unknown_topics.dedup();
        if !unknown_topics.is_empty() {
            // Reported only once fresh metadata agrees: the topic was deleted, or never existed.
            self.refresh_metadata(&unknown_topics).await?;
            md = self.cached_metadata();
        }
        let mut results = Vec::with_capacity(req.partitions.len());
        for p in &req.partitions {
            let result = match outcomes.remove(&p.tp) {
                Some(Outcome::Data(d)) => Ok(d),
                Some(Outcome::Retry) | None => Ok(FetchedData::empty()),
                Some(Outcome::UnknownTopic) => match md.partition(&p.tp.topic, p.tp.partition) {
                    Some(_) => Ok(FetchedData::empty()),
                    None => Err(Error::UnknownTopicOrPartition { tp: p.tp.clone() }),
                },
                Some(Outcome::OutOfRange) => {
                    let (log_start, log_end) = bounds.get(&p.tp).copied().unwrap_or((-1, -1));
                    Err(Error::OffsetOutOfRange {
                        tp: p.tp.clone(),
                        offset: p.offset,
                        log_start,
                        log_end,
                    })
                }
                Some(Outcome::Failed(e)) => Err(e),
            };
            results.push(PartitionFetch {
                tp: p.tp.clone(),
                result,
            });
        }
        Ok(results)
    }

    /// (log start, log end) of partitions, -1 where they could not be listed.
    async fn log_bounds(&self, tps: &[TopicPartition]) -> HashMap<TopicPartition, (i64, i64)> {
        let mut bounds: HashMap<TopicPartition, (i64, i64)> =
            tps.iter().map(|tp| (tp.clone(), (-1, -1))).collect();
        if let Ok(starts) = self.list_offsets(tps, OffsetSpec::Earliest).await {
            for (tp, r) in starts {
                if let (Ok(o), Some(b)) = (r, bounds.get_mut(&tp)) {
                    b.0 = o.offset;
                }
            }
        }
        if let Ok(ends) = self.list_offsets(tps, OffsetSpec::Latest).await {
            for (tp, r) in ends {
                if let (Ok(o), Some(b)) = (r, bounds.get_mut(&tp)) {
                    b.1 = o.offset;
                }
            }
        }
        bounds
    }

    async fn fetch_from(
        &self,
        leader: i32,
        parts: Vec<Planned>,
        req: &FetchRequest,
    ) -> Vec<(TopicPartition, Outcome)> {
        let all = |make: &dyn Fn() -> Outcome| -> Vec<(TopicPartition, Outcome)> {
            parts.iter().map(|p| (p.part.tp.clone(), make())).collect()
        };
        let on_error = |e: Error| {
            if e.is_retriable() {
                self.invalidate_metadata();
                all(&|| Outcome::Retry)
            } else {
                all(&|| Outcome::Failed(e.clone()))
            }
        };
        let conn = match self.broker_conn(leader).await {
            Ok(c) => c,
            Err(e) => return on_error(e),
        };
        let version = match conn.version::<WireFetch>() {
            Ok(v) => v,
            Err(e) => return on_error(e),
        };
        let by_id = version >= 13;
        let mut topics: Vec<FetchTopic> = Vec::new();
        for p in &parts {
            let same = topics.last().is_some_and(|t| {
                if by_id {
                    t.topic_id == p.topic_id
                } else {
                    t.topic.0.as_str() == p.part.tp.topic
                }
            });
            if !same {
                let mut t = FetchTopic::default();
                if by_id {
                    t.topic_id = p.topic_id;
                } else {
                    t.topic = TopicName(StrBytes::from_string(p.part.tp.topic.clone()));
                }
                topics.push(t);
            }
            if let Some(t) = topics.last_mut() {
                t.partitions.push(
                    WirePartition::default()
                        .with_partition(p.part.tp.partition)
                        .with_current_leader_epoch(p.leader_epoch)
                        .with_fetch_offset(p.part.offset)
                        .with_partition_max_bytes(p.part.max_bytes),
                );
            }
        }
        let wire = WireFetch::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(req.max_wait.as_millis().min(i32::MAX as u128) as i32)
            .with_min_bytes(req.min_bytes)
            .with_max_bytes(req.max_bytes)
            .with_isolation_level(match req.isolation {
                Isolation::ReadUncommitted => 0,
                Isolation::ReadCommitted => 1,
            })
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(topics);
        conn.wait_throttle().await;
        let timeout = self.config().request_timeout + req.max_wait;
        let resp = match conn.enqueue(&wire, version, timeout) {
            Ok(f) => f.await,
            Err(e) => Err(e),
        };
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return on_error(e),
        };
        if let Some(e) = Error::from_code(
            resp.error_code,
            || format!("fetch from broker {}", conn.broker()),
            None,
        ) {
            return on_error(e);
        }
        let ids: HashMap<Uuid, &str> = parts
            .iter()
            .map(|p| (p.topic_id, p.part.tp.topic.as_str()))
            .collect();
        let mut out = Vec::with_capacity(parts.len());
        for t in resp.responses {
            let topic = if by_id {
                match ids.get(&t.topic_id) {
                    Some(n) => n.to_string(),
                    None => continue,
                }
            } else {
                t.topic.0.to_string()
            };
            for p in t.partitions {
                let tp = TopicPartition::new(topic.clone(), p.partition_index);
                let outcome = match ResponseError::try_from_code(p.error_code) {
                    None => Outcome::Data(FetchedData {
                        records: p.records.unwrap_or_default(),
                        high_watermark: p.high_watermark,
                        last_stable_offset: p.last_stable_offset,
                        log_start_offset: p.log_start_offset,
                        aborted_transactions: p
                            .aborted_transactions
                            .unwrap_or_default()
                            .into_iter()
                            .map(|a| AbortedTransaction {
                                producer_id: a.producer_id.0,
                                first_offset: a.first_offset,
                            })
                            .collect(),
                    }),
                    Some(ResponseError::OffsetOutOfRange) => Outcome::OutOfRange,
                    Some(
                        ResponseError::UnknownTopicOrPartition | ResponseError::UnknownTopicId,
                    ) => Outcome::UnknownTopic,
                    Some(code) if code.is_retriable() => Outcome::Retry,
                    Some(code) => Outcome::Failed(Error::Kafka {
                        code,
                        context: format!("fetch {tp} from broker {}", conn.broker()),
                        message: None,
                    }),
                };
                out.push((tp, outcome));
            }
        }
        out
    }

    /// The cached metadata, refreshed first if an earlier error marked it stale.
    pub(crate) async fn routing_metadata(&self) -> Result<std::sync::Arc<crate::Metadata>, Error> {
        self.refresh_if_stale().await?;
        Ok(self.cached_metadata())
    }
}

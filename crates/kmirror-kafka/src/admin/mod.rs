//! The admin surface kmirror needs on both clusters: topics, configs, ACLs, consumer groups and their
//! offsets, record deletion.
//!
//! Each call is a pure request builder and a pure response interpreter (unit-tested against the
//! `kafka-protocol` types, every error path included) joined by a thin async method on [`Admin`] that
//! routes the request: to the controller (topic and ACL changes; KRaft brokers forward them), any broker,
//! one broker (its own configs, the groups it coordinates), a partition leader (DeleteRecords) or a
//! group's coordinator (found with FindCoordinator).
//!
//! Results are per resource, in request order: `Vec<(name, Result<_, Error>)>`. The outer `Result`
//! fails only when the whole call failed (no broker reachable, request-level error). Broker error codes
//! are [`Error::Kafka`] naming the resource, and for authorization failures the principal we act as;
//! test for a particular code with [`Error::code`] (e.g. `ResponseError::TopicAlreadyExists`).
//! Retriable failures (coordinator moved or loading, leader moved, connection lost) are retried until
//! the client's `request_timeout`. A create whose response was lost may, on retry, report
//! `TopicAlreadyExists` / `InvalidPartitions` for what the first try did.

mod acls;
mod configs;
mod failure;
mod groups;
mod offsets;
mod records;
mod topics;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use futures_util::future::join_all;

pub use acls::{AclBinding, AclFilter, AclOperation, AclPermission, PatternType, ResourceType};
pub use configs::{
    AlterConfigOp, ConfigEntry, ConfigResource, ConfigResults, ConfigSource, ConfigSynonym,
};
pub use groups::{GroupDescription, GroupMember, GroupState, ListedGroup};
pub use offsets::{GroupOffset, is_group_active};
pub use records::DELETE_TO_HIGH_WATERMARK;
pub use topics::{CreatedTopic, NewPartitions, NewTopic, TopicResults};

use crate::cluster::{Client, Route};
use crate::conn::KafkaRequest;
use crate::error::Error;
use crate::offsets::{ListedOffset, OffsetSpec};
use crate::types::TopicPartition;

/// Groups described at once by [`Admin::describe_groups`].
const DESCRIBE_CONCURRENCY: usize = 16;

/// One result per requested item, in request order.
pub type Results<K, T> = Vec<(K, Result<T, Error>)>;

/// Admin operations on one cluster. Cheap to clone (shares the [`Client`]'s connections).
#[derive(Debug, Clone)]
pub struct Admin {
    client: Client,
    /// How brokers see us, for authorization error messages.
    principal: Arc<str>,
}

impl Admin {
    pub fn new(client: Client) -> Self {
        let principal = failure::principal_of(client.config()).into();
        Self { client, principal }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends the request built for the negotiated version to `route` and interprets the answer; retries
    /// retriable errors (from the transport or from `interpret`) after applying their remedy.
    async fn call<R, T>(
        &self,
        route: Route,
        build: impl Fn(i16) -> R,
        interpret: impl Fn(i16, R::Response) -> Result<T, Error>,
    ) -> Result<T, Error>
    where
        R: KafkaRequest,
    {
        self.client
            .with_retries(R::NAME, || async {
                let result = self.call_once(&route, &build, &interpret).await;
                if let Err(e) = &result {
                    self.client.note_error(&route, e);
                }
                result
            })
            .await
            .map_err(|e| failure::with_principal(e, &self.principal))
    }

    async fn call_once<R, T>(
        &self,
        route: &Route,
        build: &impl Fn(i16) -> R,
        interpret: &impl Fn(i16, R::Response) -> Result<T, Error>,
    ) -> Result<T, Error>
    where
        R: KafkaRequest,
    {
        let conn = self.client.conn_for(route).await?;
        let version = conn.version::<R>()?;
        let resp = conn.send(&build(version)).await?;
        interpret(version, resp)
    }

    fn timeout(&self) -> std::time::Duration {
        self.client.config().request_timeout
    }

    /// How long the broker may work on a request (CreateTopics, DeleteRecords...) before answering
    /// REQUEST_TIMED_OUT: shorter than our own request timeout, so its answer arrives before we give up.
    fn broker_timeout(&self) -> std::time::Duration {
        let t = self.timeout();
        t - t / 4
    }

    /// Creates topics (on the controller). Per topic: what was created, with the effective configs and
    /// their sources, or why not (`TopicAlreadyExists`, `InvalidReplicationFactor`, `PolicyViolation`...).
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
    ) -> Result<TopicResults<CreatedTopic>, Error> {
        let timeout = self.broker_timeout();
        self.call(
            Route::Controller,
            |_| topics::build_create_topics(topics, timeout, false),
            |_, resp| {
                Ok(topics::interpret_create_topics(
                    topics,
                    resp,
                    &self.principal,
                ))
            },
        )
        .await
    }

    /// Grows topics to a new total partition count.
    pub async fn create_partitions(
        &self,
        grow: &[NewPartitions],
    ) -> Result<TopicResults<()>, Error> {
        let timeout = self.broker_timeout();
        self.call(
            Route::Controller,
            |_| topics::build_create_partitions(grow, timeout, false),
            |_, resp| {
                Ok(topics::interpret_create_partitions(
                    grow,
                    resp,
                    &self.principal,
                ))
            },
        )
        .await
    }

    /// Deletes topics; a missing topic fails with `UnknownTopicOrPartition`.
    pub async fn delete_topics(&self, names: &[String]) -> Result<TopicResults<()>, Error> {
        let timeout = self.broker_timeout();
        self.call(
            Route::Controller,
            |v| topics::build_delete_topics(names, timeout, v),
            |_, resp| {
                Ok(topics::interpret_delete_topics(
                    names,
                    resp,
                    &self.principal,
                ))
            },
        )
        .await
    }

    /// Configs with their sources, synonyms, read-only and sensitive flags. Broker resources are asked
    /// of that broker, the rest of any broker.
    pub async fn describe_configs(
        &self,
        resources: &[ConfigResource],
    ) -> Result<ConfigResults, Error> {
        let mut by_route: BTreeMap<Option<i32>, Vec<ConfigResource>> = BTreeMap::new();
        for r in resources {
            by_route.entry(r.broker()).or_default().push(r.clone());
        }
        let mut answers: BTreeMap<ConfigResource, Result<_, Error>> = BTreeMap::new();
        for (broker, group) in by_route {
            let route = broker.map_or(Route::Any, Route::Broker);
            let results = self
                .call(
                    route,
                    |_| configs::build_describe_configs(&group),
                    |_, resp| {
                        Ok(configs::interpret_describe_configs(
                            &group,
                            resp,
                            &self.principal,
                        ))
                    },
                )
                .await?;
            answers.extend(results);
        }
        Ok(in_request_order(resources, answers, "DescribeConfigs"))
    }

    /// Applies SET / DELETE changes. Topic and cluster-default changes go to the controller; changes to
    /// one broker's configs to that broker.
    pub async fn incremental_alter_configs(
        &self,
        changes: &[(ConfigResource, Vec<AlterConfigOp>)],
    ) -> Result<Results<ConfigResource, ()>, Error> {
        let mut by_route: BTreeMap<Option<i32>, Vec<(ConfigResource, Vec<AlterConfigOp>)>> =
            BTreeMap::new();
        for c in changes {
            by_route.entry(c.0.broker()).or_default().push(c.clone());
        }
        let mut answers = BTreeMap::new();
        for (broker, group) in by_route {
            let route = broker.map_or(Route::Controller, Route::Broker);
            let results = self
                .call(
                    route,
                    |_| configs::build_incremental_alter_configs(&group, false),
                    |_, resp| {
                        Ok(configs::interpret_incremental_alter_configs(
                            &group,
                            resp,
                            &self.principal,
                        ))
                    },
                )
                .await?;
            answers.extend(results);
        }
        let order: Vec<ConfigResource> = changes.iter().map(|c| c.0.clone()).collect();
        Ok(in_request_order(&order, answers, "IncrementalAlterConfigs"))
    }

    /// ACL bindings matching `filter`. Fails with `SecurityDisabled` when the cluster has no authorizer.
    pub async fn describe_acls(&self, filter: &AclFilter) -> Result<Vec<AclBinding>, Error> {
        self.call(
            Route::Any,
            |_| acls::build_describe_acls(filter),
            |_, resp| acls::interpret_describe_acls(resp, &self.principal),
        )
        .await
    }

    /// Creates ACL bindings (existing ones are accepted as they are).
    pub async fn create_acls(
        &self,
        bindings: &[AclBinding],
    ) -> Result<Results<AclBinding, ()>, Error> {
        if bindings.is_empty() {
            return Ok(Vec::new());
        }
        self.call(
            Route::Controller,
            |_| acls::build_create_acls(bindings),
            |_, resp| acls::interpret_create_acls(bindings, resp, &self.principal),
        )
        .await
    }

    /// Every group in the cluster, asking each broker for the groups it coordinates. Fails if any broker
    /// cannot answer: a partial list would look like missing groups.
    pub async fn list_groups(&self) -> Result<Vec<ListedGroup>, Error> {
        let md = self.client.metadata(Some(&[])).await?;
        let brokers: Vec<i32> = md.brokers.keys().copied().collect();
        let per_broker = join_all(brokers.into_iter().map(|b| {
            self.call(
                Route::Broker(b),
                |_| groups::build_list_groups(),
                move |v, resp| groups::interpret_list_groups(b, v, resp, &self.principal),
            )
        }))
        .await;
        let mut out = Vec::new();
        for r in per_broker {
            out.extend(r?);
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(out)
    }

    /// State, protocol and members of each group, asked of each group's coordinator concurrently. A
    /// group that does not exist is [`GroupState::Dead`].
    pub async fn describe_groups(&self, ids: &[String]) -> Results<String, GroupDescription> {
        // Bounded concurrency: MM2-style offset sync may describe thousands of groups.
        let results: Vec<_> =
            futures_util::stream::iter(ids.iter().map(|g| self.describe_group(g)))
                .buffered(DESCRIBE_CONCURRENCY)
                .collect()
                .await;
        ids.iter().cloned().zip(results).collect()
    }

    /// [`Admin::describe_groups`] for one group.
    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription, Error> {
        let ids = [group.to_string()];
        self.call(
            Route::GroupCoordinator(group.to_string()),
            |_| groups::build_describe_groups(&ids),
            |_, resp| {
                let mut out = groups::interpret_describe_groups(&ids, resp, &self.principal);
                match out.pop() {
                    Some((_, r)) => r,
                    None => Err(failure::missing(
                        "DescribeGroups",
                        format!("group '{group}'"),
                    )),
                }
            },
        )
        .await
    }

    /// Committed offsets of `group`: all its partitions (`None`) or the ones given. Partitions without
    /// a commit are absent.
    pub async fn offset_fetch(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<BTreeMap<TopicPartition, GroupOffset>, Error> {
        self.call(
            Route::GroupCoordinator(group.to_string()),
            |v| offsets::build_offset_fetch(group, partitions, v),
            |v, resp| offsets::interpret_offset_fetch(group, v, resp, &self.principal),
        )
        .await
    }

    /// Commits offsets for `group` from outside it (generation -1, no member id), as MM2's offset sync
    /// does. Kafka accepts this only while the group has no members: otherwise the outer `Err` says the
    /// group is active ([`is_group_active`] is true for it) and nothing was written.
    pub async fn offset_commit(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, GroupOffset>,
    ) -> Result<Results<TopicPartition, ()>, Error> {
        if offsets.is_empty() {
            return Ok(Vec::new());
        }
        // The group-active refusals are not retriable codes, so they come back at once.
        self.call(
            Route::GroupCoordinator(group.to_string()),
            |_| offsets::build_offset_commit(group, offsets),
            |_, resp| offsets::interpret_offset_commit(group, resp, &self.principal),
        )
        .await
    }

    /// [`Client::list_offsets`], here so offset sync can use one handle for everything it asks.
    pub async fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<Results<TopicPartition, ListedOffset>, Error> {
        self.client.list_offsets(partitions, spec).await
    }

    /// Moves log starts forward: deletes the records before each given offset
    /// ([`DELETE_TO_HIGH_WATERMARK`] for everything). Per partition: the new log start offset.
    pub async fn delete_records(
        &self,
        before: &[(TopicPartition, i64)],
    ) -> Result<Results<TopicPartition, i64>, Error> {
        let deadline = Instant::now() + self.timeout();
        let mut done: BTreeMap<TopicPartition, Result<i64, Error>> = BTreeMap::new();
        let mut pending: Vec<(TopicPartition, i64)> = before.to_vec();
        let mut attempt = 0;
        while !pending.is_empty() {
            let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
            for (tp, off) in pending.drain(..) {
                match self.client.leader_of(&tp).await {
                    Ok((leader, _)) => by_leader.entry(leader).or_default().push((tp, off)),
                    Err(e) if e.is_retriable() && Instant::now() < deadline => {
                        by_leader.entry(-1).or_default().push((tp, off));
                    }
                    Err(e) => {
                        done.insert(tp, Err(e));
                    }
                }
            }
            let timeout = self.broker_timeout();
            let sends = by_leader
                .iter()
                .filter(|(l, _)| **l >= 0)
                .map(|(leader, parts)| {
                    let route = Route::Broker(*leader);
                    async move {
                        let r = self
                            .call_once(
                                &route,
                                &|_| records::build_delete_records(parts, timeout),
                                &|_, resp| {
                                    Ok(records::interpret_delete_records(
                                        parts,
                                        resp,
                                        &self.principal,
                                    ))
                                },
                            )
                            .await;
                        if let Err(e) = &r {
                            self.client.note_error(&route, e);
                        }
                        (parts, r)
                    }
                });
            for (parts, r) in join_all(sends).await {
                match r {
                    Ok(results) => {
                        for (tp, res) in results {
                            match res {
                                Err(e) if e.is_retriable() && Instant::now() < deadline => {
                                    self.client.note_error(&Route::Leader(tp.clone()), &e);
                                    let off = parts.iter().find(|p| p.0 == tp).map_or(-1, |p| p.1);
                                    pending.push((tp, off));
                                }
                                other => {
                                    done.insert(tp, other);
                                }
                            }
                        }
                    }
                    Err(e) if e.is_retriable() && Instant::now() < deadline => {
                        pending.extend(parts.iter().cloned())
                    }
                    Err(e) => {
                        for (tp, _) in parts {
                            done.insert(tp.clone(), Err(e.clone()));
                        }
                    }
                }
            }
            pending.extend(by_leader.remove(&-1).unwrap_or_default());
            if !pending.is_empty() {
                attempt += 1;
                let cfg = self.client.config();
                tokio::time::sleep(crate::cluster::backoff(
                    cfg.reconnect_backoff,
                    std::time::Duration::from_secs(1),
                    attempt,
                ))
                .await;
            }
        }
        let order: Vec<TopicPartition> = before.iter().map(|b| b.0.clone()).collect();
        Ok(in_request_order(&order, done, "DeleteRecords"))
    }
}

/// Reorders `answers` as `order`; anything unanswered is a protocol error naming it.
fn in_request_order<K: Ord + Clone + std::fmt::Debug, V>(
    order: &[K],
    mut answers: BTreeMap<K, Result<V, Error>>,
    api: &'static str,
) -> Results<K, V> {
    order
        .iter()
        .map(|k| {
            let r = answers
                .remove(k)
                .unwrap_or_else(|| Err(failure::missing(api, format!("{k:?}"))));
            (k.clone(), r)
        })
        .collect()
}

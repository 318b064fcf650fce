//! [`TopicSync`]: one flow's view of which source topics it mirrors, and the admin work that keeps each
//! remote topic right — created with the source's partitions, replication factor and configs, grown when the
//! source grows, configs and topic ACLs kept in line.
//!
//! Cheap enough for a 5 s refresh: a steady-state `refresh` is one Metadata request to the source; the target
//! is asked only about topics that are new, resized or not yet in line, and DescribeConfigs runs only for new
//! topics and on the config-sync interval.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kmirror_kafka::admin::{
    AclBinding, AclFilter, Admin, AlterConfigOp, ConfigEntry, ConfigResource, ConfigSource,
    CreatedTopic, NewPartitions, NewTopic, PatternType,
};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::acls::target_acls;
use super::configs::{
    MAX_MESSAGE_BYTES, MIN_INSYNC_REPLICAS, desired_target_configs, effective_i64, plan_config_sync,
};
use super::error::{DiscoveryError, ProblemKind, TopicProblem, remedy};
use super::internal::NEW_TOPIC_WAIT;
use super::plan::{
    PartitionAction, clamp_min_insync, partition_action, plan_replication_factor,
    replication_factor_of,
};
use crate::config::FlowConfig;
use crate::policy::{Decision, SkipReason, should_replicate_topic};
use crate::telemetry::{Metrics, StatusBoard};

/// Topics per DescribeConfigs request, so a cluster with thousands of topics is asked in pieces.
const DESCRIBE_CHUNK: usize = 100;
const SOURCE_SUBJECT: &str = "source cluster";
const TARGET_SUBJECT: &str = "target cluster";
/// Topics per CreateTopics request.
const CREATE_TOPICS_CHUNK: usize = 100;
const ACL_SUBJECT: &str = "topic ACLs";

/// A source topic the flow mirrors and whose remote topic exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredTopic {
    /// The name on the source.
    pub source_topic: String,
    /// The remote name on the target.
    pub target_topic: String,
    /// Partitions `0..partitions` exist on both sides and can be mirrored (the source's count unless growing
    /// the target failed; see the problems).
    pub partitions: i32,
    /// The target topic's effective `max.message.bytes`, when the target told us.
    pub target_max_message_bytes: Option<i64>,
    /// The source topic's replication factor.
    pub source_replication_factor: i32,
    /// The remote topic's replication factor as last seen (at creation, first sight or config sync); 0 when
    /// unknown. kmirror does not reassign partitions, so a difference stays until an operator acts.
    pub target_replication_factor: i32,
}

/// A source topic the flow does not mirror, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedTopic {
    /// The name on the source.
    pub topic: String,
    /// Why it is not mirrored.
    pub reason: SkipReason,
}

/// A mirrored topic that disappeared from the source. Its remote topic is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedTopic {
    /// The name it had on the source.
    pub source_topic: String,
    /// The remote topic left on the target.
    pub target_topic: String,
}

/// A remote topic that got more partitions this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrownTopic {
    /// The remote name.
    pub target_topic: String,
    /// Partitions before.
    pub from: i32,
    /// Partitions now.
    pub to: i32,
}

/// The outcome of one [`TopicSync::refresh`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicSet {
    /// Every topic ready to mirror, sorted by source name.
    pub mirrored: Vec<MirroredTopic>,
    /// Source topics the flow leaves alone.
    pub skipped: Vec<SkippedTopic>,
    /// Remote topics created this round.
    pub created: Vec<String>,
    /// Remote topics grown this round.
    pub grown: Vec<GrownTopic>,
    /// Mirrored topics gone from the source since the last round.
    pub removed: Vec<RemovedTopic>,
    /// Topics that could not be brought in line this round (retried on the next).
    pub problems: Vec<TopicProblem>,
}

/// The outcome of one [`TopicSync::sync_configs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSyncReport {
    /// Remote topics changed, with the operations applied.
    pub altered: Vec<(String, Vec<AlterConfigOp>)>,
    /// Topics whose configs could not be read or changed.
    pub problems: Vec<TopicProblem>,
}

/// The outcome of one [`TopicSync::sync_acls`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclSyncReport {
    /// Why ACL sync did not run (switched off, or a cluster has no authorizer).
    pub disabled: Option<String>,
    /// Bindings created on the target this round.
    pub created: Vec<AclBinding>,
    /// Bindings the target refused, one message each.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone)]
struct Known {
    target: String,
    source_partitions: i32,
    target_partitions: i32,
    source_rf: i32,
    /// 0 when unknown.
    target_rf: i32,
    max_message_bytes: Option<i64>,
}

#[derive(Debug, Clone)]
struct Wanted {
    target: String,
    partitions: i32,
    rf: i32,
}

/// Keeps one flow's remote topics in line with the source. Call [`refresh`](Self::refresh) every
/// `refresh.topics.interval`, [`sync_configs`](Self::sync_configs) every `sync.topic.configs.interval` and
/// [`sync_acls`](Self::sync_acls) every `sync.topic.acls.interval`, from one task (or use
/// [`run`](Self::run)). Problems also go to the status board and the error metric, and are cleared there once
/// the topic is in line.
#[derive(Debug)]
pub struct TopicSync {
    flow: FlowConfig,
    name: String,
    source: Admin,
    target: Admin,
    status: Arc<StatusBoard>,
    metrics: Arc<Metrics>,
    known: BTreeMap<String, Known>,
    warned: HashSet<String>,
    /// Open problems: subject → (source topic, message).
    open: HashMap<String, (Option<String>, String)>,
    acl_disabled: Option<String>,
    acls_created: BTreeSet<AclBinding>,
}

impl TopicSync {
    /// A sync for `flow`, talking to the source and target clusters through their admin handles.
    pub fn new(
        flow: FlowConfig,
        source: Admin,
        target: Admin,
        status: Arc<StatusBoard>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let name = flow.name();
        status.add_flow(&name);
        Self {
            flow,
            name,
            source,
            target,
            status,
            metrics,
            known: BTreeMap::new(),
            warned: HashSet::new(),
            open: HashMap::new(),
            acl_disabled: None,
            acls_created: BTreeSet::new(),
        }
    }

    /// The flow this sync serves.
    pub fn flow(&self) -> &FlowConfig {
        &self.flow
    }

    /// Forgets what is known about `source_topic`, so the next refresh checks its remote topic again (say
    /// after a produce found it missing).
    pub fn invalidate(&mut self, source_topic: &str) {
        self.known.remove(source_topic);
    }

    /// Lists the source's topics, decides each, and makes sure every selected topic has its remote topic with
    /// at least the source's partitions. Fails only when a cluster cannot be asked at all; per-topic refusals
    /// are in [`TopicSet::problems`] and the other topics go on.
    pub async fn refresh(&mut self) -> Result<TopicSet, DiscoveryError> {
        let metadata = match self.source.client().metadata(None).await {
            Ok(m) => {
                self.resolve(SOURCE_SUBJECT);
                m
            }
            Err(source) => {
                let e = DiscoveryError::SourceMetadata {
                    flow: self.name.clone(),
                    cluster: self.flow.source.clone(),
                    source,
                };
                self.flow_problem(SOURCE_SUBJECT, "source_metadata", e.to_string());
                return Err(e);
            }
        };
        let mut set = TopicSet::default();
        let mut wanted = BTreeMap::new();
        for (topic, t) in &metadata.topics {
            match should_replicate_topic(&self.flow, topic) {
                Decision::Replicate { target_name } => {
                    wanted.insert(
                        topic.clone(),
                        Wanted {
                            target: target_name,
                            partitions: i32::try_from(t.partitions.len()).unwrap_or(i32::MAX),
                            rf: replication_factor_of(t.partitions.values().map(|p| &p.replicas)),
                        },
                    );
                }
                Decision::Skip { reason } => set.skipped.push(SkippedTopic {
                    topic: topic.clone(),
                    reason,
                }),
            }
        }

        let gone: Vec<String> = self
            .known
            .keys()
            .filter(|t| !wanted.contains_key(*t))
            .cloned()
            .collect();
        for topic in gone {
            if let Some(k) = self.known.remove(&topic) {
                info!(flow = %self.name, source_topic = %topic, target_topic = %k.target,
                      "source topic is gone; its remote topic is kept");
                set.removed.push(RemovedTopic {
                    source_topic: topic,
                    target_topic: k.target,
                });
            }
        }
        let stale: Vec<String> = self
            .open
            .iter()
            .filter(|(_, (t, _))| t.as_ref().is_some_and(|t| !wanted.contains_key(t)))
            .map(|(s, _)| s.clone())
            .collect();
        for subject in stale {
            self.resolve(&subject);
        }

        self.note_source_rf_changes(&wanted);

        let work: Vec<String> = wanted
            .iter()
            .filter(|(t, w)| {
                self.known.get(*t).is_none_or(|k| {
                    k.source_partitions != w.partitions || k.target_partitions < w.partitions
                })
            })
            .map(|(t, _)| t.clone())
            .collect();
        if !work.is_empty() {
            self.reconcile(&wanted, &work, &mut set).await?;
        }

        let problem_topics: HashSet<String> = set
            .problems
            .iter()
            .map(|p| p.source_topic.clone())
            .collect();
        for (topic, w) in &wanted {
            let Some(k) = self.known.get(topic) else {
                continue;
            };
            set.mirrored.push(MirroredTopic {
                source_topic: topic.clone(),
                target_topic: k.target.clone(),
                partitions: w.partitions.min(k.target_partitions),
                target_max_message_bytes: k.max_message_bytes,
                source_replication_factor: k.source_rf,
                target_replication_factor: k.target_rf,
            });
            if k.target_partitions >= w.partitions && !problem_topics.contains(topic) {
                self.resolve(&topic_subject(topic));
            }
        }
        Ok(set)
    }

    /// Brings every mirrored topic's configs in line with its source: SET for differences, DELETE for
    /// target overrides whose source override was removed (`use.defaults.from = target`); excluded
    /// properties are never touched. Also re-reads the remote topics' metadata (replication factor; a remote
    /// topic deleted under kmirror is created again by the next refresh). Does nothing when
    /// `sync.topic.configs.enabled` is false.
    pub async fn sync_configs(&mut self) -> Result<ConfigSyncReport, DiscoveryError> {
        if !self.flow.sync_topic_configs.enabled {
            return Ok(ConfigSyncReport::default());
        }
        self.recheck_targets().await?;
        let topics: Vec<String> = self.known.keys().cloned().collect();
        self.sync_configs_for(&topics).await
    }

    /// One Metadata request for every remote topic: refreshes what is known of their shape and forgets the
    /// ones that are gone, so `refresh` recreates them.
    async fn recheck_targets(&mut self) -> Result<(), DiscoveryError> {
        if self.known.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = self.known.values().map(|k| k.target.clone()).collect();
        let metadata = self
            .target
            .client()
            .metadata(Some(&names))
            .await
            .map_err(|source| DiscoveryError::TargetMetadata {
                flow: self.name.clone(),
                cluster: self.flow.target.clone(),
                source,
            })?;
        let mut gone = Vec::new();
        for (topic, k) in &mut self.known {
            match metadata.topics.get(&k.target) {
                Some(t) => {
                    k.target_partitions = i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
                    k.target_rf = replication_factor_of(t.partitions.values().map(|p| &p.replicas));
                }
                None => gone.push((topic.clone(), k.target.clone())),
            }
        }
        for (topic, target) in gone {
            warn!(flow = %self.name, source_topic = %topic, target_topic = %target,
                  "remote topic is gone from the target; the next refresh creates it again");
            self.known.remove(&topic);
        }
        Ok(())
    }

    /// Copies the source's literal topic ACLs of mirrored topics to the target, as MM2 does (ALLOW WRITE
    /// dropped, ALLOW ALL → ALLOW READ, DENY kept, renamed; never deleted). Stops for good, after saying so
    /// once, when a cluster has no authorizer.
    pub async fn sync_acls(&mut self) -> Result<AclSyncReport, DiscoveryError> {
        if !self.flow.sync_topic_acls.enabled {
            return Ok(AclSyncReport {
                disabled: Some("sync.topic.acls.enabled is false".to_string()),
                ..AclSyncReport::default()
            });
        }
        if let Some(reason) = &self.acl_disabled {
            debug!(flow = %self.name, "skipping topic ACL sync: {reason}");
            return Ok(AclSyncReport {
                disabled: Some(reason.clone()),
                ..AclSyncReport::default()
            });
        }
        let filter = AclFilter {
            pattern_type: PatternType::Literal,
            ..AclFilter::topics()
        };
        let source_acls = match self.source.describe_acls(&filter).await {
            Ok(acls) => acls,
            Err(e) if e.code() == Some(ResponseError::SecurityDisabled) => {
                let reason = format!(
                    "source cluster '{}' has no ACL authorizer, so there are no topic ACLs to copy; set \
                     sync.topic.acls.enabled = false for {} to silence this",
                    self.flow.source, self.name
                );
                info!(flow = %self.name, "{reason}");
                self.acl_disabled = Some(reason.clone());
                return Ok(AclSyncReport {
                    disabled: Some(reason),
                    ..AclSyncReport::default()
                });
            }
            Err(source) => {
                let e = self.admin_error(&self.flow.source, "describe topic ACLs", source);
                self.flow_problem(ACL_SUBJECT, "describe_acls", e.to_string());
                return Err(e);
            }
        };
        let wanted: Vec<AclBinding> = target_acls(&self.flow, &source_acls)
            .into_iter()
            .filter(|b| !self.acls_created.contains(b))
            .collect();
        let mut report = AclSyncReport::default();
        if wanted.is_empty() {
            self.resolve(ACL_SUBJECT);
            return Ok(report);
        }
        let results = match self.target.create_acls(&wanted).await {
            Ok(r) => r,
            Err(source) => {
                let e = self.admin_error(&self.flow.target, "create topic ACLs", source);
                self.flow_problem(ACL_SUBJECT, "create_acl", e.to_string());
                return Err(e);
            }
        };
        for (binding, result) in results {
            match result {
                Ok(()) => {
                    info!(flow = %self.name, acl = %binding, "copied topic ACL to the target");
                    self.acls_created.insert(binding.clone());
                    report.created.push(binding);
                }
                Err(e) if e.code() == Some(ResponseError::SecurityDisabled) => {
                    let reason = format!(
                        "target cluster '{}' has no ACL authorizer, so topic ACLs cannot be copied; set \
                         sync.topic.acls.enabled = false for {}",
                        self.flow.target, self.name
                    );
                    warn!(flow = %self.name, "{reason}");
                    self.acl_disabled = Some(reason.clone());
                    report.disabled = Some(reason);
                    return Ok(report);
                }
                Err(e) => report.problems.push(format!(
                    "cannot copy ACL to target cluster '{}': {e}",
                    self.flow.target
                )),
            }
        }
        if report.problems.is_empty() {
            self.resolve(ACL_SUBJECT);
        } else {
            let message = report.problems.join("; ");
            self.metrics.error(
                &self.flow.source,
                &self.flow.target,
                ProblemKind::CreateAcl.as_str(),
            );
            self.flow_problem(ACL_SUBJECT, "create_acl", message);
        }
        Ok(report)
    }

    /// Runs the jobs on the flow's intervals until `cancel` fires: `refresh` at once and then every
    /// `refresh.topics.interval` (only once when `refresh.topics.enabled` is false), publishing each result to
    /// `publish`; `sync_acls` at once and every `sync.topic.acls.interval`; `sync_configs` every
    /// `sync.topic.configs.interval` (new topics get their configs when created). Failures are logged and
    /// shown on the status board; the next tick retries.
    pub async fn run(mut self, cancel: CancellationToken, publish: watch::Sender<Arc<TopicSet>>) {
        let every = |period: Duration, first: Instant| {
            let mut i = interval_at(first, period.max(Duration::from_millis(100)));
            i.set_missed_tick_behavior(MissedTickBehavior::Delay);
            i
        };
        let now = Instant::now();
        let mut refresh = every(self.flow.refresh_topics.interval, now);
        let mut configs = every(
            self.flow.sync_topic_configs.interval,
            now + self.flow.sync_topic_configs.interval,
        );
        let mut acls = every(self.flow.sync_topic_acls.interval, now);
        let mut refreshed_once = false;
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = refresh.tick(), if self.flow.refresh_topics.enabled || !refreshed_once => {
                    match self.refresh().await {
                        Ok(set) => {
                            refreshed_once = true;
                            publish.send_replace(Arc::new(set));
                        }
                        Err(e) => debug!(flow = %self.name, "refresh: {e}"),
                    }
                }
                _ = configs.tick(), if self.flow.sync_topic_configs.enabled => {
                    if let Err(e) = self.sync_configs().await {
                        warn!(flow = %self.name, "config sync: {e}");
                    }
                }
                _ = acls.tick(), if self.flow.sync_topic_acls.enabled && self.acl_disabled.is_none() => {
                    if let Err(e) = self.sync_acls().await {
                        warn!(flow = %self.name, "ACL sync: {e}");
                    }
                }
            }
        }
    }

    /// Target work for topics that are new, resized or not yet in line.
    async fn reconcile(
        &mut self,
        wanted: &BTreeMap<String, Wanted>,
        work: &[String],
        set: &mut TopicSet,
    ) -> Result<(), DiscoveryError> {
        let names: Vec<String> = work.iter().map(|t| wanted[t].target.clone()).collect();
        let metadata = match self.target.client().metadata(Some(&names)).await {
            Ok(m) => {
                self.resolve(TARGET_SUBJECT);
                m
            }
            Err(source) => {
                let e = DiscoveryError::TargetMetadata {
                    flow: self.name.clone(),
                    cluster: self.flow.target.clone(),
                    source,
                };
                self.flow_problem(TARGET_SUBJECT, "target_metadata", e.to_string());
                return Err(e);
            }
        };
        let brokers = metadata.brokers.len();

        let mut to_create = Vec::new();
        let mut to_grow = Vec::new();
        let mut newly_known = Vec::new();
        for topic in work {
            let w = &wanted[topic];
            let Some(t) = metadata.topics.get(&w.target) else {
                to_create.push(topic.clone());
                continue;
            };
            let target_partitions = i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
            let target_rf = replication_factor_of(t.partitions.values().map(|p| &p.replicas));
            match partition_action(w.partitions, Some(target_partitions)) {
                PartitionAction::Grow { from, to } => to_grow.push((topic.clone(), from, to)),
                PartitionAction::TargetHasMore { source, target } => self.warn_once(
                    format!("more-partitions:{}:{target}:{source}", w.target),
                    format!(
                        "topic '{}' on target cluster '{}' has {target} partitions, its source '{topic}' only \
                         {source}; the extra partitions get no mirrored data",
                        w.target, self.flow.target
                    ),
                ),
                PartitionAction::Create(_) | PartitionAction::Nothing => {}
            }
            if self.flow.replication_factor.is_none()
                && target_rf > 0
                && w.rf > 0
                && target_rf != w.rf
            {
                self.warn_once(
                    format!("rf:{}:{}:{}", w.target, w.rf, target_rf),
                    format!(
                        "topic '{}' on target cluster '{}' has replication factor {target_rf}, its source \
                         '{topic}' {}; kmirror does not reassign partitions (use kafka-reassign-partitions)",
                        w.target, self.flow.target, w.rf
                    ),
                );
            }
            match self.known.get_mut(topic) {
                Some(k) => {
                    k.source_partitions = w.partitions;
                    k.target_partitions = target_partitions;
                    k.target_rf = target_rf;
                }
                None => {
                    self.known.insert(
                        topic.clone(),
                        Known {
                            target: w.target.clone(),
                            source_partitions: w.partitions,
                            target_partitions,
                            source_rf: w.rf,
                            target_rf,
                            max_message_bytes: None,
                        },
                    );
                    newly_known.push(topic.clone());
                }
            }
        }

        if !to_grow.is_empty() {
            self.grow(wanted, &to_grow, set).await;
        }
        let mut describe_target = Vec::new();
        if !to_create.is_empty() {
            describe_target = self.create(wanted, &to_create, brokers, set).await;
        }
        if !newly_known.is_empty() {
            if self.flow.sync_topic_configs.enabled {
                match self.sync_configs_for(&newly_known).await {
                    Ok(report) => set.problems.extend(report.problems),
                    Err(e) => {
                        warn!(flow = %self.name, "config sync of newly found remote topics: {e}")
                    }
                }
            } else {
                describe_target.extend(newly_known);
            }
        }
        if !describe_target.is_empty() {
            self.learn_max_message_bytes(&describe_target, set).await;
        }
        Ok(())
    }

    async fn grow(
        &mut self,
        wanted: &BTreeMap<String, Wanted>,
        grow: &[(String, i32, i32)],
        set: &mut TopicSet,
    ) {
        let requests: Vec<NewPartitions> = grow
            .iter()
            .map(|(t, _, to)| NewPartitions {
                topic: wanted[t].target.clone(),
                total: *to,
            })
            .collect();
        let results = match self.target.create_partitions(&requests).await {
            Ok(r) => r.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
            Err(e) => grow.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut grown_now = Vec::new();
        for ((topic, from, to), result) in grow.iter().zip(results) {
            let target = wanted[topic].target.clone();
            match result {
                Ok(()) => {
                    grown_now.push((target.clone(), *to));
                    info!(flow = %self.name, target_topic = %target, from, to,
                          "added partitions to the remote topic to follow its source");
                    if let Some(k) = self.known.get_mut(topic) {
                        k.target_partitions = *to;
                    }
                    set.grown.push(GrownTopic {
                        target_topic: target,
                        from: *from,
                        to: *to,
                    });
                }
                // Someone (or a lost response of ours) grew it already; the next refresh sees the new count.
                Err(e) if e.code() == Some(ResponseError::InvalidPartitions) => {
                    debug!(flow = %self.name, target_topic = %target, "growing: {e}");
                }
                Err(e) => {
                    let message = format!(
                        "cannot grow topic '{target}' on target cluster '{}' from {from} to {to} partitions to \
                         follow '{topic}': {e}; {}; partitions {from}..{to} are not mirrored until then",
                        self.flow.target,
                        remedy(&e, ProblemKind::CreatePartitions, &target, *to)
                    );
                    self.topic_problem(
                        &mut set.problems,
                        topic_subject(topic),
                        TopicProblem {
                            source_topic: topic.clone(),
                            target_topic: target,
                            kind: ProblemKind::CreatePartitions,
                            message,
                        },
                    );
                }
            }
        }
        self.wait_until_usable(&grown_now).await;
    }

    /// Creates missing remote topics; returns those whose effective configs the broker did not report.
    async fn create(
        &mut self,
        wanted: &BTreeMap<String, Wanted>,
        topics: &[String],
        brokers: usize,
        set: &mut TopicSet,
    ) -> Vec<String> {
        let configs = match describe_topic_configs(&self.source, topics).await {
            Ok(c) => c,
            Err(e) => topics.iter().map(|t| (t.clone(), Err(e.clone()))).collect(),
        };
        let mut new_topics = Vec::new();
        let mut creating = Vec::new();
        for topic in topics {
            let w = &wanted[topic];
            let entries = match configs.get(topic) {
                Some(Ok(entries)) => entries,
                Some(Err(e)) => {
                    let message = format!(
                        "cannot read the configs of topic '{topic}' on source cluster '{}' ({e}); its remote topic \
                         '{}' is not created until they can be read: {}",
                        self.flow.source,
                        w.target,
                        remedy(
                            e,
                            ProblemKind::DescribeSourceConfigs,
                            &w.target,
                            w.partitions
                        )
                    );
                    self.topic_problem(
                        &mut set.problems,
                        topic_subject(topic),
                        TopicProblem {
                            source_topic: topic.clone(),
                            target_topic: w.target.clone(),
                            kind: ProblemKind::DescribeSourceConfigs,
                            message,
                        },
                    );
                    continue;
                }
                None => continue,
            };
            let rf =
                plan_replication_factor(&w.target, self.flow.replication_factor, w.rf, brokers);
            if let Some(warning) = &rf.warning {
                self.warn_once(format!("rf-clamp:{}", w.target), warning.clone());
            }
            let known_rf = (rf.replication_factor > 0).then_some(i32::from(rf.replication_factor));
            let desired = desired_target_configs(
                &w.target,
                entries,
                &self.flow.config_properties_exclude,
                self.flow.use_defaults_from,
                known_rf,
            );
            for warning in &desired.warnings {
                self.warn_once(format!("create-config:{warning}"), warning.clone());
            }
            let min_insync = desired.min_insync().map(str::to_string);
            new_topics.push(NewTopic {
                name: w.target.clone(),
                partitions: w.partitions,
                replication_factor: rf.replication_factor,
                configs: desired.configs,
            });
            creating.push((topic.clone(), min_insync));
        }
        if new_topics.is_empty() {
            return Vec::new();
        }
        // Brokers refuse an excessively large CreateTopics batch as a whole (thousands of topics at the first
        // refresh of a big cluster), so create in chunks; one failing chunk does not hold back the others.
        let mut results = Vec::with_capacity(new_topics.len());
        for chunk in new_topics.chunks(CREATE_TOPICS_CHUNK) {
            match self.target.create_topics(chunk).await {
                Ok(r) => results.extend(r.into_iter().map(|(_, r)| r)),
                Err(e) => results.extend(chunk.iter().map(|_| Err(e.clone()))),
            }
        }
        let mut describe_later = Vec::new();
        let mut created_now = Vec::new();
        for (((topic, min_insync), request), result) in
            creating.iter().zip(&new_topics).zip(results)
        {
            let w = &wanted[topic];
            match result {
                Ok(created) => {
                    info!(flow = %self.name, source_topic = %topic, target_topic = %w.target,
                          partitions = created.partitions, replication_factor = created.replication_factor,
                          configs = ?request.configs, "created remote topic");
                    let max_message_bytes = effective_i64(&created.configs, MAX_MESSAGE_BYTES);
                    if created.configs.is_empty() {
                        describe_later.push(topic.clone());
                    }
                    self.known.insert(
                        topic.clone(),
                        Known {
                            target: w.target.clone(),
                            source_partitions: w.partitions,
                            target_partitions: created.partitions.max(request.partitions),
                            source_rf: w.rf,
                            target_rf: i32::from(created.replication_factor),
                            max_message_bytes,
                        },
                    );
                    set.created.push(w.target.clone());
                    created_now
                        .push((w.target.clone(), created.partitions.max(request.partitions)));
                    self.settle_min_insync(topic, &created, min_insync.as_deref(), set)
                        .await;
                }
                // Created concurrently, or our earlier try's answer was lost: the next refresh finds it.
                Err(e) if e.code() == Some(ResponseError::TopicAlreadyExists) => {
                    debug!(flow = %self.name, target_topic = %w.target, "create: {e}");
                }
                Err(e) => {
                    let message = format!(
                        "cannot create topic '{}' on target cluster '{}' to mirror '{topic}': {e}; {}",
                        w.target,
                        self.flow.target,
                        remedy(&e, ProblemKind::CreateTopic, &w.target, w.partitions)
                    );
                    self.topic_problem(
                        &mut set.problems,
                        topic_subject(topic),
                        TopicProblem {
                            source_topic: topic.clone(),
                            target_topic: w.target.clone(),
                            kind: ProblemKind::CreateTopic,
                            message,
                        },
                    );
                }
            }
        }
        self.wait_until_usable(&created_now).await;
        describe_later
    }

    /// Waits (briefly) until topics just created or grown are in the target's metadata with a leader for every
    /// partition, so the partitions started right after find them instead of failing as unknown.
    async fn wait_until_usable(&self, topics: &[(String, i32)]) {
        if topics.is_empty() {
            return;
        }
        match self
            .target
            .client()
            .wait_for_topics(topics, NEW_TOPIC_WAIT)
            .await
        {
            Ok(late) if late.is_empty() => {}
            Ok(late) => warn!(flow = %self.name, topics = ?late,
                "remote topics created or grown but not in the target's metadata after {NEW_TOPIC_WAIT:?}; \
                 their partitions start once they are"),
            Err(e) => {
                debug!(flow = %self.name, error = %e, "reading the metadata of new remote topics")
            }
        }
    }

    /// Makes the new topic's effective `min.insync.replicas` what the source decides: it was not in the
    /// request when the source inherits it from broker settings (the target's default may already match),
    /// and a topic created with the broker's default replication factor may have fewer replicas than it.
    async fn settle_min_insync(
        &mut self,
        topic: &str,
        created: &CreatedTopic,
        want: Option<&str>,
        set: &mut TopicSet,
    ) {
        let Some(want) = want else {
            return;
        };
        let (fitted, warning) =
            clamp_min_insync(&created.name, want, i32::from(created.replication_factor));
        if let Some(warning) = warning {
            self.warn_once(format!("create-config:{warning}"), warning);
        }
        let effective = created
            .configs
            .get(MIN_INSYNC_REPLICAS)
            .and_then(|e| e.value.as_deref());
        if effective == Some(fitted.as_str()) {
            return;
        }
        let change = vec![(
            ConfigResource::Topic(created.name.clone()),
            vec![AlterConfigOp::set(MIN_INSYNC_REPLICAS, fitted.clone())],
        )];
        let result = match self.target.incremental_alter_configs(&change).await {
            Ok(mut r) => r.pop().map_or(Ok(()), |(_, r)| r),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                info!(flow = %self.name, target_topic = %created.name, min_insync_replicas = %fitted,
                            "set min.insync.replicas to follow the source")
            }
            Err(e) => self.alter_problem(topic, &created.name, &e, set),
        }
    }

    async fn learn_max_message_bytes(&mut self, topics: &[String], set: &mut TopicSet) {
        let targets: Vec<String> = topics
            .iter()
            .filter_map(|t| self.known.get(t).map(|k| k.target.clone()))
            .collect();
        let described = match describe_topic_configs(&self.target, &targets).await {
            Ok(d) => d,
            Err(e) => targets
                .iter()
                .map(|t| (t.clone(), Err(e.clone())))
                .collect(),
        };
        for topic in topics {
            let Some(target) = self.known.get(topic).map(|k| k.target.clone()) else {
                continue;
            };
            match described.get(&target) {
                Some(Ok(entries)) => {
                    if let Some(k) = self.known.get_mut(topic) {
                        k.max_message_bytes = effective_i64(entries, MAX_MESSAGE_BYTES);
                    }
                }
                Some(Err(e)) => {
                    let message = format!(
                        "cannot read the configs of topic '{target}' on target cluster '{}': {e}; {}",
                        self.flow.target,
                        remedy(e, ProblemKind::DescribeTargetConfigs, &target, 0)
                    );
                    self.topic_problem(
                        &mut set.problems,
                        config_subject(topic),
                        TopicProblem {
                            source_topic: topic.clone(),
                            target_topic: target,
                            kind: ProblemKind::DescribeTargetConfigs,
                            message,
                        },
                    );
                }
                None => {}
            }
        }
    }

    async fn sync_configs_for(
        &mut self,
        topics: &[String],
    ) -> Result<ConfigSyncReport, DiscoveryError> {
        let pairs: Vec<(String, String)> = topics
            .iter()
            .filter_map(|t| self.known.get(t).map(|k| (t.clone(), k.target.clone())))
            .collect();
        let sources: Vec<String> = pairs.iter().map(|p| p.0.clone()).collect();
        let targets: Vec<String> = pairs.iter().map(|p| p.1.clone()).collect();
        let source_configs = describe_topic_configs(&self.source, &sources)
            .await
            .map_err(|e| self.admin_error(&self.flow.source, "describe topic configs", e))?;
        let target_configs = describe_topic_configs(&self.target, &targets)
            .await
            .map_err(|e| self.admin_error(&self.flow.target, "describe topic configs", e))?;

        let mut report = ConfigSyncReport::default();
        let mut changes = Vec::new();
        let mut changed_topics = Vec::new();
        for (topic, target) in &pairs {
            let (Some(src), Some(tgt)) = (source_configs.get(topic), target_configs.get(target))
            else {
                continue;
            };
            let (src, tgt) = match (src, tgt) {
                (Ok(s), Ok(t)) => (s, t),
                (Err(e), _) => {
                    let message = format!(
                        "cannot read the configs of topic '{topic}' on source cluster '{}' to sync '{target}': \
                         {e}; {}",
                        self.flow.source,
                        remedy(e, ProblemKind::DescribeSourceConfigs, target, 0)
                    );
                    self.topic_problem(
                        &mut report.problems,
                        config_subject(topic),
                        TopicProblem {
                            source_topic: topic.clone(),
                            target_topic: target.clone(),
                            kind: ProblemKind::DescribeSourceConfigs,
                            message,
                        },
                    );
                    continue;
                }
                (_, Err(e)) => {
                    let message = format!(
                        "cannot read the configs of topic '{target}' on target cluster '{}': {e}; {}",
                        self.flow.target,
                        remedy(e, ProblemKind::DescribeTargetConfigs, target, 0)
                    );
                    self.topic_problem(
                        &mut report.problems,
                        config_subject(topic),
                        TopicProblem {
                            source_topic: topic.clone(),
                            target_topic: target.clone(),
                            kind: ProblemKind::DescribeTargetConfigs,
                            message,
                        },
                    );
                    continue;
                }
            };
            let target_rf = self
                .known
                .get(topic)
                .map(|k| k.target_rf)
                .filter(|rf| *rf > 0);
            let plan = plan_config_sync(
                target,
                src,
                tgt,
                &self.flow.config_properties_exclude,
                self.flow.use_defaults_from,
                target_rf,
            );
            for warning in &plan.desired.warnings {
                self.warn_once(format!("sync-config:{warning}"), warning.clone());
            }
            let max_message_bytes = max_message_bytes_after(&plan.ops, tgt);
            if let Some(k) = self.known.get_mut(topic) {
                k.max_message_bytes = max_message_bytes;
            }
            if plan.ops.is_empty() {
                self.resolve(&config_subject(topic));
            } else {
                changes.push((ConfigResource::Topic(target.clone()), plan.ops));
                changed_topics.push(topic.clone());
            }
        }
        if changes.is_empty() {
            return Ok(report);
        }
        let results = match self.target.incremental_alter_configs(&changes).await {
            Ok(r) => r.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
            Err(e) => changes.iter().map(|_| Err(e.clone())).collect(),
        };
        for ((topic, (resource, ops)), result) in changed_topics.iter().zip(changes).zip(results) {
            let ConfigResource::Topic(target) = resource else {
                continue;
            };
            match result {
                Ok(()) => {
                    info!(flow = %self.name, target_topic = %target, changes = %describe_ops(&ops),
                          "topic configs synced from the source");
                    self.resolve(&config_subject(topic));
                    report.altered.push((target, ops));
                }
                Err(e) => {
                    // The broker applies a topic's changes all or nothing: what we think it has is stale.
                    if let Some(k) = self.known.get_mut(topic) {
                        k.max_message_bytes = None;
                    }
                    let mut problems = Vec::new();
                    self.alter_problem_into(topic, &target, &e, &mut problems);
                    report.problems.extend(problems);
                }
            }
        }
        Ok(report)
    }

    fn alter_problem(
        &mut self,
        topic: &str,
        target: &str,
        e: &kmirror_kafka::Error,
        set: &mut TopicSet,
    ) {
        self.alter_problem_into(topic, target, e, &mut set.problems);
    }

    fn alter_problem_into(
        &mut self,
        topic: &str,
        target: &str,
        e: &kmirror_kafka::Error,
        problems: &mut Vec<TopicProblem>,
    ) {
        let message = format!(
            "cannot change the configs of topic '{target}' on target cluster '{}' to follow '{topic}': {e}; {}",
            self.flow.target,
            remedy(e, ProblemKind::AlterConfigs, target, 0)
        );
        self.topic_problem(
            problems,
            config_subject(topic),
            TopicProblem {
                source_topic: topic.to_string(),
                target_topic: target.to_string(),
                kind: ProblemKind::AlterConfigs,
                message,
            },
        );
    }

    /// A source topic whose replication factor changed: reported once per change (kmirror does not reassign
    /// target partitions); `min.insync.replicas` follows at the next config sync.
    fn note_source_rf_changes(&mut self, wanted: &BTreeMap<String, Wanted>) {
        let mut changes = Vec::new();
        for (topic, w) in wanted {
            if let Some(k) = self.known.get_mut(topic)
                && w.rf > 0
                && w.rf != k.source_rf
            {
                changes.push((
                    topic.clone(),
                    k.target.clone(),
                    k.source_rf,
                    w.rf,
                    k.target_rf,
                ));
                k.source_rf = w.rf;
            }
        }
        for (topic, target, before, now, target_rf) in changes {
            self.warn_once(
                format!("source-rf:{topic}:{now}"),
                format!(
                    "the replication factor of source topic '{topic}' changed from {before} to {now}; remote topic \
                     '{target}' keeps {target_rf} (kmirror does not reassign partitions: use \
                     kafka-reassign-partitions on the target)"
                ),
            );
        }
    }

    fn warn_once(&mut self, key: String, message: String) {
        if self.warned.insert(key) {
            warn!(flow = %self.name, "{message}");
        }
    }

    fn topic_problem(
        &mut self,
        problems: &mut Vec<TopicProblem>,
        subject: String,
        problem: TopicProblem,
    ) {
        self.metrics
            .error(&self.flow.source, &self.flow.target, problem.kind.as_str());
        self.status
            .problem(&self.name, &subject, problem.message.clone());
        let repeated = self
            .open
            .get(&subject)
            .is_some_and(|(_, m)| *m == problem.message);
        if repeated {
            debug!(flow = %self.name, "{}", problem.message);
        } else {
            warn!(flow = %self.name, "{}", problem.message);
        }
        self.open.insert(
            subject,
            (Some(problem.source_topic.clone()), problem.message.clone()),
        );
        problems.push(problem);
    }

    fn flow_problem(&mut self, subject: &str, kind: &str, message: String) {
        self.metrics
            .error(&self.flow.source, &self.flow.target, kind);
        self.status.problem(&self.name, subject, message.clone());
        if self.open.get(subject).is_none_or(|(_, m)| *m != message) {
            warn!(flow = %self.name, "{message}");
        }
        self.open.insert(subject.to_string(), (None, message));
    }

    fn resolve(&mut self, subject: &str) {
        if self.open.remove(subject).is_some() {
            self.status.resolve(&self.name, subject);
            info!(flow = %self.name, subject, "problem resolved");
        }
    }

    fn admin_error(
        &self,
        cluster: &str,
        what: &str,
        source: kmirror_kafka::Error,
    ) -> DiscoveryError {
        DiscoveryError::Admin {
            flow: self.name.clone(),
            cluster: cluster.to_string(),
            what: what.to_string(),
            source,
        }
    }
}

type DescribedConfigs =
    BTreeMap<String, Result<BTreeMap<String, ConfigEntry>, kmirror_kafka::Error>>;

/// DescribeConfigs for topics, in chunks; per topic, the configs or why not.
async fn describe_topic_configs(
    admin: &Admin,
    topics: &[String],
) -> Result<DescribedConfigs, kmirror_kafka::Error> {
    let mut out = BTreeMap::new();
    for chunk in topics.chunks(DESCRIBE_CHUNK) {
        let resources: Vec<ConfigResource> = chunk
            .iter()
            .map(|t| ConfigResource::Topic(t.clone()))
            .collect();
        for (resource, result) in admin.describe_configs(&resources).await? {
            if let ConfigResource::Topic(t) = resource {
                out.insert(t, result);
            }
        }
    }
    Ok(out)
}

/// The target's `max.message.bytes` once `ops` are applied: the value set, the inherited value behind a
/// deleted override (from the synonyms), or the current value.
fn max_message_bytes_after(
    ops: &[AlterConfigOp],
    target: &BTreeMap<String, ConfigEntry>,
) -> Option<i64> {
    for op in ops {
        match op {
            AlterConfigOp::Set { name, value } if name == MAX_MESSAGE_BYTES => {
                return value.trim().parse().ok();
            }
            AlterConfigOp::Delete { name } if name == MAX_MESSAGE_BYTES => {
                return target.get(MAX_MESSAGE_BYTES).and_then(|e| {
                    e.synonyms
                        .iter()
                        .find(|s| s.source != ConfigSource::DynamicTopic)
                        .and_then(|s| s.value.as_deref()?.trim().parse().ok())
                });
            }
            _ => {}
        }
    }
    effective_i64(target, MAX_MESSAGE_BYTES)
}

fn describe_ops(ops: &[AlterConfigOp]) -> String {
    ops.iter()
        .map(|op| match op {
            AlterConfigOp::Set { name, value } => format!("set {name}={value}"),
            AlterConfigOp::Delete { name } => format!("reset {name} to the target default"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn topic_subject(source_topic: &str) -> String {
    format!("topic {source_topic}")
}

fn config_subject(source_topic: &str) -> String {
    format!("topic {source_topic} configs")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use kmirror_kafka::admin::ConfigSynonym;

    use super::*;
    use crate::discovery::configs::tests::entry;

    #[test]
    fn max_message_bytes_follows_the_ops() {
        let mut e = entry(MAX_MESSAGE_BYTES, "2000000", ConfigSource::DynamicTopic);
        e.synonyms = vec![
            ConfigSynonym {
                name: MAX_MESSAGE_BYTES.into(),
                value: Some("2000000".into()),
                source: ConfigSource::DynamicTopic,
            },
            ConfigSynonym {
                name: "message.max.bytes".into(),
                value: Some("1048588".into()),
                source: ConfigSource::Default,
            },
        ];
        let target: BTreeMap<String, ConfigEntry> = [(MAX_MESSAGE_BYTES.to_string(), e)].into();
        assert_eq!(max_message_bytes_after(&[], &target), Some(2_000_000));
        assert_eq!(
            max_message_bytes_after(&[AlterConfigOp::set(MAX_MESSAGE_BYTES, "3000000")], &target),
            Some(3_000_000)
        );
        assert_eq!(
            max_message_bytes_after(&[AlterConfigOp::delete(MAX_MESSAGE_BYTES)], &target),
            Some(1_048_588)
        );
        assert_eq!(
            max_message_bytes_after(&[AlterConfigOp::set("retention.ms", "1")], &target),
            Some(2_000_000)
        );
    }

    #[test]
    fn ops_read_well_in_logs() {
        let s = describe_ops(&[
            AlterConfigOp::set("retention.ms", "1000"),
            AlterConfigOp::delete("retention.bytes"),
        ]);
        assert_eq!(
            s,
            "set retention.ms=1000, reset retention.bytes to the target default"
        );
    }
}

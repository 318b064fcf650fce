//! `kmirror status`: how each flow stands, from the clusters alone (no running kmirror needed). Per flow: the
//! operator's last decision about it (replicating, failed over, ...), how far the copy is behind per topic in
//! records and in time, how old the newest heartbeat and checkpoint are, whether the consumer groups on the
//! target stand where their translated offsets say, and what is wrong.
//!
//! Everything here is read-only and bounded: at most [`MAX_TIME_PROBES`] one-batch fetches for the age of the
//! oldest uncopied record, [`MAX_SURPLUS_PROBES`] target reads for refused partitions, [`MAX_GROUPS`] groups.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::future::join_all;
use kmirror_kafka::admin::Admin;
use kmirror_kafka::{Client, FetchPartition, FetchRequest, OffsetSpec, TopicPartition};
use serde::Serialize;

use super::clients::{OpsClients, OpsError};
use super::cutover::copy_state;
use super::failover::{last_heartbeat, replication_lag};
use super::translate::{GroupTranslation, OffsetsView, source_isolation, translate_group};
use crate::config::{Config, FlowConfig};
use crate::flow_state::{FlowState, read_flow_state};
use crate::internal_records::decode_records;
use crate::internal_topics::newest_timestamp;
use crate::mm2::Heartbeat;
use crate::pipeline::forwarder::now_ms;
use crate::pipeline::ownership::{classify, read_target_batches};
use crate::pipeline::start::Observed;
use crate::policy::{Decision, should_replicate_group, should_replicate_topic};

/// Lagging partitions whose oldest uncopied record is fetched for its timestamp (the oldest progress first);
/// the others show the time since their last progress commit.
pub const MAX_TIME_PROBES: usize = 32;
/// Partitions whose target records past the stored progress are checked for foreign writers.
pub const MAX_SURPLUS_PROBES: usize = 32;
/// How many target offsets past the stored progress are looked at per partition.
const SURPLUS_WINDOW: i64 = 1000;
/// Groups translated per flow.
pub const MAX_GROUPS: usize = 200;
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// A flow's heartbeat older than this many intervals (plus [`HEARTBEAT_SLACK`]) means no process emits it.
const HEARTBEAT_MISSED: u32 = 3;
const HEARTBEAT_SLACK: Duration = Duration::from_secs(10);

/// What a partition's lag in time is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LagBasis {
    /// The timestamp of the first source record not copied yet.
    OldestUncopiedRecord,
    /// The last progress commit (the record could not be fetched, or was not, beyond `MAX_TIME_PROBES`).
    LastProgressCommit,
}

/// One source partition that is behind or refused.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionStatus {
    pub partition: i32,
    /// The first source offset not copied yet, per the stored progress (absent: never copied).
    pub copied_up_to: Option<i64>,
    /// The source's end offset, when the source answered.
    pub source_end: Option<i64>,
    pub lag_records: Option<i64>,
    pub lag_seconds: Option<f64>,
    pub lag_basis: Option<LagBasis>,
    /// Seconds since the partition's progress was last committed.
    pub progress_age_seconds: Option<f64>,
    /// Why `kmirror run` refuses to copy into the target partition, if it does.
    pub refused: Option<String>,
}

/// One source topic of a flow.
#[derive(Debug, Clone, Serialize)]
pub struct TopicStatus {
    pub source_topic: String,
    pub target_topic: String,
    pub partitions: usize,
    /// Records on the source not on the target (absent when the source did not answer).
    pub lag_records: Option<i64>,
    /// The largest lag in time of its partitions.
    pub lag_seconds: Option<f64>,
    pub partitions_behind: usize,
    pub partitions_refused: usize,
    /// The partitions behind or refused.
    pub details: Vec<PartitionStatus>,
}

/// Whether a consumer group's offsets on the target are where its translated source offsets say.
#[derive(Debug, Clone, Serialize)]
pub struct GroupStatus {
    pub group: String,
    pub partitions: usize,
    /// Partitions whose committed target offset is the translated one.
    pub synced: usize,
    /// Partitions committed below the translated offset, or not at all.
    pub behind: usize,
    /// Records between the committed and the translated offsets on the partitions behind that have a commit.
    pub behind_records: i64,
    /// Partitions committed past the translated offset (consumers running on the target).
    pub ahead: usize,
    /// Partitions with no translation (nothing copied there yet, or older than the offset-syncs kept).
    pub untranslated: usize,
    /// `synced`, `behind`, `ahead` or `untranslated`.
    pub state: String,
    /// Why the source's committed offsets could not be read (then the last checkpoints were used).
    pub source_error: Option<String>,
}

/// How one flow stands.
#[derive(Debug, Clone, Serialize)]
pub struct FlowStatus {
    pub flow: String,
    pub source: String,
    pub target: String,
    pub enabled: bool,
    /// `replicating`, the phase an operator command recorded (`failed-over`, ...), or `unknown` when it could
    /// not be read.
    pub state: String,
    /// True when no kmirror process may write into the target for this flow.
    pub fenced: bool,
    /// The last decision recorded in the target cluster, if any: who, when, which command, at which positions.
    pub decision: Option<FlowState>,
    /// Absent when not tried (the target did not answer).
    pub source_reachable: Option<bool>,
    pub target_reachable: bool,
    pub partitions: usize,
    pub partitions_behind: usize,
    pub lag_records: Option<i64>,
    pub lag_seconds: Option<f64>,
    pub last_progress_age_seconds: Option<f64>,
    /// Age of the flow's newest heartbeat in the target's heartbeats topic (written by the process running it).
    pub heartbeat_age_seconds: Option<f64>,
    /// Age of the newest of the source cluster's heartbeats copied to the target (`<source>.heartbeats`).
    pub source_heartbeat_age_seconds: Option<f64>,
    /// Age of the newest record in the flow's checkpoints topic (written only when a group moves).
    pub checkpoint_age_seconds: Option<f64>,
    pub topics: Vec<TopicStatus>,
    pub groups: Vec<GroupStatus>,
    /// True when more groups than [`MAX_GROUPS`] were selected (the rest are not shown).
    pub groups_truncated: bool,
    pub problems: Vec<String>,
    /// Enabled, replicating (not fenced) and both clusters reachable.
    pub ok: bool,
}

/// Every selected flow.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// When it was measured (epoch ms).
    pub at_ms: i64,
    /// Every flow is ok.
    pub ok: bool,
    pub flows: Vec<FlowStatus>,
}

/// The status of flow `only`, or of every enabled flow.
pub async fn status(config: &Config, only: Option<&str>) -> Result<StatusReport, OpsError> {
    let flows: Vec<&FlowConfig> = match only {
        Some(name) => vec![
            config
                .flows
                .iter()
                .find(|f| f.name() == name)
                .ok_or_else(|| {
                    let names: Vec<String> = config.flows.iter().map(FlowConfig::name).collect();
                    OpsError::NoSuchFlow(name.to_string(), names.join(", "))
                })?,
        ],
        None => config.flows.iter().filter(|f| f.enabled).collect(),
    };
    let flows = join_all(flows.into_iter().map(|f| flow_status(config, f))).await;
    Ok(StatusReport {
        at_ms: now_ms(),
        ok: flows.iter().all(|f| f.ok),
        flows,
    })
}

/// Seconds from `at_ms` to `now_ms`, to a tenth.
fn age(now_ms: i64, at_ms: i64) -> f64 {
    ((now_ms - at_ms).max(0) as f64 / 100.0).round() / 10.0
}

/// The state's name as recorded (`failed-over`, ...), so a phase added later needs no change here.
fn state_name(state: &FlowState) -> String {
    if !state.is_fenced() {
        return "replicating".into();
    }
    serde_json::to_value(state.phase)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| format!("{:?}", state.phase))
}

async fn flow_status(config: &Config, flow: &FlowConfig) -> FlowStatus {
    let name = flow.name();
    let mut s = FlowStatus {
        flow: name.clone(),
        source: flow.source.clone(),
        target: flow.target.clone(),
        enabled: flow.enabled,
        state: "unknown".into(),
        fenced: false,
        decision: None,
        source_reachable: None,
        target_reachable: false,
        partitions: 0,
        partitions_behind: 0,
        lag_records: None,
        lag_seconds: None,
        last_progress_age_seconds: None,
        heartbeat_age_seconds: None,
        source_heartbeat_age_seconds: None,
        checkpoint_age_seconds: None,
        topics: Vec::new(),
        groups: Vec::new(),
        groups_truncated: false,
        problems: Vec::new(),
        ok: false,
    };
    if !flow.enabled {
        s.problems.push(format!(
            "flow {name} is not enabled in the configuration ({name}.enabled = false)"
        ));
    }
    let clients = match OpsClients::connect(config, &name).await {
        Ok(c) => c,
        Err(e) => {
            s.problems
                .push(format!("{e}: the flow's state, lag and groups are unknown"));
            return s;
        }
    };
    s.target_reachable = true;
    s.source_reachable = Some(clients.source.is_ok());
    match &clients.source {
        Ok(_) => {}
        Err(e) => s.problems.push(format!(
            "cannot connect to the source cluster {}: {e}; the lag is unknown (a failover would use the last \
             checkpoints)",
            flow.source
        )),
    }
    match read_flow_state(&clients.target, &name).await {
        Ok(state) => {
            s.state = state_name(&state);
            s.fenced = state.is_fenced();
            if s.fenced {
                s.problems.push(state.describe());
            }
            s.decision = (state.at_ms > 0).then_some(state);
        }
        Err(e) => s.problems.push(format!(
            "{e} on cluster {}: the flow's state is unknown",
            flow.target
        )),
    }
    let view = match OffsetsView::read(&clients).await {
        Ok(v) => Some(v),
        Err(e) => {
            s.problems.push(e.to_string());
            None
        }
    };
    let now = now_ms();
    lag(config, &clients, view.as_ref(), s.fenced, now, &mut s).await;
    if let Some(view) = &view {
        s.last_progress_age_seconds = view
            .progress
            .values()
            .map(|(_, at)| *at)
            .max()
            .map(|at| age(now, at));
        groups(&clients, view, &mut s).await;
    }
    heartbeats(&clients, now, &mut s).await;
    s.ok = s.enabled
        && s.target_reachable
        && s.source_reachable == Some(true)
        && !s.fenced
        && s.state == "replicating";
    s
}

/// One partition measured: (source partition, copied up to, source end, lag, progress commit time).
type Measured = (
    TopicPartition,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// Fills the topics, the lag and its problems.
async fn lag(
    config: &Config,
    clients: &OpsClients,
    view: Option<&OffsetsView>,
    fenced: bool,
    now: i64,
    s: &mut FlowStatus,
) {
    let committed_at =
        |tp: &TopicPartition| view.and_then(|v| v.progress.get(tp)).map(|(_, at)| *at);
    // From the source's topics when it answers (never-copied partitions included), else from the progress.
    let mut measured: Vec<Measured> = Vec::new();
    let mut from_source = false;
    if clients.source.is_ok() {
        match copy_state(clients).await {
            Ok(copy) => {
                from_source = true;
                if let Some(e) = &copy.progress_error {
                    s.problems.push(format!(
                        "the stored progress on cluster {} could not be read ({e}): has `kmirror run` copied \
                         anything for this flow yet?",
                        clients.flow.target
                    ));
                }
                let behind: BTreeMap<(&str, i32), _> = copy
                    .behind
                    .iter()
                    .map(|b| ((b.source_topic.as_str(), b.partition), b))
                    .collect();
                for (tp, end) in copy.source_ends() {
                    let (copied, lag) = match behind.get(&(tp.topic.as_str(), tp.partition)) {
                        Some(b) => (b.copied_up_to, b.lag_records),
                        None => (
                            view.and_then(|v| v.progress.get(tp))
                                .map(|(p, _)| p.next_offset()),
                            0,
                        ),
                    };
                    measured.push((tp.clone(), copied, Some(*end), Some(lag), committed_at(tp)));
                }
            }
            Err(e) => s.problems.push(e.to_string()),
        }
    }
    if !from_source && let Some(view) = view {
        for l in replication_lag(clients, view).await {
            let tp = TopicPartition::new(l.source_topic, l.partition);
            measured.push((
                tp,
                Some(l.copied_up_to),
                l.source_end,
                l.lag_records,
                Some(l.progress_at_ms),
            ));
        }
    }
    measured.sort_by(|a, b| a.0.cmp(&b.0));

    let oldest = match &clients.source {
        Ok(source) => oldest_uncopied(source, &clients.flow, &measured).await,
        Err(_) => BTreeMap::new(),
    };
    let refused = if fenced {
        // The target is the primary now: its applications write there, and the flow writes nothing.
        BTreeMap::new()
    } else {
        refusals(config, clients, view, &measured, from_source).await
    };

    let mut topics: BTreeMap<String, TopicStatus> = BTreeMap::new();
    for (tp, copied, end, lag, at) in measured {
        let Decision::Replicate { target_name } = should_replicate_topic(&clients.flow, &tp.topic)
        else {
            continue;
        };
        let t = topics
            .entry(tp.topic.clone())
            .or_insert_with(|| TopicStatus {
                source_topic: tp.topic.clone(),
                target_topic: target_name,
                partitions: 0,
                lag_records: Some(0),
                lag_seconds: lag.map(|_| 0.0),
                partitions_behind: 0,
                partitions_refused: 0,
                details: Vec::new(),
            });
        t.partitions += 1;
        t.lag_records = t.lag_records.zip(lag).map(|(a, b)| a + b);
        let (lag_seconds, lag_basis) = match (lag, oldest.get(&tp), at) {
            (Some(0), _, _) => (Some(0.0), None),
            (Some(_), Some(ts), _) => (Some(age(now, *ts)), Some(LagBasis::OldestUncopiedRecord)),
            (Some(_), None, Some(at)) => (Some(age(now, at)), Some(LagBasis::LastProgressCommit)),
            _ => (None, None),
        };
        if let Some(secs) = lag_seconds {
            t.lag_seconds = Some(t.lag_seconds.map_or(secs, |m| m.max(secs)));
        }
        let behind = lag.is_some_and(|l| l > 0);
        let refusal = refused.get(&tp).cloned();
        t.partitions_behind += usize::from(behind);
        t.partitions_refused += usize::from(refusal.is_some());
        if behind || refusal.is_some() {
            t.details.push(PartitionStatus {
                partition: tp.partition,
                copied_up_to: copied,
                source_end: end,
                lag_records: lag,
                lag_seconds,
                lag_basis,
                progress_age_seconds: at.map(|at| age(now, at)),
                refused: refusal,
            });
        }
    }
    s.topics = topics.into_values().collect();
    s.partitions = s.topics.iter().map(|t| t.partitions).sum();
    s.partitions_behind = s.topics.iter().map(|t| t.partitions_behind).sum();
    // Known only from the source's end offsets.
    s.lag_records = if from_source {
        s.topics.iter().map(|t| t.lag_records).sum()
    } else {
        None
    };
    s.lag_seconds = s
        .topics
        .iter()
        .filter_map(|t| t.lag_seconds)
        .reduce(f64::max);
    if s.partitions_behind > 0 {
        let first = s
            .topics
            .iter()
            .flat_map(|t| {
                t.details
                    .iter()
                    .filter(|d| d.lag_records.is_some_and(|l| l > 0))
                    .map(move |d| format!("{}-{}", t.source_topic, d.partition))
            })
            .next()
            .unwrap_or_default();
        s.problems.push(format!(
            "{} of {} partitions behind: {} records not copied yet, the oldest {} s old (first: {first})",
            s.partitions_behind,
            s.partitions,
            s.lag_records.unwrap_or(0),
            s.lag_seconds.unwrap_or(0.0)
        ));
    }
    for t in &s.topics {
        for d in &t.details {
            if let Some(r) = &d.refused {
                s.problems
                    .push(format!("{}-{}: refused: {r}", t.source_topic, d.partition));
            }
        }
    }
}

/// The timestamp of the first uncopied record of the lagging partitions, oldest progress first: one
/// single-batch fetch each, at most [`MAX_TIME_PROBES`].
async fn oldest_uncopied(
    source: &Client,
    flow: &FlowConfig,
    measured: &[Measured],
) -> BTreeMap<TopicPartition, i64> {
    let mut lagging: Vec<(&TopicPartition, i64, Option<i64>)> = measured
        .iter()
        .filter_map(|(tp, _, end, lag, at)| match (end, lag) {
            (Some(end), Some(lag)) if *lag > 0 => Some((tp, end - lag, *at)),
            _ => None,
        })
        .collect();
    lagging.sort_by_key(|(_, _, at)| at.unwrap_or(i64::MIN));
    let mut out = BTreeMap::new();
    for (tp, from, _) in lagging.into_iter().take(MAX_TIME_PROBES) {
        let mut req = FetchRequest::new(vec![FetchPartition {
            tp: tp.clone(),
            offset: from,
            // The broker still returns the first batch whole.
            max_bytes: 1,
        }]);
        req.isolation = source_isolation(flow);
        req.max_wait = Duration::ZERO;
        req.min_bytes = 0;
        let Ok(fetched) = source.fetch(&req).await else {
            continue;
        };
        let first = fetched
            .into_iter()
            .next()
            .and_then(|p| p.result.ok())
            .and_then(|data| decode_records(data.records, from).ok())
            .and_then(|records| records.into_iter().next());
        if let Some(r) = first {
            out.insert(tp.clone(), r.timestamp);
        }
    }
    out
}

/// Target partitions `kmirror run` refuses to copy into, as it decides at start: records it did not write
/// past its stored progress, or (new partitions) any records at all, unless
/// `kmirror.existing.target.data = append`. At most [`MAX_SURPLUS_PROBES`] partitions are read.
async fn refusals(
    config: &Config,
    clients: &OpsClients,
    view: Option<&OffsetsView>,
    measured: &[Measured],
    from_source: bool,
) -> BTreeMap<TopicPartition, String> {
    let mut out = BTreeMap::new();
    let Some(view) = view.filter(|_| !config.existing_target_data_append) else {
        return out;
    };
    let pairs: Vec<(&TopicPartition, TopicPartition)> = measured
        .iter()
        .filter_map(
            |(tp, ..)| match should_replicate_topic(&clients.flow, &tp.topic) {
                Decision::Replicate { target_name } => {
                    Some((tp, TopicPartition::new(target_name, tp.partition)))
                }
                _ => None,
            },
        )
        .collect();
    let targets: Vec<TopicPartition> = pairs.iter().map(|(_, t)| t.clone()).collect();
    let targets = &targets;
    let offsets = |spec| async move {
        clients
            .target
            .list_offsets(targets, spec)
            .await
            .map(|listed| {
                listed
                    .into_iter()
                    .filter_map(|(tp, r)| r.ok().map(|o| (tp, o.offset)))
                    .collect::<BTreeMap<_, _>>()
            })
            .unwrap_or_default()
    };
    let (ends, starts) = (
        offsets(OffsetSpec::Latest).await,
        offsets(OffsetSpec::Earliest).await,
    );
    let mut probes = 0;
    for (source, target) in pairs {
        let (Some(&target_end), Some(&target_start)) = (ends.get(&target), starts.get(&target))
        else {
            continue;
        };
        match view.progress.get(source) {
            Some((stored, _)) => {
                // Only the target offsets matter to the surplus.
                let seen = Observed {
                    source_start: 0,
                    source_end: 0,
                    target_start,
                    target_end,
                };
                let Some((from, end)) = seen.surplus_range(Some(stored)) else {
                    continue;
                };
                if probes >= MAX_SURPLUS_PROBES {
                    continue;
                }
                probes += 1;
                let until = end.min(from + SURPLUS_WINDOW);
                let Ok(batches) = read_target_batches(&clients.target, &target, from, until).await
                else {
                    continue;
                };
                let surplus = classify(&batches, from, until, &stored.writers);
                if surplus.foreign_count() > 0 {
                    out.insert(
                        source.clone(),
                        format!(
                            "target partition {target} holds records kmirror did not write after its last \
                             copied record ({} at offsets {}); stop that writer, then set \
                             kmirror.existing.target.data = append or delete the target topic",
                            surplus.foreign_count(),
                            surplus.foreign_ranges()
                        ),
                    );
                }
            }
            None if from_source && target_end > target_start => {
                out.insert(
                    source.clone(),
                    format!(
                        "target partition {target} holds {} records kmirror did not write and there is no \
                         progress for it; delete the target topic or set kmirror.existing.target.data = append",
                        target_end - target_start
                    ),
                );
            }
            None => {}
        }
    }
    out
}

/// Fills the groups: every selected group with checkpoints or (source reachable) committed offsets.
async fn groups(clients: &OpsClients, view: &OffsetsView, s: &mut FlowStatus) {
    let flow = &clients.flow;
    let mut names: BTreeSet<String> = view.checkpoints.groups().into_iter().collect();
    if let Ok(source) = &clients.source {
        match Admin::new(source.clone()).list_groups().await {
            Ok(listed) => names.extend(listed.into_iter().map(|g| g.group_id)),
            Err(e) => s.problems.push(format!(
                "listing the consumer groups on cluster {}: {e}",
                flow.source
            )),
        }
    }
    let selected: Vec<String> = names
        .into_iter()
        .filter(|g| should_replicate_group(flow, g).is_ok())
        .collect();
    s.groups_truncated = selected.len() > MAX_GROUPS;
    for group in selected.into_iter().take(MAX_GROUPS) {
        match translate_group(clients, view, &group).await {
            Ok(t) if t.partitions.is_empty() => {}
            Ok(t) => s.groups.push(group_status(&t)),
            Err(e) => s.problems.push(e.to_string()),
        }
    }
}

/// Compares a group's translated offsets with what it has committed on the target.
fn group_status(t: &GroupTranslation) -> GroupStatus {
    let mut g = GroupStatus {
        group: t.group.clone(),
        partitions: t.partitions.len(),
        synced: 0,
        behind: 0,
        behind_records: 0,
        ahead: 0,
        untranslated: 0,
        state: String::new(),
        source_error: t.source_error.clone(),
    };
    for p in &t.partitions {
        match (p.target_offset, p.target_committed) {
            (None, _) => g.untranslated += 1,
            (Some(want), Some(have)) if have == want => g.synced += 1,
            (Some(want), Some(have)) if have > want => g.ahead += 1,
            (Some(want), have) => {
                g.behind += 1;
                g.behind_records += have.map_or(0, |h| want - h);
            }
        }
    }
    g.state = if g.behind > 0 {
        "behind"
    } else if g.ahead > 0 {
        "ahead"
    } else if g.synced > 0 {
        "synced"
    } else {
        "untranslated"
    }
    .into();
    g
}

/// Fills the heartbeat and checkpoint ages, and says when the flow's heartbeat has stopped.
async fn heartbeats(clients: &OpsClients, now: i64, s: &mut FlowStatus) {
    let flow = &clients.flow;
    let own = newest_timestamp(
        &clients.target,
        flow.heartbeats_topic(),
        READ_TIMEOUT,
        |r| match (r.key.as_deref(), r.value.as_deref()) {
            (Some(k), Some(v)) => Heartbeat::decode(k, v).is_ok_and(|hb| {
                hb.source_cluster_alias == flow.source && hb.target_cluster_alias == flow.target
            }),
            _ => false,
        },
    )
    .await;
    match own {
        Ok(at) => s.heartbeat_age_seconds = at.map(|at| age(now, at)),
        Err(e) => s.problems.push(format!("on cluster {}: {e}", flow.target)),
    }
    s.source_heartbeat_age_seconds = last_heartbeat(clients).await.map(|at| age(now, at));
    match newest_timestamp(
        &clients.target,
        &flow.checkpoints_topic(),
        READ_TIMEOUT,
        |_| true,
    )
    .await
    {
        Ok(at) => s.checkpoint_age_seconds = at.map(|at| age(now, at)),
        Err(e) => s.problems.push(format!("on cluster {}: {e}", flow.target)),
    }
    if flow.emit_heartbeats.enabled {
        let late =
            (flow.emit_heartbeats.interval * HEARTBEAT_MISSED + HEARTBEAT_SLACK).as_secs_f64();
        match s.heartbeat_age_seconds {
            None => s.problems.push(format!(
                "no heartbeat of flow {} in {}'s {} topic: `kmirror run` has not run with this flow",
                s.flow,
                flow.target,
                flow.heartbeats_topic()
            )),
            Some(a) if a > late => s.problems.push(format!(
                "the flow's last heartbeat is {a} s old (one every {} s expected): is `kmirror run` running?",
                flow.emit_heartbeats.interval.as_secs_f64()
            )),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow_state::FlowPhase;
    use crate::ops::{DerivedFrom, PartitionTranslation};

    #[test]
    fn state_names_come_from_the_recorded_phase() {
        let mut s = FlowState::new("A->B", FlowPhase::Replicating, "kmirror unfence");
        assert_eq!(state_name(&s), "replicating");
        s.phase = FlowPhase::FailedOver;
        assert_eq!(state_name(&s), "failed-over");
    }

    #[test]
    fn ages_are_in_seconds_to_a_tenth_and_never_negative() {
        assert_eq!(age(10_000, 7_660), 2.3);
        assert_eq!(age(10_000, 12_000), 0.0);
    }

    fn partition(
        target_offset: Option<i64>,
        target_committed: Option<i64>,
    ) -> PartitionTranslation {
        PartitionTranslation {
            source_topic: "t".into(),
            partition: 0,
            source_offset: 0,
            target_topic: "A.t".into(),
            target_offset,
            derived_from: DerivedFrom::Exact,
            metadata: String::new(),
            checkpoint: None,
            target_committed,
        }
    }

    #[test]
    fn a_group_is_synced_behind_or_ahead_of_its_translation() {
        let group = |partitions| GroupTranslation {
            flow: "A->B".into(),
            group: "g".into(),
            source_error: None,
            partitions,
        };
        let g = group_status(&group(vec![partition(Some(5), Some(5))]));
        assert_eq!((g.state.as_str(), g.synced), ("synced", 1));
        let g = group_status(&group(vec![
            partition(Some(5), Some(5)),
            partition(Some(9), Some(4)),
            partition(Some(3), None),
        ]));
        assert_eq!(
            (g.state.as_str(), g.behind, g.behind_records),
            ("behind", 2, 5)
        );
        let g = group_status(&group(vec![
            partition(Some(5), Some(8)),
            partition(None, None),
        ]));
        assert_eq!((g.state.as_str(), g.ahead, g.untranslated), ("ahead", 1, 1));
    }
}

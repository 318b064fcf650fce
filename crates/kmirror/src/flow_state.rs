//! The operator's decisions about a flow, kept in the flow's target cluster so every kmirror process sees
//! them: after `kmirror failover` the target is the primary, and the flow must not write into it any more
//! (its applications now do). A running `kmirror run` notices within seconds and stops copying; one started
//! later does not start the flow. `kmirror unfence` (or the re-protection of a failback) lifts it.
//!
//! Stored in the compacted single-partition topic [`FLOW_STATE_TOPIC`] on the flow's target cluster, one
//! JSON record per flow keyed by the flow's name. Its name ends in `.internal`, so neither kmirror nor
//! MirrorMaker 2 ever replicates it.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use kmirror_kafka::admin::Admin;
use kmirror_kafka::{Client, TopicPartition};
use serde::{Deserialize, Serialize};

use crate::discovery::{SINGLE_PARTITION, ensure_internal_topic};
use crate::internal_records::{OutRecord, encode_batch};
use crate::internal_topics::read_to_end;
use crate::pipeline::forwarder::now_ms;

/// The topic, on each flow's target cluster, holding the state of the flows into that cluster.
pub const FLOW_STATE_TOPIC: &str = "kmirror.flow-state.internal";

const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What the operator last decided about a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowPhase {
    /// Copying as configured (also the state of a flow with no record).
    Replicating,
    /// Failed over: the target is the primary now; the flow writes nothing into it.
    FailedOver,
    /// `kmirror failback` is rebuilding the old primary from the new one (see [`FailbackState`]); the flow
    /// still writes nothing into its target.
    FailingBack,
}

/// How far a failback got, so that running `kmirror failback` again after a crash finishes the job without
/// exporting or wiping twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailbackState {
    pub step: FailbackStep,
    /// Where the records that reached the old primary but never the new one were exported.
    pub export_dir: String,
    pub exported_records: i64,
    /// Per source partition (`topic-N`) of the flow, where it resumes after re-protection: (last source
    /// offset already on the target, its target offset). Recorded when the groups moved back.
    #[serde(default)]
    pub reprotect: BTreeMap<String, (i64, i64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailbackStep {
    /// Orphans exported, the old primary's mirrored topics emptied; the reverse copy runs.
    Rebuilding,
    /// Consumer groups moved back to the old primary; re-protection (the flow resumes) is left.
    Switched,
}

/// The last operator decision about one flow: who, when, and at which positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowState {
    /// `A->B`.
    pub flow: String,
    pub phase: FlowPhase,
    /// When it was decided (epoch ms).
    pub at_ms: i64,
    /// Who decided: user and host of the command.
    pub by: String,
    /// The command that decided it (`kmirror failover`, `kmirror unfence`, ...).
    pub command: String,
    /// Per source partition (`topic-N`), the copy's position at that moment: (next source offset to copy,
    /// next target offset), as the stored progress said.
    #[serde(default)]
    pub positions: BTreeMap<String, (i64, i64)>,
    /// While failing back: how far it got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failback: Option<FailbackState>,
}

impl FlowState {
    pub fn new(flow: &str, phase: FlowPhase, command: &str) -> Self {
        Self {
            flow: flow.to_string(),
            phase,
            at_ms: now_ms(),
            by: operator(),
            command: command.to_string(),
            positions: BTreeMap::new(),
            failback: None,
        }
    }

    /// Whether the flow may write into its target.
    pub fn is_fenced(&self) -> bool {
        self.phase != FlowPhase::Replicating
    }

    /// One line for logs, `/status` and command output: what happened and what to run next.
    pub fn describe(&self) -> String {
        match self.phase {
            FlowPhase::Replicating => format!("flow {} is replicating", self.flow),
            FlowPhase::FailedOver => format!(
                "flow {} was failed over by {} at {} (`{}`): its target is the primary now, so kmirror writes \
                 nothing into it. To replicate again, rebuild the old primary from the new one and re-protect \
                 (docs/runbooks/active-passive-dr.md), or lift the fence with `kmirror unfence --config FILE --flow {} --yes`",
                self.flow,
                self.by,
                format_time(self.at_ms),
                self.command,
                self.flow
            ),
            FlowPhase::FailingBack => format!(
                "flow {} is failing back since {} (by {}, step {}): the old primary is being rebuilt from the new \
                 one, so kmirror writes nothing into {}. Run `kmirror failback --config FILE --flow {} --yes` again to finish",
                self.flow,
                format_time(self.at_ms),
                self.by,
                self.failback.as_ref().map_or("unknown", |f| match f.step {
                    FailbackStep::Rebuilding => "rebuilding",
                    FailbackStep::Switched => "switched",
                }),
                self.flow.split("->").nth(1).unwrap_or("the target"),
                self.flow
            ),
        }
    }
}

/// `user@host` of the operator running a command.
fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .or_else(user_from_uid)
        .unwrap_or_else(|| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host}")
}

/// The name of this process's user from `/etc/passwd` (services and containers often have no `USER`).
fn user_from_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut fields = l.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_string())
    })
}

/// Epoch ms as an RFC 3339 UTC time (seconds).
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[derive(Debug, thiserror::Error)]
pub enum FlowStateError {
    #[error("reading {FLOW_STATE_TOPIC}: {0}")]
    Read(String),
    #[error("writing {FLOW_STATE_TOPIC}: {0}")]
    Write(String),
}

/// The latest state of every flow recorded in `client`'s cluster. A missing topic means no decisions.
pub async fn read_flow_states(
    client: &Client,
) -> Result<BTreeMap<String, FlowState>, FlowStateError> {
    let records = read_to_end(client, FLOW_STATE_TOPIC, READ_TIMEOUT)
        .await
        .map_err(|e| FlowStateError::Read(e.to_string()))?;
    let mut out = BTreeMap::new();
    for record in records.into_values().flatten() {
        let Some(key) = record.key.as_deref() else {
            continue;
        };
        let flow = String::from_utf8_lossy(key).to_string();
        match record
            .value
            .as_deref()
            .map(serde_json::from_slice::<FlowState>)
        {
            Some(Ok(state)) => {
                out.insert(flow, state);
            }
            // A tombstone lifts whatever was recorded.
            None => {
                out.remove(&flow);
            }
            Some(Err(e)) => {
                tracing::warn!(flow, error = %e, "skipping a flow-state record that does not decode");
            }
        }
    }
    Ok(out)
}

/// The latest state of flow `name` (replicating when nothing was recorded).
pub async fn read_flow_state(client: &Client, name: &str) -> Result<FlowState, FlowStateError> {
    Ok(read_flow_states(client)
        .await?
        .remove(name)
        .unwrap_or_else(|| FlowState {
            flow: name.to_string(),
            phase: FlowPhase::Replicating,
            at_ms: 0,
            by: String::new(),
            command: String::new(),
            positions: BTreeMap::new(),
            failback: None,
        }))
}

/// Records `state` in `client`'s cluster (the flow's target), creating the topic when needed.
pub async fn write_flow_state(client: &Client, state: &FlowState) -> Result<(), FlowStateError> {
    let fail = |e: String| FlowStateError::Write(e);
    let admin = Admin::new(client.clone());
    ensure_internal_topic(&admin, FLOW_STATE_TOPIC, SINGLE_PARTITION, true, None)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let value = serde_json::to_vec(state).map_err(|e| fail(e.to_string()))?;
    let batch = encode_batch(&[OutRecord {
        key: Some(Bytes::from(state.flow.clone().into_bytes())),
        value: Some(Bytes::from(value)),
        timestamp: now_ms(),
    }])
    .map_err(|e| fail(e.to_string()))?;
    let producer = client
        .idempotent_producer()
        .await
        .map_err(|e| fail(e.to_string()))?;
    producer
        .send(TopicPartition::new(FLOW_STATE_TOPIC, 0), batch)
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_as_json() {
        let mut s = FlowState::new("A->B", FlowPhase::FailedOver, "kmirror failover");
        s.positions.insert("orders-0".into(), (120, 118));
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"phase\":\"failed-over\""), "{json}");
        let back: FlowState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert!(back.is_fenced());
        assert!(
            back.describe()
                .contains("kmirror unfence --config FILE --flow A->B")
        );
    }

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_796_529_131_000), "2026-12-06T03:52:11Z");
        assert_eq!(format_time(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}

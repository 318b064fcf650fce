//! The one place that decides whether a source topic is mirrored by a flow, and under which name — MM2's
//! `shouldReplicateTopic`: (filter accepts OR heartbeats topic with heartbeat replication on) AND NOT internal AND
//! NOT a cycle. The reason for a skip is kept so operators can be told why (`kmirror validate`, status page).

use std::fmt;

use super::filter::FilterRejection;
use crate::config::FlowConfig;

/// What a flow does with one source topic (or group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Mirror it as `target_name` on the target cluster.
    Replicate {
        /// The remote topic name.
        target_name: String,
    },
    /// Leave it alone.
    Skip {
        /// Why, readable by an operator.
        reason: SkipReason,
    },
}

impl Decision {
    /// Whether the topic is mirrored.
    pub fn is_replicate(&self) -> bool {
        matches!(self, Decision::Replicate { .. })
    }
}

/// Why a topic or group is not mirrored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// An internal topic (`__*`, `.*`, `*.internal`, `*-internal`): never mirrored.
    Internal {
        /// The rule that matched.
        rule: &'static str,
    },
    /// The topic's name chain says it came from the target: mirroring it back would loop.
    Cycle {
        /// The flow's target alias.
        target: String,
        /// The name in the chain whose source is the target.
        hop: String,
    },
    /// The include/exclude filter rejected it.
    Filtered(FilterRejection),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Internal { rule } => write!(
                f,
                "internal topic: {rule}; internal topics are never mirrored"
            ),
            SkipReason::Cycle { target, hop } if hop.is_empty() => {
                write!(
                    f,
                    "it came from `{target}`, the target; mirroring it back would loop"
                )
            }
            SkipReason::Cycle { target, hop } => write!(
                f,
                "`{hop}` came from `{target}`, the target of this flow; mirroring it back would loop"
            ),
            SkipReason::Filtered(r) => r.fmt(f),
        }
    }
}

/// Whether `flow` mirrors the source topic `topic`, and as what. Does not look at `flow.enabled`: a disabled flow
/// still answers what it would do.
pub fn should_replicate_topic(flow: &FlowConfig, topic: &str) -> Decision {
    let policy = &flow.policy;
    if let Some(rule) = policy.internal_reason(topic) {
        return Decision::Skip {
            reason: SkipReason::Internal { rule },
        };
    }
    if let Some(hop) = policy.cycle_hop(topic, &flow.target) {
        return Decision::Skip {
            reason: SkipReason::Cycle {
                target: flow.target.clone(),
                hop: hop.to_owned(),
            },
        };
    }
    let heartbeat_bypass = flow.heartbeats_replication_enabled && policy.is_heartbeats_topic(topic);
    if !heartbeat_bypass && let Err(rejection) = flow.topics.check(topic) {
        return Decision::Skip {
            reason: SkipReason::Filtered(rejection),
        };
    }
    Decision::Replicate {
        target_name: policy.format_remote_topic(&flow.source, topic),
    }
}

/// Whether `flow` considers consumer group `group` for checkpoints and offset sync. MM2 additionally requires the
/// group to have committed offsets on a topic the flow mirrors; that needs the cluster and is decided at runtime.
pub fn should_replicate_group(flow: &FlowConfig, group: &str) -> Result<(), FilterRejection> {
    flow.groups.check(group)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::policy::{DEFAULT_TOPICS_EXCLUDE, PolicyKind, ReplicationPolicy, TopicFilter};

    fn flow_with(extra: &str) -> FlowConfig {
        let text = format!(
            "clusters = source, target\nsource.bootstrap.servers = s:9092\ntarget.bootstrap.servers = t:9092\n\
             source->target.enabled = true\n{extra}\n"
        );
        let config = Config::from_properties_str(&text).unwrap();
        config.flow("source", "target").unwrap().clone()
    }

    fn target_name(d: Decision) -> String {
        match d {
            Decision::Replicate { target_name } => target_name,
            Decision::Skip { reason } => panic!("skipped: {reason}"),
        }
    }

    fn reject_all() -> TopicFilter {
        TopicFilter::from_lists::<&str, _>(&[], DEFAULT_TOPICS_EXCLUDE).unwrap()
    }

    // MirrorSourceConnectorTest.testReplicatesHeartbeatsByDefault / DespiteFilter
    #[test]
    fn heartbeats_bypass_the_filter() {
        let mut flow = flow_with("");
        flow.topics = reject_all();
        assert_eq!(
            target_name(should_replicate_topic(&flow, "heartbeats")),
            "source.heartbeats"
        );
        assert_eq!(
            target_name(should_replicate_topic(&flow, "us-west.heartbeats")),
            "source.us-west.heartbeats"
        );
        assert!(!should_replicate_topic(&flow, "orders").is_replicate());

        flow.policy = ReplicationPolicy::new(PolicyKind::Default).with_separator("_");
        assert!(!should_replicate_topic(&flow, "us-west.heartbeats").is_replicate());
        assert!(should_replicate_topic(&flow, "heartbeats").is_replicate());
    }

    // testDoesNotReplicateHeartbeatsWhenDisabled / testReplicatesHeartbeatsWhenDisabledButFilterAllows
    #[test]
    fn heartbeats_follow_the_filter_when_replication_is_off() {
        let mut flow = flow_with("heartbeats.replication.enabled = false");
        assert!(!flow.heartbeats_replication_enabled);
        flow.topics = reject_all();
        assert!(!should_replicate_topic(&flow, "heartbeats").is_replicate());
        assert!(!should_replicate_topic(&flow, "us-west.heartbeats").is_replicate());
        flow.topics = TopicFilter::from_lists(&[".*"], DEFAULT_TOPICS_EXCLUDE).unwrap();
        assert!(should_replicate_topic(&flow, "heartbeats").is_replicate());
        assert!(should_replicate_topic(&flow, "us-west.heartbeats").is_replicate());
    }

    // testNoCycles, with readable reasons
    #[test]
    fn cycles_are_skipped_with_a_reason() {
        let flow = flow_with("");
        let d = should_replicate_topic(&flow, "source.target.topic1");
        let Decision::Skip { reason } = d else {
            panic!("{d:?}")
        };
        assert_eq!(
            reason,
            SkipReason::Cycle {
                target: "target".into(),
                hop: "target.topic1".into()
            }
        );
        assert_eq!(
            reason.to_string(),
            "`target.topic1` came from `target`, the target of this flow; mirroring it back would loop"
        );
        assert_eq!(
            target_name(should_replicate_topic(&flow, "source.topic1")),
            "source.source.topic1"
        );
    }

    // testIdentityReplication
    #[test]
    fn identity_flow() {
        let flow = flow_with(
            "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        );
        for t in [
            "topic1",
            "source.topic1",
            "target.topic1",
            "othersource.topic1",
        ] {
            assert_eq!(target_name(should_replicate_topic(&flow, t)), t);
        }
        assert_eq!(
            target_name(should_replicate_topic(&flow, "heartbeats")),
            "source.heartbeats"
        );
        assert_eq!(
            target_name(should_replicate_topic(&flow, "othersource.heartbeats")),
            "source.othersource.heartbeats"
        );
        for t in [
            "target.heartbeats",
            "target.source.heartbeats",
            "source.target.heartbeats",
        ] {
            assert!(!should_replicate_topic(&flow, t).is_replicate(), "{t}");
        }
    }

    #[test]
    fn internal_and_schema_topics() {
        let flow = flow_with("");
        let d = should_replicate_topic(&flow, "__consumer_offsets");
        let Decision::Skip { reason } = d else {
            panic!()
        };
        assert!(reason.to_string().contains("`__`"), "{reason}");
        // Internal beats a filter that selects it explicitly.
        let explicit = flow_with(
            "topics = __consumer_offsets, mm2-offset-syncs.target.internal\ntopics.exclude =",
        );
        assert!(!should_replicate_topic(&explicit, "__consumer_offsets").is_replicate());
        assert!(
            !should_replicate_topic(&explicit, "mm2-offset-syncs.target.internal").is_replicate()
        );
        for t in [
            "_schemas",
            "connect-configs",
            "connect-offsets",
            "connect-status",
        ] {
            assert_eq!(
                target_name(should_replicate_topic(&flow, t)),
                format!("source.{t}")
            );
        }
        let only_orders = flow_with("topics = orders");
        let Decision::Skip { reason } = should_replicate_topic(&only_orders, "_schemas") else {
            panic!()
        };
        assert_eq!(reason.to_string(), "not selected by `topics` = `orders`");
    }

    #[test]
    fn groups() {
        let flow = flow_with("groups = app-.*");
        assert!(should_replicate_group(&flow, "app-1").is_ok());
        assert!(should_replicate_group(&flow, "other").is_err());
        let d = flow_with("");
        assert!(should_replicate_group(&d, "console-consumer-42").is_err());
    }
}

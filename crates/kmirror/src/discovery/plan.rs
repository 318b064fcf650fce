//! Pure decisions about a remote topic's shape: which replication factor to create it with, how far
//! `min.insync.replicas` may go, and how the set of source topics changed since the last look.

use std::collections::BTreeMap;

/// The replication factor to ask the target for, and why it differs from what was wanted (if it does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RfPlan {
    /// What goes into CreateTopics; -1 lets the target broker pick (`default.replication.factor`).
    pub replication_factor: i16,
    /// Set when the wanted factor was lowered to fit the target; names the topic.
    pub warning: Option<String>,
}

/// The replication factor for a new remote topic: the flow's `replication.factor` if set (`-1` = the target
/// broker's default), else the source topic's. A factor the target cannot place (more than its brokers) is
/// lowered to the broker count with a warning rather than failing the creation: the topic still mirrors, and
/// the operator learns the copy is less redundant than the source.
pub fn plan_replication_factor(
    target_topic: &str,
    configured: Option<i32>,
    source_rf: i32,
    target_brokers: usize,
) -> RfPlan {
    let (wanted, from) = match configured {
        Some(rf) if rf <= 0 => {
            return RfPlan {
                replication_factor: -1,
                warning: None,
            };
        }
        Some(rf) => (rf, "replication.factor"),
        None => (source_rf.max(1), "the source topic"),
    };
    let brokers = i32::try_from(target_brokers).unwrap_or(i32::MAX);
    let (rf, warning) = if brokers > 0 && wanted > brokers {
        (
            brokers,
            Some(format!(
                "topic '{target_topic}': replication factor {wanted} (from {from}) is more than the target's \
                 {brokers} broker(s); creating it with {brokers}. Add brokers and reassign partitions to restore it"
            )),
        )
    } else {
        (wanted, None)
    };
    RfPlan {
        replication_factor: i16::try_from(rf).unwrap_or(i16::MAX),
        warning,
    }
}

/// `min.insync.replicas` for a topic with `replication_factor` replicas: a value above the factor would make
/// every `acks=all` write fail, so it is lowered to the factor with a warning naming the topic. Values that
/// are not numbers are passed on for the broker to judge.
pub fn clamp_min_insync(
    target_topic: &str,
    value: &str,
    replication_factor: i32,
) -> (String, Option<String>) {
    match value.trim().parse::<i32>() {
        Ok(v) if replication_factor > 0 && v > replication_factor => (
            replication_factor.to_string(),
            Some(format!(
                "topic '{target_topic}': min.insync.replicas {v} from the source is more than its replication \
                 factor {replication_factor} on the target; using {replication_factor} so writes stay possible"
            )),
        ),
        _ => (value.to_string(), None),
    }
}

/// The replication factor a topic has, from its partitions' replica lists. The smallest list is taken: a
/// partition being reassigned temporarily lists extra replicas.
pub fn replication_factor_of<'a>(replica_counts: impl IntoIterator<Item = &'a Vec<i32>>) -> i32 {
    replica_counts
        .into_iter()
        .map(|r| i32::try_from(r.len()).unwrap_or(i32::MAX))
        .filter(|n| *n > 0)
        .min()
        .unwrap_or(0)
}

/// How the selected source topics changed between two looks (topic → partition count).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicDiff {
    /// Not seen before.
    pub added: Vec<String>,
    /// Seen with a different partition count: (topic, before, now).
    pub resized: Vec<(String, i32, i32)>,
    /// Seen before, gone now.
    pub removed: Vec<String>,
}

impl TopicDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.resized.is_empty() && self.removed.is_empty()
    }
}

/// Compares the previous and the current selection (both topic → partition count).
pub fn diff_topics(known: &BTreeMap<String, i32>, current: &BTreeMap<String, i32>) -> TopicDiff {
    let mut diff = TopicDiff::default();
    for (topic, &now) in current {
        match known.get(topic) {
            None => diff.added.push(topic.clone()),
            Some(&before) if before != now => diff.resized.push((topic.clone(), before, now)),
            Some(_) => {}
        }
    }
    diff.removed = known
        .keys()
        .filter(|t| !current.contains_key(*t))
        .cloned()
        .collect();
    diff
}

/// What the target topic needs so every source partition has a home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionAction {
    /// The target topic does not exist: create it with this many partitions.
    Create(i32),
    /// The target has fewer partitions: grow it to this total.
    Grow { from: i32, to: i32 },
    /// Same count.
    Nothing,
    /// The target has more partitions than the source; the extra ones never receive mirrored data.
    TargetHasMore { source: i32, target: i32 },
}

/// Compares partition counts (target `None` = the topic is missing). Partitions are only ever added.
pub fn partition_action(source: i32, target: Option<i32>) -> PartitionAction {
    match target {
        None => PartitionAction::Create(source),
        Some(t) if t < source => PartitionAction::Grow {
            from: t,
            to: source,
        },
        Some(t) if t > source => PartitionAction::TargetHasMore { source, target: t },
        Some(_) => PartitionAction::Nothing,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rf_follows_source_unless_configured() {
        let p = plan_replication_factor("A.t", None, 3, 5);
        assert_eq!(
            p,
            RfPlan {
                replication_factor: 3,
                warning: None
            }
        );
        let p = plan_replication_factor("A.t", Some(2), 3, 5);
        assert_eq!(p.replication_factor, 2);
        assert!(p.warning.is_none());
        let p = plan_replication_factor("A.t", Some(-1), 3, 1);
        assert_eq!(
            p,
            RfPlan {
                replication_factor: -1,
                warning: None
            }
        );
    }

    #[test]
    fn rf_is_clamped_to_the_target_brokers_with_a_warning() {
        let p = plan_replication_factor("A.orders", None, 3, 1);
        assert_eq!(p.replication_factor, 1);
        let w = p.warning.unwrap();
        assert!(
            w.contains("'A.orders'") && w.contains("3") && w.contains("source topic"),
            "{w}"
        );
        let p = plan_replication_factor("A.orders", Some(4), 1, 2);
        assert_eq!(p.replication_factor, 2);
        assert!(p.warning.unwrap().contains("replication.factor"));
        // Unknown broker count (0): nothing to clamp against.
        assert_eq!(
            plan_replication_factor("t", None, 3, 0).replication_factor,
            3
        );
        // A source topic without replicas listed still gets a valid factor.
        assert_eq!(
            plan_replication_factor("t", None, 0, 3).replication_factor,
            1
        );
    }

    #[test]
    fn min_insync_is_clamped_to_the_replication_factor() {
        assert_eq!(clamp_min_insync("t", "2", 3), ("2".to_string(), None));
        assert_eq!(clamp_min_insync("t", "3", 3), ("3".to_string(), None));
        let (v, w) = clamp_min_insync("A.t", "2", 1);
        assert_eq!(v, "1");
        let w = w.unwrap();
        assert!(
            w.contains("'A.t'") && w.contains("min.insync.replicas 2"),
            "{w}"
        );
        // Unknown factor or a value the broker should judge: unchanged.
        assert_eq!(clamp_min_insync("t", "5", -1).0, "5");
        assert_eq!(clamp_min_insync("t", "x", 1).0, "x");
    }

    #[test]
    fn rf_of_a_topic_ignores_reassignment_extras() {
        let parts = [vec![1, 2, 3], vec![1, 2, 3, 4], vec![2, 3, 4]];
        assert_eq!(replication_factor_of(parts.iter()), 3);
        assert_eq!(replication_factor_of([].iter()), 0);
    }

    #[test]
    fn topic_diff() {
        let known: BTreeMap<String, i32> =
            [("a".into(), 1), ("b".into(), 2), ("gone".into(), 3)].into();
        let current: BTreeMap<String, i32> =
            [("a".into(), 1), ("b".into(), 4), ("new".into(), 6)].into();
        let d = diff_topics(&known, &current);
        assert_eq!(d.added, vec!["new".to_string()]);
        assert_eq!(d.resized, vec![("b".to_string(), 2, 4)]);
        assert_eq!(d.removed, vec!["gone".to_string()]);
        assert!(!d.is_empty());
        assert!(diff_topics(&current, &current).is_empty());
    }

    #[test]
    fn partitions_are_only_added() {
        assert_eq!(partition_action(3, None), PartitionAction::Create(3));
        assert_eq!(
            partition_action(11, Some(10)),
            PartitionAction::Grow { from: 10, to: 11 }
        );
        assert_eq!(partition_action(3, Some(3)), PartitionAction::Nothing);
        assert_eq!(
            partition_action(3, Some(5)),
            PartitionAction::TargetHasMore {
                source: 3,
                target: 5
            }
        );
    }
}

//! Which translated offsets to write into a consumer group on the target (MM2's `syncGroupOffset`): only for
//! groups with no members there, and only where that moves the group forward — a group that already read
//! further on the target is never rewound.

use std::collections::BTreeMap;

use kmirror_kafka::TopicPartition;
use kmirror_kafka::admin::GroupOffset;

use crate::mm2::Checkpoint;

/// The offsets to commit for a group that is empty or absent on the target: every checkpointed partition
/// where the target has no committed offset or a lower one.
pub fn offsets_to_write<'a>(
    checkpoints: impl IntoIterator<Item = &'a Checkpoint>,
    target: &BTreeMap<TopicPartition, GroupOffset>,
) -> BTreeMap<TopicPartition, GroupOffset> {
    checkpoints
        .into_iter()
        .filter_map(|c| {
            let tp = TopicPartition::new(c.topic.clone(), c.partition);
            let behind = target
                .get(&tp)
                .is_none_or(|current| current.offset < c.downstream_offset);
            behind.then(|| {
                (
                    tp,
                    GroupOffset {
                        offset: c.downstream_offset,
                        leader_epoch: None,
                        metadata: (!c.metadata.is_empty()).then(|| c.metadata.clone()),
                    },
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(partition: i32, down: i64) -> Checkpoint {
        Checkpoint {
            group: "g".into(),
            topic: "A.t".into(),
            partition,
            upstream_offset: down + 7,
            downstream_offset: down,
            metadata: if partition == 0 {
                "m".into()
            } else {
                String::new()
            },
        }
    }

    // MirrorCheckpointTaskTest.testSyncOffset / ...WithNullOffsetAndMetadata: 100 -> 101, 50 -> 51, none -> 101.
    #[test]
    fn behind_or_missing_partitions_are_written_and_ahead_ones_never_rewound() {
        let target: BTreeMap<TopicPartition, GroupOffset> = [
            (TopicPartition::new("A.t", 0), GroupOffset::new(100)),
            (TopicPartition::new("A.t", 1), GroupOffset::new(50)),
            (TopicPartition::new("A.t", 3), GroupOffset::new(900)),
            (TopicPartition::new("A.t", 4), GroupOffset::new(300)),
        ]
        .into_iter()
        .collect();
        let cps = [cp(0, 101), cp(1, 51), cp(2, 101), cp(3, 500), cp(4, 300)];
        let out = offsets_to_write(&cps, &target);
        let got: Vec<(i32, i64)> = out.iter().map(|(tp, o)| (tp.partition, o.offset)).collect();
        assert_eq!(got, vec![(0, 101), (1, 51), (2, 101)]);
        assert_eq!(
            out[&TopicPartition::new("A.t", 0)].metadata.as_deref(),
            Some("m"),
            "commit metadata travels with the offset"
        );
        assert_eq!(out[&TopicPartition::new("A.t", 1)].metadata, None);
    }
}

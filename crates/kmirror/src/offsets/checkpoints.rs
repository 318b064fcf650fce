//! The latest checkpoint of every (group, target partition), as in `<source>.checkpoints.internal`, and
//! MM2's rule for when a new one is written: never backwards unless the group itself went back.

use std::collections::BTreeMap;

use kmirror_kafka::TopicPartition;

use crate::internal_records::InRecord;
use crate::mm2::Checkpoint;

/// Latest checkpoints by (group, target topic-partition). Loaded from the checkpoints topic at start so the
/// monotonic rule holds across restarts (and across a switch from MirrorMaker 2).
#[derive(Debug, Clone, Default)]
pub struct CheckpointStore {
    latest: BTreeMap<(String, TopicPartition), Checkpoint>,
}

impl CheckpointStore {
    /// From the records of the checkpoints topic, oldest first: the latest per key wins, a tombstone
    /// forgets the key, records that do not decode are skipped (MM2's `CheckpointStore` does the same).
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a InRecord>) -> (Self, usize) {
        let mut store = Self::default();
        let mut malformed = 0;
        for r in records {
            let Some(key) = r.key.as_deref() else {
                malformed += 1;
                continue;
            };
            let Some(value) = r.value.as_deref() else {
                if let Ok((group, tp)) = decode_key(key) {
                    store.latest.remove(&(group, tp));
                }
                continue;
            };
            match Checkpoint::decode(key, value) {
                Ok(c) => store.insert(c),
                Err(_) => malformed += 1,
            }
        }
        (store, malformed)
    }

    /// MM2's rule (`MirrorCheckpointTask.checkpointsForGroup`): write `c` if it is the first for its key, the
    /// group's source offset went down (so the target offset may too), or the target offset went up.
    pub fn should_emit(&self, c: &Checkpoint) -> bool {
        match self.latest.get(&key_of(c)) {
            None => true,
            Some(prev) => {
                c.upstream_offset < prev.upstream_offset
                    || c.downstream_offset > prev.downstream_offset
            }
        }
    }

    pub fn insert(&mut self, c: Checkpoint) {
        self.latest.insert(key_of(&c), c);
    }

    /// The latest checkpoints of one group.
    pub fn group<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a Checkpoint> + 'a {
        let from = (group.to_string(), TopicPartition::new("", i32::MIN));
        self.latest
            .range(from..)
            .take_while(move |((g, _), _)| g == group)
            .map(|(_, c)| c)
    }

    /// Every group with at least one checkpoint.
    pub fn groups(&self) -> Vec<String> {
        let mut out: Vec<String> = self.latest.keys().map(|(g, _)| g.clone()).collect();
        out.dedup();
        out
    }

    pub fn len(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }
}

fn key_of(c: &Checkpoint) -> (String, TopicPartition) {
    (
        c.group.clone(),
        TopicPartition::new(c.topic.clone(), c.partition),
    )
}

fn decode_key(key: &[u8]) -> Result<(String, TopicPartition), crate::mm2::Mm2CodecError> {
    // A key with an empty value decodes through a dummy value of the right shape.
    let c = Checkpoint::decode(key, &[0; 20])?;
    Ok((c.group, TopicPartition::new(c.topic, c.partition)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn cp(group: &str, partition: i32, up: i64, down: i64) -> Checkpoint {
        Checkpoint {
            group: group.into(),
            topic: "A.t".into(),
            partition,
            upstream_offset: up,
            downstream_offset: down,
            metadata: String::new(),
        }
    }

    fn record(offset: i64, c: &Checkpoint, tombstone: bool) -> InRecord {
        InRecord {
            offset,
            key: Some(Bytes::from(c.encode_key().expect("key"))),
            value: (!tombstone).then(|| Bytes::from(c.encode_value().expect("value"))),
            timestamp: 0,
        }
    }

    // MirrorCheckpointTaskTest.testCheckpointRecordsMonotonicIfStoreRewinds and
    // testCheckpointsTaskRestartUsesExistingCheckpoints.
    #[test]
    fn checkpoints_never_go_back_unless_the_group_did() {
        let mut s = CheckpointStore::default();
        assert!(s.should_emit(&cp("g", 0, 13, 6)), "first one");
        s.insert(cp("g", 0, 13, 6));
        assert!(
            !s.should_emit(&cp("g", 0, 13, 5)),
            "target offset went down"
        );
        assert!(!s.should_emit(&cp("g", 0, 13, 6)), "nothing new");
        assert!(
            !s.should_emit(&cp("g", 0, 14, 6)),
            "group moved, target did not"
        );
        assert!(s.should_emit(&cp("g", 0, 14, 7)));
        assert!(
            s.should_emit(&cp("g", 0, 12, 5)),
            "the group itself went back"
        );
        assert!(s.should_emit(&cp("g", 1, 0, 0)), "another partition");
        assert!(s.should_emit(&cp("h", 0, 13, 6)), "another group");
        // after a restart, read back: 250 -> 201 stored; 370 -> 176 is suppressed, 400 -> 376 emitted
        let stored = cp("g", 0, 250, 201);
        let (s, bad) = CheckpointStore::from_records(&[record(0, &stored, false)]);
        assert_eq!(bad, 0);
        assert!(!s.should_emit(&cp("g", 0, 370, 176)));
        assert!(s.should_emit(&cp("g", 0, 400, 376)));
    }

    // CheckpointStoreTest.testReadCheckpointsTopic: latest wins, malformed skipped.
    #[test]
    fn loading_keeps_the_latest_and_skips_junk() {
        let junk = InRecord {
            offset: 2,
            key: Some(Bytes::from_static(b"\x00")),
            value: Some(Bytes::new()),
            timestamp: 0,
        };
        let records = [
            record(0, &cp("g", 0, 1, 1), false),
            record(1, &cp("g", 0, 5, 4), false),
            junk,
            record(3, &cp("g", 1, 7, 7), false),
            record(4, &cp("g", 1, 7, 7), true),
            record(5, &cp("h", 0, 9, 9), false),
        ];
        let (s, bad) = CheckpointStore::from_records(&records);
        assert_eq!(bad, 1);
        assert_eq!(s.len(), 2);
        assert_eq!(s.group("g").collect::<Vec<_>>(), vec![&cp("g", 0, 5, 4)]);
        assert_eq!(s.groups(), vec!["g".to_string(), "h".to_string()]);
        assert_eq!(s.group("x").count(), 0);
    }
}

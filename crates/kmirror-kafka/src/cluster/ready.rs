//! Waiting for topics that were just created or grown: CreateTopics and CreatePartitions answer once the
//! controller has recorded the change, but brokers learn of it a moment later. A Produce, ListOffsets or
//! Metadata request in that moment says "unknown topic", which is not an error worth a restart.

use std::time::{Duration, Instant};

use super::{Client, Metadata};
use crate::error::Error;

/// First wait between metadata reads; it doubles up to [`MAX_STEP`].
const FIRST_STEP: Duration = Duration::from_millis(10);
const MAX_STEP: Duration = Duration::from_millis(250);

impl Client {
    /// Waits until fresh metadata shows each `(topic, partitions)` with at least that many partitions, every
    /// one with a leader, for at most `within`. Returns the topics still not ready then (empty when all are);
    /// the metadata cache is up to date for the ready ones, so routing to their leaders works at once.
    pub async fn wait_for_topics(
        &self,
        topics: &[(String, i32)],
        within: Duration,
    ) -> Result<Vec<String>, Error> {
        let deadline = Instant::now() + within;
        let mut pending: Vec<(String, i32)> = topics.to_vec();
        let mut step = FIRST_STEP;
        loop {
            let names: Vec<String> = pending.iter().map(|(t, _)| t.clone()).collect();
            let md = self.metadata(Some(&names)).await?;
            pending.retain(|(t, n)| !is_ready(&md, t, *n));
            if pending.is_empty() || Instant::now() + step > deadline {
                return Ok(pending.into_iter().map(|(t, _)| t).collect());
            }
            tokio::time::sleep(step).await;
            step = (step * 2).min(MAX_STEP);
        }
    }
}

/// The topic has partitions `0..partitions`, each with a leader.
fn is_ready(md: &Metadata, topic: &str, partitions: i32) -> bool {
    md.topics.get(topic).is_some_and(|t| {
        (0..partitions).all(|p| t.partitions.get(&p).is_some_and(|m| m.leader >= 0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{PartitionMetadata, TopicMetadata};

    fn with_topic(leaders: &[i32]) -> Metadata {
        let mut md = Metadata::default();
        md.topics.insert(
            "t".into(),
            TopicMetadata {
                name: "t".into(),
                topic_id: uuid::Uuid::nil(),
                is_internal: false,
                partitions: leaders
                    .iter()
                    .enumerate()
                    .map(|(p, &leader)| {
                        let p = p as i32;
                        (
                            p,
                            PartitionMetadata {
                                partition: p,
                                leader,
                                leader_epoch: 0,
                                replicas: vec![1],
                                isr: vec![1],
                            },
                        )
                    })
                    .collect(),
            },
        );
        md
    }

    #[test]
    fn ready_needs_every_partition_with_a_leader() {
        assert!(is_ready(&with_topic(&[1, 1]), "t", 2));
        assert!(!is_ready(&with_topic(&[1, -1]), "t", 2));
        assert!(
            !is_ready(&with_topic(&[1]), "t", 2),
            "partition 1 not there yet"
        );
        assert!(!is_ready(&with_topic(&[1]), "other", 1));
        assert!(is_ready(&with_topic(&[1, 1, 1]), "t", 2));
    }
}

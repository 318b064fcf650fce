//! The cluster as a Metadata response describes it, in plain owned types.

use std::collections::BTreeMap;

use kafka_protocol::messages::MetadataResponse;
use uuid::Uuid;

/// A snapshot of cluster metadata. Topics that the broker reported with an error (unknown, not
/// authorized) are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub cluster_id: Option<String>,
    /// In KRaft clusters this is a broker that forwards to the active controller.
    pub controller_id: i32,
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub topics: BTreeMap<String, TopicMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`, the key of the connection pool.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    pub name: String,
    /// Changes when a topic is deleted and created again under the same name.
    pub topic_id: Uuid,
    pub is_internal: bool,
    pub partitions: BTreeMap<i32, PartitionMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    pub partition: i32,
    /// -1 while the partition has no leader.
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

impl Metadata {
    pub(crate) fn from_response(resp: &MetadataResponse) -> Self {
        let brokers = resp
            .brokers
            .iter()
            .map(|b| {
                (
                    b.node_id.0,
                    BrokerInfo {
                        node_id: b.node_id.0,
                        host: b.host.to_string(),
                        port: b.port,
                        rack: b.rack.as_ref().map(|r| r.to_string()),
                    },
                )
            })
            .collect();
        let topics = resp
            .topics
            .iter()
            .filter(|t| t.error_code == 0)
            .filter_map(|t| {
                let name = t.name.as_ref()?.0.to_string();
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        (
                            p.partition_index,
                            PartitionMetadata {
                                partition: p.partition_index,
                                leader: p.leader_id.0,
                                leader_epoch: p.leader_epoch,
                                replicas: p.replica_nodes.iter().map(|n| n.0).collect(),
                                isr: p.isr_nodes.iter().map(|n| n.0).collect(),
                            },
                        )
                    })
                    .collect();
                Some((
                    name.clone(),
                    TopicMetadata {
                        name,
                        topic_id: t.topic_id,
                        is_internal: t.is_internal,
                        partitions,
                    },
                ))
            })
            .collect();
        Metadata {
            cluster_id: resp.cluster_id.as_ref().map(|c| c.to_string()),
            controller_id: resp.controller_id.0,
            brokers,
            topics,
        }
    }

    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionMetadata> {
        self.topics.get(topic)?.partitions.get(&partition)
    }

    /// Topic name for a topic id (Fetch and Produce v13+ answer with ids only).
    pub fn topic_name(&self, id: Uuid) -> Option<&str> {
        self.topics
            .values()
            .find(|t| t.topic_id == id)
            .map(|t| t.name.as_str())
    }

    /// This snapshot with `fresh` applied: brokers and controller replaced; topics in `requested` (or
    /// all topics when `None`) replaced by what `fresh` says, including their disappearance.
    pub(crate) fn merged(&self, fresh: &Metadata, requested: Option<&[String]>) -> Metadata {
        let topics = match requested {
            None => fresh.topics.clone(),
            Some(names) => {
                let mut topics = self.topics.clone();
                for n in names {
                    match fresh.topics.get(n) {
                        Some(t) => topics.insert(n.clone(), t.clone()),
                        None => topics.remove(n),
                    };
                }
                topics
            }
        };
        Metadata {
            cluster_id: fresh.cluster_id.clone(),
            controller_id: fresh.controller_id,
            brokers: fresh.brokers.clone(),
            topics,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str, parts: i32) -> TopicMetadata {
        TopicMetadata {
            name: name.into(),
            topic_id: Uuid::new_v4(),
            is_internal: false,
            partitions: (0..parts)
                .map(|p| {
                    (
                        p,
                        PartitionMetadata {
                            partition: p,
                            leader: 1,
                            leader_epoch: 0,
                            replicas: vec![1],
                            isr: vec![1],
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn merge_replaces_requested_topics_only() {
        let mut old = Metadata::default();
        old.topics.insert("a".into(), topic("a", 1));
        old.topics.insert("b".into(), topic("b", 1));
        let mut fresh = Metadata {
            controller_id: 7,
            ..Default::default()
        };
        fresh.topics.insert("a".into(), topic("a", 3));
        let m = old.merged(&fresh, Some(&["a".to_string(), "gone".to_string()]));
        assert_eq!(m.topics["a"].partitions.len(), 3);
        assert!(m.topics.contains_key("b"));
        assert_eq!(m.controller_id, 7);
        let m = old.merged(&fresh, Some(&["b".to_string()]));
        assert!(
            !m.topics.contains_key("b"),
            "a requested topic missing from the answer is gone"
        );
        let all = old.merged(&fresh, None);
        assert_eq!(all.topics.keys().collect::<Vec<_>>(), vec!["a"]);
        let id = all.topics["a"].topic_id;
        assert_eq!(all.topic_name(id), Some("a"));
    }
}

//! The internal topics kmirror writes, created the way MM2 creates them (MirrorUtils), so MM2 tooling and a
//! later MM2 deployment find what they expect: heartbeats, `<src>.checkpoints.internal` and the offset-syncs
//! topic with 1 compacted partition, `mm2-offsets.<src>.internal` with 25.

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kmirror_kafka::admin::{Admin, NewTopic};
use tracing::{info, warn};

use super::error::DiscoveryError;

/// Partitions of MM2's heartbeats, checkpoints and offset-syncs topics.
pub const SINGLE_PARTITION: i32 = 1;
/// Partitions of Connect's offsets topic (`mm2-offsets.<src>.internal`), Connect's default.
pub const CONNECT_OFFSETS_PARTITIONS: i32 = 25;
/// The replication factor used when none is configured, capped by the broker count.
pub const DEFAULT_INTERNAL_RF: i32 = 3;
/// How long a topic kmirror just created may take to appear in the brokers' metadata before it is used
/// anyway (using it then fails and is retried like any other write).
pub const NEW_TOPIC_WAIT: Duration = Duration::from_secs(15);

/// How an internal topic came to be there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InternalTopicState {
    /// kmirror created it just now.
    Created {
        /// The factor the broker used.
        replication_factor: i16,
    },
    /// It was there already.
    Existed,
    /// The cluster would not say (no permission to create, or a broker too old): like MM2, kmirror goes on
    /// as if it existed; writing to it will tell.
    AssumedExisting {
        /// The refusal, for the log.
        reason: String,
    },
}

/// Makes sure internal topic `name` exists on the cluster behind `admin`: `partitions` partitions,
/// `cleanup.policy=compact` when `compacted`, replication factor `rf` or, when `None`, min(3, brokers).
/// TopicExists, UnsupportedVersion and cluster/topic authorization refusals count as "exists" (as in MM2);
/// an invalid config, a timeout or any other failure is an error.
pub async fn ensure_internal_topic(
    admin: &Admin,
    name: &str,
    partitions: i32,
    compacted: bool,
    rf: Option<i32>,
) -> Result<InternalTopicState, DiscoveryError> {
    let fail = |source, remedy| DiscoveryError::InternalTopic {
        topic: name.to_string(),
        source,
        remedy,
    };
    let metadata = admin
        .client()
        .metadata(Some(&[name.to_string()]))
        .await
        .map_err(|e| fail(e, ""))?;
    if metadata.topics.contains_key(name) {
        return Ok(InternalTopicState::Existed);
    }
    let rf = rf.unwrap_or_else(|| default_internal_rf(metadata.brokers.len()));
    let mut topic = NewTopic::new(name, partitions, i16::try_from(rf).unwrap_or(i16::MAX));
    if compacted {
        topic = topic.config("cleanup.policy", "compact");
    }
    let result = match admin.create_topics(std::slice::from_ref(&topic)).await {
        Ok(mut results) => match results.pop() {
            Some((_, r)) => r,
            None => return Err(fail(missing_result(name), "")),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(created) => {
            info!(
                topic = name,
                partitions = created.partitions,
                replication_factor = created.replication_factor,
                compacted,
                "created internal topic"
            );
            wait_until_usable(admin, name, created.partitions.max(partitions)).await;
            Ok(InternalTopicState::Created {
                replication_factor: created.replication_factor,
            })
        }
        Err(e) => match classify_create_error(&e) {
            CreateRefusal::Exists => {
                // Created a moment ago by someone else (another flow of this source, a restarted kmirror).
                wait_until_usable(admin, name, partitions).await;
                Ok(InternalTopicState::Existed)
            }
            CreateRefusal::AssumeExists => {
                warn!(
                    topic = name,
                    error = %e,
                    "cannot create internal topic; assuming it exists (create it with {partitions} partition(s){} if \
                     writes to it fail)",
                    if compacted { " and cleanup.policy=compact" } else { "" }
                );
                Ok(InternalTopicState::AssumedExisting {
                    reason: e.to_string(),
                })
            }
            CreateRefusal::Fatal => {
                let remedy = match e.code() {
                    Some(ResponseError::InvalidReplicationFactor) => {
                        "; lower the internal topic's replication factor setting to the broker count"
                    }
                    Some(ResponseError::InvalidConfig) => {
                        "; the cluster refuses the topic's settings"
                    }
                    _ => "",
                };
                Err(fail(e, remedy))
            }
        },
    }
}

/// A topic created a moment ago is not yet in every broker's metadata: wait for it (and a leader for each
/// partition) so its first use does not take it for missing. Not ready in time is only logged; the first
/// write then fails and is retried.
pub(crate) async fn wait_until_usable(admin: &Admin, name: &str, partitions: i32) {
    match admin
        .client()
        .wait_for_topics(&[(name.to_string(), partitions)], NEW_TOPIC_WAIT)
        .await
    {
        Ok(late) if late.is_empty() => {}
        Ok(_) => warn!(
            topic = name,
            "topic created but not in the cluster's metadata after {NEW_TOPIC_WAIT:?}; using it anyway"
        ),
        Err(e) => {
            warn!(topic = name, error = %e, "cannot read the metadata of a topic just created")
        }
    }
}

/// min(3, brokers), at least 1.
pub fn default_internal_rf(brokers: usize) -> i32 {
    i32::try_from(brokers)
        .unwrap_or(i32::MAX)
        .clamp(1, DEFAULT_INTERNAL_RF)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CreateRefusal {
    Exists,
    AssumeExists,
    Fatal,
}

/// MM2's MirrorUtils.createCompactedTopic: which CreateTopics failures still let an internal topic be used.
pub(crate) fn classify_create_error(e: &kmirror_kafka::Error) -> CreateRefusal {
    if matches!(e, kmirror_kafka::Error::UnsupportedVersion { .. }) {
        return CreateRefusal::AssumeExists;
    }
    match e.code() {
        Some(ResponseError::TopicAlreadyExists) => CreateRefusal::Exists,
        Some(
            ResponseError::UnsupportedVersion
            | ResponseError::ClusterAuthorizationFailed
            | ResponseError::TopicAuthorizationFailed,
        ) => CreateRefusal::AssumeExists,
        _ => CreateRefusal::Fatal,
    }
}

fn missing_result(name: &str) -> kmirror_kafka::Error {
    kmirror_kafka::Error::Protocol {
        broker: "(controller)".to_string(),
        api: "CreateTopics",
        message: format!("the response has no result for topic '{name}'"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn kafka(code: ResponseError) -> kmirror_kafka::Error {
        kmirror_kafka::Error::from_code(code.code(), || "create topic 'heartbeats'".into(), None)
            .unwrap()
    }

    // MirrorUtilsTest: TopicExists, UnsupportedVersion, ClusterAuthorization and TopicAuthorization are
    // "already exists"; InvalidConfiguration and Timeout are fatal.
    #[test]
    fn create_refusals_as_mm2() {
        assert_eq!(
            classify_create_error(&kafka(ResponseError::TopicAlreadyExists)),
            CreateRefusal::Exists
        );
        for code in [
            ResponseError::UnsupportedVersion,
            ResponseError::ClusterAuthorizationFailed,
            ResponseError::TopicAuthorizationFailed,
        ] {
            assert_eq!(
                classify_create_error(&kafka(code)),
                CreateRefusal::AssumeExists,
                "{code:?}"
            );
        }
        let old_broker = kmirror_kafka::Error::UnsupportedVersion {
            broker: "b:9092".into(),
            api: "CreateTopics",
            broker_min: 0,
            broker_max: 1,
            ours_min: 2,
            ours_max: 7,
        };
        assert_eq!(
            classify_create_error(&old_broker),
            CreateRefusal::AssumeExists
        );
        for code in [
            ResponseError::InvalidConfig,
            ResponseError::RequestTimedOut,
            ResponseError::InvalidReplicationFactor,
            ResponseError::PolicyViolation,
        ] {
            assert_eq!(
                classify_create_error(&kafka(code)),
                CreateRefusal::Fatal,
                "{code:?}"
            );
        }
        let timeout = kmirror_kafka::Error::Timeout {
            broker: "b:9092".into(),
            api: "CreateTopics",
            after: Duration::from_secs(30),
        };
        assert_eq!(classify_create_error(&timeout), CreateRefusal::Fatal);
    }

    #[test]
    fn default_rf_is_min_of_3_and_brokers() {
        assert_eq!(default_internal_rf(1), 1);
        assert_eq!(default_internal_rf(2), 2);
        assert_eq!(default_internal_rf(5), 3);
        assert_eq!(default_internal_rf(0), 1);
    }
}

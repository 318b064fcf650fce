//! Discovery's errors (a whole step failed) and per-topic problems (one topic is stuck, the rest go on).

use std::fmt;

use kafka_protocol::error::ResponseError;

/// A discovery step that could not run at all; the caller retries it on its next tick.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DiscoveryError {
    /// Listing the source cluster's topics failed.
    #[error("flow {flow}: cannot list the topics of source cluster '{cluster}': {source}")]
    SourceMetadata {
        /// `A->B`.
        flow: String,
        /// The source alias.
        cluster: String,
        /// What the client said.
        #[source]
        source: kmirror_kafka::Error,
    },
    /// Reading topic metadata on the target failed.
    #[error("flow {flow}: cannot read topic metadata of target cluster '{cluster}': {source}")]
    TargetMetadata {
        /// `A->B`.
        flow: String,
        /// The target alias.
        cluster: String,
        /// What the client said.
        #[source]
        source: kmirror_kafka::Error,
    },
    /// An admin call failed as a whole (not per topic).
    #[error("flow {flow}: {what} on cluster '{cluster}' failed: {source}")]
    Admin {
        /// `A->B`.
        flow: String,
        /// The alias of the cluster asked.
        cluster: String,
        /// What was attempted, e.g. "describe topic ACLs".
        what: String,
        /// What the client said.
        #[source]
        source: kmirror_kafka::Error,
    },
    /// An internal topic (heartbeats, checkpoints, offset-syncs, progress) cannot be made to exist.
    #[error("cannot create internal topic '{topic}': {source}{remedy}")]
    InternalTopic {
        /// The topic name.
        topic: String,
        /// What the client said.
        #[source]
        source: kmirror_kafka::Error,
        /// A hint for the operator (may be empty).
        remedy: &'static str,
    },
}

/// What went wrong with one topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The source topic's configs could not be read, so the remote topic was not created.
    DescribeSourceConfigs,
    /// The target refused to create the remote topic.
    CreateTopic,
    /// The target refused to add partitions.
    CreatePartitions,
    /// The target topic's configs could not be read.
    DescribeTargetConfigs,
    /// The target refused a config change.
    AlterConfigs,
    /// The target refused an ACL.
    CreateAcl,
}

impl ProblemKind {
    /// A short label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::DescribeSourceConfigs => "describe_source_configs",
            ProblemKind::CreateTopic => "create_topic",
            ProblemKind::CreatePartitions => "create_partitions",
            ProblemKind::DescribeTargetConfigs => "describe_target_configs",
            ProblemKind::AlterConfigs => "alter_configs",
            ProblemKind::CreateAcl => "create_acl",
        }
    }
}

/// One topic that could not be brought in line this round; it is retried on the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicProblem {
    /// The source topic.
    pub source_topic: String,
    /// Its remote name.
    pub target_topic: String,
    /// What failed.
    pub kind: ProblemKind,
    /// For the operator: what failed, on which cluster, and what to do.
    pub message: String,
}

impl fmt::Display for TopicProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What an operator can do about a refused topic operation, by broker error code.
pub(crate) fn remedy(
    error: &kmirror_kafka::Error,
    kind: ProblemKind,
    target_topic: &str,
    partitions: i32,
) -> String {
    let code = error.code();
    match (code, kind) {
        (Some(ResponseError::PolicyViolation), ProblemKind::CreateTopic) => format!(
            "the target's create-topic policy refused it; ask the target cluster's administrators, or create \
             '{target_topic}' yourself with {partitions} partitions (kmirror will use it)"
        ),
        (Some(ResponseError::PolicyViolation), _) => {
            "the target's alter policy refused it; ask the target cluster's administrators".to_string()
        }
        (
            Some(
                ResponseError::TopicAuthorizationFailed | ResponseError::ClusterAuthorizationFailed,
            ),
            ProblemKind::CreateTopic,
        ) => format!(
            "grant CREATE on topic '{target_topic}' (or on the cluster) to the principal kmirror uses on the \
             target, or create the topic yourself with {partitions} partitions"
        ),
        (
            Some(
                ResponseError::TopicAuthorizationFailed | ResponseError::ClusterAuthorizationFailed,
            ),
            ProblemKind::CreatePartitions | ProblemKind::AlterConfigs,
        ) => format!(
            "grant ALTER and ALTER_CONFIGS on topic '{target_topic}' to the principal kmirror uses on the target"
        ),
        (
            Some(
                ResponseError::TopicAuthorizationFailed | ResponseError::ClusterAuthorizationFailed,
            ),
            ProblemKind::DescribeSourceConfigs,
        ) => "grant DESCRIBE_CONFIGS on the topic to the principal kmirror uses on the source".to_string(),
        (
            Some(
                ResponseError::TopicAuthorizationFailed | ResponseError::ClusterAuthorizationFailed,
            ),
            ProblemKind::DescribeTargetConfigs,
        ) => format!(
            "grant DESCRIBE_CONFIGS on topic '{target_topic}' to the principal kmirror uses on the target"
        ),
        (Some(ResponseError::InvalidConfig), _) => {
            "a copied topic config is not accepted by the target; add it to config.properties.exclude"
                .to_string()
        }
        (Some(ResponseError::InvalidReplicationFactor), _) => {
            "set replication.factor for this flow to what the target can hold (-1 for its default)"
                .to_string()
        }
        _ => "kmirror retries on every refresh".to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn err(code: ResponseError) -> kmirror_kafka::Error {
        kmirror_kafka::Error::from_code(code.code(), || "create topic 'A.t'".into(), None).unwrap()
    }

    #[test]
    fn remedies_name_the_topic_and_the_fix() {
        let r = remedy(
            &err(ResponseError::PolicyViolation),
            ProblemKind::CreateTopic,
            "A.t",
            6,
        );
        assert!(r.contains("'A.t'") && r.contains("6 partitions"), "{r}");
        let r = remedy(
            &err(ResponseError::TopicAuthorizationFailed),
            ProblemKind::CreateTopic,
            "A.t",
            6,
        );
        assert!(r.contains("CREATE") && r.contains("'A.t'"), "{r}");
        let r = remedy(
            &err(ResponseError::InvalidConfig),
            ProblemKind::CreateTopic,
            "A.t",
            1,
        );
        assert!(r.contains("config.properties.exclude"), "{r}");
        let r = remedy(
            &err(ResponseError::ClusterAuthorizationFailed),
            ProblemKind::DescribeSourceConfigs,
            "A.t",
            1,
        );
        assert!(r.contains("DESCRIBE_CONFIGS"), "{r}");
    }
}

//! The crate's one error type. Every variant names what failed (broker, topic-partition, offset) and
//! its Display says what to do about it.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;

use crate::batch::BatchError;
use crate::config::{ConfigError, SaslMechanism};
use crate::types::TopicPartition;

/// Anything that can go wrong talking to Kafka. Cheap to clone, so one failure can be handed to every
/// request that was waiting on the same connection.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid client configuration: {0}")]
    Config(#[from] ConfigError),

    #[error(
        "could not reach any bootstrap server of {servers} (last error: {last_error}); check bootstrap.servers, \
         security.protocol and that the cluster is up"
    )]
    BootstrapUnreachable { servers: String, last_error: String },

    #[error(
        "cannot connect to broker {broker}: {source}; check the address and that the broker is up"
    )]
    Connect {
        broker: String,
        #[source]
        source: Arc<std::io::Error>,
    },

    #[error("I/O error with broker {broker}: {source}")]
    Io {
        broker: String,
        #[source]
        source: Arc<std::io::Error>,
    },

    #[error("connection to broker {broker} closed{}", if *.in_flight { " with a request in flight" } else { "" })]
    Disconnected { broker: String, in_flight: bool },

    #[error(
        "TLS with broker {broker} failed: {message}; check ssl.truststore.location / ssl.ca.location (the CA that \
         signed the broker certificate), the client certificate, and ssl.endpoint.identification.algorithm"
    )]
    Tls { broker: String, message: String },

    #[error(
        "authentication failed for user '{user}' with {mechanism} at {broker}: {message}; check sasl.jaas.config \
         (user name and password) and sasl.mechanism"
    )]
    Authentication {
        broker: String,
        mechanism: SaslMechanism,
        user: String,
        message: String,
    },

    /// The OAUTHBEARER token could not be obtained. `retriable`: the endpoint was unreachable, slow or
    /// failing (5xx), as opposed to refusing the credentials.
    #[error(
        "cannot get an OAUTHBEARER token from {endpoint} for client '{client}': {message}; check \
         sasl.oauthbearer.token.endpoint.url and the clientId / clientSecret / scope of the OAuthBearerLoginModule line"
    )]
    TokenEndpoint {
        endpoint: String,
        client: String,
        message: String,
        retriable: bool,
    },

    #[error(
        "broker {broker} does not offer SASL mechanism {mechanism} (it offers {enabled:?}); set sasl.mechanism to one \
         of those"
    )]
    UnsupportedSaslMechanism {
        broker: String,
        mechanism: SaslMechanism,
        enabled: Vec<String>,
    },

    #[error(
        "{api} request to broker {broker} got no answer within {after:?}; the broker may be overloaded or gone"
    )]
    Timeout {
        broker: String,
        api: &'static str,
        after: Duration,
    },

    #[error(
        "broker {broker} supports {api} versions {broker_min}..={broker_max}, this client {ours_min}..={ours_max}; \
         upgrade the broker or kmirror"
    )]
    UnsupportedVersion {
        broker: String,
        api: &'static str,
        broker_min: i16,
        broker_max: i16,
        ours_min: i16,
        ours_max: i16,
    },

    #[error("malformed {api} exchange with broker {broker}: {message}")]
    Protocol {
        broker: String,
        api: &'static str,
        message: String,
    },

    /// An error code from a broker, with what we were doing.
    #[error("{context}: {code}{}{}", .message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default(), hint(*.code))]
    Kafka {
        code: ResponseError,
        context: String,
        message: Option<String>,
    },

    #[error(
        "offset {offset} is out of range for {tp} (log start {log_start}, log end {log_end}); reset the position \
         to the log start or end"
    )]
    OffsetOutOfRange {
        tp: TopicPartition,
        offset: i64,
        log_start: i64,
        log_end: i64,
    },

    #[error("topic-partition {tp} does not exist (the topic was deleted or never created)")]
    UnknownTopicOrPartition { tp: TopicPartition },

    #[error("partition {tp} has no leader right now; retry later")]
    NoLeader { tp: TopicPartition },

    #[error("broker {node} is not in the cluster metadata")]
    UnknownBroker { node: i32 },

    #[error("invalid record batch for {tp}: {source}")]
    InvalidBatch {
        tp: TopicPartition,
        #[source]
        source: BatchError,
    },

    #[error(
        "batch for {tp} was not acknowledged within the delivery timeout {after:?} (last error: {last_error}); it \
         {}", if *.maybe_written { "may have been written once" } else { "was not written" }
    )]
    DeliveryTimeout {
        tp: TopicPartition,
        after: Duration,
        last_error: String,
        maybe_written: bool,
    },

    #[error(
        "batch for {tp} was cancelled because an earlier batch failed ({cause}); it {}",
        if *.maybe_written { "may have been written once" } else { "was not written" }
    )]
    ProduceCancelled {
        tp: TopicPartition,
        cause: String,
        maybe_written: bool,
    },

    #[error("the producer was dropped before the batch for {tp} was acknowledged")]
    ProducerClosed { tp: TopicPartition },
}

/// What an operator should do about a broker error code, where there is something to say.
fn hint(code: ResponseError) -> &'static str {
    use ResponseError as E;
    match code {
        E::TopicAuthorizationFailed => "; grant the principal access to the topic with ACLs",
        E::GroupAuthorizationFailed => "; grant the principal access to the group with ACLs",
        E::ClusterAuthorizationFailed => "; grant the principal the needed CLUSTER permission",
        E::TransactionalIdAuthorizationFailed => {
            "; grant the principal access to the transactional id"
        }
        E::MessageTooLarge | E::RecordListTooLarge => {
            "; raise max.message.bytes on the target topic to at least the source's"
        }
        E::InvalidTimestamp => {
            "; the record timestamps are outside the target topic's message.timestamp.before/after.max.ms"
        }
        E::PolicyViolation => "; the broker's create-topic or alter-config policy refused it",
        E::NotEnoughReplicas | E::NotEnoughReplicasAfterAppend => {
            "; fewer in-sync replicas than min.insync.replicas"
        }
        _ => "",
    }
}

impl Error {
    /// True when the same operation may succeed if tried again (after a metadata refresh or a backoff).
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Connect { .. }
            | Error::Io { .. }
            | Error::Disconnected { .. }
            | Error::Timeout { .. }
            | Error::BootstrapUnreachable { .. }
            | Error::NoLeader { .. }
            | Error::UnknownBroker { .. } => true,
            Error::Kafka { code, .. } => code.is_retriable(),
            Error::TokenEndpoint { retriable, .. } => *retriable,
            _ => false,
        }
    }

    /// The broker error code behind this error, if it came from one.
    pub fn code(&self) -> Option<ResponseError> {
        match self {
            Error::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Builds [`Error::Kafka`] from a non-zero error code; `None` for 0 (no error).
    pub fn from_code(
        code: i16,
        context: impl FnOnce() -> String,
        message: Option<&str>,
    ) -> Option<Self> {
        ResponseError::try_from_code(code).map(|code| Error::Kafka {
            code,
            context: context(),
            message: message.filter(|m| !m.is_empty()).map(str::to_string),
        })
    }

    /// True for errors where the outcome of a sent request is unknown: it may have been applied.
    pub(crate) fn outcome_unknown(&self) -> bool {
        match self {
            Error::Io { .. }
            | Error::Disconnected {
                in_flight: true, ..
            }
            | Error::Timeout { .. } => true,
            Error::Kafka { code, .. } => matches!(
                code,
                ResponseError::RequestTimedOut | ResponseError::NotEnoughReplicasAfterAppend
            ),
            _ => false,
        }
    }

    pub(crate) fn io(broker: &str, e: std::io::Error) -> Self {
        Error::Io {
            broker: broker.to_string(),
            source: Arc::new(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_name_context_and_remedy() {
        let e = Error::from_code(29, || "produce to t-0 at 127.0.0.1:9092".into(), None)
            .expect("error");
        let s = e.to_string();
        assert!(s.contains("produce to t-0 at 127.0.0.1:9092"), "{s}");
        assert!(s.contains("TopicAuthorizationFailed"), "{s}");
        assert!(s.contains("ACLs"), "{s}");
        assert!(!e.is_retriable());
        assert!(Error::from_code(0, String::new, None).is_none());
        let nl = Error::from_code(6, || "x".into(), None).expect("error");
        assert!(nl.is_retriable());
    }

    #[test]
    fn errors_are_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Error>();
    }
}

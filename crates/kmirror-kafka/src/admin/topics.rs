//! CreateTopics, CreatePartitions and DeleteTopics: build the request, read the per-topic results.
//! All three go to the controller (in KRaft any broker forwards them there).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};

use super::configs::{ConfigEntry, ConfigSource};
use super::failure::{check, missing, sb, st};

/// A topic to create. `partitions` / `replication_factor` of -1 take the broker defaults
/// (`num.partitions`, `default.replication.factor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    /// Topic-level overrides (`cleanup.policy`, `retention.ms`, ...).
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        Self {
            name: name.into(),
            partitions,
            replication_factor,
            configs: BTreeMap::new(),
        }
    }

    /// Adds one topic-level config override.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(key.into(), value.into());
        self
    }
}

/// What the controller created. The broker reports the partition count, replication factor and the
/// effective configs (with their sources) it applied, so callers need no second round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    /// Effective configs; empty when the broker withheld them (no DESCRIBE_CONFIGS permission).
    pub configs: BTreeMap<String, ConfigEntry>,
}

/// Result per topic, in request order. A topic that already exists fails with
/// `ResponseError::TopicAlreadyExists` (check [`Error::code`](crate::Error::code)).
pub type TopicResults<T> = super::Results<String, T>;

pub(crate) fn build_create_topics(
    topics: &[NewTopic],
    timeout: Duration,
    validate_only: bool,
) -> CreateTopicsRequest {
    let mut req = CreateTopicsRequest::default();
    req.timeout_ms = millis(timeout);
    req.validate_only = validate_only;
    req.topics = topics
        .iter()
        .map(|t| {
            let mut ct = CreatableTopic::default();
            ct.name = TopicName(sb(&t.name));
            ct.num_partitions = t.partitions;
            ct.replication_factor = t.replication_factor;
            ct.configs = t
                .configs
                .iter()
                .map(|(k, v)| {
                    let mut c = CreatableTopicConfig::default();
                    c.name = sb(k);
                    c.value = Some(sb(v));
                    c
                })
                .collect();
            ct
        })
        .collect();
    req
}

pub(crate) fn interpret_create_topics(
    requested: &[NewTopic],
    resp: CreateTopicsResponse,
    principal: &str,
) -> TopicResults<CreatedTopic> {
    let mut by_name: BTreeMap<String, _> =
        resp.topics.into_iter().map(|t| (st(&t.name), t)).collect();
    requested
        .iter()
        .map(|want| {
            let name = want.name.clone();
            let result = match by_name.remove(&name) {
                None => Err(missing("CreateTopics", format!("topic '{name}'"))),
                Some(t) => check(t.error_code, t.error_message.as_ref(), principal, || {
                    format!("create topic '{name}'")
                })
                .map(|()| CreatedTopic {
                    name: name.clone(),
                    partitions: t.num_partitions,
                    replication_factor: t.replication_factor,
                    configs: t
                        .configs
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| {
                            let entry = ConfigEntry {
                                name: st(&c.name),
                                value: c.value.as_ref().map(st),
                                source: ConfigSource::from_code(c.config_source),
                                read_only: c.read_only,
                                sensitive: c.is_sensitive,
                                synonyms: Vec::new(),
                            };
                            (entry.name.clone(), entry)
                        })
                        .collect(),
                }),
            };
            (name, result)
        })
        .collect()
}

/// Grow `topic` to `total` partitions (the new total, not the number to add).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartitions {
    pub topic: String,
    pub total: i32,
}

pub(crate) fn build_create_partitions(
    topics: &[NewPartitions],
    timeout: Duration,
    validate_only: bool,
) -> CreatePartitionsRequest {
    let mut req = CreatePartitionsRequest::default();
    req.timeout_ms = millis(timeout);
    req.validate_only = validate_only;
    req.topics = topics
        .iter()
        .map(|t| {
            let mut p = CreatePartitionsTopic::default();
            p.name = TopicName(sb(&t.topic));
            p.count = t.total;
            p.assignments = None;
            p
        })
        .collect();
    req
}

/// Per topic; asking for no more partitions than the topic has fails with
/// `ResponseError::InvalidPartitions`.
pub(crate) fn interpret_create_partitions(
    requested: &[NewPartitions],
    resp: CreatePartitionsResponse,
    principal: &str,
) -> TopicResults<()> {
    let mut by_name: BTreeMap<String, _> =
        resp.results.into_iter().map(|t| (st(&t.name), t)).collect();
    requested
        .iter()
        .map(|want| {
            let name = want.topic.clone();
            let result = match by_name.remove(&name) {
                None => Err(missing("CreatePartitions", format!("topic '{name}'"))),
                Some(t) => check(t.error_code, t.error_message.as_ref(), principal, || {
                    format!("grow topic '{name}' to {} partitions", want.total)
                }),
            };
            (name, result)
        })
        .collect()
}

/// DeleteTopics names topics in `topics` from v6 on and in `topic_names` before.
pub(crate) fn build_delete_topics(
    topics: &[String],
    timeout: Duration,
    version: i16,
) -> DeleteTopicsRequest {
    let mut req = DeleteTopicsRequest::default();
    req.timeout_ms = millis(timeout);
    if version >= 6 {
        req.topics = topics
            .iter()
            .map(|t| {
                let mut s = DeleteTopicState::default();
                s.name = Some(TopicName(sb(t)));
                s
            })
            .collect();
    } else {
        req.topic_names = topics.iter().map(|t| TopicName(sb(t))).collect();
    }
    req
}

/// Per topic; a topic that does not exist fails with `ResponseError::UnknownTopicOrPartition`.
pub(crate) fn interpret_delete_topics(
    requested: &[String],
    resp: DeleteTopicsResponse,
    principal: &str,
) -> TopicResults<()> {
    let mut by_name: BTreeMap<String, _> = resp
        .responses
        .into_iter()
        .filter_map(|t| t.name.as_ref().map(|n| st(n)).map(|n| (n, t)))
        .collect();
    requested
        .iter()
        .map(|name| {
            let result = match by_name.remove(name) {
                None => Err(missing("DeleteTopics", format!("topic '{name}'"))),
                Some(t) => check(t.error_code, t.error_message.as_ref(), principal, || {
                    format!("delete topic '{name}'")
                }),
            };
            (name.clone(), result)
        })
        .collect()
}

pub(crate) fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use kafka_protocol::error::ResponseError;
    use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
    use kafka_protocol::messages::create_topics_response::{
        CreatableTopicConfigs, CreatableTopicResult,
    };
    use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
    use kafka_protocol::protocol::{Encodable, Message};

    use super::*;

    fn topics() -> Vec<NewTopic> {
        vec![
            NewTopic::new("a", 3, 1)
                .config("cleanup.policy", "compact")
                .config("retention.ms", "1000"),
            NewTopic::new("b", -1, -1),
            NewTopic::new("c", 1, 1),
        ]
    }

    #[test]
    fn create_topics_request_carries_everything() {
        let req = build_create_topics(&topics(), Duration::from_secs(5), false);
        assert_eq!(req.timeout_ms, 5000);
        assert_eq!(req.topics.len(), 3);
        let a = &req.topics[0];
        assert_eq!(a.name.0.as_str(), "a");
        assert_eq!((a.num_partitions, a.replication_factor), (3, 1));
        let cfg: Vec<_> = a
            .configs
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_deref()))
            .collect();
        assert_eq!(
            cfg,
            vec![
                ("cleanup.policy", Some("compact")),
                ("retention.ms", Some("1000"))
            ]
        );
        assert_eq!(req.topics[1].num_partitions, -1);
        for v in CreateTopicsRequest::VERSIONS.min..=CreateTopicsRequest::VERSIONS.max {
            req.encode(&mut bytes::BytesMut::new(), v)
                .expect("encodes at every version");
        }
    }

    #[test]
    fn create_topics_results_per_topic_with_configs_and_errors() {
        let mut ok = CreatableTopicResult::default();
        ok.name = TopicName(sb("a"));
        ok.num_partitions = 3;
        ok.replication_factor = 1;
        let mut c = CreatableTopicConfigs::default();
        c.name = sb("cleanup.policy");
        c.value = Some(sb("compact"));
        c.config_source = 1;
        let mut d = CreatableTopicConfigs::default();
        d.name = sb("segment.bytes");
        d.value = Some(sb("1073741824"));
        d.config_source = 5;
        d.read_only = false;
        ok.configs = Some(vec![c, d]);
        let mut exists = CreatableTopicResult::default();
        exists.name = TopicName(sb("b"));
        exists.error_code = ResponseError::TopicAlreadyExists.code();
        exists.error_message = Some(sb("Topic 'b' already exists."));
        let mut resp = CreateTopicsResponse::default();
        resp.topics = vec![exists, ok]; // out of order on purpose; "c" missing

        let out = interpret_create_topics(&topics(), resp, "User:k");
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].0, "a");
        let a = out[0].1.as_ref().expect("a created");
        assert_eq!((a.partitions, a.replication_factor), (3, 1));
        assert_eq!(
            a.configs["cleanup.policy"].source,
            ConfigSource::DynamicTopic
        );
        assert_eq!(a.configs["segment.bytes"].source, ConfigSource::Default);
        let b = out[1].1.as_ref().expect_err("b exists");
        assert_eq!(b.code(), Some(ResponseError::TopicAlreadyExists));
        assert!(b.to_string().contains("create topic 'b'"), "{b}");
        let c = out[2].1.as_ref().expect_err("c missing");
        assert!(c.to_string().contains("topic 'c'"), "{c}");
    }

    #[test]
    fn create_topics_authorization_failure_names_topic_and_principal() {
        let mut r = CreatableTopicResult::default();
        r.name = TopicName(sb("c"));
        r.error_code = ResponseError::TopicAuthorizationFailed.code();
        let mut resp = CreateTopicsResponse::default();
        resp.topics = vec![r];
        let out = interpret_create_topics(&topics()[2..], resp, "User:kmirror");
        let e = out[0].1.as_ref().expect_err("denied");
        let s = e.to_string();
        assert!(
            s.contains("'c'") && s.contains("User:kmirror") && s.contains("ACL"),
            "{s}"
        );
    }

    #[test]
    fn create_partitions_round_trip() {
        let want = vec![
            NewPartitions {
                topic: "a".into(),
                total: 6,
            },
            NewPartitions {
                topic: "b".into(),
                total: 1,
            },
        ];
        let req = build_create_partitions(&want, Duration::from_secs(1), false);
        assert_eq!(req.topics[0].count, 6);
        assert_eq!(req.topics[1].name.0.as_str(), "b");
        for v in CreatePartitionsRequest::VERSIONS.min..=CreatePartitionsRequest::VERSIONS.max {
            req.encode(&mut bytes::BytesMut::new(), v).expect("encodes");
        }
        let mut a = CreatePartitionsTopicResult::default();
        a.name = TopicName(sb("a"));
        let mut b = CreatePartitionsTopicResult::default();
        b.name = TopicName(sb("b"));
        b.error_code = ResponseError::InvalidPartitions.code();
        b.error_message = Some(sb("Topic already has 3 partitions."));
        let mut resp = CreatePartitionsResponse::default();
        resp.results = vec![a, b];
        let out = interpret_create_partitions(&want, resp, "User:k");
        assert!(out[0].1.is_ok());
        let e = out[1].1.as_ref().expect_err("invalid");
        assert_eq!(e.code(), Some(ResponseError::InvalidPartitions));
        assert!(
            e.to_string().contains("grow topic 'b' to 1 partitions"),
            "{e}"
        );
    }

    #[test]
    fn delete_topics_uses_the_versions_field() {
        let names = vec!["a".to_string(), "b".to_string()];
        for v in DeleteTopicsRequest::VERSIONS.min..=DeleteTopicsRequest::VERSIONS.max {
            let req = build_delete_topics(&names, Duration::from_secs(1), v);
            req.encode(&mut bytes::BytesMut::new(), v)
                .expect("encodes at its version");
            if v >= 6 {
                assert_eq!(req.topics.len(), 2);
                assert!(req.topic_names.is_empty());
            } else {
                assert_eq!(req.topic_names.len(), 2);
                assert!(req.topics.is_empty());
            }
        }
    }

    #[test]
    fn delete_topics_results() {
        let names = vec!["a".to_string(), "gone".to_string()];
        let mut a = DeletableTopicResult::default();
        a.name = Some(TopicName(sb("a")));
        let mut gone = DeletableTopicResult::default();
        gone.name = Some(TopicName(sb("gone")));
        gone.error_code = ResponseError::UnknownTopicOrPartition.code();
        let mut resp = DeleteTopicsResponse::default();
        resp.responses = vec![gone, a];
        let out = interpret_delete_topics(&names, resp, "User:k");
        assert!(out[0].1.is_ok());
        let e = out[1].1.as_ref().expect_err("unknown");
        assert_eq!(e.code(), Some(ResponseError::UnknownTopicOrPartition));
        assert!(e.to_string().contains("delete topic 'gone'"), "{e}");
    }
}

//! DescribeConfigs and IncrementalAlterConfigs for topics and brokers, keeping each value's source:
//! config sync must copy only what was set on the topic, never defaults or static broker settings.

use std::collections::BTreeMap;
use std::fmt;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};

use super::failure::{check, missing, sb, st};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

/// Something with configs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigResource {
    Topic(String),
    /// One broker's configs (answered by that broker).
    Broker(i32),
    /// The cluster-wide dynamic broker defaults (`--entity-default`).
    BrokerDefault,
}

impl ConfigResource {
    fn type_code(&self) -> i8 {
        match self {
            ConfigResource::Topic(_) => TOPIC,
            ConfigResource::Broker(_) | ConfigResource::BrokerDefault => BROKER,
        }
    }

    fn wire_name(&self) -> String {
        match self {
            ConfigResource::Topic(t) => t.clone(),
            ConfigResource::Broker(id) => id.to_string(),
            ConfigResource::BrokerDefault => String::new(),
        }
    }

    /// The broker that must answer for this resource, if one particular broker must.
    pub(crate) fn broker(&self) -> Option<i32> {
        match self {
            ConfigResource::Broker(id) => Some(*id),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigResource::Topic(t) => write!(f, "topic '{t}'"),
            ConfigResource::Broker(id) => write!(f, "broker {id}"),
            ConfigResource::BrokerDefault => f.write_str("the cluster-wide broker defaults"),
        }
    }
}

/// Where a config value comes from (Kafka's `ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigSource {
    /// Set on the topic itself: the only source a replicator should copy.
    DynamicTopic,
    /// Set dynamically for one broker.
    DynamicBroker,
    /// Set dynamically as the cluster-wide broker default.
    DynamicDefaultBroker,
    /// From the broker's server.properties.
    StaticBroker,
    /// Kafka's built-in default.
    Default,
    DynamicBrokerLogger,
    ClientMetrics,
    Group,
    Unknown(i8),
}

impl ConfigSource {
    pub fn from_code(code: i8) -> Self {
        match code {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            7 => ConfigSource::ClientMetrics,
            8 => ConfigSource::Group,
            other => ConfigSource::Unknown(other),
        }
    }
}

/// One config as a broker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    /// `None` for sensitive values (passwords) and unset optional configs.
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub sensitive: bool,
    /// The values this one overrides, most specific first (the entry itself first, as Kafka reports).
    pub synonyms: Vec<ConfigSynonym>,
}

impl ConfigEntry {
    /// True when the value was set on this topic, rather than inherited.
    pub fn is_topic_override(&self) -> bool {
        self.source == ConfigSource::DynamicTopic
    }
}

/// A lower-precedence value behind a [`ConfigEntry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSynonym {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
}

/// Results per resource, in request order.
pub type ConfigResults = super::Results<ConfigResource, BTreeMap<String, ConfigEntry>>;

pub(crate) fn build_describe_configs(resources: &[ConfigResource]) -> DescribeConfigsRequest {
    let mut req = DescribeConfigsRequest::default();
    req.include_synonyms = true;
    req.resources = resources
        .iter()
        .map(|r| {
            let mut d = DescribeConfigsResource::default();
            d.resource_type = r.type_code();
            d.resource_name = sb(&r.wire_name());
            d.configuration_keys = None;
            d
        })
        .collect();
    req
}

pub(crate) fn interpret_describe_configs(
    requested: &[ConfigResource],
    resp: DescribeConfigsResponse,
    principal: &str,
) -> ConfigResults {
    let mut by_key: BTreeMap<(i8, String), _> = resp
        .results
        .into_iter()
        .map(|r| ((r.resource_type, st(&r.resource_name)), r))
        .collect();
    requested
        .iter()
        .map(|res| {
            let result = match by_key.remove(&(res.type_code(), res.wire_name())) {
                None => Err(missing("DescribeConfigs", res.to_string())),
                Some(r) => check(r.error_code, r.error_message.as_ref(), principal, || {
                    format!("describe configs of {res}")
                })
                .map(|()| {
                    r.configs
                        .into_iter()
                        .map(|c| {
                            let entry = ConfigEntry {
                                name: st(&c.name),
                                value: c.value.as_ref().map(st),
                                source: ConfigSource::from_code(c.config_source),
                                read_only: c.read_only,
                                sensitive: c.is_sensitive,
                                synonyms: c
                                    .synonyms
                                    .iter()
                                    .map(|s| ConfigSynonym {
                                        name: st(&s.name),
                                        value: s.value.as_ref().map(st),
                                        source: ConfigSource::from_code(s.source),
                                    })
                                    .collect(),
                            };
                            (entry.name.clone(), entry)
                        })
                        .collect()
                }),
            };
            (res.clone(), result)
        })
        .collect()
}

/// One incremental change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Set a value on the resource.
    Set { name: String, value: String },
    /// Remove the resource's own value, so it falls back to the broker/cluster default.
    Delete { name: String },
}

impl AlterConfigOp {
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp::Set {
            name: name.into(),
            value: value.into(),
        }
    }

    pub fn delete(name: impl Into<String>) -> Self {
        AlterConfigOp::Delete { name: name.into() }
    }
}

pub(crate) fn build_incremental_alter_configs(
    changes: &[(ConfigResource, Vec<AlterConfigOp>)],
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    let mut req = IncrementalAlterConfigsRequest::default();
    req.validate_only = validate_only;
    req.resources = changes
        .iter()
        .map(|(res, ops)| {
            let mut r = AlterConfigsResource::default();
            r.resource_type = res.type_code();
            r.resource_name = sb(&res.wire_name());
            r.configs = ops
                .iter()
                .map(|op| {
                    let mut c = AlterableConfig::default();
                    match op {
                        AlterConfigOp::Set { name, value } => {
                            c.name = sb(name);
                            c.config_operation = 0;
                            c.value = Some(sb(value));
                        }
                        AlterConfigOp::Delete { name } => {
                            c.name = sb(name);
                            c.config_operation = 1;
                            c.value = None;
                        }
                    }
                    c
                })
                .collect();
            r
        })
        .collect();
    req
}

/// Per resource; an unknown config name or bad value fails with `ResponseError::InvalidConfig` /
/// `InvalidRequest` and the broker's message.
pub(crate) fn interpret_incremental_alter_configs(
    requested: &[(ConfigResource, Vec<AlterConfigOp>)],
    resp: IncrementalAlterConfigsResponse,
    principal: &str,
) -> super::Results<ConfigResource, ()> {
    let mut by_key: BTreeMap<(i8, String), _> = resp
        .responses
        .into_iter()
        .map(|r| ((r.resource_type, st(&r.resource_name)), r))
        .collect();
    requested
        .iter()
        .map(|(res, _)| {
            let result = match by_key.remove(&(res.type_code(), res.wire_name())) {
                None => Err(missing("IncrementalAlterConfigs", res.to_string())),
                Some(r) => check(r.error_code, r.error_message.as_ref(), principal, || {
                    format!("alter configs of {res}")
                }),
            };
            (res.clone(), result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use kafka_protocol::error::ResponseError;
    use kafka_protocol::messages::describe_configs_response::{
        DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
    };
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
    use kafka_protocol::protocol::{Encodable, Message};

    use super::*;

    fn entry(name: &str, value: Option<&str>, source: i8) -> DescribeConfigsResourceResult {
        let mut e = DescribeConfigsResourceResult::default();
        e.name = sb(name);
        e.value = value.map(sb);
        e.config_source = source;
        e
    }

    #[test]
    fn describe_request_names_resources_and_asks_for_synonyms() {
        let res = vec![
            ConfigResource::Topic("t".into()),
            ConfigResource::Broker(1),
            ConfigResource::BrokerDefault,
        ];
        let req = build_describe_configs(&res);
        assert!(req.include_synonyms);
        let got: Vec<_> = req
            .resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str()))
            .collect();
        assert_eq!(got, vec![(2, "t"), (4, "1"), (4, "")]);
        for v in DescribeConfigsRequest::VERSIONS.min..=DescribeConfigsRequest::VERSIONS.max {
            req.encode(&mut bytes::BytesMut::new(), v).expect("encodes");
        }
    }

    #[test]
    fn describe_results_keep_sources_flags_and_synonyms() {
        let res = vec![
            ConfigResource::Topic("t".into()),
            ConfigResource::Topic("denied".into()),
            ConfigResource::Broker(1),
        ];
        let mut t = DescribeConfigsResult::default();
        t.resource_type = 2;
        t.resource_name = sb("t");
        let mut retention = entry("retention.ms", Some("1000"), 1);
        let mut syn = DescribeConfigsSynonym::default();
        syn.name = sb("log.retention.ms");
        syn.value = Some(sb("604800000"));
        syn.source = 4;
        retention.synonyms = vec![syn];
        let mut secret = entry("sasl.jaas.config", None, 4);
        secret.is_sensitive = true;
        secret.read_only = true;
        t.configs = vec![
            retention,
            entry("cleanup.policy", Some("delete"), 5),
            secret,
        ];
        let mut denied = DescribeConfigsResult::default();
        denied.resource_type = 2;
        denied.resource_name = sb("denied");
        denied.error_code = ResponseError::TopicAuthorizationFailed.code();
        let mut resp = DescribeConfigsResponse::default();
        resp.results = vec![denied, t];

        let out = interpret_describe_configs(&res, resp, "User:kmirror");
        let t = out[0].1.as_ref().expect("t described");
        let r = &t["retention.ms"];
        assert!(r.is_topic_override());
        assert_eq!(r.value.as_deref(), Some("1000"));
        assert_eq!(r.synonyms[0].source, ConfigSource::StaticBroker);
        assert_eq!(t["cleanup.policy"].source, ConfigSource::Default);
        assert!(!t["cleanup.policy"].is_topic_override());
        assert!(t["sasl.jaas.config"].sensitive && t["sasl.jaas.config"].read_only);
        let e = out[1].1.as_ref().expect_err("denied");
        let s = e.to_string();
        assert!(
            s.contains("topic 'denied'") && s.contains("User:kmirror"),
            "{s}"
        );
        assert!(
            out[2]
                .1
                .as_ref()
                .expect_err("missing")
                .to_string()
                .contains("broker 1")
        );
    }

    #[test]
    fn sources_decode() {
        let all: Vec<_> = (0..=9).map(ConfigSource::from_code).collect();
        assert_eq!(
            all,
            vec![
                ConfigSource::Unknown(0),
                ConfigSource::DynamicTopic,
                ConfigSource::DynamicBroker,
                ConfigSource::DynamicDefaultBroker,
                ConfigSource::StaticBroker,
                ConfigSource::Default,
                ConfigSource::DynamicBrokerLogger,
                ConfigSource::ClientMetrics,
                ConfigSource::Group,
                ConfigSource::Unknown(9),
            ]
        );
    }

    #[test]
    fn alter_request_encodes_set_and_delete() {
        let changes = vec![(
            ConfigResource::Topic("t".into()),
            vec![
                AlterConfigOp::set("retention.ms", "5000"),
                AlterConfigOp::delete("cleanup.policy"),
            ],
        )];
        let req = build_incremental_alter_configs(&changes, false);
        let c = &req.resources[0].configs;
        assert_eq!(
            (c[0].config_operation, c[0].value.as_deref()),
            (0, Some("5000"))
        );
        assert_eq!((c[1].config_operation, c[1].value.as_deref()), (1, None));
        for v in IncrementalAlterConfigsRequest::VERSIONS.min
            ..=IncrementalAlterConfigsRequest::VERSIONS.max
        {
            req.encode(&mut bytes::BytesMut::new(), v).expect("encodes");
        }
    }

    #[test]
    fn alter_results_per_resource() {
        let changes = vec![
            (
                ConfigResource::Topic("t".into()),
                vec![AlterConfigOp::set("retention.ms", "5")],
            ),
            (
                ConfigResource::Topic("u".into()),
                vec![AlterConfigOp::set("no.such", "1")],
            ),
        ];
        let mut ok = AlterConfigsResourceResponse::default();
        ok.resource_type = 2;
        ok.resource_name = sb("t");
        let mut bad = AlterConfigsResourceResponse::default();
        bad.resource_type = 2;
        bad.resource_name = sb("u");
        bad.error_code = ResponseError::InvalidConfig.code();
        bad.error_message = Some(sb("Unknown topic config name: no.such"));
        let mut resp = IncrementalAlterConfigsResponse::default();
        resp.responses = vec![ok, bad];
        let out = interpret_incremental_alter_configs(&changes, resp, "User:k");
        assert!(out[0].1.is_ok());
        let e = out[1].1.as_ref().expect_err("invalid");
        assert_eq!(e.code(), Some(ResponseError::InvalidConfig));
        let s = e.to_string();
        assert!(
            s.contains("alter configs of topic 'u'") && s.contains("no.such"),
            "{s}"
        );
    }
}

//! kmirror's native `kmirror.toml`: the same model as `mm2.properties`, with typed values and typo detection
//! (`deny_unknown_fields`: a misspelt key is an error naming it). It is translated to MM2 keys and goes through the
//! same interpreter, so the two formats cannot drift apart. Flow field names are the MM2 key with `.` and `-`
//! written as `_` (`sync.group.offsets.enabled` → `sync_group_offsets_enabled`), except `replication_policy`
//! (`replication.policy.class`; `"default"` or `"identity"` suffice) and `heartbeats_topic_name`
//! (`default.replication.policy.heartbeats.topic.name`).
//!
//! ```toml
//! [kmirror]
//! http_listen = "127.0.0.1:9464"      # optional; no HTTP server without it
//!
//! [clusters.A]
//! bootstrap_servers = "a1:9092,a2:9092"
//! security_protocol = "SASL_SSL"
//! client = { "sasl.mechanism" = "SCRAM-SHA-512", "sasl.jaas.config" = "${env:A_JAAS}" }
//! consumer = { "isolation.level" = "read_committed" }
//!
//! [clusters.B]
//! bootstrap_servers = ["b1:9092"]
//!
//! [defaults]                           # top-level settings: apply to every flow
//! sync_topic_acls_enabled = false
//!
//! [[flows]]                            # a listed flow is enabled unless `enabled = false`
//! source = "A"
//! target = "B"
//! topics = ["orders.*", "payments"]
//! replication_policy = "identity"
//! ```
//!
//! Unlisted cluster pairs exist as in MM2: disabled, but emitting heartbeats unless `emit_heartbeats_enabled =
//! false` in `[defaults]`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, Problem, location};
use super::raw::{Format, RawConfig, RawEntry, RawValue};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    #[serde(default)]
    kmirror: KmirrorSection,
    #[serde(default)]
    clusters: BTreeMap<String, TomlCluster>,
    #[serde(default)]
    defaults: Option<TomlFlow>,
    #[serde(default)]
    flows: Vec<TomlFlow>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KmirrorSection {
    http_listen: Option<String>,
    existing_target_data: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlCluster {
    bootstrap_servers: Option<StringOrList>,
    security_protocol: Option<String>,
    #[serde(default)]
    client: BTreeMap<String, Scalar>,
    #[serde(default)]
    consumer: BTreeMap<String, Scalar>,
    #[serde(default)]
    producer: BTreeMap<String, Scalar>,
    #[serde(default)]
    admin: BTreeMap<String, Scalar>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::String(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

/// One `[[flows]]` entry, or `[defaults]`. All settings optional; unset means "inherit".
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TomlFlow {
    #[serde(skip_serializing)]
    source: Option<String>,
    #[serde(skip_serializing)]
    target: Option<String>,
    enabled: Option<bool>,
    topics: Option<Vec<String>>,
    topics_exclude: Option<Vec<String>>,
    groups: Option<Vec<String>>,
    groups_exclude: Option<Vec<String>>,
    config_properties_exclude: Option<Vec<String>>,
    replication_policy: Option<String>,
    replication_policy_separator: Option<String>,
    replication_policy_internal_topic_separator_enabled: Option<bool>,
    heartbeats_topic_name: Option<String>,
    replication_factor: Option<i64>,
    offset_syncs_topic_replication_factor: Option<i64>,
    checkpoints_topic_replication_factor: Option<i64>,
    heartbeats_topic_replication_factor: Option<i64>,
    offset_syncs_topic_location: Option<String>,
    refresh_topics_enabled: Option<bool>,
    refresh_topics_interval_seconds: Option<i64>,
    refresh_groups_enabled: Option<bool>,
    refresh_groups_interval_seconds: Option<i64>,
    sync_topic_configs_enabled: Option<bool>,
    sync_topic_configs_interval_seconds: Option<i64>,
    use_defaults_from: Option<String>,
    sync_topic_acls_enabled: Option<bool>,
    sync_topic_acls_interval_seconds: Option<i64>,
    emit_heartbeats_enabled: Option<bool>,
    emit_heartbeats_interval_seconds: Option<i64>,
    heartbeats_replication_enabled: Option<bool>,
    emit_checkpoints_enabled: Option<bool>,
    emit_checkpoints_interval_seconds: Option<i64>,
    sync_group_offsets_enabled: Option<bool>,
    sync_group_offsets_interval_seconds: Option<i64>,
    emit_offset_syncs_enabled: Option<bool>,
    offset_lag_max: Option<i64>,
    tasks_max: Option<i64>,
    consumer: Option<BTreeMap<String, Scalar>>,
    producer: Option<BTreeMap<String, Scalar>>,
    admin: Option<BTreeMap<String, Scalar>>,
    source_consumer: Option<BTreeMap<String, Scalar>>,
    source_producer: Option<BTreeMap<String, Scalar>>,
    source_admin: Option<BTreeMap<String, Scalar>>,
    target_consumer: Option<BTreeMap<String, Scalar>>,
    target_producer: Option<BTreeMap<String, Scalar>>,
    target_admin: Option<BTreeMap<String, Scalar>>,
}

const CLIENT_TABLES: &[(&str, &str)] = &[
    ("consumer", "consumer."),
    ("producer", "producer."),
    ("admin", "admin."),
    ("source_consumer", "source.consumer."),
    ("source_producer", "source.producer."),
    ("source_admin", "source.admin."),
    ("target_consumer", "target.consumer."),
    ("target_producer", "target.producer."),
    ("target_admin", "target.admin."),
];

/// The MM2 key for a flow field.
fn mm2_key(field: &str) -> String {
    match field {
        "replication_policy" => "replication.policy.class".to_owned(),
        "heartbeats_topic_name" => "default.replication.policy.heartbeats.topic.name".to_owned(),
        other => other
            .replace("offset_syncs", "offset-syncs")
            .replace('_', "."),
    }
}

/// Parses TOML text into MM2 keys.
pub(crate) fn parse(text: &str, file: Option<&Path>) -> Result<RawConfig, ConfigError> {
    let parsed: TomlFile = ::toml::from_str(text).map_err(|e| ConfigError::Syntax {
        location: location(file, None),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let mut raw = RawConfig::new(file.map(Path::to_path_buf), Format::Toml);
    let mut problems = Vec::new();
    let mut put = |key: String, value: RawValue, shown: String| {
        raw.entries.insert(
            key,
            RawEntry {
                value,
                line: None,
                written_as: Some(shown),
            },
        );
    };

    if let Some(listen) = parsed.kmirror.http_listen {
        put(
            "kmirror.http.listen".into(),
            RawValue::Text(listen),
            "kmirror.http_listen".into(),
        );
    }
    if let Some(mode) = parsed.kmirror.existing_target_data {
        put(
            "kmirror.existing.target.data".into(),
            RawValue::Text(mode),
            "kmirror.existing_target_data".into(),
        );
    }
    if !parsed.clusters.is_empty() {
        let aliases = parsed.clusters.keys().cloned().collect();
        put(
            "clusters".into(),
            RawValue::List(aliases),
            "clusters".into(),
        );
    }
    for (alias, cluster) in &parsed.clusters {
        let shown = |field: &str| format!("clusters.{alias}.{field}");
        match &cluster.bootstrap_servers {
            Some(StringOrList::One(s)) => put(
                format!("{alias}.bootstrap.servers"),
                RawValue::Text(s.clone()),
                shown("bootstrap_servers"),
            ),
            Some(StringOrList::Many(l)) => put(
                format!("{alias}.bootstrap.servers"),
                RawValue::List(l.clone()),
                shown("bootstrap_servers"),
            ),
            None => {}
        }
        if let Some(p) = &cluster.security_protocol {
            put(
                format!("{alias}.security.protocol"),
                RawValue::Text(p.clone()),
                shown("security_protocol"),
            );
        }
        for (table, prefix, map) in [
            ("client", "", &cluster.client),
            ("consumer", "consumer.", &cluster.consumer),
            ("producer", "producer.", &cluster.producer),
            ("admin", "admin.", &cluster.admin),
        ] {
            for (k, v) in map {
                put(
                    format!("{alias}.{prefix}{k}"),
                    RawValue::Text(v.text()),
                    format!("clusters.{alias}.{table}.\"{k}\""),
                );
            }
        }
    }

    if let Some(defaults) = &parsed.defaults {
        for field in ["source", "target", "enabled"] {
            let set = match field {
                "source" => defaults.source.is_some(),
                "target" => defaults.target.is_some(),
                _ => defaults.enabled.is_some(),
            };
            if set {
                problems.push(Problem {
                    file: raw.file.clone(),
                    line: None,
                    key: format!("defaults.{field}"),
                    message: "not allowed in [defaults]".into(),
                    fix: "list each flow to run as a [[flows]] entry with `source` and `target`"
                        .into(),
                });
            }
        }
        flow_settings(defaults, "", "defaults", &mut put);
    }

    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (i, flow) in parsed.flows.iter().enumerate() {
        let (Some(source), Some(target)) = (&flow.source, &flow.target) else {
            problems.push(Problem {
                file: raw.file.clone(),
                line: None,
                key: format!("flows[{i}]"),
                message: "a flow needs both `source` and `target`".into(),
                fix: "add `source = \"A\"` and `target = \"B\"` naming clusters under [clusters]"
                    .into(),
            });
            continue;
        };
        if let Some(first) = seen.insert((source.clone(), target.clone()), i) {
            problems.push(Problem {
                file: raw.file.clone(),
                line: None,
                key: format!("flows[{i}]"),
                message: format!("flow {source}->{target} is listed twice (also flows[{first}])"),
                fix: "merge the two entries".into(),
            });
        }
        let prefix = format!("{source}->{target}.");
        if flow.enabled.is_none() {
            put(
                format!("{prefix}enabled"),
                RawValue::Text("true".into()),
                format!("flows[{i}]"),
            );
        }
        flow_settings(flow, &prefix, &format!("flows[{i}]"), &mut put);
    }

    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    Ok(raw)
}

fn flow_settings(
    flow: &TomlFlow,
    prefix: &str,
    shown_prefix: &str,
    put: &mut impl FnMut(String, RawValue, String),
) {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(flow) else {
        return;
    };
    for (field, value) in fields {
        let shown = format!("{shown_prefix}.{field}");
        if let Some((_, role_prefix)) = CLIENT_TABLES.iter().find(|(t, _)| *t == field) {
            if let serde_json::Value::Object(map) = value {
                for (k, v) in map {
                    put(
                        format!("{prefix}{role_prefix}{k}"),
                        RawValue::Text(json_text(&v)),
                        format!("{shown}.\"{k}\""),
                    );
                }
            }
            continue;
        }
        let raw = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::Array(items) => {
                RawValue::List(items.iter().map(json_text).collect())
            }
            other => RawValue::Text(json_text(&other)),
        };
        put(format!("{prefix}{}", mm2_key(&field)), raw, shown);
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::keys::FLOW_KEYS;

    #[test]
    fn every_flow_field_maps_to_a_known_key() {
        let fields = serde_json::to_value(TomlFlow::default()).unwrap();
        let serde_json::Value::Object(fields) = fields else {
            panic!()
        };
        for field in fields.keys() {
            if CLIENT_TABLES.iter().any(|(t, _)| t == field) {
                continue;
            }
            let key = mm2_key(field);
            assert!(FLOW_KEYS.contains(&key.as_str()), "{field} -> {key}");
        }
        // And every MM2 flow key has a TOML field, except the Java filter classes (only the defaults exist).
        let mapped: Vec<String> = fields.keys().map(|f| mm2_key(f)).collect();
        let java_only = [
            "topic.filter.class",
            "group.filter.class",
            "config.property.filter.class",
        ];
        for key in FLOW_KEYS.iter().filter(|k| !java_only.contains(k)) {
            assert!(mapped.iter().any(|m| m == key), "no TOML field for {key}");
        }
    }

    #[test]
    fn typo_is_an_error_naming_the_key() {
        let err = parse(
            "[[flows]]\nsource = \"A\"\ntarget = \"B\"\ntopcis = [\"x\"]\n",
            None,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("topcis"), "{msg}");
        assert!(msg.contains("line 4"), "{msg}");
    }
}

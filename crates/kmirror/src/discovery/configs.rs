//! Which topic configs a remote topic gets, and the SET/DELETE operations that bring an existing remote
//! topic back in line with its source. Pure: works on DescribeConfigs answers.
//!
//! Only values set on the source topic itself are copied (not the source cluster's broker defaults, which
//! describe that cluster, not the topic). `min.insync.replicas` is the exception: the source's effective
//! value is copied whenever it is not Kafka's built-in default, because a topic's durability contract is
//! often set broker-wide and must survive a failover. Excluded properties are never set or deleted, so
//! values an operator set on the target for them stay.

use std::collections::BTreeMap;

use kmirror_kafka::admin::{AlterConfigOp, ConfigEntry, ConfigSource};

use super::plan::clamp_min_insync;
use crate::config::UseDefaultsFrom;
use crate::policy::{ConfigPropertyFilter, DEFAULT_CONFIG_PROPERTIES_EXCLUDE};

/// The property whose effective value follows the source even when set broker-wide.
pub const MIN_INSYNC_REPLICAS: &str = "min.insync.replicas";
/// The largest record batch a topic accepts; the pipeline needs the target's value.
pub const MAX_MESSAGE_BYTES: &str = "max.message.bytes";

/// Whether config sync may copy, set or delete `name`. kmirror's default exclude list is MM2's without
/// `min.insync.replicas` (kmirror keeps durability settings); while the config model still hands out MM2's
/// exact default list for "nothing configured", that list is read as kmirror's default.
pub fn property_copied(filter: &ConfigPropertyFilter, name: &str) -> bool {
    filter.should_replicate(name) || (name == MIN_INSYNC_REPLICAS && is_mm2_default_list(filter))
}

fn is_mm2_default_list(filter: &ConfigPropertyFilter) -> bool {
    let patterns = filter.exclude().patterns();
    patterns.len() == DEFAULT_CONFIG_PROPERTIES_EXCLUDE.len()
        && patterns
            .iter()
            .zip(DEFAULT_CONFIG_PROPERTIES_EXCLUDE)
            .all(|(a, b)| a == b)
}

/// The configs a remote topic should carry, with warnings about values that had to change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredConfigs {
    /// Property → value to set on the target topic.
    pub configs: BTreeMap<String, String>,
    /// One line per adjusted value, naming the topic.
    pub warnings: Vec<String>,
}

/// What the remote topic `target_topic` should be configured with, from the source topic's DescribeConfigs
/// answer. `target_rf` (when known and positive) caps `min.insync.replicas`.
pub fn desired_target_configs(
    target_topic: &str,
    source: &BTreeMap<String, ConfigEntry>,
    filter: &ConfigPropertyFilter,
    use_defaults_from: UseDefaultsFrom,
    target_rf: Option<i32>,
) -> DesiredConfigs {
    let mut out = DesiredConfigs::default();
    for entry in source.values() {
        if entry.read_only || entry.sensitive || !property_copied(filter, &entry.name) {
            continue;
        }
        let Some(value) = &entry.value else { continue };
        let wanted = match use_defaults_from {
            // MM2 pushes source defaults too, except the source's static broker settings.
            UseDefaultsFrom::Source => entry.source != ConfigSource::StaticBroker,
            UseDefaultsFrom::Target if entry.name == MIN_INSYNC_REPLICAS => {
                entry.source != ConfigSource::Default
            }
            UseDefaultsFrom::Target => entry.source == ConfigSource::DynamicTopic,
        };
        if !wanted {
            continue;
        }
        let value = match target_rf {
            Some(rf) if rf > 0 && entry.name == MIN_INSYNC_REPLICAS => {
                let (v, warning) = clamp_min_insync(target_topic, value, rf);
                out.warnings.extend(warning);
                v
            }
            _ => value.clone(),
        };
        out.configs.insert(entry.name.clone(), value);
    }
    out
}

/// The changes that make an existing remote topic match its source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigPlan {
    /// What the target should carry (see [`desired_target_configs`]).
    pub desired: DesiredConfigs,
    /// IncrementalAlterConfigs operations; empty when the topic is in line.
    pub ops: Vec<AlterConfigOp>,
}

/// Compares source and target DescribeConfigs answers for one mirrored topic. SET for every desired value the
/// target does not carry as its own override; with `use.defaults.from = target`, DELETE for target overrides
/// of copyable properties the source has no value for (the target returns to its own default). Properties the
/// target does not report are skipped with a warning (an older target would refuse the whole change).
pub fn plan_config_sync(
    target_topic: &str,
    source: &BTreeMap<String, ConfigEntry>,
    target: &BTreeMap<String, ConfigEntry>,
    filter: &ConfigPropertyFilter,
    use_defaults_from: UseDefaultsFrom,
    target_rf: Option<i32>,
) -> ConfigPlan {
    let mut desired =
        desired_target_configs(target_topic, source, filter, use_defaults_from, target_rf);
    let mut ops = Vec::new();
    for (name, value) in &desired.configs {
        match target.get(name) {
            None => desired.warnings.push(format!(
                "topic '{target_topic}': the target does not know topic config '{name}' (set to '{value}' on the \
                 source); not copied. Add it to config.properties.exclude to silence this"
            )),
            Some(t) if t.read_only || t.sensitive => {}
            Some(t) if t.source == ConfigSource::DynamicTopic && t.value.as_ref() == Some(value) => {}
            Some(_) => ops.push(AlterConfigOp::set(name.clone(), value.clone())),
        }
    }
    if use_defaults_from == UseDefaultsFrom::Target {
        for t in target.values() {
            let removable = t.source == ConfigSource::DynamicTopic
                && !t.read_only
                && !t.sensitive
                && source.contains_key(&t.name)
                && !desired.configs.contains_key(&t.name)
                && property_copied(filter, &t.name);
            if removable {
                ops.push(AlterConfigOp::delete(t.name.clone()));
            }
        }
    }
    ConfigPlan { desired, ops }
}

/// A config's effective value as a number (`max.message.bytes` for the pipeline).
pub fn effective_i64(entries: &BTreeMap<String, ConfigEntry>, name: &str) -> Option<i64> {
    entries.get(name)?.value.as_deref()?.trim().parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn entry(name: &str, value: &str, source: ConfigSource) -> ConfigEntry {
        ConfigEntry {
            name: name.into(),
            value: Some(value.into()),
            source,
            read_only: false,
            sensitive: false,
            synonyms: Vec::new(),
        }
    }

    fn configs(entries: &[ConfigEntry]) -> BTreeMap<String, ConfigEntry> {
        entries
            .iter()
            .map(|e| (e.name.clone(), e.clone()))
            .collect()
    }

    /// A source topic as DescribeConfigs shows it: a few overrides among defaults and broker settings.
    fn source_topic() -> BTreeMap<String, ConfigEntry> {
        use ConfigSource::*;
        let mut secret = entry("sasl.secret", "", DynamicTopic);
        secret.sensitive = true;
        secret.value = None;
        let mut ro = entry("remote.log.copy.disable", "false", DynamicTopic);
        ro.read_only = true;
        configs(&[
            entry("cleanup.policy", "compact", DynamicTopic),
            entry("retention.ms", "3600000", DynamicTopic),
            entry("segment.bytes", "1073741824", Default),
            entry("max.message.bytes", "1048588", Default),
            entry("compression.type", "zstd", StaticBroker),
            entry("message.timestamp.type", "LogAppendTime", DynamicTopic),
            entry("min.insync.replicas", "2", StaticBroker),
            entry(
                "unclean.leader.election.enable",
                "true",
                DynamicDefaultBroker,
            ),
            secret,
            ro,
        ])
    }

    #[test]
    fn kmirror_default_list_keeps_min_insync() {
        let mm2 = ConfigPropertyFilter::mm2_default();
        assert!(property_copied(&mm2, MIN_INSYNC_REPLICAS));
        assert!(!property_copied(&mm2, "message.timestamp.type"));
        assert!(property_copied(&mm2, "retention.ms"));
        // A list the user wrote is taken as written.
        let user = ConfigPropertyFilter::from_list(&["min\\.insync\\.replicas"]).unwrap();
        assert!(!property_copied(&user, MIN_INSYNC_REPLICAS));
        let other = ConfigPropertyFilter::from_list(&["retention\\..*"]).unwrap();
        assert!(property_copied(&other, MIN_INSYNC_REPLICAS));
        assert!(!property_copied(&other, "retention.ms"));
    }

    #[test]
    fn only_topic_overrides_and_min_insync_are_copied() {
        let d = desired_target_configs(
            "A.t",
            &source_topic(),
            &ConfigPropertyFilter::mm2_default(),
            UseDefaultsFrom::Target,
            Some(3),
        );
        let want: BTreeMap<String, String> = [
            ("cleanup.policy", "compact"),
            ("retention.ms", "3600000"),
            ("min.insync.replicas", "2"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(d.configs, want);
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn min_insync_at_kafka_default_is_not_copied_and_is_clamped_otherwise() {
        let mut src = source_topic();
        src.insert(
            "min.insync.replicas".into(),
            entry("min.insync.replicas", "1", ConfigSource::Default),
        );
        let f = ConfigPropertyFilter::mm2_default();
        let d = desired_target_configs("A.t", &src, &f, UseDefaultsFrom::Target, Some(3));
        assert!(!d.configs.contains_key(MIN_INSYNC_REPLICAS));

        let src = source_topic();
        let d = desired_target_configs("A.t", &src, &f, UseDefaultsFrom::Target, Some(1));
        assert_eq!(d.configs[MIN_INSYNC_REPLICAS], "1");
        assert_eq!(d.warnings.len(), 1);
        assert!(d.warnings[0].contains("'A.t'"), "{:?}", d.warnings);
        // Factor unknown (broker default): passed on unchanged, checked after creation.
        let d = desired_target_configs("A.t", &src, &f, UseDefaultsFrom::Target, None);
        assert_eq!(d.configs[MIN_INSYNC_REPLICAS], "2");
    }

    #[test]
    fn use_defaults_from_source_pushes_defaults_but_not_static_broker_settings() {
        let d = desired_target_configs(
            "A.t",
            &source_topic(),
            &ConfigPropertyFilter::mm2_default(),
            UseDefaultsFrom::Source,
            None,
        );
        assert_eq!(d.configs["segment.bytes"], "1073741824");
        assert_eq!(d.configs["max.message.bytes"], "1048588");
        assert!(!d.configs.contains_key("compression.type"));
        assert!(!d.configs.contains_key("message.timestamp.type"));
        assert!(!d.configs.contains_key("unclean.leader.election.enable"));
        assert!(!d.configs.contains_key("sasl.secret"));
        assert!(!d.configs.contains_key("remote.log.copy.disable"));
    }

    fn target_topic() -> BTreeMap<String, ConfigEntry> {
        use ConfigSource::*;
        configs(&[
            entry("cleanup.policy", "compact", DynamicTopic),
            entry("retention.ms", "1000", DynamicTopic),
            entry("segment.bytes", "1073741824", Default),
            entry("max.message.bytes", "1048588", Default),
            entry("compression.type", "producer", Default),
            entry("retention.bytes", "5000", DynamicTopic),
            entry("message.timestamp.type", "CreateTime", DynamicTopic),
            entry("min.insync.replicas", "1", Default),
            entry("unclean.leader.election.enable", "false", Default),
            entry("target.only.prop", "x", DynamicTopic),
        ])
    }

    #[test]
    fn sync_sets_differences_and_deletes_removed_overrides() {
        let mut src = source_topic();
        src.insert(
            "retention.bytes".into(),
            entry("retention.bytes", "-1", ConfigSource::Default),
        );
        let plan = plan_config_sync(
            "A.t",
            &src,
            &target_topic(),
            &ConfigPropertyFilter::mm2_default(),
            UseDefaultsFrom::Target,
            Some(3),
        );
        assert_eq!(
            plan.ops,
            vec![
                AlterConfigOp::set("min.insync.replicas", "2"),
                AlterConfigOp::set("retention.ms", "3600000"),
                AlterConfigOp::delete("retention.bytes"),
            ]
        );
        // message.timestamp.type is excluded: the target's own value survives; target.only.prop is unknown
        // to the source and left alone.
        assert!(
            plan.desired.warnings.is_empty(),
            "{:?}",
            plan.desired.warnings
        );
    }

    #[test]
    fn sync_of_a_topic_in_line_does_nothing() {
        let src = source_topic();
        let mut tgt = target_topic();
        tgt.insert(
            "retention.ms".into(),
            entry("retention.ms", "3600000", ConfigSource::DynamicTopic),
        );
        tgt.insert(
            "min.insync.replicas".into(),
            entry("min.insync.replicas", "2", ConfigSource::DynamicTopic),
        );
        let plan = plan_config_sync(
            "A.t",
            &src,
            &tgt,
            &ConfigPropertyFilter::mm2_default(),
            UseDefaultsFrom::Target,
            Some(3),
        );
        assert_eq!(plan.ops, vec![]);
    }

    #[test]
    fn a_target_value_equal_by_default_still_becomes_an_override() {
        let src = configs(&[entry(
            "segment.bytes",
            "1073741824",
            ConfigSource::DynamicTopic,
        )]);
        let tgt = configs(&[entry("segment.bytes", "1073741824", ConfigSource::Default)]);
        let f = ConfigPropertyFilter::mm2_default();
        let plan = plan_config_sync("t", &src, &tgt, &f, UseDefaultsFrom::Target, None);
        assert_eq!(
            plan.ops,
            vec![AlterConfigOp::set("segment.bytes", "1073741824")]
        );
    }

    #[test]
    fn removed_source_min_insync_override_is_deleted_unless_excluded() {
        let src = configs(&[entry("min.insync.replicas", "1", ConfigSource::Default)]);
        let tgt = configs(&[entry(
            "min.insync.replicas",
            "2",
            ConfigSource::DynamicTopic,
        )]);
        let f = ConfigPropertyFilter::mm2_default();
        let plan = plan_config_sync("t", &src, &tgt, &f, UseDefaultsFrom::Target, Some(3));
        assert_eq!(plan.ops, vec![AlterConfigOp::delete("min.insync.replicas")]);
        let user = ConfigPropertyFilter::from_list(&["min\\.insync\\.replicas"]).unwrap();
        let plan = plan_config_sync("t", &src, &tgt, &user, UseDefaultsFrom::Target, Some(3));
        assert_eq!(plan.ops, vec![]);
    }

    #[test]
    fn use_defaults_from_source_never_deletes() {
        let src = configs(&[entry("retention.ms", "604800000", ConfigSource::Default)]);
        let tgt = configs(&[
            entry("retention.ms", "1000", ConfigSource::DynamicTopic),
            entry("retention.bytes", "10", ConfigSource::DynamicTopic),
        ]);
        let f = ConfigPropertyFilter::mm2_default();
        let plan = plan_config_sync("t", &src, &tgt, &f, UseDefaultsFrom::Source, None);
        assert_eq!(
            plan.ops,
            vec![AlterConfigOp::set("retention.ms", "604800000")]
        );
    }

    #[test]
    fn properties_unknown_to_the_target_are_skipped_with_a_warning() {
        let src = configs(&[entry("new.fancy.config", "1", ConfigSource::DynamicTopic)]);
        let tgt = configs(&[entry("retention.ms", "1", ConfigSource::Default)]);
        let f = ConfigPropertyFilter::mm2_default();
        let plan = plan_config_sync("A.t", &src, &tgt, &f, UseDefaultsFrom::Target, None);
        assert!(plan.ops.is_empty());
        assert!(plan.desired.warnings[0].contains("new.fancy.config"));
    }

    #[test]
    fn effective_numbers() {
        let t = target_topic();
        assert_eq!(effective_i64(&t, MAX_MESSAGE_BYTES), Some(1_048_588));
        assert_eq!(effective_i64(&t, "cleanup.policy"), None);
        assert_eq!(effective_i64(&t, "absent"), None);
    }
}

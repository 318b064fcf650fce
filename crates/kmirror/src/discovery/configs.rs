//! Which topic configs a remote topic gets, and the SET/DELETE operations that bring an existing remote
//! topic back in line with its source. Pure: works on DescribeConfigs answers.
//!
//! Only values set on the source topic itself are copied (not the source cluster's broker defaults, which
//! describe that cluster, not the topic). `min.insync.replicas` is the exception: a topic's durability
//! contract is often set broker-wide and must survive a failover, so the target must end up with the source's
//! *effective* value whenever that is not Kafka's built-in default — as its own default if that already
//! matches, else as a topic override. Excluded properties are never set or deleted, so values an operator set
//! on the target for them stay.

use std::collections::BTreeMap;

use kmirror_kafka::admin::{AlterConfigOp, ConfigEntry, ConfigSource};

use super::plan::clamp_min_insync;
use crate::config::UseDefaultsFrom;
use crate::policy::ConfigPropertyFilter;

/// The property whose effective value follows the source even when set broker-wide.
pub const MIN_INSYNC_REPLICAS: &str = "min.insync.replicas";
/// The largest record batch a topic accepts; the pipeline needs the target's value.
pub const MAX_MESSAGE_BYTES: &str = "max.message.bytes";

/// Whether config sync may copy, set or delete `name` (kmirror's default list keeps `min.insync.replicas`;
/// a list the user wrote is taken as written).
pub fn property_copied(filter: &ConfigPropertyFilter, name: &str) -> bool {
    filter.should_replicate(name)
}

/// The configs a remote topic should carry, with warnings about values that had to change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredConfigs {
    /// Topic overrides to carry: property → value.
    pub configs: BTreeMap<String, String>,
    /// The source's `min.insync.replicas` when it comes from the source's broker settings rather than the
    /// topic (already capped by the replication factor): the target must end with this effective value, from
    /// its own default if that matches, else as an override.
    pub inherited_min_insync: Option<String>,
    /// One line per adjusted value, naming the topic.
    pub warnings: Vec<String>,
}

impl DesiredConfigs {
    /// The `min.insync.replicas` the target topic must end with, if the source decides it.
    pub fn min_insync(&self) -> Option<&str> {
        self.configs
            .get(MIN_INSYNC_REPLICAS)
            .or(self.inherited_min_insync.as_ref())
            .map(String::as_str)
    }
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
        let is_min_insync = entry.name == MIN_INSYNC_REPLICAS;
        let value = match target_rf {
            Some(rf) if rf > 0 && is_min_insync => {
                let (v, warning) = clamp_min_insync(target_topic, value, rf);
                out.warnings.extend(warning);
                v
            }
            _ => value.clone(),
        };
        let as_override = match (use_defaults_from, entry.source) {
            (_, ConfigSource::DynamicTopic) => true,
            (_, ConfigSource::Default) if is_min_insync => {
                use_defaults_from == UseDefaultsFrom::Source
            }
            _ if is_min_insync => {
                out.inherited_min_insync = Some(value);
                continue;
            }
            // MM2 pushes source defaults too, except the source's static broker settings.
            (UseDefaultsFrom::Source, source) => source != ConfigSource::StaticBroker,
            (UseDefaultsFrom::Target, _) => false,
        };
        if as_override {
            out.configs.insert(entry.name.clone(), value);
        }
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
/// target does not carry as its own override, and for a broker-level source `min.insync.replicas` the target's
/// effective value differs from; with `use.defaults.from = target`, DELETE for target overrides of copyable
/// properties the source has no value for (the target returns to its own default). Properties the target does
/// not report are skipped with a warning (an older target would refuse the whole change).
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
    if let Some(value) = &desired.inherited_min_insync {
        match target.get(MIN_INSYNC_REPLICAS) {
            Some(t) if t.value.as_ref() == Some(value) || t.read_only || t.sensitive => {}
            Some(_) => ops.push(AlterConfigOp::set(MIN_INSYNC_REPLICAS, value.clone())),
            None => desired.warnings.push(format!(
                "topic '{target_topic}': the target does not report min.insync.replicas; cannot match the \
                 source's {value}"
            )),
        }
    }
    if use_defaults_from == UseDefaultsFrom::Target {
        for t in target.values() {
            let removable = t.source == ConfigSource::DynamicTopic
                && !t.read_only
                && !t.sensitive
                && source.contains_key(&t.name)
                && !desired.configs.contains_key(&t.name)
                && (t.name != MIN_INSYNC_REPLICAS || desired.inherited_min_insync.is_none())
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
        let kmirror = ConfigPropertyFilter::kmirror_default();
        assert!(property_copied(&kmirror, MIN_INSYNC_REPLICAS));
        assert!(!property_copied(&kmirror, "message.timestamp.type"));
        assert!(property_copied(&kmirror, "retention.ms"));
        assert!(!property_copied(
            &ConfigPropertyFilter::mm2_default(),
            MIN_INSYNC_REPLICAS
        ));
        // A list the user wrote is taken as written.
        let user = ConfigPropertyFilter::from_list(&["min\\.insync\\.replicas"]).unwrap();
        assert!(!property_copied(&user, MIN_INSYNC_REPLICAS));
        let other = ConfigPropertyFilter::from_list(&["retention\\..*"]).unwrap();
        assert!(property_copied(&other, MIN_INSYNC_REPLICAS));
        assert!(!property_copied(&other, "retention.ms"));
    }

    #[test]
    fn only_topic_overrides_are_copied_and_broker_level_min_insync_is_followed() {
        let d = desired_target_configs(
            "A.t",
            &source_topic(),
            &ConfigPropertyFilter::kmirror_default(),
            UseDefaultsFrom::Target,
            Some(3),
        );
        let want: BTreeMap<String, String> =
            [("cleanup.policy", "compact"), ("retention.ms", "3600000")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        assert_eq!(d.configs, want);
        assert_eq!(d.inherited_min_insync.as_deref(), Some("2"));
        assert_eq!(d.min_insync(), Some("2"));
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn min_insync_set_on_the_source_topic_is_an_override() {
        let mut src = source_topic();
        src.insert(
            MIN_INSYNC_REPLICAS.into(),
            entry(MIN_INSYNC_REPLICAS, "1", ConfigSource::DynamicTopic),
        );
        let f = ConfigPropertyFilter::kmirror_default();
        let d = desired_target_configs("A.t", &src, &f, UseDefaultsFrom::Target, Some(3));
        assert_eq!(d.configs[MIN_INSYNC_REPLICAS], "1");
        assert_eq!(d.inherited_min_insync, None);
        // Unless the user excludes it.
        let user = ConfigPropertyFilter::from_list(&["min\\.insync\\.replicas"]).unwrap();
        let d = desired_target_configs("A.t", &src, &user, UseDefaultsFrom::Target, Some(3));
        assert_eq!(d.min_insync(), None);
    }

    #[test]
    fn min_insync_at_kafka_default_is_not_copied_and_is_clamped_otherwise() {
        let mut src = source_topic();
        src.insert(
            MIN_INSYNC_REPLICAS.into(),
            entry(MIN_INSYNC_REPLICAS, "1", ConfigSource::Default),
        );
        let f = ConfigPropertyFilter::kmirror_default();
        let d = desired_target_configs("A.t", &src, &f, UseDefaultsFrom::Target, Some(3));
        assert_eq!(d.min_insync(), None);

        let src = source_topic();
        let d = desired_target_configs("A.t", &src, &f, UseDefaultsFrom::Target, Some(1));
        assert_eq!(d.min_insync(), Some("1"));
        assert_eq!(d.warnings.len(), 1);
        assert!(d.warnings[0].contains("'A.t'"), "{:?}", d.warnings);
        // Factor unknown (broker default): passed on unchanged, checked after creation.
        let d = desired_target_configs("A.t", &src, &f, UseDefaultsFrom::Target, None);
        assert_eq!(d.min_insync(), Some("2"));
    }

    #[test]
    fn use_defaults_from_source_pushes_defaults_but_not_static_broker_settings() {
        let d = desired_target_configs(
            "A.t",
            &source_topic(),
            &ConfigPropertyFilter::kmirror_default(),
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
        assert_eq!(d.inherited_min_insync.as_deref(), Some("2"));
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
            &ConfigPropertyFilter::kmirror_default(),
            UseDefaultsFrom::Target,
            Some(3),
        );
        assert_eq!(
            plan.ops,
            vec![
                AlterConfigOp::set("retention.ms", "3600000"),
                AlterConfigOp::set("min.insync.replicas", "2"),
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
            &ConfigPropertyFilter::kmirror_default(),
            UseDefaultsFrom::Target,
            Some(3),
        );
        assert_eq!(plan.ops, vec![]);
    }

    #[test]
    fn broker_level_min_insync_is_matched_by_value_not_by_override() {
        let f = ConfigPropertyFilter::kmirror_default();
        let src = configs(&[entry(
            MIN_INSYNC_REPLICAS,
            "2",
            ConfigSource::DynamicDefaultBroker,
        )]);
        let same = configs(&[entry(MIN_INSYNC_REPLICAS, "2", ConfigSource::StaticBroker)]);
        let plan = plan_config_sync("t", &src, &same, &f, UseDefaultsFrom::Target, Some(3));
        assert_eq!(plan.ops, vec![]);
        let overridden = configs(&[entry(MIN_INSYNC_REPLICAS, "2", ConfigSource::DynamicTopic)]);
        let plan = plan_config_sync("t", &src, &overridden, &f, UseDefaultsFrom::Target, Some(3));
        assert_eq!(plan.ops, vec![], "an equal override is kept, not deleted");
        let other = configs(&[entry(
            MIN_INSYNC_REPLICAS,
            "1",
            ConfigSource::DynamicDefaultBroker,
        )]);
        let plan = plan_config_sync("t", &src, &other, &f, UseDefaultsFrom::Target, Some(3));
        assert_eq!(plan.ops, vec![AlterConfigOp::set(MIN_INSYNC_REPLICAS, "2")]);
        let plan = plan_config_sync("t", &src, &other, &f, UseDefaultsFrom::Target, Some(1));
        assert_eq!(plan.ops, vec![], "clamped to the factor, 1 already holds");
    }

    #[test]
    fn a_target_value_equal_by_default_still_becomes_an_override() {
        let src = configs(&[entry(
            "segment.bytes",
            "1073741824",
            ConfigSource::DynamicTopic,
        )]);
        let tgt = configs(&[entry("segment.bytes", "1073741824", ConfigSource::Default)]);
        let f = ConfigPropertyFilter::kmirror_default();
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
        let f = ConfigPropertyFilter::kmirror_default();
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
        let f = ConfigPropertyFilter::kmirror_default();
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
        let f = ConfigPropertyFilter::kmirror_default();
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

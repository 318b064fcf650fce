//! Remote-topic naming, byte-for-byte compatible with MirrorMaker 2's `DefaultReplicationPolicy` and
//! `IdentityReplicationPolicy`, so MM2 tooling (`RemoteClusterUtils`, `MirrorClient`) reads kmirror's topics.

/// MirrorMaker 2's default heartbeats topic name.
pub const DEFAULT_HEARTBEATS_TOPIC: &str = "heartbeats";
/// MirrorMaker 2's default remote-topic separator.
pub const DEFAULT_SEPARATOR: &str = ".";

/// Which naming scheme a flow uses. Only the two MM2 ships are supported: kmirror cannot load Java classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// `<source><sep><topic>`: safe for active/active, cycles are detected from the names.
    Default,
    /// Names unchanged (heartbeats still prefixed): for DR and migration; cycles must be prevented by topology.
    Identity,
}

/// A configured replication policy: the naming rules of one flow (or of a cluster, for `MirrorClient`-style queries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationPolicy {
    kind: PolicyKind,
    separator: String,
    internal_separator_enabled: bool,
    heartbeats_topic: String,
    /// Identity only: what `topic_source` answers for non-heartbeat topics (MM2's `source.cluster.alias`).
    source_alias: Option<String>,
}

impl Default for ReplicationPolicy {
    fn default() -> Self {
        Self::new(PolicyKind::Default)
    }
}

impl ReplicationPolicy {
    /// A policy with MM2's defaults: separator `.`, internal-topic separator enabled, topic `heartbeats`.
    pub fn new(kind: PolicyKind) -> Self {
        Self {
            kind,
            separator: DEFAULT_SEPARATOR.to_owned(),
            internal_separator_enabled: true,
            heartbeats_topic: DEFAULT_HEARTBEATS_TOPIC.to_owned(),
            source_alias: None,
        }
    }

    /// `replication.policy.separator`. Callers must not pass an empty separator (config validation rejects it).
    pub fn with_separator(mut self, separator: impl Into<String>) -> Self {
        self.separator = separator.into();
        self
    }

    /// `replication.policy.internal.topic.separator.enabled`: false keeps `.` in internal topic names (pre-3.1 names).
    pub fn with_internal_separator_enabled(mut self, enabled: bool) -> Self {
        self.internal_separator_enabled = enabled;
        self
    }

    /// `default.replication.policy.heartbeats.topic.name`.
    pub fn with_heartbeats_topic(mut self, name: impl Into<String>) -> Self {
        self.heartbeats_topic = name.into();
        self
    }

    /// The source alias the identity policy reports for every non-heartbeat topic (MM2: `source.cluster.alias`).
    pub fn with_source_alias(mut self, alias: impl Into<String>) -> Self {
        self.source_alias = Some(alias.into());
        self
    }

    /// Which naming scheme this is.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The configured separator.
    pub fn separator(&self) -> &str {
        &self.separator
    }

    /// Whether internal topic names use the custom separator.
    pub fn internal_separator_enabled(&self) -> bool {
        self.internal_separator_enabled
    }

    /// Name of `topic` from cluster `source_alias` once mirrored.
    pub fn format_remote_topic(&self, source_alias: &str, topic: &str) -> String {
        match self.kind {
            PolicyKind::Identity if !self.looks_like_heartbeat(topic) => topic.to_owned(),
            _ => format!("{source_alias}{}{topic}", self.separator),
        }
    }

    /// The cluster a remote topic came from, or `None` when the name does not say (a local topic).
    pub fn topic_source<'a>(&'a self, topic: &'a str) -> Option<&'a str> {
        match self.kind {
            PolicyKind::Identity if !self.looks_like_heartbeat(topic) => {
                self.source_alias.as_deref()
            }
            _ => self.prefix_source(topic),
        }
    }

    /// The topic's name one hop upstream, or `None` if it is not a remote topic.
    pub fn upstream_topic<'a>(&self, topic: &'a str) -> Option<&'a str> {
        match self.kind {
            PolicyKind::Identity if !self.looks_like_heartbeat(topic) => Some(topic),
            _ => {
                let source = self.prefix_source(topic)?;
                Some(&topic[source.len() + self.separator.len()..])
            }
        }
    }

    /// The name at the topic's origin, however many hops it travelled.
    pub fn original_topic<'a>(&self, topic: &'a str) -> &'a str {
        let mut current = topic;
        while let Some(up) = self.upstream_topic(current) {
            if up == current {
                break;
            }
            current = up;
        }
        current
    }

    /// The heartbeats topic name (never changed by the separator).
    pub fn heartbeats_topic(&self) -> &str {
        &self.heartbeats_topic
    }

    /// `mm2-offset-syncs<sep><alias><sep>internal`: the offset-syncs topic named after `alias`.
    pub fn offset_syncs_topic(&self, alias: &str) -> String {
        let sep = self.internal_separator();
        format!("mm2-offset-syncs{sep}{alias}{sep}internal")
    }

    /// `<alias><sep>checkpoints<sep>internal`: where checkpoints of groups from `alias` are written.
    pub fn checkpoints_topic(&self, alias: &str) -> String {
        format!("{alias}{}", self.checkpoints_suffix())
    }

    /// True for `heartbeats` and any remote copy of it (`A.heartbeats`, `B.A.heartbeats`).
    pub fn is_heartbeats_topic(&self, topic: &str) -> bool {
        self.original_topic(topic) == self.heartbeats_topic
    }

    /// True for `<alias><sep>checkpoints<sep>internal` (a bare `checkpoints.internal` has no alias and does not count).
    pub fn is_checkpoints_topic(&self, topic: &str) -> bool {
        let suffix = self.checkpoints_suffix();
        topic.len() > suffix.len() && topic.ends_with(&suffix)
    }

    /// True for MM2's own bookkeeping topics (`...<sep>internal`).
    pub fn is_mm2_internal_topic(&self, topic: &str) -> bool {
        topic.ends_with(&format!("{}internal", self.internal_separator()))
    }

    /// Topics that are never replicated, whatever the filter says: MM2's bookkeeping, Kafka's `__*` and `.*`
    /// topics, and Connect-style `*.internal` / `*-internal` topics. `_schemas` (one underscore) is not internal.
    pub fn is_internal_topic(&self, topic: &str) -> bool {
        self.internal_reason(topic).is_some()
    }

    /// Why `topic` counts as internal, for human-readable skip reasons.
    pub fn internal_reason(&self, topic: &str) -> Option<&'static str> {
        if topic.starts_with("__") {
            Some("its name starts with `__` (Kafka-internal topic)")
        } else if topic.starts_with('.') {
            Some("its name starts with `.` (internal topic)")
        } else if topic.ends_with(".internal") || topic.ends_with("-internal") {
            Some("its name ends with `.internal` or `-internal` (MM2/Connect internal topic)")
        } else if self.is_mm2_internal_topic(topic) {
            Some("its name ends with the separator + `internal` (MM2 internal topic)")
        } else {
            None
        }
    }

    /// MM2's `isCycle`: true if any hop of the topic's remote-name chain came from `target_alias`, so copying it
    /// there would send records back where they started. The identity policy cannot see hops, so for it only
    /// heartbeat chains are detected (config validation rejects identity flows in a cycle).
    pub fn is_cycle(&self, topic: &str, target_alias: &str) -> bool {
        self.cycle_hop(topic, target_alias).is_some()
    }

    /// Like [`is_cycle`](Self::is_cycle), returning the name in the chain whose source is the target.
    pub fn cycle_hop<'a>(&'a self, topic: &'a str, target_alias: &str) -> Option<&'a str> {
        let mut current = topic;
        loop {
            let source = self.topic_source(current)?;
            if source == target_alias {
                return Some(current);
            }
            match self.upstream_topic(current) {
                Some(up) if up != current => current = up,
                _ => return None,
            }
        }
    }

    fn looks_like_heartbeat(&self, topic: &str) -> bool {
        topic.ends_with(self.heartbeats_topic.as_str())
    }

    /// Java's `Pattern.split(topic)` keeps leading empty strings and drops trailing ones; a topic is remote when
    /// that yields at least two parts, and its source is the first part.
    fn prefix_source<'a>(&self, topic: &'a str) -> Option<&'a str> {
        if self.separator.is_empty() {
            return None;
        }
        let mut parts: Vec<&str> = topic.split(self.separator.as_str()).collect();
        while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        // Java's split of an input consisting only of separators yields no parts at all.
        if parts.len() == 1 && parts[0].is_empty() {
            return None;
        }
        if parts.len() < 2 {
            None
        } else {
            Some(parts[0])
        }
    }

    fn internal_separator(&self) -> &str {
        if self.internal_separator_enabled {
            &self.separator
        } else {
            DEFAULT_SEPARATOR
        }
    }

    fn checkpoints_suffix(&self) -> String {
        let sep = self.internal_separator();
        format!("{sep}checkpoints{sep}internal")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn default() -> ReplicationPolicy {
        ReplicationPolicy::new(PolicyKind::Default)
    }

    fn identity(source: &str) -> ReplicationPolicy {
        ReplicationPolicy::new(PolicyKind::Identity).with_source_alias(source)
    }

    #[test]
    fn default_policy_prefixes_and_parses() {
        let p = default();
        assert_eq!(p.format_remote_topic("us-west", "topic1"), "us-west.topic1");
        assert_eq!(p.topic_source("us-west.topic1"), Some("us-west"));
        assert_eq!(p.upstream_topic("us-west.topic1"), Some("topic1"));
        assert_eq!(p.topic_source("topic1"), None);
        assert_eq!(p.upstream_topic("topic1"), None);
        assert_eq!(p.original_topic("b.a.topic1"), "topic1");
        assert_eq!(p.upstream_topic("b.a.topic1"), Some("a.topic1"));
        // Java's split drops trailing empty strings: "a." is not remote, ".a" has source "".
        assert_eq!(p.topic_source("a."), None);
        assert_eq!(p.topic_source(".a"), Some(""));
        assert_eq!(p.topic_source("."), None);
    }

    // MirrorClientTest.testIsHeartbeatTopic
    #[test]
    fn heartbeat_topics() {
        let p = default();
        for t in [
            "heartbeats",
            "source1.heartbeats",
            "source2.source1.heartbeats",
        ] {
            assert!(p.is_heartbeats_topic(t), "{t}");
        }
        for t in [
            "heartbeats!",
            "!heartbeats",
            "source1heartbeats",
            "source1-heartbeats",
        ] {
            assert!(!p.is_heartbeats_topic(t), "{t}");
        }
    }

    // MirrorClientTest.testIsCheckpointTopic
    #[test]
    fn checkpoint_topics() {
        let p = default();
        assert!(p.is_checkpoints_topic("source1.checkpoints.internal"));
        for t in [
            "checkpoints.internal",
            "checkpoints-internal",
            "checkpoints.internal!",
            "!checkpoints.internal",
            "source1checkpointsinternal",
        ] {
            assert!(!p.is_checkpoints_topic(t), "{t}");
        }
    }

    // ReplicationPolicyTest: internal topics
    #[test]
    fn internal_topics() {
        let p = default();
        for t in [
            "__consumer_offsets",
            "__transaction_state",
            ".hidden",
            "mm2-offsets.CLUSTER.internal",
            "mm2-offset-syncs.b.internal",
            "a.checkpoints.internal",
            "connect-internal",
            "x.internal",
        ] {
            assert!(p.is_internal_topic(t), "{t}");
        }
        for t in [
            "mm2-offsets_CLUSTER_internal",
            "_schemas",
            "connect-configs",
            "connect-offsets",
            "orders",
            "x_internal",
        ] {
            assert!(!p.is_internal_topic(t), "{t}");
        }
    }

    // ReplicationPolicyTest + remoteTopicsSeparatorTest: separator `__`
    #[test]
    fn custom_separator_changes_internal_names_unless_disabled() {
        let p = default().with_separator("__");
        assert_eq!(
            p.offset_syncs_topic("CLUSTER"),
            "mm2-offset-syncs__CLUSTER__internal"
        );
        assert_eq!(
            p.checkpoints_topic("CLUSTER"),
            "CLUSTER__checkpoints__internal"
        );
        assert_eq!(p.heartbeats_topic(), "heartbeats");
        assert_eq!(p.format_remote_topic("b", "topic1"), "b__topic1");
        assert_eq!(p.topic_source("source1__source2__topic5"), Some("source1"));
        assert_eq!(p.original_topic("source1__source2__topic5"), "topic5");
        assert!(p.is_checkpoints_topic("a__checkpoints__internal"));
        assert!(p.is_internal_topic("mm2-offset-syncs__CLUSTER__internal"));

        let legacy = default()
            .with_separator("__")
            .with_internal_separator_enabled(false);
        assert_eq!(
            legacy.offset_syncs_topic("CLUSTER"),
            "mm2-offset-syncs.CLUSTER.internal"
        );
        assert_eq!(
            legacy.checkpoints_topic("CLUSTER"),
            "CLUSTER.checkpoints.internal"
        );
        assert_eq!(legacy.heartbeats_topic(), "heartbeats");
    }

    #[test]
    fn mm2_topic_names() {
        let p = default();
        assert_eq!(
            p.offset_syncs_topic("backup"),
            "mm2-offset-syncs.backup.internal"
        );
        assert_eq!(
            p.checkpoints_topic("primary"),
            "primary.checkpoints.internal"
        );
        assert_eq!(p.heartbeats_topic(), "heartbeats");
    }

    // MirrorSourceConnectorTest.testReplicatesHeartbeatsDespiteFilter: separator `_`
    #[test]
    fn separator_decides_which_topics_are_heartbeats() {
        let p = default().with_separator("_");
        assert!(!p.is_heartbeats_topic("us-west.heartbeats"));
        assert!(p.is_heartbeats_topic("us-west_heartbeats"));
        assert!(p.is_heartbeats_topic("heartbeats"));
    }

    // MirrorSourceConnectorTest.testNoCycles
    #[test]
    fn no_cycles_default_policy() {
        let p = default();
        for t in [
            "target.topic1",
            "target.source.topic1",
            "source.target.topic1",
            "target.source.target.topic1",
            "source.target.source.topic1",
        ] {
            assert!(p.is_cycle(t, "target"), "{t}");
        }
        for t in ["topic1", "source.topic1"] {
            assert!(!p.is_cycle(t, "target"), "{t}");
        }
        // testIsCycleWithNullUpstreamTopic: names whose chain ends oddly must not break the walk.
        for t in [".b", "a.", ".", "", "target."] {
            assert!(!p.is_cycle(t, "target"), "{t}");
        }
    }

    // MirrorSourceConnectorTest.testIdentityReplication (cycle part)
    #[test]
    fn identity_policy_detects_only_heartbeat_cycles() {
        let p = identity("source");
        for t in [
            "topic1",
            "source.topic1",
            "target.topic1",
            "target.source.topic1",
            "source.target.topic1",
            "othersource.topic1",
            "heartbeats",
            "othersource.heartbeats",
        ] {
            assert!(!p.is_cycle(t, "target"), "{t}");
        }
        for t in [
            "target.heartbeats",
            "target.source.heartbeats",
            "source.target.heartbeats",
            "target.source.target.heartbeats",
        ] {
            assert!(p.is_cycle(t, "target"), "{t}");
        }
    }

    // MirrorClientTest.testIdentityReplicationTopicSource
    #[test]
    fn identity_policy_names() {
        let p = identity("primary");
        assert_eq!(p.format_remote_topic("primary", "topic1"), "topic1");
        assert_eq!(p.topic_source("topic1"), Some("primary"));
        assert_eq!(
            p.format_remote_topic("backup", "heartbeats"),
            "backup.heartbeats"
        );
        assert_eq!(p.topic_source("backup.heartbeats"), Some("backup"));
        assert_eq!(p.upstream_topic("topic1"), Some("topic1"));
        assert_eq!(p.original_topic("topic1"), "topic1");
        assert!(p.is_heartbeats_topic("backup.heartbeats"));
        // Without a configured alias the identity policy cannot tell a topic's source.
        assert_eq!(
            ReplicationPolicy::new(PolicyKind::Identity).topic_source("topic1"),
            None
        );
    }

    #[test]
    fn custom_heartbeats_name() {
        let p = default().with_heartbeats_topic("hb");
        assert!(p.is_heartbeats_topic("a.hb"));
        assert!(!p.is_heartbeats_topic("a.heartbeats"));
    }
}

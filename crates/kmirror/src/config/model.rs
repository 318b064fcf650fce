//! The validated configuration every other module reads. Built only by the loaders, so holding a `Config` means
//! every alias resolves, every regex compiles and every number is in range.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::error::ConfigWarning;
use super::raw::Format;
use crate::policy::{ConfigPropertyFilter, GroupFilter, ReplicationPolicy, TopicFilter};

/// kmirror's defaults where they differ from MirrorMaker 2's (MM2's value in the comment), and MM2's elsewhere.
pub mod defaults {
    use std::time::Duration;

    /// MM2: 600 s. New topics should be mirrored within seconds.
    pub const REFRESH_TOPICS_INTERVAL: Duration = Duration::from_secs(5);
    /// MM2: 600 s.
    pub const REFRESH_GROUPS_INTERVAL: Duration = Duration::from_secs(5);
    /// MM2: 600 s.
    pub const SYNC_TOPIC_CONFIGS_INTERVAL: Duration = Duration::from_secs(600);
    /// MM2: 600 s.
    pub const SYNC_TOPIC_ACLS_INTERVAL: Duration = Duration::from_secs(600);
    /// MM2: 1 s.
    pub const EMIT_HEARTBEATS_INTERVAL: Duration = Duration::from_secs(1);
    /// MM2: 60 s.
    pub const EMIT_CHECKPOINTS_INTERVAL: Duration = Duration::from_secs(5);
    /// MM2: disabled, 60 s. Consumers failing over should find their offsets on the target.
    pub const SYNC_GROUP_OFFSETS_ENABLED: bool = true;
    /// MM2: 60 s.
    pub const SYNC_GROUP_OFFSETS_INTERVAL: Duration = Duration::from_secs(5);
    /// MM2: 100.
    pub const OFFSET_LAG_MAX: i64 = 100;
}

/// The whole configuration: clusters, and one [`FlowConfig`] per ordered cluster pair that replicates or emits
/// heartbeats (MM2 runs a herder for exactly those pairs).
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from, for messages.
    pub file: Option<PathBuf>,
    /// Which format it was written in.
    pub format: Format,
    /// Clusters by alias.
    pub clusters: BTreeMap<String, ClusterConfig>,
    /// Active pairs, sorted by (source, target). Pairs that neither replicate nor emit heartbeats are left out.
    pub flows: Vec<FlowConfig>,
    /// `kmirror.http.listen`: address of the metrics/status HTTP server; `None` (the default) serves nothing.
    pub http_listen: Option<SocketAddr>,
    /// `kmirror.existing.target.data = append`: copy into target partitions that already hold records kmirror did
    /// not write (default `refuse`).
    pub existing_target_data_append: bool,
    /// Everything worth telling the operator that did not stop the load.
    pub warnings: Vec<ConfigWarning>,
}

impl Config {
    /// The pair `source->target`, if active.
    pub fn flow(&self, source: &str, target: &str) -> Option<&FlowConfig> {
        self.flows
            .iter()
            .find(|f| f.source == source && f.target == target)
    }

    /// Flows that replicate data (`A->B.enabled = true`).
    pub fn enabled_flows(&self) -> impl Iterator<Item = &FlowConfig> {
        self.flows.iter().filter(|f| f.enabled)
    }

    /// The Kafka client properties for one client of a flow: the cluster's properties for the role, then the
    /// flow's `A->B.<role>.*` overrides, then its `A->B.<side>.<role>.*` overrides (MM2's connector layering).
    /// The source consumer gets MM2's fixed `enable.auto.commit=false` and the flow's `auto.offset.reset`.
    pub fn client_properties(
        &self,
        flow: &FlowConfig,
        side: Side,
        role: Role,
    ) -> BTreeMap<String, String> {
        let alias = match side {
            Side::Source => &flow.source,
            Side::Target => &flow.target,
        };
        let mut props = self
            .clusters
            .get(alias)
            .map(|c| c.role(role).clone())
            .unwrap_or_default();
        props.extend(
            flow.client_overrides
                .both
                .role(role)
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        props.extend(
            flow.client_overrides
                .side(side)
                .role(role)
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        if side == Side::Source && role == Role::Consumer {
            props.insert("enable.auto.commit".to_owned(), "false".to_owned());
            props.insert(
                "auto.offset.reset".to_owned(),
                flow.auto_offset_reset.as_str().to_owned(),
            );
        }
        props
    }
}

/// One Kafka cluster: its client properties per role, after MM2's layering (top-level shared client keys <
/// `<alias>.*` < top-level `<role>.*` < `<alias>.<role>.*`). Property names are Kafka's; the client crate maps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The alias from `clusters`.
    pub alias: String,
    /// `bootstrap.servers`, split.
    pub bootstrap_servers: Vec<String>,
    /// The admin client's `security.protocol` (roles may differ; each map holds its own value).
    pub security_protocol: SecurityProtocol,
    /// Consumer properties.
    pub consumer: BTreeMap<String, String>,
    /// Producer properties.
    pub producer: BTreeMap<String, String>,
    /// Admin client properties.
    pub admin: BTreeMap<String, String>,
}

impl ClusterConfig {
    /// The properties of one role.
    pub fn role(&self, role: Role) -> &BTreeMap<String, String> {
        match role {
            Role::Consumer => &self.consumer,
            Role::Producer => &self.producer,
            Role::Admin => &self.admin,
        }
    }
}

/// A Kafka client role, as MM2's `consumer.` / `producer.` / `admin.` prefixes name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads records and offsets.
    Consumer,
    /// Writes records, syncs, checkpoints, heartbeats.
    Producer,
    /// Topics, configs, ACLs, groups.
    Admin,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 3] = [Role::Consumer, Role::Producer, Role::Admin];

    /// The MM2 prefix without the dot.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Consumer => "consumer",
            Role::Producer => "producer",
            Role::Admin => "admin",
        }
    }
}

/// Which end of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The cluster data is read from.
    Source,
    /// The cluster data is written to.
    Target,
}

impl Side {
    /// MM2's prefix without the dot.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }
}

/// Kafka's `security.protocol`, checked case-insensitively as Kafka does (the property keeps the user's casing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    /// `PLAINTEXT`.
    Plaintext,
    /// `SSL`.
    Ssl,
    /// `SASL_PLAINTEXT`.
    SaslPlaintext,
    /// `SASL_SSL`.
    SaslSsl,
}

impl SecurityProtocol {
    /// Parses Kafka's names, ignoring case.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(Self::Plaintext),
            "SSL" => Some(Self::Ssl),
            "SASL_PLAINTEXT" => Some(Self::SaslPlaintext),
            "SASL_SSL" => Some(Self::SaslSsl),
            _ => None,
        }
    }

    /// Kafka's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A periodic job that can be switched off (MM2's `<job>.enabled` + `<job>.interval.seconds` pairs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periodic {
    /// Whether the job runs.
    pub enabled: bool,
    /// How often.
    pub interval: Duration,
}

/// Where the offset-syncs topic lives (`offset-syncs.topic.location`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSyncsTopicLocation {
    /// MM2's default: `mm2-offset-syncs.<target>.internal` on the source cluster.
    Source,
    /// `mm2-offset-syncs.<source>.internal` on the target (for read-only sources).
    Target,
}

/// `use.defaults.from`: whose defaults a remote topic's unset properties follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseDefaultsFrom {
    /// MM2's default: source defaults are not copied; removed source overrides are deleted on the target.
    Target,
    /// Source default values are copied too.
    Source,
}

/// The source consumer's `isolation.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Kafka's and MM2's default: aborted transactional records are copied too (and become visible).
    ReadUncommitted,
    /// kmirror's default: only committed records are copied; aborted ones and transaction markers never are.
    ReadCommitted,
}

impl IsolationLevel {
    /// Kafka's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadUncommitted => "read_uncommitted",
            Self::ReadCommitted => "read_committed",
        }
    }
}

/// Where a flow starts on a partition it has no progress for (the source consumer's `auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoOffsetReset {
    /// MM2's default: copy everything retained.
    Earliest,
    /// Only records produced after the flow starts.
    Latest,
}

impl AutoOffsetReset {
    /// Kafka's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Earliest => "earliest",
            Self::Latest => "latest",
        }
    }
}

/// Client properties one flow sets on top of its clusters' (`A->B.consumer.*`, `A->B.source.admin.*`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowClientOverrides {
    /// `A->B.<role>.*`: both sides.
    pub both: RoleProperties,
    /// `A->B.source.<role>.*` (and top-level `source.<role>.*`).
    pub source: RoleProperties,
    /// `A->B.target.<role>.*` (and top-level `target.<role>.*`).
    pub target: RoleProperties,
}

impl FlowClientOverrides {
    /// The overrides of one side.
    pub fn side(&self, side: Side) -> &RoleProperties {
        match side {
            Side::Source => &self.source,
            Side::Target => &self.target,
        }
    }
}

/// Client properties per role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleProperties {
    /// Consumer properties.
    pub consumer: BTreeMap<String, String>,
    /// Producer properties.
    pub producer: BTreeMap<String, String>,
    /// Admin properties.
    pub admin: BTreeMap<String, String>,
}

impl RoleProperties {
    /// The properties of one role.
    pub fn role(&self, role: Role) -> &BTreeMap<String, String> {
        match role {
            Role::Consumer => &self.consumer,
            Role::Producer => &self.producer,
            Role::Admin => &self.admin,
        }
    }

    pub(crate) fn role_mut(&mut self, role: Role) -> &mut BTreeMap<String, String> {
        match role {
            Role::Consumer => &mut self.consumer,
            Role::Producer => &mut self.producer,
            Role::Admin => &mut self.admin,
        }
    }

    /// Whether no role has any property.
    pub fn is_empty(&self) -> bool {
        self.consumer.is_empty() && self.producer.is_empty() && self.admin.is_empty()
    }
}

/// One ordered cluster pair with its effective settings (`A->B.<key>` over top-level `<key>` over defaults).
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Source alias.
    pub source: String,
    /// Target alias.
    pub target: String,
    /// Whether data is replicated (`A->B.enabled`; MM2 default false, a `[[flows]]` entry in TOML defaults to true).
    /// A disabled flow can still be active for heartbeats.
    pub enabled: bool,
    /// `topics` / `topics.exclude`.
    pub topics: TopicFilter,
    /// `groups` / `groups.exclude`.
    pub groups: GroupFilter,
    /// `config.properties.exclude`.
    pub config_properties_exclude: ConfigPropertyFilter,
    /// Naming of remote topics and MM2's internal topics.
    pub policy: ReplicationPolicy,
    /// Replication factor of created remote topics: `None` follows the source topic (kmirror default; MM2 uses 2),
    /// `Some(-1)` takes the target broker's default.
    pub replication_factor: Option<i32>,
    /// `refresh.topics.*`: how often new topics and partitions are noticed.
    pub refresh_topics: Periodic,
    /// `refresh.groups.*`: how often new consumer groups are noticed.
    pub refresh_groups: Periodic,
    /// `sync.topic.configs.*`.
    pub sync_topic_configs: Periodic,
    /// `use.defaults.from`.
    pub use_defaults_from: UseDefaultsFrom,
    /// `sync.topic.acls.*`.
    pub sync_topic_acls: Periodic,
    /// `emit.heartbeats.*`: heartbeats written to the target's `heartbeats` topic.
    pub emit_heartbeats: Periodic,
    /// `heartbeats.replication.enabled`: copy heartbeat topics even if `topics` does not select them.
    pub heartbeats_replication_enabled: bool,
    /// `emit.checkpoints.*`.
    pub emit_checkpoints: Periodic,
    /// `sync.group.offsets.*`: write translated offsets into target consumer groups that are not active there.
    pub sync_group_offsets: Periodic,
    /// `emit.offset-syncs.enabled` (KIP-1031).
    pub emit_offset_syncs: bool,
    /// `offset-syncs.topic.location`.
    pub offset_syncs_topic_location: OffsetSyncsTopicLocation,
    /// `offset-syncs.topic.replication.factor`; `None`: min(3, brokers), decided when the topic is created.
    pub offset_syncs_topic_replication_factor: Option<i32>,
    /// `checkpoints.topic.replication.factor`; `None`: min(3, brokers).
    pub checkpoints_topic_replication_factor: Option<i32>,
    /// `heartbeats.topic.replication.factor`; `None`: min(3, brokers).
    pub heartbeats_topic_replication_factor: Option<i32>,
    /// `offset.lag.max`: besides the exact run boundaries, an offset-sync at least every this many records, so
    /// MM2 (reading kmirror's syncs after a switch back) re-reads at most this many per partition.
    pub offset_lag_max: i64,
    /// The source consumer's `isolation.level`.
    pub isolation_level: IsolationLevel,
    /// The source consumer's `auto.offset.reset`.
    pub auto_offset_reset: AutoOffsetReset,
    /// `tasks.max`, accepted for compatibility and ignored (kmirror runs one pipeline per partition).
    pub tasks_max: Option<i32>,
    /// Client property overrides for this flow's clients.
    pub client_overrides: FlowClientOverrides,
}

impl FlowConfig {
    /// `A->B`.
    pub fn name(&self) -> String {
        format!("{}->{}", self.source, self.target)
    }

    /// The cluster holding this flow's offset-syncs topic.
    pub fn offset_syncs_cluster(&self) -> &str {
        match self.offset_syncs_topic_location {
            OffsetSyncsTopicLocation::Source => &self.source,
            OffsetSyncsTopicLocation::Target => &self.target,
        }
    }

    /// The offset-syncs topic name: named after the *other* cluster (MM2: `mm2-offset-syncs.<target>.internal` on
    /// the source, `mm2-offset-syncs.<source>.internal` on the target).
    pub fn offset_syncs_topic(&self) -> String {
        match self.offset_syncs_topic_location {
            OffsetSyncsTopicLocation::Source => self.policy.offset_syncs_topic(&self.target),
            OffsetSyncsTopicLocation::Target => self.policy.offset_syncs_topic(&self.source),
        }
    }

    /// `<source>.checkpoints.internal`, on the target.
    pub fn checkpoints_topic(&self) -> String {
        self.policy.checkpoints_topic(&self.source)
    }

    /// The heartbeats topic this flow writes on the target.
    pub fn heartbeats_topic(&self) -> &str {
        self.policy.heartbeats_topic()
    }
}

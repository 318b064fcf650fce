//! Naming and selection rules, as pure functions: replication policies (prefix or identity naming, MM2's internal
//! topic names, cycle detection), topic/group/config-property filters, and the combined per-topic decision that
//! `kmirror validate` explains and discovery acts on.

mod decision;
mod filter;
mod replication;

pub use decision::{Decision, SkipReason, should_replicate_group, should_replicate_topic};
pub use filter::{
    ConfigPropertyFilter, DEFAULT_CONFIG_PROPERTIES_EXCLUDE, DEFAULT_GROUPS_EXCLUDE,
    DEFAULT_TOPICS_EXCLUDE, FilterRejection, GroupFilter, IncludeExclude,
    KMIRROR_DEFAULT_CONFIG_PROPERTIES_EXCLUDE, PatternError, PatternList, TopicFilter,
};
pub use replication::{DEFAULT_HEARTBEATS_TOPIC, DEFAULT_SEPARATOR, PolicyKind, ReplicationPolicy};

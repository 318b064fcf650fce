//! Discovery: what a flow mirrors, and keeping the target's topics right — created with the source's
//! partitions, replication factor and configs, grown when the source grows, configs and topic ACLs kept in
//! line — plus the MM2 internal topics kmirror writes.

pub mod acls;
pub mod configs;
mod error;
mod internal;
pub mod plan;
mod sync;

pub use error::{DiscoveryError, ProblemKind, TopicProblem};
pub use internal::{
    CONNECT_OFFSETS_PARTITIONS, DEFAULT_INTERNAL_RF, InternalTopicState, SINGLE_PARTITION,
    default_internal_rf, ensure_internal_topic,
};
pub use sync::{
    AclSyncReport, ConfigSyncReport, GrownTopic, MirroredTopic, RemovedTopic, SkippedTopic,
    TopicSet, TopicSync,
};

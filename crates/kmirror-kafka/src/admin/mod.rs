//! The admin surface kmirror needs on both clusters: topics, configs, ACLs, consumer groups and their
//! offsets, record deletion.
//!
//! Each call is a pure request builder and a pure response interpreter (unit-tested against the
//! `kafka-protocol` types, every error path included) joined by a thin async method on [`Admin`] that
//! routes the request: to the controller (topic and ACL changes), any broker, one broker (its own
//! configs, its own groups), a partition leader (DeleteRecords) or a group's coordinator.

mod acls;
mod configs;
mod failure;
mod groups;
mod offsets;
mod records;
mod topics;

pub use acls::{AclBinding, AclFilter, AclOperation, AclPermission, PatternType, ResourceType};
pub use configs::{AlterConfigOp, ConfigEntry, ConfigResource, ConfigResults, ConfigSource, ConfigSynonym};
pub use groups::{GroupDescription, GroupMember, GroupState, ListedGroup};
pub use offsets::{GroupOffset, is_group_active};
pub use records::DELETE_TO_HIGH_WATERMARK;
pub use topics::{CreatedTopic, NewPartitions, NewTopic, TopicResults};

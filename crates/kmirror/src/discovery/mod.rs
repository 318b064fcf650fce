//! Discovery: what a flow mirrors, and keeping the target's topics right — created with the source's
//! partitions, replication factor and configs, grown when the source grows, configs and topic ACLs kept in
//! line — plus the MM2 internal topics kmirror writes.

pub mod acls;
pub mod configs;
pub mod plan;

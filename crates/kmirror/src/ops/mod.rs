//! Operator commands that run beside (or instead of) the replicating process, built on the engine's modules:
//! translating a group's offsets, failing a group over to the target, the cut-over at the end of a migration,
//! and the status of every flow.

mod clients;
mod cutover;
mod failover;
mod status;
mod translate;

pub use clients::{OpsClients, OpsError};
pub use cutover::{Behind, CopyState, CutoverError, CutoverReport, copy_state, cutover};
pub use failover::{FailoverGroup, FailoverOptions, FailoverReport, PartitionLag, failover};
pub use status::{
    FlowStatus, GroupStatus, LagBasis, MAX_GROUPS, PartitionStatus, StatusReport, TopicStatus,
    status,
};
pub use translate::{
    DerivedFrom, GroupTranslation, OffsetsView, PartitionTranslation, translate_group,
};

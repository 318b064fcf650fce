//! Operator commands that run beside (or instead of) the replicating process, built on the engine's modules:
//! translating a group's offsets, failing a group over to the target, the cut-over at the end of a migration,
//! failing back (rebuilding the old primary from the new one), resetting a flow's progress, and the status of
//! every flow.

mod clients;
mod cutover;
mod failback;
mod failover;
mod replay;
mod reset;
mod status;
mod translate;

pub use clients::{OpsClients, OpsError};
pub use cutover::{Behind, CopyState, CutoverError, CutoverReport, copy_state, cutover};
pub use failback::{
    EXPORT_COMPLETE, ExportSummary, ExportedFile, ExportedRecord, Failback, FailbackError,
    FailbackPlan, TopicPlan, read_jsonl,
};
pub use failover::{FailoverGroup, FailoverOptions, FailoverReport, PartitionLag, failover};
pub use replay::{ReplayError, Replayed, read_export, replay_export};
pub use reset::{ResetPartition, ResetPlan, ResetTo, apply_reset, plan_reset};
pub use status::{
    FlowStatus, GroupStatus, LagBasis, MAX_GROUPS, PartitionStatus, StatusReport, TopicStatus,
    status,
};
pub use translate::{
    DerivedFrom, GroupTranslation, OffsetsView, PartitionTranslation, translate_group,
};

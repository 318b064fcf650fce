//! Offsets: the exact source→target map built from produce acknowledgements, the offset-syncs read back,
//! translation of consumer positions, MM2 checkpoints and consumer-group offset sync.
//!
//! - [`runs`](OffsetRuns): the live exact map of each partition (runs of constant difference)
//! - [`history`](SyncHistory): offset-syncs read back from the topic (kmirror's or MM2's), exact where the
//!   syncs prove it, MM2's conservative rule elsewhere
//! - [`translate_position`]: the live map first, the history for what it forgot
//! - [`CheckpointStore`]: the latest checkpoint per group and partition, MM2's monotonic rule
//! - [`offsets_to_write`]: which offsets a target group gets (never rewound)
//! - [`GroupOffsetsTask`]: the periodic task that emits checkpoints and syncs group offsets for a flow

mod checkpoints;
mod group_sync;
mod history;
mod runs;
mod task;
mod translate;

pub use checkpoints::CheckpointStore;
pub use group_sync::offsets_to_write;
pub use history::{
    Derivation, MAX_POINTS, SyncHistories, SyncHistory, Translated, Untranslatable,
    load_sync_histories,
};
pub use runs::{OffsetRuns, Run, SyncPoint, Translation};
pub use task::GroupOffsetsTask;
pub use translate::translate_position;

//! Offsets: the exact source→target map kmirror builds from produce acknowledgements.

mod runs;

pub use runs::{OffsetRuns, Run, SyncPoint, Translation};

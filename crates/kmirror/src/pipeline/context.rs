//! What every task of one flow shares: names, the target producer, telemetry, and the books that collect
//! progress and offset-syncs for the writers that persist them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kmirror_kafka::{Producer, TopicPartition};

use super::forwarder::lock;
use crate::offsets::{OffsetRuns, SyncHistories, SyncPoint};
use crate::progress::SourceProgress;
use crate::telemetry::{Metrics, StatusBoard};

#[derive(Debug)]
pub struct FlowContext {
    /// `A->B`.
    pub flow: String,
    pub source_alias: String,
    pub target_alias: String,
    pub producer: Producer,
    pub metrics: Arc<Metrics>,
    pub status: Arc<StatusBoard>,
    pub progress: ProgressBook,
    pub offset_syncs: SyncBook,
    pub offset_maps: OffsetMaps,
    /// Offset-syncs read back at start and every sync written since: translation for positions older than
    /// the live maps remember.
    pub sync_history: SyncHistories,
}

/// The latest acknowledged position of every source partition; the committer persists what changed.
#[derive(Debug, Default)]
pub struct ProgressBook {
    entries: Mutex<BTreeMap<TopicPartition, (SourceProgress, bool)>>,
    /// The producer ids this run writes target partitions with (empty before they are known).
    writers: Mutex<Vec<i64>>,
}

impl ProgressBook {
    /// Names the producer ids every position acknowledged from now on may have been written with.
    pub fn set_writers(&self, producer_ids: Vec<i64>) {
        *lock(&self.writers) = producer_ids;
    }

    pub fn writers(&self) -> Vec<i64> {
        lock(&self.writers).clone()
    }

    /// The target acknowledged source offset `source` at target offset `target`.
    pub fn acked(&self, tp: &TopicPartition, source: i64, target: i64) {
        let writers = self.writers();
        self.set(tp, source, target, |_| writers);
    }

    /// Source offset `source` was found already on the target at `target` (written before a restart): the
    /// producer ids recorded before stay, since target records past `target` may still carry them.
    pub fn skipped(&self, tp: &TopicPartition, source: i64, target: i64) {
        let current = self.writers();
        self.set(tp, source, target, |before| {
            let mut writers = before.to_vec();
            for w in current {
                if !writers.contains(&w) {
                    writers.push(w);
                }
            }
            writers
        });
    }

    /// Records a new position, its writers computed from the ones recorded before, and marks it for commit.
    fn set(
        &self,
        tp: &TopicPartition,
        source: i64,
        target: i64,
        writers: impl FnOnce(&[i64]) -> Vec<i64>,
    ) {
        let mut e = lock(&self.entries);
        let writers = writers(e.get(tp).map_or(&[][..], |(p, _)| &p.writers));
        let progress = SourceProgress {
            offset: source,
            downstream: Some(target),
            next: None,
            writers,
        };
        e.insert(tp.clone(), (progress, true));
    }

    /// Nothing is in flight and everything below `next` is handled: what followed the last acknowledged record
    /// had nothing to copy (transaction markers, aborted data). Recorded so the stored progress does not show
    /// the partition behind.
    pub fn handled_through(&self, tp: &TopicPartition, next: i64) {
        let mut e = lock(&self.entries);
        if let Some((p, dirty)) = e.get_mut(tp)
            && next > p.next_offset()
        {
            p.next = Some(next);
            *dirty = true;
        }
    }

    /// Loads a stored position without marking it for commit.
    pub fn load(&self, tp: &TopicPartition, progress: SourceProgress) {
        lock(&self.entries).insert(tp.clone(), (progress, false));
    }

    pub fn get(&self, tp: &TopicPartition) -> Option<SourceProgress> {
        lock(&self.entries).get(tp).map(|(p, _)| p.clone())
    }

    /// Positions changed since the last call, clearing their mark.
    pub fn take_dirty(&self) -> Vec<(TopicPartition, SourceProgress)> {
        let mut e = lock(&self.entries);
        e.iter_mut()
            .filter(|(_, (_, dirty))| *dirty)
            .map(|(tp, (p, dirty))| {
                *dirty = false;
                (tp.clone(), p.clone())
            })
            .collect()
    }

    /// Marks a position dirty again after a failed commit.
    pub fn retry(&self, tp: &TopicPartition) {
        if let Some((_, dirty)) = lock(&self.entries).get_mut(tp) {
            *dirty = true;
        }
    }
}

/// Offset-syncs waiting to be written (run boundaries), per source partition, in order.
#[derive(Debug, Default)]
pub struct SyncBook {
    pending: Mutex<Vec<(TopicPartition, SyncPoint)>>,
}

impl SyncBook {
    pub fn push(&self, tp: &TopicPartition, syncs: &[SyncPoint]) {
        if !syncs.is_empty() {
            lock(&self.pending).extend(syncs.iter().map(|s| (tp.clone(), *s)));
        }
    }

    /// Puts back syncs that could not be written, ahead of newer ones. While the offset-syncs topic cannot be
    /// written, the backlog is kept under [`Self::MAX_PENDING`] by dropping every other one of its older half:
    /// fewer points only make a reader's translation coarser (MM2's rule), never wrong.
    pub fn push_front(&self, mut syncs: Vec<(TopicPartition, SyncPoint)>) {
        let mut pending = lock(&self.pending);
        syncs.append(&mut pending);
        if syncs.len() > Self::MAX_PENDING {
            let half = syncs.len() / 2;
            let mut index = 0;
            syncs.retain(|_| {
                index += 1;
                index > half || index % 2 == 0
            });
        }
        *pending = syncs;
    }

    /// Most syncs held back while their topic cannot be written.
    pub const MAX_PENDING: usize = 100_000;

    pub fn take(&self) -> Vec<(TopicPartition, SyncPoint)> {
        std::mem::take(&mut *lock(&self.pending))
    }
}

/// The exact offset map of every partition of the flow, shared with checkpointing.
#[derive(Debug)]
pub struct OffsetMaps {
    maps: Mutex<BTreeMap<TopicPartition, Arc<Mutex<OffsetRuns>>>>,
    /// `offset.lag.max`: a sync point inside a run at least every this many records.
    sync_every: i64,
}

impl Default for OffsetMaps {
    fn default() -> Self {
        Self::new(OffsetRuns::DEFAULT_SYNC_EVERY)
    }
}

impl OffsetMaps {
    pub fn new(sync_every: i64) -> Self {
        Self {
            maps: Mutex::default(),
            sync_every,
        }
    }

    /// The map of a source partition, created on first use.
    pub fn get_or_create(&self, tp: &TopicPartition) -> Arc<Mutex<OffsetRuns>> {
        lock(&self.maps)
            .entry(tp.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(OffsetRuns::with_sync_every(
                    4096,
                    self.sync_every,
                )))
            })
            .clone()
    }

    pub fn get(&self, tp: &TopicPartition) -> Option<Arc<Mutex<OffsetRuns>>> {
        lock(&self.maps).get(tp).cloned()
    }
}

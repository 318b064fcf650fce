//! The exact source→target offset map of one mirrored partition, as runs of constant difference.
//!
//! Every produce acknowledgement says where a batch landed, so kmirror knows the target offset of every
//! record it copied. Consecutive records whose offsets advance together on both sides form one run; a gap in
//! the source (compaction, transaction markers, retention, records filtered out) starts a new one. Memory is
//! bounded: only the newest `max_runs` runs are kept.
//!
//! Sync points are both ends of every run (exact for kmirror's own reader) and, inside a long run, a point at
//! least every `sync_every` records (MM2's `offset.lag.max`): MirrorMaker 2 translates a position inside a
//! run to one past the newest sync below it, so these bound what a group re-reads if the flow is ever
//! handed back to MM2.

use std::collections::VecDeque;

/// Source offsets `[source_start, source_start + len)` were copied to `[target_start, target_start + len)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub source_start: i64,
    pub target_start: i64,
    pub len: i64,
}

impl Run {
    fn source_end(&self) -> i64 {
        self.source_start + self.len
    }
    fn target_end(&self) -> i64 {
        self.target_start + self.len
    }
}

/// A (source offset, target offset) pair worth publishing as an MM2 offset-sync: both ends of every run, so a
/// reader of the syncs can tell a run from a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncPoint {
    pub source: i64,
    pub target: i64,
}

/// Where a consumer positioned at a source offset must continue on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Translation {
    /// Exactly this target offset: everything before it on the target was consumed on the source, nothing
    /// after it was.
    Exact(i64),
    /// The consumer is past the last copied record: it continues at the copy's end (`target`) and will
    /// re-read the `uncopied` records it consumed once they are copied.
    AheadOfCopy { target: i64, uncopied: i64 },
    /// The source offset is older than the retained history: no safe answer from this map.
    OlderThanHistory,
    /// Nothing has been copied yet.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct OffsetRuns {
    runs: VecDeque<Run>,
    max_runs: usize,
    /// The last sync point handed out, so a run of one record (start = end) is published once.
    last_sync: Option<SyncPoint>,
    /// Publish the next copied record even if it extends a run: the first record after a (re)start is always
    /// synced (as in MM2), so a reader of the syncs can see where the copy resumed.
    publish_next: bool,
    /// Records copied since the last sync point.
    since_sync: i64,
    /// Publish a point inside a run at least every this many records.
    sync_every: i64,
}

impl OffsetRuns {
    /// MM2's default `offset.lag.max`.
    pub const DEFAULT_SYNC_EVERY: i64 = 100;

    pub fn new(max_runs: usize) -> Self {
        Self::with_sync_every(max_runs, Self::DEFAULT_SYNC_EVERY)
    }

    /// A map publishing a point inside a run at least every `sync_every` records (`offset.lag.max`).
    pub fn with_sync_every(max_runs: usize, sync_every: i64) -> Self {
        Self {
            runs: VecDeque::new(),
            max_runs: max_runs.max(2),
            last_sync: None,
            publish_next: true,
            since_sync: 0,
            sync_every: sync_every.max(1),
        }
    }

    /// Starts the map from a known point (e.g. reloaded progress): `source` was copied to `target`.
    pub fn seed(&mut self, source: i64, target: i64) {
        self.publish_next = true;
        self.runs.clear();
        self.runs.push_back(Run {
            source_start: source,
            target_start: target,
            len: 1,
        });
    }

    /// Starts the map from runs rebuilt elsewhere (ascending, e.g. from offset-syncs read back after a restart).
    pub fn seed_runs(&mut self, runs: impl IntoIterator<Item = Run>) {
        self.publish_next = true;
        self.runs.clear();
        self.runs.extend(runs.into_iter().filter(|r| r.len > 0));
        while self.runs.len() > self.max_runs {
            self.runs.pop_front();
        }
    }

    /// Records that records with these source offsets (ascending) were written to target offsets
    /// `target_base, target_base + 1, ...`. Returns the sync points this creates (run boundaries).
    pub fn record(
        &mut self,
        source_offsets: impl IntoIterator<Item = i64>,
        target_base: i64,
    ) -> Vec<SyncPoint> {
        let mut syncs = Vec::new();
        for (target, source) in (target_base..).zip(source_offsets) {
            let extends = self
                .runs
                .back()
                .is_some_and(|r| r.source_end() == source && r.target_end() == target);
            if extends {
                if let Some(last) = self.runs.back_mut() {
                    last.len += 1;
                }
                self.since_sync += 1;
                if self.publish_next || self.since_sync >= self.sync_every {
                    self.emit(&mut syncs, SyncPoint { source, target });
                }
            } else {
                if let Some(last) = self.runs.back().copied() {
                    self.emit(
                        &mut syncs,
                        SyncPoint {
                            source: last.source_end() - 1,
                            target: last.target_end() - 1,
                        },
                    );
                }
                self.emit(&mut syncs, SyncPoint { source, target });
                self.runs.push_back(Run {
                    source_start: source,
                    target_start: target,
                    len: 1,
                });
                if self.runs.len() > self.max_runs {
                    self.runs.pop_front();
                }
            }
        }
        syncs
    }

    fn emit(&mut self, syncs: &mut Vec<SyncPoint>, point: SyncPoint) {
        self.publish_next = false;
        self.since_sync = 0;
        if self.last_sync != Some(point) {
            syncs.push(point);
            self.last_sync = Some(point);
        }
    }

    /// Records a dense span `first..first+count` landing at `target_base..`.
    pub fn record_dense(&mut self, first: i64, count: i64, target_base: i64) -> Vec<SyncPoint> {
        // A dense span that extends the last run, or starts a new one, changes at most one boundary, so
        // extend in one step instead of record by record.
        if count <= 0 {
            return Vec::new();
        }
        let mut syncs = self.record(std::iter::once(first), target_base);
        if let Some(last) = self.runs.back_mut() {
            last.len += count - 1;
        }
        self.since_sync += count - 1;
        if self.since_sync >= self.sync_every
            && let Some(point) = self.last()
        {
            self.emit(&mut syncs, point);
        }
        syncs
    }

    /// The last copied record: (source offset, target offset).
    pub fn last(&self) -> Option<SyncPoint> {
        self.runs.back().map(|r| SyncPoint {
            source: r.source_end() - 1,
            target: r.target_end() - 1,
        })
    }

    /// Translates a consumer position on the source (the next offset it would read) to the target.
    pub fn translate(&self, source: i64) -> Translation {
        let (Some(first), Some(last)) = (self.runs.front(), self.runs.back()) else {
            return Translation::Unknown;
        };
        if source < first.source_start {
            return Translation::OlderThanHistory;
        }
        if source == last.source_end() {
            return Translation::Exact(last.target_end());
        }
        if source > last.source_end() {
            return Translation::AheadOfCopy {
                target: last.target_end(),
                uncopied: source - last.source_end(),
            };
        }
        // The run containing `source`, or the last run before it (then `source` sits in the gap after it).
        let idx = self.runs.partition_point(|r| r.source_start <= source) - 1;
        let run = self.runs[idx];
        if source < run.source_end() {
            Translation::Exact(run.target_start + (source - run.source_start))
        } else {
            Translation::Exact(
                self.runs
                    .get(idx + 1)
                    .map_or(run.target_end(), |next| next.target_start),
            )
        }
    }

    pub fn runs(&self) -> impl Iterator<Item = &Run> + '_ {
        self.runs.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_batches_extend_one_run() {
        let mut m = OffsetRuns::new(16);
        assert_eq!(
            m.record_dense(0, 10, 0),
            vec![SyncPoint {
                source: 0,
                target: 0
            }]
        );
        assert!(m.record_dense(10, 5, 10).is_empty());
        assert_eq!(m.runs().count(), 1);
        assert_eq!(m.translate(0), Translation::Exact(0));
        assert_eq!(m.translate(7), Translation::Exact(7));
        assert_eq!(m.translate(15), Translation::Exact(15));
        assert_eq!(
            m.translate(100),
            Translation::AheadOfCopy {
                target: 15,
                uncopied: 85
            }
        );
    }

    #[test]
    fn gaps_start_new_runs_and_translate_to_the_next_copied_record() {
        let mut m = OffsetRuns::new(16);
        m.record_dense(0, 10, 0); // 0..=9 -> 0..=9
        // offset 10 is a transaction marker: the next data record is 11
        let syncs = m.record_dense(11, 5, 10); // 11..=15 -> 10..=14
        assert_eq!(
            syncs,
            vec![
                SyncPoint {
                    source: 9,
                    target: 9
                },
                SyncPoint {
                    source: 11,
                    target: 10
                }
            ]
        );
        assert_eq!(m.translate(9), Translation::Exact(9));
        assert_eq!(
            m.translate(10),
            Translation::Exact(10),
            "position on the marker continues at the next record"
        );
        assert_eq!(m.translate(11), Translation::Exact(10));
        assert_eq!(m.translate(13), Translation::Exact(12));
        assert_eq!(m.translate(16), Translation::Exact(15));
    }

    #[test]
    fn compacted_offsets_map_record_by_record() {
        let mut m = OffsetRuns::new(16);
        m.record([0, 3, 4, 9], 100);
        assert_eq!(m.translate(0), Translation::Exact(100));
        assert_eq!(m.translate(1), Translation::Exact(101));
        assert_eq!(m.translate(3), Translation::Exact(101));
        assert_eq!(m.translate(4), Translation::Exact(102));
        assert_eq!(m.translate(5), Translation::Exact(103));
        assert_eq!(m.translate(9), Translation::Exact(103));
        assert_eq!(m.translate(10), Translation::Exact(104));
    }

    #[test]
    fn single_record_runs_publish_each_point_once() {
        let mut m = OffsetRuns::new(16);
        let mut syncs = m.record([0, 2, 4], 0);
        syncs.extend(m.record([6, 7], 3));
        let points: Vec<(i64, i64)> = syncs.iter().map(|s| (s.source, s.target)).collect();
        assert_eq!(points, vec![(0, 0), (2, 1), (4, 2), (6, 3)]);
    }

    #[test]
    fn long_runs_publish_a_point_every_sync_every_records() {
        let mut m = OffsetRuns::with_sync_every(16, 100);
        let mut points = Vec::new();
        let mut source = 0;
        for batch in [30, 30, 30, 30, 250, 1, 99, 1] {
            points.extend(m.record_dense(source, batch, source + 5));
            source += batch;
        }
        let points: Vec<(i64, i64)> = points.iter().map(|s| (s.source, s.target)).collect();
        // first record; then the last record of the batch reaching 100 since the previous point
        assert_eq!(points, vec![(0, 5), (119, 124), (369, 374), (469, 474)]);
        assert_eq!(m.runs().count(), 1, "points inside a run do not split it");
        let mut per_record = OffsetRuns::with_sync_every(16, 3);
        let syncs = per_record.record([10, 11, 12, 13, 14, 15, 16], 0);
        let points: Vec<i64> = syncs.iter().map(|s| s.source).collect();
        assert_eq!(points, vec![10, 13, 16]);
    }

    #[test]
    fn history_is_bounded_and_says_so() {
        let mut m = OffsetRuns::new(2);
        m.record([0, 10, 20], 0);
        assert_eq!(m.runs().count(), 2);
        assert_eq!(m.translate(0), Translation::OlderThanHistory);
        assert_eq!(m.translate(10), Translation::Exact(1));
        assert_eq!(OffsetRuns::new(4).translate(5), Translation::Unknown);
    }

    #[test]
    fn seeded_map_continues_from_reloaded_progress() {
        let mut m = OffsetRuns::new(8);
        m.seed(499, 480);
        assert_eq!(m.translate(500), Translation::Exact(481));
        assert_eq!(
            m.record_dense(500, 10, 481),
            vec![SyncPoint {
                source: 500,
                target: 481
            }],
            "the first record after a restart is synced"
        );
        assert!(m.record_dense(510, 10, 491).is_empty());
        assert_eq!(
            m.last(),
            Some(SyncPoint {
                source: 519,
                target: 500
            })
        );
    }
}

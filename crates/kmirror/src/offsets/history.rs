//! Offset-syncs read back (kmirror's or MirrorMaker 2's), per source partition, and translation from them.
//!
//! kmirror writes both ends of every run of constant (target − source) difference, so two consecutive syncs
//! with the same difference bound a run that was copied record by record, and two consecutive syncs on
//! consecutive target offsets bound a stretch of the source nothing was copied from (compaction, transaction
//! markers, aborted records). Between those, translation is exact. Anywhere else — MM2's syncs every
//! `offset.lag.max` records, or syncs lost in a crash — MM2's conservative rule applies: one past the latest
//! sync at or below the offset, which never skips a record and may re-read some.
//!
//! Memory is bounded: past [`MAX_POINTS`] points a partition's older half is thinned. Dropping points never
//! makes an answer unsafe, only coarser (two runs with the same difference still bound one exact run).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use kmirror_kafka::{Client, TopicPartition};
use serde::Serialize;

use super::runs::{Run, SyncPoint};
use crate::internal_topics::{ReadError, read_each};
use crate::mm2::OffsetSync;
use crate::pipeline::forwarder::lock;

/// Points kept per partition before the older half is thinned.
pub const MAX_POINTS: usize = 2048;

/// How a translated offset was derived, for operators and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Derivation {
    /// From an exact source→target map: the group neither skips nor re-reads a record.
    Exact,
    /// The group is ahead of what was copied: it continues at the copy's end and re-reads the records it
    /// consumed that arrive later, at most `uncopied`.
    AheadOfCopy { uncopied: i64 },
    /// MM2's rule: one past the latest sync at or below the offset. Never skips; may re-read up to
    /// `may_reread` records.
    Mm2Rule { may_reread: i64 },
}

/// A target offset and how it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Translated {
    pub offset: i64,
    pub derivation: Derivation,
}

impl Translated {
    pub fn exact(offset: i64) -> Self {
        Self {
            offset,
            derivation: Derivation::Exact,
        }
    }
}

/// Why no target offset can be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Untranslatable {
    /// No sync for the partition: nothing of it has been copied (or the syncs are gone).
    NoSyncs,
    /// The offset is older than the oldest sync kept (MM2 emits no checkpoint then either).
    OlderThanHistory { oldest: i64 },
}

/// Target minus source offset: constant along a run of records copied one for one.
fn difference(p: SyncPoint) -> i64 {
    p.target - p.source
}

/// The syncs of one source partition, ascending in both offsets (a rewind clears what came before, as in MM2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncHistory {
    points: Vec<SyncPoint>,
}

impl SyncHistory {
    pub fn points(&self) -> &[SyncPoint] {
        &self.points
    }

    /// Adds the next sync read or written. A repeat of a known point is ignored; one whose source or target
    /// offset goes below the latest means the topic (or its copy) was reset: earlier points no longer apply.
    pub fn push(&mut self, point: SyncPoint) {
        if let Some(last) = self.points.last().copied() {
            if point == last {
                return;
            }
            if point.source < last.source || point.target < last.target {
                // A point the history already implies (a sync written again after a restart) is no rewind.
                let implied = point.source <= last.source
                    && point.target <= last.target
                    && self.translate(point.source) == Ok(Translated::exact(point.target));
                if implied {
                    return;
                }
                self.points.clear();
            } else if point.source == last.source {
                self.points.pop();
            } else if let [.., before, last] = self.points[..]
                && difference(before) == difference(last)
                && difference(last) == difference(point)
            {
                // `last` lies inside the run that `before` and `point` bound (syncs every `offset.lag.max`
                // records): it says nothing they do not, so only run boundaries and the newest point are kept.
                self.points.pop();
            }
        }
        self.points.push(point);
        if self.points.len() > MAX_POINTS {
            self.thin();
        }
    }

    /// Adds a point known to be a copied record (replication progress) unless the syncs are already past it.
    pub fn push_if_newer(&mut self, point: SyncPoint) {
        if self
            .points
            .last()
            .is_none_or(|l| point.source > l.source && point.target > l.target)
        {
            self.push(point);
        }
    }

    /// Drops every second point of the older half.
    fn thin(&mut self) {
        let half = self.points.len() / 2;
        let mut i = 0usize;
        self.points.retain(|_| {
            i += 1;
            i > half || i % 2 == 1
        });
    }

    /// Where a consumer positioned at source offset `group` (the next offset it reads) continues on the target.
    pub fn translate(&self, group: i64) -> Result<Translated, Untranslatable> {
        let Some(first) = self.points.first() else {
            return Err(Untranslatable::NoSyncs);
        };
        if group < first.source {
            return Err(Untranslatable::OlderThanHistory {
                oldest: first.source,
            });
        }
        let idx = self.points.partition_point(|p| p.source <= group) - 1;
        let p = self.points[idx];
        if group == p.source {
            return Ok(Translated::exact(p.target));
        }
        if let Some(next) = self.points.get(idx + 1).copied() {
            if next.source - p.source == next.target - p.target {
                return Ok(Translated::exact(p.target + (group - p.source)));
            }
            if next.target == p.target + 1 {
                // Nothing between the two syncs was copied.
                return Ok(Translated::exact(next.target));
            }
        }
        if group == p.source + 1 {
            // The next copied record after `p` is the first one at or after `group`.
            return Ok(Translated::exact(p.target + 1));
        }
        Ok(Translated {
            offset: p.target + 1,
            derivation: Derivation::Mm2Rule {
                may_reread: group - p.source - 1,
            },
        })
    }

    /// The runs of the exact map that end at `end` (a copied record, e.g. the stored progress), reconstructed
    /// from the syncs before it for as far back as consecutive syncs prove exactness. Used to seed the live
    /// offset map after a restart.
    pub fn exact_runs_ending_at(&self, end: SyncPoint) -> Vec<Run> {
        let mut chain: Vec<SyncPoint> = self
            .points
            .iter()
            .copied()
            .filter(|p| p.source < end.source && p.target < end.target)
            .collect();
        chain.push(end);
        let mut runs = Vec::new();
        let (mut run_start, mut run_end) = (end, end);
        for pair in chain.windows(2).rev() {
            let (a, b) = (pair[0], pair[1]);
            if b.source - a.source == b.target - a.target {
                run_start = a;
            } else if b.target == a.target + 1 {
                runs.push(run_of(run_start, run_end));
                (run_start, run_end) = (a, a);
            } else {
                break;
            }
        }
        runs.push(run_of(run_start, run_end));
        runs.reverse();
        runs
    }
}

fn run_of(start: SyncPoint, end: SyncPoint) -> Run {
    Run {
        source_start: start.source,
        target_start: start.target,
        len: end.source - start.source + 1,
    }
}

/// The sync histories of every partition of a flow, shared by the writer of the syncs and checkpointing.
#[derive(Debug, Default)]
pub struct SyncHistories {
    partitions: Mutex<BTreeMap<TopicPartition, SyncHistory>>,
}

impl SyncHistories {
    pub fn push(&self, tp: &TopicPartition, point: SyncPoint) {
        lock(&self.partitions)
            .entry(tp.clone())
            .or_default()
            .push(point);
    }

    /// See [`SyncHistory::push_if_newer`].
    pub fn push_if_newer(&self, tp: &TopicPartition, point: SyncPoint) {
        lock(&self.partitions)
            .entry(tp.clone())
            .or_default()
            .push_if_newer(point);
    }

    pub fn translate(&self, tp: &TopicPartition, group: i64) -> Result<Translated, Untranslatable> {
        lock(&self.partitions)
            .get(tp)
            .map_or(Err(Untranslatable::NoSyncs), |h| h.translate(group))
    }

    pub fn exact_runs_ending_at(&self, tp: &TopicPartition, end: SyncPoint) -> Vec<Run> {
        lock(&self.partitions)
            .get(tp)
            .map_or_else(|| vec![run_of(end, end)], |h| h.exact_runs_ending_at(end))
    }

    pub fn partitions(&self) -> Vec<TopicPartition> {
        lock(&self.partitions).keys().cloned().collect()
    }

    pub fn get(&self, tp: &TopicPartition) -> Option<SyncHistory> {
        lock(&self.partitions).get(tp).cloned()
    }
}

/// Reads the offset-syncs topic (partition 0, the only one MM2 reads) from its start: kmirror's and MM2's
/// syncs alike. Returns the histories and how many records did not decode.
pub async fn load_sync_histories(
    client: &Client,
    topic: &str,
    timeout: Duration,
) -> Result<(SyncHistories, usize), ReadError> {
    let mut partitions: BTreeMap<TopicPartition, SyncHistory> = BTreeMap::new();
    let mut malformed = 0usize;
    {
        read_each(client, topic, timeout, |partition, record| {
            if partition != 0 {
                return;
            }
            let (Some(key), Some(value)) = (record.key.as_deref(), record.value.as_deref()) else {
                malformed += 1;
                return;
            };
            match OffsetSync::decode(key, value) {
                Ok(s) => partitions
                    .entry(TopicPartition::new(s.topic, s.partition))
                    .or_default()
                    .push(SyncPoint {
                        source: s.upstream_offset,
                        target: s.downstream_offset,
                    }),
                Err(_) => malformed += 1,
            }
        })
        .await?;
    }
    let histories = SyncHistories {
        partitions: Mutex::new(partitions),
    };
    Ok((histories, malformed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sp(source: i64, target: i64) -> SyncPoint {
        SyncPoint { source, target }
    }

    fn history(points: &[(i64, i64)]) -> SyncHistory {
        let mut h = SyncHistory::default();
        for (s, t) in points {
            h.push(sp(*s, *t));
        }
        h
    }

    fn exact(t: i64) -> Result<Translated, Untranslatable> {
        Ok(Translated::exact(t))
    }

    // OffsetSyncStoreTest.testOffsetTranslation: MM2's numbers.
    #[test]
    fn mm2_rule_where_syncs_prove_nothing() {
        let h = history(&[(100, 200)]);
        assert_eq!(
            h.translate(150),
            Ok(Translated {
                offset: 201,
                derivation: Derivation::Mm2Rule { may_reread: 49 }
            })
        );
        assert_eq!(h.translate(100), exact(200));
        assert_eq!(
            h.translate(101),
            exact(201),
            "one past a sync is the next copied record"
        );
        assert_eq!(
            h.translate(5),
            Err(Untranslatable::OlderThanHistory { oldest: 100 })
        );
        assert_eq!(
            SyncHistory::default().translate(5),
            Err(Untranslatable::NoSyncs)
        );
        let h = history(&[(100, 200), (150, 251)]);
        assert_eq!(h.translate(150), exact(251));
        assert_eq!(
            h.translate(120).map(|t| t.offset),
            Ok(201),
            "a run with a different difference is not exact"
        );
    }

    #[test]
    fn points_inside_a_run_are_not_kept() {
        let mut h = SyncHistory::default();
        for s in (0..1_000).step_by(100) {
            h.push(sp(s, s + 7));
        }
        h.push(sp(1_002, 1_007)); // a gap of 2 before 1002
        h.push(sp(1_100, 1_105));
        let kept: Vec<(i64, i64)> = h.points().iter().map(|p| (p.source, p.target)).collect();
        assert_eq!(
            kept,
            vec![(0, 7), (900, 907), (1_002, 1_007), (1_100, 1_105)]
        );
        assert_eq!(h.translate(450), exact(457));
        assert_eq!(h.translate(1_050), exact(1_055));
    }

    #[test]
    fn rewinds_clear_the_history() {
        // OffsetSyncStoreTest: upstream rewind 1500->11000 after 10000; downstream reset 200->10.
        let mut h = history(&[(1000, 10000), (2000, 11000)]);
        h.push(sp(1500, 11500));
        assert_eq!(h.points(), &[sp(1500, 11500)]);
        assert_eq!(
            h.translate(1499),
            Err(Untranslatable::OlderThanHistory { oldest: 1500 })
        );
        let mut h = history(&[(100, 200)]);
        h.push(sp(200, 10));
        assert_eq!(h.points(), &[sp(200, 10)]);
        assert_eq!(h.translate(200), exact(10));
    }

    #[test]
    fn repeated_points_are_not_rewinds() {
        let mut h = history(&[(0, 0), (9, 9), (11, 10), (20, 19)]);
        h.push(sp(9, 9));
        h.push(sp(20, 19));
        h.push(sp(0, 0));
        h.push(sp(5, 5));
        assert_eq!(
            h.points().len(),
            4,
            "points the history implies change nothing"
        );
        let mut rewound = h.clone();
        rewound.push(sp(5, 4));
        assert_eq!(
            rewound.points(),
            &[sp(5, 4)],
            "a contradicting point is a reset"
        );
        h.push(sp(20, 25));
        assert_eq!(
            h.points().last(),
            Some(&sp(20, 25)),
            "same source: latest wins"
        );
    }

    #[test]
    fn kmirror_run_boundaries_translate_exactly() {
        // 0..=9 -> 0..=9, marker at 10, 11..=15 -> 10..=14, compacted away 16..=19, 20..=29 -> 15..=24
        let h = history(&[(0, 0), (9, 9), (11, 10), (15, 14), (20, 15), (29, 24)]);
        for (g, t) in [
            (0, 0),
            (5, 5),
            (9, 9),
            (10, 10),
            (11, 10),
            (13, 12),
            (15, 14),
        ] {
            assert_eq!(h.translate(g), exact(t), "group at {g}");
        }
        for g in 16..=20 {
            assert_eq!(
                h.translate(g),
                exact(15),
                "group at {g} in the compacted gap"
            );
        }
        assert_eq!(h.translate(25), exact(20));
        assert_eq!(h.translate(30), exact(25), "at the copied end");
        assert_eq!(
            h.translate(40),
            Ok(Translated {
                offset: 25,
                derivation: Derivation::Mm2Rule { may_reread: 10 }
            })
        );
    }

    #[test]
    fn exact_runs_are_rebuilt_up_to_the_progress_point() {
        let h = history(&[(0, 0), (9, 9), (11, 10), (15, 14), (20, 15)]);
        // progress: 20..=29 copied to 15..=24 (its end sync not written yet)
        assert_eq!(
            h.exact_runs_ending_at(sp(29, 24)),
            vec![
                Run {
                    source_start: 0,
                    target_start: 0,
                    len: 10
                },
                Run {
                    source_start: 11,
                    target_start: 10,
                    len: 5
                },
                Run {
                    source_start: 20,
                    target_start: 15,
                    len: 10
                },
            ]
        );
        // syncs written after the progress commit are left out (the forwarder re-records those records)
        assert_eq!(
            h.exact_runs_ending_at(sp(12, 11)),
            vec![
                Run {
                    source_start: 0,
                    target_start: 0,
                    len: 10
                },
                Run {
                    source_start: 11,
                    target_start: 10,
                    len: 2
                },
            ]
        );
        // a lost sync (diff changes without a dense target step) ends the chain
        let h = history(&[(0, 0), (9, 9), (30, 12)]);
        assert_eq!(
            h.exact_runs_ending_at(sp(40, 22)),
            vec![Run {
                source_start: 30,
                target_start: 12,
                len: 11
            }]
        );
        assert_eq!(
            SyncHistory::default().exact_runs_ending_at(sp(4, 7)),
            vec![Run {
                source_start: 4,
                target_start: 7,
                len: 1
            }]
        );
    }

    #[test]
    fn progress_points_behind_the_syncs_are_ignored() {
        let mut h = history(&[(0, 0), (50, 50)]);
        h.push_if_newer(sp(40, 40));
        assert_eq!(h.points().len(), 2);
        h.push_if_newer(sp(60, 60));
        assert_eq!(h.points().last(), Some(&sp(60, 60)));
    }

    /// A copy of a source with random gaps; returns (source offset, target offset) of every copied record.
    fn copy_with_gaps(gaps: &[bool]) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let mut t = 0;
        for (s, skipped) in gaps.iter().enumerate() {
            if !skipped {
                out.push((s as i64, t));
                t += 1;
            }
        }
        out
    }

    /// The right answer: the target offset of the first copied record at or after `g`.
    fn truth(copied: &[(i64, i64)], g: i64) -> i64 {
        copied
            .iter()
            .find(|(s, _)| *s >= g)
            .map_or(copied.last().map_or(0, |l| l.1 + 1), |c| c.1)
    }

    proptest! {
        /// Syncs at every run boundary (as kmirror writes them) translate every position exactly; any subset
        /// of them (thinning, lost syncs, MM2's sparse syncs) never skips a record.
        #[test]
        fn translation_is_exact_with_all_boundaries_and_safe_with_any_subset(
            gaps in proptest::collection::vec(proptest::bool::weighted(0.2), 1..300),
            keep in proptest::collection::vec(any::<bool>(), 300),
        ) {
            let copied = copy_with_gaps(&gaps);
            prop_assume!(!copied.is_empty());
            let mut runs = super::super::OffsetRuns::new(10_000);
            let mut all = SyncHistory::default();
            for (s, t) in &copied {
                for p in runs.record([*s], *t) {
                    all.push(p);
                }
            }
            let last = copied[copied.len() - 1];
            all.push(sp(last.0, last.1));
            let mut some = SyncHistory::default();
            for (i, p) in all.points().iter().enumerate() {
                if keep[i % keep.len()] || i == 0 {
                    some.push(*p);
                }
            }
            let first = copied[0].0;
            for g in first..=last.0 + 1 {
                let want = truth(&copied, g);
                prop_assert_eq!(all.translate(g), Ok(Translated::exact(want)), "group at {}", g);
                let got = some.translate(g).expect("covered");
                prop_assert!(got.offset <= want, "group at {} skipped: {} > {}", g, got.offset, want);
                if got.derivation == Derivation::Exact {
                    prop_assert_eq!(got.offset, want);
                }
            }
            let rebuilt = all.exact_runs_ending_at(sp(last.0, last.1));
            let mut seeded = super::super::OffsetRuns::new(10_000);
            seeded.seed_runs(rebuilt);
            for g in first..=last.0 + 1 {
                prop_assert_eq!(
                    seeded.translate(g),
                    super::super::Translation::Exact(truth(&copied, g)),
                    "seeded map, group at {}", g
                );
            }
        }

        #[test]
        fn thinning_keeps_answers_safe(n in 1usize..10_000, step in 1i64..5) {
            let mut h = SyncHistory::default();
            for i in 0..n as i64 {
                h.push(sp(i * step, i));
            }
            prop_assert!(h.points().len() <= MAX_POINTS);
            prop_assert_eq!(h.points().last(), Some(&sp((n as i64 - 1) * step, n as i64 - 1)));
            prop_assert_eq!(h.points().first(), Some(&sp(0, 0)));
        }
    }
}

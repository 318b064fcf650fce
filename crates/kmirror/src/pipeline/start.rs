//! Where a partition resumes: reconcile the stored progress with what the target actually holds.
//!
//! Progress is stored only after the target acknowledged the data, so after a crash the target can hold
//! *more* than the progress says. That surplus is skipped on resume only where it is provably kmirror's own
//! (see [`super::ownership`]): "no record lost, none written twice" after `kill -9`, and no source record
//! skipped because somebody else wrote into the target.

use super::ownership::Surplus;
use crate::progress::SourceProgress;

/// Where new partitions (no progress stored anywhere) start on the source, as MM2's `auto.offset.reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetPolicy {
    Earliest,
    Latest,
}

/// What to do when a target partition holds records kmirror did not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingTargetData {
    /// Refuse to mix mirrored records with foreign ones (the default).
    Refuse,
    /// Copy after them anyway.
    Append,
}

/// The offsets the decision needs, read from both clusters just before starting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub source_start: i64,
    pub source_end: i64,
    pub target_start: i64,
    pub target_end: i64,
}

impl Observed {
    /// The target offsets past the stored progress that must be classified before resuming, if any:
    /// `[downstream + 1, target_end)` when kmirror recorded which producers write the partition.
    pub fn surplus_range(&self, stored: Option<&SourceProgress>) -> Option<(i64, i64)> {
        let p = stored?;
        if p.writers.is_empty() {
            return None;
        }
        let from = p.downstream? + 1;
        (self.target_end > from).then_some((from, self.target_end))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartDecision {
    /// Fetch from `from`; the first source records fetched are already on the target, at the target offset
    /// spans of `skip` (first offset, count), in order; the next record written lands at `target_next`
    /// (or later, if someone else writes meanwhile).
    Resume {
        from: i64,
        skip: Vec<(i64, i64)>,
        target_next: i64,
        /// True when no progress was stored: write an initial progress record before copying anything, so a
        /// crash right after the first produce still finds the partition's starting point.
        fresh: bool,
        warnings: Vec<String>,
    },
    /// Do not copy: the target holds records kmirror did not write.
    Refuse(Refusal),
}

/// Why a partition is not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No progress is stored, and the target partition already holds `records` records.
    NoProgress { records: i64 },
    /// Past the last committed copy (target offset `after`), the target holds records kmirror did not write.
    Foreign { after: i64, surplus: Surplus },
}

impl StartDecision {
    /// Records already on the target that the forwarder skips.
    pub fn skipped_records(&self) -> i64 {
        match self {
            Self::Resume { skip, .. } => skip.iter().map(|(_, n)| n).sum(),
            Self::Refuse(_) => 0,
        }
    }
}

/// Decides where to resume. Pure: every input is passed in. `surplus` classifies
/// [`Observed::surplus_range`] when there is one.
pub fn decide_start(
    stored: Option<&SourceProgress>,
    seen: Observed,
    surplus: Option<&Surplus>,
    reset: ResetPolicy,
    existing: ExistingTargetData,
) -> StartDecision {
    let mut warnings = Vec::new();
    let Some(progress) = stored else {
        let target_records = seen.target_end - seen.target_start;
        if target_records > 0 && existing == ExistingTargetData::Refuse {
            return StartDecision::Refuse(Refusal::NoProgress {
                records: target_records,
            });
        }
        if seen.target_end > 0 && target_records == 0 {
            warnings.push(format!(
                "target partition is empty but its offsets start at {}; copying from the source start",
                seen.target_end
            ));
        }
        let from = match reset {
            ResetPolicy::Earliest => seen.source_start,
            ResetPolicy::Latest => seen.source_end,
        };
        return StartDecision::Resume {
            from,
            skip: Vec::new(),
            target_next: seen.target_end,
            fresh: true,
            warnings,
        };
    };

    let mut from = progress.offset + 1;
    if from < seen.source_start {
        warnings.push(format!(
            "source records {from}..{} were deleted (retention or DeleteRecords) before kmirror copied them; \
             continuing at {}",
            seen.source_start - 1,
            seen.source_start
        ));
        from = seen.source_start;
    } else if from > seen.source_end {
        warnings.push(format!(
            "the source partition ends at {} but kmirror had copied up to {}: the topic was probably deleted and \
             recreated; copying it again from its start",
            seen.source_end, progress.offset
        ));
        from = seen.source_start;
    }

    let skip = match progress.downstream {
        Some(downstream) if seen.target_end > downstream + 1 => match surplus {
            Some(surplus) if surplus.foreign_count() > 0 => {
                if existing == ExistingTargetData::Refuse {
                    return StartDecision::Refuse(Refusal::Foreign {
                        after: downstream,
                        surplus: surplus.clone(),
                    });
                }
                warnings.push(format!(
                    "the target partition holds {} records kmirror did not write (offsets {}); appending after \
                     them (kmirror.existing.target.data = append)",
                    surplus.foreign_count(),
                    surplus.foreign_ranges()
                ));
                surplus.ours.clone()
            }
            Some(surplus) => surplus.ours.clone(),
            // Progress from before kmirror recorded its producer id: the surplus is taken as its own.
            None => vec![(downstream + 1, seen.target_end - (downstream + 1))],
        },
        Some(downstream) if seen.target_end < downstream + 1 => {
            warnings.push(format!(
                "the target partition ends at {} but kmirror had written up to {downstream}: records were removed \
                 from the target; continuing without re-copying them",
                seen.target_end
            ));
            Vec::new()
        }
        // MirrorMaker 2's progress has no target offset; it was at-least-once anyway.
        _ => Vec::new(),
    };
    StartDecision::Resume {
        from,
        skip,
        target_next: seen.target_end,
        fresh: false,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(source_start: i64, source_end: i64, target_start: i64, target_end: i64) -> Observed {
        Observed {
            source_start,
            source_end,
            target_start,
            target_end,
        }
    }

    fn resume(d: StartDecision) -> (i64, i64, i64, bool, usize) {
        let skipped = d.skipped_records();
        match d {
            StartDecision::Resume {
                from,
                target_next,
                fresh,
                warnings,
                ..
            } => (from, skipped, target_next, fresh, warnings.len()),
            StartDecision::Refuse(r) => panic!("refused: {r:?}"),
        }
    }

    const E: ResetPolicy = ResetPolicy::Earliest;
    const R: ExistingTargetData = ExistingTargetData::Refuse;

    #[test]
    fn new_partition_starts_at_the_source_start_or_end() {
        assert_eq!(
            resume(decide_start(None, seen(5, 100, 0, 0), None, E, R)),
            (5, 0, 0, true, 0)
        );
        assert_eq!(
            resume(decide_start(
                None,
                seen(5, 100, 0, 0),
                None,
                ResetPolicy::Latest,
                R
            )),
            (100, 0, 0, true, 0)
        );
    }

    #[test]
    fn foreign_data_on_the_target_is_refused_unless_told_otherwise() {
        assert_eq!(
            decide_start(None, seen(0, 100, 0, 7), None, E, R),
            StartDecision::Refuse(Refusal::NoProgress { records: 7 })
        );
        let d = decide_start(
            None,
            seen(0, 100, 0, 7),
            None,
            E,
            ExistingTargetData::Append,
        );
        assert_eq!(resume(d), (0, 0, 7, true, 0));
    }

    #[test]
    fn clean_restart_resumes_after_the_last_copied_record() {
        let p = SourceProgress {
            offset: 49,
            downstream: Some(49),
            next: None,
            writers: Vec::new(),
        };
        assert_eq!(
            resume(decide_start(Some(&p), seen(0, 100, 0, 50), None, E, R)),
            (50, 0, 50, false, 0)
        );
    }

    #[test]
    fn records_written_after_the_last_commit_are_skipped_not_duplicated() {
        let p = SourceProgress {
            offset: 49,
            downstream: Some(40),
            next: None,
            writers: Vec::new(),
        };
        // target holds 0..=57: 17 records beyond the committed target offset 40
        assert_eq!(
            resume(decide_start(Some(&p), seen(0, 100, 0, 58), None, E, R)),
            (50, 17, 58, false, 0)
        );
    }

    #[test]
    fn mm2_progress_without_a_target_offset_resumes_at_its_offset() {
        let p = SourceProgress {
            offset: 99,
            downstream: None,
            next: None,
            writers: Vec::new(),
        };
        assert_eq!(
            resume(decide_start(Some(&p), seen(0, 200, 0, 130), None, E, R)),
            (100, 0, 130, false, 0)
        );
    }

    #[test]
    fn source_retention_gap_and_recreated_topics_are_reported() {
        let p = SourceProgress {
            offset: 9,
            downstream: Some(9),
            next: None,
            writers: Vec::new(),
        };
        assert_eq!(
            resume(decide_start(Some(&p), seen(20, 30, 0, 10), None, E, R)),
            (20, 0, 10, false, 1)
        );
        let p = SourceProgress {
            offset: 500,
            downstream: Some(500),
            next: None,
            writers: Vec::new(),
        };
        assert_eq!(
            resume(decide_start(Some(&p), seen(0, 3, 0, 501), None, E, R)),
            (0, 0, 501, false, 1)
        );
    }

    #[test]
    fn records_removed_from_the_target_are_reported() {
        let p = SourceProgress {
            offset: 9,
            downstream: Some(9),
            next: None,
            writers: Vec::new(),
        };
        assert_eq!(
            resume(decide_start(Some(&p), seen(0, 30, 0, 4), None, E, R)),
            (10, 0, 4, false, 1)
        );
    }

    fn ours_from(downstream: i64, writer: i64) -> SourceProgress {
        SourceProgress {
            offset: 49,
            downstream: Some(downstream),
            next: None,
            writers: vec![writer],
        }
    }

    #[test]
    fn only_the_surplus_proven_ours_is_skipped() {
        let p = ours_from(40, 7);
        let o = seen(0, 100, 0, 58);
        assert_eq!(o.surplus_range(Some(&p)), Some((41, 58)));
        let surplus = Surplus {
            ours: vec![(41, 17)],
            foreign: vec![],
        };
        assert_eq!(
            resume(decide_start(Some(&p), o, Some(&surplus), E, R)),
            (50, 17, 58, false, 0)
        );
    }

    #[test]
    fn foreign_records_past_the_progress_stop_the_partition_and_skip_nothing() {
        let p = ours_from(40, 7);
        let surplus = Surplus {
            ours: vec![(41, 3)],
            foreign: vec![(44, 58)],
        };
        let d = decide_start(Some(&p), seen(0, 100, 0, 58), Some(&surplus), E, R);
        assert_eq!(
            d,
            StartDecision::Refuse(Refusal::Foreign {
                after: 40,
                surplus: surplus.clone()
            })
        );
        // Told to append: only kmirror's own 3 records are skipped, at their real target offsets.
        let d = decide_start(
            Some(&p),
            seen(0, 100, 0, 58),
            Some(&surplus),
            E,
            ExistingTargetData::Append,
        );
        let StartDecision::Resume { ref skip, .. } = d else {
            panic!("{d:?}")
        };
        assert_eq!(skip, &vec![(41, 3)]);
        assert_eq!(resume(d), (50, 3, 58, false, 1));
    }

    #[test]
    fn nothing_to_classify_without_a_surplus_or_a_recorded_writer() {
        let p = ours_from(57, 7);
        assert_eq!(seen(0, 100, 0, 58).surplus_range(Some(&p)), None);
        let legacy = SourceProgress {
            writers: Vec::new(),
            ..ours_from(40, 7)
        };
        assert_eq!(seen(0, 100, 0, 58).surplus_range(Some(&legacy)), None);
        assert_eq!(seen(0, 100, 0, 58).surplus_range(None), None);
    }
}

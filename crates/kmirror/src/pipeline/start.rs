//! Where a partition resumes: reconcile the stored progress with what the target actually holds.
//!
//! kmirror is the only writer of a mirrored partition, and it stores progress only after the target
//! acknowledged the data, so the target can hold *more* than the progress says (written after the last
//! commit, before a crash) — never less, unless someone deleted it. Counting the surplus and skipping that many
//! source records on resume gives "no record lost, none written twice" after `kill -9`.

use crate::progress::SourceProgress;

/// Where new partitions (no progress stored anywhere) start on the source, as MM2's `auto.offset.reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetPolicy {
    Earliest,
    Latest,
}

/// What to do when a target partition already holds records but no progress says kmirror wrote them.
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartDecision {
    /// Fetch from `from`; the first `skip_records` records fetched are already on the target, at
    /// `target_next - skip_records ..`; the next record written lands at `target_next`.
    Resume {
        from: i64,
        skip_records: i64,
        target_next: i64,
        /// True when no progress was stored: write an initial progress record before copying anything, so a
        /// crash right after the first produce still finds the partition's starting point.
        fresh: bool,
        warnings: Vec<String>,
    },
    /// Do not copy: the target holds `records` records kmirror did not write.
    Refuse { records: i64 },
}

/// Decides where to resume. Pure: every input is passed in.
pub fn decide_start(
    stored: Option<&SourceProgress>,
    seen: Observed,
    reset: ResetPolicy,
    existing: ExistingTargetData,
) -> StartDecision {
    let mut warnings = Vec::new();
    let Some(progress) = stored else {
        let target_records = seen.target_end - seen.target_start;
        if target_records > 0 && existing == ExistingTargetData::Refuse {
            return StartDecision::Refuse {
                records: target_records,
            };
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
            skip_records: 0,
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

    let skip_records = match progress.downstream {
        // Records written after the last commit are on the target already: skip that many.
        Some(downstream) if seen.target_end > downstream + 1 => seen.target_end - (downstream + 1),
        Some(downstream) if seen.target_end < downstream + 1 => {
            warnings.push(format!(
                "the target partition ends at {} but kmirror had written up to {downstream}: records were removed \
                 from the target; continuing without re-copying them",
                seen.target_end
            ));
            0
        }
        // MirrorMaker 2's progress has no target offset; it was at-least-once anyway.
        _ => 0,
    };
    StartDecision::Resume {
        from,
        skip_records,
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
        match d {
            StartDecision::Resume {
                from,
                skip_records,
                target_next,
                fresh,
                warnings,
            } => (from, skip_records, target_next, fresh, warnings.len()),
            StartDecision::Refuse { records } => panic!("refused with {records} records"),
        }
    }

    const E: ResetPolicy = ResetPolicy::Earliest;
    const R: ExistingTargetData = ExistingTargetData::Refuse;

    #[test]
    fn new_partition_starts_at_the_source_start_or_end() {
        assert_eq!(
            resume(decide_start(None, seen(5, 100, 0, 0), E, R)),
            (5, 0, 0, true, 0)
        );
        assert_eq!(
            resume(decide_start(
                None,
                seen(5, 100, 0, 0),
                ResetPolicy::Latest,
                R
            )),
            (100, 0, 0, true, 0)
        );
    }

    #[test]
    fn foreign_data_on_the_target_is_refused_unless_told_otherwise() {
        assert_eq!(
            decide_start(None, seen(0, 100, 0, 7), E, R),
            StartDecision::Refuse { records: 7 }
        );
        let d = decide_start(None, seen(0, 100, 0, 7), E, ExistingTargetData::Append);
        assert_eq!(resume(d), (0, 0, 7, true, 0));
    }

    #[test]
    fn clean_restart_resumes_after_the_last_copied_record() {
        let p = SourceProgress {
            offset: 49,
            downstream: Some(49),
            next: None,
        };
        assert_eq!(
            resume(decide_start(Some(&p), seen(0, 100, 0, 50), E, R)),
            (50, 0, 50, false, 0)
        );
    }

    #[test]
    fn records_written_after_the_last_commit_are_skipped_not_duplicated() {
        let p = SourceProgress {
            offset: 49,
            downstream: Some(40),
            next: None,
        };
        // target holds 0..=57: 17 records beyond the committed target offset 40
        assert_eq!(
            resume(decide_start(Some(&p), seen(0, 100, 0, 58), E, R)),
            (50, 17, 58, false, 0)
        );
    }

    #[test]
    fn mm2_progress_without_a_target_offset_resumes_at_its_offset() {
        let p = SourceProgress {
            offset: 99,
            downstream: None,
            next: None,
        };
        assert_eq!(
            resume(decide_start(Some(&p), seen(0, 200, 0, 130), E, R)),
            (100, 0, 130, false, 0)
        );
    }

    #[test]
    fn source_retention_gap_and_recreated_topics_are_reported() {
        let p = SourceProgress {
            offset: 9,
            downstream: Some(9),
            next: None,
        };
        assert_eq!(
            resume(decide_start(Some(&p), seen(20, 30, 0, 10), E, R)),
            (20, 0, 10, false, 1)
        );
        let p = SourceProgress {
            offset: 500,
            downstream: Some(500),
            next: None,
        };
        assert_eq!(
            resume(decide_start(Some(&p), seen(0, 3, 0, 501), E, R)),
            (0, 0, 501, false, 1)
        );
    }

    #[test]
    fn records_removed_from_the_target_are_reported() {
        let p = SourceProgress {
            offset: 9,
            downstream: Some(9),
            next: None,
        };
        assert_eq!(
            resume(decide_start(Some(&p), seen(0, 30, 0, 4), E, R)),
            (10, 0, 4, false, 1)
        );
    }
}

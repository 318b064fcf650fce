//! Which target records past the stored progress are kmirror's own.
//!
//! After a crash the target can hold records kmirror wrote after its last progress commit; they must be
//! skipped on resume, or they would be written twice. But the target can also hold records somebody else
//! wrote (an application that failed over early, a mistake): counting those as kmirror's would skip source
//! records that never reached the target. So ownership is proven, not assumed: before kmirror writes a
//! partition with a producer id, the stored progress names that id (`kmirror.producers`), and every batch
//! kmirror writes carries it in its header. A batch with another producer id (or a control batch, or an
//! offset no batch explains) is foreign.

use std::time::Duration;

use kmirror_kafka::{Client, FetchPartition, FetchRequest, Isolation, TopicPartition};

/// One batch found on the target, by its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetBatch {
    pub base_offset: i64,
    /// Offset after the batch's last record.
    pub next_offset: i64,
    pub producer_id: i64,
    pub control: bool,
}

/// The target records past the stored progress, split by who wrote them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Surplus {
    /// kmirror's own records, in order: (first target offset, number of offsets). They stand for the source
    /// records right after the stored progress, in the same order.
    pub ours: Vec<(i64, i64)>,
    /// Offsets kmirror did not write, as `[start, end)` ranges.
    pub foreign: Vec<(i64, i64)>,
}

impl Surplus {
    pub fn ours_count(&self) -> i64 {
        self.ours.iter().map(|(_, n)| n).sum()
    }

    pub fn foreign_count(&self) -> i64 {
        self.foreign.iter().map(|(s, e)| e - s).sum()
    }

    /// `a..b, c..d` (end exclusive shown inclusive), at most a few ranges, for messages.
    pub fn foreign_ranges(&self) -> String {
        let mut parts: Vec<String> = self
            .foreign
            .iter()
            .take(5)
            .map(|(s, e)| {
                if e - s == 1 {
                    s.to_string()
                } else {
                    format!("{s}..={}", e - 1)
                }
            })
            .collect();
        if self.foreign.len() > 5 {
            parts.push(format!("and {} more ranges", self.foreign.len() - 5));
        }
        parts.join(", ")
    }
}

/// Splits `[from, end)` into kmirror's records (batches stamped with one of `writers`) and foreign ones.
/// Offsets no batch covers count as foreign: kmirror never leaves holes in what it writes.
pub fn classify(batches: &[TargetBatch], from: i64, end: i64, writers: &[i64]) -> Surplus {
    let mut surplus = Surplus::default();
    let mut at = from;
    let push_foreign = |s: &mut Surplus, a: i64, b: i64| {
        if b <= a {
            return;
        }
        match s.foreign.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ => s.foreign.push((a, b)),
        }
    };
    for b in batches {
        let start = b.base_offset.max(at);
        let stop = b.next_offset.min(end);
        if stop <= start {
            continue;
        }
        push_foreign(&mut surplus, at, start);
        if !b.control && writers.contains(&b.producer_id) {
            match surplus.ours.last_mut() {
                Some(last) if last.0 + last.1 == start => last.1 += stop - start,
                _ => surplus.ours.push((start, stop - start)),
            }
        } else {
            push_foreign(&mut surplus, start, stop);
        }
        at = stop;
        if at >= end {
            break;
        }
    }
    push_foreign(&mut surplus, at, end);
    surplus
}

/// Reading more than this to classify a surplus is not worth it: the rest counts as foreign.
const MAX_SURPLUS_BYTES: usize = 256 << 20;
const EMPTY_FETCH_RETRIES: u32 = 20;

/// The batch headers of `tp` in `[from, end)` (everything, open and aborted transactions included).
pub async fn read_target_batches(
    client: &Client,
    tp: &TopicPartition,
    from: i64,
    end: i64,
) -> Result<Vec<TargetBatch>, kmirror_kafka::Error> {
    let mut out = Vec::new();
    let mut offset = from;
    let mut read = 0usize;
    let mut empty = 0;
    while offset < end && read < MAX_SURPLUS_BYTES && empty < EMPTY_FETCH_RETRIES {
        let mut req = FetchRequest::new(vec![FetchPartition {
            tp: tp.clone(),
            offset,
            max_bytes: 4 << 20,
        }]);
        req.max_wait = Duration::ZERO;
        req.min_bytes = 0;
        req.isolation = Isolation::ReadUncommitted;
        let data = match client.fetch(&req).await?.pop().map(|p| p.result) {
            Some(result) => result?,
            None => break,
        };
        read += data.records.len();
        let before = offset;
        for batch in data.batches() {
            let Ok((h, _)) = batch else { break };
            if h.base_offset >= end {
                offset = end;
                break;
            }
            if h.next_offset() > offset {
                out.push(TargetBatch {
                    base_offset: h.base_offset,
                    next_offset: h.next_offset(),
                    producer_id: h.producer_id,
                    control: h.is_control(),
                });
                offset = h.next_offset();
            }
        }
        if offset == before {
            empty += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        } else {
            empty = 0;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(base: i64, next: i64, pid: i64) -> TargetBatch {
        TargetBatch {
            base_offset: base,
            next_offset: next,
            producer_id: pid,
            control: false,
        }
    }

    #[test]
    fn our_batches_after_a_crash_are_ours() {
        let s = classify(&[b(10, 15, 7), b(15, 20, 7)], 10, 20, &[7]);
        assert_eq!(s.ours, vec![(10, 10)]);
        assert!(s.foreign.is_empty());
        assert_eq!(s.ours_count(), 10);
    }

    #[test]
    fn another_writer_after_ours_is_foreign() {
        let s = classify(&[b(10, 15, 7), b(15, 18, 99), b(18, 20, 99)], 10, 20, &[7]);
        assert_eq!(s.ours, vec![(10, 5)]);
        assert_eq!(s.foreign, vec![(15, 20)]);
        assert_eq!(s.foreign_count(), 5);
        assert_eq!(s.foreign_ranges(), "15..=19");
    }

    #[test]
    fn interleaved_writers_keep_our_target_offsets() {
        let s = classify(&[b(10, 12, 7), b(12, 13, 99), b(13, 16, 7)], 10, 16, &[7]);
        assert_eq!(s.ours, vec![(10, 2), (13, 3)]);
        assert_eq!(s.foreign, vec![(12, 13)]);
        assert_eq!(s.foreign_ranges(), "12");
    }

    #[test]
    fn control_batches_and_unexplained_offsets_are_foreign() {
        let mut marker = b(12, 13, 7);
        marker.control = true;
        // A batch starting below `from` is clipped; offsets 13..15 are not covered by any batch.
        let s = classify(&[b(8, 12, 7), marker, b(15, 16, 7)], 10, 18, &[7]);
        assert_eq!(s.ours, vec![(10, 2), (15, 1)]);
        assert_eq!(s.foreign, vec![(12, 15), (16, 18)]);
    }

    #[test]
    fn batches_of_an_earlier_run_recorded_as_ours_count() {
        let s = classify(&[b(10, 12, 6), b(12, 15, 7)], 10, 15, &[6, 7]);
        assert_eq!(s.ours, vec![(10, 5)]);
        assert!(s.foreign.is_empty());
    }

    #[test]
    fn nothing_read_means_nothing_proven() {
        let s = classify(&[], 10, 13, &[7]);
        assert!(s.ours.is_empty());
        assert_eq!(s.foreign, vec![(10, 13)]);
    }
}

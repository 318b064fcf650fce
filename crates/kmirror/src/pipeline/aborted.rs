//! read_committed filtering of fetched batches.
//!
//! A read_committed fetch still returns the batches of aborted transactions, together with a list of
//! (producer id, first offset) for the aborted transactions in the returned range. A batch is aborted when it
//! is transactional and its producer has an aborted transaction that started at or before it and whose ABORT
//! marker has not been passed yet.

use std::collections::{BTreeSet, HashSet};

use bytes::Bytes;
use kmirror_kafka::batch::{BatchHeader, HEADER_LEN};

/// What a control batch marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    Abort,
    Commit,
    /// Other markers (e.g. leader-epoch checkpoints of newer brokers).
    Other(i16),
}

/// Reads the marker type from a control batch's single record key (`version: i16, type: i16`).
/// Control batches are never compressed.
pub fn control_type(batch: &[u8]) -> Option<ControlType> {
    let mut pos = HEADER_LEN;
    let _length = read_varint(batch, &mut pos)?;
    let _attributes = *batch.get(pos)?;
    pos += 1;
    let _timestamp_delta = read_varint(batch, &mut pos)?;
    let _offset_delta = read_varint(batch, &mut pos)?;
    let key_len = read_varint(batch, &mut pos)?;
    if key_len < 4 {
        return None;
    }
    let key = batch.get(pos..pos + 4)?;
    Some(match i16::from_be_bytes([key[2], key[3]]) {
        0 => ControlType::Abort,
        1 => ControlType::Commit,
        other => ControlType::Other(other),
    })
}

/// Zigzag varint (Kafka's record varints), up to 64 bits.
fn read_varint(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let mut raw: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        raw |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(((raw >> 1) as i64) ^ -((raw & 1) as i64));
        }
    }
    None
}

/// Tracks aborted transactions across consecutive fetches of one partition.
#[derive(Debug, Default)]
pub struct AbortedTracker {
    /// Aborted transactions not yet started: (first offset, producer id), ascending.
    pending: BTreeSet<(i64, i64)>,
    /// Producers whose current transaction is aborted.
    active: HashSet<i64>,
}

impl AbortedTracker {
    /// Adds the aborted-transaction list of a fetch response.
    pub fn add(&mut self, aborted: impl IntoIterator<Item = (i64, i64)>) {
        for (producer_id, first_offset) in aborted {
            self.pending.insert((first_offset, producer_id));
        }
    }

    /// True when this batch holds aborted data and must not be copied. Call for every batch in offset order,
    /// control batches included (they end aborted transactions).
    pub fn is_aborted(&mut self, header: &BatchHeader, bytes: &Bytes) -> bool {
        while let Some(&(first, pid)) = self.pending.first() {
            if first > header.last_offset() {
                break;
            }
            self.pending.pop_first();
            self.active.insert(pid);
        }
        if header.is_control() {
            if control_type(bytes) == Some(ControlType::Abort) {
                self.active.remove(&header.producer_id);
            }
            return false;
        }
        header.is_transactional() && self.active.contains(&header.producer_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An uncompressed batch with one record whose key is `key`, as a broker would store it.
    fn batch(base: i64, pid: i64, attributes: i16, key: &[u8]) -> Bytes {
        let mut rec = Vec::new();
        let zig = |v: i64| -> Vec<u8> {
            let mut u = ((v << 1) ^ (v >> 63)) as u64;
            let mut out = Vec::new();
            loop {
                let b = (u & 0x7f) as u8;
                u >>= 7;
                if u == 0 {
                    out.push(b);
                    break;
                }
                out.push(b | 0x80);
            }
            out
        };
        rec.push(0u8); // attributes
        rec.extend(zig(0)); // timestamp delta
        rec.extend(zig(0)); // offset delta
        rec.extend(zig(key.len() as i64));
        rec.extend_from_slice(key);
        rec.extend(zig(-1)); // null value
        rec.extend(zig(0)); // no headers
        let mut body = zig(rec.len() as i64);
        body.extend(rec);
        let mut b = vec![0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&base.to_be_bytes());
        b[8..12].copy_from_slice(&((HEADER_LEN - 12 + body.len()) as i32).to_be_bytes());
        b[16] = 2;
        b[21..23].copy_from_slice(&attributes.to_be_bytes());
        b[43..51].copy_from_slice(&pid.to_be_bytes());
        b[57..61].copy_from_slice(&1i32.to_be_bytes());
        b.extend(body);
        Bytes::from(b)
    }

    fn check(t: &mut AbortedTracker, b: &Bytes) -> bool {
        let h = BatchHeader::parse(b).expect("header");
        t.is_aborted(&h, b)
    }

    const TXN: i16 = 0x10;
    const CONTROL: i16 = 0x30;
    const ABORT: [u8; 4] = [0, 0, 0, 0];
    const COMMIT: [u8; 4] = [0, 0, 0, 1];

    #[test]
    fn reads_control_marker_types() {
        assert_eq!(
            control_type(&batch(0, 1, CONTROL, &ABORT)),
            Some(ControlType::Abort)
        );
        assert_eq!(
            control_type(&batch(0, 1, CONTROL, &COMMIT)),
            Some(ControlType::Commit)
        );
        assert_eq!(control_type(&batch(0, 1, CONTROL, &[0])), None);
    }

    #[test]
    fn drops_aborted_batches_until_their_marker_and_keeps_others() {
        let mut t = AbortedTracker::default();
        t.add([(7, 10)]); // producer 7 aborted a transaction starting at offset 10
        assert!(
            !check(&mut t, &batch(5, 7, TXN, b"k")),
            "before the aborted transaction started"
        );
        assert!(
            check(&mut t, &batch(10, 7, TXN, b"k")),
            "inside the aborted transaction"
        );
        assert!(
            !check(&mut t, &batch(11, 8, TXN, b"k")),
            "another producer's transaction"
        );
        assert!(
            !check(&mut t, &batch(12, 7, 0, b"k")),
            "non-transactional batch of the same producer"
        );
        assert!(
            !check(&mut t, &batch(13, 7, CONTROL, &ABORT)),
            "markers are never data"
        );
        assert!(
            !check(&mut t, &batch(14, 7, TXN, b"k")),
            "the next transaction of producer 7 committed"
        );
    }
}

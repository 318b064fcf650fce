//! read_committed filtering of fetched batches: which batches belong to aborted transactions.
//!
//! A fetch returns the aborted transactions that overlap its range as (producer id, first offset).
//! Walking batches in offset order, a producer's transactional batches are aborted from its
//! `first_offset` until its ABORT control marker; the marker itself and every other control batch are
//! never user data. This is the same rule Kafka's Java consumer applies.

use std::collections::HashSet;

use crate::batch::{BatchHeader, HEADER_LEN};
use crate::fetch::AbortedTransaction;

/// What a batch is, for a reader that only wants committed user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchKind {
    /// Records to deliver.
    Data,
    /// Records of an aborted transaction: skip them.
    Aborted,
    /// A transaction marker (COMMIT/ABORT): skip it, it is not user data.
    Control,
}

/// Classifies the batches of one fetched partition response, in order. Build one per response.
#[derive(Debug, Clone)]
pub struct AbortedFilter {
    aborted: Vec<AbortedTransaction>,
    next: usize,
    active: HashSet<i64>,
}

impl AbortedFilter {
    pub fn new(aborted: &[AbortedTransaction]) -> Self {
        let mut aborted = aborted.to_vec();
        aborted.sort_by_key(|a| a.first_offset);
        Self {
            aborted,
            next: 0,
            active: HashSet::new(),
        }
    }

    /// Call for every batch of the response in offset order, with the batch's complete bytes.
    pub fn classify(&mut self, header: &BatchHeader, batch: &[u8]) -> BatchKind {
        while let Some(a) = self.aborted.get(self.next)
            && a.first_offset <= header.last_offset()
        {
            self.active.insert(a.producer_id);
            self.next += 1;
        }
        if header.is_control() {
            if control_type(batch) == Some(ControlType::Abort) {
                self.active.remove(&header.producer_id);
            }
            return BatchKind::Control;
        }
        if header.is_transactional() && self.active.contains(&header.producer_id) {
            BatchKind::Aborted
        } else {
            BatchKind::Data
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ControlType {
    Abort,
    Commit,
    Other,
}

/// Reads the type of a control batch from its first record's key (version i16, type i16).
/// Control batches are never compressed.
fn control_type(batch: &[u8]) -> Option<ControlType> {
    let mut pos = HEADER_LEN;
    let _record_len = read_varint(batch, &mut pos)?;
    pos += 1; // attributes
    let _ts_delta = read_varint(batch, &mut pos)?;
    let _offset_delta = read_varint(batch, &mut pos)?;
    let key_len = read_varint(batch, &mut pos)?;
    if key_len < 4 {
        return None;
    }
    let key = batch.get(pos..pos + 4)?;
    Some(match i16::from_be_bytes([key[2], key[3]]) {
        0 => ControlType::Abort,
        1 => ControlType::Commit,
        _ => ControlType::Other,
    })
}

/// Zig-zag varint (as in record bodies), up to 64 bits.
fn read_varint(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let mut raw: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        raw |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchHeader;

    const TRANSACTIONAL: i16 = 0x10;
    const CONTROL: i16 = 0x20;

    fn zigzag(v: i64, out: &mut Vec<u8>) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            let b = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
    }

    /// A batch header (and for control batches one marker record) at `base` with `count` offsets.
    fn batch(base: i64, count: i32, pid: i64, attributes: i16, marker: Option<i16>) -> Vec<u8> {
        let mut body = Vec::new();
        if let Some(kind) = marker {
            let mut rec = vec![0u8]; // attributes
            zigzag(0, &mut rec); // timestamp delta
            zigzag(0, &mut rec); // offset delta
            zigzag(4, &mut rec); // key length
            rec.extend_from_slice(&0i16.to_be_bytes());
            rec.extend_from_slice(&kind.to_be_bytes());
            zigzag(6, &mut rec); // value length
            rec.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            zigzag(0, &mut rec); // headers
            zigzag(rec.len() as i64, &mut body);
            body.extend(rec);
        }
        let mut b = vec![0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&base.to_be_bytes());
        b[8..12].copy_from_slice(&((HEADER_LEN - 12 + body.len()) as i32).to_be_bytes());
        b[16] = 2;
        b[21..23].copy_from_slice(&attributes.to_be_bytes());
        b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
        b[43..51].copy_from_slice(&pid.to_be_bytes());
        b[57..61].copy_from_slice(&count.to_be_bytes());
        b.extend(body);
        b
    }

    fn kinds(batches: &[Vec<u8>], aborted: &[AbortedTransaction]) -> Vec<BatchKind> {
        let mut f = AbortedFilter::new(aborted);
        batches
            .iter()
            .map(|b| f.classify(&BatchHeader::parse(b).expect("header"), b))
            .collect()
    }

    #[test]
    fn aborted_transaction_is_dropped_until_its_marker() {
        let batches = vec![
            batch(0, 2, 7, TRANSACTIONAL, None), // aborted txn of pid 7
            batch(2, 3, 9, TRANSACTIONAL, None), // pid 9, committed
            batch(5, 1, 7, TRANSACTIONAL, None), // still pid 7's aborted txn
            batch(6, 1, 7, TRANSACTIONAL | CONTROL, Some(0)), // ABORT marker of pid 7
            batch(7, 1, 9, TRANSACTIONAL | CONTROL, Some(1)), // COMMIT marker of pid 9
            batch(8, 2, 7, TRANSACTIONAL, None), // pid 7's next transaction: not aborted
            batch(10, 4, 11, 0, None),           // non-transactional producer
        ];
        let aborted = [AbortedTransaction {
            producer_id: 7,
            first_offset: 0,
        }];
        use BatchKind::*;
        assert_eq!(
            kinds(&batches, &aborted),
            vec![Aborted, Data, Aborted, Control, Control, Data, Data]
        );
    }

    #[test]
    fn abort_starts_at_first_offset_and_nothing_is_aborted_without_the_list() {
        let batches = vec![
            batch(0, 1, 7, TRANSACTIONAL, None),
            batch(1, 1, 7, TRANSACTIONAL | CONTROL, Some(1)), // committed txn
            batch(2, 1, 7, TRANSACTIONAL, None),              // new txn, aborted from offset 2
            batch(3, 1, 7, TRANSACTIONAL | CONTROL, Some(0)),
        ];
        let aborted = [AbortedTransaction {
            producer_id: 7,
            first_offset: 2,
        }];
        use BatchKind::*;
        assert_eq!(
            kinds(&batches, &aborted),
            vec![Data, Control, Aborted, Control]
        );
        assert_eq!(kinds(&batches, &[]), vec![Data, Control, Data, Control]);
    }

    #[test]
    fn two_producers_aborting_interleaved() {
        let batches = vec![
            batch(0, 1, 1, TRANSACTIONAL, None),
            batch(1, 1, 2, TRANSACTIONAL, None),
            batch(2, 1, 1, TRANSACTIONAL | CONTROL, Some(0)),
            batch(3, 1, 2, TRANSACTIONAL, None),
            batch(4, 1, 2, TRANSACTIONAL | CONTROL, Some(0)),
            batch(5, 1, 1, TRANSACTIONAL, None),
        ];
        let aborted = [
            AbortedTransaction {
                producer_id: 2,
                first_offset: 1,
            },
            AbortedTransaction {
                producer_id: 1,
                first_offset: 0,
            },
        ];
        use BatchKind::*;
        assert_eq!(
            kinds(&batches, &aborted),
            vec![Aborted, Aborted, Control, Aborted, Control, Data]
        );
    }

    #[test]
    fn varints_decode() {
        let mut buf = Vec::new();
        for v in [0i64, -1, 1, 63, -64, 300, i64::MAX, i64::MIN] {
            zigzag(v, &mut buf);
        }
        let mut pos = 0;
        for v in [0i64, -1, 1, 63, -64, 300, i64::MAX, i64::MIN] {
            assert_eq!(read_varint(&buf, &mut pos), Some(v));
        }
        assert_eq!(read_varint(&[0x80], &mut 0), None);
    }
}

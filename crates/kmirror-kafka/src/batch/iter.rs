//! Walking a fetched partition's record bytes batch by batch.

use bytes::Bytes;

use super::header::{BatchError, BatchHeader};

/// Iterates the complete batches in a fetched buffer, zero-copy. A fetch response may end with one
/// partial batch (cut by `max_bytes`); iteration stops before it and [`Batches::truncated_tail`] says so.
#[derive(Debug, Clone)]
pub struct Batches {
    buf: Bytes,
    pos: usize,
    truncated: bool,
}

impl Batches {
    pub fn new(buf: Bytes) -> Self {
        Self {
            buf,
            pos: 0,
            truncated: false,
        }
    }

    /// True once iteration reached a partial batch at the end of the buffer.
    pub fn truncated_tail(&self) -> bool {
        self.truncated
    }
}

impl Iterator for Batches {
    /// A batch's header and its complete bytes (a slice of the fetched buffer).
    type Item = Result<(BatchHeader, Bytes), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.buf[self.pos..];
        if rest.is_empty() {
            return None;
        }
        match BatchHeader::parse(rest) {
            Ok(h) if h.total_len() <= rest.len() => {
                let bytes = self.buf.slice(self.pos..self.pos + h.total_len());
                self.pos += h.total_len();
                Some(Ok((h, bytes)))
            }
            Ok(_) | Err(BatchError::Truncated { .. }) => {
                self.truncated = true;
                self.pos = self.buf.len();
                None
            }
            Err(e) => {
                self.pos = self.buf.len();
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::header::tests::fake_batch;

    #[test]
    fn walks_batches_and_stops_at_a_truncated_tail() {
        let mut buf = fake_batch(0, 3, 0, b"one");
        buf.extend(fake_batch(3, 2, 0, b"two"));
        let third = fake_batch(5, 4, 0, b"three");
        buf.extend(&third[..third.len() - 2]);
        let mut it = Batches::new(Bytes::from(buf));
        let offsets: Vec<i64> = it
            .by_ref()
            .map(|b| b.expect("batch").0.base_offset)
            .collect();
        assert_eq!(offsets, vec![0, 3]);
        assert!(it.truncated_tail());
    }

    #[test]
    fn header_cut_short_counts_as_truncated() {
        let mut buf = fake_batch(0, 1, 0, b"x");
        buf.extend_from_slice(&fake_batch(1, 1, 0, b"y")[..20]);
        let mut it = Batches::new(Bytes::from(buf));
        assert_eq!(it.by_ref().count(), 1);
        assert!(it.truncated_tail());
    }
}

//! The 61-byte v2 batch header.

/// Bytes before the first record of a v2 batch.
pub const HEADER_LEN: usize = 61;
/// Bytes of baseOffset + batchLength, which `batchLength` does not count.
pub(crate) const LOG_OVERHEAD: usize = 12;

const OFF_LENGTH: usize = 8;
const OFF_LEADER_EPOCH: usize = 12;
const OFF_MAGIC: usize = 16;
const OFF_CRC: usize = 17;
const OFF_ATTRIBUTES: usize = 21;
const OFF_LAST_OFFSET_DELTA: usize = 23;
const OFF_BASE_TIMESTAMP: usize = 27;
const OFF_MAX_TIMESTAMP: usize = 35;
const OFF_PRODUCER_ID: usize = 43;
const OFF_PRODUCER_EPOCH: usize = 51;
const OFF_BASE_SEQUENCE: usize = 53;
const OFF_RECORD_COUNT: usize = 57;

const ATTR_COMPRESSION_MASK: i16 = 0x07;
const ATTR_LOG_APPEND_TIME: i16 = 0x08;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;
const ATTR_DELETE_HORIZON: i16 = 0x40;

/// Why bytes are not a usable v2 batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("record batch truncated: {available} bytes available, {needed} needed")]
    Truncated { available: usize, needed: usize },
    #[error("record batch has magic {0}; only v2 batches are supported (Kafka 0.11+)")]
    UnsupportedMagic(i8),
    #[error("record batch length {0} is invalid")]
    InvalidLength(i32),
    #[error("record batch CRC mismatch: header says {stored:#010x}, bytes give {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
}

/// Compression codec in the batch attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
    /// A codec id this client does not know (6 or 7).
    Unknown(u8),
}

/// A v2 batch header, read without touching the (possibly compressed) records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

impl BatchHeader {
    /// Reads the header at the start of `bytes`. Checks the magic byte and that the header itself is
    /// complete; it does not require the whole batch to be present (see [`BatchHeader::total_len`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, BatchError> {
        if bytes.len() < OFF_MAGIC + 1 {
            return Err(BatchError::Truncated {
                available: bytes.len(),
                needed: HEADER_LEN,
            });
        }
        let magic = bytes[OFF_MAGIC] as i8;
        if magic != 2 {
            return Err(BatchError::UnsupportedMagic(magic));
        }
        if bytes.len() < HEADER_LEN {
            return Err(BatchError::Truncated {
                available: bytes.len(),
                needed: HEADER_LEN,
            });
        }
        let batch_length = be_i32(bytes, OFF_LENGTH);
        if (batch_length as i64) < (HEADER_LEN - LOG_OVERHEAD) as i64 {
            return Err(BatchError::InvalidLength(batch_length));
        }
        Ok(Self {
            base_offset: be_i64(bytes, 0),
            batch_length,
            partition_leader_epoch: be_i32(bytes, OFF_LEADER_EPOCH),
            magic,
            crc: be_i32(bytes, OFF_CRC) as u32,
            attributes: be_i16(bytes, OFF_ATTRIBUTES),
            last_offset_delta: be_i32(bytes, OFF_LAST_OFFSET_DELTA),
            base_timestamp: be_i64(bytes, OFF_BASE_TIMESTAMP),
            max_timestamp: be_i64(bytes, OFF_MAX_TIMESTAMP),
            producer_id: be_i64(bytes, OFF_PRODUCER_ID),
            producer_epoch: be_i16(bytes, OFF_PRODUCER_EPOCH),
            base_sequence: be_i32(bytes, OFF_BASE_SEQUENCE),
            record_count: be_i32(bytes, OFF_RECORD_COUNT),
        })
    }

    /// Size of the whole batch in bytes, header included.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    /// Offset of the last record the batch covers (records may be missing after compaction).
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset right after this batch: where the next fetch continues.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    pub fn compression(&self) -> Compression {
        match (self.attributes & ATTR_COMPRESSION_MASK) as u8 {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            other => Compression::Unknown(other),
        }
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    /// Control batches carry transaction markers, never user data; brokers refuse them from clients.
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & ATTR_LOG_APPEND_TIME != 0
    }

    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & ATTR_DELETE_HORIZON != 0
    }

    /// True when offsets base..=last are all present: `count == lastOffsetDelta + 1`. Batches from
    /// compacted partitions fail this and must be re-encoded before producing.
    pub fn is_dense(&self) -> bool {
        self.record_count > 0 && self.record_count as i64 == self.last_offset_delta as i64 + 1
    }
}

/// The identity an idempotent producer stamps on each batch it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerStamp {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

/// Prepares a complete fetched batch for producing, in place: baseOffset 0 and leader epoch -1 (the broker
/// assigns both), our producer id/epoch/sequence, the transactional, control-free attributes (the
/// transactional bit and the delete-horizon bit cleared, the LogAppendTime bit cleared so the target keeps
/// record create times), then the CRC-32C recomputed.
///
/// `batch` must be exactly one whole batch ([`BatchHeader::total_len`] bytes).
pub fn stamp_for_produce(batch: &mut [u8], stamp: ProducerStamp) -> Result<(), BatchError> {
    let header = BatchHeader::parse(batch)?;
    if batch.len() != header.total_len() {
        return Err(BatchError::Truncated {
            available: batch.len(),
            needed: header.total_len(),
        });
    }
    batch[0..8].copy_from_slice(&0i64.to_be_bytes());
    batch[OFF_LEADER_EPOCH..OFF_LEADER_EPOCH + 4].copy_from_slice(&(-1i32).to_be_bytes());
    let attributes =
        header.attributes & !(ATTR_TRANSACTIONAL | ATTR_DELETE_HORIZON | ATTR_LOG_APPEND_TIME);
    batch[OFF_ATTRIBUTES..OFF_ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[OFF_PRODUCER_ID..OFF_PRODUCER_ID + 8].copy_from_slice(&stamp.producer_id.to_be_bytes());
    batch[OFF_PRODUCER_EPOCH..OFF_PRODUCER_EPOCH + 2]
        .copy_from_slice(&stamp.producer_epoch.to_be_bytes());
    batch[OFF_BASE_SEQUENCE..OFF_BASE_SEQUENCE + 4]
        .copy_from_slice(&stamp.base_sequence.to_be_bytes());
    let crc = crc32c::crc32c(&batch[OFF_ATTRIBUTES..]);
    batch[OFF_CRC..OFF_CRC + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Verifies a complete batch's CRC-32C (the broker rejects a batch whose CRC does not match).
pub fn verify_crc(batch: &[u8], header: &BatchHeader) -> Result<(), BatchError> {
    let computed = crc32c::crc32c(&batch[OFF_ATTRIBUTES..header.total_len()]);
    if computed == header.crc {
        Ok(())
    } else {
        Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal uncompressed batch with `count` empty-ish records (the record bodies are not parsed here).
    pub(crate) fn fake_batch(
        base_offset: i64,
        count: i32,
        attributes: i16,
        body: &[u8],
    ) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&base_offset.to_be_bytes());
        let len = (HEADER_LEN - LOG_OVERHEAD + body.len()) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        b[12..16].copy_from_slice(&7i32.to_be_bytes());
        b[16] = 2;
        b[21..23].copy_from_slice(&attributes.to_be_bytes());
        b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
        b[43..51].copy_from_slice(&1234i64.to_be_bytes());
        b[51..53].copy_from_slice(&3i16.to_be_bytes());
        b[53..57].copy_from_slice(&99i32.to_be_bytes());
        b[57..61].copy_from_slice(&count.to_be_bytes());
        b.extend_from_slice(body);
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn parses_header_fields() {
        let b = fake_batch(100, 5, 0x13, b"abc");
        let h = BatchHeader::parse(&b).expect("valid header");
        assert_eq!(h.base_offset, 100);
        assert_eq!(h.last_offset(), 104);
        assert_eq!(h.next_offset(), 105);
        assert_eq!(h.total_len(), b.len());
        assert_eq!(h.compression(), Compression::Lz4);
        assert!(h.is_transactional());
        assert!(!h.is_control());
        assert!(h.is_dense());
        verify_crc(&b, &h).expect("crc");
    }

    #[test]
    fn stamp_rewrites_identity_and_keeps_crc_valid() {
        let mut b = fake_batch(
            100,
            5,
            0x13 | ATTR_DELETE_HORIZON | ATTR_LOG_APPEND_TIME,
            b"payload",
        );
        let stamp = ProducerStamp {
            producer_id: 42,
            producer_epoch: 1,
            base_sequence: 10,
        };
        stamp_for_produce(&mut b, stamp).expect("stamp");
        let h = BatchHeader::parse(&b).expect("valid header");
        assert_eq!((h.base_offset, h.partition_leader_epoch), (0, -1));
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (42, 1, 10)
        );
        assert!(!h.is_transactional() && !h.has_delete_horizon() && !h.is_log_append_time());
        assert_eq!(h.compression(), Compression::Lz4);
        verify_crc(&b, &h).expect("crc recomputed");
        assert_eq!(&b[HEADER_LEN..], b"payload");
    }

    #[test]
    fn rejects_old_magic_and_short_input() {
        let mut b = fake_batch(0, 1, 0, b"");
        assert!(matches!(
            BatchHeader::parse(&b[..30]),
            Err(BatchError::Truncated { .. })
        ));
        b[16] = 1;
        assert_eq!(BatchHeader::parse(&b), Err(BatchError::UnsupportedMagic(1)));
    }
}

//! Offset-sync records (topic `mm2-offset-syncs.<target>.internal`, on the source by default): pairs of
//! (source offset, target offset) from which checkpoints are translated.

use super::wire::{Mm2CodecError, Reader, Writer};

/// One offset sync. Key `topic:STRING, partition:INT32` (the *source* topic name); value
/// `upstreamOffset:INT64, offset:INT64`, exactly 16 bytes and, unlike the other two, with no version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetSync {
    /// The upstream (source) topic name.
    pub topic: String,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
}

impl OffsetSync {
    pub fn encode_key(&self) -> Result<Vec<u8>, Mm2CodecError> {
        Ok(Writer::with_capacity(6 + self.topic.len())
            .string("offsetSync.key.topic", &self.topic)?
            .i32(self.partition)
            .finish())
    }

    pub fn encode_value(&self) -> Vec<u8> {
        Writer::with_capacity(16)
            .i64(self.upstream_offset)
            .i64(self.downstream_offset)
            .finish()
    }

    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, Mm2CodecError> {
        let mut k = Reader::new(key);
        let topic = k.string("offsetSync.key.topic")?;
        let partition = k.i32("offsetSync.key.partition")?;
        let mut v = Reader::new(value);
        let upstream_offset = v.i64("offsetSync.value.upstreamOffset")?;
        let downstream_offset = v.i64("offsetSync.value.offset")?;
        Ok(Self {
            topic,
            partition,
            upstream_offset,
            downstream_offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout() {
        let s = OffsetSync {
            topic: "t".into(),
            partition: 1,
            upstream_offset: 2,
            downstream_offset: 3,
        };
        assert_eq!(s.encode_key().expect("fits"), [0, 1, b't', 0, 0, 0, 1]);
        assert_eq!(
            s.encode_value(),
            [0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3]
        );
    }

    #[test]
    fn truncated_partition_is_an_error() {
        assert_eq!(
            OffsetSync::decode(&[0, 1, b't', 0, 0], &[0; 16]),
            Err(Mm2CodecError::Truncated {
                field: "offsetSync.key.partition",
                needed: 4,
                available: 2
            })
        );
    }

    proptest! {
        #[test]
        fn round_trips(topic in ".{0,60}", partition in any::<i32>(), up in any::<i64>(), down in any::<i64>(),
                       tail in proptest::collection::vec(any::<u8>(), 0..8)) {
            let s = OffsetSync { topic, partition, upstream_offset: up, downstream_offset: down };
            let mut key = s.encode_key().expect("fits");
            let mut value = s.encode_value();
            prop_assert_eq!(value.len(), 16);
            prop_assert_eq!(&OffsetSync::decode(&key, &value).expect("decodes"), &s);
            key.extend(&tail);
            value.extend(&tail);
            prop_assert_eq!(OffsetSync::decode(&key, &value).expect("trailing bytes ignored"), s);
        }

        #[test]
        fn every_strict_prefix_is_rejected(topic in ".{0,10}", partition in any::<i32>(), up in any::<i64>()) {
            let s = OffsetSync { topic, partition, upstream_offset: up, downstream_offset: up };
            let key = s.encode_key().expect("fits");
            let value = s.encode_value();
            for cut in 0..key.len() {
                prop_assert!(OffsetSync::decode(&key[..cut], &value).is_err());
            }
            for cut in 0..value.len() {
                prop_assert!(OffsetSync::decode(&key, &value[..cut]).is_err());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(key in proptest::collection::vec(any::<u8>(), 0..32),
                                       value in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = OffsetSync::decode(&key, &value);
        }
    }
}

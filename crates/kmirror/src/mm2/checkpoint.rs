//! Checkpoint records (topic `<source>.checkpoints.internal` on the target): a consumer group's committed
//! source offset translated to the target, read by `RemoteClusterUtils.translateOffsets` for failover.

use super::wire::{Mm2CodecError, Reader, Writer};

/// One checkpoint. Key `group:STRING, topic:STRING, partition:INT32`; value `version:INT16 (0),
/// upstreamOffset:INT64, offset:INT64, metadata:STRING` (20 bytes + metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub group: String,
    /// The topic as named on the target (e.g. `A.orders` under the default replication policy).
    pub topic: String,
    pub partition: i32,
    /// The group's committed offset on the source.
    pub upstream_offset: i64,
    /// The translated offset on the target.
    pub downstream_offset: i64,
    /// The source commit's metadata; `""` when there was none (Kafka never stores a null here).
    pub metadata: String,
}

impl Checkpoint {
    /// The only value version MM2 has ever written.
    pub const VERSION: i16 = 0;

    pub fn encode_key(&self) -> Result<Vec<u8>, Mm2CodecError> {
        let w = Writer::with_capacity(8 + self.group.len() + self.topic.len());
        Ok(w.string("checkpoint.key.group", &self.group)?
            .string("checkpoint.key.topic", &self.topic)?
            .i32(self.partition)
            .finish())
    }

    pub fn encode_value(&self) -> Result<Vec<u8>, Mm2CodecError> {
        Ok(Writer::with_capacity(20 + self.metadata.len())
            .i16(Self::VERSION)
            .i64(self.upstream_offset)
            .i64(self.downstream_offset)
            .string("checkpoint.value.metadata", &self.metadata)?
            .finish())
    }

    /// Like MM2 (with Java assertions off), any version is read with the V0 layout.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, Mm2CodecError> {
        let mut k = Reader::new(key);
        let group = k.string("checkpoint.key.group")?;
        let topic = k.string("checkpoint.key.topic")?;
        let partition = k.i32("checkpoint.key.partition")?;
        let mut v = Reader::new(value);
        let _version = v.i16("checkpoint.value.version")?;
        let upstream_offset = v.i64("checkpoint.value.upstreamOffset")?;
        let downstream_offset = v.i64("checkpoint.value.offset")?;
        let metadata = v.string("checkpoint.value.metadata")?;
        Ok(Self {
            group,
            topic,
            partition,
            upstream_offset,
            downstream_offset,
            metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            group: "g".into(),
            topic: "A.t".into(),
            partition: 3,
            upstream_offset: 10,
            downstream_offset: 7,
            metadata: "m".into(),
        }
    }

    #[test]
    fn layout() {
        let c = sample();
        assert_eq!(
            c.encode_key().expect("fits"),
            [0, 1, b'g', 0, 3, b'A', b'.', b't', 0, 0, 0, 3]
        );
        assert_eq!(
            c.encode_value().expect("fits"),
            [
                0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, b'm'
            ]
        );
    }

    #[test]
    fn negative_metadata_length_is_rejected() {
        let c = sample();
        let key = c.encode_key().expect("fits");
        let mut value = c.encode_value().expect("fits");
        value[18] = 0x80;
        assert_eq!(
            Checkpoint::decode(&key, &value),
            Err(Mm2CodecError::NegativeLength {
                field: "checkpoint.value.metadata",
                len: i16::from_be_bytes([0x80, 1])
            })
        );
    }

    #[test]
    fn overlong_metadata_cannot_be_encoded() {
        let c = Checkpoint {
            metadata: "x".repeat(40_000),
            ..sample()
        };
        assert!(matches!(
            c.encode_value(),
            Err(Mm2CodecError::StringTooLong {
                field: "checkpoint.value.metadata",
                len: 40_000
            })
        ));
    }

    fn checkpoint() -> impl Strategy<Value = Checkpoint> {
        (
            ".{0,30}",
            ".{0,30}",
            any::<i32>(),
            any::<i64>(),
            any::<i64>(),
            ".{0,30}",
        )
            .prop_map(
                |(group, topic, partition, upstream_offset, downstream_offset, metadata)| {
                    Checkpoint {
                        group,
                        topic,
                        partition,
                        upstream_offset,
                        downstream_offset,
                        metadata,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn round_trips(c in checkpoint(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut key = c.encode_key().expect("fits");
            let mut value = c.encode_value().expect("fits");
            prop_assert_eq!(value.len(), 20 + c.metadata.len());
            prop_assert_eq!(&Checkpoint::decode(&key, &value).expect("decodes"), &c);
            key.extend(&tail);
            value.extend(&tail);
            prop_assert_eq!(Checkpoint::decode(&key, &value).expect("trailing bytes ignored"), c);
        }

        #[test]
        fn every_strict_prefix_is_rejected(c in checkpoint()) {
            let key = c.encode_key().expect("fits");
            let value = c.encode_value().expect("fits");
            for cut in 0..key.len() {
                prop_assert!(Checkpoint::decode(&key[..cut], &value).is_err());
            }
            for cut in 0..value.len() {
                prop_assert!(Checkpoint::decode(&key, &value[..cut]).is_err());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(key in proptest::collection::vec(any::<u8>(), 0..48),
                                       value in proptest::collection::vec(any::<u8>(), 0..48)) {
            let _ = Checkpoint::decode(&key, &value);
        }
    }
}

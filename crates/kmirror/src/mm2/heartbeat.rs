//! Heartbeat records (topic `heartbeats`): prove a flow is alive and let tools derive the replication
//! topology from `A.heartbeats`-style topic names.

use super::wire::{Mm2CodecError, Reader, Writer};

/// One heartbeat. Key `sourceClusterAlias:STRING, targetClusterAlias:STRING`; value
/// `version:INT16 (0), timestamp:INT64` (10 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub source_cluster_alias: String,
    pub target_cluster_alias: String,
    /// Epoch milliseconds; MM2 also uses it as the record timestamp.
    pub timestamp: i64,
}

impl Heartbeat {
    /// The only value version MM2 has ever written.
    pub const VERSION: i16 = 0;

    pub fn encode_key(&self) -> Result<Vec<u8>, Mm2CodecError> {
        let w = Writer::with_capacity(
            4 + self.source_cluster_alias.len() + self.target_cluster_alias.len(),
        );
        Ok(w.string(
            "heartbeat.key.sourceClusterAlias",
            &self.source_cluster_alias,
        )?
        .string(
            "heartbeat.key.targetClusterAlias",
            &self.target_cluster_alias,
        )?
        .finish())
    }

    pub fn encode_value(&self) -> Vec<u8> {
        Writer::with_capacity(10)
            .i16(Self::VERSION)
            .i64(self.timestamp)
            .finish()
    }

    /// Like MM2 (with Java assertions off), any version is read with the V0 layout.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, Mm2CodecError> {
        let mut k = Reader::new(key);
        let source_cluster_alias = k.string("heartbeat.key.sourceClusterAlias")?;
        let target_cluster_alias = k.string("heartbeat.key.targetClusterAlias")?;
        let mut v = Reader::new(value);
        let _version = v.i16("heartbeat.value.version")?;
        let timestamp = v.i64("heartbeat.value.timestamp")?;
        Ok(Self {
            source_cluster_alias,
            target_cluster_alias,
            timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_to_b_key_matches_the_reference_example() {
        let hb = Heartbeat {
            source_cluster_alias: "A".into(),
            target_cluster_alias: "B".into(),
            timestamp: 0x0102_0304_0506_0708,
        };
        assert_eq!(hb.encode_key().expect("fits"), [0, 1, b'A', 0, 1, b'B']);
        assert_eq!(hb.encode_value(), [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn truncated_value_is_an_error() {
        let err = Heartbeat::decode(&[0, 1, b'A', 0, 1, b'B'], &[0, 0, 1, 2, 3])
            .expect_err("value is cut short");
        assert_eq!(
            err,
            Mm2CodecError::Truncated {
                field: "heartbeat.value.timestamp",
                needed: 8,
                available: 3
            }
        );
    }

    proptest! {
        #[test]
        fn round_trips(source in ".{0,40}", target in ".{0,40}", timestamp in any::<i64>(),
                       key_tail in proptest::collection::vec(any::<u8>(), 0..8),
                       value_tail in proptest::collection::vec(any::<u8>(), 0..8)) {
            let hb = Heartbeat { source_cluster_alias: source, target_cluster_alias: target, timestamp };
            let mut key = hb.encode_key().expect("short strings fit");
            let mut value = hb.encode_value();
            prop_assert_eq!(value.len(), 10);
            prop_assert_eq!(&Heartbeat::decode(&key, &value).expect("decodes"), &hb);
            key.extend(key_tail);
            value.extend(value_tail);
            prop_assert_eq!(Heartbeat::decode(&key, &value).expect("trailing bytes ignored"), hb);
        }

        #[test]
        fn every_strict_prefix_is_rejected(source in ".{0,10}", target in ".{0,10}", timestamp in any::<i64>()) {
            let hb = Heartbeat { source_cluster_alias: source, target_cluster_alias: target, timestamp };
            let key = hb.encode_key().expect("fits");
            let value = hb.encode_value();
            for cut in 0..key.len() {
                prop_assert!(Heartbeat::decode(&key[..cut], &value).is_err());
            }
            for cut in 0..value.len() {
                prop_assert!(Heartbeat::decode(&key, &value[..cut]).is_err());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(key in proptest::collection::vec(any::<u8>(), 0..32),
                                       value in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = Heartbeat::decode(&key, &value);
        }
    }
}

//! Translating a consumer position inside the replicating process: the live exact map first, the offset-syncs
//! read back (older history, MM2's syncs) when the position is older than what the map remembers.

use kmirror_kafka::TopicPartition;

use super::history::{Derivation, SyncHistories, Translated, Untranslatable};
use super::runs::Translation;
use crate::pipeline::context::OffsetMaps;
use crate::pipeline::forwarder::lock;

/// Where a consumer positioned at `group` (the next offset it reads) on source partition `tp` continues on the
/// target.
pub fn translate_position(
    maps: &OffsetMaps,
    histories: &SyncHistories,
    tp: &TopicPartition,
    group: i64,
) -> Result<Translated, Untranslatable> {
    if let Some(runs) = maps.get(tp) {
        match lock(&runs).translate(group) {
            Translation::Exact(offset) => return Ok(Translated::exact(offset)),
            Translation::AheadOfCopy { target, uncopied } => {
                return Ok(Translated {
                    offset: target,
                    derivation: Derivation::AheadOfCopy { uncopied },
                });
            }
            Translation::OlderThanHistory | Translation::Unknown => {}
        }
    }
    histories.translate(tp, group)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offsets::SyncPoint;

    #[test]
    fn the_live_map_answers_first_and_history_covers_what_it_forgot() {
        let tp = TopicPartition::new("t", 0);
        let maps = OffsetMaps::default();
        let histories = SyncHistories::default();
        assert_eq!(
            translate_position(&maps, &histories, &tp, 5),
            Err(Untranslatable::NoSyncs)
        );
        // MM2 copied 0..=99 to 0..=99 and synced at 0 and 50; kmirror took over at 100.
        histories.push(
            &tp,
            SyncPoint {
                source: 0,
                target: 0,
            },
        );
        histories.push(
            &tp,
            SyncPoint {
                source: 50,
                target: 50,
            },
        );
        lock(&maps.get_or_create(&tp)).seed(99, 99);
        assert_eq!(
            translate_position(&maps, &histories, &tp, 100),
            Ok(Translated::exact(100))
        );
        assert_eq!(
            translate_position(&maps, &histories, &tp, 20),
            Ok(Translated::exact(20))
        );
        assert_eq!(
            translate_position(&maps, &histories, &tp, 70),
            Ok(Translated {
                offset: 51,
                derivation: Derivation::Mm2Rule { may_reread: 19 }
            })
        );
        assert_eq!(
            translate_position(&maps, &histories, &tp, 103),
            Ok(Translated {
                offset: 100,
                derivation: Derivation::AheadOfCopy { uncopied: 3 }
            })
        );
    }
}

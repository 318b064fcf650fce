//! Arbitrary bytes as a fetched partition buffer, through everything a fetched batch goes through:
//! `Batches`, `plan`, `decode_batch`, `rebuild`, `stamp_for_produce`. Nothing may panic, and whatever
//! `rebuild` returns must be a valid, dense batch under the limit with one source offset per record.
//!
//! Input: `flags:u8, next_offset:i64, limit:u16, buffer...`. Flag bit 0 recomputes each batch's CRC first,
//! so that mutations reach the record decoders instead of stopping at the checksum.
#![no_main]

use bytes::Bytes;
use kmirror_kafka::batch::{
    BatchHeader, Batches, Plan, ProducerStamp, RebuildOptions, decode_batch, plan, rebuild,
    stamp_for_produce, verify_crc,
};
use libfuzzer_sys::fuzz_target;

const MAX_DECOMPRESSED: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<11>() else {
        return;
    };
    let fix_crc = head[0] & 1 == 1;
    let next = i64::from_be_bytes(head[1..9].try_into().expect("8 bytes"));
    let limit = usize::from(u16::from_be_bytes([head[9], head[10]]));
    let mut buf = rest.to_vec();
    if fix_crc {
        fix_crcs(&mut buf);
    }
    let mut batches = Batches::new(Bytes::from(buf));
    for item in batches.by_ref() {
        let Ok((header, bytes)) = item else { continue };
        let decided = plan(&header, &bytes, next, limit, false);
        let _ = decode_batch(&bytes, MAX_DECOMPRESSED);
        let options = RebuildOptions {
            max_decompressed_bytes: MAX_DECOMPRESSED,
            ..RebuildOptions::new(limit)
        };
        if let Ok(out) = rebuild(&bytes, next, &options) {
            for b in out {
                assert!(b.bytes.len() <= limit, "rebuilt batch over the limit");
                let mut bytes = b.bytes;
                stamp_for_produce(
                    &mut bytes,
                    ProducerStamp {
                        producer_id: 1,
                        producer_epoch: 0,
                        base_sequence: 0,
                    },
                )
                .expect("rebuilt batches can be stamped");
                let h = BatchHeader::parse(&bytes).expect("rebuilt header parses");
                verify_crc(&bytes, &h).expect("stamped CRC is valid");
                assert!(h.is_dense());
                let again = decode_batch(&Bytes::from(bytes), MAX_DECOMPRESSED)
                    .expect("rebuilt batch decodes");
                assert_eq!(again.records.len(), b.source_offsets.len());
                assert!(b.source_offsets.iter().all(|&o| o >= next));
            }
        }
        if let Ok(Plan::Forward) = decided {
            let mut copy = bytes.to_vec();
            stamp_for_produce(
                &mut copy,
                ProducerStamp {
                    producer_id: 1,
                    producer_epoch: 0,
                    base_sequence: 0,
                },
            )
            .expect("forwardable batches can be stamped");
            assert!(copy.len() <= limit);
        }
    }
    let _ = batches.truncated_tail();
});

/// Recomputes the CRC of every batch the buffer appears to hold.
fn fix_crcs(buf: &mut [u8]) {
    let mut pos = 0;
    while let Ok(h) = BatchHeader::parse(&buf[pos..]) {
        let end = pos + h.total_len();
        if end > buf.len() {
            return;
        }
        let crc = crc32c::crc32c(&buf[pos + 21..end]);
        buf[pos + 17..pos + 21].copy_from_slice(&crc.to_be_bytes());
        pos = end;
    }
}

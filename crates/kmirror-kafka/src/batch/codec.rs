//! Compressing and decompressing a batch's record section.
//!
//! Compression goes through `kafka_protocol::compression`, which frames each codec as Kafka does (xerial
//! framing for snappy, LZ4 frames). Decompression is done here, on the codec crates directly, because it
//! must be bounded: a few kilobytes of zstd or a forged snappy length can claim gigabytes, and
//! `kafka_protocol`'s decompressors allocate whatever the input asks for.

use std::io::Read;

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};

use super::header::Compression;
use super::record::RecordsError;

/// xerial snappy-java's stream magic; Kafka's Java producer frames snappy data with it.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
/// Magic plus the version and compatible-version words.
const XERIAL_HEADER_LEN: usize = 16;

/// Compresses an encoded record section with `codec`.
pub(crate) fn compress(codec: Compression, raw: &[u8]) -> Result<Vec<u8>, RecordsError> {
    let mut out = BytesMut::with_capacity(raw.len() / 2 + 64);
    let fill = |tmp: &mut BytesMut| {
        tmp.extend_from_slice(raw);
        Ok(())
    };
    let result = match codec {
        Compression::None => {
            out.extend_from_slice(raw);
            Ok(())
        }
        Compression::Gzip => Gzip::compress(&mut out, fill),
        Compression::Snappy => Snappy::compress(&mut out, fill),
        Compression::Lz4 => Lz4::compress(&mut out, fill),
        Compression::Zstd => Zstd::compress(&mut out, fill),
        Compression::Unknown(id) => {
            return Err(RecordsError::Compress {
                codec,
                reason: format!("codec id {id} is unknown"),
            });
        }
    };
    result.map_err(|e| RecordsError::Compress {
        codec,
        reason: format!("{e:#}"),
    })?;
    Ok(out.to_vec())
}

/// Decompresses a batch's record section, refusing to produce more than `limit` bytes.
pub(crate) fn decompress(
    codec: Compression,
    data: &Bytes,
    limit: usize,
    base_offset: i64,
) -> Result<Bytes, RecordsError> {
    let failed = |reason: String| RecordsError::Decompress {
        base_offset,
        codec,
        reason,
    };
    let too_large = RecordsError::DecompressedTooLarge { base_offset, limit };
    let bounded = |reader: &mut dyn Read| -> Result<Bytes, RecordsError> {
        let mut out = Vec::new();
        reader
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| failed(e.to_string()))?;
        if out.len() > limit {
            return Err(too_large.clone());
        }
        Ok(Bytes::from(out))
    };
    match codec {
        Compression::None => {
            if data.len() > limit {
                return Err(too_large);
            }
            Ok(data.clone())
        }
        Compression::Gzip => bounded(&mut flate2::read::MultiGzDecoder::new(&data[..])),
        Compression::Lz4 => {
            let mut decoder = lz4::Decoder::new(&data[..]).map_err(|e| failed(e.to_string()))?;
            bounded(&mut decoder)
        }
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(&data[..])
                .map_err(|e| failed(e.to_string()))?;
            bounded(&mut decoder)
        }
        Compression::Snappy => snappy(data, limit).map_err(|e| match e {
            SnappyError::TooLarge => too_large,
            SnappyError::Invalid(reason) => failed(reason),
        }),
        Compression::Unknown(id) => Err(RecordsError::UnsupportedCompression {
            base_offset,
            codec: id,
        }),
    }
}

enum SnappyError {
    TooLarge,
    Invalid(String),
}

/// Snappy as Kafka writes it: xerial-framed (`magic, version, compat`, then `len:i32 + raw block` repeated)
/// from the Java client, or one raw block (librdkafka), told apart by the magic like snappy-java does.
fn snappy(data: &[u8], limit: usize) -> Result<Bytes, SnappyError> {
    let mut out = Vec::new();
    let block = |raw: &[u8], out: &mut Vec<u8>| -> Result<(), SnappyError> {
        let len =
            snap::raw::decompress_len(raw).map_err(|e| SnappyError::Invalid(e.to_string()))?;
        if out.len().saturating_add(len) > limit {
            return Err(SnappyError::TooLarge);
        }
        let start = out.len();
        out.resize(start + len, 0);
        let written = snap::raw::Decoder::new()
            .decompress(raw, &mut out[start..])
            .map_err(|e| SnappyError::Invalid(e.to_string()))?;
        out.truncate(start + written);
        Ok(())
    };
    if !data.starts_with(XERIAL_MAGIC) {
        block(data, &mut out)?;
        return Ok(Bytes::from(out));
    }
    let mut rest = data
        .get(XERIAL_HEADER_LEN..)
        .ok_or_else(|| SnappyError::Invalid("xerial header cut short".into()))?;
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| SnappyError::Invalid("xerial block length cut short".into()))?;
        let len = usize::try_from(i32::from_be_bytes(*len))
            .map_err(|_| SnappyError::Invalid("negative xerial block length".into()))?;
        let raw = tail
            .get(..len)
            .ok_or_else(|| SnappyError::Invalid("xerial block cut short".into()))?;
        block(raw, &mut out)?;
        rest = &tail[len..];
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn round_trips_every_codec() {
        let raw: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for codec in CODECS {
            let packed = Bytes::from(compress(codec, &raw).expect("compress"));
            let back = decompress(codec, &packed, raw.len(), 0).expect("decompress");
            assert_eq!(back, raw, "{codec:?}");
        }
    }

    #[test]
    fn refuses_to_decompress_past_the_limit() {
        let raw = vec![0u8; 1 << 20];
        for codec in CODECS {
            let packed = Bytes::from(compress(codec, &raw).expect("compress"));
            assert_eq!(
                decompress(codec, &packed, raw.len() - 1, 5),
                Err(RecordsError::DecompressedTooLarge {
                    base_offset: 5,
                    limit: raw.len() - 1
                }),
                "{codec:?}"
            );
        }
    }

    #[test]
    fn raw_snappy_is_accepted_and_a_forged_length_is_bounded() {
        let raw = b"hello hello hello hello".to_vec();
        let block = snap::raw::Encoder::new()
            .compress_vec(&raw)
            .expect("snappy");
        let back =
            decompress(Compression::Snappy, &Bytes::from(block), 1024, 0).expect("raw snappy");
        assert_eq!(back, raw);
        // A varint claiming ~4 GiB of output.
        let forged = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
        assert!(matches!(
            decompress(Compression::Snappy, &forged, 1 << 20, 0),
            Err(RecordsError::DecompressedTooLarge { .. })
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let junk = Bytes::from_static(b"definitely not compressed data");
        for codec in &CODECS[1..] {
            assert!(decompress(*codec, &junk, 1 << 20, 0).is_err(), "{codec:?}");
        }
    }
}

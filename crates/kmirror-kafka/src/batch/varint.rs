//! Kafka's zig-zag varints (protobuf style), as used inside v2 records.

/// Reads a zig-zag varint of at most 5 bytes from `buf` at `*pos`, advancing `*pos`. `None` when the input
/// ends first or the varint is longer than 5 bytes (Kafka rejects those too). Like Kafka, bits beyond 32 are
/// dropped.
pub(crate) fn read_varint(buf: &[u8], pos: &mut usize) -> Option<i32> {
    let raw = read_unsigned(buf, pos, 5)?;
    let raw = raw as u32;
    Some(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Reads a zig-zag varlong of at most 10 bytes.
pub(crate) fn read_varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let raw = read_unsigned(buf, pos, 10)?;
    Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

fn read_unsigned(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..max_bytes {
        let b = *buf.get(*pos + i)?;
        value |= u64::from(b & 0x7f).checked_shl(7 * i as u32).unwrap_or(0);
        if b & 0x80 == 0 {
            *pos += i + 1;
            return Some(value);
        }
    }
    None
}

fn zigzag32(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn write_unsigned(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn unsigned_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

pub(crate) fn write_varint(out: &mut Vec<u8>, v: i32) {
    write_unsigned(out, zigzag32(v));
}

pub(crate) fn write_varlong(out: &mut Vec<u8>, v: i64) {
    write_unsigned(out, zigzag64(v));
}

pub(crate) fn varint_len(v: i32) -> usize {
    unsigned_len(zigzag32(v))
}

pub(crate) fn varlong_len(v: i64) -> usize {
    unsigned_len(zigzag64(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let mut out = Vec::new();
        write_varint(&mut out, 0);
        write_varint(&mut out, -1);
        write_varint(&mut out, 1);
        write_varint(&mut out, 64);
        assert_eq!(out, [0x00, 0x01, 0x02, 0x80, 0x01]);
        let mut pos = 0;
        assert_eq!(read_varint(&out, &mut pos), Some(0));
        assert_eq!(read_varint(&out, &mut pos), Some(-1));
        assert_eq!(read_varint(&out, &mut pos), Some(1));
        assert_eq!(read_varint(&out, &mut pos), Some(64));
        assert_eq!(pos, out.len());
    }

    #[test]
    fn too_long_or_cut_short_is_none() {
        assert_eq!(read_varint(&[0x80; 6], &mut 0), None);
        assert_eq!(read_varint(&[0x80, 0x80], &mut 0), None);
        assert_eq!(read_varlong(&[0xff; 11], &mut 0), None);
    }

    proptest! {
        #[test]
        fn varint_round_trips(v in any::<i32>()) {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            prop_assert_eq!(out.len(), varint_len(v));
            let mut pos = 0;
            prop_assert_eq!(read_varint(&out, &mut pos), Some(v));
            prop_assert_eq!(pos, out.len());
        }

        #[test]
        fn varlong_round_trips(v in any::<i64>()) {
            let mut out = Vec::new();
            write_varlong(&mut out, v);
            prop_assert_eq!(out.len(), varlong_len(v));
            let mut pos = 0;
            prop_assert_eq!(read_varlong(&out, &mut pos), Some(v));
            prop_assert_eq!(pos, out.len());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let _ = read_varint(&bytes, &mut 0);
            let _ = read_varlong(&bytes, &mut 0);
        }
    }
}
